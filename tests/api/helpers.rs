//! `spawn_app()`: the real application on a random port with its own fresh database
//! (SQLite file, or a new PostgreSQL database when `TEST_DATABASE_URL` is set) and its
//! sources pointed at local fakes: the sandbox, or wiremock servers.

use kontragent::config::Settings;
use kontragent::startup::Application;
use serde_json::Value;
use std::net::TcpListener;
use std::sync::Arc;

/// Where each source should point.
pub enum Registries {
    /// The built-in sandbox, started on a free port for this test.
    Sandbox,
    /// Explicit base URLs; `None` disables that source (fedresurs, bankrot and kad too).
    Custom {
        egrul: Option<String>,
        pb: Option<String>,
    },
    /// These sources at these URLs; every other source disabled.
    Each(Vec<(&'static str, String)>),
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub app: Arc<kontragent::check::CheckService>,
}

/// A fresh database URL for one test.
pub async fn fresh_database_url() -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin) if admin.starts_with("postgres") => {
            use sqlx::Connection;
            let name = format!("kt_test_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .expect("connect to TEST_DATABASE_URL");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                .execute(&mut conn)
                .await
                .expect("create test database");
            let mut url = url::Url::parse(&admin).expect("TEST_DATABASE_URL is a URL");
            url.set_path(&format!("/{name}"));
            url.to_string()
        }
        _ => {
            let dir = std::env::temp_dir().join("kontragent-tests");
            std::fs::create_dir_all(&dir).expect("temp dir");
            format!(
                "sqlite://{}/{}.db",
                dir.display(),
                uuid::Uuid::new_v4().simple()
            )
        }
    }
}

/// Starts the sandbox registries on a free port and returns their base URL.
pub fn spawn_sandbox() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind sandbox");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(kontragent::sandbox::serve(listener).expect("sandbox server"));
    format!("http://127.0.0.1:{port}")
}

/// Settings for tests: port 0, a fresh database, fast polling, no rate limits.
pub async fn test_settings(registries: Registries) -> Settings {
    let mut s = Settings::default();
    s.server.port = 0;
    s.database.url = fresh_database_url().await;
    s.database.max_connections = 4;
    s.rules.path = concat!(env!("CARGO_MANIFEST_DIR"), "/rules/default.toml").into();
    s.log.filter = "warn".into();
    s.monitoring.enabled = false;
    s.webhooks.tick_ms = 20;
    // Test host names resolve here, never through DNS; without `allow_targets` the guard
    // refuses their loopback address, so nothing is connected to.
    for (name, ip) in [("crm.test", "127.0.0.1"), ("other.test", "127.0.0.2")] {
        s.webhooks.hosts.insert(name.into(), ip.parse().unwrap());
    }
    // Suites make many checks quickly; the rate-limit tests set their own limits.
    s.limits.checks_per_minute = 0;
    s.monitoring.max_age_s = 0;
    s.monitoring.rules_path = concat!(env!("CARGO_MANIFEST_DIR"), "/rules/monitoring.toml").into();
    for (_, src) in s.sources.iter_mut() {
        src.poll_interval_ms = 5;
        src.timeout_ms = 5_000;
        src.rps = 0.0;
        // Tests that need the pacing and the captcha pause set them themselves.
        src.request_gap_ms = 0;
        src.captcha_pause_s = 0;
    }
    match registries {
        Registries::Sandbox => {
            let base = spawn_sandbox();
            for (_, src) in s.sources.iter_mut() {
                src.base_url = base.clone();
            }
            s.sources["kad"].cookie =
                kontragent::config::Secret::new(kontragent::config::SANDBOX_KAD_COOKIE);
        }
        Registries::Custom { egrul, pb } => {
            let mut each = Vec::new();
            if let Some(u) = egrul {
                each.push(("egrul", u));
            }
            if let Some(u) = pb {
                each.push(("pb", u));
            }
            point(&mut s, each);
        }
        Registries::Each(each) => point(&mut s, each),
    }
    s
}

/// Points the named sources at their URLs and disables the others.
fn point(s: &mut Settings, each: Vec<(&'static str, String)>) {
    for (name, src) in s.sources.iter_mut() {
        match each.iter().find(|(n, _)| *n == name) {
            Some((_, url)) => src.base_url = url.clone(),
            None => src.enabled = false,
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Registries::Sandbox, |_| {}).await
}

pub async fn spawn_app_with(registries: Registries, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = test_settings(registries).await;
    tweak(&mut settings);
    spawn_app_from(settings).await
}

pub async fn spawn_app_from(settings: Settings) -> TestApp {
    kontragent::telemetry::init(&settings.log);
    let application = Application::build(settings).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", application.port());
    let app = Arc::clone(application.checks());
    tokio::spawn(application.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        app,
    }
}

impl TestApp {
    pub async fn post_check(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}/v1/checks", self.address))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// Checks an INN and returns the finished Check, asserting a 200.
    pub async fn check(&self, inn: &str) -> Value {
        let response = self.post_check(&serde_json::json!({ "inn": inn })).await;
        assert_eq!(response.status(), 200, "check of {inn}");
        response.json().await.expect("json")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request")
    }
}

/// The ids of the rules that fired, in order.
pub fn rule_ids(check: &Value) -> Vec<String> {
    check["reasons"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|x| x["rule_id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// `status` and `detail` of one source in a Check.
pub fn source(check: &Value, name: &str) -> (String, Option<String>) {
    let s = &check["sources"][name];
    (
        s["status"].as_str().unwrap_or("missing").to_owned(),
        s["detail"].as_str().map(String::from),
    )
}

/// Whether `command --version` runs here (a browser or an interpreter a test drives).
pub fn installed(command: &str) -> bool {
    std::process::Command::new(command)
        .arg("--version")
        .output()
        .is_ok()
}

/// A 10-digit INN: `prefix` (nine digits) with its check digit.
pub fn inn_of(prefix: &str) -> String {
    let sum: u32 = prefix
        .chars()
        .zip([2, 4, 10, 3, 5, 9, 4, 6, 8])
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    format!("{prefix}{}", sum % 11 % 10)
}
