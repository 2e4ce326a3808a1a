//! The newest finished check of each hot INN, in memory, so a dossier is found without a
//! query. An entry may be trusted only while every write of a check reaches this instance:
//!
//! - on SQLite one process owns the database, so its own writes are all there are;
//! - on PostgreSQL every write of a finished check is announced by a trigger
//!   (`NOTIFY kontragent_checks`, see migration 0014) and [`watch_postgres`] hears it.
//!   While that connection is down the index is not trusted and every read asks the
//!   database; when it comes back the index starts empty.
//!
//! A read that missed asks the database and remembers the answer, unless a write was heard
//! meanwhile (the `epoch` moved): the answer may then already be old, and a miss is always
//! safe.

use crate::cache::DocumentCache;
use crate::domain::Inn;
use crate::storage::CheckOrder;
use moka::future::Cache;
use moka::ops::compute::Op;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use uuid::Uuid;

/// The PostgreSQL channel the `checks` trigger notifies.
pub const CHANNEL: &str = "kontragent_checks";

/// What an entry costs in memory: the INN, the id, two times, moka's bookkeeping.
const ENTRY_BYTES: u32 = 160;

pub struct LatestChecks {
    by_inn: Cache<Inn, CheckOrder>,
    /// Moves on every write heard, so a read that raced a write does not remember.
    epoch: AtomicU64,
    /// Whether every write reaches this instance (see the module's doc).
    trusted: AtomicBool,
}

impl LatestChecks {
    /// An index of at most `max_bytes`; `trusted` says whether it may be used right away.
    pub fn new(max_bytes: u64, trusted: bool) -> LatestChecks {
        LatestChecks {
            by_inn: Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_: &Inn, _: &CheckOrder| ENTRY_BYTES)
                .build(),
            epoch: AtomicU64::new(0),
            trusted: AtomicBool::new(trusted),
        }
    }

    /// The newest finished check of `inn`, when the index knows it and may be trusted.
    pub async fn get(&self, inn: &Inn) -> Option<Uuid> {
        if !self.trusted.load(Ordering::Acquire) {
            return None;
        }
        self.by_inn.get(inn).await.map(|n| n.id)
    }

    /// Where a read that is about to ask the database starts from.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Remembers what the database answered to a read that began at `epoch`, unless a write
    /// was heard since (then the answer may be old, and is forgotten). Per key, this and
    /// [`LatestChecks::finished`] run one after the other.
    pub async fn remember(&self, inn: &Inn, newest: CheckOrder, epoch: u64) {
        if !self.trusted.load(Ordering::Acquire) {
            return;
        }
        self.by_inn
            .entry_by_ref(inn)
            .and_compute_with(|_| async move {
                if self.epoch() == epoch {
                    Op::Put(newest)
                } else {
                    Op::Nop
                }
            })
            .await;
    }

    /// A finished check was written, here or by another instance: it replaces what the
    /// index knows of its INN when it is newer. An INN the index does not hold stays out
    /// (only reads fill it).
    pub async fn finished(&self, inn: &Inn, newest: CheckOrder) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.by_inn
            .entry_by_ref(inn)
            .and_compute_with(|known| async move {
                match known {
                    Some(k) if newest.is_after(k.value()) => Op::Put(newest),
                    _ => Op::Nop,
                }
            })
            .await;
    }

    /// Writes of other instances may be missed from now on: every read asks the database.
    pub fn distrust(&self) {
        self.trusted.store(false, Ordering::Release);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.by_inn.invalidate_all();
    }

    /// Every write is heard again: the index starts over, empty.
    pub fn trust(&self) {
        self.by_inn.invalidate_all();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.trusted.store(true, Ordering::Release);
    }
}

/// A notification of the `checks` trigger: `done|rewritten <id> <inn> <checked_at> <created_at>`.
#[derive(Debug, PartialEq)]
enum Heard {
    /// A check finished.
    Done(Inn, CheckOrder),
    /// A finished check's document was rewritten (retention pruned it).
    Rewritten(Inn, CheckOrder),
}

