//! The check use case: fan out to every source in parallel (through the caches), merge
//! the findings into facts, apply the rules, store everything, answer.

mod model;

pub use model::{Check, CheckState, Company, SourceSummary};

use crate::cache::SourceCache;
use crate::config::CheckSettings;
use crate::domain::Inn;
use crate::facts;
use crate::metrics::Metrics;
use crate::scoring::{ActiveRules, Ruleset};
use crate::sources::{ConfiguredSource, SourceError, SourceReport, SourceStatus};
use crate::storage::{Store, StoreError, StoredCheck};
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("unknown scoring profile `{0}`")]
    UnknownProfile(String),
    #[error("storage failed")]
    Store(#[from] StoreError),
}

/// What a caller asks for.
#[derive(Debug, Clone)]
pub struct CheckRequest {
    pub inn: Inn,
    /// Reuse answers no older than this; `Some(0)` fetches fresh; `None` uses each source's TTL.
    pub max_age_s: Option<u64>,
    pub profile: Option<String>,
}

pub struct CheckService {
    sources: Vec<Arc<ConfiguredSource>>,
    cache: SourceCache,
    store: Arc<dyn Store>,
    rules: Arc<ActiveRules>,
    settings: CheckSettings,
    default_profile: String,
    http: reqwest::Client,
    metrics: Arc<Metrics>,
}

