//! aws-sdk-cloudwatch (Smithy RPC v2 CBOR) against a real `stratus server`:
//! PutMetricAlarm / DescribeAlarms / SetAlarmState round trips and typed
//! errors for alarms.

// Shared with the other conformance suites, which use more of it.
#[allow(dead_code)]
mod common;

use aws_sdk_cloudwatch::operation::set_alarm_state::SetAlarmStateError;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, StateValue, Statistic};
use common::Server;

#[tokio::test]
async fn put_describe_and_set_state_over_cbor() {
    let server = Server::start();
    let (client, wire) = server.client().await;
    client
        .put_metric_alarm()
        .alarm_name("disk-root-50")
        .namespace("CWAgent")
        .metric_name("disk_used_percent")
        .dimensions(Dimension::builder().name("path").value("/").build())
        .statistic(Statistic::Average)
        .period(3600)
        .evaluation_periods(1)
        .threshold(50.0)
        .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
        .alarm_actions("arn:aws:sns:us-east-1:123456789012:alerts")
        .send()
        .await
        .expect("put alarm");
    let ex = wire.last();
    assert_eq!(
        ex.path,
        "/service/GraniteServiceVersion20100801/operation/PutMetricAlarm"
    );
    assert_eq!(ex.response_header("smithy-protocol"), Some("rpc-v2-cbor"));

    let out = client
        .describe_alarms()
        .alarm_names("disk-root-50")
        .send()
        .await
        .expect("describe");
    let [a] = out.metric_alarms() else {
        panic!("{out:?}")
    };
    assert_eq!(a.alarm_name(), Some("disk-root-50"));
    assert_eq!(
        a.alarm_arn(),
        Some("arn:aws:cloudwatch:us-east-1:123456789012:alarm:disk-root-50")
    );
    assert_eq!(a.state_value(), Some(&StateValue::InsufficientData));
    assert_eq!(a.state_reason(), Some("Unchecked: Initial alarm creation"));
    assert_eq!(a.threshold(), Some(50.0));
    assert_eq!(a.statistic(), Some(&Statistic::Average));
    assert_eq!(a.dimensions().len(), 1);
    assert!(a.state_updated_timestamp().is_some());

    client
        .set_alarm_state()
        .alarm_name("disk-root-50")
        .state_value(StateValue::Alarm)
        .state_reason("by hand")
        .send()
        .await
        .expect("set state");
    let hist = client
        .describe_alarm_history()
        .alarm_name("disk-root-50")
        .send()
        .await
        .expect("history");
    assert!(
        hist.alarm_history_items()
            .iter()
            .any(|h| h.history_summary() == Some("Alarm updated from INSUFFICIENT_DATA to ALARM")),
        "{hist:?}"
    );

    let err = client
        .set_alarm_state()
        .alarm_name("no-such-alarm")
        .state_value(StateValue::Ok)
        .state_reason("x")
        .send()
        .await
        .expect_err("unknown alarm");
    let status = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(status, Some(404));
    assert!(
        matches!(
            err.into_service_error(),
            SetAlarmStateError::ResourceNotFound(_)
        ),
        "typed ResourceNotFound"
    );
}
