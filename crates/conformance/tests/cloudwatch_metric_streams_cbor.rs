//! aws-sdk-cloudwatch (Smithy RPC v2 CBOR) against a real `stratus server`:
//! metric stream operations' typed errors and empty listings. (Delivery is
//! covered by tests/python/test_metric_streams.py, which configures a
//! Firehose destination; this server has none, so PutMetricStream must be
//! refused naming the config key.)

// Shared with the other conformance suites, which use more of it.
#[allow(dead_code)]
mod common;

use aws_sdk_cloudwatch::error::ProvideErrorMetadata;
use aws_sdk_cloudwatch::types::{MetricStreamFilter, MetricStreamOutputFormat};
use common::Server;

#[tokio::test]
async fn metric_stream_errors_over_cbor() {
    let server = Server::start();
    let (client, wire) = server.client().await;

    let e = client
        .put_metric_stream()
        .name("s1")
        .firehose_arn("arn:aws:firehose:us-east-1:123456789012:deliverystream/unmapped")
        .role_arn("arn:aws:iam::123456789012:role/r")
        .output_format(MetricStreamOutputFormat::Json)
        .send()
        .await
        .expect_err("no [firehose] destination is configured");
    let se = e.into_service_error();
    assert!(se.is_invalid_parameter_value_exception(), "{se:?}");
    assert!(
        se.message()
            .unwrap_or_default()
            .contains("firehose.unmapped"),
        "{se:?}"
    );
    assert_eq!(
        wire.last().response_header("smithy-protocol"),
        Some("rpc-v2-cbor")
    );

    let e = client
        .put_metric_stream()
        .name("s1")
        .firehose_arn("arn:aws:firehose:us-east-1:123456789012:deliverystream/unmapped")
        .role_arn("arn:aws:iam::123456789012:role/r")
        .output_format(MetricStreamOutputFormat::Json)
        .include_filters(MetricStreamFilter::builder().namespace("A").build())
        .exclude_filters(MetricStreamFilter::builder().namespace("B").build())
        .send()
        .await
        .expect_err("include and exclude together");
    let se = e.into_service_error();
    assert!(se.is_invalid_parameter_combination_exception(), "{se:?}");

    let e = client
        .get_metric_stream()
        .name("s1")
        .send()
        .await
        .expect_err("nothing was created");
    let se = e.into_service_error();
    assert!(se.is_resource_not_found_exception(), "{se:?}");

    let list = client.list_metric_streams().send().await.expect("list");
    assert!(list.entries().is_empty(), "{list:?}");
    client
        .delete_metric_stream()
        .name("s1")
        .send()
        .await
        .expect("deleting a missing stream succeeds");
    client
        .stop_metric_streams()
        .names("s1")
        .send()
        .await
        .expect("stop");
}
