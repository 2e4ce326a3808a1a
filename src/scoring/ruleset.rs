//! Loading a ruleset file: TOML → validated, compiled [`Ruleset`]. Every problem is
//! reported with the rule id and the line, and a file with any problem is refused whole.

use crate::rules::{Catalogue, Problems, each_rule, line_of, parse_toml};
use crate::rules::{Condition, RawText, RuleError, RuleText};
use crate::sources::source_names;
use serde::Deserialize;
use std::collections::BTreeMap;

/// What a fired rule does to the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Reject,
    Review,
    /// Added to the score (negative for a penalty).
    Score(i64),
}

impl Effect {
    pub fn kind(self) -> &'static str {
        match self {
            Effect::Reject => "reject",
            Effect::Review => "review",
            Effect::Score(_) => "score",
        }
    }
}

/// One named policy: where the score starts, the bands, and which sources must be checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: String,
    pub base_score: i64,
    /// A score at or above this approves.
    pub approve_from: i64,
    /// A score at or above this (and below `approve_from`) asks for review; below rejects.
    pub review_from: i64,
    pub required_sources: Vec<String>,
}

#[derive(Debug)]
pub struct Rule {
    pub id: String,
    /// The title and message template, per language.
    pub text: RuleText,
    pub condition: Condition,
    pub effect: Effect,
    pub line: usize,
    /// The profiles the rule applies in; `None` means every profile.
    pub profiles: Option<Vec<String>>,
}

impl Rule {
    pub fn applies_to(&self, profile: &str) -> bool {
        self.profiles
            .as_ref()
            .is_none_or(|ps| ps.iter().any(|p| p == profile))
    }
}

