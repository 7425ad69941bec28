//! `stratus bench logs`: issue 14's CloudWatch Logs figures.
//!
//! 1. ingest: N client threads, each its own stream, PutLogEvents batches
//!    filled to AWS's limits with realistic lines (module `lines`), fsync on;
//!    MB/s and lines/s of raw message bytes, request latency.
//! 2. disk: after ingest, bytes under `<data-dir>/logs/` per raw byte, with
//!    the WAL, and sealed only (the server stopped, its store opened here
//!    with a clock two days ahead so every window is due, and maintained).
//! 3. scan: a day of logs (timestamps spread over the last 24 h), sealed the
//!    same way, then FilterLogEvents paged to the end with a pattern that
//!    matches nothing and with `{ $.latency_ms > 900 }`; raw MB/s, and per
//!    core from the server's utime+stime.
//! 4. agent: `stratus agent` tailing a file appended at 1,000 and 10,000
//!    lines/s; its CPU and RSS, and the lines counted back.
//!
//! Without `--endpoint` it starts its own server (fsync on) per figure.

mod agent;
mod api;
mod lines;
use super::target::{Target, TargetArgs};

use anyhow::bail;
use clap::{Args, ValueEnum};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{ProcSample, ServerProc, dir_bytes, ms, percentile};
use api::{Batch, LogsClient};
use lines::LineGen;

/// Linux USER_HZ: /proc/PID/stat times are in 1/100 s.
const TICKS_PER_S: f64 = 100.0;
const DAY_MS: i64 = 86_400_000;
const NEEDLE: &str = "\"needle-that-never-appears\"";
const SLOW_JSON: &str = "{ $.latency_ms > 900 }";
const DISK_TARGET: f64 = 0.15;
const SCAN_TARGET_MB_PER_CORE: f64 = 500.0;
const AGENT_TARGET_CORE_SHARE: f64 = 0.05;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Figure {
    /// Ingest throughput and latency, then bytes on disk per raw byte.
    Ingest,
    /// FilterLogEvents scan speed over a day of logs.
    Scan,
    /// The agent's CPU and RSS while tailing.
    Agent,
}

#[derive(Args)]
pub struct LogsArgs {
    /// Figures to measure (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Figure::Ingest, Figure::Scan, Figure::Agent])]
    only: Vec<Figure>,
    /// Client threads in the ingest figure, each writing its own stream.
    #[arg(long, default_value_t = 4)]
    threads: usize,
    /// How long the ingest figure runs (seconds, or 30s, 1m, ...).
    #[arg(long, default_value = "20", value_parser = parse_duration)]
    duration: Duration,
    /// Instead of --duration: ingest this many raw bytes (e.g. 500M, 2G).
    #[arg(long, value_parser = parse_size)]
    bytes: Option<u64>,
    /// Raw bytes of the day of logs the scan figure searches (e.g. 1G, 300M).
    #[arg(long, default_value = "1G", value_parser = parse_size)]
    scan_bytes: u64,
    /// Lines per second the agent figure writes, one run each.
    #[arg(long, value_delimiter = ',', default_values_t = [1_000u64, 10_000])]
    agent_rates: Vec<u64>,
    /// How long each agent run writes.
    #[arg(long, default_value = "30", value_parser = parse_duration)]
    agent_duration: Duration,
    /// Drive a running server (--endpoint) instead of starting one. Bytes
    /// on disk are then not measured (the data dir holds other data and its
    /// server cannot be stopped for sealing), nor is the scan sealed first.
    #[command(flatten)]
    target: TargetArgs,
}

/// One line of the closing table.
struct Row {
    figure: String,
    measured: String,
    target: String,
    verdict: Option<bool>,
}

impl Row {
    fn new(figure: &str, measured: String, target: &str, verdict: Option<bool>) -> Row {
        Row {
            figure: figure.into(),
            measured,
            target: target.into(),
            verdict,
        }
    }
}

pub fn run(args: &LogsArgs) -> anyhow::Result<()> {
    if args.threads == 0 {
        bail!("--threads must be at least 1");
    }
    println!(
        "\n== logs: figures {:?}; {} client threads; load before the run: {}",
        args.only,
        args.threads,
        load_average()
    );
    let mut rows = Vec::new();
    if args.only.contains(&Figure::Ingest) {
        rows.extend(ingest_figure(args)?);
    }
    if args.only.contains(&Figure::Scan) {
        rows.extend(scan_figure(args)?);
    }
    if args.only.contains(&Figure::Agent) {
        rows.extend(agent::run(args)?);
    }
    println!("\n== logs result");
    let width = rows.iter().map(|r| r.figure.len()).max().unwrap_or(0);
    let mwidth = rows.iter().map(|r| r.measured.len()).max().unwrap_or(0);
    for r in &rows {
        let verdict = match r.verdict {
            Some(true) => "met",
            Some(false) => "NOT met",
            None => "",
        };
        println!(
            "{:<width$}  {:<mwidth$}  target {:<22} {verdict}",
            r.figure, r.measured, r.target
        );
    }
    Ok(())
}

