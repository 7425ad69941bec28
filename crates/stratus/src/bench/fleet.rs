//! `stratus bench fleet`: N simulated amazon-cloudwatch-agent hosts against a
//! server, each sending its ~50 standard metrics once per interval at a fixed
//! phase, as the agent sends them: the agent crate's own encoder (awsQuery
//! form), gzip, SigV4 and transport (`stratus_agent::ship`), one
//! PutMetricData per host per interval. A bounded pool of sender threads
//! (one keep-alive connection each) serves the schedule; a send that starts
//! late is counted, so a generator that falls behind says so.
//!
//! Prints, every `--report-every` and at the end: requests by outcome,
//! accepted datapoints/s, latency percentiles, server RSS/peak and CPU, the
//! generator's own CPU, bytes on disk per datapoint; then the targets
//! (p99 < 50 ms, server RSS < 1 GiB) met or not, and one `fleet-result`
//! line of key=value pairs for scripts.
//!
//! Without `--endpoint` it starts its own server on a temporary data dir.

pub(super) mod hosts;
pub(super) mod procinfo;
mod schedule;
mod tally;

use anyhow::bail;
use clap::Args;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};
use stratus_agent::ship::batch::SealedBatch;
use stratus_agent::ship::transport::{Endpoint, Transport};

use super::target::{Target, TargetArgs};
use super::{ProcSample, dir_bytes, ms, proc_sample};
use hosts::{DATUMS_PER_HOST, FleetHost};
use schedule::{Schedule, parse_duration};
use tally::{Counts, Latency, Tally};

const NAMESPACE: &str = "CWAgent";
const P99_TARGET: Duration = Duration::from_millis(50);
const RSS_TARGET_KIB: u64 = 1 << 20;
/// Linux USER_HZ: /proc/PID/stat times are in 1/100 s.
const TICKS_PER_S: f64 = 100.0;

#[derive(Args)]
pub struct FleetArgs {
    /// Simulated hosts.
    #[arg(long, default_value_t = 1000)]
    hosts: u64,
    /// Each host's publishing interval (seconds, or 30s, 1m, ...).
    #[arg(long, default_value = "60", value_parser = parse_duration)]
    interval: Duration,
    /// How long to run.
    #[arg(long, default_value = "600", value_parser = parse_duration)]
    duration: Duration,
    /// Print figures this often (default: 60 s).
    #[arg(long, default_value = "60", value_parser = parse_duration)]
    report_every: Duration,
    #[command(flatten)]
    target: TargetArgs,
    /// Sender threads, each with its own keep-alive connection. Enough that
    /// a slow server gets the concurrency a real fleet would pile on it
    /// rather than a generator that waits.
    #[arg(long, default_value_t = 256)]
    senders: usize,
}

