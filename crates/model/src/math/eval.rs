//! Walks the parsed tree against a [`Context`]. Recursion depth is bounded by
//! the parser's nesting limit (chains are flat), so no input can overflow the
//! stack here.

use super::ast::{BinOp, Func, Node};
use super::functions::{self, Aggregate, Consecutive, Filler};
use super::value::{Value, binary};
use super::{Context, TimeSeries};
use std::cell::Cell;

/// Most points a scalar may be spread over (the period grid of the request).
/// Larger grids are refused rather than allocated.
pub(crate) const MAX_GRID_POINTS: i128 = 1_000_000;

/// Most data points one evaluation may materialize (copies of query results,
/// filled and constant series), about 320 MB. Binary operations never grow
/// their inputs, so this bounds memory against `[METRICS(), METRICS(), …]`
/// or `FILL` over many series on a fine grid.
pub const MAX_EVALUATION_POINTS: usize = 20_000_000;

pub(crate) struct Evaluator<'a> {
    ctx: &'a dyn Context,
    /// Points still allowed by [`MAX_EVALUATION_POINTS`].
    budget: Cell<usize>,
}

type EvalResult = Result<Value, String>;

impl<'a> Evaluator<'a> {
    pub fn new(ctx: &'a dyn Context) -> Self {
        Evaluator {
            ctx,
            budget: Cell::new(MAX_EVALUATION_POINTS),
        }
    }

    /// Accounts for `points` newly materialized points.
    fn charge(&self, points: usize) -> Result<(), String> {
        match self.budget.get().checked_sub(points) {
            Some(left) => {
                self.budget.set(left);
                Ok(())
            }
            None => Err(format!(
                "The expression would produce more than {MAX_EVALUATION_POINTS} data points"
            )),
        }
    }

    // The recursive path (eval → chain/call → eval) is kept to small
    // functions: the big per-function dispatch (`apply`) runs only once its
    // arguments are evaluated, so its frame is never part of the recursion.
    pub fn eval(&self, node: &Node) -> EvalResult {
        match node {
            Node::Number(v) => Ok(Value::Scalar(*v)),
            Node::Id(id) => {
                let series = self
                    .ctx
                    .series(id)
                    .ok_or_else(|| format!("Unrecognized metric id '{id}'"))?;
                self.charge(series.timestamps.len())?;
                Ok(Value::Series(series.clone()))
            }
            Node::Neg(inner) => Ok(map_values(self.eval(inner)?, |x| -x)),
            Node::Chain { first, rest } => self.chain(first, rest),
            Node::Pow(items) => self.power(items),
            Node::Array(items) => self.array(items),
            Node::Call { func, args } => self.call(*func, args),
            Node::Str(_) | Node::FillMode(_) => {
                Err("A string or fill mode is only valid as a function argument".to_string())
            }
        }
    }

    fn chain(&self, first: &Node, rest: &[(BinOp, Node)]) -> EvalResult {
        let mut acc = self.eval(first)?;
        for (op, operand) in rest {
            acc = binary(*op, acc, self.eval(operand)?)?;
        }
        Ok(acc)
    }

    /// Right-associative: folds from the last operand.
    fn power(&self, items: &[Node]) -> EvalResult {
        let mut acc: Option<Value> = None;
        for item in items.iter().rev() {
            let base = self.eval(item)?;
            acc = Some(match acc {
                None => base,
                Some(exponent) => binary(BinOp::Pow, base, exponent)?,
            });
        }
        Ok(acc.unwrap_or(Value::Scalar(f64::NAN)))
    }

