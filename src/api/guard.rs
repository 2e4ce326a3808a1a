//! The door of the API: which scope each route needs, who the caller is (API key), and
//! how much one caller may ask for (rate limits). Runs before every handler under `/v1`
//! and on `/metrics`; health, docs and the spec stay open for probes and people.

use super::AppState;
use super::errors::ApiError;
use crate::auth::{Denied, Principal, Scope};
use crate::config::LimitsSettings;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ResourceDef, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The scope each route needs. A protected path not listed here needs `admin`: a route
/// added without a line here fails closed.
pub const ROUTE_SCOPES: &[(&str, &str, Scope)] = &[
    ("POST", "/v1/checks", Scope::Checks),
    ("GET", "/v1/checks", Scope::Checks),
    ("GET", "/v1/checks/{id}", Scope::Checks),
    ("POST", "/v1/checks/batch", Scope::Checks),
    ("GET", "/v1/batches/{id}", Scope::Checks),
    ("GET", "/v1/counterparties/{inn}", Scope::Checks),
    ("GET", "/v1/rules", Scope::RulesAdmin),
    ("GET", "/v1/rules/versions", Scope::RulesAdmin),
    ("GET", "/v1/rules/versions/{version}", Scope::RulesAdmin),
    ("POST", "/v1/rules/reload", Scope::RulesAdmin),
    ("POST", "/v1/rules/validate", Scope::RulesAdmin),
    ("POST", "/v1/rules/dry-run", Scope::RulesAdmin),
    ("POST", "/v1/rules/dry-run/monitoring", Scope::RulesAdmin),
    ("GET", "/v1/rules/diff", Scope::RulesAdmin),
    ("POST", "/v1/rules/rollback", Scope::RulesAdmin),
    ("POST", "/v1/catalog", Scope::CatalogWrite),
    ("GET", "/v1/catalog", Scope::CatalogRead),
    ("GET", "/v1/catalog/{inn}", Scope::CatalogRead),
    ("POST", "/v1/catalog/{inn}/status", Scope::CatalogWrite),
    ("POST", "/v1/catalog/{inn}/feedback", Scope::CatalogWrite),
    ("POST", "/v1/catalog/{inn}/recheck", Scope::CatalogWrite),
    ("GET", "/v1/catalog/{inn}/events", Scope::CatalogRead),
    ("GET", "/v1/events", Scope::CatalogRead),
    ("POST", "/v1/monitoring/run", Scope::MonitoringAdmin),
    ("GET", "/v1/monitoring/runs/{id}", Scope::MonitoringAdmin),
    ("GET", "/v1/audit", Scope::Admin),
    ("GET", "/v1/sources/health", Scope::Admin),
    ("POST", "/v1/webhooks", Scope::WebhooksAdmin),
    ("GET", "/v1/webhooks", Scope::WebhooksAdmin),
    ("GET", "/v1/webhooks/{id}", Scope::WebhooksAdmin),
    ("PATCH", "/v1/webhooks/{id}", Scope::WebhooksAdmin),
    ("DELETE", "/v1/webhooks/{id}", Scope::WebhooksAdmin),
    (
        "POST",
        "/v1/webhooks/{id}/rotate-secret",
        Scope::WebhooksAdmin,
    ),
    ("POST", "/v1/webhooks/{id}/test", Scope::WebhooksAdmin),
    ("GET", "/v1/webhooks/{id}/deliveries", Scope::WebhooksAdmin),
    (
        "POST",
        "/v1/webhooks/{id}/deliveries/{delivery_id}/retry",
        Scope::WebhooksAdmin,
    ),
    ("GET", "/v1/checks/{id}/callbacks", Scope::Checks),
    ("GET", "/v1/checks/{id}/report", Scope::Checks),
    ("GET", "/v1/checks/{id}/evidence", Scope::Checks),
    ("GET", "/v1/counterparties/{inn}/report", Scope::Checks),
    ("GET", "/v1/public/catalog", Scope::Public),
    ("POST", "/v1/public/applications", Scope::Public),
    ("GET", "/v1/applications", Scope::Applications),
    ("GET", "/v1/applications/{id}", Scope::Applications),
    ("POST", "/v1/applications/{id}/actions", Scope::Applications),
    ("GET", "/metrics", Scope::Metrics),
];