fn cpu_seconds(s: &ProcSample) -> f64 {
    s.cpu_ticks as f64 / TICKS_PER_S
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Latency of all sends, of each host's first (it creates the host's
/// series), and of the later ones.
struct Latencies {
    all: Latency,
    first: Option<Latency>,
    later: Option<Latency>,
}

/// Figures at one moment, to print and to difference.
#[derive(Clone)]
struct Snapshot {
    at: Instant,
    counts: Counts,
    server: Option<ProcSample>,
    generator: ProcSample,
}

pub fn run(args: &FleetArgs) -> anyhow::Result<()> {
    if args.hosts == 0 || args.senders == 0 {
        bail!("--hosts and --senders must be at least 1");
    }
    let target = args.target.resolve()?;
    let schedule = Schedule {
        hosts: args.hosts,
        interval: args.interval,
        duration: args.duration,
    };
    let sends = schedule.sends();
    println!(
        "\n== fleet: {} hosts × {} metrics every {:?} for {:?} → {} PutMetricData ({:.1}/s, {:.0} datapoints/s offered)",
        args.hosts,
        DATUMS_PER_HOST,
        args.interval,
        args.duration,
        sends,
        args.hosts as f64 / args.interval.as_secs_f64(),
        (args.hosts as usize * DATUMS_PER_HOST) as f64 / args.interval.as_secs_f64(),
    );
    println!(
        "   awsQuery + gzip + SigV4 via the agent's shipper code, {} sender threads with keep-alive connections, against {}{}",
        args.senders,
        target.endpoint,
        if target.own.is_some() {
            " (a server this bench started, fsync on)"
        } else {
            ""
        }
    );
    match target.pid {
        Some(pid) => println!("   server pid {pid}"),
        None => println!(
            "   server RSS/CPU: not measured (no --server-pid, and no local process found listening on the endpoint's port)"
        ),
    }
    match &target.data_dir {
        Some(d) => println!("   server data dir {}", d.display()),
        None => println!("   bytes on disk: not measured (pass --data-dir)"),
    }
    println!("   machine load before the run: {}", load_average());

    let tally = Arc::new(Tally::default());
    let next = Arc::new(AtomicU64::new(0));
    let fleet: Arc<Vec<FleetHost>> =
        Arc::new((0..args.hosts as usize).map(FleetHost::new).collect());
    let mut transports = Vec::with_capacity(args.senders);
    for _ in 0..args.senders {
        transports.push(
            Transport::new(Endpoint {
                url: &target.endpoint,
                region: "us-east-1",
                access_key_id: &target.access_key_id,
                secret_access_key: &target.secret_access_key,
                session_token: None,
                ca_bundle: None,
            })
            .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
    }
    let interval_s = args.interval.as_secs().max(1);
    // Every sender encodes and compresses one throw-away batch before the
    // clock starts: 256 threads faulting in their first allocator pages at
    // once kept both cores busy for ~10 s and made the server look slow.
    let warm = Arc::new(Barrier::new(args.senders + 1));
    let clock: Arc<OnceLock<Instant>> = Arc::new(OnceLock::new());
    let handles: Vec<_> = transports
        .into_iter()
        .map(|transport| {
            let (tally, next, fleet) = (tally.clone(), next.clone(), fleet.clone());
            let (warm, clock) = (warm.clone(), clock.clone());
            std::thread::spawn(move || {
                let warm_up = fleet[0].datums(0, interval_s, now_ms());
                drop(SealedBatch::seal(NAMESPACE, &warm_up));
                warm.wait();
                warm.wait();
                let Some(&start) = clock.get() else { return };
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= sends {
                        break;
                    }
                    let slot = schedule.slot(n);
                    let due = start + slot.due;
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                    let late_by = Instant::now().saturating_duration_since(due);
                    let host = &fleet[slot.host as usize];
                    let datums = host.datums(slot.round, interval_s, now_ms());
                    let batch = SealedBatch::seal(NAMESPACE, &datums);
                    let t0 = Instant::now();
                    let outcome =
                        transport.send(&batch, stratus_agent::ship::DEFAULT_REQUEST_TIMEOUT);
                    tally.record(
                        &outcome,
                        batch.datums,
                        t0.elapsed(),
                        late_by,
                        slot.round == 0,
                    );
                }
            })
        })
        .collect();
    warm.wait();
    let start = Instant::now();
    let first = take_snapshot(&tally, &target, 0).0;
    let _ = clock.set(start);
    warm.wait();

    let mut prev = first.clone();
    let mut seen = 0usize;
    let mut next_report = start + args.report_every;
    while !handles.iter().all(|h| h.is_finished()) {
        std::thread::sleep(Duration::from_millis(100));
        if Instant::now() >= next_report {
            let (snap, window) = take_snapshot(&tally, &target, seen);
            seen += window.len();
            print_window(&prev, &snap, window, start, &target);
            prev = snap;
            next_report += args.report_every;
        }
    }
    for h in handles {
        h.join()
            .map_err(|_| anyhow::anyhow!("a sender thread panicked"))?;
    }
    let (last, window) = take_snapshot(&tally, &target, seen);
    if !window.is_empty() {
        print_window(&prev, &last, window, start, &target);
    }
    let (_, all, _) = tally.snapshot(0);
    let (first_sends, later_sends) = tally.by_round();
    let latency = Latencies {
        all: Latency::of(all),
        first: (!first_sends.is_empty()).then(|| Latency::of(first_sends)),
        later: (!later_sends.is_empty()).then(|| Latency::of(later_sends)),
    };
    finish(args, target, &first, &last, &latency, sends)
}

fn now_ms() -> i64 {
    stratus_model::Timestamp::now().millis()
}

/// The figures now, and the latencies recorded since the first `seen`.
fn take_snapshot(tally: &Tally, target: &Target, seen: usize) -> (Snapshot, Vec<u32>) {
    let (counts, window, _) = tally.snapshot(seen);
    let snap = Snapshot {
        at: Instant::now(),
        counts,
        server: target.pid.map(proc_sample),
        generator: proc_sample(std::process::id()),
    };
    (snap, window)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn print_window(prev: &Snapshot, now: &Snapshot, window: Vec<u32>, start: Instant, t: &Target) {
    let secs = now.at.duration_since(prev.at).as_secs_f64().max(1e-9);
    let c = &now.counts;
    let p = &prev.counts;
    let lat = Latency::of(window);
    let server = match (&prev.server, &now.server) {
        (Some(a), Some(b)) => format!(
            "server RSS {:.0} MiB (peak {:.0}) CPU {:.1} s ({:.0}% of a core)",
            mib(b.rss_kib),
            mib(b.hwm_kib),
            cpu_seconds(b),
            100.0 * (cpu_seconds(b) - cpu_seconds(a)) / secs
        ),
        _ => "server RSS/CPU not measured".into(),
    };
    let disk = t.data_dir.as_ref().map_or_else(
        || "disk not measured".into(),
        |d| {
            let bytes = dir_bytes(d);
            format!(
                "disk {:.1} MiB ({:.2} B/datapoint)",
                bytes as f64 / 1048576.0,
                bytes as f64 / c.datapoints.max(1) as f64
            )
        },
    );
    println!(
        "[{:>5.0} s] requests {} ok {} failed {} | {:.0} datapoints/s | latency ms p50 {:.2} p90 {:.2} p99 {:.2} max {:.2} | late sends {} (latest so far {:.0} ms) | {server} | generator CPU {:.0}% | {disk} | load {}",
        now.at.duration_since(start).as_secs_f64(),
        c.sent - p.sent,
        c.ok - p.ok,
        c.failed - p.failed,
        (c.datapoints - p.datapoints) as f64 / secs,
        ms(lat.p50),
        ms(lat.p90),
        ms(lat.p99),
        ms(lat.max),
        c.late - p.late,
        ms(c.max_late),
        100.0 * (cpu_seconds(&now.generator) - cpu_seconds(&prev.generator)) / secs,
        load_average(),
    );
}

fn finish(
    args: &FleetArgs,
    target: Target,
    first: &Snapshot,
    last: &Snapshot,
    latency: &Latencies,
    scheduled: u64,
) -> anyhow::Result<()> {
    let lat = latency.all;
    let c = &last.counts;
    let elapsed = last.at.duration_since(first.at).as_secs_f64().max(1e-9);
    println!("\n== fleet result ({elapsed:.0} s)");
    println!(
        "requests      {} scheduled, {} sent, {} ok, {} failed",
        scheduled, c.sent, c.ok, c.failed
    );
    for (code, (n, message)) in &c.errors {
        println!("  failed      {n} × {code}: {message}");
    }
    println!(
        "accepted      {} datapoints, {:.0} datapoints/s",
        c.datapoints,
        c.datapoints as f64 / elapsed
    );
    println!(
        "latency       PutMetricData p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(lat.p50),
        ms(lat.p90),
        ms(lat.p99),
        ms(lat.max)
    );
    let part = |name: &str, l: Option<Latency>| {
        if let Some(l) = l {
            println!(
                "  {name:<27} p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                ms(l.p50),
                ms(l.p90),
                ms(l.p99),
                ms(l.max)
            );
        }
    };
    part("first send of each host", latency.first);
    part("later sends", latency.later);
    let late_share = c.late as f64 / c.sent.max(1) as f64;
    println!(
        "schedule      {} of {} sends started more than {} ms late ({:.2}%), the latest {:.0} ms late{}",
        c.late,
        c.sent,
        tally::LATE.as_millis(),
        100.0 * late_share,
        ms(c.max_late),
        if late_share > 0.01 {
            " — the generator fell behind (every sender was waiting on the server, or short of CPU): the load offered was lower than asked"
        } else {
            ""
        }
    );
    let gen_cpu = cpu_seconds(&last.generator) - cpu_seconds(&first.generator);
    println!(
        "generator     CPU {gen_cpu:.1} s ({:.1}% of a core)",
        100.0 * gen_cpu / elapsed
    );
    let (server_cpu, rss_peak) = match (&first.server, &last.server) {
        (Some(a), Some(b)) if b.hwm_kib > 0 => {
            let cpu = cpu_seconds(b) - cpu_seconds(a);
            println!(
                "server        RSS {:.0} MiB now, peak (VmHWM) {:.0} MiB; CPU {cpu:.1} s ({:.1}% of a core, {:.1} µs per datapoint)",
                mib(b.rss_kib),
                mib(b.hwm_kib),
                100.0 * cpu / elapsed,
                1e6 * cpu / c.datapoints.max(1) as f64
            );
            (Some(cpu), Some(b.hwm_kib))
        }
        _ => {
            println!(
                "server        RSS and CPU not measured (pass --server-pid, or run against a local endpoint)"
            );
            (None, None)
        }
    };
    let mut disk_bpd = None;
    match (&target.data_dir, target.own) {
        (Some(_), Some((server, dir))) => {
            let live = dir_bytes(&dir.join("tsdb"));
            server.stop()?;
            let tsdb = dir_bytes(&dir.join("tsdb"));
            let wal = dir_bytes(&dir.join("tsdb/wal"));
            let per = |b: u64| b as f64 / c.datapoints.max(1) as f64;
            println!(
                "disk          tsdb {:.1} MiB while running ({:.2} B/datapoint, WAL included); after the server's shutdown seal {:.1} MiB ({:.2} B/datapoint, of which WAL {:.2})",
                live as f64 / 1048576.0,
                per(live),
                tsdb as f64 / 1048576.0,
                per(tsdb),
                per(wal),
            );
            disk_bpd = Some(per(tsdb));
            let _ = std::fs::remove_dir_all(&dir);
        }
        (Some(dir), None) => {
            let bytes = dir_bytes(dir);
            let b = bytes as f64 / c.datapoints.max(1) as f64;
            println!(
                "disk          data dir {:.1} MiB = {b:.2} B per datapoint accepted in this run (WAL and earlier data included)",
                bytes as f64 / 1048576.0
            );
            disk_bpd = Some(b);
        }
        _ => println!("disk          not measured (pass --data-dir)"),
    }
    let p99_met = lat.p99 < P99_TARGET && c.failed == 0 && c.sent > 0;
    let verdict = |met: bool| if met { "met" } else { "NOT met" };
    let rss_text = match rss_peak {
        Some(kib) => format!(
            "{} ({:.0} MiB peak)",
            verdict(kib < RSS_TARGET_KIB),
            mib(kib)
        ),
        None => "not measured".into(),
    };
    println!(
        "targets       {} hosts: p99 < 50 ms {} ({:.2} ms over all sends{}{}); server RSS < 1 GiB {}; generator on schedule {}",
        args.hosts,
        verdict(p99_met),
        ms(lat.p99),
        latency.later.map_or_else(String::new, |l| format!(
            ", {:.2} ms after each host's first send",
            ms(l.p99)
        )),
        if c.failed > 0 {
            format!(", {} failed requests", c.failed)
        } else {
            String::new()
        },
        rss_text,
        verdict(late_share <= 0.01),
    );
    let p99_of = |l: Option<Latency>| l.map(|l| ms(l.p99));
    let opt = |v: Option<f64>| v.map_or_else(|| "na".to_owned(), |v| format!("{v:.3}"));
    println!(
        "fleet-result hosts={} interval_s={} duration_s={} sent={} ok={} failed={} late={} datapoints={} datapoints_per_s={:.1} p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} max_ms={:.3} p99_first_send_ms={} p99_later_sends_ms={} server_rss_peak_mib={} server_cpu_s={} generator_cpu_s={:.3} disk_bytes_per_datapoint={}",
        args.hosts,
        args.interval.as_secs_f64(),
        args.duration.as_secs_f64(),
        c.sent,
        c.ok,
        c.failed,
        c.late,
        c.datapoints,
        c.datapoints as f64 / elapsed,
        ms(lat.p50),
        ms(lat.p90),
        ms(lat.p99),
        ms(lat.max),
        opt(p99_of(latency.first)),
        opt(p99_of(latency.later)),
        opt(rss_peak.map(mib)),
        opt(server_cpu),
        gen_cpu,
        opt(disk_bpd),
    );
    Ok(())
}
