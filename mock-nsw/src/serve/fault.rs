//! Faults injected on the receiving endpoint, on demand: a fixed extra latency, a share of
//! answers that are `503 Service Unavailable`, a share of connections closed without an answer,
//! and "fail the next N" (settable at start and at run time).
//!
//! Each message draws one number from a seeded ChaCha8 generator: the same seed and the same
//! sequence of messages give the same faults.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::bail;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FaultConfig {
    /// Share of messages answered with 503 (0..=1).
    pub fail_rate: f64,
    /// Share of messages whose connection is closed without an answer (0..=1).
    pub drop_rate: f64,
    /// Added before every answer.
    #[serde(serialize_with = "millis")]
    pub latency: Duration,
    /// The next N messages are answered with 503, before any random fault.
    pub fail_next: u64,
    pub seed: u64,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            fail_rate: 0.0,
            drop_rate: 0.0,
            latency: Duration::ZERO,
            fail_next: 0,
            seed: 1,
        }
    }
}

impl FaultConfig {
    /// Checks the rates: each within 0..=1, and together at most 1.
    pub fn validate(&self) -> anyhow::Result<()> {
        let mut errors = Vec::new();
        for (name, v) in [
            ("--fail-rate", self.fail_rate),
            ("--drop-connection-rate", self.drop_rate),
        ] {
            if !(0.0..=1.0).contains(&v) {
                errors.push(format!("{name} {v} must be between 0 and 1"));
            }
        }
        if errors.is_empty() && self.fail_rate + self.drop_rate > 1.0 {
            errors.push(format!(
                "--fail-rate {} and --drop-connection-rate {} add up to more than 1",
                self.fail_rate, self.drop_rate
            ));
        }
        if !errors.is_empty() {
            bail!("{}", errors.join("; "));
        }
        Ok(())
    }
}

/// What to do with one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Handle it normally.
    None,
    /// Answer 503 because of the "fail next N" script.
    FailScripted,
    /// Answer 503 by the random fail rate.
    Fail,
    /// Close the connection without answering.
    Drop,
}

#[derive(Debug)]
pub struct FaultInjector {
    config: FaultConfig,
    fail_next: AtomicU64,
    rng: Mutex<ChaCha8Rng>,
}

impl FaultInjector {
    pub fn new(config: FaultConfig) -> Self {
        Self {
            fail_next: AtomicU64::new(config.fail_next),
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(config.seed)),
            config,
        }
    }

    /// The faults as they stand now: the configured rates, with the scripted failures still
    /// to come (not the count configured at start-up).
    pub fn current(&self) -> FaultConfig {
        FaultConfig {
            fail_next: self.fail_next_remaining(),
            ..self.config
        }
    }

    pub fn latency(&self) -> Duration {
        self.config.latency
    }

    /// Sets how many of the next messages fail (replaces the remaining count).
    pub fn set_fail_next(&self, n: u64) {
        self.fail_next.store(n, Ordering::SeqCst);
    }

    pub fn fail_next_remaining(&self) -> u64 {
        self.fail_next.load(Ordering::SeqCst)
    }

    /// Decides the fault for the next message.
    pub fn decide(&self) -> Fault {
        let scripted = self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if scripted {
            return Fault::FailScripted;
        }
        let r: f64 = self.rng.lock().expect("rng lock").gen();
        if r < self.config.drop_rate {
            Fault::Drop
        } else if r < self.config.drop_rate + self.config.fail_rate {
            Fault::Fail
        } else {
            Fault::None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn injector(fail: f64, drop: f64, next: u64, seed: u64) -> FaultInjector {
        FaultInjector::new(FaultConfig {
            fail_rate: fail,
            drop_rate: drop,
            latency: Duration::ZERO,
            fail_next: next,
            seed,
        })
    }

    fn run(inj: &FaultInjector, n: usize) -> Vec<Fault> {
        (0..n).map(|_| inj.decide()).collect()
    }

    fn count(v: &[Fault], f: Fault) -> usize {
        v.iter().filter(|x| **x == f).count()
    }

    #[test]
    fn same_seed_same_faults_other_seed_other_faults() {
        let a = run(&injector(0.2, 0.1, 0, 42), 1000);
        let b = run(&injector(0.2, 0.1, 0, 42), 1000);
        let c = run(&injector(0.2, 0.1, 0, 43), 1000);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn rates_zero_and_one() {
        let check = |fail, drop, want: Fault| {
            let v = run(&injector(fail, drop, 0, 7), 500);
            assert_eq!(count(&v, want), 500, "fail {fail} drop {drop}");
        };
        check(0.0, 0.0, Fault::None);
        check(1.0, 0.0, Fault::Fail);
        check(0.0, 1.0, Fault::Drop);
    }

    #[test]
    fn rates_are_honoured_over_many_messages() {
        // Deterministic for this seed; the bounds are wide (±3 %) around 30 % and 10 %.
        let v = run(&injector(0.3, 0.1, 0, 5), 10_000);
        let (fail, drop) = (count(&v, Fault::Fail), count(&v, Fault::Drop));
        assert!((2700..=3300).contains(&fail), "fail {fail}");
        assert!((700..=1300).contains(&drop), "drop {drop}");
    }

    #[test]
    fn fail_next_comes_first_and_can_be_reset() {
        let inj = injector(0.0, 0.0, 3, 1);
        assert_eq!(
            run(&inj, 5),
            [
                Fault::FailScripted,
                Fault::FailScripted,
                Fault::FailScripted,
                Fault::None,
                Fault::None
            ]
        );
        inj.set_fail_next(2);
        assert_eq!(inj.fail_next_remaining(), 2);
        assert_eq!(
            run(&inj, 3),
            [Fault::FailScripted, Fault::FailScripted, Fault::None]
        );
        assert_eq!(inj.fail_next_remaining(), 0);
    }

    #[test]
    fn scripted_failures_do_not_consume_random_draws() {
        // The random sequence after a script equals the sequence without it.
        let a = injector(0.5, 0.2, 4, 9);
        let _ = run(&a, 4);
        let b = injector(0.5, 0.2, 0, 9);
        assert_eq!(run(&a, 200), run(&b, 200));
    }

    #[test]
    fn bad_rates_are_refused_with_the_option_named() {
        let check = |fail, drop, want: &str| {
            let c = FaultConfig {
                fail_rate: fail,
                drop_rate: drop,
                ..FaultConfig::default()
            };
            match c.validate() {
                Ok(()) => assert!(want.is_empty(), "{fail}/{drop} accepted"),
                Err(e) => assert!(!want.is_empty() && e.to_string().contains(want), "{e}"),
            }
        };
        check(0.5, 0.5, "");
        check(1.5, 0.0, "--fail-rate 1.5 must be between 0 and 1");
        check(
            0.0,
            -0.1,
            "--drop-connection-rate -0.1 must be between 0 and 1",
        );
        check(0.7, 0.6, "add up to more than 1");
    }
}
