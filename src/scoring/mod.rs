//! The scoring engine: the customer's ruleset (`rules/*.toml`) applied to a check's facts.
//!
//! Rules are data: an id, a title, a CEL condition over the facts, an effect (`reject`,
//! `review`, or a score delta) and a reason template. A ruleset is compiled and validated
//! once, at load; evaluation reports every rule that fired with the facts it read.

mod condition;
mod engine;
pub mod golden;
mod ruleset;
mod template;

pub use condition::Condition;
pub use engine::{Evaluation, Input, Reason};
pub use ruleset::{Effect, Profile, Rule, RuleError, Ruleset};

use std::sync::{Arc, RwLock};

/// The active ruleset, swapped whole: a check takes one `Arc` and never sees half a ruleset.
pub struct ActiveRules {
    current: RwLock<Arc<Ruleset>>,
    /// Where it was loaded from, shown to operators.
    pub path: String,
}

impl ActiveRules {
    pub fn new(ruleset: Ruleset, path: String) -> ActiveRules {
        ActiveRules {
            current: RwLock::new(Arc::new(ruleset)),
            path,
        }
    }

    pub fn current(&self) -> Arc<Ruleset> {
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }
}