/// A compiled ruleset. `version` is the SHA-256 of the file's bytes.
#[derive(Debug)]
pub struct Ruleset {
    pub version: String,
    /// The file's text, kept so every version can be stored and shown again.
    pub source: String,
    pub profiles: BTreeMap<String, Profile>,
    pub rules: Vec<Rule>,
    /// What is allowed but probably not meant (see [`unguarded`]); never stops a load.
    pub warnings: Vec<RuleError>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuleset {
    profiles: BTreeMap<String, toml::Spanned<RawProfile>>,
    /// Read one by one ([`each_rule`]).
    #[serde(default)]
    rules: Vec<toml::Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    #[serde(default)]
    #[expect(dead_code, reason = "documentation for people reading the file")]
    description: Option<String>,
    base_score: i64,
    approve_from: i64,
    review_from: i64,
    #[serde(default)]
    required_sources: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    title: RawText,
    when: String,
    /// `reject`, `review` or `score`; read as text so an unknown effect is one problem
    /// among the rule's others, not a reason to skip the rule's condition.
    effect: String,
    delta: Option<i64>,
    message: Option<RawText>,
    /// Limits the rule to these profiles.
    profiles: Option<Vec<String>>,
}

/// The warnings for a condition that reads a fact of an optional registry where a missing
/// value fails the condition, with no guard on that registry's status and no null test:
/// when the registry is unavailable the rule cannot be evaluated and asks for review, which
/// undoes a profile that chose not to require that registry.
fn unguarded(condition: &Condition, profiles: &[&Profile], catalogue: &Catalogue) -> Vec<String> {
    let reads = |name: &str| condition.reads().iter().any(|r| r == name);
    let mut out = Vec::new();
    for fact in condition.strict_reads() {
        if condition.null_checked().contains(fact) {
            continue;
        }
        let Some(sources) = catalogue.get(fact).map(|f| &f.sources) else {
            continue;
        };
        let registries: Vec<&str> = sources
            .iter()
            .map(String::as_str)
            .filter(|s| source_names().any(|n| n == *s))
            .collect();
        if registries.is_empty() || reads("sources.unavailable") {
            continue;
        }
        let guarded = registries.iter().any(|s| {
            reads(&format!("sources.{s}.status")) || reads(&format!("sources.{s}.detail"))
        });
        let optional: Vec<&str> = profiles
            .iter()
            .filter(|p| {
                !registries
                    .iter()
                    .any(|s| p.required_sources.iter().any(|r| r == s))
            })
            .map(|p| p.name.as_str())
            .collect();
        if guarded || optional.is_empty() {
            continue;
        }
        let from = registries.join(", ");
        let first = registries[0];
        let profiles = match optional.as_slice() {
            [one] => format!("profile {one} does not"),
            many => format!("profiles {} do not", many.join(", ")),
        };
        out.push(format!(
            "reads `{fact}` (from {from}) where a missing value fails the condition, with no guard: \
             {profiles} require {from}, so when it is unavailable this rule asks for review \
             (data missing) instead of letting the profile decide; guard it with \
             `sources.{first}.status == 'ok' && …` or `{fact} != null && …`"
        ));
    }
    out
}

impl Ruleset {
    /// Compiles a ruleset from its text, collecting every problem.
    pub fn parse(text: &str) -> Result<Ruleset, Vec<RuleError>> {
        let raw: RawRuleset = parse_toml(text)?;
        let catalogue = Catalogue::of_checks();
        let is_fact = |name: &str| catalogue.is_fact(name);
        let mut problems = Problems::default();

        let mut profiles = BTreeMap::new();
        if raw.profiles.is_empty() {
            problems.push(RuleError::general(
                "a ruleset needs at least one [profiles.<name>] table",
            ));
        }
        for (name, spanned) in raw.profiles {
            let line = Some(line_of(text, spanned.span().start));
            let p = spanned.into_inner();
            let mut fail = |message: String| {
                problems.push(RuleError {
                    line,
                    ..RuleError::general(format!("profile `{name}`: {message}"))
                })
            };
            if p.review_from > p.approve_from {
                fail(format!(
                    "thresholds out of order: review_from ({}) is above approve_from ({})",
                    p.review_from, p.approve_from
                ));
            }
            for s in &p.required_sources {
                if !source_names().any(|n| n == s) {
                    let known: Vec<&str> = source_names().collect();
                    fail(format!(
                        "unknown source `{s}` in required_sources (known: {})",
                        known.join(", ")
                    ));
                }
            }
            profiles.insert(
                name.clone(),
                Profile {
                    name,
                    base_score: p.base_score,
                    approve_from: p.approve_from,
                    review_from: p.review_from,
                    required_sources: p.required_sources,
                },
            );
        }

        let mut rules = Vec::new();
        let mut warnings = Vec::new();
        let mut seen = BTreeMap::new();
        for (entry, r) in each_rule::<RawRule>(text, raw.rules, &mut problems) {
            let line = entry.line;
            let at = |key: &str| entry.key(text, key);
            if r.id.trim().is_empty() {
                problems.in_rule(&r.id, at("id"), "the id is empty");
            }
            if let Some(first) = seen.insert(r.id.clone(), line) {
                problems.in_rule(
                    &r.id,
                    at("id"),
                    format!("duplicate id (first defined on line {first})"),
                );
            }
            let effect = match (r.effect.as_str(), r.delta) {
                ("reject", None) => Some(Effect::Reject),
                ("review", None) => Some(Effect::Review),
                ("score", Some(d)) => Some(Effect::Score(d)),
                ("score", None) => {
                    problems.in_rule(
                        &r.id,
                        at("effect"),
                        "effect `score` needs a `delta` (e.g. delta = -10)",
                    );
                    None
                }
                ("reject" | "review", Some(_)) => {
                    problems.in_rule(&r.id, at("delta"), "`delta` is only for effect `score`");
                    None
                }
                (other, _) => {
                    problems.in_rule(
                        &r.id,
                        at("effect"),
                        format!("unknown effect `{other}`: one of reject, review, score"),
                    );
                    None
                }
            };
            let condition = Condition::compile(&r.when, &catalogue)
                .map_err(|e| problems.push(e.for_rule(&r.id, text, &entry)))
                .ok();
            let words = RuleText::parse(&r.title, r.message.as_ref(), &is_fact)
                .map_err(|m| problems.in_rule(&r.id, at(RuleText::key_of(&m)), m))
                .ok();
            for p in r.profiles.iter().flatten() {
                if !profiles.contains_key(p) {
                    problems.in_rule(
                        &r.id,
                        at("profiles"),
                        format!("unknown profile `{p}` in profiles"),
                    );
                }
            }
            if let (Some(effect), Some(condition), Some(words)) = (effect, condition, words) {
                let applies =
                    |p: &&Profile| r.profiles.as_ref().is_none_or(|ps| ps.contains(&p.name));
                let in_force: Vec<&Profile> = profiles.values().filter(applies).collect();
                warnings.extend(
                    unguarded(&condition, &in_force, &catalogue)
                        .into_iter()
                        .map(|w| RuleError::in_rule(&r.id, entry.key(text, "when"), w)),
                );
                rules.push(Rule {
                    id: r.id,
                    text: words,
                    condition,
                    effect,
                    line,
                    profiles: r.profiles,
                });
            }
        }
        let rules = problems.or(rules)?;
        crate::rules::bounds::check_rules(rules.iter().map(|r| r.condition.cost()))?;
        Ok(Ruleset {
            version: crate::rules::version_of(text),
            source: text.to_owned(),
            profiles,
            rules,
            warnings,
        })
    }

    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILE: &str = "[profiles.default]\nbase_score = 100\napprove_from = 80\nreview_from = 50\nrequired_sources = [\"egrul\", \"pb\"]\n";

