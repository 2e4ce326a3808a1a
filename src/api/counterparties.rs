//! `GET /v1/counterparties/{inn}`: the latest dossier and decision of an INN.

use super::AppState;
use super::errors::{ApiError, Problem};
use crate::check::{Check, Company};
use crate::domain::{Decision, Inn};
use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;

/// What the service last learned and decided about a counterparty.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"inn": "7701000019", "company": Company::example(), "decision": "approve",
    "checked_at": "2026-11-20T10:00:05Z", "latest_check": Check::example()}))]
pub struct Counterparty {
    #[schema(example = "7707083893")]
    pub inn: String,
    pub company: Option<Company>,
    pub decision: Option<Decision>,
    pub checked_at: Option<DateTime<Utc>>,
    /// The check these come from.
    pub latest_check: Check,
}

/// The latest dossier and decision for an INN (from the newest finished check).
#[utoipa::path(
    tag = "counterparties",
    params(("inn" = String, Path, description = "INN, 10 or 12 digits", pattern = "^[0-9]{10}([0-9]{2})?$")),
    responses(
        (status = 200, description = "The latest dossier", body = Counterparty),
        (status = 404, description = "`not_found`: never checked", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid INN", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/counterparties/{inn}")]
pub async fn get_counterparty(
    state: web::Data<AppState>,
    inn: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let inn = Inn::parse(&inn).map_err(ApiError::Inn)?;
    let check = state
        .checks
        .latest(&inn)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("INN {inn} has never been checked")))?;
    Ok(HttpResponse::Ok().json(Counterparty {
        inn: inn.to_string(),
        company: check.company.clone(),
        decision: check.decision,
        checked_at: check.checked_at,
        latest_check: Arc::unwrap_or_clone(check),
    }))
}
