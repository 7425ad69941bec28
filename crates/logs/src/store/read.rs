//! Reads: a k-way merge in (timestamp, event id) order over the head chunks
//! and segment files of one group, decompressing only the blocks that
//! overlap the query's time range and may hold a wanted stream.
//!
//! Each source sits in a min-heap under the key of its next event, or,
//! before its next block is loaded, under `(block min timestamp, 0)` (no
//! larger than any event in it), so a block is decompressed only when the
//! merge reaches it. A popped source emits events until it passes the
//! heap's next key, so files that do not overlap in time cost one heap
//! operation per block, not per event.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fs::File;
use std::sync::Arc;

use super::block::{BlockMeta, BlockView, Layout};
use super::error::StoreError;
use super::{
    AWS_EVENT_OVERHEAD, Chunk, Cursor, EventId, Scan, ScanEnd, SealedFile, Store, StoredEvent,
    StreamPage, StreamRead, read_lock, retention_cutoff, segment,
};
use crate::EventRef;

type Key = (i64, u64);

/// The part of the key space a read wants: `lo <= key < hi`, streams in
/// `names` (and, when set, in `only`, sorted).
struct Query {
    lo: Key,
    hi: Key,
    only: Option<Vec<u64>>,
}

impl Query {
    fn wants_block(&self, m: &BlockMeta) -> bool {
        m.max_ts >= self.lo.0
            && m.min_ts <= self.hi.0
            && self
                .only
                .as_ref()
                .is_none_or(|ids| m.streams.may_contain_any(ids))
    }
}

enum Origin {
    Head(Arc<Chunk>),
    File {
        file: Arc<SealedFile>,
        blocks: Vec<usize>,
        handle: Option<File>,
    },
}

struct Source {
    origin: Origin,
    /// Next block to load (index into `blocks`; a head chunk has one).
    next_block: usize,
    loaded: bool,
    buf: Vec<u8>,
    layout: Layout,
    pos: usize,
    /// Blocks decompressed for this read (stats).
    blocks_read: u64,
}

impl Source {
    fn block_count(&self) -> usize {
        match &self.origin {
            Origin::Head(_) => 1,
            Origin::File { blocks, .. } => blocks.len(),
        }
    }

    fn block_min_ts(&self, i: usize) -> i64 {
        match &self.origin {
            Origin::Head(c) => c.meta.min_ts,
            Origin::File { file, blocks, .. } => blocks
                .get(i)
                .and_then(|&b| file.index.get(b))
                .map_or(i64::MIN, |b| b.meta.min_ts),
        }
    }

    /// No event of this source is older.
    fn min_ts(&self) -> i64 {
        match &self.origin {
            Origin::Head(c) => c.meta.min_ts,
            Origin::File { file, .. } => file.rec.min_ts,
        }
    }

    fn view(&self) -> BlockView<'_> {
        match &self.origin {
            Origin::Head(c) => BlockView::new(&c.data, &c.layout),
            Origin::File { .. } => BlockView::new(&self.buf, &self.layout),
        }
    }

    /// Loads block `next_block`. `Ok(false)`: the file is gone (deleted by
    /// retention or a group deletion since the read began), skip it.
    fn load(&mut self, z: &mut Zstd) -> Result<bool, StoreError> {
        let i = self.next_block;
        self.next_block += 1;
        match &mut self.origin {
            Origin::Head(_) => {}
            Origin::File {
                file,
                blocks,
                handle,
            } => {
                if handle.is_none() {
                    match File::open(&file.path) {
                        Ok(f) => *handle = Some(f),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
                        Err(e) => {
                            return Err(StoreError::io(
                                format!("opening {}", file.path.display()),
                                e,
                            ));
                        }
                    }
                }
                let (Some(f), Some(b)) = (
                    handle.as_ref(),
                    blocks.get(i).and_then(|&b| file.index.get(b)),
                ) else {
                    return Ok(false);
                };
                self.layout = segment::read_block(
                    f,
                    &file.path,
                    b,
                    &mut z.decompressor,
                    &mut z.scratch,
                    &mut self.buf,
                )?;
                self.blocks_read += 1;
            }
        }
        self.loaded = true;
        Ok(true)
    }
}

