//! The in-memory (L1) cache of registry answers, keyed by (source, INN), one moka cache
//! per source so each has its own TTL. `try_get_with` coalesces concurrent misses of one
//! key into one registry request; failures are returned to every waiter but not cached.

use crate::config::Settings;
use crate::domain::Inn;
use crate::sources::SourceReport;
use moka::future::Cache;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub struct SourceCache {
    by_source: HashMap<String, Cache<Inn, Arc<SourceReport>>>,
}

impl SourceCache {
    pub fn new(settings: &Settings) -> SourceCache {
        let by_source = settings
            .sources
            .iter()
            .map(|(name, s)| {
                let cache = Cache::builder()
                    .max_capacity(settings.cache.max_entries)
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
