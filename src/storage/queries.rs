//! The SQL of [`super::Store`], written once and instantiated for each pool type.

/// Implements `Store` for a struct with a `pool` field of any sqlx pool whose database
/// accepts `$n` placeholders, `i64`, `String`, `Option<_>` and `Vec<u8>`.
macro_rules! impl_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::Store for $store {
            async fn ping(&self) -> Result<(), $crate::storage::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn save_snapshot(
                &self,
                inn: &$crate::domain::Inn,
                report: &$crate::sources::SourceReport,
            ) -> Result<(), $crate::storage::StoreError> {
                let id = uuid::Uuid::now_v7().to_string();
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO snapshots (id, source, inn, status, detail, fetched_at, findings) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&id)
                .bind(&report.source)
                .bind(inn.as_str())
                .bind(report.status.as_str())
                .bind(&report.detail)
                .bind($crate::storage::millis(report.fetched_at))
                .bind(serde_json::to_string(&report.findings)?)
                .execute(&mut *tx)
                .await?;
                for e in &report.evidence {
                    sqlx::query(
                        "INSERT INTO evidence (id, snapshot_id, url, http_status, sha256, body, received_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(uuid::Uuid::now_v7().to_string())
                    .bind(&id)
                    .bind(&e.url)
                    .bind(i64::from(e.http_status))
                    .bind(&e.sha256)
                    .bind(&e.body)
                    .bind($crate::storage::millis(e.received_at))
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn latest_snapshot(
                &self,
                source: &str,
                inn: &$crate::domain::Inn,
                since: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<$crate::sources::SourceReport>, $crate::storage::StoreError> {
                self.newest_snapshot(source, inn, since, true).await
            }

            async fn answer_since(
                &self,
                source: &str,
                inn: &$crate::domain::Inn,
                since: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<$crate::sources::SourceReport>, $crate::storage::StoreError> {
                self.newest_snapshot(source, inn, since, false).await
            }

            async fn claim_fetch(
                &self,
                source: &str,
                key: &str,
                holder: &str,
                now: chrono::DateTime<chrono::Utc>,
                until: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::storage::StoreError> {
                let done = sqlx::query(
                    "INSERT INTO fetch_claims (source, inn, holder, expires_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (source, inn) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
                     WHERE fetch_claims.expires_at < $5 OR fetch_claims.holder = excluded.holder",
                )
                .bind(source)
                .bind(key)
                .bind(holder)
                .bind($crate::storage::millis(until))
                .bind($crate::storage::millis(now))
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn prune_evidence(
                &self,
                before: chrono::DateTime<chrono::Utc>,
            ) -> Result<u64, $crate::storage::StoreError> {
                let done = sqlx::query(
                    "UPDATE evidence SET body = $1 WHERE received_at < $2 AND length(body) > 0",
                )
                .bind(Vec::<u8>::new())
                .bind($crate::storage::millis(before))
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }

            async fn checks_to_prune(
                &self,
                before: chrono::DateTime<chrono::Utc>,
                limit: i64,
            ) -> Result<Vec<$crate::storage::StoredCheck>, $crate::storage::StoreError> {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    $crate::storage::queries::CHECK_COLUMNS!(),
                    " FROM checks WHERE state <> 'pending' AND checked_at < $1 AND facts IS NOT NULL \
                      ORDER BY checked_at LIMIT $2"
                ))
                .bind($crate::storage::millis(before))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(|r| $crate::storage::queries::read_check!(r)).collect()
            }

            async fn prune_check(
                &self,
                id: uuid::Uuid,
                document: &str,
            ) -> Result<(), $crate::storage::StoreError> {
                sqlx::query("UPDATE checks SET document = $1, facts = NULL WHERE id = $2")
                    .bind(document)
                    .bind(id.to_string())
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn storage_sizes(&self) -> Result<Vec<(&'static str, i64)>, $crate::storage::StoreError> {
                use sqlx::Row;
                let row = sqlx::query(
                    "SELECT (SELECT COUNT(*) FROM checks) AS checks, \
                            (SELECT COALESCE(SUM(length(document)) + SUM(COALESCE(length(facts), 0)), 0) FROM checks) AS check_bytes, \
                            (SELECT COUNT(*) FROM snapshots) AS snapshots, \
                            (SELECT COALESCE(SUM(length(findings)), 0) FROM snapshots) AS snapshot_bytes, \
                            (SELECT COUNT(*) FROM evidence) AS evidence, \
                            (SELECT COALESCE(SUM(length(body)), 0) FROM evidence) AS evidence_bytes",
                )
                .fetch_one(&self.pool)
                .await?;
                let mut out = Vec::new();
                for name in ["checks", "check_bytes", "snapshots", "snapshot_bytes", "evidence", "evidence_bytes"] {
                    out.push((name, row.try_get::<i64, _>(name)?));
                }
                Ok(out)
            }

            async fn release_fetch(
                &self,
                source: &str,
                key: &str,
                holder: &str,
            ) -> Result<(), $crate::storage::StoreError> {
                sqlx::query("DELETE FROM fetch_claims WHERE source = $1 AND inn = $2 AND holder = $3")
                    .bind(source)
                    .bind(key)
                    .bind(holder)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn evidence_for(
                &self,
                source: &str,
                inn: &$crate::domain::Inn,
            ) -> Result<Vec<$crate::sources::Evidence>, $crate::storage::StoreError> {
                let rows = sqlx::query(
                    "SELECT url, http_status, sha256, body, received_at FROM evidence \
                     WHERE snapshot_id = (SELECT id FROM snapshots WHERE source = $1 AND inn = $2 \
                                          ORDER BY fetched_at DESC LIMIT 1) \
                     ORDER BY received_at, id",
                )
                .bind(source)
                .bind(inn.as_str())
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(|r| $crate::storage::queries::read_evidence!(r)).collect()
            }

            async fn evidence_at(
                &self,
                source: &str,
                inn: &$crate::domain::Inn,
                fetched_at: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<$crate::sources::Evidence>, $crate::storage::StoreError> {
                let rows = sqlx::query(
                    "SELECT url, http_status, sha256, body, received_at FROM evidence \
                     WHERE snapshot_id IN (SELECT id FROM snapshots \
                                           WHERE source = $1 AND inn = $2 AND fetched_at = $3) \
                     ORDER BY received_at, id",
                )
                .bind(source)
                .bind(inn.as_str())
                .bind($crate::storage::millis(fetched_at))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(|r| $crate::storage::queries::read_evidence!(r)).collect()
            }

            async fn save_ruleset(
                &self,
                r: &$crate::storage::StoredRuleset,
            ) -> Result<(), $crate::storage::StoreError> {
                sqlx::query(
                    "INSERT INTO rulesets (version, content, path, loaded_at, author, comment, kind) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (version) DO NOTHING",
                )
                .bind(&r.version)
                .bind(&r.content)
                .bind(&r.path)
                .bind($crate::storage::millis(r.loaded_at))
                .bind(&r.author)
                .bind(&r.comment)
                .bind(&r.kind)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn list_rulesets(&self, kind: &str) -> Result<Vec<$crate::storage::StoredRuleset>, $crate::storage::StoreError> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT kind, version, content, path, loaded_at, author, comment FROM rulesets \
                     WHERE kind = $1 ORDER BY loaded_at DESC, version",
                )
                .bind(kind)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::storage::StoredRuleset {
                            kind: r.try_get("kind")?,
                            version: r.try_get("version")?,
                            content: r.try_get("content")?,
                            path: r.try_get("path")?,
                            loaded_at: $crate::storage::from_millis(r.try_get("loaded_at")?),
                            author: r.try_get("author")?,
                            comment: r.try_get("comment")?,
                        })
                    })
                    .collect()
            }

            async fn record_activation(
                &self,
                a: &$crate::storage::PolicyActivation,
            ) -> Result<(), $crate::storage::StoreError> {
                sqlx::query(
                    "INSERT INTO policy_activations \
                     (id, kind, version, path, activated_at, author, comment, pinned_over) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(&a.kind)
                .bind(&a.version)
                .bind(&a.path)
                .bind($crate::storage::millis(a.activated_at))
                .bind(&a.author)
                .bind(&a.comment)
                .bind(&a.pinned_over)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn activations(
                &self,
                kind: &str,
            ) -> Result<Vec<$crate::storage::PolicyActivation>, $crate::storage::StoreError> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT kind, version, path, activated_at, author, comment, pinned_over \
                     FROM policy_activations WHERE kind = $1 ORDER BY activated_at DESC, id DESC",
                )
                .bind(kind)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::storage::PolicyActivation {
                            kind: r.try_get("kind")?,
                            version: r.try_get("version")?,
                            path: r.try_get("path")?,
                            activated_at: $crate::storage::from_millis(r.try_get("activated_at")?),
                            author: r.try_get("author")?,
                            comment: r.try_get("comment")?,
                            pinned_over: r.try_get("pinned_over")?,
                        })
                    })
                    .collect()
            }

            async fn latest_done_checks(
                &self,
                from: chrono::DateTime<chrono::Utc>,
                to: chrono::DateTime<chrono::Utc>,
                limit: i64,
            ) -> Result<Vec<$crate::storage::StoredCheck>, $crate::storage::StoreError> {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    $crate::storage::queries::CHECK_COLUMNS!(),
                    " FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY inn ORDER BY checked_at DESC, id DESC) AS nth \
                       FROM checks WHERE state = 'done' AND checked_at >= $1 AND checked_at < $2) AS latest \
                      WHERE nth = 1 ORDER BY checked_at DESC LIMIT $3"
                ))
                .bind($crate::storage::millis(from))
                .bind($crate::storage::millis(to))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(|r| $crate::storage::queries::read_check!(r)).collect()
            }

            async fn save_check(
                &self,
                c: &$crate::storage::StoredCheck,
            ) -> Result<(), $crate::storage::StoreError> {
                self.save_checks(std::slice::from_ref(c)).await
            }

            async fn save_checks(
                &self,
                checks: &[$crate::storage::StoredCheck],
            ) -> Result<(), $crate::storage::StoreError> {
                let mut tx = self.pool.begin().await?;
                for c in checks {
                sqlx::query(
                    "INSERT INTO checks (id, inn, state, decision, score, profile, ruleset_version, \
                                         created_at, checked_at, document, facts, callback_url) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                     ON CONFLICT (id) DO UPDATE SET state = excluded.state, decision = excluded.decision, \
                       score = excluded.score, ruleset_version = excluded.ruleset_version, \
                       checked_at = excluded.checked_at, document = excluded.document, facts = excluded.facts",
                )
                .bind(c.id.to_string())
                .bind(&c.inn)
                .bind(&c.state)
                .bind(&c.decision)
                .bind(c.score)
                .bind(&c.profile)
                .bind(&c.ruleset_version)
                .bind($crate::storage::millis(c.created_at))
                .bind(c.checked_at.map($crate::storage::millis))
                .bind(&c.document)
                .bind(&c.facts)
                .bind(&c.callback_url)
                .execute(&mut *tx)
                .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn get_check(
                &self,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::storage::StoredCheck>, $crate::storage::StoreError> {
                let row = sqlx::query(concat!("SELECT ", $crate::storage::queries::CHECK_COLUMNS!(), " FROM checks WHERE id = $1"))
                    .bind(id.to_string())
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| $crate::storage::queries::read_check!(r)).transpose()
            }

            async fn checks_of(
                &self,
                inn: &$crate::domain::Inn,
                before: Option<(i64, uuid::Uuid)>,
                limit: i64,
            ) -> Result<Vec<$crate::storage::StoredCheck>, $crate::storage::StoreError> {
                let (at, id) = before.map_or((i64::MAX, String::new()), |(at, id)| (at, id.to_string()));
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    $crate::storage::queries::CHECK_COLUMNS!(),
                    " FROM checks WHERE inn = $1 AND (created_at < $2 OR (created_at = $2 AND id < $3)) \
                     ORDER BY created_at DESC, id DESC LIMIT $4"
                ))
                .bind(inn.as_str())
                .bind(at)
                .bind(id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|r| $crate::storage::queries::read_check!(r))
                    .collect()
            }

            async fn save_batch(
                &self,
                b: &$crate::storage::StoredBatch,
            ) -> Result<(), $crate::storage::StoreError> {
                sqlx::query(
                    "INSERT INTO batches (id, requested_by, state, total, finished, items, callback_url, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (id) DO UPDATE SET state = excluded.state, finished = excluded.finished, \
                     items = excluded.items, updated_at = excluded.updated_at",
                )
                .bind(b.id.to_string())
                .bind(&b.requested_by)
                .bind(&b.state)
                .bind(b.total)
                .bind(b.finished)
                .bind(&b.items)
                .bind(&b.callback_url)
                .bind($crate::storage::millis(b.created_at))
                .bind($crate::storage::millis(b.updated_at))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn get_batch(
                &self,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::storage::StoredBatch>, $crate::storage::StoreError> {
                let row = sqlx::query(concat!("SELECT ", $crate::storage::queries::BATCH_COLUMNS!(), " FROM batches WHERE id = $1"))
                    .bind(id.to_string())
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| $crate::storage::queries::read_batch!(r)).transpose()
            }

            async fn stalled_batches(
                &self,
                before: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<$crate::storage::StoredBatch>, $crate::storage::StoreError> {
                let rows = sqlx::query(concat!(
                    "SELECT ", $crate::storage::queries::BATCH_COLUMNS!(),
                    " FROM batches WHERE state = 'running' AND updated_at < $1 LIMIT 1000"
                ))
                .bind($crate::storage::millis(before))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|r| $crate::storage::queries::read_batch!(r))
                    .collect()
            }

            async fn pending_checks_before(
                &self,
                before: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<$crate::storage::StoredCheck>, $crate::storage::StoreError> {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    $crate::storage::queries::CHECK_COLUMNS!(),
                    " FROM checks WHERE state = 'pending' AND created_at < $1 ORDER BY created_at LIMIT 10000"
                ))
                .bind($crate::storage::millis(before))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|r| $crate::storage::queries::read_check!(r))
                    .collect()
            }

            async fn latest_check_order(
                &self,
                inn: &$crate::domain::Inn,
            ) -> Result<Option<$crate::storage::CheckOrder>, $crate::storage::StoreError> {
                use sqlx::Row;
                let row = sqlx::query(
                    "SELECT id, checked_at, created_at FROM checks WHERE inn = $1 AND state = 'done' \
                     ORDER BY checked_at DESC, created_at DESC LIMIT 1",
                )
                .bind(inn.as_str())
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                let id: String = row.try_get("id")?;
                Ok(Some($crate::storage::CheckOrder {
                    id: id.parse().map_err(|_| sqlx::Error::Decode("check id is not a UUID".into()))?,
                    checked_at: row.try_get("checked_at")?,
                    created_at: row.try_get("created_at")?,
                }))
            }

            async fn latest_check(
                &self,
                inn: &$crate::domain::Inn,
            ) -> Result<Option<$crate::storage::StoredCheck>, $crate::storage::StoreError> {
                let row = sqlx::query(concat!(
                    "SELECT ",
                    $crate::storage::queries::CHECK_COLUMNS!(),
                    " FROM checks WHERE inn = $1 AND state = 'done' ORDER BY checked_at DESC, created_at DESC LIMIT 1"
                ))
                .bind(inn.as_str())
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| $crate::storage::queries::read_check!(r)).transpose()
            }
        }

        impl $store {
            /// The newest stored answer since `since`; only `ok` and `not_found` ones when
            /// `usable_only`.
            async fn newest_snapshot(
                &self,
                source: &str,
                inn: &$crate::domain::Inn,
                since: chrono::DateTime<chrono::Utc>,
                usable_only: bool,
            ) -> Result<Option<$crate::sources::SourceReport>, $crate::storage::StoreError> {
                let row = sqlx::query(
                    "SELECT status, detail, fetched_at, findings FROM snapshots \
                     WHERE source = $1 AND inn = $2 AND fetched_at >= $3 \
                       AND ($4 = 0 OR status IN ('ok', 'not_found')) \
                     ORDER BY fetched_at DESC LIMIT 1",
                )
                .bind(source)
                .bind(inn.as_str())
                .bind($crate::storage::millis(since))
                .bind(i64::from(usable_only))
                .fetch_optional(&self.pool)
                .await?;
                row.map(|row| $crate::storage::queries::read_snapshot!(source, row)).transpose()
            }
        }
    };
}

