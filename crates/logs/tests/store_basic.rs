//! The log store end to end: append, read, scan, seal, reopen, recovery.

mod store_common;

use std::collections::BTreeMap;

use store_common::*;
use stratus_logs::store::{Scan, StoreError, StreamRead};

fn setup(store: &stratus_logs::store::Store) {
    store
        .create_group("/app/web", spec())
        .expect("create group");
    store
        .create_stream("/app/web", "i-1", T0)
        .expect("create stream");
}

#[test]
fn appended_events_read_back_sorted_and_survive_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::new(T0 + 10 * HOUR);
    let (store, _) = open(dir.path(), &clock);
    setup(&store);
    let a = store
        .append(
            "/app/web",
            "i-1",
            vec![ev(T0 + 30, "c"), ev(T0 + 10, "a"), ev(T0 + 20, "b")],
            None,
        )
        .expect("append");
    assert!(!a.duplicate);
    assert_eq!(a.ingestion_ms, T0 + 10 * HOUR);
    let b = store
        .append("/app/web", "i-1", vec![ev(T0 + 15, "a2")], None)
        .expect("append");
    assert!(b.seq > a.seq);
    let want = vec![
        (T0 + 10, "a".to_owned()),
        (T0 + 15, "a2".to_owned()),
        (T0 + 20, "b".to_owned()),
        (T0 + 30, "c".to_owned()),
    ];
    assert_eq!(read_all(&store, "/app/web", "i-1", 3), want);
    let info = store.stream("/app/web", "i-1").expect("stream");
    assert_eq!(
        (info.first_event_ms, info.last_event_ms),
        (Some(T0 + 10), Some(T0 + 30))
    );
    assert_eq!(info.stored_bytes, 5);
    assert_eq!(info.last_ingestion_ms, Some(T0 + 10 * HOUR));
    drop(store); // no shutdown: a crash

    let (store, report) = open(dir.path(), &clock);
    assert_eq!(report.torn_tail_bytes, 0);
    assert_eq!(
        report.wal_records_replayed, 4,
        "group, stream and two batches"
    );
    assert_eq!(read_all(&store, "/app/web", "i-1", 100), want);
    assert_eq!(
        store
            .stream("/app/web", "i-1")
            .expect("stream")
            .stored_bytes,
        5
    );
    let c = store
        .append("/app/web", "i-1", vec![ev(T0, "z")], None)
        .expect("append after reopen");
    assert!(c.seq > b.seq, "seq keeps increasing across a reopen");
}

#[test]
fn metadata_operations_and_their_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::new(T0);
    let (store, _) = open(dir.path(), &clock);
    setup(&store);
    assert!(matches!(
        store.create_group("/app/web", spec()),
        Err(StoreError::GroupExists)
    ));
    assert!(matches!(
        store.create_stream("/app/web", "i-1", T0),
        Err(StoreError::StreamExists)
    ));
    assert!(matches!(
        store.create_stream("/nope", "i-1", T0),
        Err(StoreError::NoGroup)
    ));
    assert!(matches!(
        store.append("/app/web", "nope", vec![ev(T0, "x")], None),
        Err(StoreError::NoStream)
    ));
    assert!(matches!(
        store.delete_metric_filter("/app/web", "f"),
        Err(StoreError::NoFilter)
    ));
    store.create_group("/a", spec()).expect("create");
    store.set_retention("/app/web", Some(7)).expect("retention");
    store
        .tag_group(
            "/app/web",
            &[("team".into(), "x".into()), ("env".into(), "prod".into())],
            &[],
        )
        .expect("tag");
    store
        .tag_group("/app/web", &[], &["env".into()])
        .expect("untag");
    store
        .put_metric_filter("/app/web", "errors", "{\"pattern\":\"ERROR\"}")
        .expect("filter");
    store
        .put_metric_filter("/app/web", "gone", "x")
        .expect("filter");
    store
        .delete_metric_filter("/app/web", "gone")
        .expect("delete filter");
    store
        .create_stream("/app/web", "a-0", T0 + 1)
        .expect("stream");
    let check = |store: &stratus_logs::store::Store| {
        let names: Vec<String> = store.groups().into_iter().map(|g| g.name).collect();
        assert_eq!(names, vec!["/a".to_owned(), "/app/web".to_owned()]);
        let g = store.group("/app/web").expect("group");
        assert_eq!(g.retention_days, Some(7));
        assert_eq!(
            g.tags,
            BTreeMap::from([("team".to_owned(), "x".to_owned())])
        );
        assert_eq!(g.metric_filters.keys().collect::<Vec<_>>(), vec!["errors"]);
        let streams: Vec<String> = store
            .streams("/app/web")
            .expect("streams")
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(streams, vec!["a-0".to_owned(), "i-1".to_owned()]);
    };
    check(&store);
    store.shutdown().expect("shutdown");
    drop(store);
    let (store, report) = open(dir.path(), &clock);
    assert_eq!(
        report.wal_records_replayed, 0,
        "a clean shutdown leaves nothing to replay"
    );
    check(&store);
    store.delete_group("/a").expect("delete");
    assert!(store.group("/a").is_none());
    assert!(matches!(store.delete_group("/a"), Err(StoreError::NoGroup)));
}

