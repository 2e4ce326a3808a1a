//! Reason templates: `"{court.respondent_cases_12m} cases as respondent"` rendered with facts.

use crate::domain::Language;
use crate::facts::Facts;

/// A parsed message template: literal text and fact placeholders.
#[derive(Debug, Clone)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Fact(String),
}

impl Template {
    /// Parses `{fact.name}` placeholders; `{{` and `}}` are literal braces.
    pub fn parse(source: &str, is_fact: &dyn Fn(&str) -> bool) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut chars = source.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    text.push('}');
                }
                '{' => {
                    let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                    let name = name.trim().to_owned();
                    if !is_fact(&name) {
                        return Err(format!("unknown fact `{name}` in message"));
                    }
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(Part::Fact(name));
                }
                '}' => return Err("unmatched `}` in message".into()),
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Template { parts })
    }

    /// The text with each fact's value; a missing fact and yes/no read in `language`.
    pub fn render(&self, facts: &Facts, language: Language) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Fact(name) => out.push_str(&crate::domain::value_text(
                    facts.get(name).map(|f| &f.value),
                    language,
                )),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Fact;
    use serde_json::json;

    #[test]
    fn renders_facts_and_literal_braces() {
        let is_fact = |n: &str| n == "a.b" || n == "a.list";
        let t = Template::parse("{{x}} {a.b} and {a.list}", &is_fact).unwrap();
        let mut facts = Facts::new();
        facts.insert(
            "a.b".into(),
            Fact {
                value: json!(7),
                source: None,
                as_of: None,
            },
        );
        facts.insert(
            "a.list".into(),
            Fact {
                value: json!(["pb", "egrul"]),
                source: None,
                as_of: None,
            },
        );
        assert_eq!(t.render(&facts, Language::En), "{x} 7 and pb, egrul");
        assert_eq!(
            Template::parse("{a.c}", &|_| true)
                .unwrap()
                .render(&facts, Language::Ru),
            "неизвестно"
        );
        let err = Template::parse("{nope}", &is_fact).unwrap_err();
        assert!(err.contains("nope"), "names the unknown fact: {err}");
    }
}
