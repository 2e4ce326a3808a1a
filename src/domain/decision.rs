//! The verdict of a check.

use serde::{Deserialize, Serialize};

/// The answer to "may we work with this counterparty?". Ordered from best to worst,
/// so the worst of several effects is their maximum.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approve,
    Review,
    Reject,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Review => "review",
            Decision::Reject => "reject",
        }
    }

    pub fn parse(s: &str) -> Option<Decision> {
        match s {
            "approve" => Some(Decision::Approve),
            "review" => Some(Decision::Review),
            "reject" => Some(Decision::Reject),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Decision;

    #[test]
    fn worst_is_the_maximum() {
        assert_eq!(Decision::Approve.max(Decision::Reject), Decision::Reject);
        assert_eq!(Decision::Review.max(Decision::Approve), Decision::Review);
    }
}
