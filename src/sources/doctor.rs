//! `kontragent doctor` and `GET /v1/sources/health`: every enabled registry asked about one
//! INN that every registry knows (`sources.probe_inn`), as a check would ask, so an operator
//! sees at once which registries their egress (or proxy) reaches and why the others fail.

use super::settings::SourcesSettings;
use super::{ConfiguredSource, SourceStatus};
use crate::domain::Inn;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;

/// One registry's answer to the probe.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"source": "pb", "status": "unavailable", "detail": "http_500", "latency_ms": 1840, "proxy": false}))]
pub struct SourceHealth {
    #[schema(example = "pb")]
    pub source: String,
    pub status: SourceStatus,
    /// The reason a check would report (`captcha`, `http_451`, `cookie_expired`, `timeout`…).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "http_500")]
    pub detail: Option<String>,
    /// How long the whole flow took (every request and poll).
    #[schema(example = 1840)]
    pub latency_ms: u64,
    /// Whether the registry is reached through a proxy (its address is never shown).
    pub proxy: bool,
}

/// Every registry's answer, in the registries' order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"probe_inn": "7707083893", "checked_at": "2026-12-02T09:00:00Z", "reachable": 3, "sources": [
    {"source": "egrul", "status": "ok", "latency_ms": 912, "proxy": false},
    {"source": "pb", "status": "unavailable", "detail": "http_500", "latency_ms": 1840, "proxy": false},
    {"source": "kad", "status": "unavailable", "detail": "cookie_expired", "latency_ms": 320, "proxy": true}]}))]
pub struct SourcesHealth {
    #[schema(example = "7707083893")]
    pub probe_inn: String,
    pub checked_at: DateTime<Utc>,
    /// Registries that answered usably (`ok` or `not_found`).
    #[schema(example = 3)]
    pub reachable: usize,
    pub sources: Vec<SourceHealth>,
}

pub struct Doctor {
    sources: Vec<(Arc<ConfiguredSource>, bool)>,
    probe_inn: Inn,
}

impl Doctor {
    /// The doctor of `sources` as `settings` configure them (`sources.probe_inn`, proxies).
    pub fn new(
        sources: &[Arc<ConfiguredSource>],
        settings: &SourcesSettings,
    ) -> Result<Doctor, String> {
        let probe_inn =
            Inn::parse(&settings.probe_inn).map_err(|e| format!("sources.probe_inn: {e}"))?;
        let sources = sources
            .iter()
            .map(|s| (Arc::clone(s), settings.proxy_of(s.name()).is_some()))
            .collect();
        Ok(Doctor { sources, probe_inn })
    }

    /// Asks every enabled registry at once; a disabled one is listed as `disabled`.
    pub async fn examine(&self) -> SourcesHealth {
        let checked_at = super::now_ms();
        let probes = self.sources.iter().map(|(source, proxy)| async move {
            let (report, took) = source.probe(&self.probe_inn).await;
            SourceHealth {
                source: report.source,
                status: report.status,
                detail: report.detail,
                latency_ms: took.as_millis() as u64,
                proxy: *proxy,
            }
        });
        let sources = futures::future::join_all(probes).await;
        SourcesHealth {
            probe_inn: self.probe_inn.as_str().to_owned(),
            checked_at,
            reachable: sources
                .iter()
                .filter(|s| matches!(s.status, SourceStatus::Ok | SourceStatus::NotFound))
                .count(),
            sources,
        }
    }
}
