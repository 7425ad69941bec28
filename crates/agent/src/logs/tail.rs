//! The tail: one thread polls every configured file (no thread per file),
//! turns new complete lines into events, batches them, and appends sealed
//! batches to the spool together with the files' positions.
//!
//! Durability: a file's position only moves past lines that are in a
//! spooled batch (or dropped by a filter). Each spool append is followed,
//! under the same lock the shipper takes to remove a batch, by a save of
//! every file's position; a spooled record also carries its files' end
//! offsets. At start a file resumes at the larger of its saved position and
//! the ends its spooled records carry, so a kill between the append and the
//! save re-reads nothing that is spooled, and nothing the shipper already
//! removed (the save before the removal covers it).
//!
//! Which files: like the stock agent (`getTargetFiles`), an entry tails
//! only the most recently modified file its glob matches, or every match
//! with `publish_multi_logs`. A file that stops being the newest (a dated
//! file appeared) is treated as rotated away: read to its end first, then
//! let go, its end remembered (and saved with the positions) while a glob
//! still matches it, so it never restarts at 0 — after a restart it is
//! found by inode and finished from its saved position.
//!
//! EMF lines come with their offsets in the EMF journal (`emf_journal`),
//! which is handled like one more file: its floor is saved with the
//! positions, spooled records carry its ends, records past them are read
//! back at start, and it is emptied once every line in it is spooled.
//!
//! Rotation: a file is known by device + inode (+ a fingerprint of its first
//! bytes). Renamed away (`mv app.log app.log.1`): the open descriptor is
//! read to its end, and after [`ROTATED_GRACE`] without growth it is closed;
//! the new file at the path is read from its first byte. Truncated in place
//! (copytruncate: size below the offset): the lines written between the last
//! read and the truncation exist only in the copy, so the copy — a file
//! beside it with the same first bytes and the same bytes just before the
//! offset — is read from the offset to its end first (see [`find_copy`]);
//! then the file is read again from 0. After a restart
//! a file whose saved position is not reached by any glob any more is
//! looked for by inode in its old directory and finished too.

use super::batch::{Batches, Destination, Sealed, Source};
use super::emf_journal::{EmfJournal, JournalRecord};
use super::lines::{Assembler, Completed, LineRules, MAX_MESSAGE_BYTES};
use super::placeholders::HostNames;
use super::positions::{self, FINGERPRINT_BYTES, FileKey, Fingerprint, Position};
use super::record::LogRecord;
use crate::config::FileCollect;
use crate::ship::spool::Spool;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long a renamed-away file is kept open after its last growth (the
/// writer may still be writing to it until it reopens its log).
pub const ROTATED_GRACE: Duration = Duration::from_secs(5);
/// How often globs are expanded again (new files, renames).
pub const SCAN_EVERY: Duration = Duration::from_secs(1);
/// An EMF journal this large is emptied even under steady traffic (its
/// lines' open batches are sealed early).
pub const EMF_JOURNAL_RECLAIM_BYTES: u64 = 4 << 20;
/// How much of one file is read per poll before the others get a turn.
const READ_BUDGET: usize = 4 << 20;
const CHUNK: usize = 64 << 10;
/// How many of the last bytes read a file remembers, to recognise the copy
/// copytruncate made of it (with the fingerprint of its first bytes).
const RECENT_BYTES: usize = 64;

/// What the tail and the shipper share.
pub struct Shared {
    pub spool: Mutex<Spool>,
    /// Signalled after every append.
    pub appended: Condvar,
    /// Acknowledged end offset per file (for `auto_removal`).
    pub acked: Mutex<HashMap<FileKey, u64>>,
}

/// One `collect_list` entry, resolved.
struct Collector {
    cfg: FileCollect,
    rules: LineRules,
    group: Option<String>,
    stream: String,
}

struct Tailed {
    key: FileKey,
    fingerprint: Fingerprint,
    path: PathBuf,
    collector: usize,
    dest: Destination,
    file: File,
    /// Bytes consumed from the file.
    read_offset: u64,
    /// The partial last line (starts at `read_offset - buf.len()`).
    buf: Vec<u8>,
    /// The last (up to [`RECENT_BYTES`]) bytes before `read_offset`.
    recent: Vec<u8>,
    asm: Assembler,
    /// The path no longer names this file.
    rotated: bool,
    last_growth: Instant,
    /// Read to its end and closed for reading; kept until its events are spooled.
    done: bool,
    /// Deleted by `auto_removal` (kept open until then, once done).
    removed: bool,
}

/// An EMF line on its way to a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmfEvent {
    pub group: String,
    pub stream: String,
    pub timestamp_ms: i64,
    pub message: String,
    /// Its record's offsets in the EMF journal (`None`: not journaled).
    pub span: Option<(u64, u64)>,
}

/// The EMF journal as the tail sees it (see `emf_journal`).
struct EmfJournaled {
    journal: Arc<Mutex<EmfJournal>>,
    key: FileKey,
    generation: Fingerprint,
    /// End of the last record handed to the tail.
    received_end: u64,
    /// Records read back at start, not yet batched.
    replay: Vec<EmfEvent>,
}

