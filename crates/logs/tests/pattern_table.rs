//! Filter patterns against AWS's documented examples: "Filter pattern
//! syntax for metric filters, subscription filters, filter log events, and
//! Live Tail" (current and older editions) and the TestMetricFilter API
//! reference's Apache access-log examples. Every expected value below is
//! taken from those pages, not from this crate's output; rows whose
//! extraction the docs do not show check only the match.

use std::collections::BTreeMap;

use stratus_logs::pattern::FilterPattern;

struct Row {
    pattern: &'static str,
    message: &'static str,
    matches: bool,
    /// `Some` = the exact extracted values AWS documents for this row.
    extracted: Option<&'static [(&'static str, &'static str)]>,
}

const fn row(pattern: &'static str, message: &'static str, matches: bool) -> Row {
    Row {
        pattern,
        message,
        matches,
        extracted: None,
    }
}

const fn ext(
    pattern: &'static str,
    message: &'static str,
    extracted: &'static [(&'static str, &'static str)],
) -> Row {
    Row {
        pattern,
        message,
        matches: true,
        extracted: Some(extracted),
    }
}

const E400: &str = "[ERROR 400] BAD REQUEST";
const E401: &str = "[ERROR 401] UNAUTHORIZED REQUEST";
const E419: &str = "[ERROR 419] MISSING ARGUMENTS";
const E420: &str = "[ERROR 420] INVALID ARGUMENTS";

const JSON_EVENT: &str = r#"{"eventType":"UpdateTrail","sourceIPAddress":"111.111.111.111","arrayKey":["value","another value"],"objectList":[{"name":"a","id":1},{"name":"b","id":2}],"SomeObject":null,"ThisFlag":true,"cluster.name":"c"}"#;
const JSON_COMPOUND: &str = r#"{"user":{"id":1,"email":"John.Stiles@example.com"},"users":[{"id":2,"email":"John.Doe@example.com"},{"id":3,"email":"Jane.Doe@example.com"}],"actions":["GET","PUT","DELETE"],"coordinates":[[0,1,2],[4,5,6],[7,8,9]]}"#;

const APACHE_1: &str =
    r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534"#;
const APACHE_2: &str =
    r#"127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5324"#;
const HTML_404: &str =
    r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534"#;
const HTML_200: &str = r#"127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /about-us/index.html HTTP/1.0" 200 5324"#;
const GIF_404: &str =
    r#"127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /apache_pb.gif HTTP/1.0" 404 4355"#;
const HTML_400: &str = r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /products/index.html HTTP/1.0" 400 1534"#;
const PROD: &str =
    r#"127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534"#;

const INFO_GET: &str = "INFO 09/25/2014 12:00:00 GET /service/resource/67 1200";
const INFO_POST: &str = "INFO 09/25/2014 12:00:01 POST /service/resource/67/part/111 1310";
const WARNING: &str = "WARNING 09/25/2014 12:00:02 Invalid user request";
const ERROR: &str = "ERROR 09/25/2014 12:00:02 Failed to process request";

const APP_ERROR_1: &str =
    "02 May 2014 00:34:16,142 [ERROR] Unhanded exception: InvalidQueryException";
const APP_ERROR_2: &str = "02 May 2014 00:34:16,224 [ERROR] Terminating the application";
const APP_INFO: &str = "02 May 2014 00:34:12,525 [INFO] Starting the application";

