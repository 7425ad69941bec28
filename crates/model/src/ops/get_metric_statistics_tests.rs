use super::*;
use crate::limits::{DAY_MS, HOUR_MS, MINUTE_MS};
use serde_json::{Value, json};

const NOW: i64 = 1_800_000_000_000; // a whole hour

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

fn input(over: Value) -> GetMetricStatisticsInput {
    let mut base = json!({
        "Namespace": "CWAgent", "MetricName": "disk_used_percent",
        "Dimensions": [{"Name": "path", "Value": "/"}, {"Name": "InstanceId", "Value": "i-1"}],
        "StartTime": secs(NOW - HOUR_MS), "EndTime": secs(NOW), "Period": 60, "Statistics": ["Average"],
    });
    if let (Some(b), Some(o)) = (base.as_object_mut(), over.as_object()) {
        for (k, v) in o {
            if v.is_null() {
                b.remove(k);
            } else {
                b.insert(k.clone(), v.clone());
            }
        }
    }
    serde_json::from_value(base).expect("decodes")
}

#[test]
fn rejects_with_code_and_parameter() {
    let cases: Vec<(Value, ErrorCode, &str)> = vec![
        (
            json!({"Namespace": null}),
            ErrorCode::MissingParameter,
            "The parameter Namespace is required.",
        ),
        (
            json!({"MetricName": null}),
            ErrorCode::MissingParameter,
            "The parameter MetricName is required.",
        ),
        (
            json!({"StartTime": null}),
            ErrorCode::MissingParameter,
            "The parameter StartTime is required.",
        ),
        (
            json!({"EndTime": null}),
            ErrorCode::MissingParameter,
            "The parameter EndTime is required.",
        ),
        (
            json!({"Period": null}),
            ErrorCode::MissingParameter,
            "The parameter Period is required.",
        ),
        (
            json!({"Statistics": []}),
            ErrorCode::MissingParameter,
            "Statistics or ExtendedStatistics",
        ),
        (
            json!({"Statistics": ["Average", "Sum", "Minimum", "Maximum", "SampleCount", "Sum"]}),
            ErrorCode::ValidationError,
            "at 'statistics' failed to satisfy constraint: Member must have length less than or equal to 5",
        ),
        (
            json!({"ExtendedStatistics": ["p1","p2","p3","p4","p5","p6","p7","p8","p9","p10","p11"]}),
            ErrorCode::ValidationError,
            "'extendedStatistics'",
        ),
        (
            json!({"Statistics": ["Mean"]}),
            ErrorCode::ValidationError,
            "'statistics.1.member'",
        ),
        (
            json!({"ExtendedStatistics": ["p99", "p101"]}),
            ErrorCode::InvalidParameterValue,
            "ExtendedStatistics.member.2",
        ),
        (
            json!({"ExtendedStatistics": ["p-1"]}),
            ErrorCode::InvalidParameterValue,
            "ExtendedStatistics.member.1",
        ),
        (
            json!({"ExtendedStatistics": ["tm90"]}),
            ErrorCode::InvalidParameterValue,
            "ExtendedStatistics.member.1",
        ),
        (
            json!({"Unit": "Parsecs"}),
            ErrorCode::ValidationError,
            "at 'unit'",
        ),
        (
            json!({"Dimensions": [{"Name": "a", "Value": "1"}, {"Name": "a", "Value": "1"}]}),
            ErrorCode::InvalidParameterValue,
            "No metric may specify the same dimension name twice.",
        ),
        (
            json!({"StartTime": secs(NOW), "EndTime": secs(NOW - 1000)}),
            ErrorCode::InvalidParameterValue,
            "The parameter StartTime must be less than the parameter EndTime.",
        ),
        (
            json!({"StartTime": secs(NOW), "EndTime": secs(NOW)}),
            ErrorCode::InvalidParameterValue,
            "The parameter StartTime must be less than the parameter EndTime.",
        ),
        (
            // Within the same second: AWS compares whole seconds.
            json!({"StartTime": secs(NOW + 100), "EndTime": secs(NOW + 900)}),
            ErrorCode::InvalidParameterValue,
            "The parameter StartTime must be less than the parameter EndTime.",
        ),
        (
            json!({"Period": 45}),
            ErrorCode::InvalidParameterValue,
            "parameter Period",
        ),
        (json!({"Period": 0}), ErrorCode::ValidationError, "'period'"),
        (
            json!({"Period": 5, "StartTime": secs(NOW - 4 * HOUR_MS), "EndTime": secs(NOW - 3 * HOUR_MS - 10 * MINUTE_MS)}),
            ErrorCode::InvalidParameterValue,
            "within the last 3 hours",
        ),
        (
            json!({"Period": 60, "StartTime": secs(NOW - 16 * DAY_MS)}),
            ErrorCode::InvalidParameterValue,
            "multiple of 300",
        ),
        (
            json!({"Period": 300, "StartTime": secs(NOW - 64 * DAY_MS)}),
            ErrorCode::InvalidParameterValue,
            "multiple of 3600",
        ),
        (
            json!({"Period": 1, "StartTime": secs(NOW - DAY_MS / 8)}),
            ErrorCode::InvalidParameterCombination,
            "You have requested up to 10800 datapoints, which exceeds the limit of 1440. You may reduce the datapoints requested by increasing Period, or decreasing the time range.",
        ),
        (
            json!({"Period": 60, "StartTime": secs(NOW - 2 * DAY_MS)}),
            ErrorCode::InvalidParameterCombination,
            "You have requested up to 2880 datapoints",
        ),
    ];
    for (over, code, fragment) in cases {
        let e = input(over.clone()).validate(Timestamp(NOW)).unwrap_err();
        assert_eq!(e.code, code, "{over}: {}", e.message);
        assert!(
            e.message.contains(fragment),
            "{over}: {:?} lacks {fragment:?}",
            e.message
        );
    }
}

