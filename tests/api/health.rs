use crate::helpers::spawn_app;

#[tokio::test]
async fn healthz_and_readyz_answer() {
    let app = spawn_app().await;
    let r = app.get("/healthz").await;
    assert_eq!(r.status(), 200);
    let r = app.get("/readyz").await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["ruleset_version"].as_str().map(str::len), Some(64));
}

#[tokio::test]
async fn swagger_ui_and_the_spec_are_served() {
    let app = spawn_app().await;
    let r = app.get("/docs/").await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("swagger"));
    let spec: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    assert!(spec["paths"]["/v1/checks"]["post"].is_object());
}

#[tokio::test]
async fn metrics_count_checks_and_registry_flows() {
    let app = spawn_app().await;
    app.check("7701000026").await; // reject
    app.check("7701000097").await; // review; egrul and pb ask for a captcha
    let r = app.get("/metrics").await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = r.text().await.unwrap();
    for line in [
        "kontragent_checks_total{decision=\"reject\"} 1",
        "kontragent_checks_total{decision=\"review\"} 1",
        "kontragent_source_fetches_total{source=\"egrul\",status=\"ok\"} 1",
        "kontragent_source_fetches_total{source=\"egrul\",status=\"unavailable\"} 1",
        "kontragent_ruleset_info{kind=\"scoring\"",
        "kontragent_source_fetch_seconds_count{source=\"egrul\"} 2",
    ] {
        assert!(text.contains(line), "missing `{line}` in\n{text}");
    }
    assert!(text.ends_with("# EOF\n"), "{text}");
}
