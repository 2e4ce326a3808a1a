//! How a check gathers its registries' answers: from memory when every one is young
//! enough, else each source at once under the check's deadline — a fresh answer, one
//! another instance is fetching (shared fetch), or the last good one marked stale.

use super::{CheckService, cutoff};
use crate::domain::Inn;
use crate::sources::{ConfiguredSource, SourceError, SourceReport, SourceStatus};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

/// How often an instance waiting for another's fetch looks for its answer.
const CLAIM_POLL: Duration = Duration::from_millis(25);
/// A claim outlives its source's timeout by this much before another instance may take it.
const CLAIM_GRACE: Duration = Duration::from_secs(5);

impl CheckService {
    /// Every enabled source's answer from the in-memory cache, when all are there and
    /// young enough for the request; `None` as soon as one is missing.
    pub(super) async fn answers_in_memory(
        &self,
        inn: &Inn,
        max_age_s: Option<u64>,
    ) -> Option<Vec<SourceReport>> {
        if max_age_s == Some(0) {
            return None;
        }
        let now = Utc::now();
        let mut reports = Vec::with_capacity(self.sources.len());
        for source in &self.sources {
            let name = source.name();
            if !source.settings.enabled {
                reports.push(SourceReport::disabled(name));
                continue;
            }
            let since = cutoff(now, max_age_s.unwrap_or(source.settings.ttl_s));
            reports.push((*self.cache.get_fresh(name, inn, since).await?).clone());
        }
        Some(reports)
    }

    /// Asks every source at once; each answer is bounded by the check's deadline.
    pub(super) async fn gather(&self, inn: &Inn, max_age_s: Option<u64>) -> Vec<SourceReport> {
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
            return self.fresh_report(source, inn).await;
        }
        let since = cutoff(Utc::now(), max_age_s);
        if let Some(hit) = self.cache.get_fresh(name, inn, since).await {
            return hit;
        }
        self.cache
            .get_or_load(name, inn, async {
                match self.store.latest_snapshot(name, inn, since).await {
                    Ok(Some(snapshot)) => return Ok(Arc::new(snapshot)),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "snapshot lookup failed"),
                }
                let report = Arc::new(if self.shared_fetch {
                    self.fetch_shared(source, inn, since).await
                } else {
                    self.fetch_or_stale(source, inn).await
                });
                if report.is_cacheable() {
                    Ok(report)
                } else {
                    Err(report)
                }
            })
            .await
    }

    /// An answer the registry gave after this call began. Concurrent callers share one
    /// fetch: "fresh" means asked after the caller asked, not one request per caller.
    async fn fresh_report(&self, source: &ConfiguredSource, inn: &Inn) -> Arc<SourceReport> {
        let asked = crate::clock::now_ms();
        let name = source.name();
        self.cache.invalidate(name, inn).await;
        let shared = self
            .cache
            .get_or_load(name, inn, async {
                let report = Arc::new(self.fetch_or_stale(source, inn).await);
                if report.is_cacheable() {
                    Ok(report)
                } else {
                    Err(report)
                }
            })
            .await;
        // A load we joined may have come from a stored snapshot: only a live answer counts.
        let live = shared.fetched_at >= asked || shared.status == SourceStatus::Stale;
        if live || shared.status == SourceStatus::Unavailable {
            shared
        } else {
            Arc::new(self.fetch_or_stale(source, inn).await)
        }
    }

    /// One registry flow per (source, INN) across every instance on the database (the
    /// in-memory cache already makes it one per instance): the instance that claims the
    /// fetch asks the registry; the others wait for the answer it stores, and ask themselves
    /// only if none comes within the source's timeout (its holder may have died).
    async fn fetch_shared(
        &self,
        source: &ConfiguredSource,
        inn: &Inn,
        since: DateTime<Utc>,
    ) -> SourceReport {
        let name = source.name();
        let asked = crate::clock::now_ms();
        let hold = Duration::from_millis(source.settings.timeout_ms) + CLAIM_GRACE;
        let give_up = tokio::time::Instant::now() + hold;
        loop {
            let now = Utc::now();
            let until = now + chrono::Duration::from_std(hold).unwrap_or_default();
            match self
                .store
                .claim_fetch(name, inn.as_str(), &self.instance, now, until)
                .await
            {
                Ok(true) => {
                    // Another instance may have stored an answer just before the claim.
                    let report = match self.answer_of_another(name, inn, since, asked).await {
                        Some(answer) => self.or_stale(source, inn, answer).await,
                        None => self.fetch_or_stale(source, inn).await,
                    };
                    if let Err(e) = self
                        .store
                        .release_fetch(name, inn.as_str(), &self.instance)
                        .await
                    {
                        tracing::warn!(error = %e, source = name, "cannot release a fetch claim");
                    }
                    return report;
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, source = name, "cannot claim a fetch");
                    return self.fetch_or_stale(source, inn).await;
                }
            }
            if tokio::time::Instant::now() >= give_up {
                return self.fetch_or_stale(source, inn).await;
            }
            tokio::time::sleep(CLAIM_POLL).await;
            if let Some(answer) = self.answer_of_another(name, inn, since, asked).await {
                return self.or_stale(source, inn, answer).await;
            }
        }
    }

    /// An answer another instance stored: a usable one fetched since `since`, or a failure
    /// met after this call `asked` (that is this check's answer too).
    async fn answer_of_another(
        &self,
        name: &str,
        inn: &Inn,
        since: DateTime<Utc>,
        asked: DateTime<Utc>,
    ) -> Option<SourceReport> {
        if let Ok(Some(snapshot)) = self.store.latest_snapshot(name, inn, since).await {
            return Some(snapshot);
        }
        self.store
            .answer_since(name, inn, asked)
            .await
            .ok()
            .flatten()
    }

    /// Fetches live; when the registry fails, falls back to a stored answer younger than
    /// the source's `max_stale_s` (reported as `stale`, with the live failure as detail).
    /// Risks the failed call had already seen are kept on top of the stored answer.
    async fn fetch_or_stale(&self, source: &ConfiguredSource, inn: &Inn) -> SourceReport {
        let live = self.fetch_and_store(source, inn).await;
        self.or_stale(source, inn, live).await
    }

    async fn or_stale(
        &self,
        source: &ConfiguredSource,
        inn: &Inn,
        live: SourceReport,
    ) -> SourceReport {
        if live.status != SourceStatus::Unavailable || source.settings.max_stale_s == 0 {
            return live;
        }
        match self
            .store
            .latest_snapshot(
                source.name(),
                inn,
                cutoff(Utc::now(), source.settings.max_stale_s),
            )
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

    /// Fetches live and stores the answer with its raw bodies; what is returned (and may be
    /// cached in memory) keeps the findings only.
    async fn fetch_and_store(&self, source: &ConfiguredSource, inn: &Inn) -> SourceReport {
        let started = std::time::Instant::now();
        let mut report = source.fetch(inn).await;
        let name = source.name();
        self.metrics
            .source_fetched(name, report.status, started.elapsed().as_secs_f64());
        if let Err(e) = self.store.save_snapshot(inn, &report).await {
            tracing::error!(error = ?e, source = source.name(), "cannot store snapshot");
        }
        report.evidence = Vec::new();
        report
    }
}
