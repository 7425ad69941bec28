//! Throughput of a typical Insights query over 1M synthetic lines.
//! Run: `cargo test --release -p stratus-logs --test insights_throughput -- --ignored --nocapture`

use std::time::Instant;

use stratus_logs::EventRef;
use stratus_logs::insights::parse;

#[test]
#[ignore = "a measurement: run in release by hand"]
fn filter_regex_then_count_by_bin() {
    const LINES: usize = 1_000_000;
    let t0: i64 = 1_796_625_600_000;
    let messages: Vec<String> = (0..LINES)
        .map(|i| {
            if i % 100 == 0 {
                format!("2026-12-07 06:40:00 [ERROR] job {i} failed: connection timeout after 30s")
            } else {
                format!(
                    r#"10.0.{}.{} - - [07/Dec/2026:06:40:05 +0000] "GET /api/users/{i} HTTP/1.1" 200 {}"#,
                    i % 256,
                    i % 200,
                    i % 5000
                )
            }
        })
        .collect();
    let bytes: usize = messages.iter().map(String::len).sum();
    let query = parse("filter @message like /timeout/ | stats count(*) by bin(5m)").expect("query");
    let start = Instant::now();
    let mut ex = query.executor();
    for (i, m) in messages.iter().enumerate() {
        let ts = t0 + i as i64 * 10; // 10 ms apart: 10,000 s in all
        ex.push(&EventRef {
            group: "g",
            stream: "s",
            timestamp_ms: ts,
            ingestion_ms: ts,
            message: m,
            id: i as u64,
        });
    }
    let out = ex.finish();
    let secs = start.elapsed().as_secs_f64();
    let total: u64 = out
        .rows
        .iter()
        .filter_map(|r| r.iter().find(|(k, _)| k == "count(*)"))
        .filter_map(|(_, v)| v.parse::<u64>().ok())
        .sum();
    assert_eq!(total, (LINES / 100) as u64);
    assert_eq!(out.records_scanned, LINES as u64);
    assert_eq!(out.bytes_scanned, bytes as u64);
    // 10,000 s of events in 5-minute bins: 34 bins (the last one partial).
    assert_eq!(out.rows.len(), 34);
    println!(
        "{LINES} lines, {:.1} MB in {secs:.3} s: {:.0} MB/s, {:.2} M lines/s",
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / secs,
        LINES as f64 / 1e6 / secs
    );
}
