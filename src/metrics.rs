//! Operational metrics for `/metrics` (OpenMetrics text, which Prometheus reads), kept by
//! `prometheus-client`: typed counters, and per-source latency histograms.

use crate::domain::Decision;
use crate::domain::catalog::CatalogStatus;
use crate::sources::SourceStatus;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Label pairs of one series.
type Labels = Vec<(&'static str, String)>;

/// Buckets of a registry flow's duration: 50 ms to about 25 s.
fn flow_seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.05, 2.0, 10))
}

pub struct Metrics {
    registry: Registry,
    checks: Family<Labels, Counter>,
    source_fetches: Family<Labels, Counter>,
    source_fetch_seconds: Family<Labels, Histogram, fn() -> Histogram>,
    monitoring_passes: Family<Labels, Counter>,
    catalog_transitions: Family<Labels, Counter>,
    storage: Family<Labels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let checks = Family::<Labels, Counter>::default();
        let source_fetches = Family::<Labels, Counter>::default();
        let source_fetch_seconds =
            Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(flow_seconds);
        let monitoring_passes = Family::<Labels, Counter>::default();
        let catalog_transitions = Family::<Labels, Counter>::default();
        let storage = Family::<Labels, Gauge>::default();
        let mut registry = Registry::default();
        registry.register(
            "kontragent_storage",
            "Rows and bytes of what grows with use (checks, snapshots, evidence), as of the last retention pass",
            storage.clone(),
        );
        // Counters are exposed with the `_total` suffix.
        registry.register(
            "kontragent_checks",
            "Finished checks by decision",
            checks.clone(),
        );
        registry.register(
            "kontragent_source_fetches",
            "Live registry flows by source and outcome status",
            source_fetches.clone(),
        );
        registry.register(
            "kontragent_source_fetch_seconds",
            "Duration of live registry flows, by source",
            source_fetch_seconds.clone(),
        );
        registry.register(
            "kontragent_monitoring_passes",
            "Monitoring passes by outcome (ok, failed)",
            monitoring_passes.clone(),
        );
        registry.register(
            "kontragent_catalog_transitions",
            "Automatic catalog status changes by target status",
            catalog_transitions.clone(),
        );
        Metrics {
            registry,
            checks,
            source_fetches,
            source_fetch_seconds,
            monitoring_passes,
            catalog_transitions,
            storage,
        }
    }
}

impl Metrics {
    pub fn check_done(&self, decision: Decision) {
        self.checks
            .get_or_create(&vec![("decision", decision.as_str().to_owned())])
            .inc();
    }

    /// A live flow of `source` ended with `status` after `seconds`.
    pub fn source_fetched(&self, source: &str, status: SourceStatus, seconds: f64) {
        self.source_fetches
            .get_or_create(&vec![
                ("source", source.to_owned()),
                ("status", status.as_str().to_owned()),
            ])
            .inc();
        self.source_fetch_seconds
            .get_or_create(&vec![("source", source.to_owned())])
            .observe(seconds);
    }

    /// A monitoring pass ended: `ok` or `failed`.
    pub fn monitoring_pass(&self, outcome: &'static str) {
        self.monitoring_passes
            .get_or_create(&vec![("outcome", outcome.to_owned())])
            .inc();
    }

    /// A size the retention pass read (`checks`, `check_bytes`, `evidence_bytes`…).
    pub fn storage_size(&self, what: &str, value: i64) {
        self.storage
            .get_or_create(&vec![("what", what.to_owned())])
            .set(value);
    }

    pub fn catalog_transition(&self, to: CatalogStatus) {
        self.catalog_transitions
            .get_or_create(&vec![("to", to.as_str().to_owned())])
            .inc();
    }

    /// The exposition text; `extra` lines (gauges computed at scrape time) go before the
    /// closing `# EOF`.
    pub fn render(&self, extra: &str) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        let body = out.strip_suffix("# EOF\n").unwrap_or(&out).to_owned();
        format!("{body}{extra}# EOF\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms_with_labels() {
        let m = Metrics::default();
        m.check_done(Decision::Approve);
        m.check_done(Decision::Approve);
        m.source_fetched("pb", SourceStatus::Ok, 0.5);
        m.monitoring_pass("ok");
        m.catalog_transition(CatalogStatus::Suspended);
        let text = m.render("kontragent_extra 1\n");
        for line in [
            "kontragent_checks_total{decision=\"approve\"} 2",
            "kontragent_source_fetches_total{source=\"pb\",status=\"ok\"} 1",
            "kontragent_source_fetch_seconds_sum{source=\"pb\"} 0.5",
            "kontragent_source_fetch_seconds_count{source=\"pb\"} 1",
            "kontragent_source_fetch_seconds_bucket{le=\"0.8\",source=\"pb\"} 1",
            "kontragent_monitoring_passes_total{outcome=\"ok\"} 1",
            "kontragent_catalog_transitions_total{to=\"suspended\"} 1",
            "# TYPE kontragent_checks counter",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
        assert!(text.ends_with("kontragent_extra 1\n# EOF\n"), "{text}");
    }
}
