//! Intermediate values of an evaluation and the operator semantics between
//! them: scalar ⊕ scalar, per-point series ⊕ scalar, inner-joined series ⊕
//! series, and arrays element by element.

use super::TimeSeries;
use super::ast::BinOp;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Scalar(f64),
    Series(TimeSeries),
    Array(Vec<TimeSeries>),
}

impl TimeSeries {
    pub(crate) fn empty(label: impl Into<String>) -> Self {
        TimeSeries {
            label: label.into(),
            timestamps: Vec::new(),
            values: Vec::new(),
        }
    }

    pub(crate) fn with_capacity(label: impl Into<String>, capacity: usize) -> Self {
        TimeSeries {
            label: label.into(),
            timestamps: Vec::with_capacity(capacity),
            values: Vec::with_capacity(capacity),
        }
    }

    pub(crate) fn push(&mut self, timestamp: i64, value: f64) {
        self.timestamps.push(timestamp);
        self.values.push(value);
    }

    /// `(timestamp, value)` pairs; a length mismatch between the two vectors
    /// (a caller bug) truncates instead of panicking.
    pub(crate) fn points(&self) -> impl Iterator<Item = (i64, f64)> + '_ {
        self.timestamps
            .iter()
            .copied()
            .zip(self.values.iter().copied())
    }

    /// Applies `f` to every value in place.
    pub(crate) fn map_values(mut self, f: impl Fn(f64) -> f64) -> Self {
        for v in &mut self.values {
            *v = f(*v);
        }
        self
    }

    /// Keeps only the points whose value is a finite number.
    pub(crate) fn drop_non_finite(mut self) -> Self {
        if self.values.iter().all(|v| v.is_finite()) {
            return self;
        }
        let (timestamps, values) = self.points().filter(|(_, v)| v.is_finite()).unzip();
        self.timestamps = timestamps;
        self.values = values;
        self
    }

    /// The value at `timestamp`, by binary search (timestamps are ascending).
    pub(crate) fn value_at(&self, timestamp: i64) -> Option<f64> {
        let idx = self.timestamps.binary_search(&timestamp).ok()?;
        self.values.get(idx).copied()
    }
}

/// Walks two ascending series and calls `f` on timestamps present in both.
pub(crate) fn inner_join(
    a: &TimeSeries,
    b: &TimeSeries,
    label: String,
    f: impl Fn(f64, f64) -> f64,
) -> TimeSeries {
    let mut out = TimeSeries::with_capacity(label, a.timestamps.len().min(b.timestamps.len()));
    let mut bs = b.points().peekable();
    for (t, va) in a.points() {
        while bs.next_if(|(tb, _)| *tb < t).is_some() {}
        if let Some((_, vb)) = bs.next_if(|(tb, _)| *tb == t) {
            out.push(t, f(va, vb));
        }
    }
    out
}

/// The label an operation on two series keeps: the left one's, unless empty.
fn join_label(a: &TimeSeries, b: &TimeSeries) -> String {
    if a.label.is_empty() {
        b.label.clone()
    } else {
        a.label.clone()
    }
}

/// `l op r` for any pair of values. Two arrays cannot be combined (there is
/// no defined pairing between their members).
pub(crate) fn binary(op: BinOp, l: Value, r: Value) -> Result<Value, String> {
    let apply = move |a: f64, b: f64| op.apply(a, b);
    Ok(match (l, r) {
        (Value::Scalar(a), Value::Scalar(b)) => Value::Scalar(apply(a, b)),
        (Value::Series(s), Value::Scalar(b)) => Value::Series(s.map_values(|a| apply(a, b))),
        (Value::Scalar(a), Value::Series(s)) => Value::Series(s.map_values(|b| apply(a, b))),
        (Value::Series(a), Value::Series(b)) => {
            Value::Series(inner_join(&a, &b, join_label(&a, &b), apply))
        }
        (Value::Array(arr), Value::Scalar(b)) => Value::Array(
            arr.into_iter()
                .map(|s| s.map_values(|a| apply(a, b)))
                .collect(),
        ),
        (Value::Scalar(a), Value::Array(arr)) => Value::Array(
            arr.into_iter()
                .map(|s| s.map_values(|b| apply(a, b)))
                .collect(),
        ),
        (Value::Array(arr), Value::Series(b)) => Value::Array(
            arr.iter()
                .map(|a| inner_join(a, &b, join_label(a, &b), apply))
                .collect(),
        ),
        (Value::Series(a), Value::Array(arr)) => Value::Array(
            arr.iter()
                .map(|b| inner_join(&a, b, join_label(b, &a), apply))
                .collect(),
        ),
        (Value::Array(_), Value::Array(_)) => {
            return Err(format!(
                "Operator '{}' cannot combine two arrays of time series",
                op.symbol()
            ));
        }
    })
}