// ---------------------------------------------------------------- the server

impl Target {
    fn client(&self) -> LogsClient {
        LogsClient::new(&self.endpoint, &self.access_key_id, &self.secret_access_key)
    }

    fn cpu_seconds(&self) -> Option<f64> {
        self.pid
            .map(|p| super::proc_sample(p).cpu_ticks as f64 / TICKS_PER_S)
    }
}

fn target(args: &LogsArgs) -> anyhow::Result<Target> {
    args.target.resolve()
}

/// What sealing found: the store's own accounting after every window was
/// sealed, and the directory's bytes.
struct Sealed {
    segment_bytes: u64,
    raw_bytes_sealed: u64,
    logs_dir_bytes: u64,
    took: Duration,
}

/// Opens the (stopped) server's log store with a clock two days ahead, so
/// every window is past its grace, and runs maintenance: everything the
/// server would seal within the next hour is sealed now.
fn seal_everything(data_dir: &Path) -> anyhow::Result<Sealed> {
    let began = Instant::now();
    let ahead = jiff::Timestamp::now().as_millisecond() + 2 * DAY_MS;
    let opts = stratus_logs::store::Options {
        fsync: true,
        clock: Arc::new(move || ahead),
        ..Default::default()
    };
    let dir = data_dir.join("logs");
    let (store, _) = stratus_logs::store::Store::open(&dir, opts)
        .map_err(|e| anyhow::anyhow!("opening {}: {e}", dir.display()))?;
    store
        .maintain()
        .map_err(|e| anyhow::anyhow!("sealing: {e}"))?;
    let stats = store.stats();
    store
        .shutdown()
        .map_err(|e| anyhow::anyhow!("closing the store: {e}"))?;
    drop(store);
    Ok(Sealed {
        segment_bytes: stats.segment_bytes,
        raw_bytes_sealed: stats.raw_bytes_sealed,
        logs_dir_bytes: dir_bytes(&dir),
        took: began.elapsed(),
    })
}

// ---------------------------------------------------------------- writers

/// How writer threads stamp their events.
#[derive(Clone, Copy)]
enum Stamp {
    /// The wall clock.
    Now,
    /// Spread evenly over `[start, start + span)` by bytes written, each
    /// stream reaching the end at `per_stream_bytes`.
    Spread {
        start_ms: i64,
        span_ms: i64,
        per_stream_bytes: u64,
    },
}

/// When writers stop.
struct Stop {
    deadline: Option<Instant>,
    /// Raw bytes over all writers.
    bytes: Option<u64>,
    written: AtomicU64,
    failed: AtomicBool,
}

impl Stop {
    fn done(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
            || self.deadline.is_some_and(|d| Instant::now() >= d)
            || self
                .bytes
                .is_some_and(|b| self.written.load(Ordering::Relaxed) >= b)
    }
}

#[derive(Default)]
struct WriterTally {
    latencies: Vec<Duration>,
    lines: u64,
    raw_bytes: u64,
    slow_json_lines: u64,
}

/// One client thread: fills batches for its stream and sends them until
/// `stop` says so (or `per_stream_bytes` for a spread writer).
fn writer(
    client: &LogsClient,
    group: &str,
    stream: &str,
    seed: u64,
    stamp: Stamp,
    stop: &Stop,
) -> anyhow::Result<WriterTally> {
    let mut tally = WriterTally::default();
    let mut lines_gen = LineGen::new(seed);
    let mut line = String::new();
    let mut carried: Option<(i64, String)> = None;
    let mut stream_bytes = 0u64;
    loop {
        if stop.done() {
            break;
        }
        if let Stamp::Spread {
            per_stream_bytes, ..
        } = stamp
            && stream_bytes >= per_stream_bytes
        {
            break;
        }
        let mut batch = Batch::new(group, stream);
        if let Some((ts, msg)) = carried.take() {
            batch.push(ts, &msg);
        }
        let now = jiff::Timestamp::now().as_millisecond();
        loop {
            let ts = match stamp {
                Stamp::Now => now,
                Stamp::Spread {
                    start_ms,
                    span_ms,
                    per_stream_bytes,
                } => {
                    let done = (stream_bytes + batch.raw_bytes as u64).min(per_stream_bytes);
                    start_ms
                        + (done as f64 / per_stream_bytes.max(1) as f64 * span_ms as f64) as i64
                }
            };
            lines_gen.line(ts, &mut line);
            if !batch.push(ts, &line) {
                carried = Some((ts, std::mem::take(&mut line)));
                break;
            }
        }
        let (events, raw) = (batch.events() as u64, batch.raw_bytes as u64);
        let body = batch.finish();
        let t0 = Instant::now();
        client.call_raw("PutLogEvents", &body)?;
        tally.latencies.push(t0.elapsed());
        tally.lines += events;
        tally.raw_bytes += raw;
        stream_bytes += raw;
        stop.written.fetch_add(raw, Ordering::Relaxed);
    }
    // The carried line was generated but never sent: do not count it.
    tally.slow_json_lines = lines_gen.slow_json_lines
        - carried
            .as_ref()
            .filter(|(_, l)| l.contains("\"latency_ms\":") && slow_json(l))
            .map_or(0, |_| 1);
    Ok(tally)
}

