//! GetMetricStatistics: input, validation into a [`StatisticsQuery`], and the
//! pure computation of the output from per-period aggregates.

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::limits::{GMS_MAX_DATAPOINTS, MAX_EXTENDED_STATISTICS, MAX_STATISTICS};
use crate::metric::{Dimension, MetricId, validate_metric_name, validate_namespace};
use crate::ops::period::{period_count, round_start, validate_period, validate_time_range};
use crate::param::{Param, list_constraint, missing};
use crate::statistic::{Percentile, Statistic};
use crate::time::Timestamp;
use crate::unit::Unit;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetMetricStatisticsInput {
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    pub dimensions: Vec<Dimension>,
    pub start_time: Option<Timestamp>,
    pub end_time: Option<Timestamp>,
    pub period: Option<i64>,
    pub statistics: Vec<String>,
    pub extended_statistics: Vec<String>,
    pub unit: Option<String>,
}

/// A validated GetMetricStatistics request.
#[derive(Debug, Clone, PartialEq)]
pub struct StatisticsQuery {
    /// The exact metric (dimension set must match exactly).
    pub metric: MetricId,
    /// Inclusive, already rounded down as CloudWatch rounds it.
    pub start: Timestamp,
    /// Exclusive.
    pub end: Timestamp,
    pub period_secs: i64,
    /// Requested statistics, duplicates removed, request order kept.
    pub statistics: Vec<Statistic>,
    /// Requested percentiles, duplicates (same spelling) removed.
    pub percentiles: Vec<Percentile>,
    /// Only datapoints stored with this unit; `None` = every unit, each separately.
    pub unit: Option<Unit>,
}

impl StatisticsQuery {
    pub fn period_ms(&self) -> i64 {
        self.period_secs * 1000
    }

    /// Start of every period in `[start, end)`.
    pub fn period_starts(&self) -> impl Iterator<Item = Timestamp> + '_ {
        let step = self.period_ms();
        let n = period_count(self.start, self.end, self.period_secs);
        (0..n).map(move |k| Timestamp(self.start.millis() + k * step))
    }
}

impl GetMetricStatisticsInput {
    pub fn validate(self, now: Timestamp) -> ApiResult<StatisticsQuery> {
        let namespace = validate_namespace(self.namespace, Param::root("Namespace"))?;
        let metric_name = validate_metric_name(self.metric_name, Param::root("MetricName"))?;
        let metric = MetricId::new(
            namespace,
            metric_name,
            self.dimensions,
            Param::root("Dimensions"),
        )?;

        let start = self
            .start_time
            .ok_or_else(|| missing(Param::root("StartTime")))?;
        let end = self
            .end_time
            .ok_or_else(|| missing(Param::root("EndTime")))?;
        if self.period.is_none() {
            return Err(missing(Param::root("Period")));
        }

        let (statistics, percentiles) =
            validate_statistic_lists(&self.statistics, &self.extended_statistics)?;

        let unit = self
            .unit
            .as_deref()
            .map(|u| Unit::parse_param(u, Param::root("Unit")))
            .transpose()?;

        let (start, end) = validate_time_range(start, end)?;

        let period_secs = validate_period(self.period, start, now, Param::root("Period"))?;
        let start = round_start(start, period_secs, now);
        let requested = period_count(start, end, period_secs);
        if requested > GMS_MAX_DATAPOINTS {
            return Err(ApiError::new(
                ErrorCode::InvalidParameterCombination,
                format!(
                    "You have requested up to {requested} datapoints, which exceeds the limit of {GMS_MAX_DATAPOINTS}. You may reduce the datapoints requested by increasing Period, or decreasing the time range."
                ),
            ));
        }

        Ok(StatisticsQuery {
            metric,
            start,
            end,
            period_secs,
            statistics,
            percentiles,
            unit,
        })
    }
}

