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

/// `GET /v1/sources/health` asks every registry about `sources.probe_inn` as a check would
/// and says which ones answer, here against the sandbox.
#[tokio::test]
async fn sources_health_asks_every_registry_and_names_the_reason_of_each_failure() {
    let app = crate::helpers::spawn_app_with(crate::helpers::Registries::Sandbox, |s| {
        // The sandbox company whose PB card answers 500, as it does to a foreign address.
        s.sources.probe_inn = "7703000085".into();
        s.sources["bankrot"].enabled = false;
    })
    .await;
    let response = app.get("/v1/sources/health").await;
    assert_eq!(response.status(), 200);
    let health: serde_json::Value = response.json().await.unwrap();
    assert_eq!(health["probe_inn"], "7703000085");
    let by_name = |name: &str| {
        health["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["source"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_name("egrul")["status"], "ok");
    assert_eq!(by_name("pb")["status"], "unavailable");
    assert_eq!(by_name("pb")["detail"], "http_500");
    assert_eq!(by_name("fedresurs")["status"], "not_found");
    assert_eq!(by_name("bankrot")["status"], "disabled");
    assert_eq!(by_name("kad")["proxy"], false);
    assert!(by_name("egrul")["latency_ms"].is_u64());
    assert_eq!(health["reachable"], 3, "{health:#}");
}
