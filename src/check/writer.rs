//! Group commit of finished checks: concurrent requests hand their rows to one writer task,
//! which saves whatever has gathered (up to [`MAX_BATCH`], or what came within
//! [`GATHER`]) in one transaction, then answers each request. A request's answer waits
//! for its batch's commit, so nothing acknowledged is lost; on a database that syncs every
//! commit, sixteen checks then cost one sync instead of sixteen.

use crate::storage::{Store, StoreError, StoredCheck};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Rows in one transaction at most.
const MAX_BATCH: usize = 64;
/// How long the writer waits for more rows after the first of a batch.
const GATHER: Duration = Duration::from_millis(1);

type Job = (StoredCheck, oneshot::Sender<Result<(), String>>);

#[derive(Clone)]
pub struct CheckWriter {
    jobs: mpsc::Sender<Job>,
    store: Arc<dyn Store>,
}

impl CheckWriter {
    /// Starts the writer task on the current runtime.
    pub fn start(store: Arc<dyn Store>) -> CheckWriter {
        let (jobs, queue) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(write_batches(Arc::clone(&store), queue));
        CheckWriter { jobs, store }
    }

    /// Saves `row` with the rows of concurrent callers; returns once it is committed.
    pub async fn save(&self, row: StoredCheck) -> Result<(), StoreError> {
        let (done, committed) = oneshot::channel();
        if let Err(mpsc::error::SendError((row, _))) = self.jobs.send((row, done)).await {
            // The writer is gone (the runtime is shutting down): write alone.
            return self.store.save_check(&row).await;
        }
        match committed.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(StoreError::Shared(message)),
            Err(_) => Err(StoreError::Shared("the check writer stopped".into())),
        }
    }
}

async fn write_batches(store: Arc<dyn Store>, mut queue: mpsc::Receiver<Job>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        let until = tokio::time::Instant::now() + GATHER;
        while batch.len() < MAX_BATCH {
            match tokio::time::timeout_at(until, queue.recv()).await {
                Ok(Some(job)) => batch.push(job),
                Ok(None) | Err(_) => break,
            }
        }
        let (rows, waiters): (Vec<StoredCheck>, Vec<_>) = batch.into_iter().unzip();
        let result = store.save_checks(&rows).await;
        if let Err(e) = &result {
            tracing::error!(error = ?e, rows = rows.len(), "cannot save a batch of checks");
        }
        for waiter in waiters {
            let _ = waiter.send(result.as_ref().map(|_| ()).map_err(|e| e.to_string()));
        }
    }
}
