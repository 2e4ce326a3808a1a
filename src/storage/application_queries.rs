//! The SQL of [`super::ApplicationStore`], written once for both pools.

macro_rules! APPLICATION_COLUMNS {
    () => {
        "id, inn, company_name, contact_name, phone, email, message, stage, spam_signals, \
         client_ip, check_id, decision, next_action, due_at, unanswered, created_at, updated_at, \
         assignee, agreement"
    };
}

macro_rules! read_application {
    ($row:expr) => {{
        use sqlx::Row;
        let stage: String = $row.try_get("stage")?;
        let signals: String = $row.try_get("spam_signals")?;
        let decision: Option<String> = $row.try_get("decision")?;
        let agreement: Option<String> = $row.try_get("agreement")?;
        Ok::<_, $crate::storage::StoreError>($crate::domain::application::Application {
            assignee: $row.try_get("assignee")?,
            agreement: agreement.map(|a| serde_json::from_str(&a)).transpose()?,
            id: $row.try_get("id")?,
            inn: $row.try_get("inn")?,
            company_name: $row.try_get("company_name")?,
            contact_name: $row.try_get("contact_name")?,
            phone: $row.try_get("phone")?,
            email: $row.try_get("email")?,
            message: $row.try_get("message")?,
            stage: stage
                .parse()
                .unwrap_or($crate::domain::application::Stage::Received),
            spam_signals: serde_json::from_str(&signals)?,
            client_ip: $row.try_get("client_ip")?,
            check_id: $row.try_get("check_id")?,
            decision: decision.and_then(|d| d.parse().ok()),
            next_action: $row.try_get("next_action")?,
            due_at: $row
                .try_get::<Option<i64>, _>("due_at")?
                .map($crate::storage::from_millis),
            unanswered: $row.try_get::<i64, _>("unanswered")?,
            created_at: $crate::storage::from_millis($row.try_get("created_at")?),
            updated_at: $crate::storage::from_millis($row.try_get("updated_at")?),
        })
    }};
}

