//! A rule's title and message in the languages it was written in.
//!
//! A rule file writes either one text (`message = "…"`, read in every language) or one per
//! language (`message.ru = "…"`, `message.en = "…"`); the title works the same way. A check
//! shows the reader's language and keeps the others beside it, so one stored check can be
//! shown in any of them.

use super::Template;
use crate::domain::Language;
use crate::facts::Facts;
use serde::Deserialize;
use std::collections::BTreeMap;

/// A title or message as the TOML file writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawText {
    One(String),
    PerLanguage(BTreeMap<String, String>),
}

/// The title and message template of a rule, per language.
#[derive(Debug)]
pub struct RuleText {
    /// Written once, for every language.
    neutral: Option<(String, Template)>,
    by_language: BTreeMap<Language, (String, Template)>,
}

impl RuleText {
    /// The key a problem reported by [`RuleText::parse`] is about, to place it in the file.
    pub fn key_of(problem: &str) -> &'static str {
        if problem.contains("title") && !problem.contains("message") {
            "title"
        } else {
            "message"
        }
    }

    /// Reads a rule's `title` and optional `message` (the title when absent). Each
    /// language a table names gets its title and message; a language one of them leaves out
    /// borrows the other's single text or, failing that, its first language.
    pub fn parse(
        title: &RawText,
        message: Option<&RawText>,
        is_fact: &dyn Fn(&str) -> bool,
    ) -> Result<RuleText, String> {
        let title_langs = languages_of("title", title)?;
        let message_langs = message
            .map(|m| languages_of("message", m))
            .transpose()?
            .unwrap_or_default();
        let template = |text: &str| Template::parse(text, is_fact);
        if title_langs.is_empty() && message_langs.is_empty() {
            let title = pick(title, None).to_owned();
            let message = template(message.map_or(title.as_str(), |m| pick(m, None)))?;
            return Ok(RuleText {
                neutral: Some((title, message)),
                by_language: BTreeMap::new(),
            });
        }
        let mut by_language = BTreeMap::new();
        for language in title_langs.into_iter().chain(message_langs) {
            let title = pick(title, Some(language)).to_owned();
            let message = template(message.map_or(title.as_str(), |m| pick(m, Some(language))))
                .map_err(|e| format!("{e} ({})", language.as_str()))?;
            by_language.insert(language, (title, message));
        }
        Ok(RuleText {
            neutral: None,
            by_language,
        })
    }

    fn get(&self, language: Language) -> &(String, Template) {
        self.by_language
            .get(&language)
            .or(self.neutral.as_ref())
            .or_else(|| self.by_language.values().next())
            .expect("a rule text has a neutral text or at least one language")
    }

    /// The title in `language` (or the closest the rule has).
    pub fn title(&self, language: Language) -> &str {
        &self.get(language).0
    }

    /// The title and the rendered message in `language`, and in each other language the
    /// rule was written in.
    pub fn render(&self, language: Language, facts: &Facts) -> Rendered {
        let (title, message) = self.get(language);
        Rendered {
            title: title.clone(),
            message: message.render(facts, language),
            translations: self
                .by_language
                .iter()
                .filter(|(l, _)| **l != language)
                .map(|(l, (title, message))| {
                    (
                        *l,
                        Translation {
                            title: title.clone(),
                            message: message.render(facts, *l),
                        },
                    )
                })
                .collect(),
        }
    }
}

/// A rule's title and message in one language.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"title": "Mass registration address", "message": "The address is a mass registration address"}))]
pub struct Translation {
    #[schema(example = "Mass registration address")]
    pub title: String,
    #[schema(example = "The address is a mass registration address")]
    pub message: String,
}

/// What [`RuleText::render`] gives.
pub struct Rendered {
    pub title: String,
    pub message: String,
    pub translations: BTreeMap<Language, Translation>,
}

fn languages_of(field: &str, text: &RawText) -> Result<Vec<Language>, String> {
    let RawText::PerLanguage(map) = text else {
        return Ok(Vec::new());
    };
    if map.is_empty() {
        return Err(format!("`{field}` needs at least one language"));
    }
    map.keys()
        .map(|key| {
            Language::parse(key).ok_or_else(|| {
                let known: Vec<&str> = Language::all().iter().map(|l| l.as_str()).collect();
                format!(
                    "unknown language `{key}` in `{field}` (known: {})",
                    known.join(", ")
                )
            })
        })
        .collect()
}

/// The text for `language`: the single text, the language's own, or the first listed.
fn pick(text: &RawText, language: Option<Language>) -> &str {
    match text {
        RawText::One(s) => s,
        RawText::PerLanguage(map) => language
            .and_then(|l| map.iter().find(|(k, _)| Language::parse(k) == Some(l)))
            .or_else(|| map.iter().next())
            .map(|(_, v)| v.as_str())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Language::{En, Ru};

    fn raw(toml_value: &str) -> RawText {
        #[derive(Deserialize)]
        struct W {
            t: RawText,
        }
        toml::from_str::<W>(&format!("t = {toml_value}")).unwrap().t
    }

    fn any_fact(_: &str) -> bool {
        true
    }

    #[test]
    fn one_text_is_every_language() {
        let text = RuleText::parse(&raw("\"Ликвидация\""), None, &any_fact).unwrap();
        let r = text.render(En, &Facts::default());
        assert_eq!(
            (r.title.as_str(), r.message.as_str()),
            ("Ликвидация", "Ликвидация")
        );
        assert!(r.translations.is_empty());
    }

    #[test]
    fn per_language_texts_render_the_chosen_one_and_keep_the_others() {
        let text = RuleText::parse(
            &raw("{ ru = \"Ликвидация\", en = \"Liquidation\" }"),
            Some(&raw(
                "{ ru = \"Статус: {company.status}\", en = \"Status: {company.status}\" }",
            )),
            &any_fact,
        )
        .unwrap();
        let r = text.render(Ru, &Facts::default());
        assert_eq!(r.title, "Ликвидация");
        assert_eq!(r.message, "Статус: неизвестно");
        assert_eq!(r.translations[&En].message, "Status: unknown");
        assert_eq!(text.title(En), "Liquidation");
    }

    #[test]
    fn a_language_only_one_field_names_borrows_the_other() {
        let text = RuleText::parse(
            &raw("\"Адрес\""),
            Some(&raw("{ en = \"Mass address\" }")),
            &any_fact,
        )
        .unwrap();
        // Russian is not written: the first language there is stands in.
        let r = text.render(Ru, &Facts::default());
        assert_eq!(
            (r.title.as_str(), r.message.as_str()),
            ("Адрес", "Mass address")
        );
    }

    #[test]
    fn unknown_languages_and_empty_tables_are_refused() {
        let err = RuleText::parse(&raw("{ de = \"X\" }"), None, &any_fact).unwrap_err();
        assert_eq!(err, "unknown language `de` in `title` (known: ru, en)");
        let err = RuleText::parse(&raw("\"X\""), Some(&raw("{}")), &any_fact).unwrap_err();
        assert_eq!(err, "`message` needs at least one language");
    }
}
