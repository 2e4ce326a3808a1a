//! The customer's policy over time: the active ruleset and its stored versions, hot
//! reload (file watch, SIGHUP, API) that refuses a bad file and keeps the last good one,
//! validation of a candidate file, and a dry-run of a candidate against past checks.

use crate::domain::Decision;
use crate::facts::{self, Facts};
use crate::rules::{ExampleReason, Reloadable, Requirement, RuleHits, compile_off_thread};
use crate::scoring::{RuleError, Ruleset};
use crate::storage::Store;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use crate::rules::{PolicyError, ReloadOutcome};

/// The scoring ruleset in force, and what an analyst does with candidates.
pub struct Policy {
    active: Arc<Reloadable<Ruleset>>,
    limits: DryRunLimits,
    /// Validations and dry-runs running at once: one per core, the rest wait their turn.
    work: tokio::sync::Semaphore,
}

impl Policy {
    /// Loads the configured ruleset (a bad one stops start-up); it must have the profile
    /// the service defaults to.
    pub async fn start(
        settings: &crate::config::RulesSettings,
        store: Arc<dyn Store>,
    ) -> Result<Arc<Policy>, PolicyError> {
        let default_profile = settings.default_profile.clone();
        let has_default: Requirement<Ruleset> = Box::new(move |ruleset: &Ruleset| {
            if ruleset.profile(&default_profile).is_some() {
                return Ok(());
            }
            Err(vec![RuleError::general(format!(
                "the ruleset has no profile `{default_profile}` (rules.default_profile)"
            ))])
        });
        let active = Reloadable::start(PathBuf::from(&settings.path), store, has_default).await?;
        let limits = DryRunLimits {
            max_checks: settings.dry_run_max_checks,
            timeout: Duration::from_millis(settings.dry_run_timeout_ms),
        };
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Ok(Arc::new(Policy {
            active,
            limits,
            work: tokio::sync::Semaphore::new(cores),
        }))
    }

