//! CloudWatch metric math: parsing an `Expression` of a `MetricDataQuery` and
//! evaluating it over the time series of the other queries.
//!
//! The language: numbers, query ids (`[a-z][a-zA-Z0-9_]*`), `( )`, array
//! literals `[m1, m2]`, unary `-`, `+ - * / ^`, comparisons
//! `< <= > >= == !=` and `AND`/`&&`, `OR`/`||` (which yield 1 or 0), and the
//! functions `ABS ANOMALY_DETECTION_BAND AVG CEIL DATAPOINT_COUNT DIFF DIFF_TIME EPOCH FILL FIRST
//! FLOOR IF INSIGHT_RULE_METRIC LAST LOG LOG10 MAX METRIC_COUNT METRICS MIN PERIOD RATE
//! REMOVE_EMPTY RUNNING_SUM STDDEV SUM TIME_SERIES`. Values are scalars, time series, or
//! arrays of time series (from `METRICS()` or `[..]`). Series ⊕ series keeps
//! the timestamps both have; anything ⊕ an array applies to each member.
//!
//! This module knows nothing about storage: the caller fetches every
//! `MetricStat` query and hands the results in through a [`Context`].

mod ast;
mod eval;
mod functions;
mod lexer;
mod parser;
mod value;

#[cfg(test)]
mod tests;

use crate::error::{ApiError, ApiResult, ErrorCode};
use ast::{Func, Node};
use value::Value;

/// Longest expression AWS accepts, in characters.
pub const MAX_EXPRESSION_CHARS: usize = 2048;

pub use eval::MAX_EVALUATION_POINTS;
pub use functions::{BAND_HIGH_LABEL, BAND_LOW_LABEL};
pub use parser::MAX_NESTING;

/// One time series: points at ascending epoch-millisecond timestamps.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeSeries {
    pub label: String,
    /// Epoch milliseconds, ascending.
    pub timestamps: Vec<i64>,
    pub values: Vec<f64>,
}

/// What an evaluation can see: the results of the request's other queries
/// and the request's time grid.
pub trait Context {
    /// The result of the query (metric or already-evaluated expression) with
    /// this id.
    fn series(&self, id: &str) -> Option<&TimeSeries>;
    /// Every `MetricStat` query's result, for `METRICS()`.
    fn all_series(&self) -> Vec<(&str, &TimeSeries)>;
    fn period_ms(&self) -> i64;
    fn start_ms(&self) -> i64;
    fn end_ms(&self) -> i64;
    /// The training history of a `MetricStat` query, fetched by the caller
    /// for each query `ANOMALY_DETECTION_BAND` is applied to (see
    /// [`Expr::band_metric_ids`]); `None` for any other id.
    fn training(&self, _id: &str) -> Option<&crate::anomaly::band::Training> {
        None
    }
    /// `INSIGHT_RULE_METRIC(rule, metric)`'s series on this expression's
    /// grid, fetched by the caller for each pair in
    /// [`Expr::insight_rule_metrics`]; `None` for any other pair.
    fn insight_rule_metric(&self, _rule: &str, _metric: &str) -> Option<&TimeSeries> {
        None
    }
}

/// A parsed, syntactically valid expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    source: String,
    root: Node,
}

