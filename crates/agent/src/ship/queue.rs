//! The batches waiting to be sent: the on-disk [`Spool`] while it can be
//! written, and a bounded in-memory queue behind it while it cannot.
//!
//! A full or read-only spool disk must not stop the agent: under systemd an
//! exit is a crash loop that sends nothing — the disk metric included — just
//! when the disk is full. So when the spool cannot be opened or written, the
//! shipper keeps going from memory: at most [`MEMORY_MAX_BYTES`] of batches
//! (or the spool's limit if smaller), the oldest dropped beyond it (counted
//! like a spool overflow), lost on a crash. Every [`RETRY_SPOOL_EVERY`] (by default) the
//! spool is tried again; once it takes them, the in-memory batches move to
//! it and the queue is durable again. Order holds: in-memory batches are
//! always newer than spooled ones (a push goes to memory while memory holds
//! anything) and are sent after them.
//!
//! Batches recovered from the open-batch journal at start keep their journal
//! file while they are only in memory (it is their one durable copy); the
//! file is discarded once the batch is spooled, sent or dropped.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::batch::{BatchId, SealedBatch};
use super::journal;
use super::spool::{Dropped, OpenReport, Spool, SpoolError};

/// In-memory batches are bounded by this (gzip'd bodies: ~8 flush intervals
/// of a busy host), or by the spool's limit if smaller.
pub const MEMORY_MAX_BYTES: u64 = 8 << 20;
/// How often a spool that failed is tried again, unless configured.
pub const RETRY_SPOOL_EVERY: Duration = Duration::from_secs(30);
/// Bookkeeping per in-memory batch, counted against the bound.
const ENTRY_OVERHEAD: u64 = 64;

struct InMemory {
    batch: SealedBatch,
    /// Recovered from the journal: its file there is discarded when it leaves.
    journal_file: bool,
}

impl InMemory {
    fn size(&self) -> u64 {
        self.batch.body.len() as u64 + ENTRY_OVERHEAD
    }
}

/// Spool first, then memory; see the module docs.
pub struct BatchQueue {
    dir: PathBuf,
    journal_dir: PathBuf,
    max_bytes: u64,
    retry_every: Duration,
    disk: Option<Spool>,
    memory: VecDeque<InMemory>,
    memory_bytes: u64,
    memory_datums: u64,
    /// When to try the spool again; set while it is closed or memory holds batches.
    retry_at: Option<Instant>,
}

impl BatchQueue {
    /// Opens the spool in `dir`; if that fails, starts in memory (logged)
    /// and retries later. Never fails.
    pub fn open(
        dir: &Path,
        journal_dir: &Path,
        max_bytes: u64,
        retry_every: Duration,
    ) -> (BatchQueue, OpenReport) {
        let mut q = BatchQueue {
            dir: dir.to_owned(),
            journal_dir: journal_dir.to_owned(),
            max_bytes,
            retry_every,
            disk: None,
            memory: VecDeque::new(),
            memory_bytes: 0,
            memory_datums: 0,
            retry_at: None,
        };
        let report = match Spool::open(dir, max_bytes) {
            Ok((spool, report)) => {
                q.disk = Some(spool);
                report
            }
            Err(e) => {
                q.go_to_memory(&format!("cannot open the spool {}: {e}", dir.display()));
                OpenReport::default()
            }
        };
        (q, report)
    }

    fn memory_max(&self) -> u64 {
        self.max_bytes.min(MEMORY_MAX_BYTES)
    }

    fn go_to_memory(&mut self, why: &str) {
        crate::error!(
            "{why}; shipping from memory (at most {} KiB of batches, lost if the agent dies) \
             and trying the spool again every {}s",
            self.memory_max() >> 10,
            self.retry_every.as_secs_f64()
        );
        self.retry_at = Some(Instant::now() + self.retry_every);
    }

