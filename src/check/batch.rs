//! A batch of checks: a list of INNs checked a few at a time, each INN validated on its own
//! (a bad one is that item's error, never the whole batch's), results kept in input order in
//! the database so any instance can show progress. `POST /v1/checks/batch` and
//! `kontragent batch` both run through here.

use super::{Check, CheckError, CheckRequest, CheckService};
use crate::domain::Inn;
use crate::storage::{Store, StoredBatch};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// The most INNs one batch takes over the API.
pub const MAX_BATCH: usize = 100;

/// Why one INN of a batch has no check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"code": "inn_checksum", "detail": "the INN's check digit is wrong"}))]
pub struct ItemError {
    /// `inn_digits`, `inn_length`, `inn_checksum`, `duplicate`, `unknown_profile`,
    /// `check_failed`, `interrupted`.
    #[schema(example = "inn_checksum")]
    pub code: String,
    #[schema(example = "the INN's check digit is wrong")]
    pub detail: String,
}

/// One INN of a batch: its check (pending while it runs), its error, or neither while
/// it waits its turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"inn": "7701000019", "check": Check::example()}))]
pub struct BatchItem {
    /// As given.
    #[schema(example = "7701000019")]
    pub inn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<Check>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ItemError>,
}

/// A batch's progress and its results so far, in input order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"id": "0193a3c4-8f2e-7c1a-9b1e-5d2f3a4b5c6e", "state": "running", "total": 2, "finished": 1,
    "created_at": "2026-11-20T10:00:00Z",
    "items": [{"inn": "7701000019", "check": Check::example()}, {"inn": "7701000018", "error": {"code": "inn_checksum", "detail": "the INN's check digit is wrong"}}]}))]
pub struct Batch {
    pub id: Uuid,
    /// `running` or `done`.
    #[schema(example = "running")]
    pub state: String,
    #[schema(example = 2)]
    pub total: usize,
    /// Items with a finished check or an error.
    #[schema(example = 1)]
    pub finished: usize,
    pub created_at: DateTime<Utc>,
    pub items: Vec<BatchItem>,
}

/// What a batch is asked to do.
#[derive(Debug, Clone)]
pub struct BatchRequest {
    pub inns: Vec<String>,
    pub max_age_s: Option<u64>,
    pub profile: Option<String>,
    pub callback_url: Option<String>,
    pub requested_by: String,
}

/// An item as stored: the check is referred to by id.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Slot {
    inn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    check_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<ItemError>,
    /// The check ended (done or failed), or the item has its error.
    #[serde(default)]
    finished: bool,
}

pub struct BatchService {
    checks: Arc<CheckService>,
    store: Arc<dyn Store>,
    /// Checks of one batch running at once: gentle on the registries' rate limits and on
    /// `limits.max_running_checks`.
    concurrency: usize,
    /// Batches told to stop: their items not yet started end `interrupted`.
    cancelled: std::sync::Mutex<std::collections::HashSet<Uuid>>,
}

impl BatchService {
    pub fn new(checks: Arc<CheckService>, concurrency: usize) -> BatchService {
        BatchService {
            store: Arc::clone(checks.store()),
            checks,
            concurrency: concurrency.max(1),
            cancelled: std::sync::Mutex::default(),
        }
    }

