//! Engine benchmark: `cargo run --release -p stratus-tsdb --example tsdb_bench`
//!
//! 1. Write throughput, batches of 1000 datapoints, fsync on, for 1, 2 and 4
//!    writer threads (group commit shares fsyncs between threads).
//! 2. Bytes per datapoint after sealing, for one day of a CloudWatch-agent
//!    like host mix: 100 hosts × 50 metrics at 60 s (7.2 M datapoints).
//! 3. Query latency p50/p99 for 7 days of 1-minute data at a 1-hour period.
//! 4. Retention (`-- retention`): 455 simulated days of 1 host (50 metrics
//!    at 60 s, a seal every 2 simulated hours, clock injected), then disk
//!    use per resolution against the computed minimum, and query latency
//!    over each retained resolution with AWS's periods for that age.
//!    `TSDB_BENCH_DAYS` shortens or lengthens the run.
//!
//! 5. Series definition (`-- define`): a fleet's first minute, 10,000 hosts
//!    × 50 new series written by 32 threads (the server's blocking pool) as
//!    one batch per host, against the same batches again once every series
//!    exists (the baseline). `TSDB_BENCH_HOSTS` changes the fleet size.
//!
//! Sections 1–3 measure raw storage, so they keep every sample
//! ([`Retention::forever`]); section 4 uses CloudWatch's retention.
//!
//! Set `TSDB_BENCH_DIR` to benchmark on a particular filesystem.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use stratus_tsdb::{
    Db, ManualClock, Options, RangeQuery, Retention, Sample, SampleValue, SeriesKey, WriteBatch,
};

const HOSTS: usize = 100;
const MINUTES_PER_DAY: i64 = 1440;
const T0: i64 = 1_700_000_040_000;

/// xorshift64*: deterministic, dependency-free noise.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Roughly normal (sum of uniforms), mean 0, sd ~1.
    fn normal(&mut self) -> f64 {
        (0..4).map(|_| self.unit()).sum::<f64>() * 1.732 - 3.464
    }
}

fn round_to(v: f64, decimals: i32) -> f64 {
    let p = 10f64.powi(decimals);
    (v * p).round() / p
}

/// How one metric evolves, modelled on the CloudWatch agent's default set.
#[derive(Clone, Copy)]
enum Shape {
    /// Percentage with 2 decimals: noise around a level.
    Percent {
        level: f64,
        noise: f64,
    },
    /// Integer gauge doing a random walk (memory bytes, sockets).
    Walk {
        start: f64,
        step: f64,
        min: f64,
    },
    /// Percentage with 2 decimals that drifts slowly (disk used).
    Drift {
        start: f64,
        per_minute: f64,
    },
    /// Integer per-interval counter delta (bytes sent, reads), bursty.
    Delta {
        mean: f64,
        burst: f64,
        quantum: f64,
    },
    /// Rarely non-zero integer counter (errors, drops, zombies).
    Rare {
        p: f64,
    },
    Constant(f64),
}

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