const ROWS: &[Row] = &[
    // --- Unstructured: terms, phrases, ?, -, match-everything ---
    ext("ERROR", E400, &[]),
    row("ERROR", E401, true),
    row("ERROR", E419, true),
    row("ERROR", E420, true),
    row("ERROR ARGUMENTS", E419, true),
    row("ERROR ARGUMENTS", E420, true),
    row("ERROR ARGUMENTS", E400, false),
    row("ERROR ARGUMENTS", E401, false),
    row("?ERROR ?ARGUMENTS", E400, true),
    row("?ERROR ?ARGUMENTS", E419, true),
    row("?ERROR ?ARGUMENTS", "[INFO 200] OK", false),
    row("?ERROR ?ARGUMENTS REQUEST", "[INFO] REQUEST FAILED", true),
    row(
        "?ERROR ?ARGUMENTS REQUEST",
        "[WARN] UNAUTHORIZED REQUEST",
        true,
    ),
    row("?ERROR ?ARGUMENTS REQUEST", "[ERROR] 400 BAD REQUEST", true),
    row("?ERROR ?ARGUMENTS REQUEST", E419, false),
    row(
        "\"INTERNAL SERVER ERROR\"",
        "[ERROR 500] INTERNAL SERVER ERROR",
        true,
    ),
    row(
        "\"INTERNAL SERVER ERROR\"",
        "[ERROR 500] INTERNAL ERROR SERVER",
        false,
    ),
    row("ERROR -ARGUMENTS", E400, true),
    row("ERROR -ARGUMENTS", E401, true),
    row("ERROR -ARGUMENTS", E419, false),
    row("ERROR -ARGUMENTS", E420, false),
    row("\" \"", "anything at all", true),
    row("", "anything at all", true),
    row("ERROR", "[ERROR] A fatal exception has occurred", true),
    row("ERROR", "Exiting with ERRORCODE: -1", true),
    row(
        "\"ERROR\" - \"Exiting\"",
        "Exiting with ERRORCODE: -1",
        false,
    ),
    row(
        "\"ERROR\" - \"Exiting\"",
        "[ERROR] A fatal exception has occurred",
        true,
    ),
    row(
        "ERROR Exception",
        "[ERROR] Caught IllegalArgumentException",
        true,
    ),
    row("ERROR Exception", "[ERROR] Unhandled Exception", true),
    row(
        "Failed to process the request",
        "[WARN] Failed to process the request",
        true,
    ),
    row(
        "Failed to process the request",
        "[ERROR] Unable to continue: Failed to process the request",
        true,
    ),
    row("?ERROR ?WARN", "ERROR WARN message", true),
    row("?ERROR ?WARN", "WARN message", true),
    row("ERROR WARN", "ERROR WARN message", true),
    row("ERROR WARN", "ERROR message", false),
    row("ERROR -WARN", "ERROR message", true),
    row("ERROR -WARN", "ERROR WARN message", false),
    row("ERROR", "error in lower case", false),
    ext("\"[ERROR]\"", APP_ERROR_1, &[]),
    row("\"[ERROR]\"", APP_ERROR_2, true),
    row("\"[ERROR]\"", APP_INFO, false),
    row("\"[ERROR]\" Exception", APP_ERROR_1, true),
    row("\"[ERROR]\" Exception", APP_ERROR_2, false),
    // --- Regular expressions ---
    ext("%AUTHORIZED%", E401, &[]),
    row("%AUTHORIZED%", "[SUCCESS 200] AUTHORIZED REQUEST", true),
    row("%AUTHORIZED%", E400, false),
    row("%^[hc]at%", "hat and scarf", true),
    row("%^[hc]at%", "a cat", false),
    row("%[hc]at$%", "a cat", true),
    row("%colou?r%", "colour", true),
    row("%gra|ey%", "grey", true),
    row(
        "%^starting|^initializing|^shutting down%",
        "skipping initializing step",
        false,
    ),
    row("%\\[.\\]%", "[7]", true),
    row("%10\\.10\\.0\\.1%", "10010,051", false),
    row("%10.10.0.1%", "10010,051", true),
    row("%ab+c%", "ac", false),
    row("%.at%", " at", true),
    // --- JSON ---
    ext(
        "{ $.eventType = \"UpdateTrail\" }",
        JSON_EVENT,
        &[("$.eventType", "UpdateTrail")],
    ),
    ext(
        "{ $.sourceIPAddress != 123.123.* }",
        JSON_EVENT,
        &[("$.sourceIPAddress", "111.111.111.111")],
    ),
    ext(
        "{ $.arrayKey[0] = \"value\" }",
        JSON_EVENT,
        &[("$.arrayKey[0]", "value")],
    ),
    row("{ $.eventType = %Trail% }", JSON_EVENT, true),
    row("{ $.arrayKey[*] = %val.{2}% }", JSON_EVENT, true),
    row(
        "{ $.* = %111\\.111\\.111\\.1[0-9]{1,2}% }",
        JSON_EVENT,
        true,
    ),
    row("{ $.['cluster.name'] = \"c\" }", JSON_EVENT, true),
    row("{ $.objectList[1].id = 2 }", JSON_EVENT, true),
    row("{ $.objectList[0].id = 2 }", JSON_EVENT, false),
    row("{ $.SomeObject IS NULL }", JSON_EVENT, true),
    row("{ $.eventType IS NULL }", JSON_EVENT, false),
    row("{ $.SomeOtherObject NOT EXISTS }", JSON_EVENT, true),
    row("{ $.eventType NOT EXISTS }", JSON_EVENT, false),
    row("{ $.ThisFlag IS TRUE }", JSON_EVENT, true),
    row("{ $.ThisFlag IS FALSE }", JSON_EVENT, false),
    row(
        "{ $.eventType = \"*\" && $.sourceIPAddress != 123.123.* }",
        JSON_EVENT,
        true,
    ),
    row("{ $.arrayKey = \"value\" }", JSON_EVENT, false),
    row("{ $.users = 1 }", r#"{"users": [1, 2, 3]}"#, false),
    row("{ $.users != 1 }", r#"{"users": [1, 2, 3]}"#, false),
    row("{$.foo = bar}", r#"{"foo": "bar"}"#, true),
    row("{$.foo = baz }", r#"{"foo": "bar"}"#, false),
    row("{$.foo = bar || $.foo = baz }", r#"{"foo": "baz"}"#, true),
    row(
        "{ $.eventType = \"UpdateTrail\" }",
        "eventType = UpdateTrail",
        false,
    ),
    row(
        "{ ($.user.id = 1) && ($.users[0].email = \"John.Doe@example.com\") }",
        JSON_COMPOUND,
        true,
    ),
    row(
        "{ $.user.email = \"John.Stiles@example.com\" || $.coordinates[0][1] = \"nonmatch\" && $.actions[2] = \"nonmatch\" }",
        JSON_COMPOUND,
        true,
    ),
    row(
        "{ ($.user.email = \"John.Stiles@example.com\" || $.coordinates[0][1] = \"nonmatch\") && $.actions[2] = \"nonmatch\" }",
        JSON_COMPOUND,
        false,
    ),
    row(
        "{ ($.user.id = 2 && $.users[0].email = \"nonmatch\") || $.actions[2] = \"GET\" }",
        JSON_COMPOUND,
        false,
    ),
    row("{ $.coordinates[2][0] = 7 }", JSON_COMPOUND, true),
    row("{ $.latency >= 500 }", r#"{"latency": 500}"#, true),
    row("{ $.latency >= 500 }", r#"{"latency": 499}"#, false),
    row("{ $.numbers[0] < 10e3 }", r#"{"numbers": [9999]}"#, true),
    row("{ $.numbers[0] < 10e-3 }", r#"{"numbers": [0.001]}"#, true),
    row(
        "{ $.processes[4].averageRuntime <= 55.5 }",
        r#"{"processes": [0, 1, 2, 3, {"averageRuntime": 55.5}]}"#,
        true,
    ),
    row("{ $.errorCode = 400}", r#"{"errorCode": 400}"#, true),
    row("{ $.errorCode != 500 }", r#"{"errorCode": 400}"#, true),
    row("{ $.errorCode != 500 }", r#"{"errorCode": 500}"#, false),
    row("{ $.latency > +1000 }", r#"{"latency": 1001}"#, true),
    row("{ $.bandwidth > 75 }", r#"{"bandwidth": 75}"#, false),
    row("{ $.number[0] = 1e+3 }", r#"{"number": [1000]}"#, true),
    row("{ $.number[0] != 1e-3 }", r#"{"number": [0.001]}"#, false),
    ext(
        "{ $.latency = * }",
        r#"{"latency": 50, "requestType": "GET"}"#,
        &[("$.latency", "50")],
    ),
    // --- Space-delimited (TestMetricFilter API examples) ---
    ext(
        "[ip, identity, user_id, timestamp, request, status_code, size]",
        APACHE_1,
        &[
            ("$ip", "127.0.0.1"),
            ("$identity", "-"),
            ("$user_id", "frank"),
            ("$timestamp", "10/Oct/2000:13:25:15 -0700"),
            ("$request", "GET /apache_pb.gif HTTP/1.0"),
            ("$status_code", "200"),
            ("$size", "1534"),
        ],
    ),
    ext(
        "[..., size]",
        APACHE_2,
        &[
            ("$1", "127.0.0.1"),
            ("$2", "-"),
            ("$3", "frank"),
            ("$4", "10/Oct/2000:13:35:22 -0700"),
            ("$5", "GET /apache_pb.gif HTTP/1.0"),
            ("$6", "500"),
            ("$size", "5324"),
        ],
    ),
    ext(
        "[]",
        APACHE_1,
        &[
            ("$1", "127.0.0.1"),
            ("$2", "-"),
            ("$3", "frank"),
            ("$4", "10/Oct/2000:13:25:15 -0700"),
            ("$5", "GET /apache_pb.gif HTTP/1.0"),
            ("$6", "200"),
            ("$7", "1534"),
        ],
    ),
    ext(
        "[..., status_code=200, size]",
        APACHE_1,
        &[
            ("$1", "127.0.0.1"),
            ("$2", "-"),
            ("$3", "frank"),
            ("$4", "10/Oct/2000:13:25:15 -0700"),
            ("$5", "GET /apache_pb.gif HTTP/1.0"),
            ("$status_code", "200"),
            ("$size", "1534"),
        ],
    ),
    row("[..., status_code=200, size]", APACHE_2, false),
    ext(
        "[..., request=*.html*, status_code=4*,]",
        HTML_404,
        &[
            ("$1", "127.0.0.1"),
            ("$2", "-"),
            ("$3", "frank"),
            ("$4", "10/Oct/2000:13:25:15 -0700"),
            ("$request", "GET /index.html HTTP/1.0"),
            ("$status_code", "404"),
            ("$7", "1534"),
        ],
    ),
    row("[..., request=*.html*, status_code=4*,]", HTML_200, false),
    row("[..., request=*.html*, status_code=4*,]", GIF_404, false),
    row("[..., request=*.html*, status_code=4*,]", HTML_400, true),
    // --- Space-delimited (user guide) ---
    ext(
        "[ip, user, username, timestamp, request =*.html*, status_code = 4*, bytes]",
        PROD,
        &[
            ("$bytes", "1534"),
            ("$status_code", "404"),
            ("$request", "GET /index.html HTTP/1.0"),
            ("$timestamp", "10/Oct/2000:13:25:15 -0700"),
            ("$username", "frank"),
            ("$user", "Prod"),
            ("$ip", "127.0.0.1"),
        ],
    ),
    row(
        "[ip=%127\\.0\\.0\\.[1-9]%, user, username, timestamp, request =*.html*, status_code = 4*, bytes]",
        PROD,
        true,
    ),
    row(
        "[ip, user, username, timestamp, request =*.html*, status_code = 404 || status_code = 410, bytes]",
        PROD,
        true,
    ),
    row(
        "[ip, user, username, timestamp, request, status_code = 4* && status_code != 404, bytes]",
        PROD,
        false,
    ),
    ext(
        "[ip, server, username, timestamp, request, status_code, bytes > 1000]",
        PROD,
        &[
            ("$bytes", "1534"),
            ("$status_code", "404"),
            ("$request", "GET /index.html HTTP/1.0"),
            ("$timestamp", "10/Oct/2000:13:25:15 -0700"),
            ("$username", "frank"),
            ("$server", "Prod"),
            ("$ip", "127.0.0.1"),
        ],
    ),
    row(
        "[ip, server, username, timestamp, request, status_code, bytes > 2000]",
        PROD,
        false,
    ),
    row("[ip, user, ..., status_code, bytes]", APACHE_1, true),
    row("[ip, user, ...]", APACHE_1, true),
    row("[w1=ERROR, w2]", ERROR, true),
    row("[w1=ERROR, w2]", INFO_GET, false),
    row("[w1=ERROR || w1=WARNING, w2]", WARNING, true),
    row("[w1=ERROR || W1=WARNING, w2]", ERROR, true),
    row("[w1=ERROR || w1=WARNING, w2]", INFO_GET, false),
    row("[w1!=ERROR && w1!=WARNING, w2]", INFO_GET, true),
    row("[w1!=ERROR && w1!=WARNING, w2]", ERROR, false),
    row(
        "[logLevel, date, time, method, url=%/service/resource/[0-9]+$%, response_time]",
        INFO_GET,
        true,
    ),
    row(
        "[logLevel, date, time, method, url=%/service/resource/[0-9]+$%, response_time]",
        INFO_POST,
        false,
    ),
    row(
        "[logLevel, date, time, method, url=%/service/resource/[0-9]+/part/[0-9]+$%, response_time]",
        INFO_POST,
        true,
    ),
    row(
        "[logLevel, date, time, method, url=%/service/resource/[0-9]+/part/[0-9]+$%, response_time]",
        INFO_GET,
        false,
    ),
    row("[w1=ERROR, w2]", "ERROR message", true),
    row("[w1=ERROR, w2]", "WARN message", false),
    row("[w1=ERROR || w1=WARN, w2]", "WARN message", true),
    row("[a, b, c]", "only two", false),
];

#[test]
fn documented_examples() {
    assert!(
        ROWS.len() >= 60,
        "the table should cover at least 60 documented cases"
    );
    let mut failures = Vec::new();
    for (i, r) in ROWS.iter().enumerate() {
        let pattern = match FilterPattern::parse(r.pattern) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("row {i}: {:?} did not parse: {e}", r.pattern));
                continue;
            }
        };
        if pattern.matches(r.message) != r.matches {
            failures.push(format!(
                "row {i}: {:?} on {:?}: expected match={}",
                r.pattern, r.message, r.matches
            ));
        }
        let extracted = pattern.extract(r.message);
        if extracted.is_some() != r.matches {
            failures.push(format!(
                "row {i}: extract disagrees with the expected match for {:?}",
                r.pattern
            ));
        }
        if let (Some(expected), Some(got)) = (r.extracted, extracted.as_ref()) {
            let expected: BTreeMap<String, String> = expected
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            if &expected != got {
                failures.push(format!(
                    "row {i}: {:?}: extracted {got:?}, expected {expected:?}",
                    r.pattern
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn shareable<T: Clone + std::fmt::Debug + Send + Sync>() {}

#[test]
fn kinds() {
    shareable::<FilterPattern>();
    assert!(FilterPattern::parse("{ $.a = 1 }").unwrap().is_json());
    assert!(FilterPattern::parse("[a, b]").unwrap().is_space_delimited());
    let terms = FilterPattern::parse("ERROR").unwrap();
    assert!(!terms.is_json() && !terms.is_space_delimited());
}

#[test]
fn refused_patterns() {
    for bad in [
        "%something!%",
        "%(a)%",
        "{ $.a = }",
        "{ $.a = 1 ",
        "{ $.x IS NOT NULL }",
        "{ $.x EXISTS }",
        "{ $.a > abc }",
        "{ $.a[*].b[*] = 1 }",
        "{ $.a = %x% && $.b = %y% && $.c = %z% }",
        "{ a = 1 }",
        "{ $ = 1 }",
        "{ $.a = 1 } trailing",
        "[a, b",
        "[a = 1 && b = 2]",
        "[a > x]",
        "\"unterminated",
        "ERROR -",
    ] {
        assert!(
            FilterPattern::parse(bad).is_err(),
            "{bad:?} should be refused"
        );
    }
    let long = "a".repeat(1025);
    assert!(FilterPattern::parse(&long).is_err());
    assert!(FilterPattern::parse(&"a".repeat(1024)).is_ok());
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Not shown by AWS's examples: several ellipses. Each run of fields between
/// them takes its leftmost place; everything an ellipsis covers is reported
/// by position.
#[test]
fn several_ellipses() {
    let p = FilterPattern::parse("[a, ..., x = 5, ..., z]").unwrap();
    assert_eq!(
        p.extract("1 2 5 3 5 9"),
        Some(map(&[
            ("$a", "1"),
            ("$2", "2"),
            ("$x", "5"),
            ("$4", "3"),
            ("$5", "5"),
            ("$z", "9")
        ]))
    );
    assert!(!p.matches("1 2 3 4 9"), "no field equals 5");
    assert!(!p.matches("5 9"), "the runs cannot overlap");
    let adjacent = FilterPattern::parse("[..., ..., last]").unwrap();
    assert_eq!(
        adjacent.extract("x y"),
        Some(map(&[("$1", "x"), ("$last", "y")]))
    );
}

/// Inferred from `[w1=ERROR, w2]` matching AWS's four-word ERROR line: the
/// last field of a pattern without an ellipsis takes the rest of the line.
#[test]
fn last_field_takes_the_rest_of_the_line() {
    let p = FilterPattern::parse("[level, rest]").unwrap();
    assert_eq!(
        p.extract("ERROR 09/25/2014 12:00:02 Failed to process request"),
        Some(map(&[
            ("$level", "ERROR"),
            ("$rest", "09/25/2014 12:00:02 Failed to process request")
        ]))
    );
    let quoted = FilterPattern::parse("[level, msg]").unwrap();
    assert_eq!(
        quoted.extract(r#"WARN "disk nearly full""#),
        Some(map(&[("$level", "WARN"), ("$msg", "disk nearly full")]))
    );
}

/// Fields in brackets or quotes are one field even when they hold spaces,
/// and an unclosed one falls back to whitespace splitting.
#[test]
fn bracketed_and_quoted_fields() {
    let p = FilterPattern::parse("[]").unwrap();
    assert_eq!(
        p.extract(r#"a [b c] "d e" f"#),
        Some(map(&[
            ("$1", "a"),
            ("$2", "b c"),
            ("$3", "d e"),
            ("$4", "f")
        ]))
    );
    assert_eq!(
        p.extract("[open x"),
        Some(map(&[("$1", "[open"), ("$2", "x")]))
    );
    assert_eq!(p.extract(""), Some(BTreeMap::new()));
}
