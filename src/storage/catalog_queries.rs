//! The SQL of [`super::CatalogStore`], written once for both pools. `$lock` is what
//! claiming due entries appends to its row selection: `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, so concurrent instances claim disjoint entries; nothing on SQLite, where
//! writes are serialized anyway.

macro_rules! impl_catalog_store {
    ($store:ty, $lock:literal) => {
        #[async_trait::async_trait]
        impl $crate::storage::CatalogStore for $store {
            async fn insert_entry(
                &self,
                e: &$crate::domain::catalog::CatalogEntry,
                transition: &$crate::domain::catalog::StatusTransition,
                events: &[$crate::domain::catalog::NewEvent],
            ) -> Result<bool, $crate::storage::StoreError> {
                let mut tx = self.pool.begin().await?;
                let inserted = sqlx::query(
                    "INSERT INTO catalog (inn, name, search, region, contacts, services, external_ids, status, \
                                          listed_at, updated_at, last_check_id, next_check_at, display_name, address) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (inn) DO NOTHING",
                )
                .bind(&e.inn)
                .bind(&e.name)
                .bind($crate::storage::search_text(e))
                .bind(&e.region)
                .bind(serde_json::to_string(&e.contacts)?)
                .bind(serde_json::to_string(&e.services)?)
                .bind(serde_json::to_string(&e.external_ids)?)
                .bind(e.status.as_str())
                .bind($crate::storage::millis(e.listed_at))
                .bind($crate::storage::millis(e.updated_at))
                .bind(&e.last_check_id)
                .bind($crate::storage::millis(e.next_check_at))
                .bind(&e.display_name)
                .bind(&e.address)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if !inserted {
                    return Ok(false);
                }
                insert_transition(&mut tx, &e.inn, transition).await?;
                for ev in events {
                    insert_event(&mut tx, ev).await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn get_entry(
                &self,
                inn: &str,
            ) -> Result<Option<$crate::domain::catalog::CatalogEntry>, $crate::storage::StoreError> {
                let row = sqlx::query(concat!("SELECT ", $crate::storage::catalog_queries::ENTRY_COLUMNS!(), " FROM catalog WHERE inn = $1"))
                    .bind(inn)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| $crate::storage::catalog_queries::read_entry!(r)).transpose()
            }

            async fn list_entries(
                &self,
                f: &$crate::domain::catalog::CatalogFilter,
            ) -> Result<Vec<$crate::domain::catalog::CatalogEntry>, $crate::storage::StoreError> {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    $crate::storage::catalog_queries::ENTRY_COLUMNS!(),
                    " FROM catalog WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR region = $2) \
                      AND ($3 IS NULL OR search LIKE $3 ESCAPE '\\') AND ($4 IS NULL OR inn > $4) ORDER BY inn LIMIT $5"
                ))
                .bind(f.status.map(|s| s.as_str()))
                .bind(&f.region)
                .bind(f.text.as_deref().map($crate::storage::contains_pattern))
                .bind(&f.after)
                .bind(f.limit)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(|r| $crate::storage::catalog_queries::read_entry!(r)).collect()
            }

            async fn change_status(
                &self,
                inn: &str,
                expected: $crate::domain::catalog::CatalogStatus,
                transition: &$crate::domain::catalog::StatusTransition,
                events: &[$crate::domain::catalog::NewEvent],
            ) -> Result<bool, $crate::storage::StoreError> {
                let mut tx = self.pool.begin().await?;
                let changed = sqlx::query("UPDATE catalog SET status = $1, updated_at = $2 WHERE inn = $3 AND status = $4")
                    .bind(transition.to.as_str())
                    .bind($crate::storage::millis(transition.at))
                    .bind(inn)
                    .bind(expected.as_str())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    == 1;
                if !changed {
                    return Ok(false);
                }
                insert_transition(&mut tx, inn, transition).await?;
                for ev in events {
                    insert_event(&mut tx, ev).await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn transitions(
                &self,
                inn: &str,
            ) -> Result<Vec<$crate::domain::catalog::StatusTransition>, $crate::storage::StoreError> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT from_status, to_status, reason, rule_ids, actor, at FROM catalog_transitions \
                     WHERE inn = $1 ORDER BY at, id",
                )
                .bind(inn)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        let from: Option<String> = r.try_get("from_status")?;
                        let to: String = r.try_get("to_status")?;
                        let rule_ids: String = r.try_get("rule_ids")?;
                        Ok($crate::domain::catalog::StatusTransition {
                            from: from.as_deref().and_then($crate::domain::catalog::CatalogStatus::parse),
                            to: $crate::domain::catalog::CatalogStatus::parse(&to)
                                .ok_or_else(|| sqlx::Error::Decode("unknown catalog status".into()))?,
                            reason: r.try_get("reason")?,
                            rule_ids: serde_json::from_str(&rule_ids)?,
                            actor: r.try_get("actor")?,
                            at: $crate::storage::from_millis(r.try_get("at")?),
                        })
                    })
                    .collect()
            }

            async fn add_feedback(
                &self,
                inn: &str,
                fb: &$crate::domain::catalog::Feedback,
                event: &$crate::domain::catalog::NewEvent,
            ) -> Result<bool, $crate::storage::StoreError> {
                let mut tx = self.pool.begin().await?;
                let inserted = sqlx::query(
                    "INSERT INTO feedback (id, inn, kind, rating, category, text, order_ref, on_time, external_id, at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (inn, external_id) DO NOTHING",
                )
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(inn)
                .bind(fb.kind.as_str())
                .bind(fb.rating)
                .bind(&fb.category)
                .bind(&fb.text)
                .bind(&fb.order_ref)
                .bind(fb.on_time)
                .bind(&fb.external_id)
                .bind($crate::storage::millis(fb.at))
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if inserted {
                    insert_event(&mut tx, event).await?;
                }
                tx.commit().await?;
                Ok(inserted)
            }

            async fn feedback_since(
                &self,
                inn: &str,
                since: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<$crate::domain::catalog::Feedback>, $crate::storage::StoreError> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT kind, rating, category, text, order_ref, on_time, external_id, at FROM feedback \
                     WHERE inn = $1 AND at >= $2 ORDER BY at",
                )
                .bind(inn)
                .bind($crate::storage::millis(since))
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        let kind: String = r.try_get("kind")?;
                        Ok($crate::domain::catalog::Feedback {
                            kind: $crate::domain::catalog::FeedbackKind::parse(&kind)
                                .ok_or_else(|| sqlx::Error::Decode("unknown feedback kind".into()))?,
                            rating: r.try_get("rating")?,
                            category: r.try_get("category")?,
                            text: r.try_get("text")?,
                            order_ref: r.try_get("order_ref")?,
                            on_time: r.try_get("on_time")?,
                            external_id: r.try_get("external_id")?,
                            at: $crate::storage::from_millis(r.try_get("at")?),
                        })
                    })
                    .collect()
            }

            async fn events_after(
                &self,
                after: i64,
                limit: i64,
                inn: Option<&str>,
                kinds: Option<&[&str]>,
            ) -> Result<Vec<$crate::domain::catalog::Event>, $crate::storage::StoreError> {
                use sqlx::Row;
                // `kinds` as ",a,b," so one bound text filters by a list on both databases.
                let kinds = kinds.map(|k| format!(",{},", k.join(",")));
                let rows = sqlx::query(
                    "SELECT seq, inn, kind, payload, created_at, subject FROM events \
                     WHERE seq > $1 AND ($2 IS NULL OR inn = $2) \
                       AND ($4 IS NULL OR $4 LIKE '%,' || kind || ',%') ORDER BY seq LIMIT $3",
                )
                .bind(after)
                .bind(inn)
                .bind(limit)
                .bind(kinds)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        let payload: String = r.try_get("payload")?;
                        let subject: Option<String> = r.try_get("subject")?;
                        let subject: $crate::domain::catalog::EventSubject = match subject {
                            Some(s) => serde_json::from_str(&s)?,
                            None => Default::default(),
                        };
                        let kind: String = r.try_get("kind")?;
                        Ok($crate::domain::catalog::Event {
                            seq: r.try_get("seq")?,
                            inn: r.try_get("inn")?,
                            event_type: $crate::domain::events::event_type(&kind),
                            kind,
                            name: subject.name,
                            external_ids: subject.external_ids,
                            payload: serde_json::from_str(&payload)?,
                            created_at: $crate::storage::from_millis(r.try_get("created_at")?),
                        })
                    })
                    .collect()
            }

            async fn claim_entry(
                &self,
                inn: &str,
                owner: &str,
                now: chrono::DateTime<chrono::Utc>,
                lease_until: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::storage::StoreError> {
                Ok(sqlx::query(
                    "UPDATE catalog SET lease_owner = $1, lease_until = $2 WHERE inn = $3 \
                     AND status <> 'removed' AND (lease_until IS NULL OR lease_until < $4)",
                )
                .bind(owner)
                .bind($crate::storage::millis(lease_until))
                .bind(inn)
                .bind($crate::storage::millis(now))
                .execute(&self.pool)
                .await?
                .rows_affected()
                    == 1)
            }

            async fn release_entry(
                &self,
                inn: &str,
                owner: &str,
            ) -> Result<(), $crate::storage::StoreError> {
                sqlx::query(
                    "UPDATE catalog SET lease_owner = NULL, lease_until = NULL \
                     WHERE inn = $1 AND lease_owner = $2",
                )
                .bind(inn)
                .bind(owner)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn claim_due(
                &self,
                owner: &str,
                now: chrono::DateTime<chrono::Utc>,
                lease_until: chrono::DateTime<chrono::Utc>,
                limit: i64,
            ) -> Result<Vec<String>, $crate::storage::StoreError> {
                use sqlx::Row;
                let rows = sqlx::query(concat!(
                    "UPDATE catalog SET lease_owner = $1, lease_until = $2 WHERE inn IN (\
                       SELECT inn FROM catalog WHERE status <> 'removed' AND next_check_at <= $3 \
                         AND (lease_until IS NULL OR lease_until < $3) \
                       ORDER BY next_check_at LIMIT $4",
                    $lock,
                    ") RETURNING inn"
                ))
                .bind(owner)
                .bind($crate::storage::millis(lease_until))
                .bind($crate::storage::millis(now))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(|r| Ok(r.try_get::<String, _>("inn")?)).collect()
            }

            async fn finish_monitoring(
                &self,
                inn: &str,
                owner: &str,
                pass: &$crate::domain::catalog::MonitoringPass<'_>,
            ) -> Result<Option<bool>, $crate::storage::StoreError> {
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query(
                    "UPDATE catalog SET last_check_id = COALESCE($1, last_check_id), next_check_at = $2, \
                       passes = passes + 1, unavailable = $5, lease_owner = NULL, lease_until = NULL \
                     WHERE inn = $3 AND lease_owner = $4",
                )
                .bind(pass.last_check_id)
                .bind($crate::storage::millis(pass.next_check_at))
                .bind(inn)
                .bind(owner)
                .bind(serde_json::to_string(pass.unavailable)?)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if !done {
                    return Ok(None);
                }
                for ev in pass.events {
                    insert_event(&mut tx, ev).await?;
                }
                let mut moved = false;
                if let Some(change) = &pass.status_change {
                    // A manager who moved it meanwhile has the last word: no change then.
                    moved = sqlx::query(
                        "UPDATE catalog SET status = $1, updated_at = $2 WHERE inn = $3 AND status = $4",
                    )
                    .bind(change.transition.to.as_str())
                    .bind($crate::storage::millis(change.transition.at))
                    .bind(inn)
                    .bind(change.expected.as_str())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                        == 1;
                    if moved {
                        insert_transition(&mut tx, inn, &change.transition).await?;
                        insert_event(&mut tx, &change.event).await?;
                    }
                }
                tx.commit().await?;
                Ok(Some(moved))
            }
        }
    };
}

