//! Opening a store: snapshot, orphan cleanup, segment indexes, WAL replay.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use super::catalog::{self, Catalog};
use super::error::StoreError;
use super::fsutil::{create_dir, list_names, sync_dir};
use super::record::{self, Body};
use super::{OpenReport, Options, SealedFile, State, Store, segment, wal};

pub fn open(dir: &Path, opts: Options) -> Result<(Store, OpenReport), StoreError> {
    let wal_dir = dir.join("wal");
    let seg_dir = dir.join("segments");
    create_dir(&wal_dir)?;
    create_dir(&seg_dir)?;
    let mut report = OpenReport::default();
    let lock = lock_dir(dir)?;

    let snapshot = catalog::read_snapshot(dir)?;
    let (cat, snap_lsn, files, sealed) = match snapshot {
        Some(mut s) => {
            let files = std::mem::take(&mut s.files);
            let sealed: HashMap<(u64, i64), u64> =
                s.sealed.iter().map(|&(g, w, l)| ((g, w), l)).collect();
            let lsn = s.lsn;
            (Catalog::from_snapshot(s), lsn, files, sealed)
        }
        None => (Catalog::new(), 0, Vec::new(), HashMap::new()),
    };

    // Files the snapshot does not name are a crash's leftovers: their events
    // are still in the WAL.
    let live: HashSet<u64> = files.iter().map(|f| f.file_id).collect();
    let mut removed = false;
    for name in list_names(&seg_dir)? {
        let keep = segment::parse_file_name(&name).is_some_and(|id| live.contains(&id));
        if !keep {
            let path = seg_dir.join(&name);
            std::fs::remove_file(&path)
                .map_err(|e| StoreError::io(format!("removing {}", path.display()), e))?;
            report.orphan_files_removed += u64::from(name.ends_with(".seg"));
            removed = true;
        }
    }
    if removed && opts.fsync {
        sync_dir(&seg_dir)?;
    }
    let mut by_group: BTreeMap<u64, Vec<Arc<SealedFile>>> = BTreeMap::new();
    for rec in files {
        let path = seg_dir.join(segment::file_name(rec.file_id));
        let index = segment::read_index(&path)?;
        by_group
            .entry(rec.group_id)
            .or_default()
            .push(Arc::new(SealedFile { rec, index, path }));
        report.segment_files += 1;
    }

    let mut st = State {
        cat,
        head: BTreeMap::new(),
        head_bytes: 0,
        files: by_group,
        sealed,
        doomed: Vec::new(),
        wal_segments: BTreeMap::new(),
        files_changed: false,
    };

    let mut segments = wal::list_segments(&wal_dir)?;
    // A crash during rotation can leave a new segment holding nothing but
    // (part of) its header behind an older one not yet given its end
    // marker. The new one holds no record: drop it, so the older one is the
    // newest again (and gets its marker below).
    if segments.len() >= 2
        && let Some(&last) = segments.last()
    {
        let path = wal::segment_path(&wal_dir, last);
        let len = std::fs::metadata(&path)
            .map_err(|e| StoreError::io(format!("reading {}", path.display()), e))?
            .len();
        if len <= wal::SEGMENT_HEADER.len() as u64 {
            std::fs::remove_file(&path)
                .map_err(|e| StoreError::io(format!("removing {}", path.display()), e))?;
            segments.pop();
        }
    }
    let mut last_unclosed = None;
    for (i, &n) in segments.iter().enumerate() {
        let path = wal::segment_path(&wal_dir, n);
        let newest = i + 1 == segments.len();
        let read = wal::read_segment(&path, newest, false)?;
        report.torn_tail_bytes += read.torn_bytes;
        report.wal_segments += 1;
        st.wal_segments.entry(n).or_default();
        for &(offset, len) in &read.records {
            let payload = read.data.get(offset..offset + len).unwrap_or(&[]);
            let Some((lsn, body)) = record::decode(payload) else {
                return Err(StoreError::damaged(
                    &path,
                    offset as u64,
                    "undecodable WAL record",
                ));
            };
            st.note_lsn(n, lsn);
            if replay(&mut st, lsn, snap_lsn, &body, n, opts.segment_window_ms) {
                report.wal_records_replayed += 1;
            }
        }
        if newest && !read.ended {
            last_unclosed = Some((path, read.intact_len));
        }
    }
    if let Some((path, len)) = last_unclosed {
        if len == 0 {
            // Not even its header survived: nothing to keep.
            std::fs::remove_file(&path)
                .map_err(|e| StoreError::io(format!("removing {}", path.display()), e))?;
            if let Some(n) = segments.last() {
                st.wal_segments.remove(n);
            }
        } else {
            wal::close_segment(&path, len, opts.fsync)?;
        }
    }
    let next = segments.last().map_or(1, |n| n + 1);
    let writer = wal::WalWriter::create(&wal_dir, next, opts.fsync)?;
    st.wal_segments.entry(next).or_default();
    let store = Store {
        dir: dir.to_owned(),
        opts,
        wal: writer,
        state: RwLock::new(st),
        maintaining: Mutex::new(()),
        _lock: lock,
        blocks_read: Default::default(),
    };
    Ok((store, report))
}

/// Takes `<dir>/LOCK` for as long as the store is open: two stores
/// appending to one WAL would corrupt it.
fn lock_dir(dir: &Path) -> Result<std::fs::File, StoreError> {
    let path = dir.join("LOCK");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::io(format!("opening {}", path.display()), e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Locked { path }),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(StoreError::io(format!("locking {}", path.display()), e))
        }
    }
}

/// Applies one replayed record; returns whether it changed anything.
/// Records at or below the snapshot's lsn are already in the catalog, but
/// their events may still belong in the head (unless sealed).
fn replay(
    st: &mut State,
    lsn: u64,
    snap_lsn: u64,
    body: &Body<'_>,
    segment: u64,
    window_ms: i64,
) -> bool {
    let fresh = lsn > snap_lsn;
    if fresh {
        st.cat.apply(body);
        st.cat.counters.next_lsn = st.cat.counters.next_lsn.max(lsn + 1);
        if let Body::DeleteGroup { group_id } = body {
            st.drop_group_data(*group_id);
        }
    }
    let Body::Events(ev) = body else {
        return fresh;
    };
    let live = st
        .cat
        .group_by_id(ev.group_id)
        .is_some_and(|g| g.stream_names.contains_key(&ev.stream_id));
    if live {
        st.insert_events(ev, lsn, window_ms, segment, true);
    } else {
        let info = st.wal_segments.entry(segment).or_default();
        info.max_seq = info.max_seq.max(ev.seq);
    }
    fresh || live
}
