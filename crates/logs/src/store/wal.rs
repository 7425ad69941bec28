//! Write-ahead log: numbered segments `wal/NNNNNNNN.log`, each an 8-byte
//! header then [`super::frame`] records; a segment gets an end-marker record
//! when a newer one starts, so an older segment cut at a record boundary is
//! told from a complete one.
//!
//! **Group commit** (the tsdb's): `append` copies the framed record into a
//! shared pending buffer (called under the store's write lock, so WAL order
//! is record order) and returns a ticket; `commit(ticket)` waits until it is
//! durable. The first waiter finding no flush in progress becomes the
//! leader: it takes the whole pending buffer, writes it and calls
//! `fdatasync` once without holding the buffer lock while later appenders
//! keep filling the next buffer. One fsync covers every batch appended while
//! the previous one ran.
//!
//! **A failed write or fsync** refuses every record not yet durable, cuts the
//! segment back to its durable length and refuses all later writes: after a
//! failed fsync the kernel may have dropped dirty pages without saying so
//! again, so only a reopen (which replays what is really on disk) is safe.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};

use super::error::StoreError;
use super::frame::{DamagedRange, FRAME_HEADER, MAX_PAYLOAD, put_frame, scan, scan_all};
use super::fsutil::{list_names, sync_dir};

pub const RECORD_MAGIC: u32 = u32::from_le_bytes(*b"SLW1");
pub const SEGMENT_HEADER: [u8; 8] = *b"SLWAL\x01\0\0";
/// End-marker payload: `"SEND" | segment length before the marker u64`.
/// Record payloads start with a kind byte below 32, never `S`.
const END_MARKER: &[u8; 4] = b"SEND";

pub fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:08}.log"))
}

/// Segment numbers present in `dir`, ascending.
pub fn list_segments(dir: &Path) -> Result<Vec<u64>, StoreError> {
    let mut numbers: Vec<u64> = list_names(dir)?
        .iter()
        .filter_map(|n| n.strip_suffix(".log")?.parse().ok())
        .collect();
    numbers.sort_unstable();
    Ok(numbers)
}

fn end_marker(payload: &[u8]) -> Option<u64> {
    let rest = payload.strip_prefix(END_MARKER)?;
    Some(u64::from_le_bytes(rest.try_into().ok()?))
}

fn end_marker_frame(len: u64) -> Vec<u8> {
    let mut payload = END_MARKER.to_vec();
    payload.extend_from_slice(&len.to_le_bytes());
    let mut frame = Vec::new();
    put_frame(&mut frame, RECORD_MAGIC, &payload);
    frame
}

/// The records of one segment read back.
pub struct SegmentRead {
    pub data: Vec<u8>,
    /// `(offset, len)` of each intact record payload in `data`.
    pub records: Vec<(usize, usize)>,
    /// Bytes cut off the end (torn tail of the newest segment).
    pub torn_bytes: u64,
    /// The segment already ends with its end marker.
    pub ended: bool,
    /// Length of the intact part.
    pub intact_len: u64,
}

/// Reads segment `path`. Damage is an error naming file and offset unless it
/// is the torn tail of the `newest` segment (nothing intact after it).
/// `tolerate_tail` reads a segment being appended to (stops at damage).
pub fn read_segment(
    path: &Path,
    newest: bool,
    tolerate_tail: bool,
) -> Result<SegmentRead, StoreError> {
    let data =
        fs::read(path).map_err(|e| StoreError::io(format!("reading {}", path.display()), e))?;
    if data.len() < SEGMENT_HEADER.len() || data[..SEGMENT_HEADER.len()] != SEGMENT_HEADER {
        if newest && data.len() < SEGMENT_HEADER.len() && SEGMENT_HEADER.starts_with(&data) {
            // Created but its header never made it: a crash at rotation.
            return Ok(SegmentRead {
                torn_bytes: data.len() as u64,
                data: Vec::new(),
                records: Vec::new(),
                ended: false,
                intact_len: 0,
            });
        }
        return Err(StoreError::damaged(
            path,
            0,
            "missing or damaged WAL segment header",
        ));
    }
    let (frames, damage) = scan(&data, SEGMENT_HEADER.len(), RECORD_MAGIC);
    let mut out = SegmentRead {
        records: Vec::with_capacity(frames.len()),
        torn_bytes: 0,
        ended: false,
        intact_len: data.len() as u64,
        data: Vec::new(),
    };
    for (offset, payload) in &frames {
        if out.ended {
            return Err(StoreError::damaged(
                path,
                *offset as u64,
                "record after the segment end marker",
            ));
        }
        match end_marker(payload) {
            Some(len) if len == *offset as u64 => out.ended = true,
            Some(_) => {
                return Err(StoreError::damaged(
                    path,
                    *offset as u64,
                    "misplaced end marker",
                ));
            }
            None => out.records.push((offset + FRAME_HEADER, payload.len())),
        }
    }
    if let Some(d) = damage {
        if !(d.torn && (newest || tolerate_tail)) {
            return Err(StoreError::damaged(path, d.offset as u64, d.reason));
        }
        out.torn_bytes = (data.len() - d.offset) as u64;
        out.intact_len = d.offset as u64;
    } else if !newest && !out.ended && !tolerate_tail {
        return Err(StoreError::damaged(
            path,
            data.len() as u64,
            "segment ends without its end marker (truncated)",
        ));
    }
    out.data = data;
    Ok(out)
}

