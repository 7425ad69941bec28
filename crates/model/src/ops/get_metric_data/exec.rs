//! The GetMetricData executor: fetch each needed MetricStat through a
//! [`MetricStatSource`], evaluate expressions in dependency order, label,
//! order by ScanBy, and cut the page at `MaxDatapoints`.

use super::{
    GetMetricDataOutput, InsightsQuery, MetricDataResult, MetricStatQuery, QueryKind, ScanBy,
    StatusCode, ValidGetMetricData, ValidQuery, label, token,
};
use crate::anomaly::band::{TRAINING_WINDOW_MS, Training, TrainingConfig};
use crate::error::{ApiError, ApiResult};
use crate::insights_query::{self, PeriodStats};
use crate::math::{self, TimeSeries};
use crate::metric::MetricId;
use crate::time::Timestamp;
use std::collections::HashMap;

/// Where MetricStat values come from (the storage layer, or a test table).
pub trait MetricStatSource {
    /// One value per period of `stat.period_secs` starting at `start` (already
    /// rounded) up to `end` (exclusive), ascending, each timestamp the start of
    /// its period; periods without data are omitted.
    fn fetch(
        &mut self,
        stat: &MetricStatQuery,
        start: Timestamp,
        end: Timestamp,
    ) -> ApiResult<Vec<(Timestamp, f64)>>;

    /// Metrics Insights input: up to `limit` metrics of `query`'s namespace
    /// and metric name for which `query.matches` holds. Sources that cannot
    /// list metrics refuse Metrics Insights queries.
    fn insights_metrics(
        &mut self,
        _query: &insights_query::Query,
        _limit: usize,
    ) -> ApiResult<Vec<MetricId>> {
        Err(ApiError::internal(
            "This metric source cannot run Metrics Insights queries.",
        ))
    }

    /// The statistic set of every period of `metric` in `[start, end)`
    /// (all units together), ascending; periods without data omitted.
    fn period_stats(
        &mut self,
        _metric: &MetricId,
        _start: Timestamp,
        _end: Timestamp,
        _period_secs: i64,
    ) -> ApiResult<Vec<PeriodStats>> {
        Err(ApiError::internal(
            "This metric source cannot run Metrics Insights queries.",
        ))
    }

    /// The training configuration of the metric's anomaly detector (none:
    /// train on everything, daily cycle in UTC).
    fn training_config(&mut self, _stat: &MetricStatQuery) -> ApiResult<TrainingConfig> {
        Ok(TrainingConfig::default())
    }

    /// `INSIGHT_RULE_METRIC(rule, metric)`: the Contributor Insights rule's
    /// statistic per period of `period_secs` in `[start, end)` (`start`
    /// already rounded), ascending; periods without a value omitted.
    fn insight_rule_metric(
        &mut self,
        _rule: &str,
        _metric: &str,
        _start: Timestamp,
        _end: Timestamp,
        _period_secs: i64,
    ) -> ApiResult<Vec<(Timestamp, f64)>> {
        Err(ApiError::internal(
            "This metric source cannot read Contributor Insights rules.",
        ))
    }
}

/// Runs one Metrics Insights query: its groups (see
/// [`insights_query::evaluate`]) over `[start, end)`. Data older than the
/// look-back limit is not read (the start moves forward on the period grid);
/// returns that start with the groups. Alarms on grouped queries evaluate
/// each group as a contributor.
pub fn insights_groups<S: MetricStatSource>(
    q: &InsightsQuery,
    start: Timestamp,
    end: Timestamp,
    now: Timestamp,
    src: &mut S,
) -> ApiResult<(Timestamp, Vec<insights_query::GroupSeries>)> {
    let period_ms = q.period_secs * 1000;
    let oldest = now.millis().saturating_sub(insights_query::MAX_LOOKBACK_MS);
    let mut start_ms = start.millis();
    if start_ms < oldest {
        let skipped = (oldest - start_ms + period_ms - 1) / period_ms;
        start_ms = start_ms.saturating_add(skipped.saturating_mul(period_ms));
    }
    if start_ms >= end.millis() {
        return Ok((Timestamp(start_ms), Vec::new()));
    }
    let metrics = src.insights_metrics(&q.query, insights_query::MAX_METRICS)?;
    let mut inputs = Vec::with_capacity(metrics.len());
    for m in metrics {
        let stats = src.period_stats(&m, Timestamp(start_ms), end, q.period_secs)?;
        inputs.push((m, stats));
    }
    Ok((
        Timestamp(start_ms),
        insights_query::evaluate(&q.query, inputs),
    ))
}

/// Runs one Metrics Insights query: its series, labelled with the group
/// values (empty without GROUP BY).
fn run_insights<S: MetricStatSource>(
    q: &InsightsQuery,
    start: Timestamp,
    end: Timestamp,
    now: Timestamp,
    src: &mut S,
) -> ApiResult<Vec<TimeSeries>> {
    let (start, groups) = insights_groups(q, start, end, now, src)?;
    Ok(groups
        .into_iter()
        .map(|g| {
            let label = g.label();
            let points = g
                .timestamps
                .into_iter()
                .map(Timestamp)
                .zip(g.values)
                .collect();
            clean_series(label, points, start, end)
        })
        .collect())
}

