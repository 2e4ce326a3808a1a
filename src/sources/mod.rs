//! Registry adapters. Each registry is one file owning its URL paths, its parsing and the
//! mapping from its raw answer to [`Findings`]; all of them implement [`Source`].
//!
//! The contract every adapter keeps: an answer it cannot use (captcha, block page, HTML
//! instead of JSON, timeout, truncated page) is `unavailable` with a machine reason,
//! never `not_found`.

mod bankrot;
mod breaker;
pub mod doctor;
mod egrul;
mod fedresurs;
mod findings;
mod http;
mod kad;
mod pb;
mod session;
pub mod settings;
mod shared;

pub use bankrot::Bankrot;
pub use egrul::Egrul;
pub use fedresurs::Fedresurs;
pub use findings::{CourtCase, CourtFindings, Findings, merge};
pub use http::{Evidence, Flow, RegistryHttp, proxy_url};
pub use kad::Kad;
pub use pb::Pb;

use crate::domain::Inn;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use settings::{SourceSettings, SourcesSettings};
use std::sync::Arc;
use std::time::Duration;

/// How one source answered for one INN.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum SourceStatus {
    /// The registry answered and has records for the INN.
    Ok,
    /// The registry answered and has none.
    NotFound,
    /// No usable answer; `detail` says why.
    Unavailable,
    /// The live call failed and an older stored answer was used.
    Stale,
    /// Switched off by config.
    Disabled,
}

impl SourceStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<SourceStatus> {
        s.parse().ok()
    }

    /// A checked source: its answer counts as coverage for the rules.
    pub fn is_checked(self) -> bool {
        matches!(
            self,
            SourceStatus::Ok | SourceStatus::NotFound | SourceStatus::Stale
        )
    }
}

/// Why a source could not give a usable answer. `reason()` is the machine code in `detail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error("the registry did not answer in time")]
    Timeout,
    #[error("the registry answered HTTP {0}")]
    Http(u16),
    #[error("the registry asks for a captcha")]
    Captcha,
    #[error("an anti-bot page blocked the request")]
    Blocked,
    #[error("the answer could not be understood: {0}")]
    Garbage(String),
    #[error("the answer cannot prove absence: {0}")]
    Incomplete(String),
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("network error: {0}")]
    Network(String),
    #[error("the registry limits the request rate (HTTP 429)")]
    TooManyRequests { retry_after_s: Option<u64> },
    #[error("the circuit breaker is open after repeated failures")]
    CircuitOpen,
    /// The registry refused the operator's browser cookie (kad's `wasm` lives for minutes).
    #[error("the registry refused the configured cookie: it has expired")]
    CookieExpired,
    /// A captcha paused the source (`captcha_pause_s`): it is not asked until the pause ends.
    #[error("paused after a captcha")]
    CaptchaPause,
    /// The service's own rate limit for the registry (`rps`) could not start the flow in
    /// time: the registry was never asked, so this says nothing about it.
    #[error("the service's own rate limit for this registry did not let the request start in time")]
    Throttled,
}

impl SourceError {
    pub fn reason(&self) -> String {
        match self {
            SourceError::Timeout => "timeout".into(),
            SourceError::Http(code) => format!("http_{code}"),
            SourceError::Captcha => "captcha".into(),
            SourceError::Blocked => "blocked".into(),
            SourceError::Garbage(_) => "garbage".into(),
            SourceError::Incomplete(_) => "incomplete".into(),
            SourceError::TooLarge(_) => "too_large".into(),
            SourceError::Network(_) => "network".into(),
            SourceError::TooManyRequests { .. } => "http_429".into(),
            SourceError::CircuitOpen => "circuit_open".into(),
            SourceError::CaptchaPause => "captcha_pause".into(),
            SourceError::CookieExpired => "cookie_expired".into(),
            SourceError::Throttled => "throttled".into(),
        }
    }

