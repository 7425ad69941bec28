//! Cumulative kernel counters → per-interval deltas, the way the stock
//! agent's `cumulativetodelta` processor treats `diskio` and `net`: the first
//! sample of a series has no delta, and a counter that went backwards (a
//! 32-bit wrap, a device re-created, a driver reset) drops that sample
//! instead of publishing a huge or negative value.

use std::collections::HashMap;

/// The previous sample of every series, keyed by series name (device,
/// interface). Each `collect` builds the next map from scratch, so series that
/// disappeared are forgotten instead of accumulating.
#[derive(Debug, Default)]
pub struct CounterHistory {
    prev: HashMap<String, Vec<u64>>,
    next: HashMap<String, Vec<u64>>,
}

impl CounterHistory {
    /// Records `current` for `series` and returns one delta per counter
    /// (`None` = no previous sample, or the counter went backwards).
    pub fn deltas(&mut self, series: &str, current: &[u64]) -> Vec<Option<u64>> {
        let prev = self.prev.get(series);
        let out = current
            .iter()
            .enumerate()
            .map(|(i, &cur)| delta(prev.and_then(|p| p.get(i).copied()), cur))
            .collect();
        self.next.insert(series.to_string(), current.to_vec());
        out
    }

    /// Ends one collection round: the samples recorded become "previous".
    pub fn finish_round(&mut self) {
        self.prev = std::mem::take(&mut self.next);
    }
}

/// `cur - prev`, or `None` for a first sample or a counter reset/wrap.
pub fn delta(prev: Option<u64>, cur: u64) -> Option<u64> {
    cur.checked_sub(prev?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sample_then_delta_then_reset() {
        let mut h = CounterHistory::default();
        assert_eq!(h.deltas("sda", &[10, 5]), vec![None, None]);
        h.finish_round();
        assert_eq!(h.deltas("sda", &[15, 5]), vec![Some(5), Some(0)]);
        h.finish_round();
        assert_eq!(h.deltas("sda", &[3, 9]), vec![None, Some(4)]);
        h.finish_round();
        // A series missing for a round starts over.
        h.finish_round();
        assert_eq!(h.deltas("sda", &[20, 20]), vec![None, None]);
    }
}
