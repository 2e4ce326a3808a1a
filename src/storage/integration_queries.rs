//! The SQL of [`super::IntegrationStore`], written once for both pools.

macro_rules! impl_integration_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::IntegrationStore for $store {
            async fn save_portal(
                &self,
                p: &$crate::domain::crm::Portal,
            ) -> Result<(), $crate::storage::StoreError> {
                let now = $crate::storage::millis(chrono::Utc::now());
                sqlx::query(
                    "INSERT INTO bitrix24_portals (member_id, domain, client_endpoint, access_token, \
                       refresh_token, application_token, expires_at, installed_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
                     ON CONFLICT (member_id) DO UPDATE SET domain = excluded.domain, \
                       client_endpoint = excluded.client_endpoint, access_token = excluded.access_token, \
                       refresh_token = excluded.refresh_token, application_token = excluded.application_token, \
                       expires_at = excluded.expires_at, updated_at = excluded.updated_at",
                )
                .bind(&p.member_id)
                .bind(&p.domain)
                .bind(&p.client_endpoint)
                .bind(self.sealer.seal("bitrix24_portals.access_token", &p.access_token)?)
                .bind(self.sealer.seal("bitrix24_portals.refresh_token", &p.refresh_token)?)
                .bind(self.sealer.seal("bitrix24_portals.application_token", &p.application_token)?)
                .bind($crate::storage::millis(p.expires_at))
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn portal(
                &self,
                member_id: &str,
            ) -> Result<Option<$crate::domain::crm::Portal>, $crate::storage::StoreError> {
                use sqlx::Row;
                let row = sqlx::query(
                    "SELECT member_id, domain, client_endpoint, access_token, refresh_token, \
                       application_token, expires_at FROM bitrix24_portals WHERE member_id = $1",
                )
                .bind(member_id)
                .fetch_optional(&self.pool)
                .await?;
                let Some(r) = row else { return Ok(None) };
                Ok(Some($crate::domain::crm::Portal {
                    member_id: r.try_get("member_id")?,
                    domain: r.try_get("domain")?,
                    client_endpoint: r.try_get("client_endpoint")?,
                    access_token: self
                        .sealer
                        .open("bitrix24_portals.access_token", r.try_get("access_token")?)?,
                    refresh_token: self
                        .sealer
                        .open("bitrix24_portals.refresh_token", r.try_get("refresh_token")?)?,
                    application_token: self.sealer.open(
                        "bitrix24_portals.application_token",
                        r.try_get("application_token")?,
                    )?,
                    expires_at: $crate::storage::from_millis(r.try_get("expires_at")?),
                }))
            }

            async fn any_portal(&self) -> Result<bool, $crate::storage::StoreError> {
                Ok(sqlx::query("SELECT 1 AS one FROM bitrix24_portals LIMIT 1")
                    .fetch_optional(&self.pool)
                    .await?
                    .is_some())
            }

            async fn update_portal_tokens(
                &self,
                member_id: &str,
                access_token: &str,
                refresh_token: &str,
                expires_at: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::storage::StoreError> {
                sqlx::query(
                    "UPDATE bitrix24_portals SET access_token = $1, refresh_token = $2, \
                       expires_at = $3, updated_at = $4 WHERE member_id = $5",
                )
                .bind(self.sealer.seal("bitrix24_portals.access_token", access_token)?)
                .bind(self.sealer.seal("bitrix24_portals.refresh_token", refresh_token)?)
                .bind($crate::storage::millis(expires_at))
                .bind($crate::storage::millis(chrono::Utc::now()))
                .bind(member_id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn claim_bitrix24_event(
                &self,
                event_token: &str,
                member_id: &str,
                request: &str,
            ) -> Result<bool, $crate::storage::StoreError> {
                let inserted = sqlx::query(
                    "INSERT INTO bitrix24_events (event_token, member_id, request, state, received_at) \
                     VALUES ($1, $2, $3, 'running', $4) ON CONFLICT (event_token) DO NOTHING",
                )
                .bind(event_token)
                .bind(member_id)
                .bind(request)
                .bind($crate::storage::millis(chrono::Utc::now()))
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(inserted == 1)
            }

            async fn finish_bitrix24_event(
                &self,
                event_token: &str,
                state: &str,
                check_id: Option<uuid::Uuid>,
                error: Option<&str>,
            ) -> Result<(), $crate::storage::StoreError> {
                sqlx::query(
                    "UPDATE bitrix24_events SET state = $1, check_id = $2, error = $3, finished_at = $4 \
                     WHERE event_token = $5",
                )
                .bind(state)
                .bind(check_id.map(|id| id.to_string()))
                .bind(error)
                .bind($crate::storage::millis(chrono::Utc::now()))
                .bind(event_token)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn unanswered_bitrix24_events(
                &self,
                before: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<String>, $crate::storage::StoreError> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT request FROM bitrix24_events WHERE state = 'running' AND received_at < $1 \
                     ORDER BY received_at LIMIT 1000",
                )
                .bind($crate::storage::millis(before))
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| Ok(r.try_get("request")?))
                    .collect()
            }

            async fn resume_bitrix24_event(
                &self,
                event_token: &str,
            ) -> Result<bool, $crate::storage::StoreError> {
                let taken = sqlx::query(
                    "UPDATE bitrix24_events SET state = 'resumed' \
                     WHERE event_token = $1 AND state = 'running'",
                )
                .bind(event_token)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(taken == 1)
            }

            async fn integration_cursor(
                &self,
                name: &str,
            ) -> Result<i64, $crate::storage::StoreError> {
                use sqlx::Row;
                // A connector seen for the first time starts at the end of the feed: it
                // follows what happens from now on, not the history. (`WHERE true` keeps
                // SQLite from reading `ON CONFLICT` as part of the `SELECT`.)
                sqlx::query(
                    "INSERT INTO integration_cursors (name, seq) \
                     SELECT $1, COALESCE(MAX(seq), 0) FROM events WHERE true \
                     ON CONFLICT (name) DO NOTHING",
                )
                .bind(name)
                .execute(&self.pool)
                .await?;
                let row = sqlx::query("SELECT seq FROM integration_cursors WHERE name = $1")
                    .bind(name)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(row.try_get("seq")?)
            }

            async fn set_integration_cursor(
                &self,
                name: &str,
                seq: i64,
            ) -> Result<(), $crate::storage::StoreError> {
                sqlx::query("UPDATE integration_cursors SET seq = $1 WHERE name = $2")
                    .bind(seq)
                    .bind(name)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn amocrm_written_since(
                &self,
                account: &str,
                entity: &str,
                entity_id: u64,
                inn: &str,
                since: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::storage::StoreError> {
                let row = sqlx::query(
                    "SELECT 1 AS one FROM amocrm_writes WHERE account = $1 AND entity = $2 \
                     AND entity_id = $3 AND inn = $4 AND written_at >= $5",
                )
                .bind(account)
                .bind(entity)
                .bind(entity_id as i64)
                .bind(inn)
                .bind($crate::storage::millis(since))
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.is_some())
            }

            async fn amocrm_tokens(
                &self,
                account: &str,
            ) -> Result<Option<(String, String, chrono::DateTime<chrono::Utc>)>, $crate::storage::StoreError> {
                use sqlx::Row;
                let row = sqlx::query(
                    "SELECT access_token, refresh_token, expires_at FROM amocrm_tokens WHERE account = $1",
                )
                .bind(account)
                .fetch_optional(&self.pool)
                .await?;
                let Some(r) = row else { return Ok(None) };
                Ok(Some((
                    self.sealer
                        .open("amocrm_tokens.access_token", r.try_get("access_token")?)?,
                    self.sealer
                        .open("amocrm_tokens.refresh_token", r.try_get("refresh_token")?)?,
                    $crate::storage::from_millis(r.try_get("expires_at")?),
                )))
            }

            async fn save_amocrm_tokens(
                &self,
                account: &str,
                access_token: &str,
                refresh_token: &str,
                expires_at: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::storage::StoreError> {
                sqlx::query(
                    "INSERT INTO amocrm_tokens (account, access_token, refresh_token, expires_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (account) DO UPDATE SET \
                     access_token = excluded.access_token, refresh_token = excluded.refresh_token, \
                     expires_at = excluded.expires_at",
                )
                .bind(account)
                .bind(self.sealer.seal("amocrm_tokens.access_token", access_token)?)
                .bind(self.sealer.seal("amocrm_tokens.refresh_token", refresh_token)?)
                .bind($crate::storage::millis(expires_at))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn record_amocrm_write(
                &self,
                account: &str,
                entity: &str,
                entity_id: u64,
                inn: &str,
            ) -> Result<(), $crate::storage::StoreError> {
                sqlx::query(
                    "INSERT INTO amocrm_writes (account, entity, entity_id, inn, written_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account, entity, entity_id) \
                     DO UPDATE SET inn = excluded.inn, written_at = excluded.written_at",
                )
                .bind(account)
                .bind(entity)
                .bind(entity_id as i64)
                .bind(inn)
                .bind($crate::storage::millis(chrono::Utc::now()))
                .execute(&self.pool)
                .await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_integration_store;
