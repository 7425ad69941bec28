//! `from_document`: lenient scalars, AWS parameter paths in errors.

use serde::Deserialize;
use std::collections::BTreeMap;
use stratus_model::{ErrorCode, Timestamp};
use stratus_proto::{Document, decode_form, decode_json, from_document};

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct Input {
    namespace: String,
    #[serde(default)]
    metric_data: Vec<Datum>,
    attributes: Option<BTreeMap<String, String>>,
    flag: Option<bool>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct Datum {
    metric_name: String,
    value: Option<f64>,
    period: Option<u32>,
    timestamp: Option<Timestamp>,
    #[serde(default)]
    dimensions: Vec<Dim>,
    unit: Option<Unit>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct Dim {
    name: String,
    value: String,
}

#[derive(Debug, Deserialize, PartialEq)]
enum Unit {
    Percent,
    Count,
}

fn form(s: &str) -> Document {
    decode_form(&[s.as_bytes()]).expect("form").params
}

#[test]
fn lenient_scalars_from_query_strings() {
    let input: Input = from_document(form(
        "Namespace=N&Flag=TRUE&MetricData.member.1.MetricName=m&MetricData.member.1.Value=1.5\
         &MetricData.member.1.Period=60&MetricData.member.1.Timestamp=1970-01-01T00%3A00%3A02Z\
         &MetricData.member.1.Unit=Percent&MetricData.member.2.MetricName=n&MetricData.member.2.Period=60.0\
         &MetricData.member.2.Timestamp=3.5&Attributes.entry.1.key=a&Attributes.entry.1.value=b",
    ))
    .expect("typed");
    assert_eq!(input.flag, Some(true));
    assert_eq!(input.metric_data[0].value, Some(1.5));
    assert_eq!(input.metric_data[0].period, Some(60));
    assert_eq!(input.metric_data[0].timestamp, Some(Timestamp(2_000)));
    assert_eq!(input.metric_data[0].unit, Some(Unit::Percent));
    assert_eq!(input.metric_data[1].period, Some(60));
    assert_eq!(input.metric_data[1].timestamp, Some(Timestamp(3_500)));
    assert_eq!(
        input.attributes,
        Some([("a".to_owned(), "b".to_owned())].into())
    );
}

#[test]
fn typed_values_from_json() {
    let doc = decode_json(
        br#"{"Namespace":"N","MetricData":[{"MetricName":"m","Value":2,"Timestamp":1.25,
             "Dimensions":[{"Name":"n","Value":7}]}]}"#,
    )
    .expect("json");
    let input: Input = from_document(doc).expect("typed");
    let d = &input.metric_data[0];
    assert_eq!(d.value, Some(2.0));
    assert_eq!(d.timestamp, Some(Timestamp(1_250)));
    // A number where a string is expected becomes its text.
    assert_eq!(d.dimensions[0].value, "7");
}

#[test]
fn empty_metric_data_is_an_empty_list() {
    let input: Input = from_document(form("Namespace=CWAgent&MetricData=")).expect("typed");
    assert!(input.metric_data.is_empty());
}

#[test]
fn bad_value_names_the_query_path() {
    let err = from_document::<Input>(form(
        "Namespace=N&MetricData.member.1.MetricName=a&MetricData.member.2.MetricName=b\
         &MetricData.member.2.Value=abc",
    ))
    .expect_err("bad number");
    assert_eq!(err.code, ErrorCode::InvalidParameterValue);
    assert!(
        err.message.contains("MetricData.member.2.Value"),
        "{}",
        err.message
    );
    assert!(err.message.contains("abc"), "{}", err.message);

    let err = from_document::<Input>(form(
        "Namespace=N&MetricData.member.1.MetricName=a&MetricData.member.1.Dimensions.member.1.Value=v",
    ))
    .expect_err("missing name");
    assert_eq!(err.code, ErrorCode::MissingParameter);
    assert_eq!(
        err.message,
        "The parameter MetricData.member.1.Dimensions.member.1.Name is required."
    );

    let err = from_document::<Input>(form("MetricData=")).expect_err("no namespace");
    assert_eq!(err.message, "The parameter Namespace is required.");

    let err = from_document::<Input>(form(
        "Namespace=N&MetricData.member.1.MetricName=a&MetricData.member.1.Unit=Bogus",
    ))
    .expect_err("enum");
    assert_eq!(err.code, ErrorCode::InvalidParameterValue);
    assert!(
        err.message.contains("MetricData.member.1.Unit"),
        "{}",
        err.message
    );

    let err = from_document::<Input>(form("Namespace=N&Flag=yes")).expect_err("bool");
    assert!(err.message.contains("Flag"), "{}", err.message);

    // NaN/Infinity are not CloudWatch values.
    let err = from_document::<Input>(form(
        "Namespace=N&MetricData.member.1.MetricName=a&MetricData.member.1.Value=NaN",
    ))
    .expect_err("nan");
    // AWS's words exactly (issue 16).
    assert_eq!(
        err.message,
        "The value NaN for parameter MetricData.member.1.Value is invalid."
    );

    let err = from_document::<Input>(form(
        "Namespace=N&MetricData.member.1.MetricName=a&MetricData.member.1.Period=-1",
    ))
    .expect_err("negative u32");
    assert!(
        err.message.contains("MetricData.member.1.Period"),
        "{}",
        err.message
    );

    let err = from_document::<Input>(
        decode_json(
            br#"{"Namespace":"N","MetricData":[{"MetricName":"a","Timestamp":"yesterday"}]}"#,
        )
        .expect("json"),
    )
    .expect_err("timestamp");
    assert!(
        err.message.contains("MetricData.member.1.Timestamp"),
        "{}",
        err.message
    );
}

#[test]
fn generic_targets_see_every_value() {
    let doc = Document::Map(vec![
        ("T".into(), Document::Timestamp(Timestamp(1_500))),
        (
            "L".into(),
            Document::List(vec![Document::Int(1), Document::Null]),
        ),
    ]);
    let value: serde_json::Value = from_document(doc).expect("generic");
    assert_eq!(value, serde_json::json!({"T": 1.5, "L": [1, null]}));
    // Blobs are bytes to serde: byte-buffer targets take them, JSON values do not.
    let blob = Document::Map(vec![("B".into(), Document::Blob(vec![1, 2]))]);
    let err = from_document::<serde_json::Value>(blob).expect_err("json has no bytes");
    assert!(err.message.contains("parameter B"), "{}", err.message);
}
