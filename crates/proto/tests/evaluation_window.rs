//! `EvaluationWindow` (a union whose `SlidingWindow` member is an empty
//! structure) on all three protocols: PutMetricAlarm decodes it, and the
//! DescribeAlarms output carries it back in the shape AWS's model gives.

use stratus_model::Timestamp;
use stratus_model::alarm::put::PutMetricAlarmInput;
use stratus_model::alarm::window::{
    EvaluationWindow, EvaluationWindowInput, SlidingWindowInput, WallClockWindowInput,
};
use stratus_proto::{
    Document, Protocol, RequestHead, Service, decode_cbor, decode_json, decode_request,
    decode_xml_response, encode_cbor, encode_response, from_document, query_result, to_document,
};

const BASE: &str = r#""AlarmName": "disk", "Namespace": "CWAgent", "MetricName": "disk_used_percent",
    "Statistic": "Average", "Period": 3600, "EvaluationPeriods": 1, "Threshold": 50,
    "ComparisonOperator": "GreaterThanOrEqualToThreshold""#;

fn window_of(params: Document) -> Option<EvaluationWindow> {
    let input: PutMetricAlarmInput = from_document(params).expect("decodes");
    input
        .validate(Timestamp(1_795_637_100_000))
        .expect("valid")
        .config
        .evaluation_window
}

fn head(protocol: Protocol) -> RequestHead<'static> {
    let mut h = RequestHead {
        method: "POST",
        path: "/",
        query_mode: true,
        scope_service: Some("monitoring"),
        ..RequestHead::default()
    };
    match protocol {
        Protocol::Json => {
            h.content_type = Some("application/x-amz-json-1.0");
            h.target = Some("GraniteServiceVersion20100801.PutMetricAlarm");
        }
        Protocol::Cbor => {
            h.path = "/service/GraniteServiceVersion20100801/operation/PutMetricAlarm";
            h.content_type = Some("application/cbor");
            h.smithy_protocol = Some("rpc-v2-cbor");
        }
        Protocol::Query => h.content_type = Some("application/x-www-form-urlencoded"),
    }
    h
}

#[test]
fn put_metric_alarm_decodes_the_union_on_every_protocol() {
    for (window, want) in [
        (r#"{"SlidingWindow": {}}"#, EvaluationWindow::Sliding),
        (
            r#"{"WallClockWindow": {"Timezone": "+05:30"}}"#,
            EvaluationWindow::WallClock {
                timezone: Some("+05:30".into()),
            },
        ),
        (
            r#"{"WallClockWindow": {}}"#,
            EvaluationWindow::WallClock { timezone: None },
        ),
    ] {
        let json = format!(r#"{{{BASE}, "EvaluationWindow": {window}}}"#);
        let d = decode_request(&head(Protocol::Json), json.as_bytes()).expect("json");
        assert_eq!(window_of(d.params), Some(want.clone()), "json {window}");
        let cbor = encode_cbor(&decode_json(json.as_bytes()).unwrap());
        let d = decode_request(&head(Protocol::Cbor), &cbor).expect("cbor");
        assert_eq!(window_of(d.params), Some(want), "cbor {window}");
    }
    // awsQuery: botocore writes no parameter at all for the member-less
    // SlidingWindow (the default anyway), and dotted paths for the rest.
    let form = "Action=PutMetricAlarm&Version=2010-08-01&AlarmName=disk&Namespace=CWAgent\
        &MetricName=disk_used_percent&Statistic=Average&Period=3600&EvaluationPeriods=1\
        &Threshold=50&ComparisonOperator=GreaterThanOrEqualToThreshold\
        &EvaluationWindow.WallClockWindow.Timezone=America%2FNew_York";
    let d = decode_request(&head(Protocol::Query), form.as_bytes()).expect("query");
    assert_eq!(
        window_of(d.params),
        Some(EvaluationWindow::WallClock {
            timezone: Some("America/New_York".into())
        })
    );
}

#[test]
fn describe_output_carries_the_union_on_every_protocol() {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Out {
        metric_alarms: Vec<Alarm>,
    }
    #[derive(serde::Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Alarm {
        alarm_name: &'static str,
        evaluation_window: EvaluationWindowInput,
    }
    let out = to_document(&Out {
        metric_alarms: vec![
            Alarm {
                alarm_name: "s",
                evaluation_window: EvaluationWindow::Sliding.to_output(),
            },
            Alarm {
                alarm_name: "w",
                evaluation_window: EvaluationWindow::WallClock {
                    timezone: Some("UTC+05:30".into()),
                }
                .to_output(),
            },
        ],
    });
    let json = encode_response(
        Service::CloudWatch,
        Protocol::Json,
        "DescribeAlarms",
        &out,
        "r",
    );
    assert_eq!(
        String::from_utf8_lossy(&json.body),
        r#"{"MetricAlarms":[{"AlarmName":"s","EvaluationWindow":{"SlidingWindow":{}}},{"AlarmName":"w","EvaluationWindow":{"WallClockWindow":{"Timezone":"UTC+05:30"}}}]}"#
    );
    let cbor = encode_response(
        Service::CloudWatch,
        Protocol::Cbor,
        "DescribeAlarms",
        &out,
        "r",
    );
    assert_eq!(
        decode_cbor(&cbor.body).unwrap(),
        decode_json(&json.body).unwrap()
    );
    let xml = encode_response(
        Service::CloudWatch,
        Protocol::Query,
        "DescribeAlarms",
        &out,
        "r",
    );
    let text = String::from_utf8(xml.body).unwrap();
    assert!(
        text.contains("<EvaluationWindow><SlidingWindow></SlidingWindow></EvaluationWindow>"),
        "{text}"
    );
    assert!(
        text.contains(
            "<EvaluationWindow><WallClockWindow><Timezone>UTC+05:30</Timezone></WallClockWindow></EvaluationWindow>"
        ),
        "{text}"
    );
    let result = query_result(
        &decode_xml_response(text.as_bytes()).unwrap(),
        "DescribeAlarms",
    )
    .unwrap();
    let alarms = result
        .get("MetricAlarms")
        .and_then(Document::as_list)
        .unwrap();
    assert!(
        alarms[0]
            .get("EvaluationWindow")
            .and_then(|w| w.get("SlidingWindow"))
            .is_some()
    );
    // The output type is the input type: clients read back what they sent.
    let back: EvaluationWindowInput =
        from_document(alarms[1].get("EvaluationWindow").unwrap().clone()).unwrap();
    assert_eq!(
        back,
        EvaluationWindowInput {
            sliding_window: None,
            wall_clock_window: Some(WallClockWindowInput {
                timezone: Some("UTC+05:30".into())
            }),
        }
    );
    let _ = SlidingWindowInput {};
}
