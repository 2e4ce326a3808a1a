//! The check use case: fan out to every source in parallel (through the caches), merge
//! the findings into facts, apply the rules, store everything, answer.

pub mod batch;
pub mod budget;
mod gather;
pub mod latest;
pub mod links;
mod model;
mod writer;

pub use model::{Check, CheckState, Company, SourceSummary};

use crate::cache::{DocumentCache, SourceCache};
use crate::config::{CheckSettings, Settings};
use crate::domain::Inn;
use crate::facts::{self, Facts};
use crate::metrics::Metrics;
use crate::rules::Reloadable;
use crate::scoring::Ruleset;
use crate::sources::{ConfiguredSource, SourceReport};
use crate::storage::{CheckOrder, Store, StoreError, StoredCheck};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("unknown scoring profile `{0}`")]
    UnknownProfile(String),
    #[error("storage failed")]
    Store(#[from] StoreError),
    #[error("the check task panicked")]
    Panicked,
    #[error("too many checks are running; try again shortly")]
    Busy,
}

/// The largest `max_age_s` a request may give: ten years.
pub const MAX_AGE_S: u64 = 10 * 365 * 24 * 3600;

/// `now` minus `seconds`, saturating at the earliest representable time instead of
/// overflowing (an absurd `max_age_s` means "any age").
pub fn cutoff(now: DateTime<Utc>, seconds: u64) -> DateTime<Utc> {
    i64::try_from(seconds)
        .ok()
        .and_then(chrono::TimeDelta::try_seconds)
        .and_then(|age| now.checked_sub_signed(age))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A finished check and the facts it was decided on (monitoring compares them).
#[derive(Debug, Clone)]
pub struct Checked {
    pub check: Check,
    pub facts: Facts,
}

/// Hears of every check that finished with a decision, however it was asked (the catalog's
/// monitoring: a check of a listed INN moves its entry at once). Called before the check's
/// answer goes out, so what a caller reads next already shows it.
#[async_trait::async_trait]
pub trait CheckFollower: Send + Sync {
    async fn finished(&self, checked: &Checked);
}

/// How a check started: finished at once (every answer was in memory), or running.
pub enum Started {
    Done(Checked),
    /// The pending check as stored, and the task that finishes it.
    Running(Check, tokio::task::JoinHandle<Result<Checked, CheckError>>),
}

/// What a caller asks for.
#[derive(Debug, Clone)]
pub struct CheckRequest {
    pub inn: Inn,
    /// Reuse answers no older than this; `Some(0)` fetches fresh; `None` uses each source's TTL.
    pub max_age_s: Option<u64>,
    pub profile: Option<String>,
    /// Who asks: the API key's name, or `cli`, `monitoring`, `applications`, `bitrix24`,
    /// `amocrm`; the report shows it.
    pub requested_by: String,
}

/// A check this process is running, and where its end is to be told.
struct InFlight {
    check: Check,
    callback_url: Option<String>,
}

/// Where a finished check goes: its callback and the subscriptions (webhooks), the metrics,
/// and the signer of its report link.
pub struct CheckOutputs {
    pub webhooks: Arc<crate::webhooks::WebhookService>,
    pub metrics: Arc<Metrics>,
    pub links: links::ReportLinks,
}

pub struct CheckService {
    sources: Vec<Arc<ConfiguredSource>>,
    cache: SourceCache,
    /// Finished checks, which never change, by id.
    documents: Arc<DocumentCache>,
    /// The newest finished check of hot INNs.
    latest: Arc<latest::LatestChecks>,
    /// This instance's name in fetch claims.
    instance: String,
    /// Whether fetches are claimed across instances (`cache.shared_fetch`).
    shared_fetch: bool,
    /// Saves the check rows of concurrent requests in one transaction.
    writer: writer::CheckWriter,
    store: Arc<dyn Store>,
    rules: Arc<Reloadable<Ruleset>>,
    settings: CheckSettings,
    default_profile: String,
    /// Queues callbacks as signed, retried deliveries.
    webhooks: Arc<crate::webhooks::WebhookService>,
    metrics: Arc<Metrics>,
    /// One permit per check running (`limits.max_running_checks`).
    running: Arc<tokio::sync::Semaphore>,
    /// Checks each caller may start per minute, however it asks (`limits.checks_per_minute`).
    budget: budget::Budget,
    /// Signs the report links, so they open in a browser.
    links: links::ReportLinks,
    /// The checks this process is running, so a shutdown can record the unfinished ones.
    in_flight: std::sync::Mutex<std::collections::HashMap<Uuid, InFlight>>,
    /// Told of each finished check; weak, since the follower holds this service.
    follower: std::sync::OnceLock<std::sync::Weak<dyn CheckFollower>>,
}

impl CheckService {
    pub fn new(
        sources: Vec<Arc<ConfiguredSource>>,
        cache: SourceCache,
        store: Arc<dyn Store>,
        rules: Arc<Reloadable<Ruleset>>,
        settings: &Settings,
        outputs: CheckOutputs,
    ) -> CheckService {
        let CheckOutputs {
            webhooks,
            metrics,
            links,
        } = outputs;
        let documents = Arc::new(DocumentCache::new(settings));
        let on_postgres = settings.database.url.starts_with("postgres");
        // On SQLite this process is the only writer; on PostgreSQL the index is trusted only
        // while the notifications of the other instances' writes are heard.
        let latest = Arc::new(latest::LatestChecks::new(
            settings.cache.max_bytes / 16,
            !on_postgres,
        ));
        if on_postgres {
            tokio::spawn(latest::watch_postgres(
                settings.database.url.clone(),
                Arc::clone(&latest),
                Arc::clone(&documents),
            ));
        }
        CheckService {
            sources,
            cache,
            documents,
            latest,
            instance: Uuid::now_v7().to_string(),
            shared_fetch: settings.cache.shared_fetch.unwrap_or(on_postgres),
            writer: writer::CheckWriter::start(Arc::clone(&store)),
            store,
            rules,
            settings: settings.check.clone(),
            default_profile: settings.rules.default_profile.clone(),
            webhooks,
            metrics,
            budget: budget::Budget::new(settings.limits.checks_per_minute),
            links,
            running: Arc::new(tokio::sync::Semaphore::new(
                settings.limits.max_running_checks as usize,
            )),
            in_flight: std::sync::Mutex::default(),
            follower: std::sync::OnceLock::new(),
        }
    }

    /// Tells `follower` of every check that finishes from now on (set once, at start-up).
    pub fn follow_with(&self, follower: std::sync::Weak<dyn CheckFollower>) {
        if self.follower.set(follower).is_err() {
            tracing::warn!("a second check follower was refused");
        }
    }

    async fn tell_follower(&self, done: &Checked) {
        if let Some(follower) = self.follower.get().and_then(std::sync::Weak::upgrade) {
            follower.finished(done).await;
        }
    }

    /// The signer of report links.
    pub fn links(&self) -> &links::ReportLinks {
        &self.links
    }

    /// The per-caller budget every way of starting a check takes from.
    pub fn budget(&self) -> &budget::Budget {
        &self.budget
    }

    /// Where finished checks and batches are announced.
    pub fn webhooks(&self) -> &Arc<crate::webhooks::WebhookService> {
        &self.webhooks
    }

    /// The profile a check without one is decided under (`rules.default_profile`).
    pub fn default_profile(&self) -> &str {
        &self.default_profile
    }

    /// The language checks are decided in (`check.default_language`).
    pub fn language(&self) -> crate::domain::Language {
        self.settings.default_language
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The finished checks this instance holds in memory.
    pub fn documents(&self) -> &Arc<DocumentCache> {
        &self.documents
    }

    /// How long a caller waits for a check before it gets `202`: what it asked for (or
    /// `check.default_wait_ms`), at most `check.max_wait_ms`.
    pub fn wait_for(&self, requested_ms: Option<u64>) -> Duration {
        Duration::from_millis(
            requested_ms
                .unwrap_or(self.settings.default_wait_ms)
                .min(self.settings.max_wait_ms),
        )
    }

    /// A stored check with the facts it was decided on (empty while pending).
    pub async fn stored(&self, id: Uuid) -> Result<Option<Checked>, CheckError> {
        let Some(row) = self.store.get_check(id).await? else {
            return Ok(None);
        };
        let facts = match &row.facts {
            Some(f) => serde_json::from_str(f).map_err(StoreError::from)?,
            None => Facts::default(),
        };
        Ok(Some(Checked {
            check: parse(row.document.as_bytes())?,
            facts,
        }))
    }

    /// A check by id, pending or finished.
    pub async fn get(&self, id: Uuid) -> Result<Option<Check>, CheckError> {
        self.json(id).await?.map(|json| parse(&json)).transpose()
    }

    /// A check by id as the JSON the API shows; a finished one from memory when it is there.
    pub async fn json(&self, id: Uuid) -> Result<Option<Bytes>, CheckError> {
        if let Some(hit) = self.documents.get(&id).await {
            return Ok(Some(hit));
        }
        let Some(row) = self.store.get_check(id).await? else {
            return Ok(None);
        };
        let json = Bytes::from(row.document);
        if row.state != <&str>::from(CheckState::Pending) {
            self.documents.insert(id, json.clone()).await;
        }
        Ok(Some(json))
    }

    /// A page of an INN's checks, newest first, and the cursor of the next page (`None` on
    /// the last). The cursor is `<created_at ms>.<id>` of the page's last check.
    pub async fn history(
        &self,
        inn: &Inn,
        cursor: Option<(i64, Uuid)>,
        limit: usize,
    ) -> Result<(Vec<Check>, Option<String>), CheckError> {
        let mut rows = self.store.checks_of(inn, cursor, limit as i64 + 1).await?;
        let next = (rows.len() > limit).then(|| {
            rows.truncate(limit);
            rows.last()
                .map(|r| format!("{}.{}", r.created_at.timestamp_millis(), r.id))
        });
        let checks = rows
            .iter()
            .map(|r| parse(r.document.as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((checks, next.flatten()))
    }

    /// The raw registry answers behind each source's status in `check`, by source; a source
    /// that was not asked (or whose bodies retention emptied) has none or empty bodies.
    pub async fn evidence(
        &self,
        check: &Check,
    ) -> Result<std::collections::BTreeMap<String, Vec<crate::sources::Evidence>>, CheckError> {
        let mut out = std::collections::BTreeMap::new();
        // A stored check's INN was valid when it was checked.
        let Ok(inn) = Inn::parse(&check.inn) else {
            return Ok(out);
        };
        for (source, summary) in &check.sources {
            let rows = self
                .store
                .evidence_at(source, &inn, summary.fetched_at)
                .await?;
            out.insert(source.clone(), rows);
        }
        Ok(out)
    }

    /// The newest finished check of an INN as JSON: its id from memory (or one step down an
    /// index), its document from memory when it is there, so the cost does not grow with the
    /// INN's history.
    pub async fn latest(&self, inn: &Inn) -> Result<Option<Bytes>, CheckError> {
        if let Some(id) = self.latest.get(inn).await
            && let Some(json) = self.json(id).await?
        {
            return Ok(Some(json));
        }
        let epoch = self.latest.epoch();
        let Some(order) = self.store.latest_check_order(inn).await? else {
            return Ok(None);
        };
        self.latest.remember(inn, order, epoch).await;
        self.json(order.id).await
    }

    /// The database answers.
    pub async fn ping(&self) -> Result<(), CheckError> {
        Ok(self.store.ping().await?)
    }

    pub fn rules(&self) -> &Arc<Reloadable<Ruleset>> {
        &self.rules
    }

    /// Records a pending check and runs it in the background. The handle yields the
    /// finished check; dropping it does not stop the work. When `callback_url` is set
    /// (vetted by the SSRF guard first), the finished check is queued as a signed delivery.
    pub async fn start(
        self: &Arc<Self>,
        request: CheckRequest,
        callback_url: Option<String>,
    ) -> Result<Started, CheckError> {
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
        let mut pending = Check {
            id: Uuid::now_v7(),
            report_url: None,
            inn: request.inn.to_string(),
            state: CheckState::Pending,
            decision: None,
            score: None,
            profile,
            requested_by: Some(request.requested_by.clone()),
            language: None,
            reasons: Vec::new(),
            sources: Default::default(),
            company: None,
            ruleset_version: None,
            created_at: Utc::now(),
            checked_at: None,
            error: None,
        };
        pending.report_url = Some(
            self.links
                .path(
                    pending.id,
                    pending.created_at,
                    self.settings.default_language,
                )
                .await,
        );
        // Every answer in memory: the check finishes in the request with one write, and
        // nothing is ever pending.
        if let Some(reports) = self
            .answers_in_memory(&request.inn, request.max_age_s)
            .await
        {
            let done = self
                .decide(pending, reports, &ruleset, callback_url.clone())
                .await?;
            self.announce(&done.check, callback_url.as_deref()).await;
            self.tell_follower(&done).await;
            return Ok(Started::Done(done));
        }
        // A bounded number of checks at once; past it the caller is told to come back,
        // rather than queueing without limit in front of the registries.
        let permit = Arc::clone(&self.running)
            .try_acquire_owned()
            .map_err(|_| CheckError::Busy)?;
        let mut row = stored(&pending, None)?;
        row.callback_url = callback_url.clone();
        self.writer.save(row).await?;
        self.in_flight().insert(
            pending.id,
            InFlight {
                check: pending.clone(),
                callback_url: callback_url.clone(),
            },
        );
        let service = Arc::clone(self);
        let started = pending.clone();
        let handle = tokio::spawn(async move {
            let _running = permit;
            let id = started.id;
            // A failure or a panic while completing is recorded: no check stays pending.
            let outcome = AssertUnwindSafe(service.complete(started.clone(), &request, ruleset))
                .catch_unwind()
                .await;
            let (done, finished) = match outcome {
                Ok(Ok(done)) => {
                    let check = done.check.clone();
                    (Ok(done), check)
                }
                Ok(Err(e)) => {
                    tracing::error!(check = %started.id, error = ?e, "check failed");
                    let failed = service.record_failure(started, "internal error").await;
                    (Err(e), failed)
                }
                Err(_) => {
                    tracing::error!(check = %started.id, "check task panicked");
                    let failed = service.record_failure(started, "internal error").await;
                    (Err(CheckError::Panicked), failed)
                }
            };
            service.in_flight().remove(&id);
            service.announce(&finished, callback_url.as_deref()).await;
            if let Ok(done) = &done {
                service.tell_follower(done).await;
            }
            done
        });
        Ok(Started::Running(pending, handle))
    }

    /// Queues `check.completed` for a check that reached its end, failed ones too.
    async fn announce(&self, check: &Check, callback_url: Option<&str>) {
        if let Err(e) = self
            .webhooks
            .check_completed(check.id, check, callback_url)
            .await
        {
            tracing::error!(check = %check.id, error = ?e, "cannot queue check.completed");
        }
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<Uuid, InFlight>> {
        match self.in_flight.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// At shutdown: waits up to `grace` for the running checks to finish, then records
    /// the rest as `failed` ("interrupted"). Returns how many were interrupted.
    pub async fn drain(&self, grace: Duration) -> usize {
        let until = tokio::time::Instant::now() + grace;
        while !self.in_flight().is_empty() && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let left: Vec<InFlight> = self.in_flight().drain().map(|(_, c)| c).collect();
        let count = left.len();
        for InFlight {
            check,
            callback_url,
        } in left
        {
            let failed = self
                .record_failure(
                    check,
                    "interrupted: the service stopped before the check finished",
                )
                .await;
            self.announce(&failed, callback_url.as_deref()).await;
        }
        count
    }

    /// Stores `check` as `failed` and returns it; a storage error here is only logged (the
    /// row may then stay pending until the next start marks it abandoned).
    async fn record_failure(&self, mut check: Check, error: &str) -> Check {
        check.state = CheckState::Failed;
        check.error = Some(error.to_owned());
        check.checked_at = Some(Utc::now());
        let saved = match stored(&check, None) {
            Ok(row) => self.store.save_check(&row).await,
            Err(e) => Err(e),
        };
        if let Err(e) = saved {
            tracing::error!(check = %check.id, error = ?e, "cannot record the failed check");
        }
        check
    }

    /// Marks as `failed` every check still `pending` past the check deadline (a process
    /// stopped while it ran). Called at start; returns how many were marked.
    pub async fn fail_abandoned(&self) -> Result<usize, CheckError> {
        let grace = Duration::from_millis(self.settings.deadline_ms.saturating_mul(2));
        let before = cutoff(Utc::now(), grace.as_secs());
        let abandoned = self.store.pending_checks_before(before).await?;
        let count = abandoned.len();
        for row in abandoned {
            let callback_url = row.callback_url.clone();
            let Ok(check) = parse(row.document.as_bytes()) else {
                continue;
            };
            let failed = self
                .record_failure(
                    check,
                    "abandoned: the service stopped before the check finished",
                )
                .await;
            self.announce(&failed, callback_url.as_deref()).await;
        }
        if count > 0 {
            tracing::warn!(count, "pending checks from before the start marked failed");
        }
        Ok(count)
    }

    /// Runs a check to the end in the caller's task (the CLI does this).
    pub async fn run(self: &Arc<Self>, request: CheckRequest) -> Result<Checked, CheckError> {
        match self.start(request, None).await? {
            Started::Done(done) => Ok(done),
            Started::Running(_, handle) => match handle.await {
                Ok(result) => result,
                Err(join) => std::panic::resume_unwind(join.into_panic()),
            },
        }
    }

    async fn complete(
        &self,
        check: Check,
        request: &CheckRequest,
        ruleset: Arc<Ruleset>,
    ) -> Result<Checked, CheckError> {
        let reports = self.gather(&request.inn, request.max_age_s).await;
        self.decide(check, reports, &ruleset, None).await
    }

    /// Applies the ruleset to the answers and stores the finished check (with its
    /// `callback_url` when this is its first write).
    async fn decide(
        &self,
        mut check: Check,
        reports: Vec<SourceReport>,
        ruleset: &Ruleset,
        callback_url: Option<String>,
    ) -> Result<Checked, CheckError> {
        let profile = ruleset
            .profile(&check.profile)
            .ok_or_else(|| CheckError::UnknownProfile(check.profile.clone()))?
            .clone();
        let now = Utc::now();
        let facts = facts::compute(&reports, &profile.required_sources, now);
        let language = self.settings.default_language;
        let evaluation = ruleset.evaluate(&profile, &facts, language);
        check.state = CheckState::Done;
        check.language = Some(language);
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
        self.metrics.check_done(evaluation.decision);
        let mut row = stored(&check, Some(&facts))?;
        row.callback_url = callback_url;
        let order = CheckOrder::of(&row);
        let json = Bytes::from(row.document.clone());
        self.writer.save(row).await?;
        if let (Some(order), Ok(inn)) = (order, Inn::parse(&check.inn)) {
            self.latest.finished(&inn, order).await;
        }
        self.documents.insert(check.id, json).await;
        tracing::info!(check = %check.id, inn = %crate::domain::mask_inns(&check.inn), decision = ?check.decision, "check done");
        Ok(Checked { check, facts })
    }
}

/// The Check a stored document holds.
fn parse(json: &[u8]) -> Result<Check, CheckError> {
    Ok(serde_json::from_slice(json).map_err(StoreError::from)?)
}

fn stored(check: &Check, facts: Option<&facts::Facts>) -> Result<StoredCheck, StoreError> {
    Ok(StoredCheck {
        id: check.id,
        inn: check.inn.clone(),
        state: <&str>::from(check.state).to_owned(),
        decision: check.decision.map(|d| d.as_str().to_owned()),
        score: check.score,
        profile: check.profile.clone(),
        ruleset_version: check.ruleset_version.clone(),
        created_at: check.created_at,
        checked_at: check.checked_at,
        document: serde_json::to_string(check)?,
        facts: facts.map(serde_json::to_string).transpose()?,
        // Set on the first save only; later saves keep the stored one.
        callback_url: None,
    })
}
