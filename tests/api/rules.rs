//! The shipped ruleset: its golden cases pass and cover every rule; the facts reference
//! cannot drift from the code.

use kontragent::scoring::{Ruleset, golden};
use std::path::Path;

const DIR: &str = env!("CARGO_MANIFEST_DIR");

fn default_ruleset() -> Ruleset {
    kontragent::rules::load_file::<Ruleset>(&Path::new(DIR).join("rules/default.toml"))
        .expect("the default ruleset loads")
}

#[test]
fn every_golden_case_passes() {
    let outcomes = golden::run_dir(
        &default_ruleset(),
        &Path::new(DIR).join("rules/tests"),
        "default",
    )
    .unwrap();
    assert!(outcomes.len() >= 30, "{} cases", outcomes.len());
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.passed())
        .map(|o| format!("{} — {}: {:?}", o.file, o.name, o.problems))
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn every_default_rule_fires_in_some_golden_case() {
    let ruleset = default_ruleset();
    let outcomes =
        golden::run_dir(&ruleset, &Path::new(DIR).join("rules/tests"), "default").unwrap();
    for rule in &ruleset.rules {
        assert!(
            outcomes.iter().any(|o| o.fired.contains(&rule.id)),
            "no golden case fires rule `{}`",
            rule.id
        );
    }
}

#[test]
fn a_failing_case_says_what_differs() {
    let dir = std::env::temp_dir().join(format!("kt-golden-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("case.toml");
    std::fs::write(
        &file,
        "[[case]]\nname = \"wrong\"\nfacts = { \"company.mass_address\" = true, \"company.nope\" = 1 }\nexpect = { decision = \"approve\", score = 100, rules = [] }\n",
    )
    .unwrap();
    let outcomes = golden::run_file(&default_ruleset(), &file, "default").unwrap();
    let problems = &outcomes[0].problems;
    assert!(
        problems.contains(&"unknown fact `company.nope`".to_owned()),
        "{problems:?}"
    );
    assert!(
        problems.contains(&"decision: expected approve, got review".to_owned()),
        "{problems:?}"
    );
    assert!(
        problems.contains(&"score: expected 100, got 80".to_owned()),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("unexpected [\"mass_address\"]")),
        "{problems:?}"
    );
    // Why it fired: the message and every fact the rule read.
    assert!(
        problems.contains(
            &"fired `mass_address` (score): По этому адресу зарегистрированы и другие организации — read company.mass_address = true"
                .to_owned()
        ),
        "{problems:?}"
    );
}

/// A rule that cannot be evaluated shows its error and what it read, not only its id.
#[test]
fn a_failing_case_shows_the_error_of_a_rule_that_could_not_be_evaluated() {
    let ruleset = Ruleset::parse(
        "[profiles.default]\nbase_score = 100\napprove_from = 80\nreview_from = 50\n\n[[rules]]\nid = \"young\"\ntitle = \"Young\"\nwhen = \"dyn(company.age_months) < '12'\"\neffect = \"review\"\n",
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("kt-golden-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("case.toml");
    std::fs::write(
        &file,
        "[[case]]\nname = \"old company\"\nfacts = { \"company.age_months\" = 120 }\nexpect = { decision = \"approve\", rules = [] }\n",
    )
    .unwrap();
    let problems = &golden::run_file(&ruleset, &file, "default").unwrap()[0].problems;
    let why = problems
        .iter()
        .find(|p| p.starts_with("fired `young` (review): нет данных для правила young: "))
        .unwrap_or_else(|| panic!("{problems:?}"));
    assert!(why.ends_with("— read company.age_months = 120"), "{why}");
}

#[test]
fn the_facts_reference_matches_the_code() {
    let path = Path::new(DIR).join("rules/FACTS.md");
    let generated = kontragent::facts::definitions_markdown();
    if std::env::var_os("UPDATE_FACTS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "rules/FACTS.md is out of date: run `cargo run -- rules facts --markdown > rules/FACTS.md`"
    );
}

/// A failing monitoring case explains itself as a scoring one does.
#[test]
fn a_failing_monitoring_case_says_what_differs_and_why_each_rule_fired() {
    use kontragent::monitoring::rules::{MonitoringPolicy, golden as monitoring_golden};
    let policy = kontragent::rules::load_file::<MonitoringPolicy>(
        &Path::new(DIR).join("rules/monitoring.toml"),
    )
    .expect("loads");
    let dir = std::env::temp_dir().join(format!("kt-golden-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("case.toml"),
        "[[case]]\nname = \"complaints\"\nfacts = { \"quality.complaints\" = 4 }\nexpect = { status = \"none\", rules = [] }\n",
    )
    .unwrap();
    let outcomes = monitoring_golden::run_dir(&policy, &dir).unwrap();
    let problems = &outcomes[0].problems;
    assert!(
        problems.contains(&"status: expected none, got under_review".to_owned()),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("unexpected [\"complaints\"]")),
        "{problems:?}"
    );
    assert!(
        problems.contains(
            &"fired `complaints` (under_review): Жалоб за период инцидентов: 4 — read quality.complaints = 4"
                .to_owned()
        ),
        "{problems:?}"
    );
}

#[test]
fn every_monitoring_case_passes_and_every_monitoring_rule_fires_in_one() {
    use kontragent::monitoring::rules::{MonitoringPolicy, golden as monitoring_golden};
    let policy = kontragent::rules::load_file::<MonitoringPolicy>(
        &Path::new(DIR).join("rules/monitoring.toml"),
    )
    .expect("loads");
    let outcomes =
        monitoring_golden::run_dir(&policy, &Path::new(DIR).join("rules/tests/monitoring"))
            .unwrap();
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.passed())
        .map(|o| format!("{}: {:?}", o.name, o.problems))
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    for rule in &policy.rules {
        assert!(
            outcomes.iter().any(|o| o.fired.contains(&rule.id)),
            "no case fires `{}`",
            rule.id
        );
    }
}