fn metrics() -> Vec<(&'static str, u8, Shape)> {
    use Shape::*;
    // units: 1 = Percent, 2 = Bytes, 3 = Count, 4 = Milliseconds
    vec![
        (
            "cpu_usage_idle",
            1,
            Percent {
                level: 78.0,
                noise: 6.0,
            },
        ),
        (
            "cpu_usage_user",
            1,
            Percent {
                level: 15.0,
                noise: 4.0,
            },
        ),
        (
            "cpu_usage_system",
            1,
            Percent {
                level: 5.0,
                noise: 1.5,
            },
        ),
        (
            "cpu_usage_iowait",
            1,
            Percent {
                level: 0.8,
                noise: 0.5,
            },
        ),
        (
            "cpu_usage_steal",
            1,
            Percent {
                level: 0.1,
                noise: 0.1,
            },
        ),
        (
            "cpu_usage_nice",
            1,
            Percent {
                level: 0.05,
                noise: 0.05,
            },
        ),
        (
            "cpu_usage_irq",
            1,
            Percent {
                level: 0.0,
                noise: 0.02,
            },
        ),
        (
            "cpu_usage_softirq",
            1,
            Percent {
                level: 0.3,
                noise: 0.1,
            },
        ),
        ("cpu_usage_guest", 1, Constant(0.0)),
        (
            "cpu_usage_active",
            1,
            Percent {
                level: 22.0,
                noise: 6.0,
            },
        ),
        (
            "mem_used",
            2,
            Walk {
                start: 6.0 * GIB,
                step: 8.0e6,
                min: 1.0 * GIB,
            },
        ),
        (
            "mem_available",
            2,
            Walk {
                start: 9.0 * GIB,
                step: 8.0e6,
                min: 1.0 * GIB,
            },
        ),
        (
            "mem_free",
            2,
            Walk {
                start: 2.0 * GIB,
                step: 4.0e6,
                min: 0.2 * GIB,
            },
        ),
        (
            "mem_cached",
            2,
            Walk {
                start: 5.0 * GIB,
                step: 1.0e6,
                min: 1.0 * GIB,
            },
        ),
        (
            "mem_buffers",
            2,
            Walk {
                start: 0.3 * GIB,
                step: 4096.0,
                min: 0.1 * GIB,
            },
        ),
        ("mem_total", 2, Constant(16.0 * GIB)),
        (
            "mem_used_percent",
            1,
            Percent {
                level: 37.5,
                noise: 0.3,
            },
        ),
        (
            "mem_available_percent",
            1,
            Percent {
                level: 56.2,
                noise: 0.3,
            },
        ),
        (
            "disk_used_percent",
            1,
            Drift {
                start: 41.0,
                per_minute: 0.001,
            },
        ),
        (
            "disk_free",
            2,
            Walk {
                start: 120.0 * GIB,
                step: 2.0e6,
                min: 1.0 * GIB,
            },
        ),
        (
            "disk_used",
            2,
            Walk {
                start: 80.0 * GIB,
                step: 2.0e6,
                min: 1.0 * GIB,
            },
        ),
        ("disk_total", 2, Constant(200.0 * GIB)),
        (
            "disk_inodes_free",
            3,
            Walk {
                start: 12_000_000.0,
                step: 30.0,
                min: 0.0,
            },
        ),
        (
            "disk_inodes_used",
            3,
            Walk {
                start: 800_000.0,
                step: 30.0,
                min: 0.0,
            },
        ),
        ("disk_inodes_total", 3, Constant(13_107_200.0)),
        (
            "disk_data_used_percent",
            1,
            Drift {
                start: 63.0,
                per_minute: 0.0004,
            },
        ),
        (
            "diskio_reads",
            3,
            Delta {
                mean: 40.0,
                burst: 400.0,
                quantum: 1.0,
            },
        ),
        (
            "diskio_writes",
            3,
            Delta {
                mean: 120.0,
                burst: 800.0,
                quantum: 1.0,
            },
        ),
        (
            "diskio_read_bytes",
            2,
            Delta {
                mean: 40.0 * 16384.0,
                burst: 4.0e8,
                quantum: 4096.0,
            },
        ),
        (
            "diskio_write_bytes",
            2,
            Delta {
                mean: 120.0 * 16384.0,
                burst: 8.0e8,
                quantum: 4096.0,
            },
        ),
        (
            "diskio_io_time",
            4,
            Delta {
                mean: 900.0,
                burst: 30_000.0,
                quantum: 1.0,
            },
        ),
        ("diskio_iops_in_progress", 3, Rare { p: 0.2 }),
        (
            "net_bytes_sent",
            2,
            Delta {
                mean: 3.0e6,
                burst: 2.0e8,
                quantum: 1.0,
            },
        ),
        (
            "net_bytes_recv",
            2,
            Delta {
                mean: 5.0e6,
                burst: 3.0e8,
                quantum: 1.0,
            },
        ),
        (
            "net_packets_sent",
            3,
            Delta {
                mean: 4000.0,
                burst: 150_000.0,
                quantum: 1.0,
            },
        ),
        (
            "net_packets_recv",
            3,
            Delta {
                mean: 5000.0,
                burst: 200_000.0,
                quantum: 1.0,
            },
        ),
        ("net_err_in", 3, Rare { p: 0.001 }),
        ("net_err_out", 3, Rare { p: 0.001 }),
        ("net_drop_in", 3, Rare { p: 0.01 }),
        ("net_drop_out", 3, Rare { p: 0.002 }),
        (
            "netstat_tcp_established",
            3,
            Walk {
                start: 120.0,
                step: 3.0,
                min: 1.0,
            },
        ),
        (
            "netstat_tcp_time_wait",
            3,
            Walk {
                start: 40.0,
                step: 5.0,
                min: 0.0,
            },
        ),
        ("netstat_tcp_close_wait", 3, Rare { p: 0.05 }),
        ("netstat_tcp_listen", 3, Constant(12.0)),
        (
            "netstat_udp_socket",
            3,
            Walk {
                start: 8.0,
                step: 0.3,
                min: 0.0,
            },
        ),
        (
            "processes_running",
            3,
            Walk {
                start: 2.0,
                step: 0.8,
                min: 0.0,
            },
        ),
        (
            "processes_sleeping",
            3,
            Walk {
                start: 210.0,
                step: 1.5,
                min: 0.0,
            },
        ),
        ("processes_blocked", 3, Rare { p: 0.05 }),
        ("processes_zombies", 3, Constant(0.0)),
        (
            "processes_total",
            3,
            Walk {
                start: 212.0,
                step: 1.5,
                min: 0.0,
            },
        ),
    ]
}

