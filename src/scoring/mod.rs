//! The scoring engine: the customer's ruleset (`rules/*.toml`) applied to a check's facts.
//!
//! Rules are data: an id, a title, a CEL condition over the facts, an effect (`reject`,
//! `review`, or a score delta) and a reason template. A ruleset is compiled and validated
//! once, at load; evaluation reports every rule that fired with the facts it read.

pub mod bounds;
pub mod condition;
mod engine;
pub mod golden;
mod ruleset;
pub mod template;

pub use crate::rulefile::version_of;
pub use condition::{Condition, ConditionError};
pub use engine::{Evaluation, Input, Reason};
pub use ruleset::{Effect, Profile, Rule, RuleError, Ruleset};
pub use template::Template;

impl crate::rulefile::RuleFile for Ruleset {
    const KIND: &'static str = "scoring ruleset";

    fn parse(text: &str) -> Result<Ruleset, Vec<RuleError>> {
        Ruleset::parse(text)
    }
}
