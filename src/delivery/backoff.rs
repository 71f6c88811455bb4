//! Exponential back-off with full jitter, as a pure policy.

use std::time::Duration;

/// Waits `uniform(0, min(max, base × factor^(attempt−1)))` after failed attempt `attempt`
/// (1 = the first). The random draw is passed in, so the policy is a plain function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    pub factor: f64,
}

impl Backoff {
    /// The upper bound of the wait after failed attempt `attempt` (attempt 0 counts as 1).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(1024) as i32;
        let secs = self.base.as_secs_f64() * self.factor.max(1.0).powi(exp);
        let max = self.max.as_secs_f64();
        if !secs.is_finite() || secs >= max {
            self.max
        } else {
            Duration::from_secs_f64(secs)
        }
    }

    /// The wait after failed attempt `attempt`, for a random draw `rng_value` in `[0, 1]`
    /// (values outside are clamped).
    pub fn delay(&self, attempt: u32, rng_value: f64) -> Duration {
        let r = if rng_value.is_nan() {
            0.0
        } else {
            rng_value.clamp(0.0, 1.0)
        };
        self.ceiling(attempt).mul_f64(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(policy: (u64, u64, f64), attempt: u32, rng: f64, expected_ms: u64) {
        let b = Backoff {
            base: Duration::from_millis(policy.0),
            max: Duration::from_millis(policy.1),
            factor: policy.2,
        };
        assert_eq!(
            b.delay(attempt, rng),
            Duration::from_millis(expected_ms),
            "{policy:?} attempt {attempt} rng {rng}"
        );
    }

    #[test]
    fn delays() {
        check((1000, 60_000, 2.0), 1, 1.0, 1000);
        check((1000, 60_000, 2.0), 2, 1.0, 2000);
        check((1000, 60_000, 2.0), 3, 1.0, 4000);
        check((1000, 60_000, 2.0), 6, 1.0, 32_000);
        check((1000, 60_000, 2.0), 7, 1.0, 60_000);
        check((1000, 60_000, 2.0), 1000, 1.0, 60_000);
        check((1000, 60_000, 2.0), u32::MAX, 1.0, 60_000);
        check((1000, 60_000, 2.0), 0, 1.0, 1000);
        check((1000, 60_000, 2.0), 3, 0.5, 2000);
        check((1000, 60_000, 2.0), 3, 0.0, 0);
        check((1000, 60_000, 2.0), 3, 0.25, 1000);
        check((1000, 60_000, 2.0), 3, 7.0, 4000);
        check((1000, 60_000, 2.0), 3, -1.0, 0);
        check((1000, 60_000, 2.0), 3, f64::NAN, 0);
        check((500, 10_000, 3.0), 3, 1.0, 4500);
        check((500, 10_000, 1.0), 9, 1.0, 500);
        check((500, 10_000, 0.5), 9, 1.0, 500);
    }
}
