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
    ("GET", "/v1/checks/{id}", Scope::Checks),
    ("GET", "/v1/counterparties/{inn}", Scope::Checks),
    ("GET", "/v1/rules", Scope::RulesAdmin),
    ("GET", "/v1/rules/versions", Scope::RulesAdmin),
    ("POST", "/v1/rules/reload", Scope::RulesAdmin),
    ("POST", "/v1/rules/validate", Scope::RulesAdmin),
    ("POST", "/v1/rules/dry-run", Scope::RulesAdmin),
    ("POST", "/v1/catalog", Scope::CatalogWrite),
    ("GET", "/v1/catalog", Scope::CatalogRead),
    ("GET", "/v1/catalog/{inn}", Scope::CatalogRead),
    ("POST", "/v1/catalog/{inn}/status", Scope::CatalogWrite),
    ("POST", "/v1/catalog/{inn}/feedback", Scope::CatalogWrite),
    ("GET", "/v1/catalog/{inn}/events", Scope::CatalogRead),
    ("GET", "/v1/events", Scope::CatalogRead),
    ("POST", "/v1/monitoring/run", Scope::MonitoringAdmin),
    ("GET", "/v1/audit", Scope::Admin),
    ("GET", "/v1/public/catalog", Scope::Public),
    ("GET", "/metrics", Scope::Metrics),
];

static ROUTES: LazyLock<Vec<(&'static str, ResourceDef, Scope)>> = LazyLock::new(|| {
    ROUTE_SCOPES
        .iter()
        .map(|(method, path, scope)| (*method, ResourceDef::new(*path), *scope))
        .collect()
});

/// The scope a request needs, or `None` for an open path (health, docs, the spec).
pub fn scope_for(method: &str, path: &str) -> Option<Scope> {
    if !(path.starts_with("/v1/") || path == "/metrics") {
        return None;
    }
    let found = ROUTES
        .iter()
        .find(|(m, def, _)| *m == method && def.is_match(path))
        .map(|(_, _, scope)| *scope);
    Some(found.unwrap_or(Scope::Admin))
}

/// The key a request presents: `X-Api-Key`, or `Authorization: Bearer` (any case).
fn presented_key(req: &ServiceRequest) -> Option<&str> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    header("x-api-key").map(str::trim).or_else(|| {
        let value = header("authorization")?.trim();
        let (scheme, key) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
    })
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
    fn client_ip(&self, req: &ServiceRequest) -> String {
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
                req.extensions_mut().insert(principal);
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
