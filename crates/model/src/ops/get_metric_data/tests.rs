use super::*;
use crate::limits::{HOUR_MS, MINUTE_MS};
use serde_json::{Value, json};

const NOW: i64 = 1_800_000_000_000; // a whole hour

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

fn stat_query(id: &str, name: &str, stat: &str, period: i64) -> Value {
    json!({"Id": id, "MetricStat": {"Metric": {"Namespace": "App", "MetricName": name,
        "Dimensions": [{"Name": "host", "Value": "a"}]}, "Period": period, "Stat": stat}})
}

fn request(queries: Vec<Value>, over: Value) -> GetMetricDataInput {
    let mut base = json!({"MetricDataQueries": queries, "StartTime": secs(NOW - HOUR_MS), "EndTime": secs(NOW)});
    if let (Some(b), Some(o)) = (base.as_object_mut(), over.as_object()) {
        for (k, v) in o {
            if v.is_null() {
                b.remove(k);
            } else {
                b.insert(k.clone(), v.clone());
            }
        }
    }
    serde_json::from_value(base).expect("decodes")
}

fn validate(queries: Vec<Value>, over: Value) -> ApiResult<ValidGetMetricData> {
    request(queries, over).validate(Timestamp(NOW))
}

/// A source with a fixed table of points per metric name: every period of
/// the query gets `base + k` (k = period index) for names in `table`, except
/// the periods listed in `gaps`. Records every call.
#[derive(Default)]
struct Table {
    base: HashMap<String, f64>,
    gaps: Vec<i64>,
    calls: Vec<(String, String, Timestamp, Timestamp)>,
}

impl Table {
    fn with(names: &[(&str, f64)]) -> Table {
        Table {
            base: names.iter().map(|(n, b)| (n.to_string(), *b)).collect(),
            ..Table::default()
        }
    }
}

impl MetricStatSource for Table {
    fn fetch(
        &mut self,
        s: &MetricStatQuery,
        start: Timestamp,
        end: Timestamp,
    ) -> ApiResult<Vec<(Timestamp, f64)>> {
        self.calls.push((
            s.metric.metric_name.clone(),
            s.stat.as_str().to_string(),
            start,
            end,
        ));
        let Some(&base) = self.base.get(&s.metric.metric_name) else {
            return Ok(vec![]);
        };
        let step = s.period_secs * 1000;
        let n = (end.millis() - start.millis() + step - 1) / step;
        Ok((0..n)
            .filter(|k| !self.gaps.contains(k))
            .map(|k| (Timestamp(start.millis() + k * step), base + k as f64))
            .collect())
    }
}

