//! The catalog and the monitoring process through the API: listing rules, browsing,
//! manager actions, quality signals, the event feed, and monitoring end to end.

use crate::helpers::{
    Registries, TestApp, spawn_app, spawn_app_from, spawn_app_with, test_settings,
};
use serde_json::{Value, json};
use std::time::Duration;

async fn post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.client
        .post(format!("{}{path}", app.address))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn get(app: &TestApp, path: &str) -> Value {
    app.get(path).await.json().await.unwrap()
}

async fn code(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

/// An app whose monitoring interval is one second, so listed entries come due quickly.
async fn monitored_app() -> TestApp {
    spawn_app_with(Registries::Sandbox, |s| s.monitoring.interval_s = 1).await
}

async fn events_of(app: &TestApp, inn: &str) -> Vec<String> {
    get(app, &format!("/v1/catalog/{inn}/events")).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn listing_needs_a_fresh_approve_or_an_override() {
    let app = spawn_app_with(Registries::Sandbox, |_| {}).await;
    assert_eq!(
        code(post(&app, "/v1/catalog", json!({"inn": "7701000019"})).await).await,
        (422, "not_checked".into())
    );
    app.check("7701000019").await;
    let r = post(&app, "/v1/catalog", json!({"inn": "7701000019", "region": "Москва", "services": ["грузоперевозки"],
        "contacts": {"phone": "+74950000000"}, "external_ids": {"bitrix24": "1234"}, "actor": "m.petrova"})).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["location"], "/v1/catalog/7701000019");
    let entry: Value = r.json().await.unwrap();
    assert_eq!(
        (entry["status"].as_str(), entry["name"].as_str()),
        (Some("active"), Some("ООО \"СЕВЕРНЫЙ ВЕТЕР\""))
    );
    assert_eq!(
        code(post(&app, "/v1/catalog", json!({"inn": "7701000019"})).await).await,
        (409, "already_listed".into())
    );

    app.check("7701000072").await; // review
    assert_eq!(
        code(post(&app, "/v1/catalog", json!({"inn": "7701000072"})).await).await,
        (422, "not_approved".into())
    );
    let r = post(
        &app,
        "/v1/catalog",
        json!({"inn": "7701000072", "override": {"by": "m.petrova", "reason": "Проверен вручную"}}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let detail = get(&app, "/v1/catalog/7701000072").await;
    assert_eq!(detail["timeline"][0]["actor"], "anonymous (m.petrova)");
    assert!(
        detail["timeline"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("Проверен вручную")
    );
    assert_eq!(detail["latest_check"]["decision"], "review");
    let (s, c) = code(
        post(
            &app,
            "/v1/catalog",
            json!({"inn": "7701000080", "override": {"by": "", "reason": "x"}}),
        )
        .await,
    )
    .await;
    assert_eq!((s, c.as_str()), (422, "invalid_field"));
    assert_eq!(
        code(post(&app, "/v1/catalog", json!({"inn": "770708389"})).await).await,
        (422, "inn_length".into())
    );
}

#[tokio::test]
async fn an_old_approve_is_not_enough() {
    let app = spawn_app_with(Registries::Sandbox, |s| s.catalog.max_decision_age_s = 0).await;
    app.check("7701000019").await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        code(post(&app, "/v1/catalog", json!({"inn": "7701000019"})).await).await,
        (422, "decision_too_old".into())
    );
}

#[tokio::test]
async fn the_catalog_is_filtered_paged_and_has_a_public_view() {
    let app = spawn_app_with(Registries::Sandbox, |_| {}).await;
    for (inn, region) in [
        ("7701000019", "Москва"),
        ("770100000142", "Москва"),
        ("7702000237", "Тверь"),
    ] {
        app.check(inn).await;
        let r = post(
            &app,
            "/v1/catalog",
            json!({"inn": inn, "region": region, "services": ["ремонт"]}),
        )
        .await;
        assert_eq!(r.status(), 201, "{inn}");
    }
    post(
        &app,
        "/v1/catalog/7702000237/status",
        json!({"action": "suspend", "comment": "проверка", "actor": "m"}),
    )
    .await;

    let inns = |page: &Value| -> Vec<String> {
        let mut inns: Vec<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["inn"].as_str().unwrap().to_owned())
            .collect();
        inns.sort();
        inns
    };
    let page = get(&app, "/v1/catalog?limit=2").await;
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let rest = get(&app, &format!("/v1/catalog?limit=2&cursor={cursor}")).await;
    assert!(rest["next_cursor"].is_null());
    let mut both = [inns(&page), inns(&rest)].concat();
    assert_eq!((inns(&page).len(), inns(&rest).len()), (2, 1));
    both.sort();
    assert_eq!(
        both,
        ["770100000142", "7701000019", "7702000237"],
        "every entry once across the pages"
    );

    let moscow = get(
        &app,
        "/v1/catalog?region=%D0%9C%D0%BE%D1%81%D0%BA%D0%B2%D0%B0",
    )
    .await;
    assert_eq!(inns(&moscow), ["770100000142", "7701000019"]);
    let found = get(
        &app,
        "/v1/catalog?text=%D1%81%D0%B5%D0%B2%D0%B5%D1%80%D0%BD",
    )
    .await; // "северн"
    assert_eq!(found["items"][0]["inn"], "7701000019");
    let suspended = get(&app, "/v1/catalog?status=suspended").await;
    assert_eq!(suspended["items"][0]["inn"], "7702000237");

    let public = get(&app, "/v1/catalog?view=public").await;
    let items = public["items"].as_array().unwrap();
    assert_eq!(
        inns(&public),
        ["770100000142", "7701000019"],
        "only active entries"
    );
    assert!(
        items
            .iter()
            .all(|i| i.get("contacts").is_none() && i.get("status").is_none())
    );
    assert_eq!(
        code(app.get("/v1/catalog?status=gone").await).await,
        (400, "invalid_query".into())
    );
    assert_eq!(
        code(app.get("/v1/catalog?limit=0").await).await,
        (400, "invalid_query".into())
    );
}

#[tokio::test]
async fn managers_move_entries_and_every_move_is_recorded() {
    let app = spawn_app_with(Registries::Sandbox, |_| {}).await;
    app.check("7701000019").await;
    post(&app, "/v1/catalog", json!({"inn": "7701000019"})).await;
    let say = |action: &str| json!({"action": action, "comment": "причина", "actor": "m.petrova"});
    let (s, c) = code(post(&app, "/v1/catalog/7701000019/status", say("reinstate")).await).await;
    assert_eq!((s, c.as_str()), (409, "invalid_transition"));
    let (s, c) = code(
        post(
            &app,
            "/v1/catalog/7701000019/status",
            json!({"action": "suspend", "comment": " ", "actor": "m"}),
        )
        .await,
    )
    .await;
    assert_eq!((s, c.as_str()), (422, "invalid_field"));
    for (action, status) in [
        ("suspend", "suspended"),
        ("reinstate", "active"),
        ("review", "under_review"),
        ("remove", "removed"),
    ] {
        let r = post(&app, "/v1/catalog/7701000019/status", say(action)).await;
        assert_eq!(r.status(), 200, "{action}");
        assert_eq!(r.json::<Value>().await.unwrap()["status"], status);
    }
    let detail = get(&app, "/v1/catalog/7701000019").await;
    let timeline: Vec<&str> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["to"].as_str().unwrap())
        .collect();
    assert_eq!(
        timeline,
        ["active", "suspended", "active", "under_review", "removed"]
    );
    assert_eq!(
        events_of(&app, "7701000019").await,
        [
            "listed",
            "status_changed",
            "status_changed",
            "status_changed",
            "status_changed"
        ]
    );
    assert_eq!(
        code(app.get("/v1/catalog/7707083893").await).await,
        (404, "not_found".into())
    );
}

#[tokio::test]
async fn feedback_is_validated_and_deduplicated() {
    let app = spawn_app_with(Registries::Sandbox, |_| {}).await;
    app.check("7701000019").await;
    post(&app, "/v1/catalog", json!({"inn": "7701000019"})).await;
    let path = "/v1/catalog/7701000019/feedback";
    for bad in [
        json!({"kind": "review", "rating": 6}),
        json!({"kind": "review"}),
        json!({"kind": "praise"}),
        json!({"kind": "complaint"}),
        json!({"kind": "job_completed"}),
        json!({"kind": "complaint", "rating": 3, "text": "x"}),
        json!({"kind": "complaint", "text": "x".repeat(5000)}),
    ] {
        assert_eq!(
            code(post(&app, path, bad.clone()).await).await,
            (422, "invalid_field".into()),
            "{bad}"
        );
    }
    let review = json!({"kind": "review", "rating": 4, "text": "Хорошо", "external_id": "r-1"});
    assert_eq!(post(&app, path, review.clone()).await.status(), 201);
    let again = post(&app, path, review).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap()["duplicate"], true);
    assert_eq!(
        post(
            &app,
            path,
            json!({"kind": "job_completed", "on_time": false})
        )
        .await
        .status(),
        201
    );
    assert_eq!(
        code(
            post(
                &app,
                "/v1/catalog/7707083893/feedback",
                json!({"kind": "sla_breach"})
            )
            .await
        )
        .await,
        (404, "not_found".into())
    );
    assert_eq!(
        events_of(&app, "7701000019").await,
        ["listed", "feedback", "feedback"]
    );
}