macro_rules! ENTRY_COLUMNS {
    () => {
        "inn, name, display_name, region, address, contacts, services, external_ids, status, listed_at, updated_at, last_check_id, next_check_at, passes, unavailable"
    };
}

/// Reads a `catalog` row selected with `ENTRY_COLUMNS` into a `CatalogEntry`.
macro_rules! read_entry {
    ($row:expr) => {{
        use sqlx::Row;
        let r = $row;
        (|| -> Result<$crate::domain::catalog::CatalogEntry, $crate::storage::StoreError> {
            let status: String = r.try_get("status")?;
            let contacts: String = r.try_get("contacts")?;
            let services: String = r.try_get("services")?;
            let external_ids: String = r.try_get("external_ids")?;
            let unavailable: String = r.try_get("unavailable")?;
            Ok($crate::domain::catalog::CatalogEntry {
                inn: r.try_get("inn")?,
                name: r.try_get("name")?,
                display_name: r.try_get("display_name")?,
                region: r.try_get("region")?,
                address: r.try_get("address")?,
                contacts: serde_json::from_str(&contacts)?,
                services: serde_json::from_str(&services)?,
                external_ids: serde_json::from_str(&external_ids)?,
                status: $crate::domain::catalog::CatalogStatus::parse(&status)
                    .ok_or_else(|| sqlx::Error::Decode("unknown catalog status".into()))?,
                listed_at: $crate::storage::from_millis(r.try_get("listed_at")?),
                updated_at: $crate::storage::from_millis(r.try_get("updated_at")?),
                last_check_id: r.try_get("last_check_id")?,
                next_check_at: $crate::storage::from_millis(r.try_get("next_check_at")?),
                monitoring_passes: r.try_get("passes")?,
                sources_unavailable: serde_json::from_str(&unavailable)?,
            })
        })()
    }};
}