struct Zstd {
    decompressor: zstd::bulk::Decompressor<'static>,
    scratch: Vec<u8>,
}

/// What a read starts from, taken under the state lock.
struct Plan {
    group: String,
    sources: Vec<Source>,
    names: HashMap<u64, String>,
    cutoff: i64,
}

impl Store {
    /// Collects the group's sources overlapping `[lo.0, hi.0]` and the names
    /// of its live streams accepted by `keep`.
    fn plan(
        &self,
        group: &str,
        lo_ts: i64,
        hi_ts: i64,
        keep: &dyn Fn(&str) -> bool,
    ) -> Result<Plan, StoreError> {
        let st = read_lock(&self.state);
        let g = st.cat.groups.get(group).ok_or(StoreError::NoGroup)?;
        let names: HashMap<u64, String> = g
            .streams
            .iter()
            .filter(|(n, _)| keep(n))
            .map(|(n, s)| (s.id, n.clone()))
            .collect();
        let cutoff = retention_cutoff(g.retention_days, self.now());
        let mut sources = Vec::new();
        let new_source = |origin| Source {
            origin,
            next_block: 0,
            loaded: false,
            buf: Vec::new(),
            layout: Layout::default(),
            pos: 0,
            blocks_read: 0,
        };
        if let Some(files) = st.files.get(&g.id) {
            for f in files {
                if f.rec.max_ts >= lo_ts && f.rec.min_ts <= hi_ts {
                    sources.push(new_source(Origin::File {
                        file: f.clone(),
                        blocks: Vec::new(),
                        handle: None,
                    }));
                }
            }
        }
        for (_, hw) in st.head.range((g.id, i64::MIN)..=(g.id, i64::MAX)) {
            for c in &hw.chunks {
                if c.meta.max_ts >= lo_ts && c.meta.min_ts <= hi_ts {
                    sources.push(new_source(Origin::Head(c.clone())));
                }
            }
        }
        Ok(Plan {
            group: g.name.clone(),
            sources,
            names,
            cutoff,
        })
    }

