//! Metric filters: PutMetricFilter's checks and what an event emits, from
//! AWS's "Filter pattern syntax for metric filters" (metric values, default
//! values, dimensions) and the MetricTransformation reference.

use std::collections::BTreeMap;

use stratus_logs::pattern::{
    Emission, FilterPattern, MetricTransformation, apply, validate_transformation,
};

fn transformation(value: &str) -> MetricTransformation {
    MetricTransformation {
        metric_name: "myMetric".into(),
        metric_namespace: "MyNamespace".into(),
        metric_value: value.into(),
        default_value: None,
        dimensions: BTreeMap::new(),
        unit: None,
    }
}

fn dims(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const PROD: &str =
    r#"127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534"#;

#[test]
fn json_latency_value_is_published() {
    // The guide's procedure: `{ $.latency = * }`, metric value `$.latency`,
    // and the event {"latency": 50, ...} publishes 50.
    let p = FilterPattern::parse("{ $.latency = * }").unwrap();
    let t = transformation("$.latency");
    validate_transformation(&p, &t).unwrap();
    let e = apply(&p, &t, r#"{"latency": 50, "requestType": "GET"}"#, 1_000).unwrap();
    assert_eq!(
        e,
        Emission {
            namespace: "MyNamespace".into(),
            name: "myMetric".into(),
            value: 50.0,
            unit: None,
            dimensions: vec![],
            timestamp_ms: 1_000
        }
    );
}

#[test]
fn count_and_default_value() {
    // "the metric value is 1, and the default value is 0": a match counts
    // 1, a non-matching event reports 0.
    let p = FilterPattern::parse("ERROR").unwrap();
    let mut t = transformation("1");
    t.default_value = Some(0.0);
    t.unit = Some("Count".into());
    validate_transformation(&p, &t).unwrap();
    let hit = apply(&p, &t, "[ERROR] boom", 5).unwrap();
    assert_eq!((hit.value, hit.unit.as_deref()), (1.0, Some("Count")));
    assert_eq!(apply(&p, &t, "[INFO] fine", 6).unwrap().value, 0.0);
    // Without a default value, no data for a non-match.
    t.default_value = None;
    assert_eq!(apply(&p, &t, "[INFO] fine", 6), None);
    assert_eq!(
        apply(&p, &transformation("3.5"), "ERROR", 0).unwrap().value,
        3.5
    );
}

#[test]
fn space_delimited_value_and_dimension() {
    // The guide: `[ip, server, username, timestamp, request, status_code,
    // bytes > 1000]` with dimension "server": $server → "Prod".
    let p = FilterPattern::parse(
        "[ip, server, username, timestamp, request, status_code, bytes > 1000]",
    )
    .unwrap();
    let mut t = transformation("$bytes");
    t.dimensions = dims(&[("server", "$server"), ("status", "$status_code")]);
    validate_transformation(&p, &t).unwrap();
    let e = apply(&p, &t, PROD, 7).unwrap();
    assert_eq!(e.value, 1534.0);
    assert_eq!(
        e.dimensions,
        vec![
            ("server".to_string(), "Prod".to_string()),
            ("status".to_string(), "404".to_string())
        ]
    );
}

#[test]
fn json_dimension() {
    // The guide: `"eventType" : $.eventType` gives the dimension value
    // "UpdateTrail".
    let p =
        FilterPattern::parse(r#"{ $.eventType = "*" && $.sourceIPAddress != 123.123.* }"#).unwrap();
    let mut t = transformation("1");
    t.dimensions = dims(&[("eventType", "$.eventType")]);
    validate_transformation(&p, &t).unwrap();
    let e = apply(
        &p,
        &t,
        r#"{"eventType":"UpdateTrail","sourceIPAddress":"111.111.111.111"}"#,
        0,
    )
    .unwrap();
    assert_eq!(
        e.dimensions,
        vec![("eventType".to_string(), "UpdateTrail".to_string())]
    );
}

#[test]
fn absent_dimension_is_left_off() {
    // "This dimension will only be published for a metric if the value is
    // found in the log event."
    let p = FilterPattern::parse("{ $.latency > 0 }").unwrap();
    let mut t = transformation("$.latency");
    t.dimensions = dims(&[("route", "$.route"), ("method", "$.method")]);
    let e = apply(&p, &t, r#"{"latency": 12, "method": "GET"}"#, 0).unwrap();
    assert_eq!(
        e.dimensions,
        vec![("method".to_string(), "GET".to_string())]
    );
}

#[test]
fn non_numeric_value_emits_nothing() {
    let p = FilterPattern::parse("[level, latency]").unwrap();
    let t = transformation("$latency");
    assert_eq!(apply(&p, &t, "INFO fast", 0), None);
    assert_eq!(apply(&p, &t, "INFO 12.5", 0).unwrap().value, 12.5);
    let j = FilterPattern::parse("{ $.latency = * }").unwrap();
    let tj = transformation("$.latency");
    assert_eq!(apply(&j, &tj, r#"{"latency": "slow"}"#, 0), None);
    assert_eq!(
        apply(&j, &tj, r#"{"latency": "42"}"#, 0).unwrap().value,
        42.0
    );
    assert_eq!(apply(&j, &tj, r#"{"latency": {"p50": 1}}"#, 0), None);
}

#[test]
fn positional_value_under_an_ellipsis() {
    // `[..., size]` reports the status code as $6 (TestMetricFilter example).
    let p = FilterPattern::parse("[..., size]").unwrap();
    let t = transformation("$6");
    validate_transformation(&p, &t).unwrap();
    let line =
        r#"127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5324"#;
    assert_eq!(apply(&p, &t, line, 0).unwrap().value, 500.0);
}

#[test]
fn validation_refusals() {
    let json = FilterPattern::parse("{ $.a = 1 }").unwrap();
    let delimited = FilterPattern::parse("[a, b]").unwrap();
    let terms = FilterPattern::parse("ERROR").unwrap();

    // metricValue: a number or a selector the pattern kind can resolve.
    assert!(validate_transformation(&terms, &transformation("one")).is_err());
    assert!(validate_transformation(&terms, &transformation("$.a")).is_err());
    assert!(validate_transformation(&json, &transformation("$a")).is_err());
    assert!(validate_transformation(&delimited, &transformation("$c")).is_err());
    assert!(validate_transformation(&delimited, &transformation("$0")).is_err());
    assert!(validate_transformation(&delimited, &transformation("$b")).is_ok());
    assert!(validate_transformation(&json, &transformation("$.other.field")).is_ok());
    assert!(validate_transformation(&json, &transformation("")).is_err());

    // Dimensions: JSON / space-delimited only, at most 3, selectors only,
    // never with a default value.
    let mut t = transformation("1");
    t.dimensions = dims(&[("d", "$.a")]);
    assert!(validate_transformation(&terms, &t).is_err());
    assert!(validate_transformation(&json, &t).is_ok());
    t.default_value = Some(0.0);
    assert!(validate_transformation(&json, &t).is_err());
    t.default_value = None;
    t.dimensions = dims(&[("a", "$.a"), ("b", "$.b"), ("c", "$.c"), ("d", "$.d")]);
    assert!(validate_transformation(&json, &t).is_err());
    t.dimensions = dims(&[("a", "literal")]);
    assert!(validate_transformation(&json, &t).is_err());

    // Names and units.
    let mut t = transformation("1");
    t.metric_name = "bad:name".into();
    assert!(validate_transformation(&terms, &t).is_err());
    let mut t = transformation("1");
    t.metric_namespace = String::new();
    assert!(validate_transformation(&terms, &t).is_err());
    let mut t = transformation("1");
    t.unit = Some("Furlongs".into());
    assert!(validate_transformation(&terms, &t).is_err());
    t.unit = Some("Bytes/Second".into());
    assert!(validate_transformation(&terms, &t).is_ok());
}

#[test]
fn error_messages_read_as_sentences() {
    let mut t = transformation("1");
    t.dimensions = dims(&[("d", "$.a")]);
    t.default_value = Some(1.0);
    let e = validate_transformation(&FilterPattern::parse("{ $.a = 1 }").unwrap(), &t).unwrap_err();
    assert!(e.to_string().contains("defaultValue"), "{e}");
    let e = FilterPattern::parse("{ $.a = ").unwrap_err();
    assert!(e.to_string().starts_with("Invalid filter pattern"), "{e}");
}
