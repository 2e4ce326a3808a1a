//! Webhooks: subscriptions to the event feed, delivered from the outbox (the
//! `webhook_deliveries` rows written in the same transaction as each event) with Standard
//! Webhooks signatures, retries on a schedule and leases so several instances deliver each
//! message once. Check callbacks are deliveries too, signed with the callback secret.

mod service;
pub use crate::domain::signing;

pub use crate::domain::events::{
    APPLICATION_KINDS, event_type, event_types, kinds_matching, valid_pattern,
};
pub use crate::domain::webhook::{
    AttemptOutcome, AttemptRecord, Delivery, DeliveryState, FeedMessage, NewDelivery, Signing,
    Subscription, SubscriptionState,
};
pub use service::{
    DeliveryWorker, NewSubscription, SubscriptionPatch, WebhookError, WebhookService,
};