/// Per-series generator state.
struct Series {
    key: SeriesKey,
    unit: u8,
    shape: Shape,
    state: f64,
}

impl Series {
    fn next(&mut self, minute: i64, rng: &mut Rng) -> f64 {
        match self.shape {
            Shape::Percent { level, noise } => {
                round_to((level + noise * rng.normal()).clamp(0.0, 100.0), 2)
            }
            Shape::Walk { step, min, .. } => {
                self.state = (self.state + (step * rng.normal()).round()).max(min);
                self.state
            }
            Shape::Drift { start, per_minute } => round_to(start + per_minute * minute as f64, 2),
            Shape::Delta {
                mean,
                burst,
                quantum,
            } => {
                let base = mean * (0.5 + rng.unit());
                let spike = if rng.unit() < 0.02 {
                    burst * rng.unit()
                } else {
                    0.0
                };
                ((base + spike) / quantum).round() * quantum
            }
            Shape::Rare { p } => {
                if rng.unit() < p {
                    (1.0 + 3.0 * rng.unit()).floor()
                } else {
                    0.0
                }
            }
            Shape::Constant(v) => v,
        }
    }
}

fn host_series() -> Vec<Series> {
    fleet_series(HOSTS)
}

fn fleet_series(hosts: usize) -> Vec<Series> {
    let mut out = Vec::new();
    for h in 0..hosts {
        let host = format!("i-{:017x}", 0x0abc_0000_0000_0000u64 + h as u64);
        for (name, unit, shape) in metrics() {
            let start = match shape {
                Shape::Walk { start, .. } => start,
                _ => 0.0,
            };
            out.push(Series {
                key: SeriesKey::new(
                    "CWAgent",
                    name,
                    [
                        ("InstanceId".to_string(), host.clone()),
                        ("ImageId".to_string(), "ami-0abcdef1234567890".to_string()),
                        ("InstanceType".to_string(), "m5.xlarge".to_string()),
                    ],
                ),
                unit,
                shape,
                state: start,
            });
        }
    }
    out
}

fn bench_dir(name: &str) -> (tempfile::TempDir, PathBuf) {
    let base = std::env::var_os("TSDB_BENCH_DIR").map(PathBuf::from);
    let tmp = match base {
        Some(b) => tempfile::tempdir_in(b),
        None => tempfile::tempdir(),
    }
    .expect("temp dir");
    let path = tmp.path().join(name);
    (tmp, path)
}

