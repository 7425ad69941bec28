//! Maintenance: sealing head windows into segment files, retention, the
//! catalog snapshot, and deleting what no longer needs to exist.
//!
//! Sealing runs outside the state lock: the chosen windows' chunks are
//! marked (reads keep seeing them), written to a file, and then swapped for
//! the file in one critical section.

use std::collections::HashSet;
use std::sync::Arc;

use super::block::{BlockMeta, BlockView, Layout, RawEvent, encode_block};
use super::catalog::FileRec;
use super::error::StoreError;
use super::{Chunk, SealedFile, State, Store, lock, retention_cutoff, segment, wal, write_lock};

/// WAL segments are rotated once this big even if nothing was sealed.
const WAL_ROTATE_BYTES: u64 = 64 << 20;

struct Job {
    group_id: u64,
    window: i64,
    chunks: Vec<Arc<Chunk>>,
    max_lsn: u64,
    file_id: u64,
    /// Live stream ids of the group when the job started.
    live: HashSet<u64>,
    cutoff: i64,
}

pub fn maintain(store: &Store) -> Result<(), StoreError> {
    let _m = lock(&store.maintaining);
    let now = store.now();
    let jobs = choose(store, now)?;
    let mut done = Vec::with_capacity(jobs.len());
    let mut jobs = jobs.into_iter();
    while let Some(job) = jobs.next() {
        match write_job(store, &job) {
            Ok(file) => done.push((job, file)),
            Err(e) => {
                // The windows not sealed stay in the head for the next try.
                let mut rest: Vec<Job> = jobs.collect();
                rest.push(job);
                unmark(store, &rest);
                install(store, done, now);
                return Err(e);
            }
        }
    }
    install(store, done, now);
    compact_head(store);
    persist(store, false)
}

/// A head window with this many chunks (small batches) gets them merged
/// into one, so reads merge a few sources instead of thousands.
const COMPACT_CHUNKS: usize = 32;

/// `(group id, window start)`.
type WindowKey = (u64, i64);

fn compact_head(store: &Store) {
    let picks: Vec<(WindowKey, Vec<Arc<Chunk>>)> = {
        let st = super::read_lock(&store.state);
        st.head
            .iter()
            .filter(|(_, hw)| hw.sealing == 0 && hw.chunks.len() >= COMPACT_CHUNKS)
            .map(|(k, hw)| (*k, hw.chunks.clone()))
            .collect()
    };
    for (key, chunks) in picks {
        let Some(merged) = merge_chunks(&chunks) else {
            continue;
        };
        let mut st = write_lock(&store.state);
        let State {
            head, head_bytes, ..
        } = &mut *st;
        let Some(hw) = head.get_mut(&key) else {
            continue;
        };
        let n = chunks.len();
        let same = hw.sealing == 0
            && hw.chunks.len() >= n
            && hw
                .chunks
                .iter()
                .zip(&chunks)
                .all(|(a, b)| Arc::ptr_eq(a, b));
        if !same {
            continue;
        }
        let old: usize = chunks.iter().map(|c| c.data.len()).sum();
        let new = merged.data.len();
        hw.chunks.splice(..n, [Arc::new(merged)]);
        hw.bytes = hw.bytes - old + new;
        *head_bytes = *head_bytes - old + new;
    }
}

/// One chunk holding the events of `chunks`, sorted.
fn merge_chunks(chunks: &[Arc<Chunk>]) -> Option<Chunk> {
    let views: Vec<BlockView<'_>> = chunks
        .iter()
        .map(|c| BlockView::new(&c.data, &c.layout))
        .collect();
    let mut events: Vec<RawEvent<'_>> = Vec::with_capacity(views.iter().map(|v| v.n).sum());
    for v in &views {
        for i in 0..v.n {
            events.push(RawEvent {
                ts: v.ts(i),
                ingestion: v.ingestion(i),
                id: v.id(i),
                stream: v.stream(i),
                message: v.message(i),
            });
        }
    }
    events.sort_unstable_by_key(|e| (e.ts, e.id));
    let data = encode_block(&events);
    let layout = Layout::parse(&data)?;
    Some(Chunk {
        meta: BlockMeta::of(&events),
        layout,
        data,
        wal_segment: chunks.iter().map(|c| c.wal_segment).min().unwrap_or(0),
    })
}

