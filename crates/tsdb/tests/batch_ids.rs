//! Idempotent writes: a batch id is stored at most once, across reopen,
//! seals, crashes at every step of a seal, and a SIGKILL mid-stream.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stratus_tsdb::{
    BatchId, Db, Options, RangeQuery, Retention, Sample, SeriesKey, WriteBatch, Written,
};

/// These tests write timestamps near the epoch: keep every sample as
/// written and list every series, whatever its age (retention and
/// inactivity have their own tests).
fn kept_forever() -> Options {
    Options {
        retention: Retention::forever(),
        hide_inactive_after: None,
        ..Options::default()
    }
}

const SAMPLES_PER_BATCH: i64 = 10;

fn series(b: i64) -> SeriesKey {
    SeriesKey::new("Idem", "m", [("shard".to_string(), (b % 3).to_string())])
}

fn id(b: i64) -> BatchId {
    let mut bytes = [0xA5u8; 16];
    bytes[..8].copy_from_slice(&b.to_le_bytes());
    BatchId(bytes)
}

/// Batch `b`: 10 samples at `b*1000 + i` with value `b`, carrying id `b`.
fn batch(b: i64) -> WriteBatch {
    let mut w = WriteBatch::new();
    for i in 0..SAMPLES_PER_BATCH {
        w.push(series(b), Sample::single(b * 1000 + i, 0, b as f64));
    }
    w.with_batch_id(id(b))
}

/// How many samples of batch `b` are stored (10 = once, 20 = twice).
fn stored(db: &Db, b: i64) -> f64 {
    let k = series(b);
    db.query(&RangeQuery {
        series: &k,
        start_ms: b * 1000,
        end_ms: b * 1000 + 1000,
        period_ms: 1000,
        unit: None,
    })
    .unwrap()
    .iter()
    .map(|a| a.count)
    .sum()
}

fn wal_segments(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn duplicate_batch_is_not_stored_twice() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), kept_forever()).unwrap();
    assert_eq!(db.write(&batch(1)).unwrap(), Written::Stored);
    assert_eq!(db.write(&batch(1)).unwrap(), Written::Duplicate);
    assert_eq!(db.write(&batch(2)).unwrap(), Written::Stored);
    // Without an id, the same samples are stored again (the engine keeps duplicates).
    let mut anonymous = batch(3);
    anonymous.batch_id = None;
    db.write(&anonymous).unwrap();
    db.write(&anonymous).unwrap();
    assert_eq!(
        (stored(&db, 1), stored(&db, 2), stored(&db, 3)),
        (10.0, 10.0, 20.0)
    );
    let stats = db.stats();
    assert_eq!((stats.batch_ids, stats.duplicate_batches), (2, 1));
    assert_eq!(stats.wal_records, 4, "the duplicate wrote no WAL record");
}

#[test]
fn ids_survive_reopen_from_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), kept_forever()).unwrap();
        db.write(&batch(1)).unwrap();
        db.write(&batch(2)).unwrap();
        // Dropped without close: only the WAL holds the batches and their ids.
    }
    let db = Db::open(dir.path(), kept_forever()).unwrap();
    assert!(!dir.path().join("batch-ids").exists());
    assert_eq!(db.write(&batch(1)).unwrap(), Written::Duplicate);
    assert_eq!(db.write(&batch(2)).unwrap(), Written::Duplicate);
    assert_eq!(db.write(&batch(3)).unwrap(), Written::Stored);
    assert_eq!((stored(&db, 1), stored(&db, 2)), (10.0, 10.0));
}

#[test]
fn ids_survive_seal_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), kept_forever()).unwrap();
        db.write(&batch(1)).unwrap();
        db.seal().unwrap();
        db.write(&batch(2)).unwrap();
        db.seal().unwrap();
        // The WAL that carried the ids is gone; only batch-ids remembers them.
        assert!(wal_segments(dir.path()).len() <= 1);
        assert_eq!(db.write(&batch(1)).unwrap(), Written::Duplicate);
        db.close().unwrap();
    }
    let db = Db::open(dir.path(), kept_forever()).unwrap();
    assert_eq!(db.recovery_report().wal_records_replayed, 0);
    assert_eq!(db.write(&batch(1)).unwrap(), Written::Duplicate);
    assert_eq!(db.write(&batch(2)).unwrap(), Written::Duplicate);
    assert_eq!((stored(&db, 1), stored(&db, 2)), (10.0, 10.0));
}

