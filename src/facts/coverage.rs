//! Coverage: how each registry answered, and which sources a profile needed but did not
//! get. The per-source facts are declared for every registry in [`REGISTRIES`].

use super::{Fact, FactDef, Facts, computed, put};
use crate::sources::{REGISTRIES, SourceReport, SourceStatus, source_names};
use serde_json::json;
use std::borrow::Cow;

pub(super) const REQUIRED_MISSING: FactDef = FactDef {
    name: Cow::Borrowed("sources.required_missing"),
    kind: "list<string>",
    unit: "",
    source: "service",
    description: "Sources the profile requires that were not checked (unavailable or disabled).",
    example: "[]",
};

pub(super) const UNAVAILABLE: FactDef = FactDef {
    name: Cow::Borrowed("sources.unavailable"),
    kind: "list<string>",
    unit: "",
    source: "service",
    description: "Sources that gave no usable answer.",
    example: "[]",
};

/// In the order `rules/FACTS.md` lists them.
pub(super) const DEFINED: &[FactDef] = &[REQUIRED_MISSING, UNAVAILABLE];

/// The coverage facts, then `sources.<name>.status` and `sources.<name>.detail` for every
/// registry.
pub(super) fn definitions() -> Vec<FactDef> {
    let mut out = DEFINED.to_vec();
    for registry in REGISTRIES {
        let name = registry.name;
        out.push(FactDef {
            name: Cow::Owned(status_fact(name)),
            kind: "string",
            unit: "",
            source: "service",
            description: "How this source answered: ok, not_found, unavailable, stale or disabled.",
            example: "\"ok\"",
        });
        out.push(FactDef {
            name: Cow::Owned(detail_fact(name)),
            kind: "string",
            unit: "",
            source: "service",
            description: "Why the source was unavailable (timeout, http_403, captcha, captcha_pause, blocked, cookie_expired, garbage, incomplete…), else null.",
            example: "null",
        });
    }
    out
}

fn status_fact(source: &str) -> String {
    format!("sources.{source}.status")
}

fn detail_fact(source: &str) -> String {
    format!("sources.{source}.detail")
}

pub(super) fn compute(facts: &mut Facts, reports: &[SourceReport], required: &[String]) {
    for name in source_names() {
        let report = reports.iter().find(|r| r.source == name);
        let (status, detail) = match report {
            Some(r) => (r.status, r.detail.clone()),
            None => (SourceStatus::Disabled, None),
        };
        facts.insert(
            status_fact(name),
            Fact {
                value: json!(status.as_str()),
                source: Some(name.to_string()),
                as_of: report.map(|r| r.fetched_at),
            },
        );
        facts.insert(detail_fact(name), computed(json!(detail)));
    }
    apply_coverage(facts, required);
}

/// Computes `sources.required_missing` and `sources.unavailable` from the
/// `sources.<name>.status` facts for a profile that requires `required`: once for a fresh
/// check, and again when stored facts are judged under another profile (dry-run, golden
/// cases).
pub fn apply_coverage(facts: &mut Facts, required: &[String]) {
    let status = |name: &str| {
        facts
            .get(&status_fact(name))
            .and_then(|f| f.value.as_str())
            .and_then(SourceStatus::parse)
            .unwrap_or(SourceStatus::Disabled)
    };
    let missing: Vec<&String> = required
        .iter()
        .filter(|n| !status(n).is_checked())
        .collect();
    let unavailable: Vec<&str> = source_names()
        .filter(|n| status(n) == SourceStatus::Unavailable)
        .collect();
    let missing = computed(json!(missing));
    let unavailable = computed(json!(unavailable));
    put(facts, &REQUIRED_MISSING, missing);
    put(facts, &UNAVAILABLE, unavailable);
}
