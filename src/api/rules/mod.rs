//! The ruleset as an analyst works with it: see the active version and its history,
//! validate a candidate, replay it on past checks, and reload the file without a restart.

pub mod explain;
pub mod versions;

use super::AppState;
use super::errors::{ApiError, Problem};
use super::language::Reader;
use crate::api::audit::AuditNote;
use crate::auth::Principal;
use crate::policy::{self, DryRunReport, DryRunRequest, DryRunScope, PolicyError, Validation};
use crate::storage::StoredRuleset;
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A profile of the active ruleset.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"name": "default", "base_score": 100, "approve_from": 70, "review_from": 40,
    "required_sources": ["egrul", "pb", "fedresurs", "bankrot"]}))]
pub struct ProfileView {
    #[schema(example = "default")]
    pub name: String,
    pub base_score: i64,
    pub approve_from: i64,
    pub review_from: i64,
    pub required_sources: Vec<String>,
}

/// A rule of the active ruleset.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"id": "mass_address", "title": "Mass registration address", "effect": "score", "delta": -30,
    "reads": ["company.mass_address"], "line": 174}))]
pub struct RuleView {
    #[schema(example = "terminated")]
    pub id: String,
    pub title: String,
    /// `reject`, `review` or `score`.
    pub effect: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<i64>,
    /// The facts its condition reads.
    pub reads: Vec<String>,
    /// Profiles it is limited to (absent: every profile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profiles: Option<Vec<String>>,
    pub line: usize,
}

/// The ruleset every new check uses.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"version": "3a59f4cd…", "path": "rules/default.toml", "loaded_at": "2026-11-28T09:00:00Z",
    "author": "startup", "comment": null, "profiles": [], "rules": [], "monitoring_version": "77ab01…",
    "monitoring_path": "rules/monitoring.toml"}))]
pub struct ActiveRulesetView {
    pub version: String,
    /// The monitoring policy in force (its versions are listed with the scoring ones).
    pub monitoring_version: String,
    pub monitoring_path: String,
    pub path: String,
    /// When this content was first loaded, by whom and why.
    pub loaded_at: DateTime<Utc>,
    pub author: String,
    pub comment: Option<String>,
    /// The last time this version came into force (a reload, the watch, a rollback), by
    /// whom and why; `GET /v1/rules/versions` lists every time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activated: Option<versions::Activation>,
    pub profiles: Vec<ProfileView>,
    pub rules: Vec<RuleView>,
    /// The last edit of the file that was refused (its problems), while this version stays
    /// in force; absent when the file on disk is the version in force.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_refused: Option<crate::rules::Refusal>,
}

/// Who reloads and why (both optional); the author is recorded beside the API key's name.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"author": "a.ivanova", "comment": "mass address penalty raised to 25"}))]
pub struct ReloadRequest {
    pub author: Option<String>,
    pub comment: Option<String>,
}

/// A reload's or a rollback's comment, recorded with the version: at most 2000 characters.
fn bounded_comment(comment: Option<&str>) -> Result<(), ApiError> {
    if comment.is_some_and(|c| c.chars().count() > 2000) {
        return Err(ApiError::InvalidField {
            field: "comment",
            message: "at most 2000 characters".into(),
        });
    }
    Ok(())
}

/// The largest body a rules route reads: twice the bound on a rules file
/// (`rules::bounds::MAX_RULESET_BYTES`), so a file the bound allows fits even as an escaped
/// JSON string. Not `server.max_body_bytes`: a rules file is bounded by its own rules.
pub const MAX_RULES_BODY: usize = 2 * crate::rules::bounds::MAX_RULESET_BYTES;

/// A rules route's body, read up to [`MAX_RULES_BODY`] (over it: `413 body_too_large`).
pub struct RulesBody(pub web::Bytes);

impl actix_web::FromRequest for RulesBody {
    type Error = ApiError;
    type Future = futures::future::LocalBoxFuture<'static, Result<RulesBody, ApiError>>;