#[test]
fn sealed_segments_late_events_and_head_read_together() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::new(T0 + 30 * 60_000);
    let (store, _) = open(dir.path(), &clock);
    setup(&store);
    store.create_stream("/app/web", "i-2", T0).expect("stream");
    // Window 0 (hour 0) and window 1.
    store
        .append(
            "/app/web",
            "i-1",
            vec![ev(T0 + 1000, "w0-a"), ev(T0 + HOUR + 5, "w1-a")],
            None,
        )
        .expect("append");
    store
        .append(
            "/app/web",
            "i-2",
            vec![ev(T0 + 1000, "w0-b"), ev(T0 + 500, "w0-c")],
            None,
        )
        .expect("append");
    // Hour 0 ended 5 min + 1 ms ago: due. Hour 1 is not.
    clock.set(T0 + HOUR + 5 * 60_000);
    store.maintain().expect("maintain");
    let s = store.stats();
    assert_eq!(s.segment_files, 1);
    assert!(s.head_bytes > 0, "hour 1 stays in the head");
    // A late event for the sealed hour gets a second file.
    store
        .append("/app/web", "i-1", vec![ev(T0 + 700, "w0-late")], None)
        .expect("append");
    clock.set(T0 + 2 * HOUR + 5 * 60_000);
    store.maintain().expect("maintain");
    let s = store.stats();
    assert_eq!((s.segment_files, s.head_bytes), (3, 0));
    assert_eq!(s.raw_bytes_sealed, 4 + 4 + 4 + 4 + 7);
    store
        .append("/app/web", "i-2", vec![ev(T0 + 2 * HOUR + 1, "head")], None)
        .expect("append");

    let want = vec![
        ("i-2".to_owned(), T0 + 500, "w0-c".to_owned()),
        ("i-1".to_owned(), T0 + 700, "w0-late".to_owned()),
        ("i-1".to_owned(), T0 + 1000, "w0-a".to_owned()),
        ("i-2".to_owned(), T0 + 1000, "w0-b".to_owned()),
        ("i-1".to_owned(), T0 + HOUR + 5, "w1-a".to_owned()),
        ("i-2".to_owned(), T0 + 2 * HOUR + 1, "head".to_owned()),
    ];
    assert_eq!(scan_all(&store, "/app/web", &Scan::default()), want);
    let i1: Vec<(i64, String)> = want
        .iter()
        .filter(|e| e.0 == "i-1")
        .map(|e| (e.1, e.2.clone()))
        .collect();
    assert_eq!(read_all(&store, "/app/web", "i-1", 1), i1);
    let ranged = Scan {
        start_ms: Some(T0 + 700),
        end_ms: Some(T0 + HOUR + 5),
        ..Scan::default()
    };
    assert_eq!(scan_all(&store, "/app/web", &ranged), want[1..4].to_vec());
    drop(store);
    let (store, report) = open(dir.path(), &clock);
    assert_eq!(report.segment_files, 3);
    assert_eq!(scan_all(&store, "/app/web", &Scan::default()), want);
}