/// Cuts a torn tail and appends the end marker, so the segment reads as a
/// complete older one once a newer segment exists.
pub fn close_segment(path: &Path, intact_len: u64, fsync: bool) -> Result<(), StoreError> {
    let ctx = || format!("closing {}", path.display());
    let mut f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| StoreError::io(ctx(), e))?;
    f.set_len(intact_len)
        .map_err(|e| StoreError::io(ctx(), e))?;
    use std::io::{Seek, SeekFrom};
    f.seek(SeekFrom::Start(intact_len))
        .map_err(|e| StoreError::io(ctx(), e))?;
    f.write_all(&end_marker_frame(intact_len))
        .and_then(|()| if fsync { f.sync_all() } else { Ok(()) })
        .map_err(|e| StoreError::io(ctx(), e))
}

struct CommitState {
    pending: Vec<u8>,
    spare: Vec<u8>,
    appended: u64,
    durable: u64,
    flushes: u64,
    flushing: bool,
    broken: Option<String>,
}

struct Segment {
    file: File,
    number: u64,
    len: u64,
}

/// The appending side of the log.
pub struct WalWriter {
    dir: PathBuf,
    fsync: bool,
    state: Mutex<CommitState>,
    flushed: Condvar,
    segment: Mutex<Segment>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn create_segment(dir: &Path, number: u64, fsync: bool) -> Result<File, StoreError> {
    let path = segment_path(dir, number);
    let ctx = || format!("creating {}", path.display());
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::io(ctx(), e))?;
    file.write_all(&SEGMENT_HEADER)
        .and_then(|()| if fsync { file.sync_all() } else { Ok(()) })
        .map_err(|e| StoreError::io(ctx(), e))?;
    if fsync {
        sync_dir(dir)?;
    }
    Ok(file)
}

impl WalWriter {
    /// Starts a fresh segment `number`.
    pub fn create(dir: &Path, number: u64, fsync: bool) -> Result<WalWriter, StoreError> {
        let file = create_segment(dir, number, fsync)?;
        Ok(WalWriter {
            dir: dir.to_owned(),
            fsync,
            state: Mutex::new(CommitState {
                pending: Vec::with_capacity(1 << 20),
                spare: Vec::with_capacity(1 << 20),
                appended: 0,
                durable: 0,
                flushes: 0,
                flushing: false,
                broken: None,
            }),
            flushed: Condvar::new(),
            segment: Mutex::new(Segment {
                file,
                number,
                len: SEGMENT_HEADER.len() as u64,
            }),
        })
    }

