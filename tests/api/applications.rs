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

/// Each bad field has its code and its name in `field`, and reads in the visitor's
/// language: Russian by default and on `Accept-Language: ru`, English on `en`.
#[tokio::test]
async fn each_bad_field_gets_its_code_and_a_message_in_the_readers_language() {
    let app = spawn_app_with(Registries::Sandbox, |_| {}).await;
    for (field, value, code, ru, en) in [
        (
            "inn",
            json!("7707083894"),
            "inn_checksum",
            "контрольные цифры ИНН не сходятся",
            "check digits do not match",
        ),
        (
            "inn",
            json!("77070"),
            "inn_length",
            "в ИНН 10 цифр",
            "10 digits",
        ),
        (
            "phone",
            json!("12345"),
            "phone_invalid",
            "это не номер телефона",
            "not a phone number",
        ),
        (
            "email",
            json!("ivan@example"),
            "email_invalid",
            "это не адрес электронной почты",
            "not an e-mail address",
        ),
        (
            "company_name",
            json!(" "),
            "invalid_field",
            "`company_name`: обязательное поле",
            "`company_name`: required",
        ),
        (
            "message",
            json!("x".repeat(2001)),
            "invalid_field",
            "`message`: не длиннее 2000 символов",
            "at most 2000 characters",
        ),
    ] {
        let mut body = form();
        body[field] = value;
        for (language, expected, title) in [
            (None, ru, ["Неверный ИНН", "Неверный запрос"]),
            (
                Some("ru-RU,ru;q=0.9"),
                ru,
                ["Неверный ИНН", "Неверный запрос"],
            ),
            (
                Some("en-US,en;q=0.8"),
                en,
                ["Invalid INN", "Invalid request"],
            ),
        ] {
            let mut r = app
                .client
                .post(format!("{}/v1/public/applications", app.address))
                .json(&body);
            if let Some(language) = language {
                r = r.header("Accept-Language", language);
            }
            let r = r.send().await.unwrap();
            let status = r.status().as_u16();
            let problem: Value = r.json().await.unwrap();
            assert_eq!(
                (status, problem["code"].as_str()),
                (422, Some(code)),
                "{field}: {problem}"
            );
            assert_eq!(problem["field"], field, "{problem}");
            let detail = problem["detail"].as_str().unwrap();
            assert!(detail.contains(expected), "{language:?}: {problem}");
            assert!(
                title.contains(&problem["title"].as_str().unwrap()),
                "{language:?}: {problem}"
            );
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
    // Four from this IP within the hour: the fifth (an office behind one address, maybe)
    // is held for a person, not thrown away as spam — and not screened until released.
    let (_, receipt) = submit(&app, &form()).await;
    let stored = application(&app, receipt["id"].as_str().unwrap()).await;
    assert_eq!(stored["application"]["stage"], "held");
    assert!(stored["application"].get("check_id").is_none());
    assert_eq!(stored["timeline"][0]["action"], "received");
    assert_eq!(stored["timeline"][0]["to_stage"], "held");
    assert!(
        stored["application"]["spam_signals"]
            .as_array()
            .unwrap()
            .contains(&json!("ip_rate")),
        "{stored}"
    );
}

async fn act(app: &TestApp, id: &str, body: Value) -> (u16, Value) {
    let r = app
        .client
        .post(format!("{}/v1/applications/{id}/actions", app.address))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn screened(app: &TestApp, body: &Value) -> Value {
    let (_, receipt) = submit(app, body).await;
    let id = receipt["id"].as_str().unwrap().to_owned();
    for _ in 0..250 {
        let view = application(app, &id).await;
        if view["application"]["stage"] != "received" {
            return view;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    application(app, &id).await
}

fn time(v: &Value) -> chrono::DateTime<chrono::Utc> {
    v.as_str().unwrap().parse().unwrap()
}

/// A round-the-clock calendar in UTC, so the times a test expects do not depend on when it
/// runs.
fn round_the_clock(s: &mut kontragent::config::Settings) {
    s.applications.timezone = "UTC".into();
    s.applications.calendar.working_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .map(String::from)
        .to_vec();
    s.applications.calendar.working_hours = "00:00-23:59".into();
}

#[tokio::test]
async fn a_manager_calls_retries_on_the_sla_and_an_agreement_lists_the_contractor() {
    let app = spawn_app_with(Registries::Sandbox, round_the_clock).await;
    let view = screened(&app, &form()).await;
    let a = &view["application"];
    let id = a["id"].as_str().unwrap();
    assert_eq!(a["stage"], "screened");
    assert_eq!(a["next_action"], "first_contact");
    let first_due = (time(&a["due_at"]) - time(&a["created_at"])).num_seconds();
    assert!(
        (600..=660).contains(&first_due),
        "first contact due in 10 min: {first_due}"
    );
    assert_eq!(view["overdue"], false);
    // The worklist: what is due by a time.
    let due_by = |t: &'static str| {
        let app = &app;
        async move {
            let page: Value = app
                .get(&format!("/v1/applications?due_before={t}"))
                .await
                .json()
                .await
                .unwrap();
            page["items"].as_array().unwrap().len()
        }
    };
    assert_eq!(due_by("2099-01-01T00:00:00Z").await, 1);
    assert_eq!(due_by("2000-01-01T00:00:00Z").await, 0);

    // Not reached: again two hours later, then the next working day at 10:00.
    let (status, a) = act(
        &app,
        id,
        json!({"action": "call_attempt", "outcome": "no_answer"}),
    )
    .await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(
        (a["stage"].as_str(), a["unanswered"].as_i64()),
        (Some("contacting"), Some(1))
    );
    let retry = (time(&a["due_at"]) - time(&a["updated_at"])).num_seconds();
    assert!((7200..=7260).contains(&retry), "retry in 2 h: {retry}");
    let (_, a) = act(
        &app,
        id,
        json!({"action": "call_attempt", "outcome": "no_answer"}),
    )
    .await;
    let due = time(&a["due_at"]);
    let tomorrow = time(&a["updated_at"]).date_naive().succ_opt().unwrap();
    assert_eq!(due, tomorrow.and_hms_opt(10, 0, 0).unwrap().and_utc());
    assert_eq!(a["next_action"], "call_again");

    // Reached and interested: taken into work; the agreement lists the contractor.
    let (_, a) = act(
        &app,
        id,
        json!({"action": "call_attempt", "outcome": "reached_interested", "comment": "ждут договор"}),
    )
    .await;
    assert_eq!(a["stage"], "in_work");
    assert!(a.get("due_at").is_none(), "no call is due in work");
    let (status, problem) = act(&app, id, json!({"action": "take_into_work"})).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("invalid_transition"))
    );
    // Given to a manager; the list filters by them.
    let (status, a) = act(
        &app,
        id,
        json!({"action": "assign", "assignee": "a.ivanova"}),
    )
    .await;
    assert_eq!(
        (status, a["assignee"].as_str(), a["stage"].as_str()),
        (200, Some("a.ivanova"), Some("in_work")),
        "{a}"
    );
    let mine: Value = app
        .get("/v1/applications?assignee=a.ivanova")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    let theirs: Value = app
        .get("/v1/applications?assignee=p.petrov")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["items"], json!([]));
    let (status, a) = act(
        &app,
        id,
        json!({"action": "agreement_signed", "agreement_number": "Д-2026/118", "agreement_date": "2026-12-03"}),
    )
    .await;
    assert_eq!((status, a["stage"].as_str()), (200, Some("listed")), "{a}");
    assert_eq!(
        a["agreement"],
        json!({"number": "Д-2026/118", "signed_on": "2026-12-03"})
    );
    let entry: Value = app
        .get("/v1/catalog/7701000019")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(entry["entry"]["status"], "active");
    // The registry's name, region and address; the name as typed beside it.
    assert_eq!(entry["entry"]["name"], view["check"]["company"]["name"]);
    assert_eq!(entry["entry"]["display_name"], "ООО Северный ветер");
    assert_eq!(entry["entry"]["region"], view["check"]["company"]["region"]);
    assert_eq!(
        entry["entry"]["address"],
        view["check"]["company"]["address"]
    );
    assert!(entry["entry"]["address"].is_string(), "{entry}");
    assert_eq!(entry["entry"]["external_ids"]["application"], json!(id));
    // The listing is on the audit trail like any other, and so is reading the application.
    let audit: Value = app
        .get("/v1/audit?inn=7701000019")
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"applications.read"), "{audit}");
    let listing = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "applications.agreement_signed")
        .unwrap_or_else(|| panic!("{audit}"));
    assert_eq!(
        listing["detail"],
        format!("{id}: agreement_signed → listed in the catalog")
    );
    let view = application(&app, id).await;
    let steps: Vec<(&str, &str)> = view["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["to_stage"].as_str().unwrap(),
            )
        })
        .collect();
    // Every change, the website's and the screening's too, each with its actor.
    assert_eq!(
        steps,
        [
            ("received", "received"),
            ("screened", "screened"),
            ("call_attempt", "contacting"),
            ("call_attempt", "contacting"),
            ("call_attempt", "in_work"),
            ("assign", "in_work"),
            ("agreement_signed", "listed")
        ]
    );
    let actors: Vec<&str> = view["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert_eq!(actors[..2], ["website", "screening"]);
    assert_eq!(view["timeline"][1]["detail"]["decision"], "approve");
}

