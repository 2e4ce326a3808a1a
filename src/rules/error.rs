//! A problem in a policy file, reported with the rule and the line it is in.

use std::fmt;

/// A problem in a policy file (the scoring ruleset or the monitoring policy).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[schema(example = json!({"rule_id": "mass_address", "line": 142, "message": "condition: unknown fact `company.mass_adress`"}))]
pub struct RuleError {
    /// The rule the problem is in, when it is in one.
    pub rule_id: Option<String>,
    /// 1-based line in the file.
    pub line: Option<usize>,
    pub message: String,
    /// The problem is a bound on size or cost (`ruleset_too_costly`), not a mistake in the policy.
    #[serde(skip)]
    pub too_costly: bool,
}

impl RuleError {
    /// A problem of the whole file (or of reading it), in no rule and on no line.
    pub fn general(message: impl Into<String>) -> RuleError {
        RuleError {
            too_costly: false,
            rule_id: None,
            line: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.rule_id, self.line) {
            (Some(id), Some(line)) => write!(f, "rule `{id}` (line {line}): {}", self.message),
            (Some(id), None) => write!(f, "rule `{id}`: {}", self.message),
            (None, Some(line)) => write!(f, "line {line}: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}