    fn count_blocks(&self, plan: &Plan) {
        let n: u64 = plan.sources.iter().map(|s| s.blocks_read).sum();
        self.blocks_read
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// One stream's events in `[start, end)`; see the type docs.
    pub fn read_stream(
        &self,
        group: &str,
        stream: &str,
        q: &StreamRead,
    ) -> Result<StreamPage, StoreError> {
        let lo_ts = q.start_ms.unwrap_or(i64::MIN);
        let hi_ts = q.end_ms.unwrap_or(i64::MAX);
        let mut plan = self.plan(group, lo_ts, hi_ts, &|n| n == stream)?;
        let Some(&stream_id) = plan.names.keys().next() else {
            return Err(StoreError::NoStream);
        };
        let mut query = Query {
            lo: (lo_ts.max(plan.cutoff), 0),
            hi: (hi_ts, 0),
            only: Some(vec![stream_id]),
        };
        if q.end_ms.is_none() {
            query.hi = (i64::MAX, u64::MAX);
        }
        let forward = q.cursor.map_or(q.forward, |c| c.forward);
        match q.cursor {
            Some(c) if c.forward => query.lo = query.lo.max(c.reversed().key()),
            Some(c) => query.hi = query.hi.min(c.key()),
            None => {}
        }
        let limit = q.limit;
        let mut events: VecDeque<StoredEvent> = VecDeque::new();
        let mut bytes = 0usize;
        if limit > 0 && query.lo < query.hi {
            if forward {
                run(&mut plan.sources, &query, &plan.names, &mut |v, i, name| {
                    let size = v.message_bytes(i).len() + AWS_EVENT_OVERHEAD;
                    if !events.is_empty() && bytes + size > q.max_bytes {
                        return false;
                    }
                    events.push_back(stored(v, i, name));
                    bytes += size;
                    events.len() < limit
                })?;
            } else {
                read_backward(&mut plan, &query, limit, q.max_bytes, &mut events)?;
            }
        }
        self.count_blocks(&plan);
        let first = events.front().map(|e| (e.timestamp_ms, e.id.0));
        let last = events.back().map(|e| (e.timestamp_ms, e.id.0));
        let (next_forward, next_backward) = match (first, last) {
            (Some(f), Some(l)) => (Cursor::after(l), Cursor::before(f)),
            _ if forward => {
                let c = q
                    .cursor
                    .unwrap_or_else(|| Cursor::before(query.lo).reversed());
                (c, c.reversed())
            }
            _ => {
                let c = q.cursor.unwrap_or_else(|| Cursor::before(query.hi));
                (c.reversed(), c)
            }
        };
        Ok(StreamPage {
            events: events.into(),
            next_forward,
            next_backward,
        })
    }

    /// Events of a group in ascending (timestamp, id) order; see the type docs.
    pub fn scan(
        &self,
        group: &str,
        q: &Scan,
        f: &mut dyn FnMut(&EventRef<'_>, EventId) -> bool,
    ) -> Result<ScanEnd, StoreError> {
        let lo_ts = q.start_ms.unwrap_or(i64::MIN);
        let hi_ts = q.end_ms.unwrap_or(i64::MAX);
        let keep = |n: &str| {
            q.streams.as_ref().is_none_or(|s| s.iter().any(|x| x == n))
                && q.stream_prefix
                    .as_ref()
                    .is_none_or(|p| n.starts_with(p.as_str()))
        };
        let mut plan = self.plan(group, lo_ts, hi_ts, &keep)?;
        let mut query = Query {
            lo: (lo_ts.max(plan.cutoff), 0),
            hi: if q.end_ms.is_some() {
                (hi_ts, 0)
            } else {
                (i64::MAX, u64::MAX)
            },
            only: None,
        };
        if q.streams.is_some() || q.stream_prefix.is_some() {
            let mut ids: Vec<u64> = plan.names.keys().copied().collect();
            ids.sort_unstable();
            query.only = Some(ids);
        }
        if let Some(c) = q.after {
            query.lo = query.lo.max(next_key(c.key()));
        }
        let mut end = ScanEnd {
            resume: None,
            events_scanned: 0,
            bytes_scanned: 0,
        };
        if query.lo >= query.hi || plan.names.is_empty() {
            return Ok(end);
        }
        let group_name = plan.group.clone();
        let stopped = run(&mut plan.sources, &query, &plan.names, &mut |v, i, name| {
            let message = v.message(i);
            end.events_scanned += 1;
            end.bytes_scanned += message.len() as u64;
            let id = v.id(i);
            let ev = EventRef {
                group: &group_name,
                stream: name,
                timestamp_ms: v.ts(i),
                ingestion_ms: v.ingestion(i),
                message,
                id,
            };
            f(&ev, EventId(id))
        })?;
        self.count_blocks(&plan);
        end.resume = stopped.map(Cursor::after);
        Ok(end)
    }
}

fn stored(v: &BlockView<'_>, i: usize, stream: &str) -> StoredEvent {
    StoredEvent {
        timestamp_ms: v.ts(i),
        ingestion_ms: v.ingestion(i),
        message: v.message(i).to_owned(),
        id: EventId(v.id(i)),
        stream: stream.to_owned(),
    }
}

/// The newest events of `query` that fit `limit` and `max_bytes`, into
/// `events` ascending. Reads time slices backwards from the end, each 4×
/// longer than the last, so a page near the end of a long stream
/// decompresses only the blocks near the end.
fn read_backward(
    plan: &mut Plan,
    query: &Query,
    limit: usize,
    max_bytes: usize,
    events: &mut VecDeque<StoredEvent>,
) -> Result<(), StoreError> {
    let Some(data_min) = plan.sources.iter().map(Source::min_ts).min() else {
        return Ok(());
    };
    let mut bytes = 0usize;
    let mut upper = query.hi;
    let mut span: i64 = 60_000;
    let mut full = false;
    loop {
        let lower = (upper.0.saturating_sub(span), 0).max(query.lo);
        let slice = Query {
            lo: lower,
            hi: upper,
            only: query.only.clone(),
        };
        let (room, room_bytes, empty) = (
            limit - events.len(),
            max_bytes.saturating_sub(bytes),
            events.is_empty(),
        );
        let mut part: VecDeque<StoredEvent> = VecDeque::new();
        let mut part_bytes = 0usize;
        run(&mut plan.sources, &slice, &plan.names, &mut |v, i, name| {
            part.push_back(stored(v, i, name));
            part_bytes += v.message_bytes(i).len() + AWS_EVENT_OVERHEAD;
            // A page holds at least one event, however big.
            while part.len() > room || (part_bytes > room_bytes && !(empty && part.len() == 1)) {
                full = true;
                if let Some(old) = part.pop_front() {
                    part_bytes -= old.message.len() + AWS_EVENT_OVERHEAD;
                }
            }
            true
        })?;
        bytes += part_bytes;
        while let Some(e) = part.pop_back() {
            events.push_front(e);
        }
        if full || events.len() >= limit || lower <= query.lo || lower.0 <= data_min {
            return Ok(());
        }
        upper = lower;
        span = span.saturating_mul(4);
    }
}

/// The smallest key above `k`.
fn next_key(k: Key) -> Key {
    match k.1.checked_add(1) {
        Some(id) => (k.0, id),
        None => (k.0.saturating_add(1), 0),
    }
}

/// Merges `sources`, handing every event in `q` of a stream in `names` to
/// `emit` until it returns false. Returns the key `emit` stopped at.
fn run(
    sources: &mut [Source],
    q: &Query,
    names: &HashMap<u64, String>,
    emit: &mut dyn FnMut(&BlockView<'_>, usize, &str) -> bool,
) -> Result<Option<Key>, StoreError> {
    let mut z = Zstd {
        decompressor: zstd::bulk::Decompressor::new()
            .map_err(|e| StoreError::io("starting zstd", e))?,
        scratch: Vec::new(),
    };
    let mut heap: BinaryHeap<Reverse<(i64, u64, usize)>> = BinaryHeap::with_capacity(sources.len());
    for (si, s) in sources.iter_mut().enumerate() {
        (s.next_block, s.loaded, s.pos) = (0, false, 0);
        if let Origin::File { file, blocks, .. } = &mut s.origin {
            *blocks = (0..file.index.len())
                .filter(|&b| q.wants_block(&file.index[b].meta))
                .collect();
        } else if let Origin::Head(c) = &s.origin
            && !q.wants_block(&c.meta)
        {
            continue;
        }
        if s.block_count() > 0 {
            heap.push(Reverse((s.block_min_ts(0), 0, si)));
        }
    }
    // The last stream id seen and its name, if it is wanted.
    let mut last: (Option<u64>, Option<&str>) = (None, None);
    while let Some(Reverse((_, _, si))) = heap.pop() {
        let Some(s) = sources.get_mut(si) else {
            continue;
        };
        if !s.loaded {
            if !s.load(&mut z)? {
                continue;
            }
            s.pos = s.view().seek(q.lo, false);
        }
        let bound = heap.peek().map(|Reverse((ts, id, _))| (*ts, *id));
        let v = s.view();
        let mut i = s.pos;
        let mut parked = false;
        while i < v.n {
            let key = v.key(i);
            if key >= q.hi {
                // Blocks (and a file's blocks) are sorted: this source is done.
                i = v.n;
                s.next_block = s.block_count();
                break;
            }
            if bound.is_some_and(|b| key > b) {
                heap.push(Reverse((key.0, key.1, si)));
                parked = true;
                break;
            }
            let stream = v.stream(i);
            // Neighbouring events mostly share a stream: skip the lookups.
            if last.0 != Some(stream) {
                let wanted = q
                    .only
                    .as_ref()
                    .is_none_or(|ids| ids.binary_search(&stream).is_ok());
                last = (
                    Some(stream),
                    names.get(&stream).filter(|_| wanted).map(String::as_str),
                );
            }
            if let Some(name) = last.1
                && !emit(&v, i, name)
            {
                return Ok(Some(key));
            }
            i += 1;
        }
        s.pos = i;
        if !parked {
            s.loaded = false;
            if s.next_block < s.block_count() {
                heap.push(Reverse((s.block_min_ts(s.next_block), 0, si)));
            }
        }
    }
    Ok(None)
}
