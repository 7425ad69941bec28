//! Embedded Metric Format documents from AWS's specification and the rules
//! it states (limits: 100 metrics per directive, 30 keys per dimension set,
//! 100 values per array target; dimension targets are strings; metric
//! targets are numbers or arrays of numbers; StorageResolution 1 or 60).

use stratus_logs::emf::{EmfDatum, EmfError, parse};

const SPEC_EXAMPLE: &str = r#"{"_aws":{"Timestamp":1574109732004,"CloudWatchMetrics":[{"Namespace":"lambda-function-metrics","Dimensions":[["functionVersion"]],"Metrics":[{"Name":"time","Unit":"Milliseconds"}]}]},"functionVersion":"$LATEST","time":100,"requestId":"989ffbf8-9ace-4817-a57c-e4dd734019ee"}"#;

fn doc(directive: &str, members: &str) -> String {
    format!(
        r#"{{"_aws":{{"Timestamp":1559748430481,"CloudWatchMetrics":[{directive}]}}{members}}}"#
    )
}

#[test]
fn the_specification_example() {
    let data = parse(SPEC_EXAMPLE).unwrap();
    assert_eq!(
        data,
        vec![EmfDatum {
            namespace: "lambda-function-metrics".into(),
            name: "time".into(),
            unit: Some("Milliseconds".into()),
            storage_resolution: 60,
            dimensions: vec![("functionVersion".into(), "$LATEST".into())],
            values: vec![100.0],
            timestamp_ms: 1574109732004,
        }]
    );
}

#[test]
fn each_dimension_set_is_its_own_datum() {
    let line = doc(
        r#"{"Namespace":"MyApp","Dimensions":[["Operation"],["Operation","Service"],[]],"Metrics":[{"Name":"Latency"},{"Name":"Count","Unit":"Count"}]}"#,
        r#","Operation":"Get","Service":"api","Latency":[1,2.5,3],"Count":1"#,
    );
    let data = parse(&line).unwrap();
    assert_eq!(data.len(), 6, "3 dimension sets x 2 metrics");
    let with_both: Vec<&EmfDatum> = data.iter().filter(|d| d.dimensions.len() == 2).collect();
    assert_eq!(with_both.len(), 2);
    assert_eq!(
        with_both[0].dimensions,
        vec![
            ("Operation".to_string(), "Get".to_string()),
            ("Service".to_string(), "api".to_string())
        ]
    );
    let latency = data.iter().find(|d| d.name == "Latency").unwrap();
    assert_eq!(latency.values, vec![1.0, 2.5, 3.0]);
    assert_eq!(latency.unit, None, "no Unit means NONE, reported as absent");
    assert!(
        data.iter().any(|d| d.dimensions.is_empty()),
        "an empty set publishes without dimensions"
    );
    assert!(
        data.iter()
            .all(|d| d.timestamp_ms == 1559748430481 && d.namespace == "MyApp")
    );
}

#[test]
fn high_resolution() {
    let line = doc(
        r#"{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"m","StorageResolution":1}]}"#,
        r#","m":5"#,
    );
    assert_eq!(parse(&line).unwrap()[0].storage_resolution, 1);
}

#[test]
fn lambda_prefix_is_skipped() {
    let line = format!(
        "2019-11-18T20:42:12.004Z\t989ffbf8-9ace-4817-a57c-e4dd734019ee\tINFO\t{SPEC_EXAMPLE}"
    );
    assert_eq!(parse(&line).unwrap().len(), 1);
}

#[test]
fn not_emf_is_empty() {
    for line in [
        "plain text",
        r#"{"level":"info"}"#,
        "[1,2,3]",
        r#"mentions "_aws" but is not JSON {"#,
        "",
    ] {
        assert_eq!(parse(line), Ok(vec![]), "{line:?}");
    }
}

/// Recognises the error a case expects.
type Expected = fn(&EmfError) -> bool;

