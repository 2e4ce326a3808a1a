//! Evaluating a ruleset over facts: the decision, the score and every fired rule.

use super::ruleset::{Effect, Profile, Ruleset};
use crate::domain::{Decision, Language};
use crate::facts::Facts;
use crate::rules::Translation;
use crate::rules::condition;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A fact a rule read, with its value and provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"fact": "company.status", "value": "LIQUIDATED", "source": "pb", "as_of": "2026-11-20T10:00:00Z"}))]
pub struct Input {
    /// The fact's dotted name.
    #[schema(example = "company.status")]
    pub fact: String,
    #[schema(example = "LIQUIDATED")]
    pub value: serde_json::Value,
    /// The source that gave it (absent for coverage facts the service computes).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "pb")]
    pub source: Option<String>,
    /// When that source answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<DateTime<Utc>>,
}

/// One rule that fired, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"rule_id": "mass_address", "title": "Mass registration address", "effect": "score", "delta": -30,
        "message": "The address is a mass registration address (pb)",
        "inputs": [{"fact": "company.mass_address", "value": true, "source": "pb", "as_of": "2026-11-20T10:00:00Z"}]}))]
pub struct Reason {
    #[schema(example = "liquidated")]
    pub rule_id: String,
    #[schema(example = "The company has ceased to exist")]
    pub title: String,
    /// `reject`, `review` or `score`.
    #[schema(example = "reject")]
    pub effect: String,
    /// The score change, for `score` effects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<i64>,
    /// The rendered reason.
    #[schema(example = "Terminated on 2024-02-02")]
    pub message: String,
    /// The facts the rule read.
    pub inputs: Vec<Input>,
    /// The title and message in the other languages the rule is written in, so a stored
    /// check can be shown in any of them (`Accept-Language`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(example = json!({"en": {"title": "Mass registration address", "message": "The address is a mass registration address (pb)"}}))]
    pub translations: BTreeMap<Language, Translation>,
}

impl Reason {
    /// Shows the reason in `language` when it has that translation; the text it replaces
    /// becomes a translation in turn, so nothing is lost.
    pub fn translate(&mut self, from: Language, to: Language) {
        if from == to {
            return;
        }
        if let Some(t) = self.translations.remove(&to) {
            let old = Translation {
                title: std::mem::replace(&mut self.title, t.title),
                message: std::mem::replace(&mut self.message, t.message),
            };
            self.translations.insert(from, old);
        }
    }
}

/// The result of applying a ruleset to facts.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub decision: Decision,
    pub score: i64,
    pub reasons: Vec<Reason>,
}

