//! The in-memory head: per-series sample vectors in arrival order.
//!
//! Appends are O(1) and accept any timestamp order; sorting is deferred to
//! seal time, where each series is sorted once (stable, so duplicates keep
//! arrival order).

use crate::model::Sample;
use crate::record::SeriesId;

#[derive(Default, Debug, Clone)]
pub struct Head {
    series: Vec<Vec<Sample>>,
    samples: usize,
}

impl Head {
    #[inline]
    pub fn push(&mut self, id: SeriesId, sample: Sample) {
        let slot = id as usize;
        if slot >= self.series.len() {
            self.series.resize_with(slot + 1, Vec::new);
        }
        self.series[slot].push(sample);
        self.samples += 1;
    }

    pub fn samples(&self) -> usize {
        self.samples
    }

    pub fn is_empty(&self) -> bool {
        self.samples == 0
    }

    pub fn series(&self, id: SeriesId) -> &[Sample] {
        self.series.get(id as usize).map_or(&[], Vec::as_slice)
    }

    /// `(id, samples)` for every series with data, ascending by id.
    pub fn iter(&self) -> impl Iterator<Item = (SeriesId, &[Sample])> {
        self.series
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.is_empty())
            .map(|(i, s)| (i as SeriesId, s.as_slice()))
    }

    /// Removes the newest sample of series `id` (undoing a refused write,
    /// newest write first).
    pub fn pop(&mut self, id: SeriesId) -> Option<Sample> {
        let popped = self.series.get_mut(id as usize)?.pop();
        if popped.is_some() {
            self.samples -= 1;
        }
        popped
    }

    /// Puts the samples of `older` (a head whose seal failed) back in front
    /// of this head's, so every series stays in arrival order and the newest
    /// writes stay at the end, where [`Self::pop`] undoes them.
    pub fn absorb_older(&mut self, mut older: Head) {
        if older.series.len() < self.series.len() {
            older.series.resize_with(self.series.len(), Vec::new);
        }
        for (old, new) in older
            .series
            .iter_mut()
            .zip(std::mem::take(&mut self.series))
        {
            old.extend(new);
        }
        older.samples += self.samples;
        *self = older;
    }
}
