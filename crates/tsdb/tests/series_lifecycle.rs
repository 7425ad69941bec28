//! Series lifecycle: a series whose data has all expired is forgotten (index
//! and catalog), so hosts that come and go do not grow memory or the
//! catalog; forgetting is crash-safe (kill-at-injected-point child
//! processes, as in `compaction_crash.rs`); a forgotten series that comes
//! back is a new series holding only its new data.

use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use stratus_tsdb::{
    Db, FailHook, FailPoint, ManualClock, Options, RangeQuery, Retention, Sample, SeriesFilter,
    SeriesKey, WriteBatch,
};

const CHILD_ENV: &str = "STRATUS_TSDB_LIFECYCLE_CHILD";
const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// The start of a 7-day (1-hour rollup) window.
const T0: i64 = 28 * DAY * 700;

/// Short retention so data expires within simulated days: raw 3 h, 1-min
/// and 5-min 1 day, 1-hour rows 7 days (each at least its file window).
fn short_retention() -> Retention {
    let h = |n: u64| Some(Duration::from_secs(n * 3600));
    Retention {
        raw: h(3),
        one_minute: h(24),
        five_minutes: h(24),
        one_hour: h(7 * 24),
    }
}

fn options(clock: &ManualClock) -> Options {
    Options {
        fsync: true,
        clock: clock.clock(),
        retention: short_retention(),
        compact_on_seal: false,
        // Listings show every series the index holds: a forgotten series
        // coming back to life would be visible.
        hide_inactive_after: None,
        ..Options::default()
    }
}

fn key(name: &str) -> SeriesKey {
    SeriesKey::new("Life", "m", [("host".to_string(), name.to_string())])
}

fn write(db: &Db, name: &str, from: i64, n: i64, v: f64) {
    let mut b = WriteBatch::new();
    for i in 0..n {
        b.push(key(name), Sample::single(from + i * MINUTE, 0, v));
    }
    db.write(&b).unwrap();
}

fn listed(db: &Db) -> Vec<String> {
    db.list_series(&SeriesFilter::default(), None, 1000)
        .into_iter()
        .map(|k| k.dimensions[0].1.clone())
        .collect()
}

/// `(count, sum)` of every sample of `name`.
fn totals(db: &Db, name: &str) -> (f64, f64) {
    let k = key(name);
    let aggs = db
        .query(&RangeQuery {
            series: &k,
            start_ms: T0 - 7 * DAY,
            end_ms: T0 + 400 * DAY,
            period_ms: 400 * DAY,
            unit: None,
        })
        .unwrap();
    aggs.iter()
        .fold((0.0, 0.0), |a, g| (a.0 + g.count, a.1 + g.sum))
}

/// When the old data expires: T0 + 30 days.
const LATER: i64 = T0 + 30 * DAY;

/// The workload: `gone` and `back` write at T0, `kept` at T0 and 30 days
/// later; then a compaction 30 days on expires the old windows and forgets
/// `gone` and `back`. The fail hook writes `back` anew (a host returning
/// while the catalog is being rewritten) before the process is killed.
fn workload(db: &Db, clock: &ManualClock) {
    for name in ["gone", "back", "kept"] {
        write(db, name, T0, 30, 1.0);
    }
    db.seal().unwrap();
    clock.set(LATER);
    write(db, "kept", LATER - HOUR, 30, 2.0);
    db.seal().unwrap();
    db.compact().unwrap();
}

static CHILD_DB: OnceLock<Arc<Db>> = OnceLock::new();

fn child_main(arg: &str) {
    let (dir, point) = arg.split_once('|').unwrap();
    let point = match point {
        "ForgetBeforeCatalogRewrite" => FailPoint::ForgetBeforeCatalogRewrite,
        _ => FailPoint::ForgetCatalogRewritten,
    };
    let clock = ManualClock::new(T0 + HOUR);
    let mut opts = options(&clock);
    opts.fail_hook = Some(FailHook(Arc::new(move |at| {
        if at == point {
            if let Some(db) = CHILD_DB.get() {
                write(db, "back", LATER - 10 * MINUTE, 5, 7.0);
            }
            std::process::abort();
        }
    })));
    let db = Arc::new(Db::open(std::path::Path::new(dir), opts).unwrap());
    let _ = CHILD_DB.set(db.clone());
    workload(&db, &clock);
    // Reaching here means the fail point was never hit: exit normally,
    // which the parent treats as a failure.
}

#[test]
fn child_entry() {
    if let Ok(arg) = std::env::var(CHILD_ENV) {
        child_main(&arg);
    }
}