#[tokio::test]
async fn monitoring_suspends_a_contractor_that_goes_bankrupt() {
    let app = monitored_app().await;
    let first = app.check("7702000332").await;
    assert_eq!(first["decision"], "approve");
    assert_eq!(
        post(&app, "/v1/catalog", json!({"inn": "7702000332"}))
            .await
            .status(),
        201
    );
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let report: Value = post(&app, "/v1/monitoring/run", json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            report["checked"].as_u64(),
            report["transitions"].as_u64(),
            report["failed"].as_u64()
        ),
        (Some(1), Some(1), Some(0))
    );
    let detail = get(&app, "/v1/catalog/7702000332").await;
    assert_eq!(detail["entry"]["status"], "suspended");
    assert_eq!(detail["latest_check"]["decision"], "reject");
    let last = detail["timeline"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["actor"], "monitoring");
    assert_eq!(
        last["rule_ids"],
        json!(["decision_reject", "bankruptcy_started"])
    );
    // The causes come before the status change they caused.
    let kinds = events_of(&app, "7702000332").await;
    assert_eq!(
        kinds,
        [
            "listed",
            "decision_changed",
            "company_status_changed",
            "bankruptcy_opened",
            "status_changed"
        ]
    );
    // Nothing is due again until the next interval.
    let again: Value = post(&app, "/v1/monitoring/run", json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["checked"], 0);
}

