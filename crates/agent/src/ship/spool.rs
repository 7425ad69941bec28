//! The spool: a bounded on-disk FIFO of sealed batches, so that batches the
//! endpoint could not take survive an outage, an agent restart and `kill -9`.
//!
//! ```text
//! <dir>/NNNNNNNNNN.spool  segments of records, appended and fsync'd one by one
//! record  = len u32 le | crc32(payload) u32 le | payload
//! payload = version 1 u8 | batch id [16] | datums u32 le | gzip'd form body
//! <dir>/head              segment u64 le | offset u64 le | crc32 u32 le:
//!                         where the oldest live record starts
//! ```
//!
//! Only the newest segment is appended to; a new one starts once it passes
//! an eighth of the size limit (64 KiB..8 MiB), and after every open, so a
//! torn tail is never written after. Records leave from the front: `pop`
//! moves `head` past the oldest record (fsync'd via temp file + rename) and
//! deletes segments that hold nothing live any more. A crash between a
//! successful send and the head update re-sends that batch later; its id
//! makes the server drop the copy.
//!
//! When a push would take the live records over the size limit, the oldest
//! records are dropped (counted in [`Dropped`]). Disk use is the limit plus
//! at most the consumed part of one segment. Memory holds one small index
//! entry per record, never bodies (except the one being read).
//!
//! On open, every segment is scanned from `head`: the first record that is
//! short, has an impossible length, a bad crc or an undecodable payload cuts
//! its file there (reported in [`OpenReport`]).

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::batch::{BatchId, SealedBatch};

const RECORD_HEADER: u64 = 8;
const PAYLOAD_VERSION: u8 = 1;
/// version + id + datum count.
const PAYLOAD_PREFIX: usize = 1 + 16 + 4;
/// A record longer than this is corruption (bodies are < 1 MB before gzip).
const MAX_PAYLOAD: u64 = 64 << 20;
const HEAD_FILE: &str = "head";
const HEAD_TMP: &str = "head.tmp";
const SEGMENT_SUFFIX: &str = ".spool";

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A record that was intact at open no longer reads back (disk damage).
    #[error("spool record in {path} at offset {offset} is unreadable: {reason}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: &'static str,
    },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> SpoolError {
    let context = context.into();
    move |source| SpoolError::Io { context, source }
}

/// Records dropped to respect the size limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    pub batches: u64,
    pub datums: u64,
}

/// A segment cut at its last good record on open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    pub path: PathBuf,
    pub offset: u64,
    pub dropped_bytes: u64,
    pub reason: &'static str,
}

/// What `open` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    pub batches: usize,
    pub datums: u64,
    pub truncations: Vec<Truncation>,
}

impl OpenReport {
    /// Logs what opening the spool at `dir` found: damaged tails cut, and
    /// batches a previous run left (at start and when a spool that could
    /// not be opened is opened again).
    pub fn log(&self, dir: &Path) {
        for t in &self.truncations {
            crate::warn!(
                "spool: cut damaged tail of {} at offset {} ({} bytes, {})",
                t.path.display(),
                t.offset,
                t.dropped_bytes,
                t.reason
            );
        }
        if self.batches > 0 {
            crate::info!(
                "spool {}: {} batches ({} datums) left by a previous run, will be sent first",
                dir.display(),
                self.batches,
                self.datums
            );
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    segment: u64,
    offset: u64,
    /// Header + payload.
    size: u64,
    datums: u32,
}

/// A bounded on-disk queue of sealed batches, oldest first.
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    segment_target: u64,
    entries: VecDeque<Entry>,
    live_bytes: u64,
    live_datums: u64,
    /// The segment being appended to and its length.
    writer: Option<(u64, File, u64)>,
    next_segment: u64,
    reader: Option<(u64, File)>,
}

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:010}{SEGMENT_SUFFIX}"))
}

fn list_segments(dir: &Path) -> Result<Vec<u64>, SpoolError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io(format!("listing {}", dir.display())))? {
        let entry = entry.map_err(io(format!("listing {}", dir.display())))?;
        let name = entry.file_name();
        if let Some(n) = name
            .to_str()
            .and_then(|n| n.strip_suffix(SEGMENT_SUFFIX))
            .and_then(|n| n.parse::<u64>().ok())
        {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(format!("syncing {}", dir.display())))
}

fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

fn encode_payload(b: &SealedBatch) -> Vec<u8> {
    let mut p = Vec::with_capacity(PAYLOAD_PREFIX + b.body.len());
    p.push(PAYLOAD_VERSION);
    p.extend_from_slice(&b.id.0);
    p.extend_from_slice(&b.datums.to_le_bytes());
    p.extend_from_slice(&b.body);
    p
}

fn decode_payload(p: &[u8]) -> Result<SealedBatch, &'static str> {
    if p.len() < PAYLOAD_PREFIX {
        return Err("record shorter than its fixed fields");
    }
    if p[0] != PAYLOAD_VERSION {
        return Err("unknown record version");
    }
    let mut id = [0u8; 16];
    id.copy_from_slice(&p[1..17]);
    Ok(SealedBatch {
        id: BatchId(id),
        datums: le_u32(&p[17..21]),
        body: p[PAYLOAD_PREFIX..].to_vec(),
    })
}

/// Reads the record at the reader's position: `Ok(None)` at a clean end of
/// file, `Err(reason)` for a torn or damaged record.
fn read_record(r: &mut impl Read) -> Result<Option<(u64, SealedBatch)>, &'static str> {
    let mut header = [0u8; RECORD_HEADER as usize];
    let mut got = 0;
    while got < header.len() {
        match r.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err("torn record header"),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return Err("unreadable record header"),
        }
    }
    let len = u64::from(le_u32(&header[..4]));
    if len > MAX_PAYLOAD {
        return Err("record length out of range");
    }
    let mut payload = vec![0u8; len as usize];
    r.read_exact(&mut payload)
        .map_err(|_| "record shorter than its length")?;
    if crc32fast::hash(&payload) != le_u32(&header[4..]) {
        return Err("record checksum mismatch");
    }
    let batch = decode_payload(&payload)?;
    Ok(Some((RECORD_HEADER + len, batch)))
}

