//! Rules through the API: the active version, hot reload (API, file watch, SIGHUP),
//! validation of candidates, dry-run on past checks, and profiles per request.

use crate::helpers::{Registries, TestApp, rule_ids, spawn_app_with};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

const DEFAULT_RULES: &str = include_str!("../../rules/default.toml");

/// A private copy of the default rules the test can edit.
fn rules_copy() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kt-rules-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rules.toml");
    std::fs::write(&file, DEFAULT_RULES).unwrap();
    file
}

async fn app_with_rules(file: &std::path::Path, watch_ms: u64) -> TestApp {
    let path = file.display().to_string();
    spawn_app_with(Registries::Sandbox, move |s| {
        s.rules.path = path;
        s.rules.watch_interval_ms = watch_ms;
    })
    .await
}

/// `POST` a policy file's text to a validate `path` (with its query); the answer.
async fn validate(app: &TestApp, path: &str, text: impl Into<reqwest::Body>) -> Value {
    post(app, path, text, "text/plain")
        .await
        .json()
        .await
        .unwrap()
}

async fn get_json(app: &TestApp, path: &str) -> Value {
    app.get(path).await.json().await.unwrap()
}

async fn post(
    app: &TestApp,
    path: &str,
    body: impl Into<reqwest::Body>,
    content_type: &str,
) -> reqwest::Response {
    app.client
        .post(format!("{}{path}", app.address))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_active_ruleset_is_shown_and_recorded_on_every_check() {
    let file = rules_copy();
    let app = app_with_rules(&file, 0).await;
    let active = get_json(&app, "/v1/rules").await;
    assert_eq!(active["author"], "startup");
    assert_eq!(active["profiles"].as_array().unwrap().len(), 3);
    assert!(
        active["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == "terminated")
    );
    let check = app.check("7701000019").await;
    assert_eq!(check["ruleset_version"], active["version"]);
    let versions = get_json(&app, "/v1/rules/versions").await;
    assert_eq!(versions["active"], active["version"]);
    let listed = versions["versions"].as_array().unwrap();
    assert_eq!(versions["monitoring_active"], active["monitoring_version"]);
    let kinds: Vec<(&Value, &Value)> = listed.iter().map(|v| (&v["kind"], &v["version"])).collect();
    assert_eq!(
        kinds.len(),
        2,
        "one version of each file at start: {kinds:?}"
    );
    assert!(
        kinds.contains(&(&json!("scoring"), &active["version"])),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&(&json!("monitoring"), &active["monitoring_version"])),
        "{kinds:?}"
    );
    assert!(listed.iter().all(|v| v["author"] == "startup"));
}

#[tokio::test]
async fn reload_activates_a_changed_file_and_refuses_a_bad_one() {
    let file = rules_copy();
    let app = app_with_rules(&file, 0).await;
    let before = app.check("7701000072").await; // mass address −20, arrears −25
    assert_eq!(before["score"], 55);

    std::fs::write(
        &file,
        DEFAULT_RULES.replace("delta = -20\nmessage.ru", "delta = -30\nmessage.ru"),
    )
    .unwrap();
    let r = post(
        &app,
        "/v1/rules/reload",
        r#"{"author":"a.ivanova","comment":"mass address −30"}"#,
        "application/json",
    )
    .await;
    assert_eq!(r.status(), 200);
    let outcome: Value = r.json().await.unwrap();
    assert_eq!(outcome["changed"], true);
    let after = app.check("7701000072").await;
    assert_eq!(after["score"], 45);
    assert_eq!(after["ruleset_version"], outcome["version"]);
    // The version a check was decided under keeps its text.
    let version: Value = app
        .get(&format!(
            "/v1/rules/versions/{}",
            outcome["version"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(version["kind"], "scoring");
    assert!(
        version["content"]
            .as_str()
            .unwrap()
            .contains("delta = -30\nmessage.ru")
    );
    assert_eq!(app.get("/v1/rules/versions/nope").await.status(), 422);
    assert_eq!(app.get("/v1/rules/versions/0000000").await.status(), 404);
    let short = &after["ruleset_version"].as_str().unwrap()[..12];
    assert_eq!(
        get_json(&app, &format!("/v1/rules/versions/{short}")).await["version"],
        after["ruleset_version"]
    );
    assert_ne!(after["ruleset_version"], before["ruleset_version"]);
    let versions = get_json(&app, "/v1/rules/versions").await;
    let listed: Vec<&Value> = versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["path"].as_str().unwrap().ends_with("rules.toml"))
        .collect();
    assert_eq!(listed.len(), 2);
    assert!(
        listed
            .iter()
            .any(|v| v["author"] == "anonymous (a.ivanova)" && v["comment"] == "mass address −30")
    );

    // The same file again changes nothing.
    let again: Value = post(&app, "/v1/rules/reload", "", "application/json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["changed"], false);

    // A bad file is refused with the rule and line; the last good ruleset stays active.
    std::fs::write(
        &file,
        DEFAULT_RULES.replace(
            "when = \"company.mass_address == true\"",
            "when = \"company.mass_adress == true\"",
        ),
    )
    .unwrap();
    let r = post(&app, "/v1/rules/reload", "", "application/json").await;
    assert_eq!(r.status(), 422);
    let problem: Value = r.json().await.unwrap();
    assert_eq!(problem["code"], "invalid_ruleset");
    assert_eq!(problem["errors"][0]["rule_id"], "mass_address");
    let text = std::fs::read_to_string(&file).unwrap();
    // The line of the rule's condition, 1-based, and the column of the misspelt fact.
    let lines: Vec<&str> = text.lines().collect();
    let when = lines
        .iter()
        .position(|l| l.contains("company.mass_adress"))
        .unwrap();
    assert_eq!(problem["errors"][0]["line"], json!(when + 1));
    assert_eq!(problem["errors"][0]["column"], json!(9));
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("company.mass_adress")
    );
    let still = app.check("7701000072").await;
    assert_eq!(still["ruleset_version"], outcome["version"]);
}

#[tokio::test]
async fn the_file_is_watched_and_reloaded_without_a_restart() {
    let file = rules_copy();
    let app = app_with_rules(&file, 50).await;
    let first = get_json(&app, "/v1/rules").await["version"].clone();
    // A broken edit is refused — visibly, with its problem — and the version stays…
    let broken = "[profiles.default]\nbase_score = ";
    std::fs::write(&file, broken).unwrap();
    let broken_version = kontragent::scoring::version_of(broken);
    let mut active = json!(null);
    for _ in 0..250 {
        active = get_json(&app, "/v1/rules").await;
        if active["last_refused"]["version"] == broken_version.as_str() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        active["last_refused"]["version"],
        broken_version.as_str(),
        "{active}"
    );
    assert_eq!(active["last_refused"]["errors"][0]["line"], 2, "{active}");
    assert_eq!(active["version"], first);
    // …and the fixed file is picked up.
    std::fs::write(
        &file,
        DEFAULT_RULES.replace("approve_from = 85", "approve_from = 86"),
    )
    .unwrap();
    let mut now = first.clone();
    for _ in 0..100 {
        now = get_json(&app, "/v1/rules").await["version"].clone();
        if now != first {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_ne!(now, first);
    let active = get_json(&app, "/v1/rules").await;
    assert_eq!(active["author"], "file-watch");
    assert!(active.get("last_refused").is_none(), "{active}");
}

#[tokio::test]
async fn validate_names_the_rule_and_line_of_every_kind_of_mistake() {
    let file = rules_copy();
    let app = app_with_rules(&file, 0).await;
    let ok: Value = validate(&app, "/v1/rules/validate", DEFAULT_RULES).await;
    assert_eq!(ok["valid"], true);
    assert_eq!(
        ok["profiles"],
        json!(["default", "large_deal", "small_deal"])
    );

    let profile = "[profiles.default]\nbase_score = 100\napprove_from = 85\nreview_from = 50\n\n";
    let cases = [
        (
            format!(
                "{profile}[[rules]]\nid = \"a\"\ntitle = \"A\"\nwhen = \"company.terminated ==\"\neffect = \"reject\"\n"
            ),
            Some("a"),
            "condition",
        ),
        (
            format!(
                "{profile}[[rules]]\nid = \"a\"\ntitle = \"A\"\nwhen = \"company.nope == 1\"\neffect = \"reject\"\n"
            ),
            Some("a"),
            "unknown fact",
        ),
        (
            format!(
                "{profile}[[rules]]\nid = \"a\"\ntitle = \"A\"\nwhen = \"company.known\"\neffect = \"ban\"\n"
            ),
            Some("a"),
            "ban",
        ),
        (
            format!(
                "{profile}[[rules]]\nid = \"a\"\ntitle = \"A\"\nwhen = \"company.known\"\neffect = \"review\"\n\n[[rules]]\nid = \"a\"\ntitle = \"B\"\nwhen = \"company.known\"\neffect = \"review\"\n"
            ),
            Some("a"),
            "duplicate id",
        ),
        // Type mistakes, found before any check runs.
        (
            format!(
                "{profile}[[rules]]\nid = \"young\"\ntitle = \"Y\"\nwhen = \"company.age_months < '12'\"\neffect = \"review\"\n"
            ),
            Some("young"),
            "`<` compares `company.age_months` (int) with '12' (string)",
        ),
        (
            format!(
                "{profile}[[rules]]\nid = \"a\"\ntitle = \"A\"\nwhen = \"company.age_months\"\neffect = \"review\"\n"
            ),
            Some("a"),
            "not true or false",
        ),
        (
            format!(
                "{profile}[[rules]]\nid = \"a\"\ntitle = \"A\"\nwhen = \"max(company.age_months, 1) > 3\"\neffect = \"review\"\n"
            ),
            Some("a"),
            "unknown function `max`",
        ),
        (
            format!(
                "{profile}[[rules]]\nid = \"a\"\ntitle = \"A\"\nwhen = \"company.terminated == true || true\"\neffect = \"review\"\n"
            ),
            Some("a"),
            "always true",
        ),
        (
            "[profiles.default]\nbase_score = 100\napprove_from = 40\nreview_from = 50\n"
                .to_owned(),
            None,
            "out of order",
        ),
        ("[profiles.default\nbase_score = 100\n".to_owned(), None, ""),
    ];
    for (text, rule, needle) in cases {
        let v: Value = validate(&app, "/v1/rules/validate", text.clone()).await;
        assert_eq!(v["valid"], false, "{text}");
        let e = &v["errors"][0];
        assert_eq!(e["rule_id"].as_str(), rule, "{v}");
        assert!(e["line"].as_u64().is_some(), "{v}");
        assert!(e["message"].as_str().unwrap().contains(needle), "{v}");
    }
}

#[tokio::test]
async fn dry_run_replays_a_candidate_on_past_checks() {
    let file = rules_copy();
    let app = app_with_rules(&file, 0).await;
    // A company checked three times counts once: its latest check is judged.
    for inn in [
        "7701000019",
        "7701000072",
        "7702000269",
        "7702000300",
        "7701000019",
        "7701000019",
    ] {
        app.check(inn).await;
    }
    // The candidate forgives court cases: the company with 14 in a year would be approved.
    let candidate = DEFAULT_RULES.replace(
        "court.respondent_cases_12m > 10\"\neffect = \"score\"\ndelta = -20",
        "court.respondent_cases_12m > 10\"\neffect = \"score\"\ndelta = 0",
    );
    assert_ne!(candidate, DEFAULT_RULES);
    let r = app
        .client
        .post(format!("{}/v1/rules/dry-run", app.address))
        .json(&json!({"ruleset": candidate}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();
    assert_eq!(
        (&report["inns"], &report["evaluated"]),
        (&json!(4), &json!(4)),
        "{report:#}"
    );
    assert_eq!(report["changed"], 1);
    assert_eq!(report["examples"][0]["inn"], "7702000269");
    assert_eq!(
        (
            report["examples"][0]["from"].as_str(),
            report["examples"][0]["to"].as_str()
        ),
        (Some("review"), Some("approve"))
    );
    let transitions = report["transitions"].as_array().unwrap();
    assert!(
        transitions.contains(&json!({"from": "review", "to": "approve", "count": 1})),
        "{transitions:?}"
    );

    // Judged under the small-deal profile, fedresurs is no longer required.
    let r = app
        .client
        .post(format!("{}/v1/rules/dry-run", app.address))
        .json(&json!({"ruleset": DEFAULT_RULES, "profile": "small_deal"}))
        .send()
        .await
        .unwrap();
    let report: Value = r.json().await.unwrap();
    assert!(
        report["examples"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["inn"] == "7702000300" && e["to"] == "approve"),
        "{report:#}"
    );
    // Only the catalog: the latest check of each listed contractor.
    let r = post(
        &app,
        "/v1/catalog",
        serde_json::to_string(&json!({"inn": "7701000019"})).unwrap(),
        "application/json",
    )
    .await;
    assert_eq!(r.status(), 201);
    let report: Value = app
        .client
        .post(format!("{}/v1/rules/dry-run", app.address))
        .json(&json!({"ruleset": DEFAULT_RULES, "catalog": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (report["evaluated"].as_u64(), report["changed"].as_u64()),
        (Some(1), Some(0))
    );
    // A candidate that does not compile is refused.
    let bad = app
        .client
        .post(format!("{}/v1/rules/dry-run", app.address))
        .json(&json!({"ruleset": "[oops"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
}

#[tokio::test]
async fn the_profile_is_chosen_per_request() {
    let file = rules_copy();
    let app = app_with_rules(&file, 0).await;
    // fedresurs refuses: the default profile needs it, a small deal does not.
    let default = app.check("7702000300").await;
    assert_eq!(default["decision"], "review");
    let small: Value = app
        .post_check(&json!({"inn": "7702000300", "profile": "small_deal"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (small["decision"].as_str(), small["profile"].as_str()),
        (Some("approve"), Some("small_deal"))
    );
    // kad blocked: fine for the default profile, not for a large deal.
    let large: Value = app
        .post_check(&json!({"inn": "7702000290", "profile": "large_deal"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(large["decision"], "review");
    assert_eq!(
        rule_ids(&large),
        ["required_source_unchecked", "court_cases_unchecked"]
    );
}

#[tokio::test]
async fn the_monitoring_policy_is_versioned_and_reloaded_too() {
    let dir = std::env::temp_dir().join(format!("kt-mon-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("monitoring.toml");
    let text = include_str!("../../rules/monitoring.toml");
    std::fs::write(&file, text).unwrap();
    let path = file.display().to_string();
    let app = spawn_app_with(Registries::Sandbox, move |s| {
        s.monitoring.rules_path = path;
        s.rules.watch_interval_ms = 0;
    })
    .await;
    let before = get_json(&app, "/v1/rules").await["monitoring_version"].clone();
    std::fs::write(
        &file,
        text.replace("quality.complaints >= 3", "quality.complaints >= 2"),
    )
    .unwrap();
    let r = post(
        &app,
        "/v1/rules/reload",
        r#"{"author":"a.ivanova","comment":"2 complaints are enough"}"#,
        "application/json",
    )
    .await;
    assert_eq!(r.status(), 200);
    let outcome: Value = r.json().await.unwrap();
    assert_eq!(
        (
            outcome["changed"].as_bool(),
            outcome["monitoring_changed"].as_bool()
        ),
        (Some(false), Some(true))
    );
    let after = get_json(&app, "/v1/rules").await["monitoring_version"].clone();
    assert_ne!(after, before);
    assert_eq!(after, outcome["monitoring_version"]);
    let versions = get_json(&app, "/v1/rules/versions").await;
    assert!(
        versions["versions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["version"] == after && v["author"] == "anonymous (a.ivanova)")
    );

    std::fs::write(
        &file,
        text.replace("status = \"removed\"", "status = \"gone\""),
    )
    .unwrap();
    let r = post(&app, "/v1/rules/reload", "", "application/json").await;
    assert_eq!(r.status(), 422);
    let problem: Value = r.json().await.unwrap();
    assert_eq!(problem["errors"][0]["rule_id"], "terminated");
    assert_eq!(
        get_json(&app, "/v1/rules").await["monitoring_version"],
        after,
        "the last good policy stays"
    );
}

/// The analyst's dry-run: the TOML as the body and the parameters in the query; reasons
/// that change while the decision stays, each rule's hits before and after, the messages,
/// and the checks that would now miss a required registry.
#[tokio::test]
async fn dry_run_explains_what_changes_even_when_the_decision_stays() {
    let app = app_with_rules(&rules_copy(), 0).await;
    // An approve, and a company whose kad answer was refused (kad not required by default).
    for inn in ["7701000019", "7702000290"] {
        app.check(inn).await;
    }
    let candidate = format!(
        "{DEFAULT_RULES}\n[[rules]]\nid = \"small_penalty\"\ntitle = \"Small penalty\"\nwhen = \"company.known == true\"\neffect = \"score\"\ndelta = -1\nmessage.ru = \"Штраф\"\nmessage.en = \"A small penalty\"\n"
    );
    let r = app
        .client
        .post(format!(
            "{}/v1/rules/dry-run?profile=large_deal&examples=10",
            app.address
        ))
        .header("Content-Type", "text/plain")
        .header("Accept-Language", "en")
        .body(candidate.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["evaluated"], 2, "{report:#}");
    assert_eq!(report["reasons_changed"], 2, "{report:#}");
    let approved = report["examples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["inn"] == "7701000019")
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(
        (&approved["from"], &approved["to"]),
        (&json!("approve"), &json!("approve"))
    );
    assert_eq!(approved["added"], json!(["small_penalty"]));
    assert_eq!(approved["removed"], json!([]));
    assert!(
        approved["reasons"].as_array().unwrap().contains(
            &json!({"rule_id": "small_penalty", "effect": "score", "message": "A small penalty"})
        ),
        "{approved:#}"
    );
    let rules = report["rules"].as_array().unwrap();
    assert!(
        rules.contains(&json!({"rule_id": "small_penalty", "before": 0, "after": 2})),
        "{rules:?}"
    );
    assert!(
        rules.contains(&json!({"rule_id": "court_cases_unchecked", "before": 1, "after": 1})),
        "{rules:?}"
    );
    assert_eq!(
        report["newly_unchecked"],
        json!([{"check_id": report["newly_unchecked"][0]["check_id"], "inn": "7702000290", "sources": ["kad"]}]),
        "{report:#}"
    );

    // A bad parameter names itself, in the query and in a JSON body alike.
    let refused = |path: &'static str, body: String, content_type: &'static str| {
        let app = &app;
        async move {
            let r = post(app, path, body, content_type).await;
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let as_json = |v: Value| serde_json::to_string(&v).unwrap();
    let (status, problem) = refused(
        "/v1/rules/dry-run?from=yesterday",
        candidate.clone(),
        "text/plain",
    )
    .await;
    assert_eq!(
        (status, &problem["code"], &problem["field"]),
        (400, &json!("invalid_query"), &json!("from")),
        "{problem}"
    );
    let (status, problem) = refused(
        "/v1/rules/dry-run",
        as_json(json!({"ruleset": candidate, "from": "yesterday"})),
        "application/json",
    )
    .await;
    assert_eq!(
        (status, &problem["code"], &problem["field"]),
        (422, &json!("invalid_field"), &json!("from")),
        "{problem}"
    );
    let (status, problem) = refused(
        "/v1/rules/dry-run",
        as_json(json!({"ruleset": candidate, "form": "2026-01-01T00:00:00Z"})),
        "application/json",
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        problem["detail"].as_str().unwrap().contains("`form`"),
        "{problem}"
    );
}

/// A court-case rule without a guard would turn a kad-blocked approve into a review in the
/// profiles that do not require kad: the file is valid, and the validator says so.
#[tokio::test]
async fn validate_warns_of_an_unguarded_rule_on_an_optional_registry() {
    let app = app_with_rules(&rules_copy(), 0).await;
    let candidate = format!(
        "{DEFAULT_RULES}\n[[rules]]\nid = \"young_and_sued\"\ntitle = \"Young and sued\"\nwhen = \"company.age_months != null && company.age_months < 12 && court.respondent_cases_12m > 0\"\neffect = \"review\"\n"
    );
    let v = validate(&app, "/v1/rules/validate", candidate).await;
    assert_eq!(v["valid"], true, "{v}");
    let warnings = v["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{v}");
    assert_eq!(warnings[0]["rule_id"], "young_and_sued");
    let message = warnings[0]["message"].as_str().unwrap();
    assert!(
        message.contains("court.respondent_cases_12m")
            && message.contains("profiles default, small_deal do not require kad"),
        "{message}"
    );
    let clean = validate(&app, "/v1/rules/validate", DEFAULT_RULES).await;
    assert_eq!(clean["warnings"], json!([]), "{clean}");
}

/// The monitoring policy is validated too: by its content, or as `?kind=` says.
#[tokio::test]
async fn validate_reads_the_monitoring_policy_by_its_content() {
    let app = crate::helpers::spawn_app().await;
    let monitoring = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/rules/monitoring.toml"
    ))
    .unwrap();
    let v: Value = validate(&app, "/v1/rules/validate", monitoring.clone()).await;
    assert_eq!(
        (v["kind"].as_str(), v["valid"].as_bool()),
        (Some("monitoring"), Some(true)),
        "{v}"
    );
    assert_eq!(v["rules"], 7);
    let broken = monitoring.replacen("status = \"suspended\"", "status = \"frozen\"", 1);
    let v: Value = validate(&app, "/v1/rules/validate", broken).await;
    assert_eq!(v["valid"], false);
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("frozen"),
        "{v}"
    );
    // Read as a ruleset, it lacks its profiles.
    let v: Value = validate(&app, "/v1/rules/validate?kind=scoring", monitoring).await;
    assert_eq!(
        (v["kind"].as_str(), v["valid"].as_bool()),
        (Some("scoring"), Some(false)),
        "{v}"
    );
    let r = post(
        &app,
        "/v1/rules/validate?kind=nope",
        DEFAULT_RULES,
        "text/plain",
    )
    .await;
    assert_eq!(r.status(), 400);
}

/// An app on `file` and the database `db`, its rules not watched.
async fn app_on(file: &std::path::Path, db: &str) -> TestApp {
    let (path, db) = (file.display().to_string(), db.to_owned());
    spawn_app_with(Registries::Sandbox, move |s| {
        s.rules.path = path;
        s.rules.watch_interval_ms = 0;
        s.database.url = db;
    })
    .await
}

/// Versions you can trust: a diff between two, a rollback that writes the file back, and
/// each activation listed with its author.
#[tokio::test]
async fn a_rollback_brings_back_an_earlier_version_and_is_listed_with_its_author() {
    let file = rules_copy();
    let app = app_with_rules(&file, 0).await;
    let first = kontragent::rules::version_of(DEFAULT_RULES);
    let edited = format!(
        "{}\n[[rules]]\nid = \"young_and_sued\"\ntitle = \"Young and sued\"\nwhen = \"company.age_months != null && company.age_months < 12\"\neffect = \"review\"\n",
        DEFAULT_RULES.replace(
            "when = \"company.mass_address == true\"\neffect = \"score\"\ndelta = -20",
            "when = \"company.mass_address == true\"\neffect = \"score\"\ndelta = -30",
        )
    );
    std::fs::write(&file, &edited).unwrap();
    let r = post(
        &app,
        "/v1/rules/reload",
        r#"{"comment": "stricter"}"#,
        "application/json",
    )
    .await;
    assert_eq!(r.status(), 200);
    let second = kontragent::rules::version_of(&edited);

    let diff = get_json(&app, &format!("/v1/rules/diff?from={first}")).await;
    assert_eq!(
        (&diff["from"], &diff["to"]),
        (&json!(first), &json!(second)),
        "{diff}"
    );
    assert_eq!(
        diff["rules"],
        json!({"added": ["young_and_sued"], "removed": [], "changed": ["mass_address"]})
    );
    let unified = diff["unified"].as_str().unwrap();
    assert!(
        unified.contains("\n-delta = -20\n+delta = -30\n"),
        "{unified}"
    );
    // A version as the CLI and the README show it: the first 12 digits (7 at least).
    let short = get_json(
        &app,
        &format!("/v1/rules/diff?from={}&to={}", &first[..12], &second[..7]),
    )
    .await;
    assert_eq!(
        (&short["from"], &short["to"]),
        (&json!(first), &json!(second))
    );
    let r = app.get("/v1/rules/diff?from=0000000").await;
    assert_eq!(r.status(), 404);
    let r = app
        .get(&format!("/v1/rules/diff?from={}", &first[..6]))
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(r.json::<Value>().await.unwrap()["field"], "from");
    let r = app.get("/v1/rules/diff").await;
    assert_eq!(r.status(), 400);

    let r = post(
        &app,
        "/v1/rules/rollback",
        serde_json::to_string(&json!({"version": &first[..12], "comment": "too many reviews"}))
            .unwrap(),
        "application/json",
    )
    .await;
    assert_eq!(r.status(), 200);
    let outcome: Value = r.json().await.unwrap();
    assert_eq!(
        (
            &outcome["version"],
            &outcome["previous"],
            &outcome["file_written"]
        ),
        (&json!(first), &json!(second), &json!(true)),
        "{outcome}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), DEFAULT_RULES);
    let active = get_json(&app, "/v1/rules").await;
    assert_eq!(active["version"], json!(first));
    // Who brought it back, and why, beside who first loaded it.
    assert_eq!(
        active["activated"]["comment"], "too many reviews",
        "{active}"
    );
    assert_eq!(active["author"], "startup");
    // The file holds the version again: a reload changes nothing.
    let r = post(&app, "/v1/rules/reload", "", "application/json").await;
    assert_eq!(r.json::<Value>().await.unwrap()["changed"], false);

    let versions = get_json(&app, "/v1/rules/versions").await;
    let of = |version: &str| {
        versions["versions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["version"] == version)
            .unwrap()["activations"]
            .clone()
    };
    let activations = of(&first);
    assert_eq!(activations.as_array().unwrap().len(), 2, "{versions:#}");
    assert_eq!(activations[0]["comment"], "too many reviews");
    assert_eq!(activations[0]["pinned"], false);
    assert_eq!(activations[1]["author"], "startup");
    assert_eq!(of(&second)[0]["comment"], "stricter");
    let r = post(
        &app,
        "/v1/rules/rollback",
        r#"{"version": "0000000"}"#,
        "application/json",
    )
    .await;
    assert_eq!(r.status(), 404);
}

/// `POST /v1/rules/explain`: the CLI's explain over the API — the latest check of an INN
/// under a candidate (or the ruleset in force), each reason marked.
#[tokio::test]
async fn explain_shows_the_latest_check_of_an_inn_under_a_candidate() {
    let file = rules_copy();
    let app = app_with_rules(&file, 0).await;
    let check = app.check("7701000058").await;
    assert_eq!(check["decision"], "review");
    let at = DEFAULT_RULES.find("id = \"reorganizing\"").unwrap();
    let effect = at + DEFAULT_RULES[at..].find("effect = \"review\"").unwrap();
    let candidate = format!(
        "{}effect = \"reject\"{}\n[[rules]]\nid = \"active_note\"\ntitle = \"Note\"\nwhen = \"company.status != 'ACTIVE'\"\neffect = \"score\"\ndelta = 0\n",
        &DEFAULT_RULES[..effect],
        &DEFAULT_RULES[effect + "effect = \"review\"".len()..]
    );
    let r = post(
        &app,
        "/v1/rules/explain?inn=7701000058",
        candidate.clone(),
        "text/plain",
    )
    .await;
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["check_id"], check["id"]);
    assert_eq!(
        (&report["before"]["decision"], &report["after"]["decision"]),
        (&json!("review"), &json!("reject")),
        "{report:#}"
    );
    assert_eq!(
        report["before"]["ruleset_version"],
        check["ruleset_version"]
    );
    assert_eq!(
        report["after"]["ruleset_version"],
        json!(kontragent::rules::version_of(&candidate))
    );
    let change = |id: &str| {
        report["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["reason"]["rule_id"] == id)
            .map(|r| r["change"].clone())
    };
    assert_eq!(change("reorganizing"), Some(json!("changed")), "{report:#}");
    assert_eq!(change("active_note"), Some(json!("added")), "{report:#}");
    // An empty body: the ruleset in force, which decides as the check was decided.
    let same: Value = post(&app, "/v1/rules/explain?inn=7701000058", "", "text/plain")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(same["after"]["decision"], "review");
    assert!(
        same["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["change"] == "kept"),
        "{same:#}"
    );
    // Never checked, a bad INN, an unknown profile, a broken candidate.
    assert_eq!(
        post(&app, "/v1/rules/explain?inn=7701000019", "", "text/plain")
            .await
            .status(),
        404
    );
    let r = post(&app, "/v1/rules/explain?inn=7701000059", "", "text/plain").await;
    assert_eq!(r.status(), 422);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "inn_checksum");
    let r = post(
        &app,
        "/v1/rules/explain?inn=7701000058&profile=nope",
        "",
        "text/plain",
    )
    .await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        post(
            &app,
            "/v1/rules/explain?inn=7701000058",
            "[oops",
            "text/plain"
        )
        .await
        .status(),
        422
    );
    assert_eq!(
        post(&app, "/v1/rules/explain", "", "text/plain")
            .await
            .status(),
        400
    );
}

/// A rules file the service may read but not replace: the rollback is pinned in the
/// database, survives a reload and a restart while the file is unchanged, and gives way
/// once the file is edited.
#[tokio::test]
async fn a_rollback_on_a_read_only_file_is_pinned_until_the_file_changes() {
    let file = rules_copy();
    let db = crate::helpers::fresh_database_url().await;
    // Start on an edited file, so an earlier version (the default) is stored.
    let app = app_on(&file, &db).await;
    let first = kontragent::rules::version_of(DEFAULT_RULES);
    let edited = DEFAULT_RULES.replace("delta = -20", "delta = -25");
    std::fs::write(&file, &edited).unwrap();
    post(&app, "/v1/rules/reload", "", "application/json").await;
    // The same file seen through /proc/self/fd: readable, and no file can be created beside
    // it, whoever runs the tests (root included).
    let handle = std::fs::File::open(&file).unwrap();
    let read_only = PathBuf::from(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&handle)
    ));
    let app = app_on(&read_only, &db).await;
    assert_eq!(
        get_json(&app, "/v1/rules").await["version"],
        json!(kontragent::rules::version_of(&edited))
    );
    let r = post(
        &app,
        "/v1/rules/rollback",
        serde_json::to_string(&json!({"version": first})).unwrap(),
        "application/json",
    )
    .await;
    let outcome: Value = r.json().await.unwrap();
    assert_eq!(outcome["file_written"], false, "{outcome}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), edited);
    assert_eq!(get_json(&app, "/v1/rules").await["version"], json!(first));
    let r = post(&app, "/v1/rules/reload", "", "application/json").await;
    assert_eq!(r.json::<Value>().await.unwrap()["version"], json!(first));
    // A restart keeps the pin while the file is what it was pinned over.
    let restarted = app_on(&read_only, &db).await;
    assert_eq!(
        get_json(&restarted, "/v1/rules").await["version"],
        json!(first)
    );
    let versions = get_json(&restarted, "/v1/rules/versions").await;
    assert!(
        versions["versions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["version"] == first && v["activations"][0]["pinned"] == true),
        "{versions:#}"
    );
    // The file is edited: it wins again.
    let third = DEFAULT_RULES.replace("delta = -20", "delta = -15");
    std::fs::write(&file, &third).unwrap();
    let r = post(&restarted, "/v1/rules/reload", "", "application/json").await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["version"],
        json!(kontragent::rules::version_of(&third))
    );
}

/// The monitoring policy has its dry-run too: every listed contractor judged under the
/// candidate and under the policy in force, nothing fetched and nothing moved.
#[tokio::test]
async fn a_monitoring_dry_run_judges_the_listed_contractors() {
    let app = app_with_rules(&rules_copy(), 0).await;
    app.check("7701000019").await;
    let r = post(
        &app,
        "/v1/catalog",
        serde_json::to_string(&json!({"inn": "7701000019"})).unwrap(),
        "application/json",
    )
    .await;
    assert_eq!(r.status(), 201);
    let candidate = format!(
        "{}\n[[rules]]\nid = \"every_active\"\ntitle = \"Every active one\"\nwhen = \"catalog.status == 'active'\"\nstatus = \"under_review\"\nmessage.ru = \"Все на проверку\"\nmessage.en = \"Everyone to review\"\n",
        include_str!("../../rules/monitoring.toml")
    );
    let r = app
        .client
        .post(format!("{}/v1/rules/dry-run/monitoring", app.address))
        .header("Content-Type", "text/plain")
        .header("Accept-Language", "en")
        .body(candidate)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();
    assert_eq!(
        (
            &report["evaluated"],
            &report["changed"],
            &report["reasons_changed"]
        ),
        (&json!(1), &json!(1), &json!(1)),
        "{report:#}"
    );
    assert_eq!(
        report["examples"][0],
        json!({"inn": "7701000019", "catalog_status": "active", "from": null, "to": "under_review",
               "added": ["every_active"], "removed": [],
               "reasons": [{"rule_id": "every_active", "effect": "under_review", "message": "Everyone to review"}]})
    );
    assert!(
        report["rules"]
            .as_array()
            .unwrap()
            .contains(&json!({"rule_id": "every_active", "before": 0, "after": 1})),
        "{report:#}"
    );
    // Nothing moved.
    let entry = get_json(&app, "/v1/catalog/7701000019").await;
    assert_eq!(entry["entry"]["status"], "active", "{entry}");
    // A bad candidate is refused with its rule and line.
    let r = post(
        &app,
        "/v1/rules/dry-run/monitoring",
        "[[rules]]\nid = \"x\"\ntitle = \"X\"\nwhen = \"quality.complaints > 'many'\"\nstatus = \"suspended\"\n",
        "text/plain",
    )
    .await;
    assert_eq!(r.status(), 422);
    let problem: Value = r.json().await.unwrap();
    assert_eq!(problem["errors"][0]["rule_id"], "x", "{problem}");
}