/// Picks the windows to seal and marks their chunks.
fn choose(store: &Store, now: i64) -> Result<Vec<Job>, StoreError> {
    let o = &store.opts;
    let mut st = write_lock(&store.state);
    let mut picked: Vec<(u64, i64)> = st
        .head
        .iter()
        .filter(|((_, w), hw)| {
            hw.sealing == 0
                && !hw.chunks.is_empty()
                && w.saturating_add(o.segment_window_ms)
                    .saturating_add(o.seal_grace_ms)
                    <= now
        })
        .map(|(k, _)| *k)
        .collect();
    let mut remaining = st.head_bytes.saturating_sub(
        picked
            .iter()
            .filter_map(|k| st.head.get(k))
            .map(|hw| hw.bytes)
            .sum::<usize>(),
    );
    if remaining > o.head_max_bytes {
        let mut rest: Vec<((u64, i64), usize)> = st
            .head
            .iter()
            .filter(|(k, hw)| hw.sealing == 0 && !hw.chunks.is_empty() && !picked.contains(k))
            .map(|(k, hw)| (*k, hw.bytes))
            .collect();
        rest.sort_by_key(|(_, b)| std::cmp::Reverse(*b));
        for (k, b) in rest {
            if remaining <= o.head_max_bytes {
                break;
            }
            picked.push(k);
            remaining = remaining.saturating_sub(b);
        }
    }
    if (!picked.is_empty() || store.wal.current_len() > WAL_ROTATE_BYTES)
        && store.wal.current_len() > wal::SEGMENT_HEADER.len() as u64
    {
        // New appends go to a fresh segment, so the old ones can go once sealed.
        let n = store.wal.rotate()?;
        st.wal_segments.entry(n).or_default();
    }
    let mut jobs = Vec::with_capacity(picked.len());
    for (group_id, window) in picked {
        let Some(g) = st.cat.group_by_id(group_id) else {
            continue;
        };
        let live: HashSet<u64> = g.stream_names.keys().copied().collect();
        let cutoff = retention_cutoff(g.retention_days, now);
        let file_id = st.cat.counters.next_file_id;
        st.cat.counters.next_file_id += 1;
        let Some(hw) = st.head.get_mut(&(group_id, window)) else {
            continue;
        };
        hw.sealing = hw.chunks.len();
        jobs.push(Job {
            group_id,
            window,
            chunks: hw.chunks.clone(),
            max_lsn: hw.max_lsn,
            file_id,
            live,
            cutoff,
        });
    }
    Ok(jobs)
}

fn unmark(store: &Store, jobs: &[Job]) {
    let mut st = write_lock(&store.state);
    for j in jobs {
        if let Some(hw) = st.head.get_mut(&(j.group_id, j.window)) {
            hw.sealing = 0;
        }
    }
}

/// Writes one job's events, sorted by (timestamp, id), as a segment file.
/// `None` when every event was dropped (deleted streams, retention).
fn write_job(store: &Store, job: &Job) -> Result<Option<SealedFile>, StoreError> {
    let views: Vec<BlockView<'_>> = job
        .chunks
        .iter()
        .map(|c| BlockView::new(&c.data, &c.layout))
        .collect();
    let mut events: Vec<RawEvent<'_>> = Vec::with_capacity(views.iter().map(|v| v.n).sum());
    for v in &views {
        for i in 0..v.n {
            let (ts, stream) = (v.ts(i), v.stream(i));
            if ts < job.cutoff || !job.live.contains(&stream) {
                continue;
            }
            events.push(RawEvent {
                ts,
                ingestion: v.ingestion(i),
                id: v.id(i),
                stream,
                message: v.message(i),
            });
        }
    }
    if events.is_empty() {
        return Ok(None);
    }
    events.sort_unstable_by_key(|e| (e.ts, e.id));
    let path = store
        .dir
        .join("segments")
        .join(segment::file_name(job.file_id));
    let (index, w) = segment::write(&path, &events, store.opts.fsync)?;
    let rec = FileRec {
        file_id: job.file_id,
        group_id: job.group_id,
        window_start: job.window,
        file_bytes: w.file_bytes,
        raw_bytes: w.raw_bytes,
        events: w.events,
        min_ts: w.min_ts,
        max_ts: w.max_ts,
        stream_bytes: w.stream_bytes,
    };
    Ok(Some(SealedFile { rec, index, path }))
}

