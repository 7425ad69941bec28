//! `stats`: aggregate states per group, and group keys.

use std::borrow::Cow;
use std::collections::HashSet;

use super::parser::{AggFunc, Aggregate};
use super::value::{Owned, Value};

/// A group-by value in hashable form. Numbers are kept by bit pattern
/// (normalised so `-0` and `0` group together).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum KeyPart {
    Missing,
    Str(String),
    Num(u64),
    Time(i64),
    Bool(bool),
}

impl KeyPart {
    pub(crate) fn of(v: Option<Value<'_>>) -> KeyPart {
        match v {
            None => KeyPart::Missing,
            Some(Value::Str(s)) => KeyPart::Str(s.into_owned()),
            Some(Value::Num(n)) => KeyPart::Num(if n == 0.0 { 0 } else { n.to_bits() }),
            Some(Value::Time(t)) => KeyPart::Time(t),
            Some(Value::Bool(b)) => KeyPart::Bool(b),
        }
    }

    pub(crate) fn value(&self) -> Option<Owned> {
        match self {
            KeyPart::Missing => None,
            KeyPart::Str(s) => Some(Value::Str(Cow::Owned(s.clone()))),
            KeyPart::Num(bits) => Some(Value::Num(f64::from_bits(*bits))),
            KeyPart::Time(t) => Some(Value::Time(*t)),
            KeyPart::Bool(b) => Some(Value::Bool(*b)),
        }
    }
}

/// Neumaier-compensated sum: the result does not depend (in its last digits)
/// on the order events arrive in.
#[derive(Clone, Debug, Default)]
pub(crate) struct Sum {
    sum: f64,
    comp: f64,
    n: u64,
}

impl Sum {
    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.comp += (self.sum - t) + x;
        } else {
            self.comp += (x - t) + self.sum;
        }
        self.sum = t;
        self.n += 1;
    }

    fn total(&self) -> f64 {
        self.sum + self.comp
    }
}

#[derive(Clone, Debug)]
pub(crate) enum AggState {
    Count(u64),
    Distinct(HashSet<String>),
    Sum(Sum),
    Avg(Sum),
    /// The extreme number so far, and the value it came from (a time stays a
    /// time: `max(@timestamp)` prints as a timestamp).
    Min(Option<(f64, Owned)>),
    Max(Option<(f64, Owned)>),
    Pct(Vec<f64>),
    /// (the event's @timestamp, the value then)
    Earliest(Option<(i64, Owned)>),
    Latest(Option<(i64, Owned)>),
}

impl AggState {
    pub(crate) fn new(func: AggFunc) -> AggState {
        match func {
            AggFunc::Count => AggState::Count(0),
            AggFunc::CountDistinct => AggState::Distinct(HashSet::new()),
            AggFunc::Sum => AggState::Sum(Sum::default()),
            AggFunc::Avg => AggState::Avg(Sum::default()),
            AggFunc::Min => AggState::Min(None),
            AggFunc::Max => AggState::Max(None),
            AggFunc::Pct => AggState::Pct(Vec::new()),
            AggFunc::Earliest => AggState::Earliest(None),
            AggFunc::Latest => AggState::Latest(None),
        }
    }

    /// Folds in one record. `value` is the argument's value (for `count(*)`
    /// a placeholder that is always present); `ts` the record's @timestamp.
    pub(crate) fn update(&mut self, value: Option<Value<'_>>, ts: Option<i64>) {
        let Some(v) = value else { return };
        match self {
            AggState::Count(n) => *n += 1,
            AggState::Distinct(set) => {
                let text = v.as_text();
                if !set.contains(text.as_ref()) {
                    set.insert(text.into_owned());
                }
            }
            AggState::Sum(s) | AggState::Avg(s) => {
                if let Some(x) = v.as_num() {
                    s.add(x);
                }
            }
            AggState::Min(best) => {
                if let Some(x) = v.as_num()
                    && best.as_ref().is_none_or(|(b, _)| x < *b)
                {
                    *best = Some((x, v.into_owned()));
                }
            }
            AggState::Max(best) => {
                if let Some(x) = v.as_num()
                    && best.as_ref().is_none_or(|(b, _)| x > *b)
                {
                    *best = Some((x, v.into_owned()));
                }
            }
            AggState::Pct(values) => {
                if let Some(x) = v.as_num() {
                    values.push(x);
                }
            }
            AggState::Earliest(best) => {
                let Some(t) = ts else { return };
                if best.as_ref().is_none_or(|(b, _)| t < *b) {
                    *best = Some((t, v.into_owned()));
                }
            }
            AggState::Latest(best) => {
                let Some(t) = ts else { return };
                if best.as_ref().is_none_or(|(b, _)| t > *b) {
                    *best = Some((t, v.into_owned()));
                }
            }
        }
    }

    pub(crate) fn finish(self, agg: &Aggregate) -> Option<Owned> {
        match self {
            AggState::Count(n) => Some(Value::Num(n as f64)),
            AggState::Distinct(set) => Some(Value::Num(set.len() as f64)),
            AggState::Sum(s) => (s.n > 0).then(|| Value::Num(s.total())),
            AggState::Avg(s) => (s.n > 0).then(|| Value::Num(s.total() / s.n as f64)),
            AggState::Min(best) | AggState::Max(best) => best.map(|(_, v)| match v {
                Value::Time(t) => Value::Time(t),
                other => other.as_num().map_or(other, Value::Num),
            }),
            AggState::Pct(mut values) => {
                if values.is_empty() {
                    return None;
                }
                values.sort_by(f64::total_cmp);
                // Nearest rank: the smallest value with at least p% of the
                // values at or below it.
                let n = values.len();
                let rank = ((agg.percentile / 100.0) * n as f64).ceil() as usize;
                let idx = rank.clamp(1, n) - 1;
                values.get(idx).map(|x| Value::Num(*x))
            }
            AggState::Earliest(best) | AggState::Latest(best) => best.map(|(_, v)| v),
        }
    }
}