impl CheckService {
    pub fn new(
        sources: Vec<Arc<ConfiguredSource>>,
        cache: SourceCache,
        store: Arc<dyn Store>,
        rules: Arc<ActiveRules>,
        settings: CheckSettings,
        default_profile: String,
        metrics: Arc<Metrics>,
    ) -> CheckService {
        CheckService {
            sources,
            cache,
            store,
            rules,
            settings,
            default_profile,
            http: reqwest::Client::new(),
            metrics,
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn rules(&self) -> &Arc<ActiveRules> {
        &self.rules
    }

    /// Records a pending check and runs it in the background. The handle yields the
    /// finished check; dropping it does not stop the work. When `callback_url` is set,
    /// the finished check is POSTed there.
    pub async fn start(
        self: &Arc<Self>,
        request: CheckRequest,
        callback_url: Option<String>,
    ) -> Result<(Check, tokio::task::JoinHandle<Result<Check, CheckError>>), CheckError> {
        // One ruleset for the whole check, even if a reload lands while it runs.
        let ruleset = self.rules.current();
        let profile = request
            .profile
            .as_deref()
            .unwrap_or(&self.default_profile)
            .to_owned();
        if ruleset.profile(&profile).is_none() {
            return Err(CheckError::UnknownProfile(profile));
        }
        let pending = Check {
            id: Uuid::now_v7(),
            inn: request.inn.to_string(),
            state: CheckState::Pending,
            decision: None,
            score: None,
            profile,
            reasons: Vec::new(),
            sources: Default::default(),
            company: None,
            ruleset_version: None,
            created_at: Utc::now(),
            checked_at: None,
        };
        self.store.save_check(&stored(&pending, None)?).await?;
        let service = Arc::clone(self);
        let started = pending.clone();
        let handle = tokio::spawn(async move {
            let done = service.complete(started, &request, ruleset).await;
            if let (Ok(check), Some(url)) = (&done, callback_url) {
                service.deliver_callback(&url, check).await;
            }
            done
        });
        Ok((pending, handle))
    }

    /// Runs a check to the end in the caller's task (the CLI does this).
    pub async fn run(self: &Arc<Self>, request: CheckRequest) -> Result<Check, CheckError> {
        let (_, handle) = self.start(request, None).await?;
        match handle.await {
            Ok(result) => result,
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        }
    }

    async fn complete(
        &self,
        mut check: Check,
        request: &CheckRequest,
        ruleset: Arc<Ruleset>,
    ) -> Result<Check, CheckError> {
        let reports = self.gather(&request.inn, request.max_age_s).await;
        let profile = ruleset
            .profile(&check.profile)
            .ok_or_else(|| CheckError::UnknownProfile(check.profile.clone()))?
            .clone();
        let now = Utc::now();
        let facts = facts::compute(&reports, &profile.required_sources, now);
        let evaluation = ruleset.evaluate(&profile, &facts);
        check.state = CheckState::Done;
        check.decision = Some(evaluation.decision);
        check.score = Some(evaluation.score);
        check.reasons = evaluation.reasons;
        check.sources = reports
            .iter()
            .map(|r| {
                (
                    r.source.clone(),
                    SourceSummary {
                        status: r.status,
                        fetched_at: r.fetched_at,
                        detail: r.detail.clone(),
                    },
                )
            })
            .collect();
        check.company = Some(Company::from_reports(&reports));
        check.ruleset_version = Some(ruleset.version.clone());
        check.checked_at = Some(now);
        self.metrics.inc(
            "kontragent_checks_total",
            &[("decision", evaluation.decision.as_str())],
        );
        self.store
            .save_check(&stored(&check, Some(&facts))?)
            .await?;
        tracing::info!(check = %check.id, inn = %check.inn, decision = ?check.decision, "check done");
        Ok(check)
    }

    /// Asks every source at once; each answer is bounded by the check's deadline.
    async fn gather(&self, inn: &Inn, max_age_s: Option<u64>) -> Vec<SourceReport> {
        let deadline = Duration::from_millis(self.settings.deadline_ms);
        let calls = self.sources.iter().map(|source| async move {
            match tokio::time::timeout(deadline, self.report_for(source, inn, max_age_s)).await {
                Ok(report) => (*report).clone(),
                Err(_) => SourceReport::unavailable(source.name(), &SourceError::Timeout),
            }
        });
        futures::future::join_all(calls).await
    }

    /// L1 (memory) → L2 (stored snapshot) → the registry, with one registry request for
    /// any number of concurrent checks of the same INN.
    async fn report_for(
        &self,
        source: &ConfiguredSource,
        inn: &Inn,
        max_age_s: Option<u64>,
    ) -> Arc<SourceReport> {
        let name = source.name();
        if !source.settings.enabled {
            return Arc::new(SourceReport::disabled(name));
        }
        let max_age_s = max_age_s.unwrap_or(source.settings.ttl_s);
        if max_age_s == 0 {
            return Arc::new(self.fetch_or_stale(source, inn).await);
        }
        let max_age =
            chrono::Duration::seconds(i64::try_from(max_age_s).unwrap_or(i64::MAX / 1000));
        if let Some(hit) = self.cache.get_fresh(name, inn, max_age).await {
            return hit;
        }
        self.cache
            .get_or_load(name, inn, async {
                match self
                    .store
                    .latest_snapshot(name, inn, Utc::now() - max_age)
                    .await
                {
                    Ok(Some(snapshot)) => return Ok(Arc::new(snapshot)),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "snapshot lookup failed"),
                }
                let report = Arc::new(self.fetch_or_stale(source, inn).await);
                if report.is_cacheable() {
                    Ok(report)
                } else {
                    Err(report)
                }
            })
            .await
    }

    /// Fetches live; when the registry fails, falls back to a stored answer younger than
    /// the source's `max_stale_s` (reported as `stale`, with the live failure as detail).
    /// Risks the failed call had already seen are kept on top of the stored answer.
    async fn fetch_or_stale(&self, source: &ConfiguredSource, inn: &Inn) -> SourceReport {
        let live = self.fetch_and_store(source, inn).await;
        if live.status != SourceStatus::Unavailable || source.settings.max_stale_s == 0 {
            return live;
        }
        let max_stale = chrono::Duration::seconds(
            i64::try_from(source.settings.max_stale_s).unwrap_or(i64::MAX / 1000),
        );
        match self
            .store
            .latest_snapshot(source.name(), inn, Utc::now() - max_stale)
            .await
        {
            Ok(Some(mut stored)) => {
                stored.status = SourceStatus::Stale;
                stored.detail = live.detail;
                stored.findings.absorb_risks(&live.findings);
                stored
            }
            Ok(None) => live,
            Err(e) => {
                tracing::warn!(error = %e, "stale lookup failed");
                live
            }
        }
    }

    async fn fetch_and_store(&self, source: &ConfiguredSource, inn: &Inn) -> SourceReport {
        let started = std::time::Instant::now();
        let report = source.fetch(inn).await;
        let name = source.name();
        self.metrics.inc(
            "kontragent_source_fetches_total",
            &[("source", name), ("status", report.status.as_str())],
        );
        self.metrics.add(
            "kontragent_source_fetch_seconds_total",
            &[("source", name)],
            started.elapsed().as_secs_f64(),
        );
        if let Err(e) = self.store.save_snapshot(inn, &report).await {
            tracing::error!(error = ?e, source = source.name(), "cannot store snapshot");
        }
        report
    }

    async fn deliver_callback(&self, url: &str, check: &Check) {
        let result = self
            .http
            .post(url)
            .timeout(Duration::from_secs(10))
            .json(check)
            .send()
            .await
            .and_then(|r| r.error_for_status());
        if let Err(e) = result {
            tracing::warn!(check = %check.id, error = %e.without_url(), "callback delivery failed");
        }
    }
}

fn stored(check: &Check, facts: Option<&facts::Facts>) -> Result<StoredCheck, StoreError> {
    Ok(StoredCheck {
        id: check.id,
        inn: check.inn.clone(),
        state: match check.state {
            CheckState::Pending => "pending".into(),
            CheckState::Done => "done".into(),
        },
        decision: check.decision.map(|d| d.as_str().to_owned()),
        score: check.score,
        profile: check.profile.clone(),
        ruleset_version: check.ruleset_version.clone(),
        created_at: check.created_at,
        checked_at: check.checked_at,
        document: serde_json::to_value(check)?,
        facts: facts.map(serde_json::to_value).transpose()?,
    })
}
