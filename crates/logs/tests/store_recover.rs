//! fsck and recovery of the log store: each kind of file damaged on disk
//! is reported by `check`, refused by a plain open (as recoverable), and
//! repaired by `Options::recover` keeping a copy and every other event.

mod store_common;

use std::path::{Path, PathBuf};

use store_common::*;
use stratus_logs::store::{FileKind, FileState, Store, StoreError, check, repair};

const GROUP: &str = "/app/web";

fn append(store: &Store, stream: &str, events: &[(i64, &str)]) -> u64 {
    store
        .append(
            GROUP,
            stream,
            events.iter().map(|(t, m)| ev(*t, m)).collect(),
            None,
        )
        .expect("append")
        .seq
}

/// Every event of every stream, `(stream, ts, message)`.
fn all_events(store: &Store) -> Vec<(String, i64, String)> {
    let mut out = Vec::new();
    for s in store.streams(GROUP).expect("streams") {
        for (ts, m) in read_all(store, GROUP, &s.name, 50) {
            out.push((s.name.clone(), ts, m));
        }
    }
    out.sort();
    out
}

fn owned(stream: &str, events: &[(i64, &str)]) -> Vec<(String, i64, String)> {
    events
        .iter()
        .map(|(t, m)| (stream.to_owned(), *t, (*m).to_owned()))
        .collect()
}

const W0: [(i64, &str); 3] = [
    (T0 + 1000, "w0-a"),
    (T0 + 2000, "w0-b"),
    (T0 + 3000, "w0-c"),
];
const B: [(i64, &str); 2] = [(T0 + HOUR + 10, "batch-b1"), (T0 + HOUR + 11, "batch-b2")];
const C: [(i64, &str); 2] = [(T0 + HOUR + 20, "batch-c1"), (T0 + HOUR + 21, "batch-c2")];
const D: [(i64, &str); 2] = [(T0 + HOUR + 30, "batch-d1"), (T0 + HOUR + 31, "batch-d2")];

/// Hour 0 sealed into one segment file; batches B, C, D of hour 1 only in
/// the WAL; then a crash.
fn populate(dir: &Path, clock: &Clock) {
    clock.set(T0 + 30 * 60_000);
    let (store, _) = open(dir, clock);
    store.create_group(GROUP, spec()).expect("group");
    store.create_stream(GROUP, "i-1", T0).expect("stream");
    append(&store, "i-1", &W0);
    clock.set(T0 + HOUR + 5 * 60_000);
    store.maintain().expect("maintain");
    assert_eq!(store.stats().segment_files, 1);
    append(&store, "i-1", &B);
    append(&store, "i-1", &C);
    append(&store, "i-1", &D);
    assert_eq!(all_events(&store).len(), 9);
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("segments"))
        .expect("segments dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    v.sort();
    v
}

fn newest_wal(dir: &Path) -> PathBuf {
    let mut segs: Vec<_> = std::fs::read_dir(dir.join("wal"))
        .expect("wal dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .filter(|p| std::fs::metadata(p).map(|m| m.len() > 8).unwrap_or(false))
        .collect();
    segs.sort();
    segs.pop().expect("a WAL segment with records")
}

/// The byte offset of the frame whose payload contains `needle`.
fn frame_holding(bytes: &[u8], needle: &[u8]) -> usize {
    let mut pos = 8;
    while pos + 12 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().expect("4 bytes")) as usize;
        let payload = &bytes[pos + 12..pos + 12 + len];
        if payload.windows(needle.len()).any(|w| w == needle) {
            return pos;
        }
        pos += 12 + len;
    }
    panic!("no frame holds {needle:?}");
}

fn finding(dir: &Path, path: &Path) -> FileState {
    let report = check(dir).expect("check");
    report
        .files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("no finding for {}: {report:?}", path.display()))
        .state
        .clone()
}

fn plain_open_refuses(dir: &Path, clock: &Clock, want_path: &Path) {
    match Store::open(dir, clock.options()) {
        Err(e @ StoreError::Damaged { .. }) => {
            assert!(e.recoverable());
            let StoreError::Damaged { path, .. } = &e else {
                unreachable!()
            };
            assert_eq!(path, want_path, "{e}");
        }
        other => panic!("expected recoverable damage, got {:?}", other.map(|_| ())),
    }
}