#[tokio::test]
async fn complaints_put_a_contractor_under_review() {
    let app = monitored_app().await;
    app.check("7701000019").await;
    post(&app, "/v1/catalog", json!({"inn": "7701000019"})).await;
    for i in 0..3 {
        let r = post(
            &app,
            "/v1/catalog/7701000019/feedback",
            json!({"kind": "complaint", "category": "delay", "external_id": format!("c-{i}")}),
        )
        .await;
        assert_eq!(r.status(), 201);
        // Judged as it arrives: the third complaint moves it, no re-check needed.
        let status = get(&app, "/v1/catalog/7701000019").await["entry"]["status"].clone();
        assert_eq!(
            status,
            if i < 2 { "active" } else { "under_review" },
            "after complaint {i}"
        );
    }
    let detail = get(&app, "/v1/catalog/7701000019").await;
    assert_eq!(detail["entry"]["status"], "under_review");
    let last = detail["timeline"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["rule_ids"], json!(["complaints"]));
    assert_eq!(last["reason"], "Жалоб за период инцидентов: 3");
}

#[tokio::test]
async fn a_low_average_rating_puts_a_contractor_under_review() {
    let app = monitored_app().await;
    app.check("7701000019").await;
    post(&app, "/v1/catalog", json!({"inn": "7701000019"})).await;
    for (i, rating) in [5, 3, 3, 2, 3].into_iter().enumerate() {
        post(
            &app,
            "/v1/catalog/7701000019/feedback",
            json!({"kind": "review", "rating": rating, "external_id": format!("r-{i}")}),
        )
        .await;
    }
    let detail = get(&app, "/v1/catalog/7701000019").await;
    assert_eq!(detail["entry"]["status"], "under_review");
    assert_eq!(
        detail["timeline"].as_array().unwrap().last().unwrap()["rule_ids"],
        json!(["low_rating"])
    );
}