    /// A turn for rules work (a validation, a dry-run), waited for at most until
    /// `rules.dry_run_timeout_ms` from `since`: past it, [`PolicyError::Busy`]. Held while the
    /// work runs, so many candidates at once queue instead of sharing the cores past their
    /// deadlines.
    pub async fn turn(
        &self,
        since: std::time::Instant,
    ) -> Result<tokio::sync::SemaphorePermit<'_>, PolicyError> {
        take_turn(&self.work, since + self.limits.timeout).await
    }

    /// The ruleset in force, its versions and its reload.
    pub fn active(&self) -> &Arc<Reloadable<Ruleset>> {
        &self.active
    }

    fn store(&self) -> &Arc<dyn Store> {
        self.active.store()
    }

    /// The latest check of every catalog entry still listed (not removed), up to `limit`.
    async fn catalog_checks(
        &self,
        limit: i64,
    ) -> Result<Vec<crate::storage::StoredCheck>, PolicyError> {
        let mut out = Vec::new();
        let mut filter = crate::catalog::CatalogFilter {
            limit: 500,
            ..Default::default()
        };
        loop {
            let page = self.store().list_entries(&filter).await?;
            let Some(last) = page.last() else { break };
            filter.after = Some(last.inn.clone());
            for entry in &page {
                if entry.status == crate::catalog::CatalogStatus::Removed {
                    continue;
                }
                let Ok(inn) = crate::domain::Inn::parse(&entry.inn) else {
                    continue;
                };
                if let Some(check) = self.store().latest_check(&inn).await? {
                    out.push(check);
                }
                if out.len() as i64 >= limit {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }

    /// Evaluates `candidate` over the stored facts of past checks, fetching nothing.
    ///
    /// The candidate is compiled off the async workers; the replay runs on the blocking
    /// pool, over at most `limits.max_checks` checks, and stops at `limits.timeout`
    /// with a report marked `partial`.
    pub async fn dry_run(
        &self,
        candidate: &str,
        request: &DryRunScope,
        language: crate::domain::Language,
    ) -> Result<DryRunReport, PolicyError> {
        let limits = self.limits;
        let started = std::time::Instant::now();
        let _turn = self.turn(started).await?;
        let owned = candidate.to_owned();
        let ruleset = compile_off_thread(move || Ruleset::parse(&owned))
            .await
            .map_err(PolicyError::Invalid)?;
        if let Some(p) = &request.profile
            && ruleset.profile(p).is_none()
        {
            return Err(PolicyError::Invalid(vec![RuleError::general(format!(
                "the candidate has no profile `{p}`"
            ))]));
        }
        let to = request.to.unwrap_or_else(Utc::now);
        let from = request.from.unwrap_or(DateTime::<Utc>::MIN_UTC);
        let limit = i64::from(
            request
                .limit
                .unwrap_or(limits.max_checks)
                .clamp(1, limits.max_checks),
        );
        let checks = if request.catalog.unwrap_or(false) {
            self.catalog_checks(limit).await?
        } else {
            self.store().latest_done_checks(from, to, limit).await?
        };
        let replay = Replay {
            ruleset,
            profile: request.profile.clone(),
            max_examples: request.examples.unwrap_or(20).min(1_000) as usize,
            language,
            deadline: started + limits.timeout,
        };
        tokio::task::spawn_blocking(move || replay.run(checks))
            .await
            .map_err(|e| PolicyError::Replay(e.to_string()))
    }
}

/// A permit of `work`, waited for until `deadline` (one free at once is taken even past it).
async fn take_turn(
    work: &tokio::sync::Semaphore,
    deadline: std::time::Instant,
) -> Result<tokio::sync::SemaphorePermit<'_>, PolicyError> {
    let deadline = tokio::time::Instant::from_std(deadline);
    match tokio::time::timeout_at(deadline, work.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(PolicyError::Busy),
    }
}

/// Bounds of one dry-run (`rules.dry_run_max_checks`, `rules.dry_run_timeout_ms`).
#[derive(Debug, Clone, Copy)]
pub struct DryRunLimits {
    pub max_checks: u32,
    pub timeout: Duration,
}

/// A compiled candidate judging past checks, on a blocking thread.
struct Replay {
    ruleset: Ruleset,
    profile: Option<String>,
    max_examples: usize,
    language: crate::domain::Language,
    deadline: std::time::Instant,
}

/// The rule ids a stored check's document shows as its reasons.
fn stored_reasons(document: &str) -> BTreeSet<String> {
    let Ok(check) = serde_json::from_str::<serde_json::Value>(document) else {
        return BTreeSet::new();
    };
    check["reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["rule_id"].as_str().map(str::to_owned))
        .collect()
}

/// The registries the facts say a profile needed and could not have.
fn required_missing(facts: &Facts) -> BTreeSet<String> {
    facts
        .get("sources.required_missing")
        .and_then(|f| f.value.as_array())
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

impl Replay {
    fn run(self, checks: Vec<crate::storage::StoredCheck>) -> DryRunReport {
        let ruleset = &self.ruleset;
        let mut report = DryRunReport {
            candidate_version: ruleset.version.clone(),
            inns: checks
                .iter()
                .map(|c| c.inn.as_str())
                .collect::<BTreeSet<_>>()
                .len() as u64,
            evaluated: 0,
            changed: 0,
            reasons_changed: 0,
            skipped: 0,
            partial: false,
            transitions: Vec::new(),
            rules: Vec::new(),
            newly_unchecked: Vec::new(),
            examples: Vec::new(),
        };
        let mut transitions: BTreeMap<(Decision, Decision), u64> = BTreeMap::new();
        let mut hits: BTreeMap<String, RuleHits> = ruleset
            .rules
            .iter()
            .map(|r| (r.id.clone(), RuleHits::new(&r.id)))
            .collect();
        for check in checks {
            if std::time::Instant::now() >= self.deadline {
                report.partial = true;
                break;
            }
            let (Some(facts_json), Some(before)) = (
                check.facts,
                check.decision.as_deref().and_then(Decision::parse),
            ) else {
                report.skipped += 1;
                continue;
            };
            let Ok(mut past) = serde_json::from_str::<Facts>(&facts_json) else {
                report.skipped += 1;
                continue;
            };
            let profile_name = self.profile.as_deref().unwrap_or(&check.profile);
            let Some(profile) = ruleset.profile(profile_name) else {
                report.skipped += 1;
                continue;
            };
            let missing_before = required_missing(&past);
            facts::apply_coverage(&mut past, &profile.required_sources);
            let newly: Vec<String> = required_missing(&past)
                .difference(&missing_before)
                .cloned()
                .collect();
            let evaluation = ruleset.evaluate(profile, &past, self.language);
            report.evaluated += 1;
            *transitions
                .entry((before, evaluation.decision))
                .or_default() += 1;
            let fired_before = stored_reasons(&check.document);
            let fired_after: BTreeSet<String> = evaluation
                .reasons
                .iter()
                .map(|r| r.rule_id.clone())
                .collect();
            for id in &fired_before {
                hits.entry(id.clone())
                    .or_insert_with(|| RuleHits::new(id))
                    .before += 1;
            }
            for id in &fired_after {
                hits.entry(id.clone())
                    .or_insert_with(|| RuleHits::new(id))
                    .after += 1;
            }
            if !newly.is_empty() && report.newly_unchecked.len() < self.max_examples {
                report.newly_unchecked.push(NewlyUnchecked {
                    check_id: check.id.to_string(),
                    inn: check.inn.clone(),
                    sources: newly,
                });
            }
            let decision_changed = before != evaluation.decision;
            let reasons_changed = fired_before != fired_after;
            report.changed += u64::from(decision_changed);
            report.reasons_changed += u64::from(reasons_changed);
            if (decision_changed || reasons_changed) && report.examples.len() < self.max_examples {
                report.examples.push(DryRunExample {
                    check_id: check.id.to_string(),
                    inn: check.inn,
                    checked_at: check.checked_at,
                    from: before,
                    to: evaluation.decision,
                    score: evaluation.score,
                    fired: fired_after.iter().cloned().collect(),
                    added: fired_after.difference(&fired_before).cloned().collect(),
                    removed: fired_before.difference(&fired_after).cloned().collect(),
                    reasons: evaluation
                        .reasons
                        .iter()
                        .map(|r| ExampleReason {
                            rule_id: r.rule_id.clone(),
                            effect: r.effect.clone(),
                            message: r.message.clone(),
                        })
                        .collect(),
                });
            }
        }
        report.transitions = transitions
            .into_iter()
            .map(|((from, to), count)| Transition { from, to, count })
            .collect();
        report.rules = hits.into_values().collect();
        report
    }
}

/// The result of validating a candidate file.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"kind": "scoring", "valid": false, "version": null, "rules": 0, "profiles": [],
    "errors": [{"rule_id": "young", "line": 12, "column": 9,
                "message": "condition: `<` compares `company.age_months` (int) with '12' (string): it fails on every check"}],
    "warnings": []}))]