/// Reads a `snapshots` row (status, detail, fetched_at, findings) of `source`.
macro_rules! read_snapshot {
    ($source:expr, $row:expr) => {{
        use sqlx::Row;
        let row = $row;
        (|| -> Result<$crate::sources::SourceReport, $crate::storage::StoreError> {
            let status: String = row.try_get("status")?;
            let findings: String = row.try_get("findings")?;
            Ok($crate::sources::SourceReport {
                source: $source.to_owned(),
                status: $crate::sources::SourceStatus::parse(&status)
                    .unwrap_or($crate::sources::SourceStatus::Unavailable),
                detail: row.try_get("detail")?,
                fetched_at: $crate::storage::from_millis(row.try_get("fetched_at")?),
                findings: serde_json::from_str(&findings)?,
                evidence: Vec::new(),
            })
        })()
    }};
}

/// Reads an `evidence` row (url, http_status, sha256, body, received_at).
macro_rules! read_evidence {
    ($row:expr) => {{
        use sqlx::Row;
        let r = $row;
        (|| -> Result<$crate::sources::Evidence, $crate::storage::StoreError> {
            let status: i64 = r.try_get("http_status")?;
            Ok($crate::sources::Evidence {
                url: r.try_get("url")?,
                http_status: u16::try_from(status).unwrap_or_default(),
                sha256: r.try_get("sha256")?,
                body: r.try_get("body")?,
                received_at: $crate::storage::from_millis(r.try_get("received_at")?),
            })
        })()
    }};
}

