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
    /// 1-based column (in characters) on that line, where it is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
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
            column: None,
            message: message.into(),
        }
    }

    /// A problem in the rule `id` at `at`.
    pub fn in_rule(id: &str, at: Position, message: impl Into<String>) -> RuleError {
        RuleError {
            too_costly: false,
            rule_id: Some(id.to_owned()),
            line: Some(at.line),
            column: at.column,
            message: message.into(),
        }
    }
}

/// A place in a policy file: a 1-based line and, where known, a 1-based column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: Option<usize>,
}

impl From<usize> for Position {
    /// A whole line.
    fn from(line: usize) -> Position {
        Position { line, column: None }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = match (self.line, self.column) {
            (Some(line), Some(column)) => Some(format!("line {line}, column {column}")),
            (Some(line), None) => Some(format!("line {line}")),
            (None, _) => None,
        };
        match (&self.rule_id, place) {
            (Some(id), Some(place)) => write!(f, "rule `{id}` ({place}): {}", self.message),
            (Some(id), None) => write!(f, "rule `{id}`: {}", self.message),
            (None, Some(place)) => write!(f, "{place}: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}
