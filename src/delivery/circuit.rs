//! A per-partner circuit breaker, as a pure state machine: after `threshold` consecutive
//! failures the circuit opens; after `cool_down` one probe is let through (half-open); its
//! success closes the circuit, its failure opens it again for another cool-down.

use std::time::Duration;

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    /// No attempt before `until`.
    Open {
        until: DateTime<Utc>,
    },
    /// The cool-down is over: one probe may go (or is in flight).
    HalfOpen {
        probing: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Circuit {
    threshold: u32,
    cool_down: Duration,
    failures: u32,
    opened_at: Option<DateTime<Utc>>,
    probing: bool,
}

impl Circuit {
    pub fn new(threshold: u32, cool_down: Duration) -> Circuit {
        Circuit {
            threshold: threshold.max(1),
            cool_down,
            failures: 0,
            opened_at: None,
            probing: false,
        }
    }

    fn reopen_at(&self, opened: DateTime<Utc>) -> DateTime<Utc> {
        opened + chrono::Duration::from_std(self.cool_down).unwrap_or(chrono::Duration::MAX)
    }

    pub fn state(&self, now: DateTime<Utc>) -> CircuitState {
        match self.opened_at {
            None => CircuitState::Closed,
            Some(at) if now < self.reopen_at(at) => CircuitState::Open {
                until: self.reopen_at(at),
            },
            Some(_) => CircuitState::HalfOpen {
                probing: self.probing,
            },
        }
    }

    /// True when the circuit counts as open (for the gauge): open or half-open.
    pub fn is_open(&self) -> bool {
        self.opened_at.is_some()
    }

    /// Whether an attempt may go now; in half-open state the first caller becomes the probe.
    pub fn allow(&mut self, now: DateTime<Utc>) -> bool {
        match self.state(now) {
            CircuitState::Closed => true,
            CircuitState::Open { .. } => false,
            CircuitState::HalfOpen { probing: true } => false,
            CircuitState::HalfOpen { probing: false } => {
                self.probing = true;
                true
            }
        }
    }

    /// When a refused attempt should be tried again.
    pub fn retry_at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self.state(now) {
            CircuitState::Open { until } => until,
            _ => self.reopen_at(now),
        }
    }

    /// The partner answered acceptably: the circuit closes.
    pub fn on_success(&mut self) {
        self.failures = 0;
        self.opened_at = None;
        self.probing = false;
    }

    /// A failed attempt (5xx, 429, timeout, connection error). Returns true when this
    /// failure opened the circuit (closed → open, or a failed probe).
    pub fn on_failure(&mut self, now: DateTime<Utc>) -> bool {
        self.failures = self.failures.saturating_add(1);
        if self.probing {
            self.probing = false;
            self.opened_at = Some(now);
            return true;
        }
        if self.opened_at.is_none() && self.failures >= self.threshold {
            self.opened_at = Some(now);
            return true;
        }
        false
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    /// Steps: `F@s` failure at second s, `S` success, `A@s` ask to send; the expected
    /// answers of the `A` steps and of `F` steps (true = opened the circuit), in order.
    fn check(steps: &str, expected: &[bool]) {
        let mut c = Circuit::new(3, Duration::from_secs(10));
        let mut got = Vec::new();
        for step in steps.split_whitespace() {
            let (op, at) = step.split_once('@').unwrap_or((step, "0"));
            let at = t(at.parse().unwrap());
            match op {
                "F" => got.push(c.on_failure(at)),
                "S" => c.on_success(),
                "A" => got.push(c.allow(at)),
                other => panic!("bad step {other}"),
            }
        }
        assert_eq!(got, expected, "{steps}");
    }

    #[test]
    fn transitions() {
        check("A@0", &[true]);
        check("F@0 F@1 A@2", &[false, false, true]);
        check("F@0 F@1 F@2 A@3", &[false, false, true, false]);
        check("F@0 F@1 S F@2 A@3", &[false, false, false, true]);
        check("F@0 F@1 F@2 A@11", &[false, false, true, false]);
        check("F@0 F@1 F@2 A@12 A@12", &[false, false, true, true, false]);
        check("F@0 F@1 F@2 A@12 S A@13", &[false, false, true, true, true]);
        check(
            "F@0 F@1 F@2 A@12 F@13 A@14 A@23",
            &[false, false, true, true, true, false, true],
        );
        check("F@0 F@1 F@2 F@3 F@4", &[false, false, true, false, false]);
    }

    #[test]
    fn state_and_retry_time() {
        let mut c = Circuit::new(1, Duration::from_secs(10));
        assert_eq!(c.state(t(0)), CircuitState::Closed);
        assert!(!c.is_open());
        assert!(c.on_failure(t(0)));
        assert!(c.is_open());
        assert_eq!(c.state(t(5)), CircuitState::Open { until: t(10) });
        assert_eq!(c.retry_at(t(5)), t(10));
        assert_eq!(c.state(t(10)), CircuitState::HalfOpen { probing: false });
        assert!(c.allow(t(10)));
        assert_eq!(c.state(t(10)), CircuitState::HalfOpen { probing: true });
        assert_eq!(c.retry_at(t(11)), t(21));
        c.on_success();
        assert_eq!(c.state(t(11)), CircuitState::Closed);
        assert_eq!(c.consecutive_failures(), 0);
    }
}
