//! The one wiring point: [`Application::build`] creates the store, the ruleset, the
//! sources, the caches, the check service and the HTTP server from the settings.
//! Tests call it with port 0 and run exactly what production runs.

use crate::api::{self, AppState};
use crate::cache::SourceCache;
use crate::check::CheckService;
use crate::config::Settings;
use crate::scoring::{ActiveRules, RuleError, Ruleset};
use crate::{sources, storage};
use actix_web::{App, HttpServer, web};
use std::net::TcpListener;
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
    #[error("the ruleset has no profile `{0}` (rules.default_profile)")]
    DefaultProfile(String),
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

/// Loads and compiles the configured ruleset, refusing a bad file.
pub fn load_rules(settings: &Settings) -> Result<Ruleset, StartupError> {
    let path = &settings.rules.path;
    let ruleset =
        Ruleset::load_file(std::path::Path::new(path)).map_err(|errors| StartupError::Rules {
            path: path.clone(),
            errors,
        })?;
    if ruleset.profile(&settings.rules.default_profile).is_none() {
        return Err(StartupError::DefaultProfile(
            settings.rules.default_profile.clone(),
        ));
    }
    Ok(ruleset)
}

/// Everything a check needs, without the HTTP server (the CLI's `check` uses this).
pub async fn build_check_service(settings: &Settings) -> Result<Arc<CheckService>, StartupError> {
    let ruleset = load_rules(settings)?;
    let store = storage::connect(&settings.database.url, settings.database.max_connections).await?;
    let sources = sources::build_sources(settings)?;
    Ok(Arc::new(CheckService::new(
        sources,
        SourceCache::new(settings),
        store,
        Arc::new(ActiveRules::new(ruleset, settings.rules.path.clone())),
        settings.check.clone(),
        settings.rules.default_profile.clone(),
    )))
}

pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
    checks: Arc<CheckService>,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        let checks = build_check_service(&settings).await?;
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
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn checks(&self) -> &Arc<CheckService> {
        &self.checks
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
