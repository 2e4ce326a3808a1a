//! The ruleset as an analyst works with it: see the active version and its history,
//! validate a candidate, replay it on past checks, and reload the file without a restart.

pub mod explain;

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
    pub loaded_at: DateTime<Utc>,
    pub author: String,
    pub comment: Option<String>,
    pub profiles: Vec<ProfileView>,
    pub rules: Vec<RuleView>,
    /// The last edit of the file that was refused (its problems), while this version stays
    /// in force; absent when the file on disk is the version in force.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_refused: Option<crate::rules::Refusal>,
}

/// A policy file version the service has loaded.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"kind": "scoring", "version": "3a59f4cdaf8aee003911fe9a776bcb5e0fdf396fb77cf0fa143b17aeb8349929",
    "path": "rules/default.toml", "loaded_at": "2026-11-28T09:00:00Z", "author": "analyst (a.ivanova)", "comment": "mass address −30",
    "activations": [{"at": "2026-11-28T09:00:00Z", "path": "rules/default.toml", "author": "analyst (a.ivanova)", "comment": "mass address −30", "pinned": false}]}))]
pub struct RulesetVersion {
    /// Which policy file: `scoring` (the ruleset) or `monitoring` (the monitoring policy).
    #[schema(example = "scoring")]
    pub kind: String,
    /// SHA-256 of the file's bytes.
    pub version: String,
    pub path: String,
    /// When this content was first loaded.
    pub loaded_at: DateTime<Utc>,
    /// Who loaded it: `startup`, `file-watch`, `SIGHUP`, or the API key (and person) that
    /// reloaded it.
    pub author: String,
    pub comment: Option<String>,
    /// Every time this version became the one in force, newest first: at start-up, by a
    /// reload or the file watch, or by a rollback.
    pub activations: Vec<Activation>,
}

/// A time a version became the one in force.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"at": "2026-12-01T10:00:00Z", "path": "rules/default.toml", "author": "analyst", "comment": "rollback: too many rejects", "pinned": false}))]
pub struct Activation {
    pub at: DateTime<Utc>,
    /// The file it was read from, or written to by a rollback.
    pub path: String,
    /// `startup`, `file-watch`, `SIGHUP`, or the API key (and person).
    pub author: String,
    pub comment: Option<String>,
    /// A rollback the file could not take (read-only): the version is pinned in the database
    /// over the file until the file is edited.
    pub pinned: bool,
}

impl RulesetVersion {
    /// The stored version with its activations (of every version of its kind).
    fn new(stored: StoredRuleset, activations: &[crate::storage::PolicyActivation]) -> Self {
        RulesetVersion {
            activations: activations
                .iter()
                .filter(|a| a.kind == stored.kind && a.version == stored.version)
                .map(|a| Activation {
                    at: a.activated_at,
                    path: a.path.clone(),
                    author: a.author.clone(),
                    comment: a.comment.clone(),
                    pinned: a.pinned_over.is_some(),
                })
                .collect(),
            kind: stored.kind,
            version: stored.version,
            path: stored.path,
            loaded_at: stored.loaded_at,
            author: stored.author,
            comment: stored.comment,
        }
    }
}

/// Every version the service has loaded.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"active": "3a59f4cd…", "monitoring_active": "77ab01…", "versions": [
    {"kind": "scoring", "version": "3a59f4cd…", "path": "rules/default.toml", "loaded_at": "2026-11-28T09:00:00Z", "author": "startup", "comment": null,
     "activations": [{"at": "2026-11-28T09:00:00Z", "path": "rules/default.toml", "author": "startup", "comment": null, "pinned": false}]},
    {"kind": "monitoring", "version": "77ab01…", "path": "rules/monitoring.toml", "loaded_at": "2026-11-28T09:00:00Z", "author": "startup", "comment": null,
     "activations": [{"at": "2026-11-28T09:00:00Z", "path": "rules/monitoring.toml", "author": "startup", "comment": null, "pinned": false}]}]}))]
