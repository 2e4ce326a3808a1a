//! The quality-monitoring process for listed contractors: re-check each one on a schedule
//! (spread over the interval, reusing fresh registry answers), turn what changed into typed
//! events, and let the monitoring policy move it between catalog statuses.
//!
//! Any number of instances may run it against one PostgreSQL database: due contractors are
//! claimed with a lease (`FOR UPDATE SKIP LOCKED`), a pass records its events and releases
//! the lease in one transaction, and a crashed instance's leases expire and are taken over.

pub mod diff;
pub mod rules;

use crate::catalog::{CatalogError, CatalogService, CatalogStatus, NewEvent};
use crate::check::{CheckError, CheckRequest, CheckService, Checked};
use crate::config::MonitoringSettings;
use crate::domain::Inn;
use crate::facts::{Fact, Facts};
use crate::rules::Reloadable;
use chrono::{Duration, Utc};
use serde::Serialize;
use serde_json::json;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Check(#[from] CheckError),
    #[error("storage failed")]
    Store(#[from] crate::storage::StoreError),
}

/// What one contractor's pass did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"check": crate::check::Check::example(), "events": 1, "transitions": 0}))]
pub struct Pass {
    /// The check of this pass.
    pub check: crate::check::Check,
    /// Change events recorded.
    pub events: u64,
    /// Automatic status changes (0 or 1).
    pub transitions: u64,
}

/// What one run over the due contractors did.
#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"checked": 12, "events": 3, "transitions": 1, "failed": 0}))]
pub struct RunReport {
    /// Contractors re-checked.
    pub checked: u64,
    /// Change events recorded.
    pub events: u64,
    /// Automatic status changes.
    pub transitions: u64,
    /// Contractors whose pass failed (retried when their lease expires).
    pub failed: u64,
}

/// A run started through the API: running in the background, observed by its id.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"id": "0193…", "state": "done", "started_at": "2026-12-01T10:00:00Z",
    "finished_at": "2026-12-01T10:00:04Z", "checked": 12, "events": 3, "transitions": 1, "failed": 0}))]
pub struct MonitoringRun {
    pub id: uuid::Uuid,
    /// `running`, `done` or `failed`.
    pub state: RunState,
    pub started_at: chrono::DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<chrono::DateTime<Utc>>,
    /// Contractors re-checked, once done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked: Option<u64>,
    /// Change events recorded, once done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<u64>,
    /// Automatic status changes, once done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transitions: Option<u64>,
    /// Contractors whose pass failed (retried when their lease expires), once done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<u64>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Running,
    Done,
    Failed,
}

/// Runs started through the API that this instance keeps to show (the newest ones).
/// What a candidate monitoring policy would say of the listed contractors.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"candidate_version": "77ab01…", "evaluated": 12, "changed": 1, "reasons_changed": 1,
    "rules": [{"rule_id": "complaints", "before": 0, "after": 1}],
    "examples": [{"inn": "7701000019", "catalog_status": "active", "from": null, "to": "under_review",
                  "added": ["complaints"], "removed": [],
                  "reasons": [{"rule_id": "complaints", "effect": "under_review", "message": "Жалоб за период инцидентов: 2"}]}]}))]
pub struct MonitoringDryRun {
    pub candidate_version: String,
    /// Listed contractors (not removed) with a stored check, judged again.
    pub evaluated: u64,
    /// How many the candidate would send to another status than the policy in force does.
    pub changed: u64,
    /// How many would get other reasons, whether or not the status changes.
    pub reasons_changed: u64,
    /// Each rule's hits under the policy in force (`before`) and the candidate (`after`).
    pub rules: Vec<crate::rules::RuleHits>,
    pub examples: Vec<MonitoringDryRunExample>,
}

/// A contractor the candidate judges otherwise.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"inn": "7701000019", "catalog_status": "active", "from": null, "to": "under_review",
    "added": ["complaints"], "removed": [],
    "reasons": [{"rule_id": "complaints", "effect": "under_review", "message": "Жалоб за период инцидентов: 2"}]}))]
