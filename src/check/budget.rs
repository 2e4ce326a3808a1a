//! A budget per caller per minute. The check service keeps one of checks
//! (`limits.checks_per_minute`), whatever way they are asked for: a single check, each INN of
//! a batch, a Bitrix24 portal's robot calls, an amoCRM account's webhook items, a website
//! key's applications; the guard keeps one of public calls per client IP. A request over the
//! budget is refused whole, never half-run.

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

/// Over the budget: retry after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverBudget {
    pub retry_after_s: u64,
}

pub struct Budget {
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    calls: AtomicU64,
}

impl Budget {
    /// `per_minute` per caller (`0`: unlimited).
    pub fn new(per_minute: u32) -> Budget {
        Budget {
            limiter: NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            calls: AtomicU64::new(0),
        }
    }

    /// Takes `n` from `caller`'s budget, all or none.
    pub fn admit(&self, caller: &str, n: usize) -> Result<(), OverBudget> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        let Some(n) = NonZeroU32::new(u32::try_from(n).unwrap_or(u32::MAX)) else {
            return Ok(());
        };
        // Forget idle callers now and then, so the table does not grow forever.
        if self.calls.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            limiter.retain_recent();
        }
        match limiter.check_key_n(&caller.to_owned(), n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => {
                let now = governor::clock::Clock::now(&governor::clock::DefaultClock::default());
                Err(OverBudget {
                    retry_after_s: not_until.wait_time_from(now).as_secs() + 1,
                })
            }
            // More than a whole minute's budget at once: a minute is the soonest any of it
            // could be admitted, and only once split.
            Err(_) => Err(OverBudget { retry_after_s: 60 }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_over_the_budget_takes_nothing() {
        let budget = Budget::new(10);
        assert!(budget.admit("a", 8).is_ok());
        let refused = budget.admit("a", 3).unwrap_err();
        assert!((1..=60).contains(&refused.retry_after_s));
        // The refused three took nothing: two are still there.
        assert!(budget.admit("a", 2).is_ok());
        assert!(budget.admit("a", 1).is_err());
        assert!(budget.admit("b", 10).is_ok(), "another caller has its own");
        assert_eq!(budget.admit("c", 11).unwrap_err().retry_after_s, 60);
        assert!(Budget::new(0).admit("a", 1_000).is_ok());
    }
}
