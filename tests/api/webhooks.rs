//! Webhooks and callbacks: the SSRF guard end to end (listeners on 127.0.0.x only; test
//! host names resolve through `webhooks.hosts`, never DNS), Standard Webhooks signatures
//! checked by an implementation written here from the specification, retries, 410, and
//! no redirects.

use crate::helpers::{TestApp, spawn_app_with};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use kontragent::config::Secret;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CALLBACK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// HMAC-SHA256 from RFC 2104, over SHA-256 alone: independent of the service's `hmac` crate.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// Verifies a received request as a Standard Webhooks receiver does: some `v1,` signature
/// of `{id}.{timestamp}.{body}` under the secret's key matches.
fn verify(secret: &str, request: &wiremock::Request) -> Result<(), String> {
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or(format!("no {name} header"))
    };
    let id = header("webhook-id")?;
    let timestamp = header("webhook-timestamp")?;
    let signatures = header("webhook-signature")?;
    let age =
        chrono::Utc::now().timestamp() - timestamp.parse::<i64>().map_err(|e| e.to_string())?;
    if age.abs() > 300 {
        return Err(format!("timestamp {timestamp} is {age} s off"));
    }
    let key = BASE64
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(&request.body);
    let expected = format!("v1,{}", BASE64.encode(hmac_sha256(&key, &signed)));
    if signatures.split(' ').any(|s| s == expected) {
        Ok(())
    } else {
        Err(format!("no signature matches: {signatures}"))
    }
}

