//! What a manager keeps in the file: the printable report of a check, and the raw registry
//! answers behind it.

use super::AppState;
use super::errors::{ApiError, Problem};
use super::language::Reader;
use crate::check::Check;
use crate::domain::{Inn, Language};
use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `?lang=` for a link opened in a browser, whose `Accept-Language` may not be the reader's.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ReportQuery {
    /// `ru` or `en`; without it, `Accept-Language`, else `check.default_language`.
    #[param(example = "ru")]
    pub lang: Option<String>,
}

impl ReportQuery {
    fn language(&self, reader: Reader) -> Result<Language, ApiError> {
        match self.lang.as_deref() {
            None => Ok(reader.0),
            Some(code) => Language::parse(code).ok_or_else(|| ApiError::InvalidField {
                field: "lang",
                message: "ru or en".into(),
            }),
        }
    }
}

fn check_id(id: &str) -> Result<uuid::Uuid, ApiError> {
    id.parse()
        .map_err(|_| ApiError::NotFound(format!("no check with id {id}")))
}

async fn report_page(
    state: &AppState,
    check: Check,
    language: Language,
) -> Result<HttpResponse, ApiError> {
    let check = check.in_language(language);
    let evidence = state.checks.evidence(&check).await?;
    let html = crate::report::render(&check, &evidence, language, state.display_zone, Utc::now())
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}

/// «Справка о проверке контрагента»: a check as a printable page.
///
/// The company, the decision in large type, every reason with the facts it read (source and
/// date of each), every registry's status with the SHA-256 of its raw answers, the ruleset
/// version and profile, who asked and when. Print it or save it as PDF from the browser: the
/// page is laid out for A4. In Russian unless `lang=en` or `Accept-Language` asks otherwise.
#[utoipa::path(
    tag = "checks",
    params(("id" = String, Path, description = "Check id (UUID)", format = Uuid), ReportQuery,
        ("exp" = Option<String>, Query, description = "The expiry of the link in the check's `report_url` (unix seconds, `links.ttl_s` after the check; opaque to a caller with a key, who needs no link)"),
        ("sig" = Option<String>, Query, description = "The signature of the link in the check's `report_url` (over the id and `exp`): with it the report opens without a key (in a browser, from an e-mail, a CRM or a spreadsheet) until `exp`")),
    responses(
        (status = 200, description = "The report", content_type = "text/html", body = String),
        (status = 403, description = "A link without a key that is tampered, expired or revoked (`kontragent links rotate`): a page that says which, in Russian unless `lang=en` or `Accept-Language` asks otherwise", content_type = "text/html", body = String),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_field` (`lang`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/checks/{id}/report")]
pub async fn check_report(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: super::query::Query<ReportQuery>,
    reader: Reader,
) -> Result<HttpResponse, ApiError> {
    let language = query.0.language(reader)?;
    let check = state
        .checks
        .get(check_id(&id)?)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no check with id {id}")))?;
    report_page(&state, check, language).await
}

/// The report of the newest finished check of an INN.
#[utoipa::path(
    tag = "counterparties",
    params(("inn" = String, Path, description = "10 or 12 digits", example = "7701000019"), ReportQuery),
    responses(
        (status = 200, description = "The report", content_type = "text/html", body = String),
        (status = 404, description = "`not_found`: never checked", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`inn_digits`, `inn_length`, `inn_checksum`, `invalid_field` (`lang`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/counterparties/{inn}/report")]
pub async fn counterparty_report(
    state: web::Data<AppState>,
    inn: web::Path<String>,
    query: super::query::Query<ReportQuery>,
    reader: Reader,
) -> Result<HttpResponse, ApiError> {
    let language = query.0.language(reader)?;
    let inn = Inn::parse(&inn).map_err(ApiError::Inn)?;
    let json = state
        .checks
        .latest(&inn)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("INN {inn} has never been checked")))?;
    let check: Check = serde_json::from_slice(&json).map_err(ApiError::internal)?;
    report_page(&state, check, language).await
}

/// `?body=true` adds each answer's body.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct EvidenceQuery {
    /// Include the raw bodies (text as is, other bytes as base64).
    #[serde(default)]
    pub body: bool,
}

/// One raw registry answer behind a check.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"url": "https://egrul.nalog.ru/search-result/7a1c", "http_status": 200,
    "sha256": "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
    "received_at": "2026-11-20T10:00:01Z", "size": 2}))]
pub struct EvidenceItem {
    #[schema(example = "https://egrul.nalog.ru/search-result/7a1c")]
    pub url: String,
    #[schema(example = 200)]
    pub http_status: u16,
    /// Of the body as received.
    #[schema(example = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")]
    pub sha256: String,
    pub received_at: DateTime<Utc>,
    /// Bytes kept; `0` once retention emptied the body (`retention.evidence_days`), while the
    /// URL, status and hash stay.
    #[schema(example = 2)]
    pub size: usize,
    /// With `?body=true`, a UTF-8 body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// With `?body=true`, a body that is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
}

/// The raw answers behind a check, by registry.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"check_id": "0193a3c4-8f2e-7c1a-9b1e-5d2f3a4b5c6d", "sources": {"egrul": [{"url": "https://egrul.nalog.ru/search-result/7a1c", "http_status": 200,
    "sha256": "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "received_at": "2026-11-20T10:00:01Z", "size": 2}]}}))]
pub struct CheckEvidence {
    pub check_id: uuid::Uuid,
    pub sources: BTreeMap<String, Vec<EvidenceItem>>,
}

/// The raw registry answers behind a check: URL, HTTP status, SHA-256 and time of each,
/// and with `?body=true` the bodies.
#[utoipa::path(
    tag = "checks",
    params(("id" = String, Path, description = "Check id (UUID)", format = Uuid), EvidenceQuery),
    responses(
        (status = 200, description = "The answers by registry", body = CheckEvidence),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/checks/{id}/evidence")]
pub async fn check_evidence(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: super::query::Query<EvidenceQuery>,
) -> Result<HttpResponse, ApiError> {
    use base64::Engine;
    let check = state
        .checks
        .get(check_id(&id)?)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no check with id {id}")))?;
    let sources = state
        .checks
        .evidence(&check)
        .await?
        .into_iter()
        .map(|(source, rows)| {
            let items = rows
                .into_iter()
                .map(|e| {
                    let (body, body_base64) =
                        match (query.0.body, String::from_utf8(e.body.clone())) {
                            (false, _) => (None, None),
                            (true, Ok(text)) => (Some(text), None),
                            (true, Err(_)) => (
                                None,
                                Some(base64::engine::general_purpose::STANDARD.encode(&e.body)),
                            ),
                        };
                    EvidenceItem {
                        size: e.body.len(),
                        url: e.url,
                        http_status: e.http_status,
                        sha256: e.sha256,
                        received_at: e.received_at,
                        body,
                        body_base64,
                    }
                })
                .collect();
            (source, items)
        })
        .collect();
    Ok(HttpResponse::Ok().json(CheckEvidence {
        check_id: check.id,
        sources,
    }))
}
