//! Default labels of MetricStat results, as AWS makes them (aws-api.md §2.5):
//! the metric name, plus the stat when the call's MetricStat queries use
//! different stats, plus the period when they use different periods
//! (`"cpu Sum 60"`, `"cpu Minimum"`, `"cpu 30"`, `"cpu"`).

use super::{QueryKind, ValidQuery};

/// The label of every query in order: the explicit `Label` when given;
/// otherwise the AWS default for MetricStat queries, the `Id` for expressions.
pub(super) fn labels(queries: &[ValidQuery]) -> Vec<String> {
    let stats = || {
        queries.iter().filter_map(|q| match &q.kind {
            QueryKind::Stat(s) => Some(s),
            QueryKind::Expression(_) | QueryKind::Insights(_) => None,
        })
    };
    let first = stats().next();
    let stats_differ = first.is_some_and(|f| stats().any(|s| s.stat != f.stat));
    let periods_differ = first.is_some_and(|f| stats().any(|s| s.period_secs != f.period_secs));
    queries
        .iter()
        .map(|q| {
            if let Some(l) = &q.label {
                return l.clone();
            }
            match &q.kind {
                QueryKind::Expression(_) | QueryKind::Insights(_) => q.id.clone(),
                QueryKind::Stat(s) => {
                    let mut l = s.metric.metric_name.clone();
                    if stats_differ {
                        l.push(' ');
                        l.push_str(s.stat.as_str());
                    }
                    if periods_differ {
                        l.push(' ');
                        l.push_str(&s.period_secs.to_string());
                    }
                    l
                }
            }
        })
        .collect()
}