fn validate_statistic_lists(
    stats: &[String],
    extended: &[String],
) -> ApiResult<(Vec<Statistic>, Vec<Percentile>)> {
    let sp = Param::root("Statistics");
    let ep = Param::root("ExtendedStatistics");
    if stats.is_empty() && extended.is_empty() {
        return Err(ApiError::new(
            ErrorCode::MissingParameter,
            "At least one of the parameters Statistics or ExtendedStatistics must be specified.",
        ));
    }
    if stats.len() > MAX_STATISTICS {
        return Err(list_constraint(
            stats,
            sp,
            &format!("Member must have length less than or equal to {MAX_STATISTICS}"),
        ));
    }
    if extended.len() > MAX_EXTENDED_STATISTICS {
        return Err(list_constraint(
            extended,
            ep,
            &format!("Member must have length less than or equal to {MAX_EXTENDED_STATISTICS}"),
        ));
    }
    let mut statistics = Vec::with_capacity(stats.len());
    for (i, s) in stats.iter().enumerate() {
        let st = Statistic::parse_param(s, sp.member(i))?;
        if !statistics.contains(&st) {
            statistics.push(st);
        }
    }
    let mut percentiles: Vec<Percentile> = Vec::with_capacity(extended.len());
    for (i, s) in extended.iter().enumerate() {
        let pc = Percentile::parse_param(s, ep.member(i))?;
        if !percentiles.iter().any(|q| q.as_str() == pc.as_str()) {
            percentiles.push(pc);
        }
    }
    Ok((statistics, percentiles))
}

// ---------------------------------------------------------------- output

/// One period's aggregate of one unit, as the storage layer computes it.
pub trait PeriodAggregate {
    /// Start of the period.
    fn start(&self) -> Timestamp;
    fn unit(&self) -> Unit;
    fn sample_count(&self) -> f64;
    fn sum(&self) -> f64;
    fn minimum(&self) -> f64;
    fn maximum(&self) -> f64;
    /// The `p`-th percentile, `p` in percent (0.0..=100.0; `p99.9` → 99.9).
    /// `None` when it cannot be computed (e.g. only statistic sets were stored).
    fn percentile(&self, p: f64) -> Option<f64>;
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Datapoint {
    pub timestamp: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_count: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sum: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum: Option<f64>,
    pub unit: Unit,
    /// Keyed by the request's spelling (`p99`, `p99.9`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended_statistics: Option<BTreeMap<String, f64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetMetricStatisticsOutput {
    pub label: String,
    pub datapoints: Vec<Datapoint>,
}

/// Builds the output from the caller's aggregates. Aggregates outside
/// `[start, end)`, of another unit than the filter, or without samples are
/// skipped; only requested statistics are filled in; a percentile that cannot
/// be computed is left out of the map. Datapoints come out in time order (then
/// by unit), which AWS does not promise but clients appreciate.
pub fn statistics_output<A: PeriodAggregate>(
    q: &StatisticsQuery,
    metric_name: &str,
    aggs: &[A],
) -> GetMetricStatisticsOutput {
    let mut datapoints: Vec<Datapoint> = aggs
        .iter()
        .filter(|a| a.start() >= q.start && a.start() < q.end)
        .filter(|a| q.unit.is_none_or(|u| u == a.unit()))
        .filter(|a| a.sample_count() > 0.0)
        .map(|a| datapoint(q, a))
        .collect();
    datapoints.sort_by_key(|d| (d.timestamp, d.unit));
    GetMetricStatisticsOutput {
        label: metric_name.to_string(),
        datapoints,
    }
}

fn datapoint<A: PeriodAggregate>(q: &StatisticsQuery, a: &A) -> Datapoint {
    let (n, sum, min, max) = (a.sample_count(), a.sum(), a.minimum(), a.maximum());
    let get = |s: Statistic| {
        q.statistics
            .contains(&s)
            .then(|| s.from_parts(n, sum, min, max))
            .flatten()
    };
    let extended_statistics = (!q.percentiles.is_empty()).then(|| {
        q.percentiles
            .iter()
            .filter_map(|p| {
                a.percentile(p.rank())
                    .filter(|v| v.is_finite())
                    .map(|v| (p.as_str().to_string(), v))
            })
            .collect()
    });
    Datapoint {
        timestamp: a.start(),
        sample_count: get(Statistic::SampleCount),
        average: get(Statistic::Average),
        sum: get(Statistic::Sum),
        minimum: get(Statistic::Minimum),
        maximum: get(Statistic::Maximum),
        unit: a.unit(),
        extended_statistics,
    }
}

#[cfg(test)]
#[path = "get_metric_statistics_tests.rs"]
mod tests;

impl crate::statistic::Stat {
    /// This statistic's value for one period's aggregate (GetMetricData's
    /// MetricStat), `None` when it cannot be computed or there is no sample.
    pub fn of<A: PeriodAggregate>(&self, a: &A) -> Option<f64> {
        if a.sample_count() <= 0.0 {
            return None;
        }
        let v = match self {
            crate::statistic::Stat::Basic(s) => {
                s.from_parts(a.sample_count(), a.sum(), a.minimum(), a.maximum())?
            }
            crate::statistic::Stat::Percentile(p) => a.percentile(p.rank())?,
        };
        v.is_finite().then_some(v)
    }
}
