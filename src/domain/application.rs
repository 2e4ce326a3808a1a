//! An application from the registration form and where it stands.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where an application stands in the registration process.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Stage {
    /// Arrived; its screening check runs.
    Received,
    /// Checked: the decision is in `decision`.
    Screened,
    Contacting,
    InWork,
    Agreement,
    Listed,
    Rejected,
    /// A spam signal fired; kept, never worked on.
    Spam,
    /// More genuine-looking applications from one address than `applications.max_per_ip_per_hour`
    /// (an office behind one IP): waits for a person, who reopens (screens) or rejects it.
    Held,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// An application as a manager sees it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"id": "0193a3c4-8f2e-7c1a-9b1e-5d2f3a4b5c6d", "inn": "7707083893",
    "company_name": "ООО Ромашка", "contact_name": "Иван Петров", "phone": "+74951234567",
    "email": "ivan@example.ru", "message": "Хотим сотрудничать", "stage": "screened",
    "spam_signals": [], "check_id": "0193a3c4-9000-7c1a-9b1e-5d2f3a4b5c6d", "decision": "approve",
    "next_action": "first_contact", "due_at": "2026-12-01T10:10:00Z", "unanswered": 0,
    "assignee": "a.ivanova", "agreement": {"number": "Д-2026/118", "signed_on": "2026-12-03"},
    "created_at": "2026-12-01T10:00:00Z", "updated_at": "2026-12-01T10:00:04Z"}))]
pub struct Application {
    pub id: String,
    pub inn: String,
    pub company_name: String,
    pub contact_name: String,
    /// E.164.
    pub phone: String,
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub stage: Stage,
    /// Why it is spam: `honeypot`, `too_fast`, `no_form_time`, `link_in_message`,
    /// `ip_rate`, `phone_rate`.
    pub spam_signals: Vec<String>,
    /// The screening check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<crate::domain::Decision>,
    /// The call that is due: `first_contact`, `call_again` (after an unanswered call) or
    /// `call` (scheduled); absent when no call is due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_action: Option<String>,
    /// When `next_action` is due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
    /// Calls without an answer so far.
    pub unanswered: i64,
    /// The manager it is assigned to (`assign`), when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// The agreement signed (`agreement_signed`), when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agreement: Option<Agreement>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Kept for the per-IP spam limit; not shown.
    #[serde(skip)]
    pub client_ip: String,
}

/// Which applications a list shows, newest first.
#[derive(Debug, Clone, Default)]
pub struct ApplicationFilter {
    pub stage: Option<Stage>,
    /// With a call due by then (`overdue`: now).
    pub due_before: Option<DateTime<Utc>>,
    pub assignee: Option<String>,
    /// Older than this id (the cursor).
    pub before: Option<String>,
    pub limit: i64,
}

/// The agreement an application ended in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"number": "Д-2026/118", "signed_on": "2026-12-03"}))]
pub struct Agreement {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_on: Option<chrono::NaiveDate>,
}

/// One step of an application's history.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"action": "call_attempt", "from_stage": "screened", "to_stage": "contacting",
    "detail": {"outcome": "no_answer", "due_at": "2026-12-01T12:10:00Z"}, "actor": "manager", "at": "2026-12-01T10:10:00Z"}))]
pub struct TimelineEntry {
    pub action: String,
    pub from_stage: Stage,
    pub to_stage: Stage,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub actor: String,
    pub at: DateTime<Utc>,
}

/// What the website form is told: never the dossier, never that it looked like spam.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"id": "0193a3c4-8f2e-7c1a-9b1e-5d2f3a4b5c6d", "status": "received",
    "message": "Спасибо! Заявка получена, мы свяжемся с вами в рабочее время."}))]
pub struct Receipt {
    pub id: String,
    /// `received` (also for spam), `needs_review` or `rejected`.
    #[schema(example = "received")]
    pub status: String,
    /// A neutral message in Russian for the form to show.
    pub message: String,
}

/// A feed event about an application (`application_received`, `application_screened`,
/// `application_stage_changed`, `application_sla_due`, `application_sla_breached`).
pub fn event(
    a: &Application,
    kind: &str,
    mut payload: serde_json::Value,
) -> super::catalog::NewEvent {
    payload["application_id"] = serde_json::json!(a.id);
    payload["stage"] = serde_json::json!(a.stage);
    payload["company_name"] = serde_json::json!(a.company_name);
    if let Some(decision) = a.decision {
        payload["decision"] = serde_json::json!(decision);
    }
    super::catalog::NewEvent {
        inn: a.inn.clone(),
        kind: kind.to_owned(),
        payload,
    }
}

/// A message waiting in the outbox.
#[derive(Debug, Clone)]
pub struct QueuedMail {
    pub id: String,
    /// `application_screened` or `application_sla_breached`.
    pub kind: String,
    pub application_id: String,
    pub attempts: i64,
}