pub struct Validation {
    /// Which file it was read as: `scoring` (a ruleset) or `monitoring` (the monitoring
    /// policy), as asked or as its content says.
    pub kind: PolicyKind,
    pub valid: bool,
    /// The version the file would have.
    pub version: Option<String>,
    pub rules: usize,
    pub profiles: Vec<String>,
    pub errors: Vec<RuleError>,
    /// What the file allows but probably does not mean: a rule on a registry a profile
    /// does not require, without a guard. A warning never makes a file invalid.
    pub warnings: Vec<RuleError>,
}

/// Compiles a candidate file that came from outside without activating it, off the
/// async workers.
pub async fn validate_untrusted(text: String, kind: Option<PolicyKind>) -> Validation {
    let kind = kind.unwrap_or_else(|| PolicyKind::of(&text));
    compile_off_thread(move || Ok(validate(&text, kind)))
        .await
        .unwrap_or_else(|errors| refused(kind, errors))
}

/// Which of the two policy files a text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PolicyKind {
    Scoring,
    Monitoring,
}

impl PolicyKind {
    /// A monitoring policy has no `[profiles]` and its rules name a `status`; anything else
    /// is read as a scoring ruleset (which then says what it lacks).
    pub fn of(text: &str) -> PolicyKind {
        let Ok(table) = text.parse::<toml::Table>() else {
            return PolicyKind::Scoring;
        };
        let rules_have_status = table
            .get("rules")
            .and_then(|r| r.as_array())
            .is_some_and(|rules| rules.iter().any(|r| r.get("status").is_some()));
        if !table.contains_key("profiles") && rules_have_status {
            PolicyKind::Monitoring
        } else {
            PolicyKind::Scoring
        }
    }
}

