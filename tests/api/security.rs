//! The security pass's reproductions, kept: a rotation replayed with its key, one check
//! budget for every way of starting checks, and secrets that never lie in the database in
//! clear (the SQLite file greped, a PostgreSQL dump greped), with the key's own failures.

use crate::helpers::{Registries, TestApp, spawn_app_from, test_settings};
use kontragent::auth::KeyService;
use kontragent::config::{Secret, Settings};
use serde_json::{Value, json};

async fn request(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut r = app.client.request(method, format!("{}{path}", app.address));
    for (name, value) in headers {
        r = r.header(*name, *value);
    }
    if let Some(body) = body {
        r = r.json(&body);
    }
    let response = r.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

/// `POST /v1/checks` of `inn` with an API key.
async fn post_check(
    app: &TestApp,
    key: &str,
    inn: &str,
) -> (u16, reqwest::header::HeaderMap, Value) {
    request(
        app,
        reqwest::Method::POST,
        "/v1/checks",
        &[("x-api-key", key)],
        Some(json!({"inn": inn})),
    )
    .await
}

async fn allowed_settings() -> Settings {
    let mut s = test_settings(Registries::Sandbox).await;
    s.webhooks.allow_targets = vec!["127.0.0.1".into()];
    s
}

#[tokio::test]
async fn a_rotation_replayed_with_its_key_returns_the_same_secret_and_keeps_the_first() {
    let app = spawn_app_from(allowed_settings().await).await;
    let post = reqwest::Method::POST;
    let (status, _, created) = request(
        &app,
        post.clone(),
        "/v1/webhooks",
        &[],
        Some(json!({"url": "http://127.0.0.1:9/hook", "events": ["*"]})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let original = created["secret"].as_str().unwrap().to_owned();
    let id = created["webhook"]["id"].as_str().unwrap().to_owned();
    let rotate = format!("/v1/webhooks/{id}/rotate-secret");
    let key = [("idempotency-key", "rotate-1")];
    let (s1, h1, first) = request(&app, post.clone(), &rotate, &key, None).await;
    let (s2, h2, second) = request(&app, post.clone(), &rotate, &key, None).await;
    assert_eq!((s1, s2), (200, 200));
    assert!(h1.get("idempotency-replayed").is_none());
    assert_eq!(h2["idempotency-replayed"], "true");
    assert_eq!(
        first["secret"], second["secret"],
        "one rotation, one new secret"
    );
    assert_ne!(first["secret"].as_str(), Some(original.as_str()));
    // The original secret still signs for the overlap: only one rotation happened.
    let stored = app
        .app
        .store()
        .get_webhook(&id)
        .await
        .unwrap()
        .expect("the subscription");
    assert_eq!(stored.previous_secret.as_deref(), Some(original.as_str()));
    assert_eq!(stored.secret, first["secret"].as_str().unwrap());
    let overlap = stored.previous_until.unwrap() - chrono::Utc::now();
    assert!(overlap > chrono::Duration::hours(23), "{overlap}");

    // Every other POST that writes takes a key too: a test delivery queued once.
    let test = format!("/v1/webhooks/{id}/test");
    let key = [("idempotency-key", "test-1")];
    let (_, _, a) = request(&app, post.clone(), &test, &key, None).await;
    let (_, h, b) = request(&app, post.clone(), &test, &key, None).await;
    assert_eq!(h["idempotency-replayed"], "true");
    assert_eq!(a["id"], b["id"]);
}

#[tokio::test]
async fn one_budget_per_key_counts_each_inn_of_a_batch_and_refuses_a_batch_whole() {
    let mut settings = test_settings(Registries::Sandbox).await;
    settings.limits.checks_per_minute = 5;
    let store = kontragent::storage::connect(&settings.database.url, 1)
        .await
        .unwrap();
    let keys = KeyService::new(std::sync::Arc::clone(&store), &settings.auth);
    let (key_a, a) = keys.create("a", "checks").await.unwrap();
    let (_, b) = keys.create("b", "checks").await.unwrap();
    let app = spawn_app_from(settings).await;
    let post = reqwest::Method::POST;
    let inns = ["7701000019", "7707083893", "7701000058", "7701000026"];
    let (status, _, batch) = request(
        &app,
        post.clone(),
        "/v1/checks/batch",
        &[("x-api-key", &a)],
        Some(json!({"inns": inns})),
    )
    .await;
    assert_eq!(status, 200, "{batch}");
    // One left: a batch of two is refused whole, nothing of it checked.
    let (status, headers, problem) = request(
        &app,
        post.clone(),
        "/v1/checks/batch",
        &[("x-api-key", &a)],
        Some(json!({"inns": ["7701000040", "7701000034"]})),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (429, Some("rate_limited"))
    );
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let (_, _, history) = request(
        &app,
        reqwest::Method::GET,
        "/v1/checks?inn=7701000040",
        &[("x-api-key", &a)],
        None,
    )
    .await;
    assert_eq!(
        history["items"],
        json!([]),
        "a refused batch checks nothing"
    );
    // The last one goes to a single check, then the key is spent.
    assert_eq!(post_check(&app, &a, "7701000019").await.0, 200);
    assert_eq!(post_check(&app, &a, "7701000019").await.0, 429);
    // A 429 is no answer to keep: the same Idempotency-Key runs again once there is budget.
    let body = json!({"inn": "7701000019"});
    let (status, _, _) = request(
        &app,
        reqwest::Method::POST,
        "/v1/checks",
        &[("x-api-key", &a), ("idempotency-key", "over-1")],
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, 429);
    let claim = kontragent::idempotency::IdempotencyService::new(store)
        .claim(
            &key_a.id,
            "over-1",
            "POST",
            "/v1/checks",
            body.to_string().as_bytes(),
        )
        .await
        .unwrap();
    assert!(
        matches!(claim, kontragent::storage::IdempotencyClaim::Started),
        "the key was released"
    );
    assert_eq!(
        post_check(&app, &b, "7701000019").await.0,
        200,
        "another key has its own budget"
    );
    // More than a minute's budget at once can never pass: refused, not half-run.
    let (status, _, _) = request(
        &app,
        post,
        "/v1/checks/batch",
        &[("x-api-key", &b)],
        Some(json!({"inns": ["7701000019", "7707083893", "7701000058", "7701000026", "7701000040", "7701000034"]})),
    )
    .await;
    assert_eq!(status, 429);
}

/// The bytes of the database as it lies on disk: the SQLite files, or a `pg_dump`.
fn database_bytes(url: &str) -> Vec<u8> {
    if url.starts_with("postgres") {
        let out = std::process::Command::new("pg_dump")
            .arg(url)
            .output()
            .expect("pg_dump runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return out.stdout;
    }
    let file = url.trim_start_matches("sqlite://");
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        if let Ok(b) = std::fs::read(format!("{file}{suffix}")) {
            bytes.extend(b);
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn no_secret_lies_in_the_database_in_clear() {
    let portal = crate::bitrix24::portal().await;
    let settings = crate::bitrix24::settings_for(&portal).await;
    let url = settings.database.url.clone();
    let webhook_settings = settings.webhooks.clone();
    let app = spawn_app_from(settings).await;
    let post = reqwest::Method::POST;
    // A subscription made with a key: its "shown once" secret is in the stored response.
    let (status, _, created) = request(
        &app,
        post.clone(),
        "/v1/webhooks",
        &[("idempotency-key", "make-1")],
        Some(json!({"url": "http://127.0.0.1:9/hook", "events": ["*"]})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let first = created["secret"].as_str().unwrap().to_owned();
    let id = created["webhook"]["id"].as_str().unwrap().to_owned();
    let (_, _, rotated) = request(
        &app,
        post,
        &format!("/v1/webhooks/{id}/rotate-secret"),
        &[("idempotency-key", "rotate-1")],
        None,
    )
    .await;
    let second = rotated["secret"].as_str().unwrap().to_owned();
    // A Bitrix24 portal's tokens (refreshed at install: `fresh-*`).
    let r =
        crate::bitrix24::post_form(&app, "install", &crate::bitrix24::install_form(&portal)).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let callback = {
        let store = app.app.store().clone();
        let webhooks = kontragent::webhooks::WebhookService::start(
            &webhook_settings,
            store,
            std::sync::Arc::new(kontragent::outbound::SystemResolver),
        )
        .await
        .unwrap();
        webhooks.callback_secret().to_owned()
    };

    let bytes = database_bytes(&url);
    assert!(
        contains(&bytes, "sealed:v1:"),
        "the sealed values are there"
    );
    for secret in [
        first.as_str(),
        &first["whsec_".len()..],
        second.as_str(),
        &second["whsec_".len()..],
        callback.as_str(),
        &callback["whsec_".len()..],
        "fresh-access",
        "fresh-refresh",
        crate::bitrix24::APP_TOKEN,
    ] {
        assert!(
            !contains(&bytes, secret),
            "{secret} is in the database in clear"
        );
    }
    // And they still work: the robot's token is checked against the sealed one.
    let (_, _, got) = request(
        &app,
        reqwest::Method::GET,
        &format!("/v1/webhooks/{id}"),
        &[],
        None,
    )
    .await;
    assert_eq!(got["id"], id.as_str());
}

#[tokio::test]
async fn secrets_from_before_are_sealed_a_wrong_key_stops_the_start_and_a_rotation_reseals() {
    let mut settings = test_settings(Registries::Sandbox).await;
    let dir = std::env::temp_dir().join(format!("kt-keys-{}", uuid::Uuid::new_v4().simple()));
    settings.secrets.key_file = dir.join("secrets.key").display().to_string();
    // A database from before sealing: a secret in clear.
    let bare = kontragent::storage::connect(&settings.database.url, 1)
        .await
        .unwrap();
    drop(bare);
    raw_execute(
        &settings.database.url,
        "INSERT INTO service_secrets (name, value) VALUES ('legacy', 'whsec_plainplainplain')",
    )
    .await;
    let store = kontragent::startup::open_store(&settings).await.unwrap();
    assert!(
        dir.join("secrets.key").exists(),
        "the key file is made at first start"
    );
    assert_eq!(
        store.service_secret("legacy", "unused").await.unwrap(),
        "whsec_plainplainplain"
    );
    assert!(!contains(
        &database_bytes(&settings.database.url),
        "whsec_plainplainplain"
    ));
    drop(store);

    // Another key does not open them: a clear error, not a start.
    let mut wrong = settings.clone();
    wrong.secrets.key = Secret::new(kontragent::seal::generate_key());
    let refused = kontragent::startup::open_store(&wrong).await.err().unwrap();
    assert!(
        refused.to_string().contains("does not open the secrets"),
        "{refused}"
    );
    let mut malformed = settings.clone();
    malformed.secrets.key = Secret::new("not a key");
    assert!(kontragent::startup::open_store(&malformed).await.is_err());
    // The key file lost: a new one is not silently made over sealed data.
    let moved = dir.join("moved.key");
    std::fs::rename(dir.join("secrets.key"), &moved).unwrap();
    assert!(kontragent::startup::open_store(&settings).await.is_err());
    assert!(!dir.join("secrets.key").exists());
    std::fs::rename(&moved, dir.join("secrets.key")).unwrap();

    // `secrets rotate`: a new key in the file, every secret readable with it.
    let before = std::fs::read_to_string(dir.join("secrets.key")).unwrap();
    let said = kontragent::startup::rotate_secrets_key(&settings)
        .await
        .unwrap();
    assert!(said.starts_with("resealed"), "{said}");
    let after = std::fs::read_to_string(dir.join("secrets.key")).unwrap();
    assert_ne!(before, after);
    let store = kontragent::startup::open_store(&settings).await.unwrap();
    assert_eq!(
        store.service_secret("legacy", "unused").await.unwrap(),
        "whsec_plainplainplain"
    );
    drop(store);
    // The old key opens nothing now.
    let mut old = settings.clone();
    old.secrets.key = Secret::new(before.trim());
    assert!(kontragent::startup::open_store(&old).await.is_err());
    std::fs::remove_dir_all(dir).unwrap();
}

async fn raw_execute(url: &str, sql: &'static str) {
    use sqlx::Connection;
    if url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    } else {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
}

/// The sandbox app with one API key, `crm` (scope `checks`): its settings, the app, the key.
async fn app_with_a_checks_key() -> (Settings, TestApp, String) {
    let settings = test_settings(Registries::Sandbox).await;
    let store = kontragent::storage::connect(&settings.database.url, 1)
        .await
        .unwrap();
    let (_, key) = KeyService::new(store, &settings.auth)
        .create("crm", "checks")
        .await
        .unwrap();
    let app = spawn_app_from(settings.clone()).await;
    (settings, app, key)
}

#[tokio::test]
async fn a_report_link_opens_in_a_browser_without_a_key_and_only_its_own_report() {
    let (settings, app, key) = app_with_a_checks_key().await;
    let first = post_check(&app, &key, "7701000040").await.2;
    let second = post_check(&app, &key, "7701000019").await.2;
    let link = first["report_url"].as_str().unwrap().to_owned();
    let other = second["report_url"].as_str().unwrap().to_owned();
    // What a browser does: no key, the link as it is.
    let open = |path: String| {
        let app = &app;
        async move {
            let r = app
                .client
                .get(format!("{}{path}", app.address))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap())
        }
    };
    let (status, html) = open(link.clone()).await;
    assert_eq!(status, 200);
    assert!(html.contains("Справка о проверке контрагента"));
    assert!(html.contains("ОТКЛОНЕНО"));
    // The link reads in the service's language, whatever the browser asks; `lang` is the
    // reader's to change.
    assert!(link.ends_with("&lang=ru"), "{link}");
    let (status, html) = open(link.replace("lang=ru", "lang=en")).await;
    assert_eq!(status, 200, "other parameters stay");
    assert!(html.contains("Counterparty check report"));
    // The bare path asks for a key; a changed signature, one report's signature on another,
    // a moved expiry: a page that says the link is not valid, in Russian.
    let id = first["id"].as_str().unwrap();
    let other_id = second["id"].as_str().unwrap();
    let query = |link: &str| link.split_once('?').unwrap().1.to_owned();
    let (q, other_q) = (query(&link), query(&other));
    let exp: i64 = q["exp=".len()..q.find('&').unwrap()].parse().unwrap();
    let sig = link
        .split("sig=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    assert_eq!(open(format!("/v1/checks/{id}/report")).await.0, 401);
    for path in [
        format!("/v1/checks/{id}/report?exp={exp}&sig={}", &sig[1..]),
        format!("/v1/checks/{id}/report?sig={sig}"),
        format!("/v1/checks/{id}/report?{other_q}"),
        format!("/v1/checks/{other_id}/report?{q}"),
        format!("/v1/checks/{id}/report?exp={}&sig={sig}", exp + 86_400),
    ] {
        let (status, html) = open(path.clone()).await;
        assert_eq!(status, 403, "{path}");
        assert!(html.contains("Ссылка недействительна"), "{path}: {html}");
    }
    // A signature opens nothing but its report.
    for path in [
        format!("/v1/checks/{id}/evidence?{q}"),
        format!("/v1/checks/{id}?{q}"),
    ] {
        assert_eq!(open(path.clone()).await.0, 401, "{path}");
    }
    // A link lives links.ttl_s (30 days) from its check; an expired one says until when.
    let expires = chrono::DateTime::from_timestamp(exp, 0).unwrap();
    let made = chrono::DateTime::parse_from_rfc3339(first["created_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        (expires - made.to_utc()).num_days(),
        29,
        "30 days less the sub-second"
    );
    let links = app.app.links();
    let month_ago = chrono::Utc::now() - chrono::Duration::days(31);
    let expired = links
        .path(
            id.parse().unwrap(),
            month_ago,
            kontragent::domain::Language::Ru,
        )
        .await;
    let (status, html) = open(expired).await;
    assert_eq!(status, 403);
    assert!(html.contains("Срок действия ссылки истёк"), "{html}");
    // With a key the report opens however the link reads.
    let r = app
        .client
        .get(format!("{}/v1/checks/{id}/report?{other_q}", app.address))
        .header("X-Api-Key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // `kontragent links rotate` closes every link handed out.
    let store = kontragent::startup::open_store(&settings).await.unwrap();
    kontragent::check::links::rotate(store.as_ref())
        .await
        .unwrap();
    links.reload().await.unwrap();
    let (status, html) = open(link.clone()).await;
    assert_eq!(status, 403, "revoked");
    assert!(html.contains("Ссылка недействительна"));
    let fresh = post_check(&app, &key, "7701000040").await.2;
    let (status, _) = open(fresh["report_url"].as_str().unwrap().to_owned()).await;
    assert_eq!(status, 200, "new links open with the new key");
}

/// What a person sees clicking a link: the report, or a page that says why it does not open.
#[tokio::test]
async fn a_signed_link_opens_in_headless_chromium_and_a_damaged_one_says_why() {
    use crate::helpers::installed;
    if !installed("chromium") || !installed("python3") {
        eprintln!(
            "SKIPPED signed link in chromium: no chromium or python3 (.ci/run installs them)"
        );
        return;
    }
    let (_, app, key) = app_with_a_checks_key().await;
    let check = post_check(&app, &key, "7701000019").await.2;
    let link = format!("{}{}", app.address, check["report_url"].as_str().unwrap());
    let damaged = link.replace("sig=", "sig=0");
    let (pages, out_dir) = crate::report::in_chromium(&[link, damaged]).await;
    let report = pages[0]["sections"]["header"].as_str().unwrap_or_default();
    assert!(
        report.contains("Справка о проверке контрагента"),
        "{}",
        pages[0]
    );
    assert!(
        pages[0]["sections"]["decision"]
            .as_str()
            .unwrap()
            .contains("ОДОБРЕНО")
    );
    let closed = pages[1]["sections"]["closed"].as_str().unwrap_or_default();
    assert!(closed.contains("Ссылка недействительна"), "{}", pages[1]);
    assert_eq!(pages[1]["title"], "Ссылка недействительна");
    let _ = std::fs::remove_dir_all(out_dir);
}

/// A request and what its problem says: method, path, key (else the test's), body, the
/// Russian and English detail, the Russian title.
type Case = (
    reqwest::Method,
    &'static str,
    Option<&'static str>,
    Option<Value>,
    &'static str,
    &'static str,
    &'static str,
);

/// Problems read in the request's language: Russian by default, English on
/// `Accept-Language: en` — from the guard, the router, the extractors and the handlers alike.
#[tokio::test]
async fn problems_read_in_the_requests_language() {
    let (_, app, key) = app_with_a_checks_key().await;
    let cases: [Case; 5] = [
        (
            reqwest::Method::GET,
            "/v1/checks/01a2",
            None,
            None,
            "нет проверки с id 01a2",
            "no check with id 01a2",
            "Не найдено",
        ),
        (
            reqwest::Method::GET,
            "/v1/checks/01a2",
            Some("wrong"),
            None,
            "нужен действующий ключ API",
            "a valid API key is required",
            "Нужен ключ API",
        ),
        (
            reqwest::Method::GET,
            "/v1/catalog",
            None,
            None,
            "у этого ключа API нет права `catalog:read`",
            "lacks the scope `catalog:read`",
            "Доступ запрещён",
        ),
        (
            reqwest::Method::POST,
            "/v1/checks",
            None,
            Some(json!({"inn": "7701000019", "max_age_s": -1})),
            "max_age_s",
            "max_age_s",
            "Неверное тело запроса",
        ),
        (
            reqwest::Method::GET,
            "/v1/nowhere",
            None,
            None,
            "по адресу /v1/nowhere ничего нет",
            "no resource at /v1/nowhere",
            "Не найдено",
        ),
    ];
    for (method, path, presented, body, ru, en, title) in cases {
        for (language, expected) in [(None, ru), (Some("en"), en)] {
            let mut r = app
                .client
                .request(method.clone(), format!("{}{path}", app.address))
                .header("X-Api-Key", presented.unwrap_or(&key));
            if let Some(body) = &body {
                r = r.json(body);
            }
            if let Some(language) = language {
                r = r.header("Accept-Language", language);
            }
            let r = r.send().await.unwrap();
            let problem: Value = r.json().await.unwrap();
            assert!(
                problem["detail"].as_str().unwrap().contains(expected),
                "{path} {language:?}: {problem}"
            );
            if language.is_none() {
                assert_eq!(problem["title"], title, "{path}: {problem}");
            }
            if body.is_some() {
                assert_eq!(problem["field"], "max_age_s", "{problem}");
            }
        }
    }
}
