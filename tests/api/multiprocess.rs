//! Several `kontragent serve` processes share the monitoring of one catalog on PostgreSQL:
//! three processes, a few hundred contractors that each go bankrupt on their next check,
//! one process killed with SIGKILL mid-cycle. Every contractor must be monitored exactly
//! once in the cycle and every change event recorded exactly once.
//!
//! The same for webhook deliveries: three processes, a subscriber that fails every message's
//! first two attempts, one process killed mid-delivery; every event must arrive, and be
//! acknowledged to the service once.
//!
//! Runs against the database of `TEST_DATABASE_URL` (PostgreSQL); SQLite is one process by
//! design, so there the tests say they do not apply and return.

use crate::helpers::{Registries, spawn_app_from, spawn_sandbox, test_settings};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CONTRACTORS: usize = 240;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `serve` process that is killed when dropped (a failed assertion leaves no orphan)
/// and whose log is printed when the test fails.
struct Server {
    child: Child,
    log: std::path::PathBuf,
}

impl Server {
    fn id(&self) -> u32 {
        self.child.id()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!("--- log of serve process {} ---\n{log}", self.child.id());
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

fn serve(db: &str, registries: &str, port: u16) -> Server {
    serve_with(db, registries, port, &[])
}

fn serve_with(db: &str, registries: &str, port: u16, extra: &[(&str, &str)]) -> Server {
    let manifest = env!("CARGO_MANIFEST_DIR");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kontragent"));
    cmd.arg("serve")
        .env("KONTRAGENT__SERVER__PORT", port.to_string())
        .env("KONTRAGENT__DATABASE__URL", db)
        .env(
            "KONTRAGENT__RULES__PATH",
            format!("{manifest}/rules/default.toml"),
        )
        .env(
            "KONTRAGENT__MONITORING__RULES_PATH",
            format!("{manifest}/rules/monitoring.toml"),
        )
        .env("KONTRAGENT__MONITORING__ENABLED", "true")
        .env("KONTRAGENT__MONITORING__INTERVAL_S", "3600")
        .env("KONTRAGENT__MONITORING__MAX_AGE_S", "0")
        .env("KONTRAGENT__MONITORING__TICK_MS", "100")
        .env("KONTRAGENT__MONITORING__BATCH", "5")
        .env("KONTRAGENT__MONITORING__LEASE_S", "3")
        .env("KONTRAGENT__LOG__FILTER", "warn")
        .env(
            "KONTRAGENT__SOURCES__KAD__COOKIE",
            kontragent::config::SANDBOX_KAD_COOKIE,
        )
        .stdout(Stdio::null());
    for (key, value) in extra {
        cmd.env(key, value);
    }
    for name in kontragent::sources::source_names() {
        let key = name.to_uppercase();
        cmd.env(format!("KONTRAGENT__SOURCES__{key}__BASE_URL"), registries)
            .env(format!("KONTRAGENT__SOURCES__{key}__RPS"), "0")
            .env(format!("KONTRAGENT__SOURCES__{key}__POLL_INTERVAL_MS"), "5");
    }
    let log = std::env::temp_dir().join(format!("kt-serve-{}.log", uuid::Uuid::new_v4()));
    let file = std::fs::File::create(&log).expect("log file");
    cmd.stderr(Stdio::from(file));
    Server {
        child: cmd.spawn().expect("start kontragent serve"),
        log,
    }
}

/// Polls `count_sql` (a `count(*) AS n`) until it is 0, failing after 120 s with `what`.
async fn until_none(conn: &mut sqlx::PgConnection, count_sql: &'static str, what: &str) {
    use sqlx::Row;
    let started = Instant::now();
    loop {
        let left: i64 = sqlx::query(count_sql)
            .fetch_one(&mut *conn)
            .await
            .unwrap()
            .get("n");
        if left == 0 {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{left} {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Rows of `table` whose lease the process `pid` holds (lease owners are "<pid>-<random>").
async fn leases_of(conn: &mut sqlx::PgConnection, table: &str, pid: u32) -> i64 {
    use sqlx::Row;
    let sql = match table {
        "catalog" => "SELECT count(*) AS n FROM catalog WHERE lease_owner LIKE $1",
        "webhook_deliveries" => {
            "SELECT count(*) AS n FROM webhook_deliveries WHERE lease_owner LIKE $1"
        }
        other => panic!("no leases in {other}"),
    };
    sqlx::query(sql)
        .bind(format!("{pid}-%"))
        .fetch_one(conn)
        .await
        .unwrap()
        .get("n")
}

/// Waits until one of `processes` holds a lease on a row of `table` and returns its index.
/// Whichever process is first is the victim: which one wins the first claim is a race.
async fn first_holder(conn: &mut sqlx::PgConnection, table: &str, processes: &[Server]) -> usize {
    let waiting = Instant::now();
    loop {
        for (i, p) in processes.iter().enumerate() {
            if leases_of(conn, table, p.id()).await > 0 {
                return i;
            }
        }
        assert!(
            waiting.elapsed() < Duration::from_secs(60),
            "no process ever claimed a row of {table}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn three_processes_monitor_each_contractor_once_despite_a_kill() {
    // There is no "skipped" in the test harness: on SQLite the test says so loudly and
    // returns; it proves something only under TEST_DATABASE_URL=postgres://… (as .ci/run does).
    let admin = std::env::var("TEST_DATABASE_URL").unwrap_or_default();
    if !admin.starts_with("postgres") {
        eprintln!(
            "SKIPPED multiprocess: needs PostgreSQL (TEST_DATABASE_URL); SQLite runs one process by design"
        );
        return;
    }
    // Seed: check and list every contractor (monitoring off, first re-check due within 1 s).
    let mut settings = test_settings(Registries::Sandbox).await;
    settings.monitoring.interval_s = 1;
    let db = settings.database.url.clone();
    let registries = spawn_sandbox();
    for (_, s) in settings.sources.iter_mut() {
        s.base_url = registries.clone();
    }
    let seeder = spawn_app_from(settings).await;
    let inns: Vec<String> = (0..CONTRACTORS)
        .map(|i| {
            kontragent::domain::Inn::complete(&format!("77050{i:04}"))
                .unwrap()
                .to_string()
        })
        .collect();
    for chunk in inns.chunks(24) {
        let lists = chunk.iter().map(|inn| {
            let seeder = &seeder;
            async move {
                let check = seeder.check(inn).await;
                assert_eq!(check["decision"], "approve", "{inn}");
                let r = seeder
                    .client
                    .post(format!("{}/v1/catalog", seeder.address))
                    .json(&json!({"inn": inn}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201, "{inn}");
            }
        });
        futures::future::join_all(lists).await;
    }
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    use sqlx::{Connection, Row};
    let mut conn = sqlx::PgConnection::connect(&db).await.unwrap();
    let mut processes: Vec<Server> = (0..3)
        .map(|_| serve(&db, &registries, free_port()))
        .collect();
    // Kill one mid-cycle — as soon as it holds claims (lease owners are "<pid>-<random>"):
    // whatever it had claimed must be taken over once its leases expire.
    let victim = first_holder(&mut conn, "catalog", &processes).await;
    processes[victim].kill();
    let orphaned = leases_of(&mut conn, "catalog", processes[victim].id()).await;
    let done_by_then: i64 = sqlx::query("SELECT count(*) AS n FROM catalog WHERE passes > 0")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get("n");
    assert!(
        orphaned > 0,
        "the killed process held no claim: it was not killed mid-cycle"
    );
    assert!(
        (done_by_then as usize) < CONTRACTORS,
        "the cycle was over before the kill"
    );
    until_none(
        &mut conn,
        "SELECT count(*) AS n FROM catalog WHERE passes = 0",
        "contractors never monitored",
    )
    .await;
    // Let the survivors run a few more ticks: nothing may be done twice.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for p in processes.iter_mut() {
        p.kill();
    }

    let twice: i64 = sqlx::query("SELECT count(*) AS n FROM catalog WHERE passes <> 1")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get("n");
    assert_eq!(
        twice, 0,
        "every contractor monitored exactly once in the cycle"
    );
    for kind in [
        "decision_changed",
        "company_status_changed",
        "bankruptcy_opened",
    ] {
        let rows =
            sqlx::query("SELECT inn, count(*) AS n FROM events WHERE kind = $1 GROUP BY inn")
                .bind(kind)
                .fetch_all(&mut conn)
                .await
                .unwrap();
        assert_eq!(rows.len(), CONTRACTORS, "{kind}: one per contractor");
        assert!(
            rows.iter().all(|r| r.get::<i64, _>("n") == 1),
            "{kind} recorded more than once"
        );
    }
    let suspended: i64 = sqlx::query(
        "SELECT count(*) AS n FROM catalog_transitions WHERE actor = 'monitoring' AND to_status = 'suspended'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap()
    .get("n");
    assert_eq!(suspended as usize, CONTRACTORS);
}

/// A receiver that answers 500 to each message's first two attempts and 200 afterwards,
/// slowly (200 ms), so a delivery is in flight when a process is killed.
struct FlakyReceiver {
    attempts: std::sync::Mutex<std::collections::HashMap<String, (u32, u32)>>,
}

async fn flaky(
    receiver: actix_web::web::Data<FlakyReceiver>,
    request: actix_web::HttpRequest,
) -> actix_web::HttpResponse {
    let id = request
        .headers()
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut attempts = receiver.attempts.lock().unwrap();
    let (tries, acks) = attempts.entry(id).or_default();
    *tries += 1;
    if *tries <= 2 {
        return actix_web::HttpResponse::InternalServerError().finish();
    }
    *acks += 1;
    actix_web::HttpResponse::Ok().finish()
}

#[tokio::test]
async fn three_processes_deliver_every_event_once_despite_a_kill() {
    let admin = std::env::var("TEST_DATABASE_URL").unwrap_or_default();
    if !admin.starts_with("postgres") {
        eprintln!(
            "SKIPPED multiprocess webhooks: needs PostgreSQL (TEST_DATABASE_URL); SQLite runs one process by design"
        );
        return;
    }
    const EVENTS: usize = 12;
    let receiver = actix_web::web::Data::new(FlakyReceiver {
        attempts: Default::default(),
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook_port = listener.local_addr().unwrap().port();
    let shared = receiver.clone();
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(shared.clone())
            .default_service(actix_web::web::to(flaky))
    })
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);

    // Seed without delivering: a subscription to the catalog's events, then EVENTS listings.
    let mut settings = test_settings(Registries::Sandbox).await;
    settings.webhooks.enabled = false;
    settings.webhooks.allow_targets = vec!["127.0.0.1".into()];
    let db = settings.database.url.clone();
    let registries = spawn_sandbox();
    for (_, s) in settings.sources.iter_mut() {
        s.base_url = registries.clone();
    }
    let seeder = spawn_app_from(settings).await;
    let created: serde_json::Value = seeder
        .client
        .post(format!("{}/v1/webhooks", seeder.address))
        .json(
            &json!({"url": format!("http://127.0.0.1:{hook_port}/hook"), "events": ["catalog.*"]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(created["secret"].is_string(), "{created}");
    for i in 0..EVENTS {
        let inn = kontragent::domain::Inn::complete(&format!("77050{:04}", 9000 + i))
            .unwrap()
            .to_string();
        seeder.check(&inn).await;
        let r = seeder
            .client
            .post(format!("{}/v1/catalog", seeder.address))
            .json(&json!({"inn": inn}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{inn}");
    }

    use sqlx::{Connection, Row};
    let mut conn = sqlx::PgConnection::connect(&db).await.unwrap();
    let env = [
        ("KONTRAGENT__MONITORING__ENABLED", "false"),
        ("KONTRAGENT__WEBHOOKS__ALLOW_TARGETS", "127.0.0.1"),
        ("KONTRAGENT__WEBHOOKS__RETRY_SCHEDULE_S", "0,0,0,0,0"),
        ("KONTRAGENT__WEBHOOKS__TICK_MS", "50"),
        ("KONTRAGENT__WEBHOOKS__LEASE_S", "2"),
    ];
    let mut processes: Vec<Server> = (0..3)
        .map(|_| serve_with(&db, &registries, free_port(), &env))
        .collect();
    // Kill one as soon as it holds a delivery (its attempt is then at the slow receiver).
    let victim = first_holder(&mut conn, "webhook_deliveries", &processes).await;
    processes[victim].kill();

    until_none(
        &mut conn,
        "SELECT count(*) AS n FROM webhook_deliveries WHERE state <> 'succeeded'",
        "deliveries never succeeded",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for p in processes.iter_mut() {
        p.kill();
    }

    let attempts = receiver.attempts.lock().unwrap().clone();
    let events: Vec<String> = sqlx::query("SELECT seq FROM events ORDER BY seq")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| format!("evt_{}", r.get::<i64, _>("seq")))
        .collect();
    assert_eq!(events.len(), EVENTS);
    let mut received: Vec<&String> = attempts.keys().collect();
    received.sort_by_key(|id| id[4..].parse::<i64>().unwrap());
    assert_eq!(
        received,
        events.iter().collect::<Vec<_>>(),
        "every event arrived"
    );
    // The service recorded exactly one success per message; a second 200 at the receiver
    // can only be the killed process's attempt, whose answer never reached the service.
    let recorded: Vec<i64> = sqlx::query(
        "SELECT count(*) AS n FROM webhook_attempts WHERE status = 200 GROUP BY delivery_id",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get("n"))
    .collect();
    assert_eq!(
        recorded,
        vec![1; EVENTS],
        "one acknowledged attempt per delivery"
    );
    let extra_acks: u32 = attempts.values().map(|(_, acks)| acks - 1).sum();
    assert!(
        attempts
            .values()
            .all(|(tries, acks)| *tries >= 3 && *acks >= 1),
        "{attempts:?}"
    );
    assert!(
        extra_acks <= 1,
        "only the killed process's in-flight attempt may be answered twice: {attempts:?}"
    );
}