#[tokio::test]
async fn two_instances_share_the_work_and_check_each_contractor_once() {
    let mut settings = test_settings(Registries::Sandbox).await;
    // Long enough that a run under load ends before its first contractors are due again.
    settings.monitoring.interval_s = 4;
    settings.monitoring.batch = 3;
    let a = spawn_app_from(settings.clone()).await;
    let b = spawn_app_from(settings).await;
    let inns: Vec<String> = (0..24)
        .map(|i| {
            kontragent::domain::Inn::complete(&format!("7704{i:05}"))
                .unwrap()
                .to_string()
        })
        .collect();
    for inn in &inns {
        let r = post(&a, "/v1/catalog", json!({"inn": inn, "name": format!("ООО {inn}"), "override": {"by": "test", "reason": "bulk"}})).await;
        assert_eq!(r.status(), 201);
    }
    tokio::time::sleep(Duration::from_millis(4_100)).await;
    let (ra, rb) = tokio::join!(
        post(&a, "/v1/monitoring/run", json!({})),
        post(&b, "/v1/monitoring/run", json!({}))
    );
    let (ra, rb): (Value, Value) = (ra.json().await.unwrap(), rb.json().await.unwrap());
    let checked = ra["checked"].as_u64().unwrap() + rb["checked"].as_u64().unwrap();
    assert_eq!(checked, 24, "{ra} {rb}");
    assert_eq!(
        ra["failed"].as_u64().unwrap() + rb["failed"].as_u64().unwrap(),
        0
    );
    // Each contractor got exactly one new check (its last_check_id) and none is due now.
    for inn in &inns {
        let entry = get(&a, &format!("/v1/catalog/{inn}")).await;
        assert!(entry["entry"]["last_check_id"].is_string(), "{inn}");
    }
    let again: Value = post(&b, "/v1/monitoring/run", json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["checked"], 0);
}

#[tokio::test]
async fn the_event_feed_pages_in_order_with_a_stable_cursor() {
    let app = spawn_app_with(Registries::Sandbox, |_| {}).await;
    for inn in ["7701000019", "770100000142"] {
        app.check(inn).await;
        post(&app, "/v1/catalog", json!({"inn": inn})).await;
    }
    post(
        &app,
        "/v1/catalog/7701000019/feedback",
        json!({"kind": "sla_breach", "text": "не перезвонили"}),
    )
    .await;
    let first = get(&app, "/v1/events?limit=2").await;
    let items = first["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items[0]["seq"].as_i64() < items[1]["seq"].as_i64());
    let next = get(&app, &format!("/v1/events?after={}", first["next_cursor"])).await;
    let rest = next["items"].as_array().unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["kind"], "feedback");
    let empty = get(&app, &format!("/v1/events?after={}", next["next_cursor"])).await;
    assert!(empty["items"].as_array().unwrap().is_empty());
    assert_eq!(empty["next_cursor"], next["next_cursor"]);
}

#[tokio::test]
async fn a_source_failing_longer_than_the_threshold_is_reported_once() {
    let app = spawn_app_with(Registries::Sandbox, |s| {
        s.monitoring.interval_s = 1;
        s.monitoring.unavailable_alert_s = 1;
    })
    .await;
    app.check("7702000290").await; // kad refuses the cookie (451): approve, with a visible reason
    assert_eq!(
        post(&app, "/v1/catalog", json!({"inn": "7702000290"}))
            .await
            .status(),
        201
    );
    let mut seen = Vec::new();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        post(&app, "/v1/monitoring/run", json!({})).await;
        seen.push(
            events_of(&app, "7702000290")
                .await
                .iter()
                .filter(|k| *k == "source_unavailable")
                .count(),
        );
    }
    // First pass: kad starts failing (not yet a second); second: over the threshold, reported;
    // third: the same stretch, not reported again.
    assert_eq!(seen, [0, 1, 1]);
    let entry = get(&app, "/v1/catalog/7702000290").await;
    assert_eq!(
        entry["entry"]["sources_unavailable"]["kad"]["reported"],
        true
    );
}

