//! Golden tests for a ruleset: `rules/tests/*.toml` cases give facts and the expected
//! decision, score and fired rules. Facts a case does not give take the values of a clean
//! baseline company, so each case states only what matters to it.
//!
//! ```toml
//! [[case]]
//! name = "a liquidated company is rejected"
//! profile = "default"            # optional
//! facts = { "company.status" = "LIQUIDATED", "company.terminated" = true }
//! expect = { decision = "reject", score = 100, rules = ["terminated"] }
//! ```

use super::Ruleset;
use crate::domain::Decision;
use crate::facts::{self, Fact, Facts};
use crate::sources::source_names;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    #[serde(rename = "case", default)]
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    profile: Option<String>,
    #[serde(default)]
    facts: BTreeMap<String, toml::Value>,
    expect: Expect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    decision: String,
    score: Option<i64>,
    /// The fired rule ids, in ruleset order.
    rules: Option<Vec<String>>,
}

/// One case's outcome; `problems` is empty when it passed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseOutcome {
    pub file: String,
    pub name: String,
    pub problems: Vec<String>,
    /// The rules that fired, for coverage reports.
    pub fired: Vec<String>,
}

impl CaseOutcome {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The rules (of `rule_ids`, in their order) that no case fired: a rule without a golden
/// case, whose every edit would pass the tests unseen.
pub fn uncovered<'a>(
    rule_ids: impl IntoIterator<Item = &'a str>,
    outcomes: &[CaseOutcome],
) -> Vec<String> {
    let fired: std::collections::BTreeSet<&str> = outcomes
        .iter()
        .flat_map(|o| o.fired.iter().map(String::as_str))
        .collect();
    rule_ids
        .into_iter()
        .filter(|id| !fired.contains(id))
        .map(str::to_owned)
        .collect()
}

/// The facts of an ordinary, clean company whose every registry answered.
pub fn baseline() -> Facts {
    let mut values: BTreeMap<&str, Value> = BTreeMap::from([
        ("company.known", json!(true)),
        ("company.status", json!("ACTIVE")),
        ("company.status_text", json!("Действующая организация")),
        ("company.status_unrecognised", Value::Null),
        ("company.terminated", json!(false)),
        ("company.terminated_on", Value::Null),
        ("company.kind", json!("legal_entity")),
        ("company.name", json!("ООО \"ПРИМЕР\"")),
        ("company.ogrn", json!("1027700123000")),
        ("company.registered_on", json!("2015-03-14")),
        ("company.age_months", json!(120)),
        ("company.unreliable_data", json!(false)),
        ("company.mass_address", json!(false)),
        ("company.mass_director", json!(false)),
        ("company.tax_arrears", json!(false)),
        ("company.tax_arrears_rub", json!(0.0)),
        ("company.no_reporting", json!(false)),
        ("bankruptcy.active", json!(false)),
        ("bankruptcy.stage", Value::Null),
        ("bankruptcy.case_number", Value::Null),
        ("bankruptcy.creditor_intent_recent", json!(false)),
        ("bankruptcy.creditor_intent_days_ago", Value::Null),
        ("bankruptcy.debtor_intent", json!(false)),
        ("reorganization.notice_recent", json!(false)),
        ("liquidation.notice", json!(false)),
        ("notices.publications_truncated", json!(false)),
        ("court.respondent_cases_total", json!(0)),
        ("court.respondent_cases_12m", json!(0)),
        ("court.plaintiff_cases_total", json!(0)),
        ("court.bankruptcy_cases_as_debtor", json!(0)),
        ("court.cases", json!([])),
        ("sources.required_missing", json!([])),
        ("sources.unavailable", json!([])),
    ]);
    let mut out: Facts = values
        .iter_mut()
        .map(|(k, v)| {
            (
                (*k).to_owned(),
                Fact {
                    value: v.take(),
                    source: None,
                    as_of: None,
                },
            )
        })
        .collect();
    for name in source_names() {
        out.insert(
            format!("sources.{name}.status"),
            Fact {
                value: json!("ok"),
                source: None,
                as_of: None,
            },
        );
        out.insert(
            format!("sources.{name}.detail"),
            Fact {
                value: Value::Null,
                source: None,
                as_of: None,
            },
        );
    }
    out
}

/// Sets a case's facts over the baseline; TOML has no null, so the string "null" stands
/// for it. Returns a problem for every fact name that does not exist.
pub fn apply_facts(
    facts: &mut Facts,
    given: &BTreeMap<String, toml::Value>,
    known: &[String],
) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, value) in given {
        if !known.contains(name) {
            problems.push(format!("unknown fact `{name}`"));
            continue;
        }
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        let value = if value == json!("null") {
            Value::Null
        } else {
            value
        };
        facts.insert(
            name.clone(),
            Fact {
                value,
                source: None,
                as_of: None,
            },
        );
    }
    problems
}

