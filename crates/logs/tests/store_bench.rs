//! Throughput figures (ignored by default; run in release):
//! `cargo test --release -p stratus-logs --test store_bench -- --ignored --nocapture`
//!
//! Ingest: 4 threads append 1 MB batches of ~200-byte access-log lines with
//! fsync on while a maintenance thread runs every 200 ms (as the server's);
//! then everything is sealed and bytes on disk per raw byte reported; then
//! one thread scans the whole group.

mod store_common;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use store_common::*;
use stratus_logs::store::{NewEvent, Scan, Store};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const PATHS: [&str; 8] = [
    "/api/v1/users",
    "/api/v1/orders",
    "/api/v1/cart/items",
    "/static/app.js",
    "/api/v2/search",
    "/healthz",
    "/api/v1/payments/authorize",
    "/login",
];
const AGENTS: [&str; 4] = [
    "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15",
    "curl/8.5.0",
    "aws-sdk-go-v2/1.30.3",
];

/// CPU seconds this thread (`thread-self`) or process (`self`) has used,
/// from /proc (10 ms resolution): the machine is shared, so wall time
/// alone understates what one core does.
fn cpu_secs(who: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{who}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / 100.0
}

/// One ~200-byte access-log line at `ts` from `host`.
fn line(rng: &mut Rng, ts: i64, host: usize) -> String {
    let status = [200, 200, 200, 200, 201, 204, 304, 404, 500][rng.below(9) as usize];
    format!(
        "{ts} INFO http host=web-{host}.eu-west-1.internal trace={:016x} ip=10.{}.{}.{} {} {}/{}?page={} status={} bytes={} dur_ms={}.{} ua=\"{}\"",
        rng.next(),
        rng.below(4),
        rng.below(256),
        rng.below(256),
        ["GET", "GET", "POST", "PUT"][rng.below(4) as usize],
        PATHS[rng.below(8) as usize],
        rng.below(100_000),
        rng.below(20),
        status,
        rng.below(50_000),
        rng.below(500),
        rng.below(10),
        AGENTS[rng.below(4) as usize],
    )
}

/// What zstd makes of the message bytes alone, in blocks like the store's:
/// the floor the segment format's own overhead is measured against.
fn messages_alone_compressed(messages: &[String]) -> usize {
    let mut total = 0;
    let mut buf = Vec::new();
    for m in messages {
        buf.extend_from_slice(m.as_bytes());
        if buf.len() >= 64 << 10 {
            total += zstd::bulk::compress(&buf, 3).expect("zstd").len();
            buf.clear();
        }
    }
    total + zstd::bulk::compress(&buf, 3).expect("zstd").len()
}

