use super::*;
use crate::ErrorCode;
use serde_json::{Value, json};

const NOW_MS: i64 = 1_800_000_000_000;

fn now() -> Timestamp {
    Timestamp(NOW_MS)
}

fn input(v: Value) -> PutMetricDataInput {
    serde_json::from_value(v).expect("test input decodes")
}

/// A request with one datum built from `datum` merged over a valid default.
fn one(datum: Value) -> PutMetricDataInput {
    let mut d = json!({"MetricName": "m", "Value": 1.0});
    if let (Some(base), Some(over)) = (d.as_object_mut(), datum.as_object()) {
        for (k, v) in over {
            if v.is_null() {
                base.remove(k);
            } else {
                base.insert(k.clone(), v.clone());
            }
        }
    }
    input(json!({"Namespace": "App", "MetricData": [d]}))
}

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

#[test]
fn rejects_each_rule_with_code_and_parameter() {
    let long = "x".repeat(256);
    let values_151: Vec<f64> = (0..151).map(f64::from).collect();
    let cases: Vec<(&str, PutMetricDataInput, ErrorCode, &str)> = vec![
        (
            "namespace missing",
            input(json!({"MetricData": []})),
            ErrorCode::MissingParameter,
            "The parameter Namespace is required.",
        ),
        (
            "namespace empty",
            input(json!({"Namespace": ""})),
            ErrorCode::MissingParameter,
            "Namespace",
        ),
        (
            "namespace too long",
            input(json!({"Namespace": long})),
            ErrorCode::ValidationError,
            "at 'namespace'",
        ),
        (
            "namespace colon",
            input(json!({"Namespace": ":x"})),
            ErrorCode::ValidationError,
            "[^:].*",
        ),
        (
            "namespace AWS/",
            input(json!({"Namespace": "AWS/EC2"})),
            ErrorCode::InvalidParameterValue,
            "parameter Namespace",
        ),
        (
            "metric name missing",
            one(json!({"MetricName": null})),
            ErrorCode::MissingParameter,
            "The parameter MetricData.member.1.MetricName is required.",
        ),
        (
            "metric name too long",
            one(json!({"MetricName": long})),
            ErrorCode::ValidationError,
            "at 'metricData.1.member.metricName'",
        ),
        (
            "value and values",
            one(json!({"Values": [1.0]})),
            ErrorCode::InvalidParameterCombination,
            "The parameters MetricData.member.1.Value and MetricData.member.1.Values are mutually exclusive and you have specified both.",
        ),
        (
            "value and stats",
            one(
                json!({"StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1}}),
            ),
            ErrorCode::InvalidParameterCombination,
            "The parameters MetricData.member.1.Value and MetricData.member.1.StatisticValues are mutually exclusive and you have specified both.",
        ),
        (
            "values beside stats are still checked",
            one(
                json!({"Value": null, "Values": [1.0, 2.0], "Counts": [1.0, 0.0], "StatisticValues": {"SampleCount": 3, "Sum": 3, "Minimum": 1, "Maximum": 2}}),
            ),
            ErrorCode::InvalidParameterValue,
            "MetricData.member.1.Counts.member.2",
        ),
        (
            "no value at all",
            one(json!({"Value": null})),
            ErrorCode::InvalidParameterCombination,
            "MetricData.member.1 must specify exactly one of Value, Values or StatisticValues",
        ),
        (
            "counts size",
            one(json!({"Value": null, "Values": [1.0, 2.0], "Counts": [1.0]})),
            ErrorCode::InvalidParameterValue,
            "The parameters MetricData.member.1.Values and MetricData.member.1.Counts must be of the same size.",
        ),
        (
            "counts without values",
            one(json!({"Counts": [1.0]})),
            ErrorCode::InvalidParameterValue,
            "must be of the same size",
        ),
        (
            "count zero",
            one(json!({"Value": null, "Values": [1.0, 2.0], "Counts": [1.0, 0.0]})),
            ErrorCode::InvalidParameterValue,
            "MetricData.member.1.Counts.member.2",
        ),
        (
            "count negative",
            one(json!({"Value": null, "Values": [1.0], "Counts": [-3.0]})),
            ErrorCode::InvalidParameterValue,
            "MetricData.member.1.Counts.member.1",
        ),
        (
            "too many values",
            one(json!({"Value": null, "Values": values_151})),
            ErrorCode::InvalidParameterValue,
            "MetricData.member.1.Values must not have a size greater than 150",
        ),
        (
            "value too big",
            one(json!({"Value": 1e300})),
            ErrorCode::InvalidParameterValue,
            "parameter MetricData.member.1.Value ",
        ),
        (
            "value too small",
            one(json!({"Value": -1e-200})),
            ErrorCode::InvalidParameterValue,
            "parameter MetricData.member.1.Value ",
        ),
        (
            "values element too big",
            one(json!({"Value": null, "Values": [1.0, 3e108]})),
            ErrorCode::InvalidParameterValue,
            "MetricData.member.1.Values.member.2",
        ),
        (
            "stats missing min",
            one(
                json!({"Value": null, "StatisticValues": {"SampleCount": 1, "Sum": 1, "Maximum": 1}}),
            ),
            ErrorCode::MissingParameter,
            "The parameter MetricData.member.1.StatisticValues.Minimum is required.",
        ),
        (
            "stats missing count",
            one(json!({"Value": null, "StatisticValues": {"Sum": 1, "Minimum": 1, "Maximum": 1}})),
            ErrorCode::MissingParameter,
            "MetricData.member.1.StatisticValues.SampleCount",
        ),
        (
            "stats zero count",
            one(
                json!({"Value": null, "StatisticValues": {"SampleCount": 0, "Sum": 1, "Minimum": 1, "Maximum": 1}}),
            ),
            ErrorCode::InvalidParameterValue,
            "MetricData.member.1.StatisticValues.SampleCount",
        ),
        (
            "stats min>max",
            one(
                json!({"Value": null, "StatisticValues": {"SampleCount": 2, "Sum": 1, "Minimum": 3, "Maximum": 1}}),
            ),
            ErrorCode::InvalidParameterValue,
            "The parameter MetricData.member.1.StatisticValues.Maximum must be greater than MetricData.member.1.StatisticValues.Minimum.",
        ),
        (
            "stats sum huge",
            one(
                json!({"Value": null, "StatisticValues": {"SampleCount": 2, "Sum": 1e200, "Minimum": 1, "Maximum": 1}}),
            ),
            ErrorCode::InvalidParameterValue,
            "MetricData.member.1.StatisticValues.Sum",
        ),
        (
            "too old",
            one(json!({"Timestamp": secs(NOW_MS - MAX_DATUM_AGE_MS - 1000)})),
            ErrorCode::InvalidParameterValue,
            "The parameter MetricData.member.1.Timestamp must specify a time within the past two weeks.",
        ),
        (
            "too far ahead",
            one(json!({"Timestamp": secs(NOW_MS + MAX_DATUM_FUTURE_MS + 1000)})),
            ErrorCode::InvalidParameterValue,
            "MetricData.member.1.Timestamp must specify a time no more than two hours in the future",
        ),
        (
            "storage resolution 30",
            one(json!({"StorageResolution": 30})),
            ErrorCode::InvalidParameterValue,
            "MetricData.member.1.StorageResolution",
        ),
        (
            "storage resolution 0",
            one(json!({"StorageResolution": 0})),
            ErrorCode::ValidationError,
            "metricData.1.member.storageResolution",
        ),
        (
            "unit",
            one(json!({"Unit": "Furlongs"})),
            ErrorCode::ValidationError,
            "1 validation error detected: Value 'Furlongs' at 'metricData.1.member.unit' failed to satisfy constraint: Member must satisfy enum value set: [None, Seconds,",
        ),
        (
            "dimension duplicate",
            one(json!({"Dimensions": [{"Name": "a", "Value": "1"}, {"Name": "a", "Value": "2"}]})),
            ErrorCode::InvalidParameterValue,
            "No metric may specify the same dimension name twice.",
        ),
        (
            "dimension value missing",
            one(json!({"Dimensions": [{"Name": "a"}]})),
            ErrorCode::MissingParameter,
            "The parameter MetricData.member.1.Dimensions.member.1.Value is required.",
        ),
        (
            "entity entries",
            input(json!({"Namespace": "App", "EntityMetricData": [{}, {}, {}]})),
            ErrorCode::ValidationError,
            "entityMetricData",
        ),
    ];
    for (name, req, code, fragment) in cases {
        let e = req.validate(now()).expect_err(name);
        assert_eq!(e.code, code, "{name}: {}", e.message);
        assert!(
            e.message.contains(fragment),
            "{name}: {:?} lacks {:?}",
            e.message,
            fragment
        );
    }
}

#[test]
fn values_beside_statistic_values_are_accepted_and_the_set_is_stored() {
    // AWS accepts both (LocalStack's test_put_metric_data_validation, run against AWS).
    let v = one(json!({"Value": null, "Values": [1.0, 10.0],
        "StatisticValues": {"SampleCount": 10, "Sum": 55, "Minimum": 1, "Maximum": 10}}))
    .validate(now())
    .unwrap();
    assert_eq!(
        v.datums[0].value,
        DatumValue::StatSet {
            count: 10.0,
            sum: 55.0,
            min: 1.0,
            max: 10.0
        }
    );
}

#[test]
fn error_names_the_failing_datum_index() {
    let req = input(json!({"Namespace": "App", "MetricData": [
        {"MetricName": "a", "Value": 1},
        {"MetricName": "b", "Value": 1},
        {"MetricName": "c", "Value": 1, "Unit": "Bogus"},
    ]}));
    let e = req.validate(now()).unwrap_err();
    assert!(
        e.message.contains("'metricData.3.member.unit'"),
        "{}",
        e.message
    );
}

#[test]
fn nan_and_infinity_rejected() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut req = one(json!({}));
        req.metric_data[0].value = Some(bad);
        let e = req.validate(now()).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameterValue);
        assert!(e.message.contains("MetricData.member.1.Value"));

        let mut req = one(json!({"Value": null, "Values": [1.0, 2.0]}));
        req.metric_data[0].values[1] = bad;
        assert!(
            req.validate(now())
                .unwrap_err()
                .message
                .contains("MetricData.member.1.Values.member.2")
        );
    }
}