#[test]
fn head_limit_seals_the_biggest_window_early() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::new(T0);
    let mut opts = clock.options();
    opts.head_max_bytes = 2000;
    let (store, _) = stratus_logs::store::Store::open(dir.path(), opts).expect("open");
    setup(&store);
    let big: Vec<_> = (0..40)
        .map(|i| ev(T0 + i, "0123456789012345678901234567890123456789"))
        .collect();
    store.append("/app/web", "i-1", big, None).expect("append");
    store
        .append("/app/web", "i-1", vec![ev(T0 + HOUR, "small")], None)
        .expect("append");
    store.maintain().expect("maintain");
    let s = store.stats();
    assert_eq!(s.segment_files, 1, "only the big current window is sealed");
    assert!(s.head_bytes > 0 && s.head_bytes < 2000);
    assert_eq!(read_all(&store, "/app/web", "i-1", 7).len(), 41);
}

#[test]
fn paging_forward_and_backward_covers_every_event_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::new(T0 + 30 * 60_000);
    let (store, _) = open(dir.path(), &clock);
    setup(&store);
    // 50 events, several sharing a timestamp, half sealed, half in the head.
    let all: Vec<(i64, String)> = (0..50)
        .map(|i| (T0 + HOUR * (i / 25) + (i % 25) / 2, format!("m{i}")))
        .collect();
    for chunk in all.chunks(9) {
        store
            .append(
                "/app/web",
                "i-1",
                chunk.iter().map(|(t, m)| ev(*t, m)).collect(),
                None,
            )
            .expect("append");
    }
    clock.set(T0 + HOUR + 6 * 60_000);
    store.maintain().expect("maintain");
    assert_eq!(store.stats().segment_files, 1);

    // Forward: same-timestamp events keep arrival order.
    assert_eq!(read_all(&store, "/app/web", "i-1", 7), all);

    // Backward from the end: pages of the newest 6, each ascending.
    let mut q = StreamRead {
        forward: false,
        ..forward(6)
    };
    let mut pages = Vec::new();
    loop {
        let page = store.read_stream("/app/web", "i-1", &q).expect("read");
        if page.events.is_empty() {
            assert_eq!(Some(page.next_backward), q.cursor, "same token at the end");
            break;
        }
        assert!(page.events.len() <= 6);
        pages.push(
            page.events
                .iter()
                .map(|e| (e.timestamp_ms, e.message.clone()))
                .collect::<Vec<_>>(),
        );
        q.cursor = Some(token_round_trip(page.next_backward));
    }
    let back: Vec<(i64, String)> = pages.into_iter().rev().flatten().collect();
    assert_eq!(back, all);

    // From the newest page, the forward token yields nothing more and repeats.
    let newest = store
        .read_stream(
            "/app/web",
            "i-1",
            &StreamRead {
                forward: false,
                ..forward(3)
            },
        )
        .expect("read");
    assert_eq!(
        newest
            .events
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>(),
        vec!["m47", "m48", "m49"]
    );
    let q = StreamRead {
        cursor: Some(newest.next_forward),
        ..forward(3)
    };
    let more = store.read_stream("/app/web", "i-1", &q).expect("read");
    assert!(more.events.is_empty());
    assert_eq!(more.next_forward, newest.next_forward);
    // And its backward token goes back to just before m47.
    let q = StreamRead {
        cursor: Some(newest.next_backward),
        ..forward(2)
    };
    let before = store.read_stream("/app/web", "i-1", &q).expect("read");
    assert_eq!(
        before
            .events
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>(),
        vec!["m45", "m46"]
    );

    // Time bounds: [T0 + 3, T0 + 5) holds events 6..=9.
    let q = StreamRead {
        start_ms: Some(T0 + 3),
        end_ms: Some(T0 + 5),
        ..forward(100)
    };
    let page = store.read_stream("/app/web", "i-1", &q).expect("read");
    assert_eq!(
        page.events
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>(),
        vec!["m6", "m7", "m8", "m9"]
    );

    // max_bytes: each event counts its message plus 26 bytes.
    let q = StreamRead {
        max_bytes: 2 * (2 + 26),
        ..forward(100)
    };
    let page = store.read_stream("/app/web", "i-1", &q).expect("read");
    assert_eq!(page.events.len(), 2);
}