impl Spool {
    /// Opens (or creates) the spool in `dir`, holding at most `max_bytes` of
    /// records.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<(Spool, OpenReport), SpoolError> {
        fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        let tmp = dir.join(HEAD_TMP);
        if tmp.exists() {
            fs::remove_file(&tmp).map_err(io(format!("removing {}", tmp.display())))?;
        }
        let (head_segment, head_offset) = read_head(dir);
        let segments = list_segments(dir)?;
        let mut report = OpenReport::default();
        let mut entries = VecDeque::new();
        for &n in &segments {
            let path = segment_path(dir, n);
            if n < head_segment {
                fs::remove_file(&path).map_err(io(format!("removing {}", path.display())))?;
                continue;
            }
            let start = if n == head_segment { head_offset } else { 0 };
            scan_segment(&path, n, start, &mut entries, &mut report)?;
        }
        let mut spool = Spool {
            dir: dir.to_owned(),
            max_bytes,
            segment_target: (max_bytes / 8).clamp(64 << 10, 8 << 20),
            live_bytes: entries.iter().map(|e| e.size).sum(),
            live_datums: entries.iter().map(|e| u64::from(e.datums)).sum(),
            entries,
            writer: None,
            next_segment: segments.last().map_or(1, |n| n + 1).max(head_segment + 1),
            reader: None,
        };
        report.batches = spool.entries.len();
        report.datums = spool.live_datums;
        spool.settle_head()?;
        Ok((spool, report))
    }

    /// Batches in the spool.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Datums in the spooled batches.
    pub fn datums(&self) -> u64 {
        self.live_datums
    }

    /// Bytes of live records.
    pub fn bytes(&self) -> u64 {
        self.live_bytes
    }

    /// Appends `batch` durably (fsync'd before returning), first dropping
    /// the oldest records as needed to stay within the size limit. A batch
    /// larger than the whole limit is not stored and counted as dropped.
    pub fn push(&mut self, batch: &SealedBatch) -> Result<Dropped, SpoolError> {
        let payload = encode_payload(batch);
        let size = RECORD_HEADER + payload.len() as u64;
        if size > self.max_bytes {
            return Ok(Dropped {
                batches: 1,
                datums: u64::from(batch.datums),
            });
        }
        let mut dropped = Dropped::default();
        while self.live_bytes + size > self.max_bytes {
            let Some(e) = self.entries.pop_front() else {
                break;
            };
            self.forget(&e);
            dropped.batches += 1;
            dropped.datums += u64::from(e.datums);
        }
        if dropped.batches > 0 {
            self.settle_head()?;
        }

        let (segment, offset) = self.append(&payload)?;
        self.entries.push_back(Entry {
            segment,
            offset,
            size,
            datums: batch.datums,
        });
        self.live_bytes += size;
        self.live_datums += u64::from(batch.datums);
        Ok(dropped)
    }

    /// The oldest batch, without removing it.
    pub fn peek(&mut self) -> Result<Option<SealedBatch>, SpoolError> {
        let Some(e) = self.entries.front().copied() else {
            return Ok(None);
        };
        self.read_entry(e)
    }

    /// Calls `f` with every live batch, oldest first (the logs tail reads
    /// the file offsets its records carry at start). A record that no
    /// longer reads back stops the walk with its error.
    pub fn for_each(&mut self, mut f: impl FnMut(SealedBatch)) -> Result<(), SpoolError> {
        let entries: Vec<Entry> = self.entries.iter().copied().collect();
        for e in entries {
            if let Some(b) = self.read_entry(e)? {
                f(b);
            }
        }
        Ok(())
    }

    fn read_entry(&mut self, e: Entry) -> Result<Option<SealedBatch>, SpoolError> {
        let path = segment_path(&self.dir, e.segment);
        if self.reader.as_ref().is_none_or(|(n, _)| *n != e.segment) {
            let f = File::open(&path).map_err(io(format!("opening {}", path.display())))?;
            self.reader = Some((e.segment, f));
        }
        let corrupt = |reason| SpoolError::Corrupt {
            path: path.clone(),
            offset: e.offset,
            reason,
        };
        let Some((_, file)) = self.reader.as_mut() else {
            return Ok(None);
        };
        file.seek(SeekFrom::Start(e.offset))
            .map_err(io(format!("reading {}", path.display())))?;
        match read_record(&mut file.take(e.size)) {
            Ok(Some((size, batch))) if size == e.size => Ok(Some(batch)),
            Ok(_) => Err(corrupt("record changed size")),
            Err(reason) => Err(corrupt(reason)),
        }
    }

    /// Removes the oldest batch (after the endpoint took or refused it, or
    /// it proved unreadable).
    pub fn pop(&mut self) -> Result<(), SpoolError> {
        if let Some(e) = self.entries.pop_front() {
            self.forget(&e);
            self.settle_head()?;
        }
        Ok(())
    }

    fn forget(&mut self, e: &Entry) {
        self.live_bytes -= e.size;
        self.live_datums -= u64::from(e.datums);
    }

    /// Persists where the oldest live record starts, then deletes the
    /// segments before it (all of them when the spool is empty).
    fn settle_head(&mut self) -> Result<(), SpoolError> {
        let (segment, offset) = match self.entries.front() {
            Some(e) => (e.segment, e.offset),
            None => {
                // Nothing live: the next append starts a fresh segment.
                self.writer = None;
                (self.next_segment, 0)
            }
        };
        write_head(&self.dir, segment, offset)?;
        let mut removed = false;
        for n in list_segments(&self.dir)? {
            if n >= segment {
                break;
            }
            let path = segment_path(&self.dir, n);
            fs::remove_file(&path).map_err(io(format!("removing {}", path.display())))?;
            removed = true;
        }
        if removed {
            if self.reader.as_ref().is_some_and(|(n, _)| *n < segment) {
                self.reader = None;
            }
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Writes one framed record at the end of the current segment (starting
    /// a new one when due) and fsyncs it. Returns where it starts.
    fn append(&mut self, payload: &[u8]) -> Result<(u64, u64), SpoolError> {
        let (n, file, len) = match self.writer.take() {
            Some(w) if w.2 < self.segment_target => self.writer.insert(w),
            _ => {
                let n = self.next_segment;
                let path = segment_path(&self.dir, n);
                let file = OpenOptions::new()
                    .create_new(true)
                    .append(true)
                    .open(&path)
                    .map_err(io(format!("creating {}", path.display())))?;
                sync_dir(&self.dir)?;
                self.next_segment += 1;
                self.writer.insert((n, file, 0))
            }
        };
        let path = segment_path(&self.dir, *n);
        let mut frame = Vec::with_capacity(RECORD_HEADER as usize + payload.len());
        frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        frame.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        frame.extend_from_slice(payload);
        let written = file.write_all(&frame).and_then(|()| file.sync_data());
        if let Err(e) = written {
            // Cut the partial record so the next append starts clean; if
            // even that fails, later appends go to a fresh segment.
            let cut = file.set_len(*len);
            if cut.is_err() {
                self.writer = None;
            }
            return Err(io(format!("appending to {}", path.display()))(e));
        }
        let offset = *len;
        *len += frame.len() as u64;
        Ok((*n, offset))
    }
}

fn read_head(dir: &Path) -> (u64, u64) {
    match fs::read(dir.join(HEAD_FILE)) {
        Ok(b) if b.len() == 20 && crc32fast::hash(&b[..16]) == le_u32(&b[16..]) => {
            (le_u64(&b[..8]), le_u64(&b[8..16]))
        }
        // Missing or damaged: start from the oldest segment (re-sent batches
        // are dropped by the server as duplicates).
        _ => (0, 0),
    }
}

fn write_head(dir: &Path, segment: u64, offset: u64) -> Result<(), SpoolError> {
    let tmp = dir.join(HEAD_TMP);
    let mut b = Vec::with_capacity(20);
    b.extend_from_slice(&segment.to_le_bytes());
    b.extend_from_slice(&offset.to_le_bytes());
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    let ctx = || format!("writing {}", tmp.display());
    let mut f = File::create(&tmp).map_err(io(ctx()))?;
    f.write_all(&b)
        .and_then(|()| f.sync_all())
        .map_err(io(ctx()))?;
    fs::rename(&tmp, dir.join(HEAD_FILE)).map_err(io(ctx()))?;
    sync_dir(dir)
}

/// Indexes the records of one segment from `start`, cutting a damaged tail.
fn scan_segment(
    path: &Path,
    n: u64,
    start: u64,
    entries: &mut VecDeque<Entry>,
    report: &mut OpenReport,
) -> Result<(), SpoolError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io(format!("opening {}", path.display())))?;
    let file_len = file
        .metadata()
        .map_err(io(format!("reading {}", path.display())))?
        .len();
    let mut offset = start.min(file_len);
    let mut r = BufReader::new(&file);
    r.seek(SeekFrom::Start(offset))
        .map_err(io(format!("reading {}", path.display())))?;
    loop {
        match read_record(&mut r) {
            Ok(None) => return Ok(()),
            Ok(Some((size, batch))) => {
                entries.push_back(Entry {
                    segment: n,
                    offset,
                    size,
                    datums: batch.datums,
                });
                offset += size;
            }
            Err(reason) => {
                drop(r);
                file.set_len(offset)
                    .and_then(|()| file.sync_all())
                    .map_err(io(format!("truncating {}", path.display())))?;
                report.truncations.push(Truncation {
                    path: path.to_owned(),
                    offset,
                    dropped_bytes: file_len - offset,
                    reason,
                });
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn batch(n: u8, datums: u32, body_len: usize) -> SealedBatch {
        SealedBatch {
            id: BatchId([n; 16]),
            datums,
            body: vec![n; body_len],
        }
    }

    fn drain(s: &mut Spool) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(b) = s.peek().unwrap() {
            out.push(b.id.0[0]);
            s.pop().unwrap();
        }
        out
    }

    #[test]
    fn fifo_across_segments_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut s, report) = Spool::open(dir.path(), 1 << 20).unwrap();
            assert_eq!(report, OpenReport::default());
            for n in 0..40 {
                assert_eq!(s.push(&batch(n, 10, 5000)).unwrap(), Dropped::default());
            }
            assert_eq!((s.len(), s.datums()), (40, 400));
            assert!(list_segments(dir.path()).unwrap().len() > 1);
            assert_eq!(s.peek().unwrap(), Some(batch(0, 10, 5000)));
            s.pop().unwrap();
            s.pop().unwrap();
        }
        let (mut s, report) = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!((report.batches, report.datums), (38, 380));
        s.push(&batch(200, 1, 10)).unwrap();
        let mut want: Vec<u8> = (2..40).collect();
        want.push(200);
        assert_eq!(drain(&mut s), want);
        assert!(s.is_empty());
        assert!(
            list_segments(dir.path()).unwrap().is_empty(),
            "drained spool leaves no segments"
        );
        drop(s);
        let (s, _) = Spool::open(dir.path(), 1 << 20).unwrap();
        assert!(s.is_empty());
    }

    #[test]
    fn overflow_drops_the_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, _) = Spool::open(dir.path(), 10_000).unwrap();
        let record = RECORD_HEADER + PAYLOAD_PREFIX as u64 + 1000;
        let mut dropped = Dropped::default();
        for n in 0..20 {
            let d = s.push(&batch(n, 7, 1000)).unwrap();
            dropped.batches += d.batches;
            dropped.datums += d.datums;
            assert!(s.bytes() <= 10_000);
        }
        let kept = 10_000 / record;
        assert_eq!(s.len() as u64, kept);
        assert_eq!(dropped.batches, 20 - kept);
        assert_eq!(dropped.datums, 7 * (20 - kept));
        let first_kept = (20 - kept) as u8;
        assert_eq!(drain(&mut s), (first_kept..20).collect::<Vec<u8>>());
        assert_eq!(
            s.push(&batch(99, 3, 20_000)).unwrap(),
            Dropped {
                batches: 1,
                datums: 3
            },
            "a batch larger than the spool is refused"
        );
    }

    #[test]
    fn torn_tail_is_cut_on_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut s, _) = Spool::open(dir.path(), 1 << 20).unwrap();
            for n in 0..3 {
                s.push(&batch(n, 1, 100)).unwrap();
            }
        }
        let seg = segment_path(dir.path(), list_segments(dir.path()).unwrap()[0]);
        let len = fs::metadata(&seg).unwrap().len();
        let f = OpenOptions::new().write(true).open(&seg).unwrap();
        f.set_len(len - 5).unwrap();
        drop(f);
        let (mut s, report) = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(report.batches, 2);
        assert_eq!(report.truncations.len(), 1);
        assert_eq!(
            report.truncations[0].reason,
            "record shorter than its length"
        );
        s.push(&batch(7, 1, 100)).unwrap();
        assert_eq!(drain(&mut s), vec![0, 1, 7]);
    }

    #[test]
    fn flipped_byte_cuts_at_that_record() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut s, _) = Spool::open(dir.path(), 1 << 20).unwrap();
            for n in 0..3 {
                s.push(&batch(n, 1, 100)).unwrap();
            }
        }
        let seg = segment_path(dir.path(), list_segments(dir.path()).unwrap()[0]);
        let mut data = fs::read(&seg).unwrap();
        let record = (RECORD_HEADER as usize) + PAYLOAD_PREFIX + 100;
        data[record + 50] ^= 0xff;
        fs::write(&seg, &data).unwrap();
        let (mut s, report) = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(report.truncations[0].reason, "record checksum mismatch");
        assert_eq!(drain(&mut s), vec![0]);
    }

    proptest! {
        #[test]
        fn open_never_panics_on_garbage(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let dir = tempfile::tempdir().unwrap();
            fs::write(segment_path(dir.path(), 1), &data).unwrap();
            fs::write(dir.path().join(HEAD_FILE), &data[..data.len().min(20)]).unwrap();
            let (mut s, _) = Spool::open(dir.path(), 1 << 20).unwrap();
            while let Ok(Some(_)) = s.peek() {
                s.pop().unwrap();
            }
        }
    }
}