#[test]
fn limit_is_inclusive_and_uses_rounded_start() {
    // Exactly 1440 minutes: allowed.
    let q = input(json!({"StartTime": secs(NOW - DAY_MS), "EndTime": secs(NOW)}))
        .validate(Timestamp(NOW))
        .unwrap();
    assert_eq!(q.period_starts().count(), 1440);
    // 1440 minutes but the start rounds down 30 s earlier: 1441 periods.
    let e = input(json!({"StartTime": secs(NOW - DAY_MS + 30_000), "EndTime": secs(NOW + 30_000)}))
        .validate(Timestamp(NOW))
        .unwrap_err();
    assert!(e.message.contains("up to 1441 datapoints"), "{}", e.message);
    // A day at Period 1 from a start with a fraction of a second: the times are cut
    // to whole seconds first, so AWS counts 86400, not 86401 (recorded).
    let e = input(json!({"StartTime": secs(NOW - HOUR_MS + 250), "EndTime": secs(NOW - HOUR_MS + DAY_MS + 250), "Period": 1}))
        .validate(Timestamp(NOW))
        .unwrap_err();
    assert!(
        e.message.contains("up to 86400 datapoints"),
        "{}",
        e.message
    );
}

#[test]
fn normalizes() {
    let q = input(json!({
        "StartTime": secs(NOW - HOUR_MS + 34_567), "Period": 300,
        "Statistics": ["Sum", "Average", "Sum"], "ExtendedStatistics": ["p99", "p99.0", "p99"], "Unit": "Percent"
    }))
    .validate(Timestamp(NOW))
    .unwrap();
    assert_eq!(
        q.start,
        Timestamp(NOW - HOUR_MS),
        "rounded down to the minute"
    );
    assert_eq!(q.end, Timestamp(NOW));
    assert_eq!(q.statistics, vec![Statistic::Sum, Statistic::Average]);
    let spelled: Vec<&str> = q.percentiles.iter().map(Percentile::as_str).collect();
    assert_eq!(
        spelled,
        vec!["p99", "p99.0"],
        "distinct spellings kept, repeats removed"
    );
    assert_eq!(q.unit, Some(Unit::Percent));
    assert_eq!(q.metric.dimensions[0].name, "InstanceId");

    let q = input(json!({"StartTime": secs(NOW - 10 * MINUTE_MS + 34_567), "Period": 20}))
        .validate(Timestamp(NOW))
        .unwrap();
    assert_eq!(
        q.start,
        Timestamp(NOW - 10 * MINUTE_MS + 20_000),
        "sub-minute period: rounded to the period"
    );

    let q = input(json!({"StartTime": secs(NOW - 20 * DAY_MS + 7 * MINUTE_MS), "EndTime": secs(NOW - 19 * DAY_MS), "Period": 3600}))
        .validate(Timestamp(NOW))
        .unwrap();
    assert_eq!(
        q.start,
        Timestamp(NOW - 20 * DAY_MS + 5 * MINUTE_MS),
        "15-63 days: 5 minutes"
    );

    let q = input(json!({"StartTime": secs(NOW - 70 * DAY_MS + 59 * MINUTE_MS), "EndTime": secs(NOW - 69 * DAY_MS), "Period": 3600}))
        .validate(Timestamp(NOW))
        .unwrap();
    assert_eq!(
        q.start,
        Timestamp(NOW - 70 * DAY_MS),
        "older than 63 days: hour"
    );
}

/// A test aggregate over raw samples; percentiles by nearest rank.
struct Samples {
    start: i64,
    unit: Unit,
    values: Vec<f64>,
    percentiles_known: bool,
}

