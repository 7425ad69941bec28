//! Expression table over small hand-made series; expected values are worked
//! out by hand next to each case.

use super::*;
use proptest::prelude::*;

/// One period, in ms. The grid is `0, P, 2P, 3P, 4P` (start 0, end 5P).
const P: i64 = 60_000;

fn series(label: &str, points: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        label: label.to_string(),
        timestamps: points.iter().map(|(k, _)| *k).collect(),
        values: points.iter().map(|(_, v)| *v).collect(),
    }
}

/// Points at whole periods: `(k, v)` means value `v` at `k*P`.
fn at_periods(label: &str, points: &[(i64, f64)]) -> TimeSeries {
    let points: Vec<(i64, f64)> = points.iter().map(|(k, v)| (k * P, *v)).collect();
    series(label, &points)
}

struct TestContext {
    /// `MetricStat` results: what `METRICS()` sees.
    metrics: Vec<(String, TimeSeries)>,
    /// Other ids (e.g. results of earlier expressions).
    others: Vec<(String, TimeSeries)>,
    period_ms: i64,
    start_ms: i64,
    end_ms: i64,
}

impl Context for TestContext {
    fn series(&self, id: &str) -> Option<&TimeSeries> {
        self.metrics
            .iter()
            .chain(&self.others)
            .find(|(name, _)| name == id)
            .map(|(_, s)| s)
    }
    fn all_series(&self) -> Vec<(&str, &TimeSeries)> {
        self.metrics
            .iter()
            .map(|(id, s)| (id.as_str(), s))
            .collect()
    }
    fn period_ms(&self) -> i64 {
        self.period_ms
    }
    fn start_ms(&self) -> i64 {
        self.start_ms
    }
    fn end_ms(&self) -> i64 {
        self.end_ms
    }
    fn insight_rule_metric(&self, rule: &str, metric: &str) -> Option<&TimeSeries> {
        (rule == "web" && metric == "UniqueContributors").then_some(&self.others[0].1)
    }
}

/// m1 = CPU: 1 2 3 4 5 at every period.
/// m2 = Disk: 10 @1, 20 @2, 40 @4 (gaps at 0 and 3).
/// m3 = Mem: 5 @0, 7 @2.
/// m4 (not a metric): 2 @1, 6 @3 — gaps at both ends.
/// m5 (not a metric): 9 @ P/2 — off the grid.
/// none (not a metric): empty.
fn context() -> TestContext {
    TestContext {
        metrics: vec![
            (
                "m1".into(),
                at_periods("CPU", &[(0, 1.0), (1, 2.0), (2, 3.0), (3, 4.0), (4, 5.0)]),
            ),
            (
                "m2".into(),
                at_periods("Disk", &[(1, 10.0), (2, 20.0), (4, 40.0)]),
            ),
            ("m3".into(), at_periods("Mem", &[(0, 5.0), (2, 7.0)])),
        ],
        others: vec![
            ("m4".into(), at_periods("Tail", &[(1, 2.0), (3, 6.0)])),
            ("m5".into(), series("Off", &[(P / 2, 9.0)])),
            ("none".into(), series("Nothing", &[])),
        ],
        period_ms: P,
        start_ms: 0,
        end_ms: 5 * P,
    }
}

fn run(expr: &str) -> Vec<TimeSeries> {
    let parsed = parse(expr).unwrap_or_else(|e| panic!("parse {expr:?}: {e}"));
    evaluate(&parsed, &context()).unwrap_or_else(|e| panic!("evaluate {expr:?}: {e}"))
}

/// Asserts a single-series result, comparing values to 1e-9.
fn check(expr: &str, label: &str, expected: &[(i64, f64)]) {
    let out = run(expr);
    assert_eq!(out.len(), 1, "{expr}: expected one series, got {out:?}");
    check_series(expr, &out[0], label, expected);
}

fn check_series(expr: &str, got: &TimeSeries, label: &str, expected: &[(i64, f64)]) {
    let want = at_periods(label, expected);
    assert_eq!(got.label, want.label, "{expr}: label");
    assert_eq!(got.timestamps, want.timestamps, "{expr}: timestamps");
    for (g, w) in got.values.iter().zip(&want.values) {
        assert!(
            (g - w).abs() < 1e-9,
            "{expr}: values {:?} != {:?}",
            got.values,
            want.values
        );
    }
}

