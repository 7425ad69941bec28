//! Write-ahead log: numbered segment files `wal/NNNNNNNN.log`.
//!
//! A segment starts with an 8-byte header (`SWAL`, version, padding) and
//! holds [`crate::frame`] records; when a newer segment starts (rotation,
//! or open) it gets an end marker record, so an older segment cut at a
//! record boundary is detected. Replay tells a torn tail (the end of the
//! newest segment, nothing intact after it: cut) from any other damage
//! (open refused unless recovery is chosen; see [`replay`]). Only the newest segment is ever appended
//! to; a seal rotates to a new segment, and once the head is in a block the
//! older segments are deleted.
//!
//! **Group commit.** `append` (called under the database's write lock, so
//! record order matches series-id assignment) copies the framed record into
//! a shared pending buffer and returns a sequence number. `commit(seq)`
//! then waits until that sequence is durable: the first waiter to find no
//! flush in progress becomes the leader, takes the whole pending buffer,
//! writes it and calls `fdatasync` once without holding the buffer lock,
//! while later writers keep appending and wait on a condvar. One fsync
//! therefore covers every batch appended while the previous one ran.
//!
//! **A failed write or fsync** (a full disk, an I/O error) refuses every
//! record not yet durable: the failed group and whatever was appended while
//! it ran. None of them is acknowledged ([`Error::WriteRefused`]), and the
//! segment is cut back at once to its last durable length, so a restart
//! cannot replay them. After a failed fsync the kernel may have dropped the
//! dirty pages and will not report that again, so the segment is never
//! appended to or trusted again: the next append first opens a fresh segment
//! (retrying on every append until that succeeds, e.g. once space returns).
//! The caller learns which sequence numbers were refused through
//! [`WalWriter::is_refused`] and [`WalWriter::progress`].

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};

use crate::error::Error;
use crate::frame::{Damage, FRAME_HEADER, MAX_PAYLOAD, put_frame, scan_with_header};
use crate::fsutil::{keep_aside, replace_file, sync_dir};
use crate::locks::lock;
use crate::recovery::{RecoveryReport, Truncation};

pub const RECORD_MAGIC: u32 = u32::from_le_bytes(*b"SWR1");
/// v2: a segment ends with an end marker once a newer one starts, so an
/// older segment cut at a record boundary is told from a complete one.
const SEGMENT_HEADER: [u8; 8] = *b"SWAL\x02\0\0\0";
const SEGMENT_HEADER_V1: [u8; 8] = *b"SWAL\x01\0\0\0";
const END_MARKER: &[u8; 4] = b"SEND";

pub fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:08}.log"))
}

/// Segment numbers present in `dir`, ascending.
pub fn list_segments(dir: &Path) -> Result<Vec<u64>, Error> {
    let mut numbers = Vec::new();
    let entries =
        fs::read_dir(dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".log")) else {
            continue;
        };
        if let Ok(n) = stem.parse::<u64>() {
            numbers.push(n);
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

/// What a segment holds, and which of its damage is more than a torn tail.
#[derive(Debug, Default)]
pub struct SegmentCheck<'a> {
    /// Intact batch records `(offset, payload)` (end markers excluded).
    pub records: Vec<(usize, &'a [u8])>,
    /// Damage open refuses: a bad record with intact records after it, a
    /// bad header, any damage in an older segment, an older segment that
    /// lost its end (no end marker).
    pub damaged: Vec<Damage>,
    /// Damage running to the end of the newest segment: a crash mid-append.
    pub torn: Option<Damage>,
    /// The segment ends with its end marker.
    pub ended: bool,
}

/// The end-marker payload: `"SEND" | length of the segment before it u64`.
/// Record payloads start with a version byte (1 or 2), never `S`.
fn end_marker(payload: &[u8]) -> Option<u64> {
    let rest = payload.strip_prefix(END_MARKER)?;
    Some(u64::from_le_bytes(rest.try_into().ok()?))
}

/// Reads a segment; `newest`: the last one, the only one ever appended to.
pub fn check_segment(data: &[u8], newest: bool) -> SegmentCheck<'_> {
    // v1 segments (written before end markers) are read as they were.
    let v1 = data.starts_with(&SEGMENT_HEADER_V1);
    let header = if v1 {
        &SEGMENT_HEADER_V1
    } else {
        &SEGMENT_HEADER
    };
    let found = scan_with_header(
        data,
        header,
        RECORD_MAGIC,
        "missing or damaged segment header",
    );
    let mut out = SegmentCheck {
        damaged: found.damaged,
        ..SegmentCheck::default()
    };
    for (offset, payload) in found.frames {
        let frame_len = FRAME_HEADER + payload.len();
        match end_marker(payload) {
            Some(len) if !out.ended && len == offset as u64 => out.ended = true,
            Some(_) => out.damaged.push(Damage {
                offset,
                len: frame_len,
                reason: "misplaced segment end marker",
            }),
            None => {
                if out.ended {
                    out.damaged.push(Damage {
                        offset,
                        len: frame_len,
                        reason: "record after the segment end marker",
                    });
                }
                out.records.push((offset, payload));
            }
        }
    }
    if newest {
        out.torn = found.tail;
    } else if let Some(tail) = found.tail {
        out.damaged.push(tail);
    } else if !v1 && !out.ended {
        // Every segment gets its end marker before a newer one starts.
        out.damaged.push(Damage {
            offset: data.len(),
            len: 0,
            reason: "segment ends without its end marker (truncated)",
        });
    }
    out.damaged.sort_by_key(|d| d.offset);
    out
}

