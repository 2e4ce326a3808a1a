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
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Decision {
    Approve,
    Review,
    Reject,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<Decision> {
        s.parse().ok()
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