#[test]
fn rejects_with_code_and_parameter() {
    let m1 = stat_query("m1", "cpu", "Average", 60);
    let many: Vec<Value> = (0..501)
        .map(|i| stat_query(&format!("m{i}"), "cpu", "Sum", 60))
        .collect();
    let cases: Vec<(Vec<Value>, Value, ErrorCode, &str)> = vec![
        (
            vec![],
            json!({}),
            ErrorCode::MissingParameter,
            "The parameter MetricDataQueries is required.",
        ),
        (
            many,
            json!({}),
            ErrorCode::ValidationError,
            "'metricDataQueries'",
        ),
        (
            vec![m1.clone()],
            json!({"StartTime": null}),
            ErrorCode::MissingParameter,
            "The parameter StartTime is required.",
        ),
        (
            vec![m1.clone()],
            json!({"EndTime": null}),
            ErrorCode::MissingParameter,
            "The parameter EndTime is required.",
        ),
        (
            vec![m1.clone()],
            json!({"EndTime": secs(NOW - 2 * HOUR_MS)}),
            ErrorCode::InvalidParameterValue,
            "The parameter StartTime must be less than the parameter EndTime.",
        ),
        (
            vec![m1.clone()],
            json!({"StartTime": secs(NOW - HOUR_MS), "EndTime": secs(NOW - HOUR_MS)}),
            ErrorCode::InvalidParameterValue,
            "The parameter StartTime must be less than the parameter EndTime.",
        ),
        (
            // Within the same second: AWS compares whole seconds.
            vec![m1.clone()],
            json!({"StartTime": secs(NOW - HOUR_MS + 10), "EndTime": secs(NOW - HOUR_MS + 990)}),
            ErrorCode::InvalidParameterValue,
            "The parameter StartTime must be less than the parameter EndTime.",
        ),
        (
            vec![m1.clone()],
            json!({"ScanBy": "Sideways"}),
            ErrorCode::ValidationError,
            "at 'scanBy'",
        ),
        (
            vec![m1.clone()],
            json!({"MaxDatapoints": 0}),
            ErrorCode::InvalidParameterValue,
            "MaxDatapoints",
        ),
        (
            vec![m1.clone()],
            json!({"LabelOptions": {"Timezone": "CET"}}),
            ErrorCode::InvalidParameterValue,
            "LabelOptions.Timezone",
        ),
        (
            vec![m1.clone()],
            json!({"NextToken": "garbage"}),
            ErrorCode::InvalidNextToken,
            "NextToken",
        ),
        (
            vec![json!({"MetricStat": m1["MetricStat"]})],
            json!({}),
            ErrorCode::MissingParameter,
            "The parameter MetricDataQueries.member.1.Id is required.",
        ),
        (
            vec![stat_query("M1", "cpu", "Sum", 60)],
            json!({}),
            ErrorCode::InvalidParameterValue,
            "MetricDataQueries.member.1.Id",
        ),
        (
            vec![stat_query("m-1", "cpu", "Sum", 60)],
            json!({}),
            ErrorCode::InvalidParameterValue,
            "lowercase letter",
        ),
        (
            vec![m1.clone(), stat_query("m1", "mem", "Sum", 60)],
            json!({}),
            ErrorCode::InvalidParameterValue,
            "MetricDataQueries.member.2.Id is already used by MetricDataQueries.member.1.Id",
        ),
        (
            vec![json!({"Id": "x", "Expression": "1", "MetricStat": m1["MetricStat"]})],
            json!({}),
            ErrorCode::InvalidParameterCombination,
            "The parameters MetricDataQueries.member.1.MetricStat and MetricDataQueries.member.1.Expression are mutually exclusive",
        ),
        (
            vec![json!({"Id": "x"})],
            json!({}),
            ErrorCode::MissingParameter,
            "MetricDataQueries.member.1 must specify exactly one of MetricStat or Expression",
        ),
        (
            vec![json!({"Id": "x", "MetricStat": {"Period": 60, "Stat": "Sum"}})],
            json!({}),
            ErrorCode::MissingParameter,
            "The parameter MetricDataQueries.member.1.MetricStat.Metric is required.",
        ),
        (
            vec![
                json!({"Id": "x", "MetricStat": {"Metric": {"Namespace": "App"}, "Period": 60, "Stat": "Sum"}}),
            ],
            json!({}),
            ErrorCode::MissingParameter,
            "MetricDataQueries.member.1.MetricStat.Metric.MetricName",
        ),
        (
            vec![
                json!({"Id": "x", "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "m"}, "Period": 60}}),
            ],
            json!({}),
            ErrorCode::MissingParameter,
            "MetricDataQueries.member.1.MetricStat.Stat",
        ),
        (
            vec![
                json!({"Id": "x", "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "m"}, "Stat": "Sum"}}),
            ],
            json!({}),
            ErrorCode::MissingParameter,
            "MetricDataQueries.member.1.MetricStat.Period",
        ),
        (
            vec![stat_query("m1", "cpu", "Median", 60)],
            json!({}),
            ErrorCode::InvalidParameterValue,
            "MetricDataQueries.member.1.MetricStat.Stat",
        ),
        (
            vec![stat_query("m1", "cpu", "tm99", 60)],
            json!({}),
            ErrorCode::InvalidParameterValue,
            "not supported",
        ),
        (
            vec![stat_query("m1", "cpu", "p101", 60)],
            json!({}),
            ErrorCode::InvalidParameterValue,
            "MetricStat.Stat",
        ),
        (
            vec![stat_query("m1", "cpu", "Sum", 45)],
            json!({}),
            ErrorCode::InvalidParameterValue,
            "MetricDataQueries.member.1.MetricStat.Period",
        ),
        (
            vec![stat_query("m1", "cpu", "Sum", 60)],
            json!({"StartTime": secs(NOW - 20 * 24 * HOUR_MS)}),
            ErrorCode::InvalidParameterValue,
            "multiple of 300",
        ),
        (
            vec![
                json!({"Id": "m1", "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "m"}, "Period": 60, "Stat": "Sum", "Unit": "Nope"}}),
            ],
            json!({}),
            ErrorCode::ValidationError,
            "metricDataQueries.1.member.metricStat.unit",
        ),
        (
            vec![json!({"Id": "m1", "MetricStat": m1["MetricStat"], "ReturnData": false})],
            json!({}),
            ErrorCode::ValidationError,
            "ReturnData",
        ),
        (
            vec![json!({"Id": "e1", "Expression": ""})],
            json!({}),
            ErrorCode::ValidationError,
            "metricDataQueries.1.member.expression",
        ),
        (
            vec![json!({"Id": "e1", "Expression": "x".repeat(2049)})],
            json!({}),
            ErrorCode::ValidationError,
            "metricDataQueries.1.member.expression",
        ),
        (
            vec![json!({"Id": "e1", "Expression": "SELECT AVG(cpu) FROM App/X"})],
            json!({}),
            ErrorCode::ValidationError,
            "MetricDataQueries.member.1.Expression is not a valid Metrics Insights query",
        ),
        (
            vec![
                json!({"Id": "e1", "Expression": "SELECT AVG(cpu) FROM App"}),
                json!({"Id": "e2", "Expression": "SELECT SUM(cpu) FROM App"}),
            ],
            json!({}),
            ErrorCode::ValidationError,
            "only one Metrics Insights query",
        ),
        (
            vec![m1.clone(), json!({"Id": "e1", "Expression": "m1 +"})],
            json!({}),
            ErrorCode::ValidationError,
            "MetricDataQueries.member.2.Expression",
        ),
        (
            vec![m1.clone(), json!({"Id": "e1", "Expression": "m1 + m3"})],
            json!({}),
            ErrorCode::ValidationError,
            "'m3'",
        ),
        (
            vec![
                json!({"Id": "e1", "Expression": "e2 + 1"}),
                json!({"Id": "e2", "Expression": "e1 * 2"}),
            ],
            json!({}),
            ErrorCode::ValidationError,
            "circular reference between expressions: e1 -> e2 -> e1",
        ),
        (
            vec![json!({"Id": "e1", "Expression": "e1 + 1"})],
            json!({}),
            ErrorCode::ValidationError,
            "e1 -> e1",
        ),
        (
            vec![json!({"Id": "e1", "Expression": "1", "Period": 7})],
            json!({}),
            ErrorCode::InvalidParameterValue,
            "MetricDataQueries.member.1.Period",
        ),
        (
            (0..120)
                .map(|i| stat_query(&format!("m{i}"), "cpu", "Sum", 1))
                .collect(),
            json!({"StartTime": secs(NOW - 3 * HOUR_MS), "EndTime": secs(NOW + 2 * HOUR_MS)}),
            ErrorCode::InvalidParameterCombination,
            "across all queries",
        ),
    ];
    for (queries, over, code, fragment) in cases {
        let label = format!("{over} {:?}", queries.first().map(|q| q.to_string()));
        let e = validate(queries, over).expect_err(&label);
        assert_eq!(e.code, code, "{label}: {}", e.message);
        assert!(
            e.message.contains(fragment),
            "{label}: {:?} lacks {fragment:?}",
            e.message
        );
    }
}

#[test]
fn defaults() {
    let v = validate(vec![stat_query("m1", "cpu", "p99.9", 60)], json!({})).unwrap();
    assert_eq!(v.scan_by, ScanBy::TimestampDescending);
    assert_eq!(v.max_datapoints, 100_800);
    assert_eq!(v.cursor, 0);
    assert!(v.queries[0].return_data);
    let QueryKind::Stat(s) = &v.queries[0].kind else {
        panic!("stat query")
    };
    assert_eq!(s.stat.as_str(), "p99.9");
}

#[test]
fn expression_periods_and_order() {
    let v = validate(
        vec![
            json!({"Id": "e2", "Expression": "e1 * 2"}),
            json!({"Id": "e1", "Expression": "m1 + m2"}),
            stat_query("m1", "cpu", "Sum", 60),
            stat_query("m2", "cpu", "Sum", 300),
            json!({"Id": "e3", "Expression": "SUM(METRICS())"}),
            json!({"Id": "e4", "Expression": "42"}),
            json!({"Id": "e5", "Expression": "m1", "Period": 120}),
        ],
        json!({}),
    )
    .unwrap();
    let pos = |id: &str| {
        v.eval_order
            .iter()
            .position(|&i| v.queries[i].id == id)
            .unwrap()
    };
    assert!(pos("e1") < pos("e2"), "dependency order");
    let period = |id: &str| v.queries.iter().find(|q| q.id == id).unwrap().period_secs();
    assert_eq!(period("e1"), 300, "longest referenced period");
    assert_eq!(period("e2"), 300, "inherited through e1");
    assert_eq!(period("e3"), 300, "METRICS(): longest MetricStat period");
    assert_eq!(period("e4"), 60, "nothing referenced: 60");
    assert_eq!(period("e5"), 120, "explicit");
}

fn values_of(out: &GetMetricDataOutput, id: &str) -> Vec<f64> {
    out.metric_data_results
        .iter()
        .filter(|r| r.id == id)
        .flat_map(|r| r.values.clone())
        .collect()
}

#[test]
fn labels_follow_aws() {
    let run = |queries: Vec<Value>| {
        let v = validate(queries, json!({})).unwrap();
        let out = execute_get_metric_data(&v, &mut Table::default()).unwrap();
        out.metric_data_results
            .into_iter()
            .map(|r| r.label)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        run(vec![
            stat_query("a", "metric1", "Sum", 60),
            stat_query("b", "metric1", "Sum", 60)
        ]),
        ["metric1", "metric1"]
    );
    assert_eq!(
        run(vec![
            stat_query("a", "metric1", "Sum", 60),
            stat_query("b", "metric1", "Minimum", 60)
        ]),
        ["metric1 Sum", "metric1 Minimum"]
    );
    assert_eq!(
        run(vec![
            stat_query("a", "metric1", "Sum", 60),
            stat_query("b", "metric1", "Sum", 30)
        ]),
        ["metric1 60", "metric1 30"]
    );
    assert_eq!(
        run(vec![
            stat_query("a", "metric1", "Sum", 60),
            stat_query("b", "metric1", "Minimum", 30)
        ]),
        ["metric1 Sum 60", "metric1 Minimum 30"]
    );
    let mut labelled = stat_query("b", "metric1", "Minimum", 60);
    labelled["Label"] = json!("my label");
    assert_eq!(
        run(vec![stat_query("a", "metric1", "Sum", 60), labelled]),
        ["metric1 Sum", "my label"]
    );
    assert_eq!(
        run(vec![
            stat_query("a", "metric1", "Sum", 60),
            json!({"Id": "e1", "Expression": "a * 2"})
        ]),
        ["metric1", "e1"]
    );
}

#[test]
fn scan_by_and_rounding() {
    let start = NOW - HOUR_MS + 34_567; // rounds down to NOW - 1h
    for (scan, ascending) in [
        (None, false),
        (Some("TimestampDescending"), false),
        (Some("TimestampAscending"), true),
    ] {
        let over = match scan {
            Some(s) => {
                json!({"StartTime": secs(start), "EndTime": secs(NOW - HOUR_MS + 5 * MINUTE_MS), "ScanBy": s})
            }
            None => {
                json!({"StartTime": secs(start), "EndTime": secs(NOW - HOUR_MS + 5 * MINUTE_MS)})
            }
        };
        let v = validate(vec![stat_query("m1", "cpu", "Average", 60)], over).unwrap();
        let mut src = Table::with(&[("cpu", 10.0)]);
        let out = execute_get_metric_data(&v, &mut src).unwrap();
        assert_eq!(
            src.calls[0].2,
            Timestamp(NOW - HOUR_MS),
            "start rounded to the minute"
        );
        let r = &out.metric_data_results[0];
        assert_eq!(r.status_code, StatusCode::Complete);
        let mut expect_t: Vec<Timestamp> = (0..5)
            .map(|k| Timestamp(NOW - HOUR_MS + k * MINUTE_MS))
            .collect();
        let mut expect_v: Vec<f64> = (0..5).map(|k| 10.0 + k as f64).collect();
        if !ascending {
            expect_t.reverse();
            expect_v.reverse();
        }
        assert_eq!(r.timestamps, expect_t, "{scan:?}");
        assert_eq!(r.values, expect_v, "{scan:?}");
    }
}

#[test]
fn end_far_ahead_is_clamped_for_fetching() {
    let v = validate(
        vec![stat_query("m1", "cpu", "Sum", 3600)],
        json!({"EndTime": secs(NOW + 400 * 24 * HOUR_MS)}),
    )
    .unwrap();
    let mut src = Table::default();
    execute_get_metric_data(&v, &mut src).unwrap();
    assert_eq!(src.calls[0].3, Timestamp(NOW + 2 * HOUR_MS));
}

#[test]
fn expressions_evaluate_over_fetched_series() {
    let v = validate(
        vec![
            json!({"Id": "m1", "MetricStat": stat_query("m1", "a", "Sum", 60)["MetricStat"], "ReturnData": false}),
            json!({"Id": "m2", "MetricStat": stat_query("m2", "b", "Sum", 60)["MetricStat"], "ReturnData": false}),
            json!({"Id": "m3", "MetricStat": stat_query("m3", "c", "Sum", 60)["MetricStat"], "ReturnData": false}),
            json!({"Id": "e1", "Expression": "m1 + m2", "Label": "total"}),
            json!({"Id": "e2", "Expression": "SUM(METRICS())"}),
        ],
        json!({"EndTime": secs(NOW - HOUR_MS + 3 * MINUTE_MS), "ScanBy": "TimestampAscending"}),
    )
    .unwrap();
    let mut src = Table::with(&[("a", 1.0), ("b", 100.0), ("c", 1000.0)]);
    src.gaps = vec![1]; // second minute missing everywhere
    let out = execute_get_metric_data(&v, &mut src).unwrap();
    let ids: Vec<&str> = out
        .metric_data_results
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(
        ids,
        ["e1", "e2"],
        "ReturnData=false queries are not returned"
    );
    // minutes 0 and 2: a = 1, 3; b = 100, 102.
    assert_eq!(values_of(&out, "e1"), vec![101.0, 105.0]);
    assert_eq!(out.metric_data_results[0].label, "total");
    assert_eq!(
        out.metric_data_results[0].timestamps,
        vec![
            Timestamp(NOW - HOUR_MS),
            Timestamp(NOW - HOUR_MS + 2 * MINUTE_MS)
        ]
    );
    // SUM(METRICS()) over a, b, c: 1101 and 1107.
    assert_eq!(values_of(&out, "e2"), vec![1101.0, 1107.0]);
    assert_eq!(out.metric_data_results[1].label, "e2");
}

#[test]
fn unneeded_queries_are_not_fetched() {
    let v = validate(
        vec![
            stat_query("m1", "a", "Sum", 60),
            json!({"Id": "m2", "MetricStat": stat_query("m2", "b", "Sum", 60)["MetricStat"], "ReturnData": false}),
        ],
        json!({}),
    )
    .unwrap();
    let mut src = Table::default();
    execute_get_metric_data(&v, &mut src).unwrap();
    let fetched: Vec<&str> = src.calls.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(fetched, ["a"]);
}

#[test]
fn empty_results_are_complete_entries() {
    let v = validate(vec![stat_query("m1", "nothing", "Sum", 60)], json!({})).unwrap();
    let out = execute_get_metric_data(&v, &mut Table::default()).unwrap();
    assert_eq!(out.metric_data_results.len(), 1);
    let r = &out.metric_data_results[0];
    assert!(r.values.is_empty() && r.timestamps.is_empty());
    assert_eq!(r.status_code, StatusCode::Complete);
    assert_eq!(out.next_token, None);
    let json = serde_json::to_value(&out).unwrap();
    assert_eq!(
        json["MetricDataResults"][0]["StatusCode"],
        json!("Complete")
    );
    assert_eq!(json["MetricDataResults"][0]["Values"], json!([]));
    assert!(json.get("NextToken").is_none());
}

/// Three results with 5, 0 and 5 points (five one-minute periods).
fn paged_queries() -> Vec<Value> {
    vec![
        stat_query("a", "five", "Sum", 60),
        stat_query("b", "none", "Sum", 60),
        stat_query("c", "more", "Sum", 60),
    ]
}

fn paged_source() -> Table {
    Table::with(&[("five", 0.0), ("more", 100.0)])
}

fn paged_over(extra: Value) -> Value {
    let mut v = json!({"EndTime": secs(NOW - HOUR_MS + 5 * MINUTE_MS)});
    if let (Some(b), Some(o)) = (v.as_object_mut(), extra.as_object()) {
        b.extend(o.clone());
    }
    v
}

#[test]
fn paging_splits_exactly() {
    let page = |max: i64, token: Option<&str>| {
        let mut over = json!({"MaxDatapoints": max});
        if let Some(t) = token {
            over["NextToken"] = json!(t);
        }
        let v = validate(paged_queries(), paged_over(over)).unwrap();
        execute_get_metric_data(&v, &mut paged_source()).unwrap()
    };
    let full = page(1000, None);
    assert_eq!(full.next_token, None);
    let sizes: Vec<usize> = full
        .metric_data_results
        .iter()
        .map(|r| r.values.len())
        .collect();
    assert_eq!(sizes, [5, 0, 5]);

    let p1 = page(3, None);
    let shape = |o: &GetMetricDataOutput| {
        o.metric_data_results
            .iter()
            .map(|r| (r.id.clone(), r.values.len(), r.status_code))
            .collect::<Vec<_>>()
    };
    assert_eq!(shape(&p1), [("a".to_string(), 3, StatusCode::PartialData)]);
    let t1 = p1.next_token.clone().expect("more pages");
    let p2 = page(3, Some(&t1));
    assert_eq!(
        shape(&p2),
        [
            ("a".to_string(), 2, StatusCode::Complete),
            ("b".to_string(), 0, StatusCode::Complete),
            ("c".to_string(), 1, StatusCode::PartialData)
        ]
    );
    let t2 = p2.next_token.clone().expect("more pages");
    let p3 = page(3, Some(&t2));
    assert_eq!(shape(&p3), [("c".to_string(), 3, StatusCode::PartialData)]);
    let p4 = page(3, Some(p3.next_token.as_deref().expect("one more")));
    assert_eq!(shape(&p4), [("c".to_string(), 1, StatusCode::Complete)]);
    assert_eq!(p4.next_token, None);
}

#[test]
fn pages_concatenate_to_the_full_answer_for_every_page_size() {
    let run = |max: i64, token: Option<String>| {
        let mut over = json!({"MaxDatapoints": max});
        if let Some(t) = token {
            over["NextToken"] = json!(t);
        }
        let v = validate(paged_queries(), paged_over(over)).unwrap();
        execute_get_metric_data(&v, &mut paged_source()).unwrap()
    };
    let full = run(1000, None);
    for max in 1..=12 {
        let mut token = None;
        let mut seen: HashMap<String, (Vec<Timestamp>, Vec<f64>)> = HashMap::new();
        let mut order = Vec::new();
        for _ in 0..100 {
            let out = run(max, token.take());
            let points: usize = out.metric_data_results.iter().map(|r| r.values.len()).sum();
            assert!(points <= max as usize, "page of {max} holds {points}");
            for r in out.metric_data_results {
                if !order.contains(&r.id) {
                    order.push(r.id.clone());
                }
                let e = seen.entry(r.id).or_default();
                e.0.extend(r.timestamps);
                e.1.extend(r.values);
            }
            token = out.next_token;
            if token.is_none() {
                break;
            }
        }
        assert!(token.is_none(), "max {max}: paging terminates");
        let want: Vec<String> = full
            .metric_data_results
            .iter()
            .map(|r| r.id.clone())
            .collect();
        assert_eq!(
            order, want,
            "max {max}: every result once, in request order"
        );
        for r in &full.metric_data_results {
            assert_eq!(
                seen[&r.id],
                (r.timestamps.clone(), r.values.clone()),
                "max {max} id {}",
                r.id
            );
        }
    }
}

#[test]
fn token_is_bound_to_the_request() {
    let v = validate(paged_queries(), paged_over(json!({"MaxDatapoints": 2}))).unwrap();
    let token = execute_get_metric_data(&v, &mut paged_source())
        .unwrap()
        .next_token
        .unwrap();
    // Same request, other page size: accepted.
    assert!(
        validate(
            paged_queries(),
            paged_over(json!({"MaxDatapoints": 4, "NextToken": token}))
        )
        .is_ok()
    );
    // Other request: refused.
    let mut other = paged_queries();
    other[0]["MetricStat"]["Stat"] = json!("Maximum");
    let e = validate(other, paged_over(json!({"NextToken": token}))).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidNextToken);
    let e = validate(
        paged_queries(),
        json!({"NextToken": token, "ScanBy": "TimestampAscending"}),
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidNextToken);
}

#[test]
fn source_errors_propagate() {
    struct Failing;
    impl MetricStatSource for Failing {
        fn fetch(
            &mut self,
            _: &MetricStatQuery,
            _: Timestamp,
            _: Timestamp,
        ) -> ApiResult<Vec<(Timestamp, f64)>> {
            Err(ApiError::internal("disk on fire"))
        }
    }
    let v = validate(vec![stat_query("m1", "cpu", "Sum", 60)], json!({})).unwrap();
    assert_eq!(
        execute_get_metric_data(&v, &mut Failing).unwrap_err().code,
        ErrorCode::InternalServiceError
    );
}

#[test]
fn sloppy_source_output_is_cleaned() {
    struct Sloppy;
    impl MetricStatSource for Sloppy {
        fn fetch(
            &mut self,
            _: &MetricStatQuery,
            start: Timestamp,
            end: Timestamp,
        ) -> ApiResult<Vec<(Timestamp, f64)>> {
            let s = start.millis();
            Ok(vec![
                (Timestamp(s + 120_000), 3.0),
                (Timestamp(s), 1.0),
                (Timestamp(s + 60_000), f64::NAN),
                (Timestamp(s), 9.0),
                (Timestamp(s - 60_000), 0.0),
                (end, 5.0),
            ])
        }
    }
    let v = validate(
        vec![stat_query("m1", "cpu", "Sum", 60)],
        json!({"ScanBy": "TimestampAscending"}),
    )
    .unwrap();
    let out = execute_get_metric_data(&v, &mut Sloppy).unwrap();
    assert_eq!(out.metric_data_results[0].values, vec![1.0, 3.0]);
}

#[test]
fn anomaly_band_trains_on_two_weeks_before_the_start_and_yields_low_then_high() {
    let queries = vec![
        stat_query("m1", "cpu", "Average", 60),
        json!({"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, 1)", "Label": "x"}),
    ];
    let v = validate(queries, json!({})).unwrap();
    let mut src = Table::with(&[("cpu", 0.0)]);
    let out = execute_get_metric_data(&v, &mut src).unwrap();
    let training_start = Timestamp(NOW - HOUR_MS - crate::anomaly::band::TRAINING_WINDOW_MS);
    assert!(
        src.calls.iter().any(|(name, _, start, end)| name == "cpu"
            && *start == training_start
            && *end == Timestamp(NOW)),
        "{:?}",
        src.calls
    );
    let bands: Vec<_> = out
        .metric_data_results
        .iter()
        .filter(|r| r.id == "ad1")
        .collect();
    let labels: Vec<&str> = bands.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["x Low", "x High"]);
    let metric = out
        .metric_data_results
        .iter()
        .find(|r| r.id == "m1")
        .unwrap();
    assert_eq!(bands[0].timestamps, metric.timestamps);
    assert_eq!(bands[0].timestamps.len(), 60);
    // The table's values rise steadily (no two equal in a slot), so the
    // spread is positive and the band has width.
    for (lo, hi) in bands[0].values.iter().zip(&bands[1].values) {
        assert!(lo < hi, "{lo} < {hi}");
    }
}

#[test]
fn anomaly_band_needs_a_metric_query() {
    let queries = vec![
        json!({"Id": "m1", "ReturnData": false, "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "cpu"}, "Period": 60, "Stat": "Sum"}}),
        json!({"Id": "e1", "Expression": "m1 * 2", "ReturnData": false}),
        json!({"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(e1)"}),
    ];
    let v = validate(queries, json!({})).unwrap();
    let e = execute_get_metric_data(&v, &mut Table::with(&[("cpu", 0.0)])).unwrap_err();
    assert_eq!(e.code, ErrorCode::ValidationError);
    assert!(
        e.message.contains("expects the id of a metric"),
        "{}",
        e.message
    );
}
