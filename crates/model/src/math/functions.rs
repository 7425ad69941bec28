//! Implementations of the metric-math functions, on already-evaluated
//! arguments. Each returns `Err(message)` for an argument of the wrong shape.

use super::TimeSeries;
use super::ast::{FillMode, Func, is_true};
use super::value::Value;

/// Cross-series (on an array) or whole-series (on one series) aggregates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Aggregate {
    Sum,
    Avg,
    Min,
    Max,
    Stddev,
}

/// Running statistics over finite values; non-finite ones (division by zero
/// upstream) are ignored, as missing points would be.
#[derive(Default)]
struct Accumulator {
    count: usize,
    sum: f64,
    min: f64,
    max: f64,
    mean: f64,
    m2: f64,
}

impl Accumulator {
    fn push(&mut self, v: f64) {
        if !v.is_finite() {
            return;
        }
        if self.count == 0 {
            self.min = v;
            self.max = v;
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.count += 1;
        self.sum += v;
        // Welford's update: numerically stable variance in one pass.
        let delta = v - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (v - self.mean);
    }

    /// NaN when no value was seen: the result then has no data point.
    fn finish(&self, kind: Aggregate) -> f64 {
        if self.count == 0 {
            return f64::NAN;
        }
        match kind {
            Aggregate::Sum => self.sum,
            Aggregate::Avg => self.sum / self.count as f64,
            Aggregate::Min => self.min,
            Aggregate::Max => self.max,
            // Population standard deviation.
            Aggregate::Stddev => (self.m2 / self.count as f64).sqrt(),
        }
    }
}

/// On an array: one series holding, at every timestamp any member has, the
/// aggregate of the members' values there. On a series: a scalar over all of
/// its values. On a scalar: the scalar itself (its spread is 0).
pub(crate) fn aggregate(kind: Aggregate, value: Value) -> Value {
    match value {
        Value::Scalar(v) => Value::Scalar(if kind == Aggregate::Stddev && v.is_finite() {
            0.0
        } else {
            v
        }),
        Value::Series(series) => {
            let mut acc = Accumulator::default();
            series.values.iter().for_each(|v| acc.push(*v));
            Value::Scalar(acc.finish(kind))
        }
        Value::Array(members) => Value::Series(aggregate_across(kind, &members)),
    }
}

/// Per-timestamp aggregate over the union of the members' timestamps. Sorts
/// only timestamps (not points), then walks each member against the union.
fn aggregate_across(kind: Aggregate, members: &[TimeSeries]) -> TimeSeries {
    let first = members.first().map_or(&[][..], |s| s.timestamps.as_slice());
    let union: Vec<i64> = if members.iter().all(|s| s.timestamps == first) {
        // The common case: every member on the same grid.
        first.to_vec()
    } else {
        let total = members.iter().map(|s| s.timestamps.len()).sum();
        let mut union = Vec::with_capacity(total);
        members
            .iter()
            .for_each(|s| union.extend_from_slice(&s.timestamps));
        union.sort_unstable();
        union.dedup();
        union
    };
    let mut accumulators: Vec<Accumulator> = Vec::new();
    accumulators.resize_with(union.len(), Accumulator::default);
    for member in members {
        let mut slot = 0;
        for (t, v) in member.points() {
            // Members are ascending, so the slot only moves forward; a member
            // that is not (a caller bug) restarts the search rather than
            // misplacing points.
            if union.get(slot).is_none_or(|u| *u > t) {
                slot = 0;
            }
            while union.get(slot).is_some_and(|u| *u < t) {
                slot += 1;
            }
            if let Some(acc) = accumulators.get_mut(slot) {
                acc.push(v);
            }
        }
    }
    let values = accumulators.iter().map(|acc| acc.finish(kind)).collect();
    TimeSeries {
        label: String::new(),
        timestamps: union,
        values,
    }
}

/// What `FILL` puts into a gap.
pub(crate) enum Filler {
    Constant(f64),
    /// The value another series has at the same timestamp (if any).
    FromSeries(TimeSeries),
    Mode(FillMode),
}

/// Gives every grid timestamp without a finite value one; points off the grid
/// are kept as they are.
pub(crate) fn fill(value: Value, filler: &Filler, grid: &[i64]) -> Value {
    match value {
        Value::Scalar(v) => match filler {
            // A scalar exists everywhere; only a non-number needs filling.
            Filler::Constant(c) if !v.is_finite() => Value::Scalar(*c),
            _ => Value::Scalar(v),
        },
        Value::Series(s) => Value::Series(fill_series(s, filler, grid)),
        Value::Array(members) => Value::Array(
            members
                .into_iter()
                .map(|s| fill_series(s, filler, grid))
                .collect(),
        ),
    }
}

fn fill_series(series: TimeSeries, filler: &Filler, grid: &[i64]) -> TimeSeries {
    let known = series.drop_non_finite();
    let mut out =
        TimeSeries::with_capacity(known.label.clone(), known.timestamps.len() + grid.len());
    let mut points = known.points().peekable();
    // Last known point before the current grid timestamp (for REPEAT/LINEAR).
    let mut before: Option<(i64, f64)> = None;
    let first = known.points().next();
    for &t in grid {
        while let Some(p) = points.next_if(|(u, _)| *u < t) {
            out.push(p.0, p.1);
            before = Some(p);
        }
        if let Some(p) = points.next_if(|(u, _)| *u == t) {
            out.push(p.0, p.1);
            before = Some(p);
            continue;
        }
        let after = points.peek().copied();
        let filled = match filler {
            Filler::Constant(c) => Some(*c),
            Filler::FromSeries(other) => other.value_at(t),
            // Carry the last value forward; before the first value, back-fill
            // with the first value so the head has no gap either.
            Filler::Mode(FillMode::Repeat) => before.or(first).map(|(_, v)| v),
            Filler::Mode(FillMode::Linear) => match (before, after) {
                (Some((t0, v0)), Some((t1, v1))) => {
                    // In f64: timestamps come from storage and must not overflow.
                    let fraction = (t as f64 - t0 as f64) / (t1 as f64 - t0 as f64);
                    Some(v0 + (v1 - v0) * fraction)
                }
                // Nothing to interpolate towards at the edges: hold the
                // nearest known value.
                (Some((_, v)), None) | (None, Some((_, v))) => Some(v),
                (None, None) => None,
            },
        };
        if let Some(v) = filled {
            out.push(t, v);
        }
    }
    points.for_each(|(t, v)| out.push(t, v));
    out
}

/// Functions over consecutive points of one series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Consecutive {
    /// Change per second.
    Rate,
    /// Change.
    Diff,
    /// Seconds elapsed.
    DiffTime,
}

