//! Bad input gets a problem document with a machine code, and creates nothing.

use crate::helpers::spawn_app;
use serde_json::{Value, json};

async fn problem(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/problem+json"),
        "{content_type}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .ends_with(body["code"].as_str().unwrap())
    );
    (status, body)
}

#[tokio::test]
async fn invalid_inns_get_422_with_the_reason_in_order() {
    let app = spawn_app().await;
    let cases = [
        (json!({}), "inn_required"),
        (json!({"inn": null}), "inn_required"),
        (json!({"inn": "   "}), "inn_required"),
        (json!({"inn": "77070838a3"}), "inn_digits"),
        (json!({"inn": "-7707083893"}), "inn_digits"),
        (json!({"inn": "12345"}), "inn_length"),
        (json!({"inn": "77070838931"}), "inn_length"),
        (json!({"inn": "7707083894"}), "inn_checksum"),
        (json!({"inn": "123456789037"}), "inn_checksum"),
    ];
    for (body, code) in cases {
        let (status, p) = problem(app.post_check(&body).await).await;
        assert_eq!((status, p["code"].as_str().unwrap()), (422, code), "{body}");
    }
    // Nothing was created by any of them.
    assert_eq!(app.get("/v1/counterparties/7707083893").await.status(), 404);
}

#[tokio::test]
async fn inn_is_trimmed_and_pasted_separators_are_dropped() {
    let app = spawn_app().await;
    let check = app.check(" 7701000019\n").await;
    assert_eq!(check["inn"], "7701000019");
    for pasted in ["7701 000 019", "7701\u{a0}000\u{a0}019", "7701-000-019"] {
        let check = app.check(pasted).await;
        assert_eq!(check["inn"], "7701000019", "{pasted:?}");
    }
    let dossier = app.get("/v1/counterparties/7701%20000%20019").await;
    assert_eq!(dossier.status(), 200);
}

#[tokio::test]
async fn malformed_json_unknown_field_and_wrong_types_get_400() {
    let app = spawn_app().await;
    let send = |body: &'static str| {
        app.client
            .post(format!("{}/v1/checks", app.address))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let (s, p) = problem(send("{\"inn\":").await.unwrap()).await;
    assert_eq!((s, p["code"].as_str().unwrap()), (400, "malformed_json"));
    let (s, p) = problem(send("{\"inn\":\"7707083893\",\"foo\":1}").await.unwrap()).await;
    assert_eq!((s, p["code"].as_str().unwrap()), (400, "unknown_field"));
    assert!(p["detail"].as_str().unwrap().contains("foo"));
    let (s, p) = problem(
        send("{\"inn\":\"7707083893\",\"wait_ms\":\"soon\"}")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, p["code"].as_str().unwrap()), (400, "malformed_json"));
}

#[tokio::test]
async fn oversized_body_gets_413() {
    let app = spawn_app().await;
    let big = json!({"inn": "7".repeat(100_000)});
    let (s, p) = problem(app.post_check(&big).await).await;
    assert_eq!((s, p["code"].as_str().unwrap()), (413, "body_too_large"));
}

#[tokio::test]
async fn non_json_content_type_gets_415() {
    let app = spawn_app().await;
    let r = app
        .client
        .post(format!("{}/v1/checks", app.address))
        .header("content-type", "text/plain")
        .body("{\"inn\":\"7707083893\"}")
        .send()
        .await
        .unwrap();
    let (s, p) = problem(r).await;
    assert_eq!(
        (s, p["code"].as_str().unwrap()),
        (415, "unsupported_media_type")
    );
}

