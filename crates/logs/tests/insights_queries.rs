//! Logs Insights queries over a fixed set of 30 events, with the expected
//! rows worked out by hand from AWS's documented semantics (not from this
//! crate's output).

use stratus_logs::insights::{QueryError, parse};
use stratus_logs::{EventRef, parse_record_pointer, record_pointer};

/// 2026-12-07 06:40:00 UTC in epoch ms.
const T0: i64 = 1_796_625_600_000;

/// (stream, minutes and seconds after 06:40:00, message)
const EVENTS: &[(&str, i64, i64, &str)] = &[
    // nginx access lines
    (
        "web-1",
        0,
        5,
        r#"10.0.0.1 - - [07/Dec/2026:06:40:05 +0000] "GET /index.html HTTP/1.1" 200 512"#,
    ),
    (
        "web-1",
        1,
        10,
        r#"10.0.0.2 - - [07/Dec/2026:06:41:10 +0000] "GET /api/users HTTP/1.1" 200 1024"#,
    ),
    (
        "web-1",
        2,
        30,
        r#"10.0.0.1 - - [07/Dec/2026:06:42:30 +0000] "POST /api/login HTTP/1.1" 401 64"#,
    ),
    (
        "web-1",
        4,
        59,
        r#"10.0.0.3 - - [07/Dec/2026:06:44:59 +0000] "GET /static/app.js HTTP/1.1" 304 0"#,
    ),
    (
        "web-1",
        5,
        0,
        r#"10.0.0.2 - - [07/Dec/2026:06:45:00 +0000] "GET /api/users HTTP/1.1" 500 128"#,
    ),
    (
        "web-1",
        7,
        15,
        r#"10.0.0.4 - - [07/Dec/2026:06:47:15 +0000] "DELETE /api/users/7 HTTP/1.1" 204 0"#,
    ),
    (
        "web-1",
        10,
        1,
        r#"10.0.0.1 - - [07/Dec/2026:06:50:01 +0000] "GET /index.html HTTP/1.1" 200 512"#,
    ),
    (
        "web-1",
        12,
        40,
        r#"10.0.0.5 - - [07/Dec/2026:06:52:40 +0000] "GET /api/orders HTTP/1.1" 504 0"#,
    ),
    (
        "web-1",
        15,
        55,
        r#"10.0.0.2 - - [07/Dec/2026:06:55:55 +0000] "PUT /api/users/7 HTTP/1.1" 200 256"#,
    ),
    (
        "web-1",
        21,
        0,
        r#"10.0.0.3 - - [07/Dec/2026:07:01:00 +0000] "GET /health HTTP/1.1" 200 2"#,
    ),
    // JSON application lines
    (
        "api-1",
        0,
        30,
        r#"{"level":"info","msg":"request done","latency":12,"request":{"method":"GET","status":200,"path":"/api/users"},"user":"alice"}"#,
    ),
    (
        "api-1",
        1,
        45,
        r#"{"level":"error","msg":"upstream timeout","latency":3000,"request":{"method":"GET","status":504,"path":"/api/orders"},"user":"bob"}"#,
    ),
    (
        "api-1",
        3,
        0,
        r#"{"level":"info","msg":"request done","latency":45.5,"request":{"method":"POST","status":201,"path":"/api/orders"},"user":"alice"}"#,
    ),
    (
        "api-1",
        6,
        20,
        r#"{"level":"warn","msg":"slow request","latency":850,"request":{"method":"GET","status":200,"path":"/api/reports"},"user":"carol"}"#,
    ),
    (
        "api-1",
        8,
        0,
        r#"{"level":"error","msg":"db timeout","latency":5000,"request":{"method":"PUT","status":500,"path":"/api/users/7"},"user":"bob"}"#,
    ),
    (
        "api-1",
        11,
        10,
        r#"{"level":"info","msg":"request done","latency":8,"request":{"method":"GET","status":200,"path":"/health"},"user":"alice","tags":["canary","eu"]}"#,
    ),
    (
        "api-1",
        13,
        30,
        r#"{"level":"debug","msg":"cache hit","latency":1,"request":{"method":"GET","status":200,"path":"/api/users"}}"#,
    ),
    (
        "api-1",
        17,
        5,
        r#"{"level":"info","msg":"request done","latency":20,"request":{"method":"DELETE","status":204,"path":"/api/users/7"},"user":"dave"}"#,
    ),
    (
        "api-1",
        22,
        0,
        r#"{"level":"error","msg":"Timeout waiting for lock","latency":1200,"request":{"method":"POST","status":503,"path":"/api/login"},"user":"carol"}"#,
    ),
    (
        "api-1",
        23,
        30,
        r#"{"level":"info","msg":"request done","latency":15,"request":{"method":"GET","status":200,"path":"/index"},"user":"erin","flag":true}"#,
    ),
    // plain text lines
    (
        "worker-1",
        0,
        50,
        "2026-12-07 06:40:50 [INFO] worker started pid=4242",
    ),
    (
        "worker-1",
        2,
        0,
        "2026-12-07 06:42:00 [WARN] queue depth 120 exceeds 100",
    ),
    (
        "worker-1",
        4,
        10,
        "2026-12-07 06:44:10 [ERROR] job 17 failed: connection timeout after 30s",
    ),
    (
        "worker-1",
        6,
        0,
        "2026-12-07 06:46:00 [INFO] job 18 done in 250ms",
    ),
    (
        "worker-1",
        9,
        30,
        "2026-12-07 06:49:30 [ERROR] job 19 failed: disk full",
    ),
    (
        "worker-1",
        14,
        0,
        "2026-12-07 06:54:00 [INFO] job 20 done in 1250ms",
    ),
    ("worker-1", 18, 20, "2026-12-07 06:58:20 [DEBUG] heartbeat"),
    (
        "worker-1",
        20,
        0,
        "2026-12-07 07:00:00 [ERROR] job 21 failed: read timeout",
    ),
    (
        "worker-1",
        24,
        45,
        "2026-12-07 07:04:45 [INFO] worker stopping",
    ),
    (
        "worker-1",
        25,
        0,
        "2026-12-07 07:05:00 [INFO] shutdown complete",
    ),
];

