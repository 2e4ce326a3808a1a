//! The registration form's intake (`/v1/public/applications`) and the manager's view of
//! applications (`/v1/applications`).

use super::AppState;
use super::audit::AuditNote;
use super::errors::{ApiError, Problem};
use super::guard::ClientIp;
use super::query::Query;
use crate::applications::{
    Action, Application, ApplicationError, CallOutcome, FieldError, Form, Receipt, Stage,
    TimelineEntry,
};
use crate::check::Check;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

impl From<ApplicationError> for ApiError {
    fn from(e: ApplicationError) -> ApiError {
        match e {
            ApplicationError::Field(FieldError::Inn(e)) => ApiError::Inn(e),
            ApplicationError::Field(e @ FieldError::Phone) => ApiError::FieldRefused {
                field: "phone",
                code: "phone_invalid",
                message: e.to_string(),
            },
            ApplicationError::Field(e @ FieldError::Email) => ApiError::FieldRefused {
                field: "email",
                code: "email_invalid",
                message: e.to_string(),
            },
            ApplicationError::Field(FieldError::Invalid { field, message }) => {
                ApiError::InvalidField { field, message }
            }
            ApplicationError::NotFound => ApiError::NotFound("no such application".into()),
            e @ ApplicationError::InvalidTransition { .. } => ApiError::Refused {
                status: 409,
                code: "invalid_transition",
                message: e.to_string(),
            },
            e @ ApplicationError::Conflict => ApiError::Refused {
                status: 409,
                code: "conflict",
                message: e.to_string(),
            },
            ApplicationError::Catalog(e) => e.into(),
            ApplicationError::Store(e) => e.into(),
        }
    }
}

/// The registration form. Unknown fields are ignored (a form may send its own).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"inn": "7707083893", "company_name": "ООО Ромашка", "contact_name": "Иван Петров",
    "phone": "+7 495 123-45-67", "email": "ivan@example.ru", "message": "Хотим сотрудничать",
    "website": "", "form_started_at": "2026-12-01T09:59:20Z"}))]
pub struct ApplicationForm {
    #[schema(max_length = 12)]
    pub inn: String,
    #[schema(max_length = 300)]
    pub company_name: String,
    #[schema(max_length = 200)]
    pub contact_name: String,
    /// Any common spelling; a number without a country code is Russian.
    #[schema(max_length = 40)]
    pub phone: String,
    #[schema(max_length = 254)]
    pub email: String,
    #[schema(max_length = 2000)]
    pub message: Option<String>,
    /// Leave empty: a field hidden from people.
    pub website: Option<String>,
    /// When the page with the form was rendered.
    pub form_started_at: Option<DateTime<Utc>>,
}