/// Appends the end marker to a segment of `len` bytes.
fn put_end_marker(file: &mut File, len: u64, fsync: bool) -> std::io::Result<()> {
    let mut payload = END_MARKER.to_vec();
    payload.extend_from_slice(&len.to_le_bytes());
    let mut frame = Vec::with_capacity(FRAME_HEADER + payload.len());
    put_frame(&mut frame, RECORD_MAGIC, &payload);
    file.write_all(&frame)?;
    if fsync { file.sync_data() } else { Ok(()) }
}

/// Replays `segments` in order, calling `apply(segment, payload)` on every
/// intact record. Returns the newest segment and its length when it still
/// needs its end marker: the caller appends it with [`close_segment`] once
/// the open cannot fail any more, just before starting a newer segment.
///
/// A torn tail of the newest segment (damage with no intact record after
/// it) is cut and reported. Any other damage — a bad record followed by
/// intact ones, a bad segment header, damage in an older segment or an
/// older segment without its end marker — is [`Error::CorruptWalSegment`],
/// unless `recover` is set: then the segment is copied aside
/// (`<name>.damaged-<now_secs>`), rewritten with only its intact records,
/// and every skipped range is reported.
pub fn replay(
    dir: &Path,
    segments: &[u64],
    recover: bool,
    now_secs: i64,
    report: &mut RecoveryReport,
    mut apply: impl FnMut(&Path, &[u8]) -> Result<(), Error>,
) -> Result<Option<(PathBuf, u64)>, Error> {
    let mut unclosed = None;
    for (i, &number) in segments.iter().enumerate() {
        let path = segment_path(dir, number);
        let data =
            fs::read(&path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        let newest = i + 1 == segments.len();
        let found = check_segment(&data, newest);
        if let Some(first) = found.damaged.first()
            && !recover
        {
            return Err(Error::CorruptWalSegment {
                path,
                offset: first.offset as u64,
                reason: first.reason.to_owned(),
            });
        }
        for &(_, payload) in &found.records {
            apply(&path, payload)?;
            report.wal_records_replayed += 1;
        }
        report.wal_segments_replayed += 1;
        if !found.damaged.is_empty() {
            let aside = keep_aside(&path, now_secs)?;
            let mut intact = SEGMENT_HEADER.to_vec();
            for &(offset, payload) in &found.records {
                intact.extend_from_slice(&data[offset..offset + FRAME_HEADER + payload.len()]);
            }
            let mut marker = Vec::new();
            let mut payload = END_MARKER.to_vec();
            payload.extend_from_slice(&(intact.len() as u64).to_le_bytes());
            put_frame(&mut marker, RECORD_MAGIC, &payload);
            intact.extend_from_slice(&marker);
            replace_file(&path, &intact)?;
            for d in found.damaged.iter().chain(&found.torn) {
                report.truncations.push(Truncation {
                    path: path.clone(),
                    offset: d.offset as u64,
                    dropped_bytes: d.len as u64,
                    reason: d.reason.to_owned(),
                    kept_aside: Some(aside.clone()),
                });
            }
            continue;
        }
        let mut len = data.len() as u64;
        if let Some(tail) = &found.torn {
            // Recovery copies any file it is about to change, a torn one too.
            let kept_aside = if recover {
                Some(keep_aside(&path, now_secs)?)
            } else {
                None
            };
            report.truncations.push(Truncation {
                path: path.clone(),
                offset: tail.offset as u64,
                dropped_bytes: tail.len as u64,
                reason: tail.reason.to_owned(),
                kept_aside,
            });
            if found.records.is_empty() && !found.ended {
                // Nothing intact: drop the file so it cannot become a
                // damaged "older" segment on the next open.
                fs::remove_file(&path)
                    .map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
                continue;
            }
            truncate_file(&path, tail.offset as u64)?;
            len = tail.offset as u64;
        }
        if newest && !found.ended {
            unclosed = Some((path, len));
        }
    }
    Ok(unclosed)
}

/// Appends the end marker to the segment at `path`, `len` bytes long.
pub fn close_segment(path: &Path, len: u64) -> Result<(), Error> {
    let ctx = || format!("closing {}", path.display());
    let mut file = OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| Error::io(ctx(), e))?;
    put_end_marker(&mut file, len, true).map_err(|e| Error::io(ctx(), e))
}

