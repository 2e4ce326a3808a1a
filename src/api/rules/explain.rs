//! `POST /v1/rules/explain`: the CLI's `rules explain` over the API — the latest stored
//! check of an INN re-decided under a candidate ruleset (or the one in force), beside what
//! was decided, nothing fetched.

use super::{RulesBody, invalid};
use crate::api::AppState;
use crate::api::errors::{ApiError, Problem};
use crate::api::language::Reader;
use crate::domain::{Decision, Inn};
use crate::policy::{Explanation, ReasonChange};
use crate::scoring::Reason;
use actix_web::{HttpResponse, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `?inn=&profile=` of `POST /v1/rules/explain`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExplainQuery {
    /// The INN whose latest finished check is re-decided.
    #[param(example = "7701000058")]
    pub inn: String,
    /// The profile to apply (default: the one the check used).
    pub profile: Option<String>,
}

/// A decision with what it was made under.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"decision": "review", "score": 100, "ruleset_version": "3a59f4cd…", "profile": "default"}))]
pub struct Judgement {
    pub decision: Option<Decision>,
    pub score: Option<i64>,
    /// The ruleset's version (SHA-256 of the file).
    pub ruleset_version: Option<String>,
    pub profile: String,
}

/// A reason of either decision, marked by how it changed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExplainedReason {
    pub change: ReasonChange,
    pub reason: Reason,
}

/// A stored check beside the same facts under a ruleset.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"inn": "7701000058", "check_id": "0193a3c4-8f2e-7c1a-9b1e-5d2f3a4b5c6d",
    "checked_at": "2026-12-04T16:42:00Z",
    "before": {"decision": "review", "score": 100, "ruleset_version": "3a59f4cd…", "profile": "default"},
    "after": {"decision": "reject", "score": 100, "ruleset_version": "9b1c07…", "profile": "default"},
    "reasons": [{"change": "changed", "reason": {"rule_id": "reorganizing", "title": "Reorganization", "effect": "reject",
        "message": "Компания в процессе реорганизации", "inputs": []}}]}))]
pub struct ExplainReport {
    pub inn: String,
    pub check_id: uuid::Uuid,
    pub checked_at: Option<DateTime<Utc>>,
    /// As the check was decided.
    pub before: Judgement,
    /// Its facts under the ruleset given (or the one in force).
    pub after: Judgement,
    /// The new decision's reasons (`kept`, `changed`, `added`), then the stored ones it no
    /// longer gives (`removed`).
    pub reasons: Vec<ExplainedReason>,
}

impl From<Explanation> for ExplainReport {
    fn from(e: Explanation) -> Self {
        let reasons = e
            .changes()
            .into_iter()
            .map(|(change, reason)| ExplainedReason {
                change,
                reason: reason.clone(),
            })
            .collect();
        let before = &e.before;
        ExplainReport {
            inn: before.inn.clone(),
            check_id: before.id,
            checked_at: before.checked_at,
            before: Judgement {
                decision: before.decision,
                score: before.score,
                ruleset_version: before.ruleset_version.clone(),
                profile: before.profile.clone(),
            },
            after: Judgement {
                decision: Some(e.after.decision),
                score: Some(e.after.score),
                ruleset_version: Some(e.version.clone()),
                profile: e.profile.clone(),
            },
            reasons,
        }
    }
}

/// Why a company got its decision, and what a candidate ruleset would decide: the latest
/// stored check of the INN re-decided under the TOML in the body (empty: the ruleset in
/// force), nothing fetched — the decision and score before and after, each reason kept,
/// changed, added or removed. The same as `kontragent rules explain INN --rules FILE`.
#[utoipa::path(
    tag = "rules",
    params(ExplainQuery),
    request_body(content = Option<String>, content_type = "text/plain", description = "The candidate ruleset's TOML; empty: the ruleset in force"),
    responses(
        (status = 200, body = ExplainReport),
        (status = 400, description = "`invalid_query` (`inn` missing), `malformed_body`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: the INN was never checked here", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`inn_digits`, `inn_length`, `inn_checksum`; `invalid_ruleset` (an unknown profile too) or `ruleset_too_costly`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`service_busy`: as many validations and dry-runs as there are cores are running and this one's turn did not come within `rules.dry_run_timeout_ms`; retry after `Retry-After`", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = String, description = "seconds"))),
    )
)]
#[post("/rules/explain")]
pub async fn explain(
    state: web::Data<AppState>,
    query: crate::api::query::Query<ExplainQuery>,
    reader: Reader,
    RulesBody(body): RulesBody,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let inn = Inn::parse(&query.inn).map_err(ApiError::Inn)?;
    let text = String::from_utf8(body.to_vec()).map_err(|_| ApiError::MalformedBody)?;
    let candidate = Some(text).filter(|t| !t.trim().is_empty());
    let explained = state
        .policy
        .explain_latest(&inn, candidate, query.profile.as_deref(), reader.0)
        .await
        .map_err(invalid)?
        .ok_or_else(|| ApiError::NotFound(format!("INN {inn} has never been checked")))?;
    Ok(HttpResponse::Ok().json(ExplainReport::from(explained)))
}