/// Writes `minutes` of the host mix with `threads` writers (each writer owns
/// a slice of the hosts). Returns (datapoints, wall time, engine time).
fn write_mix(db: &Db, minutes: i64, threads: usize) -> (u64, Duration, Duration) {
    let mut all = host_series();
    let per_thread = all.len().div_ceil(threads);
    let mut chunks: Vec<Vec<Series>> = Vec::new();
    while !all.is_empty() {
        let rest = all.split_off(per_thread.min(all.len()));
        chunks.push(std::mem::replace(&mut all, rest));
    }
    let wall = Instant::now();
    let engine: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .enumerate()
            .map(|(t, mut series)| {
                s.spawn(move || {
                    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1));
                    // Batches are built once and updated in place, so the
                    // timing below is the engine's, not the generator's.
                    let mut batches: Vec<WriteBatch> = series
                        .chunks(1000)
                        .map(|c| {
                            let mut b = WriteBatch::with_capacity(1000);
                            for s in c {
                                b.push(s.key.clone(), Sample::single(0, s.unit, 0.0));
                            }
                            b
                        })
                        .collect();
                    let mut spent = Duration::ZERO;
                    for minute in 0..minutes {
                        let ts = T0 + minute * 60_000;
                        let mut i = 0;
                        for b in &mut batches {
                            for (_, sample) in &mut b.entries {
                                sample.timestamp_ms = ts;
                                sample.value =
                                    SampleValue::Single(series[i].next(minute, &mut rng));
                                i += 1;
                            }
                            let t = Instant::now();
                            db.write(b).expect("write");
                            spent += t.elapsed();
                        }
                    }
                    spent
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("writer"))
            .collect()
    });
    let points = (HOSTS * metrics().len()) as u64 * minutes as u64;
    let engine_max = engine.into_iter().max().unwrap_or_default();
    (points, wall.elapsed(), engine_max)
}

/// Raw storage, whatever the samples' age (sections 1–3).
fn kept_forever() -> Options {
    Options {
        retention: Retention::forever(),
        ..Options::default()
    }
}

const DAY_MS: i64 = 86_400_000;

/// Latency percentiles of `runs` queries built by `make`.
fn time_queries(
    db: &Db,
    runs: usize,
    mut make: impl FnMut(usize) -> (SeriesKey, i64, i64, i64),
) -> (f64, f64, f64) {
    let mut lat = Vec::with_capacity(runs);
    let mut points = 0usize;
    for i in 0..runs {
        let (key, start_ms, end_ms, period_ms) = make(i);
        let q = RangeQuery {
            series: &key,
            start_ms,
            end_ms,
            period_ms,
            unit: None,
        };
        let t = Instant::now();
        let aggs = db.query(&q).expect("query");
        let _ = aggs.first().map(|a| a.percentile(99.0));
        lat.push(t.elapsed());
        points += aggs.len();
    }
    lat.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    (
        ms(lat[lat.len() / 2]),
        ms(lat[lat.len() * 99 / 100]),
        points as f64 / runs as f64,
    )
}

/// The computed minimum: each resolution holding exactly the time range
/// its retention requires (from the finer resolution's retention to its
/// own, clipped to the run so far), at the bytes per covered time it
/// achieves. Whole-window expiry keeps up to one window more.
fn minimum_bytes(stats: &stratus_tsdb::Stats, retention: &Retention, ran_ms: i64) -> f64 {
    let mut minimum = 0.0;
    let mut finer_keep = 0i64;
    for r in &stats.resolutions {
        let keep = retention.of_ms(r.resolution).unwrap_or(i64::MAX);
        let required = (keep.min(ran_ms) - finer_keep.min(ran_ms)).max(0);
        finer_keep = keep;
        let slot = r.resolution.slot_ms().unwrap_or(60_000);
        let held = r.span_ms.map_or(0, |(lo, hi)| hi - lo + slot);
        if held > 0 {
            minimum += (r.bytes as f64 * required as f64 / held as f64).min(r.bytes as f64);
        }
    }
    minimum
}

