//! Helpers shared by the store tests (included with `mod`).
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use stratus_logs::store::{
    Cursor, GroupSpec, NewEvent, OpenReport, Options, Scan, Store, StreamRead,
};

pub const HOUR: i64 = 3_600_000;
pub const DAY: i64 = 86_400_000;
/// 2026-01-01T00:00:00Z.
pub const T0: i64 = 1_767_225_600_000;

#[derive(Clone)]
pub struct Clock(pub Arc<AtomicI64>);

impl Clock {
    pub fn new(ms: i64) -> Clock {
        Clock(Arc::new(AtomicI64::new(ms)))
    }
    pub fn set(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
    pub fn options(&self) -> Options {
        let c = self.0.clone();
        Options {
            fsync: false,
            clock: Arc::new(move || c.load(Ordering::SeqCst)),
            ..Options::default()
        }
    }
}

pub fn open(dir: &Path, clock: &Clock) -> (Store, OpenReport) {
    Store::open(dir, clock.options()).expect("open")
}

pub fn spec() -> GroupSpec {
    GroupSpec {
        created_ms: T0,
        retention_days: None,
        tags: Default::default(),
        class: "STANDARD".to_owned(),
        kms_key_id: None,
    }
}

pub fn ev(ts: i64, msg: &str) -> NewEvent {
    NewEvent {
        timestamp_ms: ts,
        message: msg.to_owned(),
    }
}

pub fn forward(limit: usize) -> StreamRead {
    StreamRead {
        start_ms: None,
        end_ms: None,
        cursor: None,
        forward: true,
        limit,
        max_bytes: 1 << 20,
    }
}

/// Every event of a stream, paging forward `limit` at a time.
pub fn read_all(store: &Store, group: &str, stream: &str, limit: usize) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    let mut q = forward(limit);
    for _ in 0..10_000 {
        let page = store.read_stream(group, stream, &q).expect("read_stream");
        out.extend(
            page.events
                .iter()
                .map(|e| (e.timestamp_ms, e.message.clone())),
        );
        if q.cursor == Some(page.next_forward) {
            return out;
        }
        q.cursor = Some(page.next_forward);
    }
    panic!("paging never ended");
}

/// Every event of a group as (stream, timestamp, message), in scan order.
pub fn scan_all(store: &Store, group: &str, q: &Scan) -> Vec<(String, i64, String)> {
    let mut out = Vec::new();
    let end = store
        .scan(group, q, &mut |e, _| {
            out.push((e.stream.to_owned(), e.timestamp_ms, e.message.to_owned()));
            true
        })
        .expect("scan");
    assert!(end.resume.is_none());
    out
}

pub fn token_round_trip(c: Cursor) -> Cursor {
    Cursor::from_token(&c.to_token()).expect("own token parses")
}

/// Every event of a stream, paging backward from the end `limit` at a
/// time; returned ascending.
pub fn read_all_backward(
    store: &Store,
    group: &str,
    stream: &str,
    limit: usize,
) -> Vec<(i64, String)> {
    let mut pages = Vec::new();
    let mut q = StreamRead {
        forward: false,
        ..forward(limit)
    };
    for _ in 0..10_000 {
        let page = store.read_stream(group, stream, &q).expect("read_stream");
        assert!(page.events.len() <= limit);
        if page.events.is_empty() {
            assert_eq!(
                q.cursor.map(|c| c.to_token()),
                q.cursor.map(|_| page.next_backward.to_token())
            );
            return pages.into_iter().rev().flatten().collect();
        }
        pages.push(
            page.events
                .iter()
                .map(|e| (e.timestamp_ms, e.message.clone()))
                .collect::<Vec<_>>(),
        );
        q.cursor = Some(page.next_backward);
    }
    panic!("paging never ended");
}
