//! OGRN (ОГРН, 13 digits, legal entity) and OGRNIP (ОГРНИП, 15 digits, entrepreneur).

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OgrnError {
    #[error("an OGRN contains digits only")]
    Digits,
    #[error("an OGRN has 13 digits, an OGRNIP 15")]
    Length,
    #[error("the OGRN check digit does not match")]
    Checksum,
}

/// A valid OGRN or OGRNIP.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ogrn(String);

/// The check digit: `prefix mod 11 mod 10` for OGRN, `prefix mod 13 mod 10` for OGRNIP.
/// Reducing `mod 10` after `mod 13` is what maps remainders 10, 11 and 12 to 0, 1 and 2
/// (python-stdnum maps only 10 and wrongly rejects the others, registries.md §1.1).
fn check_digit(prefix: u64, modulus: u64) -> u64 {
    prefix % modulus % 10
}

impl Ogrn {
    pub fn parse(input: &str) -> Result<Ogrn, OgrnError> {
        let s = input.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(OgrnError::Digits);
        }
        let modulus = match s.len() {
            13 => 11,
            15 => 13,
            _ => return Err(OgrnError::Length),
        };
        let (prefix, last) = s.split_at(s.len() - 1);
        let prefix: u64 = prefix.parse().map_err(|_| OgrnError::Digits)?;
        let last: u64 = last.parse().map_err(|_| OgrnError::Digits)?;
        if check_digit(prefix, modulus) == last {
            Ok(Ogrn(s.to_owned()))
        } else {
            Err(OgrnError::Checksum)
        }
    }

    /// Completes 12 (OGRN) or 14 (OGRNIP) leading digits with the check digit.
    pub fn complete(prefix: &str) -> Option<Ogrn> {
        let modulus = match prefix.len() {
            12 => 11,
            14 => 13,
            _ => return None,
        };
        let n: u64 = prefix.parse().ok()?;
        Some(Ogrn(format!("{prefix}{}", check_digit(n, modulus))))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// 15 digits: the registration number of an individual entrepreneur.
    pub fn is_entrepreneur(&self) -> bool {
        self.0.len() == 15
    }
}

impl TryFrom<String> for Ogrn {
    type Error = OgrnError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Ogrn::parse(&value)
    }
}

impl From<Ogrn> for String {
    fn from(o: Ogrn) -> String {
        o.0
    }
}

impl fmt::Display for Ogrn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_the_documented_vectors() {
        for v in [
            "1027700132195",
            "1027700123000",
            "304770000131449",
            "318774600123452",
            "318774600100041",
        ] {
            assert!(Ogrn::parse(v).is_ok(), "{v}");
        }
    }

    #[test]
    fn the_mod_13_remainders_11_and_12_keep_their_last_digit() {
        // 31877460012345 mod 13 = 12 → check digit 2; python-stdnum gets this one wrong.
        assert_eq!(31877460012345u64 % 13, 12);
        assert!(Ogrn::parse("318774600123452").is_ok());
        assert_eq!(Ogrn::parse("318774600123450"), Err(OgrnError::Checksum));
        assert_eq!(31877460010004u64 % 13, 11);
        assert!(Ogrn::parse("318774600100041").is_ok());
    }

    #[test]
    fn rejects_bad_shapes() {
        assert_eq!(Ogrn::parse("102770013219"), Err(OgrnError::Length));
        assert_eq!(Ogrn::parse("10277001321x5"), Err(OgrnError::Digits));
        assert_eq!(Ogrn::parse("1027700132196"), Err(OgrnError::Checksum));
    }

    proptest! {
        #[test]
        fn any_prefix_with_computed_check_digit_parses(prefix in "[1-9][0-9]{11}|[1-9][0-9]{13}") {
            let o = Ogrn::complete(&prefix).unwrap();
            prop_assert!(Ogrn::parse(o.as_str()).is_ok());
        }

        #[test]
        fn changing_the_check_digit_fails(prefix in "[1-9][0-9]{11}|[1-9][0-9]{13}", delta in 1u8..10) {
            let o = Ogrn::complete(&prefix).unwrap();
            let mut bytes = o.as_str().as_bytes().to_vec();
            let last = bytes.len() - 1;
            bytes[last] = b'0' + (bytes[last] - b'0' + delta) % 10;
            prop_assert_eq!(Ogrn::parse(std::str::from_utf8(&bytes).unwrap()), Err(OgrnError::Checksum));
        }
    }
}
