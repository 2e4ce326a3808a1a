//! The event feed's vocabulary: the kinds of event it holds (the catalog's, the registration
//! process's, monitoring's) and the webhook types they are delivered as.

/// The kinds of change monitoring reports (each also a boolean fact `events.<kind>`).
pub const EVENT_KINDS: &[&str] = &[
    "decision_changed",
    "company_status_changed",
    "bankruptcy_opened",
    "creditor_intent_published",
    "reorganization_notice",
    "liquidation_notice",
    "new_court_cases_as_respondent",
    "terminated",
    "source_unavailable",
];

/// The catalog's feed kinds as webhook event types (the feed keeps its kinds).
pub fn event_type(kind: &str) -> String {
    match kind {
        "listed" => "catalog.listed".into(),
        "status_changed" => "catalog.status_changed".into(),
        "feedback" => "feedback.recorded".into(),
        other if other.starts_with("application_") => {
            format!("application.{}", &other["application_".len()..])
        }
        // What monitoring found: decision_changed, bankruptcy_opened, terminated, …
        other => format!("monitoring.{other}"),
    }
}

/// The feed kinds of the registration process.
pub const APPLICATION_KINDS: &[&str] = &[
    "application_received",
    "application_screened",
    "application_stage_changed",
    "application_sla_due",
    "application_sla_breached",
];

/// Every type a subscription may name (besides `*` and `prefix.*`).
pub fn event_types() -> Vec<String> {
    let mut out: Vec<String> = feed_kinds().map(event_type).collect();
    out.extend([
        "check.completed".into(),
        "webhook.test".into(),
        "webhook.disabled".into(),
    ]);
    out
}

/// Every kind the event feed holds.
fn feed_kinds() -> impl Iterator<Item = &'static str> {
    ["listed", "status_changed", "feedback"]
        .into_iter()
        .chain(APPLICATION_KINDS.iter().copied())
        .chain(EVENT_KINDS.iter().copied())
}

/// Whether a subscription's `pattern` (a type, `*` or `prefix.*`) takes `event_type` — the
/// rule the outbox's fan-out SQL applies too.
fn matches(pattern: &str, event_type: &str) -> bool {
    pattern == "*"
        || pattern == event_type
        || pattern
            .strip_suffix('*')
            .is_some_and(|prefix| prefix.ends_with('.') && event_type.starts_with(prefix))
}

/// The feed kinds whose types `pattern` matches.
pub fn kinds_matching(pattern: &str) -> Vec<&'static str> {
    feed_kinds()
        .filter(|kind| matches(pattern, &event_type(kind)))
        .collect()
}

/// Whether `pattern` is a type, `*`, or `prefix.*` that some event type matches.
pub fn valid_pattern(pattern: &str) -> bool {
    event_types().iter().any(|t| matches(pattern, t))
}