#[test]
fn scan_filters_streams_and_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::new(T0);
    let (store, _) = open(dir.path(), &clock);
    setup(&store);
    store.create_stream("/app/web", "i-2", T0).expect("stream");
    store.create_stream("/app/web", "x-1", T0).expect("stream");
    for i in 0..10 {
        let s = ["i-1", "i-2", "x-1"][i % 3];
        store
            .append(
                "/app/web",
                s,
                vec![ev(T0 + i as i64, &format!("e{i}"))],
                None,
            )
            .expect("append");
    }
    let prefixed = Scan {
        stream_prefix: Some("i-".to_owned()),
        ..Scan::default()
    };
    let got: Vec<String> = scan_all(&store, "/app/web", &prefixed)
        .into_iter()
        .map(|e| e.2)
        .collect();
    assert_eq!(got, vec!["e0", "e1", "e3", "e4", "e6", "e7", "e9"]);
    let named = Scan {
        streams: Some(vec!["x-1".to_owned()]),
        ..Scan::default()
    };
    let got: Vec<String> = scan_all(&store, "/app/web", &named)
        .into_iter()
        .map(|e| e.2)
        .collect();
    assert_eq!(got, vec!["e2", "e5", "e8"]);

    // Stop after 4 events, then resume.
    let mut seen = Vec::new();
    let end = store
        .scan("/app/web", &Scan::default(), &mut |e, _| {
            seen.push(e.message.to_owned());
            seen.len() < 4
        })
        .expect("scan");
    assert_eq!(end.events_scanned, 4);
    let resume = Scan {
        after: Some(token_round_trip(end.resume.expect("stopped early"))),
        ..Scan::default()
    };
    let rest: Vec<String> = scan_all(&store, "/app/web", &resume)
        .into_iter()
        .map(|e| e.2)
        .collect();
    assert_eq!(seen, vec!["e0", "e1", "e2", "e3"]);
    assert_eq!(rest, vec!["e4", "e5", "e6", "e7", "e8", "e9"]);
}

fn newest_wal(dir: &std::path::Path) -> std::path::PathBuf {
    let mut segs: Vec<_> = std::fs::read_dir(dir.join("wal"))
        .expect("wal dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| std::fs::metadata(p).map(|m| m.len() > 8).unwrap_or(false))
        .collect();
    segs.sort();
    segs.pop().expect("a WAL segment with records")
}

#[test]
fn torn_wal_tail_is_cut_and_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::new(T0);
    let (store, _) = open(dir.path(), &clock);
    setup(&store);
    store
        .append("/app/web", "i-1", vec![ev(T0, "kept")], None)
        .expect("append");
    let wal = newest_wal(dir.path());
    let kept_len = std::fs::metadata(&wal).expect("meta").len();
    store
        .append("/app/web", "i-1", vec![ev(T0 + 1, "torn away")], None)
        .expect("append");
    drop(store);
    let len = std::fs::metadata(&wal).expect("meta").len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&wal)
        .expect("open wal");
    f.set_len(len - 5).expect("truncate mid-record");
    drop(f);
    let (store, report) = open(dir.path(), &clock);
    // What is left of the second record, the whole of it gone.
    assert_eq!(report.torn_tail_bytes, len - 5 - kept_len, "{report:?}");
    assert_eq!(
        read_all(&store, "/app/web", "i-1", 10),
        vec![(T0, "kept".to_owned())]
    );
    store
        .append("/app/web", "i-1", vec![ev(T0 + 2, "after")], None)
        .expect("append");
    drop(store);
    let (store, report) = open(dir.path(), &clock);
    assert_eq!(report.torn_tail_bytes, 0, "the cut is permanent");
    assert_eq!(read_all(&store, "/app/web", "i-1", 10).len(), 2);
}