fn crash_at(point: FailPoint) {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{}|{point:?}", dir.path().display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "{point:?}: the child never reached it");

    let clock = ManualClock::new(LATER);
    let check = |db: &Db, stage: &str| {
        assert_eq!(listed(db), vec!["back", "kept"], "{point:?} {stage}");
        assert_eq!(totals(db, "gone"), (0.0, 0.0), "{point:?} {stage}");
        // Only the data written after it came back: the old `back` is gone.
        assert_eq!(totals(db, "back"), (5.0, 35.0), "{point:?} {stage}");
        assert_eq!(totals(db, "kept"), (30.0, 60.0), "{point:?} {stage}");
        assert_eq!(db.stats().series, 2, "{point:?} {stage}");
    };
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    check(&db, "after reopen");
    // Finish the interrupted work, then reuse the freed ids for new series:
    // none of them may pick up another series' data.
    db.seal().unwrap();
    db.compact().unwrap();
    check(&db, "after compaction");
    for n in 0..3 {
        write(
            &db,
            &format!("new{n}"),
            LATER - 5 * MINUTE,
            2,
            10.0 + n as f64,
        );
    }
    db.seal().unwrap();
    drop(db);
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    assert_eq!(
        listed(&db),
        vec!["back", "kept", "new0", "new1", "new2"],
        "{point:?}"
    );
    assert_eq!(totals(&db, "back"), (5.0, 35.0), "{point:?}");
    for n in 0..3 {
        let sum = 2.0 * (10.0 + n as f64);
        assert_eq!(totals(&db, &format!("new{n}")), (2.0, sum), "{point:?}");
    }
    let catalog_before = db.stats().catalog_bytes;
    drop(db);
    // And once more with everything sealed: the catalog holds only live series.
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    assert_eq!(db.stats().series, 5);
    assert_eq!(db.stats().catalog_bytes, catalog_before);
}

#[test]
fn killed_before_the_catalog_rewrite() {
    crash_at(FailPoint::ForgetBeforeCatalogRewrite);
}

#[test]
fn killed_after_the_catalog_rewrite() {
    crash_at(FailPoint::ForgetCatalogRewritten);
}

#[test]
fn a_forgotten_series_that_returns_holds_only_its_new_data() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0 + HOUR);
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    workload(&db, &clock);
    assert_eq!(listed(&db), vec!["kept"]);
    assert_eq!(db.stats().forgotten_series, 2);
    write(&db, "back", LATER - 10 * MINUTE, 5, 7.0);
    assert_eq!(listed(&db), vec!["back", "kept"]);
    assert_eq!(totals(&db, "back"), (5.0, 35.0));
    db.close().unwrap();
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    assert_eq!(listed(&db), vec!["back", "kept"]);
    assert_eq!(totals(&db, "back"), (5.0, 35.0));
    assert_eq!(totals(&db, "kept"), (30.0, 60.0));
}

/// Hosts that come and go: 50 hosts at a time, each living 4 simulated
/// hours (2 metrics, a sample every 10 minutes), for 8 simulated weeks.
/// The index's series count, its memory and the catalog stay flat once
/// retention has reached steady state, although the number of hosts ever
/// seen keeps growing.
#[test]
fn series_churn_keeps_memory_and_catalog_flat() {
    const HOSTS: usize = 50;
    const LIFE: i64 = 4 * HOUR;
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut opts = options(&clock);
    opts.fsync = false;
    let db = Db::open(dir.path(), opts).unwrap();
    let mut generation = 0usize;
    let mut weekly = Vec::new();
    for week in 0..8 {
        for _ in 0..(7 * DAY / LIFE) {
            let born = clock.now_ms();
            let mut b = WriteBatch::new();
            for h in 0..HOSTS {
                let host = format!("g{generation}-h{h}");
                for metric in ["cpu", "mem"] {
                    let k = SeriesKey::new("Churn", metric, [("host".to_string(), host.clone())]);
                    for t in (0..LIFE).step_by(10 * MINUTE as usize) {
                        b.push(k.clone(), Sample::single(born + t, 0, t as f64));
                    }
                }
            }
            db.write(&b).unwrap();
            generation += 1;
            clock.set(born + LIFE);
            db.seal().unwrap();
            db.compact().unwrap();
        }
        let s = db.stats();
        weekly.push((
            week,
            generation * HOSTS,
            s.series,
            s.series_index_bytes,
            s.catalog_bytes,
        ));
    }
    for w in &weekly {
        eprintln!(
            "week {}: hosts ever {}, series {}, index ≈ {} B, catalog {} B",
            w.0, w.1, w.2, w.3, w.4
        );
    }
    // Data lives 7–14 days after its 7-day window: steady from week 3 on.
    let steady = &weekly[3..];
    let (lo_series, hi_series) = min_max(steady.iter().map(|w| w.2));
    let (lo_bytes, hi_bytes) = min_max(steady.iter().map(|w| w.3));
    let (lo_cat, hi_cat) = min_max(steady.iter().map(|w| w.4 as usize));
    assert!(hi_series <= lo_series + lo_series / 10, "{weekly:?}");
    assert!(hi_bytes <= lo_bytes + lo_bytes / 5, "{weekly:?}");
    assert!(hi_cat <= lo_cat + lo_cat / 10, "{weekly:?}");
    // Fewer live series than half the series ever created.
    let ever = weekly[7].1 * 2;
    assert!(weekly[7].2 * 2 < ever, "{weekly:?}");
    assert!(db.stats().forgotten_series as usize + weekly[7].2 == ever);
    // Hosts of the last generation are listed, the first generation's are not.
    let by_host = |h: &str| SeriesFilter {
        dimensions: vec![("host".into(), Some(h.into()))],
        ..Default::default()
    };
    assert!(db.list_series(&by_host("g0-h0"), None, 10).is_empty());
    let last = format!("g{}-h0", generation - 1);
    assert_eq!(db.list_series(&by_host(&last), None, 10).len(), 2);
}

fn min_max(v: impl Iterator<Item = usize>) -> (usize, usize) {
    v.fold((usize::MAX, 0), |(lo, hi), x| (lo.min(x), hi.max(x)))
}