/// Compiles a candidate file of `kind` without activating it.
pub fn validate(text: &str, kind: PolicyKind) -> Validation {
    match kind {
        PolicyKind::Scoring => match Ruleset::parse(text) {
            Ok(rs) => Validation {
                kind,
                valid: true,
                version: Some(rs.version.clone()),
                rules: rs.rules.len(),
                profiles: rs.profiles.keys().cloned().collect(),
                errors: Vec::new(),
                warnings: rs.warnings,
            },
            Err(errors) => refused(kind, errors),
        },
        PolicyKind::Monitoring => match crate::monitoring::rules::MonitoringPolicy::parse(text) {
            Ok(p) => Validation {
                kind,
                valid: true,
                version: Some(p.version.clone()),
                rules: p.rules.len(),
                profiles: Vec::new(),
                errors: Vec::new(),
                warnings: Vec::new(),
            },
            Err(errors) => refused(kind, errors),
        },
    }
}

fn refused(kind: PolicyKind, errors: Vec<RuleError>) -> Validation {
    Validation {
        kind,
        valid: false,
        version: None,
        rules: 0,
        profiles: Vec::new(),
        errors,
        warnings: Vec::new(),
    }
}

/// Which past checks a dry-run replays and how much it shows: the query parameters of a
/// TOML body, or the fields beside `ruleset` in a JSON body.
#[derive(Debug, Default, Clone, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[schema(example = json!({"from": "2026-11-01T00:00:00Z", "profile": "default", "examples": 5}))]
pub struct DryRunScope {
    /// Judge every check under this profile (default: the profile each check used).
    pub profile: Option<String>,
    /// Checks finished at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Checks finished before this time (default: now).
    pub to: Option<DateTime<Utc>>,
    /// Most checks to replay, newest first (default and upper bound `rules.dry_run_max_checks`).
    #[schema(minimum = 1, maximum = 1_000_000)]
    #[param(minimum = 1, maximum = 1_000_000)]
    #[serde(default, deserialize_with = "crate::domain::lenient::integer")]
    pub limit: Option<u32>,
    /// Replay the latest check of every contractor in the catalog (not removed) instead of
    /// the checks of a time range.
    pub catalog: Option<bool>,
    /// Most examples (and INNs newly unchecked) to return (default 20).
    #[schema(minimum = 0, maximum = 1000)]
    #[param(minimum = 0, maximum = 1000)]
    #[serde(default, deserialize_with = "crate::domain::lenient::integer")]
    pub examples: Option<u32>,
}

impl DryRunScope {
    /// The field names, to name an unknown one in a JSON body.
    pub const FIELDS: &'static [&'static str] =
        &["profile", "from", "to", "limit", "catalog", "examples"];
}

/// A dry-run as one JSON body: the candidate's text beside the scope.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"ruleset": "[profiles.default]\nbase_score = 100\napprove_from = 85\nreview_from = 50\n", "from": "2026-11-01T00:00:00Z"}))]
pub struct DryRunRequest {
    /// The candidate ruleset file's text.
    pub ruleset: String,
    #[serde(flatten)]
    pub scope: DryRunScope,
}

/// How many past checks go from one decision to another.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"from": "review", "to": "approve", "count": 3}))]
pub struct Transition {
    pub from: Decision,
    pub to: Decision,
    pub count: u64,
}

/// A past check whose decision or reasons the candidate would change.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"check_id": "01a2…", "inn": "7702000269", "checked_at": "2026-11-20T10:00:00Z",
    "from": "review", "to": "review", "score": 80, "fired": ["mass_address", "young_company"],
    "added": ["young_company"], "removed": [],
    "reasons": [{"rule_id": "young_company", "effect": "review", "message": "Компании 7 мес."}]}))]