pub struct VersionsView {
    /// The scoring ruleset in force.
    pub active: String,
    /// The monitoring policy in force.
    pub monitoring_active: String,
    /// Both files' versions, newest first.
    pub versions: Vec<RulesetVersion>,
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
) -> HttpResponse {
    let info = StoredRuleset::clone(&state.policy.active().info());
    let ruleset = state.policy.active().current();
    let monitoring = state.monitor.policy();
    HttpResponse::Ok().json(ActiveRulesetView {
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
    })
}

/// Every version of the ruleset and of the monitoring policy loaded so far, newest first;
/// each check's `ruleset_version` is one of the `scoring` ones.
#[utoipa::path(tag = "rules", responses((status = 200, body = VersionsView)))]
#[get("/rules/versions")]
pub async fn rule_versions(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let versions = all_versions(&state).await?;
    let store = state.policy.active().store();
    let mut activations = store.activations("scoring").await?;
    activations.extend(store.activations("monitoring").await?);
    Ok(HttpResponse::Ok().json(VersionsView {
        active: state.policy.active().info().version.clone(),
        monitoring_active: state.monitor.policy().info().version.clone(),
        versions: versions
            .into_iter()
            .map(|v| RulesetVersion::new(v, &activations))
            .collect(),
    }))
}

/// One version of a policy file with its text.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"kind": "scoring", "version": "3a59f4cdaf8aee003911fe9a776bcb5e0fdf396fb77cf0fa143b17aeb8349929",
    "path": "rules/default.toml", "loaded_at": "2026-11-28T09:00:00Z", "author": "analyst (a.ivanova)", "comment": "mass address −30",
    "content": "[profiles.default]\nbase_score = 100\n…"}))]
pub struct RulesetVersionText {
    /// `scoring` or `monitoring`.
    pub kind: String,
    /// SHA-256 of `content`.
    pub version: String,
    pub path: String,
    pub loaded_at: DateTime<Utc>,
    pub author: String,
    pub comment: Option<String>,
    /// The file's text as it was loaded.
    pub content: String,
}