#[tokio::test]
async fn a_rejected_application_can_be_reopened_and_bad_actions_are_named() {
    let app = spawn_app_with(Registries::Sandbox, |_| {}).await;
    let view = screened(&app, &form()).await;
    let id = view["application"]["id"].as_str().unwrap();
    let (status, problem) = act(&app, id, json!({"action": "reject"})).await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("reason")));
    let (status, problem) = act(&app, id, json!({"action": "call_attempt"})).await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("outcome")));
    let (status, problem) = act(&app, id, json!({"action": "fly"})).await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("action")));
    let (_, a) = act(
        &app,
        id,
        json!({"action": "reject", "reason": "не наш профиль"}),
    )
    .await;
    assert_eq!(a["stage"], "rejected");
    let (status, problem) = act(&app, id, json!({"action": "agreement_signed"})).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("invalid_transition"))
    );
    // Reopened: screened again from the start, with a check of its own.
    let first_check = view["application"]["check_id"].clone();
    let (_, a) = act(&app, id, json!({"action": "reopen"})).await;
    assert_eq!(a["stage"], "received");
    let mut again = application(&app, id).await;
    for _ in 0..250 {
        if again["application"]["stage"] != "received" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        again = application(&app, id).await;
    }
    let a = &again["application"];
    assert_eq!(
        (a["stage"].as_str(), a["next_action"].as_str()),
        (Some("screened"), Some("first_contact"))
    );
    assert!(
        a["check_id"].is_string() && a["check_id"] != first_check,
        "{a}"
    );
    // A call at a time the manager agreed; a wrong number closes it.
    let (_, a) = act(
        &app,
        id,
        json!({"action": "schedule_call", "at": "2099-03-02T07:00:00Z"}),
    )
    .await;
    assert_eq!(
        (
            a["stage"].as_str(),
            a["next_action"].as_str(),
            a["due_at"].as_str()
        ),
        (
            Some("contacting"),
            Some("call"),
            Some("2099-03-02T07:00:00Z")
        )
    );
    let (_, a) = act(
        &app,
        id,
        json!({"action": "call_attempt", "outcome": "wrong_number"}),
    )
    .await;
    assert_eq!(a["stage"], "rejected");
    assert!(a.get("due_at").is_none());
    let (status, _) = act(&app, "no-such-id", json!({"action": "reopen"})).await;
    assert_eq!(status, 404);
}