#[tokio::test]
async fn a_monitoring_run_goes_on_in_the_background_and_is_observed_by_its_id() {
    let app = crate::helpers::spawn_app().await;
    let r = app
        .client
        .post(format!("{}/v1/monitoring/run?wait_ms=0", app.address))
        .send()
        .await
        .unwrap();
    // Nothing is due, but with no time to wait the answer is 202 whenever the run has
    // not ended at once; either way the run can be read back by its id.
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    let started: serde_json::Value = r.json().await.unwrap();
    assert!(status == 202 || status == 200, "{status}");
    if status == 202 {
        assert_eq!(
            location.as_deref(),
            Some(format!("/v1/monitoring/runs/{}", started["id"].as_str().unwrap()).as_str())
        );
    }
    let path = format!("/v1/monitoring/runs/{}", started["id"].as_str().unwrap());
    let mut run = serde_json::json!(null);
    for _ in 0..100 {
        run = app.get(&path).await.json().await.unwrap();
        if run["state"] == "done" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(run["state"], "done", "{run}");
    assert_eq!(run["checked"], 0, "{run}");
    assert!(run["finished_at"].is_string());
    assert_eq!(
        app.get("/v1/monitoring/runs/00000000-0000-0000-0000-000000000000")
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn events_name_their_contractor_and_filter_by_type_and_inn() {
    let app = spawn_app().await;
    for (inn, bitrix) in [("7701000019", "101"), ("770100000142", "102")] {
        app.check(inn).await;
        let r = post(
            &app,
            "/v1/catalog",
            json!({"inn": inn, "name": format!("Подрядчик {bitrix}"), "external_ids": {"bitrix24": bitrix}}),
        )
        .await;
        assert_eq!(r.status(), 201);
    }
    // `comment`, the status actions' name for free text, is accepted for feedback too.
    let r = post(
        &app,
        "/v1/catalog/7701000019/feedback",
        json!({"kind": "complaint", "comment": "опоздали"}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let all = get(&app, "/v1/events").await;
    let first = &all["items"][0];
    assert_eq!(first["type"], "catalog.listed");
    assert_eq!(first["name"], "Подрядчик 101");
    assert_eq!(first["external_ids"], json!({"bitrix24": "101"}));

    let types = |page: &Value| -> Vec<(String, String)> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["type"].as_str().unwrap().to_owned(),
                    e["inn"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(
        types(&get(&app, "/v1/events?type=catalog.*").await),
        [
            ("catalog.listed".to_owned(), "7701000019".to_owned()),
            ("catalog.listed".to_owned(), "770100000142".to_owned())
        ]
    );
    assert_eq!(
        types(&get(&app, "/v1/events?type=feedback.recorded").await),
        [("feedback.recorded".to_owned(), "7701000019".to_owned())]
    );
    assert_eq!(
        types(&get(&app, "/v1/events?inn=770100000142").await),
        [("catalog.listed".to_owned(), "770100000142".to_owned())]
    );
    assert_eq!(
        code(app.get("/v1/events?type=catalog.nope").await).await,
        (400, "invalid_query".into())
    );
    assert_eq!(
        code(app.get("/v1/events?inn=123").await).await,
        (400, "invalid_query".into())
    );
}

#[tokio::test]
async fn a_recheck_runs_the_monitoring_pass_of_one_contractor_now() {
    // Not due for a day: only the recheck runs its pass. Scheduled passes would reuse
    // answers up to an hour old; a recheck reuses none.
    let app = spawn_app_with(Registries::Sandbox, |s| s.monitoring.max_age_s = 3600).await;
    let first = app.check("7702000332").await;
    assert_eq!(first["decision"], "approve");
    assert_eq!(
        post(&app, "/v1/catalog", json!({"inn": "7702000332"}))
            .await
            .status(),
        201
    );
    let r = post(&app, "/v1/catalog/7702000332/recheck", json!({})).await;
    assert_eq!(r.status(), 200);
    let pass: Value = r.json().await.unwrap();
    // Fresh: every registry asked again, none of the first check's answers reused.
    for (name, source) in first["sources"].as_object().unwrap() {
        assert_ne!(
            pass["check"]["sources"][name]["fetched_at"], source["fetched_at"],
            "{name} was reused"
        );
    }
    assert_eq!(pass["check"]["decision"], "reject");
    assert_eq!(
        (pass["events"].as_u64(), pass["transitions"].as_u64()),
        (Some(3), Some(1))
    );
    let detail = get(&app, "/v1/catalog/7702000332").await;
    assert_eq!(detail["entry"]["status"], "suspended");
    assert_eq!(detail["latest_check"]["id"], pass["check"]["id"]);

    assert_eq!(
        code(post(&app, "/v1/catalog/7701000019/recheck", json!({})).await).await,
        (404, "not_found".into())
    );
    post(
        &app,
        "/v1/catalog/7702000332/status",
        json!({"action": "remove", "comment": "банкрот", "actor": "m"}),
    )
    .await;
    assert_eq!(
        code(post(&app, "/v1/catalog/7702000332/recheck", json!({})).await).await,
        (409, "conflict".into())
    );
}

/// A check of a listed contractor however it was asked — here a manager's own fresh check —
/// moves its entry by the monitoring policy at once, not at the next scheduled pass.
#[tokio::test]
async fn a_managers_fresh_check_that_rejects_a_listed_contractor_suspends_it_at_once() {
    let app = spawn_app_with(Registries::Sandbox, |s| s.monitoring.max_age_s = 3600).await;
    assert_eq!(app.check("7702000332").await["decision"], "approve");
    assert_eq!(
        post(&app, "/v1/catalog", json!({"inn": "7702000332"}))
            .await
            .status(),
        201
    );
    let r = post(
        &app,
        "/v1/checks",
        json!({"inn": "7702000332", "max_age_s": 0}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let check: Value = r.json().await.unwrap();
    assert_eq!(check["decision"], "reject");
    // By the time the answer is read, the entry has moved.
    let detail = get(&app, "/v1/catalog/7702000332").await;
    assert_eq!(detail["entry"]["status"], "suspended", "{detail:#}");
    assert_eq!(detail["latest_check"]["id"], check["id"]);
    let last = detail["timeline"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["actor"], "monitoring");
    assert_eq!(
        events_of(&app, "7702000332").await,
        [
            "listed",
            "decision_changed",
            "company_status_changed",
            "bankruptcy_opened",
            "status_changed"
        ]
    );
    // The same check read again moves nothing more; a company not listed is left alone.
    assert_eq!(app.check("7702000332").await["decision"], "reject");
    assert_eq!(events_of(&app, "7702000332").await.len(), 5);
    assert_eq!(app.check("7701000040").await["decision"], "reject");
    assert_eq!(
        code(app.get("/v1/catalog/7701000040").await).await,
        (404, "not_found".into())
    );
}

#[tokio::test]
async fn the_text_filter_takes_percent_and_underscore_literally() {
    let app = spawn_app_with(Registries::Sandbox, |_| {}).await;
    for (inn, service) in [("7701000019", "скидка 100%"), ("7707083893", "1000 штук")] {
        app.check(inn).await;
        let r = post(
            &app,
            "/v1/catalog",
            json!({"inn": inn, "services": [service]}),
        )
        .await;
        assert_eq!(r.status(), 201, "{inn}");
    }
    let inns = |page: Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["inn"].as_str().unwrap().to_owned())
            .collect()
    };
    // "100%" is the text 100%, not "100 and anything".
    assert_eq!(
        inns(get(&app, "/v1/catalog?text=100%25").await),
        ["7701000019"]
    );
    // "_" is an underscore, which no entry has; "1_00" is not "1000".
    assert!(inns(get(&app, "/v1/catalog?text=_").await).is_empty());
    assert!(inns(get(&app, "/v1/catalog?text=1_00").await).is_empty());
    assert_eq!(inns(get(&app, "/v1/catalog?text=100").await).len(), 2);
}