    /// Batches queued.
    pub fn len(&self) -> usize {
        self.disk.as_ref().map_or(0, Spool::len) + self.memory.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Datums in the queued batches.
    pub fn datums(&self) -> u64 {
        self.disk.as_ref().map_or(0, Spool::datums) + self.memory_datums
    }

    /// Datums held only in memory.
    pub fn datums_in_memory(&self) -> u64 {
        self.memory_datums
    }

    /// Whether everything queued is on disk and new batches go there.
    pub fn is_durable(&self) -> bool {
        self.disk.is_some() && self.memory.is_empty()
    }

    /// When [`BatchQueue::retry_spool`] has work to do.
    pub fn retry_at(&self) -> Option<Instant> {
        self.retry_at
    }

    /// Queues `batch` (on disk when possible). Returns what was dropped to
    /// respect the bounds. `journal_file`: it was recovered from the
    /// journal, whose file is discarded once the batch is on disk.
    pub fn push(&mut self, batch: SealedBatch, journal_file: bool) -> Dropped {
        if self.memory.is_empty()
            && let Some(disk) = self.disk.as_mut()
        {
            match disk.push(&batch) {
                Ok(dropped) => {
                    if journal_file {
                        self.discard_journal_file(batch.id);
                    }
                    return dropped;
                }
                Err(e) => self.go_to_memory(&format!(
                    "cannot write batch {} to the spool: {e}",
                    batch.id
                )),
            }
        }
        self.push_memory(InMemory {
            batch,
            journal_file,
        })
    }

    fn push_memory(&mut self, entry: InMemory) -> Dropped {
        let size = entry.size();
        let mut dropped = Dropped::default();
        while self.memory_bytes + size > self.memory_max() {
            let Some(old) = self.pop_memory() else { break };
            dropped.batches += 1;
            dropped.datums += u64::from(old.batch.datums);
        }
        if size > self.memory_max() {
            dropped.batches += 1;
            dropped.datums += u64::from(entry.batch.datums);
            self.leave(entry);
            return dropped;
        }
        self.memory_bytes += size;
        self.memory_datums += u64::from(entry.batch.datums);
        self.memory.push_back(entry);
        dropped
    }

    /// Removes the oldest in-memory batch, discarding its journal file.
    fn pop_memory(&mut self) -> Option<InMemory> {
        let e = self.memory.pop_front()?;
        self.memory_bytes -= e.size();
        self.memory_datums -= u64::from(e.batch.datums);
        Some(self.leave(e))
    }

    fn leave(&self, e: InMemory) -> InMemory {
        if e.journal_file {
            self.discard_journal_file(e.batch.id);
        }
        e
    }

    fn discard_journal_file(&self, id: BatchId) {
        if let Err(e) = journal::discard(&self.journal_dir, id) {
            crate::warn!(
                "journal: cannot discard batch {id}'s file (it will be re-sent once): {e}"
            );
        }
    }

    /// The oldest batch, without removing it.
    pub fn peek(&mut self) -> Result<Option<SealedBatch>, SpoolError> {
        if let Some(disk) = self.disk.as_mut().filter(|d| !d.is_empty()) {
            return disk.peek();
        }
        Ok(self.memory.front().map(|e| e.batch.clone()))
    }

    /// Removes the oldest batch (sent, refused, or unreadable).
    pub fn pop(&mut self) -> Result<(), SpoolError> {
        if let Some(disk) = self.disk.as_mut().filter(|d| !d.is_empty()) {
            return disk.pop();
        }
        self.pop_memory();
        Ok(())
    }

    /// [`BatchQueue::retry_spool`] whether due or not (at exit).
    pub fn retry_spool_now(&mut self) -> Dropped {
        let now = Instant::now();
        self.retry_at = Some(now);
        self.retry_spool(now)
    }

    /// Empties the in-memory queue at exit; returns what is lost with it
    /// (recovered batches are not: their journal files stay for the next
    /// start).
    pub fn forget_memory(&mut self) -> Dropped {
        let mut lost = Dropped::default();
        for e in self.memory.drain(..).filter(|e| !e.journal_file) {
            lost.batches += 1;
            lost.datums += u64::from(e.batch.datums);
        }
        self.memory_bytes = 0;
        self.memory_datums = 0;
        lost
    }

    /// When due, opens the spool again if it is closed and moves the
    /// in-memory batches to it. Returns what the spool dropped to stay
    /// within its limit.
    pub fn retry_spool(&mut self, now: Instant) -> Dropped {
        let mut dropped = Dropped::default();
        if self.retry_at.is_none_or(|at| now < at) {
            return dropped;
        }
        self.retry_at = Some(now + self.retry_every);
        let mut reopened = false;
        if self.disk.is_none() {
            match Spool::open(&self.dir, self.max_bytes) {
                Ok((spool, report)) => {
                    report.log(&self.dir);
                    self.disk = Some(spool);
                    reopened = true;
                }
                Err(e) => {
                    crate::debug!("spool {} still unavailable: {e}", self.dir.display());
                    return dropped;
                }
            }
        }
        let mut moved = 0;
        while let (Some(disk), Some(front)) = (self.disk.as_mut(), self.memory.front()) {
            match disk.push(&front.batch) {
                Ok(d) => {
                    dropped.batches += d.batches;
                    dropped.datums += d.datums;
                    moved += 1;
                    self.pop_memory();
                }
                Err(e) => {
                    crate::debug!("spool {} still not writable: {e}", self.dir.display());
                    return dropped;
                }
            }
        }
        self.retry_at = None;
        if reopened || moved > 0 {
            crate::info!(
                "spool {} writable again: moved {moved} batches from memory to it; durable again",
                self.dir.display()
            );
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::super::journal::{self, Journal};
    use super::super::{Datum, DatumValue};
    use super::*;

    fn batch(n: u8, body_len: usize) -> SealedBatch {
        SealedBatch {
            id: BatchId([n; 16]),
            datums: 3,
            body: vec![n; body_len],
        }
    }

    /// A spool directory that cannot be created: a file is in the way.
    fn blocked(dir: &Path) -> PathBuf {
        std::fs::write(dir.join("blocker"), "").unwrap();
        dir.join("blocker/spool")
    }

    fn drain(q: &mut BatchQueue) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(b) = q.peek().unwrap() {
            out.push(b.id.0[0]);
            q.pop().unwrap();
        }
        out
    }

    #[test]
    fn without_a_spool_batches_wait_in_memory_bounded_oldest_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let spool = blocked(dir.path());
        let journal_dir = spool.join("open");
        let max = 10 * (1000 + ENTRY_OVERHEAD);
        let (mut q, report) = BatchQueue::open(&spool, &journal_dir, max, RETRY_SPOOL_EVERY);
        assert_eq!(report.batches, 0);
        assert!(!q.is_durable());
        assert!(q.retry_at().is_some());
        let mut dropped = Dropped::default();
        for n in 0..15 {
            let d = q.push(batch(n, 1000), false);
            dropped.batches += d.batches;
            dropped.datums += d.datums;
        }
        assert_eq!(
            dropped,
            Dropped {
                batches: 5,
                datums: 15
            }
        );
        assert_eq!((q.len(), q.datums(), q.datums_in_memory()), (10, 30, 30));
        assert_eq!(drain(&mut q), (5..15).collect::<Vec<u8>>());
        assert!(q.is_empty());
    }

    #[test]
    fn space_returns_and_memory_moves_to_the_spool_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let spool = blocked(dir.path());
        let journal_dir = spool.join("open");
        let every = Duration::from_millis(1);
        let (mut q, _) = BatchQueue::open(&spool, &journal_dir, 1 << 20, every);
        for n in 0..3 {
            q.push(batch(n, 100), false);
        }
        // Still blocked: nothing moves.
        std::thread::sleep(every);
        q.retry_spool(Instant::now());
        assert_eq!((q.datums_in_memory(), q.is_durable()), (9, false));

        std::fs::remove_file(dir.path().join("blocker")).unwrap();
        std::thread::sleep(every);
        assert_eq!(q.retry_spool(Instant::now()), Dropped::default());
        assert!(q.is_durable());
        assert_eq!(q.retry_at(), None);
        assert_eq!((q.len(), q.datums_in_memory()), (3, 0));
        q.push(batch(3, 100), false);
        drop(q);
        // On disk: a new queue finds them, in order.
        let (mut q, report) = BatchQueue::open(&spool, &journal_dir, 1 << 20, every);
        assert_eq!(report.batches, 4);
        assert_eq!(drain(&mut q), vec![0, 1, 2, 3]);
    }

