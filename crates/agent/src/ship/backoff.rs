//! Retry delays: exponential backoff with full jitter (the AWS architecture
//! blog's recommendation): attempt `n` waits a uniform random time in
//! `[0, min(cap, base · 2^n)]`. Full jitter spreads a fleet of agents that
//! lost the same server at the same moment instead of having them all
//! return in lock-step; the cap keeps an agent probing at least about once
//! a minute during a long outage.

use std::time::Duration;

/// Backoff for the first failure.
pub const DEFAULT_BASE: Duration = Duration::from_millis(200);
/// Longest wait between attempts.
pub const DEFAULT_CAP: Duration = Duration::from_secs(60);

pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        let seed = super::batch::BatchId::random().0;
        let mut s = [0u8; 8];
        s.copy_from_slice(&seed[..8]);
        Backoff {
            base,
            cap: cap.max(base),
            attempt: 0,
            // xorshift must not start at 0.
            rng: u64::from_le_bytes(s) | 1,
        }
    }

    /// The upper bound of the next delay (before jitter).
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The delay before the next attempt; each call doubles the ceiling.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        // xorshift64*: plenty for jitter.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let fraction = (r >> 11) as f64 / (1u64 << 53) as f64;
        ceiling.mul_f64(fraction)
    }

    /// After a success: the next failure starts from `base` again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_cap_with_jitter_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(200), Duration::from_secs(60));
        let mut ceilings = Vec::new();
        let mut delays = Vec::new();
        for _ in 0..12 {
            ceilings.push(b.ceiling());
            delays.push(b.next_delay());
        }
        assert_eq!(ceilings[0], Duration::from_millis(200));
        assert_eq!(ceilings[3], Duration::from_millis(1600));
        assert_eq!(ceilings[11], Duration::from_secs(60));
        for (d, c) in delays.iter().zip(&ceilings) {
            assert!(d <= c);
        }
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(distinct.len() > 8, "jittered: {delays:?}");
        b.reset();
        assert_eq!(b.ceiling(), Duration::from_millis(200));

        // Full jitter: over many draws at the cap, both halves are used.
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(1));
        let low = (0..1000)
            .filter(|_| b.next_delay() < Duration::from_millis(500))
            .count();
        assert!((350..650).contains(&low), "{low}");
    }
}
