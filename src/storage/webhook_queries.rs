//! The SQL of [`super::WebhookStore`], written once for both pools. `$lock` is what
//! claiming deliveries appends to its row selection: `FOR UPDATE OF d SKIP LOCKED` on
//! PostgreSQL, so concurrent instances claim disjoint deliveries; nothing on SQLite, where
//! writes are serialized anyway.

/// One delivery per subscription (not disabled) whose patterns match the type `$3`:
/// `$1` a UUIDv7 for the message (each delivery's id is it and the subscription's),
/// `$2` the message id, `$4` the body, `$5` now.
pub(crate) const FAN_OUT: &str = "INSERT INTO webhook_deliveries (id, webhook_id, message_id, \
     event_type, body, state, attempts, next_attempt_at, created_at) \
     SELECT $1 || '.' || w.id, w.id, $2, $3, $4, 'pending', 0, $5, $5 FROM webhooks w \
     WHERE w.state <> 'disabled' AND EXISTS (SELECT 1 FROM webhook_events p \
       WHERE p.webhook_id = w.id AND (p.pattern = '*' OR p.pattern = $3 \
         OR (p.pattern LIKE '%.*' \
             AND substr($3, 1, length(p.pattern) - 1) = substr(p.pattern, 1, length(p.pattern) - 1))))";

macro_rules! WEBHOOK_COLUMNS {
    () => {
        "id, url, description, secret, signing, previous_secret, previous_until, state, \
         disabled_reason, failure_streak, created_by, created_at, updated_at"
    };
}

macro_rules! DELIVERY_COLUMNS {
    () => {
        "id, webhook_id, target_url, check_id, message_id, event_type, body, state, attempts, \
         next_attempt_at, last_status, last_error, created_at, finished_at"
    };
}

macro_rules! read_webhook {
    ($sealer:expr, $row:expr, $events:expr) => {{
        use sqlx::Row;
        let state: String = $row.try_get("state")?;
        let signing: String = $row.try_get("signing")?;
        Ok::<_, $crate::storage::StoreError>($crate::domain::webhook::Subscription {
            signing: signing.parse().unwrap_or_default(),
            id: $row.try_get("id")?,
            url: $row.try_get("url")?,
            description: $row.try_get("description")?,
            events: $events,
            state: state
                .parse()
                .unwrap_or($crate::domain::webhook::SubscriptionState::Disabled),
            disabled_reason: $row.try_get("disabled_reason")?,
            failure_streak: $row.try_get::<i64, _>("failure_streak")?,
            created_by: $row.try_get("created_by")?,
            created_at: $crate::storage::from_millis($row.try_get("created_at")?),
            updated_at: $crate::storage::from_millis($row.try_get("updated_at")?),
            secret: $sealer.open("webhooks.secret", $row.try_get("secret")?)?,
            previous_secret: $sealer
                .open_opt("webhooks.previous_secret", $row.try_get("previous_secret")?)?,
            previous_until: $row
                .try_get::<Option<i64>, _>("previous_until")?
                .map($crate::storage::from_millis),
        })
    }};
}

macro_rules! read_delivery {
    ($row:expr) => {{
        use sqlx::Row;
        let state: String = $row.try_get("state")?;
        Ok::<_, $crate::storage::StoreError>($crate::domain::webhook::Delivery {
            id: $row.try_get("id")?,
            webhook_id: $row.try_get("webhook_id")?,
            check_id: $row.try_get("check_id")?,
            message_id: $row.try_get("message_id")?,
            event_type: $row.try_get("event_type")?,
            state: state
                .parse()
                .unwrap_or($crate::domain::webhook::DeliveryState::Failed),
            attempts: $row.try_get::<i64, _>("attempts")?,
            next_attempt_at: $crate::storage::from_millis($row.try_get("next_attempt_at")?),
            last_status: $row.try_get::<Option<i64>, _>("last_status")?,
            last_error: $row.try_get("last_error")?,
            created_at: $crate::storage::from_millis($row.try_get("created_at")?),
            finished_at: $row
                .try_get::<Option<i64>, _>("finished_at")?
                .map($crate::storage::from_millis),
            target_url: $row.try_get("target_url")?,
            body: $row.try_get("body")?,
        })
    }};
}