macro_rules! BATCH_COLUMNS {
    () => {
        "id, requested_by, state, total, finished, items, callback_url, created_at, updated_at"
    };
}

/// Reads a `batches` row selected with `BATCH_COLUMNS`.
macro_rules! read_batch {
    ($row:expr) => {{
        use sqlx::Row;
        let r = $row;
        (|| -> Result<$crate::storage::StoredBatch, $crate::storage::StoreError> {
            let id: String = r.try_get("id")?;
            Ok($crate::storage::StoredBatch {
                id: id
                    .parse()
                    .map_err(|_| sqlx::Error::Decode("batch id is not a UUID".into()))?,
                requested_by: r.try_get("requested_by")?,
                state: r.try_get("state")?,
                total: r.try_get("total")?,
                finished: r.try_get("finished")?,
                items: r.try_get("items")?,
                callback_url: r.try_get("callback_url")?,
                created_at: $crate::storage::from_millis(r.try_get("created_at")?),
                updated_at: $crate::storage::from_millis(r.try_get("updated_at")?),
            })
        })()
    }};
}

macro_rules! CHECK_COLUMNS {
    () => {
        "id, inn, state, decision, score, profile, ruleset_version, created_at, checked_at, document, facts, callback_url"
    };
}

/// Reads a `checks` row selected with `CHECK_COLUMNS` into a `StoredCheck`.
macro_rules! read_check {
    ($row:expr) => {{
        use sqlx::Row;
        let r = $row;
        (|| -> Result<$crate::storage::StoredCheck, $crate::storage::StoreError> {
            let id: String = r.try_get("id")?;
            let checked_at: Option<i64> = r.try_get("checked_at")?;
            Ok($crate::storage::StoredCheck {
                id: id
                    .parse()
                    .map_err(|_| sqlx::Error::Decode("check id is not a UUID".into()))?,
                inn: r.try_get("inn")?,
                state: r.try_get("state")?,
                decision: r.try_get("decision")?,
                score: r.try_get("score")?,
                profile: r.try_get("profile")?,
                ruleset_version: r.try_get("ruleset_version")?,
                created_at: $crate::storage::from_millis(r.try_get("created_at")?),
                checked_at: checked_at.map($crate::storage::from_millis),
                document: r.try_get("document")?,
                facts: r.try_get("facts")?,
                callback_url: r.try_get("callback_url")?,
            })
        })()
    }};
}

pub(crate) use BATCH_COLUMNS;
pub(crate) use CHECK_COLUMNS;
pub(crate) use impl_store;
pub(crate) use read_batch;
pub(crate) use read_check;
pub(crate) use read_evidence;
pub(crate) use read_snapshot;