pub struct Tailer {
    collectors: Vec<Collector>,
    files: Vec<Tailed>,
    batches: Batches,
    /// Sealed but not yet in the spool (the spool refused an append).
    unspooled: Vec<Sealed>,
    flush: Duration,
    /// Start-up offsets by file: saved positions and spooled record ends.
    resume: HashMap<FileKey, Vec<(Fingerprint, u64, PathBuf)>>,
    /// No positions file existed: files found by the first scan start at
    /// their end (the stock agent's default), later ones at their start.
    start_at_end: bool,
    scanned_once: bool,
    last_scan: Option<Instant>,
    positions_path: PathBuf,
    positions_dirty: bool,
    last_save: Option<Instant>,
    /// Files read to their end and let go, so one seen again (renamed back
    /// into a glob, or the newest match again) resumes where it ended
    /// instead of at 0. Saved with the positions while a glob matches them.
    finished: HashMap<FileKey, (Fingerprint, u64, PathBuf)>,
    shared: Arc<Shared>,
    emf_stream: String,
    emf_journal: Option<EmfJournaled>,
    pub stats: TailStats,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct TailStats {
    pub events: u64,
    pub filtered: u64,
    pub batches_spooled: u64,
    pub events_overflowed: u64,
}

/// The group name the stock agent derives from a file path.
pub fn group_from_path(path: &str) -> String {
    path.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Tailer {
    /// Reads the positions file and the spooled records' ends.
    pub fn new(
        files: &[FileCollect],
        names: &HostNames,
        emf_stream: String,
        flush: Duration,
        positions_path: PathBuf,
        shared: Arc<Shared>,
    ) -> Tailer {
        let mut resume: HashMap<FileKey, Vec<(Fingerprint, u64, PathBuf)>> = HashMap::new();
        let saved = match positions::load(&positions_path) {
            Ok(s) => s,
            Err(e) => {
                crate::warn!("logs: positions unreadable ({e}); resuming from the spool's offsets");
                Some(Vec::new())
            }
        };
        let start_at_end = saved.is_none();
        for p in saved.unwrap_or_default() {
            resume
                .entry(p.key)
                .or_default()
                .push((p.fingerprint, p.offset, p.path));
        }
        {
            let mut spool = shared.spool.lock().unwrap_or_else(|e| e.into_inner());
            let walked = spool.for_each(|b| {
                if let Ok(r) = LogRecord::decode(&b.body) {
                    for (key, fp, end) in r.ends {
                        resume
                            .entry(key)
                            .or_default()
                            .push((fp, end, PathBuf::new()));
                    }
                }
            });
            if let Err(e) = walked {
                crate::warn!("logs: reading the spool's offsets: {e}");
            }
        }
        let collectors = files
            .iter()
            .map(|c| Collector {
                rules: LineRules::from_config(c),
                group: c.log_group_name.as_deref().map(|g| names.resolve(g)),
                stream: names.resolve(&c.log_stream_name),
                cfg: c.clone(),
            })
            .collect();
        Tailer {
            collectors,
            files: Vec::new(),
            batches: Batches::default(),
            unspooled: Vec::new(),
            flush,
            resume,
            start_at_end,
            scanned_once: false,
            last_scan: None,
            positions_path,
            positions_dirty: true,
            last_save: None,
            finished: HashMap::new(),
            shared,
            emf_stream,
            emf_journal: None,
            stats: TailStats::default(),
        }
    }

    fn destination(&self, collector: usize, path: &Path) -> Destination {
        let c = &self.collectors[collector];
        let path_str = path.to_string_lossy();
        let (group, stream) = match (&c.group, c.cfg.publish_multi_logs) {
            (Some(g), true) => (
                g.clone(),
                format!(
                    "{}_{}",
                    c.stream,
                    group_from_path(&path_str).replace('/', "_")
                ),
            ),
            (Some(g), false) => (g.clone(), c.stream.clone()),
            (None, _) => (group_from_path(&path_str), c.stream.clone()),
        };
        Destination {
            group,
            stream,
            emf: false,
            retention_days: c.cfg.retention_in_days,
            group_class: c.cfg.log_group_class.clone(),
        }
    }

    /// One poll: scan (at most every [`SCAN_EVERY`]), read, assemble,
    /// batch, spool. `stopping` seals everything open.
    pub fn tick(&mut self, emf: Vec<EmfEvent>, stopping: bool) {
        let now = Instant::now();
        let now_ms = crate::runtime::unix_ms();
        if self
            .last_scan
            .is_none_or(|t| now.duration_since(t) >= SCAN_EVERY)
        {
            self.scan(now);
            self.last_scan = Some(now);
        }
        let mut sealed = Vec::new();
        let replay = self
            .emf_journal
            .as_mut()
            .map(|j| std::mem::take(&mut j.replay))
            .unwrap_or_default();
        if !replay.is_empty() {
            // Read back from the journal: spooled right away.
            self.add_emf(replay, now, &mut sealed);
            if let Some(j) = &self.emf_journal {
                self.batches.seal_file(j.key, &mut sealed);
            }
        }
        self.add_emf(emf, now, &mut sealed);
        let mut buf = vec![0u8; CHUNK];
        for i in 0..self.files.len() {
            let mut completed = Vec::new();
            let truncated = self.read_file(i, now, now_ms, &mut buf, &mut completed);
            let f = &self.files[i];
            let (key, fingerprint, dest) = (f.key, f.fingerprint, f.dest.clone());
            let read = completed.len();
            for (n, c) in completed.into_iter().enumerate() {
                if truncated == Some(n) {
                    // The file's offsets start over: its events from before
                    // the truncation go to the spool now, so no batch mixes
                    // the two numberings and its saved position (the new
                    // one) never claims events that are only in memory.
                    self.batches.seal_file(key, &mut sealed);
                }
                self.positions_dirty = true;
                match c.event {
                    Some((ts, message)) => {
                        self.stats.events += 1;
                        let source = Source {
                            key,
                            fingerprint,
                            start: c.start_offset,
                            end: c.end_offset,
                        };
                        self.batches
                            .add(&dest, ts, message, Some(source), now, &mut sealed);
                    }
                    None => self.stats.filtered += 1,
                }
            }
            if truncated.is_some_and(|n| n >= read) {
                self.batches.seal_file(key, &mut sealed);
            }
        }
        if stopping {
            self.batches.seal_all(&mut sealed);
        } else {
            self.batches.seal_due(now, self.flush, &mut sealed);
        }
        self.unspooled.extend(sealed);
        self.spool_and_save(now);
        self.auto_remove();
        // Finished rotated files leave once nothing of theirs is pending
        // (with `auto_removal`, once deleted: that waits for the ack).
        let batches = &self.batches;
        let unspooled = &self.unspooled;
        let collectors = &self.collectors;
        let finished = &mut self.finished;
        let mut let_go = false;
        self.files.retain(|f| {
            let leave = f.done
                && (f.removed || !collectors[f.collector].cfg.auto_removal)
                && batches.file_floor(f.key).is_none()
                && !unspooled
                    .iter()
                    .any(|s| s.files.iter().any(|x| x.key == f.key));
            if leave && !f.removed {
                finished.insert(f.key, (f.fingerprint, f.read_offset, f.path.clone()));
                let_go = true;
            }
            !leave
        });
        if let_go {
            self.positions_dirty = true;
        }
    }

    /// Reads the EMF journal's records past the saved floor (the larger of
    /// the positions file's and the spool's) back for the first tick. Call
    /// before the first [`Tailer::tick`].
    pub fn attach_emf_journal(
        &mut self,
        journal: Arc<Mutex<EmfJournal>>,
        records: Vec<JournalRecord>,
    ) {
        let (key, generation, len) = {
            let j = journal.lock().unwrap_or_else(|e| e.into_inner());
            (j.key(), j.generation(), j.size())
        };
        let floor = self
            .resume
            .remove(&key)
            .unwrap_or_default()
            .into_iter()
            .filter(|(fp, _, _)| *fp == generation)
            .map(|(_, off, _)| off)
            .max()
            .unwrap_or(0);
        let replay: Vec<EmfEvent> = records
            .into_iter()
            .filter(|r| r.end > floor)
            .filter_map(|r| {
                let line = String::from_utf8_lossy(&r.line);
                let mut e = super::emf::parse_line(&line, r.received_ms)?;
                e.span = Some((r.start, r.end));
                Some(e)
            })
            .collect();
        if !replay.is_empty() {
            crate::info!(
                "logs: {} EMF line(s) read back from the journal",
                replay.len()
            );
        }
        self.emf_journal = Some(EmfJournaled {
            journal,
            key,
            generation,
            received_end: len,
            replay,
        });
        self.positions_dirty = true;
    }

    fn add_emf(&mut self, emf: Vec<EmfEvent>, now: Instant, sealed: &mut Vec<Sealed>) {
        for e in emf {
            let dest = Destination {
                group: e.group,
                stream: if e.stream.is_empty() {
                    self.emf_stream.clone()
                } else {
                    e.stream
                },
                emf: true,
                retention_days: None,
                group_class: None,
            };
            let source = match (&mut self.emf_journal, e.span) {
                (Some(j), Some((start, end))) => {
                    j.received_end = j.received_end.max(end);
                    self.positions_dirty = true;
                    Some(Source {
                        key: j.key,
                        fingerprint: j.generation,
                        start,
                        end,
                    })
                }
                _ => None,
            };
            self.stats.events += 1;
            self.batches
                .add(&dest, e.timestamp_ms, e.message, source, now, sealed);
        }
    }

    /// Whether an EMF line of the journal is not spooled yet.
    fn emf_pending(&self, key: FileKey) -> bool {
        self.batches.file_floor(key).is_some()
            || self
                .unspooled
                .iter()
                .any(|s| s.files.iter().any(|x| x.key == key))
    }

    /// Empties the EMF journal once every line in it is spooled: when
    /// nothing journaled is pending, or — `force`, or the journal past
    /// [`EMF_JOURNAL_RECLAIM_BYTES`] under steady traffic — after sealing
    /// and spooling the EMF lines held in open batches. Holds the journal's
    /// lock throughout: the listener sends under it, so `rx` then holds
    /// every journaled line the tail has not seen.
    pub fn reclaim_emf_journal(&mut self, rx: &Receiver<EmfEvent>, force: bool) {
        let Some(j) = &self.emf_journal else {
            return;
        };
        let (key, journal) = (j.key, Arc::clone(&j.journal));
        let mut journal = journal.lock().unwrap_or_else(|e| e.into_inner());
        if !journal.has_records() {
            return;
        }
        let force = force || journal.size() >= EMF_JOURNAL_RECLAIM_BYTES;
        if !force && self.emf_pending(key) {
            return;
        }
        let now = Instant::now();
        let late: Vec<EmfEvent> = rx.try_iter().collect();
        let mut sealed = Vec::new();
        if !late.is_empty() && !force {
            // Arrived meanwhile: batched as usual, reclaimed later.
            self.add_emf(late, now, &mut sealed);
            self.unspooled.extend(sealed);
            return;
        }
        self.add_emf(late, now, &mut sealed);
        self.batches.seal_file(key, &mut sealed);
        self.unspooled.extend(sealed);
        self.spool_and_save(now);
        if self.emf_pending(key) {
            return;
        }
        match journal.reset() {
            Ok(()) => {
                if let Some(j) = &mut self.emf_journal {
                    j.generation = journal.generation();
                    j.received_end = journal.size();
                }
                self.positions_dirty = true;
            }
            Err(e) => crate::error!("logs: emptying {}: {e}", journal.path().display()),
        }
    }

    /// Everything before this offset is spooled, acknowledged or filtered.
    fn safe_offset(&self, f: &Tailed) -> u64 {
        let mut safe = f.read_offset - f.buf.len() as u64;
        if let Some(p) = f.asm.pending_start() {
            safe = safe.min(p);
        }
        if let Some(p) = self.batches.file_floor(f.key) {
            safe = safe.min(p);
        }
        for s in &self.unspooled {
            for x in s.files.iter().filter(|x| x.key == f.key) {
                safe = safe.min(x.first_start);
            }
        }
        safe
    }

    fn positions(&self) -> Vec<Position> {
        let finished = self
            .finished
            .iter()
            .filter(|(k, _)| !self.files.iter().any(|f| f.key == **k))
            .map(|(k, (fp, offset, path))| Position {
                key: *k,
                fingerprint: *fp,
                offset: *offset,
                path: path.clone(),
            });
        self.files
            .iter()
            .map(|f| Position {
                key: f.key,
                fingerprint: f.fingerprint,
                offset: self.safe_offset(f),
                path: f.path.clone(),
            })
            .chain(finished)
            .chain(self.emf_journal.as_ref().map(|j| {
                // No path: a journal is never looked for as a renamed file.
                let offset = self
                    .batches
                    .file_floor(j.key)
                    .into_iter()
                    .chain(
                        self.unspooled
                            .iter()
                            .flat_map(|s| &s.files)
                            .filter(|x| x.key == j.key)
                            .map(|x| x.first_start),
                    )
                    .min()
                    .unwrap_or(j.received_end);
                Position {
                    key: j.key,
                    fingerprint: j.generation,
                    offset,
                    path: PathBuf::new(),
                }
            }))
            .collect()
    }

    /// Appends the sealed batches in order, then saves the positions — both
    /// under the spool's lock (see the module docs).
    fn spool_and_save(&mut self, now: Instant) {
        // Progress past filtered lines only is saved at most once per
        // flush interval (losing it re-reads lines that are dropped again).
        let save_due = self.positions_dirty
            && self
                .last_save
                .is_none_or(|t| now.duration_since(t) >= self.flush);
        if self.unspooled.is_empty() && !save_due {
            return;
        }
        let shared = Arc::clone(&self.shared);
        let mut spool = shared.spool.lock().unwrap_or_else(|e| e.into_inner());
        let mut pushed = 0;
        for s in &self.unspooled {
            match spool.push(&s.batch) {
                Ok(dropped) => {
                    pushed += 1;
                    self.stats.batches_spooled += 1;
                    if dropped.batches > 0 {
                        self.stats.events_overflowed += dropped.datums;
                        crate::warn!(
                            "logs: spool full: dropped the {} oldest batch(es) ({} events)",
                            dropped.batches,
                            dropped.datums
                        );
                    }
                }
                Err(e) => {
                    crate::error!("logs: cannot append to the spool ({e}); retrying");
                    break;
                }
            }
        }
        self.unspooled.drain(..pushed);
        match positions::save(&self.positions_path, &self.positions()) {
            Ok(()) => {
                self.positions_dirty = false;
                self.last_save = Some(now);
            }
            Err(e) => crate::error!("logs: saving positions: {e}"),
        }
        drop(spool);
        if pushed > 0 {
            shared.appended.notify_all();
        }
    }

    /// The files of entry `ci` to tail now: every match with
    /// `publish_multi_logs`, else only the most recently modified one (the
    /// stock agent's `getTargetFiles`; a tie keeps the file already tailed).
    /// Every regular match's key goes into `matched`.
    fn targets(&self, ci: usize, matched: &mut HashSet<FileKey>) -> Vec<(PathBuf, FileKey, u64)> {
        let multi = self.collectors[ci].cfg.publish_multi_logs;
        let mut out = Vec::new();
        let mut newest: Option<(std::time::SystemTime, bool, PathBuf, FileKey, u64)> = None;
        for path in super::glob::expand(&self.collectors[ci].cfg.file_path) {
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if !meta.is_file() || is_compressed(&path) {
                continue;
            }
            let key = FileKey {
                dev: meta.dev(),
                ino: meta.ino(),
            };
            matched.insert(key);
            if multi {
                out.push((path, key, meta.len()));
                continue;
            }
            let mtime = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
            let current = self
                .files
                .iter()
                .any(|f| f.key == key && f.collector == ci && !f.rotated && !f.done);
            let better = newest
                .as_ref()
                .is_none_or(|(t, cur, ..)| (mtime, current) > (*t, *cur));
            if better {
                newest = Some((mtime, current, path, key, meta.len()));
            }
        }
        out.extend(newest.map(|(_, _, path, key, len)| (path, key, len)));
        out
    }

    fn scan(&mut self, now: Instant) {
        let first = !self.scanned_once;
        self.scanned_once = true;
        let mut seen: Vec<(FileKey, PathBuf)> = Vec::new();
        let mut matched = HashSet::new();
        for ci in 0..self.collectors.len() {
            for (path, key, len) in self.targets(ci, &mut matched) {
                if seen.iter().any(|(k, _)| *k == key) {
                    continue;
                }
                seen.push((key, path.clone()));
                if let Some(f) = self.files.iter_mut().find(|f| f.key == key) {
                    if f.path != path {
                        f.path = path.clone();
                        self.positions_dirty = true;
                    }
                    f.rotated = false;
                    continue;
                }
                self.open(ci, &path, key, len, first, now);
            }
        }
        // A file no glob reaches at its path any more has been rotated away,
        // or a newer file matches its entry: either way it is read to its
        // end (lines written before the switch are not lost), then let go.
        for f in &mut self.files {
            if !f.rotated && !seen.iter().any(|(k, _)| *k == f.key) {
                f.rotated = true;
                f.last_growth = now;
                crate::info!(
                    "logs: {} was rotated away or a newer file matches its entry; reading it to its end",
                    f.path.display()
                );
            }
        }
        // Finished files are remembered while a glob still matches them.
        let before = self.finished.len();
        self.finished.retain(|k, _| matched.contains(k));
        if self.finished.len() != before {
            self.positions_dirty = true;
        }
        if first {
            self.find_renamed(now);
            self.resume.clear();
        }
    }

    /// Start-up: a saved file that no glob reaches, found by inode in the
    /// directory it was last seen in, is read to its end.
    fn find_renamed(&mut self, now: Instant) {
        let lost: Vec<(FileKey, PathBuf)> = self
            .resume
            .iter()
            .filter(|(k, _)| !self.files.iter().any(|f| f.key == **k))
            .filter_map(|(k, v)| {
                v.iter()
                    .find(|(_, _, p)| !p.as_os_str().is_empty())
                    .map(|(_, _, p)| (*k, p.clone()))
            })
            .collect();
        for (key, old_path) in lost {
            let Some(dir) = old_path.parent() else {
                continue;
            };
            let Ok(rd) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in rd.filter_map(|e| e.ok()) {
                let Ok(meta) = entry.metadata() else { continue };
                if meta.is_file() && meta.dev() == key.dev && meta.ino() == key.ino {
                    let ci = self
                        .collectors
                        .iter()
                        .position(|c| {
                            super::glob::component_matches(
                                c.cfg.file_path.rsplit('/').next().unwrap_or("").as_bytes(),
                                old_path
                                    .file_name()
                                    .map(|n| n.as_encoded_bytes())
                                    .unwrap_or(b""),
                            )
                        })
                        .unwrap_or(0);
                    if ci < self.collectors.len() {
                        let path = entry.path();
                        self.open(ci, &path, key, meta.len(), false, now);
                        if let Some(f) = self.files.iter_mut().find(|f| f.key == key) {
                            // Still named by its old destination's rules.
                            f.dest = self_dest_for(&self.collectors[ci], &old_path);
                            f.rotated = true;
                            crate::info!(
                                "logs: resuming {} (was {}) to its end",
                                path.display(),
                                old_path.display()
                            );
                        }
                    }
                    break;
                }
            }
        }
    }

    fn open(&mut self, ci: usize, path: &Path, key: FileKey, size: u64, first: bool, now: Instant) {
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                crate::warn!("logs: cannot open {}: {e}", path.display());
                return;
            }
        };
        let Ok(fingerprint) = Fingerprint::of(&mut file, size) else {
            return;
        };
        let saved = self.resume.get(&key).and_then(|v| {
            v.iter()
                .filter(|(fp, _, _)| fp.matches(&mut file, size))
                .map(|(_, off, _)| *off)
                .max()
        });
        let saved = saved.or_else(|| {
            self.finished
                .get(&key)
                .filter(|(fp, _, _)| fp.matches(&mut file, size))
                .map(|(_, off, _)| *off)
        });
        let offset = match saved {
            // Shorter than where we were: truncated while we were away.
            Some(off) if off > size => 0,
            Some(off) => off,
            None if first && self.start_at_end => size,
            None => 0,
        };
        let recent = bytes_before(&mut file, offset, RECENT_BYTES);
        if file.seek(SeekFrom::Start(offset)).is_err() {
            return;
        }
        let dest = self.destination(ci, path);
        crate::info!(
            "logs: tailing {} into {}/{} from byte {offset}",
            path.display(),
            dest.group,
            dest.stream
        );
        self.positions_dirty = true;
        self.files.push(Tailed {
            key,
            fingerprint,
            path: path.to_owned(),
            collector: ci,
            dest,
            file,
            read_offset: offset,
            buf: Vec::new(),
            recent,
            asm: Assembler::default(),
            rotated: false,
            last_growth: now,
            done: false,
            removed: false,
        });
    }

