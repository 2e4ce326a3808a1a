//! Rule text from outside cannot crash, stall or bloat the process: each attack shape
//! that once aborted the process or held the workers is answered with a clear refusal,
//! and `/healthz` keeps answering.

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use serde_json::{Value, json};
use std::time::Duration;

const PROFILE: &str = "[profiles.default]\nbase_score = 100\napprove_from = 80\nreview_from = 50\n";

fn ruleset_with(when: &str) -> String {
    format!(
        "{PROFILE}\n[[rules]]\nid = \"hostile\"\ntitle = \"H\"\nwhen = '''{when}'''\neffect = \"review\"\n"
    )
}

/// The shapes from the issue: a 7 500-term sum, long field and index chains, a nested
/// `map` and a comprehension over long literals.
fn attack_shapes() -> Vec<(&'static str, String)> {
    let list = format!("[{}]", vec!["1"; 300].join(","));
    vec![
        (
            "sum of 7500 terms",
            format!("{} > 0", vec!["1"; 7_500].join("+")),
        ),
        ("field chain", format!("company{}", ".a".repeat(3_000))),
        ("index chain", format!("[1]{} == 1", "[0]".repeat(3_000))),
        (
            "deep parentheses",
            format!("{}true{}", "(".repeat(500), ")".repeat(500)),
        ),
        (
            "nested map",
            format!("{list}.map(x, {list}.map(y, {list}.map(z, x + y + z))).size() > 0"),
        ),
        (
            "short nested map",
            format!("{list}.map(x, {list}.map(y, x + y)).size() > 0"),
        ),
        (
            "sum of 100 terms",
            format!("{} > 0", vec!["1"; 100].join("+")),
        ),
    ]
}

