//! The SQL of [`super::IdempotencyStore`], written once for both pools.

macro_rules! impl_idempotency_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::IdempotencyStore for $store {
            async fn claim_idempotency_key(
                &self,
                principal: &str,
                key: &str,
                fingerprint: &str,
                now: chrono::DateTime<chrono::Utc>,
                expired: chrono::DateTime<chrono::Utc>,
                abandoned: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::storage::IdempotencyClaim, $crate::storage::StoreError> {
                use $crate::storage::IdempotencyClaim;
                use sqlx::Row;
                sqlx::query(
                    "DELETE FROM idempotency_keys WHERE created_at < $1 \
                     OR (state = 'running' AND created_at < $2)",
                )
                .bind($crate::storage::millis(expired))
                .bind($crate::storage::millis(abandoned))
                .execute(&self.pool)
                .await?;
                let claimed = sqlx::query(
                    "INSERT INTO idempotency_keys (principal, key, fingerprint, state, created_at) \
                     VALUES ($1, $2, $3, 'running', $4) ON CONFLICT (principal, key) DO NOTHING",
                )
                .bind(principal)
                .bind(key)
                .bind(fingerprint)
                .bind($crate::storage::millis(now))
                .execute(&self.pool)
                .await?
                .rows_affected();
                if claimed == 1 {
                    return Ok(IdempotencyClaim::Started);
                }
                let Some(row) = sqlx::query(
                    "SELECT fingerprint, state, status, content_type, location, body \
                     FROM idempotency_keys WHERE principal = $1 AND key = $2",
                )
                .bind(principal)
                .bind(key)
                .fetch_optional(&self.pool)
                .await?
                else {
                    // Released between the insert and the read: the caller may try again.
                    return Ok(IdempotencyClaim::Running);
                };
                let stored: String = row.try_get("fingerprint")?;
                if stored != fingerprint {
                    return Ok(IdempotencyClaim::Mismatch);
                }
                let state: String = row.try_get("state")?;
                if state != "done" {
                    return Ok(IdempotencyClaim::Running);
                }
                Ok(IdempotencyClaim::Done($crate::storage::StoredResponse {
                    status: row.try_get::<i64, _>("status")?.clamp(100, 599) as u16,
                    content_type: row.try_get("content_type")?,
                    location: row.try_get("location")?,
                    body: self
                        .sealer
                        .open_opt("idempotency_keys.body", row.try_get("body")?)?
                        .unwrap_or_default(),
                }))
            }

            async fn finish_idempotency_key(
                &self,
                principal: &str,
                key: &str,
                response: &$crate::storage::StoredResponse,
            ) -> Result<(), $crate::storage::StoreError> {
                sqlx::query(
                    "UPDATE idempotency_keys SET state = 'done', status = $3, content_type = $4, \
                     location = $5, body = $6 WHERE principal = $1 AND key = $2",
                )
                .bind(principal)
                .bind(key)
                .bind(i64::from(response.status))
                .bind(&response.content_type)
                .bind(&response.location)
                .bind(self.sealer.seal("idempotency_keys.body", &response.body)?)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn release_idempotency_key(
                &self,
                principal: &str,
                key: &str,
            ) -> Result<(), $crate::storage::StoreError> {
                sqlx::query("DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2")
                    .bind(principal)
                    .bind(key)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_idempotency_store;
