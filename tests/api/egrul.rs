//! The egrul adapter against wiremock: the real flow, its headers, and every failure shape.

use crate::fixture;
use crate::helpers::{Registries, TestApp, source, spawn_app_with};
use crate::mocks::{self, json};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn app_on(server: &MockServer) -> TestApp {
    spawn_app_with(
        Registries::Custom {
            egrul: Some(server.uri()),
            pb: None,
        },
        |s| {
            s.sources["egrul"].timeout_ms = 1_000;
        },
    )
    .await
}

async fn egrul_status(
    server: &MockServer,
    inn: &str,
) -> (String, Option<String>, serde_json::Value) {
    let app = app_on(server).await;
    let check = app.check(inn).await;
    let (s, d) = source(&check, "egrul");
    (s, d, check)
}

#[tokio::test]
async fn sends_the_form_and_browser_headers_and_matches_the_exact_inn() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/index.html"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/"))
        .and(body_string_contains("query=7701000019"))
        .and(body_string_contains("vyp3CaptchaToken="))
        .and(header("x-requested-with", "XMLHttpRequest"))
        .and(header("referer", "https://egrul.nalog.ru/index.html"))
        .and(header("origin", "https://egrul.nalog.ru"))
        .respond_with(json(r#"{"t":"T1","captchaRequired":false}"#))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/search-result/T1"))
        .respond_with(json(fixture!("egrul-clean.json")))
        .mount(&server)
        .await;
    let (status, _, check) = egrul_status(&server, "7701000019").await;
    assert_eq!(status, "ok");
    // The first row of the answer is another company: only the exact INN counts.
    assert_eq!(check["company"]["ogrn"], "1027701000018");
}

#[tokio::test]
async fn polls_while_the_answer_says_wait() {
    let server = MockServer::start().await;
    mocks::egrul_start(&server, json(r#"{"t":"T1","captchaRequired":false}"#)).await;
    Mock::given(method("GET"))
        .and(path("/search-result/T1"))
        .respond_with(json(r#"{"status":"wait"}"#))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/search-result/T1"))
        .respond_with(json(fixture!("egrul-liquidated.json")))
        .mount(&server)
        .await;
    let (status, _, check) = egrul_status(&server, "7701000026").await;
    assert_eq!(status, "ok");
    assert_eq!(check["company"]["status"], "LIQUIDATED");
    assert_eq!(check["company"]["terminated_on"], "2024-02-02");
    assert_eq!(mocks::hits(&server, "/search-result/T1").await, 3);
}

#[tokio::test]
async fn an_answer_that_stays_wait_is_a_timeout() {
    let server = MockServer::start().await;
    mocks::egrul_start(&server, json(r#"{"t":"T1","captchaRequired":false}"#)).await;
    Mock::given(method("GET"))
        .and(path("/search-result/T1"))
        .respond_with(json(r#"{"status":"wait"}"#))
        .mount(&server)
        .await;
    let (status, detail, _) = egrul_status(&server, "7701000019").await;
    assert_eq!(
        (status.as_str(), detail.as_deref()),
        ("unavailable", Some("timeout"))
    );
}

#[tokio::test]
async fn empty_rows_are_not_found() {
    let server = mocks::egrul(fixture!("egrul-empty.json")).await;
    let (status, detail, _) = egrul_status(&server, "7701000080").await;
    assert_eq!((status.as_str(), detail), ("not_found", None));
}

#[tokio::test]
async fn other_rows_with_more_matches_than_read_cannot_prove_absence() {
    let rows = r#"{"rows":[{"i":"7701999990","k":"ul","n":"ООО \"ДРУГОЕ\"","o":"1027701999992","r":"01.02.2015","t":"X","pg":"1","tot":"45","cnt":"45"}]}"#;
    let server = mocks::egrul(rows).await;
    let (status, detail, _) = egrul_status(&server, "7701000019").await;
    assert_eq!(
        (status.as_str(), detail.as_deref()),
        ("unavailable", Some("incomplete"))
    );
}

async fn first_step_failure(response: ResponseTemplate) -> (String, Option<String>) {
    let server = MockServer::start().await;
    mocks::egrul_start(&server, response).await;
    let (s, d, check) = egrul_status(&server, "7701000019").await;
    assert_ne!(check["decision"], "approve");
    (s, d)
}

fn unavailable(reason: &str) -> (String, Option<String>) {
    ("unavailable".into(), Some(reason.into()))
}

#[tokio::test]
async fn captcha_required_is_unavailable() {
    assert_eq!(
        first_step_failure(json(fixture!("egrul-captcha.json"))).await,
        unavailable("captcha")
    );
}

#[tokio::test]
async fn errors_object_is_unavailable() {
    let r = json(r#"{"ERRORS":{"captchaSearch":["Требуется ввести цифры с картинки"]}}"#);
    assert_eq!(first_step_failure(r).await, unavailable("captcha"));
    let r = json(r#"{"ERRORS":{"query":["Некорректный запрос"]}}"#);
    assert_eq!(first_step_failure(r).await, unavailable("garbage"));
}

/// Live egrul answers its captcha as HTTP 400 with the JSON reason (registries.md §16):
/// once reported as `http_400`, now as the captcha it is.
#[tokio::test]
async fn a_400_with_a_captcha_error_is_a_captcha_not_http_400() {
    let r = ResponseTemplate::new(400).set_body_raw(
        r#"{"ERRORS":{"captcha":["Требуется ввести цифры с картинки"]}}"#.as_bytes(),
        "application/json; charset=utf-8",
    );
    assert_eq!(first_step_failure(r).await, unavailable("captcha"));
}

#[tokio::test]
async fn blocking_statuses_are_unavailable_with_the_code() {
    for code in [403u16, 429, 451, 500, 502] {
        assert_eq!(
            first_step_failure(ResponseTemplate::new(code)).await,
            unavailable(&format!("http_{code}"))
        );
    }
}

#[tokio::test]
async fn html_instead_of_json_is_garbage_captcha_or_blocked() {
    let html = |body: &'static str| {
        ResponseTemplate::new(200).set_body_raw(body.as_bytes().to_vec(), "text/html")
    };
    assert_eq!(
        first_step_failure(html(fixture!("egrul-garbage.html"))).await,
        unavailable("garbage")
    );
    assert_eq!(
        first_step_failure(html(
            "<html><body><img src=\"/static/captcha.bin\">Введите код</body></html>"
        ))
        .await,
        unavailable("captcha")
    );
    assert_eq!(
        first_step_failure(html("<html><head><title>DDoS-Guard</title></head></html>")).await,
        unavailable("blocked")
    );
}

#[tokio::test]
async fn truncated_json_is_garbage() {
    let server = mocks::egrul(r#"{"rows":[{"i":"7701000019","k":"ul","n":"ООО"#).await;
    let (status, detail, _) = egrul_status(&server, "7701000019").await;
    assert_eq!(
        (status.as_str(), detail.as_deref()),
        ("unavailable", Some("garbage"))
    );
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout() {
    let r = json(r#"{"t":"T1"}"#).set_delay(std::time::Duration::from_secs(5));
    assert_eq!(first_step_failure(r).await, unavailable("timeout"));
}

#[tokio::test]
async fn an_oversized_answer_is_refused() {
    let server = MockServer::start().await;
    mocks::egrul_start(&server, json(r#"{"t":"T1","captchaRequired":false}"#)).await;
    let huge = format!("{{\"rows\":[{}]}}", vec![r#"{"i":"1"}"#; 20_000].join(","));
    Mock::given(method("GET"))
        .and(path("/search-result/T1"))
        .respond_with(json(&huge))
        .mount(&server)
        .await;
    let app = spawn_app_with(
        Registries::Custom {
            egrul: Some(server.uri()),
            pb: None,
        },
        |s| {
            s.sources["egrul"].max_body_bytes = 10_000;
        },
    )
    .await;
    let check = app.check("7701000019").await;
    assert_eq!(source(&check, "egrul"), unavailable("too_large"));
}

#[tokio::test]
async fn base_url_may_carry_a_path_prefix() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/proxy/egrul/"))
        .respond_with(json(r#"{"t":"T9","captchaRequired":false}"#))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/proxy/egrul/search-result/T9"))
        .respond_with(json(fixture!("egrul-clean.json")))
        .mount(&server)
        .await;
    let app = spawn_app_with(
        Registries::Custom {
            egrul: Some(format!("{}/proxy/egrul", server.uri())),
            pb: None,
        },
        |_| {},
    )
    .await;
    let check = app.check("7701000019").await;
    assert_eq!(source(&check, "egrul").0, "ok");
}

#[tokio::test]
async fn raw_answers_are_kept_as_evidence() {
    let server = mocks::egrul(fixture!("egrul-clean.json")).await;
    let app = app_on(&server).await;
    app.check("7701000019").await;
    // The snapshot is reusable and its raw bytes were stored with their hash.
    let store = app.app.store();
    let inn = kontragent::domain::Inn::parse("7701000019").unwrap();
    let snap = store
        .latest_snapshot(
            "egrul",
            &inn,
            chrono::Utc::now() - chrono::Duration::hours(1),
        )
        .await
        .unwrap()
        .expect("snapshot stored");
    assert_eq!(snap.findings.ogrn.as_deref(), Some("1027701000018"));
    let evidence = store.evidence_for("egrul", &inn).await.unwrap();
    let result = evidence
        .iter()
        .find(|e| e.url.contains("/search-result/T1"))
        .expect("search result kept");
    assert_eq!(result.body, fixture!("egrul-clean.json").as_bytes());
    use sha2::Digest;
    assert_eq!(
        result.sha256,
        hex::encode(sha2::Sha256::digest(&result.body))
    );
}

/// `sources.<name>.proxy`: the registry's requests go to the proxy in absolute form, with
/// its credentials, and the registry's own host is never resolved here (a name that does
/// not exist works). The wiremock server plays the proxy and answers as egrul would.
#[tokio::test]
async fn requests_go_through_the_configured_proxy_with_its_credentials() {
    let proxy = mocks::egrul(fixture!("egrul-clean.json")).await;
    let proxy_url = proxy.uri().replace("http://", "http://egress:s3cret@");
    let app = spawn_app_with(
        Registries::Custom {
            egrul: Some("http://egrul.registry.invalid".into()),
            pb: None,
        },
        |s| s.sources["egrul"].proxy = kontragent::config::Secret::new(proxy_url),
    )
    .await;
    let check = app.check("7701000019").await;
    assert_eq!(source(&check, "egrul"), ("ok".into(), None));
    let received = proxy.received_requests().await.unwrap();
    let search = received
        .iter()
        .find(|r| r.method.as_str() == "POST")
        .expect("the search went through the proxy");
    assert_eq!(
        search.headers.get("host").and_then(|h| h.to_str().ok()),
        Some("egrul.registry.invalid")
    );
    // Basic base64("egress:s3cret").
    assert_eq!(
        search
            .headers
            .get("proxy-authorization")
            .and_then(|h| h.to_str().ok()),
        Some("Basic ZWdyZXNzOnMzY3JldA==")
    );
}

/// The global `sources.proxy` is used by a registry without its own.
#[tokio::test]
async fn the_global_proxy_is_the_default_of_every_registry() {
    let proxy = mocks::egrul(fixture!("egrul-clean.json")).await;
    let app = spawn_app_with(
        Registries::Custom {
            egrul: Some("http://egrul.registry.invalid".into()),
            pb: None,
        },
        |s| s.sources.proxy = kontragent::config::Secret::new(proxy.uri()),
    )
    .await;
    let check = app.check("7701000019").await;
    assert_eq!(source(&check, "egrul"), ("ok".into(), None));
    assert!(mocks::hits(&proxy, "/").await >= 1);
}
