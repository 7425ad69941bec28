//! `stratus bench`: starts a real server as a child process on a temp data
//! dir and drives it over HTTP on loopback, printing figures and ratios.
//! Nothing here asserts speed; it measures.

mod alarms;
mod codec;
mod fleet;
mod logs;
mod smtp_sink;
mod target;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stratus_model::Timestamp;
use stratus_proto::Document;

const BENCH_KEY_ID: &str = "AKIABENCHMARK0000001";
const BENCH_SECRET: &str = "bench-secret-bench-secret-bench-secret00";

/// `stratus bench [SUITE] [OPTIONS]`: each suite a subcommand with its own
/// options (and its own `--help`); no suite runs ingest and query.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    suite: Option<Suite>,
    #[command(flatten)]
    load: LoadArgs,
}

/// Options of the ingest and query runs.
#[derive(Args)]
pub struct LoadArgs {
    /// PutMetricData requests (of --batch datums each) per ingest run.
    #[arg(long, default_value_t = 2000)]
    batches: usize,
    /// Datums per PutMetricData request (AWS's maximum is 1000).
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Concurrent client connections.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// GetMetricStatistics requests in the query run.
    #[arg(long, default_value_t = 1000)]
    queries: usize,
}

/// Options of the alarms run.
#[derive(Args)]
pub struct AlarmsArgs {
    /// Alarms (each on its own series).
    #[arg(long, default_value_t = 100_000)]
    alarms: usize,
    /// Concurrent client connections (putting data, creating alarms).
    #[arg(long, default_value_t = 8)]
    connections: usize,
}

#[derive(Subcommand)]
enum Suite {
    /// Ingest and query (the default).
    All(LoadArgs),
    /// PutMetricData throughput over CBOR and JSON, with and without fsync.
    Ingest(LoadArgs),
    /// GetMetricStatistics latency.
    Query(LoadArgs),
    /// Alarm evaluation rounds and alarm-to-email latency.
    Alarms(AlarmsArgs),
    /// Simulated agent hosts sending on schedule (--hosts, --interval,
    /// --duration): throughput, latency, server RSS/CPU, bytes on disk.
    Fleet(fleet::FleetArgs),
    /// CloudWatch Logs: PutLogEvents ingest, bytes on disk, FilterLogEvents
    /// scan speed over a day of logs, agent CPU/RSS while tailing.
    Logs(logs::LogsArgs),
    /// Float codecs (block v4 and v5 column choices, each lossless codec): bytes per datapoint
    /// and MB/s on recorded agent data and the fleet generator; no server.
    Codec(codec::CodecArgs),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Wire {
    Cbor,
    Json,
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    println!("stratus bench — server as a child process, client threads on loopback");
    println!(
        "machine: {} cores",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    match args.suite {
        None => {
            ingest_suite(&args.load)?;
            query_suite(&args.load)
        }
        Some(Suite::All(load)) => {
            ingest_suite(&load)?;
            query_suite(&load)
        }
        Some(Suite::Ingest(load)) => ingest_suite(&load),
        Some(Suite::Query(load)) => query_suite(&load),
        Some(Suite::Alarms(alarms)) => alarms::run(&alarms),
        Some(Suite::Fleet(fleet)) => fleet::run(&fleet),
        Some(Suite::Logs(logs)) => logs::run(&logs),
        Some(Suite::Codec(codec)) => codec::run(&codec),
    }
}

// ---------------------------------------------------------------- server child

struct ServerProc {
    child: Child,
    endpoint: String,
}

impl ServerProc {
    fn start(data_dir: &Path, fsync: bool) -> anyhow::Result<Self> {
        Self::start_with(data_dir, fsync, &[], None)
    }

    /// [`ServerProc::start`] with extra environment, and the server's log
    /// lines sent to `log` instead of this process's stderr.
    fn start_with(
        data_dir: &Path,
        fsync: bool,
        env: &[(&str, &str)],
        log: Option<std::sync::mpsc::Sender<String>>,
    ) -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?;
        let mut cmd = Command::new(exe);
        cmd.arg("server")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .env("STRATUS_ADMIN_ACCESS_KEY_ID", BENCH_KEY_ID)
            .env("STRATUS_ADMIN_SECRET_ACCESS_KEY", BENCH_SECRET)
            .env("STRATUS_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(if log.is_some() {
                Stdio::piped()
            } else {
                Stdio::inherit()
            });
        if !fsync {
            cmd.arg("--no-fsync");
        }
        let mut child = cmd.spawn().context("starting the server")?;
        if let (Some(tx), Some(stderr)) = (log, child.stderr.take()) {
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    // Keep reading after the receiver is gone: never block the server.
                    let _ = tx.send(line);
                }
            });
        }
        let stdout = child.stdout.take().context("server stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let endpoint = loop {
            let Some(line) = lines.next() else {
                bail!("server exited before listening");
            };
            let line = line?;
            if let Some(rest) = line.strip_prefix("Stratus is listening on ") {
                break rest.trim().to_string();
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Ok(ServerProc { child, endpoint })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM and wait: the server seals its head into blocks on the way out.
    fn stop(mut self) -> anyhow::Result<()> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status()?;
        let status = self.child.wait()?;
        if !status.success() {
            bail!("server exited with {status}");
        }
        Ok(())
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone)]
struct ProcSample {
    rss_kib: u64,
    /// Peak RSS (VmHWM).
    hwm_kib: u64,
    cpu_ticks: u64,
}

