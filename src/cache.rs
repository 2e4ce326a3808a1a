//! The in-memory caches, bounded in bytes by `cache.max_bytes`:
//!
//! - [`SourceCache`]: registry answers keyed by (source, INN), one moka cache per source so
//!   each has its own TTL. `try_get_with` coalesces concurrent misses of one key into one
//!   registry request; failures are returned to every waiter but not cached. Entries hold
//!   findings only: the raw bodies (evidence) live in the database.
//! - [`DocumentCache`]: finished checks by id. A finished check never changes (until
//!   retention prunes it), so any instance may keep it for as long as memory allows.
//! - [`crate::check::latest::LatestChecks`]: the newest finished check of each hot INN.

use crate::config::Settings;
use crate::domain::Inn;
use crate::sources::SourceReport;
use bytes::Bytes;
use moka::future::Cache;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// What an entry costs beyond its JSON: the key, the `Arc`, moka's bookkeeping, and the
/// in-memory form being larger than the text (measured with `bench/memory.sh`).
const ENTRY_OVERHEAD: u32 = 512;

/// An entry's weight: its JSON size plus the overhead, in bytes.
fn weight_of(json_len: usize) -> u32 {
    u32::try_from(json_len)
        .unwrap_or(u32::MAX)
        .saturating_add(ENTRY_OVERHEAD)
}

pub struct SourceCache {
    by_source: HashMap<String, Cache<Inn, Arc<SourceReport>>>,
}

impl SourceCache {
    /// Half of `cache.max_bytes`, shared equally by the sources.
    pub fn new(settings: &Settings) -> SourceCache {
        let count = settings.sources.iter().count().max(1) as u64;
        let per_source = settings.cache.max_bytes / 2 / count;
        let by_source = settings
            .sources
            .iter()
            .map(|(name, s)| {
                let cache = Cache::builder()
                    .max_capacity(per_source)
                    .weigher(|_: &Inn, report: &Arc<SourceReport>| {
                        weight_of(serde_json::to_vec(&report.findings).map_or(0, |v| v.len()))
                    })
                    .time_to_live(Duration::from_secs(s.ttl_s.max(1)))
                    .build();
                (name.to_owned(), cache)
            })
            .collect();
        SourceCache { by_source }
    }

    /// A cached answer fetched at or after `since`.
    pub async fn get_fresh(
        &self,
        source: &str,
        inn: &Inn,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Option<Arc<SourceReport>> {
        let cache = self.by_source.get(source)?;
        let hit = cache.get(inn).await?;
        if hit.fetched_at >= since {
            Some(hit)
        } else {
            cache.invalidate(inn).await;
            None
        }
    }

    /// Forgets the cached answer (a caller wants one fetched after it asked).
    pub async fn invalidate(&self, source: &str, inn: &Inn) {
        if let Some(cache) = self.by_source.get(source) {
            cache.invalidate(inn).await;
        }
    }

    /// Returns the cached answer or runs `load` once for all concurrent callers.
    /// `load` returns `Err` for an answer that must not be cached (it is still returned).
    pub async fn get_or_load<F>(&self, source: &str, inn: &Inn, load: F) -> Arc<SourceReport>
    where
        F: Future<Output = Result<Arc<SourceReport>, Arc<SourceReport>>>,
    {
        match self.by_source.get(source) {
            Some(cache) => match cache.try_get_with(inn.clone(), load).await {
                Ok(report) => report,
                Err(failed) => Arc::clone(&failed),
            },
            None => match load.await {
                Ok(r) | Err(r) => r,
            },
        }
    }
}

/// Finished checks by id, as the JSON the API shows (served without parsing it again),
/// weighed by its size.
pub struct DocumentCache {
    cache: Cache<Uuid, Bytes>,
}

impl DocumentCache {
    /// Seven sixteenths of `cache.max_bytes` (the latest-check index has the sixteenth left).
    pub fn new(settings: &Settings) -> DocumentCache {
        DocumentCache {
            cache: Cache::builder()
                .max_capacity(settings.cache.max_bytes / 16 * 7)
                .weigher(|_: &Uuid, json: &Bytes| weight_of(json.len()))
                .build(),
        }
    }

    pub async fn get(&self, id: &Uuid) -> Option<Bytes> {
        self.cache.get(id).await
    }

    /// Drops a check whose stored document changed (retention pruned it).
    pub async fn forget(&self, id: &Uuid) {
        self.cache.invalidate(id).await;
    }

    /// Keeps a finished check's JSON.
    pub async fn insert(&self, id: Uuid, json: Bytes) {
        self.cache.insert(id, json).await;
    }
}