/// Section 4: a time-accelerated long run with CloudWatch's retention.
fn bench_retention() {
    let days: i64 = std::env::var("TSDB_BENCH_DAYS")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(455);
    let (_tmp, dir) = bench_dir("retention");
    // Epoch-aligned to every window, like a real start would not be; the
    // run ends mid-window anyway.
    let start = 28 * DAY_MS * 700;
    let clock = ManualClock::new(start);
    let opts = Options {
        fsync: false,
        clock: clock.clock(),
        seal_interval: Duration::from_secs(365 * 86_400),
        ..Options::default()
    };
    let retention = opts.retention.clone();
    let db = Db::open(&dir, opts).expect("open");
    let mut series = fleet_series(1);
    let mut rng = Rng(7);
    let mut batch = WriteBatch::with_capacity(series.len());
    for s in &series {
        batch.push(s.key.clone(), Sample::single(0, s.unit, 0.0));
    }
    let wall = Instant::now();
    let mut seal_time = Duration::ZERO;
    let mut peak_over = 0.0f64;
    let minutes = days * 1440;
    for minute in 0..minutes {
        let ts = start + minute * 60_000;
        for (i, (_, sample)) in batch.entries.iter_mut().enumerate() {
            sample.timestamp_ms = ts;
            sample.value = SampleValue::Single(series[i].next(minute, &mut rng));
        }
        db.write(&batch).expect("write");
        if (minute + 1) % 120 == 0 {
            clock.set(ts + 60_000);
            let t = Instant::now();
            db.seal().expect("seal");
            seal_time += t.elapsed();
            if minute > 30 * 1440 {
                let st = db.stats();
                let min = minimum_bytes(&st, &retention, ts + 60_000 - start);
                peak_over = peak_over.max(st.block_bytes as f64 / min - 1.0);
            }
        }
    }
    clock.set(start + minutes * 60_000);
    db.seal().expect("seal");
    let now = clock.now_ms();
    let points = minutes as u64 * series.len() as u64;
    let stats = db.stats();
    println!(
        "retain {days} days × 1 host × {} metrics: {points} datapoints in {:.1} s wall ({:.1} s sealing + compacting, {} compactions)",
        series.len(),
        wall.elapsed().as_secs_f64(),
        seal_time.as_secs_f64(),
        stats.compactions,
    );
    let mut finer_keep = 0i64;
    for r in &stats.resolutions {
        let keep = retention.of_ms(r.resolution).unwrap_or(i64::MAX);
        let required = (keep.min(now - start) - finer_keep.min(now - start)).max(0);
        finer_keep = keep;
        let slot = r.resolution.slot_ms().unwrap_or(60_000);
        let held = r.span_ms.map_or(0, |(lo, hi)| hi - lo + slot);
        println!(
            "retain   {:<12} {:>3} blocks {:>10} B {:>9} rows {:>6.2} B/row  holds {:>6.2} days, required {:>6.2} days",
            format!("{:?}", r.resolution),
            r.blocks,
            r.bytes,
            r.rows,
            r.bytes as f64 / r.rows.max(1) as f64,
            held as f64 / DAY_MS as f64,
            required as f64 / DAY_MS as f64,
        );
    }
    let minimum = minimum_bytes(&stats, &retention, now - start);
    let on_disk = stats.block_bytes + stats.wal_bytes + stats.catalog_bytes;
    println!(
        "retain disk: blocks {} B + WAL {} B + catalog {} B = {} B; computed minimum {:.0} B → {:.1} % above (peak over the run after day 30: {:.1} % above); all samples as raw blocks would be ≈ {:.0} B",
        stats.block_bytes,
        stats.wal_bytes,
        stats.catalog_bytes,
        on_disk,
        minimum,
        (on_disk as f64 / minimum - 1.0) * 100.0,
        peak_over * 100.0,
        points as f64 * stats.resolutions[0].bytes as f64 / stats.resolutions[0].rows.max(1) as f64,
    );
    // Queries: 1440 datapoints each, periods as AWS requires for the age.
    let keys: Vec<SeriesKey> = series.iter().map(|s| s.key.clone()).collect();
    let mut qrng = Rng(11);
    let zones: [(&str, i64, i64, i64, i64); 5] = [
        (
            "raw, last 3 h @ 60 s",
            0,
            3 * 3_600_000,
            3 * 3_600_000,
            60_000,
        ),
        (
            "1-min, 1 day @ 60 s",
            3 * 3_600_000,
            15 * DAY_MS,
            DAY_MS,
            60_000,
        ),
        (
            "5-min, 5 days @ 300 s",
            15 * DAY_MS,
            63 * DAY_MS,
            5 * DAY_MS,
            300_000,
        ),
        (
            "1-hour, 60 days @ 3600 s",
            63 * DAY_MS,
            (days - 1) * DAY_MS,
            60 * DAY_MS,
            3_600_000,
        ),
        (
            "all, 455 days @ 1 day",
            0,
            455 * DAY_MS,
            455 * DAY_MS,
            DAY_MS,
        ),
    ];
    for (label, newest_age, oldest_age, len, period) in zones {
        if oldest_age > days * DAY_MS || oldest_age - newest_age < len {
            continue;
        }
        let (p50, p99, pts) = time_queries(&db, 300, |i| {
            let room = (oldest_age - newest_age - len).max(0);
            let age = newest_age + len + (qrng.unit() * room as f64) as i64;
            let qstart = (now - age).div_euclid(period) * period;
            (keys[i % keys.len()].clone(), qstart, qstart + len, period)
        });
        println!("query  {label}: p50 {p50:.3} ms, p99 {p99:.3} ms, {pts:.0} datapoints per query");
    }
}