/// Shared statements, generic over the transaction's database.
macro_rules! tx_helpers {
    ($db:ty) => {
        async fn insert_transition(
            tx: &mut sqlx::Transaction<'_, $db>,
            inn: &str,
            t: &$crate::domain::catalog::StatusTransition,
        ) -> Result<(), $crate::storage::StoreError> {
            sqlx::query(
                "INSERT INTO catalog_transitions (id, inn, from_status, to_status, reason, rule_ids, actor, at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(inn)
            .bind(t.from.map(|s| s.as_str()))
            .bind(t.to.as_str())
            .bind(&t.reason)
            .bind(serde_json::to_string(&t.rule_ids)?)
            .bind(&t.actor)
            .bind($crate::storage::millis(t.at))
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        /// Queues a message to the department about `application_id` in `tx`.
        async fn queue_mail(
            tx: &mut sqlx::Transaction<'_, $db>,
            kind: &str,
            application_id: &str,
        ) -> Result<(), $crate::storage::StoreError> {
            let now = $crate::storage::millis(chrono::Utc::now());
            sqlx::query(
                "INSERT INTO mail_outbox (id, kind, application_id, state, attempts, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, 'pending', 0, $4, $4)",
            )
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(kind)
            .bind(application_id)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        async fn insert_event(
            tx: &mut sqlx::Transaction<'_, $db>,
            ev: &$crate::domain::catalog::NewEvent,
        ) -> Result<(), $crate::storage::StoreError> {
            use sqlx::Row;
            // Taking the next number locks the sequence row until this transaction ends.
            let seq: i64 = sqlx::query("UPDATE event_seq SET last = last + 1 WHERE id = 1 RETURNING last")
                .fetch_one(&mut **tx)
                .await?
                .try_get("last")?;
            let created_at = chrono::Utc::now();
            // Who the event is about, as the catalog knows them now.
            let subject = match sqlx::query("SELECT name, external_ids FROM catalog WHERE inn = $1")
                .bind(&ev.inn)
                .fetch_optional(&mut **tx)
                .await?
            {
                Some(row) => {
                    let external_ids: String = row.try_get("external_ids")?;
                    $crate::domain::catalog::EventSubject {
                        name: row.try_get("name")?,
                        external_ids: serde_json::from_str(&external_ids)?,
                    }
                }
                None => $crate::domain::catalog::EventSubject::default(),
            };
            sqlx::query(
                "INSERT INTO events (seq, inn, kind, payload, created_at, subject) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(seq)
            .bind(&ev.inn)
            .bind(&ev.kind)
            .bind(serde_json::to_string(&ev.payload)?)
            .bind($crate::storage::millis(created_at))
            .bind(serde_json::to_string(&subject)?)
            .execute(&mut **tx)
            .await?;
            // The outbox: one delivery per subscription that wants this type, in the same
            // transaction as the event, so no event is lost and none is sent twice.
            let message = $crate::domain::webhook::FeedMessage::new(seq, ev, &subject, created_at);
            sqlx::query($crate::storage::webhook_queries::FAN_OUT)
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(&message.id)
            .bind(&message.event_type)
            .bind(&message.body)
            .bind($crate::storage::millis(created_at))
            .execute(&mut **tx)
            .await?;
            Ok(())
        }
    };
}

pub(crate) use ENTRY_COLUMNS;
pub(crate) use impl_catalog_store;
pub(crate) use read_entry;
pub(crate) use tx_helpers;