    /// Frames the payload `encode` appends straight into the pending
    /// buffer; returns its ticket.
    pub fn append_with(&self, encode: impl FnOnce(&mut Vec<u8>)) -> Result<u64, StoreError> {
        let mut st = lock(&self.state);
        if let Some(why) = &st.broken {
            return Err(StoreError::WriteRefused(why.clone()));
        }
        let start = st.pending.len();
        st.pending.extend_from_slice(&[0; FRAME_HEADER]);
        encode(&mut st.pending);
        let len = st.pending.len() - start - FRAME_HEADER;
        if len > MAX_PAYLOAD {
            st.pending.truncate(start);
            return Err(StoreError::WriteRefused(format!(
                "a record of {len} bytes is above the WAL's limit"
            )));
        }
        let crc = crc32fast::hash(&st.pending[start + FRAME_HEADER..]);
        let header = &mut st.pending[start..start + FRAME_HEADER];
        header[0..4].copy_from_slice(&RECORD_MAGIC.to_le_bytes());
        header[4..8].copy_from_slice(&(len as u32).to_le_bytes());
        header[8..12].copy_from_slice(&crc.to_le_bytes());
        st.appended += 1;
        Ok(st.appended)
    }

    /// `(records appended, flushes)`: group-commit efficiency.
    pub fn counters(&self) -> (u64, u64) {
        let st = lock(&self.state);
        (st.appended, st.flushes)
    }

    /// Blocks until record `ticket` is written (and fsync'd when enabled).
    pub fn commit(&self, ticket: u64) -> Result<(), StoreError> {
        let mut st = lock(&self.state);
        loop {
            if st.durable >= ticket {
                return Ok(());
            }
            if let Some(why) = &st.broken {
                return Err(StoreError::WriteRefused(why.clone()));
            }
            if st.flushing {
                st = self.flushed.wait(st).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            st = self.flush_as_leader(st).0;
        }
    }

    /// Takes the pending buffer, writes and syncs it; returns the state and
    /// the outcome.
    fn flush_as_leader<'a>(
        &'a self,
        mut st: MutexGuard<'a, CommitState>,
    ) -> (MutexGuard<'a, CommitState>, Result<(), StoreError>) {
        st.flushing = true;
        let target = st.appended;
        let spare = std::mem::take(&mut st.spare);
        let mut buf = std::mem::replace(&mut st.pending, spare);
        drop(st);
        let written = {
            let mut seg = lock(&self.segment);
            let path = segment_path(&self.dir, seg.number);
            let io = |e| StoreError::io(format!("appending to {}", path.display()), e);
            let r = if buf.is_empty() {
                Ok(())
            } else {
                seg.file.write_all(&buf).map_err(io).and_then(|()| {
                    if self.fsync {
                        seg.file.sync_data().map_err(io)
                    } else {
                        Ok(())
                    }
                })
            };
            match r {
                Ok(()) => seg.len += buf.len() as u64,
                Err(_) => {
                    // Cut before anyone hears of the refusal, so a restart
                    // cannot replay a refused record.
                    let len = seg.len;
                    let _ = seg.file.set_len(len);
                }
            }
            r
        };
        buf.clear();
        let mut st = lock(&self.state);
        st.spare = buf;
        st.flushing = false;
        st.flushes += 1;
        match &written {
            Ok(()) => st.durable = st.durable.max(target),
            Err(e) => {
                st.broken = Some(e.to_string());
                st.pending.clear();
            }
        }
        self.flushed.notify_all();
        (st, written)
    }