/// Asserts a scalar result: `value` at each of the 5 grid timestamps.
fn check_scalar(expr: &str, value: f64) {
    let grid: Vec<(i64, f64)> = (0..5).map(|k| (k, value)).collect();
    check(expr, expr, &grid);
}

#[test]
fn arithmetic_on_scalars_and_precedence() {
    let cases: &[(&str, f64)] = &[
        ("2 * 3", 6.0),
        ("2 + 3 * 4", 14.0),   // * before +
        ("(2 + 3) * 4", 20.0), // parentheses
        ("10 - 4 - 3", 3.0),   // left-associative: (10-4)-3
        ("100 / 10 / 5", 2.0), // (100/10)/5
        ("2 ^ 3 ^ 2", 512.0),  // right-associative: 2^(3^2) = 2^9
        ("-2 ^ 2", -4.0),      // ^ binds tighter than unary minus
        ("2 ^ -1", 0.5),
        ("2 * -3", -6.0),
        ("--2", 2.0),
        ("1e3 + .5", 1000.5),
        ("2.5E-1 * 4", 1.0),
        ("1 + 2 > 2", 1.0), // arithmetic before comparison: 3 > 2
        ("3 != 3", 0.0),
        ("2 >= 2", 1.0),
        ("1 <= 0", 0.0),
        ("1 == 1 == 1", 1.0),     // (1==1)==1
        ("1 < 2 AND 3 < 2", 0.0), // comparison before AND
        ("1 < 2 OR 3 < 2", 1.0),
        ("1 || 0 && 0", 1.0), // AND before OR: 1 || (0 && 0)
        ("(1 || 0) && 0", 0.0),
        ("0 OR 0 AND 1", 0.0),
        ("2 && 3", 1.0), // any non-zero is true
    ];
    for (expr, value) in cases {
        check_scalar(expr, *value);
    }
}

#[test]
fn series_arithmetic_and_joins() {
    check(
        "m1 + 1",
        "CPU",
        &[(0, 2.0), (1, 3.0), (2, 4.0), (3, 5.0), (4, 6.0)],
    );
    check(
        "1 + m1 * 2",
        "CPU",
        &[(0, 3.0), (1, 5.0), (2, 7.0), (3, 9.0), (4, 11.0)],
    );
    check(
        "-m1",
        "CPU",
        &[(0, -1.0), (1, -2.0), (2, -3.0), (3, -4.0), (4, -5.0)],
    );
    // Inner join: only periods 1, 2, 4 are in both. 2+10, 3+20, 5+40.
    check("m1 + m2", "CPU", &[(1, 12.0), (2, 23.0), (4, 45.0)]);
    // Label of the left operand.
    check("m2 / m1", "Disk", &[(1, 5.0), (2, 20.0 / 3.0), (4, 8.0)]);
    // No common timestamp with m5 (off-grid).
    check("m1 * m5", "CPU", &[]);
    // Division by zero gives Inf, which AWS drops.
    check("m1 / 0", "CPU", &[]);
    check(
        "m1 / (m1 - 3)",
        "CPU",
        &[(0, -0.5), (1, -2.0), (3, 4.0), (4, 2.5)],
    );
    check(
        "m1 > 2",
        "CPU",
        &[(0, 0.0), (1, 0.0), (2, 1.0), (3, 1.0), (4, 1.0)],
    );
    // m2 ^ 0.5 works (there is no SQRT in AWS's list).
    check(
        "m2 ^ 0.5",
        "Disk",
        &[(1, 10f64.sqrt()), (2, 20f64.sqrt()), (4, 40f64.sqrt())],
    );
}

#[test]
fn aggregates_over_one_series_are_scalars() {
    check_scalar("SUM(m1)", 15.0); // 1+2+3+4+5
    check_scalar("AVG(m1)", 3.0);
    check_scalar("MIN(m2)", 10.0);
    check_scalar("MAX(m2)", 40.0);
    // Population standard deviation of 1..5: sqrt(((4+1+0+1+4))/5) = sqrt(2).
    check_scalar("STDDEV(m1)", 2f64.sqrt());
    check_scalar("SUM(7)", 7.0);
    // m1 minus its mean: 1-3, 2-3, ...
    check(
        "m1 - AVG(m1)",
        "CPU",
        &[(0, -2.0), (1, -1.0), (2, 0.0), (3, 1.0), (4, 2.0)],
    );
    // Empty series: no value, so no point at all.
    assert_eq!(run("SUM(none)")[0].timestamps, Vec::<i64>::new());
}