#[test]
fn datum_limit_counts_entity_data_too() {
    let datum = json!({"MetricName": "m", "Value": 1});
    let md: Vec<Value> = (0..600).map(|_| datum.clone()).collect();
    let emd: Vec<Value> = (0..401).map(|_| datum.clone()).collect();
    let entity =
        json!({"KeyAttributes": {"Type": "Service", "Name": "api", "Environment": "prod"}});
    let req = input(
        json!({"Namespace": "App", "MetricData": md, "EntityMetricData": [{"Entity": entity, "MetricData": emd}]}),
    );
    let e = req.validate(now()).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidParameterValue);
    assert!(
        e.message
            .contains("MetricData must not have a size greater than 1000"),
        "{}",
        e.message
    );

    let md: Vec<Value> = (0..1000).map(|_| datum.clone()).collect();
    let ok = input(json!({"Namespace": "App", "MetricData": md}))
        .validate(now())
        .unwrap();
    assert_eq!(ok.datums.len(), 1000);
}

#[test]
fn empty_metric_data_is_valid() {
    let ok = input(json!({"Namespace": "CWAgent", "MetricData": []}))
        .validate(now())
        .unwrap();
    assert!(ok.datums.is_empty());
    let ok = input(json!({"Namespace": "CWAgent"}))
        .validate(now())
        .unwrap();
    assert!(ok.datums.is_empty());
}

