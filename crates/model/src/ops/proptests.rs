//! Property tests: validation and execution never panic on any input, and
//! whatever validation accepts satisfies the invariants callers rely on.

use super::get_metric_data::{
    GetMetricDataInput, MetricDataQueryInput, MetricStatInput, MetricStatQuery, MetricStatSource,
    execute_get_metric_data,
};
use super::get_metric_statistics::GetMetricStatisticsInput;
use super::put_metric_data::{DatumValue, MetricDatumInput, PutMetricDataInput, StatisticSetInput};
use crate::error::ApiResult;
use crate::limits::{MAX_DATUM_AGE_MS, MAX_DATUM_FUTURE_MS};
use crate::metric::{Dimension, Metric};
use crate::time::Timestamp;
use proptest::prelude::*;

const NOW: i64 = 1_800_000_000_000;

fn any_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_:/ .-]{0,12}",
        Just(String::new()),
        Just(":colon".to_string()),
        Just("AWS/EC2".to_string()),
        "\\PC{0,6}",
        Just("x".repeat(300)),
    ]
}

fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        -1e6f64..1e6,
        Just(0.0),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(1e-300),
        Just(1e300),
        proptest::num::f64::ANY,
    ]
}

fn any_time() -> impl Strategy<Value = Option<Timestamp>> {
    prop_oneof![
        Just(None),
        (-(MAX_DATUM_AGE_MS + 10_000)..(MAX_DATUM_FUTURE_MS + 10_000))
            .prop_map(|d| Some(Timestamp(NOW + d))),
        any::<i64>().prop_map(|t| Some(Timestamp(t))),
    ]
}

fn any_unit() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("Percent".to_string())),
        Just(Some("Bytes/Second".to_string())),
        "[a-zA-Z/]{0,8}".prop_map(Some)
    ]
}

fn any_dims() -> impl Strategy<Value = Vec<Dimension>> {
    prop::collection::vec(
        (any_name(), any_name()).prop_map(|(n, v)| Dimension { name: n, value: v }),
        0..4,
    )
}

fn any_datum() -> impl Strategy<Value = MetricDatumInput> {
    (
        prop::option::of(any_name()),
        any_dims(),
        any_time(),
        prop::option::of(any_f64()),
        prop::option::of((
            prop::option::of(any_f64()),
            prop::option::of(any_f64()),
            prop::option::of(any_f64()),
            prop::option::of(any_f64()),
        )),
        prop::collection::vec(any_f64(), 0..4),
        prop::collection::vec(any_f64(), 0..4),
        any_unit(),
        prop::option::of(prop_oneof![Just(1i64), Just(60), any::<i64>()]),
    )
        .prop_map(
            |(
                metric_name,
                dimensions,
                timestamp,
                value,
                stats,
                values,
                counts,
                unit,
                storage_resolution,
            )| MetricDatumInput {
                metric_name,
                dimensions,
                timestamp,
                value,
                statistic_values: stats.map(|(sample_count, sum, minimum, maximum)| {
                    StatisticSetInput {
                        sample_count,
                        sum,
                        minimum,
                        maximum,
                    }
                }),
                values,
                counts,
                unit,
                storage_resolution,
            },
        )
}

