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
use chrono::{DateTime, Utc};
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

/// A registry's answer as kept in memory: when it was fetched, and the report (without its
/// evidence) as compact JSON, several times smaller than the parsed form.
#[derive(Clone)]
struct Kept {
    fetched_at: DateTime<Utc>,
    json: Bytes,
}

impl Kept {
    fn of(report: &SourceReport) -> Option<Kept> {
        Some(Kept {
            fetched_at: report.fetched_at,
            json: Bytes::from(serde_json::to_vec(report).ok()?),
        })
    }

    fn report(&self) -> Option<Arc<SourceReport>> {
        serde_json::from_slice(&self.json).ok().map(Arc::new)
    }
}

pub struct SourceCache {
    by_source: HashMap<String, Cache<Inn, Kept>>,
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
                    .weigher(|_: &Inn, kept: &Kept| weight_of(kept.json.len()))
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
        since: DateTime<Utc>,
    ) -> Option<Arc<SourceReport>> {
        let cache = self.by_source.get(source)?;
        let hit = cache.get(inn).await?;
        if hit.fetched_at >= since {
            hit.report()
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
        let Some(cache) = self.by_source.get(source) else {
            return match load.await {
                Ok(r) | Err(r) => r,
            };
        };
        // The loader's own report reaches the waiters whole; only what is kept is JSON.
        let loaded = std::sync::Mutex::new(None);
        let kept = cache
            .try_get_with(inn.clone(), async {
                let report = load.await?;
                let kept = Kept::of(&report).ok_or_else(|| Arc::clone(&report))?;
                *loaded.lock().unwrap_or_else(|p| p.into_inner()) = Some(report);
                Ok::<_, Arc<SourceReport>>(kept)
            })
            .await;
        if let Some(report) = loaded.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return report;
        }
        match kept {
            // Only a bug could make the service's own JSON unreadable; it is then a failure.
            Ok(kept) => kept.report().unwrap_or_else(|| {
                Arc::new(SourceReport::unavailable(
                    source,
                    &crate::sources::SourceError::Garbage(
                        "the cached answer could not be read back".into(),
                    ),
                ))
            }),
            Err(failed) => Arc::clone(&*failed),
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