    fn from_request(
        _req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        use futures::StreamExt;
        let mut payload = payload.take();
        Box::pin(async move {
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|_| ApiError::MalformedBody)?;
                if body.len() + chunk.len() > MAX_RULES_BODY {
                    return Err(ApiError::BodyTooLarge(MAX_RULES_BODY));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(RulesBody(body.freeze()))
        })
    }
}

fn invalid(e: PolicyError) -> ApiError {
    match e {
        PolicyError::Invalid(errors) if errors.iter().any(|e| e.too_costly) => {
            ApiError::RulesetTooCostly(errors)
        }
        PolicyError::Invalid(errors) => ApiError::InvalidRuleset(errors),
        PolicyError::UnknownVersion(version) => {
            ApiError::NotFound(format!("no rules version {version}"))
        }
        PolicyError::Busy => ApiError::Busy { retry_after_s: 5 },
        other => ApiError::internal(other),
    }
}

/// The active ruleset: version, file, who loaded it, its profiles and rules.
#[utoipa::path(tag = "rules", responses((status = 200, body = ActiveRulesetView)))]
#[get("/rules")]
pub async fn active_rules(
    state: web::Data<AppState>,
    reader: super::language::Reader,
) -> Result<HttpResponse, ApiError> {
    let info = StoredRuleset::clone(&state.policy.active().info());
    let activated = state
        .policy
        .active()
        .store()
        .activations("scoring")
        .await?
        .iter()
        .find(|a| a.version == info.version)
        .map(versions::Activation::from);
    let ruleset = state.policy.active().current();
    let monitoring = state.monitor.policy();
    Ok(HttpResponse::Ok().json(ActiveRulesetView {
        activated,
        version: info.version,
        monitoring_version: monitoring.current().version.clone(),
        monitoring_path: monitoring.path().display().to_string(),
        path: info.path,
        loaded_at: info.loaded_at,
        author: info.author,
        comment: info.comment,
        last_refused: state.policy.active().refused().map(|r| (*r).clone()),
        profiles: ruleset
            .profiles
            .values()
            .map(|p| ProfileView {
                name: p.name.clone(),
                base_score: p.base_score,
                approve_from: p.approve_from,
                review_from: p.review_from,
                required_sources: p.required_sources.clone(),
            })
            .collect(),
        rules: ruleset
            .rules
            .iter()
            .map(|r| RuleView {
                id: r.id.clone(),
                title: r.text.title(reader.0).to_owned(),
                effect: r.effect.kind().to_owned(),
                delta: match r.effect {
                    crate::scoring::Effect::Score(d) => Some(d),
                    _ => None,
                },
                reads: r.condition.reads().to_vec(),
                profiles: r.profiles.clone(),
                line: r.line,
            })
            .collect(),
    }))
}

/// What a reload did to both policy files.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"version": "3a59f4cd…", "changed": true, "monitoring_version": "77ab01…", "monitoring_changed": false}))]
pub struct ReloadReport {
    /// The scoring ruleset now active.
    pub version: String,
    pub changed: bool,
    /// The monitoring policy now active.
    pub monitoring_version: String,
    pub monitoring_changed: bool,
}

/// Reload the scoring ruleset and the monitoring policy now (the service also watches the
/// files, and reloads on SIGHUP).
///
/// A bad file is refused with every problem listed; its active version stays.
#[utoipa::path(
    tag = "rules",
    request_body(content = Option<ReloadRequest>, description = "Optional author and comment"),
    responses(
        (status = 200, body = ReloadReport),
        (status = 422, description = "`invalid_ruleset`, with `errors`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/rules/reload")]
