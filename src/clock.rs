//! The wall clock as stored times read it.

use chrono::{DateTime, Utc};

/// Now, to the millisecond: the precision snapshots are stored with, so a stored
/// answer shows the same `fetched_at` as the live one did.
pub fn now_ms() -> DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(3)
}