pub struct DryRunExample {
    pub check_id: String,
    pub inn: String,
    pub checked_at: Option<DateTime<Utc>>,
    pub from: Decision,
    pub to: Decision,
    pub score: i64,
    /// The candidate's fired rules.
    pub fired: Vec<String>,
    /// Reasons the candidate gives that the recorded decision did not have.
    pub added: Vec<String>,
    /// Reasons the recorded decision had that the candidate no longer gives.
    pub removed: Vec<String>,
    /// The candidate's reasons with their messages (in the request's language).
    pub reasons: Vec<ExampleReason>,
}

/// A past check for which the candidate requires a registry that was not checked then.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"check_id": "01a2…", "inn": "7702000290", "sources": ["kad"]}))]
pub struct NewlyUnchecked {
    pub check_id: String,
    pub inn: String,
    /// The registries newly required and unavailable for it.
    pub sources: Vec<String>,
}

/// What the candidate would have decided on past checks.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"candidate_version": "3a59f4cd…", "inns": 120, "evaluated": 120, "changed": 7, "reasons_changed": 9, "skipped": 0,
    "partial": false,
    "transitions": [{"from": "approve", "to": "approve", "count": 80}, {"from": "approve", "to": "review", "count": 7}],
    "rules": [{"rule_id": "mass_address", "before": 5, "after": 5}, {"rule_id": "young_company", "before": 0, "after": 9}],
    "newly_unchecked": [],
    "examples": [{"check_id": "01a2…", "inn": "7701000072", "checked_at": "2026-11-20T10:00:00Z",
                  "from": "approve", "to": "review", "score": 80, "fired": ["young_company"],
                  "added": ["young_company"], "removed": [],
                  "reasons": [{"rule_id": "young_company", "effect": "review", "message": "Компании 7 мес."}]}]}))]
pub struct DryRunReport {
    pub candidate_version: String,
    /// Companies (INNs) replayed: the latest finished check of each, so a company checked
    /// a hundred times counts once.
    pub inns: u64,
    /// Past checks judged again (one per INN; less than `inns` by `skipped`, or when the
    /// replay was `partial`).
    pub evaluated: u64,
    /// How many would get another decision.
    pub changed: u64,
    /// How many would get other reasons, whether or not the decision changes.
    pub reasons_changed: u64,
    /// Checks without stored facts or whose profile the candidate lacks.
    pub skipped: u64,
    /// The replay hit `rules.dry_run_timeout_ms` before every check was judged: the
    /// counts cover the checks judged so far.
    pub partial: bool,
    /// Every (recorded decision → candidate's decision) pair with its count.
    pub transitions: Vec<Transition>,
    /// Every rule of the candidate, and every rule the recorded decisions gave, with how
    /// many checks it fired on before and after.
    pub rules: Vec<RuleHits>,
    /// Checks that would now miss a required registry (up to `examples`).
    pub newly_unchecked: Vec<NewlyUnchecked>,
    /// Checks whose decision or reasons change (up to `examples`).
    pub examples: Vec<DryRunExample>,
}

/// How a reason of a re-decided check compares with the stored decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReasonChange {
    /// The same rule with the same effect and delta.
    Kept,
    /// The same rule with another effect or delta.
    Changed,
    /// A rule the stored decision did not give.
    Added,
    /// A rule the stored decision gave and the file no longer does.
    Removed,
}

impl ReasonChange {
    /// The mark the CLI shows: `=`, `~`, `+`, `-`.
    pub fn mark(self) -> char {
        match self {
            ReasonChange::Kept => '=',
            ReasonChange::Changed => '~',
            ReasonChange::Added => '+',
            ReasonChange::Removed => '-',
        }
    }
}

/// A stored check re-decided under another ruleset, beside what was decided.
pub struct Explanation {
    /// The stored check as it was decided.
    pub before: crate::check::Check,
    /// The same facts under the file.
    pub after: crate::scoring::Evaluation,
    /// The file's version and the profile applied.
    pub version: String,
    pub profile: String,
}

