//! The SQL of [`super::AuthStore`], written once for both pools.

macro_rules! impl_auth_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::AuthStore for $store {
            async fn insert_key(
                &self,
                key: &$crate::domain::access::ApiKey,
            ) -> Result<bool, $crate::storage::StoreError> {
                let inserted = sqlx::query(
                    "INSERT INTO api_keys (id, name, hash, scopes, created_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(&key.id)
                .bind(&key.name)
                .bind(&key.hash)
                .bind($crate::domain::access::scope_list(&key.scopes))
                .bind($crate::storage::millis(key.created_at))
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(inserted == 1)
            }

            async fn list_keys(
                &self,
            ) -> Result<Vec<$crate::domain::access::ApiKey>, $crate::storage::StoreError> {
                let rows = sqlx::query(concat!(
                    "SELECT ", $crate::storage::auth_queries::KEY_COLUMNS!(),
                    " FROM api_keys ORDER BY created_at, id"
                ))
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| $crate::storage::auth_queries::read_key!(r))
                    .collect()
            }

            async fn revoke_key(
                &self,
                id_or_name: &str,
                at: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<$crate::domain::access::ApiKey>, $crate::storage::StoreError> {
                let row = sqlx::query(concat!(
                    "UPDATE api_keys SET revoked_at = $1 WHERE revoked_at IS NULL AND (id = $2 OR name = $2) \
                     RETURNING ", $crate::storage::auth_queries::KEY_COLUMNS!()
                ))
                .bind($crate::storage::millis(at))
                .bind(id_or_name)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| $crate::storage::auth_queries::read_key!(r)).transpose()
            }

            async fn key_by_hash(
                &self,
                hash: &str,
            ) -> Result<Option<$crate::domain::access::ApiKey>, $crate::storage::StoreError> {
                let row = sqlx::query(concat!(
                    "SELECT ", $crate::storage::auth_queries::KEY_COLUMNS!(),
                    " FROM api_keys WHERE hash = $1"
                ))
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| $crate::storage::auth_queries::read_key!(r)).transpose()
            }

            async fn count_keys(&self) -> Result<i64, $crate::storage::StoreError> {
                use sqlx::Row;
                let row = sqlx::query("SELECT COUNT(*) AS n FROM api_keys")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(row.try_get("n")?)
            }

            async fn touch_key(
                &self,
                id: &str,
                at: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::storage::StoreError> {
                sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
                    .bind($crate::storage::millis(at))
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn record_audit(
                &self,
                e: &$crate::domain::access::AuditEntry,
            ) -> Result<(), $crate::storage::StoreError> {
                sqlx::query(
                    "INSERT INTO audit (id, at, actor, action, inn, detail, on_behalf_of) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&e.id)
                .bind($crate::storage::millis(e.at))
                .bind(&e.actor)
                .bind(&e.action)
                .bind(&e.inn)
                .bind(&e.detail)
                .bind(&e.on_behalf_of)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn audit_after(
                &self,
                after: Option<&str>,
                limit: i64,
                inn: Option<&str>,
            ) -> Result<Vec<$crate::domain::access::AuditEntry>, $crate::storage::StoreError> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT id, at, actor, action, inn, detail, on_behalf_of FROM audit \
                     WHERE id > $1 AND ($2 IS NULL OR inn = $2) ORDER BY id LIMIT $3",
                )
                .bind(after.unwrap_or(""))
                .bind(inn)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::domain::access::AuditEntry {
                            id: r.try_get("id")?,
                            at: $crate::storage::from_millis(r.try_get("at")?),
                            actor: r.try_get("actor")?,
                            action: r.try_get("action")?,
                            inn: r.try_get("inn")?,
                            detail: r.try_get("detail")?,
                            on_behalf_of: r.try_get("on_behalf_of")?,
                        })
                    })
                    .collect()
            }
        }
    };
}

macro_rules! KEY_COLUMNS {
    () => {
        "id, name, hash, scopes, created_at, last_used_at, revoked_at"
    };
}

macro_rules! read_key {
    ($row:expr) => {{
        use sqlx::Row;
        let scopes: String = $row.try_get("scopes")?;
        let at = |v: Option<i64>| v.map($crate::storage::from_millis);
        Ok::<_, $crate::storage::StoreError>($crate::domain::access::ApiKey {
            id: $row.try_get("id")?,
            name: $row.try_get("name")?,
            hash: $row.try_get("hash")?,
            // A scope this version does not know is dropped, never widened.
            scopes: scopes
                .split(',')
                .filter_map($crate::domain::access::Scope::parse)
                .collect(),
            created_at: $crate::storage::from_millis($row.try_get("created_at")?),
            last_used_at: at($row.try_get("last_used_at")?),
            revoked_at: at($row.try_get("revoked_at")?),
        })
    }};
}

pub(crate) use KEY_COLUMNS;
pub(crate) use impl_auth_store;
pub(crate) use read_key;
