//! Open PutLogEvents batches, one per destination (group, stream, EMF or
//! not), sealed when full — 10,000 events, 1,048,576 bytes counting each
//! message's UTF-8 bytes + 26, or 24 h between its oldest and newest event —
//! or `force_flush_interval` after it opened. A sealed batch's events are in
//! ascending time order (stable, so equal times keep file order), and it
//! remembers which file bytes it covers so the tail can tell what is
//! durable once it is spooled.

use super::lines::EVENT_OVERHEAD;
use super::positions::{FileKey, Fingerprint};
use super::record::LogRecord;
use crate::ship::batch::{BatchId, SealedBatch};
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub const MAX_EVENTS: usize = 10_000;
pub const MAX_BATCH_BYTES: usize = 1_048_576;
pub const MAX_SPAN_MS: i64 = 24 * 3600 * 1000;

/// Where events go, and what to create there if it is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub group: String,
    pub stream: String,
    pub emf: bool,
    pub retention_days: Option<u32>,
    pub group_class: Option<String>,
}

/// The file bytes an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    pub key: FileKey,
    pub fingerprint: Fingerprint,
    pub start: u64,
    pub end: u64,
}

/// A file's events in one batch: where the first starts, the last ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSpan {
    pub key: FileKey,
    pub fingerprint: Fingerprint,
    pub first_start: u64,
    pub last_end: u64,
}

struct OpenBatch {
    id: BatchId,
    dest: Destination,
    events: Vec<(i64, String)>,
    bytes: usize,
    opened: Instant,
    min_ts: i64,
    max_ts: i64,
    files: Vec<FileSpan>,
}

/// A batch ready for the spool.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub batch: SealedBatch,
    pub files: Vec<FileSpan>,
}

type DestKey = (String, String, bool);

/// Every open batch.
#[derive(Default)]
pub struct Batches {
    open: HashMap<DestKey, OpenBatch>,
}

impl Batches {
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Adds one event; batches it would overfill are sealed into `sealed` first.
    pub fn add(
        &mut self,
        dest: &Destination,
        timestamp: i64,
        message: String,
        source: Option<Source>,
        now: Instant,
        sealed: &mut Vec<Sealed>,
    ) {
        let key = (dest.group.clone(), dest.stream.clone(), dest.emf);
        let size = message.len() + EVENT_OVERHEAD;
        if let Some(b) = self.open.get(&key)
            && (b.events.len() >= MAX_EVENTS
                || b.bytes + size > MAX_BATCH_BYTES
                || b.max_ts
                    .max(timestamp)
                    .saturating_sub(b.min_ts.min(timestamp))
                    > MAX_SPAN_MS)
            && let Some(b) = self.open.remove(&key)
        {
            sealed.push(seal(b));
        }
        let b = self.open.entry(key).or_insert_with(|| OpenBatch {
            id: BatchId::opening_now(),
            dest: dest.clone(),
            events: Vec::new(),
            bytes: 0,
            opened: now,
            min_ts: timestamp,
            max_ts: timestamp,
            files: Vec::new(),
        });
        b.min_ts = b.min_ts.min(timestamp);
        b.max_ts = b.max_ts.max(timestamp);
        b.bytes += size;
        b.events.push((timestamp, message));
        if let Some(s) = source {
            match b.files.iter_mut().find(|f| f.key == s.key) {
                Some(f) => {
                    f.last_end = s.end;
                    f.fingerprint = s.fingerprint;
                }
                None => b.files.push(FileSpan {
                    key: s.key,
                    fingerprint: s.fingerprint,
                    first_start: s.start,
                    last_end: s.end,
                }),
            }
        }
    }

    /// Seals the batches open for at least `flush`.
    pub fn seal_due(&mut self, now: Instant, flush: Duration, sealed: &mut Vec<Sealed>) {
        let due: Vec<DestKey> = self
            .open
            .iter()
            .filter(|(_, b)| now.saturating_duration_since(b.opened) >= flush)
            .map(|(k, _)| k.clone())
            .collect();
        for k in due {
            if let Some(b) = self.open.remove(&k) {
                sealed.push(seal(b));
            }
        }
    }

    pub fn seal_all(&mut self, sealed: &mut Vec<Sealed>) {
        for (_, b) in self.open.drain() {
            sealed.push(seal(b));
        }
    }

    /// Where `key`'s earliest event still in an open batch starts.
    pub fn file_floor(&self, key: FileKey) -> Option<u64> {
        self.open
            .values()
            .flat_map(|b| &b.files)
            .filter(|f| f.key == key)
            .map(|f| f.first_start)
            .min()
    }
}

#[derive(serde::Serialize)]
struct Body<'a> {
    #[serde(rename = "logGroupName")]
    group: &'a str,
    #[serde(rename = "logStreamName")]
    stream: &'a str,
    #[serde(rename = "logEvents")]
    events: Vec<Event<'a>>,
}

#[derive(serde::Serialize)]
struct Event<'a> {
    timestamp: i64,
    message: &'a str,
}

