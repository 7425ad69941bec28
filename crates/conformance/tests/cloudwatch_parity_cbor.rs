//! aws-sdk-cloudwatch (Smithy RPC v2 CBOR) against a real `stratus server`
//! for issue 16's additions: Metrics Insights queries in GetMetricData,
//! anomaly detectors and their band (in GetMetricData and in an alarm),
//! DescribeAlarmHistory filters and paging, DescribeAlarmsForMetric, and the
//! errors whose AWS wording is known (tests/aws-recorded and the cited
//! reports in tests/python/test_aws_recorded_cloudwatch.py): each checked
//! through the SDK's `code()` and `message()`.

// Shared with the other conformance suites, which use more of it.
#[allow(dead_code)]
mod common;

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::config::Region;
use aws_sdk_cloudwatch::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    AlarmType, ComparisonOperator, Dimension, HistoryItemType, Metric, MetricDataQuery,
    MetricDatum, MetricStat, ScanBy, SingleMetricAnomalyDetector, StandardUnit, StateValue,
    Statistic, StatisticSet,
};
use common::Server;
use std::time::{SystemTime, UNIX_EPOCH};

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

fn dim(name: &str, value: &str) -> Dimension {
    Dimension::builder().name(name).value(value).build()
}

fn datum(name: &str, dims: &[Dimension], t: i64, v: f64) -> MetricDatum {
    MetricDatum::builder()
        .metric_name(name)
        .set_dimensions(Some(dims.to_vec()))
        .timestamp(DateTime::from_secs(t))
        .value(v)
        .build()
}

/// HTTP status, error code and message of a failed call.
fn failure<E: ProvideErrorMetadata>(e: SdkError<E>) -> (u16, String, String) {
    let status = e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
    (
        status,
        e.code().unwrap_or_default().to_string(),
        e.message().unwrap_or_default().to_string(),
    )
}

fn expect_err<T: std::fmt::Debug, E: ProvideErrorMetadata>(
    r: Result<T, SdkError<E>>,
) -> (u16, String, String) {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => failure(e),
    }
}

fn owned(status: u16, code: &str, message: &str) -> (u16, String, String) {
    (status, code.to_string(), message.to_string())
}

fn metric_stat(ns: &str, name: &str, dims: &[Dimension], period: i32, stat: &str) -> MetricStat {
    MetricStat::builder()
        .metric(
            Metric::builder()
                .namespace(ns)
                .metric_name(name)
                .set_dimensions(Some(dims.to_vec()))
                .build(),
        )
        .period(period)
        .stat(stat)
        .build()
}

// ---- Metrics Insights ---------------------------------------------------------------------------

#[tokio::test]
async fn metrics_insights_group_order_limit() {
    let server = Server::start();
    let (client, wire) = server.client().await;
    let ns = "Parity/Insights";
    let t0 = now_secs() / 60 * 60 - 1800;
    let mut data = Vec::new();
    for (host, base) in [("a", 10.0), ("b", 30.0), ("c", 20.0)] {
        for i in 0..5 {
            data.push(datum(
                "cpu",
                &[dim("host", host)],
                t0 + i * 60,
                base + i as f64,
            ));
        }
    }
    client
        .put_metric_data()
        .namespace(ns)
        .set_metric_data(Some(data))
        .send()
        .await
        .expect("put data");
    let out = client
        .get_metric_data()
        .start_time(DateTime::from_secs(t0 - 600))
        .end_time(DateTime::from_secs(t0 + 600))
        .scan_by(ScanBy::TimestampAscending)
        .metric_data_queries(
            MetricDataQuery::builder()
                .id("q")
                .expression(format!(
                    "SELECT AVG(cpu) FROM \"{ns}\" GROUP BY host ORDER BY AVG() DESC LIMIT 2"
                ))
                .period(60)
                .build(),
        )
        .send()
        .await
        .expect("insights query");
    assert_eq!(
        wire.last().path,
        "/service/GraniteServiceVersion20100801/operation/GetMetricData"
    );
    let results = out.metric_data_results();
    let labels: Vec<_> = results.iter().map(|r| r.label().unwrap_or("")).collect();
    assert_eq!(labels, ["b", "c"], "{results:?}");
    let times: Vec<i64> = (0..5).map(|i| t0 + i * 60).collect();
    for (r, base) in results.iter().zip([30.0, 20.0]) {
        assert_eq!(r.id(), Some("q"));
        let got: Vec<i64> = r.timestamps().iter().map(|t| t.secs()).collect();
        assert_eq!(got, times, "{r:?}");
        let want: Vec<f64> = (0..5).map(|i| base + i as f64).collect();
        assert_eq!(r.values(), want.as_slice(), "{r:?}");
    }
}