/// One version of the ruleset or of the monitoring policy, with the file's text as it was
/// loaded (what a check's `ruleset_version` was decided under).
#[utoipa::path(
    tag = "rules",
    params(("version" = String, Path, description = "SHA-256 of the file (`ruleset_version` of a check), or a unique prefix of at least 7 digits")),
    responses(
        (status = 200, body = RulesetVersionText),
        (status = 409, description = "`ambiguous_version`: the prefix begins several versions (listed)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_field`: not hex, or a prefix shorter than 7", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/rules/versions/{version}")]
pub async fn rule_version(
    state: web::Data<AppState>,
    version: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let versions = all_versions(&state).await?;
    let found = resolve_version(&versions, &version, "version")?.clone();
    Ok(HttpResponse::Ok().json(RulesetVersionText {
        kind: found.kind,
        version: found.version,
        path: found.path,
        loaded_at: found.loaded_at,
        author: found.author,
        comment: found.comment,
        content: found.content,
    }))
}

/// Versions are shown shortened (the CLI, the README, `git`-style): at least this many
/// leading hex digits name one.
pub const VERSION_PREFIX_MIN: usize = 7;

/// The stored version `given` names: its whole SHA-256, or a prefix of at least
/// [`VERSION_PREFIX_MIN`] characters that only one version (of either file) starts with.
fn resolve_version<'a>(
    versions: &'a [StoredRuleset],
    given: &str,
    field: &'static str,
) -> Result<&'a StoredRuleset, ApiError> {
    let given = given.trim().to_ascii_lowercase();
    if let Some(exact) = versions.iter().find(|v| v.version == given) {
        return Ok(exact);
    }
    if given.len() < VERSION_PREFIX_MIN || !given.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::InvalidField {
            field,
            message: format!(
                "a version is its SHA-256 in hex, or the first {VERSION_PREFIX_MIN} or more of its digits"
            ),
        });
    }
    let mut candidates: Vec<&StoredRuleset> = versions
        .iter()
        .filter(|v| v.version.starts_with(&given))
        .collect();
    candidates.dedup_by(|a, b| a.version == b.version);
    match candidates.as_slice() {
        [] => Err(ApiError::NotFound(format!("no rules version {given}"))),
        [one] => Ok(one),
        many => Err(ApiError::Refused {
            status: 409,
            code: "ambiguous_version",
            message: format!(
                "{given} begins {} versions: {}; give more digits",
                many.len(),
                many.iter()
                    .map(|v| format!("{} ({})", v.version, v.kind))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

/// Every stored version of both policy files, newest first.
async fn all_versions(state: &AppState) -> Result<Vec<StoredRuleset>, ApiError> {
    let mut versions = state.policy.active().versions().await?;
    versions.extend(state.monitor.policy().versions().await?);
    versions.sort_by(|a, b| b.loaded_at.cmp(&a.loaded_at).then(a.kind.cmp(&b.kind)));
    Ok(versions)
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

/// `?from=&to=` of `GET /v1/rules/diff`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiffQuery {
    /// The older version (SHA-256, as `GET /v1/rules/versions` lists it, or a unique
    /// prefix of at least 7 digits).
    pub from: String,
    /// The newer version (or its prefix); default: the version of the same file now in force.
    pub to: Option<String>,
}

/// Two versions of one policy file compared.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"kind": "scoring", "from": "9b1c07…", "to": "3a59f4cd…",
    "rules": {"added": ["young_and_sued"], "removed": [], "changed": ["mass_address"]},
    "unified": "--- 9b1c07…\n+++ 3a59f4cd…\n@@ -228,7 +228,7 @@\n-delta = -20\n+delta = -30\n"}))]
pub struct RulesDiff {
    /// `scoring` or `monitoring`.
    pub kind: String,
    pub from: String,
    pub to: String,
    /// The rules added, removed and changed, by id.
    pub rules: crate::rules::diff::RuleChanges,
    /// A unified diff of the two files' texts.
    pub unified: String,
}

/// Compare two versions of the ruleset (or of the monitoring policy): the rules added,
/// removed and changed by id, and a unified diff of the texts.
#[utoipa::path(
    tag = "rules",
    params(DiffQuery),
    responses(
        (status = 200, body = RulesDiff),
        (status = 400, description = "`invalid_query` (`from` missing)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such version", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`ambiguous_version`: a prefix begins several versions (listed)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`versions_of_different_files`: one is the ruleset, the other the monitoring policy; `invalid_field` (`from`, `to`): not hex, or a prefix shorter than 7", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/rules/diff")]
pub async fn rules_diff(
    state: web::Data<AppState>,
    query: super::query::Query<DiffQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let versions = all_versions(&state).await?;
    let from = resolve_version(&versions, &query.from, "from")?;
    let active = if from.kind == "monitoring" {
        state.monitor.policy().info()
    } else {
        state.policy.active().info()
    };
    let to = resolve_version(
        &versions,
        query.to.as_deref().unwrap_or(&active.version),
        "to",
    )?;
    if to.kind != from.kind {
        return Err(ApiError::Refused {
            status: 422,
            code: "versions_of_different_files",
            message: format!(
                "{} is a {} version and {} a {} one: compare versions of one file",
                from.version, from.kind, to.version, to.kind
            ),
        });
    }
    Ok(HttpResponse::Ok().json(RulesDiff {
        kind: from.kind.clone(),
        from: from.version.clone(),
        to: to.version.clone(),
        rules: crate::rules::diff::rule_changes(&from.content, &to.content),
        unified: crate::rules::diff::unified(
            &from.content,
            &to.content,
            &from.version,
            &to.version,
        ),
    }))
}

