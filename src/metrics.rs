//! Operational counters for `/metrics`, in the Prometheus text format. Kept by hand (a few
//! counters and sums) rather than pulling a metrics stack in.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// A metric name with its labels, e.g. (`kontragent_checks_total`, `decision="approve"`).
type Key = (&'static str, String);

#[derive(Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<Key, f64>>,
}

/// What each metric means, for the `# HELP` lines.
const HELP: &[(&str, &str, &str)] = &[
    (
        "kontragent_checks_total",
        "counter",
        "Finished checks by decision.",
    ),
    (
        "kontragent_source_fetches_total",
        "counter",
        "Live registry flows by source and outcome status.",
    ),
    (
        "kontragent_source_fetch_seconds_total",
        "counter",
        "Time spent in live registry flows, by source.",
    ),
    (
        "kontragent_monitoring_passes_total",
        "counter",
        "Monitoring passes by outcome (ok, failed).",
    ),
    (
        "kontragent_catalog_transitions_total",
        "counter",
        "Automatic catalog status changes by target status.",
    ),
];

impl Metrics {
    pub fn add(&self, name: &'static str, labels: &[(&str, &str)], value: f64) {
        let labels = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
            .collect::<Vec<_>>()
            .join(",");
        let mut counters = match self.counters.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *counters.entry((name, labels)).or_default() += value;
    }

    pub fn inc(&self, name: &'static str, labels: &[(&str, &str)]) {
        self.add(name, labels, 1.0);
    }

    /// The exposition text; `extra` lines (gauges computed at scrape time) are appended.
    pub fn render(&self, extra: &str) -> String {
        let counters = match self.counters.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        let mut out = String::new();
        for (name, kind, help) in HELP {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for ((n, labels), value) in counters.iter().filter(|((n, _), _)| n == name) {
                if labels.is_empty() {
                    let _ = writeln!(out, "{n} {value}");
                } else {
                    let _ = writeln!(out, "{n}{{{labels}}} {value}");
                }
            }
        }
        out.push_str(extra);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Metrics;

    #[test]
    fn renders_counters_with_labels() {
        let m = Metrics::default();
        m.inc("kontragent_checks_total", &[("decision", "approve")]);
        m.inc("kontragent_checks_total", &[("decision", "approve")]);
        m.add(
            "kontragent_source_fetch_seconds_total",
            &[("source", "pb")],
            0.5,
        );
        let text = m.render("");
        assert!(
            text.contains("kontragent_checks_total{decision=\"approve\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("kontragent_source_fetch_seconds_total{source=\"pb\"} 0.5"),
            "{text}"
        );
        assert!(text.contains("# TYPE kontragent_checks_total counter"));
    }
}