pub async fn reload_rules(
    state: web::Data<AppState>,
    principal: web::ReqData<Principal>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let request: ReloadRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ReloadRequest::default()
    } else {
        serde_json::from_slice::<serde_json::Value>(&body)
            .and_then(|v| match v {
                serde_json::Value::Null => Ok(ReloadRequest::default()),
                object @ serde_json::Value::Object(_) => serde_json::from_value(object),
                _ => Err(serde::de::Error::custom(
                    "the body is a JSON object or null",
                )),
            })
            .map_err(|e| {
                let message = e.to_string();
                if message.starts_with("unknown field") {
                    ApiError::UnknownField(message)
                } else {
                    ApiError::MalformedJson(message)
                }
            })?
    };
    bounded_comment(request.comment.as_deref())?;
    let author = principal.actor(request.author.as_deref());
    let rules = state
        .policy
        .active()
        .reload(&author, request.comment.clone())
        .await
        .map_err(invalid)?;
    let monitoring = state
        .monitor
        .policy()
        .reload(&author, request.comment)
        .await
        .map_err(invalid)?;
    Ok(AuditNote::action("rules.reload")
        .detail(format!("{} / {}", rules.version, monitoring.version))
        .on(HttpResponse::Ok().json(ReloadReport {
            version: rules.version,
            changed: rules.changed,
            monitoring_version: monitoring.version,
            monitoring_changed: monitoring.changed,
        })))
}

/// `?kind=` of `POST /v1/rules/validate`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ValidateQuery {
    /// `scoring` or `monitoring`; without it, the file's content decides (a monitoring
    /// policy has no `[profiles]` and its rules name a `status`).
    pub kind: Option<policy::PolicyKind>,
}

/// Validate a candidate policy file — the scoring ruleset or the monitoring policy — without
/// activating it (its text as the body). Every problem at once, with rule id and line.
#[utoipa::path(
    tag = "rules",
    params(ValidateQuery),
    request_body(content = Option<String>, content_type = "text/plain", description = "The TOML file"),
    responses(
        (status = 200, description = "`valid` says whether it compiles; `errors` name the rule and line", body = Validation),
        (status = 400, description = "`invalid_query` (`kind`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`service_busy`: as many validations and dry-runs as there are cores are running and this one's turn did not come within `rules.dry_run_timeout_ms`; retry after `Retry-After`", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = String, description = "seconds"))),
    )
)]
#[post("/rules/validate")]
pub async fn validate_rules(
    state: web::Data<AppState>,
    query: super::query::Query<ValidateQuery>,
    RulesBody(body): RulesBody,
) -> Result<HttpResponse, ApiError> {
    let body = String::from_utf8(body.to_vec()).map_err(|_| ApiError::MalformedBody)?;
    let _turn = state
        .policy
        .turn(std::time::Instant::now())
        .await
        .map_err(invalid)?;
    Ok(HttpResponse::Ok().json(policy::validate_untrusted(body, query.into_inner().kind).await))
}

/// Replay a candidate ruleset on the stored facts of past checks, fetching nothing: how
/// many decisions and reasons would change, how often each rule would fire, with examples
/// and their messages. Send the TOML file as the body (`text/plain`, parameters in the
/// query), or JSON `{"ruleset": "…", "from": …}`.
#[utoipa::path(
    tag = "rules",
    params(DryRunScope),
    request_body(content(
        (String = "text/plain"),
        (DryRunRequest = "application/json"),
    ), description = "The candidate ruleset's TOML (parameters in the query), or JSON with `ruleset` and the parameters"),
    responses(
        (status = 200, body = DryRunReport),
        (status = 400, description = "`invalid_query` (naming the parameter), `malformed_json` or `unknown_field`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_field` (a JSON field, named), `invalid_ruleset`, or `ruleset_too_costly` when a condition or the whole file is over the size and cost bounds", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`service_busy`: as many validations and dry-runs as there are cores are running and this one's turn did not come within `rules.dry_run_timeout_ms`; retry after `Retry-After`", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = String, description = "seconds"))),
    )
)]
#[post("/rules/dry-run")]
pub async fn dry_run(
    state: web::Data<AppState>,
    request: actix_web::HttpRequest,
    query: super::query::Query<DryRunScope>,
    reader: Reader,
    RulesBody(body): RulesBody,
) -> Result<HttpResponse, ApiError> {
    let is_json = request
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    let (ruleset, scope) = if is_json {
        let request = dry_run_json(&body)?;
        (request.ruleset, request.scope)
    } else {
        let text = String::from_utf8(body.to_vec()).map_err(|_| ApiError::MalformedBody)?;
        (text, query.into_inner())
    };
    if scope.limit.is_some_and(|l| !(1..=1_000_000).contains(&l)) {
        return Err(ApiError::InvalidField {
            field: "limit",
            message: "from 1 to 1000000 (at most rules.dry_run_max_checks are replayed)".into(),
        });
    }
    if scope.examples.is_some_and(|e| e > 1000) {
        return Err(ApiError::InvalidField {
            field: "examples",
            message: "at most 1000".into(),
        });
    }
    let report = state
        .policy
        .dry_run(&ruleset, &scope, reader.0)
        .await
        .map_err(invalid)?;
    Ok(HttpResponse::Ok().json(report))
}