/// The generator's own notion of a slow line, for the one line it made but
/// never sent.
fn slow_json(line: &str) -> bool {
    line.split("\"latency_ms\":")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|v| v > 900)
}

struct Ingested {
    lines: u64,
    raw_bytes: u64,
    slow_json_lines: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
    server_cpu_s: Option<f64>,
    client_cpu_s: f64,
}

fn ingest(
    target: &Target,
    group: &str,
    stamp: Stamp,
    stop: Stop,
    threads: usize,
) -> anyhow::Result<Ingested> {
    let streams: Vec<String> = (0..threads).map(|i| format!("writer-{i}")).collect();
    target.client().create(group, &streams)?;
    let stop = Arc::new(stop);
    let server_before = target.cpu_seconds();
    let client_before = super::proc_sample(std::process::id());
    let began = Instant::now();
    let handles: Vec<_> = streams
        .into_iter()
        .enumerate()
        .map(|(i, stream)| {
            let client = target.client();
            let (group, stop) = (group.to_string(), stop.clone());
            std::thread::spawn(move || {
                let r = writer(
                    &client,
                    &group,
                    &stream,
                    0x9E37_79B9 ^ (i as u64 + 1),
                    stamp,
                    &stop,
                );
                if r.is_err() {
                    stop.failed.store(true, Ordering::Relaxed);
                }
                r
            })
        })
        .collect();
    let mut all = WriterTally::default();
    let mut first_error = None;
    for h in handles {
        match h
            .join()
            .map_err(|_| anyhow::anyhow!("a writer thread panicked"))?
        {
            Ok(t) => {
                all.latencies.extend(t.latencies);
                all.lines += t.lines;
                all.raw_bytes += t.raw_bytes;
                all.slow_json_lines += t.slow_json_lines;
            }
            Err(e) => first_error = first_error.or(Some(e)),
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    let elapsed = began.elapsed();
    let client_after = super::proc_sample(std::process::id());
    all.latencies.sort();
    Ok(Ingested {
        lines: all.lines,
        raw_bytes: all.raw_bytes,
        slow_json_lines: all.slow_json_lines,
        elapsed,
        latencies: all.latencies,
        server_cpu_s: target.cpu_seconds().zip(server_before).map(|(a, b)| a - b),
        client_cpu_s: cpu_s(&client_after) - cpu_s(&client_before),
    })
}

fn cpu_s(s: &ProcSample) -> f64 {
    s.cpu_ticks as f64 / TICKS_PER_S
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

// ---------------------------------------------------------------- figures 1, 2

fn ingest_figure(args: &LogsArgs) -> anyhow::Result<Vec<Row>> {
    let target = target(args)?;
    println!(
        "\n== 1. ingest: {} threads × own stream, PutLogEvents ≤ 1,048,576 B / 10,000 events, nginx + JSON lines 50/50, fsync on, {} → {}",
        args.threads,
        match args.bytes {
            Some(b) => format!("{:.0} MB raw", mb(b)),
            None => format!("{:?}", args.duration),
        },
        target.endpoint
    );
    let stop = Stop {
        deadline: args.bytes.is_none().then(|| Instant::now() + args.duration),
        bytes: args.bytes,
        written: AtomicU64::new(0),
        failed: AtomicBool::new(false),
    };
    let group = format!("bench-ingest-{}", std::process::id());
    let r = ingest(&target, &group, Stamp::Now, stop, args.threads)?;
    let secs = r.elapsed.as_secs_f64().max(1e-9);
    let (p50, p99) = (
        percentile(&r.latencies, 50.0),
        percentile(&r.latencies, 99.0),
    );
    println!(
        "   {} requests, {} lines, {:.1} MB raw in {secs:.1} s: {:.1} MB/s, {:.0} lines/s; PutLogEvents p50 {:.1} ms, p99 {:.1} ms; server CPU {}; bench client CPU {:.0}% of a core",
        r.latencies.len(),
        r.lines,
        mb(r.raw_bytes),
        mb(r.raw_bytes) / secs,
        r.lines as f64 / secs,
        ms(p50),
        ms(p99),
        r.server_cpu_s.map_or("not measured".into(), |c| format!(
            "{:.0}% of a core",
            100.0 * c / secs
        )),
        100.0 * r.client_cpu_s / secs,
    );
    let mut rows = vec![
        Row::new(
            "ingest throughput",
            format!(
                "{:.1} MB/s, {:.0} lines/s",
                mb(r.raw_bytes) / secs,
                r.lines as f64 / secs
            ),
            "—",
            None,
        ),
        Row::new(
            "ingest latency",
            format!("p50 {:.1} ms, p99 {:.1} ms", ms(p50), ms(p99)),
            "—",
            None,
        ),
    ];
    let Some((server, dir)) = target.own else {
        println!("   bytes on disk: not measured against --endpoint");
        return Ok(rows);
    };
    let logs = dir.join("logs");
    let live = dir_bytes(&logs);
    let live_wal = dir_bytes(&logs.join("wal"));
    server.stop()?;
    let sealed = seal_everything(&dir)?;
    let raw = r.raw_bytes.max(1) as f64;
    println!(
        "\n== 2. bytes on disk per raw byte ({:.1} MB raw)\n   while running: logs/ {:.1} MB = {:.3} per raw byte (WAL {:.1} MB)\n   sealed (every window, {:.1} s): segments {:.1} MB = {:.3} per raw byte (the store counts {:.1} MB raw sealed); logs/ after sealing {:.1} MB = {:.3}",
        mb(r.raw_bytes),
        mb(live),
        live as f64 / raw,
        mb(live_wal),
        sealed.took.as_secs_f64(),
        mb(sealed.segment_bytes),
        sealed.segment_bytes as f64 / raw,
        mb(sealed.raw_bytes_sealed),
        mb(sealed.logs_dir_bytes),
        sealed.logs_dir_bytes as f64 / raw,
    );
    let sealed_ratio = sealed.segment_bytes as f64 / raw;
    rows.push(Row::new(
        "disk, WAL included",
        format!("{:.1} % of raw", 100.0 * live as f64 / raw),
        "—",
        None,
    ));
    rows.push(Row::new(
        "disk, sealed only",
        format!("{:.1} % of raw", 100.0 * sealed_ratio),
        "≤ 15 %",
        Some(sealed_ratio <= DISK_TARGET),
    ));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(rows)
}

// ---------------------------------------------------------------- figure 3

fn scan_figure(args: &LogsArgs) -> anyhow::Result<Vec<Row>> {
    let mut target = target(args)?;
    let group = format!("bench-day-{}", std::process::id());
    let now = jiff::Timestamp::now().as_millisecond();
    let per_stream = args.scan_bytes.div_ceil(args.threads as u64);
    println!(
        "\n== 3. FilterLogEvents scan: loading a day of logs ({:.0} MB raw over {} streams, timestamps over the last 24 h)",
        mb(args.scan_bytes),
        args.threads
    );
    let stamp = Stamp::Spread {
        // Ends a minute ago, so no event is ever in the future.
        start_ms: now - DAY_MS,
        span_ms: DAY_MS - 60_000,
        per_stream_bytes: per_stream,
    };
    let stop = Stop {
        deadline: None,
        bytes: None,
        written: AtomicU64::new(0),
        failed: AtomicBool::new(false),
    };
    let loaded = ingest(&target, &group, stamp, stop, args.threads)?;
    println!(
        "   loaded {} lines, {:.1} MB raw in {:.1} s ({:.1} MB/s)",
        loaded.lines,
        mb(loaded.raw_bytes),
        loaded.elapsed.as_secs_f64(),
        mb(loaded.raw_bytes) / loaded.elapsed.as_secs_f64().max(1e-9)
    );
    // Seal every window (as an hour later would), then restart on it.
    if let Some((server, dir)) = target.own.take() {
        server.stop()?;
        let sealed = seal_everything(&dir)?;
        println!(
            "   sealed in {:.1} s: segments {:.1} MB ({:.1} % of raw); restarting the server on it",
            sealed.took.as_secs_f64(),
            mb(sealed.segment_bytes),
            100.0 * sealed.segment_bytes as f64 / loaded.raw_bytes.max(1) as f64
        );
        let server = ServerProc::start(&dir, true)?;
        target.endpoint = server.endpoint.clone();
        target.pid = Some(server.pid());
        target.own = Some((server, dir));
    } else {
        println!(
            "   against --endpoint: scanning what the server has sealed by itself (recent windows stay in its head)"
        );
    }
    let client = target.client();
    let mut rows = Vec::new();
    for (label, pattern, expected) in [
        ("needle (matches nothing)", NEEDLE, 0),
        (
            "JSON { $.latency_ms > 900 }",
            SLOW_JSON,
            loaded.slow_json_lines,
        ),
    ] {
        let before = target.cpu_seconds();
        let run = client.filter_all(&group, Some(pattern))?;
        let cpu = target.cpu_seconds().zip(before).map(|(a, b)| a - b);
        let secs = run.elapsed.as_secs_f64().max(1e-9);
        let per_core = cpu.map(|c| mb(loaded.raw_bytes) / c.max(0.01));
        println!(
            "   {label:<28} {} pages, {} events (expected {expected}{}) in {secs:.2} s: {:.0} MB/s raw; server CPU {}",
            run.pages,
            run.events,
            if run.events == expected {
                ", right"
            } else {
                ", WRONG"
            },
            mb(loaded.raw_bytes) / secs,
            match (cpu, per_core) {
                (Some(c), Some(p)) => format!("{c:.2} s → {p:.0} MB/s per core"),
                _ => "not measured".into(),
            }
        );
        if run.events != expected {
            println!(
                "   !! FilterLogEvents returned {} events for {pattern}, the generator wrote {expected} matching lines",
                run.events
            );
        }
        let is_needle = pattern == NEEDLE;
        rows.push(Row::new(
            &format!("scan, {label}"),
            format!(
                "{:.0} MB/s, {} MB/s per core",
                mb(loaded.raw_bytes) / secs,
                per_core.map_or("?".into(), |p| format!("{p:.0}"))
            ),
            if is_needle {
                "≥ 500 MB/s per core"
            } else {
                "—"
            },
            if is_needle {
                per_core.map(|p| p >= SCAN_TARGET_MB_PER_CORE && run.events == expected)
            } else {
                Some(run.events == expected).filter(|ok| !ok)
            },
        ));
    }
    if let Some((server, dir)) = target.own.take() {
        server.stop()?;
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(rows)
}

// ---------------------------------------------------------------- helpers

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Seconds, or with a unit: 90s, 10m, 1h.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, scale) = match t.char_indices().last() {
        Some((i, 'h')) => (&t[..i], 3600.0),
        Some((i, 'm')) => (&t[..i], 60.0),
        Some((i, 's')) => (&t[..i], 1.0),
        _ => (t, 1.0),
    };
    let secs: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?}: expected seconds, e.g. 20, 90s, 10m or 1h"))?;
    if !secs.is_finite() || secs <= 0.0 {
        return Err(format!("{text:?}: must be more than zero"));
    }
    Ok(Duration::from_secs_f64(secs * scale))
}

/// Bytes, or with a decimal unit: 500K, 300M, 1G (powers of 1000, as MB/s is).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (number, scale) = match t.char_indices().last() {
        Some((i, 'K' | 'k')) => (&t[..i], 1e3),
        Some((i, 'M')) => (&t[..i], 1e6),
        Some((i, 'G' | 'g')) => (&t[..i], 1e9),
        _ => (t, 1.0),
    };
    let n: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?}: expected bytes, e.g. 1000000, 500M or 1G"))?;
    if !n.is_finite() || n < 1.0 || n * scale > u64::MAX as f64 {
        return Err(format!("{text:?}: must be at least one byte"));
    }
    Ok((n * scale) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_decimal_units() {
        assert_eq!(parse_size("1G"), Ok(1_000_000_000));
        assert_eq!(parse_size("300M"), Ok(300_000_000));
        assert_eq!(parse_size("1.5k"), Ok(1_500));
        assert_eq!(parse_size("42"), Ok(42));
        assert!(parse_size("0").is_err());
        assert!(parse_size("G").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("20"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn the_unsent_line_is_judged_slow_by_its_latency() {
        assert!(slow_json(
            r#"{"level":"info","latency_ms":901,"request_id":"a"}"#
        ));
        assert!(!slow_json(
            r#"{"level":"info","latency_ms":900,"request_id":"a"}"#
        ));
        assert!(!slow_json("10.0.0.1 - - [x] \"GET / HTTP/1.1\" 200 5"));
    }
}
