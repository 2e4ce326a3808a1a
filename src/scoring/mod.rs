//! The scoring engine: the customer's ruleset (`rules/*.toml`) applied to a check's facts.
//!
//! Rules are data: an id, a title, a CEL condition over the facts, an effect (`reject`,
//! `review`, or a score delta) and a reason template. A ruleset is compiled and validated
//! once, at load; evaluation reports every rule that fired with the facts it read.

pub mod condition;
mod engine;
pub mod golden;
mod ruleset;
pub mod template;

pub use condition::Condition;
pub use engine::{Evaluation, Input, Reason};
pub use ruleset::{Effect, Profile, Rule, RuleError, Ruleset, version_of};
pub use template::Template;

use std::sync::{Arc, RwLock};

/// The active ruleset, swapped whole: a check takes one `Arc` and never sees half a ruleset.
pub struct ActiveRules {
    current: RwLock<Arc<Ruleset>>,
}

impl ActiveRules {
    pub fn new(ruleset: Ruleset) -> ActiveRules {
        ActiveRules {
            current: RwLock::new(Arc::new(ruleset)),
        }
    }

    pub fn current(&self) -> Arc<Ruleset> {
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Makes `ruleset` the one every new check uses.
    pub fn replace(&self, ruleset: Ruleset) {
        let next = Arc::new(ruleset);
        match self.current.write() {
            Ok(mut guard) => *guard = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
    }
}