    /// Reads file `i`'s new lines into `out`. `Some(n)` when it was
    /// truncated: the first `n` events of `out` precede the truncation.
    fn read_file(
        &mut self,
        i: usize,
        now: Instant,
        now_ms: i64,
        buf: &mut [u8],
        out: &mut Vec<Completed>,
    ) -> Option<usize> {
        let flush = self.flush;
        if self.files[i].done {
            return None;
        }
        let size = self.files[i]
            .file
            .metadata()
            .map(|m| m.len())
            .unwrap_or(self.files[i].read_offset);
        let copy = if size < self.files[i].read_offset {
            let tailed: Vec<FileKey> = self.files.iter().map(|f| f.key).collect();
            Some(find_copy(&self.files[i], &tailed))
        } else {
            None
        };
        let f = &mut self.files[i];
        let rules = &self.collectors[f.collector].rules;
        let mut truncated = None;
        if let Some(copy) = copy {
            // copytruncate: the lines written after our last read and before
            // the truncation are only in the copy; read them from there, at
            // the offsets they had here, then start over at 0.
            let truncated_at = f.read_offset;
            match copy {
                Some((copy_path, copy_file)) => {
                    let original = std::mem::replace(&mut f.file, copy_file);
                    read_available(f, rules, now, now_ms, buf, usize::MAX, out);
                    f.file = original;
                    crate::info!(
                        "logs: {} was truncated (copytruncate); read bytes {truncated_at}..{} \
                         from its copy {}, now reading it from the start",
                        f.path.display(),
                        f.read_offset,
                        copy_path.display()
                    );
                }
                None => crate::warn!(
                    "logs: {} was truncated and no copy of it (same first bytes, at least \
                     {truncated_at} bytes) is beside it: lines written after byte {truncated_at} \
                     and before the truncation, if any, are lost; reading it from the start",
                    f.path.display()
                ),
            }
            f.asm
                .flush_if_quiet(rules, now, Duration::ZERO, now_ms, out);
            finish_partial(f, rules, now, now_ms, out);
            truncated = Some(out.len());
            f.read_offset = 0;
            f.buf.clear();
            f.recent.clear();
            if f.file.seek(SeekFrom::Start(0)).is_err() {
                return truncated;
            }
            if let Ok(fp) = Fingerprint::of(&mut f.file, size) {
                f.fingerprint = fp;
            }
            if f.file.seek(SeekFrom::Start(0)).is_err() {
                return truncated;
            }
        }
        read_available(f, rules, now, now_ms, buf, READ_BUDGET, out);
        if f.fingerprint.len < FINGERPRINT_BYTES as u32
            && f.read_offset > u64::from(f.fingerprint.len)
        {
            let pos = f.read_offset;
            if let Ok(fp) = Fingerprint::of(&mut f.file, pos) {
                f.fingerprint = fp;
            }
            let _ = f.file.seek(SeekFrom::Start(pos));
        }
        f.asm.flush_if_quiet(rules, now, flush, now_ms, out);
        if f.rotated && now.saturating_duration_since(f.last_growth) >= ROTATED_GRACE {
            f.asm
                .flush_if_quiet(rules, now, Duration::ZERO, now_ms, out);
            finish_partial(f, rules, now, now_ms, out);
            f.done = true;
            crate::info!("logs: finished rotated file {}", f.path.display());
        }
        truncated
    }

