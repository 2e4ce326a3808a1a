//! Managing subscriptions, and the worker that sends the outbox's deliveries.

use super::signing::SigningKey;
use crate::config::WebhookSettings;
use crate::domain::webhook::{
    AttemptOutcome, AttemptRecord, Delivery, DeliveryState, NewDelivery, Signing, Subscription,
    SubscriptionState,
};
use crate::outbound::{AllowList, HostsResolver, NameResolver, Outbound};
use crate::storage::{Store, StoreError};
use chrono::{SecondsFormat, Utc};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Where the generated callback secret is kept.
const CALLBACK_SECRET: &str = "webhooks.callback_secret";
/// How long a rotated-out secret keeps signing beside the new one.
const ROTATION_OVERLAP_H: i64 = 24;
/// Most event patterns one subscription may list.
const MAX_PATTERNS: usize = 64;
const MAX_DESCRIPTION: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("no such webhook")]
    NotFound,
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `POST /v1/webhooks`.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub signing: Signing,
}

/// `PATCH /v1/webhooks/{id}`: what is given changes.
#[derive(Debug, Clone, Default)]
pub struct SubscriptionPatch {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    pub state: Option<SubscriptionState>,
}

pub struct WebhookService {
    store: Arc<dyn Store>,
    outbound: Arc<Outbound>,
    settings: WebhookSettings,
    callback_secret: String,
    callback_key: SigningKey,
}

impl WebhookService {
    /// Builds the guarded client and settles the callback secret (the configured one, else
    /// the one stored at first start).
    pub async fn start(
        settings: &WebhookSettings,
        store: Arc<dyn Store>,
        resolver: Arc<dyn NameResolver>,
    ) -> Result<Arc<WebhookService>, String> {
        let allow = AllowList::parse(&settings.allow_targets)?;
        let resolver = Arc::new(HostsResolver::new(settings.hosts.clone(), resolver));
        let outbound = Arc::new(Outbound::new(allow, resolver)?);
        let secret = if settings.callback_secret.is_empty() {
            store
                .service_secret(CALLBACK_SECRET, &SigningKey::generate())
                .await
                .map_err(|e| format!("cannot read the callback secret: {e}"))?
        } else {
            settings.callback_secret.expose().to_owned()
        };
        let callback_key = SigningKey::parse(&secret)?;
        Ok(Arc::new(WebhookService {
            store,
            outbound,
            settings: settings.clone(),
            callback_secret: secret,
            callback_key,
        }))
    }

    /// The guarded client, shared with the CRM connectors.
    pub fn outbound(&self) -> &Arc<Outbound> {
        &self.outbound
    }

    /// Checks a URL from a request against the SSRF guard (the field's error names why).
    pub fn check_url(&self, field: &'static str, raw: &str) -> Result<String, WebhookError> {
        self.outbound
            .check_url(raw)
            .map(|url| url.to_string())
            .map_err(|message| WebhookError::Invalid { field, message })
    }

    fn check_description(description: &Option<String>) -> Result<(), WebhookError> {
        match description {
            Some(d) if d.chars().count() > MAX_DESCRIPTION => Err(WebhookError::Invalid {
                field: "description",
                message: format!("at most {MAX_DESCRIPTION} characters"),
            }),
            _ => Ok(()),
        }
    }

    fn check_events(events: &[String]) -> Result<Vec<String>, WebhookError> {
        let invalid = |message: String| WebhookError::Invalid {
            field: "events",
            message,
        };
        if events.is_empty() || events.len() > MAX_PATTERNS {
            return Err(invalid(format!("give 1 to {MAX_PATTERNS} event types")));
        }
        if let Some(bad) = events.iter().find(|e| !super::valid_pattern(e)) {
            return Err(invalid(format!(
                "`{bad}` is not an event type, `*` or `prefix.*` (types: {})",
                super::event_types().join(", ")
            )));
        }
        let mut events = events.to_vec();
        events.sort();
        events.dedup();
        Ok(events)
    }

    /// Creates an active subscription; the secret is returned this once.
    pub async fn create(
        &self,
        new: NewSubscription,
        actor: &str,
    ) -> Result<(Subscription, String), WebhookError> {
        let url = self.check_url("url", &new.url)?;
        let events = Self::check_events(&new.events)?;
        Self::check_description(&new.description)?;
        let now = Utc::now();
        let secret = SigningKey::generate();
        let subscription = Subscription {
            id: format!("wh_{}", uuid::Uuid::now_v7().simple()),
            url,
            description: new.description,
            events,
            signing: new.signing,
            state: SubscriptionState::Active,
            disabled_reason: None,
            failure_streak: 0,
            created_by: actor.to_owned(),
            created_at: now,
            updated_at: now,
            secret: secret.clone(),
            previous_secret: None,
            previous_until: None,
        };
        self.store.insert_webhook(&subscription).await?;
        Ok((subscription, secret))
    }

