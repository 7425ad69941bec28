//! The retry schedule of a [`RetryPolicy`]: how long to wait before each
//! retry. Pure arithmetic, tested on tables.
//!
//! AWS describes the backoff functions only by a graph (SNS "delivery
//! policy"), so this is our reading of it, with every retry between
//! `min_delay_secs` and `max_delay_secs`:
//!
//! - `Linear`: evenly spaced from min (first retry) to max (last retry).
//! - `Arithmetic`: the gaps between consecutive delays grow arithmetically
//!   (quadratic curve), min → max.
//! - `Geometric`: consecutive delays have a constant ratio, min → max.
//! - `Exponential`: classic doubling from min, capped at max (it reaches the
//!   cap early and stays there, the shape of the AWS SMTP policy's backoff).
//!
//! No jitter: deliveries are few, and a deterministic schedule is one that
//! tests and users can predict.

use super::{Backoff, RetryPolicy};

impl RetryPolicy {
    /// Seconds to wait before retry number `retry` (1-based; retry 1 follows
    /// the first attempt). `None` once the policy's retries are used up.
    pub fn delay_before_retry(&self, retry: u32) -> Option<u64> {
        if retry == 0 || retry > self.num_retries {
            return None;
        }
        let min = u64::from(self.min_delay_secs.min(self.max_delay_secs));
        let max = u64::from(self.max_delay_secs.max(self.min_delay_secs));
        let (lo, hi) = (min as f64, max as f64);
        // Position of this retry in [0, 1] along the backoff phase.
        let t = if self.num_retries <= 1 {
            0.0
        } else {
            f64::from(retry - 1) / f64::from(self.num_retries - 1)
        };
        let secs = match self.backoff {
            Backoff::Linear => lo + (hi - lo) * t,
            Backoff::Arithmetic => lo + (hi - lo) * t * t,
            Backoff::Geometric => {
                // A zero minimum has no ratio; start the curve at one second.
                let lo = lo.max(1.0).min(hi.max(1.0));
                lo * (hi.max(1.0) / lo).powf(t)
            }
            Backoff::Exponential => {
                let doubled = min.max(1).saturating_mul(1u64 << (retry - 1).min(40));
                return Some(doubled.min(max).max(min));
            }
        };
        Some((secs.round() as u64).clamp(min, max))
    }

    /// The whole schedule: the delay before each retry, in order.
    pub fn schedule(&self) -> Vec<u64> {
        (1..=self.num_retries)
            .filter_map(|r| self.delay_before_retry(r))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(num_retries: u32, min: u32, max: u32, backoff: Backoff) -> RetryPolicy {
        RetryPolicy {
            num_retries,
            min_delay_secs: min,
            max_delay_secs: max,
            backoff,
        }
    }

    #[test]
    fn schedules() {
        let table: &[(RetryPolicy, &[u64])] = &[
            // SNS's http/https default: 3 retries, 20 s apart.
            (RetryPolicy::HTTP_DEFAULT, &[20, 20, 20]),
            (p(5, 10, 50, Backoff::Linear), &[10, 20, 30, 40, 50]),
            (p(5, 10, 50, Backoff::Arithmetic), &[10, 13, 20, 33, 50]),
            (p(5, 1, 16, Backoff::Geometric), &[1, 2, 4, 8, 16]),
            (
                p(6, 10, 600, Backoff::Exponential),
                &[10, 20, 40, 80, 160, 320],
            ),
            (
                p(8, 10, 600, Backoff::Exponential),
                &[10, 20, 40, 80, 160, 320, 600, 600],
            ),
            (p(1, 5, 60, Backoff::Linear), &[5]),
            (p(0, 5, 60, Backoff::Linear), &[]),
            // min > max is read as the range between them, never outside it.
            (p(3, 30, 10, Backoff::Linear), &[10, 20, 30]),
            // A zero minimum: immediate first retry.
            (p(3, 0, 4, Backoff::Geometric), &[1, 2, 4]),
            (p(3, 0, 4, Backoff::Exponential), &[1, 2, 4]),
            (p(2, 0, 0, Backoff::Linear), &[0, 0]),
        ];
        for (policy, want) in table {
            assert_eq!(policy.schedule(), *want, "{policy:?}");
        }
    }

    #[test]
    fn out_of_range_retry_numbers() {
        let pol = p(3, 1, 2, Backoff::Linear);
        assert_eq!(pol.delay_before_retry(0), None);
        assert_eq!(pol.delay_before_retry(4), None);
        let huge = p(u32::MAX, 1, 3600, Backoff::Exponential);
        assert_eq!(huge.delay_before_retry(u32::MAX), Some(3600));
    }

    #[test]
    fn email_default_keeps_trying_for_days() {
        let total: u64 = RetryPolicy::EMAIL_DEFAULT.schedule().iter().sum();
        // Doubling from 10 s to the 1 h cap, then hourly: about 43 hours.
        assert!((40 * 3600..48 * 3600).contains(&total), "{total}");
    }
}
