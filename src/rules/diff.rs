//! What changed between two versions of a policy file: a unified diff of the texts, and the
//! rules added, removed and changed, told apart by their `id`.

use serde::Serialize;
use std::collections::BTreeMap;

/// The difference between two versions of one policy file.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"added": ["young_and_sued"], "removed": [], "changed": ["mass_address"]}))]
pub struct RuleChanges {
    /// Rule ids only the newer version has.
    pub added: Vec<String>,
    /// Rule ids only the older version has.
    pub removed: Vec<String>,
    /// Rule ids in both whose entry differs (condition, effect, delta, texts…).
    pub changed: Vec<String>,
}

/// A unified diff of `from` to `to` (3 lines of context), headed by the two names.
pub fn unified(from: &str, to: &str, from_name: &str, to_name: &str) -> String {
    similar::TextDiff::from_lines(from, to)
        .unified_diff()
        .context_radius(3)
        .header(from_name, to_name)
        .to_string()
}

/// The rules added, removed and changed between two file texts. A text that does not parse
/// contributes no rules (every stored version once compiled, so this is only defensive).
pub fn rule_changes(from: &str, to: &str) -> RuleChanges {
    let (before, after) = (rules_by_id(from), rules_by_id(to));
    RuleChanges {
        added: after
            .keys()
            .filter(|id| !before.contains_key(*id))
            .cloned()
            .collect(),
        removed: before
            .keys()
            .filter(|id| !after.contains_key(*id))
            .cloned()
            .collect(),
        changed: after
            .iter()
            .filter(|(id, rule)| before.get(*id).is_some_and(|old| old != *rule))
            .map(|(id, _)| id.clone())
            .collect(),
    }
}

fn rules_by_id(text: &str) -> BTreeMap<String, toml::Value> {
    let Ok(table) = text.parse::<toml::Table>() else {
        return BTreeMap::new();
    };
    table
        .get("rules")
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten()
        .filter_map(|rule| {
            let id = rule.get("id")?.as_str()?.to_owned();
            Some((id, rule.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FROM: &str =
        "[[rules]]\nid = \"a\"\nwhen = \"x\"\n\n[[rules]]\nid = \"b\"\nwhen = \"y\"\n";
    const TO: &str =
        "[[rules]]\nid = \"a\"\nwhen = \"x2\"\n\n[[rules]]\nid = \"c\"\nwhen = \"z\"\n";

    #[test]
    fn rules_are_told_apart_by_id() {
        let changes = rule_changes(FROM, TO);
        assert_eq!(changes.added, ["c"]);
        assert_eq!(changes.removed, ["b"]);
        assert_eq!(changes.changed, ["a"]);
        let same = rule_changes(FROM, FROM);
        assert!(same.added.is_empty() && same.removed.is_empty() && same.changed.is_empty());
    }

    #[test]
    fn the_text_diff_is_unified() {
        let diff = unified(FROM, TO, "old", "new");
        assert!(diff.starts_with("--- old\n+++ new\n@@ "), "{diff}");
        assert!(diff.contains("-when = \"x\"\n+when = \"x2\"\n"), "{diff}");
    }
}
