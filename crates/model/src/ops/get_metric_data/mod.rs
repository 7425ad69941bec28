//! GetMetricData: input, validation into a [`ValidGetMetricData`], output, and a
//! pure executor ([`execute_get_metric_data`]) that asks a [`MetricStatSource`]
//! for each metric's values and evaluates metric math over them.

mod exec;
mod label;
mod token;

pub use exec::{MetricStatSource, execute_get_metric_data, insights_groups};

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::insights_query;
use crate::limits::{
    DEFAULT_EXPRESSION_PERIOD_SECS, GMD_DEFAULT_MAX_DATAPOINTS, GMD_MAX_EVALUATED_DATAPOINTS,
    GMD_MAX_QUERIES, MAX_DATUM_FUTURE_MS, MAX_EXPRESSION_LEN, MAX_QUERY_ID_LEN,
};
use crate::math;
use crate::metric::{Metric, MetricId};
use crate::ops::period::{period_count, round_start, validate_period, validate_time_range};
use crate::param::{
    Param, check_len, constraint, invalid, missing, mutually_exclusive, not_in_enum,
};
use crate::statistic::Stat;
use crate::time::Timestamp;
use crate::unit::Unit;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

// ---------------------------------------------------------------- input

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetMetricDataInput {
    pub metric_data_queries: Vec<MetricDataQueryInput>,
    pub start_time: Option<Timestamp>,
    pub end_time: Option<Timestamp>,
    pub next_token: Option<String>,
    pub scan_by: Option<String>,
    pub max_datapoints: Option<i64>,
    pub label_options: Option<LabelOptionsInput>,
}

/// Also the shape of `Metrics[]` in PutMetricAlarm.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MetricDataQueryInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_stat: Option<MetricStatInput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_data: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MetricStatInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<Metric>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stat: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LabelOptionsInput {
    pub timezone: Option<String>,
}

// ---------------------------------------------------------------- validated request

/// Order of each result's points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScanBy {
    #[default]
    TimestampDescending,
    TimestampAscending,
}

impl ScanBy {
    pub const NAMES: [&'static str; 2] = ["TimestampDescending", "TimestampAscending"];
}

/// One metric to fetch: the identity, period, statistic and optional unit filter.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricStatQuery {
    pub metric: MetricId,
    pub period_secs: i64,
    pub stat: Stat,
    pub unit: Option<Unit>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExpressionQuery {
    pub expr: math::Expr,
    /// The `Period` given, or the longest period of the queries it uses
    /// (60 s when it uses none).
    pub period_secs: i64,
}

/// A Metrics Insights query (an `Expression` starting with `SELECT`).
#[derive(Debug, Clone, PartialEq)]
pub struct InsightsQuery {
    pub query: insights_query::Query,
    /// The text, for the paging token's request hash.
    pub source: String,
    /// The `Period` given (60 s when absent), at least one minute.
    pub period_secs: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum QueryKind {
    Stat(MetricStatQuery),
    Expression(ExpressionQuery),
    Insights(InsightsQuery),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ValidQuery {
    pub id: String,
    /// The explicit `Label`, if any (default labels are computed at execution).
    pub label: Option<String>,
    pub return_data: bool,
    pub kind: QueryKind,
}

impl ValidQuery {
    pub fn period_secs(&self) -> i64 {
        match &self.kind {
            QueryKind::Stat(s) => s.period_secs,
            QueryKind::Expression(e) => e.period_secs,
            QueryKind::Insights(q) => q.period_secs,
        }
    }
}

/// A validated GetMetricData request.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidGetMetricData {
    pub queries: Vec<ValidQuery>,
    /// As requested; each query rounds it down for its own period.
    pub start: Timestamp,
    /// Exclusive, as requested.
    pub end: Timestamp,
    pub scan_by: ScanBy,
    /// Datapoints per page, over all results.
    pub max_datapoints: usize,
    /// `LabelOptions.Timezone` (`+HHMM`/`-HHMM`), kept for dynamic labels.
    pub label_timezone: Option<String>,
    /// Position in the result sequence where this page starts (from `NextToken`).
    pub cursor: u64,
    /// Identifies the request for `NextToken` (see [`token`]).
    pub request_hash: u64,
    /// The time the request was validated against (for start rounding).
    pub now: Timestamp,
    /// Indices of expression queries, each after the queries it uses.
    pub eval_order: Vec<usize>,
}

impl ValidGetMetricData {
    /// No datapoint can exist after now + 2 h, so fetching and evaluation stop
    /// there; this bounds the work of a request whose EndTime is far ahead.
    pub fn effective_end(&self) -> Timestamp {
        Timestamp(
            self.end
                .millis()
                .min(self.now.millis().saturating_add(MAX_DATUM_FUTURE_MS)),
        )
    }