    fn array(&self, items: &[Node]) -> EvalResult {
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

    fn call(&self, func: Func, args: &[Node]) -> EvalResult {
        let mut values = Vec::with_capacity(args.len());
        for node in args {
            values.push(match node {
                // Not values: `apply` reads them from the nodes.
                Node::Str(_) | Node::FillMode(_) => None,
                other => Some(self.eval(other)?),
            });
        }
        self.apply(func, args, values)
    }

    /// Runs `func` on its evaluated arguments (`None` where the argument is a
    /// string or fill mode, found in `args`).
    #[inline(never)]
    fn apply(&self, func: Func, args: &[Node], values: Vec<Option<Value>>) -> EvalResult {
        let mut values = values.into_iter();
        let mut next = || {
            values
                .next()
                .flatten()
                .ok_or_else(|| format!("Function {} is missing an argument", func.name()))
        };
        let math = |v: Value, f: fn(f64) -> f64| Ok(map_values(v, f));
        let consecutive =
            |v: Value, kind| each_series(v, func, |s| functions::consecutive(kind, s));
        match func {
            Func::Sum => Ok(functions::aggregate(Aggregate::Sum, next()?)),
            Func::Avg => Ok(functions::aggregate(Aggregate::Avg, next()?)),
            Func::Min => Ok(functions::aggregate(Aggregate::Min, next()?)),
            Func::Max => Ok(functions::aggregate(Aggregate::Max, next()?)),
            Func::Stddev => Ok(functions::aggregate(Aggregate::Stddev, next()?)),
            Func::Abs => math(next()?, f64::abs),
            Func::Ceil => math(next()?, f64::ceil),
            Func::Floor => math(next()?, f64::floor),
            Func::Log => math(next()?, f64::ln),
            Func::Log10 => math(next()?, f64::log10),
            Func::Rate => consecutive(next()?, Consecutive::Rate),
            Func::Diff => consecutive(next()?, Consecutive::Diff),
            Func::DiffTime => consecutive(next()?, Consecutive::DiffTime),
            Func::RunningSum => each_series(next()?, func, functions::running_sum),
            Func::Epoch => each_series(next()?, func, |mut s| {
                for (v, t) in s.values.iter_mut().zip(&s.timestamps) {
                    *v = *t as f64 / 1000.0;
                }
                s
            }),
            Func::Metrics => self.metrics(args.first()),
            Func::InsightRuleMetric => {
                let (Some(Node::Str(rule)), Some(Node::Str(metric))) = (args.first(), args.get(1))
                else {
                    return Err(
                        "Function INSIGHT_RULE_METRIC expects a rule name and a metric name, as strings"
                            .to_string(),
                    );
                };
                let series = self.ctx.insight_rule_metric(rule, metric).ok_or_else(|| {
                    format!("INSIGHT_RULE_METRIC data for rule {rule} is not available")
                })?;
                self.charge(series.timestamps.len())?;
                Ok(Value::Series(series.clone()))
            }
            Func::AnomalyDetectionBand => {
                let metric = next()?;
                let stddevs = match next().ok() {
                    None => None,
                    Some(Value::Scalar(k)) => Some(k),
                    Some(_) => {
                        return Err(
                            "Function ANOMALY_DETECTION_BAND expects a number of standard deviations as its second argument"
                                .to_string(),
                        );
                    }
                };
                let id = match args.first() {
                    Some(Node::Id(id)) => id.as_str(),
                    _ => return Err(functions::band_needs_metric()),
                };
                let training = self
                    .ctx
                    .training(id)
                    .ok_or_else(functions::band_needs_metric)?;
                let Value::Series(series) = metric else {
                    return Err(functions::band_needs_metric());
                };
                self.charge(series.timestamps.len().saturating_mul(2))?;
                functions::anomaly_detection_band(&series, training, self.ctx.period_ms(), stddevs)
            }
            Func::Fill => {
                let target = next()?;
                let filler = match args.get(1) {
                    Some(Node::FillMode(mode)) => Filler::Mode(*mode),
                    _ => match next()? {
                        Value::Scalar(v) => Filler::Constant(v),
                        Value::Series(s) => Filler::FromSeries(s),
                        Value::Array(_) => {
                            return Err(
                                "Function FILL cannot fill with an array of time series".into()
                            );
                        }
                    },
                };
                let grid = self.grid()?;
                let members = match &target {
                    Value::Array(members) => members.len(),
                    _ => 1,
                };
                self.charge(grid.len().saturating_mul(members))?;
                Ok(functions::fill(target, &filler, &grid))
            }
            Func::If => {
                let cond = next()?;
                let then = next()?;
                let otherwise = next().ok();
                functions::if_then_else(cond, then, otherwise)
            }
            // The argument was evaluated for its errors (unknown ids) only;
            // the period is the query's.
            Func::Period => next().map(|_| Value::Scalar(self.ctx.period_ms() as f64 / 1000.0)),
            Func::First | Func::Last => Ok(match next()? {
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
            Func::MetricCount => match next()? {
                Value::Array(members) => Ok(Value::Scalar(members.len() as f64)),
                Value::Series(_) => Ok(Value::Scalar(1.0)),
                Value::Scalar(_) => Err(functions::needs_series(func)),
            },
            Func::DatapointCount => match next()? {
                Value::Series(s) => Ok(Value::Scalar(
                    s.values.iter().filter(|v| v.is_finite()).count() as f64,
                )),
                _ => Err("Function DATAPOINT_COUNT expects a single time series".to_string()),
            },
            Func::RemoveEmpty => Ok(match next()? {
                Value::Array(members) => Value::Array(
                    members
                        .into_iter()
                        .filter(|s| s.values.iter().any(|v| v.is_finite()))
                        .collect(),
                ),
                other => other,
            }),
            Func::TimeSeries => Ok(match next()? {
                Value::Scalar(v) => Value::Series(self.constant_series(v, String::new())?),
                other => other,
            }),
        }
    }

    /// `METRICS()` / `METRICS("filter")`: every metric query's result whose
    /// label contains the filter, in the context's order.
    fn metrics(&self, filter: Option<&Node>) -> EvalResult {
        let filter = match filter {
            Some(Node::Str(f)) => f.as_str(),
            _ => "",
        };
        let chosen: Vec<(&str, &TimeSeries)> = self
            .ctx
            .all_series()
            .into_iter()
            .filter(|(_, s)| s.label.contains(filter))
            .collect();
        self.charge(chosen.iter().map(|(_, s)| s.timestamps.len()).sum())?;
        let members = chosen
            .into_iter()
            .map(|(id, s)| {
                let mut s = s.clone();
                if s.label.is_empty() {
                    s.label = id.to_string();
                }
                s
            })
            .collect();
        Ok(Value::Array(members))
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
        self.charge(grid.len())?;
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
