//! `POST /v1/checks` and `GET /v1/checks/{id}`.

use super::AppState;
use super::errors::{ApiError, Problem};
use super::language::Reader;
use crate::check::{Check, CheckRequest, Started};
use crate::domain::Inn;
use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;

/// The largest `wait_ms` a request may give.
const MAX_WAIT_MS: u64 = 3_600_000;

/// `max_age_s` and `wait_ms` of a request, within their bounds.
pub struct CheckLimits {
    pub max_age_s: Option<u64>,
    pub wait_ms: Option<u64>,
}

impl CheckLimits {
    pub fn of(max_age_s: Option<u64>, wait_ms: Option<u64>) -> Result<CheckLimits, ApiError> {
        if wait_ms.is_some_and(|ms| ms > MAX_WAIT_MS) {
            return Err(ApiError::InvalidField {
                field: "wait_ms",
                message: format!(
                    "at most {MAX_WAIT_MS} (an hour); a wait ends at check.max_wait_ms"
                ),
            });
        }
        if max_age_s.is_some_and(|age| age > crate::check::MAX_AGE_S) {
            return Err(ApiError::InvalidField {
                field: "max_age_s",
                message: format!("at most {} (ten years)", crate::check::MAX_AGE_S),
            });
        }
        Ok(CheckLimits { max_age_s, wait_ms })
    }
}

/// Whose check budget a request takes from: its key's.
pub fn budget_key(principal: Option<&crate::auth::Principal>) -> String {
    principal.map_or_else(|| "anonymous".to_owned(), |p| p.limit_key())
}

/// A check request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"inn": "7707083893", "max_age_s": 3600, "wait_ms": 15000}))]
pub struct CheckRequestBody {
    /// 10 digits (legal entity) or 12 digits (individual); surrounding spaces are ignored, and
    /// so are spaces and hyphens between digits (`7707 083 893`, as pasted).
    #[schema(value_type = String, required = true, pattern = "^\\s*[0-9]{10}([0-9]{2})?\\s*$")]
    pub inn: Option<String>,
    /// Reuse registry answers no older than this many seconds (at most ten years); `0`
    /// asks the registries again (concurrent callers share one fetch). Without it each
    /// source's own TTL applies.
    #[schema(maximum = 315_360_000)]
    #[serde(default, deserialize_with = "crate::domain::lenient::integer")]
    pub max_age_s: Option<u64>,
    /// How long to wait for the result before answering `202` (default 15000; at most
    /// `check.max_wait_ms` is waited).
    #[schema(maximum = 3_600_000)]
    #[serde(default, deserialize_with = "crate::domain::lenient::integer")]
    pub wait_ms: Option<u64>,
    /// Where to POST the finished Check.
    pub callback_url: Option<String>,
    /// Scoring profile of the ruleset (default `default`).
    pub profile: Option<String>,
}