#[test]
fn aggregates_over_arrays_are_per_timestamp() {
    // METRICS() = [m1, m2, m3]. At 0: 1+5; 1: 2+10; 2: 3+20+7; 3: 4; 4: 5+40.
    check(
        "SUM(METRICS())",
        "",
        &[(0, 6.0), (1, 12.0), (2, 30.0), (3, 4.0), (4, 45.0)],
    );
    check(
        "MAX(METRICS())",
        "",
        &[(0, 5.0), (1, 10.0), (2, 20.0), (3, 4.0), (4, 40.0)],
    );
    check(
        "MIN(METRICS())",
        "",
        &[(0, 1.0), (1, 2.0), (2, 3.0), (3, 4.0), (4, 5.0)],
    );
    // Averages of [m1, m2]: 1; (2+10)/2; (3+20)/2; 4; (5+40)/2.
    check(
        "AVG([m1, m2])",
        "",
        &[(0, 1.0), (1, 6.0), (2, 11.5), (3, 4.0), (4, 22.5)],
    );
    // Population stddev of {1,5} = 2, of {3,7} = 2 for [m1, m3]; lone values 0.
    check(
        "STDDEV([m1, m3])",
        "",
        &[(0, 2.0), (1, 0.0), (2, 2.0), (3, 0.0), (4, 0.0)],
    );
}

#[test]
fn metrics_arrays_and_filters() {
    let out = run("METRICS() * 2");
    let labels: Vec<&str> = out.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(labels, ["CPU", "Disk", "Mem"]);
    check_series("METRICS() * 2", &out[2], "Mem", &[(0, 10.0), (2, 14.0)]);
    // Array ⊕ series joins each member with the series: m2 + m1, m3 + m1.
    let out = run("METRICS(\"M\") + m1");
    assert_eq!(out.len(), 1, "only 'Mem' contains 'M' (case-sensitive)");
    check_series(
        "METRICS(\"M\") + m1",
        &out[0],
        "Mem",
        &[(0, 6.0), (2, 10.0)],
    );
    check(
        "METRICS('Disk')",
        "Disk",
        &[(1, 10.0), (2, 20.0), (4, 40.0)],
    );
    assert!(run("METRICS(\"nope\")").is_empty());
    check(
        "FIRST(METRICS())",
        "CPU",
        &[(0, 1.0), (1, 2.0), (2, 3.0), (3, 4.0), (4, 5.0)],
    );
    check("LAST(METRICS())", "Mem", &[(0, 5.0), (2, 7.0)]);
    check_scalar("METRIC_COUNT(METRICS())", 3.0);
    check_scalar("METRIC_COUNT([m1, m4, none])", 3.0);
    assert_eq!(run("REMOVE_EMPTY([m1, none])").len(), 1);
    assert_eq!(run("[m1, METRICS()]").len(), 4, "arrays flatten");
}

