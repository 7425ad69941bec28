//! Crash safety of multi-file updates: a child process (this test binary
//! re-executed) runs a scripted workload whose fail hook aborts the process
//! at one injected point — mid-seal, before the WAL is cut, after a rollup
//! or merge wrote its block, after it deleted one source — and the parent
//! reopens the directory and requires every written sample exactly once.

use std::process::Command;

use stratus_tsdb::{
    Db, FailHook, FailPoint, ManualClock, Options, RangeQuery, Resolution, Sample, SeriesKey,
    WriteBatch,
};

const CHILD_ENV: &str = "STRATUS_TSDB_FAILPOINT_CHILD";
const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const T0: i64 = 28 * DAY * 700;

#[derive(Clone, Copy, Debug)]
enum Op {
    /// 60 one-minute samples of value `v` in hour `h` (from T0), two series.
    Write {
        h: i64,
        v: f64,
    },
    Seal,
    /// Move the clock forward.
    Advance(i64),
    Compact,
}

fn key(s: usize) -> SeriesKey {
    SeriesKey::new("Crash", "m", [("s".to_string(), s.to_string())])
}

fn batch(h: i64, v: f64) -> WriteBatch {
    let mut b = WriteBatch::new();
    for s in 0..2 {
        for m in 0..60 {
            b.push(key(s), Sample::single(T0 + h * HOUR + m * MINUTE, 0, v));
        }
    }
    b
}

/// The workload that reaches `point`, starting at clock T0 + 1 day.
fn script(point: FailPoint) -> Vec<Op> {
    use Op::*;
    let recent = [
        Write { h: 21, v: 1.0 },
        Write { h: 22, v: 2.0 },
        Write { h: 23, v: 3.0 },
    ];
    let mut ops = recent.to_vec();
    match point {
        // A seal writing three window blocks; killed after the first, or
        // after all three but before the WAL segments are removed.
        FailPoint::SealBlockWritten | FailPoint::SealBeforeWalRemoval => ops.push(Seal),
        // Sealed, then a day later the raw hours are rolled up.
        FailPoint::CompactionBlockWritten | FailPoint::CompactionSourceRemoved => {
            ops.extend([Seal, Advance(DAY), Compact]);
        }
        // Series lifecycle points: tests/series_lifecycle.rs.
        _ => unreachable!("not a compaction crash point: {point:?}"),
    }
    ops
}

/// Merges: late data for an hour already sealed (still within raw
/// retention), then a seal (merge due because the window has ended).
fn merge_script() -> Vec<Op> {
    use Op::*;
    vec![
        Write { h: 22, v: 1.0 },
        Seal,
        Write { h: 22, v: 5.0 },
        Write { h: 22, v: 7.0 },
        Seal,
    ]
}

fn options(clock: &ManualClock, point: Option<FailPoint>) -> Options {
    Options {
        fsync: true,
        clock: clock.clock(),
        // Compaction only where the script says, except for the merge
        // script whose seal compacts.
        compact_on_seal: point.is_none(),
        fail_hook: point.map(|p| {
            FailHook(std::sync::Arc::new(move |at| {
                if at == p {
                    std::process::abort();
                }
            }))
        }),
        ..Options::default()
    }
}

fn run(db: &Db, clock: &ManualClock, ops: &[Op]) {
    for op in ops {
        match *op {
            Op::Write { h, v } => {
                db.write(&batch(h, v)).unwrap();
            }
            Op::Seal => db.seal().unwrap(),
            Op::Advance(ms) => clock.set(clock.now_ms() + ms),
            Op::Compact => db.compact().unwrap(),
        }
    }
}

fn parse_point(s: &str) -> FailPoint {
    match s {
        "SealBlockWritten" => FailPoint::SealBlockWritten,
        "SealBeforeWalRemoval" => FailPoint::SealBeforeWalRemoval,
        "CompactionBlockWritten" => FailPoint::CompactionBlockWritten,
        _ => FailPoint::CompactionSourceRemoved,
    }
}