    fn errors(text: &str) -> Vec<RuleError> {
        Ruleset::parse(text).unwrap_err()
    }

    #[test]
    fn the_shipped_default_ruleset_loads() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/default.toml"))
                .unwrap();
        let rs = Ruleset::parse(&text).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(rs.profile("default").is_some());
        assert_eq!(rs.version.len(), 64);
    }

    #[test]
    fn names_the_rule_and_line_of_each_problem() {
        let text = format!(
            "{PROFILE}\n[[rules]]\nid = \"a\"\ntitle = \"A\"\nwhen = \"company.nope\"\neffect = \"reject\"\n\n[[rules]]\nid = \"a\"\ntitle = \"A2\"\nwhen = \"company.terminated ==\"\neffect = \"review\"\n"
        );
        let errs = errors(&text);
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert_eq!(errs[0].rule_id.as_deref(), Some("a"));
        // The condition's line, and the column where the unknown fact starts.
        assert_eq!((errs[0].line, errs[0].column), (Some(10), Some(9)));
        assert!(errs[0].message.contains("company.nope"));
        assert!(errs[1].message.contains("duplicate id"));
        assert_eq!((errs[1].line, errs[1].column), (Some(14), Some(1)));
        assert!(errs[2].message.starts_with("condition"));
    }

    #[test]
    fn rejects_unknown_effect_with_its_line() {
        let text = format!(
            "{PROFILE}\n[[rules]]\nid = \"a\"\ntitle = \"A\"\nwhen = \"company.known == true\"\neffect = \"ban\"\n"
        );
        let errs = errors(&text);
        assert!(
            errs[0].message.contains("ban") || errs[0].message.contains("variant"),
            "{errs:?}"
        );
        assert_eq!(errs[0].rule_id.as_deref(), Some("a"));
        assert_eq!(errs[0].line, Some(11));
    }