/// Check a counterparty by INN.
///
/// Queries every enabled registry in parallel (or reuses fresh answers), applies the
/// ruleset and answers with the decision and its reasons. When the result is not ready
/// within `wait_ms`, answers `202` with the pending check and a `Location` to poll.
#[utoipa::path(
    tag = "checks",
    request_body = CheckRequestBody,
    responses(
        (status = 200, description = "The finished check", body = Check),
        (status = 202, description = "Still running; poll `Location`", body = Check,
            headers(("Location" = String, description = "/v1/checks/{id}")),
            example = json!(Check::pending_example())),
        (status = 400, description = "`malformed_json` or `unknown_field`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`body_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`inn_required`, `inn_digits`, `inn_length`, `inn_checksum`, `invalid_field`, `unknown_profile`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`service_busy`: `limits.max_running_checks` checks are running; retry after `Retry-After`", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = String, description = "seconds"))),
    )
)]
#[post("/checks")]
pub async fn create_check(
    state: web::Data<AppState>,
    body: super::json::Json<CheckRequestBody>,
    reader: Reader,
    principal: Option<web::ReqData<crate::auth::Principal>>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let inn = Inn::parse(body.inn.as_deref().unwrap_or_default()).map_err(ApiError::Inn)?;
    let callback_url = body
        .callback_url
        .as_deref()
        .map(|url| state.webhooks.check_url("callback_url", url))
        .transpose()?;
    let limits = CheckLimits::of(body.max_age_s, body.wait_ms)?;
    let wait = state.checks.wait_for(limits.wait_ms);
    state
        .checks
        .budget()
        .admit(&budget_key(principal.as_deref()), 1)?;
    let request = CheckRequest {
        inn,
        max_age_s: limits.max_age_s,
        profile: body.profile,
        requested_by: principal.map_or_else(|| "anonymous".into(), |p| p.actor(None)),
    };
    let (pending, handle) = match state.checks.start(request, callback_url).await? {
        Started::Done(done) => return Ok(HttpResponse::Ok().json(done.check.in_language(reader.0))),
        Started::Running(pending, handle) => (pending, handle),
    };
    match tokio::time::timeout(wait, handle).await {
        Ok(Ok(Ok(done))) => Ok(HttpResponse::Ok().json(done.check.in_language(reader.0))),
        Ok(Ok(Err(e))) => Err(e.into()),
        Ok(Err(join)) => Err(ApiError::internal(join)),
        Err(_) => Ok(HttpResponse::Accepted()
            .insert_header(("Location", format!("/v1/checks/{}", pending.id)))
            .json(pending)),
    }
}

/// Get a check by id: `pending` while it runs, then `done` with the decision.
#[utoipa::path(
    tag = "checks",
    params(("id" = String, Path, description = "Check id (UUID)", format = Uuid)),
    responses(
        (status = 200, description = "The check", body = Check),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/checks/{id}")]
pub async fn get_check(
    state: web::Data<AppState>,
    id: web::Path<String>,
    reader: Reader,
) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::NotFound(format!("no check with id {id}"));
    let uuid: uuid::Uuid = id.parse().map_err(|_| not_found())?;
    let check = state.checks.json(uuid).await?.ok_or_else(not_found)?;
    Ok(HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::json())
        .body(Check::json_in(check, reader.0)))
}

/// `GET /v1/checks?inn=…`: the history of an INN.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct HistoryQuery {
    /// The INN whose checks to list.
    #[param(example = "7707083893")]
    pub inn: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// A page of an INN's checks, newest first.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(example = json!({"items": [Check::example()], "next_cursor": "1763632800000.0193a3c4-8f2e-7c1a-9b1e-5d2f3a4b5c6d"}))]
pub struct CheckPage {
    pub items: Vec<Check>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The check history of an INN, newest first: every check, pending, done or failed, with
/// the decision and reasons it had then.
#[utoipa::path(
    tag = "checks",
    params(HistoryQuery),
    responses(
        (status = 200, description = "A page of checks", body = CheckPage),
        (status = 422, description = "`inn_required`, `inn_digits`, `inn_length`, `inn_checksum`, `invalid_field` (`cursor`, `limit`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/checks")]
pub async fn check_history(
    state: web::Data<AppState>,
    query: super::query::Query<HistoryQuery>,
    reader: Reader,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let inn = Inn::parse(q.inn.as_deref().unwrap_or_default()).map_err(ApiError::Inn)?;
    let limit = match q.limit {
        None => 20,
        Some(n @ 1..=100) => n as usize,
        Some(_) => {
            return Err(ApiError::InvalidField {
                field: "limit",
                message: "from 1 to 100".into(),
            });
        }
    };
    let cursor = q
        .cursor
        .as_deref()
        .map(|c| {
            c.split_once('.')
                .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.parse().ok()?)))
                .ok_or_else(|| ApiError::InvalidField {
                    field: "cursor",
                    message: "not a cursor this service gave (`next_cursor` of a page)".into(),
                })
        })
        .transpose()?;
    let (checks, next_cursor) = state.checks.history(&inn, cursor, limit).await?;
    Ok(HttpResponse::Ok().json(CheckPage {
        items: checks
            .into_iter()
            .map(|c| c.in_language(reader.0))
            .collect(),
        next_cursor,
    }))
}