fn truncate_file(path: &Path, len: u64) -> Result<(), Error> {
    let ctx = || format!("truncating {}", path.display());
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::io(ctx(), e))?;
    f.set_len(len).map_err(|e| Error::io(ctx(), e))?;
    f.sync_all().map_err(|e| Error::io(ctx(), e))
}

struct CommitState {
    pending: Vec<u8>,
    spare: Vec<u8>,
    appended: u64,
    durable: u64,
    /// Number of flushes (one fsync each when enabled): group-commit efficiency.
    flushes: u64,
    flushing: bool,
    /// Why the current segment may not take more records (a failed write or
    /// fsync); cleared once a fresh segment is open.
    broken: Option<String>,
    /// Sequence ranges `(after, through]` refused by failed flushes, with
    /// the reason. One entry per failure; kept so that a waiter woken late
    /// is never told a refused record is durable.
    refused: Vec<(u64, u64, String)>,
}

impl CommitState {
    fn refusal(&self, seq: u64) -> Option<&str> {
        self.refused
            .iter()
            .rev()
            .find(|(after, through, _)| seq > *after && seq <= *through)
            .map(|(_, _, why)| why.as_str())
    }
}

struct Segment {
    file: File,
    number: u64,
    /// Bytes of the file known to be on disk (header + durable records).
    durable_len: u64,
    /// A failed flush could not cut the file back to `durable_len` yet.
    needs_cut: bool,
}

impl Segment {
    /// Cuts off whatever a failed flush left after the durable records, so
    /// no refused record can be replayed after a restart.
    fn cut_to_durable(&mut self, dir: &Path) -> Result<(), Error> {
        use std::io::{Seek, SeekFrom};
        let path = segment_path(dir, self.number);
        let io = |e| {
            Error::io(
                format!("cutting {} after a failed write", path.display()),
                e,
            )
        };
        self.needs_cut = true;
        self.file.set_len(self.durable_len).map_err(io)?;
        self.file
            .seek(SeekFrom::Start(self.durable_len))
            .map_err(io)?;
        self.needs_cut = false;
        Ok(())
    }

    /// Ends this segment with its end marker (at the durable length) and
    /// switches to a fresh segment `number + 1`. The marker is written only
    /// after the new segment exists, so a failure leaves no newer segment
    /// behind an unmarked one; a marker that could not be completed is cut
    /// off again (if that fails too, `needs_cut` stays set).
    fn close_and_start_next(&mut self, dir: &Path, fsync: bool) -> Result<(), Error> {
        let next = self.number + 1;
        let file = create_segment(dir, next, fsync)?;
        let path = segment_path(dir, self.number);
        let marked = put_end_marker(&mut self.file, self.durable_len, fsync)
            .map_err(|e| Error::io(format!("closing {}", path.display()), e));
        if let Err(e) = marked {
            drop(file);
            let _ = fs::remove_file(segment_path(dir, next));
            let _ = self.cut_to_durable(dir);
            return Err(e);
        }
        *self = Segment {
            file,
            number: next,
            durable_len: SEGMENT_HEADER.len() as u64,
            needs_cut: false,
        };
        Ok(())
    }
}

