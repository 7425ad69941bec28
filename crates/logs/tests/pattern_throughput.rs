//! Scan throughput, for the FilterLogEvents target (≥ 500 MB/s per core for
//! term patterns). Ignored by default; run in release for a figure:
//! `cargo test -p stratus-logs --release --test pattern_throughput -- --ignored --nocapture`.

use std::hint::black_box;
use std::time::Instant;

use stratus_logs::pattern::FilterPattern;

fn corpus() -> Vec<String> {
    let mut lines = Vec::new();
    for i in 0..400_000u32 {
        let line = match i % 4 {
            0 => format!(
                r#"127.0.0.{} - frank [10/Oct/2000:13:25:{:02} -0700] "GET /apache_pb.gif HTTP/1.0" 200 {}"#,
                i % 250,
                i % 60,
                1000 + i % 5000
            ),
            1 => format!(
                r#"{{"level":"info","latency":{},"route":"/api/v1/items","requestId":"req-{i}"}}"#,
                i % 900
            ),
            2 => format!(
                "2024-05-02T00:34:16.{:03}Z INFO worker-{} processed batch {i} in {} ms",
                i % 1000,
                i % 16,
                i % 97
            ),
            _ => format!(
                "2024-05-02T00:34:16.{:03}Z ERROR worker-{} Unhandled exception: InvalidQueryException",
                i % 1000,
                i % 16
            ),
        };
        lines.push(line);
    }
    lines
}

fn measure(pattern: &str, lines: &[String]) -> (f64, usize) {
    let p = FilterPattern::parse(pattern).unwrap();
    let bytes: usize = lines.iter().map(String::len).sum();
    let mut best = f64::MAX;
    let mut hits = 0;
    for _ in 0..3 {
        let start = Instant::now();
        hits = lines.iter().filter(|l| p.matches(black_box(l))).count();
        best = best.min(start.elapsed().as_secs_f64());
    }
    (bytes as f64 / best / 1e6, hits)
}

#[test]
#[ignore = "a measurement, not a check; run in release"]
fn scan_throughput() {
    let lines = corpus();
    for pattern in [
        "ERROR",
        "InvalidQueryException",
        "ERROR Exception -timeout",
        "\"Unhandled exception\"",
        "?ERROR ?WARN",
        "%Invalid[A-Z][a-z]+Exception%",
        "{ $.latency > 500 }",
        "[ip, id, user, timestamp, request, status_code = 2*, bytes > 3000]",
    ] {
        let (mbps, hits) = measure(pattern, &lines);
        println!("{pattern:<70} {mbps:>9.0} MB/s  ({hits} matches)");
    }
}