#[test]
fn fill_with_constants_series_and_modes() {
    // Gaps of m2 are periods 0 and 3.
    check(
        "FILL(m2, 0)",
        "Disk",
        &[(0, 0.0), (1, 10.0), (2, 20.0), (3, 0.0), (4, 40.0)],
    );
    // REPEAT: head back-filled with the first value (10), 3 repeats 20.
    check(
        "FILL(m2, REPEAT)",
        "Disk",
        &[(0, 10.0), (1, 10.0), (2, 20.0), (3, 20.0), (4, 40.0)],
    );
    // LINEAR: 3 is halfway between 20 @2 and 40 @4; the head holds 10.
    check(
        "FILL(m2, LINEAR)",
        "Disk",
        &[(0, 10.0), (1, 10.0), (2, 20.0), (3, 30.0), (4, 40.0)],
    );
    // LINEAR with gaps at both ends: holds 2 at the head, 6 at the tail,
    // and 2 @1 → 6 @3 gives 4 @2.
    check(
        "FILL(m4, LINEAR)",
        "Tail",
        &[(0, 2.0), (1, 2.0), (2, 4.0), (3, 6.0), (4, 6.0)],
    );
    check(
        "FILL(m4, REPEAT)",
        "Tail",
        &[(0, 2.0), (1, 2.0), (2, 2.0), (3, 6.0), (4, 6.0)],
    );
    // Filling from another series (m1 has 1 @0, 4 @3) and from a scalar of it.
    check(
        "FILL(m2, m1)",
        "Disk",
        &[(0, 1.0), (1, 10.0), (2, 20.0), (3, 4.0), (4, 40.0)],
    );
    check(
        "FILL(m2, MIN(m1))",
        "Disk",
        &[(0, 1.0), (1, 10.0), (2, 20.0), (3, 1.0), (4, 40.0)],
    );
    // Nothing to repeat or interpolate in an empty series; a constant fills all.
    check("FILL(none, REPEAT)", "Nothing", &[]);
    check("FILL(none, LINEAR)", "Nothing", &[]);
    check(
        "FILL(none, 7)",
        "Nothing",
        &[(0, 7.0), (1, 7.0), (2, 7.0), (3, 7.0), (4, 7.0)],
    );
    // Non-finite points (division by zero) count as gaps.
    check(
        "FILL(m2 / 0, 5)",
        "Disk",
        &[(0, 5.0), (1, 5.0), (2, 5.0), (3, 5.0), (4, 5.0)],
    );
    // Off-grid points are kept; every grid timestamp is filled around them.
    let out = run("FILL(m5, 0)");
    assert_eq!(out[0].timestamps, [0, P / 2, P, 2 * P, 3 * P, 4 * P]);
    assert_eq!(out[0].values, [0.0, 9.0, 0.0, 0.0, 0.0, 0.0]);
    // On an array: each member filled.
    let out = run("FILL(METRICS(), 0)");
    assert_eq!(out.len(), 3);
    check_series(
        "FILL(METRICS(), 0)",
        &out[2],
        "Mem",
        &[(0, 5.0), (1, 0.0), (2, 7.0), (3, 0.0), (4, 0.0)],
    );
    // Fill then combine: the classic "treat missing as zero" sum.
    check(
        "FILL(m2, 0) + m1",
        "Disk",
        &[(0, 1.0), (1, 12.0), (2, 23.0), (3, 4.0), (4, 45.0)],
    );
}

#[test]
fn rate_diff_and_running_functions() {
    // m1 rises by 1 every 60 s: 1/60 per second, first point dropped.
    let r = 1.0 / 60.0;
    check("RATE(m1)", "CPU", &[(1, r), (2, r), (3, r), (4, r)]);
    // m2: 10 @1, 20 @2, 40 @4: (20-10)/60 and (40-20)/120.
    check("RATE(m2)", "Disk", &[(2, 10.0 / 60.0), (4, 20.0 / 120.0)]);
    check("DIFF(m2)", "Disk", &[(2, 10.0), (4, 20.0)]);
    check("DIFF_TIME(m2)", "Disk", &[(2, 60.0), (4, 120.0)]);
    check(
        "RUNNING_SUM(m1)",
        "CPU",
        &[(0, 1.0), (1, 3.0), (2, 6.0), (3, 10.0), (4, 15.0)],
    );
    check("EPOCH(m2)", "Disk", &[(1, 60.0), (2, 120.0), (4, 240.0)]);
    check("RATE(m3)", "Mem", &[(2, 2.0 / 120.0)]);
    check("DIFF(none)", "Nothing", &[]);
}

#[test]
fn value_functions() {
    check(
        "ABS(m1 - 3)",
        "CPU",
        &[(0, 2.0), (1, 1.0), (2, 0.0), (3, 1.0), (4, 2.0)],
    );
    // m1/2 = .5 1 1.5 2 2.5
    check(
        "CEIL(m1 / 2)",
        "CPU",
        &[(0, 1.0), (1, 1.0), (2, 2.0), (3, 2.0), (4, 3.0)],
    );
    check(
        "FLOOR(m1 / 2)",
        "CPU",
        &[(0, 0.0), (1, 1.0), (2, 1.0), (3, 2.0), (4, 2.0)],
    );
    check(
        "LOG10(m2)",
        "Disk",
        &[(1, 1.0), (2, 20f64.log10()), (4, 40f64.log10())],
    );
    check("LOG(m3)", "Mem", &[(0, 5f64.ln()), (2, 7f64.ln())]);
    // LOG(0) = -Inf is dropped.
    check(
        "LOG(m1 - 1)",
        "CPU",
        &[(1, 0.0), (2, 2f64.ln()), (3, 3f64.ln()), (4, 4f64.ln())],
    );
    check_scalar("PERIOD(m1)", 60.0);
    check(
        "m1 / PERIOD(m1)",
        "CPU",
        &[
            (0, 1.0 / 60.0),
            (1, 2.0 / 60.0),
            (2, 3.0 / 60.0),
            (3, 4.0 / 60.0),
            (4, 5.0 / 60.0),
        ],
    );
    check_scalar("DATAPOINT_COUNT(m2)", 3.0);
    check(
        "TIME_SERIES(4)",
        "",
        &[(0, 4.0), (1, 4.0), (2, 4.0), (3, 4.0), (4, 4.0)],
    );
}

