//! The monitoring policy: `rules/monitoring.toml` decides a contractor's catalog status from
//! its registry facts, the changes since the last check and its quality facts. Same CEL
//! conditions and reason templates as the scoring rules; each rule names a status, and the
//! most severe status of the fired rules wins.

use super::diff::EVENT_KINDS;
use crate::catalog::CatalogStatus;
use crate::domain::Language;
use crate::facts::Facts;
use crate::rules::condition::{self, Condition};
use crate::rules::{Catalogue, Problems, each_rule, parse_toml};
use crate::rules::{RawText, RuleError, RuleText, version_of};
use serde::Deserialize;
use std::collections::BTreeSet;

/// The facts a monitoring rule reads: every scoring fact, and those only monitoring has.
pub fn monitoring_catalogue() -> Catalogue {
    let own = [
        ("decision.current", "string"),
        ("decision.previous", "string"),
        ("decision.changed", "bool"),
        ("quality.rating_avg", "double"),
        ("quality.rating_count", "int"),
        ("quality.complaints", "int"),
        ("quality.sla_breaches", "int"),
        ("quality.jobs_completed", "int"),
        ("quality.on_time_ratio", "double"),
        ("catalog.status", "string"),
    ];
    let catalogue = own
        .into_iter()
        .fold(Catalogue::of_checks(), |c, (name, kind)| {
            c.with(name, kind, "monitoring")
        });
    EVENT_KINDS.iter().fold(catalogue, |c, kind| {
        c.with(format!("events.{kind}"), "bool", "monitoring")
    })
}

pub struct MonitoringRule {
    pub id: String,
    /// The title and message template, per language.
    pub text: RuleText,
    pub condition: Condition,
    pub status: CatalogStatus,
}

pub struct MonitoringPolicy {
    pub version: String,
    pub rules: Vec<MonitoringRule>,
}

impl crate::rules::RuleFile for MonitoringPolicy {
    const KIND: &'static str = "monitoring policy";
    const STORED_KIND: &'static str = "monitoring";
    const SETTING: &'static str = "monitoring.rules_path";

    fn parse(text: &str) -> Result<MonitoringPolicy, Vec<RuleError>> {
        MonitoringPolicy::parse(text)
    }
}

/// A rule that fired, with its rendered reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub rule_id: String,
    pub status: CatalogStatus,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    /// Read one by one ([`each_rule`]).
    #[serde(default)]
    rules: Vec<toml::Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    title: RawText,
    when: String,
    /// `under_review`, `suspended` or `removed`.
    status: String,
    message: Option<RawText>,
}

impl MonitoringPolicy {
    pub fn parse(text: &str) -> Result<MonitoringPolicy, Vec<RuleError>> {
        let raw: RawPolicy = parse_toml(text)?;
        let catalogue = monitoring_catalogue();
        let is_fact = |name: &str| catalogue.is_fact(name);
        let mut problems = Problems::default();
        let mut rules = Vec::new();
        let mut seen = BTreeSet::new();
        for (entry, r) in each_rule::<RawRule>(text, raw.rules, &mut problems) {
            let at = |key: &str| entry.key(text, key);
            if !seen.insert(r.id.clone()) {
                problems.in_rule(&r.id, at("id"), "duplicate id");
            }
            let status = match CatalogStatus::parse(&r.status) {
                Some(CatalogStatus::Active) | None => {
                    problems.in_rule(
                        &r.id,
                        at("status"),
                        format!(
                            "status `{}`: one of under_review, suspended, removed",
                            r.status
                        ),
                    );
                    None
                }
                s => s,
            };
            let condition = Condition::compile(&r.when, &catalogue)
                .map_err(|e| problems.push(e.for_rule(&r.id, text, &entry)))
                .ok();
            let words = RuleText::parse(&r.title, r.message.as_ref(), &is_fact)
                .map_err(|m| problems.in_rule(&r.id, at(RuleText::key_of(&m)), m))
                .ok();
            if let (Some(status), Some(condition), Some(text)) = (status, condition, words) {
                rules.push(MonitoringRule {
                    id: r.id,
                    text,
                    condition,
                    status,
                });
            }
        }
        let rules = problems.or(rules)?;
        crate::rules::bounds::check_rules(rules.iter().map(|r| r.condition.cost()))?;
        Ok(MonitoringPolicy {
            version: version_of(text),
            rules,
        })
    }

