//! aws-sdk-cloudwatch (Smithy RPC v2 CBOR) against a real `stratus server`:
//! put, list, statistics and GetMetricData round trips, and typed errors for bad input.

mod common;

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::error::ProvideErrorMetadata;
use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataError;
use aws_sdk_cloudwatch::operation::get_metric_statistics::GetMetricStatisticsError;
use aws_sdk_cloudwatch::operation::list_metrics::ListMetricsError;
use aws_sdk_cloudwatch::operation::put_metric_data::PutMetricDataError;
use aws_sdk_cloudwatch::types::{
    Datapoint, Dimension, DimensionFilter, Metric, MetricDataQuery, MetricDatum, MetricStat,
    ScanBy, StandardUnit, Statistic, StatisticSet,
};
use common::{Server, base_time, now_secs, percentile, ts};

fn dim(name: &str, value: &str) -> Dimension {
    Dimension::builder().name(name).value(value).build()
}

fn value_datum(name: &str, t: i64, v: f64) -> MetricDatum {
    MetricDatum::builder()
        .metric_name(name)
        .timestamp(ts(t))
        .value(v)
        .build()
}

fn dp_time(dp: &Datapoint) -> i64 {
    dp.timestamp().expect("datapoint timestamp").secs()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Status code of a failed call, and its service error.
macro_rules! split {
    ($err:expr) => {{
        let err = $err;
        let status = err.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
        (status, err.into_service_error())
    }};
}

async fn metric_count(client: &Client, ns: &str) -> usize {
    client
        .list_metrics()
        .namespace(ns)
        .send()
        .await
        .expect("list metrics")
        .metrics()
        .len()
}

#[tokio::test]
async fn put_list_and_statistics_round_trip_over_cbor() {
    let server = Server::start();
    let (client, wire) = server.client().await;
    let ns = "Conformance/RoundTrip";
    let t0 = base_time();
    let host = dim("host", "a");

    let datums = vec![
        MetricDatum::builder()
            .metric_name("disk_used_percent")
            .dimensions(host.clone())
            .timestamp(ts(t0 + 1))
            .set_values(Some(vec![1.0, 2.0, 3.0, 4.0]))
            .set_counts(Some(vec![1.0, 1.0, 1.0, 7.0]))
            .unit(StandardUnit::Percent)
            .build(),
        MetricDatum::builder()
            .metric_name("disk_used_percent")
            .dimensions(host.clone())
            .timestamp(ts(t0 + 30))
            .value(10.0)
            .unit(StandardUnit::Percent)
            .build(),
        MetricDatum::builder()
            .metric_name("disk_used_percent")
            .dimensions(host.clone())
            .timestamp(ts(t0 + 60))
            .statistic_values(
                StatisticSet::builder()
                    .sample_count(2.0)
                    .sum(30.0)
                    .minimum(10.0)
                    .maximum(20.0)
                    .build(),
            )
            .unit(StandardUnit::Percent)
            .build(),
        // Out of order: an earlier minute arrives last.
        MetricDatum::builder()
            .metric_name("disk_used_percent")
            .dimensions(host.clone())
            .timestamp(ts(t0 - 60))
            .value(50.0)
            .unit(StandardUnit::Percent)
            .storage_resolution(60)
            .build(),
    ];
    client
        .put_metric_data()
        .namespace(ns)
        .set_metric_data(Some(datums))
        .send()
        .await
        .expect("put metric data");

    // The SDK spoke RPC v2 CBOR and the server answered in it.
    let ex = wire.last();
    assert_eq!(
        ex.path,
        "/service/GraniteServiceVersion20100801/operation/PutMetricData"
    );
    assert_eq!(ex.request_header("content-type"), Some("application/cbor"));
    assert_eq!(ex.status, 200);
    assert_eq!(ex.response_header("smithy-protocol"), Some("rpc-v2-cbor"));
    assert!(ex.response_header("x-amzn-requestid").is_some(), "{ex:?}");

    let listed = client
        .list_metrics()
        .namespace(ns)
        .send()
        .await
        .expect("list metrics");
    let metrics: Vec<&Metric> = listed.metrics().iter().collect();
    assert_eq!(metrics.len(), 1, "{metrics:?}");
    assert_eq!(metrics[0].metric_name(), Some("disk_used_percent"));
    assert_eq!(metrics[0].dimensions(), std::slice::from_ref(&host));
    let filtered = client
        .list_metrics()
        .dimensions(DimensionFilter::builder().name("host").build())
        .metric_name("disk_used_percent")
        .namespace(ns)
        .send()
        .await
        .expect("list metrics with a name-only dimension filter");
    assert_eq!(filtered.metrics().len(), 1);

    let out = client
        .get_metric_statistics()
        .namespace(ns)
        .metric_name("disk_used_percent")
        .dimensions(host.clone())
        .start_time(ts(t0 - 60))
        .end_time(ts(t0 + 120))
        .period(60)
        .set_statistics(Some(vec![
            Statistic::SampleCount,
            Statistic::Sum,
            Statistic::Minimum,
            Statistic::Maximum,
            Statistic::Average,
        ]))
        .extended_statistics("p50")
        .extended_statistics("p90")
        .send()
        .await
        .expect("get metric statistics");
    assert_eq!(out.label(), Some("disk_used_percent"));
    let mut dps: Vec<&Datapoint> = out.datapoints().iter().collect();
    dps.sort_by_key(|d| dp_time(d));
    assert_eq!(
        dps.iter().map(|d| dp_time(d)).collect::<Vec<_>>(),
        vec![t0 - 60, t0, t0 + 60]
    );

    // Minute t0: values 1,2,3,4 with counts 1,1,1,7 plus a single 10.
    let pop = [(1.0, 1.0), (2.0, 1.0), (3.0, 1.0), (4.0, 7.0), (10.0, 1.0)];
    let n: f64 = pop.iter().map(|(_, c)| c).sum();
    let sum: f64 = pop.iter().map(|(v, c)| v * c).sum();
    let d = dps[1];
    assert_eq!(d.sample_count(), Some(n));
    assert!(close(d.sum().expect("sum"), sum));
    assert_eq!(d.minimum(), Some(1.0));
    assert_eq!(d.maximum(), Some(10.0));
    assert!(close(d.average().expect("average"), sum / n));
    assert_eq!(d.unit(), Some(&StandardUnit::Percent));
    let ext = d.extended_statistics().expect("extended statistics");
    assert_eq!(ext.get("p50").copied(), Some(percentile(&pop, 50.0)));
    assert_eq!(ext.get("p90").copied(), Some(percentile(&pop, 90.0)));

    // Minute t0+1m: a statistic set with Min != Max: the four statistics, no percentiles.
    let d = dps[2];
    assert_eq!(d.sample_count(), Some(2.0));
    assert_eq!(d.sum(), Some(30.0));
    assert_eq!(d.minimum(), Some(10.0));
    assert_eq!(d.maximum(), Some(20.0));
    assert!(
        d.extended_statistics().and_then(|m| m.get("p50")).is_none(),
        "percentiles are not available from a statistic set: {d:?}"
    );

    // The late minute.
    assert_eq!(dps[0].sum(), Some(50.0));
    assert_eq!(dps[0].sample_count(), Some(1.0));
}

#[tokio::test]
async fn get_metric_data_with_expressions_over_cbor() {
    let server = Server::start();
    let (client, wire) = server.client().await;
    let ns = "Conformance/GMD";
    let t0 = base_time();
    let values = [3.0, 6.0, 9.0, 4.0, 12.0];
    let datums = values
        .iter()
        .enumerate()
        .map(|(i, v)| value_datum("requests", t0 + 60 * i as i64, *v))
        .collect();
    client
        .put_metric_data()
        .namespace(ns)
        .set_metric_data(Some(datums))
        .send()
        .await
        .expect("put metric data");

    let metric = Metric::builder()
        .namespace(ns)
        .metric_name("requests")
        .build();
    let stat = MetricStat::builder()
        .metric(metric)
        .period(60)
        .stat("Sum")
        .build();
    let out = client
        .get_metric_data()
        .metric_data_queries(
            MetricDataQuery::builder()
                .id("m1")
                .metric_stat(stat)
                .build(),
        )
        .metric_data_queries(
            MetricDataQuery::builder()
                .id("e1")
                .expression("m1*2")
                .label("doubled")
                .build(),
        )
        .metric_data_queries(
            MetricDataQuery::builder()
                .id("e2")
                .expression("IF(m1 > 5, m1, 0)")
                .build(),
        )
        .start_time(ts(t0))
        .end_time(ts(t0 + 300))
        .scan_by(ScanBy::TimestampAscending)
        .send()
        .await
        .expect("get metric data");
    assert_eq!(
        wire.last().path,
        "/service/GraniteServiceVersion20100801/operation/GetMetricData"
    );

    let results = out.metric_data_results();
    let by_id = |id: &str| {
        results
            .iter()
            .find(|r| r.id() == Some(id))
            .unwrap_or_else(|| panic!("no result {id} in {results:?}"))
    };
    let want_ts: Vec<i64> = (0..5).map(|i| t0 + 60 * i).collect();

    let m1 = by_id("m1");
    assert_eq!(m1.label(), Some("requests"));
    assert_eq!(
        m1.timestamps().iter().map(|t| t.secs()).collect::<Vec<_>>(),
        want_ts
    );
    assert_eq!(m1.values(), &values[..]);

    let e1 = by_id("e1");
    assert_eq!(e1.label(), Some("doubled"));
    assert_eq!(
        e1.timestamps().iter().map(|t| t.secs()).collect::<Vec<_>>(),
        want_ts
    );
    assert_eq!(
        e1.values(),
        values.iter().map(|v| v * 2.0).collect::<Vec<_>>()
    );

    let e2 = by_id("e2");
    assert_eq!(
        e2.values(),
        values
            .iter()
            .map(|v| if *v > 5.0 { *v } else { 0.0 })
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn list_metrics_pages_at_500() {
    let server = Server::start();
    let (client, wire) = server.client().await;
    let ns = "Conformance/Paging";
    let t = base_time();
    let datums: Vec<MetricDatum> = (0..510)
        .map(|i| value_datum(&format!("metric_{i:04}"), t, i as f64))
        .collect();
    client
        .put_metric_data()
        .namespace(ns)
        .set_metric_data(Some(datums))
        .send()
        .await
        .expect("put 510 datums");
    // A body this large is gzip-compressed by the SDK.
    assert_eq!(
        wire.last().request_header("content-encoding"),
        Some("gzip"),
        "{:?}",
        wire.last()
    );

    let first = client
        .list_metrics()
        .namespace(ns)
        .send()
        .await
        .expect("page 1");
    assert_eq!(first.metrics().len(), 500);
    let token = first.next_token().expect("a next token after 500 metrics");
    let second = client
        .list_metrics()
        .namespace(ns)
        .next_token(token)
        .send()
        .await
        .expect("page 2");
    assert_eq!(second.metrics().len(), 10);
    assert!(second.next_token().is_none());
    let mut names: Vec<String> = first
        .metrics()
        .iter()
        .chain(second.metrics())
        .filter_map(|m| m.metric_name().map(str::to_string))
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 510);
}

// ---- bad inputs: each one its own test, so every mapping is reported on its own ----

const BAD_NS: &str = "Conformance/Bad";

/// A server and a client, plus a valid datum to send alongside a bad one
/// (the whole request must be refused, the valid datum included).
async fn bad_input_setup() -> (Server, Client, MetricDatum, i64) {
    let server = Server::start();
    let (client, _wire) = server.client().await;
    let now = now_secs();
    (server, client, value_datum("good", now - 60, 1.0), now)
}

/// A rejected request changes nothing.
async fn assert_nothing_stored(client: &Client) {
    assert_eq!(metric_count(client, BAD_NS).await, 0);
}

async fn put_refused(client: &Client, data: Vec<MetricDatum>) -> (u16, PutMetricDataError) {
    let err = client
        .put_metric_data()
        .namespace(BAD_NS)
        .set_metric_data(Some(data))
        .send()
        .await
        .expect_err("the server must refuse this PutMetricData");
    split!(err)
}

#[tokio::test]
async fn value_and_values_is_invalid_parameter_combination() {
    let (_server, client, good, now) = bad_input_setup().await;
    let bad = MetricDatum::builder()
        .metric_name("bad")
        .timestamp(ts(now - 60))
        .value(1.0)
        .values(2.0)
        .build();
    let (status, e) = put_refused(&client, vec![good, bad]).await;
    assert_eq!(status, 400);
    assert!(
        matches!(
            e,
            PutMetricDataError::InvalidParameterCombinationException(_)
        ),
        "{e:?}"
    );
    assert_nothing_stored(&client).await;
}

#[tokio::test]
async fn values_counts_mismatch_is_invalid_parameter_value() {
    let (_server, client, good, now) = bad_input_setup().await;
    let bad = MetricDatum::builder()
        .metric_name("bad")
        .timestamp(ts(now - 60))
        .set_values(Some(vec![1.0, 2.0]))
        .set_counts(Some(vec![1.0]))
        .build();
    let (status, e) = put_refused(&client, vec![good, bad]).await;
    assert_eq!(status, 400);
    assert!(
        matches!(e, PutMetricDataError::InvalidParameterValueException(_)),
        "{e:?}"
    );
    assert_nothing_stored(&client).await;
}

#[tokio::test]
async fn nan_and_infinity_are_invalid_parameter_value() {
    let (_server, client, good, now) = bad_input_setup().await;
    // CBOR carries non-finite doubles natively.
    for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let (status, e) =
            put_refused(&client, vec![good.clone(), value_datum("bad", now - 60, v)]).await;
        assert_eq!(status, 400, "{v}");
        assert!(
            matches!(e, PutMetricDataError::InvalidParameterValueException(_)),
            "{v}: {e:?}"
        );
    }
    assert_nothing_stored(&client).await;
}

#[tokio::test]
async fn timestamp_older_than_two_weeks_is_invalid_parameter_value() {
    let (_server, client, good, now) = bad_input_setup().await;
    let old = value_datum("bad", now - 15 * 86_400, 1.0);
    let (status, e) = put_refused(&client, vec![good, old]).await;
    assert_eq!(status, 400);
    assert!(
        matches!(e, PutMetricDataError::InvalidParameterValueException(_)),
        "{e:?}"
    );
    assert_nothing_stored(&client).await;
}

#[tokio::test]
async fn more_than_1000_datums_is_invalid_parameter_value() {
    let (_server, client, _good, now) = bad_input_setup().await;
    let many: Vec<MetricDatum> = (0..1001)
        .map(|i| value_datum(&format!("m{i}"), now - 60, 1.0))
        .collect();
    let (status, e) = put_refused(&client, many).await;
    assert_eq!(status, 400);
    assert!(
        matches!(e, PutMetricDataError::InvalidParameterValueException(_)),
        "{e:?}"
    );
    assert_nothing_stored(&client).await;
}

#[tokio::test]
async fn missing_namespace_is_missing_required_parameter() {
    let (_server, client, good, _now) = bad_input_setup().await;
    let err = client
        .put_metric_data()
        .metric_data(good)
        .send()
        .await
        .expect_err("missing namespace");
    let (status, e) = split!(err);
    assert_eq!(status, 400);
    assert!(
        matches!(e, PutMetricDataError::MissingRequiredParameterException(_)),
        "{e:?}"
    );
    let listed = client.list_metrics().send().await.expect("list metrics");
    assert!(listed.metrics().is_empty(), "{listed:?}");
}

#[tokio::test]
async fn unit_outside_the_enum_is_validation_error() {
    let (_server, client, good, now) = bad_input_setup().await;
    let bad = MetricDatum::builder()
        .metric_name("bad")
        .timestamp(ts(now - 60))
        .value(1.0)
        .unit(StandardUnit::from("Furlongs"))
        .build();
    let (status, e) = put_refused(&client, vec![good, bad]).await;
    assert_eq!(status, 400);
    assert_eq!(e.code(), Some("ValidationError"), "{e:?}");
    assert_nothing_stored(&client).await;
}

#[tokio::test]
async fn start_after_end_is_invalid_parameter_value() {
    let (_server, client, _good, _now) = bad_input_setup().await;
    let t = base_time();
    let err = client
        .get_metric_statistics()
        .namespace(BAD_NS)
        .metric_name("good")
        .start_time(ts(t + 600))
        .end_time(ts(t))
        .period(60)
        .statistics(Statistic::Sum)
        .send()
        .await
        .expect_err("start after end");
    let (status, e) = split!(err);
    assert_eq!(status, 400);
    assert!(
        matches!(
            e,
            GetMetricStatisticsError::InvalidParameterValueException(_)
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn more_than_1440_datapoints_is_invalid_parameter_combination() {
    let (_server, client, _good, _now) = bad_input_setup().await;
    let t = base_time();
    let err = client
        .get_metric_statistics()
        .namespace(BAD_NS)
        .metric_name("good")
        .start_time(ts(t - 2 * 86_400))
        .end_time(ts(t))
        .period(60)
        .statistics(Statistic::Sum)
        .send()
        .await
        .expect_err("too many datapoints");
    let (status, e) = split!(err);
    assert_eq!(status, 400);
    assert!(
        matches!(
            e,
            GetMetricStatisticsError::InvalidParameterCombinationException(_)
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn list_metrics_bad_token_is_invalid_parameter_value() {
    let (_server, client, _good, _now) = bad_input_setup().await;
    let err = client
        .list_metrics()
        .namespace(BAD_NS)
        .next_token("definitely-not-a-token")
        .send()
        .await
        .expect_err("bad list token");
    let (status, e) = split!(err);
    assert_eq!(status, 400);
    // ListMetrics models only InvalidParameterValueException (and InternalServiceFault).
    assert!(
        matches!(e, ListMetricsError::InvalidParameterValueException(_)),
        "{e:?}"
    );
}

#[tokio::test]
async fn get_metric_data_bad_token_is_invalid_next_token() {
    let (_server, client, _good, _now) = bad_input_setup().await;
    let t = base_time();
    let query = MetricDataQuery::builder()
        .id("m1")
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace(BAD_NS)
                        .metric_name("good")
                        .build(),
                )
                .period(60)
                .stat("Sum")
                .build(),
        )
        .build();
    let err = client
        .get_metric_data()
        .metric_data_queries(query)
        .start_time(ts(t))
        .end_time(ts(t + 600))
        .next_token("garbage")
        .send()
        .await
        .expect_err("bad GetMetricData token");
    let (status, e) = split!(err);
    assert_eq!(status, 400);
    assert!(
        matches!(e, GetMetricDataError::InvalidNextToken(_)),
        "{e:?}"
    );
}

#[tokio::test]
async fn wrong_secret_and_unknown_key_are_refused() {
    let server = Server::start();
    let key = server.admin_key_id();

    let err = server
        .client_with_keys(&key, "not-the-secret")
        .list_metrics()
        .send()
        .await
        .expect_err("wrong secret");
    let (status, e) = split!(err);
    assert_eq!(status, 403);
    assert_eq!(e.code(), Some("SignatureDoesNotMatch"), "{e:?}");

    let err = server
        .client_with_keys("AKIDUNKNOWNUNKNOWN00", "whatever")
        .list_metrics()
        .send()
        .await
        .expect_err("unknown key");
    let (status, e) = split!(err);
    assert_eq!(status, 403);
    assert_eq!(e.code(), Some("InvalidClientTokenId"), "{e:?}");
}
