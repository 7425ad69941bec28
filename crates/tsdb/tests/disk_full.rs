//! A full disk, for real: the engine on a small tmpfs that the test fills.
//! A refused write leaves no trace (head, index, batch ids, WAL), writes
//! succeed again as soon as space returns without a reopen, seals on a full
//! disk fail and retry, and a reopen finds exactly the acknowledged data.
//!
//! Needs `mount` (the tests run as root, in CI too). Where mounting is not
//! permitted these tests fail loudly rather than skip.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use stratus_tsdb::{
    BatchId, Db, Error, Options, RangeQuery, Retention, Sample, SeriesFilter, SeriesKey,
    WriteBatch, Written,
};

/// An 8 MiB tmpfs mounted on a temp dir, unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount() -> SmallDisk {
        let dir = tempfile::tempdir().expect("temp dir");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("running mount");
        assert!(
            status.success(),
            "mounting a tmpfs failed ({status}); these tests need root (they run as root in CI)"
        );
        SmallDisk { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn filler(&self) -> PathBuf {
        self.path().join("filler")
    }

    /// Writes a filler file until the disk refuses more.
    fn fill(&self) {
        let mut f = File::create(self.filler()).expect("creating filler");
        let chunk = vec![0xAAu8; 4096];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc_enospc()) => break,
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
        let probe = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path().join("probe"))
            .and_then(|mut p| p.write_all(&chunk));
        assert!(probe.is_err(), "the disk is not full after filling it");
        let _ = fs::remove_file(self.path().join("probe"));
    }

    fn free(&self) {
        fs::remove_file(self.filler()).expect("removing filler");
    }
}

