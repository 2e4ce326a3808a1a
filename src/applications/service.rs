//! Taking applications in from the website and screening them with a check.

use super::intake::{FieldError, Form};
use super::model::{Application, Receipt, Stage};
use crate::check::{CheckError, CheckRequest, CheckService};
use crate::config::ApplicationSettings;
use crate::storage::{Store, StoreError};
use chrono::{Duration, Utc};
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
    #[error("storage failed")]
    Store(#[from] StoreError),
}

pub struct ApplicationService {
    store: Arc<dyn Store>,
    checks: Arc<CheckService>,
    settings: ApplicationSettings,
}

impl ApplicationService {
    pub fn new(
        store: Arc<dyn Store>,
        checks: Arc<CheckService>,
        settings: ApplicationSettings,
    ) -> ApplicationService {
        ApplicationService {
            store,
            checks,
            settings,
        }
    }

    /// Takes an application in: a bad field is an error the form shows; spam is stored as
    /// `spam` and answered like any other; the rest is screened in the background.
    pub async fn submit(
        self: &Arc<Self>,
        form: Form,
        client_ip: &str,
    ) -> Result<Receipt, ApplicationError> {
        let valid = form.validate()?;
        let now = Utc::now();
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
            created_at: now,
            updated_at: now,
            client_ip: client_ip.to_owned(),
        };
        self.store.insert_application(&application).await?;
        if stage == Stage::Received {
            let service = Arc::clone(self);
            let (id, inn) = (application.id.clone(), valid.inn);
            tokio::spawn(async move { service.screen(&id, inn).await });
        }
        Ok(Receipt {
            id: application.id,
            status: "received".into(),
            message: RECEIVED.into(),
        })
    }

    /// Checks the applicant and records the decision (`screened`, or `rejected` with
    /// `applications.auto_reject`); a busy service is asked again for a minute.
    async fn screen(&self, id: &str, inn: crate::domain::Inn) {
        let profile = Some(self.settings.profile.clone()).filter(|p| !p.is_empty());
        for _ in 0..SCREENING_ATTEMPTS {
            let request = CheckRequest {
                inn: inn.clone(),
                max_age_s: None,
                profile: profile.clone(),
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
                    let recorded = self
                        .store
                        .record_screening(id, &done.check.id.to_string(), decision, stage)
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

    pub async fn get(&self, id: &str) -> Result<Application, ApplicationError> {
        self.store
            .get_application(id)
            .await?
            .ok_or(ApplicationError::NotFound)
    }

    /// Applications newest first, of one stage when given, before the cursor (an id).
    pub async fn list(
        &self,
        stage: Option<Stage>,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Application>, ApplicationError> {
        Ok(self.store.list_applications(stage, before, limit).await?)
    }
}
