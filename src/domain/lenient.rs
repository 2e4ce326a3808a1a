//! Integers as JSON Schema counts them: `1839.0` is the integer 1839
//! (schemathesis, and some JavaScript clients, send it so). A fraction is still refused.
//! The same fields read from a query string arrive as text (`?limit=10`).

use serde::{Deserialize, Deserializer, de::Error};

/// For `Option<T>` integer fields: `#[serde(default, deserialize_with = "...::integer")]`.
pub fn integer<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64>,
{
    /// A number, or the text of one (a query string has only text).
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrText {
        Number(serde_json::Number),
        Text(String),
    }
    let number = match Option::<NumberOrText>::deserialize(deserializer)? {
        None => return Ok(None),
        Some(NumberOrText::Number(n)) => n,
        Some(NumberOrText::Text(text)) => text
            .trim()
            .parse::<serde_json::Number>()
            .map_err(|_| D::Error::custom(format!("`{text}` is not an integer")))?,
    };
    let out_of_range = || D::Error::custom(format!("{number} is out of range"));
    if let Some(n) = number.as_u64() {
        return T::try_from(n).map(Some).map_err(|_| out_of_range());
    }
    if let Some(n) = number.as_i64() {
        return T::try_from(n).map(Some).map_err(|_| out_of_range());
    }
    match number.as_f64() {
        Some(f) if f.fract() == 0.0 && f >= 0.0 && f < u64::MAX as f64 => {
            T::try_from(f as u64).map(Some).map_err(|_| out_of_range())
        }
        Some(f) if f.fract() == 0.0 && f < 0.0 && f > i64::MIN as f64 => {
            T::try_from(f as i64).map(Some).map_err(|_| out_of_range())
        }
        _ => Err(D::Error::custom(format!("{number} is not an integer"))),
    }
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default, deserialize_with = "super::integer")]
        n: Option<u32>,
    }

    fn n(json: &str) -> Result<Option<u32>, String> {
        serde_json::from_str::<Body>(json)
            .map(|b| b.n)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn whole_floats_are_integers_and_fractions_are_not() {
        assert_eq!(n(r#"{"n": 7}"#), Ok(Some(7)));
        assert_eq!(n(r#"{"n": 7.0}"#), Ok(Some(7)));
        assert_eq!(n(r#"{}"#), Ok(None));
        assert_eq!(n(r#"{"n": null}"#), Ok(None));
        assert!(n(r#"{"n": 7.5}"#).unwrap_err().contains("not an integer"));
        assert!(n(r#"{"n": -1}"#).unwrap_err().contains("out of range"));
        assert!(n(r#"{"n": 1e300}"#).is_err());
        assert_eq!(n(r#"{"n": "12"}"#), Ok(Some(12)));
        assert!(
            n(r#"{"n": "ten"}"#)
                .unwrap_err()
                .contains("`ten` is not an integer")
        );
    }
}
