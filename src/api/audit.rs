//! `GET /v1/audit`: who did what to which INN, and when.

use super::AppState;
use super::errors::ApiError;
use super::query::Query;
use crate::auth::AuditEntry;
use crate::domain::Inn;
use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};

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

/// The audit trail of writes: catalog actions, overrides, feedback, rules reloads,
/// monitoring runs and key changes, with the API key (and person) behind each.
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
