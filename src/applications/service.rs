//! Taking applications in from the website and screening them with a check.

use super::intake::{FieldError, Form};
use super::mail::{self, Mailer};
use super::sla;
use crate::catalog::CatalogService;
use crate::check::{CheckError, CheckRequest, CheckService};
use crate::config::ApplicationSettings;
use crate::domain::application::{Application, Receipt, Stage, TimelineEntry};
use crate::storage::{Store, StoreError};
use chrono::{DateTime, Duration, NaiveTime, SubsecRound, Utc};
use std::sync::Arc;

/// What the sender reads, whatever happened to the application.
const RECEIVED: &str = "Спасибо! Заявка получена, мы свяжемся с вами в рабочее время.";
/// How long screening keeps trying to start its check while the service is busy.
const SCREENING_ATTEMPTS: u32 = 60;

#[derive(Debug, thiserror::Error)]
pub enum ApplicationError {
    #[error(transparent)]
    Field(#[from] FieldError),
    #[error("no such application")]
    NotFound,
    #[error("`{action}` does not apply to an application in stage `{stage}`")]
    InvalidTransition {
        action: &'static str,
        stage: &'static str,
    },
    #[error("the application changed meanwhile; read it again")]
    Conflict,
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
    #[error("storage failed")]
    Store(#[from] StoreError),
}

pub struct ApplicationService {
    store: Arc<dyn Store>,
    checks: Arc<CheckService>,
    catalog: Arc<CatalogService>,
    settings: ApplicationSettings,
    calendar: sla::Calendar,
    next_day_at: NaiveTime,
    /// `None` while e-mail is off.
    mailer: Option<Mailer>,
    /// The zone e-mails show times in (`display.timezone`).
    zone: chrono_tz::Tz,
    /// Who holds a message's lease: `<pid>-<random>`.
    owner: String,
}

/// What a manager does with an application (`POST /v1/applications/{id}/actions`).
#[derive(Debug, Clone)]
pub enum Action {
    CallAttempt {
        outcome: CallOutcome,
        comment: Option<String>,
    },
    ScheduleCall {
        at: DateTime<Utc>,
    },
    TakeIntoWork,
    AgreementSigned {
        override_by: Option<crate::catalog::Override>,
    },
    Reject {
        reason: String,
    },
    Reopen,
}

/// How a call went.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema, strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum CallOutcome {
    NoAnswer,
    ReachedInterested,
    ReachedNotInterested,
    WrongNumber,
}

impl Action {
    fn name(&self) -> &'static str {
        match self {
            Action::CallAttempt { .. } => "call_attempt",
            Action::ScheduleCall { .. } => "schedule_call",
            Action::TakeIntoWork => "take_into_work",
            Action::AgreementSigned { .. } => "agreement_signed",
            Action::Reject { .. } => "reject",
            Action::Reopen => "reopen",
        }
    }
}

impl ApplicationService {
    /// The settings were validated at load, so the calendar and times parse.
    pub fn new(
        store: Arc<dyn Store>,
        checks: Arc<CheckService>,
        catalog: Arc<CatalogService>,
        settings: ApplicationSettings,
        smtp: &crate::config::SmtpSettings,
        zone: chrono_tz::Tz,
    ) -> Result<ApplicationService, String> {
        let mailer = Mailer::new(smtp, &settings.notify_to)?;
        let calendar = settings.calendar()?;
        let next_day_at = NaiveTime::parse_from_str(&settings.sla.next_day_at, "%H:%M")
            .map_err(|_| "applications.sla.next_day_at: a time like 10:00".to_owned())?;
        Ok(ApplicationService {
            store,
            checks,
            catalog,
            settings,
            calendar,
            next_day_at,
            mailer,
            zone,
            owner: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
        })
    }

