//! `POST /v1/checks/batch` and `GET /v1/batches/{id}` against the sandbox.

use crate::helpers::{TestApp, spawn_app};
use serde_json::{Value, json};

async fn post_batch(app: &TestApp, body: Value, language: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/v1/checks/batch", app.address))
        .header("Accept-Language", language)
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn outcome(item: &Value) -> String {
    match (
        item["check"]["decision"].as_str(),
        item["error"]["code"].as_str(),
    ) {
        (Some(decision), None) => decision.to_owned(),
        (None, Some(code)) => format!("error {code}"),
        _ => format!("unfinished {item}"),
    }
}

#[tokio::test]
async fn each_inn_is_checked_or_refused_on_its_own_in_input_order() {
    let app = spawn_app().await;
    let r = post_batch(
        &app,
        json!({"inns": ["7701000019", "7701000026", "7701000018", "7701 000 019", "abc", "7701000058"]}),
        "en",
    )
    .await;
    assert_eq!(r.status(), 200);
    let batch: Value = r.json().await.unwrap();
    assert_eq!(
        (
            batch["state"].as_str(),
            batch["total"].as_u64(),
            batch["finished"].as_u64()
        ),
        (Some("done"), Some(6), Some(6))
    );
    let items = batch["items"].as_array().unwrap();
    let got: Vec<String> = items.iter().map(outcome).collect();
    assert_eq!(
        got,
        [
            "approve",
            "reject",
            "error inn_checksum",
            "error duplicate",
            "error inn_digits",
            "review"
        ]
    );
    assert_eq!(
        items[3]["inn"], "7701 000 019",
        "each item keeps the INN as given"
    );
    assert_eq!(items[3]["error"]["detail"], "the same INN as item 1");
    // The reasons read in the request's language.
    assert_eq!(items[1]["check"]["language"], "en");
    // The batch reads back the same from the database.
    let again: Value = app
        .get(&format!("/v1/batches/{}", batch["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    let got_again: Vec<String> = again["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(outcome)
        .collect();
    assert_eq!(got_again, got);
    assert_eq!(items[0]["check"]["requested_by"], "anonymous");
}

#[tokio::test]
async fn a_batch_not_done_in_time_is_202_and_finishes_in_the_background() {
    let app = spawn_app().await;
    // INNs under the sandbox's `77050` prefix, each completed with its check digit.
    let inns: Vec<String> = (0..12)
        .map(|i| crate::helpers::inn_of(&format!("77050{i:04}")))
        .collect();
    let r = post_batch(&app, json!({"inns": inns, "wait_ms": 0}), "ru").await;
    assert_eq!(r.status(), 202);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["state"], "running");
    assert_eq!(
        location,
        format!("/v1/batches/{}", first["id"].as_str().unwrap())
    );
    let mut batch = first;
    for _ in 0..600 {
        if batch["state"] == "done" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        batch = app.get(&location).await.json().await.unwrap();
    }
    assert_eq!(batch["state"], "done", "{batch}");
    assert_eq!(batch["finished"], 12);
    for (item, inn) in batch["items"].as_array().unwrap().iter().zip(&inns) {
        assert_eq!(item["inn"], inn.as_str());
        assert_eq!(outcome(item), "approve", "{item}");
    }
}

#[tokio::test]
async fn a_batch_that_cannot_run_is_refused_whole() {
    let app = spawn_app().await;
    for (body, field) in [
        (json!({"inns": []}), "inns"),
        (json!({"inns": vec!["7701000019"; 101]}), "inns"),
        (
            json!({"inns": ["7701000019"], "max_age_s": 9_000_000_000_000u64}),
            "max_age_s",
        ),
    ] {
        let r = post_batch(&app, body, "ru").await;
        assert_eq!(r.status(), 422);
        let problem: Value = r.json().await.unwrap();
        assert_eq!(
            (problem["code"].as_str(), problem["field"].as_str()),
            (Some("invalid_field"), Some(field))
        );
    }
    let r = post_batch(
        &app,
        json!({"inns": ["7701000019"], "profile": "nope"}),
        "ru",
    )
    .await;
    assert_eq!(r.status(), 422);
    let problem: Value = r.json().await.unwrap();
    assert_eq!(problem["code"], "unknown_profile");
    assert_eq!(app.get("/v1/batches/nope").await.status(), 404);
}