impl Ruleset {
    /// Applies every rule: a `reject` or `review` effect overrides the score band and the
    /// worst effect wins. A rule whose condition cannot be evaluated (missing data) is a
    /// `review` reason, never a silent pass. Reasons read in `language`, with the rules'
    /// other languages beside them.
    pub fn evaluate(&self, profile: &Profile, facts: &Facts, language: Language) -> Evaluation {
        let ctx = condition::context(facts);
        let mut score = profile.base_score;
        let mut worst = Decision::Approve;
        let mut reasons = Vec::new();
        for rule in self.rules.iter().filter(|r| r.applies_to(&profile.name)) {
            let inputs = || {
                rule.condition
                    .reads()
                    .iter()
                    .filter_map(|name| {
                        facts.get(name).map(|f| Input {
                            fact: name.clone(),
                            value: f.value.clone(),
                            source: f.source.clone(),
                            as_of: f.as_of,
                        })
                    })
                    .collect()
            };
            match rule.condition.evaluate(&ctx) {
                Ok(false) => {}
                Ok(true) => {
                    let delta = match rule.effect {
                        Effect::Reject => {
                            worst = worst.max(Decision::Reject);
                            None
                        }
                        Effect::Review => {
                            worst = worst.max(Decision::Review);
                            None
                        }
                        Effect::Score(d) => {
                            score += d;
                            Some(d)
                        }
                    };
                    let text = rule.text.render(language, facts);
                    reasons.push(Reason {
                        rule_id: rule.id.clone(),
                        title: text.title,
                        effect: rule.effect.kind().to_owned(),
                        delta,
                        message: text.message,
                        inputs: inputs(),
                        translations: text.translations,
                    });
                }
                Err(error) => {
                    worst = worst.max(Decision::Review);
                    let missing = |language| match language {
                        Language::Ru => format!("нет данных для правила {}: {error}", rule.id),
                        Language::En => format!("data missing for rule {}: {error}", rule.id),
                    };
                    let other = Language::all().iter().filter(|l| **l != language);
                    reasons.push(Reason {
                        rule_id: rule.id.clone(),
                        title: rule.text.title(language).to_owned(),
                        effect: "review".into(),
                        delta: None,
                        message: missing(language),
                        inputs: inputs(),
                        translations: other
                            .map(|l| {
                                let title = rule.text.title(*l).to_owned();
                                (
                                    *l,
                                    Translation {
                                        title,
                                        message: missing(*l),
                                    },
                                )
                            })
                            .collect(),
                    });
                }
            }
        }
        let band = if score >= profile.approve_from {
            Decision::Approve
        } else if score >= profile.review_from {
            Decision::Review
        } else {
            Decision::Reject
        };
        Evaluation {
            decision: band.max(worst),
            score,
            reasons,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RULES: &str = r#"
[profiles.default]
base_score = 100
approve_from = 80
review_from = 50

[[rules]]
id = "dead"
title = "Dead"
when = "company.terminated == true"
effect = "reject"
message = "Terminated on {company.terminated_on}"

[[rules]]
id = "mass"
title = "Mass address"
when = "company.mass_address == true"
effect = "score"
delta = -25

[[rules]]
id = "arrears"
title = "Arrears"
when = "company.tax_arrears == true"
effect = "score"
delta = -30

[[rules]]
id = "young"
title = "Young"
when = "company.age_months < 12"
effect = "review"
"#;

    fn facts(pairs: &[(&str, serde_json::Value)]) -> Facts {
        crate::facts::from_pairs(pairs, Some("pb"))
    }

    fn eval(pairs: &[(&str, serde_json::Value)]) -> Evaluation {
        let rs = Ruleset::parse(RULES).unwrap();
        let profile = rs.profile("default").unwrap().clone();
        rs.evaluate(&profile, &facts(pairs), Language::En)
    }

    #[test]
    fn clean_company_is_approved_with_no_reasons() {
        let e = eval(&[
            ("company.terminated", json!(false)),
            ("company.mass_address", json!(false)),
            ("company.tax_arrears", json!(false)),
            ("company.age_months", json!(100)),
        ]);
        assert_eq!(
            (e.decision, e.score, e.reasons.len()),
            (Decision::Approve, 100, 0)
        );
    }

    #[test]
    fn score_deltas_add_up_into_bands() {
        let e = eval(&[
            ("company.terminated", json!(false)),
            ("company.mass_address", json!(true)),
            ("company.tax_arrears", json!(true)),
            ("company.age_months", json!(100)),
        ]);
        assert_eq!((e.decision, e.score), (Decision::Reject, 45));
        let ids: Vec<&str> = e.reasons.iter().map(|r| r.rule_id.as_str()).collect();
        assert_eq!(ids, ["mass", "arrears"]);
    }

    #[test]
    fn reject_effect_overrides_a_good_score_and_renders_inputs() {
        let e = eval(&[
            ("company.terminated", json!(true)),
            ("company.terminated_on", json!("2024-02-02")),
            ("company.mass_address", json!(false)),
            ("company.tax_arrears", json!(false)),
            ("company.age_months", json!(100)),
        ]);
        assert_eq!(e.decision, Decision::Reject);
        assert_eq!(e.reasons[0].message, "Terminated on 2024-02-02");
        assert_eq!(e.reasons[0].inputs[0].fact, "company.terminated");
        assert_eq!(e.reasons[0].inputs[0].source.as_deref(), Some("pb"));
    }

    #[test]
    fn a_rule_that_cannot_be_evaluated_asks_for_review() {
        let e = eval(&[
            ("company.terminated", json!(false)),
            ("company.mass_address", json!(false)),
            ("company.tax_arrears", json!(false)),
            ("company.age_months", json!(null)),
        ]);
        assert_eq!(e.decision, Decision::Review);
        assert!(
            e.reasons[0]
                .message
                .starts_with("data missing for rule young"),
            "{:?}",
            e.reasons
        );
    }
}
