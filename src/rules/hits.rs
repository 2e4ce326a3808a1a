//! What a dry-run reports of one rule, for either policy file: how often it fired before and
//! under the candidate, and a reason as the manager would read it.

use serde::Serialize;

/// How often a rule fired on the replayed checks, as recorded and under the candidate.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"rule_id": "young_company", "before": 4, "after": 11}))]
pub struct RuleHits {
    pub rule_id: String,
    /// Checks whose recorded decision has this reason.
    pub before: u64,
    /// Checks the candidate gives this reason.
    pub after: u64,
}

impl RuleHits {
    pub fn new(id: &str) -> RuleHits {
        RuleHits {
            rule_id: id.to_owned(),
            before: 0,
            after: 0,
        }
    }
}

/// A reason the candidate gives, as the manager would read it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"rule_id": "young_company", "effect": "review", "message": "Компании 7 мес."}))]
pub struct ExampleReason {
    pub rule_id: String,
    pub effect: String,
    pub message: String,
}
