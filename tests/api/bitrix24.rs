//! The Bitrix24 application against a fake portal (wiremock at 127.0.0.1) that answers in
//! Bitrix24's documented formats, failures included: install → robot call →
//! `bizproc.event.send` with the verdict, then the write-back to the company.

use crate::helpers::{Registries, TestApp, spawn_app_from, test_settings};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub(crate) const MEMBER: &str = "5f0c2e9a1b7d4c3e8a6f9b2d1c0e7a45";
pub(crate) const APP_TOKEN: &str = "q8w7e6r5t4y3u2i1o0p9a8s7d6f5g4h3";

fn ok(result: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"result": result, "time": {"start": 1}}))
}

/// A portal that accepts every documented call; tests mount failures in front of it.
pub(crate) async fn portal() -> MockServer {
    let server = MockServer::start().await;
    for (method_name, result) in [
        (
            "app.info",
            json!({"ID": 7, "CODE": "local.kontragent", "INSTALLED": true}),
        ),
        ("bizproc.robot.add", json!(true)),
        ("bizproc.activity.add", json!(true)),
        ("crm.company.userfield.add", json!(101)),
        ("bizproc.activity.log", json!(true)),
        ("bizproc.event.send", json!(true)),
        ("crm.company.update", json!(true)),
        ("crm.timeline.comment.add", json!(55)),
        ("crm.activity.todo.add", json!({"id": 77})),
        (
            "batch",
            json!({"result": {}, "result_error": [], "result_total": [], "result_next": []}),
        ),
        (
            "crm.company.get",
            json!({"ID": "3051", "ASSIGNED_BY_ID": "5"}),
        ),
        (
            "crm.requisite.list",
            json!([{"ID": "1", "RQ_INN": "7701000058"}]),
        ),
    ] {
        Mock::given(method("POST"))
            .and(path(format!("/rest/{method_name}.json")))
            .respond_with(ok(result))
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/oauth/token/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "fresh-access", "refresh_token": "fresh-refresh", "expires_in": 3600,
            "member_id": MEMBER, "domain": "127.0.0.1"})))
        .mount(&server)
        .await;
    server
}

async fn app_for(portal: &MockServer) -> TestApp {
    spawn_app_from(settings_for(portal).await).await
}

pub(crate) async fn settings_for(portal: &MockServer) -> kontragent::config::Settings {
    let mut settings = test_settings(Registries::Sandbox).await;
    settings.webhooks.allow_targets = vec!["127.0.0.1".into()];
    settings.integrations.public_url = "https://dd.example.ru".into();
    settings.integrations.follow_ms = 50;
    let b = &mut settings.integrations.bitrix24;
    b.oauth_url = format!("{}/oauth/token/", portal.uri());
    b.client_id = "local.kontragent".into();
    b.client_secret = kontragent::config::Secret::new("app-secret");
    settings
}