    /// Start rounded as CloudWatch rounds it for a query of this period.
    pub fn start_for(&self, period_secs: i64) -> Timestamp {
        round_start(self.start, period_secs, self.now)
    }
}

impl GetMetricDataInput {
    pub fn validate(self, now: Timestamp) -> ApiResult<ValidGetMetricData> {
        let qp = Param::root("MetricDataQueries");
        if self.metric_data_queries.is_empty() {
            return Err(missing(qp));
        }
        if self.metric_data_queries.len() > GMD_MAX_QUERIES {
            return Err(constraint(
                &format!("[{} queries]", self.metric_data_queries.len()),
                qp,
                &format!("Member must have length less than or equal to {GMD_MAX_QUERIES}"),
            ));
        }
        let start = self
            .start_time
            .ok_or_else(|| missing(Param::root("StartTime")))?;
        let end = self
            .end_time
            .ok_or_else(|| missing(Param::root("EndTime")))?;
        let (start, end) = validate_time_range(start, end)?;

        let scan_by = match self.scan_by.as_deref() {
            None | Some("TimestampDescending") => ScanBy::TimestampDescending,
            Some("TimestampAscending") => ScanBy::TimestampAscending,
            Some(other) => return Err(not_in_enum(other, Param::root("ScanBy"), &ScanBy::NAMES)),
        };
        let max_datapoints = match self.max_datapoints {
            None => GMD_DEFAULT_MAX_DATAPOINTS,
            Some(n) if n >= 1 => n,
            Some(n) => {
                return Err(invalid(format!(
                    "The value {n} for parameter MaxDatapoints is invalid: it must be at least 1."
                )));
            }
        };
        let max_datapoints = usize::try_from(max_datapoints).unwrap_or(usize::MAX);
        let label_timezone = match self.label_options.and_then(|o| o.timezone) {
            None => None,
            Some(tz) => Some(validate_timezone(tz)?),
        };

        // Pass 1: each query on its own.
        let mut ids: HashMap<String, usize> =
            HashMap::with_capacity(self.metric_data_queries.len());
        let mut parsed = Vec::with_capacity(self.metric_data_queries.len());
        let mut first_insights: Option<Param> = None;
        for (i, q) in self.metric_data_queries.into_iter().enumerate() {
            let p = qp.member(i);
            let pq = validate_query(q, p, start, now)?;
            if matches!(pq.kind, ParsedKind::Insights(_)) {
                // AWS: "Each GetMetricData operation can have only one query".
                if let Some(first) = first_insights {
                    return Err(ApiError::new(
                        ErrorCode::ValidationError,
                        format!(
                            "A GetMetricData request can contain only one Metrics Insights query; {} and {} are both queries.",
                            first.field("Expression"),
                            p.field("Expression")
                        ),
                    ));
                }
                first_insights = Some(p);
            }
            if let Some(first) = ids.insert(pq.id.clone(), i) {
                return Err(invalid(format!(
                    "The value {} for parameter {} is already used by {}; query ids must be unique.",
                    pq.id,
                    p.field("Id"),
                    qp.member(first).field("Id")
                )));
            }
            parsed.push(pq);
        }
        if !parsed.iter().any(|q| q.return_data) {
            return Err(ApiError::new(
                ErrorCode::ValidationError,
                "At least one entry of MetricDataQueries must have ReturnData set to true.",
            ));
        }

        // Pass 2: expression dependencies, evaluation order, expression periods.
        let eval_order = dependency_order(&parsed, &ids)?;
        let queries = resolve_periods(parsed, &eval_order, &ids);

        let mut v = ValidGetMetricData {
            queries,
            start,
            end,
            scan_by,
            max_datapoints,
            label_timezone,
            cursor: 0,
            request_hash: 0,
            now,
            eval_order,
        };
        check_evaluation_size(&v)?;
        v.request_hash = token::request_hash(&v);
        if let Some(t) = self.next_token.filter(|t| !t.is_empty()) {
            v.cursor = token::decode(&t, v.request_hash)?;
        }
        Ok(v)
    }
}

/// A query after pass 1: expressions parsed but their period not yet resolved.
struct ParsedQuery {
    id: String,
    label: Option<String>,
    return_data: bool,
    kind: ParsedKind,
}

enum ParsedKind {
    Stat(MetricStatQuery),
    Insights(InsightsQuery),
    Expression {
        expr: math::Expr,
        period: Option<i64>,
        p: Param,
    },
}

fn validate_query(
    q: MetricDataQueryInput,
    p: Param,
    start: Timestamp,
    now: Timestamp,
) -> ApiResult<ParsedQuery> {
    let id = validate_id(q.id, p.field("Id"))?;
    let kind = match (q.metric_stat, q.expression) {
        (Some(_), Some(_)) => {
            return Err(mutually_exclusive(
                p.field("MetricStat"),
                p.field("Expression"),
            ));
        }
        (None, None) => {
            return Err(ApiError::new(
                ErrorCode::MissingParameter,
                format!("The parameter {p} must specify exactly one of MetricStat or Expression."),
            ));
        }
        (Some(ms), None) => {
            ParsedKind::Stat(validate_metric_stat(ms, p.field("MetricStat"), start, now)?)
        }
        (None, Some(e)) => {
            let ep = p.field("Expression");
            check_len(&e, 1, MAX_EXPRESSION_LEN, ep)?;
            if insights_query::is_query(&e) {
                let query = insights_query::parse(&e).map_err(|err| {
                    ApiError::new(
                        ErrorCode::ValidationError,
                        format!("The parameter {ep} is not a valid Metrics Insights query. {err}"),
                    )
                })?;
                let period_secs = match q.period {
                    None => DEFAULT_EXPRESSION_PERIOD_SECS,
                    Some(_) => validate_period(q.period, start, now, p.field("Period"))?,
                }
                .max(insights_query::MIN_PERIOD_SECS);
                return Ok(ParsedQuery {
                    id,
                    label: q.label,
                    return_data: q.return_data.unwrap_or(true),
                    kind: ParsedKind::Insights(InsightsQuery {
                        query,
                        source: e,
                        period_secs,
                    }),
                });
            }
            let expr = math::parse(&e).map_err(|err| {
                ApiError::new(
                    err.code,
                    format!("The parameter {ep} is invalid. {}", err.message),
                )
            })?;
            let period = match q.period {
                None => None,
                Some(_) => Some(validate_period(q.period, start, now, p.field("Period"))?),
            };
            ParsedKind::Expression {
                expr,
                period,
                p: ep,
            }
        }
    };
    Ok(ParsedQuery {
        id,
        label: q.label,
        return_data: q.return_data.unwrap_or(true),
        kind,
    })
}

fn validate_id(id: Option<String>, p: Param) -> ApiResult<String> {
    let id = crate::param::required_str(id, p)?;
    check_len(&id, 1, MAX_QUERY_ID_LEN, p)?;
    let mut chars = id.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(invalid(format!(
            "The value {} for parameter {p} is invalid: an Id must start with a lowercase letter and contain only letters, digits and underscores.",
            crate::param::echo(&id)
        )));
    }
    Ok(id)
}

fn validate_metric_stat(
    ms: MetricStatInput,
    p: Param,
    start: Timestamp,
    now: Timestamp,
) -> ApiResult<MetricStatQuery> {
    let metric = ms
        .metric
        .ok_or_else(|| missing(p.field("Metric")))?
        .validate(p.field("Metric"))?;
    let period_secs = validate_period(ms.period, start, now, p.field("Period"))?;
    let stat_text = crate::param::required_str(ms.stat, p.field("Stat"))?;
    let stat = Stat::parse_param(&stat_text, p.field("Stat"))?;
    let unit = ms
        .unit
        .as_deref()
        .map(|u| Unit::parse_param(u, p.field("Unit")))
        .transpose()?;
    Ok(MetricStatQuery {
        metric,
        period_secs,
        stat,
        unit,
    })
}

/// `+HHMM` / `-HHMM`, hours ≤ 14, minutes < 60.
fn validate_timezone(tz: String) -> ApiResult<String> {
    let b = tz.as_bytes();
    let ok = b.len() == 5
        && (b[0] == b'+' || b[0] == b'-')
        && b[1..].iter().all(u8::is_ascii_digit)
        && tz[1..3].parse::<u8>().is_ok_and(|h| h <= 14)
        && tz[3..5].parse::<u8>().is_ok_and(|m| m < 60);
    if ok {
        Ok(tz)
    } else {
        Err(invalid(format!(
            "The value {} for parameter LabelOptions.Timezone is invalid: use +HHMM or -HHMM, such as +0130.",
            crate::param::echo(&tz)
        )))
    }
}

/// Orders expression queries so each comes after every query it references
/// (depth-first, iterative). Unknown ids and cycles are `ValidationError`s.
fn dependency_order(
    queries: &[ParsedQuery],
    ids: &HashMap<String, usize>,
) -> ApiResult<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Visiting,
        Done,
    }
    let deps: Vec<Vec<usize>> = queries
        .iter()
        .map(|q| match &q.kind {
            ParsedKind::Stat(_) | ParsedKind::Insights(_) => Ok(Vec::new()),
            ParsedKind::Expression { expr, p, .. } => expr
                .referenced_ids()
                .iter()
                .map(|r| {
                    ids.get(r).copied().ok_or_else(|| {
                        ApiError::new(
                            ErrorCode::ValidationError,
                            format!("The parameter {p} references the id '{r}', which is not the Id of any query in MetricDataQueries."),
                        )
                    })
                })
                .collect::<ApiResult<Vec<usize>>>(),
        })
        .collect::<ApiResult<_>>()?;

    let mut mark = vec![Mark::New; queries.len()];
    let mut order = Vec::new();
    for root in 0..queries.len() {
        if mark[root] != Mark::New {
            continue;
        }
        // (node, next dependency index to visit)
        let mut stack = vec![(root, 0usize)];
        mark[root] = Mark::Visiting;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&dep) = deps[node].get(*next) {
                *next += 1;
                match mark[dep] {
                    Mark::Done => {}
                    Mark::Visiting => {
                        let mut cycle: Vec<&str> = stack
                            .iter()
                            .skip_while(|(n, _)| *n != dep)
                            .map(|(n, _)| queries[*n].id.as_str())
                            .collect();
                        cycle.push(&queries[dep].id);
                        return Err(ApiError::new(
                            ErrorCode::ValidationError,
                            format!(
                                "MetricDataQueries contains a circular reference between expressions: {}.",
                                cycle.join(" -> ")
                            ),
                        ));
                    }
                    Mark::New => {
                        mark[dep] = Mark::Visiting;
                        stack.push((dep, 0));
                    }
                }
            } else {
                mark[node] = Mark::Done;
                if matches!(queries[node].kind, ParsedKind::Expression { .. }) {
                    order.push(node);
                }
                stack.pop();
            }
        }
    }
    Ok(order)
}