macro_rules! impl_webhook_store {
    ($store:ty, $lock:literal) => {
        impl $store {
            async fn webhook_events(
                &self,
                id: &str,
            ) -> Result<Vec<String>, $crate::storage::StoreError> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT pattern FROM webhook_events WHERE webhook_id = $1 ORDER BY pattern",
                )
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(|r| Ok(r.try_get("pattern")?)).collect()
            }
        }

        #[async_trait::async_trait]
        impl $crate::storage::WebhookStore for $store {
            async fn insert_webhook(
                &self,
                w: &$crate::domain::webhook::Subscription,
            ) -> Result<(), $crate::storage::StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(concat!(
                    "INSERT INTO webhooks (", $crate::storage::webhook_queries::WEBHOOK_COLUMNS!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                ))
                .bind(&w.id)
                .bind(&w.url)
                .bind(&w.description)
                .bind(self.sealer.seal("webhooks.secret", &w.secret)?)
                .bind(w.signing.as_str())
                .bind(self.sealer.seal_opt("webhooks.previous_secret", w.previous_secret.as_deref())?)
                .bind(w.previous_until.map($crate::storage::millis))
                .bind(w.state.as_str())
                .bind(&w.disabled_reason)
                .bind(w.failure_streak)
                .bind(&w.created_by)
                .bind($crate::storage::millis(w.created_at))
                .bind($crate::storage::millis(w.updated_at))
                .execute(&mut *tx)
                .await?;
                for pattern in &w.events {
                    sqlx::query("INSERT INTO webhook_events (webhook_id, pattern) VALUES ($1, $2)")
                        .bind(&w.id)
                        .bind(pattern)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn get_webhook(
                &self,
                id: &str,
            ) -> Result<Option<$crate::domain::webhook::Subscription>, $crate::storage::StoreError> {
                let row = sqlx::query(concat!(
                    "SELECT ", $crate::storage::webhook_queries::WEBHOOK_COLUMNS!(),
                    " FROM webhooks WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                match row {
                    Some(r) => {
                        let events = self.webhook_events(id).await?;
                        Ok(Some($crate::storage::webhook_queries::read_webhook!(self.sealer, r, events)?))
                    }
                    None => Ok(None),
                }
            }

            async fn list_webhooks(
                &self,
            ) -> Result<Vec<$crate::domain::webhook::Subscription>, $crate::storage::StoreError> {
                use sqlx::Row;
                let rows = sqlx::query(concat!(
                    "SELECT ", $crate::storage::webhook_queries::WEBHOOK_COLUMNS!(),
                    " FROM webhooks ORDER BY created_at, id"
                ))
                .fetch_all(&self.pool)
                .await?;
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    let id: String = r.try_get("id")?;
                    let events = self.webhook_events(&id).await?;
                    out.push($crate::storage::webhook_queries::read_webhook!(self.sealer, r, events)?);
                }
                Ok(out)
            }

            async fn update_webhook(
                &self,
                w: &$crate::domain::webhook::Subscription,
            ) -> Result<bool, $crate::storage::StoreError> {
                let mut tx = self.pool.begin().await?;
                let updated = sqlx::query(
                    "UPDATE webhooks SET url = $2, description = $3, secret = $4, previous_secret = $5, \
                     previous_until = $6, state = $7, disabled_reason = $8, failure_streak = $9, \
                     updated_at = $10 WHERE id = $1",
                )
                .bind(&w.id)
                .bind(&w.url)
                .bind(&w.description)
                .bind(self.sealer.seal("webhooks.secret", &w.secret)?)
                .bind(self.sealer.seal_opt("webhooks.previous_secret", w.previous_secret.as_deref())?)
                .bind(w.previous_until.map($crate::storage::millis))
                .bind(w.state.as_str())
                .bind(&w.disabled_reason)
                .bind(w.failure_streak)
                .bind($crate::storage::millis(w.updated_at))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if updated == 0 {
                    return Ok(false);
                }
                sqlx::query("DELETE FROM webhook_events WHERE webhook_id = $1")
                    .bind(&w.id)
                    .execute(&mut *tx)
                    .await?;
                for pattern in &w.events {
                    sqlx::query("INSERT INTO webhook_events (webhook_id, pattern) VALUES ($1, $2)")
                        .bind(&w.id)
                        .bind(pattern)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn delete_webhook(&self, id: &str) -> Result<bool, $crate::storage::StoreError> {
                let mut tx = self.pool.begin().await?;
                // Children first: SQLite enforces foreign keys only when asked to.
                for sql in [
                    "DELETE FROM webhook_attempts WHERE delivery_id IN \
                       (SELECT id FROM webhook_deliveries WHERE webhook_id = $1)",
                    "DELETE FROM webhook_deliveries WHERE webhook_id = $1",
                    "DELETE FROM webhook_events WHERE webhook_id = $1",
                ] {
                    sqlx::query(sql).bind(id).execute(&mut *tx).await?;
                }
                let deleted = sqlx::query("DELETE FROM webhooks WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(deleted == 1)
            }

            async fn insert_delivery(
                &self,
                d: &$crate::domain::webhook::NewDelivery,
            ) -> Result<$crate::domain::webhook::Delivery, $crate::storage::StoreError> {
                let now = $crate::storage::millis(chrono::Utc::now());
                let row = sqlx::query(concat!(
                    "INSERT INTO webhook_deliveries (id, webhook_id, target_url, check_id, message_id, \
                     event_type, body, state, attempts, next_attempt_at, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $8) RETURNING ",
                    $crate::storage::webhook_queries::DELIVERY_COLUMNS!()
                ))
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(&d.webhook_id)
                .bind(&d.target_url)
                .bind(&d.check_id)
                .bind(&d.message_id)
                .bind(&d.event_type)
                .bind(&d.body)
                .bind(now)
                .fetch_one(&self.pool)
                .await?;
                $crate::storage::webhook_queries::read_delivery!(row)
            }

            async fn claim_deliveries(
                &self,
                owner: &str,
                now: chrono::DateTime<chrono::Utc>,
                lease_until: chrono::DateTime<chrono::Utc>,
                limit: i64,
            ) -> Result<Vec<$crate::domain::webhook::Delivery>, $crate::storage::StoreError> {
                let rows = sqlx::query(concat!(
                    "UPDATE webhook_deliveries SET lease_owner = $1, lease_until = $2 WHERE id IN (\
                       SELECT d.id FROM webhook_deliveries d LEFT JOIN webhooks w ON w.id = d.webhook_id \
                       WHERE d.state = 'pending' AND d.next_attempt_at <= $3 \
                         AND (d.lease_until IS NULL OR d.lease_until < $3) \
                         AND (d.webhook_id IS NULL OR (w.state = 'active' AND NOT EXISTS (\
                           SELECT 1 FROM webhook_deliveries e WHERE e.webhook_id = d.webhook_id \
                             AND e.state = 'pending' AND e.id < d.id))) \
                       ORDER BY d.id LIMIT $4",
                    $lock,
                    ") RETURNING ",
                    $crate::storage::webhook_queries::DELIVERY_COLUMNS!()
                ))
                .bind(owner)
                .bind($crate::storage::millis(lease_until))
                .bind($crate::storage::millis(now))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| $crate::storage::webhook_queries::read_delivery!(r))
                    .collect()
            }

            async fn finish_attempt(
                &self,
                delivery_id: &str,
                owner: &str,
                outcome: &$crate::domain::webhook::AttemptOutcome,
            ) -> Result<bool, $crate::storage::StoreError> {
                let mut tx = self.pool.begin().await?;
                let finished = (outcome.state != $crate::domain::webhook::DeliveryState::Pending)
                    .then(|| $crate::storage::millis(outcome.record.at));
                let updated = sqlx::query(
                    "UPDATE webhook_deliveries SET state = $3, attempts = $4, next_attempt_at = $5, \
                     last_status = $6, last_error = $7, finished_at = $8, lease_owner = NULL, \
                     lease_until = NULL WHERE id = $1 AND lease_owner = $2",
                )
                .bind(delivery_id)
                .bind(owner)
                .bind(outcome.state.as_str())
                .bind(outcome.record.attempt)
                .bind($crate::storage::millis(outcome.next_attempt_at))
                .bind(outcome.record.status)
                .bind(&outcome.record.error)
                .bind(finished)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if updated == 0 {
                    return Ok(false);
                }
                sqlx::query(
                    "INSERT INTO webhook_attempts (delivery_id, attempt, at, status, latency_ms, error) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(delivery_id)
                .bind(outcome.record.attempt)
                .bind($crate::storage::millis(outcome.record.at))
                .bind(outcome.record.status)
                .bind(outcome.record.latency_ms)
                .bind(&outcome.record.error)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn fan_out(
                &self,
                message_id: &str,
                event_type: &str,
                body: &str,
            ) -> Result<u64, $crate::storage::StoreError> {
                Ok(sqlx::query($crate::storage::webhook_queries::FAN_OUT)
                    .bind(uuid::Uuid::now_v7().to_string())
                    .bind(message_id)
                    .bind(event_type)
                    .bind(body)
                    .bind($crate::storage::millis(chrono::Utc::now()))
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            async fn get_delivery(
                &self,
                id: &str,
            ) -> Result<Option<$crate::domain::webhook::Delivery>, $crate::storage::StoreError> {
                let row = sqlx::query(concat!(
                    "SELECT ", $crate::storage::webhook_queries::DELIVERY_COLUMNS!(),
                    " FROM webhook_deliveries WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| $crate::storage::webhook_queries::read_delivery!(r))
                    .transpose()
            }

            async fn list_deliveries(
                &self,
                webhook_id: Option<&str>,
                check_id: Option<&str>,
                before: Option<&str>,
                limit: i64,
            ) -> Result<Vec<$crate::domain::webhook::Delivery>, $crate::storage::StoreError> {
                let rows = sqlx::query(concat!(
                    "SELECT ", $crate::storage::webhook_queries::DELIVERY_COLUMNS!(),
                    " FROM webhook_deliveries WHERE ($1 IS NULL OR webhook_id = $1) \
                     AND ($2 IS NULL OR check_id = $2) AND ($3 IS NULL OR id < $3) \
                     ORDER BY id DESC LIMIT $4"
                ))
                .bind(webhook_id)
                .bind(check_id)
                .bind(before)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| $crate::storage::webhook_queries::read_delivery!(r))
                    .collect()
            }

            async fn attempts_of(
                &self,
                delivery_id: &str,
            ) -> Result<Vec<$crate::domain::webhook::AttemptRecord>, $crate::storage::StoreError> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT attempt, at, status, latency_ms, error FROM webhook_attempts \
                     WHERE delivery_id = $1 ORDER BY attempt",
                )
                .bind(delivery_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::domain::webhook::AttemptRecord {
                            attempt: r.try_get::<i64, _>("attempt")?,
                            at: $crate::storage::from_millis(r.try_get("at")?),
                            status: r.try_get::<Option<i64>, _>("status")?,
                            latency_ms: r.try_get::<i64, _>("latency_ms")?,
                            error: r.try_get("error")?,
                        })
                    })
                    .collect()
            }

            async fn retry_delivery(
                &self,
                id: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::storage::StoreError> {
                let updated = sqlx::query(
                    "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $2, \
                     finished_at = NULL WHERE id = $1 AND state <> 'pending'",
                )
                .bind(id)
                .bind($crate::storage::millis(now))
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(updated == 1)
            }

            async fn service_secret(
                &self,
                name: &str,
                generated: &str,
            ) -> Result<String, $crate::storage::StoreError> {
                use sqlx::Row;
                sqlx::query(
                    "INSERT INTO service_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                )
                .bind(name)
                .bind(self.sealer.seal("service_secrets.value", generated)?)
                .execute(&self.pool)
                .await?;
                let row = sqlx::query("SELECT value FROM service_secrets WHERE name = $1")
                    .bind(name)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(self.sealer.open("service_secrets.value", row.try_get("value")?)?)
            }

            async fn replace_service_secret(
                &self,
                name: &str,
                value: &str,
            ) -> Result<(), $crate::storage::StoreError> {
                sqlx::query(
                    "INSERT INTO service_secrets (name, value) VALUES ($1, $2) \
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                )
                .bind(name)
                .bind(self.sealer.seal("service_secrets.value", value)?)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
        }
    };
}

pub(crate) use DELIVERY_COLUMNS;
pub(crate) use WEBHOOK_COLUMNS;
pub(crate) use impl_webhook_store;
pub(crate) use read_delivery;
pub(crate) use read_webhook;