#[test]
fn damage_before_intact_records_is_an_error_naming_file_and_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::new(T0);
    let (store, _) = open(dir.path(), &clock);
    setup(&store);
    store
        .append("/app/web", "i-1", vec![ev(T0, "a")], None)
        .expect("append");
    drop(store);
    let wal = newest_wal(dir.path());
    let mut bytes = std::fs::read(&wal).expect("read");
    bytes[8 + 12 + 3] ^= 0xff; // inside the first record's payload
    std::fs::write(&wal, &bytes).expect("write");
    match stratus_logs::store::Store::open(dir.path(), clock.options()) {
        Err(StoreError::Damaged { path, offset, .. }) => {
            assert_eq!(path, wal);
            assert_eq!(offset, 8);
        }
        other => panic!("expected damage, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn duplicate_batch_ids_store_nothing_even_after_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::new(T0);
    let (store, _) = open(dir.path(), &clock);
    setup(&store);
    let id = Some([9u8; 16]);
    let first = store
        .append("/app/web", "i-1", vec![ev(T0, "once")], id)
        .expect("append");
    let again = store
        .append("/app/web", "i-1", vec![ev(T0, "once")], id)
        .expect("append");
    assert_eq!((again.seq, again.duplicate), (first.seq, true));
    drop(store);
    let (store, _) = open(dir.path(), &clock);
    let again = store
        .append("/app/web", "i-1", vec![ev(T0, "once")], id)
        .expect("append");
    assert_eq!((again.seq, again.duplicate), (first.seq, true));
    // Survives a snapshot too.
    store.maintain().expect("maintain");
    store.shutdown().expect("shutdown");
    drop(store);
    let (store, _) = open(dir.path(), &clock);
    assert!(
        store
            .append("/app/web", "i-1", vec![ev(T0, "once")], id)
            .expect("append")
            .duplicate
    );
    assert_eq!(read_all(&store, "/app/web", "i-1", 10).len(), 1);
    // After the retention period the id is forgotten.
    clock.set(T0 + DAY + 1);
    let later = store
        .append("/app/web", "i-1", vec![ev(T0, "twice")], id)
        .expect("append");
    assert!(!later.duplicate);
    assert!(later.seq > first.seq);
}

#[test]
fn retention_drops_whole_files_and_hides_old_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::new(T0);
    let (store, _) = open(dir.path(), &clock);
    setup(&store);
    store.set_retention("/app/web", Some(1)).expect("retention");
    store
        .append("/app/web", "i-1", vec![ev(T0, "day0")], None)
        .expect("append");
    store
        .append("/app/web", "i-1", vec![ev(T0 + 2 * DAY, "day2")], None)
        .expect("append");
    clock.set(T0 + 2 * DAY + 30 * 60_000);
    store.maintain().expect("maintain");
    // Day 0's window ended two days ago (> 1 day retention): never even kept.
    assert_eq!(
        read_all(&store, "/app/web", "i-1", 10),
        vec![(T0 + 2 * DAY, "day2".to_owned())]
    );
    clock.set(T0 + 3 * DAY);
    store.maintain().expect("maintain");
    assert_eq!(store.stats().segment_files, 1, "day 2's window is sealed");
    let files = || {
        std::fs::read_dir(dir.path().join("segments"))
            .expect("dir")
            .count()
    };
    assert_eq!(files(), 1);
    clock.set(T0 + 3 * DAY + HOUR + 1);
    store.maintain().expect("maintain");
    assert_eq!(store.stats().segment_files, 0);
    assert_eq!(files(), 0, "the expired file is deleted");
    assert!(read_all(&store, "/app/web", "i-1", 10).is_empty());
}

#[test]
fn a_recreated_stream_sees_none_of_the_old_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::new(T0 + 10 * 60_000);
    let (store, _) = open(dir.path(), &clock);
    setup(&store);
    store
        .create_stream("/app/web", "other", T0)
        .expect("stream");
    store
        .append("/app/web", "i-1", vec![ev(T0, "old-sealed")], None)
        .expect("append");
    store
        .append("/app/web", "other", vec![ev(T0 + 1, "neighbour")], None)
        .expect("append");
    clock.set(T0 + 2 * HOUR);
    store.maintain().expect("maintain");
    store
        .append("/app/web", "i-1", vec![ev(T0 + 2 * HOUR, "old-head")], None)
        .expect("append");
    store.delete_stream("/app/web", "i-1").expect("delete");
    assert!(matches!(
        store.stream("/app/web", "i-1"),
        Err(StoreError::NoStream)
    ));
    store
        .create_stream("/app/web", "i-1", T0 + 2 * HOUR)
        .expect("recreate");
    store
        .append("/app/web", "i-1", vec![ev(T0 + 2 * HOUR + 1, "new")], None)
        .expect("append");
    let check = |store: &stratus_logs::store::Store| {
        assert_eq!(
            read_all(store, "/app/web", "i-1", 10),
            vec![(T0 + 2 * HOUR + 1, "new".to_owned())]
        );
        let msgs: Vec<String> = scan_all(store, "/app/web", &Scan::default())
            .into_iter()
            .map(|e| e.2)
            .collect();
        assert_eq!(msgs, vec!["neighbour", "new"]);
        assert_eq!(
            store
                .stream("/app/web", "i-1")
                .expect("stream")
                .stored_bytes,
            3
        );
    };
    check(&store);
    drop(store);
    let (store, _) = open(dir.path(), &clock);
    check(&store);
    clock.set(T0 + 4 * HOUR);
    store.maintain().expect("maintain");
    check(&store);
}

