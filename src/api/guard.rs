//! The door of the API: which scope each route needs, who the caller is (API key), and
//! how much one caller may ask for (rate limits). Runs before every handler under `/v1`
//! and on `/metrics`; health, docs and the spec stay open for probes and people.

use super::AppState;
use super::errors::ApiError;
use super::routes::{self, Access, Route};
use crate::auth::{Denied, Scope};
use crate::check::budget::{Budget, OverBudget};
use crate::check::links::Opened;
use crate::config::LimitsSettings;
use crate::domain::Language;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};

/// The scope an operation of the spec needs, or `None` for an open one (and one the
/// table does not know, which the guard refuses).
pub fn scope_for(method: &str, pattern: &str) -> Option<Scope> {
    match routes::find(method, pattern)?.access {
        Access::Key(scope) | Access::KeyOrLink(scope) => Some(scope),
        Access::Open | Access::Integration => None,
    }
}

/// The route the guard matched, for the middleware inside it (idempotency).
#[derive(Debug, Clone, Copy)]
pub struct MatchedRoute(pub &'static Route);

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

/// Calls to the public routes per client IP. (Checks per caller are the check service's
/// budget, taken by every handler that starts one: `check::budget`.)
pub struct RateLimits {
    public: Budget,
    client_ip_header: Option<String>,
}

impl RateLimits {
    pub fn new(settings: &LimitsSettings) -> RateLimits {
        RateLimits {
            public: Budget::new(settings.public_per_minute),
            client_ip_header: Some(settings.client_ip_header.trim().to_owned())
                .filter(|h| !h.is_empty()),
        }
    }

    /// Over the limit for this request: retry after the seconds it says.
    fn admit(&self, req: &ServiceRequest, route: &Route) -> Result<(), OverBudget> {
        match route.access {
            Access::Key(Scope::Public) => self.public.admit(&self.client_ip(req), 1),
            _ => Ok(()),
        }
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
/// 404 (no route), 405 (not this method), 401, 403 or 429. Runs after [`super::path`], on
/// the route the router matches: a request reaches a handler only through a declared route.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let refuse = |req: ServiceRequest, e: ApiError| Ok(req.into_response(e.error_response()));
    let Some(pattern) = req.match_pattern() else {
        let e = ApiError::NotFound(format!("no resource at {}", req.path()));
        return refuse(req, e);
    };
    let Some(route) = routes::find(req.method().as_str(), &pattern) else {
        let allowed = routes::methods(&pattern);
        if allowed.is_empty() {
            tracing::error!(%pattern, "a route with no line in api::routes: refused");
            let e = ApiError::Refused {
                status: 403,
                code: "forbidden",
                message: "this route declares no access".into(),
            };
            return refuse(req, e);
        }
        let mut response = ApiError::MethodNotAllowed.error_response();
        if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&allowed.join(", ")) {
            response
                .headers_mut()
                .insert(actix_web::http::header::ALLOW, value);
        }
        return Ok(req.into_response(response));
    };
    req.extensions_mut().insert(MatchedRoute(route));
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return refuse(req, ApiError::Internal("no application state".into()));
    };
    let scope = match route.access {
        Access::Key(scope) => scope,
        Access::KeyOrLink(scope) => match link_of(&req, &state).await {
            None => scope,
            Some(Opened::Valid) => {
                return next
                    .call(req)
                    .await
                    .map(ServiceResponse::map_into_boxed_body);
            }
            // A person who clicked an old or damaged link reads why, not a 401.
            Some(closed) if presented_key(&req).is_none() => {
                let page =
                    crate::report::closed_link(closed, link_language(&req), state.display_zone);
                let response = actix_web::HttpResponse::Forbidden()
                    .content_type("text/html; charset=utf-8")
                    .body(page);
                return Ok(req.into_response(response));
            }
            Some(_) => scope,
        },
        Access::Open | Access::Integration => {
            return next
                .call(req)
                .await
                .map(ServiceResponse::map_into_boxed_body);
        }
    };
    let refused = match state.keys.authorize(presented_key(&req), scope).await {
        Err(e) => ApiError::internal(e),
        Ok(Err(Denied::Unauthorized)) => ApiError::Unauthorized,
        Ok(Err(Denied::Forbidden(scope))) => ApiError::Forbidden(scope.as_str()),
        Ok(Ok(principal)) => match state.limits.admit(&req, route) {
            Ok(()) => {
                let ip = ClientIp(state.limits.client_ip(&req));
                req.extensions_mut().insert(principal);
                req.extensions_mut().insert(ip);
                return next
                    .call(req)
                    .await
                    .map(ServiceResponse::map_into_boxed_body);
            }
            Err(over) => over.into(),
        },
    };
    refuse(req, refused)
}

/// What the request's signed link says (`exp` and `sig` in the query sign the check id in
/// the path, `/v1/checks/{id}/report`), or `None` when it carries no signature.
async fn link_of(req: &ServiceRequest, state: &AppState) -> Option<Opened> {
    let mut exp = None;
    let mut sig = None;
    for (name, value) in form_urlencoded::parse(req.query_string().as_bytes()) {
        match &*name {
            "exp" => exp = Some(value.into_owned()),
            "sig" => sig = Some(value.into_owned()),
            _ => {}
        }
    }
    let sig = sig?;
    let id = req.path().split('/').nth(3).unwrap_or_default();
    let exp = exp.unwrap_or_default();
    Some(
        state
            .checks
            .links()
            .open(id, &exp, &sig, chrono::Utc::now())
            .await,
    )
}

/// The language of a link's refusal page: `?lang=`, else `Accept-Language`, else Russian.
fn link_language(req: &ServiceRequest) -> Language {
    form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(name, _)| name == "lang")
        .and_then(|(_, code)| Language::parse(&code))
        .or_else(|| {
            req.headers()
                .get(actix_web::http::header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Language::from_accept)
        })
        .unwrap_or(Language::Ru)
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
            // An answer the operation declares in another form (a page) gets the problem too.
            let mut add = |code: &str, description: &str| {
                let declared = responses
                    .entry(code.to_owned())
                    .or_insert_with(|| problem(description));
                if let (RefOr::T(declared), RefOr::T(ours)) = (declared, problem(description)) {
                    for (kind, content) in ours.content {
                        declared.content.entry(kind).or_insert(content);
                    }
                }
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
            if routes::find(method, path).is_some_and(|r| r.idempotent) {
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
            let route = routes::find(method, path);
            if route.is_some_and(|r| r.starts_checks) {
                add(
                    "429",
                    "`rate_limited`: the caller's checks per minute (`limits.checks_per_minute`) \
                     are spent, or would be by this request (refused whole); retry after \
                     `Retry-After` seconds",
                );
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
            if scope == Scope::Public {
                add(
                    "429",
                    "`rate_limited`: this client IP's calls per minute; retry after \
                     `Retry-After` seconds",
                );
            }
            op.security = Some(vec![
                SecurityRequirement::new("bearer", Vec::<String>::new()),
                SecurityRequirement::new("api_key", Vec::<String>::new()),
            ]);
            let mut note = format!("\n\nScope: `{}` (or `admin`).", scope.as_str());
            if route.is_some_and(|r| matches!(r.access, Access::KeyOrLink(_))) {
                note.push_str(
                    " Or no key with `sig`: the signed link in a check's `report_url` opens \
                     its report in a browser.",
                );
            }
            op.description = Some(op.description.take().unwrap_or_default() + &note);
        }
    }
}