#[tokio::test]
async fn unknown_resources_get_404_and_wrong_methods_405() {
    let app = spawn_app().await;
    let (s, p) = problem(app.get("/v1/checks/not-a-uuid").await).await;
    assert_eq!((s, p["code"].as_str().unwrap()), (404, "not_found"));
    let (s, _) = problem(
        app.get(&format!("/v1/checks/{}", uuid::Uuid::new_v4()))
            .await,
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = problem(app.get("/v1/nothing-here").await).await;
    assert_eq!(s, 404);
    let (s, p) = problem(app.get("/v1/counterparties/7707083893").await).await;
    assert_eq!((s, p["code"].as_str().unwrap()), (404, "not_found"));
    let (s, p) = problem(app.get("/v1/counterparties/7707083894").await).await;
    assert_eq!((s, p["code"].as_str().unwrap()), (422, "inn_checksum"));

    let r = app
        .client
        .put(format!("{}/v1/checks", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("GET, POST")
    );
    let (s, p) = problem(r).await;
    assert_eq!(
        (s, p["code"].as_str().unwrap()),
        (405, "method_not_allowed")
    );
    let r = app
        .client
        .delete(format!(
            "{}/v1/checks/{}",
            app.address,
            uuid::Uuid::new_v4()
        ))
        .send()
        .await
        .unwrap();
    let (s, _) = problem(r).await;
    assert_eq!(s, 405);
}

#[tokio::test]
async fn invalid_callback_url_and_unknown_profile_get_422() {
    let app = spawn_app().await;
    let (s, p) = problem(
        app.post_check(&json!({"inn": "7701000019", "callback_url": "ftp://x"}))
            .await,
    )
    .await;
    assert_eq!((s, p["code"].as_str().unwrap()), (422, "invalid_field"));
    let (s, p) = problem(
        app.post_check(&json!({"inn": "7701000019", "profile": "nope"}))
            .await,
    )
    .await;
    assert_eq!((s, p["code"].as_str().unwrap()), (422, "unknown_profile"));
    assert_eq!(app.get("/v1/counterparties/7701000019").await.status(), 404);
}

#[tokio::test]
async fn api_keys_are_required_when_auth_is_enabled() {
    let app = crate::helpers::spawn_app_with(crate::helpers::Registries::Sandbox, |s| {
        s.auth.enabled = Some(true);
        s.auth.api_keys = vec![kontragent::config::Secret::new("secret-key")];
    })
    .await;
    let (s, p) = problem(app.post_check(&json!({"inn": "7701000019"})).await).await;
    assert_eq!((s, p["code"].as_str().unwrap()), (401, "unauthorized"));
    let ok = app
        .client
        .post(format!("{}/v1/checks", app.address))
        .bearer_auth("secret-key")
        .json(&json!({"inn": "7701000019"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let ok = app
        .client
        .get(format!("{}/v1/counterparties/7701000019", app.address))
        .header("x-api-key", "secret-key")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    // Health stays open for probes.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn query_path_and_raw_body_errors_are_problems_too() {
    let app = spawn_app().await;
    for path in [
        "/v1/catalog?limit=abc",
        "/v1/events?limit=abc",
        "/v1/events?after=x",
    ] {
        let (s, p) = problem(app.get(path).await).await;
        assert_eq!(
            (s, p["code"].as_str().unwrap()),
            (400, "invalid_query"),
            "{path}"
        );
        assert!(p["field"].is_string(), "{path}: {p}");
    }
    // Cache-busters and UTM tags do not break a listing.
    let r = app.get("/v1/catalog?utm_source=mail&_=1733000000").await;
    assert_eq!(r.status(), 200);
    let r = app.get("/v1/events?nocache=1").await;
    assert_eq!(r.status(), 200);
    let post = |path: &str, content_type: &str, body: Vec<u8>| {
        app.client
            .post(format!("{}{path}", app.address))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let (s, p) = problem(
        post("/v1/rules/validate", "text/plain", vec![0xff, 0xfe, 0x00])
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, p["code"].as_str().unwrap()), (400, "malformed_body"));
    let (s, p) = problem(
        post(
            "/v1/rules/validate",
            "text/plain",
            vec![b'#'; kontragent::api::rules::MAX_RULES_BODY + 1],
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!((s, p["code"].as_str().unwrap()), (413, "body_too_large"));
    let (s, p) = problem(
        post(
            "/v1/checks",
            "text/plain",
            b"{\"inn\":\"7701000019\"}".to_vec(),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (s, p["code"].as_str().unwrap()),
        (415, "unsupported_media_type")
    );
    let (s, p) = problem(
        post("/v1/rules/dry-run", "application/json", b"{".to_vec())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, p["code"].as_str().unwrap()), (400, "malformed_json"));
}

#[tokio::test]
async fn free_text_is_capped() {
    let app = spawn_app().await;
    app.check("7701000019").await;
    let list = |body: Value| {
        app.client
            .post(format!("{}/v1/catalog", app.address))
            .json(&body)
            .send()
    };
    let many: Vec<String> = (0..60).map(|i| format!("услуга {i}")).collect();
    let (s, p) = problem(
        list(json!({"inn": "7701000019", "services": many}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, p["field"].as_str().unwrap()), (422, "services"));
    let long = "я".repeat(300);
    let (s, p) = problem(
        list(json!({"inn": "7701000019", "contacts": {"phone": long}}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, p["field"].as_str().unwrap()), (422, "contacts"));
    let r = list(json!({"inn": "7701000019"})).await.unwrap();
    assert_eq!(r.status(), 201);
    let r = app
        .client
        .post(format!("{}/v1/catalog/7701000019/status", app.address))
        .json(&json!({"action": "suspend", "comment": "x".repeat(2001)}))
        .send()
        .await
        .unwrap();
    let (s, p) = problem(r).await;
    assert_eq!((s, p["field"].as_str().unwrap()), (422, "comment"));
    let r = app
        .client
        .post(format!("{}/v1/rules/reload", app.address))
        .json(&json!({"comment": "x".repeat(2001)}))
        .send()
        .await
        .unwrap();
    let (s, p) = problem(r).await;
    assert_eq!((s, p["field"].as_str().unwrap()), (422, "comment"));
}
