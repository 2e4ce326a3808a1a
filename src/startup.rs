//! The one wiring point: [`Application::build`] creates the store, the ruleset, the
//! sources, the caches, the check service and the HTTP server from the settings.
//! Tests call it with port 0 and run exactly what production runs.

use crate::api::{self, AppState};
use crate::cache::SourceCache;
use crate::catalog::CatalogService;
use crate::check::CheckService;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::monitoring::Monitor;
use crate::monitoring::policy::ActiveMonitoring;
use crate::policy::{Policy, PolicyError};
use crate::scoring::RuleError;
use crate::{sources, storage};
use actix_web::{App, HttpServer, web};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("the ruleset {path} is invalid:\n{}", list(.errors))]
    Rules {
        path: String,
        errors: Vec<RuleError>,
    },
    #[error("cannot open the database")]
    Store(#[from] storage::StoreError),
    #[error("cannot build the HTTP client")]
    Http(#[from] reqwest::Error),
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
    pub policy: Arc<Policy>,
    pub catalog: Arc<CatalogService>,
    pub monitor: Arc<Monitor>,
}

/// Everything a check needs, without the HTTP server (the CLI's `check` uses this).
pub async fn build_services(settings: &Settings) -> Result<Services, StartupError> {
    let store = storage::connect(&settings.database.url, settings.database.max_connections).await?;
    let policy = Policy::start(
        PathBuf::from(&settings.rules.path),
        settings.rules.default_profile.clone(),
        Arc::clone(&store),
    )
    .await
    .map_err(|e| match e {
        PolicyError::Invalid(errors) => StartupError::Rules {
            path: settings.rules.path.clone(),
            errors,
        },
        PolicyError::Store(s) => StartupError::Store(s),
        PolicyError::Replay(message) => StartupError::Rules {
            path: settings.rules.path.clone(),
            errors: vec![RuleError {
                too_costly: false,
                rule_id: None,
                line: None,
                message,
            }],
        },
    })?;
    let monitoring_rules = ActiveMonitoring::start(
        PathBuf::from(&settings.monitoring.rules_path),
        Arc::clone(&store),
    )
    .await
    .map_err(|e| match e {
        PolicyError::Invalid(errors) => StartupError::Rules {
            path: settings.monitoring.rules_path.clone(),
            errors,
        },
        PolicyError::Store(s) => StartupError::Store(s),
        PolicyError::Replay(message) => StartupError::Rules {
            path: settings.rules.path.clone(),
            errors: vec![RuleError {
                too_costly: false,
                rule_id: None,
                line: None,
                message,
            }],
        },
    })?;
    let sources = sources::build_sources(settings)?;
    let catalog = Arc::new(CatalogService::new(
        Arc::clone(&store),
        settings.catalog.clone(),
        &settings.monitoring,
    ));
    let metrics = Arc::new(Metrics::default());
    let checks = Arc::new(CheckService::new(
        sources,
        SourceCache::new(settings),
        store,
        Arc::clone(policy.active()),
        settings,
        Arc::clone(&metrics),
    ));
    let monitor = Arc::new(Monitor::new(
        Arc::clone(&catalog),
        Arc::clone(&checks),
        monitoring_rules,
        settings.monitoring.clone(),
        Arc::clone(&metrics),
    ));
    Ok(Services {
        metrics,
        checks,
        policy,
        catalog,
        monitor,
    })
}

pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
    checks: Arc<CheckService>,
    policy: Arc<Policy>,
    monitor: Arc<Monitor>,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        let Services {
            metrics,
            checks,
            policy,
            catalog,
            monitor,
        } = build_services(&settings).await?;
        if let Err(e) = checks.fail_abandoned().await {
            tracing::error!(error = ?e, "cannot mark abandoned checks failed");
        }
        if settings.monitoring.enabled {
            Arc::clone(&monitor).spawn();
        }
        if settings.rules.watch_interval_ms > 0 {
            let every = std::time::Duration::from_millis(settings.rules.watch_interval_ms);
            policy.spawn_watch(every);
            monitor.policy().spawn_watch(every);
        }
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
            policy: Arc::clone(&policy),
            catalog,
            monitor: Arc::clone(&monitor),
            metrics,
            settings,
        });
        let server = HttpServer::new(move || {
            let app = App::new()
                .app_data(state.clone())
                .app_data(
                    web::JsonConfig::default()
                        .limit(json_limit)
                        .error_handler(api::errors::json_error),
                )
                .wrap(api::problem_for_bare_errors())
                .wrap(tracing_actix_web::TracingLogger::default())
                .into_utoipa_app();
            let (app, spec) = api::register(app);
            let routes = web::Data::new(api::RouteTable::from_spec(&spec));
            app.app_data(routes)
                .default_service(web::to(api::unmatched))
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

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
