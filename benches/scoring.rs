//! Scoring speed: evaluating the default ruleset over a typical check's facts, and
//! compiling the ruleset. Run with `cargo bench --bench scoring`.

use criterion::{Criterion, criterion_group, criterion_main};
use kontragent::domain::Language;
use kontragent::facts::Fact;
use kontragent::scoring::{Ruleset, golden};
use serde_json::json;
use std::hint::black_box;

const DEFAULT_RULES: &str = include_str!("../rules/default.toml");

/// A typical check: a company with a mass address and a few court cases.
fn typical_facts() -> kontragent::facts::Facts {
    let mut facts = golden::baseline();
    for (name, value) in [
        ("company.mass_address", json!(true)),
        ("court.respondent_cases_total", json!(7)),
        ("court.respondent_cases_12m", json!(2)),
        ("company.age_months", json!(64)),
    ] {
        facts.insert(
            name.into(),
            Fact {
                value,
                source: Some("pb".into()),
                as_of: Some(chrono::Utc::now()),
            },
        );
    }
    facts
}

fn scoring(c: &mut Criterion) {
    let ruleset = Ruleset::parse(DEFAULT_RULES).expect("default rules");
    let profile = ruleset.profile("default").expect("default profile").clone();
    let facts = typical_facts();
    c.bench_function("evaluate default ruleset", |b| {
        b.iter(|| black_box(ruleset.evaluate(black_box(&profile), black_box(&facts), Language::Ru)))
    });
    c.bench_function("compile default ruleset", |b| {
        b.iter(|| black_box(Ruleset::parse(black_box(DEFAULT_RULES))))
    });
}

criterion_group!(benches, scoring);
criterion_main!(benches);