    /// Worth another attempt: the registry may answer next time. A captcha or an anti-bot
    /// page is never retried (it only makes the ban longer).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SourceError::Timeout
                | SourceError::Network(_)
                | SourceError::TooManyRequests { .. }
                | SourceError::Http(502..=504)
        )
    }

    /// Counts towards opening the circuit breaker: the registry itself failed.
    pub fn is_registry_failure(&self) -> bool {
        !matches!(
            self,
            SourceError::Incomplete(_)
                | SourceError::CircuitOpen
                | SourceError::CaptchaPause
                | SourceError::Throttled
        )
    }
}

/// Whether the registry knows the INN, when it answered usably.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Found,
    NotFound,
}

/// One source's answer for one INN, as stored in a snapshot and shown in a check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceReport {
    pub source: String,
    pub status: SourceStatus,
    /// Machine reason for `unavailable`, or the date note for `stale`.
    pub detail: Option<String>,
    pub fetched_at: DateTime<Utc>,
    pub findings: Findings,
    /// Raw answers, kept for evidence; not part of the JSON of a check.
    #[serde(skip)]
    pub evidence: Vec<Evidence>,
}

impl SourceReport {
    pub fn disabled(source: &str) -> SourceReport {
        SourceReport {
            source: source.to_owned(),
            status: SourceStatus::Disabled,
            detail: None,
            fetched_at: now_ms(),
            findings: Findings::default(),
            evidence: Vec::new(),
        }
    }

    pub fn unavailable(source: &str, error: &SourceError) -> SourceReport {
        SourceReport {
            source: source.to_owned(),
            status: SourceStatus::Unavailable,
            detail: Some(error.reason()),
            fetched_at: now_ms(),
            findings: Findings::default(),
            evidence: Vec::new(),
        }
    }

    /// Ok and not-found answers may be cached; failures never are.
    pub fn is_cacheable(&self) -> bool {
        matches!(self.status, SourceStatus::Ok | SourceStatus::NotFound)
    }
}

pub use crate::clock::now_ms;

/// A registry adapter.
#[async_trait::async_trait]
pub trait Source: Send + Sync {
    /// The config and API name (`egrul`, `pb`, …).
    fn name(&self) -> &'static str;

    /// Runs the registry's flow for one INN. Records every raw answer and every finding
    /// in `flow` as it goes, so a later failure keeps what was already learned.
    async fn run(&self, inn: &Inn, flow: &mut Flow) -> Result<Presence, SourceError>;
}

/// A source with its settings: runs one flow under the source's timeout, after waiting
/// for its rate limit.
pub struct ConfiguredSource {
    pub source: Arc<dyn Source>,
    pub settings: SourceSettings,
    pub http: RegistryHttp,
    /// Flows started per second, shared by every check in the process (`None` = unlimited).
    limiter: Option<governor::DefaultDirectRateLimiter>,
    breaker: breaker::CircuitBreaker,
}

/// A limiter that lets one flow start every `1 / rps` seconds; none for `rps = 0`.
fn rate_limiter(rps: f64) -> Option<governor::DefaultDirectRateLimiter> {
    if rps <= 0.0 {
        return None;
    }
    let quota = governor::Quota::with_period(Duration::from_secs_f64(1.0 / rps))?;
    Some(governor::RateLimiter::direct(quota))
}