static ROUTES: LazyLock<Vec<(&'static str, ResourceDef, Scope)>> = LazyLock::new(|| {
    ROUTE_SCOPES
        .iter()
        .map(|(method, path, scope)| (*method, ResourceDef::new(*path), *scope))
        .collect()
});

/// Routes that take no API key: their caller proves itself another way (a Bitrix24 portal
/// with its own tokens, an amoCRM account with the token in the URL; see
/// `api::integrations`).
pub const OPEN_ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/integrations/bitrix24/install"),
    ("POST", "/v1/integrations/bitrix24/robot"),
    ("POST", "/v1/integrations/amocrm/webhook/{token}"),
];

static OPEN: LazyLock<Vec<(&'static str, ResourceDef)>> = LazyLock::new(|| {
    OPEN_ROUTES
        .iter()
        .map(|(method, path)| (*method, ResourceDef::new(*path)))
        .collect()
});

/// The scope a request needs, or `None` for an open path (health, docs, the spec, and
/// [`OPEN_ROUTES`]).
pub fn scope_for(method: &str, path: &str) -> Option<Scope> {
    if !(path.starts_with("/v1/") || path == "/metrics")
        || OPEN
            .iter()
            .any(|(m, def)| *m == method && def.is_match(path))
    {
        return None;
    }
    let found = ROUTES
        .iter()
        .find(|(m, def, _)| *m == method && def.is_match(path))
        .map(|(_, _, scope)| *scope);
    Some(found.unwrap_or(Scope::Admin))
}

/// The key a request presents: `X-Api-Key`, or `Authorization: Bearer` (any case).
/// Two different keys in one request present none: the caller must say which it means.
fn presented_key(req: &ServiceRequest) -> Option<&str> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let api_key = header("x-api-key").map(str::trim);
    let bearer = header("authorization").map(|value| {
        value
            .trim()
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map_or("", |(_, key)| key.trim())
    });
    match (api_key, bearer) {
        (Some(a), Some(b)) if a != b => None,
        (Some(a), _) => Some(a),
        (None, b) => b,
    }
}

/// Per-caller rate limits: checks per API key, public calls per client IP.
pub struct RateLimits {
    checks: Option<DefaultKeyedRateLimiter<String>>,
    public: Option<DefaultKeyedRateLimiter<String>>,
    client_ip_header: Option<String>,
    calls: AtomicU64,
}

fn per_minute(n: u32) -> Option<DefaultKeyedRateLimiter<String>> {
    NonZeroU32::new(n).map(|n| RateLimiter::keyed(Quota::per_minute(n)))
}

impl RateLimits {
    pub fn new(settings: &LimitsSettings) -> RateLimits {
        RateLimits {
            checks: per_minute(settings.checks_per_minute),
            public: per_minute(settings.public_per_minute),
            client_ip_header: Some(settings.client_ip_header.trim().to_owned())
                .filter(|h| !h.is_empty()),
            calls: AtomicU64::new(0),
        }
    }

    /// `Err` with the seconds to wait when the caller is over its limit for this request.
    fn admit(&self, req: &ServiceRequest, principal: &Principal) -> Result<(), u64> {
        // Forget idle callers now and then, so the per-IP table does not grow forever.
        if self.calls.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            for limiter in [&self.checks, &self.public].into_iter().flatten() {
                limiter.retain_recent();
            }
        }
        let path = req.path();
        let (limiter, key) = if req.method() == "POST" && path == "/v1/checks" {
            (&self.checks, principal.limit_key())
        } else if path.starts_with("/v1/public/") {
            (&self.public, self.client_ip(req))
        } else {
            return Ok(());
        };
        let Some(limiter) = limiter else {
            return Ok(());
        };
        limiter.check_key(&key).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            wait.as_secs() + 1
        })
    }

    /// The client's IP: the configured header's last entry (set by the proxy in front),
    /// else the peer address.
    pub fn client_ip(&self, req: &ServiceRequest) -> String {
        let from_header = self.client_ip_header.as_deref().and_then(|name| {
            let value = req.headers().get(name)?.to_str().ok()?;
            value
                .rsplit(',')
                .next()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        });
        from_header
            .or_else(|| req.peer_addr().map(|a| a.ip().to_string()))
            .unwrap_or_default()
    }
}

/// The client's IP as the rate limits see it (for handlers: the website form's spam limits).
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

