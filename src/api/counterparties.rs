//! `GET /v1/counterparties/{inn}`: the latest dossier and decision of an INN.

use super::AppState;
use super::errors::{ApiError, Problem};
use crate::check::{Check, Company};
use crate::domain::{Decision, Inn};
use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// What the service last learned and decided about a counterparty.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"inn": "7701000019", "company": {"status": "ACTIVE", "kind": "legal_entity", "name": "ООО \"СЕВЕРНЫЙ ВЕТЕР\"",
        "full_name": "ОБЩЕСТВО С ОГРАНИЧЕННОЙ ОТВЕТСТВЕННОСТЬЮ \"СЕВЕРНЫЙ ВЕТЕР\"", "ogrn": "1027700123000",
        "kpp": "770101001", "status_text": "Действующее", "registered_on": "2015-03-12", "region": "Москва",
        "address": "г. Москва, ул. Тверская, д. 1", "head": "ГЕНЕРАЛЬНЫЙ ДИРЕКТОР: Иванов Иван Иванович",
        "bankruptcy_active": false,
        "court": {"respondent_total": 2, "respondent_12m": 1, "plaintiff_total": 0, "bankruptcy_as_debtor": 0, "cases": []}}, "decision": "approve",
    "checked_at": "2026-11-20T10:00:05Z", "latest_check": {"id": "0193a3c4-8f2e-7c1a-9b1e-5d2f3a4b5c6d", "inn": "7701000019", "state": "done", "decision": "approve",
        "score": 70, "profile": "default", "reasons": [{"rule_id": "mass_address", "title": "Mass registration address", "effect": "score", "delta": -30,
        "message": "The address is a mass registration address (pb)",
        "inputs": [{"fact": "company.mass_address", "value": true, "source": "pb", "as_of": "2026-11-20T10:00:00Z"}]}],
        "sources": {"egrul": {"status": "ok", "fetched_at": "2026-11-20T10:00:01Z"},
        "pb": {"status": "ok", "fetched_at": "2026-11-20T10:00:02Z"},
        "fedresurs": {"status": "not_found", "fetched_at": "2026-11-20T10:00:02Z"},
        "bankrot": {"status": "not_found", "fetched_at": "2026-11-20T10:00:02Z"},
        "kad": {"status": "unavailable", "fetched_at": "2026-11-20T10:00:05Z", "detail": "captcha"}},
        "company": {"status": "ACTIVE", "kind": "legal_entity", "name": "ООО \"СЕВЕРНЫЙ ВЕТЕР\"",
        "full_name": "ОБЩЕСТВО С ОГРАНИЧЕННОЙ ОТВЕТСТВЕННОСТЬЮ \"СЕВЕРНЫЙ ВЕТЕР\"", "ogrn": "1027700123000",
        "kpp": "770101001", "status_text": "Действующее", "registered_on": "2015-03-12", "region": "Москва",
        "address": "г. Москва, ул. Тверская, д. 1", "head": "ГЕНЕРАЛЬНЫЙ ДИРЕКТОР: Иванов Иван Иванович",
        "bankruptcy_active": false,
        "court": {"respondent_total": 2, "respondent_12m": 1, "plaintiff_total": 0, "bankruptcy_as_debtor": 0, "cases": []}},
        "ruleset_version": "3a59f4cdaf8aee003911fe9a776bcb5e0fdf396fb77cf0fa143b17aeb8349929",
        "created_at": "2026-11-20T10:00:00Z", "checked_at": "2026-11-20T10:00:05Z"}}))]
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
        latest_check: check,
    }))
}