impl ConfiguredSource {
    pub fn name(&self) -> &'static str {
        self.source.name()
    }

    /// Fetches live. Never fails: a failure is an `unavailable` report with a reason.
    pub async fn fetch(&self, inn: &Inn) -> SourceReport {
        let name = self.source.name();
        if !self.settings.enabled {
            return SourceReport::disabled(name);
        }
        // The wait for the rate limit and the flow share `timeout_ms`; the wait may take
        // at most half of it, so a flow that starts always has time to finish.
        let budget = Duration::from_millis(self.settings.timeout_ms);
        let started = tokio::time::Instant::now();
        if let Some(limiter) = &self.limiter
            && tokio::time::timeout(budget / 2, limiter.until_ready())
                .await
                .is_err()
        {
            return SourceReport::unavailable(name, &SourceError::Throttled);
        }
        let Some(permit) = self.breaker.acquire() else {
            let why = if self.breaker.is_paused() {
                SourceError::CaptchaPause
            } else {
                SourceError::CircuitOpen
            };
            return SourceReport::unavailable(name, &why);
        };
        let (result, flow) = self.attempt(inn, budget, started).await;
        match &result {
            Err(SourceError::Captcha) if self.settings.captcha_pause_s > 0 => {
                permit.pause(Duration::from_secs(self.settings.captcha_pause_s));
            }
            Ok(_) => permit.record(true),
            Err(e) => permit.record(!e.is_registry_failure()),
        }
        self.report(inn, result, flow)
    }

    /// For `doctor`: the flow exactly as a check runs it, but past the rate limit and the
    /// circuit breaker (an operator asks on purpose), with the time it took.
    pub async fn probe(&self, inn: &Inn) -> (SourceReport, Duration) {
        let started = tokio::time::Instant::now();
        if !self.settings.enabled {
            return (SourceReport::disabled(self.name()), Duration::ZERO);
        }
        let budget = Duration::from_millis(self.settings.timeout_ms);
        let (result, flow) = self.attempt(inn, budget, started).await;
        (self.report(inn, result, flow), started.elapsed())
    }

    /// The flow within `budget`, with the operator's cookie fetched first when missing and
    /// refreshed once when the registry calls it expired.
    async fn attempt(
        &self,
        inn: &Inn,
        budget: Duration,
        started: tokio::time::Instant,
    ) -> (Result<Presence, SourceError>, Flow) {
        let session = &self.http.session;
        if session.current().is_none() && session.can_refresh() {
            let remaining = budget.saturating_sub(started.elapsed());
            let _ = tokio::time::timeout(remaining, session.refresh(None)).await;
        }
        let (mut result, mut flow) = self.run_flow(inn, budget, started).await;
        if result == Err(SourceError::CookieExpired) {
            let stale = flow.configured_cookie().map(str::to_owned);
            let remaining = budget.saturating_sub(started.elapsed());
            if let Ok(true) =
                tokio::time::timeout(remaining, session.refresh(stale.as_deref())).await
            {
                let first = flow;
                (result, flow) = self.run_flow(inn, budget, started).await;
                flow.keep_evidence_of(first);
            }
        }
        (result, flow)
    }

    fn report(&self, inn: &Inn, result: Result<Presence, SourceError>, flow: Flow) -> SourceReport {
        let name = self.name();
        let (status, detail) = match &result {
            Ok(Presence::Found) => (SourceStatus::Ok, None),
            Ok(Presence::NotFound) => (SourceStatus::NotFound, None),
            Err(e) => {
                tracing::warn!(source = name, inn = %inn.masked(), error = %e, "source unavailable");
                (SourceStatus::Unavailable, Some(e.reason()))
            }
        };
        let (findings, evidence) = flow.into_parts();
        SourceReport {
            source: name.to_owned(),
            status,
            detail,
            fetched_at: now_ms(),
            findings,
            evidence,
        }
    }
}

impl ConfiguredSource {
    /// One run of the adapter's flow within what is left of the budget.
    async fn run_flow(
        &self,
        inn: &Inn,
        budget: Duration,
        started: tokio::time::Instant,
    ) -> (Result<Presence, SourceError>, Flow) {
        let mut flow = Flow::new(self.http.clone(), &self.settings);
        let remaining = budget.saturating_sub(started.elapsed());
        let result = match tokio::time::timeout(remaining, self.source.run(inn, &mut flow)).await {
            Ok(r) => r,
            Err(_) => Err(SourceError::Timeout),
        };
        (result, flow)
    }
}

/// A registry: its name (in config, checks and facts), its adapter and its default
/// settings. Adding a registry = its file, its fixtures, one entry in [`REGISTRIES`].
pub struct Registry {
    pub name: &'static str,
    /// What its findings speak to; the facts ask for a topic, never for a registry by name.
    pub covers: &'static [Topic],
    pub adapter: fn() -> Arc<dyn Source>,
    pub defaults: fn() -> SourceSettings,
}