    /// Flushes everything pending, then ends the current segment with its
    /// marker and starts segment `current + 1`. Returns the new number.
    pub fn rotate(&self) -> Result<u64, StoreError> {
        let mut st = lock(&self.state);
        while st.flushing {
            st = self.flushed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        if let Some(why) = &st.broken {
            return Err(StoreError::WriteRefused(why.clone()));
        }
        let (st, outcome) = self.flush_as_leader(st);
        outcome?;
        // Still holding the state lock: no flush can start meanwhile.
        let mut seg = lock(&self.segment);
        let next = seg.number + 1;
        let file = create_segment(&self.dir, next, self.fsync)?;
        let len = seg.len;
        let path = segment_path(&self.dir, seg.number);
        let marked = seg.file.write_all(&end_marker_frame(len)).and_then(|()| {
            if self.fsync {
                seg.file.sync_data()
            } else {
                Ok(())
            }
        });
        if let Err(e) = marked {
            // No newer segment may exist behind one without its marker.
            drop(file);
            let _ = fs::remove_file(segment_path(&self.dir, next));
            let _ = seg.file.set_len(len);
            return Err(StoreError::io(format!("closing {}", path.display()), e));
        }
        *seg = Segment {
            file,
            number: next,
            len: SEGMENT_HEADER.len() as u64,
        };
        drop(st);
        Ok(next)
    }

    pub fn current_segment(&self) -> u64 {
        lock(&self.segment).number
    }

    pub fn current_len(&self) -> u64 {
        lock(&self.segment).len
    }

    /// Makes everything appended so far durable.
    pub fn sync(&self) -> Result<(), StoreError> {
        let ticket = lock(&self.state).appended;
        self.commit(ticket)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Deletes the given segments (never the current one).
pub fn remove_segments(dir: &Path, numbers: &[u64], fsync: bool) -> Result<(), StoreError> {
    for n in numbers {
        let path = segment_path(dir, *n);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(format!("removing {}", path.display()), e)),
        }
    }
    if !numbers.is_empty() && fsync {
        sync_dir(dir)?;
    }
    Ok(())
}

/// One segment's bytes as fsck and recovery see them: every intact record,
/// and every damaged range between (damage does not hide what follows it).
#[derive(Debug, Default)]
pub struct SegmentScan {
    /// `(offset, len)` of each intact, decodable record payload (end
    /// markers excluded).
    pub records: Vec<(usize, usize)>,
    /// Damage that open refuses: anything but the torn tail of the newest
    /// segment.
    pub damaged: Vec<DamagedRange>,
    /// The torn tail of the newest segment (a crash mid-append).
    pub torn: Option<DamagedRange>,
    /// The segment ends with its (well-placed) end marker.
    pub ended: bool,
}

impl SegmentScan {
    /// Length of the segment without its torn tail.
    pub fn intact_len(&self, data_len: usize) -> u64 {
        self.torn.as_ref().map_or(data_len, |t| t.offset) as u64
    }
}

/// Scans segment bytes; never fails, never panics.
pub fn scan_segment(data: &[u8], newest: bool) -> SegmentScan {
    let mut out = SegmentScan::default();
    let header = SEGMENT_HEADER.len();
    if data.len() < header || data[..header] != SEGMENT_HEADER {
        let range = DamagedRange {
            offset: 0,
            len: data.len().min(header),
            reason: "missing or damaged WAL segment header",
            torn: data.len() < header,
        };
        if newest && data.len() < header && SEGMENT_HEADER.starts_with(data) {
            // Created but its header never made it: a crash at rotation.
            out.torn = Some(range);
            return out;
        }
        out.damaged.push(range);
        if data.len() < header {
            return out;
        }
    }
    let (frames, damage) = scan_all(data, header, RECORD_MAGIC);
    let mut damaged = damage;
    for (offset, payload) in frames {
        let range = |reason| DamagedRange {
            offset,
            len: FRAME_HEADER + payload.len(),
            reason,
            torn: false,
        };
        if out.ended {
            damaged.push(range("record after the segment end marker"));
            continue;
        }
        match end_marker(payload) {
            Some(len) if len == offset as u64 => out.ended = true,
            Some(_) => damaged.push(range("misplaced end marker")),
            None if super::record::decode(payload).is_none() => {
                damaged.push(range("undecodable WAL record"));
            }
            None => out.records.push((offset + FRAME_HEADER, payload.len())),
        }
    }
    damaged.sort_by_key(|d| d.offset);
    if newest
        && let Some(last) = damaged.last()
        && last.torn
        && last.offset + last.len == data.len()
    {
        out.torn = damaged.pop();
    }
    if !newest && !out.ended && out.damaged.is_empty() && damaged.is_empty() {
        damaged.push(DamagedRange {
            offset: data.len(),
            len: 0,
            reason: "segment ends without its end marker (truncated)",
            torn: false,
        });
    }
    out.damaged.extend(damaged);
    out
}

/// The bytes of a segment holding only `records` (payload ranges of
/// `data`), ended with its marker when `end` (recovery's rewrite).
pub fn rebuild_segment(data: &[u8], records: &[(usize, usize)], end: bool) -> Vec<u8> {
    let mut out = SEGMENT_HEADER.to_vec();
    for &(offset, len) in records {
        if let Some(payload) = data.get(offset..offset + len) {
            put_frame(&mut out, RECORD_MAGIC, payload);
        }
    }
    if end {
        let len = out.len() as u64;
        out.extend_from_slice(&end_marker_frame(len));
    }
    out
}
