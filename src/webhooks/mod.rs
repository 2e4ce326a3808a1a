//! Webhooks: subscriptions to the event feed, delivered from the outbox (the
//! `webhook_deliveries` rows written in the same transaction as each event) with Standard
//! Webhooks signatures, retries on a schedule and leases so several instances deliver each
//! message once. Check callbacks are deliveries too, signed with the callback secret.

mod model;
mod service;
pub mod signing;

pub use model::{
    AttemptOutcome, AttemptRecord, Delivery, DeliveryState, NewDelivery, Signing, Subscription,
    SubscriptionState,
};
pub use service::{
    DeliveryWorker, NewSubscription, SubscriptionPatch, WebhookError, WebhookService,
};

use crate::catalog::{Event, EventSubject, NewEvent};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;

/// The feed kinds of the registration process.
pub const APPLICATION_KINDS: &[&str] = &[
    "application_received",
    "application_screened",
    "application_stage_changed",
    "application_sla_due",
    "application_sla_breached",
];

/// The catalog's feed kinds as webhook event types (the feed keeps its kinds).
pub fn event_type(kind: &str) -> String {
    match kind {
        "listed" => "catalog.listed".into(),
        "status_changed" => "catalog.status_changed".into(),
        "feedback" => "feedback.recorded".into(),
        other if other.starts_with("application_") => {
            format!("application.{}", &other["application_".len()..])
        }
        // What monitoring found: decision_changed, bankruptcy_opened, terminated, …
        other => format!("monitoring.{other}"),
    }
}

/// Every type a subscription may name (besides `*` and `prefix.*`).
pub fn event_types() -> Vec<String> {
    let mut out: Vec<String> = feed_kinds().map(event_type).collect();
    out.extend([
        "check.completed".into(),
        "webhook.test".into(),
        "webhook.disabled".into(),
    ]);
    out
}

/// Every kind the event feed holds.
fn feed_kinds() -> impl Iterator<Item = &'static str> {
    ["listed", "status_changed", "feedback"]
        .into_iter()
        .chain(APPLICATION_KINDS.iter().copied())
        .chain(crate::monitoring::diff::EVENT_KINDS.iter().copied())
}

/// Whether a subscription's `pattern` (a type, `*` or `prefix.*`) takes `event_type` — the
/// rule the outbox's fan-out SQL applies too.
fn matches(pattern: &str, event_type: &str) -> bool {
    pattern == "*"
        || pattern == event_type
        || pattern
            .strip_suffix('*')
            .is_some_and(|prefix| prefix.ends_with('.') && event_type.starts_with(prefix))
}

/// The feed kinds whose types `pattern` matches.
pub fn kinds_matching(pattern: &str) -> Vec<&'static str> {
    feed_kinds()
        .filter(|kind| matches(pattern, &event_type(kind)))
        .collect()
}

/// Whether `pattern` is a type, `*`, or `prefix.*` that some event type matches.
pub fn valid_pattern(pattern: &str) -> bool {
    event_types().iter().any(|t| matches(pattern, t))
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
        event: &NewEvent,
        subject: &EventSubject,
        created_at: DateTime<Utc>,
    ) -> FeedMessage {
        let event_type = event_type(&event.kind);
        let at = created_at.to_rfc3339_opts(SecondsFormat::Millis, true);
        // `data` is the event as `GET /v1/events` shows it.
        let data = Event {
            seq,
            inn: event.inn.clone(),
            name: subject.name.clone(),
            external_ids: subject.external_ids.clone(),
            kind: event.kind.clone(),
            event_type: event_type.clone(),
            payload: event.payload.clone(),
            created_at,
        };
        let body = json!({"type": event_type, "timestamp": at, "data": data});
        FeedMessage {
            id: format!("evt_{seq}"),
            event_type,
            body: body.to_string(),
        }
    }
}