/// Swaps sealed chunks for their files and applies retention.
fn install(store: &Store, done: Vec<(Job, Option<SealedFile>)>, now: i64) {
    let mut st = write_lock(&store.state);
    st.files_changed |= !done.is_empty();
    for (job, file) in done {
        let key = (job.group_id, job.window);
        let group_alive = st.cat.group_by_id(job.group_id).is_some();
        if let Some(hw) = st.head.get_mut(&key) {
            let n = hw.sealing.min(hw.chunks.len());
            let freed: usize = hw.chunks.drain(..n).map(|c| c.data.len()).sum();
            hw.sealing = 0;
            hw.bytes -= freed;
            let empty = hw.chunks.is_empty();
            st.head_bytes -= freed;
            if empty {
                st.head.remove(&key);
            }
        }
        let Some(file) = file else {
            st.sealed.insert(key, job.max_lsn);
            continue;
        };
        if group_alive {
            st.sealed.insert(key, job.max_lsn);
            st.files
                .entry(job.group_id)
                .or_default()
                .push(Arc::new(file));
        } else {
            // Deleted while sealing.
            st.doomed.push(file.path);
        }
    }
    // Retention: whole files whose events are all older than the cutoff.
    let groups: Vec<(u64, i64)> = st
        .cat
        .groups
        .values()
        .filter(|g| g.retention_days.is_some())
        .map(|g| (g.id, retention_cutoff(g.retention_days, now)))
        .collect();
    for (group_id, cutoff) in groups {
        let Some(files) = st.files.get_mut(&group_id) else {
            continue;
        };
        let (expired, kept): (Vec<_>, Vec<_>) =
            files.drain(..).partition(|f| f.rec.max_ts < cutoff);
        *files = kept;
        for f in expired {
            if let Some(g) = st.cat.group_by_id_mut(group_id) {
                for (sid, bytes) in &f.rec.stream_bytes {
                    if let Some(name) = g.stream_names.get(sid).cloned()
                        && let Some(s) = g.streams.get_mut(&name)
                    {
                        s.stored_bytes = s.stored_bytes.saturating_sub(*bytes);
                    }
                }
            }
            st.doomed.push(f.path.clone());
            st.files_changed = true;
        }
    }
    let cutoff = now.saturating_sub(store.opts.batch_id_retention_ms);
    st.cat.prune_batch_ids(cutoff);
}

/// Writes the catalog snapshot, then deletes the files and WAL segments it
/// made unnecessary. The caller holds `maintaining`.
///
/// Unless `force`d it writes only when it has something to make durable
/// beyond what the WAL already holds: installed or dropped files, files to
/// delete, or WAL segments it could delete. A busy store therefore does not
/// rewrite its whole catalog every few seconds.
pub fn persist(store: &Store, force: bool) -> Result<(), StoreError> {
    let (snapshot, doomed, obsolete) = {
        let mut st = write_lock(&store.state);
        let current = store.wal.current_segment();
        let lsn = st.cat.counters.next_lsn - 1;
        let emitted = st.cat.counters.emitted_through;
        let head_min = st
            .head
            .values()
            .flat_map(|hw| hw.chunks.iter())
            .map(|c| c.wal_segment)
            .min()
            .unwrap_or(u64::MAX);
        let obsolete: Vec<u64> = st
            .wal_segments
            .iter()
            .filter(|(n, info)| **n < current && **n < head_min && info.max_seq <= emitted)
            .map(|(n, _)| *n)
            .collect();
        if !force && !st.files_changed && st.doomed.is_empty() && obsolete.is_empty() {
            return Ok(());
        }
        st.files_changed = false;
        // Watermarks matter only for records some remaining segment holds.
        let floor = st
            .wal_segments
            .values()
            .filter_map(|i| i.min_lsn)
            .min()
            .unwrap_or(lsn + 1);
        st.sealed.retain(|_, l| *l >= floor);
        let mut snap = st.cat.to_snapshot(lsn);
        snap.files = st.files.values().flatten().map(|f| f.rec.clone()).collect();
        snap.sealed = st.sealed.iter().map(|(&(g, w), &l)| (g, w, l)).collect();
        let doomed = std::mem::take(&mut st.doomed);
        // Deleted one snapshot late (after the one written now, which makes
        // the last one `catalog.snap.prev`): every record after the previous
        // snapshot stays in the WAL. Until deleted they stay in
        // `wal_segments`, so the watermarks keep covering their records.
        let (delete, retire): (Vec<u64>, Vec<u64>) =
            obsolete.iter().partition(|n| st.wal_retired.contains(n));
        for n in &delete {
            st.wal_segments.remove(n);
        }
        st.wal_retired = retire;
        (snap, doomed, delete)
    };
    super::catalog::write_snapshot(&store.dir, &snapshot, store.opts.fsync)?;
    for path in &doomed {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(format!("removing {}", path.display()), e)),
        }
    }
    wal::remove_segments(store.wal.dir(), &obsolete, store.opts.fsync)
}
