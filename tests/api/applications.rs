//! The registration form's intake: validation codes, spam signals answered like anything
//! else, and screening by a check.

use crate::helpers::{Registries, TestApp, spawn_app_with};
use serde_json::{Value, json};
use std::time::Duration;

fn form() -> Value {
    json!({
        "inn": "7701000019",
        "company_name": "ООО Северный ветер",
        "contact_name": "Иван Петров",
        "phone": "8 (495) 123-45-67",
        "email": "Ivan@Example.ru",
        "message": "Хотим сотрудничать",
        "website": "",
        "form_started_at": (chrono::Utc::now() - chrono::Duration::seconds(60)).to_rfc3339(),
    })
}

async fn submit(app: &TestApp, body: &Value) -> (u16, Value) {
    let r = app
        .client
        .post(format!("{}/v1/public/applications", app.address))
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn application(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/v1/applications/{id}"))
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_valid_application_is_received_then_screened_by_a_check() {
    let app = spawn_app_with(Registries::Sandbox, |_| {}).await;
    let (status, receipt) = submit(&app, &form()).await;
    assert_eq!(status, 201, "{receipt}");
    assert_eq!(receipt["status"], "received");
    assert!(receipt["message"].as_str().unwrap().starts_with("Спасибо"));
    assert!(receipt.get("decision").is_none(), "never the dossier");
    let id = receipt["id"].as_str().unwrap();
    let mut view = Value::Null;
    for _ in 0..250 {
        view = application(&app, id).await;
        if view["application"]["stage"] == "screened" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let a = &view["application"];
    assert_eq!(a["stage"], "screened", "{view}");
    assert_eq!(a["phone"], "+74951234567");
    assert_eq!(a["email"], "ivan@example.ru");
    assert_eq!(a["decision"], "approve");
    assert_eq!(view["check"]["id"], a["check_id"]);
    assert_eq!(view["check"]["inn"], "7701000019");
    let listed: Value = app
        .get("/v1/applications?stage=screened")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["id"], json!(id));
}

#[tokio::test]
async fn each_bad_field_gets_its_code() {
    let app = spawn_app_with(Registries::Sandbox, |_| {}).await;
    for (field, value, code) in [
        ("inn", json!("7707083894"), "inn_checksum"),
        ("inn", json!("77070"), "inn_length"),
        ("phone", json!("12345"), "phone_invalid"),
        ("email", json!("ivan@example"), "email_invalid"),
        ("company_name", json!(" "), "invalid_field"),
        ("message", json!("x".repeat(2001)), "invalid_field"),
    ] {
        let mut body = form();
        body[field] = value;
        let (status, problem) = submit(&app, &body).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (422, Some(code)),
            "{field}: {problem}"
        );
        if code != "inn_checksum" && code != "inn_length" {
            assert_eq!(problem["field"], field);
        }
    }
}

/// Turns a good form into one with a spam signal.
type Spoil = fn(&mut Value);

#[tokio::test]
async fn spam_is_answered_like_anything_else_and_kept_as_spam() {
    let app = spawn_app_with(Registries::Sandbox, |s| {
        s.applications.max_per_ip_per_hour = 4;
    })
    .await;
    let cases: [(&str, Spoil); 3] = [
        ("honeypot", |b| b["website"] = json!("http://bot")),
        ("too_fast", |b| {
            b["form_started_at"] = json!(chrono::Utc::now().to_rfc3339())
        }),
        ("link_in_message", |b| {
            b["message"] = json!("Дешёвые займы https://spam.example")
        }),
    ];
    let (_, normal) = submit(&app, &form()).await;
    for (signal, spoil) in cases {
        let mut body = form();
        spoil(&mut body);
        body["phone"] = json!(format!("+7 916 000-00-0{}", signal.len() % 10));
        let (status, receipt) = submit(&app, &body).await;
        assert_eq!(status, 201, "{signal}");
        assert_eq!(
            receipt["status"], normal["status"],
            "{signal}: looks normal"
        );
        assert_eq!(receipt["message"], normal["message"], "{signal}");
        let stored = application(&app, receipt["id"].as_str().unwrap()).await;
        assert_eq!(stored["application"]["stage"], "spam", "{signal}");
        assert_eq!(stored["application"]["spam_signals"], json!([signal]));
        assert!(
            stored["application"].get("check_id").is_none(),
            "spam is not checked"
        );
    }
    // Four from this IP within the hour: the fifth is spam.
    let (_, receipt) = submit(&app, &form()).await;
    let stored = application(&app, receipt["id"].as_str().unwrap()).await;
    assert_eq!(stored["application"]["stage"], "spam");
    assert!(
        stored["application"]["spam_signals"]
            .as_array()
            .unwrap()
            .contains(&json!("ip_rate")),
        "{stored}"
    );
}