impl Expr {
    /// The text this was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The query ids the expression uses, deduplicated, in order of first
    /// appearance.
    pub fn referenced_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        self.visit(&mut |node| {
            if let Node::Id(id) = node
                && !ids.contains(id)
            {
                ids.push(id.clone());
            }
        });
        ids
    }

    /// The ids given as the first argument of `ANOMALY_DETECTION_BAND`: the
    /// queries whose history the caller must fetch for training.
    pub fn band_metric_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        self.visit(&mut |node| {
            if let Node::Call {
                func: Func::AnomalyDetectionBand,
                args,
            } = node
                && let Some(Node::Id(id)) = args.first()
                && !ids.contains(id)
            {
                ids.push(id.clone());
            }
        });
        ids
    }

    /// The (rule name, metric name) pairs of `INSIGHT_RULE_METRIC` calls:
    /// the Contributor Insights series the caller must fetch.
    pub fn insight_rule_metrics(&self) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        self.visit(&mut |node| {
            if let Node::Call {
                func: Func::InsightRuleMetric,
                args,
            } = node
                && let (Some(Node::Str(rule)), Some(Node::Str(metric))) =
                    (args.first(), args.get(1))
            {
                let pair = (rule.clone(), metric.clone());
                if !pairs.contains(&pair) {
                    pairs.push(pair);
                }
            }
        });
        pairs
    }

    /// Whether `METRICS()` (with or without a filter) appears, i.e. the
    /// expression depends on every metric query of the request.
    pub fn uses_all_metrics(&self) -> bool {
        let mut found = false;
        self.visit(&mut |node| {
            if matches!(
                node,
                Node::Call {
                    func: Func::Metrics,
                    ..
                }
            ) {
                found = true;
            }
        });
        found
    }

    /// Pre-order walk with an explicit stack (no recursion).
    fn visit(&self, f: &mut impl FnMut(&Node)) {
        let mut stack = vec![&self.root];
        while let Some(node) = stack.pop() {
            f(node);
            stack.extend(node.children().into_iter().rev());
        }
    }

    fn error(&self, message: &str) -> ApiError {
        expression_error(&self.source, message)
    }
}

fn expression_error(source: &str, message: &str) -> ApiError {
    ApiError::new(
        ErrorCode::ValidationError,
        format!("Error in expression '{source}': {message}"),
    )
}

/// Parses a metric-math expression of 1 to [`MAX_EXPRESSION_CHARS`]
/// characters. Errors are `ValidationError`s saying what and where, e.g.
/// `Error in expression 'm1 +': Unexpected end of expression at position 4`.
pub fn parse(expr: &str) -> ApiResult<Expr> {
    let chars = expr.chars().count();
    if chars == 0 || chars > MAX_EXPRESSION_CHARS {
        return Err(ApiError::new(
            ErrorCode::ValidationError,
            format!(
                "The expression must be between 1 and {MAX_EXPRESSION_CHARS} characters long, \
                 but it has {chars}"
            ),
        ));
    }
    let at = |e: lexer::SyntaxError| {
        expression_error(expr, &format!("{} at position {}", e.message, e.pos))
    };
    let tokens = lexer::tokenize(expr).map_err(at)?;
    let root = parser::parse_tokens(&tokens).map_err(at)?;
    Ok(Expr {
        source: expr.to_string(),
        root,
    })
}

/// Evaluates to one or more time series (an expression over `METRICS()`
/// yields one per member). A scalar result (e.g. `2*3`) yields one series with
/// the scalar at every period timestamp `start_ms + k*period_ms` in
/// `[start, end)`. Points whose value is NaN or ±Inf are dropped, as AWS does.
///
/// Labels: a series keeps the label of the series it derives from (the left
/// operand's for a binary operation, each member's for an array); a scalar
/// result is labelled with the expression text. The caller overrides with the
/// query's `Label` when there is one.
pub fn evaluate(expr: &Expr, ctx: &dyn Context) -> ApiResult<Vec<TimeSeries>> {
    let evaluator = eval::Evaluator::new(ctx);
    let value = evaluator
        .eval(&expr.root)
        .map_err(|message| expr.error(&message))?;
    Ok(match value {
        Value::Scalar(v) => vec![
            evaluator
                .constant_series(v, expr.source.clone())
                .map_err(|message| expr.error(&message))?,
        ],
        Value::Series(s) => vec![s.drop_non_finite()],
        Value::Array(members) => members
            .into_iter()
            .map(TimeSeries::drop_non_finite)
            .collect(),
    })
}
