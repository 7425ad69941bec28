//! Walks the parsed tree against a [`Context`]. Recursion depth is bounded by
//! the parser's nesting limit (chains are flat), so no input can overflow the
//! stack here.

use super::ast::{BinOp, Func, Node};
use super::functions::{self, Aggregate, Consecutive, Filler};
use super::value::{Value, binary};
use super::{Context, TimeSeries};

/// Most points a scalar may be spread over (the period grid of the request).
/// Larger grids are refused rather than allocated.
pub(crate) const MAX_GRID_POINTS: i128 = 1_000_000;

pub(crate) struct Evaluator<'a> {
    pub ctx: &'a dyn Context,
}

type EvalResult = Result<Value, String>;

impl Evaluator<'_> {
    pub fn eval(&self, node: &Node) -> EvalResult {
        match node {
            Node::Number(v) => Ok(Value::Scalar(*v)),
            Node::Id(id) => self
                .ctx
                .series(id)
                .map(|s| Value::Series(s.clone()))
                .ok_or_else(|| format!("Unrecognized metric id '{id}'")),
            Node::Neg(inner) => Ok(map_values(self.eval(inner)?, |x| -x)),
            Node::Chain { first, rest } => {
                let mut acc = self.eval(first)?;
                for (op, operand) in rest {
                    acc = binary(*op, acc, self.eval(operand)?)?;
                }
                Ok(acc)
            }
            Node::Pow(items) => {
                let mut values = items.iter().rev();
                let mut acc = match values.next() {
                    Some(last) => self.eval(last)?,
                    None => return Ok(Value::Scalar(f64::NAN)),
                };
                for base in values {
                    acc = binary(BinOp::Pow, self.eval(base)?, acc)?;
                }
                Ok(acc)
            }
            Node::Array(items) => {
                let mut members = Vec::with_capacity(items.len());
                for item in items {
                    match self.eval(item)? {
                        Value::Series(s) => members.push(s),
                        Value::Array(more) => members.extend(more),
                        Value::Scalar(_) => {
                            return Err("Array elements must be time series".to_string());
                        }
                    }
                }
                Ok(Value::Array(members))
            }
            Node::Call { func, args } => self.call(*func, args),
            Node::Str(_) | Node::FillMode(_) => {
                Err("A string or fill mode is only valid as a function argument".to_string())
            }
        }
    }

    fn arg(&self, args: &[Node], index: usize, func: Func) -> EvalResult {
        match args.get(index) {
            Some(node) => self.eval(node),
            None => Err(format!("Function {} is missing an argument", func.name())),
        }
    }

    fn call(&self, func: Func, args: &[Node]) -> EvalResult {
        let aggregate = |kind| Ok(functions::aggregate(kind, self.arg(args, 0, func)?));
        let math = |f: fn(f64) -> f64| Ok(map_values(self.arg(args, 0, func)?, f));
        let consecutive = |kind| {
            each_series(self.arg(args, 0, func)?, func, |s| {
                functions::consecutive(kind, s)
            })
        };
        match func {
            Func::Sum => aggregate(Aggregate::Sum),
            Func::Avg => aggregate(Aggregate::Avg),
            Func::Min => aggregate(Aggregate::Min),
            Func::Max => aggregate(Aggregate::Max),
            Func::Stddev => aggregate(Aggregate::Stddev),
            Func::Abs => math(f64::abs),
            Func::Ceil => math(f64::ceil),
            Func::Floor => math(f64::floor),
            Func::Log => math(f64::ln),
            Func::Log10 => math(f64::log10),
            Func::Rate => consecutive(Consecutive::Rate),
            Func::Diff => consecutive(Consecutive::Diff),
            Func::DiffTime => consecutive(Consecutive::DiffTime),
            Func::RunningSum => each_series(self.arg(args, 0, func)?, func, functions::running_sum),
            Func::Epoch => each_series(self.arg(args, 0, func)?, func, |mut s| {
                for (v, t) in s.values.iter_mut().zip(&s.timestamps) {
                    *v = *t as f64 / 1000.0;
                }
                s
            }),
            Func::Metrics => Ok(self.metrics(args.first())),
            Func::Fill => self.fill(args),
            Func::If => {
                let cond = self.arg(args, 0, func)?;
                let then = self.arg(args, 1, func)?;
                let otherwise = match args.get(2) {
                    Some(node) => Some(self.eval(node)?),
                    None => None,
                };
                functions::if_then_else(cond, then, otherwise)
            }
            Func::Period => {
                // Evaluated for its errors (unknown ids) only; the period is
                // the query's.
                self.arg(args, 0, func)?;
                Ok(Value::Scalar(self.ctx.period_ms() as f64 / 1000.0))
            }
            Func::First | Func::Last => Ok(match self.arg(args, 0, func)? {
                Value::Array(mut members) => {
                    let picked = if func == Func::First {
                        (!members.is_empty()).then(|| members.swap_remove(0))
                    } else {
                        members.pop()
                    };
                    picked.map_or(Value::Array(Vec::new()), Value::Series)
                }
                other => other,
            }),
            Func::MetricCount => match self.arg(args, 0, func)? {
                Value::Array(members) => Ok(Value::Scalar(members.len() as f64)),
                Value::Series(_) => Ok(Value::Scalar(1.0)),
                Value::Scalar(_) => Err(functions::needs_series(func)),
            },
            Func::DatapointCount => match self.arg(args, 0, func)? {
                Value::Series(s) => Ok(Value::Scalar(
                    s.values.iter().filter(|v| v.is_finite()).count() as f64,
                )),
                _ => Err("Function DATAPOINT_COUNT expects a single time series".to_string()),
            },
            Func::RemoveEmpty => Ok(match self.arg(args, 0, func)? {
                Value::Array(members) => Value::Array(
                    members
                        .into_iter()
                        .filter(|s| s.values.iter().any(|v| v.is_finite()))
                        .collect(),
                ),
                other => other,
            }),
            Func::TimeSeries => Ok(match self.arg(args, 0, func)? {
                Value::Scalar(v) => Value::Series(self.constant_series(v, String::new())?),
                other => other,
            }),
        }
    }

    /// `METRICS()` / `METRICS("filter")`: every metric query's result whose
    /// label contains the filter, in the context's order.
    fn metrics(&self, filter: Option<&Node>) -> Value {
        let filter = match filter {
            Some(Node::Str(f)) => f.as_str(),
            _ => "",
        };
        let members = self
            .ctx
            .all_series()
            .into_iter()
            .filter(|(_, s)| s.label.contains(filter))
            .map(|(id, s)| {
                let mut s = s.clone();
                if s.label.is_empty() {
                    s.label = id.to_string();
                }
                s
            })
            .collect();
        Value::Array(members)
    }

    fn fill(&self, args: &[Node]) -> EvalResult {
        let target = self.arg(args, 0, Func::Fill)?;
        let filler = match args.get(1) {
            Some(Node::FillMode(mode)) => Filler::Mode(*mode),
            Some(node) => match self.eval(node)? {
                Value::Scalar(v) => Filler::Constant(v),
                Value::Series(s) => Filler::FromSeries(s),
                Value::Array(_) => {
                    return Err("Function FILL cannot fill with an array of time series".into());
                }
            },
            None => return Err("Function FILL is missing an argument".to_string()),
        };
        let grid = self.grid()?;
        Ok(functions::fill(target, &filler, &grid))
    }

    /// Timestamps `start + k*period` in `[start, end)`.
    pub fn grid(&self) -> Result<Vec<i64>, String> {
        let (start, end, period) = (
            i128::from(self.ctx.start_ms()),
            i128::from(self.ctx.end_ms()),
            i128::from(self.ctx.period_ms()),
        );
        if period <= 0 {
            return Err("The period must be positive".to_string());
        }
        if end <= start {
            return Ok(Vec::new());
        }
        let count = (end - start + period - 1) / period;
        if count > MAX_GRID_POINTS {
            return Err(format!(
                "The time range holds {count} periods, more than the {MAX_GRID_POINTS} \
                 an expression may produce"
            ));
        }
        Ok((0..count)
            .filter_map(|k| i64::try_from(start + k * period).ok())
            .collect())
    }

    /// A series holding `value` at every grid timestamp (none if not finite).
    pub fn constant_series(&self, value: f64, label: String) -> Result<TimeSeries, String> {
        if !value.is_finite() {
            return Ok(TimeSeries::empty(label));
        }
        let grid = self.grid()?;
        let values = vec![value; grid.len()];
        Ok(TimeSeries {
            label,
            timestamps: grid,
            values,
        })
    }
}

/// Applies a value function to a scalar, a series, or every array member.
fn map_values(value: Value, f: fn(f64) -> f64) -> Value {
    match value {
        Value::Scalar(v) => Value::Scalar(f(v)),
        Value::Series(s) => Value::Series(s.map_values(f)),
        Value::Array(members) => {
            Value::Array(members.into_iter().map(|s| s.map_values(f)).collect())
        }
    }
}

/// Applies a series function to a series or every array member; scalars are
/// refused (these functions look at timestamps).
fn each_series(value: Value, func: Func, f: impl Fn(TimeSeries) -> TimeSeries) -> EvalResult {
    match value {
        Value::Scalar(_) => Err(functions::needs_series(func)),
        Value::Series(s) => Ok(Value::Series(f(s))),
        Value::Array(members) => Ok(Value::Array(members.into_iter().map(f).collect())),
    }
}