// ---- anomaly detection --------------------------------------------------------------------------

const BAND_PERIOD: i64 = 300;

fn band_queries(ns: &str, dims: &[Dimension]) -> Vec<MetricDataQuery> {
    vec![
        MetricDataQuery::builder()
            .id("m1")
            .metric_stat(metric_stat(ns, "cpu", dims, BAND_PERIOD as i32, "Average"))
            .return_data(true)
            .build(),
        MetricDataQuery::builder()
            .id("ad1")
            .expression("ANOMALY_DETECTION_BAND(m1, 2)")
            .label("cpu (expected)")
            .return_data(true)
            .build(),
    ]
}

#[tokio::test]
async fn anomaly_detectors_band_and_band_alarm() {
    let server = Server::start();
    let (client, _) = server.client().await;
    let ns = "Parity/Anomaly";
    let dims = [dim("host", "web-1")];
    let detector = SingleMetricAnomalyDetector::builder()
        .namespace(ns)
        .metric_name("cpu")
        .set_dimensions(Some(dims.to_vec()))
        .stat("Average")
        .build();
    client
        .put_anomaly_detector()
        .single_metric_anomaly_detector(detector.clone())
        .send()
        .await
        .expect("put detector");
    let described = client
        .describe_anomaly_detectors()
        .namespace(ns)
        .send()
        .await
        .expect("describe detectors");
    let [d] = described.anomaly_detectors() else {
        panic!("{described:?}")
    };
    let single = d
        .single_metric_anomaly_detector()
        .expect("single-metric detector");
    assert_eq!(
        (single.namespace(), single.metric_name(), single.stat()),
        (Some(ns), Some("cpu"), Some("Average"))
    );
    assert_eq!(single.dimensions(), dims.as_slice());

    // Two hours alternating 40 / 60: every slot of the daily cycle holds one
    // point, so the baseline is the median (50) and the spread 1.4826 x MAD (10).
    let end = now_secs() / BAND_PERIOD * BAND_PERIOD;
    let start = end - 24 * BAND_PERIOD;
    let data = (0..24)
        .map(|i| {
            datum(
                "cpu",
                &dims,
                start + i * BAND_PERIOD,
                if i % 2 == 0 { 40.0 } else { 60.0 },
            )
        })
        .collect();
    client
        .put_metric_data()
        .namespace(ns)
        .set_metric_data(Some(data))
        .send()
        .await
        .expect("put data");
    let out = client
        .get_metric_data()
        .start_time(DateTime::from_secs(start))
        .end_time(DateTime::from_secs(end))
        .scan_by(ScanBy::TimestampAscending)
        .set_metric_data_queries(Some(band_queries(ns, &dims)))
        .send()
        .await
        .expect("band query");
    let results = out.metric_data_results();
    let metric: Vec<_> = results.iter().filter(|r| r.id() == Some("m1")).collect();
    let band: Vec<_> = results.iter().filter(|r| r.id() == Some("ad1")).collect();
    assert_eq!((metric.len(), band.len()), (1, 2), "{results:?}");
    let labels: Vec<_> = band.iter().map(|r| r.label().unwrap_or("")).collect();
    assert_eq!(labels, ["cpu (expected) Low", "cpu (expected) High"]);
    let at: Vec<i64> = metric[0].timestamps().iter().map(|t| t.secs()).collect();
    assert_eq!(at.len(), 24);
    let spread = 1.4826 * 10.0;
    for (r, want) in band.iter().zip([50.0 - 2.0 * spread, 50.0 + 2.0 * spread]) {
        let got: Vec<i64> = r.timestamps().iter().map(|t| t.secs()).collect();
        assert_eq!(got, at);
        for v in r.values() {
            assert!((v - want).abs() < 1e-9, "{v} vs {want} in {r:?}");
        }
    }

    // An alarm on the band.
    client
        .put_metric_alarm()
        .alarm_name("band")
        .evaluation_periods(1)
        .comparison_operator(ComparisonOperator::LessThanLowerOrGreaterThanUpperThreshold)
        .threshold_metric_id("ad1")
        .set_metrics(Some(band_queries(ns, &dims)))
        .send()
        .await
        .expect("put band alarm");
    let alarms = client
        .describe_alarms()
        .alarm_names("band")
        .send()
        .await
        .expect("describe");
    let [a] = alarms.metric_alarms() else {
        panic!("{alarms:?}")
    };
    assert_eq!(a.threshold_metric_id(), Some("ad1"));
    assert_eq!(a.threshold(), None);
    assert_eq!(
        a.comparison_operator(),
        Some(&ComparisonOperator::LessThanLowerOrGreaterThanUpperThreshold)
    );
    assert_eq!(a.metrics().len(), 2);
    // A band alarm needs its ThresholdMetricId.
    let (status, code, _) = expect_err(
        client
            .put_metric_alarm()
            .alarm_name("band-without-id")
            .evaluation_periods(1)
            .comparison_operator(ComparisonOperator::LessThanLowerOrGreaterThanUpperThreshold)
            .set_metrics(Some(band_queries(ns, &dims)))
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (400, "InvalidParameterValue"));

    client
        .delete_anomaly_detector()
        .single_metric_anomaly_detector(detector.clone())
        .send()
        .await
        .expect("delete detector");
    let left = client
        .describe_anomaly_detectors()
        .namespace(ns)
        .send()
        .await
        .expect("describe after delete");
    assert!(left.anomaly_detectors().is_empty(), "{left:?}");
    let (status, code, _) = expect_err(
        client
            .delete_anomaly_detector()
            .single_metric_anomaly_detector(detector)
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (404, "ResourceNotFoundException"));
}

