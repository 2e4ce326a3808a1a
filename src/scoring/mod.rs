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

pub use condition::{Condition, ConditionError};
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

/// Stack of the thread that compiles untrusted rule text: the TOML and CEL parsers
/// recurse, and the bounds of [`bounds`] keep them far below this.
const COMPILER_STACK_BYTES: usize = 64 * 1024 * 1024;

/// At most this many compilations at once, so a burst of requests cannot start
/// a thread each.
static COMPILER_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Runs `compile` (parsing rule text that came from outside) on its own thread with an
/// ample stack, off the async workers, and waits for it without blocking them.
pub async fn compile_off_thread<T>(
    compile: impl FnOnce() -> Result<T, Vec<RuleError>> + Send + 'static,
) -> Result<T, Vec<RuleError>>
where
    T: Send + 'static,
{
    let failed = |message: &str| {
        vec![RuleError {
            too_costly: false,
            rule_id: None,
            line: None,
            message: message.to_owned(),
        }]
    };
    let _slot = COMPILER_SLOTS
        .acquire()
        .await
        .map_err(|_| failed("the rule compiler is shut down"))?;
    let (send, receive) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("rule-compiler".into())
        .stack_size(COMPILER_STACK_BYTES)
        .spawn(move || {
            let _ = send.send(compile());
        })
        .map_err(|_| failed("cannot start the rule compiler"))?;
    receive
        .await
        .unwrap_or_else(|_| Err(failed("the rule compiler failed")))
}