/// The `*.toml` files of a directory, sorted.
pub fn case_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Runs every case of every `*.toml` file in `dir` against `ruleset`.
pub fn run_dir(
    ruleset: &Ruleset,
    dir: &Path,
    default_profile: &str,
) -> Result<Vec<CaseOutcome>, String> {
    let mut out = Vec::new();
    for file in case_files(dir)? {
        out.extend(run_file(ruleset, &file, default_profile)?);
    }
    Ok(out)
}

/// Runs the cases of one file.
pub fn run_file(
    ruleset: &Ruleset,
    file: &Path,
    default_profile: &str,
) -> Result<Vec<CaseOutcome>, String> {
    let shown = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let parsed: CaseFile = toml::from_str(&text).map_err(|e| format!("{shown}: {e}"))?;
    let known: Vec<String> = facts::names().collect();
    Ok(parsed
        .cases
        .into_iter()
        .map(|case| run_case(ruleset, &shown, case, default_profile, &known))
        .collect())
}

fn run_case(
    ruleset: &Ruleset,
    file: &str,
    case: Case,
    default_profile: &str,
    known: &[String],
) -> CaseOutcome {
    let mut problems = Vec::new();
    let outcome = |problems: Vec<String>, fired: Vec<String>| CaseOutcome {
        file: file.to_owned(),
        name: case.name.clone(),
        problems,
        fired,
    };
    let profile_name = case.profile.as_deref().unwrap_or(default_profile);
    let Some(profile) = ruleset.profile(profile_name) else {
        return outcome(vec![format!("unknown profile `{profile_name}`")], vec![]);
    };
    let mut facts = baseline();
    let explicit_coverage = case.facts.contains_key("sources.required_missing");
    problems.extend(apply_facts(&mut facts, &case.facts, known));
    if !explicit_coverage {
        facts::apply_coverage(&mut facts, &profile.required_sources);
    }
    let evaluation = ruleset.evaluate(profile, &facts, crate::domain::Language::default());
    let fired: Vec<String> = evaluation
        .reasons
        .iter()
        .map(|r| r.rule_id.clone())
        .collect();
    match Decision::parse(&case.expect.decision) {
        None => problems.push(format!(
            "expected decision `{}` is not approve, review or reject",
            case.expect.decision
        )),
        Some(d) if d != evaluation.decision => problems.push(format!(
            "decision: expected {}, got {}",
            d.as_str(),
            evaluation.decision.as_str()
        )),
        Some(_) => {}
    }
    if let Some(score) = case.expect.score
        && score != evaluation.score
    {
        problems.push(format!("score: expected {score}, got {}", evaluation.score));
    }
    if let Some(rules) = &case.expect.rules
        && *rules != fired
    {
        problems.push(rules_differ(rules, &fired));
    }
    // A failing case says why each rule fired: its message (for a rule that could not be
    // evaluated, the error) and every fact it read.
    if !problems.is_empty() {
        problems.extend(evaluation.reasons.iter().map(|r| {
            let read = r.inputs.iter().map(|i| (i.fact.as_str(), &i.value));
            why_fired(&r.rule_id, &r.effect, &r.message, read)
        }));
    }
    outcome(problems, fired)
}

/// A case's expected rules beside the fired ones, with what is missing and unexpected.
pub fn rules_differ(expected: &[String], fired: &[String]) -> String {
    let missing: Vec<&String> = expected.iter().filter(|r| !fired.contains(r)).collect();
    let extra: Vec<&String> = fired.iter().filter(|r| !expected.contains(r)).collect();
    format!(
        "rules: expected {expected:?}, got {fired:?} (missing {missing:?}, unexpected {extra:?})"
    )
}

/// Why a rule fired in a failing case: its effect (or status), its message (for a rule
/// that could not be evaluated, the error) and every fact it read.
pub fn why_fired<'a>(
    rule_id: &str,
    effect: &str,
    message: &str,
    read: impl Iterator<Item = (&'a str, &'a serde_json::Value)>,
) -> String {
    let read: Vec<String> = read
        .map(|(fact, value)| format!("{fact} = {value}"))
        .collect();
    format!(
        "fired `{rule_id}` ({effect}): {message} — read {}",
        if read.is_empty() {
            "no fact".to_owned()
        } else {
            read.join(", ")
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_baseline_gives_every_defined_fact() {
        let base = baseline();
        for def in facts::definitions() {
            assert!(
                base.contains_key(def.name.as_ref()),
                "{} missing from the baseline",
                def.name
            );
        }
        assert_eq!(base.len(), facts::definitions().len());
    }
}
