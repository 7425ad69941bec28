//! Idempotent writes: the ids of batches already stored, so a client that
//! retries a batch (its acknowledgement was lost, or it spooled the batch
//! and re-sent it after a restart) never stores it twice.
//!
//! Durability follows the data it guards. The id of a batch travels in the
//! same WAL record as its samples (module `record`), so after a `kill -9`
//! either both are replayed or neither is. At seal time, before the WAL
//! segments are deleted, the whole set is rewritten to `<dir>/batch-ids`
//! (temp file, fsync, rename, directory fsync), so ids outlive the WAL that
//! first carried them. Open loads that file, then replays the WAL on top.
//!
//! Ids are kept for [`crate::Options::batch_id_retention`] (24 h by default:
//! a client retries for minutes, a spool drains within a day) and at most
//! [`crate::Options::max_batch_ids`] (oldest forgotten first): about 60 bytes
//! each in memory, so the default million costs ~60 MB only at a sustained
//! ~12 batches per second.
//!
//! ```text
//! batch-ids = "SBID" 1 0 0 0 | frame*     (crate::frame, magic "SBI1")
//! frame     = (id [16] | stored_at_ms i64 le)*   up to 4096 entries
//! ```

use std::collections::{HashMap, VecDeque};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use crate::error::Error;
use crate::frame::{Frames, put_frame};
use crate::fsutil::sync_dir;
use crate::recovery::{RecoveryReport, Truncation};

pub const BATCH_IDS_FILE: &str = "batch-ids";
const TMP_FILE: &str = "batch-ids.tmp";
const HEADER: [u8; 8] = *b"SBID\x01\0\0\0";
const MAGIC: u32 = u32::from_le_bytes(*b"SBI1");
const ENTRY_LEN: usize = 24;
const ENTRIES_PER_FRAME: usize = 4096;

/// A client-chosen 128-bit batch identifier (an idempotency token).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BatchId(pub [u8; 16]);

impl BatchId {
    /// Parses exactly 32 hex digits (either case).
    pub fn parse_hex(s: &str) -> Option<BatchId> {
        let bytes = s.as_bytes();
        if bytes.len() != 32 {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            out[i] = (hi * 16 + lo) as u8;
        }
        Some(BatchId(out))
    }
}

impl std::fmt::Display for BatchId {
    /// 32 lower-case hex digits.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// The in-memory set of stored batch ids, oldest first.
pub struct BatchIds {
    /// id → when it was stored (ms since the epoch, wall clock).
    seen: HashMap<BatchId, i64>,
    /// Insertion order, for forgetting the oldest. May hold ids already
    /// removed from `seen` (skipped when popped).
    order: VecDeque<BatchId>,
    retention_ms: i64,
    max: usize,
}

impl BatchIds {
    pub fn new(retention: Duration, max: usize) -> Self {
        BatchIds {
            seen: HashMap::new(),
            order: VecDeque::new(),
            retention_ms: i64::try_from(retention.as_millis()).unwrap_or(i64::MAX),
            max,
        }
    }

