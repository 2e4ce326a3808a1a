//! The languages people read checks in.

use serde::{Deserialize, Serialize};

/// A language a rule's title and message, the report and the CLI can be written in.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Language {
    /// Russian, the default: managers and registries speak it.
    #[default]
    Ru,
    En,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<Language> {
        s.trim().to_ascii_lowercase().parse().ok()
    }

    /// Every language, for messages naming the known ones.
    pub fn all() -> &'static [Language] {
        <Language as strum::VariantArray>::VARIANTS
    }

    /// The language an `Accept-Language` header prefers among the known ones, by its
    /// `q` weights (RFC 9110 §12.5.4); `None` when it names none of them (`*` included:
    /// the caller's default applies).
    pub fn from_accept(header: &str) -> Option<Language> {
        let mut best: Option<(f32, usize, Language)> = None;
        for (position, range) in header.split(',').enumerate() {
            let mut parts = range.split(';');
            let tag = parts.next().unwrap_or_default().trim();
            let primary = tag.split('-').next().unwrap_or_default();
            let Some(language) = Language::parse(primary) else {
                continue;
            };
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q <= 0.0 || q.is_nan() {
                continue;
            }
            // The highest weight wins; among equal weights, the first listed.
            if best.is_none_or(|(bq, bp, _)| q > bq || (q == bq && position < bp)) {
                best = Some((q, position, language));
            }
        }
        best.map(|(_, _, l)| l)
    }
}

/// A fact's value in words: a missing value and yes/no read in `language`, a list joined.
pub fn value_text(value: Option<&serde_json::Value>, language: Language) -> String {
    use serde_json::Value;
    match (value, language) {
        (None | Some(Value::Null), Language::Ru) => "неизвестно".into(),
        (None | Some(Value::Null), Language::En) => "unknown".into(),
        (Some(Value::Bool(b)), Language::Ru) => if *b { "да" } else { "нет" }.into(),
        (Some(Value::String(s)), _) => s.clone(),
        (Some(Value::Array(items)), _) => items
            .iter()
            .map(|v| value_text(Some(v), language))
            .collect::<Vec<_>>()
            .join(", "),
        (Some(v), _) => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::Language::{self, En, Ru};

    #[test]
    fn accept_language_picks_the_highest_weighted_known_language() {
        assert_eq!(Language::from_accept("en"), Some(En));
        assert_eq!(Language::from_accept("en-US,en;q=0.9"), Some(En));
        assert_eq!(Language::from_accept("de-DE, ru;q=0.8, en;q=0.5"), Some(Ru));
        assert_eq!(Language::from_accept("ru;q=0.3, EN;q=0.7"), Some(En));
        assert_eq!(Language::from_accept("en;q=0, ru;q=0.1"), Some(Ru));
        assert_eq!(Language::from_accept("ru, en"), Some(Ru));
        assert_eq!(Language::from_accept("de, fr;q=0.5"), None);
        assert_eq!(Language::from_accept("*"), None);
        assert_eq!(Language::from_accept(""), None);
        assert_eq!(Language::from_accept("en;q=abc"), Some(En));
    }
}