/// The appending side of the log.
pub struct WalWriter {
    dir: PathBuf,
    fsync: bool,
    state: Mutex<CommitState>,
    flushed: Condvar,
    segment: Mutex<Segment>,
}

impl WalWriter {
    /// Starts a fresh segment numbered `number`.
    pub fn create(dir: &Path, number: u64, fsync: bool) -> Result<WalWriter, Error> {
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
                refused: Vec::new(),
            }),
            flushed: Condvar::new(),
            segment: Mutex::new(Segment {
                file,
                number,
                durable_len: SEGMENT_HEADER.len() as u64,
                needs_cut: false,
            }),
        })
    }

    /// Frames `payload` into the pending buffer; returns its sequence number.
    /// After a failed flush, first opens a fresh segment; while that fails
    /// (the disk is still full) the record is refused.
    pub fn append(&self, payload: &[u8]) -> Result<u64, Error> {
        if payload.len() > MAX_PAYLOAD {
            return Err(Error::BatchTooLarge(payload.len()));
        }
        let mut st = lock(&self.state);
        if st.broken.is_some() {
            st = self.repair(st)?;
        }
        st.pending.reserve(FRAME_HEADER + payload.len());
        put_frame(&mut st.pending, RECORD_MAGIC, payload);
        st.appended += 1;
        Ok(st.appended)
    }

    /// `(records appended, flushes)` since this writer was created.
    pub fn counters(&self) -> (u64, u64) {
        let st = lock(&self.state);
        (st.appended, st.flushes)
    }

    /// `(highest durable sequence, number of failed flushes so far)`. A
    /// sequence at or below the first number is durable unless
    /// [`Self::is_refused`]; a caller that saw the same failure count before
    /// has already dealt with every refused one.
    pub fn progress(&self) -> (u64, usize) {
        let st = lock(&self.state);
        (st.durable, st.refused.len())
    }

    /// Whether record `seq` was refused by a failed flush.
    pub fn is_refused(&self, seq: u64) -> bool {
        lock(&self.state).refusal(seq).is_some()
    }

    /// Blocks until record `seq` is written (and fsync'd when enabled), or
    /// its flush failed.
    pub fn commit(&self, seq: u64) -> Result<(), Error> {
        let mut st = lock(&self.state);
        loop {
            if let Some(why) = st.refusal(seq) {
                return Err(Error::WriteRefused(why.to_owned()));
            }
            if st.durable >= seq {
                return Ok(());
            }
            if st.flushing {
                st = self.flushed.wait(st).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            if let Some(why) = &st.broken {
                // Unreachable in practice: a failure refuses every record
                // not yet durable, and appends wait for a fresh segment.
                return Err(Error::WriteRefused(why.clone()));
            }
            st = self.flush_as_leader(st, |_| Ok(())).0;
        }
    }

    /// Replaces a segment a flush failed on with a fresh one (the old one is
    /// cut back to its durable records first, if the failure could not).
    fn repair<'a>(
        &'a self,
        mut st: MutexGuard<'a, CommitState>,
    ) -> Result<MutexGuard<'a, CommitState>, Error> {
        while st.flushing {
            st = self.flushed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        if st.broken.is_none() {
            return Ok(st);
        }
        let refuse = |e: Error| Error::WriteRefused(format!("the WAL cannot take writes yet: {e}"));
        let mut seg = lock(&self.segment);
        if seg.needs_cut {
            seg.cut_to_durable(&self.dir).map_err(refuse)?;
        }
        // The old segment gets its end marker like any rotated one: an older
        // segment without one reads as damaged at the next open.
        seg.close_and_start_next(&self.dir, self.fsync)
            .map_err(refuse)?;
        drop(seg);
        st.broken = None;
        Ok(st)
    }

    /// Takes the pending buffer, writes and syncs it, then runs `then` on the
    /// segment (still holding it) and publishes the outcome. Returns the
    /// state and the outcome: the flush's error, else `then`'s.
    fn flush_as_leader<'a>(
        &'a self,
        mut st: MutexGuard<'a, CommitState>,
        then: impl FnOnce(&mut Segment) -> Result<(), Error>,
    ) -> (MutexGuard<'a, CommitState>, Result<(), Error>) {
        st.flushing = true;
        let target = st.appended;
        let spare = std::mem::take(&mut st.spare);
        let mut buf = std::mem::replace(&mut st.pending, spare);
        drop(st);

        let (flushed, then_done) = {
            let mut seg = lock(&self.segment);
            let path = segment_path(&self.dir, seg.number);
            let io = |e| Error::io(format!("appending to {}", path.display()), e);
            let written = if buf.is_empty() {
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
            match written {
                Ok(()) => {
                    seg.durable_len += buf.len() as u64;
                    (Ok(()), then(&mut seg))
                }
                Err(e) => {
                    // Cut now, before any waiter hears of the refusal, so a
                    // kill after the refusal cannot bring the records back.
                    // If the cut fails, `repair` retries it before anything
                    // else is appended.
                    let _ = seg.cut_to_durable(&self.dir);
                    (Err(e), Ok(()))
                }
            }
        };

        buf.clear();
        let mut st = lock(&self.state);
        st.spare = buf;
        st.flushing = false;
        st.flushes += 1;
        let outcome = match flushed {
            Ok(()) => {
                st.durable = st.durable.max(target);
                then_done
            }
            Err(e) => {
                // Every record not yet durable is refused: this group and
                // the ones appended while it was written.
                let why = e.to_string();
                let (after, through) = (st.durable, st.appended);
                st.refused.push((after, through, why.clone()));
                st.pending.clear();
                st.broken = Some(why.clone());
                Err(Error::WriteRefused(why))
            }
        };
        self.flushed.notify_all();
        (st, outcome)
    }

    /// Flushes everything pending, then switches to segment `current + 1`.
    /// Returns the new segment number: every record appended before the
    /// call lives in a segment with a smaller number.
    ///
    /// A failed flush refuses the pending records (see the module doc); a
    /// failure to create the new segment leaves the current one in use.
    pub fn rotate(&self) -> Result<u64, Error> {
        let mut st = lock(&self.state);
        while st.flushing {
            st = self.flushed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        if st.broken.is_some() {
            st = self.repair(st)?;
        }
        let dir = self.dir.clone();
        let fsync = self.fsync;
        let mut new_number = 0;
        let (mut st, outcome) = self.flush_as_leader(st, |seg| {
            seg.close_and_start_next(&dir, fsync)?;
            new_number = seg.number;
            Ok(())
        });
        if outcome.is_err() && lock(&self.segment).needs_cut {
            // A half-written end marker could not be cut off: no record may
            // follow it, so the segment takes no more until `repair`.
            st.broken = Some("closing the WAL segment failed".to_owned());
        }
        outcome.map(|()| new_number)
    }

    /// Makes sure everything appended so far is on disk (used by `close`).
    pub fn sync(&self) -> Result<(), Error> {
        let seq = lock(&self.state).appended;
        self.commit(seq)?;
        let seg = lock(&self.segment);
        seg.file
            .sync_all()
            .map_err(|e| Error::io(format!("syncing WAL segment {}", seg.number), e))
    }

    /// Deletes segments numbered below `number`.
    pub fn remove_below(&self, number: u64) -> Result<(), Error> {
        remove_segments_below(&self.dir, number, self.fsync)
    }
}

pub fn remove_segments_below(dir: &Path, number: u64, fsync: bool) -> Result<(), Error> {
    let mut removed = false;
    for n in list_segments(dir)? {
        if n < number {
            let path = segment_path(dir, n);
            fs::remove_file(&path)
                .map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
            removed = true;
        }
    }
    if removed && fsync {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Creates segment `number` with its header. On failure (a full disk)
/// removes what it created, so the failure leaves nothing behind.
fn create_segment(dir: &Path, number: u64, fsync: bool) -> Result<File, Error> {
    let path = segment_path(dir, number);
    let ctx = || format!("creating {}", path.display());
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(ctx(), e))?;
    let written = file
        .write_all(&SEGMENT_HEADER)
        .and_then(|()| if fsync { file.sync_all() } else { Ok(()) });
    if let Err(e) = written
        .map_err(|e| Error::io(ctx(), e))
        .and_then(|()| if fsync { sync_dir(dir) } else { Ok(()) })
    {
        drop(file);
        let _ = fs::remove_file(&path);
        return Err(e);
    }
    Ok(file)
}
