//! Retention: what grows with every check is pruned after its time, a check's decision
//! never. `retention.evidence_days` empties the raw registry bodies (each row keeps its URL,
//! status and SHA-256, so a report can still name what was seen); `retention.checks_days`
//! shrinks a finished check to its decision and reasons (the company card, the facts and
//! each reason's inputs go). One instance at a time prunes, under a claim in `fetch_claims`;
//! every pass also publishes the storage sizes to `/metrics`.

use crate::cache::DocumentCache;
use crate::config::RetentionSettings;
use crate::metrics::Metrics;
use crate::storage::{Store, StoreError};
use chrono::{Duration as Days, Utc};
use std::sync::Arc;
use std::time::Duration;

/// The key of the pass's claim in `fetch_claims` (source `retention`).
pub const LEASE: &str = "pass";

/// Checks pruned per batch, so one pass never holds a long transaction.
const BATCH: i64 = 500;

pub struct Retention {
    store: Arc<dyn Store>,
    /// This instance's finished checks in memory: a pruned one must not be served whole.
    /// (Other instances hear of the rewrite from PostgreSQL; see `check::latest`.)
    documents: Arc<DocumentCache>,
    settings: RetentionSettings,
    metrics: Arc<Metrics>,
    instance: String,
}

/// What one pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub evidence: u64,
    pub checks: u64,
}

impl Retention {
    pub fn new(
        store: Arc<dyn Store>,
        documents: Arc<DocumentCache>,
        settings: RetentionSettings,
        metrics: Arc<Metrics>,
    ) -> Self {
        Retention {
            store,
            documents,
            settings,
            metrics,
            instance: uuid::Uuid::now_v7().to_string(),
        }
    }

    /// Runs a pass every `retention.tick_s`.
    pub fn spawn(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(self.settings.tick_s.max(1)));
            loop {
                tick.tick().await;
                if let Err(e) = self.pass().await {
                    tracing::error!(error = ?e, "retention pass failed");
                }
            }
        })
    }

    /// One pass, if no other instance is running one. `None` when another holds it.
    pub async fn pass(&self) -> Result<Option<Pruned>, StoreError> {
        self.pass_at(Utc::now()).await
    }

    /// [`Retention::pass`] as if it were `now` (tests move time forward).
    pub async fn pass_at(&self, now: chrono::DateTime<Utc>) -> Result<Option<Pruned>, StoreError> {
        let lease = Days::seconds(self.settings.tick_s.max(60) as i64);
        if !self
            .store
            .claim_fetch("retention", LEASE, &self.instance, now, now + lease)
            .await?
        {
            return Ok(None);
        }
        let result = self.prune(now).await;
        self.store
            .release_fetch("retention", LEASE, &self.instance)
            .await?;
        let pruned = result?;
        for (name, value) in self.store.storage_sizes().await? {
            self.metrics.storage_size(name, value);
        }
        if pruned != Pruned::default() {
            tracing::info!(
                evidence = pruned.evidence,
                checks = pruned.checks,
                "retention pass"
            );
        }
        Ok(Some(pruned))
    }

    async fn prune(&self, now: chrono::DateTime<Utc>) -> Result<Pruned, StoreError> {
        let mut pruned = Pruned::default();
        if self.settings.evidence_days > 0 {
            let before = now - Days::days(i64::from(self.settings.evidence_days));
            pruned.evidence = self.store.prune_evidence(before).await?;
        }
        if self.settings.checks_days > 0 {
            let before = now - Days::days(i64::from(self.settings.checks_days));
            loop {
                let batch = self.store.checks_to_prune(before, BATCH).await?;
                if batch.is_empty() {
                    break;
                }
                for row in batch {
                    let whole = serde_json::from_str(&row.document)?;
                    self.store
                        .prune_check(row.id, &pruned_document(whole).to_string())
                        .await?;
                    self.documents.forget(&row.id).await;
                    pruned.checks += 1;
                }
            }
        }
        Ok(pruned)
    }
}

/// A check reduced to its decision: the company card removed, each reason's inputs emptied.
fn pruned_document(mut document: serde_json::Value) -> serde_json::Value {
    if let Some(check) = document.as_object_mut() {
        check.remove("company");
        if let Some(reasons) = check.get_mut("reasons").and_then(|r| r.as_array_mut()) {
            for reason in reasons {
                if let Some(r) = reason.as_object_mut() {
                    r.insert("inputs".into(), serde_json::Value::Array(Vec::new()));
                }
            }
        }
    }
    document
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pruned_check_keeps_its_decision_and_reasons_and_still_reads_as_a_check() {
        let whole = crate::check::Check::example();
        let check: crate::check::Check = serde_json::from_value(whole.clone()).unwrap();
        let pruned = pruned_document(whole.clone());
        assert!(pruned.get("company").is_none());
        assert_eq!(pruned["reasons"][0]["inputs"], serde_json::json!([]));
        assert_eq!(
            pruned["reasons"][0]["message"],
            whole["reasons"][0]["message"]
        );
        let back: crate::check::Check = serde_json::from_value(pruned).unwrap();
        assert_eq!((back.decision, back.score), (check.decision, check.score));
    }
}
