//! amoCRM account webhooks against a fake API v4 (wiremock at 127.0.0.1): a lead or a company
//! is checked by its INN field and the verdict written back (fields, a note, a task).

use crate::helpers::{Registries, TestApp, spawn_app_from, test_settings};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "Hk2-9d8f7a6s5d4f3g2h1j0k";

async fn account() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v4/companies/79"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": 79, "name": "ООО Ликвидировано", "responsible_user_id": 9120455,
            "custom_fields_values": [{"field_id": 512733, "field_name": "ИНН",
                                      "values": [{"value": "7701000026"}]}]}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path_regex(r"^/api/v4/(leads|companies)/\d+$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 1})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(r"^/api/v4/(leads|companies)/\d+/notes$"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"_embedded": {"notes": [{"id": 1}]}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v4/tasks"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"_embedded": {"tasks": [{"id": 1}]}})),
        )
        .mount(&server)
        .await;
    server
}

async fn app_for(account: &MockServer) -> TestApp {
    let mut settings = test_settings(Registries::Sandbox).await;
    settings.webhooks.allow_targets = vec!["127.0.0.1".into()];
    settings.integrations.public_url = "https://dd.example.ru".into();
    settings.integrations.follow_ms = 50;
    settings
        .integrations
        .amocrm
        .accounts
        .insert("acmetrade".into(), account_settings(account));
    spawn_app_from(settings).await
}

/// The account `acmetrade` at the fake API, with a long-lived token.
fn account_settings(account: &MockServer) -> kontragent::config::AmoAccountSettings {
    kontragent::config::AmoAccountSettings {
        base_url: account.uri(),
        access_token: kontragent::config::Secret::new("long-lived-token"),
        webhook_token: kontragent::config::Secret::new(TOKEN),
        inn_field_id: 512733,
        decision_field_id: 512801,
        score_field_id: 512802,
        ..Default::default()
    }
}

