//! The open-batch journal: every datum is written here the moment the
//! shipper receives it, so a `kill -9` loses nothing that was collected —
//! not even the batch still being filled, or one sealed but not yet
//! acknowledged.
//!
//! ```text
//! <spool>/open/slot-N.journal   one file per batch not yet safe elsewhere,
//!                               reused by later batches
//! file   = "SJ2\n" | batch id (16 bytes) | namespace len u16 le | namespace
//!          | record*
//! record = len u32 le | crc32(batch id ‖ payload) u32 le | payload (one datum)
//! ```
//!
//! A batch holds a slot from its first datum until the batch is
//! acknowledged by the endpoint, refused for good, or written to the spool
//! (which is fsync'd); then the slot's magic is overwritten with `SJ2-`
//! (closed) and the next batch writes its header over the old one. Reusing
//! files instead of creating and unlinking one per batch saves the
//! file-system metadata work, ~250 µs of CPU per flush on this host's ext4.
//! A reused slot's stale records after the new ones fail the crc (it covers
//! the batch id), so recovery stops there. At start, [`recover`] turns every
//! open slot into a sealed batch *with the same id*: if that batch had in
//! fact reached the server just before the crash, the server drops the copy.
//! Files of the first format (`<batch id>.journal`, `SJ1`, crc of the payload
//! alone) are still recovered.
//!
//! Records are written with plain `write` (no fsync): that survives the
//! process dying in any way; a power cut can lose what the kernel had not yet
//! written back (≈ the last flush interval), which the fsync'd spool does not.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Read as _;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use stratus_model::Unit;

use super::batch::BatchId;
use super::{Datum, DatumValue};

const MAGIC_V1: &[u8; 4] = b"SJ1\n";
const MAGIC: &[u8; 4] = b"SJ2\n";
const CLOSED: &[u8; 4] = b"SJ2-";
const SUFFIX: &str = ".journal";
const SLOT_PREFIX: &str = "slot-";
/// Closed slots kept for reuse beyond this many are deleted.
const MAX_FREE_SLOTS: usize = 4;
/// A datum record longer than this is corruption (a datum is < 64 KiB).
const MAX_RECORD: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
#[error("journal {path}: {source}")]
pub struct JournalError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

fn err(path: &Path) -> impl FnOnce(std::io::Error) -> JournalError + '_ {
    move |source| JournalError {
        path: path.to_owned(),
        source,
    }
}

/// One journal file and the batch writing to it, if any.
struct Slot {
    path: PathBuf,
    file: File,
    /// Where the open batch's next record goes.
    end: u64,
    batch: Option<BatchId>,
}

/// How often a journal that could not be opened is tried again.
const REATTACH_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// The journal files of the batches now open or unacknowledged.
pub struct Journal {
    dir: PathBuf,
    /// `None` once `dir` is usable; else when to try it again (the agent
    /// runs without a journal meanwhile: a full or read-only disk).
    reattach_at: Option<std::time::Instant>,
    slots: Vec<Slot>,
    open: HashMap<BatchId, usize>,
    next_slot: usize,
    scratch: Vec<u8>,
}

/// A batch rebuilt from a file a previous run left behind.
#[derive(Debug, PartialEq)]
pub struct Recovered {
    pub id: BatchId,
    pub namespace: String,
    pub datums: Vec<Datum>,
    /// Bytes cut from a torn or damaged tail.
    pub dropped_bytes: u64,
}

fn path_of(dir: &Path, id: BatchId) -> PathBuf {
    dir.join(format!("{id}{SUFFIX}"))
}

