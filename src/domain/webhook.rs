//! Webhook subscriptions, their deliveries and the attempts of each.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Whether a subscription receives deliveries.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum SubscriptionState {
    /// Deliveries go out.
    Active,
    /// Deliveries wait (they are kept and go out on resume).
    Paused,
    /// Turned off by the service (410 Gone, or too many failures); PATCH `state: active` to resume.
    Disabled,
}

impl SubscriptionState {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// How a receiver knows a delivery came from this service.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Signing {
    /// Standard Webhooks `webhook-signature` (HMAC-SHA256 with the secret's key).
    #[default]
    Hmac,
    /// `Authorization: Bearer <secret>` and no signature, for receivers that cannot compute
    /// an HMAC (1C); only over https is the secret safe on the way.
    Token,
}

impl Signing {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A receiver of events.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"id": "wh_0193a3c48f2e7c1a9b1e5d2f3a4b5c6d", "url": "https://crm.example.ru/kontragent/hook",
    "description": "amoCRM", "events": ["catalog.*", "check.completed"], "signing": "hmac", "state": "active",
    "failure_streak": 0, "created_by": "crm-admin", "created_at": "2026-12-01T10:00:00Z", "updated_at": "2026-12-01T10:00:00Z"}))]
pub struct Subscription {
    pub id: String,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Event types: exact (`catalog.listed`), a prefix (`catalog.*`) or `*`.
    pub events: Vec<String>,
    pub signing: Signing,
    pub state: SubscriptionState,
    /// Why the service disabled it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// Failed deliveries in a row.
    pub failure_streak: i64,
    /// The API key that created it.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub secret: String,
    /// The secret before the last rotation, still signing until `previous_until`.
    #[serde(skip)]
    pub previous_secret: Option<String>,
    #[serde(skip)]
    pub previous_until: Option<DateTime<Utc>>,
}

/// Where a delivery stands.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    /// A 2xx answer was received.
    Succeeded,
    /// Every attempt of the schedule failed, or the receiver answered 410 Gone.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One message to one receiver.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"id": "0193a3c4-8f2e-7c1a-9b1e-5d2f3a4b5c6d.wh_0193…", "message_id": "evt_42",
    "event_type": "catalog.status_changed", "state": "pending", "attempts": 2,
    "next_attempt_at": "2026-12-01T10:35:00Z", "last_status": 503, "last_error": "HTTP 503",
    "created_at": "2026-12-01T10:00:00Z"}))]
pub struct Delivery {
    pub id: String,
    /// The subscription; absent for a check's callback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_id: Option<String>,
    /// The check whose callback this is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_id: Option<String>,
    /// `webhook-id`: the same on every attempt, so a receiver drops repeats.
    pub message_id: String,
    pub event_type: String,
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_status: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub target_url: Option<String>,
    #[serde(skip)]
    pub body: String,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"attempt": 1, "at": "2026-12-01T10:00:05Z", "status": 503, "latency_ms": 84, "error": "HTTP 503"}))]
pub struct AttemptRecord {
    pub attempt: i64,
    pub at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<i64>,
    pub latency_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A delivery to add.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub webhook_id: Option<String>,
    pub target_url: Option<String>,
    pub check_id: Option<String>,
    pub message_id: String,
    pub event_type: String,
    pub body: String,
}

/// What an attempt leaves the delivery in.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub record: AttemptRecord,
    pub state: DeliveryState,
    pub next_attempt_at: DateTime<Utc>,
}

/// An event of the feed as a webhook message: its stable id, type and body.
pub struct FeedMessage {
    /// `evt_<seq>`: the same for every subscriber and every attempt.
    pub id: String,
    pub event_type: String,
    pub body: String,
}

impl FeedMessage {
    pub fn new(
        seq: i64,
        event: &super::catalog::NewEvent,
        subject: &super::catalog::EventSubject,
        created_at: DateTime<Utc>,
    ) -> FeedMessage {
        let event_type = super::events::event_type(&event.kind);
        let at = created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        // `data` is the event as `GET /v1/events` shows it.
        let data = super::catalog::Event {
            seq,
            inn: event.inn.clone(),
            name: subject.name.clone(),
            external_ids: subject.external_ids.clone(),
            kind: event.kind.clone(),
            event_type: event_type.clone(),
            payload: event.payload.clone(),
            created_at,
        };
        let body = serde_json::json!({"type": event_type, "timestamp": at, "data": data});
        FeedMessage {
            id: format!("evt_{seq}"),
            event_type,
            body: body.to_string(),
        }
    }
}
