//! The one wiring point: [`Application::build`] creates the store, the ruleset, the
//! sources, the caches, the check service and the HTTP server from the settings.
//! Tests call it with port 0 and run exactly what production runs.

use crate::api::{self, AppState};
use crate::applications::ApplicationService;
use crate::auth::{AuthMode, KeyService};
use crate::cache::SourceCache;
use crate::catalog::CatalogService;
use crate::check::CheckService;
use crate::config::Settings;
use crate::idempotency::IdempotencyService;
use crate::metrics::Metrics;
use crate::monitoring::Monitor;
use crate::monitoring::rules::MonitoringPolicy;
use crate::policy::{Policy, PolicyError};
use crate::rules::Reloadable;
use crate::rules::RuleError;
use crate::sources::doctor::Doctor;
use crate::webhooks::{DeliveryWorker, WebhookService};
use crate::{sources, storage};
use actix_web::{App, HttpServer, web};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot load the ruleset {path}:\n{}", list(.errors))]
    Rules {
        path: String,
        errors: Vec<RuleError>,
    },
    #[error("cannot open the database")]
    Store(#[from] storage::StoreError),
    #[error("cannot build the HTTP client")]
    Http(#[from] reqwest::Error),
    #[error(
        "no API key exists and the server would listen on {0}, which is not a loopback address: \
         create a key first (`kontragent keys create --name NAME --scopes admin`), or set \
         auth.enabled=false explicitly to serve without keys"
    )]
    OpenOnNetwork(String),
    #[error("cannot check the API keys")]
    Keys(#[source] storage::StoreError),
    #[error("the secrets key: {0}")]
    SecretsKey(#[from] crate::seal::KeyError),
    #[error(
        "the secrets key {0} does not open the secrets in the database: they were sealed with \
         another key. Give the right one (secrets.key, KONTRAGENT__SECRETS__KEY, or the key file \
         backed up with the database)"
    )]
    WrongSecretsKey(String),
    #[error("webhooks: {0}")]
    Webhooks(String),
    #[error("applications: {0}")]
    Applications(String),
    #[error("{0}")]
    ProbeInn(String),
    #[error("cannot listen on {address}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
}