// ---- DescribeAlarmHistory, DescribeAlarmsForMetric ---------------------------------------------

async fn put_alarm(client: &Client, name: &str, ns: &str, dims: &[Dimension], stat: Statistic) {
    client
        .put_metric_alarm()
        .alarm_name(name)
        .namespace(ns)
        .metric_name("latency")
        .set_dimensions(Some(dims.to_vec()))
        .statistic(stat)
        .period(60)
        .evaluation_periods(1)
        .threshold(5.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        // No data keeps the state: evaluations add no history of their own.
        .treat_missing_data("ignore")
        .send()
        .await
        .expect("put alarm");
}

#[tokio::test]
async fn alarm_history_filters_and_paging() {
    let server = Server::start();
    let (client, _) = server.client().await;
    let ns = "Parity/History";
    put_alarm(&client, "h", ns, &[], Statistic::Average).await;
    for (i, v) in ["ALARM", "OK", "ALARM", "OK", "ALARM"]
        .into_iter()
        .enumerate()
    {
        // Items of one millisecond have no defined order.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        client
            .set_alarm_state()
            .alarm_name("h")
            .state_value(StateValue::from(v))
            .state_reason(format!("step {i}"))
            .send()
            .await
            .expect("set state");
    }
    client
        .put_composite_alarm()
        .alarm_name("hc")
        .alarm_rule("ALARM(\"h\")")
        .send()
        .await
        .expect("put composite");

    // Paging, newest first by default, two at a time.
    let mut summaries = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .describe_alarm_history()
            .alarm_name("h")
            .max_records(2)
            .set_next_token(token.clone())
            .send()
            .await
            .expect("history page");
        assert!(page.alarm_history_items().len() <= 2);
        for i in page.alarm_history_items() {
            assert_eq!(i.alarm_name(), Some("h"));
            assert_eq!(i.alarm_type(), Some(&AlarmType::MetricAlarm));
            summaries.push(i.history_summary().unwrap_or("").to_string());
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(
        summaries,
        [
            "Alarm updated from OK to ALARM",
            "Alarm updated from ALARM to OK",
            "Alarm updated from OK to ALARM",
            "Alarm updated from ALARM to OK",
            "Alarm updated from INSUFFICIENT_DATA to ALARM",
            "Alarm \"h\" created",
        ]
    );
    let asc = client
        .describe_alarm_history()
        .alarm_name("h")
        .scan_by(ScanBy::TimestampAscending)
        .history_item_type(HistoryItemType::StateUpdate)
        .send()
        .await
        .expect("ascending state updates");
    let got: Vec<_> = asc
        .alarm_history_items()
        .iter()
        .map(|i| i.history_summary().unwrap_or(""))
        .collect();
    assert_eq!(
        got,
        summaries[..5]
            .iter()
            .rev()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    // StartDate and EndDate are inclusive.
    let second = asc.alarm_history_items()[1].timestamp().expect("timestamp");
    let exact = client
        .describe_alarm_history()
        .alarm_name("h")
        .start_date(*second)
        .end_date(*second)
        .send()
        .await
        .expect("exact time");
    assert!(
        exact
            .alarm_history_items()
            .iter()
            .any(|i| i.history_summary() == asc.alarm_history_items()[1].history_summary()),
        "{exact:?}"
    );
    assert!(
        exact
            .alarm_history_items()
            .iter()
            .all(|i| i.timestamp() == Some(second))
    );
    // Without AlarmTypes, metric alarms only.
    let comp = client
        .describe_alarm_history()
        .alarm_name("hc")
        .send()
        .await
        .expect("composite, default types");
    assert!(comp.alarm_history_items().is_empty(), "{comp:?}");
    let comp = client
        .describe_alarm_history()
        .alarm_name("hc")
        .alarm_types(AlarmType::CompositeAlarm)
        .send()
        .await
        .expect("composite history");
    assert!(!comp.alarm_history_items().is_empty());
    assert!(
        comp.alarm_history_items()
            .iter()
            .all(|i| i.alarm_type() == Some(&AlarmType::CompositeAlarm))
    );
    let none = client
        .describe_alarm_history()
        .alarm_name("h")
        .alarm_contributor_id("c1")
        .send()
        .await
        .expect("contributor filter");
    assert!(none.alarm_history_items().is_empty());

    // Refusals.
    assert_eq!(
        expect_err(
            client
                .describe_alarm_history()
                .next_token("bogus")
                .send()
                .await
        ),
        owned(
            400,
            "InvalidNextToken",
            "The service returned an invalid NextToken."
        )
    );
    assert_eq!(
        expect_err(client.describe_alarm_history().max_records(0).send().await),
        owned(
            400,
            "ValidationError",
            "1 validation error detected: Value '0' at 'maxRecords' failed to satisfy constraint: \
             Member must have value greater than or equal to 1"
        )
    );
    assert_eq!(
        expect_err(
            client
                .describe_alarm_history()
                .max_records(101)
                .send()
                .await
        ),
        owned(
            400,
            "ValidationError",
            "1 validation error detected: Value '101' at 'maxRecords' failed to satisfy constraint: \
             Member must have value less than or equal to 100"
        )
    );
}

#[tokio::test]
async fn alarms_for_metric() {
    let server = Server::start();
    let (client, _) = server.client().await;
    let ns = "Parity/ForMetric";
    let dims = [dim("host", "web-1"), dim("az", "a")];
    put_alarm(&client, "avg", ns, &dims, Statistic::Average).await;
    put_alarm(&client, "max", ns, &dims, Statistic::Maximum).await;
    put_alarm(&client, "one-dim", ns, &dims[..1], Statistic::Average).await;
    let names = |out: &aws_sdk_cloudwatch::operation::describe_alarms_for_metric::DescribeAlarmsForMetricOutput| {
        let mut n: Vec<String> = out
            .metric_alarms()
            .iter()
            .filter_map(|a| a.alarm_name().map(str::to_string))
            .collect();
        n.sort();
        n
    };
    let all = client
        .describe_alarms_for_metric()
        .metric_name("latency")
        .namespace(ns)
        .send()
        .await
        .expect("for metric");
    assert_eq!(names(&all), ["avg", "max", "one-dim"]);
    let exact = client
        .describe_alarms_for_metric()
        .metric_name("latency")
        .namespace(ns)
        .dimensions(dims[1].clone())
        .dimensions(dims[0].clone())
        .statistic(Statistic::Maximum)
        .period(60)
        .send()
        .await
        .expect("for metric, exact");
    assert_eq!(names(&exact), ["max"]);
    let [m] = exact.metric_alarms() else {
        panic!("{exact:?}")
    };
    let described = client
        .describe_alarms()
        .alarm_names("max")
        .send()
        .await
        .expect("describe");
    assert_eq!(Some(m), described.metric_alarms().first());
    let none = client
        .describe_alarms_for_metric()
        .metric_name("latency")
        .namespace(ns)
        .unit(StandardUnit::Seconds)
        .send()
        .await
        .expect("for metric, unit");
    assert!(none.metric_alarms().is_empty());
    assert_eq!(
        expect_err(
            client
                .describe_alarms_for_metric()
                .metric_name("latency")
                .namespace(ns)
                .statistic(Statistic::Average)
                .extended_statistic("p99")
                .send()
                .await
        ),
        owned(
            400,
            "InvalidParameterCombination",
            "The parameters Statistic and ExtendedStatistic are mutually exclusive and you have specified both."
        )
    );
    assert_eq!(
        expect_err(
            client
                .describe_alarms_for_metric()
                .metric_name("latency")
                .namespace(ns)
                .period(0)
                .send()
                .await
        ),
        owned(
            400,
            "ValidationError",
            "1 validation error detected: Value '0' at 'period' failed to satisfy constraint: \
             Member must have value greater than or equal to 1"
        )
    );
}

// ---- errors AWS answers in known words ----------------------------------------------------------

const TIME_RANGE: (u16, &str, &str) = (
    400,
    "InvalidParameterValue",
    "The parameter StartTime must be less than the parameter EndTime.",
);

#[tokio::test]
async fn recorded_and_reported_errors() {
    let server = Server::start();
    let (client, _) = server.client().await;
    let tr = owned(TIME_RANGE.0, TIME_RANGE.1, TIME_RANGE.2);

    // GetMetricData: equal, within one second, reversed.
    let start = (now_secs() - 3600) * 1000 + 100;
    for end in [start, start + 800, start - 300_000] {
        let r = client
            .get_metric_data()
            .start_time(DateTime::from_millis(start))
            .end_time(DateTime::from_millis(end))
            .metric_data_queries(
                MetricDataQuery::builder()
                    .id("m")
                    .metric_stat(metric_stat("namespace", "metric_name", &[], 60, "Sum"))
                    .build(),
            )
            .send()
            .await;
        assert_eq!(expect_err(r), tr, "end {end}");
    }
    // GetMetricStatistics (recorded: error-invalid-time-frame, error-invalid-amount-datapoints).
    let now = now_secs();
    let gms = |s: i64, e: i64| {
        client
            .get_metric_statistics()
            .namespace("namespace")
            .metric_name("metric_name")
            .start_time(DateTime::from_secs(s))
            .end_time(DateTime::from_secs(e))
            .period(1)
            .statistics(Statistic::SampleCount)
            .send()
    };
    assert_eq!(expect_err(gms(now, now).await), tr);
    assert_eq!(
        expect_err(gms(now, now + 86400).await),
        owned(
            400,
            "InvalidParameterCombination",
            "You have requested up to 86400 datapoints, which exceeds the limit of 1440. You may \
             reduce the datapoints requested by increasing Period, or decreasing the time range."
        )
    );

    // PutMetricData (recorded: test_put_metric_data_validation; NaN, duplicate dimension
    // names and Maximum < Minimum as AWS answered them in public reports).
    let put = |d: MetricDatum| {
        client
            .put_metric_data()
            .namespace("Parity/Errors")
            .metric_data(d)
            .send()
    };
    let base = || {
        MetricDatum::builder()
            .metric_name("m")
            .unit(StandardUnit::Count)
    };
    let stats = |min: f64, max: f64| {
        StatisticSet::builder()
            .sample_count(10.0)
            .sum(55.0)
            .minimum(min)
            .maximum(max)
            .build()
    };
    let cases = [
        (
            base().value(1.5).values(1.0).values(10.0).build(),
            "InvalidParameterCombination",
            "The parameters MetricData.member.1.Value and MetricData.member.1.Values are mutually \
             exclusive and you have specified both.",
        ),
        (
            base()
                .values(1.0)
                .values(10.0)
                .counts(2.0)
                .counts(4.0)
                .counts(5.0)
                .build(),
            "InvalidParameterValue",
            "The parameters MetricData.member.1.Values and MetricData.member.1.Counts must be of \
             the same size.",
        ),
        (
            base().value(1.5).statistic_values(stats(1.0, 10.0)).build(),
            "InvalidParameterCombination",
            "The parameters MetricData.member.1.Value and MetricData.member.1.StatisticValues are \
             mutually exclusive and you have specified both.",
        ),
        (
            base().value(f64::NAN).build(),
            "InvalidParameterValue",
            "The value NaN for parameter MetricData.member.1.Value is invalid.",
        ),
        (
            base()
                .value(1.0)
                .dimensions(dim("a", "1"))
                .dimensions(dim("a", "2"))
                .build(),
            "InvalidParameterValue",
            "No metric may specify the same dimension name twice.",
        ),
        (
            base().statistic_values(stats(3.0, 1.0)).build(),
            "InvalidParameterValue",
            "The parameter MetricData.member.1.StatisticValues.Maximum must be greater than \
             MetricData.member.1.StatisticValues.Minimum.",
        ),
    ];
    for (d, code, message) in cases {
        assert_eq!(expect_err(put(d).await), owned(400, code, message));
    }
    let listed = client
        .list_metrics()
        .namespace("Parity/Errors")
        .send()
        .await
        .expect("list");
    assert!(
        listed.metrics().is_empty(),
        "refused puts stored nothing: {listed:?}"
    );

    // PutDashboard (recorded: error-invalid-dashboardname).
    assert_eq!(
        expect_err(
            client
                .put_dashboard()
                .dashboard_name("test-x:invalid")
                .dashboard_body(r#"{"widgets":[]}"#)
                .send()
                .await
        ),
        owned(
            400,
            "InvalidParameterValue",
            "The value for field DashboardName contains invalid characters. It can only contain \
             alphanumerics, dash (-) and underscore (_).\n"
        )
    );

    // SetAlarmState (recorded: error-invalid-state, error-resource-not-found).
    assert_eq!(
        expect_err(
            client
                .set_alarm_state()
                .alarm_name("a")
                .state_value(StateValue::from("INVALID"))
                .state_reason("test")
                .send()
                .await
        ),
        owned(
            400,
            "ValidationError",
            "1 validation error detected: Value 'INVALID' at 'stateValue' failed to satisfy \
             constraint: Member must satisfy enum value set: [INSUFFICIENT_DATA, ALARM, OK]"
        )
    );
    let (_, code, message) = expect_err(
        client
            .set_alarm_state()
            .alarm_name("a-nonexistent")
            .state_value(StateValue::Ok)
            .state_reason("test")
            .send()
            .await,
    );
    assert_eq!((code.as_str(), message.as_str()), ("ResourceNotFound", ""));

    // PutMetricAlarm.
    let alarm = |c: &Client, name: &str| {
        c.put_metric_alarm()
            .alarm_name(name)
            .namespace("N")
            .metric_name("m")
            .period(60)
            .evaluation_periods(1)
            .threshold(1.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
    };
    assert_eq!(
        expect_err(alarm(&client, "p").extended_statistic("90").send().await),
        owned(
            400,
            "InvalidParameterValue",
            "The value 90 for parameter ExtendedStatistic is not supported."
        )
    );
    let in_region = |r: &str| {
        Client::from_conf(
            client
                .config()
                .to_builder()
                .region(Region::new(r.to_string()))
                .build(),
        )
    };
    for (region, arn, message) in [
        (
            "us-west-2",
            "arn:aws:sns:ca-central-1:123456789012:alerts",
            "Invalid region ca-central-1 specified. Only us-west-2 is supported.",
        ),
        (
            "us-gov-west-1",
            "arn:aws:sns:us-gov-west-1:123456789012:alerts",
            "Invalid partition aws specified. Only aws-us-gov is supported.",
        ),
        (
            "us-east-1",
            "arn:aws-cn:sns:cn-north-1:123456789012:alerts",
            "Invalid partition aws-cn specified. Only aws is supported.",
        ),
    ] {
        let c = in_region(region);
        let r = alarm(&c, "arn-check")
            .statistic(Statistic::Average)
            .alarm_actions(arn)
            .send()
            .await;
        assert_eq!(
            expect_err(r),
            owned(400, "ValidationError", message),
            "{arn}"
        );
    }
    let only_hidden = MetricDataQuery::builder()
        .id("m1")
        .return_data(false)
        .metric_stat(metric_stat("N", "m", &[], 60, "Sum"))
        .build();
    assert_eq!(
        expect_err(
            client
                .put_metric_alarm()
                .alarm_name("no-data")
                .metrics(only_hidden)
                .evaluation_periods(1)
                .threshold(1.0)
                .comparison_operator(ComparisonOperator::GreaterThanThreshold)
                .send()
                .await
        ),
        owned(
            400,
            "ValidationError",
            "Exactly one element of the metrics list should return data."
        )
    );
    let left = client.describe_alarms().send().await.expect("describe");
    assert!(
        left.metric_alarms().is_empty(),
        "refused puts stored nothing: {left:?}"
    );
}

// ---- multi-time-series alarms ------------------------------------------------------------------

/// An alarm on a grouped Metrics Insights query: its contributors in ALARM
/// through DescribeAlarmContributors (attributes as a CBOR map), their
/// history items filtered by AlarmContributorId, and the 404 for an
/// unknown alarm.
#[tokio::test]
async fn multi_time_series_alarm_contributors() {
    let server = Server::start();
    let (client, wire) = server.client().await;
    let ns = "Parity/Contributors";
    let now = now_secs();
    let mut data = Vec::new();
    for (host, v) in [("a", 90.0), ("b", 80.0), ("c", 10.0)] {
        for s in (0..300).step_by(20) {
            data.push(datum("cpu", &[dim("host", host)], now - s, v));
        }
    }
    client
        .put_metric_data()
        .namespace(ns)
        .set_metric_data(Some(data))
        .send()
        .await
        .expect("put data");
    client
        .put_metric_alarm()
        .alarm_name("fleet-cpu")
        .evaluation_periods(1)
        .threshold(50.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .metrics(
            MetricDataQuery::builder()
                .id("q")
                .expression(format!(
                    "SELECT AVG(cpu) FROM SCHEMA(\"{ns}\", host) GROUP BY host ORDER BY AVG() DESC"
                ))
                .period(60)
                .build(),
        )
        .send()
        .await
        .expect("grouped alarm");
    let mut contributors = Vec::new();
    for _ in 0..300 {
        let out = client
            .describe_alarm_contributors()
            .alarm_name("fleet-cpu")
            .send()
            .await
            .expect("describe contributors");
        contributors = out.alarm_contributors().to_vec();
        if contributors.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        wire.last().path,
        "/service/GraniteServiceVersion20100801/operation/DescribeAlarmContributors"
    );
    let mut hosts: Vec<&str> = contributors
        .iter()
        .map(|c| c.contributor_attributes().expect("attributes")["host"].as_str())
        .collect();
    hosts.sort();
    assert_eq!(hosts, ["a", "b"], "{contributors:?}");
    for c in &contributors {
        assert_eq!(c.contributor_id().map(str::len), Some(16), "{c:?}");
        assert!(
            c.state_reason()
                .is_some_and(|r| r.starts_with("Threshold Crossed")),
            "{c:?}"
        );
        assert!(c.state_transitioned_timestamp().is_some());
    }
    let id = contributors[0].contributor_id().expect("id");
    let items = client
        .describe_alarm_history()
        .alarm_name("fleet-cpu")
        .alarm_contributor_id(id)
        .send()
        .await
        .expect("history of one contributor");
    let items = items.alarm_history_items();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(
        items[0].history_item_type(),
        Some(&HistoryItemType::AlarmContributorStateUpdate)
    );
    assert_eq!(items[0].alarm_contributor_id(), Some(id));
    assert_eq!(
        items[0].alarm_contributor_attributes(),
        contributors[0].contributor_attributes()
    );
    let (status, code, _) = expect_err(
        client
            .describe_alarm_contributors()
            .alarm_name("no-such-alarm")
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (404, "ResourceNotFoundException"));
}
