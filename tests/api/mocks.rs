//! wiremock stand-ins for egrul and pb when a test needs a specific answer or failure,
//! fed with the same hand-written registry-format fixtures as the sandbox.

use wiremock::matchers::{body_string_contains, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[macro_export]
macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/", $name))
    };
}

pub fn json(body: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_raw(body.as_bytes().to_vec(), "application/json; charset=utf-8")
}

/// egrul: the POST gives token `T1`, `search-result/T1` gives `rows`.
pub async fn egrul(rows: &str) -> MockServer {
    let server = MockServer::start().await;
    egrul_start(&server, json(r#"{"t":"T1","captchaRequired":false}"#)).await;
    Mock::given(method("GET"))
        .and(path("/search-result/T1"))
        .respond_with(json(rows))
        .mount(&server)
        .await;
    server
}

/// egrul whose first step (the POST) answers `response`.
pub async fn egrul_start(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path("/index.html"))
        .respond_with(
            ResponseTemplate::new(200).insert_header("set-cookie", "JSESSIONID=abc; Path=/"),
        )
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/"))
        .respond_with(response)
        .mount(server)
        .await;
}

/// pb: search id `S1` → `search`; card id `C1` → `card`.
pub async fn pb(search: &str, card: &str) -> MockServer {
    let server = MockServer::start().await;
    pb_search_start(&server, json(r#"{"id":"S1","captchaRequired":false}"#)).await;
    Mock::given(method("POST"))
        .and(path("/search-proc.json"))
        .and(body_string_contains("method=get-response"))
        .respond_with(json(search))
        .mount(&server)
        .await;
    pb_card(&server, json(card)).await;
    server
}

pub async fn pb_search_start(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/search-proc.json"))
        .and(body_string_contains("mode=search-"))
        .respond_with(response)
        .mount(server)
        .await;
}

pub async fn pb_card(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path_regex("^/company-proc.json$"))
        .and(body_string_contains("method=get-request"))
        .respond_with(json(r#"{"id":"C1","token":"CT1"}"#))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/company-proc.json"))
        .and(body_string_contains("method=get-response"))
        .respond_with(response)
        .mount(server)
        .await;
}

/// How many requests the server received for a path.
pub async fn hits(server: &MockServer, p: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == p)
        .count()
}
