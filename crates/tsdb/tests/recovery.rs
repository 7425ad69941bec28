//! Crash recovery on real files: dropped handles, torn and corrupted WAL
//! tails, damaged older segments, interrupted seals, a torn catalog.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use stratus_tsdb::{Db, Error, Options, RangeQuery, Retention, Sample, SeriesKey, WriteBatch};

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

fn series() -> SeriesKey {
    SeriesKey::new("NS", "m", [("host".to_string(), "a".to_string())])
}

/// Batch `b` holds 10 samples at `b*10 .. b*10+10` with value `b`.
fn batch(b: i64) -> WriteBatch {
    let mut w = WriteBatch::new();
    for i in 0..10 {
        w.push(series(), Sample::single(b * 10 + i, 0, b as f64));
    }
    w
}

/// Which batches are fully present (count 10, sum 10*b).
fn present_batches(db: &Db, upto: i64) -> Vec<i64> {
    let k = series();
    let aggs = db
        .query(&RangeQuery {
            series: &k,
            start_ms: 0,
            end_ms: upto * 10,
            period_ms: 10,
            unit: None,
        })
        .unwrap();
    for a in &aggs {
        let b = a.start_ms / 10;
        assert_eq!(
            (a.count, a.sum),
            (10.0, 10.0 * b as f64),
            "batch {b} partially present or duplicated"
        );
    }
    aggs.iter().map(|a| a.start_ms / 10).collect()
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// The last segment that holds records (the newest one may be empty).
fn last_nonempty_segment(dir: &Path) -> PathBuf {
    segments(dir)
        .into_iter()
        .rev()
        .find(|p| fs::metadata(p).unwrap().len() > 8)
        .unwrap()
}

fn write_batches(dir: &Path, range: std::ops::Range<i64>) {
    let db = Db::open(dir, kept_forever()).unwrap();
    for b in range {
        db.write(&batch(b)).unwrap();
    }
    // dropped without close(), as after kill -9 (writes were fsync'd)
}

#[test]
fn dropped_handle_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write_batches(dir.path(), 0..20);
    let db = Db::open(dir.path(), kept_forever()).unwrap();
    assert_eq!(present_batches(&db, 100), (0..20).collect::<Vec<_>>());
    let r = db.recovery_report();
    assert_eq!((r.wal_records_replayed, r.wal_samples_replayed), (20, 200));
    assert!(!r.repaired());
}

#[test]
fn torn_tail_is_cut_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    write_batches(dir.path(), 0..10);
    let seg = last_nonempty_segment(dir.path());
    let len = fs::metadata(&seg).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    let before = fs::read(&seg).unwrap();

    let db = Db::open(dir.path(), kept_forever()).unwrap();
    assert_eq!(present_batches(&db, 100), (0..9).collect::<Vec<_>>());
    let t = &db.recovery_report().truncations;
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].path, seg);
    assert_eq!(t[0].reason, "frame shorter than its length");
    // Cut there, then closed with its 24-byte end marker (a newer segment starts).
    let after = fs::read(&seg).unwrap();
    assert_eq!(after.len() as u64, t[0].offset + 24);
    assert_eq!(
        after[..t[0].offset as usize],
        before[..t[0].offset as usize]
    );
    assert_eq!(&after[after.len() - 12..after.len() - 8], b"SEND");
    assert_eq!(t[0].offset + t[0].dropped_bytes, len - 5);
    // The database keeps working, and the next open is clean.
    db.write(&batch(9)).unwrap();
    drop(db);
    let db = Db::open(dir.path(), kept_forever()).unwrap();
    assert!(!db.recovery_report().repaired());
    assert_eq!(present_batches(&db, 100), (0..10).collect::<Vec<_>>());
}

#[test]
fn flipped_byte_in_last_record_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    write_batches(dir.path(), 0..10);
    let seg = last_nonempty_segment(dir.path());
    let mut data = fs::read(&seg).unwrap();
    let n = data.len();
    data[n - 3] ^= 0x10;
    fs::write(&seg, &data).unwrap();

    let db = Db::open(dir.path(), kept_forever()).unwrap();
    assert_eq!(present_batches(&db, 100), (0..9).collect::<Vec<_>>());
    let t = &db.recovery_report().truncations;
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].reason, "frame checksum mismatch");
}

#[test]
fn garbage_appended_after_a_good_tail_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    write_batches(dir.path(), 0..3);
    let seg = last_nonempty_segment(dir.path());
    let mut data = fs::read(&seg).unwrap();
    data.extend_from_slice(&[0xAB; 37]);
    fs::write(&seg, &data).unwrap();
    let db = Db::open(dir.path(), kept_forever()).unwrap();
    assert_eq!(present_batches(&db, 100), vec![0, 1, 2]);
    assert_eq!(db.recovery_report().truncations[0].dropped_bytes, 37);
}

