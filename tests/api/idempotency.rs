//! `Idempotency-Key` on the POST writes: a retry gets the first response and changes
//! nothing; another body is refused; a repeat while the first runs is told so; keys are
//! per API key.

use crate::fixture;
use crate::helpers::{
    Registries, TestApp, spawn_app, spawn_app_from, spawn_app_with, test_settings,
};
use crate::mocks::{self, json};
use serde_json::{Value, json};
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

async fn post(
    app: &TestApp,
    path: &str,
    key: Option<&str>,
    api_key: Option<&str>,
    body: &Value,
) -> (u16, Option<String>, Value) {
    let mut request = app.client.post(format!("{}{path}", app.address)).json(body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    if let Some(api_key) = api_key {
        request = request.header("x-api-key", api_key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let replayed = response
        .headers()
        .get("idempotency-replayed")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        status,
        replayed,
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn listed_events(app: &TestApp) -> usize {
    let feed: Value = app.get("/v1/events").await.json().await.unwrap();
    feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "listed")
        .count()
}

#[tokio::test]
async fn a_retry_with_the_same_key_replays_the_first_response_and_changes_nothing() {
    let app = spawn_app().await;
    app.check("7701000019").await;
    let body = json!({"inn": "7701000019", "region": "Москва"});
    let first = post(&app, "/v1/catalog", Some("list-1"), None, &body).await;
    assert_eq!((first.0, first.1.as_deref()), (201, None));
    let again = post(&app, "/v1/catalog", Some("list-1"), None, &body).await;
    assert_eq!(again.0, 201, "the first status, not 409 already_listed");
    assert_eq!(again.1.as_deref(), Some("true"));
    assert_eq!(again.2, first.2);
    assert_eq!(listed_events(&app).await, 1);

    // Without a key the same request is a new one.
    let plain = post(&app, "/v1/catalog", None, None, &body).await;
    assert_eq!(
        (plain.0, plain.2["code"].as_str()),
        (409, Some("already_listed"))
    );

    // The key with another body (or another path) is refused.
    let other = post(
        &app,
        "/v1/catalog",
        Some("list-1"),
        None,
        &json!({"inn": "7701000019"}),
    )
    .await;
    assert_eq!(
        (other.0, other.2["code"].as_str()),
        (422, Some("idempotency_key_reused"))
    );
    let elsewhere = post(&app, "/v1/checks", Some("list-1"), None, &body).await;
    assert_eq!(elsewhere.2["code"], "idempotency_key_reused");

    // A check replayed is the same check, not a second one.
    let check = json!({"inn": "7701000026"});
    let a = post(&app, "/v1/checks", Some("chk-1"), None, &check).await;
    let b = post(&app, "/v1/checks", Some("chk-1"), None, &check).await;
    assert_eq!((a.0, b.0, b.1.as_deref()), (200, 200, Some("true")));
    assert_eq!(a.2["id"], b.2["id"]);

    let long = "k".repeat(256);
    for bad in [long.as_str(), "has space"] {
        let (status, _, problem) = post(&app, "/v1/checks", Some(bad), None, &check).await;
        assert_eq!(
            (status, problem["field"].as_str()),
            (422, Some("Idempotency-Key")),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn a_repeat_while_the_first_runs_gets_409_then_the_first_response() {
    let egrul = MockServer::start().await;
    mocks::egrul_start(
        &egrul,
        json(r#"{"t":"T1","captchaRequired":false}"#).set_delay(Duration::from_millis(1500)),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/search-result/T1"))
        .respond_with(json(fixture!("egrul-clean.json")))
        .mount(&egrul)
        .await;
    let app = spawn_app_with(
        Registries::Custom {
            egrul: Some(egrul.uri()),
            pb: None,
        },
        |_| {},
    )
    .await;
    let body = json!({"inn": "7701000019", "wait_ms": 10000});
    let first = {
        let app = TestApp {
            address: app.address.clone(),
            client: app.client.clone(),
            app: app.app.clone(),
        };
        let body = body.clone();
        tokio::spawn(async move { post(&app, "/v1/checks", Some("slow"), None, &body).await })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    let during = post(&app, "/v1/checks", Some("slow"), None, &body).await;
    assert_eq!(
        (during.0, during.2["code"].as_str()),
        (409, Some("idempotency_conflict"))
    );
    let first = first.await.unwrap();
    assert_eq!(first.0, 200);
    let after = post(&app, "/v1/checks", Some("slow"), None, &body).await;
    assert_eq!((after.0, after.1.as_deref()), (200, Some("true")));
    assert_eq!(after.2["id"], first.2["id"]);
}

#[tokio::test]
async fn keys_are_per_api_key() {
    let settings = test_settings(Registries::Sandbox).await;
    let store = kontragent::storage::connect(&settings.database.url, 1)
        .await
        .unwrap();
    let keys = kontragent::auth::KeyService::new(store, &settings.auth);
    let (_, crm) = keys.create("crm", "checks").await.unwrap();
    let (_, site) = keys.create("site", "checks").await.unwrap();
    let app = spawn_app_from(settings).await;
    let body = json!({"inn": "7701000026"});
    let a = post(&app, "/v1/checks", Some("same"), Some(&crm), &body).await;
    let b = post(&app, "/v1/checks", Some("same"), Some(&site), &body).await;
    assert_eq!((a.0, b.0), (200, 200));
    assert_eq!(b.1, None, "another key-holder's key is not replayed");
    assert_ne!(a.2["id"], b.2["id"]);
    let c = post(&app, "/v1/checks", Some("same"), Some(&crm), &body).await;
    assert_eq!((c.1.as_deref(), &c.2["id"]), (Some("true"), &a.2["id"]));
}