/// Which version to bring back, and why.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"version": "9b1c07…", "comment": "the new mass-address penalty rejected too many"}))]
pub struct RollbackRequest {
    /// A stored version of the ruleset or of the monitoring policy (its SHA-256, or a
    /// unique prefix of at least 7 digits).
    pub version: String,
    pub comment: Option<String>,
}

/// Make an earlier version of the ruleset (or of the monitoring policy) the one in force.
/// Its text is written to the rules file atomically; when the file is read-only the version
/// is pinned in the database instead (`file_written: false`) until the file is edited. The
/// activation is recorded with the API key's name as its author.
#[utoipa::path(
    tag = "rules",
    request_body = RollbackRequest,
    responses(
        (status = 200, body = crate::rules::RollbackOutcome),
        (status = 404, description = "`not_found`: no such version", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`ambiguous_version`: the prefix begins several versions (listed)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_field`, or `invalid_ruleset` when the version no longer compiles (a fact it reads is gone)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/rules/rollback")]
pub async fn rollback_rules(
    state: web::Data<AppState>,
    principal: web::ReqData<Principal>,
    body: crate::api::json::Json<RollbackRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut request = body.into_inner();
    bounded_comment(request.comment.as_deref())?;
    let versions = all_versions(&state).await?;
    request.version = resolve_version(&versions, &request.version, "version")?
        .version
        .clone();
    let author = principal.actor(None);
    let scoring = state.policy.active();
    let monitoring = state.monitor.policy();
    let outcome = if scoring.has_version(&request.version).await? {
        scoring
            .rollback(&request.version, &author, request.comment.clone())
            .await
    } else if monitoring.has_version(&request.version).await? {
        monitoring
            .rollback(&request.version, &author, request.comment.clone())
            .await
    } else {
        return Err(ApiError::NotFound(format!(
            "no rules version {}",
            request.version
        )));
    }
    .map_err(invalid)?;
    Ok(AuditNote::action("rules.rollback")
        .detail(format!("{} → {}", outcome.previous, outcome.version))
        .on(HttpResponse::Ok().json(outcome)))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(kind: &str, version: &str) -> StoredRuleset {
        StoredRuleset {
            kind: kind.into(),
            version: version.into(),
            content: String::new(),
            path: String::new(),
            loaded_at: chrono::Utc::now(),
            author: "startup".into(),
            comment: None,
        }
    }

    #[test]
    fn a_version_is_named_by_its_hash_or_a_unique_prefix_of_seven() {
        let versions = [
            stored("scoring", "3a59f4cdaf8aee00"),
            stored("monitoring", "3a59f4c0000aee00"),
            stored("scoring", "9b1c07aa11bb22cc"),
        ];
        let found = |given| resolve_version(&versions, given, "version").map(|v| &v.version);
        assert_eq!(found("9b1c07aa11bb22cc").unwrap(), "9b1c07aa11bb22cc");
        assert_eq!(found("9B1C07A").unwrap(), "9b1c07aa11bb22cc");
        assert_eq!(found("3a59f4cd").unwrap(), "3a59f4cdaf8aee00");
        let ambiguous = found("3a59f4c").unwrap_err();
        assert!(
            matches!(&ambiguous, ApiError::Refused { status: 409, code: "ambiguous_version", message }
                if message.contains("3a59f4cdaf8aee00 (scoring)") && message.contains("3a59f4c0000aee00 (monitoring)")),
            "{ambiguous:?}"
        );
        assert!(matches!(
            found("9b1c07"),
            Err(ApiError::InvalidField {
                field: "version",
                ..
            })
        ));
        assert!(matches!(
            found("9b1c07z"),
            Err(ApiError::InvalidField { .. })
        ));
        assert!(matches!(found("0000000"), Err(ApiError::NotFound(_))));
    }
}
