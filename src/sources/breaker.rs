//! A per-source circuit breaker: after N consecutive failed flows the source is skipped
//! (`unavailable`, reason `circuit_open`) for a cool-down, then one probe is let through;
//! its success closes the circuit, its failure opens it again. A captcha pauses the source
//! at once for its own, longer time (registries.md §0.3: asking again only extends it).

use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct CircuitBreaker {
    /// Consecutive failures that open the circuit; 0 disables the breaker.
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
    /// The time, injected so tests move it instead of sleeping.
    now: Box<dyn Fn() -> Instant + Send + Sync>,
}

#[derive(Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
    probing: bool,
    /// The circuit is open because of a captcha, not of failures counted to the threshold.
    paused: bool,
}

/// Leave to run one flow. Record its outcome with [`Permit::record`]; a probe dropped
/// without an outcome (its check was cancelled) re-opens the circuit.
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    probe: bool,
    recorded: bool,
}

impl CircuitBreaker {
    pub fn new(threshold: u32, cooldown: Duration) -> CircuitBreaker {
        CircuitBreaker::with_clock(threshold, cooldown, Box::new(Instant::now))
    }

    fn with_clock(
        threshold: u32,
        cooldown: Duration,
        now: Box<dyn Fn() -> Instant + Send + Sync>,
    ) -> CircuitBreaker {
        CircuitBreaker {
            threshold,
            cooldown,
            state: Mutex::new(State::default()),
            now,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// `None` while the circuit is open (or another probe is running).
    pub fn acquire(&self) -> Option<Permit<'_>> {
        let mut s = self.lock();
        match s.open_until {
            None => Some(Permit {
                breaker: self,
                probe: false,
                recorded: false,
            }),
            Some(until) if (self.now)() >= until && !s.probing => {
                s.probing = true;
                Some(Permit {
                    breaker: self,
                    probe: true,
                    recorded: false,
                })
            }
            Some(_) => None,
        }
    }

    /// Whether the circuit is open because of a captcha pause.
    pub fn is_paused(&self) -> bool {
        let s = self.lock();
        s.paused && s.open_until.is_some_and(|until| (self.now)() < until)
    }

    fn outcome(&self, probe: bool, success: bool) {
        let mut s = self.lock();
        if probe {
            s.probing = false;
        }
        if success {
            *s = State::default();
            return;
        }
        if self.threshold == 0 {
            // Only a captcha pause opens such a breaker; a failed probe after it closes it.
            s.open_until = None;
            s.paused = false;
            return;
        }
        s.paused = false;
        s.failures = s.failures.saturating_add(1);
        if probe || s.failures >= self.threshold {
            s.open_until = Some((self.now)() + self.cooldown);
        }
    }
}

impl Permit<'_> {
    pub fn record(mut self, success: bool) {
        self.recorded = true;
        self.breaker.outcome(self.probe, success);
    }

    /// The flow met a captcha: skip the source for `pause` (or longer, if already open).
    pub fn pause(mut self, pause: Duration) {
        self.recorded = true;
        let breaker = self.breaker;
        let mut s = breaker.lock();
        if self.probe {
            s.probing = false;
        }
        s.failures = s.failures.saturating_add(1);
        let until = (breaker.now)() + pause;
        s.open_until = Some(s.open_until.map_or(until, |u| u.max(until)));
        s.paused = true;
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.recorded && self.probe {
            self.breaker.outcome(true, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A breaker on a clock the test moves by hand, and the hand.
    fn on_manual_clock(threshold: u32, cooldown: Duration) -> (CircuitBreaker, Arc<AtomicU64>) {
        let start = Instant::now();
        let elapsed_ms = Arc::new(AtomicU64::new(0));
        let hand = Arc::clone(&elapsed_ms);
        let clock = Box::new(move || start + Duration::from_millis(hand.load(Ordering::SeqCst)));
        (
            CircuitBreaker::with_clock(threshold, cooldown, clock),
            elapsed_ms,
        )
    }

    #[test]
    fn opens_after_the_threshold_and_probes_after_the_cooldown() {
        let (b, clock) = on_manual_clock(2, Duration::from_secs(30));
        b.acquire().unwrap().record(false);
        b.acquire().unwrap().record(false);
        assert!(b.acquire().is_none(), "open after two failures");
        clock.store(29_999, Ordering::SeqCst);
        assert!(
            b.acquire().is_none(),
            "still open a moment before the cool-down ends"
        );
        clock.store(30_000, Ordering::SeqCst);
        let probe = b.acquire().expect("one probe after the cool-down");
        assert!(b.acquire().is_none(), "only one probe at a time");
        probe.record(false);
        assert!(b.acquire().is_none(), "a failed probe re-opens");
        clock.store(60_000, Ordering::SeqCst);
        b.acquire().unwrap().record(true);
        assert!(b.acquire().is_some(), "a good probe closes");
    }

    #[test]
    fn a_success_resets_the_count() {
        let b = CircuitBreaker::new(2, Duration::from_secs(60));
        b.acquire().unwrap().record(false);
        b.acquire().unwrap().record(true);
        b.acquire().unwrap().record(false);
        assert!(b.acquire().is_some());
    }

    #[test]
    fn a_dropped_probe_reopens_the_circuit() {
        let (b, clock) = on_manual_clock(1, Duration::from_secs(10));
        b.acquire().unwrap().record(false);
        clock.store(10_000, Ordering::SeqCst);
        drop(b.acquire().expect("the probe"));
        assert!(
            b.acquire().is_none(),
            "the dropped probe counted as a failure"
        );
        clock.store(20_000, Ordering::SeqCst);
        assert!(
            b.acquire().is_some(),
            "and the next cool-down lets another probe through"
        );
    }

    #[test]
    fn a_captcha_pauses_even_a_breaker_that_never_opens_on_failures() {
        let (b, clock) = on_manual_clock(0, Duration::from_secs(10));
        b.acquire().unwrap().pause(Duration::from_secs(7200));
        assert!(b.acquire().is_none() && b.is_paused());
        clock.store(7_199_000, Ordering::SeqCst);
        assert!(
            b.acquire().is_none(),
            "still paused before the two hours end"
        );
        clock.store(7_200_000, Ordering::SeqCst);
        assert!(!b.is_paused());
        b.acquire()
            .expect("one probe after the pause")
            .record(false);
        assert!(
            b.acquire().is_some(),
            "an ordinary failure does not re-open a breaker with threshold 0"
        );
    }

    #[test]
    fn threshold_zero_never_opens() {
        let b = CircuitBreaker::new(0, Duration::from_secs(60));
        for _ in 0..10 {
            b.acquire().unwrap().record(false);
        }
        assert!(b.acquire().is_some());
    }
}
