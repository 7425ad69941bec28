//! Running a parsed query over the statistics of the metrics it matched:
//! filter (SCHEMA exactness, WHERE), group, aggregate per period, rank, limit.

use super::MAX_LIMIT;
use super::ast::{Condition, Direction, Func, Query, Source};
use crate::metric::MetricId;
use std::collections::BTreeMap;

/// The statistic set of one metric (or one group) over one period; merging
/// these is exact for every function the language has.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PeriodStats {
    /// Period start, epoch milliseconds.
    pub start_ms: i64,
    pub count: f64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
}

impl PeriodStats {
    fn merge(&mut self, o: &PeriodStats) {
        self.count += o.count;
        self.sum += o.sum;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
    }

    /// `func` over the observations summarised here; `None` without any.
    pub fn value(&self, func: Func) -> Option<f64> {
        if self.count <= 0.0 {
            return None;
        }
        Some(match func {
            Func::Avg => self.sum / self.count,
            Func::Count => self.count,
            Func::Max => self.max,
            Func::Min => self.min,
            Func::Sum => self.sum,
        })
    }
}

/// One result series: a group (or the single aggregate without GROUP BY).
#[derive(Clone, Debug, PartialEq)]
pub struct GroupSeries {
    /// The group's values, one per GROUP BY key in the query's order
    /// ([`OTHER`] where a metric lacks the key); empty without GROUP BY.
    pub key: Vec<String>,
    /// Epoch milliseconds, ascending.
    pub timestamps: Vec<i64>,
    pub values: Vec<f64>,
}

impl GroupSeries {
    /// The group's values joined by spaces (empty without GROUP BY).
    pub fn label(&self) -> String {
        self.key.join(" ")
    }
}

/// The group value of a metric that lacks a GROUP BY key (AWS shows such
/// metrics under `Other`).
pub const OTHER: &str = "Other";

impl Query {
    /// True if the metric belongs to the query's input: namespace and name,
    /// SCHEMA's exact dimension set, and the WHERE condition.
    pub fn matches(&self, m: &MetricId) -> bool {
        if m.namespace != self.source.namespace() || m.metric_name != self.metric_name {
            return false;
        }
        if let Source::Schema { keys, .. } = &self.source {
            // Dimension names within one metric are unique (PutMetricData
            // refuses duplicates), so equal sizes + inclusion is set equality.
            if m.dimensions.len() != keys.len()
                || !m.dimensions.iter().all(|d| keys.contains(&d.name))
            {
                return false;
            }
        }
        self.filter.as_ref().is_none_or(|c| holds(c, m))
    }
}

/// A metric without the key does not equal any value, so `!=` holds for it.
fn holds(c: &Condition, m: &MetricId) -> bool {
    let value_of = |key: &str| {
        m.dimensions
            .iter()
            .find(|d| d.name == key)
            .map(|d| d.value.as_str())
    };
    match c {
        Condition::Eq { key, value } => value_of(key) == Some(value.as_str()),
        Condition::Ne { key, value } => value_of(key) != Some(value.as_str()),
        Condition::And(a, b) => holds(a, m) && holds(b, m),
        Condition::Or(a, b) => holds(a, m) || holds(b, m),
    }
}

/// Runs `q` over `metrics` (each with its per-period statistics, already
/// limited to the query window): one series per group, ranked by ORDER BY
/// over the whole window (else by label), at most LIMIT (else 500) of them.
/// Metrics that do not [`Query::matches`] are ignored.
pub fn evaluate(q: &Query, metrics: Vec<(MetricId, Vec<PeriodStats>)>) -> Vec<GroupSeries> {
    struct Group {
        periods: BTreeMap<i64, PeriodStats>,
        total: Option<PeriodStats>,
    }
    let mut groups: BTreeMap<Vec<String>, Group> = BTreeMap::new();
    for (m, stats) in metrics {
        if !q.matches(&m) {
            continue;
        }
        let key: Vec<String> = q
            .group_by
            .iter()
            .map(|k| {
                m.dimensions
                    .iter()
                    .find(|d| &d.name == k)
                    .map_or_else(|| OTHER.to_string(), |d| d.value.clone())
            })
            .collect();
        let g = groups.entry(key).or_insert_with(|| Group {
            periods: BTreeMap::new(),
            total: None,
        });
        for s in stats.iter().filter(|s| s.count > 0.0) {
            g.periods
                .entry(s.start_ms)
                .and_modify(|p| p.merge(s))
                .or_insert(*s);
            match &mut g.total {
                Some(t) => t.merge(s),
                None => g.total = Some(*s),
            }
        }
    }

    let mut ranked: Vec<(Vec<String>, Group)> = groups.into_iter().collect();
    if let Some(order) = q.order_by {
        // Groups without data rank last either way; ties keep label order
        // (the sort is stable and the input is in label order).
        ranked.sort_by(|(_, a), (_, b)| {
            let (va, vb) = (
                a.total.and_then(|t| t.value(order.func)),
                b.total.and_then(|t| t.value(order.func)),
            );
            match (va, vb) {
                (Some(x), Some(y)) => match order.direction {
                    Direction::Asc => x.total_cmp(&y),
                    Direction::Desc => y.total_cmp(&x),
                },
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
        });
    }
    ranked.truncate(q.limit.unwrap_or(MAX_LIMIT).min(MAX_LIMIT));
    ranked
        .into_iter()
        .map(|(key, g)| {
            let (timestamps, values) = g
                .periods
                .values()
                .filter_map(|p| p.value(q.func).map(|v| (p.start_ms, v)))
                .unzip();
            GroupSeries {
                key,
                timestamps,
                values,
            }
        })
        .collect()
}