/// The kinds of the application's events in the feed, in order.
async fn application_events(app: &TestApp) -> Vec<(String, String)> {
    let feed: Value = app
        .get("/v1/events?type=application.*&limit=1000")
        .await
        .json()
        .await
        .unwrap();
    feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["payload"]["due_at"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

async fn wait_for_events(app: &TestApp, n: usize) -> Vec<(String, String)> {
    for _ in 0..300 {
        let events = application_events(app).await;
        if events.len() >= n {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    application_events(app).await
}

#[tokio::test]
async fn the_sla_sends_due_and_breached_events_and_a_no_answer_call_moves_the_due_time() {
    let app = spawn_app_with(Registries::Sandbox, |s| {
        round_the_clock(s);
        s.applications.sla.first_contact_s = 1;
        s.applications.sla.retry_after_s = 2;
        s.applications.sla.remind_before_s = 0;
        s.applications.sla.tick_ms = 50;
    })
    .await;
    let view = screened(&app, &form()).await;
    let id = view["application"]["id"].as_str().unwrap().to_owned();
    let first_due = view["application"]["due_at"].as_str().unwrap().to_owned();
    let events = wait_for_events(&app, 4).await;
    let types: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "application.received",
            "application.screened",
            "application.sla_due",
            "application.sla_breached"
        ]
    );
    let due_at = |i: usize| time(&json!(events[i].1));
    assert_eq!(due_at(2), time(&json!(first_due)));
    assert_eq!(due_at(3), time(&json!(first_due)));

    let (_, a) = act(
        &app,
        &id,
        json!({"action": "call_attempt", "outcome": "no_answer"}),
    )
    .await;
    let retry_due = a["due_at"].as_str().unwrap().to_owned();
    let retry = (time(&json!(retry_due)) - time(&a["updated_at"])).num_milliseconds();
    assert!((2000..3000).contains(&retry), "due {retry} ms later");
    let events = wait_for_events(&app, 7).await;
    let tail: Vec<&str> = events[4..].iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        tail,
        [
            "application.stage_changed",
            "application.sla_due",
            "application.sla_breached"
        ]
    );
    assert_eq!(time(&json!(events[6].1)), time(&json!(retry_due)));
    // Each due time is told once: giving the application to a manager keeps its due call.
    let (status, _) = act(
        &app,
        &id,
        json!({"action": "assign", "assignee": "a.ivanova"}),
    )
    .await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(application_events(&app).await.len(), 7);
}

#[tokio::test]
async fn the_department_gets_an_e_mail_for_each_application_and_a_dead_server_blocks_nothing() {
    let smtp = crate::smtp::SmtpServer::start().await;
    let app = spawn_app_with(Registries::Sandbox, |s| {
        s.smtp.url = kontragent::config::Secret::new(smtp.url());
        s.smtp.from = "kontragent@example.ru".into();
        s.applications.notify_to = vec!["sales@example.ru".into()];
        s.applications.link_base = "https://kontragent.example.ru".into();
        s.applications.sla.tick_ms = 50;
    })
    .await;
    let view = screened(&app, &form()).await;
    let id = view["application"]["id"].as_str().unwrap();
    let mail = smtp.wait_for(1).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].to, ["sales@example.ru"]);
    assert_eq!(
        mail[0].subject(),
        "Новая заявка: ООО Северный ветер (ИНН 7701000019) — одобрить"
    );
    let text = mail[0].part("text/plain").expect("a plain-text part");
    for line in [
        "Компания: ООО Северный ветер",
        "ИНН: 7701000019",
        "Решение проверки: одобрить",
        "Контакт: Иван Петров, +74951234567, ivan@example.ru",
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
    assert!(
        text.contains(&format!(
            "https://kontragent.example.ru/v1/applications/{id}"
        )),
        "{text}"
    );
    let html = mail[0].part("text/html").expect("an HTML part");
    assert!(html.contains("<p>ИНН: 7701000019</p>"), "{html}");

    // Spam gets no e-mail.
    let mut spam = form();
    spam["website"] = json!("http://bot");
    submit(&app, &spam).await;

    // A dead mail server: intake and screening go on.
    let dead = spawn_app_with(Registries::Sandbox, |s| {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        s.smtp.url = kontragent::config::Secret::new(format!("smtp://127.0.0.1:{port}"));
        s.smtp.timeout_ms = 500;
        s.applications.notify_to = vec!["sales@example.ru".into()];
        s.applications.sla.tick_ms = 50;
    })
    .await;
    let view = screened(&dead, &form()).await;
    assert_eq!(view["application"]["stage"], "screened");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        smtp.messages.lock().unwrap().len(),
        1,
        "only the first application's message"
    );
}