/// Fixes each expression's period (explicit, else the longest period among the
/// queries it uses, else the longest MetricStat period when it uses
/// `METRICS()`, else 60 s) and builds the final queries.
fn resolve_periods(
    parsed: Vec<ParsedQuery>,
    eval_order: &[usize],
    ids: &HashMap<String, usize>,
) -> Vec<ValidQuery> {
    let mut periods: Vec<Option<i64>> = parsed
        .iter()
        .map(|q| match &q.kind {
            ParsedKind::Stat(s) => Some(s.period_secs),
            ParsedKind::Insights(q) => Some(q.period_secs),
            ParsedKind::Expression { period, .. } => *period,
        })
        .collect();
    let longest_stat = parsed
        .iter()
        .filter_map(|q| match &q.kind {
            ParsedKind::Stat(s) => Some(s.period_secs),
            ParsedKind::Expression { .. } | ParsedKind::Insights(_) => None,
        })
        .max();
    for &i in eval_order {
        if periods[i].is_some() {
            continue;
        }
        let ParsedKind::Expression { expr, .. } = &parsed[i].kind else {
            continue;
        };
        let from_refs = expr
            .referenced_ids()
            .iter()
            .filter_map(|r| ids.get(r))
            .filter_map(|&j| periods[j])
            .max();
        let from_all = if expr.uses_all_metrics() {
            longest_stat
        } else {
            None
        };
        periods[i] = Some(
            from_refs
                .max(from_all)
                .unwrap_or(DEFAULT_EXPRESSION_PERIOD_SECS),
        );
    }
    parsed
        .into_iter()
        .zip(periods)
        .map(|(q, period)| ValidQuery {
            id: q.id,
            label: q.label,
            return_data: q.return_data,
            kind: match q.kind {
                ParsedKind::Stat(s) => QueryKind::Stat(s),
                ParsedKind::Insights(q) => QueryKind::Insights(q),
                ParsedKind::Expression { expr, .. } => QueryKind::Expression(ExpressionQuery {
                    expr,
                    period_secs: period.unwrap_or(DEFAULT_EXPRESSION_PERIOD_SECS),
                }),
            },
        })
        .collect()
}

