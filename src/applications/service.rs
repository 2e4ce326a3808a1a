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
        agreement: crate::domain::application::Agreement,
    },
    /// Gives the application to a manager (any stage but spam).
    Assign {
        to: String,
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
            Action::Assign { .. } => "assign",
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
        let mailer = Mailer::new(smtp, &settings.notify_to, &settings.escalate_to)?;
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
        // Only too many from one address looks like an office, not a bot: a person decides.
        let stage = match signals.as_slice() {
            [] => Stage::Received,
            [only] if only == "ip_rate" => Stage::Held,
            _ => Stage::Spam,
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
            assignee: None,
            agreement: None,
            created_at: now,
            updated_at: now,
            client_ip: client_ip.to_owned(),
        };
        self.store
            .insert_application(&application, self.mailer.is_some())
            .await?;
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
            let (state, next, error) = match mailer
                .send(&letter, mail::Recipients::of(&queued.kind))
                .await
            {
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
        self: &Arc<Self>,
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
        let mut mails: Vec<&str> = Vec::new();
        let cap = self.settings.sla.max_unanswered;
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
                        let capped = cap > 0 && a.unanswered >= i64::from(cap);
                        if capped && self.settings.escalate_to.is_empty() {
                            // Nobody to escalate to: closed as unreachable.
                            detail["closed"] = serde_json::json!("unreachable");
                            (Stage::Rejected, None, None)
                        } else {
                            // Told once, at the cap; the calls may go on.
                            if cap > 0 && a.unanswered == i64::from(cap) {
                                detail["escalated_to"] =
                                    serde_json::json!(self.settings.escalate_to);
                                if self.mailer.is_some() {
                                    mails.push("application_escalated");
                                }
                            }
                            (Stage::Contacting, Some("call_again"), Some(due))
                        }
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
            Action::AgreementSigned {
                override_by,
                agreement,
            } if from == Stage::InWork => {
                let inn = crate::domain::Inn::parse(&a.inn).map_err(|_| invalid())?;
                detail = serde_json::json!({"agreement": agreement, "override": override_by.as_ref()
                    .map(|o| serde_json::json!({"by": o.by, "reason": o.reason}))});
                a.agreement = Some(agreement.clone());
                // The registry's name, region and address; the typed name as `display_name`.
                let listing = crate::catalog::Listing {
                    name: None,
                    display_name: Some(a.company_name.clone()),
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
            // Screened again from the start: a new check, its decision and the e-mail.
            Action::Reopen if matches!(from, Stage::Rejected | Stage::Spam | Stage::Held) => {
                a.check_id = None;
                a.decision = None;
                a.unanswered = 0;
                (Stage::Received, None, None)
            }
            Action::Assign { to } if from != Stage::Spam => {
                detail = serde_json::json!({"assignee": to, "previous": a.assignee});
                a.assignee = Some(to.clone());
                (from, a.next_action.as_deref(), a.due_at)
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
        let rescreen = to == Stage::Received;
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
            .apply_application_action(&a, from, &entry, &mails)
            .await?
        {
            return Err(ApplicationError::Conflict);
        }
        if rescreen && let Ok(inn) = crate::domain::Inn::parse(&a.inn) {
            let service = Arc::clone(self);
            let id = a.id.clone();
            tokio::spawn(async move { service.screen(&id, inn, now).await });
        }
        Ok(a)
    }

    pub async fn get(&self, id: &str) -> Result<Application, ApplicationError> {
        self.store
            .get_application(id)
            .await?
            .ok_or(ApplicationError::NotFound)
    }

    /// Applications newest first, as the filter narrows them.
    pub async fn list(
        &self,
        filter: &crate::domain::application::ApplicationFilter,
    ) -> Result<Vec<Application>, ApplicationError> {
        Ok(self.store.list_applications(filter).await?)
    }
}