    /// Takes an application in: a bad field is an error the form shows; spam is stored as
    /// `spam` and answered like any other; the rest is screened in the background.
    pub async fn submit(
        self: &Arc<Self>,
        form: Form,
        client_ip: &str,
    ) -> Result<Receipt, ApplicationError> {
        let valid = form.validate()?;
        // Milliseconds, as stored: what the API answers equals what it later reads.
        let now = Utc::now().trunc_subsecs(3);
        let mut signals: Vec<String> = form
            .signals(now, self.settings.min_fill_s)
            .into_iter()
            .map(str::to_owned)
            .collect();
        let hour_ago = now - Duration::hours(1);
        let (by_ip, by_phone) = self
            .store
            .recent_applications(client_ip, &valid.phone, hour_ago)
            .await?;
        if by_ip >= i64::from(self.settings.max_per_ip_per_hour) {
            signals.push("ip_rate".into());
        }
        if by_phone >= i64::from(self.settings.max_per_phone_per_hour) {
            signals.push("phone_rate".into());
        }
        let stage = if signals.is_empty() {
            Stage::Received
        } else {
            Stage::Spam
        };
        let application = Application {
            id: uuid::Uuid::now_v7().to_string(),
            inn: valid.inn.to_string(),
            company_name: valid.company_name,
            contact_name: valid.contact_name,
            phone: valid.phone,
            email: valid.email,
            message: valid.message,
            stage,
            spam_signals: signals,
            check_id: None,
            decision: None,
            next_action: None,
            due_at: None,
            unanswered: 0,
            created_at: now,
            updated_at: now,
            client_ip: client_ip.to_owned(),
        };
        self.store.insert_application(&application).await?;
        if stage == Stage::Received {
            let service = Arc::clone(self);
            let (id, inn) = (application.id.clone(), valid.inn);
            tokio::spawn(async move { service.screen(&id, inn, now).await });
        }
        Ok(Receipt {
            id: application.id,
            status: "received".into(),
            message: RECEIVED.into(),
        })
    }

    /// Checks the applicant and records the decision (`screened`, or `rejected` with
    /// `applications.auto_reject`); a busy service is asked again for a minute.
    async fn screen(&self, id: &str, inn: crate::domain::Inn, arrived: DateTime<Utc>) {
        let profile = Some(self.settings.profile.clone()).filter(|p| !p.is_empty());
        for _ in 0..SCREENING_ATTEMPTS {
            let request = CheckRequest {
                inn: inn.clone(),
                max_age_s: None,
                profile: profile.clone(),
                requested_by: "applications".into(),
            };
            match self.checks.run(request).await {
                Ok(done) => {
                    let decision = done.check.decision;
                    let stage = match decision {
                        Some(crate::domain::Decision::Reject) if self.settings.auto_reject => {
                            Stage::Rejected
                        }
                        _ => Stage::Screened,
                    };
                    // A screened application is the manager's to call.
                    let due = (stage == Stage::Screened).then(|| {
                        sla::first_contact_due(
                            &self.calendar,
                            arrived,
                            self.settings.sla.first_contact_s,
                        )
                    });
                    let recorded = self
                        .store
                        .record_screening(
                            id,
                            &done.check.id.to_string(),
                            decision,
                            stage,
                            due,
                            self.mailer.is_some(),
                        )
                        .await;
                    if let Err(e) = recorded {
                        tracing::error!(application = id, error = ?e, "cannot record the screening");
                    }
                    return;
                }
                Err(CheckError::Busy) => {
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await
                }
                Err(e) => {
                    tracing::error!(application = id, error = ?e, "screening check failed");
                    return;
                }
            }
        }
        tracing::error!(
            application = id,
            "screening never started: the service stayed busy"
        );
    }