    pub async fn list(&self) -> Result<Vec<Subscription>, WebhookError> {
        Ok(self.store.list_webhooks().await?)
    }

    pub async fn get(&self, id: &str) -> Result<Subscription, WebhookError> {
        self.store
            .get_webhook(id)
            .await?
            .ok_or(WebhookError::NotFound)
    }

    /// Changes what is given; resuming (`state: active`) clears a disabled reason and the
    /// failure streak.
    pub async fn update(
        &self,
        id: &str,
        patch: SubscriptionPatch,
    ) -> Result<Subscription, WebhookError> {
        let mut s = self.get(id).await?;
        if let Some(url) = patch.url {
            s.url = self.check_url("url", &url)?;
        }
        if let Some(events) = patch.events {
            s.events = Self::check_events(&events)?;
        }
        if let Some(description) = patch.description {
            Self::check_description(&Some(description.clone()))?;
            s.description = Some(description);
        }
        if let Some(state) = patch.state {
            if state == SubscriptionState::Disabled {
                return Err(WebhookError::Invalid {
                    field: "state",
                    message: "`active` or `paused`; `disabled` is set by the service".into(),
                });
            }
            if state == SubscriptionState::Active {
                s.disabled_reason = None;
                s.failure_streak = 0;
            }
            s.state = state;
        }
        s.updated_at = Utc::now();
        if !self.store.update_webhook(&s).await? {
            return Err(WebhookError::NotFound);
        }
        Ok(s)
    }

    pub async fn delete(&self, id: &str) -> Result<(), WebhookError> {
        match self.store.delete_webhook(id).await? {
            true => Ok(()),
            false => Err(WebhookError::NotFound),
        }
    }

    /// A new secret; the old one keeps signing (a second signature) for 24 h.
    pub async fn rotate_secret(&self, id: &str) -> Result<(Subscription, String), WebhookError> {
        let mut s = self.get(id).await?;
        let secret = SigningKey::generate();
        let now = Utc::now();
        s.previous_secret = Some(std::mem::replace(&mut s.secret, secret.clone()));
        s.previous_until = Some(now + chrono::Duration::hours(ROTATION_OVERLAP_H));
        s.updated_at = now;
        if !self.store.update_webhook(&s).await? {
            return Err(WebhookError::NotFound);
        }
        Ok((s, secret))
    }

    /// Queues a `webhook.test` message to the subscription.
    pub async fn send_test(&self, id: &str) -> Result<Delivery, WebhookError> {
        let s = self.get(id).await?;
        let message_id = format!("msg_{}", uuid::Uuid::now_v7().simple());
        let body = json!({
            "type": "webhook.test",
            "timestamp": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            "data": {"webhook_id": s.id, "message": "kontragent webhook test"},
        });
        Ok(self
            .store
            .insert_delivery(&NewDelivery {
                webhook_id: Some(s.id),
                target_url: None,
                check_id: None,
                message_id,
                event_type: "webhook.test".into(),
                body: body.to_string(),
            })
            .await?)
    }