fn message(stream: &str, min: i64, sec: i64) -> &'static str {
    EVENTS
        .iter()
        .find(|e| e.0 == stream && e.1 == min && e.2 == sec)
        .map(|e| e.3)
        .expect("fixture event")
}

fn run_full(q: &str) -> stratus_logs::insights::QueryOutput {
    let query = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    let mut ex = query.executor();
    // Streams interleaved, not in time order, as a store's merge may hand
    // them over: ordering must come from the query, not the input.
    for i in 0..10 {
        for base in [20, 0, 10] {
            let index = base + (i * 7) % 10;
            let (stream, min, sec, msg) = EVENTS[index];
            let ts = T0 + (min * 60 + sec) * 1000;
            ex.push(&EventRef {
                group: "app",
                stream,
                timestamp_ms: ts,
                ingestion_ms: ts + 1000,
                message: msg,
                // The fixture's index, so a row's @ptr names its event.
                id: index as u64,
            });
        }
    }
    ex.finish()
}

/// The rows without their `@ptr` column, which is checked here instead: when
/// present it is last and points at an event whose fields the row shows.
fn run(q: &str) -> Vec<Vec<(String, String)>> {
    let mut rows = run_full(q).rows;
    for row in &mut rows {
        assert!(
            row.iter().rev().skip(1).all(|(k, _)| k != "@ptr"),
            "{q}: @ptr not last in {row:?}"
        );
        if row.last().is_some_and(|(k, _)| k == "@ptr") {
            let Some((_, ptr)) = row.pop() else { continue };
            check_pointer(q, &ptr, row);
        }
    }
    rows
}

/// `ptr` decodes to the fixture event (group "app") whose stream, message
/// and timestamp are those the row shows, where it shows them.
fn check_pointer(q: &str, ptr: &str, row: &[(String, String)]) {
    let (group, ts, id) =
        parse_record_pointer(ptr).unwrap_or_else(|| panic!("{q}: bad @ptr {ptr:?}"));
    assert_eq!(group, "app", "{q}");
    let (stream, min, sec, msg) = *EVENTS
        .get(id as usize)
        .unwrap_or_else(|| panic!("{q}: @ptr id {id} is no fixture event"));
    assert_eq!(ts, T0 + (min * 60 + sec) * 1000, "{q}: @ptr timestamp");
    for (k, v) in row {
        match k.as_str() {
            "@message" => assert_eq!(v, msg, "{q}: @ptr event's message"),
            "@logStream" => assert_eq!(v, stream, "{q}: @ptr event's stream"),
            _ => {}
        }
    }
}