#[test]
fn normalizes_datums() {
    let req = input(json!({"Namespace": "CWAgent", "MetricData": [
        {"MetricName": "disk_used_percent", "Value": 42.5, "Unit": "Percent",
         "Dimensions": [{"Name": "path", "Value": "/"}, {"Name": "InstanceId", "Value": "i-1"}]},
        {"MetricName": "lat", "Values": [1.0, 2.0], "Counts": [3.0, 4.0], "StorageResolution": 1,
         "Timestamp": secs(NOW_MS - 60_000)},
        {"MetricName": "lat", "Values": [5.0]},
        {"MetricName": "req", "StatisticValues": {"SampleCount": 4, "Sum": 10, "Minimum": 1, "Maximum": 4},
         "StorageResolution": 60, "Timestamp": secs(NOW_MS + MAX_DATUM_FUTURE_MS)},
    ]}));
    let v = req.validate(now()).unwrap();
    assert_eq!(v.namespace, "CWAgent");
    let d = &v.datums;
    assert_eq!(d[0].metric.namespace, "CWAgent");
    assert_eq!(
        d[0].metric.dimensions[0].name, "InstanceId",
        "sorted by name"
    );
    assert_eq!(d[0].timestamp, now(), "default timestamp is now");
    assert_eq!(d[0].unit, Unit::Percent);
    assert!(!d[0].high_resolution);
    assert_eq!(d[0].value, DatumValue::Single(42.5));
    assert_eq!(
        d[1].value,
        DatumValue::Distribution(vec![(1.0, 3.0), (2.0, 4.0)])
    );
    assert_eq!(d[1].value.sample_count(), 7.0);
    assert!(d[1].high_resolution);
    assert_eq!(d[1].timestamp, Timestamp(NOW_MS - 60_000));
    assert_eq!(d[1].unit, Unit::None, "default unit");
    assert_eq!(
        d[2].value,
        DatumValue::Distribution(vec![(5.0, 1.0)]),
        "counts default to 1"
    );
    assert_eq!(
        d[3].value,
        DatumValue::StatSet {
            count: 4.0,
            sum: 10.0,
            min: 1.0,
            max: 4.0
        }
    );
    assert_eq!(
        d[3].timestamp,
        Timestamp(NOW_MS + MAX_DATUM_FUTURE_MS),
        "boundary is inclusive"
    );
}

