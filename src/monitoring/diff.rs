//! What changed between two dossiers of a contractor, as typed events.

use crate::facts::Facts;
use serde_json::{Value, json};

pub use crate::domain::events::EVENT_KINDS;

/// A detected change: its kind and what to say about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub kind: &'static str,
    pub payload: Value,
}

fn value<'a>(facts: &'a Facts, name: &str) -> &'a Value {
    facts.get(name).map_or(&Value::Null, |f| &f.value)
}

fn became_true(before: &Facts, after: &Facts, name: &str) -> bool {
    value(after, name) == &json!(true) && value(before, name) != &json!(true)
}

/// Updates how long each source has been failing for a contractor, and reports a source
/// that has failed at every re-check for at least `threshold` (once per stretch).
pub fn unavailable_sources(
    tracked: &mut std::collections::BTreeMap<String, crate::catalog::UnavailableSince>,
    after: &Facts,
    now: chrono::DateTime<chrono::Utc>,
    threshold: chrono::Duration,
) -> Vec<Change> {
    let mut out = Vec::new();
    for name in crate::sources::source_names() {
        let failing = value(after, &format!("sources.{name}.status")) == &json!("unavailable");
        if !failing {
            tracked.remove(name);
            continue;
        }
        let stretch =
            tracked
                .entry((*name).to_owned())
                .or_insert(crate::catalog::UnavailableSince {
                    since: now,
                    reported: false,
                });
        if !stretch.reported && now - stretch.since >= threshold {
            stretch.reported = true;
            out.push(Change {
                kind: "source_unavailable",
                payload: json!({"source": name, "since": stretch.since,
                                "detail": value(after, &format!("sources.{name}.detail"))}),
            });
        }
    }
    out
}

/// Compares the previous dossier (facts and decision) with the new one.
pub fn changes(
    before: Option<(&Facts, Option<&str>)>,
    after: &Facts,
    decision: &str,
) -> Vec<Change> {
    let empty = Facts::new();
    let (before, previous_decision) = before.unwrap_or((&empty, None));
    let mut out = Vec::new();
    if let Some(prev) = previous_decision
        && prev != decision
    {
        out.push(Change {
            kind: "decision_changed",
            payload: json!({"from": prev, "to": decision}),
        });
    }
    let (was, now) = (
        value(before, "company.status"),
        value(after, "company.status"),
    );
    if !before.is_empty() && was != now && !now.is_null() {
        out.push(Change {
            kind: "company_status_changed",
            payload: json!({"from": was, "to": now, "text": value(after, "company.status_text")}),
        });
    }
    if became_true(before, after, "bankruptcy.active") {
        out.push(Change {
            kind: "bankruptcy_opened",
            payload: json!({"case_number": value(after, "bankruptcy.case_number"), "stage": value(after, "bankruptcy.stage")}),
        });
    }
    if became_true(before, after, "bankruptcy.creditor_intent_recent") {
        out.push(Change {
            kind: "creditor_intent_published",
            payload: json!({"days_ago": value(after, "bankruptcy.creditor_intent_days_ago")}),
        });
    }
    if became_true(before, after, "reorganization.notice_recent") {
        out.push(Change {
            kind: "reorganization_notice",
            payload: json!({}),
        });
    }
    if became_true(before, after, "liquidation.notice") {
        out.push(Change {
            kind: "liquidation_notice",
            payload: json!({}),
        });
    }
    if became_true(before, after, "company.terminated") {
        out.push(Change {
            kind: "terminated",
            payload: json!({"on": value(after, "company.terminated_on")}),
        });
    }
    let count = |f: &Facts| value(f, "court.respondent_cases_total").as_i64();
    if let (Some(was), Some(now)) = (count(before), count(after))
        && now > was
    {
        out.push(Change {
            kind: "new_court_cases_as_respondent",
            payload: json!({"from": was, "to": now, "new": now - was}),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(pairs: &[(&str, serde_json::Value)]) -> Facts {
        crate::facts::from_pairs(pairs, None)
    }

    #[test]
    fn a_company_going_bankrupt_gives_typed_events() {
        let before = facts(&[
            ("company.status", json!("ACTIVE")),
            ("bankruptcy.active", json!(false)),
            ("court.respondent_cases_total", json!(2)),
            ("sources.kad.status", json!("ok")),
        ]);
        let after = facts(&[
            ("company.status", json!("BANKRUPTCY")),
            ("bankruptcy.active", json!(true)),
            ("bankruptcy.case_number", json!("А40-1/2026")),
            ("court.respondent_cases_total", json!(5)),
            ("sources.kad.status", json!("unavailable")),
        ]);
        let kinds: Vec<&str> = changes(Some((&before, Some("approve"))), &after, "reject")
            .iter()
            .map(|c| c.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                "decision_changed",
                "company_status_changed",
                "bankruptcy_opened",
                "new_court_cases_as_respondent"
            ]
        );
    }

    #[test]
    fn a_failing_source_is_reported_once_past_the_threshold() {
        let mut tracked = std::collections::BTreeMap::new();
        let failing = facts(&[
            ("sources.kad.status", json!("unavailable")),
            ("sources.kad.detail", json!("blocked")),
        ]);
        let t0 = chrono::Utc::now();
        let hour = chrono::Duration::hours(1);
        assert!(unavailable_sources(&mut tracked, &failing, t0, hour).is_empty());
        let later = unavailable_sources(&mut tracked, &failing, t0 + hour, hour);
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].payload["source"], "kad");
        assert!(unavailable_sources(&mut tracked, &failing, t0 + hour * 2, hour).is_empty());
        let answering = facts(&[("sources.kad.status", json!("ok"))]);
        assert!(unavailable_sources(&mut tracked, &answering, t0 + hour * 3, hour).is_empty());
        assert!(tracked.is_empty(), "an answer ends the stretch");
    }

    #[test]
    fn no_change_no_event() {
        let f = facts(&[
            ("company.status", json!("ACTIVE")),
            ("bankruptcy.active", json!(false)),
        ]);
        assert!(changes(Some((&f, Some("approve"))), &f, "approve").is_empty());
    }
}