fn proc_sample(pid: u32) -> ProcSample {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |field: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    let (rss_kib, hwm_kib) = (kib("VmRSS:"), kib("VmHWM:"));
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name: utime is 14th, stime 15th overall.
    let cpu_ticks = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            let f: Vec<&str> = rest.split_whitespace().collect();
            f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
                + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        })
        .unwrap_or(0);
    ProcSample {
        rss_kib,
        hwm_kib,
        cpu_ticks,
    }
}

fn dir_bytes(path: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(path) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

// ---------------------------------------------------------------- client

struct Client {
    agent: ureq::Agent,
    endpoint: String,
    host: String,
    creds: crate::client::Credentials,
}

impl Client {
    fn new(endpoint: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let host = endpoint.trim_start_matches("http://").to_string();
        Client {
            agent,
            endpoint: endpoint.to_string(),
            host,
            creds: crate::client::Credentials {
                access_key_id: BENCH_KEY_ID.to_string(),
                secret_access_key: BENCH_SECRET.to_string(),
                session_token: None,
            },
        }
    }

    fn call(&self, wire: Wire, op: &str, body: &[u8]) -> anyhow::Result<Vec<u8>> {
        let (path, ctype, target) = match wire {
            Wire::Cbor => (
                format!("/service/GraniteServiceVersion20100801/operation/{op}"),
                "application/cbor",
                None,
            ),
            Wire::Json => (
                "/".to_string(),
                "application/x-amz-json-1.0",
                Some(format!("GraniteServiceVersion20100801.{op}")),
            ),
        };
        let mut headers: Vec<(&str, &str)> = vec![
            ("content-type", ctype),
            ("host", &self.host),
            ("x-amzn-query-mode", "true"),
        ];
        if wire == Wire::Cbor {
            headers.push(("smithy-protocol", "rpc-v2-cbor"));
        }
        if let Some(t) = &target {
            headers.push(("x-amz-target", t));
        }
        let req = crate::client::signed_post(
            &self.agent,
            &self.endpoint,
            &path,
            &headers,
            body,
            &self.creds,
            "us-east-1",
            "monitoring",
        );
        let mut resp = req.send(body)?;
        let status = resp.status().as_u16();
        let bytes = resp.body_mut().read_to_vec()?;
        if status != 200 {
            bail!(
                "{op} answered {status}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        Ok(bytes)
    }
}

fn encode(wire: Wire, doc: &Document) -> Vec<u8> {
    match wire {
        Wire::Cbor => stratus_proto::encode_cbor(doc),
        Wire::Json => stratus_proto::encode_json(doc),
    }
}

// ---------------------------------------------------------------- data

fn s(v: &str) -> Document {
    Document::String(v.to_string())
}

fn st(fields: Vec<(&str, Document)>) -> Document {
    Document::Map(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// A deterministic host-metrics mix like the CloudWatch agent's default set:
/// cpu percentages (2 decimals), memory and disk bytes (integers), slowly
/// moving percentages, small integer counter deltas, and constants.
struct HostMix {
    seed: u64,
}

impl HostMix {
    fn rand(&mut self) -> f64 {
        // xorshift64*: deterministic, cheap, good enough for benchmark data.
        self.seed ^= self.seed >> 12;
        self.seed ^= self.seed << 25;
        self.seed ^= self.seed >> 27;
        (self.seed.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn value(&mut self, metric: usize, step: usize, host: usize) -> (f64, &'static str) {
        let r = self.rand();
        match metric % 10 {
            0..=2 => (((r * 10000.0).round()) / 100.0, "Percent"),
            3 => (
                (8_000_000_000u64 + (host as u64) * 1_048_576) as f64,
                "Bytes",
            ),
            4 => (2_000_000_000.0 + (r * 5_000.0).round() * 4096.0, "Bytes"),
            5 => (
                ((40.0 + step as f64 * 0.001 + (host % 7) as f64) * 100.0).round() / 100.0,
                "Percent",
            ),
            6 | 7 => ((r * 1000.0).round(), "Count"),
            8 => (((r * 1_000_000.0).round()), "Bytes"),
            _ => (0.0, "Count"),
        }
    }
}

const METRICS_PER_HOST: usize = 50;

fn metric_name(i: usize) -> String {
    const PLUGINS: [&str; 10] = [
        "cpu_usage_user",
        "cpu_usage_system",
        "cpu_usage_idle",
        "mem_total",
        "mem_used",
        "disk_used_percent",
        "net_packets_recv",
        "diskio_reads",
        "net_bytes_sent",
        "processes_zombies",
    ];
    format!("{}_{}", PLUGINS[i % 10], i / 10)
}

/// One PutMetricData body: `batch` datums, hosts × metrics at one timestamp
/// (one agent flush of `batch / 50` hosts). Every client thread writes the
/// same hosts at interleaved steps, so series grow long as they do in life.
fn ingest_body(
    wire: Wire,
    batch: usize,
    step: usize,
    start: Timestamp,
    mix: &mut HostMix,
) -> Vec<u8> {
    let ts = Timestamp::from_millis(start.millis() + step as i64 * 60_000);
    let mut data = Vec::with_capacity(batch);
    for i in 0..batch {
        let host = i / METRICS_PER_HOST;
        let metric = i % METRICS_PER_HOST;
        let (v, unit) = mix.value(metric, step, host);
        data.push(st(vec![
            ("MetricName", s(&metric_name(metric))),
            (
                "Dimensions",
                Document::List(vec![
                    st(vec![
                        ("Name", s("InstanceId")),
                        ("Value", s(&format!("i-{host:016x}"))),
                    ]),
                    st(vec![
                        ("Name", s("host")),
                        (
                            "Value",
                            s(&format!("ip-10-0-{}-{}", host / 250, host % 250)),
                        ),
                    ]),
                ]),
            ),
            ("Timestamp", Document::Timestamp(ts)),
            ("Value", Document::Float(v)),
            ("Unit", s(unit)),
        ]));
    }
    encode(
        wire,
        &st(vec![
            ("Namespace", s("CWAgent")),
            ("MetricData", Document::List(data)),
        ]),
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------- ingest

struct IngestResult {
    datapoints_per_s: f64,
    p50: Duration,
    p99: Duration,
    rss_mib: f64,
    cpu_cores: f64,
    bytes_per_datapoint: f64,
    wal_bytes_per_datapoint: f64,
}

fn ingest_run(args: &LoadArgs, wire: Wire, fsync: bool) -> anyhow::Result<IngestResult> {
    let tmp = tempdir()?;
    let server = ServerProc::start(&tmp, fsync)?;
    let start_ts = Timestamp::from_millis(Timestamp::now().millis() - 13 * 86_400_000);
    let per_thread = args.batches.div_ceil(args.connections);
    // Pre-encode every body so the client spends its CPU on HTTP and signing only.
    let mut bodies: Vec<Vec<Vec<u8>>> = Vec::new();
    for t in 0..args.connections {
        let mut mix = HostMix {
            seed: 0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1),
        };
        bodies.push(
            (0..per_thread)
                .map(|k| {
                    ingest_body(
                        wire,
                        args.batch,
                        t + k * args.connections,
                        start_ts,
                        &mut mix,
                    )
                })
                .collect(),
        );
    }
    let body_bytes: usize = bodies.iter().flatten().map(Vec::len).sum();
    let before = proc_sample(server.pid());
    let began = Instant::now();
    let endpoint = Arc::new(server.endpoint.clone());
    let handles: Vec<_> = bodies
        .into_iter()
        .map(|thread_bodies| {
            let endpoint = endpoint.clone();
            std::thread::spawn(move || -> anyhow::Result<Vec<Duration>> {
                let client = Client::new(&endpoint);
                let mut lat = Vec::with_capacity(thread_bodies.len());
                for b in &thread_bodies {
                    let t0 = Instant::now();
                    client.call(wire, "PutMetricData", b)?;
                    lat.push(t0.elapsed());
                }
                Ok(lat)
            })
        })
        .collect();
    let mut lat = Vec::new();
    for h in handles {
        lat.extend(
            h.join()
                .map_err(|_| anyhow::anyhow!("client thread panicked"))??,
        );
    }
    let elapsed = began.elapsed();
    let after = proc_sample(server.pid());
    lat.sort();
    let datapoints = (per_thread * args.connections * args.batch) as f64;
    let wal_bytes = dir_bytes(&tmp.join("tsdb/wal")) as f64;
    server.stop()?;
    let sealed = dir_bytes(&tmp.join("tsdb")) as f64 - dir_bytes(&tmp.join("tsdb/wal")) as f64;
    let ticks_per_s = 100.0; // Linux USER_HZ
    let result = IngestResult {
        datapoints_per_s: datapoints / elapsed.as_secs_f64(),
        p50: percentile(&lat, 50.0),
        p99: percentile(&lat, 99.0),
        rss_mib: after.rss_kib as f64 / 1024.0,
        cpu_cores: (after.cpu_ticks - before.cpu_ticks) as f64
            / ticks_per_s
            / elapsed.as_secs_f64(),
        bytes_per_datapoint: sealed / datapoints,
        wal_bytes_per_datapoint: wal_bytes / datapoints,
    };
    println!(
        "  {:<5} fsync={:<5} {:>10.0} datapoints/s  PutMetricData p50 {:>6.2} ms p99 {:>6.2} ms  server RSS {:>6.1} MiB  server CPU {:.2} cores  request body {:.1} B/datapoint  WAL {:.2} B/datapoint  sealed {:.2} B/datapoint",
        format!("{wire:?}"),
        fsync,
        result.datapoints_per_s,
        ms(result.p50),
        ms(result.p99),
        result.rss_mib,
        result.cpu_cores,
        body_bytes as f64 / datapoints,
        result.wal_bytes_per_datapoint,
        result.bytes_per_datapoint,
    );
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(result)
}

fn ingest_suite(args: &LoadArgs) -> anyhow::Result<()> {
    println!(
        "\n== ingest: {} PutMetricData requests × {} datums, {} connections, realistic host-metrics mix ({} metrics/host)",
        args.batches, args.batch, args.connections, METRICS_PER_HOST
    );
    let cbor = ingest_run(args, Wire::Cbor, true)?;
    let json = ingest_run(args, Wire::Json, true)?;
    let cbor_nofsync = ingest_run(args, Wire::Cbor, false)?;
    println!(
        "  ratios: CBOR/JSON throughput {:.2}×; fsync on / off {:.2}×; sealed bytes per datapoint {:.2} (target ≤ 2)",
        cbor.datapoints_per_s / json.datapoints_per_s,
        cbor.datapoints_per_s / cbor_nofsync.datapoints_per_s,
        cbor.bytes_per_datapoint,
    );
    Ok(())
}

// ---------------------------------------------------------------- query

fn query_suite(args: &LoadArgs) -> anyhow::Result<()> {
    println!(
        "\n== query: GetMetricStatistics over 7 days of 1-minute data (10,080 points) at a 1-hour period"
    );
    let tmp = tempdir()?;
    let server = ServerProc::start(&tmp, true)?;
    let client = Client::new(&server.endpoint);
    let now = Timestamp::now().millis() / 60_000 * 60_000;
    let start = now - 7 * 86_400_000;
    let mut mix = HostMix { seed: 42 };
    let points: Vec<(i64, f64)> = (0..10_080)
        .map(|i| (start + i * 60_000, (mix.rand() * 10000.0).round() / 100.0))
        .collect();
    for chunk in points.chunks(1000) {
        let data = chunk
            .iter()
            .map(|(t, v)| {
                st(vec![
                    ("MetricName", s("cpu_usage_user")),
                    (
                        "Dimensions",
                        Document::List(vec![st(vec![
                            ("Name", s("host")),
                            ("Value", s("bench-1")),
                        ])]),
                    ),
                    ("Timestamp", Document::Timestamp(Timestamp::from_millis(*t))),
                    ("Value", Document::Float(*v)),
                    ("Unit", s("Percent")),
                ])
            })
            .collect();
        let body = encode(
            Wire::Cbor,
            &st(vec![
                ("Namespace", s("CWAgent")),
                ("MetricData", Document::List(data)),
            ]),
        );
        client.call(Wire::Cbor, "PutMetricData", &body)?;
    }
    let query = |wire: Wire, percentile_too: bool| {
        let mut fields = vec![
            ("Namespace", s("CWAgent")),
            ("MetricName", s("cpu_usage_user")),
            (
                "Dimensions",
                Document::List(vec![st(vec![("Name", s("host")), ("Value", s("bench-1"))])]),
            ),
            (
                "StartTime",
                Document::Timestamp(Timestamp::from_millis(start)),
            ),
            ("EndTime", Document::Timestamp(Timestamp::from_millis(now))),
            ("Period", Document::Int(3600)),
            (
                "Statistics",
                Document::List(vec![s("Average"), s("Maximum"), s("SampleCount")]),
            ),
        ];
        if percentile_too {
            fields.push(("ExtendedStatistics", Document::List(vec![s("p90")])));
        }
        encode(wire, &st(fields))
    };
    let measure =
        |client: &Client, label: &str, wire: Wire, body: &[u8]| -> anyhow::Result<Duration> {
            // Warm up, then measure sequential latency.
            for _ in 0..20 {
                client.call(wire, "GetMetricStatistics", body)?;
            }
            let mut lat = Vec::with_capacity(args.queries);
            for _ in 0..args.queries {
                let t0 = Instant::now();
                client.call(wire, "GetMetricStatistics", body)?;
                lat.push(t0.elapsed());
            }
            lat.sort();
            let p50 = percentile(&lat, 50.0);
            println!(
                "  {label:<34} p50 {:>6.3} ms  p90 {:>6.3} ms  p99 {:>6.3} ms",
                ms(p50),
                ms(percentile(&lat, 90.0)),
                ms(percentile(&lat, 99.0))
            );
            Ok(p50)
        };
    let head_cbor = measure(
        &client,
        "head, CBOR, Avg/Max/Count",
        Wire::Cbor,
        &query(Wire::Cbor, false),
    )?;
    measure(
        &client,
        "head, JSON, Avg/Max/Count",
        Wire::Json,
        &query(Wire::Json, false),
    )?;
    measure(
        &client,
        "head, CBOR, + p90",
        Wire::Cbor,
        &query(Wire::Cbor, true),
    )?;
    server.stop()?;
    // Restart: the data is now in sealed blocks.
    let server = ServerProc::start(&tmp, true)?;
    let client = Client::new(&server.endpoint);
    let sealed_cbor = measure(
        &client,
        "sealed blocks, CBOR, Avg/Max/Count",
        Wire::Cbor,
        &query(Wire::Cbor, false),
    )?;
    measure(
        &client,
        "sealed blocks, CBOR, + p90",
        Wire::Cbor,
        &query(Wire::Cbor, true),
    )?;
    // Baseline: the cheapest authenticated request (a ListMetrics on one series).
    let list = encode(Wire::Cbor, &st(vec![("Namespace", s("CWAgent"))]));
    let mut lat = Vec::new();
    for _ in 0..args.queries {
        let t0 = Instant::now();
        client.call(Wire::Cbor, "ListMetrics", &list)?;
        lat.push(t0.elapsed());
    }
    lat.sort();
    let base = percentile(&lat, 50.0);
    println!(
        "  {:<34} p50 {:>6.3} ms",
        "baseline: ListMetrics (1 series)",
        ms(base)
    );
    println!(
        "  ratios: sealed/head {:.2}×; GetMetricStatistics/ListMetrics baseline {:.2}× (target p50 ≤ 2 ms)",
        sealed_cbor.as_secs_f64() / head_cbor.as_secs_f64(),
        sealed_cbor.as_secs_f64() / base.as_secs_f64()
    );
    server.stop()?;
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}

fn tempdir() -> anyhow::Result<PathBuf> {
    let p = std::env::temp_dir().join(format!("stratus-bench-{}", uuid_like()));
    std::fs::create_dir_all(&p)?;
    Ok(p)
}

fn uuid_like() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}-{}", t, std::process::id())
}