    /// `auto_removal`: deletes a file once a newer one of the same entry
    /// exists and every byte of it is acknowledged.
    fn auto_remove(&mut self) {
        if !self.collectors.iter().any(|c| c.cfg.auto_removal) {
            return;
        }
        let acked = self
            .shared
            .acked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut remove = Vec::new();
        for (i, f) in self.files.iter().enumerate() {
            if !self.collectors[f.collector].cfg.auto_removal || f.removed {
                continue;
            }
            // Only a file no longer tailed as its entry's current one, once
            // that entry tails another (never the file being written).
            let newer = f.rotated
                && self
                    .files
                    .iter()
                    .any(|g| g.collector == f.collector && !g.rotated && !g.done);
            let size = f.file.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
            let settled = self.safe_offset(f) == size && f.read_offset == size;
            if newer && settled && acked.get(&f.key).is_some_and(|&a| a >= size) {
                remove.push(i);
            }
        }
        for i in remove {
            let f = &mut self.files[i];
            let same = std::fs::metadata(&f.path)
                .is_ok_and(|m| m.dev() == f.key.dev && m.ino() == f.key.ino);
            if same {
                match std::fs::remove_file(&f.path) {
                    Ok(()) => crate::info!("logs: auto_removal: deleted {}", f.path.display()),
                    Err(e) => crate::warn!("logs: auto_removal: {}: {e}", f.path.display()),
                }
            }
            f.done = true;
            f.removed = true;
        }
    }

