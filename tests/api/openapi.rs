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

#[test]
fn every_schema_has_an_example_or_examples_on_its_fields() {
    let spec: serde_json::Value = serde_json::from_str(&kontragent::api::openapi_json()).unwrap();
    let schemas = spec["components"]["schemas"].as_object().unwrap();
    let missing: Vec<&String> = schemas
        .iter()
        .filter(|(_, schema)| {
            !(schema.to_string().contains("\"example") || schema.get("enum").is_some())
        })
        .map(|(name, _)| name)
        .collect();
    assert!(
        missing.is_empty(),
        "schemas without an example: {missing:?}"
    );
}