fn main() {
    println!(
        "stratus-tsdb benchmark ({} hosts × {} metrics, 60 s)",
        HOSTS,
        metrics().len()
    );
    // Optional section filter: `-- write`, `-- size`, `-- query`.
    let only: Option<String> = std::env::args().nth(1);
    let wants = |s: &str| only.as_deref().is_none_or(|o| o == s);

    // 1. Write throughput, fsync on, seals included when the head fills up.
    for threads in [1usize, 4, 16, 32].into_iter().filter(|_| wants("write")) {
        let (_tmp, dir) = bench_dir("write");
        let db = Db::open(&dir, kept_forever()).expect("open");
        let minutes = 400; // 2,000,000 datapoints
        let (points, wall, engine) = write_mix(&db, minutes, threads);
        let stats = db.stats();
        println!(
            "write  threads={threads}: {points} datapoints in {:.2} s wall → {:.0} dp/s (engine time of slowest writer {:.2} s → {:.0} dp/s); {:.1} batches per fsync; {} blocks sealed",
            wall.as_secs_f64(),
            points as f64 / wall.as_secs_f64(),
            engine.as_secs_f64(),
            points as f64 / engine.as_secs_f64(),
            stats.wal_records as f64 / stats.wal_flushes.max(1) as f64,
            stats.blocks,
        );
    }

    // 2. Size after sealing: one day, one writer, fsync off (size only).
    if wants("size") {
        let (_tmp, dir) = bench_dir("size");
        let opts = Options {
            fsync: false,
            max_head_samples: 8_000_000,
            ..kept_forever()
        };
        let db = Db::open(&dir, opts.clone()).expect("open");
        let (points, wall, _) = write_mix(&db, MINUTES_PER_DAY, 1);
        let before = db.stats();
        let t = Instant::now();
        db.seal().expect("seal");
        let seal_time = t.elapsed();
        let after = db.stats();
        println!(
            "size   one day: {points} datapoints written in {:.2} s; WAL before seal {:.2} B/dp; seal took {:.2} s ({:.0} dp/s)",
            wall.as_secs_f64(),
            before.wal_bytes as f64 / points as f64,
            seal_time.as_secs_f64(),
            points as f64 / seal_time.as_secs_f64(),
        );
        println!(
            "size   after seal: blocks {} B ({:.3} B/dp), catalog {} B, WAL {} B, total {:.3} B/dp",
            after.block_bytes,
            after.block_bytes as f64 / points as f64,
            after.catalog_bytes,
            after.wal_bytes,
            (after.block_bytes + after.catalog_bytes + after.wal_bytes) as f64 / points as f64,
        );
        db.close().expect("close");
        let t = Instant::now();
        let db = Db::open(&dir, opts).expect("reopen");
        println!(
            "open   reopen with {} series and {} sealed samples: {:.1} ms",
            db.stats().series,
            db.stats().sealed_samples,
            t.elapsed().as_secs_f64() * 1e3
        );
    }

    if wants("retention") {
        bench_retention();
    }

    if wants("define") {
        bench_define();
    }

    // 3. Query latency: 7 days of 1-minute data, 1-hour period, one block per day.
    if wants("query") {
        let (_tmp, dir) = bench_dir("query");
        let db = Db::open(&dir, kept_forever()).expect("open");
        let key = SeriesKey::new(
            "CWAgent",
            "cpu_usage_user",
            [("InstanceId".to_string(), "i-1".to_string())],
        );
        let mut rng = Rng(42);
        for day in 0..7 {
            let mut batch = WriteBatch::with_capacity(MINUTES_PER_DAY as usize);
            for m in 0..MINUTES_PER_DAY {
                let v = round_to((15.0 + 4.0 * rng.normal()).max(0.0), 2);
                batch.push(
                    key.clone(),
                    Sample::single(T0 + (day * MINUTES_PER_DAY + m) * 60_000, 1, v),
                );
            }
            db.write(&batch).expect("write");
            db.seal().expect("seal");
        }
        let q = RangeQuery {
            series: &key,
            start_ms: T0,
            end_ms: T0 + 7 * MINUTES_PER_DAY * 60_000,
            period_ms: 3_600_000,
            unit: None,
        };
        let run = |label: &str| {
            let mut lat = Vec::new();
            let mut check = 0.0;
            for _ in 0..2000 {
                let t = Instant::now();
                let aggs = db.query(&q).expect("query");
                check += aggs.iter().map(|a| a.count).sum::<f64>()
                    + aggs[0].percentile(99.0).unwrap_or(0.0);
                lat.push(t.elapsed());
            }
            lat.sort();
            println!(
                "query  {label}: 10,080 points → 168 hourly aggregates: p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms (checksum {check:.0})",
                lat[lat.len() / 2].as_secs_f64() * 1e3,
                lat[lat.len() * 9 / 10].as_secs_f64() * 1e3,
                lat[lat.len() * 99 / 100].as_secs_f64() * 1e3,
            );
        };
        run("from 7 blocks");
        // The same week, unsealed: write it again to a fresh series in the head.
        drop(db);
    }
}