type Row<'a> = &'a [(&'a str, &'a str)];

fn rows(expected: &[Row<'_>]) -> Vec<Vec<(String, String)>> {
    expected
        .iter()
        .map(|r| {
            r.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn check(q: &str, expected: &[Row<'_>]) {
    assert_eq!(run(q), rows(expected), "query: {q}");
}

#[test]
fn fields_sort_and_limit() {
    check(
        "fields @timestamp, @message | sort @timestamp desc | limit 3",
        &[
            &[
                ("@timestamp", "2026-12-07 07:05:00.000"),
                ("@message", message("worker-1", 25, 0)),
            ],
            &[
                ("@timestamp", "2026-12-07 07:04:45.000"),
                ("@message", message("worker-1", 24, 45)),
            ],
            &[
                ("@timestamp", "2026-12-07 07:03:30.000"),
                ("@message", message("api-1", 23, 30)),
            ],
        ],
    );
}

#[test]
fn without_fields_rows_are_timestamp_and_message_newest_first() {
    check(
        r#"filter @logStream = "worker-1" | limit 2"#,
        &[
            &[
                ("@timestamp", "2026-12-07 07:05:00.000"),
                ("@message", message("worker-1", 25, 0)),
            ],
            &[
                ("@timestamp", "2026-12-07 07:04:45.000"),
                ("@message", message("worker-1", 24, 45)),
            ],
        ],
    );
    check(
        "fields @timestamp | limit 1",
        &[&[("@timestamp", "2026-12-07 07:05:00.000")]],
    );
}

#[test]
fn regex_filters_are_case_sensitive_unless_asked() {
    // "timeout" appears in j2, j5, p3, p8; j9 has "Timeout".
    check(
        "filter @message like /timeout/ | stats count(*)",
        &[&[("count(*)", "4")]],
    );
    check(
        "filter @message like /(?i)timeout/ | stats count(*) as n",
        &[&[("n", "5")]],
    );
    check(
        r"filter @message =~ /job \d+ done/ | stats count(*)",
        &[&[("count(*)", "2")]],
    );
}

#[test]
fn stats_by_time_bins() {
    check(
        "filter @message like /timeout/ | stats count(*) by bin(5m)",
        &[
            &[("bin(5m)", "2026-12-07 06:40:00.000"), ("count(*)", "2")],
            &[("bin(5m)", "2026-12-07 06:45:00.000"), ("count(*)", "1")],
            &[("bin(5m)", "2026-12-07 07:00:00.000"), ("count(*)", "1")],
        ],
    );
    check(
        "stats count(*) by bin(1h)",
        &[
            &[("bin(1h)", "2026-12-07 06:00:00.000"), ("count(*)", "24")],
            &[("bin(1h)", "2026-12-07 07:00:00.000"), ("count(*)", "6")],
        ],
    );
    check(
        r#"filter @logStream = "web-1" | stats count(*) by bin(30s) | sort bin(30s) desc | limit 2"#,
        &[
            &[("bin(30s)", "2026-12-07 07:01:00.000"), ("count(*)", "1")],
            &[("bin(30s)", "2026-12-07 06:55:30.000"), ("count(*)", "1")],
        ],
    );
}

#[test]
fn stats_by_builtin_and_discovered_fields() {
    check(
        "stats count(*) by @logStream",
        &[
            &[("@logStream", "api-1"), ("count(*)", "10")],
            &[("@logStream", "web-1"), ("count(*)", "10")],
            &[("@logStream", "worker-1"), ("count(*)", "10")],
        ],
    );
    check(
        "filter request.status >= 500 | stats count(*) as errors by request.path",
        &[
            &[("request.path", "/api/login"), ("errors", "1")],
            &[("request.path", "/api/orders"), ("errors", "1")],
            &[("request.path", "/api/users/7"), ("errors", "1")],
        ],
    );
    // Events without `level` form their own group, whose row has no level.
    check(
        "stats count(*) by level",
        &[
            &[("level", "debug"), ("count(*)", "1")],
            &[("level", "error"), ("count(*)", "3")],
            &[("level", "info"), ("count(*)", "5")],
            &[("level", "warn"), ("count(*)", "1")],
            &[("count(*)", "20")],
        ],
    );
    check(
        "filter ispresent(level) | stats count(*) by level",
        &[
            &[("level", "debug"), ("count(*)", "1")],
            &[("level", "error"), ("count(*)", "3")],
            &[("level", "info"), ("count(*)", "5")],
            &[("level", "warn"), ("count(*)", "1")],
        ],
    );
}

#[test]
fn numeric_aggregates() {
    // JSON latencies: 12, 3000, 45.5, 850, 5000, 8, 1, 20, 1200, 15.
    check(
        "stats avg(latency), max(latency), min(latency), sum(latency)",
        &[&[
            ("avg(latency)", "1015.15"),
            ("max(latency)", "5000"),
            ("min(latency)", "1"),
            ("sum(latency)", "10151.5"),
        ]],
    );
    // Sorted: 1 8 12 15 20 45.5 850 1200 3000 5000; nearest rank.
    check(
        "stats pct(latency, 50) as p50, pct(latency, 90) as p90",
        &[&[("p50", "20"), ("p90", "3000")]],
    );
    check(
        r"filter @message like /^\{/ | stats count(*) as json, sum(request.status) as s",
        &[&[("json", "10"), ("s", "2912")]],
    );
}

#[test]
fn distinct_earliest_latest() {
    check(
        "stats count_distinct(user)",
        &[&[("count_distinct(user)", "5")]],
    );
    check(
        "stats earliest(user), latest(user)",
        &[&[("earliest(user)", "alice"), ("latest(user)", "erin")]],
    );
}

#[test]
fn parse_with_a_glob() {
    check(
        r#"parse @message "* [*] *" as ts, loglevel, rest | filter loglevel = "ERROR" | fields ts, rest | sort ts asc"#,
        &[
            &[
                ("ts", "2026-12-07 06:44:10"),
                ("rest", "job 17 failed: connection timeout after 30s"),
            ],
            &[
                ("ts", "2026-12-07 06:49:30"),
                ("rest", "job 19 failed: disk full"),
            ],
            &[
                ("ts", "2026-12-07 07:00:00"),
                ("rest", "job 21 failed: read timeout"),
            ],
        ],
    );
    check(
        r#"parse @message '* - - [*] "* * *" * *' as ip, time, method, path, proto, status, bytes | filter ispresent(status) | stats count(*) by status"#,
        &[
            &[("status", "200"), ("count(*)", "5")],
            &[("status", "204"), ("count(*)", "1")],
            &[("status", "304"), ("count(*)", "1")],
            &[("status", "401"), ("count(*)", "1")],
            &[("status", "500"), ("count(*)", "1")],
            &[("status", "504"), ("count(*)", "1")],
        ],
    );
    check(
        r#"parse @message '* - - [*] "* * *" * *' as ip, time, method, path, proto, status, bytes | filter path = "/api/login" | fields ip, method, bytes"#,
        &[&[("ip", "10.0.0.1"), ("method", "POST"), ("bytes", "64")]],
    );
}

#[test]
fn parse_with_a_regex() {
    check(
        r"parse @message /\[(?<sev>[A-Z]+)\] job (?<job>\d+)/ | filter ispresent(job) | stats count(*) by sev",
        &[
            &[("sev", "ERROR"), ("count(*)", "3")],
            &[("sev", "INFO"), ("count(*)", "2")],
        ],
    );
    check(
        r"parse @message /done in (?<ms>\d+)ms/ | filter ispresent(ms) | stats sum(ms) as total",
        &[&[("total", "1500")]],
    );
}

#[test]
fn boolean_filters() {
    check(
        r#"filter @logStream = "web-1" and @message like "POST" | fields @message"#,
        &[&[("@message", message("web-1", 2, 30))]],
    );
    check(
        r#"filter level = "info" or level = "debug" | stats count(*)"#,
        &[&[("count(*)", "6")]],
    );
    // Events without `level` are neither "info" nor not "info": dropped.
    check(
        r#"filter not (level = "info") | stats count(*)"#,
        &[&[("count(*)", "5")]],
    );
    check(
        r#"filter @message not like /job/ and @logStream = "worker-1" | stats count(*)"#,
        &[&[("count(*)", "5")]],
    );
    check(
        "filter latency > 100 and latency < 1000 | fields user",
        &[&[("user", "carol")]],
    );
    check(
        "filter isempty(user) | stats count(*)",
        &[&[("count(*)", "21")]],
    );
    check(
        r#"filter request.method = "DELETE" | stats count(*)"#,
        &[&[("count(*)", "1")]],
    );
}

#[test]
fn set_membership() {
    check(
        r#"filter user in ["alice", "dave"] | stats count(*) by user"#,
        &[
            &[("user", "alice"), ("count(*)", "3")],
            &[("user", "dave"), ("count(*)", "1")],
        ],
    );
    check(
        r#"filter user not in ["alice", "dave"] | stats count(*) by user"#,
        &[
            &[("user", "bob"), ("count(*)", "2")],
            &[("user", "carol"), ("count(*)", "2")],
            &[("user", "erin"), ("count(*)", "1")],
        ],
    );
    check(
        "filter request.status in [201, 204] | fields user | sort user asc",
        &[&[("user", "alice")], &[("user", "dave")]],
    );
}

#[test]
fn numeric_comparisons_and_sort() {
    check(
        "filter latency > 1000 | fields user, latency | sort latency desc",
        &[
            &[("user", "bob"), ("latency", "5000")],
            &[("user", "bob"), ("latency", "3000")],
            &[("user", "carol"), ("latency", "1200")],
        ],
    );
    // A missing sort key goes last.
    check(
        r#"filter @logStream = "api-1" | fields user | sort user desc"#,
        &[
            &[("user", "erin")],
            &[("user", "dave")],
            &[("user", "carol")],
            &[("user", "carol")],
            &[("user", "bob")],
            &[("user", "bob")],
            &[("user", "alice")],
            &[("user", "alice")],
            &[("user", "alice")],
            &[],
        ],
    );
}

#[test]
fn string_functions() {
    check(
        r#"fields strlen(user) as len, toupper(user) as u | filter user = "carol" | sort @timestamp asc"#,
        &[
            &[("len", "5"), ("u", "CAROL")],
            &[("len", "5"), ("u", "CAROL")],
        ],
    );
    check(
        r#"fields concat(user, "@", request.method) as who | filter ispresent(user) | sort @timestamp asc | limit 2"#,
        &[&[("who", "alice@GET")], &[("who", "bob@GET")]],
    );
    check(
        r#"fields substr(user, 1, 3) as s, replace(user, "a", "A") as r, trim("  x  ") as t | filter user = "carol" | limit 1"#,
        &[&[("s", "aro"), ("r", "cArol"), ("t", "x")]],
    );
    check(
        r#"fields tolower(level) as lvl | filter user = "bob" | sort @timestamp asc | display lvl"#,
        &[&[("lvl", "error")], &[("lvl", "error")]],
    );
}

#[test]
fn arithmetic() {
    check(
        r#"fields tolower(level) as lvl, latency * 2 as double, latency / 4 as q | filter user = "alice" | sort latency asc"#,
        &[
            &[("lvl", "info"), ("double", "16"), ("q", "2")],
            &[("lvl", "info"), ("double", "24"), ("q", "3")],
            &[("lvl", "info"), ("double", "91"), ("q", "11.375")],
        ],
    );
    check(
        r#"fields latency % 7 as r, latency ^ 2 as sq, abs(0 - latency) as a, 2 + 3 * 4 as p | filter user = "dave""#,
        &[&[("r", "6"), ("sq", "400"), ("a", "20"), ("p", "14")]],
    );
    check(
        "fields ceil(latency) as c, floor(latency) as f, round(latency) as r | filter latency = 45.5",
        &[&[("c", "46"), ("f", "45"), ("r", "46")]],
    );
}

#[test]
fn date_functions() {
    check(
        r#"fields datefloor(@timestamp, 1h) as h, toMillis(@timestamp) as ms, fromMillis(0) as epoch | filter user = "dave""#,
        &[&[
            ("h", "2026-12-07 06:00:00.000"),
            ("ms", "1796626625000"),
            ("epoch", "1970-01-01 00:00:00.000"),
        ]],
    );
    check(
        r#"fields dateceil(@timestamp, 5m) as c | filter @message like "heartbeat""#,
        &[&[("c", "2026-12-07 07:00:00.000")]],
    );
}

#[test]
fn builtin_fields() {
    check(
        r#"fields @logStream, @log, @ingestionTime | filter @message like "heartbeat""#,
        &[&[
            ("@logStream", "worker-1"),
            ("@log", "app"),
            ("@ingestionTime", "2026-12-07 06:58:21.000"),
        ]],
    );
}

#[test]
fn json_discovery() {
    check(
        r#"filter flag = "true" | fields user"#,
        &[&[("user", "erin")]],
    );
    check(
        r#"filter tags.0 = "canary" | fields tags.1"#,
        &[&[("tags.1", "eu")]],
    );
}

#[test]
fn commands_after_stats() {
    check(
        "filter ispresent(user) | stats count(*) as c by user | sort c desc, user asc",
        &[
            &[("user", "alice"), ("c", "3")],
            &[("user", "bob"), ("c", "2")],
            &[("user", "carol"), ("c", "2")],
            &[("user", "dave"), ("c", "1")],
            &[("user", "erin"), ("c", "1")],
        ],
    );
    check(
        "stats count(*) by user | sort count(*) desc | limit 2",
        &[
            &[("count(*)", "21")],
            &[("user", "alice"), ("count(*)", "3")],
        ],
    );
    check(
        r#"filter level = "error" | stats count(*) as n | filter n > 2"#,
        &[&[("n", "3")]],
    );
    check(
        r#"filter level = "error" | stats count(*) as n | filter n > 3"#,
        &[],
    );
    check(
        "stats max(latency) as worst by level | display worst | sort worst desc | limit 1",
        &[&[("worst", "5000")]],
    );
}

#[test]
fn dedup_keeps_the_first_row_per_value() {
    check(
        "filter ispresent(user) | sort @timestamp desc | dedup user | fields user, @timestamp",
        &[
            &[("user", "erin"), ("@timestamp", "2026-12-07 07:03:30.000")],
            &[("user", "carol"), ("@timestamp", "2026-12-07 07:02:00.000")],
            &[("user", "dave"), ("@timestamp", "2026-12-07 06:57:05.000")],
            &[("user", "alice"), ("@timestamp", "2026-12-07 06:51:10.000")],
            &[("user", "bob"), ("@timestamp", "2026-12-07 06:48:00.000")],
        ],
    );
}

#[test]
fn display_picks_the_columns() {
    check(
        r#"fields user, level | display level | filter user = "erin""#,
        &[&[("level", "info")]],
    );
}

#[test]
fn comments_and_keyword_case() {
    check(
        "# errors in plain text\nFILTER @message like /ERROR/ # the [ERROR] tag\n| STATS count(*) AS n",
        &[&[("n", "3")]],
    );
}

#[test]
fn statistics_count_what_was_scanned() {
    let out = run_full(r#"filter @logStream = "web-1" | stats count(*)"#);
    assert_eq!(out.records_scanned, 30);
    assert_eq!(out.records_matched, 10);
    let bytes: usize = EVENTS.iter().map(|e| e.3.len()).sum();
    assert_eq!(out.bytes_scanned, bytes as u64);
}

#[test]
fn row_limit_is_the_limit_or_ten_thousand() {
    assert_eq!(parse("fields @message").map(|q| q.row_limit()), Ok(10_000));
    assert_eq!(
        parse("fields @message | limit 20").map(|q| q.row_limit()),
        Ok(20)
    );
    assert_eq!(parse("limit 50 | limit 5").map(|q| q.row_limit()), Ok(5));
}

fn error(q: &str) -> QueryError {
    match parse(q) {
        Ok(_) => panic!("{q:?} parsed"),
        Err(e) => e,
    }
}

#[test]
fn malformed_queries_are_rejected() {
    for q in [
        "",
        "   # only a comment",
        "fields",
        "filter",
        "filter x like",
        "filter x =",
        "limit 0",
        "limit 10001",
        "limit -1",
        "limit 2.5",
        "bogus x",
        "fields strlen()",
        "fields strlen(a, b)",
        "filter count(*) > 1",
        r#"parse @message "* *" as a"#,
        r#"parse @message "no stars" as a"#,
        "parse @message /no names/",
        r#"filter a = "unterminated"#,
        "filter a = `unterminated",
        "filter @message like /(/",
        "filter @message like /unterminated",
        "stats count(*) by bin(5x)",
        "stats count(*) by bin(0m)",
        "fields bin(x)",
        "fields strlen(5m)",
        "stats nosuch(x)",
        "stats pct(x, 101)",
        "fields a | | fields b",
        "fields a b",
        "filter a ! b",
        "sort",
        "dedup",
        "display",
    ] {
        let _ = error(q);
    }
}

#[test]
fn two_stats_are_unsupported() {
    assert!(matches!(
        error("stats count(*) | stats count(*)"),
        QueryError::Unsupported(_)
    ));
}

#[test]
fn errors_say_where() {
    match error("fields a\n|  bogus x") {
        QueryError::Syntax {
            line,
            column,
            message,
        } => {
            assert_eq!((line, column), (2, 4));
            assert!(message.contains("bogus"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        error("fields a\n|  bogus x").to_string(),
        "unknown command 'bogus' at line 2 and position 4"
    );
}

#[test]
fn limits_on_size_and_depth() {
    let long = format!("fields {}", "a".repeat(10_000));
    assert_eq!(error(&long), QueryError::TooLong { max: 10_000 });
    let deep = format!("filter {}1{}", "(".repeat(2000), ")".repeat(2000));
    assert!(matches!(error(&deep), QueryError::Syntax { .. }));
    let nots = format!("filter {}x", "not ".repeat(2000));
    assert!(matches!(error(&nots), QueryError::Syntax { .. }));
    let negs = format!("fields {}1 as x", "-".repeat(3000));
    assert!(matches!(error(&negs), QueryError::Syntax { .. }));
}

#[test]
fn long_operator_chains_are_bounded() {
    let ors = format!("filter {}", vec!["a=1"; 1200].join(" or "));
    assert!(matches!(error(&ors), QueryError::Syntax { .. }));
    let sums = format!("fields {} as x", vec!["1"; 4000].join("+"));
    assert!(matches!(error(&sums), QueryError::Syntax { .. }));
    // A realistic chain still parses.
    let some = format!("filter {}", vec!["level = \"info\""; 50].join(" or "));
    assert!(parse(&some).is_ok(), "{:?}", parse(&some).err());
}

/// The deepest queries the limits allow still parse and run on a thread with
/// a small (2 MiB, tokio's default) stack, in this debug build.
#[test]
fn deepest_allowed_queries_fit_a_small_stack() {
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            for depth in 1..200 {
                let q = format!("filter {}a = 1{}", "(".repeat(depth), ")".repeat(depth));
                let Ok(query) = parse(&q) else { break };
                let mut ex = query.executor();
                ex.push(&EventRef {
                    group: "g",
                    stream: "s",
                    timestamp_ms: 0,
                    ingestion_ms: 0,
                    message: r#"{"a":1}"#,
                    id: 0,
                });
                assert_eq!(ex.finish().records_matched, 1);
            }
            for n in 1..400 {
                let q = format!("fields {} as x", vec!["1"; n].join(" + "));
                let Ok(query) = parse(&q) else { break };
                let mut ex = query.executor();
                ex.push(&EventRef {
                    group: "g",
                    stream: "s",
                    timestamp_ms: 0,
                    ingestion_ms: 0,
                    message: "m",
                    id: 7,
                });
                assert_eq!(
                    ex.finish().rows,
                    vec![vec![
                        ("x".to_string(), n.to_string()),
                        ("@ptr".to_string(), record_pointer("g", 0, 7)),
                    ]]
                );
            }
        })
        .expect("spawn");
    assert!(handle.join().is_ok());
}

/// The `@ptr` column of each row, in row order; `None` where a row has none.
fn pointers(q: &str) -> Vec<Option<(String, i64, u64)>> {
    run_full(q)
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .find(|(k, _)| k == "@ptr")
                .map(|(_, v)| parse_record_pointer(v).unwrap_or_else(|| panic!("{q}: {v:?}")))
        })
        .collect()
}

/// 06:44:10 and 06:49:30 are the worker's two ERROR lines (fixture indexes
/// 22 and 24); the newest comes first without a sort, as AWS returns them.
#[test]
fn rows_end_with_a_pointer_to_their_event() {
    let expected = vec![
        Some(("app".to_string(), T0 + (9 * 60 + 30) * 1000, 24)),
        Some(("app".to_string(), T0 + (4 * 60 + 10) * 1000, 22)),
    ];
    for q in [
        r#"filter @message like /ERROR\] job 1[79]/"#,
        r#"fields @message | filter @message like /ERROR\] job 1[79]/"#,
        r#"filter @message like /ERROR\] job 1[79]/ | display @logStream"#,
        r#"filter @message like /ERROR\] job 1[79]/ | dedup @logStream, @message"#,
    ] {
        assert_eq!(pointers(q), expected, "{q}");
    }
    // With `display`, @ptr follows the displayed field and nothing else.
    let rows = run_full(r#"filter @message like /ERROR\] job 17/ | display @logStream"#).rows;
    assert_eq!(
        rows,
        vec![vec![
            ("@logStream".to_string(), "worker-1".to_string()),
            ("@ptr".to_string(), record_pointer("app", T0 + 250_000, 22)),
        ]]
    );
}

#[test]
fn stats_rows_have_no_pointer() {
    for q in [
        "stats count(*)",
        "stats count(*) by @logStream",
        "stats count(*) as n by @logStream | sort n desc | limit 1",
        "stats count(*) as n by @logStream | fields n * 2 as twice",
    ] {
        let ptrs = pointers(q);
        assert!(!ptrs.is_empty(), "{q}");
        assert!(ptrs.iter().all(Option::is_none), "{q}: {ptrs:?}");
    }
}

/// A field the query names `@ptr` does not replace the pointer.
#[test]
fn a_field_named_ptr_gives_way_to_the_pointer() {
    let rows = run_full(r#"filter @message like /job 17/ | fields "x" as @ptr"#).rows;
    assert_eq!(rows.len(), 1);
    let ptrs: Vec<&(String, String)> = rows[0].iter().filter(|(k, _)| k == "@ptr").collect();
    assert_eq!(
        ptrs,
        vec![&("@ptr".to_string(), record_pointer("app", T0 + 250_000, 22))]
    );
}

/// The server passes `@log` as a label and the group name for the pointer.
#[test]
fn pointer_group_is_separate_from_the_log_label() {
    let query = parse("fields @log").unwrap_or_else(|e| panic!("{e}"));
    let mut ex = query.executor();
    let ev = EventRef {
        group: "123456789012:my-group",
        stream: "s",
        timestamp_ms: 1_000,
        ingestion_ms: 2_000,
        message: "hello",
        id: 9,
    };
    ex.push_with_pointer_group(&ev, "my-group");
    assert_eq!(
        ex.finish().rows,
        vec![vec![
            ("@log".to_string(), "123456789012:my-group".to_string()),
            ("@ptr".to_string(), record_pointer("my-group", 1_000, 9)),
        ]]
    );
}

#[test]
fn json_fields_are_flattened_with_dots() {
    let mut fields = stratus_logs::insights::json_fields(
        r#"{"level":"error","n":null,"request":{"status":500,"ok":false},"tags":["a","b"]}"#,
    );
    fields.sort();
    let expected: Vec<(String, String)> = [
        ("level", "error"),
        ("request.ok", "false"),
        ("request.status", "500"),
        ("tags.0", "a"),
        ("tags.1", "b"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(fields, expected);
    assert!(stratus_logs::insights::json_fields("plain text").is_empty());
    assert!(stratus_logs::insights::json_fields("[1, 2]").is_empty());
    assert!(stratus_logs::insights::json_fields("{broken").is_empty());
}