pub(crate) fn consecutive(kind: Consecutive, series: TimeSeries) -> TimeSeries {
    let mut out = TimeSeries::with_capacity(series.label.clone(), series.timestamps.len());
    let mut previous: Option<(i64, f64)> = None;
    for (t, v) in series.points() {
        if let Some((t0, v0)) = previous {
            let seconds = (t as f64 - t0 as f64) / 1000.0;
            let result = match kind {
                Consecutive::Rate => (v - v0) / seconds,
                Consecutive::Diff => v - v0,
                Consecutive::DiffTime => seconds,
            };
            out.push(t, result);
        }
        previous = Some((t, v));
    }
    out
}

pub(crate) fn running_sum(mut series: TimeSeries) -> TimeSeries {
    let mut total = 0.0;
    for v in &mut series.values {
        // A non-number point is skipped, not allowed to poison every later sum.
        if v.is_finite() {
            total += *v;
            *v = total;
        }
    }
    series
}

/// `IF(cond, a[, b])`, point by point over `cond`'s timestamps. A branch that
/// is a series contributes only where it has a point; a missing `b` drops the
/// points where `cond` is false.
pub(crate) fn if_then_else(
    cond: Value,
    then: Value,
    otherwise: Option<Value>,
) -> Result<Value, String> {
    // At most one argument may be an array; the others apply to each member.
    let arrays = [Some(&cond), Some(&then), otherwise.as_ref()]
        .iter()
        .filter(|v| matches!(v, Some(Value::Array(_))))
        .count();
    if arrays > 1 {
        return Err("Function IF accepts at most one array of time series".to_string());
    }
    match (cond, then, otherwise) {
        (Value::Array(members), then, otherwise) => Ok(Value::Array(
            members
                .into_iter()
                .map(|c| if_series_only(Value::Series(c), &then, otherwise.as_ref()))
                .collect::<Result<_, _>>()?,
        )),
        (cond, Value::Array(members), otherwise) => Ok(Value::Array(
            members
                .into_iter()
                .map(|t| if_series_only(cond.clone(), &Value::Series(t), otherwise.as_ref()))
                .collect::<Result<_, _>>()?,
        )),
        (cond, then, Some(Value::Array(members))) => Ok(Value::Array(
            members
                .into_iter()
                .map(|f| if_series_only(cond.clone(), &then, Some(&Value::Series(f))))
                .collect::<Result<_, _>>()?,
        )),
        (cond, then, otherwise) => if_plain(cond, &then, otherwise.as_ref()),
    }
}