/// Waits up to 10 s for `receiver` to have `n` requests.
async fn received(receiver: &MockServer, n: usize) -> Vec<wiremock::Request> {
    for _ in 0..500 {
        let got = receiver.received_requests().await.unwrap();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    receiver.received_requests().await.unwrap()
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app.client.request(method, format!("{}{path}", app.address));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Polls a subscription's deliveries until the newest has had `attempts` attempts (at
/// most 10 s); an attempt and the state it leaves are written together.
async fn deliveries_after(app: &TestApp, webhook: &str, attempts: i64) -> Value {
    let mut page = Value::Null;
    for _ in 0..500 {
        page = send(
            app,
            reqwest::Method::GET,
            &format!("/v1/webhooks/{webhook}/deliveries"),
            None,
        )
        .await
        .1;
        if page["items"][0]["delivery"]["attempts"].as_i64() >= Some(attempts) {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    page
}

/// A receiver answering 200 to every POST.
async fn ok_receiver() -> MockServer {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    receiver
}

/// The app with 127.0.0.1 exempt from the SSRF guard (where the test receivers listen).
async fn allowed_app(tweak: impl FnOnce(&mut kontragent::config::Settings)) -> TestApp {
    spawn_app_with(crate::helpers::Registries::Sandbox, |s| {
        s.webhooks.allow_targets = vec!["127.0.0.1".into()];
        tweak(s);
    })
    .await
}

/// Creates a subscription (asserting 201) and returns the answer with its secret.
async fn subscribe(app: &TestApp, body: Value) -> Value {
    let (status, created) = send(app, reqwest::Method::POST, "/v1/webhooks", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    created
}

/// Queues a `webhook.test` message to the subscription `id`.
async fn send_test(app: &TestApp, id: &str) {
    let (status, _) = send(
        app,
        reqwest::Method::POST,
        &format!("/v1/webhooks/{id}/test"),
        None,
    )
    .await;
    assert_eq!(status, 202);
}

#[test]
fn the_independent_hmac_matches_the_specification_example() {
    // The example of the Standard Webhooks specification.
    let key = BASE64.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let signed = br#"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}"#;
    assert_eq!(
        BASE64.encode(hmac_sha256(&key, signed)),
        "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
}

#[tokio::test]
async fn callback_urls_to_forbidden_addresses_are_refused_before_anything_is_sent() {
    let app = spawn_app_with(crate::helpers::Registries::Sandbox, |_| {}).await;
    for url in [
        "http://127.0.0.1/hook",
        "http://0x7f000001/",
        "http://2130706433/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/",
        "http://metadata.google.internal/",
        "http://localhost:8080/v1/keys",
        format!("{}/v1/catalog", app.address).leak(),
        "ftp://crm.example.ru/",
    ] {
        let (status, problem) = send(
            &app,
            reqwest::Method::POST,
            "/v1/checks",
            Some(json!({"inn": "7701000026", "callback_url": url})),
        )
        .await;
        assert_eq!(status, 422, "{url}");
        assert_eq!(problem["code"], "invalid_field", "{url}");
        assert_eq!(problem["field"], "callback_url", "{url}");
    }
    let (status, problem) = send(
        &app,
        reqwest::Method::POST,
        "/v1/webhooks",
        Some(json!({"url": "http://[::ffff:7f00:1]/", "events": ["*"]})),
    )
    .await;
    assert_eq!((status, problem["field"].clone()), (422, json!("url")));
}

#[tokio::test]
async fn a_callback_is_a_signed_delivery_of_the_finished_check() {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&receiver)
        .await;
    let app = allowed_app(|s| {
        s.webhooks.callback_secret = Secret::new(CALLBACK_SECRET);
    })
    .await;
    let (status, check) = send(
        &app,
        reqwest::Method::POST,
        "/v1/checks",
        Some(json!({"inn": "7701000026", "callback_url": format!("{}/hook", receiver.uri())})),
    )
    .await;
    assert_eq!(status, 200);
    let got = received(&receiver, 1).await;
    assert_eq!(got.len(), 1);
    verify(CALLBACK_SECRET, &got[0]).unwrap();
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["type"], "check.completed");
    assert_eq!(body["data"]["id"], check["id"]);
    assert_eq!(body["data"]["decision"], "reject");
    let id = check["id"].as_str().unwrap();
    assert_eq!(
        got[0].headers["webhook-id"].to_str().unwrap(),
        format!("chk_{}", id.replace('-', ""))
    );
    // The delivery is a resource of the check, with its attempt.
    let mut callbacks = Value::Null;
    for _ in 0..100 {
        callbacks = send(
            &app,
            reqwest::Method::GET,
            &format!("/v1/checks/{id}/callbacks"),
            None,
        )
        .await
        .1;
        if callbacks["items"][0]["delivery"]["state"] == "succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(callbacks["items"][0]["delivery"]["state"], "succeeded");
    assert_eq!(callbacks["items"][0]["attempts"][0]["status"], 204);
}

#[tokio::test]
async fn a_name_resolving_to_a_forbidden_address_is_refused_at_delivery_unless_allowed() {
    let receiver = ok_receiver().await;
    let port = receiver.address().port();
    // crm.test resolves to 127.0.0.1 (webhooks.hosts): accepted as a name, refused when called.
    let app = spawn_app_with(crate::helpers::Registries::Sandbox, |_| {}).await;
    let (status, created) = send(
        &app,
        reqwest::Method::POST,
        "/v1/webhooks",
        Some(json!({"url": format!("http://crm.test:{port}/hook"), "events": ["*"]})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["webhook"]["id"].as_str().unwrap().to_owned();
    send_test(&app, &id).await;
    let page = deliveries_after(&app, &id, 1).await;
    let attempt = &page["items"][0]["attempts"][0];
    assert_eq!(attempt["status"], Value::Null, "{page}");
    let error = attempt["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("crm.test resolves to 127.0.0.1 is loopback"),
        "{error}"
    );
    assert!(receiver.received_requests().await.unwrap().is_empty());

    // With the address allowed, the same subscription reaches the receiver.
    let allowed = spawn_app_with(crate::helpers::Registries::Sandbox, |s| {
        s.webhooks.allow_targets = vec!["127.0.0.1/32".into()];
    })
    .await;
    let created = subscribe(
        &allowed,
        json!({"url": format!("http://crm.test:{port}/hook"), "events": ["*"]}),
    )
    .await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    let id = created["webhook"]["id"].as_str().unwrap();
    send_test(&allowed, id).await;
    let got = received(&receiver, 1).await;
    assert_eq!(got.len(), 1);
    verify(&secret, &got[0]).unwrap();
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["type"], "webhook.test");
    // other.test is 127.0.0.2: outside the allowed /32, refused.
    let (status, _) = send(
        &allowed,
        reqwest::Method::PATCH,
        &format!("/v1/webhooks/{id}"),
        Some(json!({"url": format!("http://other.test:{port}/hook")})),
    )
    .await;
    assert_eq!(status, 200);
    send_test(&allowed, id).await;
    let page = deliveries_after(&allowed, id, 1).await;
    let error = page["items"][0]["attempts"][0]["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        error.contains("other.test resolves to 127.0.0.2 is loopback"),
        "{page}"
    );
    assert_eq!(receiver.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn catalog_events_reach_a_subscriber_signed_with_a_stable_id() {
    let receiver = ok_receiver().await;
    let app = allowed_app(|_| {}).await;
    let (status, created) = send(
        &app,
        reqwest::Method::POST,
        "/v1/webhooks",
        Some(json!({"url": format!("{}/crm", receiver.uri()), "events": ["catalog.*"], "description": "amoCRM"})),
    )
    .await;
    assert_eq!(status, 201);
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(created["webhook"]["events"], json!(["catalog.*"]));
    app.check("7701000019").await;
    let (status, _) = send(
        &app,
        reqwest::Method::POST,
        "/v1/catalog",
        Some(json!({"inn": "7701000019"})),
    )
    .await;
    assert_eq!(status, 201);
    // Feedback is not a catalog.* type: only the listing arrives.
    send(
        &app,
        reqwest::Method::POST,
        "/v1/catalog/7701000019/feedback",
        Some(json!({"kind": "complaint", "text": "опоздали"})),
    )
    .await;
    let got = received(&receiver, 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let got_all = receiver.received_requests().await.unwrap();
    assert_eq!(got_all.len(), 1, "only catalog.*: {got:?}");
    verify(&secret, &got_all[0]).unwrap();
    let body: Value = serde_json::from_slice(&got_all[0].body).unwrap();
    assert_eq!(body["type"], "catalog.listed");
    assert_eq!(body["data"]["inn"], "7701000019");
    assert_eq!(body["data"]["type"], "catalog.listed");
    assert!(body["data"]["name"].is_string(), "{body}");
    let seq = body["data"]["seq"].as_i64().unwrap();
    assert_eq!(
        got_all[0].headers["webhook-id"].to_str().unwrap(),
        format!("evt_{seq}")
    );
    let (_, feed) = send(&app, reqwest::Method::GET, "/v1/events", None).await;
    assert_eq!(feed["items"][0]["seq"], seq);
}

#[tokio::test]
async fn a_failed_attempt_is_retried_with_the_same_id_and_410_disables_the_subscription() {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/flaky"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .and(path("/flaky"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .and(path("/gone"))
        .respond_with(ResponseTemplate::new(410))
        .mount(&receiver)
        .await;
    let app = allowed_app(|s| {
        s.webhooks.retry_schedule_s = vec![0, 0];
    })
    .await;
    let create = |url: String| {
        let app = &app;
        async move {
            send(
                app,
                reqwest::Method::POST,
                "/v1/webhooks",
                Some(json!({"url": url, "events": ["*"]})),
            )
            .await
            .1
        }
    };
    let flaky = create(format!("{}/flaky", receiver.uri())).await;
    let id = flaky["webhook"]["id"].as_str().unwrap();
    send_test(&app, id).await;
    let got = received(&receiver, 2).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].headers["webhook-id"], got[1].headers["webhook-id"]);
    let page = deliveries_after(&app, id, 2).await;
    let view = &page["items"][0];
    assert_eq!(view["delivery"]["state"], "succeeded", "{page}");
    let statuses: Vec<&Value> = view["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status"])
        .collect();
    assert_eq!(statuses, [&json!(503), &json!(200)]);

    // Another subscription watches for disabled ones.
    Mock::given(method("POST"))
        .and(path("/watch"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    subscribe(
        &app,
        json!({"url": format!("{}/watch", receiver.uri()), "events": ["webhook.disabled"]}),
    )
    .await;
    let gone = create(format!("{}/gone", receiver.uri())).await;
    let id = gone["webhook"]["id"].as_str().unwrap();
    send_test(&app, id).await;
    let page = deliveries_after(&app, id, 1).await;
    assert_eq!(page["items"][0]["delivery"]["state"], "failed", "{page}");
    assert_eq!(
        page["items"][0]["attempts"].as_array().unwrap().len(),
        1,
        "410 is not retried"
    );
    let (_, subscription) = send(
        &app,
        reqwest::Method::GET,
        &format!("/v1/webhooks/{id}"),
        None,
    )
    .await;
    assert_eq!(subscription["state"], "disabled");
    assert_eq!(
        subscription["disabled_reason"],
        "the receiver answered 410 Gone"
    );
    let mut told = Vec::new();
    for _ in 0..250 {
        told = receiver
            .received_requests()
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.url.path() == "/watch")
            .collect();
        if !told.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(told.len(), 1);
    let body: Value = serde_json::from_slice(&told[0].body).unwrap();
    assert_eq!(body["type"], "webhook.disabled");
    assert_eq!(body["data"]["webhook_id"], json!(id));
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/moved"))
        .respond_with(ResponseTemplate::new(307).insert_header("location", "/admin"))
        .mount(&receiver)
        .await;
    let app = allowed_app(|s| {
        s.webhooks.retry_schedule_s = vec![];
    })
    .await;
    let created = subscribe(
        &app,
        json!({"url": format!("{}/moved", receiver.uri()), "events": ["*"]}),
    )
    .await;
    let id = created["webhook"]["id"].as_str().unwrap();
    send_test(&app, id).await;
    let page = deliveries_after(&app, id, 1).await;
    assert_eq!(
        page["items"][0]["attempts"][0]["error"], "HTTP 307 (redirects are not followed)",
        "{page}"
    );
    let paths: Vec<String> = receiver
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert_eq!(paths, ["/moved"]);
}

#[tokio::test]
async fn after_a_rotation_both_secrets_sign_and_bad_input_is_refused() {
    let receiver = ok_receiver().await;
    let app = allowed_app(|_| {}).await;
    let created = subscribe(
        &app,
        json!({"url": receiver.uri(), "events": ["webhook.test"]}),
    )
    .await;
    let old = created["secret"].as_str().unwrap().to_owned();
    let id = created["webhook"]["id"].as_str().unwrap();
    let (status, rotated) = send(
        &app,
        reqwest::Method::POST,
        &format!("/v1/webhooks/{id}/rotate-secret"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(old, new);
    send_test(&app, id).await;
    let got = received(&receiver, 1).await;
    verify(&old, &got[0]).unwrap();
    verify(&new, &got[0]).unwrap();
    assert_eq!(
        got[0].headers["webhook-signature"]
            .to_str()
            .unwrap()
            .split(' ')
            .count(),
        2
    );

    for (body, field) in [
        (
            json!({"url": receiver.uri(), "events": ["catalog.nope"]}),
            "events",
        ),
        (json!({"url": receiver.uri(), "events": []}), "events"),
        (
            json!({"url": "https://crm.example.ru/", "events": ["*"], "description": "x".repeat(501)}),
            "description",
        ),
    ] {
        let (status, problem) = send(&app, reqwest::Method::POST, "/v1/webhooks", Some(body)).await;
        assert_eq!(
            (status, problem["field"].as_str()),
            (422, Some(field)),
            "{problem}"
        );
    }
    let (status, problem) = send(
        &app,
        reqwest::Method::PATCH,
        &format!("/v1/webhooks/{id}"),
        Some(json!({"state": "disabled"})),
    )
    .await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("state")));
    let (status, _) = send(
        &app,
        reqwest::Method::DELETE,
        &format!("/v1/webhooks/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, problem) = send(
        &app,
        reqwest::Method::GET,
        &format!("/v1/webhooks/{id}"),
        None,
    )
    .await;
    assert_eq!((status, problem["code"].as_str()), (404, Some("not_found")));
}

#[tokio::test]
async fn a_token_subscription_sends_its_secret_as_a_bearer_token_and_no_signature() {
    let receiver = ok_receiver().await;
    let app = allowed_app(|_| {}).await;
    let (status, created) = send(
        &app,
        reqwest::Method::POST,
        "/v1/webhooks",
        Some(json!({"url": receiver.uri(), "events": ["*"], "signing": "token"})),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(created["webhook"]["signing"], "token");
    let secret = created["secret"].as_str().unwrap();
    let id = created["webhook"]["id"].as_str().unwrap();
    send_test(&app, id).await;
    let got = received(&receiver, 1).await;
    assert_eq!(
        got[0].headers["authorization"].to_str().unwrap(),
        format!("Bearer {secret}")
    );
    assert!(got[0].headers.get("webhook-signature").is_none());
    assert!(got[0].headers.get("webhook-id").is_some());
}

#[tokio::test]
async fn a_subscription_to_check_completed_receives_every_finished_check() {
    let receiver = ok_receiver().await;
    let app = allowed_app(|_| {}).await;
    let created = subscribe(&app, json!({"url": receiver.uri(), "events": ["check.*"]})).await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    let check = app.check("7701000019").await;
    let got = received(&receiver, 1).await;
    assert_eq!(got.len(), 1);
    verify(&secret, &got[0]).unwrap();
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["type"], "check.completed");
    assert_eq!(body["data"]["id"], check["id"]);
    assert_eq!(body["data"]["decision"], check["decision"]);
}

#[tokio::test]
async fn a_subscriber_gets_its_messages_in_feed_order_even_across_a_retry() {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&receiver)
        .await;
    let app = allowed_app(|s| s.webhooks.retry_schedule_s = vec![1]).await;
    subscribe(
        &app,
        json!({"url": receiver.uri(), "events": ["catalog.listed"]}),
    )
    .await;
    for inn in ["7701000019", "770100000142"] {
        app.check(inn).await;
        let (status, _) = send(
            &app,
            reqwest::Method::POST,
            "/v1/catalog",
            Some(json!({"inn": inn})),
        )
        .await;
        assert_eq!(status, 201);
    }
    let got = received(&receiver, 3).await;
    let ids: Vec<&str> = got
        .iter()
        .map(|r| r.headers["webhook-id"].to_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(
        ids[0], ids[1],
        "the first message is retried before the next is sent"
    );
    assert_ne!(ids[1], ids[2]);
}

#[tokio::test]
async fn a_batch_callback_is_a_signed_delivery_of_the_finished_batch() {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/batch-hook"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&receiver)
        .await;
    let app = allowed_app(|s| {
        s.webhooks.callback_secret = Secret::new(CALLBACK_SECRET);
    })
    .await;
    let (status, batch) = send(
        &app,
        reqwest::Method::POST,
        "/v1/checks/batch",
        Some(json!({"inns": ["7701000019", "7701000026", "123"],
                    "callback_url": format!("{}/batch-hook", receiver.uri())})),
    )
    .await;
    assert_eq!(status, 200, "{batch}");
    let got = received(&receiver, 1).await;
    assert_eq!(got.len(), 1);
    verify(CALLBACK_SECRET, &got[0]).unwrap();
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["type"], "batch.completed");
    assert_eq!(body["data"]["id"], batch["id"]);
    assert_eq!(body["data"]["finished"], 3);
    assert_eq!(body["data"]["items"][1]["check"]["decision"], "reject");
    assert_eq!(body["data"]["items"][2]["error"]["code"], "inn_length");
}
