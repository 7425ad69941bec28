//! The durable log store: groups, streams and their events.
//!
//! # Layout on disk
//!
//! ```text
//! <dir>/catalog.snap          groups, streams, counters, emission checkpoint, batch ids,
//!                             live segment files and sealed watermarks (crc-framed JSON,
//!                             temp + rename); the commit point of every seal
//! <dir>/wal/NNNNNNNN.log      WAL segments: one crc-framed record per mutation
//! <dir>/segments/<id>.seg     sealed events of one group and time window (zstd blocks + index)
//! ```
//!
//! # Write path
//!
//! Every mutation is a WAL record (module `record`) appended under the state
//! lock, so WAL order is lsn order, and applied to the in-memory catalog and
//! head there; the caller then waits for the group commit (module `wal`).
//! Events go to the head as small sorted blocks (module `block`) per group and
//! time window. `maintain` seals due group-windows outside the lock into
//! segment files (module `segment`), installs them and drops the sealed head
//! blocks in one critical section (reads see one or the other, never both),
//! then writes the catalog snapshot and only after that deletes WAL segments
//! and files no longer needed. A segment file not named by the snapshot is
//! an orphan of a crash and deleted at open (its events replay from the WAL).
//!
//! # Identity
//!
//! Groups and streams have internal ids never reused, so a recreated stream
//! never sees its predecessor's events: events of a deleted stream stay in
//! shared segment files until their window expires, but no live name maps
//! to their stream id, so no read returns them. Event ids come from one
//! counter, in arrival order; reads order events by (timestamp, event id),
//! and sealed files are sorted the same way (so same-millisecond events of
//! different streams keep arrival order rather than stream order).
//!
//! # Semantics worth knowing
//!
//! - A batch is visible to reads from the moment it is in the head, which is
//!   just before its fsync completes; `append` returns after the fsync.
//! - A failed WAL write or fsync refuses that batch and every later write
//!   ([`StoreError::WriteRefused`]) until the store is reopened, which
//!   replays only what is on disk. Until then reads may still show the
//!   refused batch's events.
//! - `read_stream`: a cursor's own direction wins over `StreamRead::forward`.
//!   Backward pages read time slices backwards from the end (1 min, then
//!   4× longer each), so paging backwards is cheap near the end of a stream.
//! - `pending_emissions` reads the WAL segments from disk: meant for start-up
//!   and catch-up, not per batch. WAL segments holding batches above the
//!   checkpoint are kept until `mark_emitted` passes them.
//! - `maintain` writes the catalog snapshot only when files changed or WAL
//!   segments can be deleted; `shutdown` always writes it.

mod block;
mod catalog;
mod check;
mod codec;
mod cursor;
mod error;
mod frame;
mod fsutil;
mod open;
mod read;
mod record;
mod recovery;
mod seal;
mod segment;
mod wal;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub use check::{CheckReport, FileCheck, FileKind, FileState, check, repair};
pub use cursor::Cursor;
pub use error::StoreError;
pub use recovery::{CatalogRebuild, LostSegment, RecoveryReport, Truncation};
pub use segment::BLOCK_RAW_BYTES;

use block::{BlockMeta, Layout, RawEvent, encode_block};
use catalog::{Catalog, GroupRec};
use record::{Body, Events};
use segment::BlockIndex;

/// How a store behaves; `Default` is production (fsync on, system clock).
#[derive(Clone)]
pub struct Options {
    /// fsync the WAL before acknowledging, and files at seal. Off: tests only.
    pub fsync: bool,
    /// Now, in epoch ms (injected by tests).
    pub clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    /// Sealed files cover one window of event timestamps this long.
    pub segment_window_ms: i64,
    /// A window is sealed once it ended this long ago.
    pub seal_grace_ms: i64,
    /// Above this many head bytes the biggest group-windows are sealed early.
    pub head_max_bytes: usize,
    /// How long a batch id is remembered.
    pub batch_id_retention_ms: i64,
    /// Repair damage at open instead of refusing it (`stratus server
    /// --recover`, `stratus fsck --repair`): damaged WAL records are skipped
    /// (every intact one kept), damaged or missing segment files dropped, a
    /// damaged catalog rebuilt from `catalog.snap.prev` and the WAL. Each
    /// damaged original is kept as `<name>.damaged-<unix-time>`; what was
    /// done is in [`OpenReport::recovery`].
    pub recover: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            fsync: true,
            clock: Arc::new(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64)
            }),
            segment_window_ms: 3_600_000,
            seal_grace_ms: 300_000,
            head_max_bytes: 128 << 20,
            batch_id_retention_ms: 86_400_000,
            recover: false,
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("fsync", &self.fsync)
            .field("segment_window_ms", &self.segment_window_ms)
            .field("seal_grace_ms", &self.seal_grace_ms)
            .field("head_max_bytes", &self.head_max_bytes)
            .field("batch_id_retention_ms", &self.batch_id_retention_ms)
            .field("recover", &self.recover)
            .finish_non_exhaustive()
    }
}