/// The sandbox's demo form, in headless Chromium, from the sandbox's origin to the API's.
/// Chromium may resolve no name but 127.0.0.1 (`--host-resolver-rules`) and runs without
/// its background networking, so the browser too stays on the loopback.
#[tokio::test]
async fn the_demo_form_sends_an_application_from_a_browser() {
    let Some(chromium) = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| crate::helpers::installed(b))
    else {
        eprintln!("SKIPPED demo form: no chromium (.ci/run installs it)");
        return;
    };
    let mut settings = crate::helpers::test_settings(Registries::Sandbox).await;
    let sandbox = settings.sources["egrul"].base_url.clone();
    settings.cors.allowed_origins = vec![sandbox.clone()];
    // The browser's virtual time runs the page's 4 s fill delay at once, so the server's
    // clock would see a form sent too fast: the spam rule is tested on its own above.
    settings.applications.min_fill_s = 0;
    let app = crate::helpers::spawn_app_from(settings).await;
    let page = format!("{sandbox}/demo/form?api={}&autofill=1", app.address);
    let out = tokio::process::Command::new(chromium)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-domain-reliability",
            "--no-first-run",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=15000",
            "--dump-dom",
            &page,
        ])
        .output()
        .await
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains(r#"data-status="received""#),
        "the page shows the receipt:\n{dom}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Value = app.get("/v1/applications").await.json().await.unwrap();
    let a = &listed["items"][0];
    assert_eq!(a["company_name"], "ООО Северный ветер");
    assert_eq!(a["phone"], "+74951234567");
    assert_ne!(a["stage"], "spam", "{a}");
}

