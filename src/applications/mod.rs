//! The registration process: applications from the website's form, validated and judged
//! for spam at intake, then screened by a check. (The manager's workflow, SLA timers and
//! e-mail come next.)

pub mod intake;
mod mail;
mod model;
mod service;
pub mod sla;

pub use intake::{FieldError, Form};
pub use mail::QueuedMail;
pub use model::{Application, Receipt, Stage, TimelineEntry};
pub use service::{Action, ApplicationError, ApplicationService, CallOutcome};

/// A feed event about an application (`application_received`, `application_screened`,
/// `application_stage_changed`, `application_sla_due`, `application_sla_breached`).
pub fn event(
    a: &Application,
    kind: &str,
    mut payload: serde_json::Value,
) -> crate::catalog::NewEvent {
    payload["application_id"] = serde_json::json!(a.id);
    payload["stage"] = serde_json::json!(a.stage);
    payload["company_name"] = serde_json::json!(a.company_name);
    if let Some(decision) = a.decision {
        payload["decision"] = serde_json::json!(decision);
    }
    crate::catalog::NewEvent {
        inn: a.inn.clone(),
        kind: kind.to_owned(),
        payload,
    }
}