/// What `open` found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Bytes cut off the end of the newest WAL segment (a crash mid-append).
    pub torn_tail_bytes: u64,
    /// WAL records applied on top of the snapshot (head events included).
    pub wal_records_replayed: u64,
    pub wal_segments: u64,
    pub segment_files: u64,
    /// Segment files a crash left unnamed by the catalog, deleted.
    pub orphan_files_removed: u64,
    /// What `Options::recover` repaired (empty without it).
    pub recovery: RecoveryReport,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupSpec {
    pub created_ms: i64,
    pub retention_days: Option<u32>,
    pub tags: BTreeMap<String, String>,
    pub class: String,
    pub kms_key_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupInfo {
    pub name: String,
    pub created_ms: i64,
    pub retention_days: Option<u32>,
    pub tags: BTreeMap<String, String>,
    pub class: String,
    pub kms_key_id: Option<String>,
    pub metric_filters: BTreeMap<String, String>,
    /// Message bytes of the group's live events.
    pub stored_bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamInfo {
    pub name: String,
    pub created_ms: i64,
    pub first_event_ms: Option<i64>,
    pub last_event_ms: Option<i64>,
    pub last_ingestion_ms: Option<i64>,
    /// Message bytes stored (less what retention dropped).
    pub stored_bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    pub timestamp_ms: i64,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    pub seq: u64,
    pub duplicate: bool,
    pub ingestion_ms: i64,
}

/// An event's identity: unique per store, stable across restarts, in
/// arrival order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId(pub u64);

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    pub timestamp_ms: i64,
    pub ingestion_ms: i64,
    pub message: String,
    pub id: EventId,
    pub stream: String,
}

/// A `read_stream` query. A cursor's own direction wins over `forward`.
#[derive(Clone, Debug)]
pub struct StreamRead {
    pub start_ms: Option<i64>,
    /// Exclusive.
    pub end_ms: Option<i64>,
    pub cursor: Option<Cursor>,
    pub forward: bool,
    pub limit: usize,
    /// Page size cap, counting each event as its message bytes + 26 (AWS's
    /// PutLogEvents accounting); a page holds at least one event.
    pub max_bytes: usize,
}

#[derive(Clone, Debug)]
pub struct StreamPage {
    /// Always ascending by (timestamp, id).
    pub events: Vec<StoredEvent>,
    pub next_forward: Cursor,
    pub next_backward: Cursor,
}

#[derive(Clone, Debug, Default)]
pub struct Scan {
    pub streams: Option<Vec<String>>,
    pub stream_prefix: Option<String>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub after: Option<Cursor>,
}

#[derive(Clone, Debug)]
pub struct ScanEnd {
    /// `None`: scanned to the end.
    pub resume: Option<Cursor>,
    pub events_scanned: u64,
    pub bytes_scanned: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingBatch {
    pub seq: u64,
    pub group: String,
    pub stream: String,
    pub ingestion_ms: i64,
    pub events: Vec<NewEvent>,
    /// Appended as Embedded Metric Format (`append_emf`).
    pub emf: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub groups: usize,
    pub streams: usize,
    pub head_bytes: usize,
    pub segment_files: usize,
    pub segment_bytes: u64,
    pub raw_bytes_sealed: u64,
    pub wal_bytes: u64,
    /// WAL records appended and flushes (fsyncs) since open: group commit.
    pub wal_records: u64,
    pub wal_flushes: u64,
    /// Segment blocks decompressed by reads and scans since open.
    pub blocks_read: u64,
}

/// Per-event overhead AWS counts in a batch's size.
pub const AWS_EVENT_OVERHEAD: usize = 26;

/// An immutable sorted block of head events.
pub(crate) struct Chunk {
    data: Vec<u8>,
    layout: Layout,
    meta: BlockMeta,
    /// The WAL segment holding these events' records (the oldest, when merged).
    wal_segment: u64,
}

#[derive(Default)]
struct HeadWindow {
    /// The first `sealing` chunks are being written to a segment file.
    chunks: Vec<Arc<Chunk>>,
    sealing: usize,
    bytes: usize,
    /// The newest record lsn among the chunks.
    max_lsn: u64,
}

/// A live segment file and its block index.
pub(crate) struct SealedFile {
    rec: catalog::FileRec,
    index: Vec<BlockIndex>,
    path: PathBuf,
}

#[derive(Clone, Copy, Default)]
struct WalSegmentInfo {
    min_lsn: Option<u64>,
    max_seq: u64,
}

struct State {
    cat: Catalog,
    head: BTreeMap<(u64, i64), HeadWindow>,
    head_bytes: usize,
    files: BTreeMap<u64, Vec<Arc<SealedFile>>>,
    /// `(group, window) → lsn`: events of the window at or below are sealed.
    sealed: HashMap<(u64, i64), u64>,
    /// Files no longer in the catalog, deleted once a snapshot says so.
    doomed: Vec<PathBuf>,
    wal_segments: BTreeMap<u64, WalSegmentInfo>,
    /// Files were installed or dropped since the last snapshot.
    files_changed: bool,
    /// WAL segments the last snapshot made unnecessary, deleted only after
    /// the next one: until then `catalog.snap.prev` plus the WAL still
    /// rebuild everything if `catalog.snap` is damaged.
    wal_retired: Vec<u64>,
}

/// The log store. `Send + Sync`: call it from any number of threads.
pub struct Store {
    dir: PathBuf,
    opts: Options,
    wal: wal::WalWriter,
    state: RwLock<State>,
    /// One maintain / shutdown at a time.
    maintaining: Mutex<()>,
    /// Held (locked) while open.
    _lock: std::fs::File,
    /// Segment blocks decompressed by reads since open.
    blocks_read: std::sync::atomic::AtomicU64,
}

fn read_lock<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write_lock<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn group_info(g: &GroupRec) -> GroupInfo {
    GroupInfo {
        name: g.name.clone(),
        created_ms: g.created_ms,
        retention_days: g.retention_days,
        tags: g.tags.clone(),
        class: g.class.clone(),
        kms_key_id: g.kms_key_id.clone(),
        metric_filters: g.metric_filters.clone(),
        stored_bytes: g.stored_bytes(),
    }
}

fn stream_info(name: &str, s: &catalog::StreamRec) -> StreamInfo {
    StreamInfo {
        name: name.to_owned(),
        created_ms: s.created_ms,
        first_event_ms: s.first_event_ms,
        last_event_ms: s.last_event_ms,
        last_ingestion_ms: s.last_ingestion_ms,
        stored_bytes: s.stored_bytes,
    }
}

/// The start of the window holding `ts`.
fn window_of(ts: i64, window_ms: i64) -> i64 {
    ts.div_euclid(window_ms.max(1)) * window_ms.max(1)
}

/// The oldest timestamp a group still returns.
fn retention_cutoff(retention_days: Option<u32>, now: i64) -> i64 {
    retention_days.map_or(i64::MIN, |d| now.saturating_sub(i64::from(d) * 86_400_000))
}

impl State {
    /// Splits a batch by window into sorted head chunks.
    fn insert_events(
        &mut self,
        ev: &Events<'_>,
        lsn: u64,
        window_ms: i64,
        wal_segment: u64,
        replaying: bool,
    ) {
        let mut order: Vec<usize> = (0..ev.events.len()).collect();
        order.sort_by_key(|&i| ev.events[i].0);
        let raw: Vec<RawEvent<'_>> = order
            .iter()
            .map(|&i| RawEvent {
                ts: ev.events[i].0,
                ingestion: ev.ingestion_ms,
                id: ev.first_event_id + i as u64,
                stream: ev.stream_id,
                message: ev.events[i].1,
            })
            .collect();
        let mut start = 0;
        while start < raw.len() {
            let window = window_of(raw[start].ts, window_ms);
            let mut end = start + 1;
            while end < raw.len() && window_of(raw[end].ts, window_ms) == window {
                end += 1;
            }
            let slice = &raw[start..end];
            start = end;
            if replaying
                && self
                    .sealed
                    .get(&(ev.group_id, window))
                    .is_some_and(|w| lsn <= *w)
            {
                continue;
            }
            let data = encode_block(slice);
            let Some(layout) = Layout::parse(&data) else {
                continue;
            };
            let chunk = Chunk {
                meta: BlockMeta::of(slice),
                layout,
                data,
                wal_segment,
            };
            let bytes = chunk.data.len();
            let hw = self.head.entry((ev.group_id, window)).or_default();
            hw.chunks.push(Arc::new(chunk));
            hw.bytes += bytes;
            hw.max_lsn = hw.max_lsn.max(lsn);
            self.head_bytes += bytes;
        }
        let info = self.wal_segments.entry(wal_segment).or_default();
        info.max_seq = info.max_seq.max(ev.seq);
    }

    fn note_lsn(&mut self, wal_segment: u64, lsn: u64) {
        let info = self.wal_segments.entry(wal_segment).or_default();
        info.min_lsn = Some(info.min_lsn.map_or(lsn, |m| m.min(lsn)));
    }

    /// Drops a deleted group's head and files (the files once a snapshot
    /// no longer names them).
    fn drop_group_data(&mut self, group_id: u64) {
        let keys: Vec<(u64, i64)> = self
            .head
            .range((group_id, i64::MIN)..=(group_id, i64::MAX))
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            if let Some(hw) = self.head.remove(&k) {
                self.head_bytes -= hw.bytes;
            }
        }
        if let Some(files) = self.files.remove(&group_id) {
            self.doomed.extend(files.iter().map(|f| f.path.clone()));
        }
    }
}

impl Store {
    /// Opens (or creates) the store in `dir`: loads the snapshot, deletes
    /// orphan segment files, replays the WAL (cutting a torn tail of the
    /// newest segment) and starts a fresh WAL segment.
    pub fn open(dir: &Path, opts: Options) -> Result<(Store, OpenReport), StoreError> {
        open::open(dir, opts)
    }

    fn now(&self) -> i64 {
        (self.opts.clock)()
    }

    /// Logs `body` and applies it, under the caller's write lock. Returns
    /// the WAL ticket to commit once the lock is released.
    fn log(&self, st: &mut State, body: &Body<'_>) -> Result<u64, StoreError> {
        let lsn = st.cat.counters.next_lsn;
        let ticket = self
            .wal
            .append_with(|buf| record::encode_into(lsn, body, buf))?;
        st.cat.counters.next_lsn += 1;
        st.note_lsn(self.wal.current_segment(), lsn);
        st.cat.apply(body);
        Ok(ticket)
    }

    /// Logs a mutation of an existing group found by name.
    fn log_group_change(
        &self,
        group: &str,
        make: impl FnOnce(&GroupRec) -> Result<Body<'static>, StoreError>,
    ) -> Result<(), StoreError> {
        let ticket = {
            let mut st = write_lock(&self.state);
            let g = st.cat.groups.get(group).ok_or(StoreError::NoGroup)?;
            let body = make(g)?;
            self.log(&mut st, &body)?
        };
        self.wal.commit(ticket)
    }

    pub fn create_group(&self, name: &str, spec: GroupSpec) -> Result<(), StoreError> {
        let ticket = {
            let mut st = write_lock(&self.state);
            if st.cat.groups.contains_key(name) {
                return Err(StoreError::GroupExists);
            }
            let group_id = st.cat.counters.next_group_id;
            self.log(
                &mut st,
                &Body::CreateGroup {
                    group_id,
                    name,
                    spec,
                },
            )?
        };
        self.wal.commit(ticket)
    }

    pub fn delete_group(&self, name: &str) -> Result<(), StoreError> {
        let ticket = {
            let mut st = write_lock(&self.state);
            let group_id = st.cat.groups.get(name).ok_or(StoreError::NoGroup)?.id;
            let ticket = self.log(&mut st, &Body::DeleteGroup { group_id })?;
            st.drop_group_data(group_id);
            ticket
        };
        self.wal.commit(ticket)
    }

    pub fn group(&self, name: &str) -> Option<GroupInfo> {
        read_lock(&self.state).cat.groups.get(name).map(group_info)
    }

    /// Every group, sorted by name.
    pub fn groups(&self) -> Vec<GroupInfo> {
        read_lock(&self.state)
            .cat
            .groups
            .values()
            .map(group_info)
            .collect()
    }

    pub fn set_retention(&self, group: &str, days: Option<u32>) -> Result<(), StoreError> {
        self.log_group_change(group, |g| {
            Ok(Body::SetRetention {
                group_id: g.id,
                days,
            })
        })
    }

    pub fn tag_group(
        &self,
        group: &str,
        set: &[(String, String)],
        remove: &[String],
    ) -> Result<(), StoreError> {
        let ticket = {
            let mut st = write_lock(&self.state);
            let group_id = st.cat.groups.get(group).ok_or(StoreError::NoGroup)?.id;
            let body = Body::TagGroup {
                group_id,
                set: set.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
                remove: remove.iter().map(String::as_str).collect(),
            };
            self.log(&mut st, &body)?
        };
        self.wal.commit(ticket)
    }

    /// Creates or replaces a metric filter (its definition is opaque here).
    pub fn put_metric_filter(
        &self,
        group: &str,
        name: &str,
        definition: &str,
    ) -> Result<(), StoreError> {
        let ticket = {
            let mut st = write_lock(&self.state);
            let group_id = st.cat.groups.get(group).ok_or(StoreError::NoGroup)?.id;
            self.log(
                &mut st,
                &Body::PutFilter {
                    group_id,
                    name,
                    definition,
                },
            )?
        };
        self.wal.commit(ticket)
    }

    pub fn delete_metric_filter(&self, group: &str, name: &str) -> Result<(), StoreError> {
        let ticket = {
            let mut st = write_lock(&self.state);
            let g = st.cat.groups.get(group).ok_or(StoreError::NoGroup)?;
            if !g.metric_filters.contains_key(name) {
                return Err(StoreError::NoFilter);
            }
            let group_id = g.id;
            self.log(&mut st, &Body::DeleteFilter { group_id, name })?
        };
        self.wal.commit(ticket)
    }

    pub fn create_stream(
        &self,
        group: &str,
        stream: &str,
        created_ms: i64,
    ) -> Result<(), StoreError> {
        let ticket = {
            let mut st = write_lock(&self.state);
            let g = st.cat.groups.get(group).ok_or(StoreError::NoGroup)?;
            if g.streams.contains_key(stream) {
                return Err(StoreError::StreamExists);
            }
            let group_id = g.id;
            let stream_id = st.cat.counters.next_stream_id;
            self.log(
                &mut st,
                &Body::CreateStream {
                    group_id,
                    stream_id,
                    name: stream,
                    created_ms,
                },
            )?
        };
        self.wal.commit(ticket)
    }

    pub fn delete_stream(&self, group: &str, stream: &str) -> Result<(), StoreError> {
        let ticket = {
            let mut st = write_lock(&self.state);
            let g = st.cat.groups.get(group).ok_or(StoreError::NoGroup)?;
            let stream_id = g.streams.get(stream).ok_or(StoreError::NoStream)?.id;
            let group_id = g.id;
            self.log(
                &mut st,
                &Body::DeleteStream {
                    group_id,
                    stream_id,
                },
            )?
        };
        self.wal.commit(ticket)
    }

    /// The group's retention, once both the group and the stream are known
    /// to exist: what an append needs, without copying the group's tags and
    /// filters as [`Store::group`] does.
    pub fn retention_for_append(
        &self,
        group: &str,
        stream: &str,
    ) -> Result<Option<u32>, StoreError> {
        let st = read_lock(&self.state);
        let g = st.cat.groups.get(group).ok_or(StoreError::NoGroup)?;
        g.streams.get(stream).ok_or(StoreError::NoStream)?;
        Ok(g.retention_days)
    }

    pub fn stream(&self, group: &str, stream: &str) -> Result<StreamInfo, StoreError> {
        let st = read_lock(&self.state);
        let g = st.cat.groups.get(group).ok_or(StoreError::NoGroup)?;
        let s = g.streams.get(stream).ok_or(StoreError::NoStream)?;
        Ok(stream_info(stream, s))
    }

    /// A group's streams, sorted by name.
    pub fn streams(&self, group: &str) -> Result<Vec<StreamInfo>, StoreError> {
        let st = read_lock(&self.state);
        let g = st.cat.groups.get(group).ok_or(StoreError::NoGroup)?;
        Ok(g.streams.iter().map(|(n, s)| stream_info(n, s)).collect())
    }

    /// Stores a batch of one stream's events; returns once it is durable.
    /// A `batch_id` seen in the last `batch_id_retention_ms` stores nothing
    /// and answers with the original batch's seq.
    pub fn append(
        &self,
        group: &str,
        stream: &str,
        events: Vec<NewEvent>,
        batch_id: Option<[u8; 16]>,
    ) -> Result<Appended, StoreError> {
        self.append_as(group, stream, events, batch_id, false)
    }

    /// [`Store::append`], remembering whether the batch is Embedded Metric
    /// Format (handed back by [`Store::pending_emissions`]).
    pub fn append_as(
        &self,
        group: &str,
        stream: &str,
        events: Vec<NewEvent>,
        batch_id: Option<[u8; 16]>,
        emf: bool,
    ) -> Result<Appended, StoreError> {
        let (ticket, appended) = {
            let mut st = write_lock(&self.state);
            let now = self.now();
            let g = st.cat.groups.get(group).ok_or(StoreError::NoGroup)?;
            let stream_id = g.streams.get(stream).ok_or(StoreError::NoStream)?.id;
            let group_id = g.id;
            if let Some(id) = batch_id
                && let Some(&(seq, ms)) = st.cat.batch_ids.get(&id)
                && ms >= now.saturating_sub(self.opts.batch_id_retention_ms)
            {
                return Ok(Appended {
                    seq,
                    duplicate: true,
                    ingestion_ms: ms,
                });
            }
            let c = &st.cat.counters;
            let ev = Events {
                seq: c.next_seq,
                group_id,
                stream_id,
                ingestion_ms: now,
                first_event_id: c.next_event_id,
                batch_id,
                emf,
                group,
                stream,
                events: events
                    .iter()
                    .map(|e| (e.timestamp_ms, e.message.as_str()))
                    .collect(),
            };
            let lsn = c.next_lsn;
            let body = Body::Events(ev);
            let ticket = self.log(&mut st, &body)?;
            let Body::Events(ev) = body else {
                return Err(StoreError::WriteRefused(
                    "internal: not an events record".to_owned(),
                ));
            };
            let wal_segment = self.wal.current_segment();
            st.insert_events(&ev, lsn, self.opts.segment_window_ms, wal_segment, false);
            (
                ticket,
                Appended {
                    seq: ev.seq,
                    duplicate: false,
                    ingestion_ms: now,
                },
            )
        };
        self.wal.commit(ticket)?;
        Ok(appended)
    }

    /// Accepted batches above the emission checkpoint, read back from the
    /// WAL, by seq.
    pub fn pending_emissions(&self) -> Result<Vec<PendingBatch>, StoreError> {
        let (segments, emitted) = {
            let st = read_lock(&self.state);
            let emitted = st.cat.counters.emitted_through;
            let segs: Vec<u64> = st
                .wal_segments
                .iter()
                .filter(|(_, i)| i.max_seq > emitted)
                .map(|(n, _)| *n)
                .collect();
            (segs, emitted)
        };
        let mut out = Vec::new();
        for n in segments {
            let path = wal::segment_path(self.wal.dir(), n);
            let read = match wal::read_segment(&path, false, true) {
                Ok(r) => r,
                // Deleted meanwhile: maintain saw the checkpoint pass it.
                Err(StoreError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    continue;
                }
                Err(e) => return Err(e),
            };
            for &(offset, len) in &read.records {
                let payload = read.data.get(offset..offset + len).unwrap_or(&[]);
                let Some((_, Body::Events(ev))) = record::decode(payload) else {
                    continue;
                };
                if ev.seq <= emitted {
                    continue;
                }
                out.push(PendingBatch {
                    seq: ev.seq,
                    group: ev.group.to_owned(),
                    stream: ev.stream.to_owned(),
                    ingestion_ms: ev.ingestion_ms,
                    events: ev
                        .events
                        .iter()
                        .map(|(ts, m)| NewEvent {
                            timestamp_ms: *ts,
                            message: (*m).to_owned(),
                        })
                        .collect(),
                    emf: ev.emf,
                });
            }
        }
        out.sort_by_key(|b| b.seq);
        out.dedup_by_key(|b| b.seq);
        Ok(out)
    }

    /// Every batch up to `seq` has been turned into metrics. Logged (and
    /// committed) so a crash does not emit them again; a failure to log is
    /// not reported (at worst they are emitted again after a restart).
    pub fn mark_emitted(&self, seq: u64) {
        let ticket = {
            let mut st = write_lock(&self.state);
            // A seq not handed out yet would silently mark future batches.
            let seq = seq.min(st.cat.counters.next_seq.saturating_sub(1));
            if seq <= st.cat.counters.emitted_through {
                return;
            }
            self.log(&mut st, &Body::MarkEmitted { seq })
        };
        if let Ok(ticket) = ticket {
            let _ = self.wal.commit(ticket);
        }
    }

    /// Seals due windows, enforces retention, writes the catalog snapshot
    /// and deletes the WAL segments and files no longer needed.
    pub fn maintain(&self) -> Result<(), StoreError> {
        seal::maintain(self)
    }

    pub fn stats(&self) -> StoreStats {
        let st = read_lock(&self.state);
        let (wal_records, wal_flushes) = self.wal.counters();
        let files = st.files.values().flatten();
        StoreStats {
            groups: st.cat.groups.len(),
            streams: st.cat.groups.values().map(|g| g.streams.len()).sum(),
            head_bytes: st.head_bytes,
            segment_files: st.files.values().map(Vec::len).sum(),
            segment_bytes: files.clone().map(|f| f.rec.file_bytes).sum(),
            raw_bytes_sealed: files.map(|f| f.rec.raw_bytes).sum(),
            wal_bytes: st
                .wal_segments
                .keys()
                .filter_map(|n| std::fs::metadata(wal::segment_path(self.wal.dir(), *n)).ok())
                .map(|m| m.len())
                .sum(),
            wal_records,
            wal_flushes,
            blocks_read: self.blocks_read.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Seals nothing; makes everything durable and writes the catalog
    /// snapshot, so the next open replays only the head's events.
    pub fn shutdown(&self) -> Result<(), StoreError> {
        let _m = lock(&self.maintaining);
        self.wal.sync()?;
        seal::persist(self, true)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The fuzz harness of the store's decoders (`fuzz/fuzz_targets/logs_store.rs`
/// and the regression replay): paging tokens — which clients send back —
/// and the WAL record, block and segment-index decoders, whose input passed a
/// crc but must still never panic.
pub fn fuzz_decoders(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Some(c) = Cursor::from_token(text)
    {
        assert_eq!(Cursor::from_token(&c.to_token()), Some(c));
    }
    let _ = record::decode(data);
    if let Some(layout) = Layout::parse(data) {
        let view = block::BlockView::new(data, &layout);
        for i in 0..layout.n.min(1024) {
            let _ = (
                view.key(i),
                view.ingestion(i),
                view.stream(i),
                view.message(i),
            );
        }
    }
    let _ = segment::fuzz_index(data);
    // fsck and recovery read whatever a disk holds.
    let _ = wal::scan_segment(data, true);
    let scan = wal::scan_segment(data, false);
    let _ = wal::rebuild_segment(data, &scan.records, true);
    let _ = catalog::decode_snapshot(data);
}