/// The PutLogEvents JSON body for `events` (already in time order).
pub fn request_body(group: &str, stream: &str, events: &[(i64, String)]) -> Vec<u8> {
    let body = Body {
        group,
        stream,
        events: events
            .iter()
            .map(|(timestamp, message)| Event {
                timestamp: *timestamp,
                message,
            })
            .collect(),
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

fn seal(mut b: OpenBatch) -> Sealed {
    b.events.sort_by_key(|(t, _)| *t);
    let body = request_body(&b.dest.group, &b.dest.stream, &b.events);
    let record = LogRecord {
        group: b.dest.group,
        stream: b.dest.stream,
        emf: b.dest.emf,
        retention_days: b.dest.retention_days,
        group_class: b.dest.group_class,
        ends: b
            .files
            .iter()
            .map(|f| (f.key, f.fingerprint, f.last_end))
            .collect(),
        body: crate::ship::encode::gzip(&body),
    };
    Sealed {
        batch: SealedBatch {
            id: b.id,
            datums: u32::try_from(b.events.len()).unwrap_or(u32::MAX),
            body: record.encode(),
        },
        files: b.files,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(stream: &str) -> Destination {
        Destination {
            group: "g".into(),
            stream: stream.into(),
            emf: false,
            retention_days: None,
            group_class: None,
        }
    }

    fn events_of(s: &Sealed) -> serde_json::Value {
        let r = LogRecord::decode(&s.batch.body).unwrap();
        let mut json = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&r.body[..]), &mut json)
            .unwrap();
        serde_json::from_slice(&json).unwrap()
    }

    #[test]
    fn limits_split_batches() {
        let now = Instant::now();
        let mut b = Batches::default();
        let mut sealed = Vec::new();
        for i in 0..10_001 {
            b.add(&dest("s"), 1000 + i, "x".into(), None, now, &mut sealed);
        }
        assert_eq!(sealed.len(), 1);
        assert_eq!(sealed[0].batch.datums, 10_000);
        // Bytes: 4 messages of 262,118 bytes count 262,144 each = 1,048,576
        // exactly; a fifth byte more opens a new batch.
        let mut b = Batches::default();
        let mut sealed = Vec::new();
        let big = "y".repeat(262_118);
        for _ in 0..4 {
            b.add(&dest("s"), 1, big.clone(), None, now, &mut sealed);
        }
        assert!(sealed.is_empty());
        b.add(&dest("s"), 1, "z".into(), None, now, &mut sealed);
        assert_eq!(sealed.len(), 1);
        assert_eq!(sealed[0].batch.datums, 4);
        // Span: an event 24 h + 1 ms after the first starts a new batch.
        let mut b = Batches::default();
        let mut sealed = Vec::new();
        b.add(&dest("s"), 0, "a".into(), None, now, &mut sealed);
        b.add(&dest("s"), MAX_SPAN_MS, "b".into(), None, now, &mut sealed);
        assert!(sealed.is_empty());
        b.add(
            &dest("s"),
            MAX_SPAN_MS + 1,
            "c".into(),
            None,
            now,
            &mut sealed,
        );
        assert_eq!(sealed.len(), 1);
        assert_eq!(sealed[0].batch.datums, 2);
    }

    #[test]
    fn sealed_batches_are_time_ordered_and_carry_file_ends() {
        let now = Instant::now();
        let key = FileKey { dev: 1, ino: 9 };
        let fp = Fingerprint { len: 0, crc: 0 };
        let mut b = Batches::default();
        let mut sealed = Vec::new();
        for (i, (t, m)) in [(30, "c"), (10, "a"), (30, "d"), (20, "b")]
            .iter()
            .enumerate()
        {
            let start = i as u64 * 2;
            let src = Source {
                key,
                fingerprint: fp,
                start,
                end: start + 2,
            };
            b.add(&dest("s"), *t, (*m).into(), Some(src), now, &mut sealed);
        }
        b.add(&dest("other"), 5, "o".into(), None, now, &mut sealed);
        assert_eq!(b.file_floor(key), Some(0));
        b.seal_due(
            now + Duration::from_secs(4),
            Duration::from_secs(5),
            &mut sealed,
        );
        assert!(sealed.is_empty());
        b.seal_due(
            now + Duration::from_secs(5),
            Duration::from_secs(5),
            &mut sealed,
        );
        assert_eq!(sealed.len(), 2);
        let s = sealed.iter().find(|s| s.batch.datums == 4).unwrap();
        let json = events_of(s);
        assert_eq!(json["logGroupName"], "g");
        assert_eq!(json["logStreamName"], "s");
        let msgs: Vec<&str> = json["logEvents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["message"].as_str().unwrap())
            .collect();
        assert_eq!(msgs, ["a", "b", "c", "d"]);
        let r = LogRecord::decode(&s.batch.body).unwrap();
        assert_eq!(r.ends, vec![(key, fp, 8)]);
        assert_eq!(b.file_floor(key), None);
        assert!(b.is_empty());
    }
}
