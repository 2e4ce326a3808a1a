//! Liveness and readiness.

use super::AppState;
use super::errors::{ApiError, Problem};
use crate::sources::doctor::SourcesHealth;
use actix_web::{HttpResponse, get, web};
use serde::Serialize;

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"status": "ok", "ruleset_version": "3a59f4cdaf8aee003911fe9a776bcb5e0fdf396fb77cf0fa143b17aeb8349929"}))]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
    /// The active ruleset's content hash (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ruleset_version: Option<String>,
}

/// The process is alive.
#[utoipa::path(tag = "health", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        ruleset_version: None,
    })
}

/// The database answers and a ruleset is loaded.
#[utoipa::path(tag = "health", responses(
    (status = 200, body = Health),
    (status = 503, description = "`not_ready`", body = Problem, content_type = "application/problem+json"),
))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.checks.ping().await.map_err(|e| {
        // The cause goes to the log only: a probe's answer says nothing internal.
        tracing::error!(error = ?e, "readiness: the database does not answer");
        ApiError::NotReady("the database does not answer".into())
    })?;
    let version = state.checks.rules().current().version.clone();
    Ok(HttpResponse::Ok().json(Health {
        status: "ready",
        ruleset_version: Some(version),
    }))
}

/// Prometheus metrics: checks by decision, registry flows by source and status (and their
/// time), monitoring passes, automatic catalog transitions, the active policy versions.
#[utoipa::path(tag = "health", responses((status = 200, description = "OpenMetrics text (Prometheus reads it), with latency histograms per source", body = String, content_type = "application/openmetrics-text")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let extra = format!(
        "# HELP kontragent_ruleset_info The active scoring ruleset and monitoring policy.\n\
         # TYPE kontragent_ruleset_info gauge\n\
         kontragent_ruleset_info{{kind=\"scoring\",version=\"{}\"}} 1\n\
         kontragent_ruleset_info{{kind=\"monitoring\",version=\"{}\"}} 1\n",
        state.policy.active().info().version,
        state.monitor.policy().current().version
    );
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.render(&extra))
}

/// Asks every enabled registry about `sources.probe_inn` (a large company every registry
/// knows) as a check would, past the rate limits and circuit breakers: which registries this
/// service's egress reaches, how fast, and why the others fail. Each call sends live
/// requests: this is for an operator, not for a load balancer.
#[utoipa::path(tag = "health", responses(
    (status = 200, body = SourcesHealth),
))]
#[get("/sources/health")]
pub async fn sources_health(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.doctor.examine().await)
}
