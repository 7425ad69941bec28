//! Per-period aggregates and the bucketing that produces them.
//!
//! Every sample is normalised to `(count, sum, min, max)` plus, while
//! possible, its raw `(value, weight)` pairs so percentiles stay exact:
//! a `Single(v)` is `(v, 1)`, a `Distribution` contributes its pairs, a
//! `StatSet` with `min == max` is `count` copies of that value. A `StatSet`
//! with `min != max` hides its values, which makes percentiles unavailable
//! for the bucket unless the bucket already carries a [`DdSketch`].

use std::collections::BTreeMap;

use crate::model::SampleValue;
use crate::sketch::DdSketch;

/// What the aggregate knows about its value distribution.
#[derive(Clone, Debug, PartialEq)]
enum Values {
    /// Every raw `(value, weight)` pair; percentiles are exact.
    Exact(Vec<(f64, f64)>),
    /// Approximate (see [`crate::sketch`] for the error bound).
    Sketch(Box<DdSketch>),
    /// Some input hid its values (a StatSet with min != max).
    Unavailable,
}

/// A read-only view of [`Values`] for the rollup writer.
pub(crate) enum Distribution<'a> {
    Exact(&'a [(f64, f64)]),
    Sketch(&'a DdSketch),
    Unavailable,
}

/// Statistics of one `(period bucket, unit)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Aggregate {
    /// Bucket start: `query.start_ms + k * query.period_ms`.
    pub start_ms: i64,
    pub unit: u8,
    pub count: f64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    values: Values,
}

impl Aggregate {
    /// An empty aggregate (count 0, min +∞, max −∞).
    pub fn new(start_ms: i64, unit: u8) -> Self {
        Aggregate {
            start_ms,
            unit,
            count: 0.0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            values: Values::Exact(Vec::new()),
        }
    }

    /// An aggregate summarised by a sketch (for rollups).
    pub fn from_sketch(start_ms: i64, unit: u8, sketch: DdSketch, min: f64, max: f64) -> Self {
        Aggregate {
            start_ms,
            unit,
            count: sketch.count(),
            sum: sketch.sum(),
            min,
            max,
            values: Values::Sketch(Box::new(sketch)),
        }
    }

    /// `sum / count` (NaN when empty).
    pub fn average(&self) -> f64 {
        self.sum / self.count
    }

    /// True while percentiles are exact.
    pub fn is_exact(&self) -> bool {
        matches!(self.values, Values::Exact(_))
    }

    /// Adds one sample's value.
    pub fn add(&mut self, value: &SampleValue) {
        match value {
            SampleValue::Single(v) => self.add_single(*v),
            SampleValue::Distribution(pairs) => self.add_distribution(pairs),
            SampleValue::StatSet {
                count,
                sum,
                min,
                max,
            } => self.add_statset(*count, *sum, *min, *max),
        }
    }

    #[inline]
    pub fn add_single(&mut self, v: f64) {
        self.add_weighted(v, 1.0);
    }

    pub fn add_distribution(&mut self, pairs: &[(f64, f64)]) {
        for &(v, c) in pairs {
            self.add_weighted(v, c);
        }
    }

    /// Adds a distribution stored as two parallel columns (block sections).
    pub fn add_distribution_columns(&mut self, values: &[f64], counts: &[f64]) {
        for (&v, &c) in values.iter().zip(counts) {
            self.add_weighted(v, c);
        }
    }

    /// `count` observations of `v`.
    #[inline]
    pub fn add_weighted(&mut self, v: f64, count: f64) {
        self.count += count;
        self.sum += v * count;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.push_value(v, count);
    }

    pub fn add_statset(&mut self, count: f64, sum: f64, min: f64, max: f64) {
        self.count += count;
        self.sum += sum;
        self.min = self.min.min(min);
        self.max = self.max.max(max);
        if min.to_bits() == max.to_bits() {
            self.push_value(min, count);
        } else {
            self.values = match std::mem::replace(&mut self.values, Values::Unavailable) {
                // A sketch cannot absorb hidden values either.
                Values::Exact(_) | Values::Sketch(_) | Values::Unavailable => Values::Unavailable,
            };
        }
    }

