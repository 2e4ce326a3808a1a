//! The SQL of [`super::SealStore`], written once for both pools: every secret column read
//! and written back sealed, by its row's key.

/// Every column that holds a secret: its table, the columns of its row's key, and itself.
/// The column's `table.column` is the associated data it is sealed with.
pub const SEALED_COLUMNS: &[(&str, &[&str], &str)] = &[
    ("webhooks", &["id"], "secret"),
    ("webhooks", &["id"], "previous_secret"),
    ("service_secrets", &["name"], "value"),
    ("bitrix24_portals", &["member_id"], "access_token"),
    ("bitrix24_portals", &["member_id"], "refresh_token"),
    ("bitrix24_portals", &["member_id"], "application_token"),
    ("amocrm_tokens", &["account"], "access_token"),
    ("amocrm_tokens", &["account"], "refresh_token"),
    ("idempotency_keys", &["principal", "key"], "body"),
];

/// The row that proves the key: a known text sealed at first start.
pub const KEY_CHECK: &str = "secrets.key_check";

/// `$flush` runs after values were resealed: on SQLite it moves the WAL into the file and
/// empties it, so the old values (zeroed by `secure_delete`) are nowhere on disk.
macro_rules! impl_seal_store {
    ($store:ty, $flush:literal) => {
        #[async_trait::async_trait]
        impl $crate::storage::SealStore for $store {
            async fn reseal(
                &self,
                from: &$crate::seal::Sealer,
                to: &$crate::seal::Sealer,
                only_plain: bool,
            ) -> Result<usize, $crate::storage::StoreError> {
                use sqlx::Row;
                let mut tx = self.pool.begin().await?;
                let mut changed = 0;
                for (table, keys, column) in $crate::storage::seal_queries::SEALED_COLUMNS {
                    let context = format!("{table}.{column}");
                    let select = format!(
                        "SELECT {}, {column} AS value FROM {table} WHERE {column} IS NOT NULL",
                        keys.join(", ")
                    );
                    let rows = sqlx::query(sqlx::AssertSqlSafe(select))
                        .fetch_all(&mut *tx)
                        .await?;
                    let filter: Vec<String> = keys
                        .iter()
                        .enumerate()
                        .map(|(i, k)| format!("{k} = ${}", i + 2))
                        .collect();
                    let update = format!(
                        "UPDATE {table} SET {column} = $1 WHERE {}",
                        filter.join(" AND ")
                    );
                    for row in &rows {
                        let value: String = row.try_get("value")?;
                        if only_plain && $crate::seal::is_sealed(&value) {
                            continue;
                        }
                        let sealed = to.seal(&context, &from.open(&context, &value)?)?;
                        let mut query =
                            sqlx::query(sqlx::AssertSqlSafe(update.clone())).bind(sealed);
                        for k in keys.iter() {
                            query = query.bind(row.try_get::<String, _>(*k)?);
                        }
                        query.execute(&mut *tx).await?;
                        changed += 1;
                    }
                }
                tx.commit().await?;
                if changed > 0 && !$flush.is_empty() {
                    sqlx::query($flush).execute(&self.pool).await?;
                }
                Ok(changed)
            }

            async fn key_check(&self) -> Result<Option<String>, $crate::storage::StoreError> {
                use sqlx::Row;
                let row = sqlx::query("SELECT value FROM service_secrets WHERE name = $1")
                    .bind($crate::storage::seal_queries::KEY_CHECK)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(|r| r.try_get("value")).transpose()?)
            }
        }
    };
}

pub(crate) use impl_seal_store;