/// `IF` on an array member: the result must be a series.
fn if_series_only(
    cond: Value,
    then: &Value,
    otherwise: Option<&Value>,
) -> Result<TimeSeries, String> {
    match if_plain(cond, then, otherwise)? {
        Value::Series(s) => Ok(s),
        Value::Scalar(_) | Value::Array(_) => Ok(TimeSeries::empty("")),
    }
}

fn if_plain(cond: Value, then: &Value, otherwise: Option<&Value>) -> Result<Value, String> {
    let series_label = |v: Option<&Value>| match v {
        Some(Value::Series(s)) if !s.label.is_empty() => Some(s.label.clone()),
        _ => None,
    };
    match cond {
        Value::Scalar(c) => {
            let chosen = if is_true(c) { Some(then) } else { otherwise };
            Ok(match chosen {
                Some(v) => v.clone(),
                None => match then {
                    Value::Series(s) => Value::Series(TimeSeries::empty(s.label.clone())),
                    _ => Value::Scalar(f64::NAN),
                },
            })
        }
        Value::Series(c) => {
            let label = series_label(Some(then))
                .or_else(|| series_label(otherwise))
                .unwrap_or_else(|| c.label.clone());
            let mut out = TimeSeries::with_capacity(label, c.timestamps.len());
            for (t, cv) in c.points() {
                if cv.is_nan() {
                    continue;
                }
                let chosen = if is_true(cv) { Some(then) } else { otherwise };
                let value = match chosen {
                    Some(Value::Scalar(v)) => Some(*v),
                    Some(Value::Series(s)) => s.value_at(t),
                    Some(Value::Array(_)) | None => None,
                };
                if let Some(v) = value {
                    out.push(t, v);
                }
            }
            Ok(Value::Series(out))
        }
        Value::Array(_) => Err("Function IF accepts at most one array of time series".to_string()),
    }
}

/// Message for a function given a scalar where it needs time series.
pub(crate) fn needs_series(func: Func) -> String {
    format!(
        "Function {} expects a time series or an array of time series, not a scalar",
        func.name()
    )
}

/// The error for `ANOMALY_DETECTION_BAND` on anything but a metric query.
pub(crate) fn band_needs_metric() -> String {
    "Function ANOMALY_DETECTION_BAND expects the id of a metric (MetricStat) query as its first argument"
        .to_string()
}

/// `ANOMALY_DETECTION_BAND(m, k)`: the band of [`crate::anomaly::band`]
/// at each of `m`'s timestamps in the query range, as two series — the
/// lower bound (label `Low`) then the upper (label `High`). Without
/// training data the two series are empty.
pub(crate) fn anomaly_detection_band(
    metric: &TimeSeries,
    training: &crate::anomaly::band::Training,
    period_ms: i64,
    stddevs: Option<f64>,
) -> Result<Value, String> {
    let k = stddevs.unwrap_or(crate::anomaly::band::DEFAULT_STDDEVS);
    if !k.is_finite() || k < 0.0 {
        return Err(
            "Function ANOMALY_DETECTION_BAND expects a non-negative number of standard deviations"
                .to_string(),
        );
    }
    let (lower, upper) =
        crate::anomaly::band::band(training, period_ms, k, &metric.timestamps).unwrap_or_default();
    let timestamps = if lower.is_empty() {
        Vec::new()
    } else {
        metric.timestamps.clone()
    };
    let series = |label: &str, values: Vec<f64>| TimeSeries {
        label: label.to_string(),
        timestamps: timestamps.clone(),
        values,
    };
    Ok(Value::Array(vec![
        series(BAND_LOW_LABEL, lower),
        series(BAND_HIGH_LABEL, upper),
    ]))
}

/// Labels of the band's two series (each prefixed by the query's label).
pub const BAND_LOW_LABEL: &str = "Low";
pub const BAND_HIGH_LABEL: &str = "High";