/// Bounds the work one call may cause: the number of periods summed over
/// every query. Not an AWS rule (AWS pages through any amount); it keeps one
/// request from exhausting a small server's memory.
fn check_evaluation_size(v: &ValidGetMetricData) -> ApiResult<()> {
    let end = v.effective_end();
    let total: i64 = v
        .queries
        .iter()
        .map(|q| period_count(v.start_for(q.period_secs()), end, q.period_secs()))
        .fold(0i64, i64::saturating_add);
    if total > GMD_MAX_EVALUATED_DATAPOINTS {
        return Err(ApiError::new(
            ErrorCode::InvalidParameterCombination,
            format!(
                "You have requested up to {total} datapoints across all queries, which exceeds the limit of {GMD_MAX_EVALUATED_DATAPOINTS} per call. You may reduce the datapoints requested by increasing Period, decreasing the time range or using fewer queries."
            ),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------- output

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum StatusCode {
    Complete,
    PartialData,
    InternalError,
    Forbidden,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MessageData {
    pub code: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricDataResult {
    pub id: String,
    pub label: String,
    pub timestamps: Vec<Timestamp>,
    pub values: Vec<f64>,
    pub status_code: StatusCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<MessageData>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetMetricDataOutput {
    pub metric_data_results: Vec<MetricDataResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<MessageData>>,
}

#[cfg(test)]
mod tests;