#[test]
fn deleting_a_group_removes_its_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::new(T0);
    let (store, _) = open(dir.path(), &clock);
    setup(&store);
    store
        .append("/app/web", "i-1", vec![ev(T0, "x")], None)
        .expect("append");
    clock.set(T0 + 2 * HOUR);
    store.maintain().expect("maintain");
    assert_eq!(store.stats().segment_files, 1);
    store.delete_group("/app/web").expect("delete");
    store.maintain().expect("maintain");
    assert_eq!(
        std::fs::read_dir(dir.path().join("segments"))
            .expect("dir")
            .count(),
        0
    );
    setup(&store);
    assert!(read_all(&store, "/app/web", "i-1", 10).is_empty());
    drop(store);
    let (store, _) = open(dir.path(), &clock);
    assert!(read_all(&store, "/app/web", "i-1", 10).is_empty());
}

#[test]
fn pending_emissions_survive_a_reopen_until_marked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::new(T0);
    let (store, _) = open(dir.path(), &clock);
    setup(&store);
    let a = store
        .append("/app/web", "i-1", vec![ev(T0, "a")], None)
        .expect("append");
    let b = store
        .append("/app/web", "i-1", vec![ev(T0 + 1, "b"), ev(T0, "c")], None)
        .expect("append");
    let pending = store.pending_emissions().expect("pending");
    assert_eq!(
        pending.iter().map(|p| p.seq).collect::<Vec<_>>(),
        vec![a.seq, b.seq]
    );
    assert_eq!(
        pending[1].events,
        vec![ev(T0 + 1, "b"), ev(T0, "c")],
        "as appended"
    );
    assert_eq!(
        (pending[1].group.as_str(), pending[1].stream.as_str()),
        ("/app/web", "i-1")
    );
    store.mark_emitted(a.seq);
    // Sealing everything must not lose the unemitted batch.
    clock.set(T0 + 3 * HOUR);
    store.maintain().expect("maintain");
    assert_eq!(store.stats().head_bytes, 0);
    drop(store);
    let (store, _) = open(dir.path(), &clock);
    let pending = store.pending_emissions().expect("pending");
    assert_eq!(
        pending.iter().map(|p| p.seq).collect::<Vec<_>>(),
        vec![b.seq]
    );
    store.mark_emitted(b.seq);
    assert!(store.pending_emissions().expect("pending").is_empty());
    store.maintain().expect("maintain");
    drop(store);
    let (store, _) = open(dir.path(), &clock);
    assert!(store.pending_emissions().expect("pending").is_empty());
    assert_eq!(read_all(&store, "/app/web", "i-1", 10).len(), 3);
}

#[test]
fn concurrent_appenders_share_fsyncs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::new(T0);
    let mut opts = clock.options();
    opts.fsync = true;
    let (store, _) = stratus_logs::store::Store::open(dir.path(), opts).expect("open");
    setup(&store);
    let before = store.stats();
    std::thread::scope(|s| {
        for t in 0..8 {
            let store = &store;
            s.spawn(move || {
                for i in 0..25 {
                    store
                        .append(
                            "/app/web",
                            "i-1",
                            vec![ev(T0 + i, &format!("t{t}-{i}"))],
                            None,
                        )
                        .expect("append");
                }
            });
        }
    });
    let after = store.stats();
    let records = after.wal_records - before.wal_records;
    let flushes = after.wal_flushes - before.wal_flushes;
    assert_eq!(records, 200);
    assert!(flushes < records, "{flushes} flushes for {records} records");
    assert_eq!(read_all(&store, "/app/web", "i-1", 1000).len(), 200);
}