pub(crate) async fn post_form(
    app: &TestApp,
    route: &str,
    form: &[(&str, String)],
) -> reqwest::Response {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
        .finish();
    app.client
        .post(format!("{}/v1/integrations/bitrix24/{route}", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

pub(crate) fn install_form(portal: &MockServer) -> Vec<(&'static str, String)> {
    let endpoint = format!("{}/rest/", portal.uri());
    vec![
        ("event", "ONAPPINSTALL".into()),
        ("data[VERSION]", "1".into()),
        ("auth[access_token]", "install-access".into()),
        ("auth[expires_in]", "3600".into()),
        ("auth[refresh_token]", "install-refresh".into()),
        ("auth[domain]", portal.address().to_string()),
        ("auth[client_endpoint]", endpoint),
        ("auth[member_id]", MEMBER.into()),
        ("auth[application_token]", APP_TOKEN.into()),
    ]
}

fn robot_form(
    event_token: &str,
    properties: &[(&'static str, &str)],
) -> Vec<(&'static str, String)> {
    let mut form = vec![
        ("workflow_id", "66f1a2b3c4d5e6.12345678".into()),
        ("code", "kontragent_check".into()),
        ("document_id[0]", "crm".into()),
        ("document_id[1]", "CCrmDocumentDeal".into()),
        ("document_id[2]", "DEAL_8812".into()),
        ("event_token", event_token.into()),
        ("use_subscription", "Y".into()),
        ("auth[member_id]", MEMBER.into()),
        ("auth[application_token]", APP_TOKEN.into()),
        ("auth[user_id]", "1".into()),
    ];
    form.extend(properties.iter().map(|(k, v)| (*k, (*v).to_owned())));
    form
}

async fn installed() -> (MockServer, TestApp) {
    let portal = portal().await;
    let app = app_for(&portal).await;
    let r = post_form(&app, "install", &install_form(&portal)).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    (portal, app)
}

/// The calls of `method` the portal received, in order: JSON bodies of direct calls, and
/// the commands of `batch` calls read back from their PHP-style queries (values as strings).
pub(crate) async fn calls(portal: &MockServer, method_name: &str) -> Vec<Value> {
    let direct = format!("/rest/{method_name}.json");
    let mut out = Vec::new();
    for r in portal.received_requests().await.unwrap_or_default() {
        let body: Value = serde_json::from_slice(&r.body).unwrap_or_default();
        if r.url.path() == direct {
            out.push(body);
        } else if r.url.path() == "/rest/batch.json" {
            for command in body["cmd"].as_object().unwrap().values() {
                let (method, query) = command.as_str().unwrap().split_once('?').unwrap();
                if method == method_name {
                    out.push(nested(query));
                }
            }
        }
    }
    out
}

/// `fields[NAME]=v&id=5` → `{"fields": {"NAME": "v"}, "id": "5"}`.
fn nested(query: &str) -> Value {
    let mut root = json!({});
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let segments: Vec<&str> = key.split(['[', ']']).filter(|s| !s.is_empty()).collect();
        let mut at = &mut root;
        for (i, segment) in segments.iter().enumerate() {
            if i + 1 == segments.len() {
                at[*segment] = json!(value);
            } else {
                if at.get(*segment).is_none() {
                    at[*segment] = json!({});
                }
                at = &mut at[*segment];
            }
        }
    }
    root
}

/// Waits for the `n`-th call of `method` (the robot answers in the background).
pub(crate) async fn nth_call(portal: &MockServer, method_name: &str, n: usize) -> Value {
    let started = Instant::now();
    loop {
        let seen = calls(portal, method_name).await;
        if seen.len() >= n {
            return seen[n - 1].clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no {method_name} #{n} (saw {})",
            seen.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn install_proves_the_tokens_and_registers_the_robot_the_activity_and_the_fields() {
    let (portal, _app) = installed().await;
    let info = &calls(&portal, "app.info").await[0];
    assert_eq!(
        info["auth"], "install-access",
        "the tokens were proved with the portal"
    );
    let robot = &calls(&portal, "bizproc.robot.add").await[0];
    assert_eq!(robot["CODE"], "kontragent_check");
    assert_eq!(robot["USE_SUBSCRIPTION"], "Y");
    assert_eq!(
        robot["HANDLER"],
        "https://dd.example.ru/v1/integrations/bitrix24/robot"
    );
    assert_eq!(
        robot["FILTER"]["INCLUDE"][0],
        json!(["crm", "CCrmDocumentDeal"])
    );
    assert!(robot["RETURN_PROPERTIES"]["decision"].is_object());
    let activity = &calls(&portal, "bizproc.activity.add").await[0];
    assert_eq!(
        activity["FILTER"]["INCLUDE"][0],
        json!(["crm", "CCrmDocumentCompany"])
    );
    let fields: Vec<Value> = calls(&portal, "crm.company.userfield.add")
        .await
        .iter()
        .map(|c| c["fields"]["FIELD_NAME"].clone())
        .collect();
    assert_eq!(
        fields,
        [
            json!("KONTRAGENT_DECISION"),
            json!("KONTRAGENT_SCORE"),
            json!("KONTRAGENT_CHECKED_AT")
        ]
    );
}

#[tokio::test]
async fn an_install_the_portal_does_not_confirm_or_from_another_domain_is_refused() {
    let portal = portal().await;
    let app = app_for(&portal).await;
    // The endpoint is not on the portal's domain.
    let mut form = install_form(&portal);
    form[5].1 = "acme.bitrix24.ru".into();
    let r = post_form(&app, "install", &form).await;
    assert_eq!(r.status(), 422);
    let problem: Value = r.json().await.unwrap();
    assert_eq!(problem["field"], "auth[client_endpoint]");
    // A missing key.
    let r = post_form(&app, "install", &install_form(&portal)[..8]).await;
    assert_eq!(r.status(), 422);

    // The portal refuses the tokens: nothing is stored, so robot calls stay refused.
    let refusing = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/rest/app.info.json"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"error": "invalid_token", "error_description": "The access token provided is invalid."}),
        ))
        .mount(&refusing)
        .await;
    let r = post_form(&app, "install", &install_form(&refusing)).await;
    assert_eq!(r.status(), 502);
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "bitrix24_unreachable"
    );
    let r = post_form(
        &app,
        "robot",
        &robot_form("t-1", &[("properties[inn]", "7701000019")]),
    )
    .await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn the_robot_sends_each_verdict_to_the_workflow_and_writes_it_back() {
    let (portal, app) = installed().await;
    for (n, (inn, decision)) in [
        ("7701000019", "approve"),
        ("7701000058", "review"),
        ("7701000026", "reject"),
    ]
    .into_iter()
    .enumerate()
    {
        let token = format!("66f1a2b3c4d5e6.12345678|A1_{n}|Zx9");
        let r = post_form(
            &app,
            "robot",
            &robot_form(
                &token,
                &[("properties[inn]", inn), ("properties[companyId]", "3051")],
            ),
        )
        .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["status"], "checking");
        let sent = nth_call(&portal, "bizproc.event.send", n + 1).await;
        assert_eq!(
            sent["auth"], "fresh-access",
            "the tokens the OAuth server gave at install"
        );
        assert_eq!(sent["event_token"], token);
        let values = &sent["return_values"];
        assert_eq!(values["decision"], decision, "{inn}: {sent}");
        assert!(values["score"].is_number());
        assert!(values["reasons"].is_string());
        // `…/v1/checks/{id}/report`
        let check_id = values["reportUrl"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .nth(1)
            .unwrap();
        let check: Value = app
            .get(&format!("/v1/checks/{check_id}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(check["inn"], inn);
        assert_eq!(
            values["checkedAt"].as_str().unwrap()[..19],
            check["checked_at"].as_str().unwrap()[..19]
        );
        // The write-back to the company follows the answer.
        let update = nth_call(&portal, "crm.company.update", n + 1).await;
        assert_eq!(update["id"], "3051", "in a batch, values are text");
        assert_eq!(update["fields"]["UF_CRM_KONTRAGENT_DECISION"], decision);
        let comment = nth_call(&portal, "crm.timeline.comment.add", n + 1).await;
        assert_eq!(comment["fields"]["ENTITY_TYPE"], "company");
    }
    // A to-do for the company's responsible only for the review.
    let todo = nth_call(&portal, "crm.activity.todo.add", 1).await;
    // The company's responsible is read in the same batch, before the to-do that names it.
    assert_eq!(todo["responsibleId"], "$result[company][ASSIGNED_BY_ID]");
    assert_eq!(calls(&portal, "crm.company.get").await[0]["id"], "3051");
    let batch = portal
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| {
            r.url.path() == "/rest/batch.json" && String::from_utf8_lossy(&r.body).contains("todo")
        })
        .unwrap();
    let names: Vec<String> = serde_json::from_slice::<Value>(&batch.body).unwrap()["cmd"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        names,
        ["comment", "company", "todo", "update"],
        "one request for the write-back"
    );
    assert_eq!(calls(&portal, "crm.activity.todo.add").await.len(), 1);
    assert!(
        calls(&portal, "bizproc.activity.log").await.len() >= 3,
        "progress logged"
    );
}

#[tokio::test]
async fn without_an_inn_the_company_requisites_give_it() {
    let (portal, app) = installed().await;
    let r = post_form(
        &app,
        "robot",
        &robot_form("t-req", &[("properties[companyId][0]", "3051")]),
    )
    .await;
    assert_eq!(r.status(), 200);
    let sent = nth_call(&portal, "bizproc.event.send", 1).await;
    assert_eq!(
        sent["return_values"]["decision"], "review",
        "7701000058 reorganizing"
    );
    let asked = &calls(&portal, "crm.requisite.list").await[0];
    assert_eq!(
        asked["filter"],
        json!({"ENTITY_TYPE_ID": 4, "ENTITY_ID": 3051})
    );
}

#[tokio::test]
async fn a_call_that_cannot_be_checked_still_answers_the_workflow_with_review() {
    let (portal, app) = installed().await;
    let r = post_form(
        &app,
        "robot",
        &robot_form("t-bad", &[("properties[inn]", "123")]),
    )
    .await;
    assert_eq!(r.status(), 200);
    let sent = nth_call(&portal, "bizproc.event.send", 1).await;
    assert_eq!(sent["return_values"]["decision"], "review");
    let reasons = sent["return_values"]["reasons"].as_str().unwrap();
    assert_eq!(
        reasons,
        "Проверка не выполнена: ИНН 123: в ИНН 10 цифр (организация) или 12 цифр (ИП, физическое лицо)",
        "in Russian to its end"
    );
}

#[tokio::test]
async fn a_forged_application_token_is_refused_and_nothing_is_checked() {
    let (portal, app) = installed().await;
    let mut form = robot_form("t-forged", &[("properties[inn]", "7701000019")]);
    form[8].1 = "q8w7e6r5t4y3u2i1o0p9a8s7d6f5g4h4".into();
    let r = post_form(&app, "robot", &form).await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "bitrix24_unauthorized"
    );
    // An unknown portal, and no token at all.
    let mut form = robot_form("t-stranger", &[("properties[inn]", "7701000019")]);
    form[7].1 = "0000".into();
    assert_eq!(post_form(&app, "robot", &form).await.status(), 401);
    assert_eq!(
        post_form(&app, "robot", &robot_form("t", &[])[..8])
            .await
            .status(),
        401
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(calls(&portal, "bizproc.event.send").await.is_empty());
    let latest = app.get("/v1/counterparties/7701000019").await;
    assert_eq!(latest.status(), 404, "no check was made");
}

#[tokio::test]
async fn a_repeated_event_token_is_checked_and_answered_once() {
    let (portal, app) = installed().await;
    let form = robot_form("t-twice", &[("properties[inn]", "7701000019")]);
    let (a, b) = tokio::join!(
        post_form(&app, "robot", &form),
        post_form(&app, "robot", &form)
    );
    let mut statuses = vec![
        a.json::<Value>().await.unwrap()["status"].clone(),
        b.json::<Value>().await.unwrap()["status"].clone(),
    ];
    statuses.sort_by_key(|s| s.to_string());
    assert_eq!(statuses, [json!("checking"), json!("duplicate")]);
    nth_call(&portal, "bizproc.event.send", 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(calls(&portal, "bizproc.event.send").await.len(), 1);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_and_the_limit_is_waited_out() {
    let (portal, app) = installed().await;
    // The tokens of the install were exchanged once already (`fresh-*`); the next refresh
    // gives `second-*`.
    Mock::given(method("GET"))
        .and(path("/oauth/token/"))
        .and(wiremock::matchers::query_param(
            "refresh_token",
            "fresh-refresh",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "second-access", "refresh_token": "second-refresh",
            "expires_in": 3600, "member_id": MEMBER})))
        .with_priority(1)
        .mount(&portal)
        .await;
    // The first answer: the token has expired; after a refresh, the portal's limit once.
    Mock::given(method("POST"))
        .and(path("/rest/bizproc.event.send.json"))
        .and(body_string_contains("fresh-access"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"error": "expired_token", "error_description": "The access token provided has expired."}),
        ))
        .with_priority(1)
        .mount(&portal)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/bizproc.event.send.json"))
        .respond_with(ResponseTemplate::new(503).set_body_json(
            json!({"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}),
        ))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&portal)
        .await;
    let r = post_form(
        &app,
        "robot",
        &robot_form("t-exp", &[("properties[inn]", "7701000019")]),
    )
    .await;
    assert_eq!(r.status(), 200);
    let sent = nth_call(&portal, "bizproc.event.send", 3).await;
    assert_eq!(
        sent["auth"], "second-access",
        "sent again with the refreshed token"
    );
    let refreshes: Vec<_> = portal
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/oauth/token/")
        .collect();
    assert_eq!(refreshes.len(), 2, "the install's proof, then the expiry");
    let query: std::collections::HashMap<_, _> =
        refreshes[1].url.query_pairs().into_owned().collect();
    assert_eq!(query["grant_type"], "refresh_token");
    assert_eq!(query["refresh_token"], "fresh-refresh");
    assert_eq!(query["client_id"], "local.kontragent");
    assert_eq!(query["client_secret"], "app-secret");
    // The next call uses the stored fresh token without refreshing again.
    let r = post_form(
        &app,
        "robot",
        &robot_form("t-exp-2", &[("properties[inn]", "7701000019")]),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        nth_call(&portal, "bizproc.event.send", 4).await["auth"],
        "second-access"
    );
}

#[tokio::test]
async fn calls_to_one_portal_keep_to_its_rate_after_the_burst() {
    let portal = portal().await;
    let mut settings = settings_for(&portal).await;
    settings.integrations.bitrix24.rps = 2.0;
    settings.integrations.bitrix24.burst = 2;
    settings.integrations.bitrix24.uf_fields = false;
    let app = spawn_app_from(settings).await;
    let started = Instant::now();
    let r = post_form(&app, "install", &install_form(&portal)).await;
    assert_eq!(r.status(), 200);
    // Install makes 3 calls (app.info, robot, activity) and proves the tokens at the OAuth
    // server (here the same mock, outside the portal's bucket); 4 checks 4 × (log, send) more.
    for n in 0..4 {
        let token = format!("t-rate-{n}");
        post_form(
            &app,
            "robot",
            &robot_form(&token, &[("properties[inn]", "7701000019")]),
        )
        .await;
    }
    nth_call(&portal, "bizproc.event.send", 4).await;
    let total = portal.received_requests().await.unwrap().len();
    assert_eq!(total, 12, "every call reached the portal");
    // 11 calls at 2 a second after a burst of 2 cannot be done in less than 4.5 s.
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(4500),
        "{elapsed:?}: the bucket did not hold"
    );
}

#[tokio::test]
async fn a_portal_endpoint_outside_the_allowed_targets_is_refused() {
    let portal = portal().await;
    let mut settings = settings_for(&portal).await;
    // Only 127.0.0.2 may be reached: the fake portal at 127.0.0.1 is a forbidden address.
    settings.webhooks.allow_targets = vec!["127.0.0.2".into()];
    let app = spawn_app_from(settings).await;
    let r = post_form(&app, "install", &install_form(&portal)).await;
    assert_eq!(r.status(), 422);
    assert!(
        portal.received_requests().await.unwrap().is_empty(),
        "nothing was sent"
    );
}

#[tokio::test]
async fn a_status_change_of_a_linked_contractor_is_written_back_to_its_company() {
    let (portal, app) = installed().await;
    app.check("7701000019").await;
    let listed = app
        .client
        .post(format!("{}/v1/catalog", app.address))
        .json(&json!({"inn": "7701000019", "external_ids": {"bitrix24": format!("{MEMBER}:3051")}}))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 201);
    // Another contractor, not linked: nothing goes to the portal for it.
    app.check("7701000072").await;
    let r = app
        .client
        .post(format!("{}/v1/catalog/7701000019/status", app.address))
        .json(&json!({"action": "suspend", "comment": "жалоба клиента", "actor": "manager"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let comment = nth_call(&portal, "crm.timeline.comment.add", 1).await;
    let text = comment["fields"]["COMMENT"].as_str().unwrap();
    assert!(
        text.starts_with("Мониторинг: статус в каталоге активен → приостановлен (жалоба клиента)"),
        "{text}"
    );
    assert_eq!(comment["fields"]["ENTITY_ID"], "3051");
    let update = nth_call(&portal, "crm.company.update", 1).await;
    assert_eq!(update["fields"]["UF_CRM_KONTRAGENT_DECISION"], "approve");
    let todo = nth_call(&portal, "crm.activity.todo.add", 1).await;
    assert_eq!(todo["ownerId"], "3051");
    // Each change once: the cursor moved past it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(calls(&portal, "crm.timeline.comment.add").await.len(), 1);
}

#[tokio::test]
async fn a_robot_call_left_unanswered_by_a_stop_is_answered_at_the_next_start() {
    let portal = portal().await;
    let settings = settings_for(&portal).await;
    let first = spawn_app_from(settings.clone()).await;
    assert_eq!(
        post_form(&first, "install", &install_form(&portal))
            .await
            .status(),
        200
    );
    // The registries' answers are stored first, so the resumed check below reads them back
    // well within its short deadline.
    assert_eq!(first.check("7701000026").await["decision"], "reject");
    // What a process that stopped mid-check leaves behind: the call recorded, never answered.
    let left = json!({"event_token": "t-left", "member_id": MEMBER, "inn": "7701000026",
                      "company_id": null, "profile": null, "max_age_s": null});
    assert!(
        first
            .app
            .store()
            .claim_bitrix24_event("t-left", MEMBER, &left.to_string())
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The next start (check deadline 100 ms: the call is surely abandoned) answers it, once
    // for two instances starting together.
    let mut later = settings.clone();
    later.check.deadline_ms = 100;
    let (_a, _b) = tokio::join!(spawn_app_from(later.clone()), spawn_app_from(later));
    let sent = nth_call(&portal, "bizproc.event.send", 1).await;
    assert_eq!(sent["event_token"], "t-left");
    assert_eq!(sent["return_values"]["decision"], "reject");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(calls(&portal, "bizproc.event.send").await.len(), 1);
}

/// The OAuth server (oauth.bitrix.info): exchanges only the refresh tokens it issued to our
/// application, and says for which portal.
async fn oauth_server() -> MockServer {
    let server = MockServer::start().await;
    for (refresh, member) in [
        ("install-refresh", MEMBER),
        ("other-portal", "another-member"),
    ] {
        Mock::given(method("GET"))
            .and(path("/oauth/token/"))
            .and(wiremock::matchers::query_param("refresh_token", refresh))
            .and(wiremock::matchers::query_param(
                "client_id",
                "local.kontragent",
            ))
            .and(wiremock::matchers::query_param(
                "client_secret",
                "app-secret",
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "access_token": "vouched-access", "refresh_token": "vouched-refresh",
                "expires_in": 3600, "member_id": member})))
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/oauth/token/"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(
                json!({"error": "invalid_grant", "error_description": "Invalid grant"}),
            ),
        )
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn an_install_not_proved_to_be_ours_is_refused_and_keeps_the_tokens_already_proved() {
    let oauth = oauth_server().await;
    let portal = portal().await;
    let mut settings = settings_for(&portal).await;
    settings.integrations.bitrix24.oauth_url = format!("{}/oauth/token/", oauth.uri());
    let app = spawn_app_from(settings).await;
    let refused = |r: reqwest::Response| async move {
        let status = r.status().as_u16();
        let problem: Value = r.json().await.unwrap();
        (
            status,
            problem["code"].as_str().unwrap_or_default().to_owned(),
        )
    };
    let unproven = (403, "bitrix24_install_unproven".to_owned());

    // A portal whose app.info names another application.
    let foreign = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/rest/app.info.json"))
        .respond_with(ok(
            json!({"ID": 3, "CODE": "local.someone.else", "INSTALLED": true}),
        ))
        .mount(&foreign)
        .await;
    let r = post_form(&app, "install", &install_form(&foreign)).await;
    assert_eq!(refused(r).await, unproven);
    // Our CODE, but a refresh token the OAuth server never issued to us.
    let mut form = install_form(&portal);
    form[4].1 = "made-up".into();
    assert_eq!(
        refused(post_form(&app, "install", &form).await).await,
        unproven
    );
    // A real token, but of another portal than the `member_id` claimed.
    form[4].1 = "other-portal".into();
    assert_eq!(
        refused(post_form(&app, "install", &form).await).await,
        unproven
    );
    // An answer that does not say which portal the tokens are for proves nothing either.
    form[4].1 = "silent".into();
    assert_eq!(
        refused(post_form(&app, "install", &form).await).await,
        unproven
    );
    // Nothing was stored: robot calls stay refused.
    let robot = robot_form("t-1", &[("properties[inn]", "7701000019")]);
    assert_eq!(post_form(&app, "robot", &robot).await.status(), 401);

    // The genuine install stores the tokens the OAuth server gave.
    let r = post_form(&app, "install", &install_form(&portal)).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let info = &calls(&portal, "app.info").await;
    assert_eq!(info.last().unwrap()["auth"], "install-access");
    // A reinstall with another application token and an unvouched refresh token is
    // refused, and the proved tokens stay: the portal's own token still works.
    let mut forged = install_form(&portal);
    forged[4].1 = "made-up".into();
    forged[8].1 = "attacker-token".into();
    assert_eq!(
        refused(post_form(&app, "install", &forged).await).await,
        unproven
    );
    assert_eq!(post_form(&app, "robot", &robot).await.status(), 200);
    let mut by_attacker = robot_form("t-2", &[("properties[inn]", "7701000019")]);
    by_attacker[8].1 = "attacker-token".into();
    assert_eq!(post_form(&app, "robot", &by_attacker).await.status(), 401);
}

#[tokio::test]
async fn without_a_client_id_or_secret_no_install_is_taken_and_robot_calls_share_one_budget() {
    let portal = portal().await;
    let mut settings = settings_for(&portal).await;
    settings.integrations.bitrix24.client_id = String::new();
    let app = spawn_app_from(settings).await;
    let r = post_form(&app, "install", &install_form(&portal)).await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "bitrix24_not_configured"
    );
    // Nor without the secret: app.info alone is the caller's own word.
    let mut settings = settings_for(&portal).await;
    settings.integrations.bitrix24.client_secret = kontragent::config::Secret::default();
    let app = spawn_app_from(settings).await;
    let r = post_form(&app, "install", &install_form(&portal)).await;
    assert_eq!(r.status(), 403);

    let mut settings = settings_for(&portal).await;
    settings.limits.checks_per_minute = 2;
    let app = spawn_app_from(settings).await;
    assert_eq!(
        post_form(&app, "install", &install_form(&portal))
            .await
            .status(),
        200
    );
    for (n, want) in [(1, 200), (2, 200), (3, 429)] {
        let form = robot_form(&format!("b-{n}"), &[("properties[inn]", "7701000019")]);
        let r = post_form(&app, "robot", &form).await;
        assert_eq!(r.status(), want, "robot call {n}");
        if want == 429 {
            assert!(r.headers().contains_key("retry-after"));
        }
    }
}