#[tokio::test]
async fn with_auto_reject_a_reject_decision_closes_the_application() {
    let app = spawn_app_with(Registries::Sandbox, |s| s.applications.auto_reject = true).await;
    let mut body = form();
    // 7701000040: the sandbox's company in bankruptcy, which the default rules reject.
    body["inn"] = json!("7701000040");
    let view = screened(&app, &body).await;
    let a = &view["application"];
    assert_eq!(
        (a["stage"].as_str(), a["decision"].as_str()),
        (Some("rejected"), Some("reject"))
    );
    assert!(
        a.get("due_at").is_none(),
        "no call is due for a closed application"
    );
}

#[tokio::test]
async fn overdue_lists_only_the_applications_whose_call_is_late() {
    // A first call due at once: late as soon as it is screened.
    let app = spawn_app_with(Registries::Sandbox, |s| {
        round_the_clock(s);
        s.applications.sla.first_contact_s = 0;
    })
    .await;
    let view = screened(&app, &form()).await;
    let id = view["application"]["id"].as_str().unwrap();
    let list = |query: &'static str| {
        let app = &app;
        async move {
            let page: Value = app
                .get(&format!("/v1/applications{query}"))
                .await
                .json()
                .await
                .unwrap();
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list("?overdue=true").await, [id]);
    assert_eq!(list("?overdue=false").await, [id], "false is no filter");
    assert!(
        list("?overdue=true&due_before=2000-01-01T00:00:00Z")
            .await
            .is_empty()
    );
    // Called and reached: nothing is due, so nothing is late.
    let (status, _) = act(
        &app,
        id,
        json!({"action": "call_attempt", "outcome": "reached_interested"}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(list("?overdue=true").await.is_empty());
}

/// Calls that go unanswered `sla.max_unanswered` times: with nobody to escalate to the
/// application is closed as unreachable; with supervisors it stays open and they are told.
/// A held application and a missed call are e-mailed too, and every message sent is a step
/// of the application's timeline.
#[tokio::test]
async fn unanswered_calls_are_capped_and_escalated_and_every_message_is_in_the_timeline() {
    let closing = spawn_app_with(Registries::Sandbox, |s| {
        s.applications.sla.max_unanswered = 2;
    })
    .await;
    let view = screened(&closing, &form()).await;
    let id = view["application"]["id"].as_str().unwrap();
    let no_answer = json!({"action": "call_attempt", "outcome": "no_answer"});
    let (_, a) = act(&closing, id, no_answer.clone()).await;
    assert_eq!(a["stage"], "contacting");
    let (_, a) = act(&closing, id, no_answer.clone()).await;
    assert_eq!(a["stage"], "rejected", "closed as unreachable: {a}");
    let timeline = application(&closing, id).await["timeline"].clone();
    let last = timeline.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["detail"]["closed"], "unreachable", "{timeline}");

    let smtp = crate::smtp::SmtpServer::start().await;
    let app = spawn_app_with(Registries::Sandbox, |s| {
        s.smtp.url = kontragent::config::Secret::new(smtp.url());
        s.smtp.from = "kontragent@example.ru".into();
        s.applications.notify_to = vec!["sales@example.ru".into()];
        s.applications.escalate_to = vec!["boss@example.ru".into()];
        s.applications.sla.max_unanswered = 1;
        s.applications.max_per_ip_per_hour = 1;
        s.applications.sla.tick_ms = 50;
    })
    .await;
    let view = screened(&app, &form()).await;
    let id = view["application"]["id"].as_str().unwrap();
    assert_eq!(smtp.wait_for(1).await.len(), 1);
    let (_, a) = act(&app, id, no_answer).await;
    assert_eq!(a["stage"], "contacting", "escalated, not closed");
    let mail = smtp.wait_for(2).await;
    assert_eq!(mail[1].to, ["boss@example.ru"], "the supervisors alone");
    assert!(
        mail[1]
            .subject()
            .starts_with("Не дозвонились: ООО Северный ветер"),
        "{}",
        mail[1].subject()
    );
    // A second application from the same address within the hour is held, and said so.
    let mut other = form();
    other["phone"] = json!("+7 916 111-22-33");
    let (_, receipt) = submit(&app, &other).await;
    let mail = smtp.wait_for(3).await;
    assert!(
        mail[2].subject().starts_with("Заявка задержана"),
        "{}",
        mail[2].subject()
    );
    let text = mail[2].part("text/plain").unwrap();
    assert!(text.contains("reopen"), "{text}");
    let held = application(&app, receipt["id"].as_str().unwrap()).await;
    assert_eq!(held["application"]["stage"], "held");
    // Each message sent is in its application's timeline.
    let mut steps = Vec::new();
    for _ in 0..100 {
        let view = application(&app, id).await;
        steps = view["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["action"].as_str().unwrap().to_owned(),
                    e["detail"]["message"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect::<Vec<_>>();
        if steps.iter().filter(|(a, _)| a == "email_sent").count() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        steps.contains(&("email_sent".into(), "application_screened".into())),
        "{steps:?}"
    );
    assert!(
        steps.contains(&("email_sent".into(), "application_escalated".into())),
        "{steps:?}"
    );
}
