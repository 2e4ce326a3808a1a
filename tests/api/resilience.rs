//! Retries, circuit breaker and stale-if-error, with wiremock call counts.

use crate::fixture;
use crate::helpers::{Registries, TestApp, source, spawn_app_with};
use crate::mocks::{self, json};
use serde_json::json;
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn egrul_app(
    server: &MockServer,
    tweak: impl FnOnce(&mut kontragent::config::SourceSettings),
) -> TestApp {
    spawn_app_with(
        Registries::Custom {
            egrul: Some(server.uri()),
            pb: None,
        },
        |s| {
            s.sources["egrul"].retry_base_ms = 10;
            tweak(&mut s.sources["egrul"]);
        },
    )
    .await
}

/// egrul whose POST answers `first` `n` times, then a token; the rows are the clean fixture.
async fn egrul_failing_first(first: ResponseTemplate, n: u64) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/"))
        .respond_with(first)
        .up_to_n_times(n)
        .mount(&server)
        .await;
    mocks::egrul_start(&server, json(r#"{"t":"T1","captchaRequired":false}"#)).await;
    Mock::given(method("GET"))
        .and(path("/search-result/T1"))
        .respond_with(json(fixture!("egrul-clean.json")))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn gateway_errors_are_retried_until_an_answer() {
    for code in [502u16, 503, 504] {
        let server = egrul_failing_first(ResponseTemplate::new(code), 2).await;
        let app = egrul_app(&server, |_| {}).await;
        let check = app.check("7701000019").await;
        assert_eq!(source(&check, "egrul"), ("ok".into(), None), "{code}");
        assert_eq!(mocks::hits(&server, "/").await, 3, "{code}");
    }
}

#[tokio::test]
async fn at_most_three_attempts() {
    let server = egrul_failing_first(ResponseTemplate::new(503), 100).await;
    let app = egrul_app(&server, |_| {}).await;
    let check = app.check("7701000019").await;
    assert_eq!(
        source(&check, "egrul"),
        ("unavailable".into(), Some("http_503".into()))
    );
    assert_eq!(mocks::hits(&server, "/").await, 3);
}

#[tokio::test]
async fn too_many_requests_is_retried_after_retry_after() {
    let server = egrul_failing_first(
        ResponseTemplate::new(429).insert_header("retry-after", "1"),
        1,
    )
    .await;
    let app = egrul_app(&server, |_| {}).await;
    let started = std::time::Instant::now();
    let check = app.check("7701000019").await;
    assert_eq!(source(&check, "egrul").0, "ok");
    assert_eq!(mocks::hits(&server, "/").await, 2);
    // Honouring `Retry-After: 1` means the second attempt came no sooner than a second later.
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn request_timeouts_are_retried() {
    let slow = json(r#"{"t":"T1","captchaRequired":false}"#).set_delay(Duration::from_secs(3));
    let server = egrul_failing_first(slow, 1).await;
    let app = egrul_app(&server, |s| s.request_timeout_ms = 200).await;
    let check = app.check("7701000019").await;
    assert_eq!(source(&check, "egrul").0, "ok");
    assert_eq!(mocks::hits(&server, "/").await, 2);
}

#[tokio::test]
async fn captcha_blocks_and_client_errors_are_never_retried() {
    let html = |b: &'static str| {
        ResponseTemplate::new(200).set_body_raw(b.as_bytes().to_vec(), "text/html")
    };
    for (answer, reason) in [
        (json(fixture!("egrul-captcha.json")), "captcha"),
        (html("<html><title>DDoS-Guard</title></html>"), "blocked"),
        (ResponseTemplate::new(403), "http_403"),
        (ResponseTemplate::new(451), "http_451"),
    ] {
        let server = egrul_failing_first(answer, 100).await;
        let app = egrul_app(&server, |_| {}).await;
        let check = app.check("7701000019").await;
        assert_eq!(
            source(&check, "egrul"),
            ("unavailable".into(), Some(reason.into()))
        );
        assert_eq!(mocks::hits(&server, "/").await, 1, "{reason}");
    }
}

#[tokio::test]
async fn the_breaker_opens_after_consecutive_failures_and_probes_after_the_cooldown() {
    let server = egrul_failing_first(ResponseTemplate::new(403), 2).await;
    let app = egrul_app(&server, |s| {
        s.breaker_failures = 2;
        s.breaker_cooldown_s = 1;
    })
    .await;
    let fresh = json!({"inn": "7701000019", "max_age_s": 0});
    for _ in 0..2 {
        let c: serde_json::Value = app.post_check(&fresh).await.json().await.unwrap();
        assert_eq!(source(&c, "egrul").1.as_deref(), Some("http_403"));
    }
    let c: serde_json::Value = app.post_check(&fresh).await.json().await.unwrap();
    assert_eq!(
        source(&c, "egrul"),
        ("unavailable".into(), Some("circuit_open".into()))
    );
    assert_eq!(
        mocks::hits(&server, "/").await,
        2,
        "an open circuit sends nothing"
    );
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    // The probe gets through (the registry has recovered) and closes the circuit.
    let c: serde_json::Value = app.post_check(&fresh).await.json().await.unwrap();
    assert_eq!(source(&c, "egrul").0, "ok");
    let c: serde_json::Value = app.post_check(&fresh).await.json().await.unwrap();
    assert_eq!(source(&c, "egrul").0, "ok");
}

#[tokio::test]
async fn a_failing_registry_is_served_stale_from_a_recent_snapshot() {
    let server = MockServer::start().await;
    mocks::egrul_start(&server, json(r#"{"t":"T1","captchaRequired":false}"#)).await;
    Mock::given(method("GET"))
        .and(path("/search-result/T1"))
        .respond_with(json(fixture!("egrul-liquidated.json")))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/search-result/T1"))
        .respond_with(json(
            r#"{"ERRORS":{"captcha":["Требуется ввести цифры с картинки"]}}"#,
        ))
        .mount(&server)
        .await;
    let app = egrul_app(&server, |_| {}).await;
    let first = app.check("7701000026").await;
    assert_eq!(source(&first, "egrul").0, "ok");
    let r = app
        .post_check(&json!({"inn": "7701000026", "max_age_s": 0}))
        .await;
    let second: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        source(&second, "egrul"),
        ("stale".into(), Some("captcha".into()))
    );
    assert_eq!(
        second["sources"]["egrul"]["fetched_at"],
        first["sources"]["egrul"]["fetched_at"]
    );
    assert_eq!(
        second["company"]["status"], "LIQUIDATED",
        "the stored facts still count"
    );
}

#[tokio::test]
async fn snapshots_older_than_max_stale_are_not_used() {
    let server = MockServer::start().await;
    mocks::egrul_start(&server, json(r#"{"t":"T1","captchaRequired":false}"#)).await;
    Mock::given(method("GET"))
        .and(path("/search-result/T1"))
        .respond_with(json(fixture!("egrul-clean.json")))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/search-result/T1"))
        .respond_with(ResponseTemplate::new(451))
        .mount(&server)
        .await;
    let app = egrul_app(&server, |s| s.max_stale_s = 1).await;
    app.check("7701000019").await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let r = app
        .post_check(&json!({"inn": "7701000019", "max_age_s": 0}))
        .await;
    let check: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        source(&check, "egrul"),
        ("unavailable".into(), Some("http_451".into()))
    );
}