fn libc_enospc() -> i32 {
    28
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

fn opts() -> Options {
    Options {
        retention: Retention::forever(),
        hide_inactive_after: None,
        // Seals only when the test asks.
        seal_on_write: false,
        compact_on_seal: false,
        ..Options::default()
    }
}

fn key(name: &str) -> SeriesKey {
    SeriesKey::new("DiskFull", name, [("host".to_string(), "h1".to_string())])
}

/// `n` samples of `name` at `t0`, `t0 + 1`, ... (large enough to need new
/// pages in the WAL file, so a full disk refuses it).
fn batch(name: &str, t0: i64, n: i64) -> WriteBatch {
    let mut w = WriteBatch::new();
    for i in 0..n {
        w.push(key(name), Sample::single(t0 + i, 0, (t0 + i) as f64));
    }
    w
}

/// Samples of `name` in `[0, 10^9)`.
fn count(db: &Db, name: &str) -> f64 {
    db.query(&RangeQuery {
        series: &key(name),
        start_ms: 0,
        end_ms: 1_000_000_000,
        period_ms: 1_000_000_000,
        unit: None,
    })
    .expect("query")
    .iter()
    .map(|a| a.count)
    .sum()
}

fn names(db: &Db) -> Vec<String> {
    db.list_series(&SeriesFilter::default(), None, 10_000)
        .into_iter()
        .map(|k| k.name)
        .collect()
}

fn refused(r: Result<Written, Error>) -> String {
    match r {
        Err(Error::WriteRefused(why)) => why,
        other => panic!("expected a refused write, got {other:?}"),
    }
}

#[test]
fn a_refused_write_leaves_no_trace_and_writes_resume_when_space_returns() {
    let disk = SmallDisk::mount();
    let dir = disk.path().join("tsdb");
    let db = Db::open(&dir, opts()).unwrap();
    db.write(&batch("kept", 0, 100)).unwrap();

    disk.fill();
    let id = BatchId([7; 16]);
    let mut refused_batch = batch("refused-only", 1_000, 2_000);
    refused_batch.batch_id = Some(id);
    // The same batch also carries samples for an existing series.
    for i in 0..2_000 {
        refused_batch.push(key("kept"), Sample::single(10_000 + i, 0, 1.0));
    }
    let why = refused(db.write(&refused_batch));
    assert!(why.contains("No space left"), "{why}");
    // Nothing of it is visible: not its samples, not the series it defined.
    assert_eq!(count(&db, "kept"), 100.0);
    assert_eq!(count(&db, "refused-only"), 0.0);
    assert_eq!(names(&db), ["kept"]);
    assert_eq!(db.stats().head_samples, 100);
    // Still full: refused again, still without a trace.
    refused(db.write(&refused_batch));
    assert_eq!(names(&db), ["kept"]);

    disk.free();
    // No reopen: the next write is stored, and the refused batch id was
    // forgotten, so its retry is stored rather than called a duplicate.
    assert_eq!(
        db.write(&batch("after", 50_000, 10)).unwrap(),
        Written::Stored
    );
    assert_eq!(db.write(&refused_batch).unwrap(), Written::Stored);
    assert_eq!(db.write(&refused_batch).unwrap(), Written::Duplicate);
    assert_eq!(count(&db, "kept"), 2_100.0);
    assert_eq!(count(&db, "refused-only"), 2_000.0);
    assert_eq!(count(&db, "after"), 10.0);

    // A crash (no close) and a reopen: exactly the acknowledged data.
    drop(db);
    let db = Db::open(&dir, opts()).unwrap();
    assert!(
        db.recovery_report().truncations.is_empty(),
        "{:?}",
        db.recovery_report()
    );
    assert_eq!(count(&db, "kept"), 2_100.0);
    assert_eq!(count(&db, "refused-only"), 2_000.0);
    assert_eq!(count(&db, "after"), 10.0);
    assert_eq!(db.write(&refused_batch).unwrap(), Written::Duplicate);
}

/// Many writers share group commits while the disk fills up: every write
/// is either acknowledged (and then present, whole, before and after a
/// reopen) or refused (and then absent), never anything in between.
#[test]
fn concurrent_writers_get_exactly_their_acknowledged_batches() {
    let disk = Arc::new(SmallDisk::mount());
    let dir = disk.path().join("tsdb");
    let db = Arc::new(Db::open(&dir, opts()).unwrap());
    let outcomes = Arc::new(Mutex::new(Vec::<(String, bool)>::new()));
    let filled = Arc::new(std::sync::Barrier::new(5));
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let (db, outcomes, filled) = (db.clone(), outcomes.clone(), filled.clone());
            std::thread::spawn(move || {
                for b in 0..400 {
                    if b == 200 {
                        // Half before the disk is full, half after (and
                        // after space returns, further down).
                        filled.wait();
                        filled.wait();
                    }
                    let name = format!("t{t}-b{b}");
                    let ok = match db.write(&batch(&name, b * 1_000, 300)) {
                        Ok(Written::Stored) => true,
                        Err(Error::WriteRefused(_)) => false,
                        other => panic!("{name}: {other:?}"),
                    };
                    outcomes.lock().unwrap().push((name, ok));
                }
            })
        })
        .collect();
    // A filler racing the writers: some groups fail part way through.
    let filler = {
        let disk = disk.clone();
        std::thread::spawn(move || {
            disk.fill();
        })
    };
    filler.join().unwrap();
    filled.wait();
    // Every writer is paused; the disk is full.
    let refused_now = refused(db.write(&batch("while-full", 0, 2_000)));
    assert!(refused_now.contains("No space left"), "{refused_now}");
    disk.free();
    filled.wait();
    for w in writers {
        w.join().unwrap();
    }

    let outcomes = outcomes.lock().unwrap().clone();
    let acked: Vec<&String> = outcomes.iter().filter(|o| o.1).map(|o| &o.0).collect();
    assert!(
        acked.len() >= 800,
        "writes after space returned must succeed"
    );
    let check = |db: &Db| {
        for (name, ok) in &outcomes {
            let expected = if *ok { 300.0 } else { 0.0 };
            assert_eq!(count(db, name), expected, "{name} (acknowledged: {ok})");
        }
        let listed = names(db);
        assert_eq!(
            listed.len(),
            acked.len(),
            "listed series = acknowledged batches"
        );
        assert!(!listed.contains(&"while-full".to_string()));
    };
    check(&db);
    db.seal().unwrap();
    drop(Arc::try_unwrap(db).ok().expect("writers are done"));
    let db = Db::open(&dir, opts()).unwrap();
    check(&db);
}