fn parse_id(name: &str) -> Option<BatchId> {
    let hex = name.strip_suffix(SUFFIX)?;
    if hex.len() != 32 {
        return None;
    }
    let mut b = [0u8; 16];
    for (i, slot) in b.iter_mut().enumerate() {
        *slot = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(BatchId(b))
}

fn is_slot(name: &str) -> bool {
    name.strip_prefix(SLOT_PREFIX)
        .and_then(|n| n.strip_suffix(SUFFIX))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn slot_number(name: &str) -> Option<usize> {
    name.strip_prefix(SLOT_PREFIX)?
        .strip_suffix(SUFFIX)?
        .parse()
        .ok()
}

/// crc32 of `id ‖ payload`: a record only counts under its own batch.
fn record_crc(id: BatchId, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&id.0);
    h.update(payload);
    h.finalize()
}

impl Journal {
    /// Opens (creating) `dir`. Call [`recover`] (and [`discard`]) first:
    /// open files found here are not this run's. Closed slots a previous
    /// run left are deleted.
    pub fn open(dir: &Path) -> Result<Journal, JournalError> {
        let mut j = Journal::detached(dir);
        j.attach()?;
        Ok(j)
    }

    /// [`Journal::open`], or, when `dir` cannot be used (full or read-only
    /// disk), a journal that keeps nothing and tries `dir` again on a later
    /// append; the error says why.
    pub fn open_or_detached(dir: &Path) -> (Journal, Option<JournalError>) {
        let mut j = Journal::detached(dir);
        let e = j.attach().err();
        (j, e)
    }

    fn detached(dir: &Path) -> Journal {
        Journal {
            dir: dir.to_owned(),
            reattach_at: Some(std::time::Instant::now()),
            slots: Vec::new(),
            open: HashMap::new(),
            next_slot: 0,
            scratch: Vec::new(),
        }
    }

    /// Creates `dir`, deletes the closed slots a previous run left and
    /// numbers new slots after the open ones still there (batches recovered
    /// but kept only in memory keep their file).
    fn attach(&mut self) -> Result<(), JournalError> {
        self.reattach_at = Some(std::time::Instant::now() + REATTACH_EVERY);
        let dir = self.dir.clone();
        fs::create_dir_all(&dir).map_err(err(&dir))?;
        let mut next_slot = 0;
        for entry in fs::read_dir(&dir).map_err(err(&dir))? {
            let entry = entry.map_err(err(&dir))?;
            let name = entry.file_name();
            let Some(n) = name.to_str().filter(|n| is_slot(n)) else {
                continue;
            };
            if read_prefix(&entry.path(), 4).is_ok_and(|b| b == CLOSED) {
                fs::remove_file(entry.path()).map_err(err(&entry.path()))?;
            } else if let Some(k) = slot_number(n) {
                next_slot = next_slot.max(k + 1);
            }
        }
        self.next_slot = next_slot;
        self.reattach_at = None;
        Ok(())
    }

    /// Appends `records` (made by [`record`]) to batch `id`'s slot, taking
    /// a slot on first use; each record's crc is computed here.
    pub fn append(
        &mut self,
        id: BatchId,
        namespace: &str,
        records: &[u8],
    ) -> Result<(), JournalError> {
        if let Some(at) = self.reattach_at {
            if std::time::Instant::now() < at {
                return Err(JournalError {
                    path: self.dir.clone(),
                    source: std::io::Error::other("not usable (retried every 30 s)"),
                });
            }
            self.attach()?;
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let index = match self.open.get(&id) {
            Some(&i) => i,
            None => {
                let i = self.free_slot()?;
                let ns = namespace.as_bytes();
                scratch.extend_from_slice(MAGIC);
                scratch.extend_from_slice(&id.0);
                scratch.extend_from_slice(&(ns.len() as u16).to_le_bytes());
                scratch.extend_from_slice(ns);
                self.slots[i].end = 0;
                self.slots[i].batch = Some(id);
                self.open.insert(id, i);
                i
            }
        };
        // The records, with their crcs over the batch id.
        let mut at = 0;
        while let Some(len) = records.get(at..at + 4) {
            let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
            let Some(payload) = records.get(at + 8..at + 8 + len) else {
                break;
            };
            scratch.extend_from_slice(&(len as u32).to_le_bytes());
            scratch.extend_from_slice(&record_crc(id, payload).to_le_bytes());
            scratch.extend_from_slice(payload);
            at += 8 + len;
        }
        let slot = &mut self.slots[index];
        // On failure `end` stays: the next append overwrites a partial write.
        let result = slot
            .file
            .write_all_at(&scratch, slot.end)
            .map(|()| slot.end += scratch.len() as u64)
            .map_err(err(&slot.path));
        self.scratch = scratch;
        result
    }

    /// A slot no batch holds, opening a new file when there is none.
    fn free_slot(&mut self) -> Result<usize, JournalError> {
        if let Some(i) = self.slots.iter().position(|s| s.batch.is_none()) {
            return Ok(i);
        }
        let path = self
            .dir
            .join(format!("{SLOT_PREFIX}{}{SUFFIX}", self.next_slot));
        self.next_slot += 1;
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(err(&path))?;
        self.slots.push(Slot {
            path,
            file,
            end: 0,
            batch: None,
        });
        Ok(self.slots.len() - 1)
    }

    /// Forgets batch `id` (acknowledged, refused, or safe in the spool): its
    /// slot is marked closed and kept for the next batch.
    pub fn remove(&mut self, id: BatchId) {
        let Some(i) = self.open.remove(&id) else {
            return;
        };
        let slot = &mut self.slots[i];
        slot.batch = None;
        // A batch none of whose records was written (full disk, already
        // logged by the shipper) has nothing to close: no warning per batch.
        if let Err(e) = slot.file.write_all_at(CLOSED, 0)
            && slot.end > 0
        {
            crate::warn!("journal: cannot close {}: {e}", slot.path.display());
        }
        let free = self.slots.iter().filter(|s| s.batch.is_none()).count();
        if free > MAX_FREE_SLOTS {
            let slot = self.slots.swap_remove(i);
            for index in self.open.values_mut() {
                if *index == self.slots.len() {
                    *index = i;
                }
            }
            if let Err(e) = fs::remove_file(&slot.path) {
                crate::warn!("journal: cannot remove {}: {e}", slot.path.display());
            }
        }
    }

    /// Batches with a file now.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

impl Drop for Journal {
    /// Closed slots go on a clean exit; open ones stay for [`recover`].
    fn drop(&mut self) {
        for slot in self.slots.iter().filter(|s| s.batch.is_none()) {
            let _ = fs::remove_file(&slot.path);
        }
    }
}

fn read_prefix(path: &Path, n: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(n);
    File::open(path)?.take(n as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Reads every journal file in `dir` that holds an open batch (oldest
/// first by modification time). The caller spools each batch and then
/// calls [`discard`] for it.
pub fn recover(dir: &Path) -> Result<Vec<Recovered>, JournalError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(err(dir)(e)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(err(dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let legacy = parse_id(name);
        if legacy.is_none() && !is_slot(name) {
            continue;
        }
        let mtime = entry
            .metadata()
            .and_then(|m| m.modified())
            .unwrap_or(std::time::UNIX_EPOCH);
        found.push((mtime, legacy, entry.path()));
    }
    found.sort_by_key(|(t, _, _)| *t);
    let mut out = Vec::new();
    for (_, legacy, path) in found {
        let mut bytes = Vec::new();
        File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(err(&path))?;
        let recovered = match legacy {
            Some(id) => Some(parse_file(id, &bytes)),
            None => parse_slot(&bytes),
        };
        out.extend(recovered);
    }
    Ok(out)
}

/// Deletes batch `id`'s leftover file once it is safe elsewhere.
pub fn discard(dir: &Path, id: BatchId) -> Result<(), JournalError> {
    let mut paths = vec![path_of(dir, id)];
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let slot = entry.file_name().to_str().is_some_and(is_slot);
            if slot && read_prefix(&entry.path(), 20).is_ok_and(|b| b[..] == open_header(id)) {
                paths.push(entry.path());
            }
        }
    }
    for path in paths {
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(&path)(e)),
        }
    }
    Ok(())
}

/// The first 20 bytes of a slot holding batch `id`.
fn open_header(id: BatchId) -> [u8; 20] {
    let mut h = [0u8; 20];
    h[..4].copy_from_slice(MAGIC);
    h[4..].copy_from_slice(&id.0);
    h
}

/// An open slot's batch; `None` for a closed or unreadable slot.
fn parse_slot(bytes: &[u8]) -> Option<Recovered> {
    let mut cur = Cursor { b: bytes, at: 0 };
    (cur.take(4)? == MAGIC).then_some(())?;
    let id = BatchId(cur.take(16)?.try_into().ok()?);
    let n = cur.u16()? as usize;
    let namespace = String::from_utf8(cur.take(n)?.to_vec()).ok()?;
    let mut r = Recovered {
        id,
        namespace,
        datums: Vec::new(),
        dropped_bytes: 0,
    };
    read_records(
        &mut cur,
        |payload, crc| record_crc(id, payload) == crc,
        &mut r,
    );
    Some(r)
}

/// Records from `cur` on while `valid(payload, crc)` holds; the rest is
/// counted as dropped.
fn read_records(cur: &mut Cursor<'_>, valid: impl Fn(&[u8], u32) -> bool, r: &mut Recovered) {
    loop {
        let start = cur.at;
        if start == cur.b.len() {
            break;
        }
        let rec = (|| {
            let len = cur.u32()? as usize;
            let crc = cur.u32()?;
            if len > MAX_RECORD {
                return None;
            }
            let payload = cur.take(len)?;
            valid(payload, crc).then_some(())?;
            decode_datum(payload)
        })();
        match rec {
            Some(d) => r.datums.push(d),
            None => {
                r.dropped_bytes = (cur.b.len() - start) as u64;
                break;
            }
        }
    }
}

/// A file of the first format (`SJ1`, crc of the payload alone).
fn parse_file(id: BatchId, bytes: &[u8]) -> Recovered {
    let mut r = Recovered {
        id,
        namespace: String::new(),
        datums: Vec::new(),
        dropped_bytes: 0,
    };
    let mut cur = Cursor { b: bytes, at: 0 };
    let header = (|| {
        (cur.take(4)? == MAGIC_V1).then_some(())?;
        let n = cur.u16()? as usize;
        String::from_utf8(cur.take(n)?.to_vec()).ok()
    })();
    let Some(ns) = header else {
        r.dropped_bytes = bytes.len() as u64;
        return r;
    };
    r.namespace = ns;
    read_records(
        &mut cur,
        |payload, crc| crc32fast::hash(payload) == crc,
        &mut r,
    );
    r
}

/// Appends one datum's journal record to `out`, its crc left zero:
/// [`Journal::append`] fills it in, over the batch id the record joins.
pub fn record(d: &Datum, out: &mut Vec<u8>) {
    // The length goes before the payload: reserve it (and the crc), write
    // the payload in place, then fill the length in.
    let head = out.len();
    out.extend_from_slice(&[0; 8]);
    encode_datum(d, out);
    let len = ((out.len() - head - 8) as u32).to_le_bytes();
    out[head..head + 4].copy_from_slice(&len);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u16).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn encode_datum(d: &Datum, out: &mut Vec<u8>) {
    put_str(out, &d.metric_name);
    out.push(d.dimensions.len() as u8);
    for (k, v) in &d.dimensions {
        put_str(out, k);
        put_str(out, v);
    }
    out.extend_from_slice(&d.timestamp_ms.to_le_bytes());
    out.push(Unit::parse(d.unit).map_or(Unit::None.code(), Unit::code));
    out.push(u8::from(d.high_resolution));
    match &d.value {
        DatumValue::Single(v) => {
            out.push(0);
            out.extend_from_slice(&v.to_le_bytes());
        }
        DatumValue::Distribution { values, counts } => {
            out.push(1);
            out.extend_from_slice(&(values.len() as u16).to_le_bytes());
            for v in values.iter().chain(counts.iter()) {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Option<u64> {
        let b = self.take(8)?;
        Some(u64::from_le_bytes(b.try_into().ok()?))
    }
    fn f64(&mut self) -> Option<f64> {
        self.u64().map(f64::from_bits)
    }
    fn str(&mut self) -> Option<String> {
        let n = self.u16()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

fn decode_datum(p: &[u8]) -> Option<Datum> {
    let mut c = Cursor { b: p, at: 0 };
    let metric_name = c.str()?;
    let ndims = c.u8()?;
    let mut dimensions = Vec::with_capacity(ndims.into());
    for _ in 0..ndims {
        dimensions.push((c.str()?, c.str()?));
    }
    let timestamp_ms = c.u64()? as i64;
    let unit = Unit::from_code(c.u8()?)?.as_str();
    let high_resolution = c.u8()? != 0;
    let value = match c.u8()? {
        0 => DatumValue::Single(c.f64()?),
        1 => {
            let n = c.u16()? as usize;
            let values = (0..n).map(|_| c.f64()).collect::<Option<Vec<_>>>()?;
            let counts = (0..n).map(|_| c.f64()).collect::<Option<Vec<_>>>()?;
            DatumValue::Distribution { values, counts }
        }
        _ => return None,
    };
    (c.at == p.len()).then_some(Datum {
        metric_name,
        dimensions,
        timestamp_ms,
        value,
        unit,
        high_resolution,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(ds: &[&Datum]) -> Vec<u8> {
        let mut out = Vec::new();
        for d in ds {
            record(d, &mut out);
        }
        out
    }

    fn datum(i: i64) -> Datum {
        Datum {
            metric_name: format!("mem_used_percent_{i}"),
            dimensions: vec![("InstanceId".into(), "i-1".into()), ("ü".into(), "".into())],
            timestamp_ms: 1_767_323_045_000 + i,
            value: if i % 2 == 0 {
                DatumValue::Single(i as f64 + 0.25)
            } else {
                DatumValue::Distribution {
                    values: vec![1.0, 2.5],
                    counts: vec![3.0, 1.0],
                }
            },
            unit: if i % 3 == 0 {
                "Percent"
            } else {
                "Bytes/Second"
            },
            high_resolution: i % 2 == 1,
        }
    }

    #[test]
    fn open_slots_left_behind_are_not_reused() {
        // A batch recovered but kept only in memory (full spool disk) keeps
        // its slot file: the next run's journal must not write over it.
        let dir = tempfile::tempdir().unwrap();
        let old = BatchId::random();
        let ds: Vec<Datum> = (0..2).map(datum).collect();
        {
            let mut j = Journal::open(dir.path()).unwrap();
            j.append(old, "NS", &records(&[&ds[0]])).unwrap();
        }
        let mut j = Journal::open(dir.path()).unwrap();
        j.append(BatchId::random(), "NS", &records(&[&ds[1]]))
            .unwrap();
        let got = recover(dir.path()).unwrap();
        assert_eq!(got.len(), 2);
        assert!(
            got.iter()
                .any(|r| r.id == old && r.datums == vec![ds[0].clone()])
        );
    }

    #[test]
    fn a_journal_that_cannot_be_opened_detaches_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("file"), "").unwrap();
        let (mut j, e) = Journal::open_or_detached(&dir.path().join("file/open"));
        assert!(e.is_some());
        assert!(
            j.append(BatchId::random(), "NS", &records(&[&datum(0)]))
                .is_err()
        );
        j.remove(BatchId::random());
        assert!(j.is_empty());
    }

    #[test]
    fn datums_round_trip_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        let (a, b) = (BatchId::random(), BatchId::random());
        let ds: Vec<Datum> = (0..6).map(datum).collect();
        j.append(a, "CWAgent", &records(&[&ds[0], &ds[1]])).unwrap();
        j.append(b, "CWAgent", &records(&[&ds[2]])).unwrap();
        j.append(a, "CWAgent", &records(&[&ds[3], &ds[4], &ds[5]]))
            .unwrap();
        assert_eq!(j.len(), 2);
        drop(j); // the process "dies": nothing is removed

        let mut got = recover(dir.path()).unwrap();
        got.sort_by_key(|r| r.datums.len());
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].id, b);
        assert_eq!(got[0].datums, vec![ds[2].clone()]);
        assert_eq!(got[1].id, a);
        assert_eq!(got[1].namespace, "CWAgent");
        let want: Vec<Datum> = [0, 1, 3, 4, 5].iter().map(|&i| ds[i].clone()).collect();
        assert_eq!(got[1].datums, want);
        assert_eq!(got[1].dropped_bytes, 0);

        discard(dir.path(), a).unwrap();
        discard(dir.path(), a).unwrap();
        assert_eq!(recover(dir.path()).unwrap().len(), 1);
    }

    #[test]
    fn removed_batches_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        let a = BatchId::random();
        j.append(a, "NS", &records(&[&datum(0)])).unwrap();
        j.remove(a);
        assert!(j.is_empty());
        assert!(recover(dir.path()).unwrap().is_empty());
    }

    fn slot_path(dir: &Path, n: usize) -> PathBuf {
        dir.join(format!("{SLOT_PREFIX}{n}{SUFFIX}"))
    }

    #[test]
    fn a_torn_or_damaged_tail_is_cut_at_the_last_good_datum() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        let a = BatchId::random();
        let ds: Vec<Datum> = (0..3).map(datum).collect();
        j.append(a, "NS", &records(&[&ds[0], &ds[1], &ds[2]]))
            .unwrap();
        drop(j);
        let path = slot_path(dir.path(), 0);
        let full = fs::read(&path).unwrap();
        let header = 4 + 16 + 2 + 2;
        // Every possible torn length recovers a prefix, never garbage; a
        // torn header is a batch that had no datum yet.
        for cut in 0..full.len() {
            fs::write(&path, &full[..cut]).unwrap();
            let mut got = recover(dir.path()).unwrap();
            if cut < header {
                assert!(got.is_empty(), "cut at {cut}");
                continue;
            }
            let r = got.remove(0);
            assert_eq!(r.id, a);
            assert!(r.datums.len() <= 3);
            assert_eq!(r.datums[..], ds[..r.datums.len()], "cut at {cut}");
            assert!(r.dropped_bytes as usize <= cut);
        }
        fs::write(&path, &full[..full.len() - 1]).unwrap();
        let r = recover(dir.path()).unwrap().remove(0);
        assert_eq!(r.datums, ds[..2]);
        assert!(r.dropped_bytes > 0);
        // A flipped bit in the last record: the first two survive.
        let mut bad = full.clone();
        let last = bad.len() - 3;
        bad[last] ^= 0x40;
        fs::write(&path, &bad).unwrap();
        let r = recover(dir.path()).unwrap().remove(0);
        assert_eq!(r.datums, ds[..2]);
    }

    #[test]
    fn a_reused_slot_never_brings_back_the_previous_batch() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        let (a, b) = (BatchId::random(), BatchId::random());
        let ds: Vec<Datum> = (0..5).map(datum).collect();
        j.append(
            a,
            "A long namespace",
            &records(&[&ds[0], &ds[1], &ds[2], &ds[3]]),
        )
        .unwrap();
        j.remove(a);
        assert!(recover(dir.path()).unwrap().is_empty(), "closed");
        // The same file, a shorter header and fewer records than before.
        j.append(b, "NS", &records(&[&ds[4]])).unwrap();
        let got = recover(dir.path()).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].id, got[0].namespace.as_str()), (b, "NS"));
        assert_eq!(got[0].datums, vec![ds[4].clone()]);
        assert!(got[0].dropped_bytes > 0, "the stale tail is cut");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "one file reused"
        );
        // Closed slots left by a run go at the next open; open ones stay.
        j.remove(b);
        let c = BatchId::random();
        j.append(c, "NS", &records(&[&ds[0]])).unwrap();
        j.append(BatchId::random(), "NS", &records(&[&ds[1]]))
            .unwrap();
        j.remove(c);
        // As if killed: the closed slot is still there.
        std::mem::forget(j);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
        let j = Journal::open(dir.path()).unwrap();
        assert!(j.is_empty());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(recover(dir.path()).unwrap()[0].datums, vec![ds[1].clone()]);
    }

    #[test]
    fn files_of_the_first_format_are_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let a = BatchId::random();
        let ds: Vec<Datum> = (0..2).map(datum).collect();
        let mut bytes = MAGIC_V1.to_vec();
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(b"NS");
        // The first format's records: crc of the payload alone.
        for d in &ds {
            let mut payload = Vec::new();
            encode_datum(d, &mut payload);
            bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            bytes.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
            bytes.extend_from_slice(&payload);
        }
        fs::write(path_of(dir.path(), a), &bytes).unwrap();
        let got = recover(dir.path()).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].id, got[0].namespace.as_str()), (a, "NS"));
        assert_eq!(got[0].datums, ds);
        discard(dir.path(), a).unwrap();
        assert!(recover(dir.path()).unwrap().is_empty());
    }

    #[test]
    fn stray_files_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("notes.txt"), "x").unwrap();
        fs::write(dir.path().join("zz.journal"), "x").unwrap();
        assert!(recover(dir.path()).unwrap().is_empty());
        assert!(recover(&dir.path().join("missing")).unwrap().is_empty());
    }
}