    /// Every rule that fires, its message in `language`. A rule that cannot be evaluated
    /// asks for review.
    pub fn evaluate(&self, facts: &Facts, language: Language) -> Vec<Verdict> {
        let ctx = condition::context(facts);
        self.rules
            .iter()
            .filter_map(|rule| match rule.condition.evaluate(&ctx) {
                Ok(true) => Some(Verdict {
                    rule_id: rule.id.clone(),
                    status: rule.status,
                    message: rule.text.render(language, facts).message,
                }),
                Ok(false) => None,
                Err(e) => Some(Verdict {
                    rule_id: rule.id.clone(),
                    status: CatalogStatus::UnderReview,
                    message: match language {
                        Language::Ru => format!("нет данных для правила {}: {e}", rule.id),
                        Language::En => format!("data missing for rule {}: {e}", rule.id),
                    },
                }),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_monitoring_policy_loads() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/rules/monitoring.toml");
        let p = crate::rules::load_file::<MonitoringPolicy>(std::path::Path::new(path))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(p.rules.len() >= 5);
    }

    #[test]
    fn bad_rules_are_named() {
        let Err(errs) = MonitoringPolicy::parse(
            "[[rules]]\nid = \"x\"\ntitle = \"X\"\nwhen = \"quality.nope > 1\"\nstatus = \"active\"\n",
        ) else {
            panic!("a bad policy must be refused")
        };
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs.iter().all(|e| e.rule_id.as_deref() == Some("x")));
    }
}

/// Golden cases for the monitoring policy (`rules/tests/monitoring/*.toml`): facts in, the
/// resulting status (`none` when no rule fires) and the fired rules out. Facts not given are
/// those of a clean contractor with no change and no feedback.
pub mod golden {
    use super::{MonitoringPolicy, monitoring_catalogue};
    use crate::facts::{Fact, Facts};
    use crate::scoring::golden::{
        CaseOutcome, apply_facts, baseline, case_files, rules_differ, why_fired,
    };
    use serde::Deserialize;
    use serde_json::{Value, json};
    use std::collections::BTreeMap;
    use std::path::Path;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct CaseFile {
        #[serde(rename = "case", default)]
        cases: Vec<Case>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Case {
        name: String,
        #[serde(default)]
        facts: BTreeMap<String, toml::Value>,
        expect: Expect,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Expect {
        /// `under_review`, `suspended`, `removed`, or `none`.
        status: String,
        rules: Option<Vec<String>>,
    }

    /// A clean contractor: the scoring baseline plus no change and no feedback.
    pub fn monitoring_baseline() -> Facts {
        let mut facts = baseline();
        let mut put = |name: &str, value: Value| {
            facts.insert(
                name.to_owned(),
                Fact {
                    value,
                    source: None,
                    as_of: None,
                },
            );
        };
        put("decision.current", json!("approve"));
        put("decision.previous", json!("approve"));
        put("decision.changed", json!(false));
        put("catalog.status", json!("active"));
        put("quality.rating_avg", Value::Null);
        put("quality.rating_count", json!(0));
        put("quality.complaints", json!(0));
        put("quality.sla_breaches", json!(0));
        put("quality.jobs_completed", json!(0));
        put("quality.on_time_ratio", Value::Null);
        for kind in super::EVENT_KINDS {
            put(&format!("events.{kind}"), json!(false));
        }
        facts
    }

    pub fn run_dir(policy: &MonitoringPolicy, dir: &Path) -> Result<Vec<CaseOutcome>, String> {
        let known: Vec<String> = monitoring_catalogue().names().collect();
        let mut out = Vec::new();
        for file in case_files(dir)? {
            let shown = file.display().to_string();
            let text =
                std::fs::read_to_string(&file).map_err(|e| format!("cannot read {shown}: {e}"))?;
            let parsed: CaseFile = toml::from_str(&text).map_err(|e| format!("{shown}: {e}"))?;
            for case in parsed.cases {
                let mut problems = Vec::new();
                let mut facts = monitoring_baseline();
                problems.extend(apply_facts(&mut facts, &case.facts, &known));
                let verdicts = policy.evaluate(&facts, crate::domain::Language::default());
                let fired: Vec<String> = verdicts.iter().map(|v| v.rule_id.clone()).collect();
                let status = verdicts
                    .iter()
                    .map(|v| v.status)
                    .max()
                    .map_or("none", |s| s.as_str());
                if status != case.expect.status {
                    problems.push(format!(
                        "status: expected {}, got {status}",
                        case.expect.status
                    ));
                }
                if let Some(rules) = &case.expect.rules
                    && *rules != fired
                {
                    problems.push(rules_differ(rules, &fired));
                }
                if !problems.is_empty() {
                    problems.extend(verdicts.iter().map(|v| {
                        let reads = policy
                            .rules
                            .iter()
                            .find(|r| r.id == v.rule_id)
                            .map(|r| r.condition.reads())
                            .unwrap_or_default();
                        let read = reads
                            .iter()
                            .filter_map(|name| Some((name.as_str(), &facts.get(name)?.value)));
                        why_fired(&v.rule_id, v.status.as_str(), &v.message, read)
                    }));
                }
                out.push(CaseOutcome {
                    file: shown.clone(),
                    name: case.name,
                    problems,
                    fired,
                });
            }
        }
        Ok(out)
    }
}
