//! The committed `openapi/openapi.json` must be what the code generates.
//! Run with `UPDATE_OPENAPI=1` to rewrite it after an API change.

#[test]
fn committed_spec_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    let generated = kontragent::api::openapi_json();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi")).unwrap();
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json is out of date: run `UPDATE_OPENAPI=1 cargo nextest run openapi` and commit it"
    );
}

/// Swagger UI shows a schema's example as the sample body: every schema has one of its own,
/// is an enum, or gives one on every property (a property that is another schema has its).
#[test]
fn every_schema_has_an_example() {
    let spec: serde_json::Value = serde_json::from_str(&kontragent::api::openapi_json()).unwrap();
    let schemas = spec["components"]["schemas"].as_object().unwrap();
    let has_own = |schema: &serde_json::Value| {
        ["example", "examples", "enum", "$ref", "allOf", "oneOf"]
            .iter()
            .any(|key| schema.get(key).is_some())
    };
    let missing: Vec<&String> = schemas
        .iter()
        .filter(|(_, schema)| {
            !has_own(schema)
                && !schema["properties"]
                    .as_object()
                    .is_some_and(|props| props.values().all(has_own))
        })
        .map(|(name, _)| name)
        .collect();
    assert!(
        missing.is_empty(),
        "schemas without an example: {missing:?}"
    );
}

/// The spec describes what a subscriber receives (OpenAPI 3.1 `webhooks`), each payload a
/// schema of the spec.
#[test]
fn the_spec_describes_the_webhook_payloads() {
    let spec: serde_json::Value = serde_json::from_str(&kontragent::api::openapi_json()).unwrap();
    let hooks = spec["webhooks"].as_object().expect("a webhooks section");
    let mut names: Vec<&String> = hooks.keys().collect();
    names.sort();
    assert_eq!(names, ["check.completed", "event", "webhook.test"]);
    for (name, hook) in hooks {
        let reference =
            hook["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .unwrap();
        let schema = reference.trim_start_matches("#/components/schemas/");
        let properties = &spec["components"]["schemas"][schema]["properties"];
        assert!(
            ["type", "timestamp", "data"]
                .iter()
                .all(|p| properties.get(p).is_some()),
            "{name}: {schema} is not {{type, timestamp, data}}"
        );
    }
}

/// What a manager tries first in Swagger UI works in the sandbox as the examples show it:
/// the sample bodies of `POST /v1/checks` and `POST /v1/checks/batch`, and the sample INN of
/// the counterparty routes.
#[tokio::test]
async fn the_documented_examples_work_in_the_sandbox() {
    let spec: serde_json::Value = serde_json::from_str(&kontragent::api::openapi_json()).unwrap();
    let example_of = |schema: &str| spec["components"]["schemas"][schema]["example"].clone();
    let app = crate::helpers::spawn_app().await;

    let body = example_of("CheckRequestBody");
    let check: serde_json::Value = app.post_check(&body).await.json().await.unwrap();
    assert_eq!(check["inn"], body["inn"]);
    assert_eq!(check["decision"], "approve", "{check}");
    assert_eq!(check["company"]["name"], "ПАО СБЕРБАНК");

    let body = example_of("BatchRequestBody");
    let batch: serde_json::Value = app
        .client
        .post(format!("{}/v1/checks/batch", app.address))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let outcomes: Vec<String> = batch["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i["check"]["decision"]
                .as_str()
                .or(i["error"]["code"].as_str())
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(outcomes, ["approve", "review", "reject", "inn_checksum"]);

    let inn = spec["paths"]["/v1/counterparties/{inn}/report"]["get"]["parameters"][0]["example"]
        .as_str()
        .unwrap();
    app.check(inn).await;
    assert_eq!(
        app.get(&format!("/v1/counterparties/{inn}")).await.status(),
        200
    );
    assert_eq!(
        app.get(&format!("/v1/counterparties/{inn}/report"))
            .await
            .status(),
        200
    );
}