/// A seal writes batch-ids, then the catalog, then the block, then deletes
/// the WAL. Rebuild the directory as a crash after each step leaves it and
/// check that every id is still known and every batch stored exactly once.
#[test]
fn crash_at_each_step_of_a_seal_keeps_ids() {
    let root = tempfile::tempdir().unwrap();
    let before = root.path().join("before");
    let after = root.path().join("after");
    {
        let db = Db::open(&before, kept_forever()).unwrap();
        db.write(&batch(1)).unwrap();
        db.write(&batch(2)).unwrap();
    }
    copy_tree(&before, &after);
    {
        let db = Db::open(&after, kept_forever()).unwrap();
        db.seal().unwrap();
    }
    // (name, files taken from the sealed directory on top of the unsealed one)
    let steps: [(&str, &[&str]); 4] = [
        ("crash while writing batch-ids", &[]),
        ("crash after batch-ids", &["batch-ids"]),
        (
            "crash after the block, before WAL deletion",
            &["batch-ids", "catalog.log", "blocks"],
        ),
        (
            "everything but the temp file cleanup",
            &["batch-ids", "catalog.log", "blocks", "batch-ids.tmp"],
        ),
    ];
    for (n, (name, files)) in steps.iter().enumerate() {
        let dir = root.path().join(format!("step{n}"));
        copy_tree(&before, &dir);
        for f in *files {
            let src = after.join(f);
            if *f == "batch-ids.tmp" {
                fs::write(dir.join(f), b"half-written").unwrap();
            } else if src.is_dir() {
                copy_tree(&src, &dir.join(f));
            } else {
                fs::copy(&src, dir.join(f)).unwrap();
            }
        }
        if n == 0 {
            fs::write(dir.join("batch-ids.tmp"), b"torn").unwrap();
        }
        let db = Db::open(&dir, kept_forever()).unwrap();
        assert!(
            !dir.join("batch-ids.tmp").exists(),
            "{name}: temp file left"
        );
        for b in [1, 2] {
            assert_eq!(
                db.write(&batch(b)).unwrap(),
                Written::Duplicate,
                "{name}: batch {b}"
            );
            assert_eq!(stored(&db, b), 10.0, "{name}: batch {b}");
        }
        // And once more after sealing this recovered state and reopening.
        db.close().unwrap();
        let db = Db::open(&dir, kept_forever()).unwrap();
        assert_eq!(db.write(&batch(2)).unwrap(), Written::Duplicate, "{name}");
        assert_eq!(stored(&db, 2), 10.0, "{name}");
    }
}

#[test]
fn old_ids_are_forgotten_by_age_and_count() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        batch_id_retention: Duration::from_millis(200),
        max_batch_ids: 3,
        ..kept_forever()
    };
    {
        let db = Db::open(dir.path(), opts.clone()).unwrap();
        for b in 1..=4 {
            db.write(&batch(b)).unwrap();
        }
        assert_eq!(db.stats().batch_ids, 3);
        assert_eq!(
            db.write(&batch(1)).unwrap(),
            Written::Stored,
            "beyond max_batch_ids the oldest id is forgotten"
        );
        std::thread::sleep(Duration::from_millis(300));
        db.seal().unwrap();
        assert_eq!(db.stats().batch_ids, 0, "expired at seal");
    }
    let db = Db::open(dir.path(), opts).unwrap();
    assert_eq!(db.stats().batch_ids, 0, "expired ids are not reloaded");
    assert_eq!(db.write(&batch(4)).unwrap(), Written::Stored);
}

const CHILD_ENV: &str = "STRATUS_TSDB_IDEM_CHILD_DIR";

/// The writer half of `resent_batches_after_sigkill_are_stored_once`.
fn child_main(dir: &str) {
    let opts = Options {
        max_head_samples: 500, // seals (batch-ids rewrites, WAL deletion) race with the kill
        ..kept_forever()
    };
    let db = Db::open(Path::new(dir), opts).expect("child open");
    let mut out = std::io::stdout().lock();
    for b in 0.. {
        db.write(&batch(b)).expect("child write");
        writeln!(out, "{b}")
            .and_then(|()| out.flush())
            .expect("child stdout");
    }
}

/// A client whose writer was SIGKILLed re-sends every batch it is unsure
/// about (the acknowledged ones too, as a spool does): each is stored once.
#[test]
fn resent_batches_after_sigkill_are_stored_once() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        child_main(&dir);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "resent_batches_after_sigkill_are_stored_once",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut acked = -1i64;
    let deadline = Instant::now() + Duration::from_secs(60);
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        if let Ok(b) = line.trim().parse::<i64>() {
            acked = b;
        }
        if acked >= 300 || Instant::now() > deadline {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(acked >= 300, "child acknowledged only {acked} batches");

    let db = Db::open(dir.path(), kept_forever()).unwrap();
    // Re-send every acknowledged batch and a few the child may have been writing.
    for b in 0..=acked + 3 {
        let outcome = db.write(&batch(b)).unwrap();
        if b <= acked {
            assert_eq!(outcome, Written::Duplicate, "acknowledged batch {b}");
        }
        assert_eq!(stored(&db, b), 10.0, "batch {b}");
    }
}
