//! Opening a store: snapshot, orphan cleanup, segment indexes, WAL replay.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use super::catalog::{self, Catalog, Snapshot};
use super::error::StoreError;
use super::fsutil::{create_dir, list_names, sync_dir};
use super::record::{self, Body};
use super::recovery::{self, CatalogRebuild, LostSegment, Truncation};
use super::{OpenReport, Options, SealedFile, State, Store, seal, segment, wal};

pub fn open(dir: &Path, opts: Options) -> Result<(Store, OpenReport), StoreError> {
    let wal_dir = dir.join("wal");
    let seg_dir = dir.join("segments");
    create_dir(&wal_dir)?;
    create_dir(&seg_dir)?;
    let mut report = OpenReport::default();
    let lock = lock_dir(dir)?;
    let now_secs = (opts.clock)().div_euclid(1000);

    let (snapshot, mut rebuilt_catalog) = match catalog::read_snapshot(dir) {
        Ok(s) => (s, None),
        Err(e @ StoreError::Damaged { .. }) if opts.recover => {
            let (base, rebuild) = rebuild_base(dir, &seg_dir, &e, now_secs, opts.fsync)?;
            (base, Some(rebuild))
        }
        Err(e) => return Err(e),
    };
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
    // are still in the WAL. Copies kept by recovery stay.
    let live: HashSet<u64> = files.iter().map(|f| f.file_id).collect();
    let mut removed = false;
    for name in list_names(&seg_dir)? {
        let keep = segment::parse_file_name(&name).is_some_and(|id| live.contains(&id))
            || recovery::is_kept_aside(&name);
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
    let mut set_aside = false;
    for rec in files {
        let path = seg_dir.join(segment::file_name(rec.file_id));
        // Recovery reads every block; a plain open only the index (a
        // damaged block is then found, and refused, when read).
        let loaded = if opts.recover {
            segment::verify(&path)
        } else {
            segment::read_index(&path)
        };
        match loaded.map_err(|e| missing_is_damage(&path, e)) {
            Ok(index) => {
                by_group
                    .entry(rec.group_id)
                    .or_default()
                    .push(Arc::new(SealedFile { rec, index, path }));
                report.segment_files += 1;
            }
            Err(StoreError::Damaged { reason, .. }) if opts.recover => {
                let kept_aside = if path.exists() {
                    set_aside = true;
                    Some(recovery::rename_aside(&path, now_secs)?)
                } else {
                    None
                };
                let group = cat
                    .group_by_id(rec.group_id)
                    .map_or_else(|| format!("#{}", rec.group_id), |g| g.name.clone());
                report.recovery.lost_segments.push(LostSegment {
                    path,
                    kept_aside,
                    group,
                    window_start_ms: rec.window_start,
                    events: rec.events,
                    reason,
                });
            }
            Err(e) => return Err(e),
        }
    }
    if set_aside && opts.fsync {
        sync_dir(&seg_dir)?;
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
        wal_retired: Vec::new(),
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
    // The oldest record newer than the snapshot: a gap above the snapshot's
    // lsn means records are missing (checked when the catalog was rebuilt).
    let mut oldest_fresh: Option<u64> = None;
    for (i, &n) in segments.iter().enumerate() {
        let path = wal::segment_path(&wal_dir, n);
        let newest = i + 1 == segments.len();
        let mut data = std::fs::read(&path)
            .map_err(|e| StoreError::io(format!("reading {}", path.display()), e))?;
        let mut scan = wal::scan_segment(&data, newest);
        if let Some(first) = scan.damaged.first() {
            if !opts.recover {
                return Err(StoreError::damaged(
                    &path,
                    first.offset as u64,
                    first.reason,
                ));
            }
            let kept_aside = recovery::copy_aside(&path, now_secs, opts.fsync)?;
            let rebuilt = wal::rebuild_segment(&data, &scan.records, !newest);
            segment::write_durably(&path, &rebuilt, opts.fsync)?;
            let dropped: usize = scan.damaged.iter().chain(&scan.torn).map(|d| d.len).sum();
            report.recovery.truncations.push(Truncation {
                path: path.clone(),
                offset: first.offset as u64,
                ranges: scan.damaged.len(),
                dropped_bytes: dropped as u64,
                reason: first.reason.to_owned(),
                kept_aside,
            });
            data = rebuilt;
            scan = wal::scan_segment(&data, newest);
        }
        report.torn_tail_bytes += scan.torn.as_ref().map_or(0, |t| t.len as u64);
        report.wal_segments += 1;
        st.wal_segments.entry(n).or_default();
        for &(offset, len) in &scan.records {
            let payload = data.get(offset..offset + len).unwrap_or(&[]);
            let Some((lsn, body)) = record::decode(payload) else {
                return Err(StoreError::damaged(
                    &path,
                    offset as u64,
                    "undecodable WAL record",
                ));
            };
            if lsn > snap_lsn {
                oldest_fresh = Some(oldest_fresh.map_or(lsn, |o| o.min(lsn)));
            }
            st.note_lsn(n, lsn);
            if replay(&mut st, lsn, snap_lsn, &body, n, opts.segment_window_ms) {
                report.wal_records_replayed += 1;
            }
        }
        if newest && !scan.ended {
            last_unclosed = Some((path, scan.intact_len(data.len())));
        }
    }
    if let Some(rebuild) = &mut rebuilt_catalog
        && let Some(oldest) = oldest_fresh
        && oldest > snap_lsn + 1
    {
        rebuild.lost_lsns = Some((snap_lsn + 1, oldest - 1));
    }
    report.recovery.catalog = rebuilt_catalog;
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
    if report.recovery.repaired() {
        // Commit the repair: the catalog must stop naming dropped files.
        seal::persist(&store, true)?;
    }
    Ok((store, report))
}

/// A segment file the catalog names but the directory lacks is damage.
fn missing_is_damage(path: &Path, e: StoreError) -> StoreError {
    match e {
        StoreError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            StoreError::damaged(
                path,
                0,
                "missing: the catalog names it but it does not exist",
            )
        }
        e => e,
    }
}

/// Recovery of a damaged `catalog.snap`: keeps a copy, takes
/// `catalog.snap.prev` (or nothing) as the base, renames aside every
/// segment file the base does not name (open would delete them as a
/// crash's leftovers, and their events may be nowhere else) and makes the
/// base the current snapshot, so a crash from here on reopens the same way.
fn rebuild_base(
    dir: &Path,
    seg_dir: &Path,
    damage: &StoreError,
    now_secs: i64,
    fsync: bool,
) -> Result<(Option<Snapshot>, CatalogRebuild), StoreError> {
    let current = catalog::snapshot_path(dir);
    let kept_aside = recovery::copy_aside(&current, now_secs, fsync)?;
    let prev_path = catalog::previous_snapshot_path(dir);
    let prev = catalog::read_snapshot_file(&prev_path).ok().flatten();
    let named: HashSet<u64> = prev
        .as_ref()
        .map(|p| p.files.iter().map(|f| f.file_id).collect())
        .unwrap_or_default();
    let mut segments_set_aside = Vec::new();
    for name in list_names(seg_dir)? {
        if let Some(id) = segment::parse_file_name(&name)
            && !named.contains(&id)
        {
            segments_set_aside.push(recovery::rename_aside(&seg_dir.join(&name), now_secs)?);
        }
    }
    if fsync {
        sync_dir(seg_dir)?;
    }
    match &prev {
        Some(_) => {
            let bytes = std::fs::read(&prev_path)
                .map_err(|e| StoreError::io(format!("reading {}", prev_path.display()), e))?;
            segment::write_durably(&current, &bytes, fsync)?;
        }
        None => {
            std::fs::remove_file(&current)
                .map_err(|e| StoreError::io(format!("removing {}", current.display()), e))?;
            if fsync {
                sync_dir(dir)?;
            }
        }
    }
    let reason = match damage {
        StoreError::Damaged { reason, .. } => reason.clone(),
        e => e.to_string(),
    };
    let from_previous = prev.is_some();
    Ok((
        prev,
        CatalogRebuild {
            kept_aside,
            reason,
            from_previous,
            lost_lsns: None,
            segments_set_aside,
        },
    ))
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
