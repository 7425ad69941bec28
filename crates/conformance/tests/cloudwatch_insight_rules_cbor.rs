//! aws-sdk-cloudwatch (Smithy RPC v2 CBOR) against a real `stratus server`:
//! Contributor Insights rules — the recorded round trip (AWS's
//! test_insight_rule: put, describe, disable, enable, an empty report of 13
//! periods, delete), partial failures and the typed not-found error.

// Shared with the other conformance suites, which use more of it.
#[allow(dead_code)]
mod common;

use aws_sdk_cloudwatch::operation::get_insight_rule_report::GetInsightRuleReportError;
use aws_sdk_cloudwatch::primitives::DateTime;
use common::Server;

const DEFINITION: &str = r#"{"Schema":{"Name":"CloudWatchLogRule","Version":1},"LogGroupNames":["API-Gateway-Access-Logs*"],"LogFormat":"CLF","Fields":{"4":"IpAddress","7":"StatusCode"},"Contribution":{"Keys":["IpAddress"],"Filters":[{"Match":"StatusCode","EqualTo":200}]},"AggregateOn":"Count"}"#;

#[tokio::test]
async fn insight_rule_round_trip_over_cbor() {
    let server = Server::start();
    let (client, wire) = server.client().await;
    client
        .put_insight_rule()
        .rule_name("api-ips")
        .rule_definition(DEFINITION)
        .send()
        .await
        .expect("put rule");
    let ex = wire.last();
    assert_eq!(
        ex.path,
        "/service/GraniteServiceVersion20100801/operation/PutInsightRule"
    );
    assert_eq!(ex.response_header("smithy-protocol"), Some("rpc-v2-cbor"));

    let out = client
        .describe_insight_rules()
        .send()
        .await
        .expect("describe");
    let [r] = out.insight_rules() else {
        panic!("{out:?}")
    };
    assert_eq!(r.name(), Some("api-ips"));
    assert_eq!(r.state(), Some("ENABLED"));
    assert_eq!(r.schema(), Some("CloudWatchLogRule/1"));
    assert_eq!(r.definition(), Some(DEFINITION));
    assert_eq!(r.managed_rule(), Some(false));
    assert_eq!(r.apply_on_transformed_logs(), Some(false));

    let off = client
        .disable_insight_rules()
        .rule_names("api-ips")
        .send()
        .await
        .expect("disable");
    assert!(off.failures().is_empty());
    let on = client
        .enable_insight_rules()
        .rule_names("api-ips")
        .rule_names("nope")
        .send()
        .await
        .expect("enable");
    let [f] = on.failures() else { panic!("{on:?}") };
    assert_eq!(f.failure_resource(), Some("nope"));
    assert_eq!(f.exception_type(), Some("ResourceNotFoundException"));

    // As recorded: an hour at 300 s from an unaligned start is 13 periods,
    // each with UniqueContributors 0 and nothing else.
    let end = DateTime::from_secs(1_800_000_123);
    let start = DateTime::from_secs(1_800_000_123 - 3600);
    let report = client
        .get_insight_rule_report()
        .rule_name("api-ips")
        .start_time(start)
        .end_time(end)
        .period(300)
        .metrics("UniqueContributors")
        .send()
        .await
        .expect("report");
    assert_eq!(report.key_labels(), ["IpAddress"]);
    assert_eq!(report.aggregation_statistic(), Some("SampleCount"));
    assert_eq!(report.aggregate_value(), Some(0.0));
    assert_eq!(report.approximate_unique_count(), Some(0));
    assert!(report.contributors().is_empty());
    let points = report.metric_datapoints();
    assert_eq!(points.len(), 13);
    assert!(points.iter().all(|p| p.unique_contributors() == Some(0.0)
        && p.sample_count().is_none()
        && p.timestamp().is_some_and(|t| t.secs() % 300 == 0)));

    let err = client
        .get_insight_rule_report()
        .rule_name("missing")
        .start_time(start)
        .end_time(end)
        .period(300)
        .send()
        .await
        .expect_err("unknown rule");
    assert!(
        matches!(
            err.into_service_error(),
            GetInsightRuleReportError::ResourceNotFoundException(_)
        ),
        "typed ResourceNotFoundException"
    );

    let del = client
        .delete_insight_rules()
        .rule_names("api-ips")
        .send()
        .await
        .expect("delete");
    assert!(del.failures().is_empty());
    let out = client
        .describe_insight_rules()
        .send()
        .await
        .expect("describe");
    assert!(out.insight_rules().is_empty());
}
