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
#[derive(Clone, Debug)]
pub struct Aggregate {
    /// Bucket start: `query.start_ms + k * query.period_ms`.
    pub start_ms: i64,
    pub unit: u8,
    pub count: f64,
    /// The sum, compensated (see [`Aggregate::add_to_sum`]): read it, and
    /// add through the methods, never `+=` it directly.
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    values: Values,
    /// Neumaier summation state: `sum == naive + comp`.
    naive: f64,
    comp: f64,
}

/// Equal statistics and values (the summation state behind `sum` aside).
impl PartialEq for Aggregate {
    fn eq(&self, other: &Self) -> bool {
        (
            self.start_ms,
            self.unit,
            self.count,
            self.sum,
            self.min,
            self.max,
        ) == (
            other.start_ms,
            other.unit,
            other.count,
            other.sum,
            other.min,
            other.max,
        ) && self.values == other.values
    }
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
            naive: 0.0,
            comp: 0.0,
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
            naive: sketch.sum(),
            comp: 0.0,
            values: Values::Sketch(Box::new(sketch)),
        }
    }

    /// Adds `x` to the sum with Neumaier's compensation: the rounding error
    /// of each addition is carried separately, so the sum is (for any
    /// realistic input) the correctly rounded total whatever the order the
    /// samples arrive in — the order depends on how storage happens to be
    /// laid out (what is sealed, compacted or still in the head, on which
    /// node), and a Sum must not differ in its last digit between a cluster
    /// and a single node holding the same data.
    fn add_to_sum(&mut self, x: f64) {
        let t = self.naive + x;
        if self.naive.abs() >= x.abs() {
            self.comp += (self.naive - t) + x;
        } else {
            self.comp += (x - t) + self.naive;
        }
        self.naive = t;
        self.sum = if t.is_finite() { t + self.comp } else { t };
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
        self.add_to_sum(v * count);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.push_value(v, count);
    }

    pub fn add_statset(&mut self, count: f64, sum: f64, min: f64, max: f64) {
        self.count += count;
        self.add_to_sum(sum);
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
        self.add_to_sum(sum);
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
        self.add_to_sum(other.naive);
        self.add_to_sum(other.comp);
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

/// Encodes aggregates whole — statistics and what is known of their value
/// distribution — so a node can answer a query for another (cluster mode's
/// peer reads) and percentiles stay what the local engine would give.
///
/// `n | (start ivarint | unit u8 | count sum min max f64 | kind u8 | values)*`
/// where kind 0 is `n | (value f64, weight f64)*`, 1 a [`DdSketch`], 2 none.
pub fn encode_aggregates(aggs: &[Aggregate], out: &mut Vec<u8>) {
    use crate::codec::bytes::{put_ivarint, put_uvarint};
    put_uvarint(out, aggs.len() as u64);
    for a in aggs {
        put_ivarint(out, a.start_ms);
        out.push(a.unit);
        for f in [a.count, a.sum, a.min, a.max] {
            out.extend_from_slice(&f.to_le_bytes());
        }
        match &a.values {
            Values::Exact(pairs) => {
                out.push(0);
                put_uvarint(out, pairs.len() as u64);
                for (v, w) in pairs {
                    out.extend_from_slice(&v.to_le_bytes());
                    out.extend_from_slice(&w.to_le_bytes());
                }
            }
            Values::Sketch(s) => {
                out.push(1);
                s.encode(out);
            }
            Values::Unavailable => out.push(2),
        }
    }
}

/// Decodes what [`encode_aggregates`] wrote; damaged or hostile input is an
/// error, never a panic or an unbounded allocation.
pub fn decode_aggregates(bytes: &[u8]) -> Result<Vec<Aggregate>, crate::DecodeError> {
    use crate::DecodeError;
    use crate::codec::bytes::ByteReader;
    let mut r = ByteReader::new(bytes);
    // Each aggregate takes at least 35 bytes, each pair 16: bounds the allocations.
    let n = r.len(r.remaining() / 35)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let start_ms = r.ivarint()?;
        let unit = r.u8()?;
        let (count, sum, min, max) = (r.f64_le()?, r.f64_le()?, r.f64_le()?, r.f64_le()?);
        let values = match r.u8()? {
            0 => {
                let k = r.len(r.remaining() / 16)?;
                let mut pairs = Vec::with_capacity(k);
                for _ in 0..k {
                    pairs.push((r.f64_le()?, r.f64_le()?));
                }
                Values::Exact(pairs)
            }
            1 => Values::Sketch(Box::new(DdSketch::decode(&mut r, sum, min, max)?)),
            2 => Values::Unavailable,
            _ => return Err(DecodeError("unknown aggregate value kind")),
        };
        out.push(Aggregate {
            start_ms,
            unit,
            count,
            sum,
            min,
            max,
            values,
            naive: sum,
            comp: 0.0,
        });
    }
    if !r.is_empty() {
        return Err(DecodeError("trailing bytes after the aggregates"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sum_does_not_depend_on_the_order_of_the_samples() {
        // Three-decimal values as agents send them; naive summation in
        // different orders gives different last digits.
        let mut values: Vec<f64> = (0..200)
            .map(|i| f64::from((i * 7919 + 13) % 500_000) / 1000.0)
            .collect();
        values.push(1e15);
        values.push(-1e15);
        let sum_of = |vs: &[f64]| {
            let mut a = Aggregate::new(0, 0);
            for &v in vs {
                a.add_single(v);
            }
            a.sum
        };
        let forward = sum_of(&values);
        let mut naive_sums = std::collections::HashSet::new();
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..50 {
            // Fisher-Yates with a fixed xorshift: reproducible shuffles.
            for i in (1..values.len()).rev() {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                values.swap(i, (rng % (i as u64 + 1)) as usize);
            }
            assert_eq!(sum_of(&values).to_bits(), forward.to_bits());
            naive_sums.insert(values.iter().sum::<f64>().to_bits());
        }
        assert!(
            naive_sums.len() > 1,
            "the test data should defeat naive summation"
        );
        // Split across two aggregates (a block and the head) and merged: the same.
        let (a, b) = values.split_at(77);
        let mut left = Aggregate::new(0, 0);
        a.iter().for_each(|&v| left.add_single(v));
        let mut right = Aggregate::new(0, 0);
        b.iter().for_each(|&v| right.add_single(v));
        right.add_statset(3.0, 30.5, 1.0, 20.0);
        left.merge(&right);
        let mut whole = Aggregate::new(0, 0);
        whole.add_statset(3.0, 30.5, 1.0, 20.0);
        values.iter().for_each(|&v| whole.add_single(v));
        assert_eq!(left.sum.to_bits(), whole.sum.to_bits());
    }

    #[test]
    fn aggregates_round_trip_with_their_distributions() {
        let mut exact = Aggregate::new(60_000, 3);
        exact.add_single(1.5);
        exact.add_distribution(&[(2.0, 3.0), (7.25, 1.0)]);
        let mut sketch = DdSketch::new();
        for v in 1..=500 {
            sketch.add(f64::from(v), 1.0);
        }
        let sketched = Aggregate::from_sketch(120_000, 0, sketch, 1.0, 500.0);
        let mut hidden = Aggregate::new(180_000, 1);
        hidden.add_statset(4.0, 10.0, 1.0, 4.0);
        let aggs = vec![exact, sketched, hidden, Aggregate::new(-5, 255)];
        let mut bytes = Vec::new();
        encode_aggregates(&aggs, &mut bytes);
        let back = decode_aggregates(&bytes).unwrap();
        assert_eq!(back.len(), aggs.len());
        for (a, b) in aggs.iter().zip(&back) {
            assert_eq!((a.start_ms, a.unit), (b.start_ms, b.unit));
            assert_eq!(a.count.to_bits(), b.count.to_bits());
            assert_eq!(a.sum.to_bits(), b.sum.to_bits());
            assert_eq!(a.min.to_bits(), b.min.to_bits());
            assert_eq!(a.max.to_bits(), b.max.to_bits());
            assert_eq!(
                a.percentiles(&[0.0, 50.0, 99.0]),
                b.percentiles(&[0.0, 50.0, 99.0])
            );
        }
        assert_eq!(back[0], aggs[0]);
        // Every truncation is an error, never a panic.
        for cut in 0..bytes.len() {
            assert!(decode_aggregates(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode_aggregates(&[0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
        // The smallest aggregates, many of them (the allocation bound is not too tight).
        let mut hidden = Aggregate::new(0, 0);
        hidden.values = Values::Unavailable;
        let small = vec![hidden; 100];
        let mut bytes = Vec::new();
        encode_aggregates(&small, &mut bytes);
        assert_eq!(decode_aggregates(&bytes).unwrap().len(), 100);
        let empty = vec![Aggregate::new(0, 0); 100];
        bytes.clear();
        encode_aggregates(&empty, &mut bytes);
        assert_eq!(decode_aggregates(&bytes).unwrap().len(), 100);
    }

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
