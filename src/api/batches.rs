//! `POST /v1/checks/batch` and `GET /v1/batches/{id}`: up to a hundred INNs at once.

use super::AppState;
use super::errors::{ApiError, Problem};
use super::language::Reader;
use crate::check::batch::{Batch, BatchRequest, MAX_BATCH};
use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;

/// A batch of checks.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"inns": ["7701000019", "7701000058", "7701000026", "7701000018"], "wait_ms": 15000}))]
pub struct BatchRequestBody {
    /// 1 to 100 INNs, each validated on its own: an invalid or repeated one is that item's
    /// error, not the batch's.
    #[schema(min_items = 1, max_items = 100, example = json!(["7701000019", "7701000026"]))]
    pub inns: Vec<String>,
    /// As in `POST /v1/checks`, for every INN.
    #[schema(maximum = 315_360_000)]
    #[serde(default, deserialize_with = "crate::domain::lenient::integer")]
    pub max_age_s: Option<u64>,
    /// Scoring profile for every INN (default `default`).
    pub profile: Option<String>,
    /// How long to wait for the whole batch before answering `202` (default 15000, at most
    /// `check.max_wait_ms`).
    #[schema(maximum = 3_600_000)]
    #[serde(default, deserialize_with = "crate::domain::lenient::integer")]
    pub wait_ms: Option<u64>,
    /// Where to POST `batch.completed` with the finished batch (signed like a check's callback).
    pub callback_url: Option<String>,
}

/// Check up to 100 INNs at once.
///
/// Runs the checks a few at a time (`check.batch_concurrency`), answering `200` with every
/// item in input order when they finish within `wait_ms`, otherwise `202` with the batch so
/// far and a `Location` to poll. Each item is `{"inn", "check"}` or `{"inn", "error": {code,
/// detail}}` (`inn_checksum`, `duplicate`, …).
#[utoipa::path(
    tag = "checks",
    request_body = BatchRequestBody,
    responses(
        (status = 200, description = "Every item finished", body = Batch),
        (status = 202, description = "Still running; poll `Location`", body = Batch,
            headers(("Location" = String, description = "/v1/batches/{id}"))),
        (status = 400, description = "`malformed_json` or `unknown_field`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`body_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_field` (`inns`: none or more than 100; `max_age_s`, `wait_ms`, `callback_url`), `unknown_profile`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/checks/batch")]
pub async fn create_batch(
    state: web::Data<AppState>,
    body: super::json::Json<BatchRequestBody>,
    reader: Reader,
    principal: Option<web::ReqData<crate::auth::Principal>>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    if body.inns.is_empty() || body.inns.len() > MAX_BATCH {
        return Err(ApiError::InvalidField {
            field: "inns",
            message: format!("from 1 to {MAX_BATCH} INNs (a longer list: `kontragent batch`)"),
        });
    }
    let limits = super::checks::CheckLimits::of(body.max_age_s, body.wait_ms)?;
    if let Some(profile) = &body.profile
        && state.checks.rules().current().profile(profile).is_none()
    {
        return Err(crate::check::CheckError::UnknownProfile(profile.clone()).into());
    }
    let callback_url = body
        .callback_url
        .as_deref()
        .map(|url| state.webhooks.check_url("callback_url", url))
        .transpose()?;
    // Every INN takes from the budget, before any is checked: all of them, or the batch is
    // refused whole.
    state.checks.budget().admit(
        &super::checks::budget_key(principal.as_deref()),
        body.inns.len(),
    )?;
    let request = BatchRequest {
        inns: body.inns,
        max_age_s: limits.max_age_s,
        profile: body.profile,
        callback_url,
        requested_by: principal.map_or_else(|| "anonymous".into(), |p| p.actor(None)),
    };
    let wait = state.checks.wait_for(limits.wait_ms);
    let (id, handle) = state.batches.start(request).await?;
    match tokio::time::timeout(wait, handle).await {
        Ok(Ok(Ok(batch))) => Ok(HttpResponse::Ok().json(in_language(batch, reader))),
        Ok(Ok(Err(e))) => Err(e.into()),
        Ok(Err(join)) => Err(ApiError::internal(join)),
        Err(_) => {
            let batch = state.batches.get(id).await?.ok_or_else(|| {
                ApiError::internal(std::io::Error::other("a batch just recorded is gone"))
            })?;
            Ok(HttpResponse::Accepted()
                .insert_header(("Location", format!("/v1/batches/{id}")))
                .json(in_language(batch, reader)))
        }
    }
}

/// A batch's progress and its results so far, in input order.
#[utoipa::path(
    tag = "checks",
    params(("id" = String, Path, description = "Batch id (UUID)", format = Uuid)),
    responses(
        (status = 200, description = "The batch", body = Batch),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/batches/{id}")]
pub async fn get_batch(
    state: web::Data<AppState>,
    id: web::Path<String>,
    reader: Reader,
) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::NotFound(format!("no batch with id {id}"));
    let uuid: uuid::Uuid = id.parse().map_err(|_| not_found())?;
    let batch = state.batches.get(uuid).await?.ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(in_language(batch, reader)))
}

fn in_language(mut batch: Batch, reader: Reader) -> Batch {
    for check in batch.items.iter_mut().filter_map(|i| i.check.as_mut()) {
        check.translate(reader.0);
    }
    batch
}
