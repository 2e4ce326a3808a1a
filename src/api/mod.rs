//! The HTTP API: handlers, the problem+json errors, auth, and the OpenAPI document
//! collected from the handlers themselves.

mod applications;
pub mod audit;
mod batches;
mod catalog;
mod checks;
pub mod cors;
mod counterparties;
pub mod errors;
pub mod guard;
mod health;
pub mod idempotency;
mod integrations;
pub mod json;
pub mod language;
pub mod path;
pub mod query;
mod reports;
pub mod routes;
pub mod rules;
pub mod webhooks;

use crate::check::CheckService;
use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use errors::ApiError;
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa_actix_web::{AppExt, scope};
use webhooks::Payloads as WebhookPayloads;

/// What every handler can reach.
pub struct AppState {
    pub checks: Arc<CheckService>,
    pub batches: Arc<crate::check::batch::BatchService>,
    pub policy: Arc<crate::policy::Policy>,
    pub catalog: Arc<crate::catalog::CatalogService>,
    pub monitor: Arc<crate::monitoring::Monitor>,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub keys: Arc<crate::auth::KeyService>,
    pub webhooks: Arc<crate::webhooks::WebhookService>,
    pub idempotency: Arc<crate::idempotency::IdempotencyService>,
    pub applications: Arc<crate::applications::ApplicationService>,
    pub doctor: Arc<crate::sources::doctor::Doctor>,
    pub bitrix24: Arc<crate::integrations::bitrix24::Bitrix24>,
    pub amocrm: Arc<crate::integrations::amocrm::AmoCrm>,
    pub limits: guard::RateLimits,
    /// The zone human outputs show times in (`display.timezone`).
    pub display_zone: chrono_tz::Tz,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "kontragent",
        description = "**Проверка контрагента в три клика.**\n\n\
1. **Authorize** (справа вверху): вставьте ключ API.\n\
2. Раскройте **POST /v1/checks**, нажмите **Try it out**, впишите ИНН в поле `inn` и нажмите **Execute**.\n\
3. Прочитайте ответ: `decision` — одобрить (`approve`), на проверку (`review`) или отклонить (`reject`), \
`reasons` — почему, `sources` — какие реестры проверены и какие нет.\n\n\
**Справка для печати и PDF** — ссылка `report_url` в ответе: \
`GET /v1/checks/{id}/report` (или `GET /v1/counterparties/{inn}/report` для последней проверки ИНН) — \
откройте её в браузере и сохраните как PDF.\n\nСписок ИНН из Excel: `kontragent batch` или `POST /v1/checks/batch`. \
В песочнице (`serve --sandbox`) примеры работают как есть: 7707083893 и 7701000019 одобряются, \
7701000058 — на проверку, 7701000026 — отклонить.\n\n\
Counterparty due diligence for Russian companies and entrepreneurs: \
give an INN, get approve / review / reject with the reasons and an honest \
account of which registries could not be checked. Reasons read in `Accept-Language` (`ru`, `en`).",
        license(name = "MIT")
    ),
    tags(
        (name = "checks", description = "Check a counterparty"),
        (name = "counterparties", description = "What is known about an INN"),
        (name = "catalog", description = "Approved contractors and their monitoring"),
        (name = "events", description = "The event feed: changes and status transitions, in order"),
        (name = "rules", description = "The scoring policy: versions, validation, dry-run, reload"),
        (name = "audit", description = "Who did what, and when"),
        (name = "applications", description = "The registration form's applications and their screening"),
        (name = "webhooks", description = "Subscriptions to the event feed, their secrets and deliveries"),
        (name = "integrations", description = "What CRMs call: the Bitrix24 application's install and robot handlers, amoCRM's account webhooks"),
        (name = "health", description = "Liveness and readiness"),
    ),
    components(schemas(errors::Problem, webhooks::EventMessage, webhooks::CheckCompletedMessage, webhooks::TestMessage)),
    modifiers(&SecuritySchemes, &WebhookPayloads)
)]
struct ApiDoc;

/// The two ways to present an API key, so Swagger UI's Authorize button offers them.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`Authorization: Bearer <key>`; the key from `kontragent keys create`",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Api-Key"))),
        );
    }
}