    #[test]
    fn a_recovered_batch_keeps_its_journal_file_while_only_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let journal_dir = dir.path().join("open");
        let d = Datum {
            metric_name: "m".into(),
            dimensions: vec![],
            timestamp_ms: 1_767_323_045_000,
            value: DatumValue::Single(1.0),
            unit: "Count",
            high_resolution: false,
        };
        let id = BatchId::opening_now();
        {
            let mut j = Journal::open(&journal_dir).unwrap();
            let mut rec = Vec::new();
            journal::record(&d, &mut rec);
            j.append(id, "NS", &rec).unwrap();
        }
        let recovered = |dir: &Path| journal::recover(dir).unwrap().len();
        assert_eq!(recovered(&journal_dir), 1);

        // The spool cannot be written: the journal file stays.
        std::fs::write(dir.path().join("blocker"), "").unwrap();
        let spool = dir.path().join("blocker/spool");
        let (mut q, _) = BatchQueue::open(&spool, &journal_dir, 1 << 20, RETRY_SPOOL_EVERY);
        q.push(SealedBatch::seal_as(id, "NS", &[d]), true);
        assert_eq!(recovered(&journal_dir), 1, "its one durable copy");
        // Sent: the file goes.
        assert_eq!(q.peek().unwrap().map(|b| b.id), Some(id));
        q.pop().unwrap();
        assert_eq!(recovered(&journal_dir), 0);
    }
}
