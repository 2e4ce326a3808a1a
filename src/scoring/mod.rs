//! The scoring engine: the customer's ruleset (`rules/*.toml`) applied to a check's facts.
//!
//! Rules are data: an id, a title, a CEL condition over the facts, an effect (`reject`,
//! `review`, or a score delta) and a reason template. A ruleset is compiled and validated
//! once, at load; evaluation reports every rule that fired with the facts it read.

mod engine;
pub mod golden;
mod ruleset;

pub use crate::rules::{RuleError, version_of};
pub use engine::{Evaluation, Input, Reason};
pub use ruleset::{Effect, Profile, Rule, Ruleset};

impl crate::rules::RuleFile for Ruleset {
    const KIND: &'static str = "scoring ruleset";
    const STORED_KIND: &'static str = "scoring";
    const SETTING: &'static str = "rules.path";

    fn parse(text: &str) -> Result<Ruleset, Vec<RuleError>> {
        Ruleset::parse(text)
    }
}