fn recovering(clock: &Clock) -> stratus_logs::store::Options {
    stratus_logs::store::Options {
        recover: true,
        ..clock.options()
    }
}

#[test]
fn a_damaged_wal_record_mid_segment_is_skipped_keeping_the_records_after_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::new(T0);
    populate(dir.path(), &clock);
    let wal = newest_wal(dir.path());
    let original = std::fs::read(&wal).expect("read");
    let at = frame_holding(&original, b"batch-c1");
    let mut bytes = original.clone();
    bytes[at + 12 + 5] ^= 0x40;
    std::fs::write(&wal, &bytes).expect("write");

    let report = check(dir.path()).expect("check");
    assert!(report.damage_found());
    match finding(dir.path(), &wal) {
        FileState::Damaged { offset, .. } => assert_eq!(offset, at as u64),
        other => panic!("{other:?}"),
    }
    plain_open_refuses(dir.path(), &clock, &wal);
    assert_eq!(
        std::fs::read(&wal).expect("read"),
        bytes,
        "a refused open changes nothing"
    );

    let (store, opened) = Store::open(dir.path(), recovering(&clock)).expect("recover");
    let t = &opened.recovery.truncations;
    assert_eq!(t.len(), 1, "{opened:?}");
    assert_eq!((t[0].path.clone(), t[0].offset), (wal.clone(), at as u64));
    assert_eq!(std::fs::read(&t[0].kept_aside).expect("kept copy"), bytes);
    let mut want = owned("i-1", &W0);
    want.extend(owned("i-1", &B));
    want.extend(owned("i-1", &D));
    want.sort();
    assert_eq!(all_events(&store), want, "only batch C is lost");
    drop(store);

    // The repair is permanent: a plain open now works, fsck finds no damage.
    let (store, _) = open(dir.path(), &clock);
    assert_eq!(all_events(&store), want);
    drop(store);
    let after = check(dir.path()).expect("check");
    assert!(!after.damage_found(), "{after:?}");
    assert!(after.files.iter().any(|f| f.kind == FileKind::KeptAside));
}

#[test]
fn a_truncated_segment_file_is_set_aside_and_its_loss_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::new(T0);
    populate(dir.path(), &clock);
    let seg = segment_files(dir.path()).pop().expect("a segment file");
    let bytes = std::fs::read(&seg).expect("read");
    std::fs::write(&seg, &bytes[..bytes.len() / 2]).expect("truncate");

    assert!(matches!(
        finding(dir.path(), &seg),
        FileState::Damaged { .. }
    ));
    plain_open_refuses(dir.path(), &clock, &seg);

    let (store, opened) = Store::open(dir.path(), recovering(&clock)).expect("recover");
    let lost = &opened.recovery.lost_segments;
    assert_eq!(lost.len(), 1, "{opened:?}");
    assert_eq!(lost[0].path, seg);
    assert_eq!((lost[0].group.as_str(), lost[0].events), (GROUP, 3));
    assert_eq!(lost[0].window_start_ms, T0);
    let kept = lost[0].kept_aside.clone().expect("kept aside");
    assert_eq!(
        std::fs::read(&kept).expect("kept copy"),
        &bytes[..bytes.len() / 2]
    );
    assert!(!seg.exists());
    let mut want: Vec<_> = [B, C, D].iter().flat_map(|b| owned("i-1", b)).collect();
    want.sort();
    assert_eq!(all_events(&store), want, "hour 0 lost, hour 1 kept");
    drop(store);
    let (store, _) = open(dir.path(), &clock);
    assert_eq!(all_events(&store), want);
}