    /// Stops a batch this process runs: the checks under way finish, the rest are not
    /// started (`interrupted`), and the batch ends `done`.
    pub fn cancel(&self, id: Uuid) {
        self.cancelled
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id);
    }

    fn is_cancelled(&self, id: Uuid) -> bool {
        self.cancelled
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&id)
    }

    /// Records the batch and runs it in the background; the handle ends with the finished
    /// batch. Invalid and repeated INNs are items with an error from the start.
    pub async fn start(
        self: &Arc<Self>,
        request: BatchRequest,
    ) -> Result<(Uuid, tokio::task::JoinHandle<Result<Batch, CheckError>>), CheckError> {
        let mut seen: HashMap<String, usize> = HashMap::new();
        let slots: Vec<Slot> = request
            .inns
            .iter()
            .enumerate()
            .map(|(position, raw)| {
                let mut slot = Slot {
                    inn: raw.clone(),
                    ..Slot::default()
                };
                match Inn::parse(raw) {
                    Err(e) => slot.error = Some(item_error(e.code(), e.to_string())),
                    Ok(inn) => {
                        if let Some(first) = seen.insert(inn.to_string(), position) {
                            seen.insert(inn.to_string(), first);
                            slot.error = Some(item_error(
                                "duplicate",
                                format!("the same INN as item {}", first + 1),
                            ));
                        }
                    }
                }
                slot.finished = slot.error.is_some();
                slot
            })
            .collect();
        let now = Utc::now();
        let mut row = StoredBatch {
            id: Uuid::now_v7(),
            requested_by: request.requested_by.clone(),
            state: "running".into(),
            total: slots.len() as i64,
            finished: 0,
            items: String::new(),
            callback_url: request.callback_url.clone(),
            created_at: now,
            updated_at: now,
        };
        write(&mut row, &slots)?;
        self.store.save_batch(&row).await?;
        let id = row.id;
        let service = Arc::clone(self);
        let handle = tokio::spawn(async move { service.run(row, slots, request).await });
        Ok((id, handle))
    }

    async fn run(
        &self,
        mut row: StoredBatch,
        mut slots: Vec<Slot>,
        request: BatchRequest,
    ) -> Result<Batch, CheckError> {
        let todo: Vec<(usize, Inn)> = slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.error.is_none())
            .filter_map(|(i, s)| Inn::parse(&s.inn).ok().map(|inn| (i, inn)))
            .collect();
        let batch = row.id;
        let mut results = futures::stream::iter(todo)
            .map(|(position, inn)| {
                let request = CheckRequest {
                    inn,
                    max_age_s: request.max_age_s,
                    profile: request.profile.clone(),
                    requested_by: request.requested_by.clone(),
                };
                async move {
                    if self.is_cancelled(batch) {
                        return (position, Err(interrupted()));
                    }
                    let outcome = self.check_patiently(request).await;
                    (position, outcome.map_err(|e| check_error(&e)))
                }
            })
            .buffered(self.concurrency);
        while let Some((position, outcome)) = results.next().await {
            let slot = &mut slots[position];
            slot.finished = true;
            match outcome {
                Ok(check) => slot.check_id = Some(check.id),
                Err(e) => slot.error = Some(e),
            }
            row.updated_at = Utc::now();
            write(&mut row, &slots)?;
            self.store.save_batch(&row).await?;
        }
        row.state = "done".into();
        write(&mut row, &slots)?;
        self.store.save_batch(&row).await?;
        self.cancelled
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&row.id);
        let batch = self.read(&row).await?;
        if let Some(url) = &row.callback_url {
            self.checks
                .webhooks()
                .batch_completed(batch.id, &batch, url)
                .await
                .map_err(CheckError::Store)?;
        }
        Ok(batch)
    }

    /// Runs one check; when `limits.max_running_checks` is reached by other traffic, waits
    /// for a slot instead of failing the item.
    async fn check_patiently(&self, request: CheckRequest) -> Result<Check, CheckError> {
        let mut wait = Duration::from_millis(200);
        loop {
            match self.checks.run(request.clone()).await {
                Err(CheckError::Busy) => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                other => return other.map(|done| done.check),
            }
        }
    }

    /// The batch with every item's check as it stands now.
    pub async fn get(&self, id: Uuid) -> Result<Option<Batch>, CheckError> {
        match self.store.get_batch(id).await? {
            Some(row) => Ok(Some(self.read(&row).await?)),
            None => Ok(None),
        }
    }

    async fn read(&self, row: &StoredBatch) -> Result<Batch, CheckError> {
        let slots: Vec<Slot> =
            serde_json::from_str(&row.items).map_err(crate::storage::StoreError::from)?;
        let mut items = Vec::with_capacity(slots.len());
        for slot in &slots {
            let check = match slot.check_id {
                Some(id) => self.checks.get(id).await?,
                None => None,
            };
            items.push(BatchItem {
                inn: slot.inn.clone(),
                check,
                error: slot.error.clone(),
            });
        }
        Ok(Batch {
            id: row.id,
            state: row.state.clone(),
            total: slots.len(),
            finished: slots.iter().filter(|s| s.finished).count(),
            created_at: row.created_at,
            items,
        })
    }

    /// Ends the batches a stopped process left running: their unstarted items get
    /// `interrupted`. Called at start, for batches untouched for `stalled_after`.
    pub async fn end_stalled(&self, stalled_after: Duration) -> Result<usize, CheckError> {
        let before = super::cutoff(Utc::now(), stalled_after.as_secs());
        let stalled = self.store.stalled_batches(before).await?;
        for mut row in stalled.iter().cloned() {
            let mut slots: Vec<Slot> =
                serde_json::from_str(&row.items).map_err(crate::storage::StoreError::from)?;
            for slot in slots
                .iter_mut()
                .filter(|s| !s.finished && s.check_id.is_none())
            {
                slot.error = Some(interrupted());
                slot.finished = true;
            }
            row.state = "done".into();
            row.updated_at = Utc::now();
            write(&mut row, &slots)?;
            self.store.save_batch(&row).await?;
        }
        Ok(stalled.len())
    }
}

fn write(row: &mut StoredBatch, slots: &[Slot]) -> Result<(), CheckError> {
    row.items = serde_json::to_string(slots).map_err(crate::storage::StoreError::from)?;
    row.finished = slots.iter().filter(|s| s.finished).count() as i64;
    Ok(())
}

fn item_error(code: &str, detail: impl Into<String>) -> ItemError {
    ItemError {
        code: code.into(),
        detail: detail.into(),
    }
}

/// The code of an item a stop left unchecked.
pub const INTERRUPTED: &str = "interrupted";

fn interrupted() -> ItemError {
    item_error(
        INTERRUPTED,
        "stopped before this INN was checked; send it again",
    )
}

fn check_error(e: &CheckError) -> ItemError {
    match e {
        CheckError::UnknownProfile(_) => item_error("unknown_profile", e.to_string()),
        _ => item_error("check_failed", e.to_string()),
    }
}