/// Every implemented registry, in the order they appear in a check. The defaults follow
/// what live clients of each site do (registries.md §16).
pub const REGISTRIES: &[Registry] = &[
    Registry {
        name: "egrul",
        covers: &[Topic::Company],
        adapter: || Arc::new(Egrul),
        // One live client stops after three errors; a captcha means "come back later".
        defaults: || SourceSettings {
            captcha_pause_s: 900,
            ..SourceSettings::registry("https://egrul.nalog.ru")
        },
    },
    Registry {
        name: "pb",
        covers: &[Topic::Company],
        adapter: || Arc::new(Pb),
        // Clients poll PB 1–1.5 s apart for 8–10 tries, twice (search, then card), and
        // pause it for two hours after a captcha (S-PB3).
        defaults: || SourceSettings {
            poll_interval_ms: 1_000,
            max_polls: 8,
            timeout_ms: 20_000,
            captcha_pause_s: 7_200,
            ..SourceSettings::registry("https://pb.nalog.ru")
        },
    },
    Registry {
        name: "fedresurs",
        covers: &[Topic::Bankruptcy, Topic::Notices],
        adapter: || Arc::new(Fedresurs),
        // Behind Qrator: a 429 or 451 is a block, and asking again lengthens it.
        defaults: || SourceSettings {
            retry_rate_limited: false,
            ..SourceSettings::registry("https://fedresurs.ru")
        },
    },
    Registry {
        name: "bankrot",
        covers: &[Topic::Bankruptcy],
        adapter: || Arc::new(Bankrot),
        defaults: || SourceSettings {
            retry_rate_limited: false,
            ..SourceSettings::registry("https://bankrot.fedresurs.ru")
        },
    },
    Registry {
        name: "kad",
        covers: &[Topic::Court],
        adapter: || Arc::new(Kad),
        // kad bans quickly (12 h per IP, registries.md §0.3): one flow per 5 s, a second
        // between its requests, and a 429 is never asked again.
        defaults: || SourceSettings {
            rps: 0.2,
            request_gap_ms: 1_000,
            retry_rate_limited: false,
            ..SourceSettings::registry("https://kad.arbitr.ru")
        },
    },
];

/// What a registry's findings can speak to. A checked source that covers a topic and says
/// nothing about it means "no" (no bankruptcy case, no notice), not "unknown".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// Existence, status, identity and risk markers (egrul, pb).
    Company,
    /// A bankruptcy case and its stage.
    Bankruptcy,
    /// Dated notices: creditors' and debtor's intentions, reorganization, liquidation.
    Notices,
    /// Arbitration court cases.
    Court,
}

impl Topic {
    /// Whether the registry `source` covers this topic.
    pub fn covered_by(self, source: &str) -> bool {
        REGISTRIES
            .iter()
            .any(|r| r.name == source && r.covers.contains(&self))
    }
}

/// The registries' names, in order.
pub fn source_names() -> impl Iterator<Item = &'static str> {
    REGISTRIES.iter().map(|r| r.name)
}

/// Builds every registry's source from the settings, in the list's order.
pub fn build_sources(
    settings: &SourcesSettings,
) -> Result<Vec<Arc<ConfiguredSource>>, reqwest::Error> {
    let mut out = Vec::new();
    for registry in REGISTRIES {
        let Some(s) = settings.get(registry.name) else {
            continue;
        };
        out.push(Arc::new(ConfiguredSource {
            source: (registry.adapter)(),
            settings: s.clone(),
            http: RegistryHttp::new(s, settings.proxy_of(registry.name))?,
            limiter: rate_limiter(s.rps),
            breaker: breaker::CircuitBreaker::new(
                s.breaker_failures,
                Duration::from_secs(s.breaker_cooldown_s),
            ),
        }));
    }
    Ok(out)
}