#[test]
fn a_damaged_block_is_found_by_check_though_a_plain_open_reads_only_the_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::new(T0);
    populate(dir.path(), &clock);
    let seg = segment_files(dir.path()).pop().expect("a segment file");
    let mut bytes = std::fs::read(&seg).expect("read");
    bytes[9] ^= 0xff; // inside the first block (after the 8-byte header)
    std::fs::write(&seg, &bytes).expect("write");
    match finding(dir.path(), &seg) {
        FileState::Damaged { offset, reason, .. } => {
            assert_eq!(offset, 8);
            assert!(reason.contains("checksum"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let (_store, opened) = Store::open(dir.path(), recovering(&clock)).expect("recover");
    assert_eq!(opened.recovery.lost_segments.len(), 1);
    assert_eq!(opened.recovery.lost_segments[0].events, 3);
}

#[test]
fn a_missing_segment_file_is_dropped_by_repair_and_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::new(T0);
    populate(dir.path(), &clock);
    let seg = segment_files(dir.path()).pop().expect("a segment file");
    std::fs::remove_file(&seg).expect("delete");

    assert_eq!(finding(dir.path(), &seg), FileState::Missing);
    assert!(check(dir.path()).expect("check").damage_found());
    plain_open_refuses(dir.path(), &clock, &seg);

    let done = repair(dir.path()).expect("repair");
    assert_eq!(done.lost_segments.len(), 1, "{done:?}");
    assert_eq!(done.lost_segments[0].events, 3);
    assert_eq!(done.lost_segments[0].kept_aside, None);
    assert!(!check(dir.path()).expect("check").damage_found());
    let (store, _) = open(dir.path(), &clock);
    assert_eq!(all_events(&store).len(), 6);
}

#[test]
fn a_damaged_catalog_is_rebuilt_from_the_previous_one_and_the_wal_losing_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::new(T0);
    populate(dir.path(), &clock);
    let (store, _) = open(dir.path(), &clock);
    // Made after the first snapshot: only the WAL knows of it.
    store.create_stream(GROUP, "i-2", T0).expect("stream");
    let seq = append(&store, "i-2", &[(T0 + HOUR + 40, "second stream")]);
    // Everything emitted: WAL segments become unnecessary once sealed.
    store.mark_emitted(seq);
    clock.set(T0 + 2 * HOUR + 5 * 60_000);
    store.maintain().expect("maintain: seals hour 1");
    store.maintain().expect("maintain");
    assert_eq!(store.stats().segment_files, 2);
    append(&store, "i-1", &[(T0 + 2 * HOUR + 1, "head")]);
    let before = all_events(&store);
    assert_eq!(before.len(), 11);
    drop(store);
    assert!(dir.path().join("catalog.snap.prev").exists());

    let snap = dir.path().join("catalog.snap");
    let mut bytes = std::fs::read(&snap).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x11;
    std::fs::write(&snap, &bytes).expect("write");

    assert!(matches!(
        finding(dir.path(), &snap),
        FileState::Damaged { .. }
    ));
    plain_open_refuses(dir.path(), &clock, &snap);

    let (store, opened) = Store::open(dir.path(), recovering(&clock)).expect("recover");
    let rebuilt = opened.recovery.catalog.clone().expect("catalog rebuilt");
    assert!(rebuilt.from_previous, "{rebuilt:?}");
    assert_eq!(rebuilt.lost_lsns, None, "{rebuilt:?}");
    assert_eq!(
        std::fs::read(&rebuilt.kept_aside).expect("kept copy"),
        bytes
    );
    assert_eq!(all_events(&store), before, "nothing lost");
    drop(store);
    let (store, _) = open(dir.path(), &clock);
    assert_eq!(all_events(&store), before);
    drop(store);
    assert!(!check(dir.path()).expect("check").damage_found());
}

#[test]
fn check_and_recovery_take_junk_in_every_file_without_panicking() {
    for seed in 0u32..6 {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = Clock::new(T0);
        populate(dir.path(), &clock);
        let junk: Vec<u8> = (0..300u32)
            .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed * 77) >> 13) as u8)
            .collect();
        let victim = match seed % 3 {
            0 => dir.path().join("catalog.snap"),
            1 => newest_wal(dir.path()),
            _ => segment_files(dir.path()).pop().expect("segment"),
        };
        let cut = (seed as usize * 37) % junk.len();
        std::fs::write(&victim, &junk[..cut]).expect("write junk");
        let report = check(dir.path()).expect("check");
        assert!(report.damage_found(), "{seed}: {report:?}");
        let (store, _) = Store::open(dir.path(), recovering(&clock)).expect("recover");
        drop(store);
        let (_store, _) = open(dir.path(), &clock);
    }
}