#[test]
fn violations_are_errors() {
    let metrics_101: String = (0..101)
        .map(|i| format!(r#"{{"Name":"m{i}"}}"#))
        .collect::<Vec<_>>()
        .join(",");
    let values_101: String = (0..101)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let keys_31: String = (0..31)
        .map(|i| format!(r#""d{i}""#))
        .collect::<Vec<_>>()
        .join(",");
    let members_31: String = (0..31).map(|i| format!(r#","d{i}":"v""#)).collect();
    let cases: Vec<(String, Expected)> = vec![
        (r#"{"_aws":[]}"#.into(), |e| {
            matches!(e, EmfError::MetadataNotObject)
        }),
        (r#"{"_aws":{"CloudWatchMetrics":[]}}"#.into(), |e| {
            matches!(e, EmfError::InvalidTimestamp)
        }),
        (
            r#"{"_aws":{"Timestamp":"now","CloudWatchMetrics":[]}}"#.into(),
            |e| matches!(e, EmfError::InvalidTimestamp),
        ),
        (r#"{"_aws":{"Timestamp":1}}"#.into(), |e| {
            matches!(e, EmfError::MissingDirectives)
        }),
        (doc(r#"{"Dimensions":[[]],"Metrics":[]}"#, ""), |e| {
            matches!(e, EmfError::InvalidNamespace { directive: 0 })
        }),
        (doc(r#"{"Namespace":"N","Metrics":[]}"#, ""), |e| {
            matches!(e, EmfError::InvalidDimensions { .. })
        }),
        (
            doc(
                &format!(r#"{{"Namespace":"N","Dimensions":[[]],"Metrics":[{metrics_101}]}}"#),
                "",
            ),
            |e| matches!(e, EmfError::TooManyMetrics { count: 101, .. }),
        ),
        (
            doc(
                &format!(r#"{{"Namespace":"N","Dimensions":[[{keys_31}]],"Metrics":[]}}"#),
                &members_31,
            ),
            |e| matches!(e, EmfError::TooManyDimensions { count: 31, .. }),
        ),
        (
            doc(
                r#"{"Namespace":"N","Dimensions":[["d"]],"Metrics":[]}"#,
                r#","d":5"#,
            ),
            |e| matches!(e, EmfError::InvalidDimensionValue { key } if key == "d"),
        ),
        (
            doc(r#"{"Namespace":"N","Dimensions":[["d"]],"Metrics":[]}"#, ""),
            |e| matches!(e, EmfError::InvalidDimensionValue { .. }),
        ),
        (
            doc(
                r#"{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"m"}]}"#,
                "",
            ),
            |e| matches!(e, EmfError::InvalidMetricValue { name } if name == "m"),
        ),
        (
            doc(
                r#"{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"m"}]}"#,
                r#","m":"5""#,
            ),
            |e| matches!(e, EmfError::InvalidMetricValue { .. }),
        ),
        (
            doc(
                r#"{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"m"}]}"#,
                &format!(r#","m":[{values_101}]"#),
            ),
            |e| matches!(e, EmfError::InvalidMetricValue { .. }),
        ),
        (
            doc(
                r#"{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"m","StorageResolution":5}]}"#,
                r#","m":1"#,
            ),
            |e| matches!(e, EmfError::InvalidStorageResolution { .. }),
        ),
        (
            doc(
                r#"{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"m","Unit":"Furlongs"}]}"#,
                r#","m":1"#,
            ),
            |e| matches!(e, EmfError::InvalidUnit { .. }),
        ),
        (
            doc(
                r#"{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Unit":"Count"}]}"#,
                "",
            ),
            |e| {
                matches!(
                    e,
                    EmfError::InvalidMetricName {
                        directive: 0,
                        metric: 0
                    }
                )
            },
        ),
    ];
    for (line, expected) in cases {
        match parse(&line) {
            Err(e) => assert!(expected(&e), "{line}: unexpected error {e}"),
            Ok(d) => panic!("{line}: accepted as {d:?}"),
        }
    }
}

#[test]
fn array_of_exactly_100_values_is_accepted() {
    let values: String = (0..100)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let line = doc(
        r#"{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"m"}]}"#,
        &format!(r#","m":[{values}]"#),
    );
    assert_eq!(parse(&line).unwrap()[0].values.len(), 100);
}