    /// A subscription's deliveries, newest first, before the cursor (a delivery id).
    pub async fn deliveries(
        &self,
        id: &str,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<(Delivery, Vec<AttemptRecord>)>, WebhookError> {
        self.get(id).await?;
        let deliveries = self
            .store
            .list_deliveries(Some(id), None, before, limit)
            .await?;
        self.with_attempts(deliveries).await
    }

    /// The callback deliveries of a check.
    pub async fn callbacks_of(
        &self,
        check_id: &str,
    ) -> Result<Vec<(Delivery, Vec<AttemptRecord>)>, WebhookError> {
        let deliveries = self
            .store
            .list_deliveries(None, Some(check_id), None, 100)
            .await?;
        self.with_attempts(deliveries).await
    }

    async fn with_attempts(
        &self,
        deliveries: Vec<Delivery>,
    ) -> Result<Vec<(Delivery, Vec<AttemptRecord>)>, WebhookError> {
        let mut out = Vec::with_capacity(deliveries.len());
        for d in deliveries {
            let attempts = self.store.attempts_of(&d.id).await?;
            out.push((d, attempts));
        }
        Ok(out)
    }

    /// Makes a finished delivery of the subscription due again now.
    pub async fn retry(&self, id: &str, delivery_id: &str) -> Result<Delivery, WebhookError> {
        let delivery = self
            .store
            .get_delivery(delivery_id)
            .await?
            .filter(|d| d.webhook_id.as_deref() == Some(id))
            .ok_or(WebhookError::NotFound)?;
        if delivery.state == DeliveryState::Pending {
            return Err(WebhookError::Invalid {
                field: "delivery_id",
                message: "the delivery is still pending: it will be attempted again by itself"
                    .into(),
            });
        }
        self.store.retry_delivery(delivery_id, Utc::now()).await?;
        self.store
            .get_delivery(delivery_id)
            .await?
            .ok_or(WebhookError::NotFound)
    }

    /// Queues `check.completed` for a finished check (`data`, the Check as the API shows
    /// it): to the subscriptions that want it, and to the check's `callback_url` (signed
    /// with the callback secret) when it has one.
    pub async fn check_completed(
        &self,
        check_id: uuid::Uuid,
        check: &impl serde::Serialize,
        callback_url: Option<&str>,
    ) -> Result<(), StoreError> {
        let body = json!({
            "type": "check.completed",
            "timestamp": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            "data": check,
        })
        .to_string();
        let message_id = format!("chk_{}", check_id.simple());
        self.store
            .fan_out(&message_id, "check.completed", &body)
            .await?;
        if let Some(url) = callback_url {
            self.store
                .insert_delivery(&NewDelivery {
                    webhook_id: None,
                    target_url: Some(url.to_owned()),
                    check_id: Some(check_id.to_string()),
                    message_id,
                    event_type: "check.completed".into(),
                    body,
                })
                .await?;
        }
        Ok(())
    }

    /// Queues `batch.completed` with the finished batch to the batch's `callback_url`,
    /// signed like a check's callback.
    pub async fn batch_completed(
        &self,
        batch_id: uuid::Uuid,
        batch: &impl serde::Serialize,
        callback_url: &str,
    ) -> Result<(), StoreError> {
        let body = json!({
            "type": "batch.completed",
            "timestamp": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            "data": batch,
        })
        .to_string();
        self.store
            .insert_delivery(&NewDelivery {
                webhook_id: None,
                target_url: Some(callback_url.to_owned()),
                check_id: None,
                message_id: format!("bat_{}", batch_id.simple()),
                event_type: "batch.completed".into(),
                body,
            })
            .await?;
        Ok(())
    }

    /// The `whsec_` secret check callbacks are signed with (for the receiver to verify).
    pub fn callback_secret(&self) -> &str {
        &self.callback_secret
    }
}

/// Sends due deliveries; every instance may run one.
pub struct DeliveryWorker {
    service: Arc<WebhookService>,
    owner: String,
}

impl DeliveryWorker {
    pub fn new(service: Arc<WebhookService>) -> DeliveryWorker {
        DeliveryWorker {
            service,
            // "<pid>-<random>", like monitoring's leases: an operator sees which process holds what.
            owner: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
        }
    }

    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let every = Duration::from_millis(self.service.settings.tick_ms.max(10));
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = self.run_due().await {
                    tracing::error!(error = ?e, "webhook deliveries failed");
                }
            }
        })
    }

    /// Claims what is due and attempts each once; returns how many were attempted.
    pub async fn run_due(&self) -> Result<usize, StoreError> {
        let s = &self.service.settings;
        let now = Utc::now();
        let lease = now + chrono::Duration::seconds(s.lease_s as i64);
        let due = self
            .service
            .store
            .claim_deliveries(&self.owner, now, lease, i64::from(s.batch.max(1)))
            .await?;
        let count = due.len();
        futures::future::join_all(due.into_iter().map(|d| self.attempt(d))).await;
        Ok(count)
    }

    async fn attempt(&self, delivery: Delivery) {
        if let Err(e) = self.try_attempt(&delivery).await {
            tracing::error!(delivery = %delivery.id, error = ?e, "cannot record a webhook attempt");
        }
    }

    async fn try_attempt(&self, delivery: &Delivery) -> Result<(), StoreError> {
        let service = &self.service;
        let subscription = match &delivery.webhook_id {
            Some(id) => match service.store.get_webhook(id).await? {
                Some(s) => Some(s),
                None => return Ok(()), // deleted meanwhile: its deliveries went with it
            },
            None => None,
        };
        let timestamp = Utc::now().timestamp();
        let mut headers = vec![
            ("webhook-id", delivery.message_id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
        ];
        let sign = |keys: &[SigningKey]| {
            keys.iter()
                .map(|k| k.sign(&delivery.message_id, timestamp, delivery.body.as_bytes()))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let url = match &subscription {
            Some(s) if s.signing == Signing::Token => {
                headers.push(("authorization", format!("Bearer {}", s.secret)));
                s.url.clone()
            }
            Some(s) => {
                let mut secrets = vec![&s.secret];
                if let (Some(old), Some(until)) = (&s.previous_secret, s.previous_until)
                    && until > Utc::now()
                {
                    secrets.push(old);
                }
                let keys: Vec<SigningKey> = secrets
                    .into_iter()
                    .filter_map(|secret| SigningKey::parse(secret).ok())
                    .collect();
                headers.push(("webhook-signature", sign(&keys)));
                s.url.clone()
            }
            None => {
                headers.push((
                    "webhook-signature",
                    sign(std::slice::from_ref(&service.callback_key)),
                ));
                delivery.target_url.clone().unwrap_or_default()
            }
        };
        let at = Utc::now();
        let sent = service
            .outbound
            .post(
                &url,
                &headers,
                delivery.body.clone().into_bytes(),
                Duration::from_millis(service.settings.timeout_ms),
            )
            .await;
        let attempt = delivery.attempts + 1;
        let record = AttemptRecord {
            attempt,
            at,
            status: sent.status.map(i64::from),
            latency_ms: sent.latency_ms as i64,
            error: sent.error.clone(),
        };
        let gone = sent.status == Some(410);
        let schedule = &service.settings.retry_schedule_s;
        let (state, next) = if sent.succeeded() {
            (DeliveryState::Succeeded, at)
        } else if gone || attempt as usize > schedule.len() {
            (DeliveryState::Failed, at)
        } else {
            let wait = schedule[attempt as usize - 1] as f64 * (0.9 + fastrand::f64() * 0.2);
            (
                DeliveryState::Pending,
                at + chrono::Duration::milliseconds((wait * 1000.0) as i64),
            )
        };
        let outcome = AttemptOutcome {
            record,
            state,
            next_attempt_at: next,
        };
        if !service
            .store
            .finish_attempt(&delivery.id, &self.owner, &outcome)
            .await?
        {
            tracing::warn!(delivery = %delivery.id, "a webhook lease expired before its attempt was recorded");
            return Ok(());
        }
        if let Some(s) = subscription {
            self.note_outcome(s, &outcome, gone).await?;
        }
        Ok(())
    }

    /// Keeps the failure streak and disables a subscription that answered 410, ran out of
    /// attempts, or failed `disable_after_failures` deliveries in a row.
    async fn note_outcome(
        &self,
        mut s: Subscription,
        outcome: &AttemptOutcome,
        gone: bool,
    ) -> Result<(), StoreError> {
        let limit = i64::from(self.service.settings.disable_after_failures);
        let reason = match outcome.state {
            DeliveryState::Succeeded if s.failure_streak == 0 => return Ok(()),
            DeliveryState::Succeeded => {
                s.failure_streak = 0;
                None
            }
            _ => {
                s.failure_streak += 1;
                if gone {
                    Some("the receiver answered 410 Gone".to_owned())
                } else if outcome.state == DeliveryState::Failed {
                    Some(format!(
                        "a delivery failed every attempt ({})",
                        outcome.record.error.as_deref().unwrap_or("no answer")
                    ))
                } else if limit > 0 && s.failure_streak >= limit {
                    Some(format!("{} deliveries in a row failed", s.failure_streak))
                } else {
                    None
                }
            }
        };
        if let Some(reason) = &reason {
            tracing::warn!(webhook = %s.id, %reason, "webhook subscription disabled");
            s.state = SubscriptionState::Disabled;
            s.disabled_reason = Some(reason.clone());
        }
        s.updated_at = Utc::now();
        self.service.store.update_webhook(&s).await?;
        if let Some(reason) = reason {
            // Told to the subscriptions that watch for it (the disabled one gets nothing).
            let body = json!({
                "type": "webhook.disabled",
                "timestamp": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
                "data": {"webhook_id": s.id, "url": s.url, "reason": reason},
            });
            self.service
                .store
                .fan_out(
                    &format!("msg_{}", uuid::Uuid::now_v7().simple()),
                    "webhook.disabled",
                    &body.to_string(),
                )
                .await?;
        }
        Ok(())
    }
}