async fn healthy(app: &TestApp) {
    let r = tokio::time::timeout(Duration::from_secs(5), app.get("/healthz"))
        .await
        .expect("/healthz answers while the attack runs");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn validate_refuses_every_attack_shape_and_the_process_survives() {
    let app = spawn_app().await;
    for (name, when) in attack_shapes() {
        let r = app
            .client
            .post(format!("{}/v1/rules/validate", app.address))
            .header("content-type", "text/plain")
            .body(ruleset_with(&when))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name}: the server went away: {e}"));
        assert_eq!(r.status(), 200, "{name}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["valid"], false, "{name}: {v}");
        assert_eq!(v["errors"][0]["rule_id"], "hostile", "{name}: {v}");
        healthy(&app).await;
    }
}

#[tokio::test]
async fn dry_run_answers_ruleset_too_costly_for_every_attack_shape() {
    let app = spawn_app().await;
    app.check("7701000019").await;
    for (name, when) in attack_shapes() {
        let r = app
            .client
            .post(format!("{}/v1/rules/dry-run", app.address))
            .json(&json!({"ruleset": ruleset_with(&when)}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name}: the server went away: {e}"));
        assert_eq!(r.status(), 422, "{name}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["code"], "ruleset_too_costly", "{name}: {v}");
        assert_eq!(v["errors"][0]["rule_id"], "hostile", "{name}: {v}");
    }
    healthy(&app).await;
}

#[tokio::test]
async fn deeply_nested_toml_is_refused_without_crashing() {
    let app = spawn_app().await;
    // Deeply nested TOML arrays: too big for a request body, and, smaller, refused by the
    // TOML parser running on the compiler's own stack.
    let nested = format!("x = {}1{}\n", "[".repeat(40_000), "]".repeat(40_000));
    let r = app
        .client
        .post(format!("{}/v1/rules/dry-run", app.address))
        .json(&json!({"ruleset": format!("{PROFILE}{nested}")}))
        .send()
        .await
        .unwrap();
    // Within the rules routes' own body bound; the parser refuses it, on its own stack.
    assert_eq!(r.status(), 422);
    // Past twice the rules file bound the body is not read.
    let r = app
        .client
        .post(format!("{}/v1/rules/validate", app.address))
        .body("#".repeat(kontragent::api::rules::MAX_RULES_BODY + 1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "body_too_large");
    let smaller = format!("x = {}1{}\n", "[".repeat(5_000), "]".repeat(5_000));
    let r = app
        .client
        .post(format!("{}/v1/rules/validate", app.address))
        .body(format!("{PROFILE}{smaller}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["valid"], false);
    healthy(&app).await;
}

#[tokio::test]
async fn a_dry_run_past_its_deadline_answers_with_a_partial_report() {
    let app = spawn_app_with(crate::helpers::Registries::Sandbox, |s| {
        s.rules.dry_run_timeout_ms = 1;
    })
    .await;
    app.check("7701000019").await;
    app.check("7701000026").await;
    let rules = include_str!("../../rules/default.toml");
    let r = app
        .client
        .post(format!("{}/v1/rules/dry-run", app.address))
        .json(&json!({"ruleset": rules}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["partial"], true, "{v}");
    assert!(v["evaluated"].as_u64().unwrap() < 2, "{v}");
}

#[tokio::test]
async fn concurrent_costly_dry_runs_leave_healthz_responsive() {
    let app = spawn_app().await;
    app.check("7701000019").await;
    // Close to the most a ruleset may cost: ten rules of nested comprehensions.
    let list = format!("[{}]", vec!["1"; 60].join(","));
    let when =
        format!("company.known == true && {list}.map(x, {list}.exists(y, y == x + 5)).size() > 0");
    let ruleset = (0..10).fold(PROFILE.to_owned(), |text, i| {
        format!("{text}\n[[rules]]\nid = \"r{i}\"\ntitle = \"R\"\nwhen = '''{when}'''\neffect = \"review\"\n")
    });
    let r = app
        .client
        .post(format!("{}/v1/rules/validate", app.address))
        .body(ruleset.clone())
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["valid"], true, "{v}");
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let client = app.client.clone();
            let url = format!("{}/v1/rules/dry-run", app.address);
            let body = json!({"ruleset": ruleset.clone()});
            tokio::spawn(async move { client.post(url).json(&body).send().await })
        })
        .collect();
    healthy(&app).await;
    for run in runs {
        assert_eq!(run.await.unwrap().unwrap().status(), 200);
    }
}

#[tokio::test]
async fn a_rules_file_over_the_size_or_rule_count_bound_is_refused_on_reload() {
    let dir = std::env::temp_dir().join(format!("kt-big-rules-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rules.toml");
    std::fs::write(&file, include_str!("../../rules/default.toml")).unwrap();
    let path = file.display().to_string();
    let app = spawn_app_with(crate::helpers::Registries::Sandbox, move |s| {
        s.rules.path = path;
        s.rules.watch_interval_ms = 0;
    })
    .await;
    let reload = || {
        app.client
            .post(format!("{}/v1/rules/reload", app.address))
            .send()
    };
    // Over 256 KiB: refused before the TOML parser sees it.
    let padding = format!("# {}\n", "x".repeat(1_000)).repeat(300);
    std::fs::write(&file, format!("{PROFILE}{padding}")).unwrap();
    let r = reload().await.unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "ruleset_too_costly", "{v}");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("bytes"),
        "{v}"
    );
    // 501 small rules: refused for their number.
    let rules = (0..501).fold(PROFILE.to_owned(), |text, i| {
        format!("{text}\n[[rules]]\nid = \"r{i}\"\ntitle = \"R\"\nwhen = \"company.known == true\"\neffect = \"review\"\n")
    });
    std::fs::write(&file, rules).unwrap();
    let r = reload().await.unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "ruleset_too_costly", "{v}");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("501 rules"),
        "{v}"
    );
    // The version in force never changed.
    let active: Value = app.get("/v1/rules").await.json().await.unwrap();
    assert_eq!(active["author"], "startup");
}

#[tokio::test]
async fn a_rules_file_the_bound_allows_is_not_refused_by_the_body_limit() {
    let app = spawn_app().await;
    // About 245 KB: over server.max_body_bytes (64 KiB), under the 256 KiB rules bound.
    let mut text = PROFILE.to_owned();
    for i in 0..480 {
        text.push_str(&format!(
            "\n[[rules]]\nid = \"size_{i}\"\ntitle = \"{}\"\nwhen = \"company.status == 'LIQUIDATING'\"\neffect = \"review\"\n",
            "т".repeat(205)
        ));
    }
    assert!(
        (240_000..256 * 1024).contains(&text.len()),
        "{}",
        text.len()
    );
    for (route, body) in [
        ("/v1/rules/validate", reqwest::Body::from(text.clone())),
        ("/v1/rules/dry-run", reqwest::Body::from(text.clone())),
    ] {
        let r = app
            .client
            .post(format!("{}{route}", app.address))
            .header("content-type", "text/plain")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let answer: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "{route}: {answer}");
    }
}
