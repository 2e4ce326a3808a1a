//! Catalog types: entries, statuses, transitions, feedback and events.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a contractor stands in the catalog.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum CatalogStatus {
    Active,
    UnderReview,
    Suspended,
    Removed,
}

impl CatalogStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<CatalogStatus> {
        s.parse().ok()
    }
}

/// A listed contractor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"inn": "7701000019", "name": "ООО \"СЕВЕРНЫЙ ВЕТЕР\"", "region": "Москва",
    "contacts": {"phone": "+74950000000", "email": "info@example.ru"}, "services": ["грузоперевозки"],
    "external_ids": {"bitrix24": "1234"}, "status": "active", "listed_at": "2026-11-28T10:00:00Z",
    "updated_at": "2026-11-28T10:00:00Z", "last_check_id": "01a2…", "next_check_at": "2026-11-29T03:00:00Z",
    "monitoring_passes": 3, "sources_unavailable": {"kad": {"since": "2026-11-20T03:00:00Z", "reported": true}}}))]
pub struct CatalogEntry {
    pub inn: String,
    /// The registry's name (else the one given at listing).
    pub name: String,
    /// The name as the contractor or the manager typed it, when it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub region: Option<String>,
    /// The registered address (from the registries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[schema(value_type = Object)]
    pub contacts: BTreeMap<String, String>,
    pub services: Vec<String>,
    /// Ids of this contractor in other systems (the CRM's company id…).
    #[schema(value_type = Object)]
    pub external_ids: BTreeMap<String, String>,
    pub status: CatalogStatus,
    pub listed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The latest check of this contractor.
    pub last_check_id: Option<String>,
    /// When monitoring re-checks it next.
    pub next_check_at: DateTime<Utc>,
    /// Monitoring passes recorded so far.
    pub monitoring_passes: i64,
    /// Sources that have failed at every re-check since a time (cleared when one answers).
    #[schema(value_type = Object)]
    pub sources_unavailable: BTreeMap<String, UnavailableSince>,
}

/// Since when a source has been failing for this contractor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UnavailableSince {
    pub since: DateTime<Utc>,
    /// A `source_unavailable` event was recorded for this stretch.
    pub reported: bool,
}

/// A status change, kept forever.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"from": "active", "to": "suspended", "reason": "Bankruptcy started",
    "rule_ids": ["bankruptcy_started"], "actor": "monitoring", "at": "2026-11-28T10:00:00Z"}))]
pub struct StatusTransition {
    pub from: Option<CatalogStatus>,
    pub to: CatalogStatus,
    /// The rules' messages, or a manager's comment.
    pub reason: String,
    /// The monitoring rules that fired (empty for a manager's action).
    pub rule_ids: Vec<String>,
    /// `monitoring`, or who acted.
    pub actor: String,
    pub at: DateTime<Utc>,
}

/// A quality signal.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum FeedbackKind {
    Review,
    Complaint,
    SlaBreach,
    JobCompleted,
}

impl FeedbackKind {
    pub fn as_str(&self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<FeedbackKind> {
        s.parse().ok()
    }
}

/// A stored quality signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"kind": "review", "rating": 4, "text": "Приехали вовремя", "order_ref": "A-17",
    "external_id": "site-review-981", "at": "2026-11-28T10:00:00Z"}))]
pub struct Feedback {
    pub kind: FeedbackKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_time: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub at: DateTime<Utc>,
}

/// One entry of the event feed (the outbox of notifications).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"seq": 42, "inn": "7701000019", "name": "ООО \"СЕВЕРНЫЙ ВЕТЕР\"",
    "external_ids": {"bitrix24": "1234"}, "kind": "bankruptcy_opened", "type": "monitoring.bankruptcy_opened",
    "payload": {"case_number": "А40-123456/2025"}, "created_at": "2026-11-28T10:00:00Z"}))]
pub struct Event {
    /// The cursor: strictly increasing.
    pub seq: i64,
    pub inn: String,
    /// The contractor's name when it happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The contractor's ids in other systems (`{"bitrix24": "123"}`) when it happened.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub external_ids: serde_json::Map<String, serde_json::Value>,
    /// `listed`, `status_changed`, `decision_changed`, `company_status_changed`,
    /// `bankruptcy_opened`, `creditor_intent_published`, `reorganization_notice`,
    /// `liquidation_notice`, `new_court_cases_as_respondent`, `terminated`,
    /// `source_unavailable`, `feedback`.
    pub kind: String,
    /// The webhook type of the kind: `catalog.listed`, `catalog.status_changed`,
    /// `feedback.recorded`, `monitoring.<kind>`.
    #[serde(rename = "type", default)]
    pub event_type: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// Moving an entry from `expected` to another status: the transition and its event, written
/// together only if the entry is still in `expected`.
#[derive(Debug, Clone)]
pub struct StatusChange {
    pub expected: CatalogStatus,
    pub transition: StatusTransition,
    pub event: NewEvent,
}

/// What a monitoring pass records at once: its check, its change events, then (caused by
/// them, so after them in the feed) the status change the monitoring policy decided.
#[derive(Debug, Clone)]
pub struct MonitoringPass<'a> {
    pub last_check_id: Option<&'a str>,
    pub next_check_at: chrono::DateTime<chrono::Utc>,
    pub unavailable: &'a std::collections::BTreeMap<String, UnavailableSince>,
    pub events: &'a [NewEvent],
    pub status_change: Option<StatusChange>,
}

/// Who an event is about, as the catalog knew them when it happened.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventSubject {
    pub name: Option<String>,
    #[serde(default)]
    pub external_ids: serde_json::Map<String, serde_json::Value>,
}

/// An event to append.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub inn: String,
    pub kind: String,
    pub payload: serde_json::Value,
}

/// Filters of the catalog listing.
#[derive(Debug, Clone, Default)]
pub struct CatalogFilter {
    pub status: Option<CatalogStatus>,
    pub region: Option<String>,
    /// Lower-cased text to find in the name, INN or services.
    pub text: Option<String>,
    /// Entries after this INN (the cursor).
    pub after: Option<String>,
    pub limit: i64,
}