#[test]
fn corruption_in_an_older_segment_needs_opt_in() {
    let dir = tempfile::tempdir().unwrap();
    write_batches(dir.path(), 0..10); // segment 1
    write_batches(dir.path(), 10..20); // segment 2 (each open starts a new segment)
    let segs: Vec<PathBuf> = segments(dir.path())
        .into_iter()
        .filter(|p| fs::metadata(p).unwrap().len() > 8)
        .collect();
    assert_eq!(segs.len(), 2);
    let mut data = fs::read(&segs[0]).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0xFF;
    fs::write(&segs[0], &data).unwrap();

    match Db::open(dir.path(), kept_forever()) {
        Err(Error::CorruptWalSegment { path, .. }) => assert_eq!(path, segs[0]),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("opened over a corrupt older segment"),
    }
    let opts = Options {
        recover: true,
        ..kept_forever()
    };
    let db = Db::open(dir.path(), opts).unwrap();
    let present = present_batches(&db, 100);
    // Everything before the damaged record and all of segment 2 survive.
    assert!(present.len() >= 14 && present.len() < 20, "{present:?}");
    assert_eq!(present[0], 0);
    assert!((10..20).all(|b| present.contains(&b)));
    assert_eq!(db.recovery_report().truncations.len(), 1);
}

#[test]
fn interrupted_seal_neither_loses_nor_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let wal_copy = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), kept_forever()).unwrap();
        for b in 0..10 {
            db.write(&batch(b)).unwrap();
        }
        // Snapshot the WAL as it was before the seal deleted it.
        for p in segments(dir.path()) {
            fs::copy(&p, wal_copy.path().join(p.file_name().unwrap())).unwrap();
        }
        db.seal().unwrap();
    }
    // Crash "after the block rename, before the WAL deletion": restore the
    // covered segments and leave a stray temp file behind.
    for e in fs::read_dir(wal_copy.path()).unwrap() {
        let p = e.unwrap().path();
        fs::copy(&p, dir.path().join("wal").join(p.file_name().unwrap())).unwrap();
    }
    fs::write(
        dir.path().join("blocks").join("00000099.blk.tmp"),
        b"partial",
    )
    .unwrap();

    let db = Db::open(dir.path(), kept_forever()).unwrap();
    assert_eq!(present_batches(&db, 100), (0..10).collect::<Vec<_>>());
    let r = db.recovery_report();
    assert_eq!(r.wal_segments_already_sealed, 1);
    assert_eq!(r.removed_temp_files.len(), 1);
    assert_eq!(db.stats().head_samples, 0);
}

#[test]
fn torn_catalog_tail_is_cut_and_series_come_back_from_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), kept_forever()).unwrap();
        db.write(&batch(0)).unwrap();
        db.seal().unwrap();
        db.write(&batch(1)).unwrap();
    }
    let catalog = dir.path().join("catalog.log");
    let mut data = fs::read(&catalog).unwrap();
    data.extend_from_slice(b"SCD1\xff\xff");
    fs::write(&catalog, &data).unwrap();
    let db = Db::open(dir.path(), kept_forever()).unwrap();
    assert_eq!(present_batches(&db, 100), vec![0, 1]);
    assert_eq!(db.recovery_report().truncations[0].path, catalog);
}

#[test]
fn damaged_block_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), kept_forever()).unwrap();
        db.write(&batch(0)).unwrap();
        db.close().unwrap();
    }
    let blk = fs::read_dir(dir.path().join("blocks"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let good = fs::read(&blk).unwrap();
    for cut in [0, 7, good.len() / 2, good.len() - 1] {
        fs::write(&blk, &good[..cut]).unwrap();
        assert!(
            Db::open(dir.path(), kept_forever()).is_err(),
            "cut at {cut}"
        );
    }
    // A flipped bit inside a section passes open (index intact) but the
    // query reports the checksum failure.
    let mut flipped = good.clone();
    flipped[10] ^= 1;
    fs::write(&blk, &flipped).unwrap();
    let db = Db::open(dir.path(), kept_forever()).unwrap();
    let k = series();
    let r = db.query(&RangeQuery {
        series: &k,
        start_ms: 0,
        end_ms: 100,
        period_ms: 10,
        unit: None,
    });
    assert!(matches!(r, Err(Error::Corrupt { .. })), "{r:?}");
}
