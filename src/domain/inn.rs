//! INN (ИНН), the taxpayer number: 10 digits for a legal entity, 12 for a person.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a string is not an INN. The order of the variants is the order of the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InnError {
    #[error("the INN is missing")]
    Required,
    #[error("an INN contains digits only")]
    Digits,
    #[error("an INN has 10 digits (legal entity) or 12 digits (individual)")]
    Length,
    #[error("the INN check digits do not match")]
    Checksum,
}

impl InnError {
    /// The machine code the API reports for this error.
    pub fn code(self) -> &'static str {
        match self {
            InnError::Required => "inn_required",
            InnError::Digits => "inn_digits",
            InnError::Length => "inn_length",
            InnError::Checksum => "inn_checksum",
        }
    }
}

/// A valid INN. Surrounding whitespace is trimmed on parse.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Inn(String);

const W10: [u32; 9] = [2, 4, 10, 3, 5, 9, 4, 6, 8];
const W11: [u32; 10] = [7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
const W12: [u32; 11] = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8];

/// `(Σ wᵢ·dᵢ) mod 11 mod 10`, the INN check digit over the leading digits.
fn check_digit(digits: &[u32], weights: &[u32]) -> u32 {
    let sum: u32 = digits.iter().zip(weights).map(|(d, w)| d * w).sum();
    sum % 11 % 10
}

/// Masks every run of exactly 12 digits in `text` (a person's INN: personal data) as
/// `3664******85`, for logs. Ten-digit INNs of companies stay as they are.
pub fn mask_inns(text: &str) -> std::borrow::Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut runs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i - start == 12 {
                runs.push(start);
            }
        } else {
            i += 1;
        }
    }
    if runs.is_empty() {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = text.to_owned();
    for start in runs {
        out.replace_range(start + 4..start + 10, "******");
    }
    std::borrow::Cow::Owned(out)
}

/// Characters people put between the digits of an INN: spaces (plain, non-breaking, thin,
/// narrow) and hyphens (ASCII, Unicode, non-breaking).
fn is_separator(c: char) -> bool {
    matches!(
        c,
        ' ' | '\u{a0}' | '\u{2009}' | '\u{202f}' | '-' | '\u{2010}' | '\u{2011}'
    )
}

/// `text` without the separators that stand between two digits; anything else is kept for
/// the digit check to refuse (`-7707083893`, `77O7…`).
fn without_separators(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_separator) {
        return std::borrow::Cow::Borrowed(text);
    }
    let chars: Vec<char> = text.chars().collect();
    let digit_at = |i: Option<&char>| i.is_some_and(|c| c.is_ascii_digit());
    let kept = chars.iter().enumerate().filter(|(i, c)| {
        if !is_separator(**c) {
            return true;
        }
        let before = chars[..*i].iter().rev().find(|c| !is_separator(**c));
        let after = chars[i + 1..].iter().find(|c| !is_separator(**c));
        !(digit_at(before) && digit_at(after))
    });
    std::borrow::Cow::Owned(kept.map(|(_, c)| *c).collect())
}