/// Section 5: one write per host, every series of the first pass new, the
/// second pass the same series a minute later. Per-write latency from 32
/// threads pulling hosts from a shared counter, fsync on, seals in a
/// background thread as the server runs them.
fn bench_define() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let hosts: usize = std::env::var("TSDB_BENCH_HOSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let threads: usize = std::env::var("TSDB_BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    let (_tmp, dir) = bench_dir("define");
    let opts = Options {
        seal_on_write: false,
        ..kept_forever()
    };
    let db = Db::open(&dir, opts).expect("open");
    let per_host = metrics().len();
    let mut batches: Vec<WriteBatch> = fleet_series(hosts)
        .chunks(per_host)
        .map(|c| {
            let mut b = WriteBatch::with_capacity(per_host);
            for s in c {
                b.push(s.key.clone(), Sample::single(T0, s.unit, 1.0));
            }
            b
        })
        .collect();
    let stop = AtomicBool::new(false);
    let pass = |label: &str, batches: &[WriteBatch]| -> f64 {
        let next = AtomicUsize::new(0);
        let wall = Instant::now();
        let mut lat: Vec<(Duration, usize)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut lat = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(b) = batches.get(i) else { break };
                            let t = Instant::now();
                            db.write(b).expect("write");
                            lat.push((t.elapsed(), i));
                        }
                        lat
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("writer"))
                .collect()
        });
        let wall = wall.elapsed().as_secs_f64();
        lat.sort();
        let q = |f: f64| {
            lat[((lat.len() as f64 * f) as usize).min(lat.len() - 1)]
                .0
                .as_secs_f64()
                * 1e3
        };
        let per_s = batches.len() as f64 / wall;
        println!(
            "define {label}: {} writes of {per_host} in {wall:.2} s → {per_s:.0} writes/s ({:.0} series/s); latency ms p50 {:.2} p90 {:.2} p99 {:.2} max {:.2}",
            batches.len(),
            per_s * per_host as f64,
            q(0.5),
            q(0.9),
            q(0.99),
            q(1.0),
        );
        // The slowest writes and how many hosts had written before them:
        // stalls at particular fleet sizes point at a structure resizing.
        let slowest: Vec<String> = lat
            .iter()
            .rev()
            .take(5)
            .map(|(d, i)| format!("{:.1} ms at host {i}", d.as_secs_f64() * 1e3))
            .collect();
        println!("define {label}: slowest {}", slowest.join(", "));
        per_s
    };
    let (first, later) = std::thread::scope(|s| {
        // The server's tsdb thread: settle the listing order and seal when
        // due, every 250 ms.
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                db.settle_listing();
                if db.seal_due() {
                    db.seal().expect("seal");
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        });
        let first = pass("new series     ", &batches);
        for b in &mut batches {
            for (_, sample) in &mut b.entries {
                sample.timestamp_ms += 60_000;
            }
        }
        let later = pass("existing series", &batches);
        stop.store(true, Ordering::Relaxed);
        (first, later)
    });
    println!(
        "define new-series writes run at {:.2}× the rate of writes to existing series; {} series, index ~{:.0} B/series; RSS {:.0} MiB",
        first / later,
        db.stats().series,
        db.stats().series_index_bytes as f64 / db.stats().series.max(1) as f64,
        rss_kib() as f64 / 1024.0,
    );
}

/// This process's resident set (Linux), 0 elsewhere.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