    /// Adds a rollup slot summarised by `sketch` (its bucket counts sum to
    /// `count`). Exact values seen so far move into a copy of the sketch.
    pub fn add_sketch(&mut self, count: f64, sum: f64, min: f64, max: f64, sketch: &DdSketch) {
        self.count += count;
        self.sum += sum;
        self.min = self.min.min(min);
        self.max = self.max.max(max);
        self.values = match std::mem::replace(&mut self.values, Values::Unavailable) {
            Values::Exact(pairs) => {
                let mut s = sketch.clone();
                for (v, c) in pairs {
                    s.add(v, c);
                }
                Values::Sketch(Box::new(s))
            }
            Values::Sketch(mut s) => {
                s.merge(sketch);
                Values::Sketch(s)
            }
            Values::Unavailable => Values::Unavailable,
        };
    }

    /// What is known of the value distribution (for rollup encoding).
    pub(crate) fn distribution(&self) -> Distribution<'_> {
        match &self.values {
            Values::Exact(pairs) => Distribution::Exact(pairs),
            Values::Sketch(s) => Distribution::Sketch(s),
            Values::Unavailable => Distribution::Unavailable,
        }
    }

    #[inline]
    fn push_value(&mut self, v: f64, c: f64) {
        match &mut self.values {
            Values::Exact(pairs) => pairs.push((v, c)),
            Values::Sketch(s) => s.add(v, c),
            Values::Unavailable => {}
        }
    }

    /// Combines `other` into `self` (for example several units of one
    /// period). `start_ms` and `unit` of `self` are kept.
    pub fn merge(&mut self, other: &Aggregate) {
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        let mine = std::mem::replace(&mut self.values, Values::Unavailable);
        self.values = match (mine, &other.values) {
            (Values::Unavailable, _) | (_, Values::Unavailable) => Values::Unavailable,
            (Values::Exact(mut a), Values::Exact(b)) => {
                a.extend_from_slice(b);
                Values::Exact(a)
            }
            (Values::Exact(a), Values::Sketch(b)) => {
                let mut s = (**b).clone();
                for (v, c) in a {
                    s.add(v, c);
                }
                Values::Sketch(Box::new(s))
            }
            (Values::Sketch(mut s), Values::Exact(b)) => {
                for &(v, c) in b {
                    s.add(v, c);
                }
                Values::Sketch(s)
            }
            (Values::Sketch(mut s), Values::Sketch(b)) => {
                s.merge(b);
                Values::Sketch(s)
            }
        };
    }

    /// Percentile `p` in `[0, 100]`.
    ///
    /// Exact while raw values are known: the weighted nearest rank, i.e. the
    /// smallest value `v` whose cumulative weight reaches `p/100 · count`
    /// (`p = 0` gives the minimum). From a sketch: within
    /// [`crate::sketch::RELATIVE_ACCURACY`] of that value. `None` when a
    /// StatSet with `min != max` hid its values, when empty, or when `p` is
    /// out of range.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        match &self.values {
            Values::Exact(pairs) => exact_percentile(pairs, p),
            Values::Sketch(s) => s.quantile(p),
            Values::Unavailable => None,
        }
    }

    /// Several percentiles at once (sorts the raw values once).
    pub fn percentiles(&self, ps: &[f64]) -> Vec<Option<f64>> {
        match &self.values {
            Values::Exact(pairs) => {
                let mut sorted = pairs.clone();
                sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
                ps.iter()
                    .map(|&p| percentile_of_sorted(&sorted, p))
                    .collect()
            }
            _ => ps.iter().map(|&p| self.percentile(p)).collect(),
        }
    }
}

/// Weighted nearest-rank percentile of unsorted `(value, weight)` pairs.
pub fn exact_percentile(pairs: &[(f64, f64)], p: f64) -> Option<f64> {
    let mut sorted = pairs.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    percentile_of_sorted(&sorted, p)
}

fn percentile_of_sorted(sorted: &[(f64, f64)], p: f64) -> Option<f64> {
    if !(0.0..=100.0).contains(&p) {
        return None;
    }
    let total: f64 = sorted.iter().map(|&(_, c)| c).sum();
    if sorted.is_empty() || total.is_nan() || total <= 0.0 {
        return None;
    }
    if p == 0.0 {
        return sorted.first().map(|&(v, _)| v);
    }
    let target = p / 100.0 * total;
    let mut cum = 0.0;
    for &(v, c) in sorted {
        cum += c;
        if cum >= target {
            return Some(v);
        }
    }
    sorted.last().map(|&(v, _)| v)
}