impl Inn {
    /// The INN as logs may show it: a person's 12 digits masked (`3664******85`).
    pub fn masked(&self) -> std::borrow::Cow<'_, str> {
        mask_inns(&self.0)
    }

    /// Parses an INN, checking in order: present, digits only, length, check digits.
    /// Spaces, non-breaking spaces and hyphens between digits (`7707 083 893`, as people
    /// paste it) are removed first.
    pub fn parse(input: &str) -> Result<Inn, InnError> {
        let cleaned = without_separators(input.trim());
        let s = cleaned.as_ref();
        if s.is_empty() {
            return Err(InnError::Required);
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InnError::Digits);
        }
        let d = super::digits(s);
        let valid = match d.len() {
            10 => check_digit(&d[..9], &W10) == d[9],
            12 => check_digit(&d[..10], &W11) == d[10] && check_digit(&d[..11], &W12) == d[11],
            _ => return Err(InnError::Length),
        };
        if valid {
            Ok(Inn(s.to_owned()))
        } else {
            Err(InnError::Checksum)
        }
    }

    /// Completes 9 (or 10) leading digits into a valid INN by computing the check digit(s).
    /// Used by tests and the sandbox to make valid scenario numbers.
    pub fn complete(prefix: &str) -> Option<Inn> {
        if !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut d = super::digits(prefix);
        match d.len() {
            9 => d.push(check_digit(&d, &W10)),
            10 => {
                d.push(check_digit(&d, &W11));
                d.push(check_digit(&d, &W12));
            }
            _ => return None,
        }
        let s: String = d.iter().map(|x| char::from(b'0' + *x as u8)).collect();
        Some(Inn(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A 10-digit INN belongs to a legal entity (ЮЛ).
    pub fn is_legal_entity(&self) -> bool {
        self.0.len() == 10
    }
}

impl TryFrom<String> for Inn {
    type Error = InnError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Inn::parse(&value)
    }
}

impl From<Inn> for String {
    fn from(inn: Inn) -> String {
        inn.0
    }
}

impl fmt::Display for Inn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn separators_between_digits_are_removed_and_others_still_refused() {
        for pasted in [
            "7707 083 893",
            "7707\u{a0}083\u{a0}893",
            "7707-083-893",
            " 770 708 3893 ",
            "7707\u{202f}083893",
            "7707  083893",
        ] {
            assert_eq!(
                Inn::parse(pasted).unwrap().as_str(),
                "7707083893",
                "{pasted:?}"
            );
        }
        assert_eq!(Inn::parse("-7707083893"), Err(InnError::Digits));
        assert_eq!(Inn::parse("7707083893-"), Err(InnError::Digits));
        assert_eq!(Inn::parse("7707 O83 893"), Err(InnError::Digits));
        assert_eq!(Inn::parse(" - "), Err(InnError::Digits));
    }

    #[test]
    fn twelve_digit_inns_are_masked_in_any_text() {
        assert_eq!(mask_inns("366412345685"), "3664******85");
        assert_eq!(
            mask_inns("GET /v1/counterparties/366412345685?x=1"),
            "GET /v1/counterparties/3664******85?x=1"
        );
        assert_eq!(
            mask_inns("7707083893 and 1234567890123"),
            "7707083893 and 1234567890123"
        );
        assert_eq!(
            mask_inns("a 770100000142 b 770100000216"),
            "a 7701******42 b 7701******16"
        );
    }

    /// The weighted sums mod 11 (before `mod 10`), written out again independently of `check_digit`.
    fn raw_remainders(s: &str) -> Vec<u32> {
        let d: Vec<u32> = s.bytes().map(|b| u32::from(b - b'0')).collect();
        let sum = |n: usize, w: &[u32]| d[..n].iter().zip(w).map(|(a, b)| a * b).sum::<u32>() % 11;
        if d.len() == 10 {
            vec![sum(9, &W10)]
        } else {
            vec![sum(10, &W11), sum(11, &W12)]
        }
    }

    #[test]
    fn accepts_the_documented_vectors() {
        for v in [
            "7707083893",
            "7740000076",
            "7709120090",
            "1234567894",
            "504110181262",
            "123456789047",
        ] {
            assert_eq!(
                Inn::parse(v).map(|i| i.to_string()),
                Ok(v.to_owned()),
                "{v}"
            );
        }
    }

    #[test]
    fn rejects_the_documented_invalid_vectors() {
        assert_eq!(Inn::parse("1234567895"), Err(InnError::Checksum));
        assert_eq!(Inn::parse("123456789037"), Err(InnError::Checksum));
    }

    #[test]
    fn checks_in_order_required_digits_length_checksum() {
        assert_eq!(Inn::parse("  "), Err(InnError::Required));
        assert_eq!(Inn::parse("77070838a3"), Err(InnError::Digits));
        assert_eq!(Inn::parse("12345"), Err(InnError::Length));
        assert_eq!(Inn::parse("123a5"), Err(InnError::Digits));
        assert_eq!(Inn::parse("12345678901"), Err(InnError::Length));
        assert_eq!(Inn::parse("7707083894"), Err(InnError::Checksum));
    }

    #[test]
    fn trims_whitespace() {
        assert_eq!(Inn::parse(" 7707083893\n").unwrap().as_str(), "7707083893");
    }

    #[test]
    fn deserializes_only_valid_values() {
        assert!(serde_json::from_str::<Inn>("\"7707083893\"").is_ok());
        assert!(serde_json::from_str::<Inn>("\"7707083894\"").is_err());
    }

    proptest! {
        #[test]
        fn any_nine_digits_with_computed_check_digit_parse(prefix in "[0-9]{9}") {
            let inn = Inn::complete(&prefix).unwrap();
            prop_assert!(Inn::parse(inn.as_str()).is_ok());
        }

        #[test]
        fn any_ten_digits_with_computed_check_digits_parse(prefix in "[0-9]{10}") {
            let inn = Inn::complete(&prefix).unwrap();
            prop_assert!(Inn::parse(inn.as_str()).is_ok());
        }

        /// A single-digit change is rejected, except in the one case the algorithm cannot
        /// see: every weighted remainder moved between 0 and 10, which `mod 10` folds together.
        #[test]
        fn any_single_digit_change_fails(prefix in "[0-9]{9}|[0-9]{10}", pos in 0usize..12, delta in 1u8..10) {
            let inn = Inn::complete(&prefix).unwrap();
            let mut bytes = inn.as_str().as_bytes().to_vec();
            let pos = pos % bytes.len();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(bytes).unwrap();
            match Inn::parse(&changed) {
                Err(e) => prop_assert_eq!(e, InnError::Checksum),
                Ok(_) => {
                    let folded = raw_remainders(inn.as_str())
                        .into_iter()
                        .zip(raw_remainders(&changed))
                        .all(|(a, b)| a.abs_diff(b) == 10);
                    prop_assert!(folded, "{} -> {} accepted", inn, changed);
                }
            }
        }

        #[test]
        fn changing_a_check_digit_always_fails(prefix in "[0-9]{9}|[0-9]{10}", delta in 1u8..10) {
            let inn = Inn::complete(&prefix).unwrap();
            let mut bytes = inn.as_str().as_bytes().to_vec();
            let last = bytes.len() - 1;
            bytes[last] = b'0' + (bytes[last] - b'0' + delta) % 10;
            prop_assert_eq!(Inn::parse(std::str::from_utf8(&bytes).unwrap()), Err(InnError::Checksum));
        }
    }
}