proptest! {
    #[test]
    fn put_metric_data_never_panics_and_accepts_only_valid(
        namespace in prop::option::of(any_name()),
        data in prop::collection::vec(any_datum(), 0..5),
    ) {
        let input = PutMetricDataInput { namespace, metric_data: data, ..Default::default() };
        if let Ok(v) = input.validate(Timestamp(NOW)) {
            prop_assert!(!v.namespace.is_empty() && !v.namespace.starts_with("AWS/") && !v.namespace.starts_with(':'));
            for d in &v.datums {
                prop_assert!(d.metric.dimensions.windows(2).all(|w| w[0].name < w[1].name));
                prop_assert!(d.timestamp.millis() >= NOW - MAX_DATUM_AGE_MS && d.timestamp.millis() <= NOW + MAX_DATUM_FUTURE_MS);
                let finite = match &d.value {
                    DatumValue::Single(x) => x.is_finite(),
                    DatumValue::Distribution(p) => !p.is_empty() && p.iter().all(|(x, c)| x.is_finite() && *c > 0.0),
                    DatumValue::StatSet { count, sum, min, max } => *count > 0.0 && sum.is_finite() && min <= max,
                };
                prop_assert!(finite);
            }
        }
    }

    #[test]
    fn get_metric_statistics_never_panics(
        start in any::<i64>(), len in prop_oneof![any::<i64>(), 1i64..100_000_000],
        period in prop_oneof![any::<i64>(), Just(60i64), Just(1), Just(300), Just(3600)],
        stats in prop::collection::vec(prop_oneof![Just("Sum".to_string()), Just("p99".to_string()), "[a-zA-Z0-9.]{0,5}"], 0..12),
        ext in prop::collection::vec(prop_oneof![Just("p99.9".to_string()), "p[0-9.-]{0,5}"], 0..12),
        recent in any::<bool>(),
    ) {
        let start = if recent { NOW - start.rem_euclid(100 * 86_400_000) } else { start };
        let input = GetMetricStatisticsInput {
            namespace: Some("App".into()), metric_name: Some("m".into()), dimensions: vec![],
            start_time: Some(Timestamp(start)), end_time: Some(Timestamp(start.saturating_add(len))),
            period: Some(period), statistics: stats, extended_statistics: ext, unit: None,
        };
        if let Ok(q) = input.validate(Timestamp(NOW)) {
            prop_assert!(q.start.millis() <= start);
            prop_assert!(q.period_starts().count() <= 1440);
            prop_assert!(!q.statistics.is_empty() || !q.percentiles.is_empty());
        }
    }

    #[test]
    fn get_metric_data_never_panics_and_pages_are_bounded(
        queries in prop::collection::vec((
            prop_oneof![Just("m1".to_string()), Just("m2".to_string()), Just("e1".to_string()), "[a-zA-Z_0-9]{0,4}"],
            prop::option::of(prop_oneof![Just("m1 + m2".to_string()), Just("SUM(METRICS())".to_string()), Just("e1 * 2".to_string()),
                "[a-z0-9+*/() ,-]{0,12}"]),
            prop_oneof![Just(60i64), Just(1), Just(300), any::<i64>()],
            prop_oneof![Just("Sum".to_string()), Just("p50".to_string()), "[a-zA-Z0-9.]{0,4}"],
            prop::option::of(any::<bool>()),
        ), 0..5),
        span in 1i64..(6 * 3_600_000),
        max in prop::option::of(prop_oneof![1i64..50, any::<i64>()]),
        ascending in any::<bool>(),
    ) {
        let metric_data_queries = queries.into_iter().map(|(id, expr, period, stat, ret)| MetricDataQueryInput {
            id: Some(id),
            metric_stat: expr.is_none().then(|| MetricStatInput {
                metric: Some(Metric { namespace: Some("App".into()), metric_name: Some("cpu".into()), dimensions: vec![] }),
                period: Some(period), stat: Some(stat), unit: None,
            }),
            expression: expr,
            return_data: ret,
            ..Default::default()
        }).collect();
        let input = GetMetricDataInput {
            metric_data_queries,
            start_time: Some(Timestamp(NOW - span)), end_time: Some(Timestamp(NOW)),
            max_datapoints: max,
            scan_by: Some(if ascending { "TimestampAscending" } else { "TimestampDescending" }.into()),
            ..Default::default()
        };
        if let Ok(v) = input.validate(Timestamp(NOW)) {
            struct Ramp;
            impl MetricStatSource for Ramp {
                fn fetch(&mut self, s: &MetricStatQuery, start: Timestamp, end: Timestamp) -> ApiResult<Vec<(Timestamp, f64)>> {
                    let step = s.period_secs * 1000;
                    Ok((0..).map(|k| start.millis() + k * step).take_while(|t| *t < end.millis())
                        .map(|t| (Timestamp(t), (t % 7) as f64)).collect())
                }
            }
            if let Ok(out) = execute_get_metric_data(&v, &mut Ramp) {
                let points: usize = out.metric_data_results.iter().map(|r| r.values.len()).sum();
                prop_assert!(points <= v.max_datapoints);
                for r in &out.metric_data_results {
                    prop_assert_eq!(r.timestamps.len(), r.values.len());
                    let sorted = if ascending { r.timestamps.is_sorted() } else { r.timestamps.iter().rev().is_sorted() };
                    prop_assert!(sorted);
                }
            }
        }
    }
}