/// Lets a request through with its [`Principal`] in the request's extensions, or answers
/// 401, 403 or 429.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(scope) = scope_for(req.method().as_str(), req.path()) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let refused = match state.keys.authorize(presented_key(&req), scope).await {
        Err(e) => ApiError::internal(e),
        Ok(Err(Denied::Unauthorized)) => ApiError::Unauthorized,
        Ok(Err(Denied::Forbidden(scope))) => ApiError::Forbidden(scope.as_str()),
        Ok(Ok(principal)) => match state.limits.admit(&req, &principal) {
            Ok(()) => {
                let ip = ClientIp(state.limits.client_ip(&req));
                req.extensions_mut().insert(principal);
                req.extensions_mut().insert(ip);
                return next
                    .call(req)
                    .await
                    .map(ServiceResponse::map_into_boxed_body);
            }
            Err(retry_after_s) => ApiError::RateLimited { retry_after_s },
        },
    };
    let response = refused.error_response();
    Ok(req.into_response(response))
}

/// Documents the guard in the spec: each protected operation names its scope, takes a
/// key (`security`), and lists the answers the guard and the extractors may give before
/// its handler runs (401, 403, 429; 400, 413, 415 for a body; 400 for a query).
pub fn document(spec: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::security::SecurityRequirement;
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let problem = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build(),
        )
    };
    for (path, item) in spec.paths.paths.iter_mut() {
        for (method, operation) in [
            ("GET", item.get.as_mut()),
            ("POST", item.post.as_mut()),
            ("PATCH", item.patch.as_mut()),
            ("DELETE", item.delete.as_mut()),
        ] {
            let Some(op) = operation else { continue };
            let responses = &mut op.responses.responses;
            let mut add = |code: &str, description: &str| {
                responses
                    .entry(code.to_owned())
                    .or_insert_with(|| problem(description));
            };
            let has_query =
                op.parameters.iter().flatten().any(
                    |p| matches!(p, RefOr::T(p) if matches!(p.parameter_in, ParameterIn::Query)),
                );
            if op.request_body.is_some() {
                add(
                    "400",
                    "`malformed_json`, `malformed_body` or `unknown_field`",
                );
                add("413", "`body_too_large`");
                add("415", "`unsupported_media_type`");
            } else if has_query {
                add("400", "`invalid_query`, with the parameter in `field`");
            }
            if path.contains('{') {
                add("404", "`not_found`");
            }
            if path.contains("{inn}") {
                add("422", "`inn_digits`, `inn_length`, `inn_checksum`");
            }
            if super::idempotency::honours_key(method, path) {
                add(
                    "409",
                    "`idempotency_conflict`: the first request with this key still runs",
                );
                add(
                    "422",
                    "`idempotency_key_reused`: the key came with another request",
                );
                op.parameters.get_or_insert_with(Vec::new).push(RefOr::T(
                    utoipa::openapi::path::ParameterBuilder::new()
                        .name("Idempotency-Key")
                        .parameter_in(ParameterIn::Header)
                        .required(utoipa::openapi::Required::False)
                        .description(Some(
                            "Retry safely: the same key with the same request within 24 h \
                             gets the first response again (`Idempotency-Replayed: true`)",
                        ))
                        .schema(Some(
                            utoipa::openapi::ObjectBuilder::new()
                                .schema_type(utoipa::openapi::schema::Type::String)
                                .min_length(Some(1))
                                .max_length(Some(255))
                                .pattern(Some("^[!-~]+$")),
                        ))
                        .build(),
                ));
            }
            let Some(scope) = scope_for(method, path) else {
                op.security = Some(Vec::new());
                continue;
            };
            add(
                "401",
                "`unauthorized`: no key, or an unknown or revoked one",
            );
            add("403", "`forbidden`: the key lacks the scope");
            if method == "POST" && path == "/v1/checks" || path.starts_with("/v1/public/") {
                add("429", "`rate_limited`; retry after `Retry-After` seconds");
            }
            op.security = Some(vec![
                SecurityRequirement::new("bearer", Vec::<String>::new()),
                SecurityRequirement::new("api_key", Vec::<String>::new()),
            ]);
            let note = format!("\n\nScope: `{}` (or `admin`).", scope.as_str());
            op.description = Some(op.description.take().unwrap_or_default() + &note);
        }
    }
}
