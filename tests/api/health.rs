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