    /// A rule on a registry a profile does not require, with no guard, is warned about;
    /// a guard on the registry's status or a null test silences it.
    #[test]
    fn an_unguarded_rule_on_an_optional_registry_is_a_warning() {
        let with = |when: &str| {
            let text = format!(
                "{PROFILE}\n[profiles.large]\nbase_score = 100\napprove_from = 80\nreview_from = 50\nrequired_sources = [\"egrul\", \"pb\", \"kad\"]\n\n[[rules]]\nid = \"sued\"\ntitle = \"S\"\nwhen = \"{when}\"\neffect = \"review\"\n"
            );
            Ruleset::parse(&text).unwrap().warnings
        };
        let warnings = with("court.respondent_cases_12m > 10");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let w = &warnings[0];
        assert_eq!(w.rule_id.as_deref(), Some("sued"));
        assert_eq!(w.line, Some(16));
        // Only the profile that does not require kad is named.
        assert!(
            w.message.contains("profile default does not require kad")
                && w.message.contains("sources.kad.status == 'ok'"),
            "{w}"
        );
        for guarded in [
            "sources.kad.status == 'ok' && court.respondent_cases_12m > 10",
            "court.respondent_cases_12m != null && court.respondent_cases_12m > 10",
            "court.respondent_cases_12m == 3",
            "company.age_months != null && company.age_months < 12",
        ] {
            assert!(with(guarded).is_empty(), "{guarded}");
        }
        let default =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/default.toml"))
                .unwrap();
        assert!(Ruleset::parse(&default).unwrap().warnings.is_empty());
    }

    /// One entry's shape error does not hide another's problems.
    #[test]
    fn a_shape_error_in_one_rule_does_not_hide_the_others() {
        let text = format!(
            "{PROFILE}\n[[rules]]\nid = \"a\"\ntitle = \"A\"\nwhen = \"company.known == true\"\neffect = \"warn\"\n\n[[rules]]\nid = \"b\"\ntitle = \"B\"\nwhen = \"company.nope\"\neffect = \"review\"\n\n[[rules]]\nid = \"c\"\ntitle = \"C\"\nwhen = \"company.known == true\"\neffect = \"review\"\ncolour = \"red\"\n"
        );
        let errs = errors(&text);
        let got: Vec<(Option<&str>, Option<usize>)> = errs
            .iter()
            .map(|e| (e.rule_id.as_deref(), e.line))
            .collect();
        assert_eq!(
            got,
            [
                (Some("a"), Some(11)),
                (Some("b"), Some(16)),
                (Some("c"), Some(24))
            ],
            "{errs:?}"
        );
        assert!(errs[0].message.contains("warn"), "{errs:?}");
        assert!(errs[1].message.contains("company.nope"), "{errs:?}");
        assert!(errs[2].message.contains("colour"), "{errs:?}");
    }

    #[test]
    fn rejects_thresholds_out_of_order_and_unknown_sources() {
        let text = "[profiles.default]\nbase_score = 100\napprove_from = 50\nreview_from = 80\nrequired_sources = [\"nope\"]\n";
        let errs = errors(text);
        assert!(
            errs.iter().any(|e| e.message.contains("out of order")),
            "{errs:?}"
        );
        assert!(errs.iter().any(|e| e.message.contains("nope")), "{errs:?}");
    }

    #[test]
    fn rejects_score_without_delta_and_delta_without_score() {
        let text = format!(
            "{PROFILE}\n[[rules]]\nid = \"a\"\ntitle = \"A\"\nwhen = \"company.known == true\"\neffect = \"score\"\n\n[[rules]]\nid = \"b\"\ntitle = \"B\"\nwhen = \"company.known == true\"\neffect = \"reject\"\ndelta = 5\n"
        );
        let errs = errors(&text);
        assert_eq!(errs.len(), 2, "{errs:?}");
    }

    #[test]
    fn rejects_unknown_placeholders_in_messages() {
        let text = format!(
            "{PROFILE}\n[[rules]]\nid = \"a\"\ntitle = \"A\"\nwhen = \"company.known == true\"\neffect = \"review\"\nmessage = \"{{company.foo}}\"\n"
        );
        let errs = errors(&text);
        assert!(errs[0].message.contains("company.foo"), "{errs:?}");
    }
}