/// Runs a validated request. Errors come from the source or from evaluating
/// an expression (e.g. a function applied to the wrong kind of argument).
pub fn execute_get_metric_data<S: MetricStatSource>(
    v: &ValidGetMetricData,
    src: &mut S,
) -> ApiResult<GetMetricDataOutput> {
    let labels = label::labels(&v.queries);
    let ids: HashMap<&str, usize> = v
        .queries
        .iter()
        .enumerate()
        .map(|(i, q)| (q.id.as_str(), i))
        .collect();
    let needed = needed_queries(&v.queries, &ids);
    let end = v.effective_end();

    let mut computed: Vec<Vec<TimeSeries>> = vec![Vec::new(); v.queries.len()];
    for (i, q) in v.queries.iter().enumerate() {
        if let QueryKind::Stat(s) = &q.kind
            && needed[i]
        {
            let start = v.start_for(s.period_secs);
            let points = src.fetch(s, start, end)?;
            computed[i] = vec![clean_series(labels[i].clone(), points, start, end)];
        }
        if let QueryKind::Insights(iq) = &q.kind
            && needed[i]
        {
            let start = v.start_for(iq.period_secs);
            computed[i] = run_insights(iq, start, end, v.now, src)?;
        }
    }
    // ANOMALY_DETECTION_BAND trains on the metric's history before the
    // query range too: fetched once per metric query it is applied to.
    let mut training: HashMap<String, Training> = HashMap::new();
    for &i in &v.eval_order {
        if let QueryKind::Expression(e) = &v.queries[i].kind
            && needed[i]
        {
            for id in e.expr.band_metric_ids() {
                if training.contains_key(&id) {
                    continue;
                }
                if let Some(QueryKind::Stat(s)) = ids.get(id.as_str()).map(|&j| &v.queries[j].kind)
                {
                    let start = v.start_for(s.period_secs);
                    let from = Timestamp(start.millis().saturating_sub(TRAINING_WINDOW_MS));
                    let points = src
                        .fetch(s, from, end)?
                        .into_iter()
                        .map(|(t, x)| (t.millis(), x))
                        .collect();
                    let config = src.training_config(s)?;
                    training.insert(id, Training { points, config });
                }
            }
        }
    }
    // INSIGHT_RULE_METRIC series, fetched once per (rule, metric, period).
    let mut rule_series: HashMap<(String, String, i64), TimeSeries> = HashMap::new();
    for &i in &v.eval_order {
        if let QueryKind::Expression(e) = &v.queries[i].kind
            && needed[i]
        {
            for (rule, metric) in e.expr.insight_rule_metrics() {
                let key = (rule, metric, e.period_secs);
                if rule_series.contains_key(&key) {
                    continue;
                }
                let start = v.start_for(e.period_secs);
                let points = src.insight_rule_metric(&key.0, &key.1, start, end, e.period_secs)?;
                let series = clean_series(key.1.clone(), points, start, end);
                rule_series.insert(key, series);
            }
        }
    }
    for &i in &v.eval_order {
        if let QueryKind::Expression(e) = &v.queries[i].kind
            && needed[i]
        {
            let ctx = EvalContext {
                rule_series: &rule_series,
                queries: &v.queries,
                ids: &ids,
                computed: &computed,
                training: &training,
                period_ms: e.period_secs * 1000,
                start_ms: v.start_for(e.period_secs).millis(),
                end_ms: end.millis(),
            };
            let out = math::evaluate(&e.expr, &ctx)?;
            computed[i] = out;
        }
    }

    let mut entries = Vec::new();
    for (i, q) in v.queries.iter().enumerate() {
        if !q.return_data {
            continue;
        }
        let series = std::mem::take(&mut computed[i]);
        // A grouped query labels even a lone group with its values.
        let grouped = matches!(&q.kind, QueryKind::Insights(iq) if !iq.query.group_by.is_empty());
        let single = series.len() <= 1 && !grouped;
        if series.is_empty() {
            entries.push(Entry {
                id: q.id.clone(),
                label: labels[i].clone(),
                timestamps: vec![],
                values: vec![],
            });
        }
        for s in series {
            let label = if single {
                labels[i].clone()
            } else {
                member_label(q, s.label.clone())
            };
            let (mut timestamps, mut values) = (s.timestamps, s.values);
            if v.scan_by == ScanBy::TimestampDescending {
                timestamps.reverse();
                values.reverse();
            }
            entries.push(Entry {
                id: q.id.clone(),
                label,
                timestamps,
                values,
            });
        }
    }
    Ok(paginate(
        entries,
        v.cursor,
        v.max_datapoints,
        v.request_hash,
    ))
}

/// The label of one member of a multi-series expression result.
fn member_label(q: &ValidQuery, series_label: String) -> String {
    match (&q.label, series_label.is_empty()) {
        (Some(l), false) => format!("{l} {series_label}"),
        (Some(l), true) => l.clone(),
        (None, false) => series_label,
        (None, true) => q.id.clone(),
    }
}