async fn webhook(app: &TestApp, token: &str, body: &str) -> reqwest::Response {
    app.client
        .post(format!(
            "{}/v1/integrations/amocrm/webhook/{token}",
            app.address
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

fn lead_moved(inn: &str) -> String {
    format!(
        "leads[status][0][id]=4410023&leads[status][0][status_id]=60517731\
         &leads[status][0][old_status_id]=60517728&leads[status][0][pipeline_id]=7290011\
         &leads[status][0][responsible_user_id]=9120455\
         &leads[status][0][custom_fields][0][id]=512733\
         &leads[status][0][custom_fields][0][values][0][value]={inn}\
         &account[id]=31877654&account[subdomain]=acmetrade"
    )
}

/// The requests the account received for `verb` on `route`, waiting until `n` came.
async fn requests(
    account: &MockServer,
    verb: &str,
    route: &str,
    n: usize,
) -> Vec<wiremock::Request> {
    let started = Instant::now();
    loop {
        let seen: Vec<_> = account
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.method.as_str() == verb && r.url.path() == route)
            .collect();
        if seen.len() >= n {
            return seen;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no {verb} {route} #{n}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn body(r: &wiremock::Request) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

#[tokio::test]
async fn a_lead_for_review_gets_its_fields_a_note_and_a_task_for_its_responsible() {
    let account = account().await;
    let app = app_for(&account).await;
    let r = webhook(&app, TOKEN, &lead_moved("7701000058")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["items"], 1);

    let patch = &requests(&account, "PATCH", "/api/v4/leads/4410023", 1).await[0];
    assert_eq!(patch.headers["authorization"], "Bearer long-lived-token");
    assert_eq!(
        body(patch)["custom_fields_values"][0],
        json!({"field_id": 512801, "values": [{"value": "review"}]})
    );
    assert_eq!(body(patch)["custom_fields_values"][1]["field_id"], 512802);
    let note = &requests(&account, "POST", "/api/v4/leads/4410023/notes", 1).await[0];
    let text = body(note)[0]["params"]["text"].as_str().unwrap().to_owned();
    assert!(text.contains("НА ПРОВЕРКУ"), "{text}");
    let task = &requests(&account, "POST", "/api/v4/tasks", 1).await[0];
    let task = &body(task)[0];
    assert_eq!(task["entity_type"], "leads");
    assert_eq!(task["entity_id"], 4410023);
    assert_eq!(task["responsible_user_id"], 9120455);
    assert!(task["complete_till"].as_i64().unwrap() > chrono::Utc::now().timestamp());
}

#[tokio::test]
async fn a_company_without_the_inn_in_the_webhook_is_read_and_a_reject_gets_no_task() {
    let account = account().await;
    let app = app_for(&account).await;
    let r = webhook(
        &app,
        TOKEN,
        "contacts[update][0][id]=79&contacts[update][0][type]=company&account[subdomain]=acmetrade",
    )
    .await;
    assert_eq!(r.json::<Value>().await.unwrap()["items"], 1);
    let patch = &requests(&account, "PATCH", "/api/v4/companies/79", 1).await[0];
    assert_eq!(
        body(patch)["custom_fields_values"][0]["values"][0]["value"],
        "reject"
    );
    requests(&account, "POST", "/api/v4/companies/79/notes", 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        requests(&account, "POST", "/api/v4/tasks", 0)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_wrong_token_is_refused_and_nothing_is_called() {
    let account = account().await;
    let app = app_for(&account).await;
    let r = webhook(&app, "Hk2-9d8f7a6s5d4f3g2h1j0x", &lead_moved("7701000058")).await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "amocrm_unauthorized"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(account.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_webhook_our_write_back_fires_is_not_checked_again_and_429_is_waited_out() {
    let account = account().await;
    Mock::given(method("POST"))
        .and(path("/api/v4/leads/4410023/notes"))
        .respond_with(ResponseTemplate::new(429))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&account)
        .await;
    let app = app_for(&account).await;
    webhook(&app, TOKEN, &lead_moved("7701000019")).await;
    let notes = requests(&account, "POST", "/api/v4/leads/4410023/notes", 2).await;
    assert_eq!(notes.len(), 2, "the 429 was retried");
    // The write-back is recorded right after its last call.
    let started = Instant::now();
    while !app
        .app
        .store()
        .amocrm_written_since(
            "acmetrade",
            "leads",
            4410023,
            "7701000019",
            chrono::Utc::now() - chrono::TimeDelta::hours(1),
        )
        .await
        .unwrap()
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the write-back was never recorded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The PATCH fired `update_lead`: the same lead and INN come back.
    let r = webhook(
        &app,
        TOKEN,
        &lead_moved("7701000019").replace("[status]", "[update]"),
    )
    .await;
    assert_eq!(r.status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        requests(&account, "PATCH", "/api/v4/leads/4410023", 1)
            .await
            .len(),
        1
    );
    // Another INN in the field is a real change: checked and written.
    webhook(&app, TOKEN, &lead_moved("7701000026")).await;
    let patches = requests(&account, "PATCH", "/api/v4/leads/4410023", 2).await;
    assert_eq!(
        body(&patches[1])["custom_fields_values"][0]["values"][0]["value"],
        "reject"
    );
}

#[tokio::test]
async fn a_status_change_of_a_linked_contractor_reaches_its_amocrm_company() {
    let account = account().await;
    let app = app_for(&account).await;
    app.check("7701000019").await;
    let listed = app
        .client
        .post(format!("{}/v1/catalog", app.address))
        .json(&json!({"inn": "7701000019", "external_ids": {"amocrm": "acmetrade:79"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 201);
    let r = app
        .client
        .post(format!("{}/v1/catalog/7701000019/status", app.address))
        .json(&json!({"action": "review", "comment": "просрочка работ", "actor": "manager"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let note = &requests(&account, "POST", "/api/v4/companies/79/notes", 1).await[0];
    let text = body(note)[0]["params"]["text"].as_str().unwrap().to_owned();
    assert!(
        text.starts_with("Мониторинг: статус в каталоге активен → на проверке (просрочка работ)"),
        "{text}"
    );
    let patch = &requests(&account, "PATCH", "/api/v4/companies/79", 1).await[0];
    assert_eq!(
        body(patch)["custom_fields_values"][0]["values"][0]["value"],
        "approve"
    );
    let task = &requests(&account, "POST", "/api/v4/tasks", 1).await[0];
    assert_eq!(
        body(task)[0]["responsible_user_id"],
        9120455,
        "the company's responsible"
    );
}

#[tokio::test]
async fn oauth_tokens_are_refreshed_and_each_rotated_refresh_token_is_the_next_one_used() {
    use wiremock::matchers::{body_partial_json, header};
    let account = account().await;
    for (given, access, next) in [
        ("seed-refresh", "oauth-1", "rot-2"),
        ("rot-2", "oauth-2", "rot-3"),
    ] {
        Mock::given(method("POST"))
            .and(path("/oauth2/access_token"))
            .and(body_partial_json(json!({"grant_type": "refresh_token", "refresh_token": given,
                                          "client_id": "amo-client", "client_secret": "amo-secret"})))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"token_type": "Bearer",
                "expires_in": 86400, "access_token": access, "refresh_token": next})))
            .mount(&account)
            .await;
    }
    // The first access token is refused once: the account revoked it.
    Mock::given(method("PATCH"))
        .and(header("authorization", "Bearer oauth-1"))
        .respond_with(ResponseTemplate::new(401))
        .with_priority(1)
        .mount(&account)
        .await;
    let mut settings = test_settings(Registries::Sandbox).await;
    settings.webhooks.allow_targets = vec!["127.0.0.1".into()];
    settings.integrations.amocrm.accounts.insert(
        "acmetrade".into(),
        kontragent::config::AmoAccountSettings {
            base_url: account.uri(),
            webhook_token: kontragent::config::Secret::new(TOKEN),
            client_id: "amo-client".into(),
            client_secret: kontragent::config::Secret::new("amo-secret"),
            redirect_uri: "https://dd.example.ru/amocrm/oauth".into(),
            refresh_token: kontragent::config::Secret::new("seed-refresh"),
            inn_field_id: 512733,
            decision_field_id: 512801,
            ..Default::default()
        },
    );
    let app = spawn_app_from(settings).await;
    webhook(&app, TOKEN, &lead_moved("7701000019")).await;
    let patches = requests(&account, "PATCH", "/api/v4/leads/4410023", 2).await;
    assert_eq!(patches[0].headers["authorization"], "Bearer oauth-1");
    assert_eq!(patches[1].headers["authorization"], "Bearer oauth-2");
    let note = &requests(&account, "POST", "/api/v4/leads/4410023/notes", 1).await[0];
    assert_eq!(
        note.headers["authorization"], "Bearer oauth-2",
        "the stored token is reused"
    );
    assert_eq!(
        requests(&account, "POST", "/oauth2/access_token", 2)
            .await
            .len(),
        2
    );
}

/// A monitoring pass that suspends a contractor linked to both CRMs reaches both companies.
#[tokio::test]
async fn a_monitoring_status_change_reaches_both_crms() {
    use crate::bitrix24 as b24;
    let account = account().await;
    let portal = b24::portal().await;
    let mut settings = b24::settings_for(&portal).await;
    settings
        .integrations
        .amocrm
        .accounts
        .insert("acmetrade".into(), account_settings(&account));
    let app = spawn_app_from(settings).await;
    let r = b24::post_form(&app, "install", &b24::install_form(&portal)).await;
    assert_eq!(r.status(), 200);
    // Approved at first; the sandbox makes it bankrupt at the next check.
    assert_eq!(app.check("7702000332").await["decision"], "approve");
    let listed = app
        .client
        .post(format!("{}/v1/catalog", app.address))
        .json(&json!({"inn": "7702000332", "external_ids": {
            "bitrix24": format!("{}:3051", b24::MEMBER), "amocrm": "acmetrade:79"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 201);
    let pass: Value = app
        .client
        .post(format!("{}/v1/catalog/7702000332/recheck", app.address))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pass["check"]["decision"], "reject", "{pass}");

    let comment = b24::nth_call(&portal, "crm.timeline.comment.add", 1).await;
    let text = comment["fields"]["COMMENT"].as_str().unwrap().to_owned();
    assert!(
        text.starts_with("Мониторинг: статус в каталоге активен → приостановлен"),
        "{text}"
    );
    let update = b24::nth_call(&portal, "crm.company.update", 1).await;
    assert_eq!(update["fields"]["UF_CRM_KONTRAGENT_DECISION"], "reject");

    let note = &requests(&account, "POST", "/api/v4/companies/79/notes", 1).await[0];
    let text = body(note)[0]["params"]["text"].as_str().unwrap().to_owned();
    assert!(
        text.starts_with("Мониторинг: статус в каталоге активен → приостановлен"),
        "{text}"
    );
    let patch = &requests(&account, "PATCH", "/api/v4/companies/79", 1).await[0];
    assert_eq!(
        body(patch)["custom_fields_values"][0]["values"][0]["value"],
        "reject"
    );
    let task = &requests(&account, "POST", "/api/v4/tasks", 1).await[0];
    assert_eq!(body(task)[0]["entity_id"], 79);
}