#[test]
fn timestamp_window_boundaries_are_inclusive() {
    let oldest = one(json!({"Timestamp": secs(NOW_MS - MAX_DATUM_AGE_MS)}))
        .validate(now())
        .unwrap();
    assert_eq!(
        oldest.datums[0].timestamp,
        Timestamp(NOW_MS - MAX_DATUM_AGE_MS)
    );
}

#[test]
fn entities() {
    let md = json!([{"MetricName": "m", "Value": 1}, {"MetricName": "n", "Value": 2}]);
    let good = json!({"KeyAttributes": {"Type": "Service", "Name": "api", "Environment": "prod"}, "Attributes": {"a": "b"}});
    let bad = json!({"KeyAttributes": {"Type": "Service", "Name": "api"}});

    let v = input(
        json!({"Namespace": "App", "MetricData": [{"MetricName": "x", "Value": 0}],
        "EntityMetricData": [{"Entity": good, "MetricData": md}]}),
    )
    .validate(now())
    .unwrap();
    assert_eq!(v.datums.len(), 3);
    assert_eq!(v.entities.len(), 1);
    assert_eq!(v.entities[0].datums, 1..3);
    assert_eq!(v.datums[2].metric.metric_name, "n");

    // Lenient: bad entity dropped, datums kept.
    let v =
        input(json!({"Namespace": "App", "EntityMetricData": [{"Entity": bad, "MetricData": md}]}))
            .validate(now())
            .unwrap();
    assert_eq!(v.datums.len(), 2);
    assert!(v.entities.is_empty());

    // Strict: rejected, naming the entity.
    let e = input(json!({"Namespace": "App", "StrictEntityValidation": true,
        "EntityMetricData": [{"Entity": bad, "MetricData": md}]}))
    .validate(now())
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidParameterValue);
    assert!(
        e.message
            .contains("EntityMetricData.member.1.Entity.KeyAttributes"),
        "{}",
        e.message
    );
    assert!(e.message.contains("Environment"));

    // Size constraints apply regardless.
    let e = input(json!({"Namespace": "App", "EntityMetricData": [{"Entity": {"KeyAttributes": {"Type": "Service"}}, "MetricData": md}]}))
        .validate(now())
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ValidationError);
    assert!(
        e.message
            .contains("entityMetricData.1.member.entity.keyAttributes"),
        "{}",
        e.message
    );

    // A datum error inside an entity names the nested path.
    let e = input(json!({"Namespace": "App", "EntityMetricData": [{"Entity": good, "MetricData": [{"MetricName": "m"}]}]}))
        .validate(now())
        .unwrap_err();
    assert!(
        e.message
            .contains("EntityMetricData.member.1.MetricData.member.1 must specify"),
        "{}",
        e.message
    );
}

#[test]
fn decodes_the_wire_shape() {
    // Field names exactly as AWS spells them; unknown members are ignored.
    let req = input(
        json!({"Namespace": "n", "MetricData": [{"MetricName": "m", "Value": 1, "Unknown": 3}]}),
    );
    assert_eq!(req.metric_data[0].metric_name.as_deref(), Some("m"));
}