/// Folds samples into `(bucket, unit)` aggregates for one query.
///
/// Sorted inputs (block sections) mostly hit the same bucket as the previous
/// sample, so the current bucket is kept aside and only flushed into the
/// ordered map when the key changes.
pub struct Bucketer {
    start_ms: i64,
    end_ms: i64,
    period_ms: i64,
    unit: Option<u8>,
    current: Option<Aggregate>,
    done: BTreeMap<(i64, u8), Aggregate>,
}

impl Bucketer {
    pub fn new(start_ms: i64, end_ms: i64, period_ms: i64, unit: Option<u8>) -> Self {
        Bucketer {
            start_ms,
            end_ms,
            period_ms,
            unit,
            current: None,
            done: BTreeMap::new(),
        }
    }

    /// The aggregate a sample at `ts` with `unit` belongs to, or `None` when
    /// the query excludes it.
    #[inline]
    pub fn slot(&mut self, ts: i64, unit: u8) -> Option<&mut Aggregate> {
        if ts < self.start_ms || ts >= self.end_ms || self.unit.is_some_and(|u| u != unit) {
            return None;
        }
        // i128 keeps `ts - start` exact over the whole i64 range; the bucket
        // start is <= ts, so it fits back into i64.
        let offset = (i128::from(ts) - i128::from(self.start_ms)) / i128::from(self.period_ms);
        let bucket = (i128::from(self.start_ms) + offset * i128::from(self.period_ms)) as i64;
        let hit = self
            .current
            .as_ref()
            .is_some_and(|a| a.start_ms == bucket && a.unit == unit);
        if !hit {
            if let Some(prev) = self.current.take() {
                self.stash(prev);
            }
            let agg = self
                .done
                .remove(&(bucket, unit))
                .unwrap_or_else(|| Aggregate::new(bucket, unit));
            self.current = Some(agg);
        }
        self.current.as_mut()
    }

    fn stash(&mut self, agg: Aggregate) {
        self.done.insert((agg.start_ms, agg.unit), agg);
    }

    pub fn finish(mut self) -> Vec<Aggregate> {
        if let Some(prev) = self.current.take() {
            self.stash(prev);
        }
        self.done
            .into_values()
            .filter(|a| a.count != 0.0 || a.min <= a.max)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_examples() {
        let pairs: Vec<(f64, f64)> = (1..=10).map(|v| (f64::from(v), 1.0)).collect();
        assert_eq!(exact_percentile(&pairs, 0.0), Some(1.0));
        assert_eq!(exact_percentile(&pairs, 50.0), Some(5.0));
        assert_eq!(exact_percentile(&pairs, 51.0), Some(6.0));
        assert_eq!(exact_percentile(&pairs, 100.0), Some(10.0));
        assert_eq!(exact_percentile(&pairs, 100.5), None);
        assert_eq!(exact_percentile(&[(3.0, 9.0), (1.0, 1.0)], 10.0), Some(1.0));
        assert_eq!(exact_percentile(&[(3.0, 9.0), (1.0, 1.0)], 11.0), Some(3.0));
    }

    #[test]
    fn statsets_with_spread_hide_percentiles() {
        let mut a = Aggregate::new(0, 0);
        a.add_single(1.0);
        a.add_statset(3.0, 6.0, 2.0, 2.0);
        assert_eq!(a.percentile(50.0), Some(2.0));
        assert!(a.is_exact());
        a.add_statset(2.0, 10.0, 4.0, 6.0);
        assert_eq!(a.percentile(50.0), None);
        assert_eq!((a.count, a.sum, a.min, a.max), (6.0, 17.0, 1.0, 6.0));
    }

    #[test]
    fn merge_exact_with_sketch_gives_sketch() {
        let mut s = DdSketch::new();
        s.add(100.0, 1.0);
        let b = Aggregate::from_sketch(0, 1, s, 100.0, 100.0);
        let mut a = Aggregate::new(0, 1);
        a.add_distribution(&[(1.0, 1.0), (2.0, 2.0)]);
        a.merge(&b);
        assert!(!a.is_exact());
        assert_eq!(a.count, 4.0);
        let p100 = a.percentile(100.0).unwrap();
        assert!((p100 - 100.0).abs() <= 1.0);
    }
}