#[test]
fn if_with_and_without_else() {
    check(
        "IF(m1 > 2, m1, 0)",
        "CPU",
        &[(0, 0.0), (1, 0.0), (2, 3.0), (3, 4.0), (4, 5.0)],
    );
    // Without else the false points are dropped.
    check("IF(m1 > 2, m1)", "CPU", &[(2, 3.0), (3, 4.0), (4, 5.0)]);
    // Branches as series: at 0,1 false → m1 (1, 2); at 2 true → m2 = 20;
    // at 3 true but m2 has no point → dropped; at 4 true → 40.
    check(
        "IF(m1 > 2, m2, m1)",
        "Disk",
        &[(0, 1.0), (1, 2.0), (2, 20.0), (4, 40.0)],
    );
    // A scalar condition picks a whole branch.
    check("IF(1, m3, m2)", "Mem", &[(0, 5.0), (2, 7.0)]);
    check("IF(0, m3)", "Mem", &[]);
    // Classic divide-by-zero guard: m1 - 3 is 0 at period 2.
    check(
        "IF(m1 - 3 != 0, 6 / (m1 - 3), 0)",
        "CPU",
        &[(0, -3.0), (1, -6.0), (2, 0.0), (3, 6.0), (4, 3.0)],
    );
    check(
        "IF(m1 < 2 || m1 > 4, 1, 0)",
        "CPU",
        &[(0, 1.0), (1, 0.0), (2, 0.0), (3, 0.0), (4, 1.0)],
    );
    // Over an array: each member. METRICS("Mem") > 6 only at 2.
    let out = run("IF(METRICS() > 6, 1)");
    assert_eq!(out.len(), 3);
    check_series("IF", &out[1], "Disk", &[(1, 1.0), (2, 1.0), (4, 1.0)]);
    check_series("IF", &out[2], "Mem", &[(2, 1.0)]);
}

#[test]
fn references() {
    let e = parse("m1 + m2 * m1 - FILL(m3, m2) / SUM(METRICS())").unwrap();
    assert_eq!(e.referenced_ids(), ["m1", "m2", "m3"]);
    assert!(e.uses_all_metrics());
    let e = parse("IF(b_2 > aB, x)").unwrap();
    assert_eq!(e.referenced_ids(), ["b_2", "aB", "x"]);
    assert!(!e.uses_all_metrics());
    assert_eq!(e.source(), "IF(b_2 > aB, x)");
    assert!(parse("METRICS(\"x\")").unwrap().uses_all_metrics());
    assert!(parse("2 * 3").unwrap().referenced_ids().is_empty());
}

fn parse_error(expr: &str) -> String {
    let err = parse(expr).expect_err(expr);
    assert_eq!(err.code, ErrorCode::ValidationError, "{expr}");
    err.message
}