impl PeriodAggregate for Samples {
    fn start(&self) -> Timestamp {
        Timestamp(self.start)
    }
    fn unit(&self) -> Unit {
        self.unit
    }
    fn sample_count(&self) -> f64 {
        self.values.len() as f64
    }
    fn sum(&self) -> f64 {
        self.values.iter().sum()
    }
    fn minimum(&self) -> f64 {
        self.values.iter().copied().fold(f64::INFINITY, f64::min)
    }
    fn maximum(&self) -> f64 {
        self.values
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
    }
    fn percentile(&self, p: f64) -> Option<f64> {
        if !self.percentiles_known || self.values.is_empty() {
            return None;
        }
        let mut v = self.values.clone();
        v.sort_by(f64::total_cmp);
        let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
        v.get(rank - 1).copied()
    }
}

#[test]
fn output_from_aggregates() {
    let q = input(json!({
        "StartTime": secs(NOW - 5 * MINUTE_MS), "Period": 60,
        "Statistics": ["Average", "Maximum", "SampleCount"], "ExtendedStatistics": ["p50", "p99.9"]
    }))
    .validate(Timestamp(NOW))
    .unwrap();
    let t0 = NOW - 5 * MINUTE_MS;
    let aggs = vec![
        // Out of order on purpose; and one of another unit in the same period.
        Samples {
            start: t0 + 2 * MINUTE_MS,
            unit: Unit::Percent,
            values: vec![10.0, 20.0, 30.0, 40.0],
            percentiles_known: true,
        },
        Samples {
            start: t0,
            unit: Unit::Percent,
            values: vec![1.0, 2.0, 6.0],
            percentiles_known: false,
        },
        Samples {
            start: t0 + 2 * MINUTE_MS,
            unit: Unit::Count,
            values: vec![5.0],
            percentiles_known: true,
        },
        // Outside [start, end): dropped.
        Samples {
            start: t0 - MINUTE_MS,
            unit: Unit::Percent,
            values: vec![1.0],
            percentiles_known: true,
        },
        Samples {
            start: NOW,
            unit: Unit::Percent,
            values: vec![1.0],
            percentiles_known: true,
        },
        // Empty period: no datapoint.
        Samples {
            start: t0 + MINUTE_MS,
            unit: Unit::Percent,
            values: vec![],
            percentiles_known: true,
        },
    ];
    let out = statistics_output(&q, "disk_used_percent", &aggs);
    assert_eq!(out.label, "disk_used_percent");
    assert_eq!(out.datapoints.len(), 3);

    let d0 = &out.datapoints[0];
    assert_eq!(d0.timestamp, Timestamp(t0));
    assert_eq!(d0.average, Some(3.0)); // (1+2+6)/3
    assert_eq!(d0.maximum, Some(6.0));
    assert_eq!(d0.sample_count, Some(3.0));
    assert_eq!(d0.sum, None, "not requested");
    assert_eq!(d0.minimum, None, "not requested");
    assert_eq!(
        d0.extended_statistics,
        Some(BTreeMap::new()),
        "percentiles not computable: omitted from the map"
    );

    let d1 = &out.datapoints[1];
    let d2 = &out.datapoints[2];
    assert_eq!(
        (d1.timestamp, d1.unit),
        (Timestamp(t0 + 2 * MINUTE_MS), Unit::Percent)
    );
    assert_eq!(d1.average, Some(25.0));
    let ext = d1.extended_statistics.as_ref().unwrap();
    assert_eq!(ext.get("p50"), Some(&20.0)); // nearest rank ceil(0.5*4)=2 → 20
    assert_eq!(ext.get("p99.9"), Some(&40.0));
    assert_eq!(d2.unit, Unit::Count);
    assert_eq!(d2.average, Some(5.0));

    // Unit filter keeps only that unit.
    let mut qu = q.clone();
    qu.unit = Some(Unit::Count);
    let out = statistics_output(&qu, "m", &aggs);
    assert_eq!(out.datapoints.len(), 1);
    assert_eq!(out.datapoints[0].unit, Unit::Count);
}

#[test]
fn output_serializes_only_requested_members() {
    let q = input(json!({"Statistics": ["Sum"]}))
        .validate(Timestamp(NOW))
        .unwrap();
    let aggs = [Samples {
        start: NOW - 60_000,
        unit: Unit::Bytes,
        values: vec![2.0, 3.0],
        percentiles_known: true,
    }];
    let v = serde_json::to_value(statistics_output(&q, "m", &aggs)).unwrap();
    let dp = &v["Datapoints"][0];
    assert_eq!(dp["Sum"], json!(5.0));
    assert_eq!(dp["Unit"], json!("Bytes"));
    let keys: Vec<&String> = dp.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 3, "Timestamp, Sum, Unit only: {keys:?}");
    assert_eq!(v["Label"], json!("m"));
}
