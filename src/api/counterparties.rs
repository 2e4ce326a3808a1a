//! `GET /v1/counterparties/{inn}`: the latest dossier and decision of an INN.

use super::AppState;
use super::errors::{ApiError, Problem};
use crate::check::{Check, Company};
use crate::domain::{Decision, Inn};
use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// What the service last learned and decided about a counterparty.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
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
    reader: super::language::Reader,
) -> Result<HttpResponse, ApiError> {
    let inn = Inn::parse(&inn).map_err(ApiError::Inn)?;
    let check = state
        .checks
        .latest(&inn)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("INN {inn} has never been checked")))?;
    let check = Check::json_in(check, reader.0);
    Ok(HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(dossier_json(&inn, &check).map_err(ApiError::internal)?))
}

/// A [`Counterparty`] written around the check's stored JSON, which is copied as is rather
/// than parsed into a [`Check`] and written again: this is the hot path of repeated lookups.
fn dossier_json(inn: &Inn, check: &[u8]) -> Result<Vec<u8>, serde_json::Error> {
    /// The fields of the check the dossier repeats at its top.
    #[derive(Deserialize, Serialize)]
    struct Head<'a> {
        #[serde(default, skip_deserializing)]
        inn: &'a str,
        #[serde(borrow)]
        company: Option<&'a RawValue>,
        #[serde(borrow)]
        decision: Option<&'a RawValue>,
        #[serde(borrow)]
        checked_at: Option<&'a RawValue>,
    }
    let mut head: Head = serde_json::from_slice(check)?;
    head.inn = inn.as_str();
    let mut out = Vec::with_capacity(check.len() * 2);
    serde_json::to_writer(&mut out, &head)?;
    // `{…}` becomes `{…,"latest_check":<check>}`.
    out.pop();
    out.extend_from_slice(b",\"latest_check\":");
    out.extend_from_slice(check);
    out.push(b'}');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dossier_written_around_the_stored_check_reads_as_a_counterparty() {
        let check = Check::example();
        let inn = Inn::parse(check["inn"].as_str().unwrap()).unwrap();
        let json = dossier_json(&inn, check.to_string().as_bytes()).unwrap();
        let dossier: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(
            dossier,
            serde_json::json!({
                "inn": inn.as_str(),
                "company": check["company"],
                "decision": check["decision"],
                "checked_at": check["checked_at"],
                "latest_check": check,
            })
        );
        let typed: Counterparty = serde_json::from_value(dossier).unwrap();
        assert_eq!(
            typed.latest_check.id.to_string(),
            check["id"].as_str().unwrap()
        );
    }

    #[test]
    fn a_pending_check_without_a_company_gives_nulls() {
        let check = serde_json::json!({"id": "x", "inn": "7707083893", "state": "pending"});
        let inn = Inn::parse("7707083893").unwrap();
        let json = dossier_json(&inn, check.to_string().as_bytes()).unwrap();
        let dossier: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(dossier["company"], serde_json::Value::Null);
        assert_eq!(dossier["latest_check"], check);
    }
}