#[test]
fn parse_errors_say_what_and_where() {
    assert_eq!(
        parse_error("m1 +"),
        "Error in expression 'm1 +': Unexpected end of expression at position 4"
    );
    let cases: &[(&str, &str)] = &[
        ("m1 + * 2", "Unexpected '*' at position 5"),
        ("(m1", "Unexpected end of expression at position 3"),
        ("m1)", "Unexpected ')' at position 2"),
        ("m1 m2", "Unexpected 'm2' at position 3"),
        ("m1 # 2", "Unexpected character '#' at position 3"),
        ("m1 = 2", "Unexpected character '=' at position 3"),
        ("m1 | m2", "Unexpected character '|' at position 3"),
        ("m1 + é", "Unexpected character 'é' at position 5"), // characters, not bytes
        ("FOO(m1)", "Unknown function 'FOO' at position 0"),
        ("1 + sum(m1)", "Unknown function 'sum' at position 4"),
        ("Mx + 1", "Unexpected 'Mx' at position 0"),
        ("REPEAT", "Unexpected 'REPEAT' at position 0"),
        ("_x", "Invalid id '_x'"),
        ("2m1", "Invalid number '2m1' at position 0"),
        ("1e", "Invalid number '1e' at position 0"),
        ("1.2.3", "Invalid number '1.2.3' at position 0"),
        ("1e999", "Invalid number '1e999' at position 0"),
        (".", "Unexpected character '.' at position 0"),
        ("METRICS(m1)", "Unexpected 'm1' at position 8"),
        ("METRICS(\"a", "Unterminated string at position 8"),
        (
            "FILL(m1)",
            "Function FILL expects 2 arguments but got 1 at position 0",
        ),
        (
            "IF(m1)",
            "Function IF expects 2 to 3 arguments but got 1 at position 0",
        ),
        (
            "m1 + ABS()",
            "Function ABS expects 1 argument but got 0 at position 5",
        ),
        (
            "METRICS('a', 'b')",
            "Unexpected string \"b\" at position 13",
        ),
        ("SUM(m1,)", "Unexpected ')' at position 7"),
        ("[]", "Unexpected ']' at position 1"),
        ("   ", "Unexpected end of expression at position 3"),
        ("\"x\"", "Unexpected string \"x\" at position 0"),
    ];
    for (expr, suffix) in cases {
        let message = parse_error(expr);
        assert!(
            message.starts_with(&format!("Error in expression '{expr}': ")),
            "{expr}: {message}"
        );
        assert!(
            message.contains(suffix),
            "{expr}: {message:?} lacks {suffix:?}"
        );
    }
}

#[test]
fn length_and_nesting_limits() {
    assert!(parse_error("").contains("between 1 and 2048"));
    assert!(parse_error(&"m".repeat(2049)).contains("between 1 and 2048"));
    // 2048 two-byte characters are 2048 characters: the limit counts chars.
    assert!(!parse_error(&"é".repeat(2048)).contains("between"));
    parse(&"m".repeat(2048)).expect("a 2048-character id is fine");

    let nested = |n: usize| format!("{}1{}", "(".repeat(n), ")".repeat(n));
    parse(&nested(MAX_NESTING)).expect("at the limit");
    assert!(parse_error(&nested(MAX_NESTING + 1)).contains("nested more than 64"));
    assert!(parse_error(&"-".repeat(100)).contains("nested more than 64"));
    assert!(parse_error(&"ABS(".repeat(200)).contains("nested more than 64"));

    // A 2047-character flat chain is not deep: 1024 ones add up.
    let chain = vec!["1"; 1024].join("+");
    assert_eq!(chain.len(), 2047);
    check_scalar(&chain, 1024.0);
    let pow_chain = vec!["1"; 1024].join("^");
    check_scalar(&pow_chain, 1.0);
}

#[test]
fn deepest_expression_parses_and_evaluates_on_a_small_stack() {
    // Worst nesting the parser admits, mixing every recursive construct.
    // Measured need: 128-256 KiB in debug, 64-128 KiB in release; tokio's
    // worker threads have 2 MiB.
    let mut expr = "m1".to_string();
    for i in 0..MAX_NESTING / 2 {
        expr = if i % 2 == 0 {
            format!("-ABS({expr} + 1 * 2 ^ 1 > 0 OR 1)")
        } else {
            format!("[FILL({expr}, 1)]")
        };
    }
    let handle = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(move || {
            let parsed = parse(&expr).expect("within the nesting limit");
            evaluate(&parsed, &context()).map(|out| out.len())
        })
        .expect("spawn");
    assert_eq!(handle.join().expect("no stack overflow"), Ok(1));
}

#[test]
fn evaluation_errors() {
    let eval_error = |expr: &str| {
        let err = evaluate(&parse(expr).unwrap(), &context()).expect_err(expr);
        assert_eq!(err.code, ErrorCode::ValidationError);
        assert!(
            err.message
                .starts_with(&format!("Error in expression '{expr}': "))
        );
        err.message
    };
    assert!(eval_error("m9 + 1").contains("Unrecognized metric id 'm9'"));
    assert!(eval_error("METRICS() + METRICS()").contains("two arrays"));
    assert!(eval_error("RATE(5)").contains("RATE expects a time series"));
    assert!(eval_error("[m1, 2]").contains("Array elements must be time series"));
    assert!(eval_error("FILL(m1, METRICS())").contains("array"));
    assert!(eval_error("IF(METRICS(), METRICS())").contains("at most one array"));
    assert!(eval_error("DATAPOINT_COUNT(METRICS())").contains("single time series"));

    let mut ctx = context();
    ctx.period_ms = 0;
    let err = evaluate(&parse("2").unwrap(), &ctx).expect_err("period 0");
    assert!(err.message.contains("period must be positive"));
    ctx.period_ms = 1;
    ctx.end_ms = i64::MAX;
    ctx.start_ms = i64::MIN;
    let err = evaluate(&parse("2").unwrap(), &ctx).expect_err("huge grid");
    assert!(err.message.contains("more than the 1000000"));
}