#[test]
#[ignore = "a benchmark: run in release with --ignored --nocapture"]
fn store_throughput() {
    let base = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let dir = tempfile::tempdir_in(&base).expect("tempdir");
    let clock = Clock::new(T0 + 30 * 60_000);
    let mut opts = clock.options();
    opts.fsync = true;
    // A smaller head than the default 128 MiB, so that this short run seals
    // (compresses) during ingest as a long one does in its steady state.
    opts.head_max_bytes = 32 << 20;
    let (store, _) = Store::open(dir.path(), opts).expect("open");
    store.create_group("/bench", spec()).expect("group");
    const THREADS: usize = 4;
    const BATCHES_PER_THREAD: usize = 64;
    for t in 0..THREADS {
        store
            .create_stream("/bench", &format!("host-{t}"), T0)
            .expect("stream");
    }
    // Batches are built before the clock starts: only the store is timed.
    let batches: Vec<Vec<Vec<NewEvent>>> = (0..THREADS)
        .map(|t| {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1));
            let mut ts = T0;
            (0..BATCHES_PER_THREAD)
                .map(|_| {
                    let mut batch = Vec::new();
                    let mut bytes = 0;
                    while bytes < (1 << 20) - 300 {
                        ts += rng.below(3) as i64;
                        let message = line(&mut rng, ts, t);
                        bytes += message.len() + 26;
                        batch.push(NewEvent {
                            timestamp_ms: ts,
                            message,
                        });
                    }
                    batch
                })
                .collect()
        })
        .collect();
    let all_messages: Vec<String> = batches
        .iter()
        .flatten()
        .flatten()
        .map(|e| e.message.clone())
        .collect();
    let raw: usize = batches
        .iter()
        .flatten()
        .flatten()
        .map(|e| e.message.len())
        .sum();
    let lines: usize = batches.iter().flatten().map(Vec::len).sum();
    let avg = raw / lines;

    let stop = AtomicBool::new(false);
    let before = store.stats();
    let start = Instant::now();
    let cpu_start = cpu_secs("self");
    std::thread::scope(|s| {
        let store = &store;
        let stop = &stop;
        s.spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                store.maintain().expect("maintain");
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        });
        let handles: Vec<_> = batches
            .into_iter()
            .enumerate()
            .map(|(t, mine)| {
                s.spawn(move || {
                    let stream = format!("host-{t}");
                    for batch in mine {
                        store
                            .append("/bench", &stream, batch, None)
                            .expect("append");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("appender");
        }
        stop.store(true, Ordering::Relaxed);
    });
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_secs("self") - cpu_start;
    let after = store.stats();
    println!(
        "ingest: {} lines (avg {avg} B), {:.1} MB raw in {secs:.2} s = {:.1} MB/s, {:.0} lines/s; {} WAL records in {} fsyncs; {cpu:.2} CPU s = {:.1} MB per CPU second",
        lines,
        raw as f64 / 1e6,
        raw as f64 / 1e6 / secs,
        lines as f64 / secs,
        after.wal_records - before.wal_records,
        after.wal_flushes - before.wal_flushes,
        raw as f64 / 1e6 / cpu,
    );

    clock.set(T0 + 3 * HOUR);
    let t = Instant::now();
    let cpu_start = cpu_secs("self");
    store.maintain().expect("seal the rest");
    let seal_secs = t.elapsed().as_secs_f64();
    let seal_cpu = cpu_secs("self") - cpu_start;
    println!(
        "ingest with every byte sealed: {:.1} MB/s wall, {:.1} MB per CPU second",
        raw as f64 / 1e6 / (secs + seal_secs),
        raw as f64 / 1e6 / (cpu + seal_cpu),
    );
    let s = store.stats();
    println!(
        "seal of the rest: {:.2} s; on disk: {} files, {:.1} MB for {:.1} MB raw = {:.1} % (head {} B)",
        t.elapsed().as_secs_f64(),
        s.segment_files,
        s.segment_bytes as f64 / 1e6,
        s.raw_bytes_sealed as f64 / 1e6,
        100.0 * s.segment_bytes as f64 / s.raw_bytes_sealed as f64,
        s.head_bytes,
    );
    assert_eq!(s.raw_bytes_sealed as usize, raw);
    println!(
        "baseline: the messages alone, zstd -3 in 64 KiB pieces: {:.1} % of raw",
        100.0 * messages_alone_compressed(&all_messages) as f64 / raw as f64
    );

    for round in 0..2 {
        let t = Instant::now();
        let cpu_start = cpu_secs("thread-self");
        let mut n = 0u64;
        let mut bytes = 0u64;
        let end = store
            .scan("/bench", &Scan::default(), &mut |e, _| {
                n += 1;
                bytes += e.message.len() as u64;
                true
            })
            .expect("scan");
        let secs = t.elapsed().as_secs_f64();
        let cpu = cpu_secs("thread-self") - cpu_start;
        assert_eq!(n as usize, lines);
        assert_eq!(end.bytes_scanned, bytes);
        println!(
            "scan {round}: {n} events, {:.1} MB raw in {secs:.3} s = {:.0} MB/s wall; {cpu:.2} CPU s = {:.0} MB per CPU second",
            bytes as f64 / 1e6,
            bytes as f64 / 1e6 / secs,
            bytes as f64 / 1e6 / cpu,
        );
    }
}