pub struct MonitoringDryRunExample {
    pub inn: String,
    /// Its status in the catalog now.
    pub catalog_status: CatalogStatus,
    /// The status the policy in force asks for (null: no rule fires).
    pub from: Option<CatalogStatus>,
    /// The status the candidate asks for.
    pub to: Option<CatalogStatus>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// The candidate's reasons, with the status each asks for in `effect`.
    pub reasons: Vec<crate::rules::ExampleReason>,
}

const RUNS_KEPT: usize = 100;

pub struct Monitor {
    /// Runs started through the API, by id (this instance's).
    runs: std::sync::Mutex<std::collections::VecDeque<MonitoringRun>>,
    catalog: Arc<CatalogService>,
    checks: Arc<CheckService>,
    policy: Arc<Reloadable<rules::MonitoringPolicy>>,
    settings: MonitoringSettings,
    /// This instance's name on its leases.
    owner: String,
    metrics: Arc<crate::metrics::Metrics>,
}

impl Monitor {
    /// The monitoring policy in force (for reloads).
    pub fn policy(&self) -> &Arc<Reloadable<rules::MonitoringPolicy>> {
        &self.policy
    }

    pub fn new(
        catalog: Arc<CatalogService>,
        checks: Arc<CheckService>,
        policy: Arc<Reloadable<rules::MonitoringPolicy>>,
        settings: MonitoringSettings,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Monitor {
        let owner = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        Monitor {
            runs: std::sync::Mutex::default(),
            catalog,
            checks,
            policy,
            settings,
            owner,
            metrics,
        }
    }

    /// Re-checks every contractor that is due now, in batches, until none is left.
    pub async fn run_due(&self) -> Result<RunReport, MonitorError> {
        let mut report = RunReport::default();
        let lease = Duration::seconds(i64::try_from(self.settings.lease_s.max(1)).unwrap_or(300));
        loop {
            let now = Utc::now();
            let claimed = self
                .catalog
                .claim_due(
                    &self.owner,
                    now,
                    now + lease,
                    i64::from(self.settings.batch.max(1)),
                )
                .await?;
            if claimed.is_empty() {
                return Ok(report);
            }
            use futures::StreamExt;
            let mut passes = futures::stream::iter(claimed)
                .map(|inn| async move { (self.process(&inn, self.settings.max_age_s).await, inn) })
                .buffer_unordered(self.settings.concurrency.max(1) as usize);
            while let Some((result, inn)) = passes.next().await {
                match result {
                    Ok(pass) => {
                        self.metrics.monitoring_pass("ok");
                        report.checked += 1;
                        report.events += pass.events;
                        report.transitions += pass.transitions;
                    }
                    Err(e) => {
                        self.metrics.monitoring_pass("failed");
                        report.failed += 1;
                        tracing::error!(inn = %crate::domain::mask_inns(&inn), error = ?e, "monitoring pass failed");
                    }
                }
            }
        }
    }

    /// Re-checks one listed contractor now, whether due or not (a manager's or a CRM's
    /// "check again"): the same pass as the scheduler's, under the same lease.
    pub async fn recheck(&self, inn: &Inn) -> Result<Pass, MonitorError> {
        let now = Utc::now();
        let lease = Duration::seconds(i64::try_from(self.settings.lease_s.max(1)).unwrap_or(300));
        self.catalog
            .claim_entry(inn.as_str(), &self.owner, now, now + lease)
            .await?;
        // "Recheck now" asks the registries again (concurrent callers share one fetch): a
        // bankruptcy published a minute ago is seen.
        let pass = self.process(inn.as_str(), 0).await;
        self.metrics
            .monitoring_pass(if pass.is_ok() { "ok" } else { "failed" });
        pass
    }

    /// What the monitoring policy says of `entry` given a check's facts and decision, the
    /// changes since the previous one and the quality facts now: the status change to make.
    async fn decide(
        &self,
        entry: &crate::catalog::CatalogEntry,
        facts: Facts,
        decision: &str,
        previous_decision: Option<&str>,
        changes: &[diff::Change],
        now: chrono::DateTime<Utc>,
    ) -> Result<Option<crate::catalog::StatusChange>, MonitorError> {
        let monitoring_facts = self
            .facts_for(entry, facts, decision, previous_decision, changes, now)
            .await?;
        let policy = self.policy.current();
        let verdicts = policy.evaluate(&monitoring_facts, self.checks.language());
        Ok(verdicts
            .iter()
            .map(|v| v.status)
            .max()
            .filter(|target| *target > entry.status && entry.status != CatalogStatus::Removed)
            .map(|target| {
                let fired: Vec<_> = verdicts.iter().filter(|v| v.status == target).collect();
                let reason = fired
                    .iter()
                    .map(|v| v.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ");
                let rule_ids = fired.iter().map(|v| v.rule_id.clone()).collect();
                crate::catalog::status_change(entry, target, reason, rule_ids, "monitoring")
            }))
    }

    /// The facts a monitoring rule reads: a check's facts, its decision beside the
    /// previous one, the changes found, the entry's status and its quality facts now.
    async fn facts_for(
        &self,
        entry: &crate::catalog::CatalogEntry,
        mut monitoring_facts: Facts,
        decision: &str,
        previous_decision: Option<&str>,
        changes: &[diff::Change],
        now: chrono::DateTime<Utc>,
    ) -> Result<Facts, MonitorError> {
        let fact = |value: serde_json::Value| Fact {
            value,
            source: Some("monitoring".into()),
            as_of: Some(now),
        };
        monitoring_facts.insert("decision.current".into(), fact(json!(decision)));
        monitoring_facts.insert("decision.previous".into(), fact(json!(previous_decision)));
        monitoring_facts.insert(
            "decision.changed".into(),
            fact(json!(previous_decision.is_some_and(|p| p != decision))),
        );
        monitoring_facts.insert("catalog.status".into(), fact(json!(entry.status)));
        for kind in diff::EVENT_KINDS {
            monitoring_facts.insert(
                format!("events.{kind}"),
                fact(json!(changes.iter().any(|c| c.kind == *kind))),
            );
        }
        monitoring_facts.extend(self.catalog.quality_facts(&entry.inn, now).await?);
        Ok(monitoring_facts)
    }

    /// Judges every listed contractor (not removed) under `candidate` and under the policy
    /// in force, as a quality signal is judged: over its latest check's facts and its quality
    /// facts now, with no registry change (changes between checks are not stored). Nothing
    /// is fetched and nothing moves. At most `max_examples` examples.
    pub async fn dry_run(
        &self,
        candidate: &str,
        max_examples: usize,
        language: crate::domain::Language,
    ) -> Result<MonitoringDryRun, crate::rules::PolicyError> {
        let owned = candidate.to_owned();
        let candidate =
            crate::rules::compile_off_thread(move || rules::MonitoringPolicy::parse(&owned))
                .await
                .map_err(crate::rules::PolicyError::Invalid)?;
        let current = self.policy.current();
        let store = self.checks.store();
        let mut report = MonitoringDryRun {
            candidate_version: candidate.version.clone(),
            evaluated: 0,
            changed: 0,
            reasons_changed: 0,
            rules: Vec::new(),
            examples: Vec::new(),
        };
        let mut hits: std::collections::BTreeMap<String, crate::rules::RuleHits> = candidate
            .rules
            .iter()
            .map(|r| (r.id.clone(), crate::rules::RuleHits::new(&r.id)))
            .collect();
        let now = Utc::now();
        let mut filter = crate::catalog::CatalogFilter {
            limit: 500,
            ..Default::default()
        };
        loop {
            let page = store.list_entries(&filter).await?;
            let Some(last) = page.last() else { break };
            filter.after = Some(last.inn.clone());
            for entry in page.iter().filter(|e| e.status != CatalogStatus::Removed) {
                // The check monitoring last judged it by, else its latest check.
                let id = match entry
                    .last_check_id
                    .as_deref()
                    .and_then(|id| id.parse().ok())
                {
                    Some(id) => Some(id),
                    None => match Inn::parse(&entry.inn) {
                        Ok(inn) => store.latest_check(&inn).await?.map(|c| c.id),
                        Err(_) => None,
                    },
                };
                let latest = match id {
                    Some(id) => self
                        .checks
                        .stored(id)
                        .await
                        .map_err(|e| crate::rules::PolicyError::Replay(e.to_string()))?,
                    None => None,
                };
                let Some(Checked { check, facts }) = latest else {
                    continue;
                };
                let decision = check.decision.map(|d| d.as_str()).unwrap_or("review");
                let facts = self
                    .facts_for(entry, facts, decision, Some(decision), &[], now)
                    .await
                    .map_err(|e| crate::rules::PolicyError::Replay(e.to_string()))?;
                let (before, after) = (
                    current.evaluate(&facts, language),
                    candidate.evaluate(&facts, language),
                );
                report.evaluated += 1;
                let fired = |verdicts: &[rules::Verdict]| -> std::collections::BTreeSet<String> {
                    verdicts.iter().map(|v| v.rule_id.clone()).collect()
                };
                let (fired_before, fired_after) = (fired(&before), fired(&after));
                for (ids, after_side) in [(&fired_before, false), (&fired_after, true)] {
                    for id in ids {
                        let h = hits
                            .entry(id.clone())
                            .or_insert_with(|| crate::rules::RuleHits::new(id));
                        if after_side {
                            h.after += 1
                        } else {
                            h.before += 1
                        }
                    }
                }
                let status = |verdicts: &[rules::Verdict]| verdicts.iter().map(|v| v.status).max();
                let (from, to) = (status(&before), status(&after));
                let reasons_changed = fired_before != fired_after;
                report.changed += u64::from(from != to);
                report.reasons_changed += u64::from(reasons_changed);
                if (from != to || reasons_changed) && report.examples.len() < max_examples {
                    report.examples.push(MonitoringDryRunExample {
                        inn: entry.inn.clone(),
                        catalog_status: entry.status,
                        from,
                        to,
                        added: fired_after.difference(&fired_before).cloned().collect(),
                        removed: fired_before.difference(&fired_after).cloned().collect(),
                        reasons: after
                            .iter()
                            .map(|v| crate::rules::ExampleReason {
                                rule_id: v.rule_id.clone(),
                                effect: v.status.as_str().to_owned(),
                                message: v.message.clone(),
                            })
                            .collect(),
                    });
                }
            }
        }
        report.rules = hits.into_values().collect();
        Ok(report)
    }

    /// Records a quality signal and applies the monitoring policy to it at once; `false`
    /// for a duplicate `external_id`. A failure of the judgement is logged: the signal is kept
    /// and the next re-check judges it.
    pub async fn record_feedback(
        &self,
        inn: &str,
        input: crate::catalog::FeedbackInput,
    ) -> Result<bool, MonitorError> {
        if !self.catalog.feedback(inn, input).await? {
            return Ok(false);
        }
        if let Err(e) = self.judge_feedback(inn).await {
            tracing::error!(inn = %crate::domain::mask_inns(inn), error = ?e, "cannot judge new feedback");
        }
        Ok(true)
    }

    /// Applies the monitoring policy to a contractor when a quality signal arrives (three
    /// complaints move it at once, not at the next re-check), over its latest check's
    /// facts and no registry change. `true` when its status changed.
    pub async fn judge_feedback(&self, inn: &str) -> Result<bool, MonitorError> {
        let entry = self.catalog.get(inn).await?;
        let latest = match entry
            .last_check_id
            .as_deref()
            .and_then(|id| id.parse().ok())
        {
            Some(id) => self.checks.stored(id).await?,
            None => None,
        };
        let Some(Checked { check, facts }) = latest else {
            return Ok(false);
        };
        let decision = check.decision.map(|d| d.as_str()).unwrap_or("review");
        let change = self
            .decide(&entry, facts, decision, Some(decision), &[], Utc::now())
            .await?;
        let Some(change) = change else {
            return Ok(false);
        };
        let target = change.transition.to;
        match self.catalog.apply(change).await {
            Ok(()) => {
                self.metrics.catalog_transition(target);
                Ok(true)
            }
            // A manager or a pass moved it meanwhile: their word stands.
            Err(CatalogError::Conflict) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// One contractor's pass: check (reusing registry answers up to `max_age_s` old),
    /// compare, decide, record.
    async fn process(&self, inn_text: &str, max_age_s: u64) -> Result<Pass, MonitorError> {
        let entry = self.catalog.get(inn_text).await?;
        let inn = Inn::parse(inn_text).map_err(|_| CatalogError::NotListed(inn_text.to_owned()))?;
        let checked = self
            .checks
            .run(CheckRequest {
                inn,
                max_age_s: Some(max_age_s),
                profile: None,
                requested_by: "monitoring".into(),
            })
            .await?;
        self.absorb(entry, checked).await
    }

    /// Takes a finished check of a listed contractor (the caller holds its lease): compares
    /// it with the entry's previous check, decides by the monitoring policy, and records the
    /// events, the status change and the next pass.
    async fn absorb(
        &self,
        entry: crate::catalog::CatalogEntry,
        Checked { check, facts }: Checked,
    ) -> Result<Pass, MonitorError> {
        let inn_text = entry.inn.as_str();
        let previous = match entry
            .last_check_id
            .as_deref()
            .and_then(|id| id.parse().ok())
        {
            Some(id) => self.checks.stored(id).await?,
            None => None,
        };
        let previous_facts: Option<&Facts> = previous
            .as_ref()
            .map(|p| &p.facts)
            .filter(|f| !f.is_empty());
        let previous_decision = previous
            .as_ref()
            .and_then(|p| p.check.decision)
            .map(|d| d.as_str().to_owned());
        let decision = check.decision.map(|d| d.as_str()).unwrap_or("review");

        let now = Utc::now();
        let mut changes = diff::changes(
            previous_facts.map(|f| (f, previous_decision.as_deref())),
            &facts,
            decision,
        );
        let mut unavailable = entry.sources_unavailable.clone();
        let threshold = Duration::seconds(
            i64::try_from(self.settings.unavailable_alert_s).unwrap_or(i64::MAX / 1000),
        );
        changes.extend(diff::unavailable_sources(
            &mut unavailable,
            &facts,
            now,
            threshold,
        ));
        let status_change = self
            .decide(
                &entry,
                facts.clone(),
                decision,
                previous_decision.as_deref(),
                &changes,
                now,
            )
            .await?;
        let target = status_change.as_ref().map(|c| c.transition.to);

        let events: Vec<NewEvent> = changes
            .iter()
            .map(|c| {
                let mut payload = c.payload.clone();
                payload["check_id"] = json!(check.id.to_string());
                NewEvent {
                    inn: inn_text.to_owned(),
                    kind: c.kind.to_owned(),
                    payload,
                }
            })
            .collect();
        let interval =
            Duration::seconds(i64::try_from(self.settings.interval_s.max(1)).unwrap_or(86_400));
        let check_id = check.id.to_string();
        let pass = crate::catalog::MonitoringPass {
            last_check_id: Some(&check_id),
            next_check_at: Utc::now() + interval,
            unavailable: &unavailable,
            events: &events,
            status_change,
        };
        let Some(moved) = self
            .catalog
            .finish_monitoring(inn_text, &self.owner, &pass)
            .await?
        else {
            tracing::warn!(
                inn = %crate::domain::mask_inns(inn_text),
                "lease lost before the pass was recorded; another instance redoes it"
            );
            return Ok(Pass {
                check,
                events: 0,
                transitions: 0,
            });
        };
        let mut transitions = 0;
        // Not moved with a target: a manager moved it meanwhile, and their word stands.
        if let (true, Some(target)) = (moved, target) {
            transitions = 1;
            self.metrics.catalog_transition(target);
        }
        Ok(Pass {
            check,
            events: events.len() as u64,
            transitions,
        })
    }

    /// A check of a listed contractor that someone else asked for (a manager, a CRM, a
    /// batch): the entry takes it as a pass at once, so a manager's fresh `reject` moves it
    /// now, not at the next scheduled pass. Skipped while a pass holds the entry (that pass
    /// decides), for a removed entry, and for an INN not in the catalog.
    async fn follow(&self, checked: &Checked) -> Result<(), MonitorError> {
        let inn = checked.check.inn.as_str();
        let id = checked.check.id.to_string();
        match self.catalog.get(inn).await {
            Ok(entry) if entry.status == CatalogStatus::Removed => return Ok(()),
            Ok(_) => {}
            Err(CatalogError::NotListed(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let now = Utc::now();
        let lease = Duration::seconds(i64::try_from(self.settings.lease_s.max(1)).unwrap_or(300));
        match self
            .catalog
            .claim_entry(inn, &self.owner, now, now + lease)
            .await
        {
            Ok(()) => {}
            Err(CatalogError::Conflict) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        // Read under the lease: a pass that ended meanwhile may have taken a newer check
        // (check ids are time-ordered), and then this one is history.
        let entry = self.catalog.get(inn).await?;
        if entry
            .last_check_id
            .as_deref()
            .is_some_and(|last| last >= id.as_str())
        {
            self.catalog.release(inn, &self.owner).await?;
            return Ok(());
        }
        let pass = self.absorb(entry, checked.clone()).await;
        self.metrics
            .monitoring_pass(if pass.is_ok() { "ok" } else { "failed" });
        pass.map(|_| ())
    }

    /// Starts a run over the due contractors in the background (not in the caller's
    /// request); the handle yields the run once it ends. Observe it with [`Monitor::run`].
    pub fn start_run(self: &Arc<Self>) -> (MonitoringRun, tokio::task::JoinHandle<MonitoringRun>) {
        let run = MonitoringRun {
            id: uuid::Uuid::now_v7(),
            state: RunState::Running,
            started_at: Utc::now(),
            finished_at: None,
            checked: None,
            events: None,
            transitions: None,
            failed: None,
            error: None,
        };
        self.keep(run.clone());
        let monitor = Arc::clone(self);
        let mut finished = run.clone();
        let handle = tokio::spawn(async move {
            match monitor.run_due().await {
                Ok(report) => {
                    finished.state = RunState::Done;
                    finished.checked = Some(report.checked);
                    finished.events = Some(report.events);
                    finished.transitions = Some(report.transitions);
                    finished.failed = Some(report.failed);
                }
                Err(e) => {
                    tracing::error!(error = ?e, "monitoring run failed");
                    finished.state = RunState::Failed;
                    finished.error = Some("the run failed; see the service log".into());
                }
            }
            finished.finished_at = Some(Utc::now());
            monitor.keep(finished.clone());
            finished
        });
        (run, handle)
    }

    /// A run started through the API on this instance.
    pub fn run(&self, id: uuid::Uuid) -> Option<MonitoringRun> {
        self.runs().iter().find(|r| r.id == id).cloned()
    }

    fn runs(&self) -> std::sync::MutexGuard<'_, std::collections::VecDeque<MonitoringRun>> {
        match self.runs.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Records a run's latest state, keeping the newest [`RUNS_KEPT`].
    fn keep(&self, run: MonitoringRun) {
        let mut runs = self.runs();
        match runs.iter_mut().find(|r| r.id == run.id) {
            Some(kept) => *kept = run,
            None => {
                runs.push_back(run);
                while runs.len() > RUNS_KEPT {
                    runs.pop_front();
                }
            }
        }
    }

    /// Runs the due contractors every `tick_ms`, forever.
    pub fn spawn(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(
                self.settings.tick_ms.max(10),
            ));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match self.run_due().await {
                    Ok(r) if r.checked > 0 => tracing::info!(?r, "monitoring run"),
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = ?e, "monitoring run failed"),
                }
            }
        })
    }
}

#[async_trait::async_trait]
impl crate::check::CheckFollower for Monitor {
    async fn finished(&self, checked: &Checked) {
        // Monitoring's own checks are taken by the pass that asked for them; a check under
        // another profile (a large deal's) is not the catalog's judgement.
        if checked.check.requested_by.as_deref() == Some("monitoring")
            || checked.check.profile != self.checks.default_profile()
        {
            return;
        }
        if let Err(e) = self.follow(checked).await {
            tracing::error!(inn = %crate::domain::mask_inns(&checked.check.inn), error = ?e,
                "a finished check of a listed contractor was not taken by monitoring");
        }
    }
}