#[test]
fn evaluation_points_are_budgeted() {
    // A 1,000,000-point grid: filling 21 copies of m1 would make 21 M points,
    // over the 20 M budget, and is refused before anything is allocated.
    let mut ctx = context();
    ctx.period_ms = 1;
    ctx.end_ms = 1_000_000;
    let members = vec!["m1"; 21].join(", ");
    let expr = parse(&format!("FILL([{members}], 0)")).unwrap();
    let err = evaluate(&expr, &ctx).expect_err("over budget");
    assert!(
        err.message.contains("more than 20000000 data points"),
        "{err}"
    );
    // Three copies are fine.
    let out = evaluate(&parse("FILL([m1, m2, m3], 0)").unwrap(), &ctx).unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!(out[0].timestamps.len(), 1_000_000);
}

#[test]
fn empty_time_range_gives_empty_scalar_series() {
    let mut ctx = context();
    ctx.end_ms = ctx.start_ms;
    let out = evaluate(&parse("1 + 1").unwrap(), &ctx).unwrap();
    assert_eq!(out, [series("1 + 1", &[])]);
}

#[test]
fn malformed_context_series_do_not_panic() {
    // A caller bug must not become a panic: unsorted timestamps, duplicate
    // timestamps, more timestamps than values, extreme timestamps, NaN.
    let mut ctx = context();
    ctx.metrics[0].1 = series(
        "Bad",
        &[(3 * P, 1.0), (P, f64::NAN), (P, 2.0), (i64::MAX, 3.0)],
    );
    ctx.metrics[0].1.timestamps.push(i64::MIN);
    ctx.metrics[1].1 = series("Extreme", &[(i64::MIN, 1.0), (i64::MAX, -1.0)]);
    for expr in [
        "SUM(METRICS())",
        "STDDEV(METRICS())",
        "FILL(m1, LINEAR)",
        "FILL(m1, REPEAT)",
        "FILL(m2, LINEAR)",
        "FILL(m1, m2)",
        "RATE(m1)",
        "RATE(m2)",
        "DIFF_TIME(m2)",
        "m1 + m2",
        "IF(m1, m2, m1)",
        "EPOCH(m1)",
        "RUNNING_SUM(m1)",
        "AVG(m1)",
        "METRICS() * m1",
    ] {
        let parsed = parse(expr).unwrap();
        let out = evaluate(&parsed, &ctx).unwrap_or_else(|e| panic!("{expr}: {e}"));
        for s in &out {
            assert!(s.values.iter().all(|v| v.is_finite()), "{expr}: {s:?}");
        }
    }
}

/// Fragments that make random input likely to parse, so that the evaluator
/// gets exercised, not just the lexer.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("m1".to_string()),
        Just("m2".to_string()),
        Just("m5".to_string()),
        Just("none".to_string()),
        Just("METRICS()".to_string()),
        Just("METRICS(\"M\")".to_string()),
        Just("REPEAT".to_string()),
        Just("LINEAR".to_string()),
        "[-+*/^(),\\[\\] <>=!&|.e]".prop_map(|s| s.to_string()),
        "(0|1|2|0\\.5|1e3|-1)",
        "(SUM|AVG|MIN|MAX|STDDEV|FILL|RATE|DIFF|DIFF_TIME|ABS|IF|PERIOD|CEIL|FLOOR|LOG|LOG10\
         |FIRST|LAST|METRIC_COUNT|DATAPOINT_COUNT|RUNNING_SUM|REMOVE_EMPTY|TIME_SERIES|EPOCH)\\("
            .prop_map(|s| s.to_string()),
        Just(" AND ".to_string()),
        Just(" || ".to_string()),
    ]
}