#[test]
fn many_small_batches_read_back_in_order_after_maintain_and_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::new(T0 + 10 * 60_000);
    let (store, _) = open(dir.path(), &clock);
    setup(&store);
    store.create_stream("/app/web", "i-2", T0).expect("stream");
    // 100 one-event batches, timestamps going back and forth, two streams.
    let mut want = Vec::new();
    for i in 0..100i64 {
        let ts = T0 + (i * 37) % 50;
        let stream = if i % 2 == 0 { "i-1" } else { "i-2" };
        store
            .append("/app/web", stream, vec![ev(ts, &format!("e{i}"))], None)
            .expect("append");
        want.push((ts, i, stream.to_owned(), format!("e{i}")));
    }
    want.sort();
    let want: Vec<(String, i64, String)> =
        want.into_iter().map(|(ts, _, s, m)| (s, ts, m)).collect();
    store.maintain().expect("maintain");
    assert_eq!(store.stats().segment_files, 0, "nothing is due yet");
    assert_eq!(scan_all(&store, "/app/web", &Scan::default()), want);
    drop(store);
    let (store, _) = open(dir.path(), &clock);
    assert_eq!(scan_all(&store, "/app/web", &Scan::default()), want);
    let i2: Vec<(i64, String)> = want
        .iter()
        .filter(|e| e.0 == "i-2")
        .map(|e| (e.1, e.2.clone()))
        .collect();
    assert_eq!(read_all(&store, "/app/web", "i-2", 9), i2);
}

#[test]
fn an_orphan_segment_file_from_a_crash_is_deleted_at_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::new(T0);
    let (store, _) = open(dir.path(), &clock);
    setup(&store);
    store
        .append("/app/web", "i-1", vec![ev(T0, "a")], None)
        .expect("append");
    drop(store);
    // As if a seal wrote its file and crashed before the snapshot named it.
    let orphan = dir.path().join("segments").join("00000000000000ff.seg");
    std::fs::write(&orphan, b"whatever").expect("write");
    std::fs::write(
        dir.path().join("segments").join("0000000000000100.seg.tmp"),
        b"x",
    )
    .expect("write");
    let (store, report) = open(dir.path(), &clock);
    assert_eq!(report.orphan_files_removed, 1);
    assert!(!orphan.exists());
    assert_eq!(
        std::fs::read_dir(dir.path().join("segments"))
            .expect("dir")
            .count(),
        0
    );
    assert_eq!(
        read_all(&store, "/app/web", "i-1", 10),
        vec![(T0, "a".to_owned())]
    );
}

#[test]
fn reads_during_appends_and_seals_see_each_event_once() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::new(T0);
    let mut opts = clock.options();
    opts.head_max_bytes = 4096;
    let (store, _) = stratus_logs::store::Store::open(dir.path(), opts).expect("open");
    setup(&store);
    store.create_stream("/app/web", "i-2", T0).expect("stream");
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        for (t, stream) in ["i-1", "i-2"].into_iter().enumerate() {
            let store = &store;
            s.spawn(move || {
                for i in 0..300i64 {
                    let ts = T0 + i * 20_000 + t as i64;
                    store
                        .append(
                            "/app/web",
                            stream,
                            vec![ev(ts, &format!("{stream}-{i}")), ev(ts - HOUR, "late")],
                            None,
                        )
                        .expect("append");
                }
            });
        }
        let (store, done, clock) = (&store, &done, &clock);
        s.spawn(move || {
            let mut now = T0;
            while !done.load(Ordering::Relaxed) {
                now += 10 * 60_000;
                clock.set(now);
                store.maintain().expect("maintain");
            }
        });
        s.spawn(move || {
            for _ in 0..30 {
                let mut ids = Vec::new();
                let mut keys = Vec::new();
                store
                    .scan("/app/web", &Scan::default(), &mut |e, id| {
                        ids.push(id);
                        keys.push((e.timestamp_ms, id));
                        true
                    })
                    .expect("scan");
                assert!(
                    keys.windows(2).all(|w| w[0] < w[1]),
                    "ascending, no event twice"
                );
            }
            done.store(true, Ordering::Relaxed);
        });
    });
    done.store(true, Ordering::Relaxed);
    let all = scan_all(&store, "/app/web", &Scan::default());
    assert_eq!(all.len(), 2 * 300 * 2);
    assert!(store.stats().segment_files > 0, "seals ran meanwhile");
}