/// Adds a step to an application's timeline inside `$tx`.
macro_rules! insert_timeline {
    ($tx:expr, $id:expr, $action:expr, $from:expr, $to:expr, $detail:expr, $actor:expr, $at:expr) => {
        sqlx::query(
            "INSERT INTO application_timeline (id, application_id, action, from_stage, to_stage, \
             detail, actor, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind($id)
        .bind($action)
        .bind($from)
        .bind($to)
        .bind(serde_json::to_string(&$detail)?)
        .bind($actor)
        .bind($crate::storage::millis($at))
        .execute(&mut *$tx)
        .await?
    };
}

macro_rules! impl_application_store {
    ($store:ty) => {

        #[async_trait::async_trait]
        impl $crate::storage::ApplicationStore for $store {
            async fn insert_application(
                &self,
                a: &$crate::domain::application::Application,
                notify: bool,
            ) -> Result<(), $crate::storage::StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(concat!(
                    "INSERT INTO applications (",
                    $crate::storage::application_queries::APPLICATION_COLUMNS!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
                ))
                .bind(&a.id)
                .bind(&a.inn)
                .bind(&a.company_name)
                .bind(&a.contact_name)
                .bind(&a.phone)
                .bind(&a.email)
                .bind(&a.message)
                .bind(a.stage.as_str())
                .bind(serde_json::to_string(&a.spam_signals)?)
                .bind(&a.client_ip)
                .bind(&a.check_id)
                .bind(a.decision.map(|d| d.as_str()))
                .bind(&a.next_action)
                .bind(a.due_at.map($crate::storage::millis))
                .bind(a.unanswered)
                .bind($crate::storage::millis(a.created_at))
                .bind($crate::storage::millis(a.updated_at))
                .bind(&a.assignee)
                .bind(a.agreement.as_ref().map(serde_json::to_string).transpose()?)
                .execute(&mut *tx)
                .await?;
                use $crate::domain::application::Stage;
                let detail = serde_json::json!({"spam_signals": a.spam_signals});
                $crate::storage::application_queries::insert_timeline!(
                    tx, &a.id, "received", Stage::Received.as_str(), a.stage.as_str(), detail, "website", a.created_at);
                if a.stage != Stage::Spam {
                    insert_event(&mut tx, &$crate::domain::application::event(a, "application_received", serde_json::json!({}))).await?;
                }
                if notify && a.stage == Stage::Held {
                    queue_mail(&mut tx, "application_held", &a.id).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn recent_applications(
                &self,
                client_ip: &str,
                phone: &str,
                since: chrono::DateTime<chrono::Utc>,
            ) -> Result<(i64, i64), $crate::storage::StoreError> {
                use sqlx::Row;
                let row = sqlx::query(
                    "SELECT \
                       (SELECT count(*) FROM applications WHERE client_ip = $1 AND created_at >= $3) AS by_ip, \
                       (SELECT count(*) FROM applications WHERE phone = $2 AND created_at >= $3) AS by_phone",
                )
                .bind(client_ip)
                .bind(phone)
                .bind($crate::storage::millis(since))
                .fetch_one(&self.pool)
                .await?;
                Ok((row.try_get("by_ip")?, row.try_get("by_phone")?))
            }

            async fn get_application(
                &self,
                id: &str,
            ) -> Result<Option<$crate::domain::application::Application>, $crate::storage::StoreError> {
                let row = sqlx::query(concat!(
                    "SELECT ",
                    $crate::storage::application_queries::APPLICATION_COLUMNS!(),
                    " FROM applications WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| $crate::storage::application_queries::read_application!(r))
                    .transpose()
            }

            async fn list_applications(
                &self,
                filter: &$crate::domain::application::ApplicationFilter,
            ) -> Result<Vec<$crate::domain::application::Application>, $crate::storage::StoreError> {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    $crate::storage::application_queries::APPLICATION_COLUMNS!(),
                    " FROM applications WHERE ($1 IS NULL OR stage = $1) AND ($2 IS NULL OR id < $2) \
                     AND ($4 IS NULL OR due_at <= $4) AND ($5 IS NULL OR assignee = $5) ORDER BY id DESC LIMIT $3"
                ))
                .bind(filter.stage.map(|s| s.as_str()))
                .bind(filter.before.as_deref())
                .bind(filter.limit)
                .bind(filter.due_before.map($crate::storage::millis))
                .bind(filter.assignee.as_deref())
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| $crate::storage::application_queries::read_application!(r))
                    .collect()
            }

            async fn record_screening(
                &self,
                id: &str,
                check_id: &str,
                decision: Option<$crate::domain::Decision>,
                stage: $crate::domain::application::Stage,
                due_at: Option<chrono::DateTime<chrono::Utc>>,
                notify: bool,
            ) -> Result<bool, $crate::storage::StoreError> {
                let mut tx = self.pool.begin().await?;
                let screened = sqlx::query(
                    "UPDATE applications SET check_id = $2, decision = $3, stage = $4, updated_at = $5, \
                     next_action = CASE WHEN $6 IS NULL THEN NULL ELSE 'first_contact' END, due_at = $6 \
                     WHERE id = $1 AND stage = 'received'",
                )
                .bind(id)
                .bind(check_id)
                .bind(decision.map(|d| d.as_str()))
                .bind(stage.as_str())
                .bind($crate::storage::millis(chrono::Utc::now()))
                .bind(due_at.map($crate::storage::millis))
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if screened {
                    let row = sqlx::query(concat!(
                        "SELECT ",
                        $crate::storage::application_queries::APPLICATION_COLUMNS!(),
                        " FROM applications WHERE id = $1"
                    ))
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                    let a = $crate::storage::application_queries::read_application!(row)?;
                    let detail = serde_json::json!({"check_id": check_id, "decision": decision, "due_at": due_at});
                    $crate::storage::application_queries::insert_timeline!(
                        tx, id, "screened", "received", stage.as_str(), detail, "screening", a.updated_at);
                    insert_event(&mut tx, &$crate::domain::application::event(&a, "application_screened", serde_json::json!({"check_id": check_id}))).await?;
                    if notify {
                        queue_mail(&mut tx, "application_screened", id).await?;
                    }
                }
                tx.commit().await?;
                Ok(screened)
            }

            async fn apply_application_action(
                &self,
                a: &$crate::domain::application::Application,
                expected: $crate::domain::application::Stage,
                entry: &$crate::domain::application::TimelineEntry,
                mails: &[&str],
            ) -> Result<bool, $crate::storage::StoreError> {
                let mut tx = self.pool.begin().await?;
                let updated = sqlx::query(
                    "UPDATE applications SET stage = $2, next_action = $3, due_at = $4, unanswered = $5, \
                     updated_at = $6, assignee = $8, agreement = $9, check_id = $10, decision = $11, \
                     due_told = CASE WHEN due_at = $4 THEN due_told ELSE NULL END, \
                     breach_told = CASE WHEN due_at = $4 THEN breach_told ELSE NULL END \
                     WHERE id = $1 AND stage = $7",
                )
                .bind(&a.id)
                .bind(a.stage.as_str())
                .bind(&a.next_action)
                .bind(a.due_at.map($crate::storage::millis))
                .bind(a.unanswered)
                .bind($crate::storage::millis(a.updated_at))
                .bind(expected.as_str())
                .bind(&a.assignee)
                .bind(a.agreement.as_ref().map(serde_json::to_string).transpose()?)
                .bind(&a.check_id)
                .bind(a.decision.map(|d| d.as_str()))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if updated == 0 {
                    return Ok(false);
                }
                $crate::storage::application_queries::insert_timeline!(
                    tx, &a.id, &entry.action, entry.from_stage.as_str(), entry.to_stage.as_str(),
                    entry.detail, &entry.actor, entry.at);
                for kind in mails {
                    queue_mail(&mut tx, kind, &a.id).await?;
                }
                if entry.from_stage != entry.to_stage {
                    let payload = serde_json::json!({"from": entry.from_stage, "action": entry.action, "actor": entry.actor});
                    insert_event(&mut tx, &$crate::domain::application::event(a, "application_stage_changed", payload)).await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn tell_sla(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                remind: chrono::Duration,
                notify: bool,
            ) -> Result<u64, $crate::storage::StoreError> {
                let mut told = 0;
                for (kind, column, until) in [
                    ("application_sla_due", "due_told", now + remind),
                    ("application_sla_breached", "breach_told", now),
                ] {
                    let mut tx = self.pool.begin().await?;
                    // Atomic per row: an instance records only the rows it flipped.
                    let sql = format!(
                        "UPDATE applications SET {column} = due_at WHERE due_at IS NOT NULL \
                         AND due_at {op} $1 AND ({column} IS NULL OR {column} <> due_at) RETURNING {cols}",
                        op = if column == "due_told" { "<=" } else { "<" },
                        cols = $crate::storage::application_queries::APPLICATION_COLUMNS!(),
                    );
                    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind($crate::storage::millis(until))
                        .fetch_all(&mut *tx)
                        .await?;
                    for row in &rows {
                        let a = $crate::storage::application_queries::read_application!(row)?;
                        let payload = serde_json::json!({"next_action": a.next_action, "due_at": a.due_at});
                        let step = kind.trim_start_matches("application_");
                        $crate::storage::application_queries::insert_timeline!(
                            tx, &a.id, step, a.stage.as_str(), a.stage.as_str(), payload, "sla", now);
                        insert_event(&mut tx, &$crate::domain::application::event(&a, kind, payload)).await?;
                        if notify && kind == "application_sla_breached" {
                            queue_mail(&mut tx, kind, &a.id).await?;
                        }
                        told += 1;
                    }
                    tx.commit().await?;
                }
                Ok(told)
            }

            async fn claim_mail(
                &self,
                owner: &str,
                now: chrono::DateTime<chrono::Utc>,
                lease_until: chrono::DateTime<chrono::Utc>,
                limit: i64,
            ) -> Result<Vec<$crate::domain::application::QueuedMail>, $crate::storage::StoreError> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "UPDATE mail_outbox SET lease_owner = $1, lease_until = $2 WHERE id IN (\
                       SELECT id FROM mail_outbox WHERE state = 'pending' AND next_attempt_at <= $3 \
                         AND (lease_until IS NULL OR lease_until < $3) ORDER BY id LIMIT $4) \
                     RETURNING id, kind, application_id, attempts",
                )
                .bind(owner)
                .bind($crate::storage::millis(lease_until))
                .bind($crate::storage::millis(now))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::domain::application::QueuedMail {
                            id: r.try_get("id")?,
                            kind: r.try_get("kind")?,
                            application_id: r.try_get("application_id")?,
                            attempts: r.try_get::<i64, _>("attempts")?,
                        })
                    })
                    .collect()
            }

            async fn finish_mail(
                &self,
                id: &str,
                owner: &str,
                state: &str,
                attempts: i64,
                next_attempt_at: chrono::DateTime<chrono::Utc>,
                error: Option<&str>,
            ) -> Result<(), $crate::storage::StoreError> {
                use sqlx::Row;
                let mut tx = self.pool.begin().await?;
                let row = sqlx::query(
                    "UPDATE mail_outbox SET state = $3, attempts = $4, next_attempt_at = $5, last_error = $6, \
                     sent_at = CASE WHEN $3 = 'sent' THEN $5 ELSE NULL END, lease_owner = NULL, lease_until = NULL \
                     WHERE id = $1 AND lease_owner = $2 RETURNING application_id, kind",
                )
                .bind(id)
                .bind(owner)
                .bind(state)
                .bind(attempts)
                .bind($crate::storage::millis(next_attempt_at))
                .bind(error)
                .fetch_optional(&mut *tx)
                .await?;
                // Each attempt is a step of its application: sent, or failed (to be retried
                // while `pending`).
                if let Some(row) = row {
                    let application: String = row.try_get("application_id")?;
                    let kind: String = row.try_get("kind")?;
                    let stage: String = match sqlx::query("SELECT stage FROM applications WHERE id = $1")
                        .bind(&application)
                        .fetch_optional(&mut *tx)
                        .await?
                    {
                        Some(row) => row.try_get("stage")?,
                        None => String::new(),
                    };
                    let detail = serde_json::json!({"message": kind, "attempts": attempts, "error": error,
                                                    "will_retry": state == "pending"});
                    let action = if state == "sent" { "email_sent" } else { "email_failed" };
                    $crate::storage::application_queries::insert_timeline!(
                        tx, &application, action, &stage, &stage, detail, "mail", chrono::Utc::now());
                }
                tx.commit().await?;
                Ok(())
            }

            async fn application_timeline(
                &self,
                id: &str,
            ) -> Result<Vec<$crate::domain::application::TimelineEntry>, $crate::storage::StoreError> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT action, from_stage, to_stage, detail, actor, at FROM application_timeline \
                     WHERE application_id = $1 ORDER BY id",
                )
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        let from: String = r.try_get("from_stage")?;
                        let to: String = r.try_get("to_stage")?;
                        let detail: Option<String> = r.try_get("detail")?;
                        Ok($crate::domain::application::TimelineEntry {
                            action: r.try_get("action")?,
                            from_stage: from.parse().unwrap_or($crate::domain::application::Stage::Received),
                            to_stage: to.parse().unwrap_or($crate::domain::application::Stage::Received),
                            detail: match detail {
                                Some(d) => serde_json::from_str(&d)?,
                                None => serde_json::Value::Null,
                            },
                            actor: r.try_get("actor")?,
                            at: $crate::storage::from_millis(r.try_get("at")?),
                        })
                    })
                    .collect()
            }
        }
    };
}

pub(crate) use APPLICATION_COLUMNS;
pub(crate) use impl_application_store;
pub(crate) use insert_timeline;
pub(crate) use read_application;