/// Child: `<dir>|<point>|<merge?>`.
fn child_main(arg: &str) {
    let mut parts = arg.split('|');
    let dir = parts.next().unwrap();
    let point = parse_point(parts.next().unwrap());
    let merge = parts.next() == Some("merge");
    let clock = ManualClock::new(T0 + DAY);
    let mut opts = options(&clock, Some(point));
    opts.compact_on_seal = merge;
    let db = Db::open(std::path::Path::new(dir), opts).unwrap();
    let ops = if merge { merge_script() } else { script(point) };
    run(&db, &clock, &ops);
    // Reaching here means the fail point was never hit: exit normally,
    // which the parent treats as a failure.
}

/// Runs the child up to `point`, then checks the reopened directory.
fn crash_at(point: FailPoint, merge: bool) {
    let dir = tempfile::tempdir().unwrap();
    let arg = format!(
        "{}|{point:?}|{}",
        dir.path().display(),
        if merge { "merge" } else { "" }
    );
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &arg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(
        !status.success(),
        "{point:?}: the child never reached the fail point"
    );

    let ops = if merge { merge_script() } else { script(point) };
    let end = T0
        + DAY
        + ops
            .iter()
            .map(|o| match o {
                Op::Advance(ms) => *ms,
                _ => 0,
            })
            .sum::<i64>();
    let clock = ManualClock::new(end);
    let db = Db::open(dir.path(), options(&clock, None)).unwrap();
    let check = |db: &Db, stage: &str| {
        for s in 0..2 {
            for op in &ops {
                let Op::Write { h, .. } = op else { continue };
                let expected: Vec<f64> = ops
                    .iter()
                    .filter_map(|o| match o {
                        Op::Write { h: h2, v } if h2 == h => Some(*v),
                        _ => None,
                    })
                    .collect();
                let k = key(s);
                let aggs = db
                    .query(&RangeQuery {
                        series: &k,
                        start_ms: T0 + h * HOUR,
                        end_ms: T0 + (h + 1) * HOUR,
                        period_ms: HOUR,
                        unit: None,
                    })
                    .unwrap();
                assert_eq!(aggs.len(), 1, "{point:?} {stage}: hour {h} missing");
                assert_eq!(
                    (aggs[0].count, aggs[0].sum),
                    (
                        60.0 * expected.len() as f64,
                        60.0 * expected.iter().sum::<f64>()
                    ),
                    "{point:?} {stage}: hour {h} lost or duplicated samples"
                );
            }
        }
    };
    check(&db, "after reopen");
    // Finishing the interrupted work (seal, compact) keeps every sample once.
    db.seal().unwrap();
    db.compact().unwrap();
    check(&db, "after compaction");
    let stats = db.stats();
    if !merge
        && matches!(
            point,
            FailPoint::CompactionBlockWritten | FailPoint::CompactionSourceRemoved
        )
    {
        assert_eq!(
            stats.resolutions[0].blocks, 0,
            "{point:?}: raw blocks left: {stats:?}"
        );
        assert_eq!(stats.resolutions[1].resolution, Resolution::OneMinute);
        assert_eq!(stats.resolutions[1].blocks, 1, "{point:?}: {stats:?}");
    }
    drop(db);
    let db = Db::open(dir.path(), options(&clock, None)).unwrap();
    check(&db, "after a second reopen");
}

#[test]
fn child_entry() {
    if let Ok(arg) = std::env::var(CHILD_ENV) {
        child_main(&arg);
    }
}

#[test]
fn killed_mid_seal_replays_the_wal_once() {
    crash_at(FailPoint::SealBlockWritten, false);
}

#[test]
fn killed_before_the_wal_is_cut_skips_sealed_segments() {
    crash_at(FailPoint::SealBeforeWalRemoval, false);
}

#[test]
fn killed_after_a_rollup_block_is_written() {
    crash_at(FailPoint::CompactionBlockWritten, false);
}

#[test]
fn killed_between_deleting_rollup_sources() {
    crash_at(FailPoint::CompactionSourceRemoved, false);
}

#[test]
fn killed_after_a_merged_block_is_written() {
    crash_at(FailPoint::CompactionBlockWritten, true);
}

#[test]
fn killed_between_deleting_merge_sources() {
    crash_at(FailPoint::CompactionSourceRemoved, true);
}
