use super::*;
use crate::metric::{Dimension, MetricId};

fn metric(ns: &str, name: &str, dims: &[(&str, &str)]) -> MetricId {
    MetricId {
        namespace: ns.into(),
        metric_name: name.into(),
        dimensions: dims
            .iter()
            .map(|(n, v)| Dimension {
                name: (*n).into(),
                value: (*v).into(),
            })
            .collect(),
    }
}

fn stats(start_ms: i64, values: &[f64]) -> PeriodStats {
    PeriodStats {
        start_ms,
        count: values.len() as f64,
        sum: values.iter().sum(),
        min: values.iter().copied().fold(f64::INFINITY, f64::min),
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    }
}

#[test]
fn parses_a_full_query() {
    let q = parse(
        r#"select avg(CPUUtilization) FROM SCHEMA("AWS/EC2", InstanceId, "Type") WHERE InstanceId = 'i-1' AND (Type != 'x' OR Type = 'y') GROUP BY InstanceId ORDER BY max() desc LIMIT 5"#,
    )
    .unwrap();
    assert_eq!(q.func, Func::Avg);
    assert_eq!(q.metric_name, "CPUUtilization");
    assert_eq!(
        q.source,
        Source::Schema {
            namespace: "AWS/EC2".into(),
            keys: vec!["InstanceId".into(), "Type".into()]
        }
    );
    assert!(matches!(q.filter, Some(Condition::And(_, _))));
    assert_eq!(q.group_by, vec!["InstanceId".to_string()]);
    assert_eq!(
        q.order_by,
        Some(OrderBy {
            func: Func::Max,
            direction: Direction::Desc
        })
    );
    assert_eq!(q.limit, Some(5));
}

#[test]
fn escapes_inside_quotes() {
    let q = parse(r#"SELECT SUM("a\"b") FROM ns WHERE k = 'it\'s'"#).unwrap();
    assert_eq!(q.metric_name, "a\"b");
    assert_eq!(
        q.filter,
        Some(Condition::Eq {
            key: "k".into(),
            value: "it's".into()
        })
    );
}

#[test]
fn refuses_bad_queries_with_a_reason() {
    let cases: &[(&str, &str)] = &[
        ("SELECT AVG(x) FROM AWS/EC2", "must be in double quotes"),
        ("SELECT MEDIAN(x) FROM ns", "Unknown function MEDIAN"),
        ("SELECT AVG(x) FROM ns LIMIT 501", "LIMIT 501"),
        ("SELECT AVG(x) FROM ns LIMIT 0", "LIMIT 0"),
        (
            "SELECT AVG(x) FROM ns WHERE k = v",
            "must be in single quotes",
        ),
        ("SELECT AVG(x) FROM ns WHERE k = 'v", "never closed"),
        ("SELECT AVG(x)", "expected FROM"),
        ("SELECT AVG(x) FROM ns GROUP InstanceId", "expected BY"),
        ("SELECT AVG(x) FROM ns ORDER BY AVG(x)", "take no argument"),
        ("SELECT AVG(x) FROM ns extra", "expected the end"),
        (
            "SELECT AVG(x) FROM ns WHERE k ~ 'v'",
            "Unexpected character '~'",
        ),
        ("SELECT AVG() FROM ns", "expected a metric name"),
        ("SELECT AVG(FROM) FROM ns", "expected a metric name"),
    ];
    for (src, want) in cases {
        let err = parse(src).unwrap_err().to_string();
        assert!(err.contains(want), "{src}: {err}");
    }
}

#[test]
fn parsing_is_total_on_hostile_input() {
    let deep = format!("SELECT AVG(x) FROM ns WHERE {}k = 'v'", "(".repeat(10_000));
    assert!(matches!(parse(&deep), Err(QueryError::TooDeep { .. })));
    for src in [
        "",
        "SELECT",
        "\"",
        "'",
        "SELECT AVG(x) FROM SCHEMA(",
        "é日本",
        "\\",
    ] {
        let _ = parse(src);
    }
}

#[test]
fn is_query_needs_select_as_a_word() {
    assert!(is_query("  select AVG(x) FROM ns"));
    assert!(!is_query("SELECTED + 1"));
    assert!(!is_query("m1 + 1"));
}

#[test]
fn schema_matches_exact_dimension_sets_only() {
    let q = parse(r#"SELECT AVG(cpu) FROM SCHEMA(ns, a, b)"#).unwrap();
    assert!(q.matches(&metric("ns", "cpu", &[("b", "1"), ("a", "2")])));
    assert!(!q.matches(&metric("ns", "cpu", &[("a", "2")])));
    assert!(!q.matches(&metric("ns", "cpu", &[("a", "2"), ("b", "1"), ("c", "3")])));
    let bare = parse("SELECT AVG(cpu) FROM ns").unwrap();
    assert!(bare.matches(&metric("ns", "cpu", &[("a", "2"), ("c", "3")])));
    assert!(bare.matches(&metric("ns", "cpu", &[])));
    assert!(!bare.matches(&metric("other", "cpu", &[])));
    let none = parse(r#"SELECT AVG(cpu) FROM SCHEMA(ns)"#).unwrap();
    assert!(none.matches(&metric("ns", "cpu", &[])));
    assert!(!none.matches(&metric("ns", "cpu", &[("a", "1")])));
}

#[test]
fn groups_aggregate_exactly_and_rank_over_the_window() {
    let q = parse("SELECT AVG(cpu) FROM ns GROUP BY g ORDER BY SUM() DESC LIMIT 2").unwrap();
    let data = vec![
        (
            metric("ns", "cpu", &[("g", "a")]),
            vec![stats(0, &[1.0, 3.0]), stats(60_000, &[5.0])],
        ),
        (metric("ns", "cpu", &[("g", "a")]), vec![stats(0, &[2.0])]),
        (metric("ns", "cpu", &[("g", "b")]), vec![stats(0, &[100.0])]),
        (metric("ns", "cpu", &[("g", "c")]), vec![stats(0, &[1.0])]),
        (metric("ns", "cpu", &[]), vec![stats(0, &[50.0])]),
    ];
    let out = evaluate(&q, data);
    // SUMs: a = 11, b = 100, Other = 50, c = 1 → b, Other.
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].label(), "b");
    assert_eq!(out[0].values, vec![100.0]);
    assert_eq!(out[1].label(), OTHER);

    let q = parse("SELECT AVG(cpu) FROM ns WHERE g = 'a'").unwrap();
    let out = evaluate(
        &q,
        vec![
            (
                metric("ns", "cpu", &[("g", "a")]),
                vec![stats(0, &[1.0, 3.0]), stats(60_000, &[5.0])],
            ),
            (
                metric("ns", "cpu", &[("g", "a"), ("h", "x")]),
                vec![stats(0, &[2.0])],
            ),
            (metric("ns", "cpu", &[("g", "b")]), vec![stats(0, &[100.0])]),
        ],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].timestamps, vec![0, 60_000]);
    assert_eq!(out[0].values, vec![2.0, 5.0]);
}