    pub fn contains(&self, id: &BatchId) -> bool {
        self.seen.contains_key(id)
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Records `id` (no-op if known), forgetting the oldest beyond `max`.
    pub fn insert(&mut self, id: BatchId, stored_at_ms: i64) {
        if self.max == 0 || self.seen.contains_key(&id) {
            return;
        }
        self.seen.insert(id, stored_at_ms);
        self.order.push_back(id);
        while self.seen.len() > self.max {
            self.pop_oldest();
        }
    }

    /// Undoes the latest `insert` of `id` (its WAL append failed).
    pub fn forget(&mut self, id: &BatchId) {
        if self.seen.remove(id).is_some() && self.order.back() == Some(id) {
            self.order.pop_back();
        }
    }

    /// Forgets ids stored more than the retention before `now_ms`.
    pub fn prune(&mut self, now_ms: i64) {
        let oldest_kept = now_ms.saturating_sub(self.retention_ms);
        while let Some(front) = self.order.front() {
            match self.seen.get(front) {
                Some(&at) if at >= oldest_kept => break,
                _ => self.pop_oldest(),
            }
        }
    }

    fn pop_oldest(&mut self) {
        if let Some(id) = self.order.pop_front() {
            self.seen.remove(&id);
        }
    }

    /// Every id with its store time, oldest first.
    pub fn snapshot(&self) -> Vec<(BatchId, i64)> {
        self.order
            .iter()
            .filter_map(|id| self.seen.get(id).map(|&at| (*id, at)))
            .collect()
    }
}

/// Reads `<dir>/batch-ids` (absent: none), removing a leftover temp file.
/// A damaged frame ends the read; it is reported, and the file is rewritten
/// whole at the next seal.
pub fn load(dir: &Path, report: &mut RecoveryReport) -> Result<Vec<(BatchId, i64)>, Error> {
    let tmp = dir.join(TMP_FILE);
    if tmp.exists() {
        fs::remove_file(&tmp).map_err(|e| Error::io(format!("removing {}", tmp.display()), e))?;
        report.removed_temp_files.push(tmp);
    }
    let path = dir.join(BATCH_IDS_FILE);
    let data = match fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    let mut out = Vec::new();
    let mut cut: Option<(usize, &'static str)> = None;
    if data.len() < HEADER.len() || data[..HEADER.len()] != HEADER {
        cut = Some((0, "missing or damaged batch-ids header"));
    } else {
        for frame in Frames::new(&data, HEADER.len(), MAGIC) {
            match frame {
                Ok((offset, payload)) => {
                    if payload.len() % ENTRY_LEN != 0 {
                        cut = Some((offset, "batch-ids frame of a partial entry"));
                        break;
                    }
                    out.extend(payload.chunks_exact(ENTRY_LEN).map(decode_entry));
                }
                Err(bad) => {
                    cut = Some((bad.offset, bad.reason));
                    break;
                }
            }
        }
    }
    if let Some((offset, reason)) = cut {
        report.truncations.push(Truncation {
            path,
            offset: offset as u64,
            dropped_bytes: (data.len() - offset) as u64,
            reason: reason.to_owned(),
            kept_aside: None,
        });
    }
    Ok(out)
}

/// The frames and damage of `batch-ids` bytes (fsck).
pub fn check(data: &[u8]) -> crate::frame::Scan<'_> {
    let mut s =
        crate::frame::scan_with_header(data, &HEADER, MAGIC, "missing or damaged batch-ids header");
    let partial: Vec<usize> = s
        .frames
        .iter()
        .filter(|f| f.1.len() % ENTRY_LEN != 0)
        .map(|f| f.0)
        .collect();
    s.frames.retain(|f| f.1.len() % ENTRY_LEN == 0);
    for offset in partial {
        s.damaged.push(crate::frame::Damage {
            offset,
            len: 0,
            reason: "batch-ids frame of a partial entry",
        });
    }
    s.damaged.sort_by_key(|d| d.offset);
    s
}

fn decode_entry(chunk: &[u8]) -> (BatchId, i64) {
    let mut id = [0u8; 16];
    id.copy_from_slice(&chunk[..16]);
    let mut at = [0u8; 8];
    at.copy_from_slice(&chunk[16..ENTRY_LEN]);
    (BatchId(id), i64::from_le_bytes(at))
}

/// Replaces `<dir>/batch-ids` with `entries` (temp file, fsync, rename,
/// directory fsync when `fsync`).
pub fn store(dir: &Path, entries: &[(BatchId, i64)], fsync: bool) -> Result<(), Error> {
    let path = dir.join(BATCH_IDS_FILE);
    let tmp = dir.join(TMP_FILE);
    let ctx = |what: &str| format!("{what} {}", tmp.display());
    let mut buf = Vec::with_capacity(HEADER.len() + entries.len() * (ENTRY_LEN + 1));
    buf.extend_from_slice(&HEADER);
    let mut payload = Vec::with_capacity(ENTRIES_PER_FRAME * ENTRY_LEN);
    for chunk in entries.chunks(ENTRIES_PER_FRAME) {
        payload.clear();
        for (id, at) in chunk {
            payload.extend_from_slice(&id.0);
            payload.extend_from_slice(&at.to_le_bytes());
        }
        put_frame(&mut buf, MAGIC, &payload);
    }
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&tmp)
        .map_err(|e| Error::io(ctx("creating"), e))?;
    file.write_all(&buf)
        .map_err(|e| Error::io(ctx("writing"), e))?;
    if fsync {
        file.sync_all().map_err(|e| Error::io(ctx("syncing"), e))?;
    }
    drop(file);
    fs::rename(&tmp, &path).map_err(|e| Error::io(ctx("renaming"), e))?;
    if fsync {
        sync_dir(dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(n: u8) -> BatchId {
        BatchId([n; 16])
    }

    #[test]
    fn hex_round_trip_and_rejects() {
        let x = BatchId([
            0x00, 0x01, 0xab, 0xCD, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xff,
        ]);
        let text = x.to_string();
        assert_eq!(text, "0001abcd0405060708090a0b0c0d0eff");
        assert_eq!(BatchId::parse_hex(&text), Some(x));
        assert_eq!(BatchId::parse_hex(&text.to_uppercase()), Some(x));
        assert_eq!(BatchId::parse_hex(&text[..31]), None);
        assert_eq!(BatchId::parse_hex(&format!("{}g", &text[..31])), None);
        assert_eq!(BatchId::parse_hex("é0000000000000000000000000000000"), None);
    }

    #[test]
    fn forgets_oldest_by_count_and_age() {
        let mut ids = BatchIds::new(Duration::from_millis(100), 3);
        for n in 1..=4 {
            ids.insert(id(n), i64::from(n) * 10);
        }
        assert!(!ids.contains(&id(1)), "beyond max: oldest forgotten");
        assert_eq!(ids.len(), 3);
        ids.insert(id(4), 999);
        assert_eq!(
            ids.snapshot().last(),
            Some(&(id(4), 40)),
            "re-insert is a no-op"
        );
        ids.prune(125);
        assert_eq!(ids.snapshot(), vec![(id(3), 30), (id(4), 40)]);
        ids.forget(&id(4));
        assert_eq!(ids.snapshot(), vec![(id(3), 30)]);
    }

    #[test]
    fn file_round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let entries: Vec<(BatchId, i64)> = (0..5000u32)
            .map(|n| {
                let mut b = [0u8; 16];
                b[..4].copy_from_slice(&n.to_le_bytes());
                (BatchId(b), i64::from(n))
            })
            .collect();
        store(dir.path(), &entries, true).unwrap();
        let mut report = RecoveryReport::default();
        assert_eq!(load(dir.path(), &mut report).unwrap(), entries);
        assert!(!report.repaired());

        // Flip a byte in the second frame: the first frame's entries survive.
        let path = dir.path().join(BATCH_IDS_FILE);
        let mut data = fs::read(&path).unwrap();
        let last = data.len() - 3;
        data[last] ^= 1;
        fs::write(&path, &data).unwrap();
        let mut report = RecoveryReport::default();
        let got = load(dir.path(), &mut report).unwrap();
        assert_eq!(got, entries[..ENTRIES_PER_FRAME]);
        assert_eq!(report.truncations.len(), 1);
    }

    proptest! {
        #[test]
        fn loader_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let dir = tempfile::tempdir().unwrap();
            let mut bytes = HEADER.to_vec();
            bytes.extend_from_slice(&data);
            fs::write(dir.path().join(BATCH_IDS_FILE), &bytes).unwrap();
            let _ = load(dir.path(), &mut RecoveryReport::default());
        }
    }
}
