//! The open-batch journal: every datum is written here the moment the
//! shipper receives it, so a `kill -9` loses nothing that was collected —
//! not even the batch still being filled, or one sealed but not yet
//! acknowledged.
//!
//! ```text
//! <spool>/open/<batch id>.journal   one file per batch not yet safe elsewhere
//! file   = "SJ1\n" | namespace len u16 le | namespace
//!          | record*
//! record = len u32 le | crc32(payload) u32 le | payload (one datum)
//! ```
//!
//! A batch's file lives from its first datum until the batch is acknowledged
//! by the endpoint, refused for good, or written to the spool (which is
//! fsync'd); then it is deleted. At start, [`recover`] turns every file left
//! behind into a sealed batch *with the same id*: if that batch had in fact
//! reached the server just before the crash, the server drops the copy.
//!
//! Records are written with plain `write` (no fsync): that survives the
//! process dying in any way; a power cut can lose what the kernel had not yet
//! written back (≈ the last flush interval), which the fsync'd spool does not.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use stratus_model::Unit;

use super::batch::BatchId;
use super::{Datum, DatumValue};

const MAGIC: &[u8; 4] = b"SJ1\n";
const SUFFIX: &str = ".journal";
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

/// The journal files of the batches now open or unacknowledged.
pub struct Journal {
    dir: PathBuf,
    files: HashMap<BatchId, File>,
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

impl Journal {
    /// Opens (creating) `dir`. Call [`recover`] first: files found here are
    /// not this run's.
    pub fn open(dir: &Path) -> Result<Journal, JournalError> {
        fs::create_dir_all(dir).map_err(err(dir))?;
        Ok(Journal {
            dir: dir.to_owned(),
            files: HashMap::new(),
        })
    }

    /// Appends `records` (made by [`record`]) to batch `id`'s file,
    /// creating it on first use.
    pub fn append(
        &mut self,
        id: BatchId,
        namespace: &str,
        records: &[u8],
    ) -> Result<(), JournalError> {
        let path = path_of(&self.dir, id);
        let f = match self.files.entry(id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let mut f = OpenOptions::new()
                    .create_new(true)
                    .append(true)
                    .open(&path)
                    .map_err(err(&path))?;
                let ns = namespace.as_bytes();
                let mut header = Vec::with_capacity(6 + ns.len());
                header.extend_from_slice(MAGIC);
                header.extend_from_slice(&(ns.len() as u16).to_le_bytes());
                header.extend_from_slice(ns);
                f.write_all(&header).map_err(err(&path))?;
                e.insert(f)
            }
        };
        f.write_all(records).map_err(err(&path))
    }

    /// Forgets batch `id` (acknowledged, refused, or safe in the spool).
    pub fn remove(&mut self, id: BatchId) {
        if self.files.remove(&id).is_some() {
            let path = path_of(&self.dir, id);
            if let Err(e) = fs::remove_file(&path) {
                crate::warn!("journal: cannot remove {}: {e}", path.display());
            }
        }
    }

    /// Batches with a file now.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// Reads every journal file in `dir` (oldest first by modification time).
/// The caller spools each batch and then calls [`discard`] for it.
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
        let Some(id) = name.to_str().and_then(parse_id) else {
            continue;
        };
        let mtime = entry
            .metadata()
            .and_then(|m| m.modified())
            .unwrap_or(std::time::UNIX_EPOCH);
        found.push((mtime, id, entry.path()));
    }
    found.sort_by_key(|(t, _, _)| *t);
    let mut out = Vec::new();
    for (_, id, path) in found {
        let mut bytes = Vec::new();
        File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(err(&path))?;
        out.push(parse_file(id, &bytes));
    }
    Ok(out)
}

/// Deletes batch `id`'s leftover file once it is safe elsewhere.
pub fn discard(dir: &Path, id: BatchId) -> Result<(), JournalError> {
    let path = path_of(dir, id);
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(err(&path)(e)),
    }
}

fn parse_file(id: BatchId, bytes: &[u8]) -> Recovered {
    let mut r = Recovered {
        id,
        namespace: String::new(),
        datums: Vec::new(),
        dropped_bytes: 0,
    };
    let mut cur = Cursor { b: bytes, at: 0 };
    let header = (|| {
        (cur.take(4)? == MAGIC).then_some(())?;
        let n = cur.u16()? as usize;
        String::from_utf8(cur.take(n)?.to_vec()).ok()
    })();
    let Some(ns) = header else {
        r.dropped_bytes = bytes.len() as u64;
        return r;
    };
    r.namespace = ns;
    loop {
        let start = cur.at;
        if start == bytes.len() {
            break;
        }
        let rec = (|| {
            let len = cur.u32()? as usize;
            let crc = cur.u32()?;
            if len > MAX_RECORD {
                return None;
            }
            let payload = cur.take(len)?;
            (crc32fast::hash(payload) == crc).then_some(())?;
            decode_datum(payload)
        })();
        match rec {
            Some(d) => r.datums.push(d),
            None => {
                r.dropped_bytes = (bytes.len() - start) as u64;
                break;
            }
        }
    }
    r
}

/// Appends one datum's journal record to `out`.
pub fn record(d: &Datum, out: &mut Vec<u8>) {
    // Length and crc go before the payload: reserve them, write the payload
    // in place, then fill them in.
    let head = out.len();
    out.extend_from_slice(&[0; 8]);
    encode_datum(d, out);
    let payload = &out[head + 8..];
    let len = (payload.len() as u32).to_le_bytes();
    let crc = crc32fast::hash(payload).to_le_bytes();
    out[head..head + 4].copy_from_slice(&len);
    out[head + 4..head + 8].copy_from_slice(&crc);
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

    #[test]
    fn a_torn_or_damaged_tail_is_cut_at_the_last_good_datum() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        let a = BatchId::random();
        let ds: Vec<Datum> = (0..3).map(datum).collect();
        j.append(a, "NS", &records(&[&ds[0], &ds[1], &ds[2]]))
            .unwrap();
        drop(j);
        let path = path_of(dir.path(), a);
        let full = fs::read(&path).unwrap();
        // Every possible torn length recovers a prefix, never garbage.
        for cut in 0..full.len() {
            fs::write(&path, &full[..cut]).unwrap();
            let r = recover(dir.path()).unwrap().remove(0);
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
    fn stray_files_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("notes.txt"), "x").unwrap();
        fs::write(dir.path().join("zz.journal"), "x").unwrap();
        assert!(recover(dir.path()).unwrap().is_empty());
        assert!(recover(&dir.path().join("missing")).unwrap().is_empty());
    }
}
