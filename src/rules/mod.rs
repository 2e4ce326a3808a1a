//! The rules engine both policies are written in (the scoring ruleset, `rules/default.toml`,
//! and the monitoring policy, `rules/monitoring.toml`): CEL conditions over the facts and
//! their bounds, reason templates, problems with line numbers, and the lifecycle of a
//! policy file — parsing, off-thread compilation, versions, reload and file watch.

pub mod bounds;
pub mod condition;
pub mod diff;
mod error;
pub mod file;
mod hits;
pub mod template;
pub mod text;
pub mod types;

pub use condition::{Condition, ConditionError};
pub use error::{Position, RuleError};
pub use file::{
    Entry, PolicyError, Problems, Refusal, ReloadOutcome, Reloadable, Requirement, RollbackOutcome,
    RuleFile, compile_off_thread, each_rule, line_of, load_file, parse_toml, position_of,
    version_of,
};
pub use hits::{ExampleReason, RuleHits};
pub use template::Template;
pub use text::{RawText, RuleText, Translation};
pub use types::Catalogue;