/// Sorts, keeps `[start, end)` and finite values, drops duplicate timestamps
/// (first wins): the source's promise, enforced so a sloppy source cannot
/// produce a malformed answer.
fn clean_series(
    label: String,
    mut points: Vec<(Timestamp, f64)>,
    start: Timestamp,
    end: Timestamp,
) -> TimeSeries {
    points.retain(|(t, v)| *t >= start && *t < end && v.is_finite());
    points.sort_by_key(|(t, _)| *t);
    points.dedup_by_key(|(t, _)| *t);
    let (timestamps, values) = points.into_iter().map(|(t, v)| (t.millis(), v)).unzip();
    TimeSeries {
        label,
        timestamps,
        values,
    }
}

/// Which queries must be computed: those returned, and everything they use.
fn needed_queries(queries: &[ValidQuery], ids: &HashMap<&str, usize>) -> Vec<bool> {
    let mut needed = vec![false; queries.len()];
    let mut stack: Vec<usize> = (0..queries.len())
        .filter(|&i| queries[i].return_data)
        .collect();
    while let Some(i) = stack.pop() {
        if needed[i] {
            continue;
        }
        needed[i] = true;
        if let QueryKind::Expression(e) = &queries[i].kind {
            stack.extend(
                e.expr
                    .referenced_ids()
                    .iter()
                    .filter_map(|r| ids.get(r.as_str())),
            );
            if e.expr.uses_all_metrics() {
                stack.extend(
                    (0..queries.len()).filter(|&j| matches!(queries[j].kind, QueryKind::Stat(_))),
                );
            }
        }
    }
    needed
}

struct EvalContext<'a> {
    queries: &'a [ValidQuery],
    ids: &'a HashMap<&'a str, usize>,
    computed: &'a [Vec<TimeSeries>],
    training: &'a HashMap<String, Training>,
    rule_series: &'a HashMap<(String, String, i64), TimeSeries>,
    period_ms: i64,
    start_ms: i64,
    end_ms: i64,
}

impl math::Context for EvalContext<'_> {
    fn series(&self, id: &str) -> Option<&TimeSeries> {
        self.ids.get(id).and_then(|&i| self.computed[i].first())
    }
    fn all_series(&self) -> Vec<(&str, &TimeSeries)> {
        self.queries
            .iter()
            .zip(self.computed)
            .filter(|(q, _)| matches!(q.kind, QueryKind::Stat(_)))
            .filter_map(|(q, c)| c.first().map(|s| (q.id.as_str(), s)))
            .collect()
    }
    fn period_ms(&self) -> i64 {
        self.period_ms
    }
    fn start_ms(&self) -> i64 {
        self.start_ms
    }
    fn end_ms(&self) -> i64 {
        self.end_ms
    }
    fn training(&self, id: &str) -> Option<&Training> {
        self.training.get(id)
    }
    fn insight_rule_metric(&self, rule: &str, metric: &str) -> Option<&TimeSeries> {
        self.rule_series
            .get(&(rule.to_string(), metric.to_string(), self.period_ms / 1000))
    }
}

/// One result before paging, its points already in ScanBy order.
struct Entry {
    id: String,
    label: String,
    timestamps: Vec<i64>,
    values: Vec<f64>,
}

/// Cuts the page `[cursor, cursor + max)` out of the concatenation of all
/// entries' points. An entry appears on every page its points touch (with
/// `PartialData` while more of it follows); an entry without points appears
/// once, on the page where the cursor reaches it.
fn paginate(
    entries: Vec<Entry>,
    cursor: u64,
    max: usize,
    request_hash: u64,
) -> GetMetricDataOutput {
    let total: u64 = entries.iter().map(|e| e.values.len() as u64).sum();
    let page_end = cursor.saturating_add(max as u64);
    let mut results = Vec::new();
    let mut base = 0u64;
    for e in entries {
        let n = e.values.len() as u64;
        let (lo, hi) = (base, base + n);
        base = hi;
        let on_page = if n == 0 {
            lo >= cursor && (lo < page_end || page_end >= total)
        } else {
            hi > cursor && lo < page_end
        };
        if !on_page {
            continue;
        }
        // Both bounds are ≤ n, which came from a usize.
        let from = usize::try_from(cursor.saturating_sub(lo).min(n)).unwrap_or(usize::MAX);
        let to = usize::try_from(page_end.min(hi).saturating_sub(lo)).unwrap_or(usize::MAX);
        let take = to.saturating_sub(from);
        results.push(MetricDataResult {
            id: e.id,
            label: e.label,
            timestamps: e
                .timestamps
                .into_iter()
                .skip(from)
                .take(take)
                .map(Timestamp)
                .collect(),
            values: e.values.into_iter().skip(from).take(take).collect(),
            status_code: if hi > page_end {
                StatusCode::PartialData
            } else {
                StatusCode::Complete
            },
            messages: None,
        });
    }
    GetMetricDataOutput {
        metric_data_results: results,
        next_token: (page_end < total).then(|| token::encode(page_end, request_hash)),
        messages: None,
    }
}
