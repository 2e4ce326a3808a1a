//! A per-source circuit breaker: after N consecutive failed flows the source is skipped
//! (`unavailable`, reason `circuit_open`) for a cool-down, then one probe is let through;
//! its success closes the circuit, its failure opens it again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct CircuitBreaker {
    /// Consecutive failures that open the circuit; 0 disables the breaker.
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
    probing: bool,
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
        CircuitBreaker {
            threshold,
            cooldown,
            state: Mutex::new(State::default()),
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
        if self.threshold == 0 {
            return Some(Permit {
                breaker: self,
                probe: false,
                recorded: false,
            });
        }
        let mut s = self.lock();
        match s.open_until {
            None => Some(Permit {
                breaker: self,
                probe: false,
                recorded: false,
            }),
            Some(until) if Instant::now() >= until && !s.probing => {
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

    fn outcome(&self, probe: bool, success: bool) {
        if self.threshold == 0 {
            return;
        }
        let mut s = self.lock();
        if probe {
            s.probing = false;
        }
        if success {
            *s = State::default();
            return;
        }
        s.failures = s.failures.saturating_add(1);
        if probe || s.failures >= self.threshold {
            s.open_until = Some(Instant::now() + self.cooldown);
        }
    }
}

impl Permit<'_> {
    pub fn record(mut self, success: bool) {
        self.recorded = true;
        self.breaker.outcome(self.probe, success);
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

    #[test]
    fn opens_after_the_threshold_and_probes_after_the_cooldown() {
        let b = CircuitBreaker::new(2, Duration::from_millis(30));
        b.acquire().unwrap().record(false);
        b.acquire().unwrap().record(false);
        assert!(b.acquire().is_none(), "open after two failures");
        std::thread::sleep(Duration::from_millis(40));
        let probe = b.acquire().expect("one probe after the cool-down");
        assert!(b.acquire().is_none(), "only one probe at a time");
        probe.record(false);
        assert!(b.acquire().is_none(), "a failed probe re-opens");
        std::thread::sleep(Duration::from_millis(40));
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
        let b = CircuitBreaker::new(1, Duration::from_millis(10));
        b.acquire().unwrap().record(false);
        std::thread::sleep(Duration::from_millis(20));
        drop(b.acquire().unwrap());
        assert!(b.acquire().is_none());
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