/// Registers every documented route on a utoipa-aware app and returns the spec with it.
pub fn register<T>(
    app: utoipa_actix_web::UtoipaApp<T>,
) -> (actix_web::App<T>, utoipa::openapi::OpenApi)
where
    T: actix_web::dev::ServiceFactory<
            ServiceRequest,
            Config = (),
            Error = actix_web::Error,
            InitError = (),
        >,
{
    let (app, mut spec) = app
        .openapi(ApiDoc::openapi())
        .service(health::healthz)
        .service(health::readyz)
        .service(health::metrics)
        .service(
            scope::scope("/v1")
                .service(checks::create_check)
                .service(checks::check_history)
                .service(batches::create_batch)
                .service(batches::get_batch)
                .service(checks::get_check)
                .service(reports::check_report)
                .service(reports::check_evidence)
                .service(counterparties::get_counterparty)
                .service(reports::counterparty_report)
                .service(health::sources_health)
                .service(rules::active_rules)
                .service(rules::versions::rule_versions)
                .service(rules::versions::rule_version)
                .service(rules::reload_rules)
                .service(rules::validate_rules)
                .service(rules::dry_run)
                .service(rules::monitoring_dry_run)
                .service(rules::versions::rules_diff)
                .service(rules::versions::rollback_rules)
                .service(rules::explain::explain)
                .service(catalog::list_contractor)
                .service(catalog::browse_catalog)
                .service(catalog::catalog_entry)
                .service(catalog::change_status)
                .service(catalog::add_feedback)
                .service(catalog::contractor_events)
                .service(catalog::events)
                .service(catalog::recheck)
                .service(catalog::run_monitoring)
                .service(catalog::monitoring_run)
                .service(catalog::public_catalog)
                .service(audit::audit)
                .service(applications::submit_application)
                .service(applications::list_applications)
                .service(applications::get_application)
                .service(applications::act)
                .service(webhooks::create_webhook)
                .service(webhooks::list_webhooks)
                .service(webhooks::get_webhook)
                .service(webhooks::patch_webhook)
                .service(webhooks::delete_webhook)
                .service(webhooks::rotate_secret)
                .service(webhooks::test_webhook)
                .service(webhooks::deliveries)
                .service(webhooks::retry_delivery)
                .service(webhooks::check_callbacks)
                .service(integrations::bitrix24_install)
                .service(integrations::bitrix24_robot)
                .service(integrations::amocrm_webhook),
        )
        .split_for_parts();
    guard::document(&mut spec);
    (app, spec)
}

/// The OpenAPI document, as served at `/openapi.json` and committed in `openapi/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    register(actix_web::App::new().into_utoipa_app()).1
}

/// Every operation of a spec as (method, path template).
pub fn operations(spec: &utoipa::openapi::OpenApi) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for (path, item) in &spec.paths.paths {
        for (method, present) in [
            ("GET", item.get.is_some()),
            ("POST", item.post.is_some()),
            ("PUT", item.put.is_some()),
            ("PATCH", item.patch.is_some()),
            ("DELETE", item.delete.is_some()),
            ("HEAD", item.head.is_some()),
            ("OPTIONS", item.options.is_some()),
        ] {
            if present {
                out.push((method, path.clone()));
            }
        }
    }
    out
}

/// The spec as pretty JSON with a trailing newline, the exact form committed.
pub fn openapi_json() -> String {
    let mut s = openapi().to_pretty_json().unwrap_or_default();
    s.push('\n');
    s
}

/// The app's default service. The guard answers every request the router cannot match
/// (404) or not for this method (405) before it gets here; this is the last resort.
pub async fn unmatched(req: actix_web::HttpRequest) -> HttpResponse {
    ApiError::NotFound(format!("no resource at {}", req.path())).error_response()
}

/// Turns actix's bare error answers (404, 405, and the 400/413/415 of extractors without an
/// error hook of their own) into problem documents.
pub fn problem_for_bare_errors(max_body_bytes: usize) -> ErrorHandlers<BoxBody> {
    fn rewrite(
        res: ServiceResponse<BoxBody>,
        error: ApiError,
    ) -> actix_web::Result<ErrorHandlerResponse<BoxBody>> {
        let is_problem = res
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
        if is_problem {
            return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
        }
        let (req, _) = res.into_parts();
        let response: HttpResponse = error.error_response();
        Ok(ErrorHandlerResponse::Response(
            ServiceResponse::new(req, response).map_into_right_body(),
        ))
    }
    ErrorHandlers::new()
        .handler(StatusCode::NOT_FOUND, |res| {
            let path = res.request().path().to_owned();
            rewrite(res, ApiError::NotFound(format!("no resource at {path}")))
        })
        .handler(StatusCode::METHOD_NOT_ALLOWED, |res| {
            rewrite(res, ApiError::MethodNotAllowed)
        })
        // Extractors without an error hook of their own (raw bodies, text bodies).
        .handler(StatusCode::BAD_REQUEST, |res| {
            rewrite(res, ApiError::MalformedBody)
        })
        .handler(StatusCode::PAYLOAD_TOO_LARGE, move |res| {
            rewrite(res, ApiError::BodyTooLarge(max_body_bytes))
        })
        .handler(StatusCode::UNSUPPORTED_MEDIA_TYPE, |res| {
            rewrite(res, ApiError::UnsupportedMediaType)
        })
        // An extractor's or actix's own 500 (a missing extension, say) is a problem too.
        .handler(StatusCode::INTERNAL_SERVER_ERROR, |res| {
            rewrite(res, ApiError::Internal("an internal error".into()))
        })
}