#[test]
fn a_seal_on_a_full_disk_fails_keeps_the_data_and_succeeds_later() {
    let disk = SmallDisk::mount();
    let dir = disk.path().join("tsdb");
    let db = Db::open(&dir, opts()).unwrap();
    for b in 0..20 {
        db.write(&batch(&format!("s{b}"), b * 10_000, 2_000))
            .unwrap();
    }
    disk.fill();
    assert!(db.seal().is_err(), "a seal needs space for its block");
    assert!(
        fs::read_dir(dir.join("blocks")).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".tmp")),
        "a failed seal leaves no temp block taking space"
    );
    // Still queryable from the head, and a second failure changes nothing.
    assert!(db.seal().is_err());
    for b in 0..20 {
        assert_eq!(count(&db, &format!("s{b}")), 2_000.0);
    }
    disk.free();
    db.write(&batch("after", 900_000, 10)).unwrap();
    db.seal().unwrap();
    assert_eq!(db.stats().head_samples, 0);
    for b in 0..20 {
        assert_eq!(
            count(&db, &format!("s{b}")),
            2_000.0,
            "s{b} once, not twice"
        );
    }
    drop(db);
    let db = Db::open(&dir, opts()).unwrap();
    for b in 0..20 {
        assert_eq!(count(&db, &format!("s{b}")), 2_000.0, "s{b} after reopen");
    }
    assert_eq!(count(&db, "after"), 10.0);
}

#[test]
fn a_compaction_on_a_full_disk_fails_keeps_the_data_and_succeeds_later() {
    use stratus_tsdb::{ManualClock, Resolution};
    const HOUR: i64 = 3_600_000;
    // The start of a 7-day window, so every rollup window starts here.
    const T0: i64 = 28 * 24 * HOUR * 700;
    let disk = SmallDisk::mount();
    let dir = disk.path().join("tsdb");
    let clock = ManualClock::new(T0);
    let opts = || Options {
        clock: clock.clock(),
        // CloudWatch's: raw data is rolled up after 3 h.
        retention: stratus_tsdb::Retention::default(),
        ..opts()
    };
    let db = Db::open(&dir, opts()).unwrap();
    // Five hours of one sample a minute for three series: five raw blocks.
    for minute in 0..300 {
        let mut w = WriteBatch::new();
        for s in 0..3 {
            w.push(
                key(&format!("c{s}")),
                Sample::single(T0 + minute * 60_000, 0, minute as f64),
            );
        }
        db.write(&w).unwrap();
    }
    db.seal().unwrap();
    let total = |db: &Db| -> f64 {
        (0..3)
            .map(|s| {
                db.query(&RangeQuery {
                    series: &key(&format!("c{s}")),
                    start_ms: T0,
                    end_ms: T0 + 6 * HOUR,
                    period_ms: 6 * HOUR,
                    unit: None,
                })
                .unwrap()
                .iter()
                .map(|a| a.count)
                .sum::<f64>()
            })
            .sum()
    };
    assert_eq!(total(&db), 900.0);
    // Past raw retention: the raw hours are due to be rolled up.
    clock.set(T0 + 10 * HOUR);
    disk.fill();
    for _ in 0..2 {
        assert!(db.compact().is_err(), "a rollup needs space for its block");
        assert_eq!(total(&db), 900.0);
        assert!(
            fs::read_dir(dir.join("blocks")).unwrap().all(|e| !e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tmp")),
            "a failed compaction leaves no temp block taking space"
        );
    }
    disk.free();
    db.compact().unwrap();
    let rolled_up = |db: &Db| {
        db.stats()
            .resolutions
            .iter()
            .any(|r| r.resolution != Resolution::Raw && r.blocks > 0)
    };
    assert!(rolled_up(&db), "{:?}", db.stats());
    assert_eq!(total(&db), 900.0, "rolled up once, not twice");
    drop(db);
    let db = Db::open(&dir, opts()).unwrap();
    assert_eq!(total(&db), 900.0, "after reopen");
    assert!(rolled_up(&db));
}