/// Takes an application from the website's registration form: `201` with a neutral
/// receipt (never the dossier); a bad field gets its code for the form to show.
#[utoipa::path(tag = "applications", request_body = ApplicationForm, responses(
    (status = 201, body = Receipt),
    (status = 422, description = "`inn_*`, `phone_invalid`, `email_invalid`, `invalid_field` (with `field`)", body = Problem, content_type = "application/problem+json"),
))]
#[post("/public/applications")]
pub async fn submit_application(
    state: web::Data<AppState>,
    request: HttpRequest,
    principal: Option<web::ReqData<crate::auth::Principal>>,
    body: super::json::Json<ApplicationForm>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    // The screening check takes from the website key's budget.
    state
        .checks
        .budget()
        .admit(&super::checks::budget_key(principal.as_deref()), 1)?;
    let client_ip = request
        .extensions()
        .get::<ClientIp>()
        .map(|ip| ip.0.clone())
        .unwrap_or_default();
    let form = Form {
        inn: body.inn,
        company_name: body.company_name,
        contact_name: body.contact_name,
        phone: body.phone,
        email: body.email,
        message: body.message,
        website: body.website,
        form_started_at: body.form_started_at,
    };
    let receipt = state.applications.submit(form, &client_ip).await?;
    Ok(HttpResponse::Created().json(receipt))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ApplicationsQuery {
    /// Only applications in this stage.
    pub stage: Option<Stage>,
    /// Only applications with a call due at or before this time (the manager's worklist).
    pub due_before: Option<DateTime<Utc>>,
    /// `true`: only applications whose due call is late (due before now); `false` or absent:
    /// no filter.
    pub overdue: Option<bool>,
    /// Only the applications assigned to this manager (`assign`).
    pub assignee: Option<String>,
    /// Applications older than this cursor (`next_cursor` of the previous page).
    pub cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// A page of applications, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"items": [], "next_cursor": null}))]
pub struct ApplicationPage {
    pub items: Vec<Application>,
    /// Pass as `cursor` for the next page; absent when this page is not full.
    pub next_cursor: Option<String>,
}

/// Applications, newest first: by stage, late calls (`overdue=true`), calls due by a time,
/// and the manager they are assigned to, in any combination.
#[utoipa::path(tag = "applications", params(ApplicationsQuery), responses((status = 200, body = ApplicationPage)))]
#[get("/applications")]
pub async fn list_applications(
    state: web::Data<AppState>,
    query: Query<ApplicationsQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::query("limit", "from 1 to 200"));
    }
    let due_before = match (q.overdue, q.due_before) {
        (Some(true), Some(t)) => Some(t.min(Utc::now())),
        (Some(true), None) => Some(Utc::now()),
        (_, t) => t,
    };
    let filter = crate::domain::application::ApplicationFilter {
        stage: q.stage,
        due_before,
        assignee: q.assignee.filter(|a| !a.trim().is_empty()),
        before: q.cursor,
        limit,
    };
    let items = state.applications.list(&filter).await?;
    let next_cursor = (items.len() as i64 == limit)
        .then(|| items.last().map(|a| a.id.clone()))
        .flatten();
    let note = AuditNote::action("applications.list").detail(format!("{} shown", items.len()));
    Ok(note.on(HttpResponse::Ok().json(ApplicationPage { items, next_cursor })))
}

/// An application with its screening check, its history and its call SLA.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"application": {"id": "0193…", "inn": "7707083893", "company_name": "ООО Ромашка",
    "contact_name": "Иван Петров", "phone": "+74951234567", "email": "ivan@example.ru", "stage": "received",
    "spam_signals": [], "created_at": "2026-12-01T10:00:00Z", "updated_at": "2026-12-01T10:00:00Z"}}))]
pub struct ApplicationView {
    pub application: Application,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<Check>,
    /// Actions and stage changes, oldest first.
    pub timeline: Vec<TimelineEntry>,
    /// The due call (`application.next_action`) is late.
    pub overdue: bool,
}

/// One application and its screening check.
#[utoipa::path(tag = "applications", params(("id" = String, Path)), responses(
    (status = 200, body = ApplicationView),
    (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
))]
#[get("/applications/{id}")]
pub async fn get_application(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let application = state.applications.get(&id).await?;
    let check = match application.check_id.as_deref().and_then(|c| c.parse().ok()) {
        Some(check_id) => state.checks.get(check_id).await?,
        None => None,
    };
    let timeline = state.applications.timeline(&id).await?;
    let overdue = application.due_at.is_some_and(|due| due < Utc::now());
    // Personal data: who read it is on the audit trail.
    let note = AuditNote::action("applications.read").inn(&application.inn);
    Ok(note.on(HttpResponse::Ok().json(ApplicationView {
        application,
        check,
        timeline,
        overdue,
    })))
}

/// A manager's action on an application.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"action": "call_attempt", "outcome": "no_answer", "comment": "не берут трубку"}))]
pub struct ActionBody {
    /// `call_attempt` (with `outcome`), `schedule_call` (with `at`), `take_into_work`,
    /// `assign` (with `assignee`), `agreement_signed` (with `agreement_number` and
    /// `agreement_date`; lists the contractor: needs a fresh approve, or `override`),
    /// `reject` (with `reason`), `reopen` (screens it again: a new check and the e-mail).
    pub action: String,
    pub outcome: Option<CallOutcome>,
    #[schema(max_length = 2000)]
    pub comment: Option<String>,
    pub at: Option<DateTime<Utc>>,
    #[schema(max_length = 2000)]
    pub reason: Option<String>,
    #[serde(rename = "override")]
    pub override_by: Option<super::catalog::OverrideBody>,
    /// Who did it, recorded beside the API key's name.
    #[schema(max_length = 100)]
    pub actor: Option<String>,
    /// The manager `assign` gives the application to.
    #[schema(max_length = 100)]
    pub assignee: Option<String>,
    /// The agreement's number (`agreement_signed`).
    #[schema(max_length = 100)]
    pub agreement_number: Option<String>,
    /// The day the agreement was signed (`agreement_signed`).
    pub agreement_date: Option<chrono::NaiveDate>,
}

