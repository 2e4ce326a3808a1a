//! The check resource: stored, retrievable, asynchronous past `wait_ms` (callbacks: `webhooks.rs`).

use crate::helpers::{Registries, spawn_app, spawn_app_from, spawn_app_with, test_settings};
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn a_check_is_stored_and_can_be_fetched_by_id() {
    let app = spawn_app().await;
    let check = app.check("7701000040").await;
    let id = check["id"].as_str().unwrap();
    let fetched: Value = app
        .get(&format!("/v1/checks/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, check);
}

#[tokio::test]
async fn the_counterparty_shows_the_latest_decision() {
    let app = spawn_app().await;
    app.check("7701000019").await;
    let latest = app.check("7701000019").await;
    let r = app.get("/v1/counterparties/7701000019").await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["inn"], "7701000019");
    assert_eq!(body["decision"], "approve");
    assert_eq!(body["company"]["ogrn"], "1027701000018");
    assert_eq!(body["latest_check"]["id"], latest["id"]);
}

#[tokio::test]
async fn past_wait_ms_the_answer_is_202_with_a_location_to_poll() {
    let app = spawn_app_with(Registries::Sandbox, |s| {
        for (_, src) in s.sources.iter_mut() {
            src.timeout_ms = 400;
        }
    })
    .await;
    // The slow scenario takes until the sources' timeout.
    let r = app
        .post_check(&json!({"inn": "7701000107", "wait_ms": 50}))
        .await;
    assert_eq!(r.status(), 202);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let pending: Value = r.json().await.unwrap();
    assert_eq!(pending["state"], "pending");
    assert_eq!(pending["inn"], "7701000107");
    assert_eq!(
        location,
        format!("/v1/checks/{}", pending["id"].as_str().unwrap())
    );

    let polled: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(polled["state"], "pending");
    let mut done = polled;
    for _ in 0..50 {
        if done["state"] == "done" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        done = app.get(&location).await.json().await.unwrap();
    }
    assert_eq!(done["state"], "done");
    assert_eq!(done["decision"], "review");
}

#[tokio::test]
async fn disabled_sources_are_reported_and_not_approved_when_required() {
    let app = spawn_app_with(Registries::Sandbox, |s| s.sources["pb"].enabled = false).await;
    let check = app.check("7701000019").await;
    assert_eq!(check["sources"]["pb"]["status"], "disabled");
    assert_eq!(check["decision"], "review");
    assert_eq!(check["reasons"][0]["message"], "Не проверено: pb");
}

#[tokio::test]
async fn a_bad_ruleset_stops_start_up_naming_the_rule() {
    let dir = std::env::temp_dir().join(format!("kt-rules-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "[profiles.default]\nbase_score = 100\napprove_from = 80\nreview_from = 50\n\n[[rules]]\nid = \"typo\"\ntitle = \"T\"\nwhen = \"company.statsu == 'X'\"\neffect = \"reject\"\n",
    )
    .unwrap();
    let mut settings = crate::helpers::test_settings(Registries::Sandbox).await;
    settings.rules.path = file.display().to_string();
    let err = match kontragent::startup::Application::build(settings).await {
        Ok(_) => panic!("a bad ruleset must stop start-up"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("rule `typo` (line 9, column 9)") && err.contains("company.statsu"),
        "{err}"
    );
}

#[tokio::test]
async fn an_absurd_max_age_is_refused_and_a_large_one_is_safe() {
    let app = spawn_app().await;
    let r = app
        .post_check(&json!({"inn": "7701000019", "max_age_s": 9_000_000_000_000u64}))
        .await;
    assert_eq!(r.status(), 422);
    let problem: serde_json::Value = r.json().await.unwrap();
    assert_eq!(problem["code"], "invalid_field");
    assert_eq!(problem["field"], "max_age_s");
    // The largest allowed age reaches back before the Unix epoch: no overflow either.
    let r = app
        .post_check(&json!({"inn": "7701000019", "max_age_s": 315_360_000}))
        .await;
    assert_eq!(r.status(), 200);
    let check: serde_json::Value = r.json().await.unwrap();
    assert_eq!(check["state"], "done");
}

#[tokio::test]
async fn checks_past_the_running_cap_are_told_to_retry() {
    let app = crate::helpers::spawn_app_with(crate::helpers::Registries::Sandbox, |s| {
        s.limits.max_running_checks = 1;
    })
    .await;
    // 7701000107: every registry is slow, so the first check holds the only slot.
    let first = app
        .post_check(&json!({"inn": "7701000107", "wait_ms": 0}))
        .await;
    assert_eq!(first.status(), 202);
    let second = app.post_check(&json!({"inn": "7701000019"})).await;
    assert_eq!(second.status(), 503);
    assert_eq!(second.headers()["retry-after"], "1");
    let problem: serde_json::Value = second.json().await.unwrap();
    assert_eq!(problem["code"], "service_busy");
}

#[tokio::test]
async fn a_check_left_pending_by_a_stopped_process_is_failed_at_start() {
    // It was asked with a callback: its caller is told of the failure.
    let receiver = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let mut settings = test_settings(Registries::Sandbox).await;
    settings.webhooks.allow_targets = vec!["127.0.0.1".into()];
    let store = kontragent::storage::connect(&settings.database.url, 1)
        .await
        .unwrap();
    let id = uuid::Uuid::now_v7();
    let created = chrono::Utc::now() - chrono::TimeDelta::hours(1);
    let document = json!({"id": id, "inn": "7701000019", "state": "pending", "profile": "default",
        "reasons": [], "sources": {}, "created_at": created});
    store
        .save_check(&kontragent::storage::StoredCheck {
            id,
            inn: "7701000019".into(),
            state: "pending".into(),
            decision: None,
            score: None,
            profile: "default".into(),
            ruleset_version: None,
            created_at: created,
            checked_at: None,
            document: document.to_string(),
            facts: None,
            callback_url: Some(format!("{}/hook", receiver.uri())),
        })
        .await
        .unwrap();
    let app = spawn_app_from(settings).await;
    let check: Value = app
        .get(&format!("/v1/checks/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(check["state"], "failed", "{check}");
    assert!(check["error"].as_str().unwrap().starts_with("abandoned"));
    let mut received = Vec::new();
    for _ in 0..250 {
        received = receiver.received_requests().await.unwrap();
        if !received.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(received.len(), 1, "the callback of the failed check");
    let body: Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(
        (&body["type"], &body["data"]["id"], &body["data"]["state"]),
        (&json!("check.completed"), &json!(id), &json!("failed"))
    );
}

#[tokio::test]
async fn at_shutdown_unfinished_checks_are_recorded_failed_not_left_pending() {
    let app = spawn_app().await;
    // 7701000107: every registry takes 30 s.
    let r = app
        .post_check(&json!({"inn": "7701000107", "wait_ms": 0}))
        .await;
    assert_eq!(r.status(), 202);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A fast check started at the same time finishes within the grace period.
    let fast = app.check("7701000019").await;
    assert_eq!(fast["state"], "done");
    assert_eq!(app.app.drain(Duration::from_millis(200)).await, 1);
    let check: Value = app
        .get(&format!("/v1/checks/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(check["state"], "failed", "{check}");
    assert!(check["error"].as_str().unwrap().starts_with("interrupted"));
    assert_eq!(app.app.drain(Duration::from_millis(10)).await, 0);
}

#[tokio::test]
async fn the_history_of_an_inn_pages_newest_first() {
    let app = spawn_app_with(Registries::Sandbox, |_| {}).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let r = app
            .post_check(&serde_json::json!({"inn": "7701000019", "max_age_s": 0}))
            .await;
        let check: serde_json::Value = r.json().await.unwrap();
        ids.push(check["id"].as_str().unwrap().to_owned());
    }
    app.check("7701000026").await;
    let page: serde_json::Value = app
        .get("/v1/checks?inn=7701%20000%20019&limit=2")
        .await
        .json()
        .await
        .unwrap();
    let got: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[2].as_str(), ids[1].as_str()]);
    let cursor = page["next_cursor"].as_str().unwrap();
    let last: serde_json::Value = app
        .get(&format!(
            "/v1/checks?inn=7701000019&limit=2&cursor={cursor}"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(last["items"].as_array().unwrap().len(), 1);
    assert_eq!(last["items"][0]["id"], ids[0].as_str());
    assert!(last.get("next_cursor").is_none());
    for (query, code) in [
        ("", "inn_required"),
        ("inn=7701000018", "inn_checksum"),
        ("inn=7701000019&cursor=nope", "invalid_field"),
        ("inn=7701000019&limit=0", "invalid_field"),
    ] {
        let r = app.get(&format!("/v1/checks?{query}")).await;
        assert_eq!(r.status(), 422, "{query}");
        let problem: serde_json::Value = r.json().await.unwrap();
        assert_eq!(problem["code"], code, "{query}");
    }
}