#[test]
fn a_directory_is_open_in_one_store_at_a_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::new(T0);
    let (store, _) = open(dir.path(), &clock);
    assert!(matches!(
        stratus_logs::store::Store::open(dir.path(), clock.options()),
        Err(StoreError::Locked { .. })
    ));
    drop(store);
    assert!(stratus_logs::store::Store::open(dir.path(), clock.options()).is_ok());
}

#[test]
fn a_crash_mid_rotation_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::new(T0);
    let (store, _) = open(dir.path(), &clock);
    setup(&store);
    store
        .append("/app/web", "i-1", vec![ev(T0, "a")], None)
        .expect("append");
    drop(store);
    // The newest segment has no end marker yet (a crash); as if a rotation
    // had just created its successor, header only, and then crashed.
    let newest = newest_wal(dir.path());
    let stem: u64 = newest
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse().ok())
        .expect("numbered");
    std::fs::write(
        dir.path().join("wal").join(format!("{:08}.log", stem + 1)),
        b"SLWAL\x01\0\0",
    )
    .expect("write");
    let (store, _) = open(dir.path(), &clock);
    assert_eq!(
        read_all(&store, "/app/web", "i-1", 10),
        vec![(T0, "a".to_owned())]
    );
    store
        .append("/app/web", "i-1", vec![ev(T0 + 1, "b")], None)
        .expect("append");
    drop(store);
    let (store, _) = open(dir.path(), &clock);
    assert_eq!(read_all(&store, "/app/web", "i-1", 10).len(), 2);
}

#[test]
fn time_ranges_and_single_streams_decompress_only_their_blocks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::new(T0 + 20 * 60_000);
    let (store, _) = open(dir.path(), &clock);
    store.create_group("/g", spec()).expect("group");
    store.create_stream("/g", "early", T0).expect("stream");
    store.create_stream("/g", "late", T0).expect("stream");
    let msg = "x".repeat(100);
    let early: Vec<_> = (0..12_000).map(|i| ev(T0 + i, &msg)).collect();
    store.append("/g", "early", early, None).expect("append");
    let late: Vec<_> = (0..10)
        .map(|i| ev(T0 + 10 * 60_000 + i, &format!("late{i}")))
        .collect();
    store.append("/g", "late", late, None).expect("append");
    clock.set(T0 + 2 * HOUR);
    store.maintain().expect("maintain");
    assert_eq!(store.stats().segment_files, 1);
    let blocks = || store.stats().blocks_read;

    // 136 raw bytes an event (100 + 36 fixed) and blocks cut at 256 KiB
    // (4 + 136 k >= 262,144): 1,928 events a block, so 12,010 events make 7.
    assert_eq!(stratus_logs::store::BLOCK_RAW_BYTES, 256 << 10);
    let before = blocks();
    let all = scan_all(&store, "/g", &Scan::default());
    assert_eq!(all.len(), 12_010);
    assert_eq!(blocks() - before, 7);

    let before = blocks();
    let window = Scan {
        start_ms: Some(T0 + 10 * 60_000),
        end_ms: Some(T0 + 11 * 60_000),
        ..Scan::default()
    };
    assert_eq!(scan_all(&store, "/g", &window).len(), 10);
    assert_eq!(
        blocks() - before,
        1,
        "only the last block overlaps the range"
    );

    let before = blocks();
    assert_eq!(read_all(&store, "/g", "late", 100).len(), 10);
    assert_eq!(
        blocks() - before,
        2,
        "two pages (the second empty), one block each"
    );

    let before = blocks();
    let q = StreamRead {
        start_ms: Some(T0 + 500),
        end_ms: Some(T0 + 600),
        ..forward(1000)
    };
    assert_eq!(
        store
            .read_stream("/g", "early", &q)
            .expect("read")
            .events
            .len(),
        100
    );
    assert_eq!(
        blocks() - before,
        1,
        "events 500..600 sit in the first block"
    );
}

#[test]
fn the_store_is_send_and_sync() {
    fn shareable<T: Send + Sync>() {}
    shareable::<stratus_logs::store::Store>();
}