fn list(errors: &[RuleError]) -> String {
    errors
        .iter()
        .map(|e| format!("  - {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The services behind the API and the CLI.
pub struct Services {
    pub metrics: Arc<Metrics>,
    pub checks: Arc<CheckService>,
    pub batches: Arc<crate::check::batch::BatchService>,
    pub policy: Arc<Policy>,
    pub catalog: Arc<CatalogService>,
    pub monitor: Arc<Monitor>,
    pub keys: Arc<KeyService>,
    pub webhooks: Arc<WebhookService>,
    pub idempotency: Arc<IdempotencyService>,
    pub applications: Arc<ApplicationService>,
    pub doctor: Arc<Doctor>,
    pub bitrix24: Arc<crate::integrations::bitrix24::Bitrix24>,
    pub amocrm: Arc<crate::integrations::amocrm::AmoCrm>,
}

/// Why a policy file (`path`) could not be loaded at start.
fn policy_failed(path: &str, e: PolicyError) -> StartupError {
    let rules = |errors| StartupError::Rules {
        path: path.to_owned(),
        errors,
    };
    match e {
        PolicyError::Invalid(errors) => rules(errors),
        PolicyError::Store(s) => StartupError::Store(s),
        other @ (PolicyError::Replay(_) | PolicyError::UnknownVersion(_) | PolicyError::Busy) => {
            rules(vec![RuleError::general(other.to_string())])
        }
    }
}

/// Where the secrets key file is: `secrets.key_file`, else `secrets.key` beside the SQLite
/// database, or `data/secrets.key` with PostgreSQL.
pub fn secrets_key_file(settings: &Settings) -> PathBuf {
    if !settings.secrets.key_file.trim().is_empty() {
        return PathBuf::from(settings.secrets.key_file.trim());
    }
    let dir = storage::sqlite_file(&settings.database.url)
        .and_then(|f| f.parent().map(std::path::Path::to_path_buf))
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("data"));
    dir.join("secrets.key")
}

/// The text the key check seals: the first start with a key stores it, every later start
/// must open it with the key it is given.
const KEY_CHECK_TEXT: &str = "kontragent secrets key check";

/// The store with this deployment's secrets key: the key loaded (or its file created at first
/// start), proved against the database's key check, and every secret still stored in clear
/// sealed. A wrong key is an error, never a start without it.
pub async fn open_store(settings: &Settings) -> Result<Arc<dyn storage::Store>, StartupError> {
    Ok(open_sealed(settings).await?.0)
}

type Sealed = (
    Arc<dyn storage::Store>,
    Arc<crate::seal::Sealer>,
    crate::seal::KeySource,
);

async fn open_sealed(settings: &Settings) -> Result<Sealed, StartupError> {
    use crate::seal::{KeySource, Sealer, load_key, next_file, parse_key};
    let file = secrets_key_file(settings);
    let (key, source) = load_key(settings.secrets.key.expose(), &file)?;
    let connect = |key: [u8; 32]| async move {
        let sealer = Arc::new(Sealer::new(&key));
        let store = storage::connect_sealed(
            &settings.database.url,
            settings.database.max_connections,
            Arc::clone(&sealer),
        )
        .await?;
        Ok::<_, StartupError>((store, sealer))
    };
    let (mut store, mut sealer) = connect(key).await?;
    let shown = match &source {
        KeySource::Config => "secrets.key".to_owned(),
        KeySource::File { path, .. } => path.display().to_string(),
    };
    if let Some(check) = store.key_check().await? {
        let opens = |sealer: &Sealer| {
            sealer
                .open("service_secrets.value", &check)
                .is_ok_and(|t| t == KEY_CHECK_TEXT)
        };
        if !opens(&sealer) {
            // A rotation cut short after the database was resealed: the new key waits in
            // `<file>.next`.
            let next = match &source {
                KeySource::File {
                    path,
                    created: false,
                } => std::fs::read_to_string(next_file(path))
                    .ok()
                    .and_then(|t| parse_key(&t))
                    .filter(|k| opens(&Sealer::new(k)))
                    .map(|k| (k, path.clone())),
                _ => None,
            };
            match next {
                Some((key, path)) => {
                    std::fs::rename(next_file(&path), &path)
                        .map_err(|e| crate::seal::KeyError::File(shown.clone(), e))?;
                    tracing::warn!(file = %shown, "finished a key rotation that was cut short");
                    (store, sealer) = connect(key).await?;
                }
                None => {
                    if let KeySource::File {
                        path,
                        created: true,
                    } = &source
                    {
                        let _ = std::fs::remove_file(path);
                    }
                    return Err(StartupError::WrongSecretsKey(shown));
                }
            }
        }
    } else {
        store
            .service_secret(storage::seal_queries::KEY_CHECK, KEY_CHECK_TEXT)
            .await?;
    }
    let sealed = store.reseal(&sealer, &sealer, true).await?;
    if sealed > 0 {
        tracing::info!(sealed, "sealed the secrets stored in clear");
    }
    Ok((store, sealer, source))
}

/// `kontragent secrets rotate`: a new key, every stored secret resealed with it in one
/// transaction. A key file is replaced (the new key waits in `<file>.next` until the
/// database is resealed, so a cut-short rotation is finished at the next start); a key from
/// `secrets.key` is printed for the operator to put in its place. What to tell the operator.
pub async fn rotate_secrets_key(settings: &Settings) -> Result<String, StartupError> {
    use crate::seal::{KeySource, Sealer, generate_key, next_file, parse_key, write_key_file};
    let (store, old, source) = open_sealed(settings).await?;
    let text = generate_key();
    let key = parse_key(&text).ok_or(crate::seal::KeyError::Malformed)?;
    let new = Sealer::new(&key);
    match source {
        KeySource::File { path, .. } => {
            let next = next_file(&path);
            let shown = path.display().to_string();
            write_key_file(&next, &text, true)
                .map_err(|e| crate::seal::KeyError::File(shown.clone(), e))?;
            let count = store.reseal(&old, &new, false).await?;
            std::fs::rename(&next, &path)
                .map_err(|e| crate::seal::KeyError::File(shown.clone(), e))?;
            Ok(format!(
                "resealed {count} secrets with key {}; the key file {shown} holds it now (back it up)",
                new.key_id().unwrap_or_default()
            ))
        }
        KeySource::Config => {
            // Kept on disk before anything is resealed with it, so it cannot be lost.
            let kept = next_file(&secrets_key_file(settings));
            let shown = kept.display().to_string();
            write_key_file(&kept, &text, true)
                .map_err(|e| crate::seal::KeyError::File(shown.clone(), e))?;
            let count = store.reseal(&old, &new, false).await?;
            Ok(format!(
                "resealed {count} secrets with key {}. Set secrets.key (KONTRAGENT__SECRETS__KEY) \
                 to the new key before the next start, then delete {shown}, which holds it \
                 (mode 0600):\n{text}",
                new.key_id().unwrap_or_default()
            ))
        }
    }
}

/// Everything a check needs, without the HTTP server (the CLI's `check` uses this).
pub async fn build_services(settings: &Settings) -> Result<Services, StartupError> {
    let store = open_store(settings).await?;
    let policy = Policy::start(&settings.rules, Arc::clone(&store))
        .await
        .map_err(|e| policy_failed(&settings.rules.path, e))?;
    let monitoring_rules = Reloadable::<MonitoringPolicy>::start(
        PathBuf::from(&settings.monitoring.rules_path),
        Arc::clone(&store),
        Box::new(|_| Ok(())),
    )
    .await
    .map_err(|e| policy_failed(&settings.monitoring.rules_path, e))?;
    let sources = sources::build_sources(&settings.sources)?;
    let doctor =
        Arc::new(Doctor::new(&sources, &settings.sources).map_err(StartupError::ProbeInn)?);
    let keys = Arc::new(KeyService::new(Arc::clone(&store), &settings.auth));
    let catalog = Arc::new(CatalogService::new(
        Arc::clone(&store),
        settings.catalog.clone(),
        &settings.monitoring,
    ));
    let metrics = Arc::new(Metrics::default());
    let webhooks = WebhookService::start(
        &settings.webhooks,
        Arc::clone(&store),
        Arc::new(crate::outbound::SystemResolver),
    )
    .await
    .map_err(StartupError::Webhooks)?;
    let idempotency = Arc::new(IdempotencyService::new(Arc::clone(&store)));
    let links = crate::check::links::ReportLinks::load(
        Arc::clone(&store) as Arc<dyn crate::storage::WebhookStore>,
        settings.links.ttl_s,
    )
    .await?;
    let checks = Arc::new(CheckService::new(
        sources,
        SourceCache::new(settings),
        Arc::clone(&store),
        Arc::clone(policy.active()),
        settings,
        crate::check::CheckOutputs {
            webhooks: Arc::clone(&webhooks),
            metrics: Arc::clone(&metrics),
            links,
        },
    ));
    let bitrix24 = Arc::new(crate::integrations::bitrix24::Bitrix24::new(
        Arc::clone(&store),
        Arc::clone(webhooks.outbound()),
        Arc::clone(&checks),
        &settings.integrations.bitrix24,
        &settings.integrations.public_url,
    ));
    let amocrm = Arc::new(crate::integrations::amocrm::AmoCrm::new(
        Arc::clone(&store),
        Arc::clone(webhooks.outbound()),
        Arc::clone(&checks),
        &settings.integrations.amocrm,
        &settings.integrations.public_url,
    ));
    let applications = Arc::new(
        ApplicationService::new(
            store,
            Arc::clone(&checks),
            Arc::clone(&catalog),
            settings.applications.clone(),
            &settings.smtp,
            settings.display.tz(),
        )
        .map_err(StartupError::Applications)?,
    );
    let monitor = Arc::new(Monitor::new(
        Arc::clone(&catalog),
        Arc::clone(&checks),
        monitoring_rules,
        settings.monitoring.clone(),
        Arc::clone(&metrics),
    ));
    checks
        .follow_with(Arc::downgrade(&monitor) as std::sync::Weak<dyn crate::check::CheckFollower>);
    let batches = Arc::new(crate::check::batch::BatchService::new(
        Arc::clone(&checks),
        settings.check.batch_concurrency as usize,
    ));
    Ok(Services {
        metrics,
        batches,
        checks,
        policy,
        catalog,
        monitor,
        keys,
        webhooks,
        idempotency,
        applications,
        doctor,
        bitrix24,
        amocrm,
    })
}

/// Refuses to serve without keys on a network address; says so when serving open.
async fn guard_exposure(keys: &KeyService, host: &str) -> Result<(), StartupError> {
    match keys.mode() {
        AuthMode::Off => {
            tracing::warn!("auth.enabled=false: every route is open to anyone who can reach it");
        }
        AuthMode::On => {}
        AuthMode::Auto => {
            if !keys.required().await.map_err(StartupError::Keys)? {
                if !is_loopback(host) {
                    return Err(StartupError::OpenOnNetwork(host.to_owned()));
                }
                tracing::warn!(
                    "no API key was ever created: serving open on {host}; create one with `kontragent keys create` and every /v1 route will need it"
                );
            }
        }
    }
    Ok(())
}

/// `localhost`, `127.0.0.0/8` or `::1`.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
    checks: Arc<CheckService>,
    policy: Arc<Policy>,
    monitor: Arc<Monitor>,
    /// The scheduler and the file watchers, stopped when the server stops.
    background: Vec<tokio::task::JoinHandle<()>>,
    /// How long in-flight checks may take to finish at shutdown.
    drain: std::time::Duration,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        let Services {
            metrics,
            checks,
            batches,
            policy,
            catalog,
            monitor,
            keys,
            webhooks,
            idempotency,
            applications,
            doctor,
            bitrix24,
            amocrm,
        } = build_services(&settings).await?;
        guard_exposure(&keys, &settings.server.host).await?;
        // A robot call whose process stopped is answered again, once its check's deadline
        // has surely passed (a running instance would have answered it by then).
        let unanswered_before = chrono::Utc::now()
            - chrono::TimeDelta::milliseconds(settings.check.deadline_ms.saturating_mul(2) as i64);
        if let Err(e) = bitrix24.resume_unanswered(unanswered_before).await {
            tracing::error!(error = ?e, "cannot resume unanswered Bitrix24 robot calls");
        }
        if let Err(e) = checks.fail_abandoned().await {
            tracing::error!(error = ?e, "cannot mark abandoned checks failed");
        }
        // A running instance touches its batch at every finished check, well within this.
        let stalled =
            std::time::Duration::from_millis(settings.check.deadline_ms.saturating_mul(3));
        if let Err(e) = batches.end_stalled(stalled).await {
            tracing::error!(error = ?e, "cannot end the batches a stopped process left");
        }
        let mut background = Vec::new();
        if settings.monitoring.enabled {
            background.push(Arc::clone(&monitor).spawn());
        }
        if settings.webhooks.enabled {
            background.push(DeliveryWorker::new(Arc::clone(&webhooks)).spawn());
        }
        background.push(Arc::clone(&applications).spawn_sla());
        background.push(
            Arc::new(crate::integrations::follow::CatalogFollower::new(
                Arc::clone(checks.store()),
                Arc::clone(&checks),
                Arc::clone(&bitrix24),
                Arc::clone(&amocrm),
                std::time::Duration::from_millis(settings.integrations.follow_ms),
            ))
            .spawn(),
        );
        background.push(
            Arc::new(crate::retention::Retention::new(
                Arc::clone(checks.store()),
                Arc::clone(checks.documents()),
                settings.retention.clone(),
                Arc::clone(&metrics),
            ))
            .spawn(),
        );
        if settings.rules.watch_interval_ms > 0 {
            let every = std::time::Duration::from_millis(settings.rules.watch_interval_ms);
            background.push(policy.active().spawn_watch(every));
            background.push(monitor.policy().spawn_watch(every));
        }
        let drain = std::time::Duration::from_millis(settings.check.deadline_ms);
        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind(&address).map_err(|source| StartupError::Bind {
            address: address.clone(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind {
                address: address.clone(),
                source,
            })?
            .port();
        let json_limit = settings.server.max_body_bytes;
        let state = web::Data::new(AppState {
            checks: Arc::clone(&checks),
            batches,
            policy: Arc::clone(&policy),
            catalog,
            monitor: Arc::clone(&monitor),
            metrics,
            keys,
            webhooks,
            idempotency,
            applications,
            doctor,
            bitrix24,
            amocrm,
            limits: api::guard::RateLimits::new(&settings.limits),
            display_zone: settings.display.tz(),
        });
        let origins = web::Data::new(api::cors::AllowedOrigins(
            settings.cors.allowed_origins.clone(),
        ));
        let server = HttpServer::new(move || {
            let app = App::new()
                .app_data(state.clone())
                .app_data(origins.clone())
                .app_data(
                    web::JsonConfig::default()
                        .limit(json_limit)
                        .error_handler(api::errors::json_error),
                )
                .app_data(web::PathConfig::default().error_handler(api::errors::path_error))
                .app_data(web::PayloadConfig::default().limit(json_limit))
                // Innermost: a replayed answer is not audited again.
                .wrap(actix_web::middleware::from_fn(api::audit::trail))
                // Inside the guard: it needs the caller's key.
                .wrap(actix_web::middleware::from_fn(
                    api::idempotency::idempotency,
                ))
                .wrap(actix_web::middleware::from_fn(api::guard::guard))
                .wrap(actix_web::middleware::from_fn(api::cors::cors))
                .wrap(api::problem_for_bare_errors(json_limit))
                // First: the guard and the router read one spelling of the path.
                .wrap(actix_web::middleware::from_fn(api::path::normalize))
                .wrap(actix_web::middleware::from_fn(
                    api::language::in_request_language,
                ))
                .wrap(tracing_actix_web::TracingLogger::<
                    crate::telemetry::MaskedRootSpan,
                >::new())
                .into_utoipa_app();
            let (app, spec) = api::register(app);
            app.default_service(web::to(api::unmatched))
                .service(web::redirect("/docs", "/docs/"))
                .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", spec))
        })
        .listen(listener)
        .map_err(|source| StartupError::Bind { address, source })?
        .run();
        Ok(Application {
            port,
            server,
            checks,
            policy,
            monitor,
            background,
            drain,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn checks(&self) -> &Arc<CheckService> {
        &self.checks
    }

    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    pub fn monitor(&self) -> &Arc<Monitor> {
        &self.monitor
    }

    /// Serves until the server is stopped (SIGINT, SIGTERM), then shuts down gracefully:
    /// the background tasks stop, in-flight checks get up to the check deadline to
    /// finish, and those that do not are recorded `failed` — none is left `pending`.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        for task in &self.background {
            task.abort();
        }
        let interrupted = self.checks.drain(self.drain).await;
        if interrupted > 0 {
            tracing::warn!(
                interrupted,
                "checks still running at shutdown were marked failed"
            );
        }
        served
    }
}