    /// Whether nothing is open or waiting for the spool.
    pub fn is_idle(&self) -> bool {
        self.batches.is_empty() && self.unspooled.is_empty()
    }
}

/// Reads `f.file` from its position to its end (or `budget` bytes), turning
/// complete lines into events at their offsets in the file.
fn read_available(
    f: &mut Tailed,
    rules: &LineRules,
    now: Instant,
    now_ms: i64,
    buf: &mut [u8],
    budget: usize,
    out: &mut Vec<Completed>,
) {
    let mut budget = budget;
    while budget > 0 {
        let n = match f.file.read(buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        budget = budget.saturating_sub(n);
        f.last_growth = now;
        let chunk_start = f.read_offset;
        f.read_offset += n as u64;
        remember_recent(&mut f.recent, &buf[..n]);
        let mut line_start_in_chunk = 0usize;
        for nl in memchr_iter(&buf[..n]) {
            let line_end_offset = chunk_start + nl as u64 + 1;
            let start = line_end_offset - (f.buf.len() + nl - line_start_in_chunk) as u64 - 1;
            f.buf.extend_from_slice(&buf[line_start_in_chunk..nl]);
            let line = std::mem::take(&mut f.buf);
            f.asm
                .push_line(rules, &line, start..line_end_offset, now, now_ms, out);
            f.buf = line;
            f.buf.clear();
            line_start_in_chunk = nl + 1;
        }
        f.buf.extend_from_slice(&buf[line_start_in_chunk..n]);
        if f.buf.len() > MAX_MESSAGE_BYTES {
            // A line longer than an event can be: sent in pieces.
            let start = f.read_offset - f.buf.len() as u64;
            let line = std::mem::take(&mut f.buf);
            f.asm
                .push_line(rules, &line, start..f.read_offset, now, now_ms, out);
        }
    }
}

/// Keeps the last [`RECENT_BYTES`] of what was read.
fn remember_recent(recent: &mut Vec<u8>, chunk: &[u8]) {
    let keep = chunk.len().min(RECENT_BYTES);
    recent.extend_from_slice(&chunk[chunk.len() - keep..]);
    let excess = recent.len().saturating_sub(RECENT_BYTES);
    recent.drain(..excess);
}

/// Up to `n` bytes just before `offset` (fewer, or none, when unreadable).
fn bytes_before(file: &mut File, offset: u64, n: usize) -> Vec<u8> {
    let from = offset.saturating_sub(n as u64);
    let mut out = Vec::new();
    if file.seek(SeekFrom::Start(from)).is_ok() {
        let _ = file.take(offset - from).read_to_end(&mut out);
    }
    out
}

/// The copy copytruncate made of `f` before emptying it: a regular,
/// uncompressed file in the same directory, not tailed itself (its lines
/// come on their own), at least `f.read_offset` long, starting with the
/// bytes `f`'s fingerprint covers and holding `f.recent` just before
/// `f.read_offset`. The newest such file, positioned at `f.read_offset`.
/// `None` when there is none (a compressed copy, a plain `> file`).
fn find_copy(f: &Tailed, tailed: &[FileKey]) -> Option<(PathBuf, File)> {
    let dir = f.path.parent()?;
    let mut candidates: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            let key = FileKey {
                dev: meta.dev(),
                ino: meta.ino(),
            };
            let path = e.path();
            let eligible = meta.is_file()
                && meta.len() >= f.read_offset
                && !tailed.contains(&key)
                && !is_compressed(&path);
            eligible.then(|| (meta.modified().unwrap_or(std::time::UNIX_EPOCH), path))
        })
        .collect();
    // Newest first: an older rotation with the same start loses.
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
    candidates.into_iter().find_map(|(_, path)| {
        let mut file = File::open(&path).ok()?;
        let size = file.metadata().ok()?.len();
        let same = f.fingerprint.matches(&mut file, size)
            && bytes_before(&mut file, f.read_offset, f.recent.len()) == f.recent;
        (same && file.seek(SeekFrom::Start(f.read_offset)).is_ok()).then_some((path, file))
    })
}

fn self_dest_for(c: &Collector, path: &Path) -> Destination {
    let path_str = path.to_string_lossy();
    Destination {
        group: c
            .group
            .clone()
            .unwrap_or_else(|| group_from_path(&path_str)),
        stream: c.stream.clone(),
        emf: false,
        retention_days: c.cfg.retention_in_days,
        group_class: c.cfg.log_group_class.clone(),
    }
}

/// A file that will not grow any more: its partial last line is an event.
fn finish_partial(
    f: &mut Tailed,
    rules: &LineRules,
    now: Instant,
    now_ms: i64,
    out: &mut Vec<Completed>,
) {
    if f.buf.is_empty() {
        return;
    }
    let start = f.read_offset - f.buf.len() as u64;
    let line = std::mem::take(&mut f.buf);
    f.asm
        .push_line(rules, &line, start..f.read_offset, now, now_ms, out);
    f.asm
        .flush_if_quiet(rules, now, Duration::ZERO, now_ms, out);
}

fn memchr_iter(b: &[u8]) -> impl Iterator<Item = usize> + '_ {
    b.iter()
        .enumerate()
        .filter(|(_, c)| **c == b'\n')
        .map(|(i, _)| i)
}