    /// Sends `application.sla_due` and `application.sla_breached` as calls fall due and are
    /// missed; every instance may run it (each event is recorded once).
    pub fn spawn_sla(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let every = std::time::Duration::from_millis(self.settings.sla.tick_ms.max(10));
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let remind = Duration::seconds(self.settings.sla.remind_before_s as i64);
            loop {
                tick.tick().await;
                let notify = self.mailer.is_some();
                if let Err(e) = self.store.tell_sla(Utc::now(), remind, notify).await {
                    tracing::error!(error = ?e, "cannot check the applications' SLA");
                }
                if let Err(e) = self.send_mail().await {
                    tracing::error!(error = ?e, "cannot send the department's e-mail");
                }
            }
        })
    }

    /// Sends the queued messages that are due; a failure waits for its next attempt, so a
    /// dead mail server never holds anything else up.
    async fn send_mail(&self) -> Result<(), ApplicationError> {
        let Some(mailer) = &self.mailer else {
            return Ok(());
        };
        let now = Utc::now();
        let due = self
            .store
            .claim_mail(&self.owner, now, now + Duration::seconds(120), 10)
            .await?;
        for queued in due {
            let application = self.get(&queued.application_id).await?;
            let check = match application.check_id.as_deref().and_then(|c| c.parse().ok()) {
                Some(id) => self.checks.get(id).await.ok().flatten(),
                None => None,
            };
            let letter = mail::compose(
                &queued.kind,
                &application,
                check.as_ref(),
                &self.settings.link_base,
                self.zone,
            );
            let attempts = queued.attempts + 1;
            let (state, next, error) = match mailer.send(&letter).await {
                Ok(()) => ("sent", Utc::now(), None),
                Err(e) => {
                    tracing::warn!(mail = %queued.id, error = %e, "e-mail not sent");
                    let (state, next) = mail::after_failure(attempts);
                    (state, next, Some(e))
                }
            };
            self.store
                .finish_mail(
                    &queued.id,
                    &self.owner,
                    state,
                    attempts,
                    next,
                    error.as_deref(),
                )
                .await?;
        }
        Ok(())
    }

    /// An application's history, oldest first.
    pub async fn timeline(&self, id: &str) -> Result<Vec<TimelineEntry>, ApplicationError> {
        Ok(self.store.application_timeline(id).await?)
    }

    /// Carries out a manager's action: moves the stage (409 `invalid_transition` when the
    /// action does not apply to it), keeps the call SLA, and on `agreement_signed` lists
    /// the contractor in the catalog.
    pub async fn act(
        &self,
        id: &str,
        action: Action,
        actor: &str,
    ) -> Result<Application, ApplicationError> {
        let mut a = self.get(id).await?;
        let from = a.stage;
        let now = Utc::now().trunc_subsecs(3);
        let invalid = || ApplicationError::InvalidTransition {
            action: action.name(),
            stage: from.as_str(),
        };
        let calling = matches!(from, Stage::Screened | Stage::Contacting);
        let mut detail = serde_json::json!({});
        let (to, next_action, due_at) = match &action {
            Action::CallAttempt { outcome, comment } if calling => {
                detail = serde_json::json!({"outcome": <&str>::from(*outcome), "comment": comment});
                match outcome {
                    CallOutcome::NoAnswer => {
                        a.unanswered += 1;
                        let due = sla::next_call_due(
                            &self.calendar,
                            now,
                            a.unanswered as u32,
                            self.settings.sla.retry_after_s,
                            self.next_day_at,
                        );
                        (Stage::Contacting, Some("call_again"), Some(due))
                    }
                    CallOutcome::ReachedInterested => (Stage::InWork, None, None),
                    CallOutcome::ReachedNotInterested | CallOutcome::WrongNumber => {
                        (Stage::Rejected, None, None)
                    }
                }
            }
            Action::ScheduleCall { at } if calling => {
                detail = serde_json::json!({"at": at});
                (Stage::Contacting, Some("call"), Some(at.trunc_subsecs(3)))
            }
            Action::TakeIntoWork if calling => (Stage::InWork, None, None),
            Action::AgreementSigned { override_by } if from == Stage::InWork => {
                let inn = crate::domain::Inn::parse(&a.inn).map_err(|_| invalid())?;
                let listing = crate::catalog::Listing {
                    name: Some(a.company_name.clone()),
                    region: None,
                    contacts: [
                        ("contact".to_owned(), a.contact_name.clone()),
                        ("phone".to_owned(), a.phone.clone()),
                        ("email".to_owned(), a.email.clone()),
                    ]
                    .into(),
                    services: Vec::new(),
                    external_ids: [("application".to_owned(), a.id.clone())].into(),
                    override_by: override_by.clone(),
                    actor: Some(actor.to_owned()),
                };
                self.catalog.list(&inn, listing).await?;
                (Stage::Listed, None, None)
            }
            Action::Reject { reason }
                if !matches!(from, Stage::Rejected | Stage::Spam | Stage::Listed) =>
            {
                detail = serde_json::json!({"reason": reason});
                (Stage::Rejected, None, None)
            }
            Action::Reopen if matches!(from, Stage::Rejected | Stage::Spam) => {
                let due =
                    sla::first_contact_due(&self.calendar, now, self.settings.sla.first_contact_s);
                (Stage::Screened, Some("first_contact"), Some(due))
            }
            _ => return Err(invalid()),
        };
        if let Some(due) = due_at {
            detail["due_at"] = serde_json::json!(due);
        }
        a.stage = to;
        a.next_action = next_action.map(str::to_owned);
        a.due_at = due_at;
        a.updated_at = now;
        let entry = TimelineEntry {
            action: action.name().to_owned(),
            from_stage: from,
            to_stage: to,
            detail,
            actor: actor.to_owned(),
            at: now,
        };
        if !self
            .store
            .apply_application_action(&a, from, &entry)
            .await?
        {
            return Err(ApplicationError::Conflict);
        }
        Ok(a)
    }

    pub async fn get(&self, id: &str) -> Result<Application, ApplicationError> {
        self.store
            .get_application(id)
            .await?
            .ok_or(ApplicationError::NotFound)
    }

    /// Applications newest first: of one stage, with a call due by `due_before`, before
    /// the cursor (an id), when given.
    pub async fn list(
        &self,
        stage: Option<Stage>,
        due_before: Option<DateTime<Utc>>,
        cursor: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Application>, ApplicationError> {
        Ok(self
            .store
            .list_applications(stage, due_before, cursor, limit)
            .await?)
    }
}