impl Explanation {
    /// Every reason of the file's decision against the stored one, then the stored reasons
    /// the file no longer gives.
    pub fn changes(&self) -> Vec<(ReasonChange, &crate::scoring::Reason)> {
        let before = &self.before.reasons;
        let had = |id: &str| before.iter().find(|r| r.rule_id == id);
        let has = |id: &str| self.after.reasons.iter().any(|r| r.rule_id == id);
        let mut out: Vec<_> = self
            .after
            .reasons
            .iter()
            .map(|r| {
                let change = match had(&r.rule_id) {
                    None => ReasonChange::Added,
                    Some(old) if old.effect == r.effect && old.delta == r.delta => {
                        ReasonChange::Kept
                    }
                    Some(_) => ReasonChange::Changed,
                };
                (change, r)
            })
            .collect();
        out.extend(
            before
                .iter()
                .filter(|r| !has(&r.rule_id))
                .map(|r| (ReasonChange::Removed, r)),
        );
        out
    }
}

impl Policy {
    /// The latest stored check of `inn` re-decided under `candidate` (a ruleset's TOML; the
    /// one in force when `None`) with `profile` (else the check's own): `None` when the INN
    /// was never checked. Nothing is fetched; the candidate is compiled in a turn.
    pub async fn explain_latest(
        &self,
        inn: &crate::domain::Inn,
        candidate: Option<String>,
        profile: Option<&str>,
        language: crate::domain::Language,
    ) -> Result<Option<Explanation>, PolicyError> {
        let started = std::time::Instant::now();
        let _turn = self.turn(started).await?;
        let ruleset = match candidate {
            Some(text) => Arc::new(
                compile_off_thread(move || Ruleset::parse(&text))
                    .await
                    .map_err(PolicyError::Invalid)?,
            ),
            None => self.active.current(),
        };
        let Some(stored) = self.store().latest_check(inn).await? else {
            return Ok(None);
        };
        let check = serde_json::from_str(&stored.document)
            .map_err(|e| PolicyError::Replay(format!("check {}: {e}", stored.id)))?;
        let facts = match &stored.facts {
            Some(f) => serde_json::from_str(f)
                .map_err(|e| PolicyError::Replay(format!("check {}: {e}", stored.id)))?,
            None => Facts::default(),
        };
        let stored = crate::check::Checked { check, facts };
        explain(stored, &ruleset, profile, language)
            .map(Some)
            .map_err(|e| PolicyError::Invalid(vec![RuleError::general(e)]))
    }
}

/// Re-evaluates `stored`'s facts under `ruleset` (with `profile`, else the check's own);
/// nothing is fetched. An unknown profile is an error naming the file's profiles.
pub fn explain(
    stored: crate::check::Checked,
    ruleset: &Ruleset,
    profile: Option<&str>,
    language: crate::domain::Language,
) -> Result<Explanation, String> {
    let name = profile.unwrap_or(&stored.check.profile).to_owned();
    let Some(profile) = ruleset.profile(&name) else {
        let known: Vec<&str> = ruleset.profiles.keys().map(String::as_str).collect();
        return Err(format!(
            "the file has no profile `{name}` (it has: {})",
            known.join(", ")
        ));
    };
    let mut facts = stored.facts;
    crate::facts::apply_coverage(&mut facts, &profile.required_sources);
    let after = ruleset.evaluate(profile, &facts, language);
    Ok(Explanation {
        before: stored.check.in_language(language),
        after,
        version: ruleset.version.clone(),
        profile: name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rules_work_past_its_deadline_without_a_turn_is_refused_not_run() {
        let work = tokio::sync::Semaphore::new(1);
        let past = std::time::Instant::now() - Duration::from_secs(1);
        let first = take_turn(&work, past).await.expect("a free turn is taken");
        assert!(matches!(
            take_turn(&work, past).await,
            Err(PolicyError::Busy)
        ));
        drop(first);
        assert!(take_turn(&work, past).await.is_ok());
    }
}