/// Syntactically valid expressions of random shape, so that the evaluator
/// sees every combination of scalars, series and arrays.
fn valid_expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        prop::sample::select(vec![
            "m1",
            "m2",
            "m3",
            "m4",
            "m5",
            "none",
            "METRICS()",
            "METRICS('M')"
        ])
        .prop_map(str::to_string),
        prop::sample::select(vec!["0", "1", "2.5", "1e3", ".5"]).prop_map(str::to_string),
    ];
    leaf.prop_recursive(6, 48, 3, |inner| {
        let unary = prop::sample::select(vec![
            "-",
            "ABS",
            "CEIL",
            "FLOOR",
            "LOG",
            "LOG10",
            "SUM",
            "AVG",
            "MIN",
            "MAX",
            "STDDEV",
            "RATE",
            "DIFF",
            "DIFF_TIME",
            "RUNNING_SUM",
            "EPOCH",
            "PERIOD",
            "FIRST",
            "LAST",
            "METRIC_COUNT",
            "DATAPOINT_COUNT",
            "REMOVE_EMPTY",
            "TIME_SERIES",
        ]);
        let ops = prop::sample::select(vec![
            "+", "-", "*", "/", "^", "<", "<=", ">", ">=", "==", "!=", "AND", "||",
        ]);
        prop_oneof![
            (inner.clone(), ops, inner.clone()).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            (unary, inner.clone()).prop_map(|(f, a)| if f == "-" {
                format!("-{a}")
            } else {
                format!("{f}({a})")
            }),
            (
                inner.clone(),
                prop_oneof![
                    Just("REPEAT".to_string()),
                    Just("LINEAR".to_string()),
                    inner.clone()
                ]
            )
                .prop_map(|(a, b)| format!("FILL({a}, {b})")),
            (
                inner.clone(),
                inner.clone(),
                prop::option::of(inner.clone())
            )
                .prop_map(|(c, t, f)| {
                    match f {
                        Some(f) => format!("IF({c}, {t}, {f})"),
                        None => format!("IF({c}, {t})"),
                    }
                }),
            prop::collection::vec(inner, 1..3).prop_map(|items| format!("[{}]", items.join(", "))),
        ]
    })
}

/// Outputs are always well-formed: equal lengths, ascending timestamps,
/// finite values.
fn assert_well_formed(out: &[TimeSeries]) {
    for s in out {
        assert_eq!(s.timestamps.len(), s.values.len());
        assert!(s.timestamps.windows(2).all(|w| w[0] < w[1]), "{s:?}");
        assert!(s.values.iter().all(|v| v.is_finite()), "{s:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_strings_never_panic(input in "\\PC{0,64}") {
        if let Ok(expr) = parse(&input) {
            let _ = expr.referenced_ids();
            if let Ok(out) = evaluate(&expr, &context()) {
                assert_well_formed(&out);
            }
        }
    }

    #[test]
    fn token_soup_never_panics(parts in prop::collection::vec(fragment(), 1..40)) {
        let input = parts.concat();
        if let Ok(expr) = parse(&input) {
            let _ = expr.referenced_ids();
            let _ = expr.uses_all_metrics();
            if let Ok(out) = evaluate(&expr, &context()) {
                assert_well_formed(&out);
            }
        }
    }

    #[test]
    fn valid_expressions_evaluate_or_fail_cleanly(input in valid_expr()) {
        let expr = parse(&input).map_err(|e| TestCaseError::fail(format!("{input}: {e}")))?;
        match evaluate(&expr, &context()) {
            Ok(out) => assert_well_formed(&out),
            // Shape errors (two arrays, scalar to RATE, ...) are allowed.
            Err(e) => prop_assert_eq!(e.code, ErrorCode::ValidationError),
        }
    }
}

#[test]
fn insight_rule_metric_reads_the_rule_series_from_the_context() {
    let e = parse("INSIGHT_RULE_METRIC('web', \"UniqueContributors\") * 10").unwrap();
    assert_eq!(
        e.insight_rule_metrics(),
        vec![("web".to_string(), "UniqueContributors".to_string())]
    );
    check(
        "INSIGHT_RULE_METRIC('web', 'UniqueContributors') * 10",
        "Tail",
        &[(1, 20.0), (3, 60.0)],
    );
    let unknown = parse("INSIGHT_RULE_METRIC('other', 'Sum')").unwrap();
    let msg = evaluate(&unknown, &context()).unwrap_err().message;
    assert!(msg.contains("rule other"), "{msg}");
    for bad in [
        "INSIGHT_RULE_METRIC(m1, 'Sum')",
        "INSIGHT_RULE_METRIC('web')",
        "INSIGHT_RULE_METRIC('web', 'Sum', 'x')",
    ] {
        assert!(parse(bad).is_err(), "{bad} parses");
    }
}
