//! Keys with scopes: every route × {no key, revoked key, wrong scope, right scope}, the
//! open mode and its limits, revocation on a running server, the actor of writes and the
//! audit trail, rate limits and CORS.

use crate::helpers::{Registries, TestApp, spawn_app_from, test_settings};
use kontragent::api::routes::{Access, Audit};
use kontragent::auth::KeyService;
use kontragent::config::Settings;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

const DEFAULT_RULES: &str = include_str!("../../rules/default.toml");

/// A running app and a key per name; the keys were made before it started.
struct Keyed {
    app: TestApp,
    keys: BTreeMap<&'static str, String>,
    service: KeyService,
}

async fn keyed_app(
    keys: &[(&'static str, &str)],
    revoke: &[&str],
    tweak: impl FnOnce(&mut Settings),
) -> Keyed {
    let mut settings = test_settings(Registries::Sandbox).await;
    tweak(&mut settings);
    let store = kontragent::storage::connect(&settings.database.url, 1)
        .await
        .unwrap();
    let service = KeyService::new(store, &settings.auth);
    let mut made = BTreeMap::new();
    for (name, scopes) in keys {
        let (_, secret) = service.create(name, scopes).await.unwrap();
        made.insert(*name, secret);
    }
    for name in revoke {
        service.revoke(name).await.unwrap();
    }
    Keyed {
        app: spawn_app_from(settings).await,
        keys: made,
        service,
    }
}

async fn call(app: &TestApp, method: &str, path: &str, key: Option<&str>, body: &Value) -> u16 {
    let url = format!("{}{path}", app.address);
    let mut request = match method {
        "GET" => app.client.get(url),
        "PATCH" => app.client.patch(url),
        "DELETE" => app.client.delete(url),
        _ => app.client.post(url),
    };
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    request = match body {
        Value::Null => request,
        Value::String(text) => request
            .header("content-type", "text/plain")
            .body(text.clone()),
        json => request.json(json),
    };
    request.send().await.unwrap().status().as_u16()
}

/// GETs `path` every 200 ms until it answers `wanted` (at most 10 s); the last status.
async fn status_within_10s(app: &TestApp, path: &str, key: Option<&str>, wanted: u16) -> u16 {
    let mut status = 0;
    for _ in 0..50 {
        status = call(app, "GET", path, key, &Value::Null).await;
        if status == wanted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    status
}

fn application_form() -> Value {
    json!({"inn": "7701000019", "company_name": "ООО Ромашка", "contact_name": "Иван",
           "phone": "+7 495 123-45-67", "email": "ivan@example.ru",
           "form_started_at": (chrono::Utc::now() - chrono::Duration::seconds(60)).to_rfc3339()})
}

/// Every operation of the spec with a body that succeeds, in an order where each finds
/// what it needs (the check before its id, the listing before the status change).
fn operations(
    check_id: &str,
    run_id: &str,
    batch_id: &str,
    webhook_id: &str,
    delivery_id: &str,
    application_id: &str,
) -> Vec<(&'static str, String, Value, u16)> {
    vec![
        (
            "POST",
            "/v1/checks".into(),
            json!({"inn": "7701000019"}),
            200,
        ),
        ("GET", format!("/v1/checks/{check_id}"), Value::Null, 200),
        (
            "GET",
            "/v1/counterparties/7701000019".into(),
            Value::Null,
            200,
        ),
        ("GET", "/v1/rules".into(), Value::Null, 200),
        ("GET", "/v1/rules/versions".into(), Value::Null, 200),
        (
            "GET",
            format!(
                "/v1/rules/versions/{}",
                kontragent::rules::version_of(
                    &std::fs::read_to_string(concat!(
                        env!("CARGO_MANIFEST_DIR"),
                        "/rules/default.toml"
                    ))
                    .unwrap()
                )
            ),
            Value::Null,
            200,
        ),
        ("POST", "/v1/rules/reload".into(), Value::Null, 200),
        (
            "POST",
            "/v1/rules/dry-run/monitoring".into(),
            Value::String(include_str!("../../rules/monitoring.toml").into()),
            200,
        ),
        (
            "GET",
            format!(
                "/v1/rules/diff?from={}",
                kontragent::rules::version_of(DEFAULT_RULES)
            ),
            Value::Null,
            200,
        ),
        (
            "POST",
            "/v1/rules/rollback".into(),
            json!({"version": kontragent::rules::version_of(DEFAULT_RULES)}),
            200,
        ),
        (
            "POST",
            "/v1/rules/validate".into(),
            Value::String(DEFAULT_RULES.into()),
            200,
        ),
        (
            "POST",
            "/v1/rules/explain?inn=7701000019".into(),
            Value::String(String::new()),
            200,
        ),
        (
            "POST",
            "/v1/rules/dry-run".into(),
            json!({"ruleset": DEFAULT_RULES}),
            200,
        ),
        (
            "POST",
            "/v1/catalog".into(),
            json!({"inn": "7701000019"}),
            201,
        ),
        ("GET", "/v1/catalog".into(), Value::Null, 200),
        ("GET", "/v1/catalog/7701000019".into(), Value::Null, 200),
        (
            "POST",
            "/v1/catalog/7701000019/status".into(),
            json!({"action": "review", "comment": "проверка"}),
            200,
        ),
        (
            "POST",
            "/v1/catalog/7701000019/feedback".into(),
            json!({"kind": "complaint", "text": "опоздали"}),
            201,
        ),
        (
            "POST",
            "/v1/catalog/7701000019/recheck".into(),
            Value::Null,
            200,
        ),
        (
            "GET",
            "/v1/catalog/7701000019/events".into(),
            Value::Null,
            200,
        ),
        ("GET", "/v1/events".into(), Value::Null, 200),
        ("POST", "/v1/monitoring/run".into(), Value::Null, 200),
        (
            "GET",
            format!("/v1/monitoring/runs/{run_id}"),
            Value::Null,
            200,
        ),
        ("GET", "/v1/audit".into(), Value::Null, 200),
        ("GET", "/v1/sources/health".into(), Value::Null, 200),
        (
            "GET",
            format!("/v1/checks/{check_id}/callbacks"),
            Value::Null,
            200,
        ),
        (
            "POST",
            "/v1/checks/batch".into(),
            json!({"inns": ["7701000019"]}),
            200,
        ),
        ("GET", format!("/v1/batches/{batch_id}"), Value::Null, 200),
        ("GET", "/v1/checks?inn=7701000019".into(), Value::Null, 200),
        (
            "GET",
            format!("/v1/checks/{check_id}/report"),
            Value::Null,
            200,
        ),
        (
            "GET",
            format!("/v1/checks/{check_id}/evidence"),
            Value::Null,
            200,
        ),
        (
            "GET",
            "/v1/counterparties/7701000019/report".into(),
            Value::Null,
            200,
        ),
        (
            "POST",
            "/v1/webhooks".into(),
            json!({"url": "http://crm.test/hook", "events": ["catalog.*"]}),
            201,
        ),
        ("GET", "/v1/webhooks".into(), Value::Null, 200),
        (
            "GET",
            format!("/v1/webhooks/{webhook_id}"),
            Value::Null,
            200,
        ),
        (
            "PATCH",
            format!("/v1/webhooks/{webhook_id}"),
            json!({"state": "paused"}),
            200,
        ),
        (
            "POST",
            format!("/v1/webhooks/{webhook_id}/rotate-secret"),
            Value::Null,
            200,
        ),
        (
            "POST",
            format!("/v1/webhooks/{webhook_id}/test"),
            Value::Null,
            202,
        ),
        (
            "GET",
            format!("/v1/webhooks/{webhook_id}/deliveries"),
            Value::Null,
            200,
        ),
        // Still pending (the guard refuses crm.test's loopback address, so it waits for
        // its next attempt): past the guard, the service says why it will not retry now.
        (
            "POST",
            format!("/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry"),
            Value::Null,
            422,
        ),
        (
            "DELETE",
            format!("/v1/webhooks/{webhook_id}"),
            Value::Null,
            204,
        ),
        ("GET", "/v1/public/catalog".into(), Value::Null, 200),
        (
            "POST",
            "/v1/public/applications".into(),
            application_form(),
            201,
        ),
        ("GET", "/v1/applications".into(), Value::Null, 200),
        (
            "GET",
            format!("/v1/applications/{application_id}"),
            Value::Null,
            200,
        ),
        (
            "POST",
            format!("/v1/applications/{application_id}/actions"),
            json!({"action": "reject", "reason": "проверка доступа"}),
            200,
        ),
        ("GET", "/metrics".into(), Value::Null, 200),
    ]
}

#[tokio::test]
async fn every_route_answers_401_401_403_and_success_by_key_and_scope() {
    let scopes: Vec<&str> = kontragent::auth::Scope::ALL
        .iter()
        .map(|s| s.as_str())
        .collect();
    let keys: Vec<(&'static str, &str)> = scopes
        .iter()
        .map(|s| {
            (
                Box::leak(s.to_string().into_boxed_str()) as &'static str,
                *s,
            )
        })
        .chain([("revoked", "admin")])
        .collect();
    let k = keyed_app(&keys, &["revoked"], |_| {}).await;
    let check_id = {
        let r = k
            .app
            .client
            .post(format!("{}/v1/checks", k.app.address))
            .header("x-api-key", &k.keys["admin"])
            .json(&json!({"inn": "7701000019"}))
            .send()
            .await
            .unwrap();
        r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let run_id = {
        let r = k
            .app
            .client
            .post(format!("{}/v1/monitoring/run", k.app.address))
            .header("x-api-key", &k.keys["admin"])
            .send()
            .await
            .unwrap();
        r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let batch_id = {
        let r = k
            .app
            .client
            .post(format!("{}/v1/checks/batch", k.app.address))
            .header("x-api-key", &k.keys["admin"])
            .json(&json!({"inns": ["7701000019"]}))
            .send()
            .await
            .unwrap();
        r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let admin = |method: reqwest::Method, path: &str| {
        k.app
            .client
            .request(method, format!("{}{path}", k.app.address))
            .header("x-api-key", &k.keys["admin"])
    };
    let webhook: Value = admin(reqwest::Method::POST, "/v1/webhooks")
        .json(&json!({"url": "http://crm.test/hook", "events": ["*"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let webhook_id = webhook["webhook"]["id"].as_str().unwrap().to_owned();
    let delivery: Value = admin(
        reqwest::Method::POST,
        &format!("/v1/webhooks/{webhook_id}/test"),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let delivery_id = delivery["id"].as_str().unwrap().to_owned();
    let application: Value = admin(reqwest::Method::POST, "/v1/public/applications")
        .json(&application_form())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let application_id = application["id"].as_str().unwrap().to_owned();
    let ops = operations(
        &check_id,
        &run_id,
        &batch_id,
        &webhook_id,
        &delivery_id,
        &application_id,
    );
    // Every documented operation is in the table, with the scope the guard asks for.
    for (method, path) in kontragent::api::operations(&kontragent::api::openapi()) {
        let declared = kontragent::api::routes::find(method, &path);
        assert!(
            declared.is_some(),
            "{method} {path} has no line in api::routes"
        );
        if declared.is_some_and(|r| matches!(r.access, Access::Key(_) | Access::KeyOrLink(_))) {
            let template = ResourceTemplate(&path);
            assert!(
                ops.iter()
                    .any(|(m, p, _, _)| *m == method && template.matches(p)),
                "{method} {path} is not exercised by this test"
            );
        }
    }
    for (method, path, body, success) in &ops {
        let needed = protected_scope(method, path);
        let wrong = if needed == kontragent::auth::Scope::Public {
            "checks"
        } else {
            "public"
        };
        let cases = [
            (None, 401),
            (Some(k.keys["revoked"].as_str()), 401),
            (Some(k.keys[wrong].as_str()), 403),
            (Some(k.keys[needed.as_str()].as_str()), *success),
        ];
        let route = kontragent::api::routes::ROUTES
            .iter()
            .find(|r| r.method == *method && ResourceTemplate(r.pattern).matches(path))
            .unwrap_or_else(|| panic!("{method} {path}: no route"));
        for (key, expected) in cases {
            let before = audit_len(&k).await;
            let got = call(&k.app, method, path, key, body).await;
            // A write (or a read of personal data) that succeeded leaves one entry with the
            // key's name; a refused call, a read, or a check (its own record) leaves none.
            let wrote = audit_len(&k).await - before;
            let audited = (200..300).contains(&got) && route.audit == Audit::Entry;
            assert_eq!(
                wrote,
                usize::from(audited),
                "{method} {path} answered {got}: audit entries added"
            );
            if audited {
                let last = last_audit(&k).await;
                assert_eq!(
                    last["actor"],
                    if route.access == Access::Integration {
                        "bitrix24"
                    } else {
                        needed.as_str()
                    },
                    "{method} {path}: {last}"
                );
            }
            assert_eq!(
                got,
                expected,
                "{method} {path} with {}",
                match key {
                    None => "no key".to_owned(),
                    Some(k) if k.len() > 10 => format!("key …{}", &k[k.len() - 4..]),
                    Some(_) => "a key".to_owned(),
                }
            );
        }
        // `admin` may do everything (GETs are repeatable; writes were done above).
        if *method == "GET" {
            let got = call(&k.app, method, path, Some(&k.keys["admin"]), body).await;
            assert_eq!(got, *success, "{method} {path} with admin");
        }
    }
    // Every other spelling of each path reaches the same guard: no key, a revoked key or an
    // unrelated scope never gets a 2xx, and nothing answers 5xx.
    let mut tried = 0;
    for (method, path, body, _) in &ops {
        let needed = protected_scope(method, path);
        let wrong = if needed == kontragent::auth::Scope::Public {
            "checks"
        } else {
            "public"
        };
        for variant in spellings(path) {
            for key in [
                None,
                Some(k.keys["revoked"].as_str()),
                Some(k.keys[wrong].as_str()),
            ] {
                let (status, content_type) = raw_call(&k.app, method, &variant, key, body).await;
                tried += 1;
                assert!(
                    !(200..300).contains(&status) && status < 500,
                    "{method} {variant} answered {status} with {}",
                    if key.is_none() { "no key" } else { "a key" }
                );
                assert!(
                    content_type.starts_with("application/problem+json"),
                    "{method} {variant}: {status} {content_type}"
                );
            }
        }
    }
    assert!(tried > 1000, "{tried}");
    // And the right key is served on any spelling (HEAD as GET, without a body).
    for (method, path, key, want) in [
        ("GET", "/%761/audit", "admin", 200),
        ("GET", "/%6detrics", "metrics", 200),
        ("GET", "//v1/./catalog", "catalog:read", 200),
        ("HEAD", "/v1/audit", "admin", 200),
        ("GET", "/v1/checks/batch", "admin", 405),
    ] {
        let (status, _) = raw_call(&k.app, method, path, Some(&k.keys[key]), &Value::Null).await;
        assert_eq!(status, want, "{method} {path}");
    }
    // The open routes take no key: their own check answers (a portal's tokens).
    for route in kontragent::api::routes::ROUTES
        .iter()
        .filter(|r| r.access == Access::Integration)
    {
        let (method, path) = (route.method, route.pattern.replace("{token}", "unknown"));
        assert_eq!(method, "POST");
        let r = k
            .app
            .client
            .post(format!("{}{path}", k.app.address))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("auth[member_id]=unknown&auth[application_token]=x&event_token=t")
            .send()
            .await
            .unwrap();
        let problem: Value = r.json().await.unwrap();
        assert_ne!(
            problem["code"], "unauthorized",
            "{path}: the guard asked for a key"
        );
        assert!(
            [
                "bitrix24_unauthorized",
                "bitrix24_not_configured",
                "amocrm_unauthorized",
                "invalid_field"
            ]
            .contains(&problem["code"].as_str().unwrap()),
            "{path}: {problem}"
        );
    }
    // Health, docs and the spec stay open for probes and people.
    for open in ["/healthz", "/readyz", "/openapi.json"] {
        assert_eq!(k.app.get(open).await.status(), 200, "{open}");
    }
}

/// Other spellings of one path: its first letters percent-encoded (either case), `//`,
/// `/./`, `/x/../` and a trailing slash.
fn spellings(path: &str) -> Vec<String> {
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p, format!("?{q}")),
        None => (path, String::new()),
    };
    let encode = |c: char, upper: bool| {
        if upper {
            format!("%{:02X}", c as u32)
        } else {
            format!("%{:02x}", c as u32)
        }
    };
    let chars: Vec<char> = path[1..].chars().collect();
    let rest: String = chars[2..].iter().collect();
    let mut out = vec![
        format!("/{}{}{query}", encode(chars[0], false), &path[2..]),
        format!("/{}{}{query}", encode(chars[0], true), &path[2..]),
        format!("/{}{}{rest}{query}", chars[0], encode(chars[1], true)),
        format!(
            "/{}{}{rest}{query}",
            encode(chars[0], true),
            encode(chars[1], false)
        ),
        format!("/{path}{query}"),
        format!("/.{path}{query}"),
        format!("/x/..{path}{query}"),
        format!("{path}/{query}"),
    ];
    if let Some((first, tail)) = path[1..].split_once('/') {
        out.push(format!("/{first}//{tail}{query}"));
        out.push(format!("/{first}/./{tail}{query}"));
        out.push(format!("/{first}/%2e/{tail}{query}"));
    }
    out
}

/// One request written on a socket as given (no client library normalises its path): the
/// status and the content type.
async fn raw_call(
    app: &TestApp,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: &Value,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let (content_type, body) = match body {
        Value::Null => ("application/json", String::new()),
        Value::String(text) => ("text/plain", text.clone()),
        json => ("application/json", json.to_string()),
    };
    let key = key.map_or(String::new(), |k| format!("x-api-key: {k}\r\n"));
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n{key}\
         content-type: {content_type}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let content_type = answer
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_default();
    if method == "HEAD" {
        assert!(
            answer.ends_with("\r\n\r\n"),
            "a HEAD answer has no body: {answer}"
        );
    }
    (status, content_type)
}

/// The scope the route of a concrete path needs.
fn protected_scope(method: &str, path: &str) -> kontragent::auth::Scope {
    kontragent::api::routes::ROUTES
        .iter()
        .filter(|r| r.method == method && ResourceTemplate(r.pattern).matches(path))
        .find_map(|r| match r.access {
            Access::Key(scope) | Access::KeyOrLink(scope) => Some(scope),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{method} {path}: no protected route"))
}

/// The audit trail's entries, oldest first (the tests write fewer than a page).
async fn audit_items(k: &Keyed) -> Vec<Value> {
    let page: Value = k
        .app
        .client
        .get(format!("{}/v1/audit?limit=1000", k.app.address))
        .header("x-api-key", &k.keys["admin"])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["items"].as_array().unwrap().clone()
}

async fn audit_len(k: &Keyed) -> usize {
    audit_items(k).await.len()
}

async fn last_audit(k: &Keyed) -> Value {
    audit_items(k).await.last().cloned().unwrap_or_default()
}

/// `/v1/catalog/{inn}` matched against `/v1/catalog/7701000019`.
struct ResourceTemplate<'a>(&'a str);

impl ResourceTemplate<'_> {
    fn matches(&self, path: &str) -> bool {
        // The query string is no part of the route.
        let path = path.split('?').next().unwrap_or_default();
        let (a, b): (Vec<&str>, Vec<&str>) =
            (self.0.split('/').collect(), path.split('/').collect());
        a.len() == b.len() && a.iter().zip(&b).all(|(t, p)| t.starts_with('{') || t == p)
    }
}

#[tokio::test]
async fn bearer_is_case_insensitive_and_a_revoked_key_stops_within_seconds() {
    let k = keyed_app(&[("crm", "checks")], &[], |_| {}).await;
    let key = &k.keys["crm"];
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let r = k
            .app
            .client
            .get(format!("{}/v1/counterparties/7701000019", k.app.address))
            .header("authorization", format!("{scheme} {key}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{scheme}: a valid key reaches the handler");
    }
    k.service.revoke("crm").await.unwrap();
    let status = status_within_10s(&k.app, "/v1/counterparties/7701000019", Some(key), 401).await;
    assert_eq!(status, 401, "the revoked key is refused within 10 s");
}

#[tokio::test]
async fn open_on_loopback_until_the_first_key_then_closed() {
    let k = keyed_app(&[], &[], |_| {}).await;
    assert_eq!(
        call(&k.app, "GET", "/v1/catalog", None, &Value::Null).await,
        200,
        "no key exists: open on a loopback address"
    );
    k.service.create("first", "admin").await.unwrap();
    let status = status_within_10s(&k.app, "/v1/catalog", None, 401).await;
    assert_eq!(status, 401, "once a key exists every /v1 route needs one");
}

#[tokio::test]
async fn without_keys_the_server_refuses_a_network_address() {
    let mut settings = test_settings(Registries::Sandbox).await;
    settings.server.host = "0.0.0.0".into();
    let err = match kontragent::startup::Application::build(settings).await {
        Ok(_) => panic!("served open on 0.0.0.0"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("auth.enabled=false"), "{err}");
    assert!(kontragent::startup::is_loopback("127.0.0.2"));
    assert!(kontragent::startup::is_loopback("::1"));
    assert!(kontragent::startup::is_loopback("localhost"));
    assert!(!kontragent::startup::is_loopback("10.0.0.5"));
}

#[tokio::test]
async fn the_actor_of_a_write_is_the_key_and_the_audit_says_so() {
    let k = keyed_app(
        &[
            ("crm", "checks,catalog:write,catalog:read"),
            ("boss", "admin"),
        ],
        &[],
        |_| {},
    )
    .await;
    let crm = &k.keys["crm"];
    let send = |path: &str, body: Value| {
        k.app
            .client
            .post(format!("{}{path}", k.app.address))
            .header("x-api-key", crm)
            .json(&body)
            .send()
    };
    assert_eq!(
        send("/v1/checks", json!({"inn": "7701000072"}))
            .await
            .unwrap()
            .status(),
        200
    );
    let r = send(
        "/v1/catalog",
        json!({"inn": "7701000072", "actor": "monitoring", "override": {"by": "director", "reason": "проверен вручную"}}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let r = send(
        "/v1/catalog/7701000072/status",
        json!({"action": "suspend", "comment": "жалоба", "actor": "m.petrova"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let detail: Value = k
        .app
        .client
        .get(format!("{}/v1/catalog/7701000072", k.app.address))
        .header("x-api-key", crm)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actors: Vec<&str> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["actor"].as_str().unwrap())
        .collect();
    // A body may add a person's name; it never replaces the key's.
    assert_eq!(actors, ["crm (director)", "crm (m.petrova)"]);
    let audit: Value = k
        .app
        .client
        .get(format!("{}/v1/audit?inn=7701000072", k.app.address))
        .header("authorization", format!("Bearer {}", k.keys["boss"]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The audit trail names the key as the actor, and apart whom it acted for.
    let entries: Vec<(&str, &str, &str)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["actor"].as_str().unwrap(),
                e["on_behalf_of"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            ("catalog.list", "crm", "monitoring"),
            ("catalog.suspend", "crm", "m.petrova")
        ]
    );
}

#[tokio::test]
async fn checks_are_limited_per_key_and_public_calls_per_ip() {
    let k = keyed_app(
        &[("a", "checks"), ("b", "checks"), ("site", "public")],
        &[],
        |s| {
            s.limits.checks_per_minute = 2;
            s.limits.public_per_minute = 3;
        },
    )
    .await;
    let check = |key: &'static str| {
        k.app
            .client
            .post(format!("{}/v1/checks", k.app.address))
            .header("x-api-key", &k.keys[key])
            .json(&json!({"inn": "7701000019"}))
            .send()
    };
    assert_eq!(check("a").await.unwrap().status(), 200);
    assert_eq!(check("a").await.unwrap().status(), 200);
    let limited = check("a").await.unwrap();
    assert_eq!(limited.status(), 429);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let problem: Value = limited.json().await.unwrap();
    assert_eq!(problem["code"], "rate_limited");
    assert_eq!(
        check("b").await.unwrap().status(),
        200,
        "another key has its own budget"
    );
    for _ in 0..3 {
        let s = call(
            &k.app,
            "GET",
            "/v1/public/catalog?utm_source=x",
            Some(&k.keys["site"]),
            &Value::Null,
        )
        .await;
        assert_eq!(s, 200);
    }
    let s = call(
        &k.app,
        "GET",
        "/v1/public/catalog",
        Some(&k.keys["site"]),
        &Value::Null,
    )
    .await;
    assert_eq!(s, 429);
}

#[tokio::test]
async fn cors_answers_allowed_origins_only() {
    let k = keyed_app(&[("site", "public")], &[], |s| {
        s.cors.allowed_origins = vec!["https://example.ru".into()];
    })
    .await;
    let preflight = |origin: &'static str| {
        k.app
            .client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/v1/public/catalog", k.app.address),
            )
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "x-api-key")
            .send()
    };
    let ok = preflight("https://example.ru").await.unwrap();
    assert_eq!(ok.status(), 204, "a preflight needs no key");
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://example.ru"
    );
    let allowed_headers = ok.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    for h in [
        "Authorization",
        "X-Api-Key",
        "Content-Type",
        "Idempotency-Key",
    ] {
        assert!(allowed_headers.contains(h), "{allowed_headers}");
    }
    assert!(
        ok.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    let get = k
        .app
        .client
        .get(format!("{}/v1/public/catalog", k.app.address))
        .header("origin", "https://example.ru")
        .header("x-api-key", &k.keys["site"])
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    assert_eq!(
        get.headers()["access-control-allow-origin"],
        "https://example.ru"
    );
    let denied = k
        .app
        .client
        .get(format!("{}/v1/public/catalog", k.app.address))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
    assert!(
        denied
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn behind_a_proxy_each_client_ip_has_its_own_public_budget() {
    let k = keyed_app(&[("site", "public")], &[], |s| {
        s.limits.public_per_minute = 1;
        s.limits.client_ip_header = "X-Real-IP".into();
    })
    .await;
    let from = |ip: &'static str| {
        k.app
            .client
            .get(format!("{}/v1/public/catalog", k.app.address))
            .header("x-api-key", &k.keys["site"])
            // The proxy appends the client it saw last; that entry counts.
            .header("x-real-ip", format!("10.9.9.9, {ip}"))
            .send()
    };
    assert_eq!(from("203.0.113.1").await.unwrap().status(), 200);
    assert_eq!(from("203.0.113.1").await.unwrap().status(), 429);
    assert_eq!(
        from("203.0.113.2").await.unwrap().status(),
        200,
        "another client behind the same proxy has its own budget"
    );
}