/// Calls, scheduling, taking into work, assigning, the agreement (which lists the contractor
/// in the catalog), rejection and reopening; the SLA's next due call follows.
#[utoipa::path(tag = "applications", params(("id" = String, Path)), request_body = ActionBody, responses(
    (status = 200, body = Application),
    (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`invalid_transition`, `conflict`", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "`invalid_field`; for `agreement_signed`: `not_checked`, `not_approved`, `decision_too_old`", body = Problem, content_type = "application/problem+json"),
))]
#[post("/applications/{id}/actions")]
pub async fn act(
    state: web::Data<AppState>,
    principal: web::ReqData<crate::auth::Principal>,
    id: web::Path<String>,
    body: super::json::Json<ActionBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let missing = |field: &'static str| ApiError::InvalidField {
        field,
        message: format!("`{}` needs `{field}`", b.action),
    };
    let long = |field: &'static str, value: &Option<String>| match value {
        Some(v) if v.chars().count() > 2000 => Err(ApiError::InvalidField {
            field,
            message: "at most 2000 characters".into(),
        }),
        _ => Ok(()),
    };
    long("comment", &b.comment)?;
    long("reason", &b.reason)?;
    for (field, value) in [
        ("assignee", &b.assignee),
        ("agreement_number", &b.agreement_number),
    ] {
        if value.as_ref().is_some_and(|v| v.chars().count() > 100) {
            return Err(ApiError::InvalidField {
                field,
                message: "at most 100 characters".into(),
            });
        }
    }
    let action = match b.action.as_str() {
        "call_attempt" => Action::CallAttempt {
            outcome: b.outcome.ok_or_else(|| missing("outcome"))?,
            comment: b.comment.clone(),
        },
        "schedule_call" => Action::ScheduleCall {
            at: b.at.ok_or_else(|| missing("at"))?,
        },
        "take_into_work" => Action::TakeIntoWork,
        "agreement_signed" => Action::AgreementSigned {
            // Who approved the override is a person beside the key, never in its place.
            override_by: b.override_by.as_ref().map(|o| crate::catalog::Override {
                by: principal.actor(Some(&o.by)),
                reason: o.reason.clone(),
            }),
            agreement: crate::domain::application::Agreement {
                number: b.agreement_number.clone().filter(|n| !n.trim().is_empty()),
                signed_on: b.agreement_date,
            },
        },
        "assign" => Action::Assign {
            to: b
                .assignee
                .clone()
                .map(|a| a.trim().to_owned())
                .filter(|a| !a.is_empty())
                .ok_or_else(|| missing("assignee"))?,
        },
        "reject" => Action::Reject {
            reason: b
                .reason
                .clone()
                .filter(|r| !r.trim().is_empty())
                .ok_or_else(|| missing("reason"))?,
        },
        "reopen" => Action::Reopen,
        _ => {
            return Err(ApiError::InvalidField {
                field: "action",
                message: "call_attempt, schedule_call, take_into_work, assign, agreement_signed, reject or reopen".into(),
            });
        }
    };
    let actor = principal.actor(b.actor.as_deref());
    let name = b.action.clone();
    let application = state.applications.act(&id, action, &actor).await?;
    let detail = match (&b.override_by, application.stage) {
        (Some(o), Stage::Listed) => format!(
            "{name} → {}; listed by override of {}: {}",
            application.stage.as_str(),
            o.by,
            o.reason
        ),
        (_, Stage::Listed) => format!("{name} → listed in the catalog"),
        (_, stage) => format!("{name} → {}", stage.as_str()),
    };
    Ok(AuditNote::action(format!("applications.{name}"))
        .inn(&application.inn)
        .on_behalf_of(b.actor.as_deref())
        .detail(detail)
        .on(HttpResponse::Ok().json(application)))
}
