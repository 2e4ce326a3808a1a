//! The audit trail: an entry for every successful write and every read of personal data
//! (the routes `api::routes` marks `Audit::Entry`), written here, after the handler, from
//! the caller the guard found — so no handler can forget one. A handler adds what only it
//! knows (the domain's name for the action, the INN, whom the caller acted for) as an
//! [`AuditNote`] on its response. `GET /v1/audit` reads the trail.

use super::AppState;
use super::errors::ApiError;
use super::guard::MatchedRoute;
use super::query::Query;
use super::routes::Audit;
use crate::auth::{AuditEntry, Principal};
use crate::domain::Inn;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, get, web};
use serde::{Deserialize, Serialize};

/// What a handler adds to its call's audit entry; each part has a default from the
/// request (the route as the action, the path's INN, no one on whose behalf).
#[derive(Debug, Clone, Default)]
pub struct AuditNote {
    /// `catalog.list`, `applications.agreement_signed`…
    pub action: Option<String>,
    pub inn: Option<String>,
    /// The person the caller said it acted for (the body's `actor`).
    pub on_behalf_of: Option<String>,
    pub detail: Option<String>,
    /// Who acted, where no API key did (a CRM portal).
    pub actor: Option<String>,
}

impl AuditNote {
    pub fn action(action: impl Into<String>) -> AuditNote {
        AuditNote {
            action: Some(action.into()),
            ..AuditNote::default()
        }
    }

    pub fn inn(mut self, inn: &str) -> Self {
        self.inn = Some(inn.to_owned());
        self
    }

    pub fn on_behalf_of(mut self, person: Option<&str>) -> Self {
        self.on_behalf_of = person
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| p.chars().take(100).collect());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// `response` with this note for the audit trail.
    pub fn on(self, mut response: HttpResponse) -> HttpResponse {
        response.extensions_mut().insert(self);
        response
    }
}

/// Writes the audit entry of a successful call to an audited route (inside the guard and
/// the idempotency replay: a replayed answer wrote nothing again).
pub async fn trail(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let route = req.extensions().get::<MatchedRoute>().map(|r| r.0);
    let res = next.call(req).await?;
    let Some(route) = route.filter(|r| r.audit == Audit::Entry) else {
        return Ok(res);
    };
    if !res.status().is_success() {
        return Ok(res);
    }
    let note = res
        .response()
        .extensions()
        .get::<AuditNote>()
        .cloned()
        .unwrap_or_default();
    let request = res.request();
    let caller = request
        .extensions()
        .get::<Principal>()
        .map(|p| p.name.clone());
    let path = request.match_info();
    let inn = note
        .inn
        .or_else(|| path.get("inn").map(str::to_owned))
        .filter(|i| Inn::parse(i).is_ok());
    let target = path.get("id").map(|id| format!("{id}: "));
    let mut entry = AuditEntry::new(
        &note
            .actor
            .or(caller)
            .unwrap_or_else(|| "anonymous".to_owned()),
        &note
            .action
            .unwrap_or_else(|| format!("{} {}", route.method, route.pattern)),
        inn.as_deref(),
        match (target, note.detail) {
            (Some(t), Some(d)) => Some(format!("{t}{d}")),
            (Some(t), None) => Some(t.trim_end_matches(": ").to_owned()),
            (None, d) => d,
        },
    );
    entry.on_behalf_of = note.on_behalf_of;
    if let Some(state) = request.app_data::<web::Data<AppState>>() {
        state.keys.audit(entry).await;
    }
    Ok(res)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Entries after this cursor (`next_cursor` of the previous page).
    pub after: Option<String>,
    /// Only entries about this INN.
    #[param(pattern = "^[0-9]{10}([0-9]{2})?$")]
    pub inn: Option<String>,
    /// Page size, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// A page of the audit trail, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"items": [], "next_cursor": null}))]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    /// Pass as `after` for the next page; absent when this page is not full.
    pub next_cursor: Option<String>,
}

/// The audit trail: every write (catalog actions, overrides, feedback, rechecks, rules
/// reloads and rollbacks, monitoring runs, webhooks, application actions — listings made
/// from applications too — and key changes) and every read of applications, with the API
/// key that acted and, apart, the person it said it acted for (`on_behalf_of`). Checks and
/// applications from the website are their own record (`requested_by`, the timeline).
#[utoipa::path(
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, body = AuditPage),
    )
)]
#[get("/audit")]
pub async fn audit(
    state: web::Data<AppState>,
    query: Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::query("limit", "from 1 to 1000"));
    }
    let inn = q
        .inn
        .as_deref()
        .map(Inn::parse)
        .transpose()
        .map_err(|e| ApiError::query("inn", &e.to_string()))?;
    let items = state
        .keys
        .audit_after(q.after.as_deref(), limit, inn.as_ref().map(Inn::as_str))
        .await?;
    let next_cursor = (items.len() as i64 == limit)
        .then(|| items.last().map(|e| e.id.clone()))
        .flatten();
    Ok(HttpResponse::Ok().json(AuditPage { items, next_cursor }))
}