/// A JSON dry-run body, each mistake naming its field (`from`: not a date…).
fn dry_run_json(body: &[u8]) -> Result<DryRunRequest, ApiError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let serde_json::Value::Object(mut fields) = value else {
        return Err(ApiError::MalformedJson(
            "the body is a JSON object with `ruleset`".into(),
        ));
    };
    let Some(serde_json::Value::String(ruleset)) = fields.remove("ruleset") else {
        return Err(ApiError::InvalidField {
            field: "ruleset",
            message: "the candidate ruleset's TOML text, as a string".into(),
        });
    };
    if let Some(unknown) = fields
        .keys()
        .find(|k| !DryRunScope::FIELDS.contains(&k.as_str()))
    {
        return Err(ApiError::UnknownField(format!(
            "unknown field `{unknown}`, expected one of `ruleset`, {}",
            DryRunScope::FIELDS
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let scope = serde_path_to_error::deserialize(serde_json::Value::Object(fields)).map_err(
        |e: serde_path_to_error::Error<serde_json::Error>| {
            let path = e.path().to_string();
            let field = DryRunScope::FIELDS
                .iter()
                .find(|f| **f == path)
                .copied()
                .unwrap_or("ruleset");
            ApiError::InvalidField {
                field,
                message: e.inner().to_string(),
            }
        },
    )?;
    Ok(DryRunRequest { ruleset, scope })
}

/// `?examples=` of `POST /v1/rules/dry-run/monitoring`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MonitoringDryRunQuery {
    /// Most examples to return (default 20, at most 1000).
    #[param(minimum = 0, maximum = 1000)]
    #[serde(default, deserialize_with = "crate::domain::lenient::integer")]
    pub examples: Option<u32>,
}

/// Judge every listed contractor under a candidate monitoring policy (its TOML as the body)
/// and under the one in force, as a quality signal is judged — over its latest check's facts
/// and its quality facts now — fetching nothing and moving nothing: the statuses and
/// reasons that would change, each rule's hits before and after, examples with messages.
#[utoipa::path(
    tag = "rules",
    params(MonitoringDryRunQuery),
    request_body(content = String, content_type = "text/plain", description = "The candidate monitoring policy's TOML"),
    responses(
        (status = 200, body = crate::monitoring::MonitoringDryRun),
        (status = 400, description = "`invalid_query` (`examples`), `malformed_body`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_field` (`examples` over 1000), `invalid_ruleset` or `ruleset_too_costly`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`service_busy`: as many validations and dry-runs as there are cores are running and this one's turn did not come within `rules.dry_run_timeout_ms`; retry after `Retry-After`", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = String, description = "seconds"))),
    )
)]
#[post("/rules/dry-run/monitoring")]
pub async fn monitoring_dry_run(
    state: web::Data<AppState>,
    query: super::query::Query<MonitoringDryRunQuery>,
    reader: Reader,
    RulesBody(body): RulesBody,
) -> Result<HttpResponse, ApiError> {
    let examples = query.into_inner().examples.unwrap_or(20);
    if examples > 1000 {
        return Err(ApiError::InvalidField {
            field: "examples",
            message: "at most 1000".into(),
        });
    }
    let text = String::from_utf8(body.to_vec()).map_err(|_| ApiError::MalformedBody)?;
    let _turn = state
        .policy
        .turn(std::time::Instant::now())
        .await
        .map_err(invalid)?;
    let report = state
        .monitor
        .dry_run(&text, examples as usize, reader.0)
        .await
        .map_err(invalid)?;
    Ok(HttpResponse::Ok().json(report))
}
