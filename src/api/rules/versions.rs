//! The versions of both policy files: the list, one version's text, two compared, and a
//! rollback to one — each named by its SHA-256 or a unique prefix of it.

use super::{bounded_comment, invalid};
use crate::api::AppState;
use crate::api::audit::AuditNote;
use crate::api::errors::{ApiError, Problem};
use crate::auth::Principal;
use crate::storage::StoredRuleset;
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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

impl From<&crate::storage::PolicyActivation> for Activation {
    fn from(a: &crate::storage::PolicyActivation) -> Self {
        Activation {
            at: a.activated_at,
            path: a.path.clone(),
            author: a.author.clone(),
            comment: a.comment.clone(),
            pinned: a.pinned_over.is_some(),
        }
    }
}

impl RulesetVersion {
    /// The stored version with its activations (of every version of its kind).
    fn new(stored: StoredRuleset, activations: &[crate::storage::PolicyActivation]) -> Self {
        RulesetVersion {
            activations: activations
                .iter()
                .filter(|a| a.kind == stored.kind && a.version == stored.version)
                .map(Activation::from)
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
    query: crate::api::query::Query<DiffQuery>,
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