/// Compressed rotations (`app.log.1.gz`) are never tailed (stock agent).
fn is_compressed(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("gz" | "zst" | "zip" | "bz2" | "xz" | "tar" | "rar")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AgentConfig;
    use std::io::Write;

    struct Rig {
        dir: tempfile::TempDir,
        shared: Arc<Shared>,
    }

    fn names() -> HostNames {
        HostNames {
            instance_id: "i-1".into(),
            hostname: "h".into(),
            local_hostname: "h".into(),
            ip_address: "127.0.0.1".into(),
        }
    }

    impl Rig {
        fn new() -> Rig {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(dir.path().join("spool")).unwrap();
            let shared = Rig::open_shared(dir.path());
            Rig { dir, shared }
        }

        fn open_shared(dir: &Path) -> Arc<Shared> {
            let (spool, _) = Spool::open(&dir.join("spool"), 64 << 20).unwrap();
            Arc::new(Shared {
                spool: Mutex::new(spool),
                appended: Condvar::new(),
                acked: Mutex::new(HashMap::new()),
            })
        }

        /// The same directory after an agent restart (or `kill -9`): the
        /// spool reopened from disk, nothing kept from memory.
        fn restarted(self) -> Rig {
            Rig {
                shared: Rig::open_shared(self.dir.path()),
                dir: self.dir,
            }
        }

        fn log(&self) -> PathBuf {
            self.dir.path().join("app.log")
        }

        fn positions(&self) -> PathBuf {
            self.dir.path().join("spool/positions")
        }

        /// A tailer over `app.log`; `fresh` makes it read existing files
        /// from their start (a positions file exists, even empty).
        fn tailer(&self, fresh: bool) -> Tailer {
            self.tailer_with(fresh, &self.log().display().to_string(), "")
        }

        fn tailer_with(&self, fresh: bool, file_path: &str, extra: &str) -> Tailer {
            if fresh {
                positions::save(&self.positions(), &[]).unwrap();
            }
            let json = format!(
                r#"{{"logs":{{"logs_collected":{{"files":{{"collect_list":[
                    {{"file_path":"{file_path}","log_group_name":"g","log_stream_name":"{{hostname}}"{extra}}}]}}}}}}}}"#,
            );
            let cfg = AgentConfig::parse(&json).unwrap().logs.unwrap();
            Tailer::new(
                &cfg.files,
                &names(),
                "h".into(),
                Duration::from_secs(1),
                self.positions(),
                Arc::clone(&self.shared),
            )
        }

        /// Everything spooled so far, in order (and removes it, as an
        /// acknowledging shipper would).
        fn ship_all(&self) -> Vec<String> {
            let mut out = Vec::new();
            let mut spool = self.shared.spool.lock().unwrap();
            while let Some(b) = spool.peek().unwrap() {
                let r = LogRecord::decode(&b.body).unwrap();
                assert_eq!((r.group.as_str(), r.stream.as_str()), ("g", "h"));
                let mut json = Vec::new();
                std::io::Read::read_to_end(
                    &mut flate2::read::GzDecoder::new(&r.body[..]),
                    &mut json,
                )
                .unwrap();
                let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
                for e in v["logEvents"].as_array().unwrap() {
                    out.push(e["message"].as_str().unwrap().to_owned());
                }
                spool.pop().unwrap();
            }
            out
        }
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    /// Polls with a fresh scan and seals what is open.
    fn poll(t: &mut Tailer) {
        t.last_scan = None;
        t.tick(Vec::new(), true);
    }

    #[test]
    fn first_start_begins_at_the_end_later_files_at_the_start() {
        let rig = Rig::new();
        append(&rig.log(), "old 1\nold 2\n");
        let mut t = rig.tailer(false);
        poll(&mut t);
        append(&rig.log(), "new 1\n");
        poll(&mut t);
        assert_eq!(rig.ship_all(), ["new 1"]);
    }

    #[test]
    fn partial_lines_wait_for_their_newline() {
        let rig = Rig::new();
        append(&rig.log(), "x1\npart");
        let mut t = rig.tailer(true);
        poll(&mut t);
        assert_eq!(rig.ship_all(), ["x1"]);
        append(&rig.log(), "ial\n");
        poll(&mut t);
        assert_eq!(rig.ship_all(), ["partial"]);
    }

    #[test]
    fn rename_rotation_finishes_the_old_file_then_reads_the_new_one() {
        let rig = Rig::new();
        append(&rig.log(), "a1\na2\n");
        let mut t = rig.tailer(true);
        poll(&mut t);
        // The writer keeps its descriptor across the rename for a while.
        let mut writer = std::fs::OpenOptions::new()
            .append(true)
            .open(rig.log())
            .unwrap();
        writer.write_all(b"a3\n").unwrap();
        let rotated = rig.dir.path().join("app.log.1");
        std::fs::rename(rig.log(), &rotated).unwrap();
        writer.write_all(b"a4\n").unwrap();
        append(&rig.log(), "b1\n");
        poll(&mut t);
        writer.write_all(b"a5\n").unwrap();
        append(&rig.log(), "b2\n");
        poll(&mut t);
        let got = rig.ship_all();
        let a: Vec<&String> = got.iter().filter(|m| m.starts_with('a')).collect();
        let b: Vec<&String> = got.iter().filter(|m| m.starts_with('b')).collect();
        assert_eq!(a, ["a1", "a2", "a3", "a4", "a5"]);
        assert_eq!(b, ["b1", "b2"]);
    }

    #[test]
    fn copytruncate_starts_over_at_zero() {
        let rig = Rig::new();
        append(&rig.log(), "c1 long line\nc2 long line\n");
        let mut t = rig.tailer(true);
        poll(&mut t);
        // copytruncate: the content is copied elsewhere, the file emptied.
        std::fs::OpenOptions::new()
            .write(true)
            .open(rig.log())
            .unwrap()
            .set_len(0)
            .unwrap();
        append(&rig.log(), "d1\n");
        poll(&mut t);
        append(&rig.log(), "d2\n");
        poll(&mut t);
        assert_eq!(rig.ship_all(), ["c1 long line", "c2 long line", "d1", "d2"]);
    }

    /// logrotate's copytruncate: copy the file, then empty it in place.
    fn copytruncate(from: &Path, to: &Path) {
        std::fs::copy(from, to).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(from)
            .unwrap()
            .set_len(0)
            .unwrap();
    }

    #[test]
    fn copytruncate_reads_lines_written_after_the_last_read_from_the_copy() {
        // Regression: lines written between the tail's last read and the
        // truncation were lost (the e2e test's copytruncate step).
        let rig = Rig::new();
        append(&rig.log(), "c1 first line\nc2 second line\n");
        let mut t = rig.tailer(true);
        poll(&mut t);
        append(&rig.log(), "c3 after the last read\nc4 partial, no newline");
        // An older rotation beside it, with other content, must not be used.
        append(
            &rig.dir.path().join("app.log.2"),
            "z1 older rotation, other bytes\n",
        );
        copytruncate(&rig.log(), &rig.dir.path().join("app.log.1"));
        append(&rig.log(), "d1\n");
        poll(&mut t);
        append(&rig.log(), "d2\n");
        poll(&mut t);
        assert_eq!(
            rig.ship_all(),
            [
                "c1 first line",
                "c2 second line",
                "c3 after the last read",
                "c4 partial, no newline",
                "d1",
                "d2"
            ]
        );
    }

    #[test]
    fn copytruncate_after_a_restart_finds_the_copy_from_the_resumed_offset() {
        let rig = Rig::new();
        append(&rig.log(), "e1 before the restart\n");
        let mut t = rig.tailer(true);
        poll(&mut t);
        assert_eq!(rig.ship_all(), ["e1 before the restart"]);
        drop(t);
        let rig = rig.restarted();
        let mut t = rig.tailer(false);
        poll(&mut t);
        append(&rig.log(), "e2 after the restart\n");
        copytruncate(&rig.log(), &rig.dir.path().join("app.log.1"));
        append(&rig.log(), "f1\n");
        poll(&mut t);
        assert_eq!(rig.ship_all(), ["e2 after the restart", "f1"]);
    }

    #[test]
    fn a_kill_right_after_a_copytruncate_loses_and_repeats_nothing() {
        let rig = Rig::new();
        append(&rig.log(), "k1 long enough line\nk2 long enough line\n");
        let mut t = rig.tailer(true);
        // Not stopping: the events stay in an open batch (flush is 1 s).
        t.tick(Vec::new(), false);
        append(&rig.log(), "k3 long enough line\n");
        copytruncate(&rig.log(), &rig.dir.path().join("app.log.1"));
        append(&rig.log(), "n1\n");
        t.tick(Vec::new(), false);
        // kill -9: whatever is only in memory is gone.
        drop(t);
        let rig = rig.restarted();
        let mut t = rig.tailer(false);
        poll(&mut t);
        assert_eq!(
            rig.ship_all(),
            [
                "k1 long enough line",
                "k2 long enough line",
                "k3 long enough line",
                "n1"
            ]
        );
    }

    #[test]
    fn a_copy_whose_bytes_before_the_offset_differ_is_not_read() {
        // Same first bytes, but not the same file: nothing is taken from it.
        let rig = Rig::new();
        append(&rig.log(), "g1 same start\ng2 read\n");
        let mut t = rig.tailer(true);
        poll(&mut t);
        append(
            &rig.dir.path().join("app.log.1"),
            "g1 same start\nXX else\ng3 not ours\n",
        );
        std::fs::OpenOptions::new()
            .write(true)
            .open(rig.log())
            .unwrap()
            .set_len(0)
            .unwrap();
        append(&rig.log(), "h1\n");
        poll(&mut t);
        assert_eq!(rig.ship_all(), ["g1 same start", "g2 read", "h1"]);
    }

    #[test]
    fn a_crash_between_spool_append_and_positions_save_repeats_nothing() {
        let rig = Rig::new();
        append(&rig.log(), "l1\nl2\n");
        let mut t = rig.tailer(true);
        poll(&mut t);
        append(&rig.log(), "l3\n");
        poll(&mut t);
        // Roll the positions back to before l3's batch, as if the agent
        // died after the spool append and before the save; keep the spool.
        let meta = std::fs::metadata(rig.log()).unwrap();
        let key = FileKey {
            dev: meta.dev(),
            ino: meta.ino(),
        };
        let mut f = File::open(rig.log()).unwrap();
        let fp = Fingerprint::of(&mut f, meta.len()).unwrap();
        positions::save(
            &rig.positions(),
            &[Position {
                key,
                fingerprint: fp,
                offset: 0,
                path: rig.log(),
            }],
        )
        .unwrap();
        drop(t);
        let rig = rig.restarted();
        let mut t = rig.tailer(false);
        append(&rig.log(), "l4\n");
        poll(&mut t);
        assert_eq!(rig.ship_all(), ["l1", "l2", "l3", "l4"]);
        // After the shipper removed everything, a restart resumes from the
        // saved positions (the spool no longer names the file).
        drop(t);
        let rig = rig.restarted();
        let mut t = rig.tailer(false);
        append(&rig.log(), "l5\n");
        poll(&mut t);
        assert_eq!(rig.ship_all(), ["l5"]);
    }

    #[test]
    fn a_restart_finishes_a_file_renamed_while_it_was_down() {
        let rig = Rig::new();
        append(&rig.log(), "r1\n");
        let mut t = rig.tailer(true);
        poll(&mut t);
        drop(t);
        append(&rig.log(), "r2\n");
        std::fs::rename(rig.log(), rig.dir.path().join("app.log.1")).unwrap();
        append(&rig.log(), "s1\n");
        let rig = rig.restarted();
        let mut t = rig.tailer(false);
        poll(&mut t);
        let mut got = rig.ship_all();
        got.sort();
        assert_eq!(got, ["r1", "r2", "s1"]);
    }

    #[test]
    fn auto_removal_deletes_a_file_once_a_newer_one_exists_and_all_is_acknowledged() {
        let rig = Rig::new();
        let first = rig.dir.path().join("app-1.log");
        append(&first, "one\n");
        let glob = format!("{}/app-*.log", rig.dir.path().display());
        let mut t = rig.tailer_with(true, &glob, r#","auto_removal":true"#);
        poll(&mut t);
        assert_eq!(rig.ship_all(), ["one"]);
        // No newer file yet: kept, even though everything is acknowledged.
        let meta = std::fs::metadata(&first).unwrap();
        let key = FileKey {
            dev: meta.dev(),
            ino: meta.ino(),
        };
        rig.shared.acked.lock().unwrap().insert(key, meta.len());
        poll(&mut t);
        assert!(first.exists());
        append(&rig.dir.path().join("app-2.log"), "two\n");
        // A newer file, but the old one's bytes are not all acknowledged.
        rig.shared.acked.lock().unwrap().insert(key, meta.len() - 1);
        poll(&mut t);
        assert!(first.exists());
        rig.shared.acked.lock().unwrap().insert(key, meta.len());
        poll(&mut t);
        assert!(!first.exists());
        assert_eq!(rig.ship_all(), ["two"]);
    }

    /// Sets `path`'s modification time `secs_ago` seconds in the past.
    fn age(path: &Path, secs_ago: u64) {
        let t = std::time::SystemTime::now() - Duration::from_secs(secs_ago);
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(t)
            .unwrap();
    }

    /// Everything spooled, as (stream, message), removed from the spool.
    fn ship_all_streams(rig: &Rig) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut spool = rig.shared.spool.lock().unwrap();
        while let Some(b) = spool.peek().unwrap() {
            let r = LogRecord::decode(&b.body).unwrap();
            let mut json = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&r.body[..]), &mut json)
                .unwrap();
            let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
            for e in v["logEvents"].as_array().unwrap() {
                out.push((r.stream.clone(), e["message"].as_str().unwrap().to_owned()));
            }
            spool.pop().unwrap();
        }
        out
    }

    #[test]
    fn a_glob_tails_only_its_newest_file_and_finishes_the_old_one_on_a_switch() {
        let rig = Rig::new();
        let dir = rig.dir.path();
        append(&dir.join("app.log.1"), "rotated 1\nrotated 2\n");
        age(&dir.join("app.log.1"), 3600);
        append(&rig.log(), "now 1\n");
        age(&rig.log(), 60);
        let glob = format!("{}/app.log*", dir.display());
        let mut t = rig.tailer_with(true, &glob, "");
        poll(&mut t);
        assert_eq!(rig.ship_all(), ["now 1"]);
        // Written to the old file just before a newer one appears (and
        // before the tail read it): still delivered, once.
        append(&rig.log(), "now 2\n");
        age(&rig.log(), 30);
        append(&dir.join("app.log.2026-12-08"), "dated 1\n");
        poll(&mut t);
        let mut got = rig.ship_all();
        got.sort();
        assert_eq!(got, ["dated 1", "now 2"]);
        append(&dir.join("app.log.2026-12-08"), "dated 2\n");
        poll(&mut t);
        assert_eq!(rig.ship_all(), ["dated 2"]);
    }

    #[test]
    fn publish_multi_logs_tails_every_match_in_its_own_stream() {
        let rig = Rig::new();
        let dir = rig.dir.path();
        append(&dir.join("app.log.1"), "one\n");
        age(&dir.join("app.log.1"), 3600);
        append(&rig.log(), "two\n");
        let glob = format!("{}/app.log*", dir.display());
        let mut t = rig.tailer_with(true, &glob, r#","publish_multi_logs":true"#);
        poll(&mut t);
        let mut got = ship_all_streams(&rig);
        got.sort();
        let stream = |name: &str| {
            format!(
                "h_{}",
                group_from_path(&dir.join(name).display().to_string()).replace('/', "_")
            )
        };
        assert_eq!(
            got,
            [
                (stream("app.log"), "two".to_owned()),
                (stream("app.log.1"), "one".to_owned())
            ]
        );
    }

    #[test]
    fn a_kill_while_finishing_the_older_file_loses_and_repeats_nothing() {
        let rig = Rig::new();
        let dir = rig.dir.path().to_owned();
        append(&rig.log(), "a1\n");
        let glob = format!("{}/app.log*", dir.display());
        let mut t = rig.tailer_with(true, &glob, "");
        // Not stopping: a1 stays in an open batch (flush is 1 s).
        t.tick(Vec::new(), false);
        append(&rig.log(), "a2\n");
        age(&rig.log(), 30);
        append(&dir.join("app.log.2"), "d1\n");
        t.last_scan = None;
        t.tick(Vec::new(), false);
        drop(t); // kill -9
        let rig = rig.restarted();
        let mut t = rig.tailer_with(false, &glob, "");
        poll(&mut t);
        let mut got = rig.ship_all();
        got.sort();
        assert_eq!(got, ["a1", "a2", "d1"]);
        // Everything acknowledged; a restart reads neither file again.
        drop(t);
        let rig = rig.restarted();
        let mut t = rig.tailer_with(false, &glob, "");
        append(&dir.join("app.log.2"), "d2\n");
        poll(&mut t);
        assert_eq!(rig.ship_all(), ["d2"]);
    }

    #[test]
    fn a_finished_older_file_resumes_at_its_end_after_a_restart() {
        let rig = Rig::new();
        let dir = rig.dir.path().to_owned();
        append(&rig.log(), "b1\n");
        let glob = format!("{}/app.log*", dir.display());
        let mut t = rig.tailer_with(true, &glob, "");
        poll(&mut t);
        age(&rig.log(), 30);
        append(&dir.join("app.log.2"), "e1\n");
        poll(&mut t);
        // Past the grace period: the old file is finished and let go.
        for f in &mut t.files {
            f.last_growth = Instant::now() - 2 * ROTATED_GRACE;
        }
        poll(&mut t);
        poll(&mut t);
        assert_eq!(t.files.len(), 1, "only the newest file stays open");
        let mut got = rig.ship_all();
        got.sort();
        assert_eq!(got, ["b1", "e1"]);
        // Written again, the old file is the newest match: read from where
        // it ended, not from 0.
        append(&rig.log(), "b2\n");
        poll(&mut t);
        assert_eq!(rig.ship_all(), ["b2"]);
        drop(t);
        let rig = rig.restarted();
        let mut t = rig.tailer_with(false, &glob, "");
        poll(&mut t);
        assert!(rig.ship_all().is_empty());
        append(&rig.log(), "b3\n");
        poll(&mut t);
        assert_eq!(rig.ship_all(), ["b3"]);
    }

    /// The listener's side: journal the lines, then send their events.
    fn journal_and_send(
        j: &Mutex<EmfJournal>,
        tx: &std::sync::mpsc::Sender<EmfEvent>,
        lines: &[String],
    ) {
        let mut j = j.lock().unwrap();
        let raw: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
        let spans = j.append(5, &raw).unwrap();
        for (l, span) in lines.iter().zip(spans) {
            let mut e = super::super::emf::parse_line(l, 5).unwrap();
            e.span = Some(span);
            tx.send(e).unwrap();
        }
    }

    fn emf_line(i: u32) -> String {
        format!(r#"{{"_aws":{{"Timestamp":1000,"LogGroupName":"g","LogStreamName":"h"}},"i":{i}}}"#)
    }

    fn attach(rig: &Rig, t: &mut Tailer) -> Arc<Mutex<EmfJournal>> {
        let (j, records) = EmfJournal::open(&rig.dir.path().join("spool/emf.journal")).unwrap();
        let j = Arc::new(Mutex::new(j));
        t.attach_emf_journal(Arc::clone(&j), records);
        j
    }

    #[test]
    fn emf_lines_in_the_journal_survive_a_kill_exactly_once() {
        let rig = Rig::new();
        let mut t = rig.tailer(true);
        let j = attach(&rig, &mut t);
        let (tx, rx) = std::sync::mpsc::channel();
        journal_and_send(&j, &tx, &[emf_line(1), emf_line(2)]);
        // Received, in an open batch (flush is 1 s): the journal is kept.
        t.tick(rx.try_iter().collect(), false);
        t.reclaim_emf_journal(&rx, false);
        assert!(j.lock().unwrap().has_records());
        drop((t, j)); // kill -9
        let rig = rig.restarted();
        let mut t = rig.tailer(false);
        let j = attach(&rig, &mut t);
        t.tick(Vec::new(), false);
        // Read back and spooled at once, without waiting for a flush.
        assert_eq!(rig.ship_all(), [emf_line(1), emf_line(2)]);
        t.reclaim_emf_journal(&rx, false);
        assert!(!j.lock().unwrap().has_records(), "emptied once spooled");
        // Spooled, then killed before the journal was emptied: not repeated.
        journal_and_send(&j, &tx, &[emf_line(3)]);
        t.tick(rx.try_iter().collect(), true);
        assert!(j.lock().unwrap().has_records());
        drop((t, j));
        let rig = rig.restarted();
        let mut t = rig.tailer(false);
        let _j = attach(&rig, &mut t);
        poll(&mut t);
        assert_eq!(rig.ship_all(), [emf_line(3)]);
    }

    #[test]
    fn a_forced_reclaim_spools_open_emf_lines_and_late_ones() {
        let rig = Rig::new();
        let mut t = rig.tailer(true);
        let j = attach(&rig, &mut t);
        let (tx, rx) = std::sync::mpsc::channel();
        journal_and_send(&j, &tx, &[emf_line(1)]);
        t.tick(rx.try_iter().collect(), false);
        // Journaled after the tick drained the channel.
        journal_and_send(&j, &tx, &[emf_line(2)]);
        t.reclaim_emf_journal(&rx, true);
        assert!(!j.lock().unwrap().has_records());
        assert_eq!(rig.ship_all(), [emf_line(1), emf_line(2)]);
    }

    #[test]
    fn derived_group_names_follow_the_stock_agent() {
        assert_eq!(
            group_from_path("/var/log/my app:1.log"),
            "/var/log/my_app_1.log"
        );
    }
}