fn parse(payload: &str) -> Option<Heard> {
    let mut words = payload.split(' ');
    let kind = words.next()?;
    let id = words.next()?.parse().ok()?;
    let inn = Inn::parse(words.next()?).ok()?;
    let checked_at = words.next()?.parse().ok()?;
    let created_at = words.next()?.parse().ok()?;
    let newest = CheckOrder {
        id,
        checked_at,
        created_at,
    };
    match kind {
        "done" => Some(Heard::Done(inn, newest)),
        "rewritten" => Some(Heard::Rewritten(inn, newest)),
        _ => None,
    }
}

/// Listens to the `checks` trigger for as long as the process runs: trusts the index while
/// connected, distrusts it (and retries every second) while not.
pub async fn watch_postgres(url: String, latest: Arc<LatestChecks>, documents: Arc<DocumentCache>) {
    loop {
        match listen(&url).await {
            Ok(mut listener) => {
                latest.trust();
                while let Ok(Some(n)) = listener.try_recv().await {
                    match parse(n.payload()) {
                        Some(Heard::Done(inn, newest)) => latest.finished(&inn, newest).await,
                        Some(Heard::Rewritten(inn, newest)) => {
                            documents.forget(&newest.id).await;
                            latest.finished(&inn, newest).await;
                        }
                        None => {
                            tracing::warn!(payload = n.payload(), "unreadable check notification")
                        }
                    }
                }
                tracing::warn!(
                    "lost the check notifications: the latest checks are read from the database until they are back"
                );
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for check notifications"),
        }
        latest.distrust();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn listen(url: &str) -> Result<sqlx::postgres::PgListener, sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inn() -> Inn {
        Inn::parse("7707083893").unwrap()
    }

    fn check(checked_at: i64) -> CheckOrder {
        CheckOrder {
            id: Uuid::now_v7(),
            checked_at,
            created_at: checked_at - 5,
        }
    }

    #[tokio::test]
    async fn a_newer_write_replaces_what_was_remembered_and_an_older_one_does_not() {
        let latest = LatestChecks::new(1 << 20, true);
        let first = check(1_000);
        latest.remember(&inn(), first, latest.epoch()).await;
        assert_eq!(latest.get(&inn()).await, Some(first.id));

        let newer = check(2_000);
        latest.finished(&inn(), newer).await;
        assert_eq!(latest.get(&inn()).await, Some(newer.id));

        latest.finished(&inn(), check(1_500)).await;
        assert_eq!(
            latest.get(&inn()).await,
            Some(newer.id),
            "an older write arriving late"
        );
    }

    #[tokio::test]
    async fn a_read_that_raced_a_write_is_not_remembered() {
        let latest = LatestChecks::new(1 << 20, true);
        let started = latest.epoch();
        // Another instance's write lands while the read is at the database…
        latest.finished(&inn(), check(2_000)).await;
        // …so what the database answered before it must not be kept.
        latest.remember(&inn(), check(1_000), started).await;
        assert_eq!(latest.get(&inn()).await, None);
    }

    #[tokio::test]
    async fn a_write_to_an_inn_not_in_memory_is_not_guessed_into_it() {
        let latest = LatestChecks::new(1 << 20, true);
        latest.finished(&inn(), check(2_000)).await;
        assert_eq!(latest.get(&inn()).await, None, "only reads fill the index");
    }

    #[tokio::test]
    async fn an_untrusted_index_answers_nothing_and_starts_empty_when_trusted_again() {
        let latest = LatestChecks::new(1 << 20, true);
        latest.remember(&inn(), check(1_000), latest.epoch()).await;
        latest.distrust();
        assert_eq!(latest.get(&inn()).await, None);
        latest.remember(&inn(), check(1_000), latest.epoch()).await;
        latest.trust();
        assert_eq!(latest.get(&inn()).await, None);
    }

    #[test]
    fn notifications_are_read_and_nonsense_is_not() {
        let id = Uuid::now_v7();
        let newest = CheckOrder {
            id,
            checked_at: 20,
            created_at: 10,
        };
        assert_eq!(
            parse(&format!("done {id} 7707083893 20 10")),
            Some(Heard::Done(inn(), newest))
        );
        assert_eq!(
            parse(&format!("rewritten {id} 7707083893 20 10")),
            Some(Heard::Rewritten(inn(), newest))
        );
        assert_eq!(parse(&format!("done {id} 7707083893 20")), None);
        assert_eq!(parse(&format!("inserted {id} 7707083893 20 10")), None);
        assert_eq!(parse("done not-a-uuid 7707083893 20 10"), None);
    }
}
