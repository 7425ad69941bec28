//! The database handle: ties the WAL, head, blocks, catalog and index
//! together and owns the locking discipline.
//!
//! Locks, always taken in this order:
//! 1. `seal` (one seal at a time; holds the catalog and block numbering),
//! 2. `inner` (`RwLock`: index, head, blocks; writers take it exclusively
//!    for id assignment + WAL append + head insert, queries share it),
//! 3. the WAL's internal locks.
//!
//! Compaction (module `compact`) runs under the `seal` lock too: it reads
//! immutable blocks without `inner`, writes its block, and swaps the block
//! list in one short `inner` write section, so a query sees the sources or
//! their replacement, never both.
//!
//! The fsync of a write happens *after* `inner` is released, so writers that
//! queue up behind one another share one fsync (group commit, see
//! [`crate::wal`]). A write is applied to the head in the same critical
//! section as its WAL append, so queries may observe it a few milliseconds
//! before it is acknowledged. When its group's write or fsync fails, the
//! write is refused and *undone* ([`Db::settle_unacked`]): its samples leave
//! the head, the series it defined leave the index, its batch id is
//! forgotten — before the writer hears of the refusal and before any later
//! write is appended — and the WAL moves to a fresh segment by itself, so
//! writes succeed again as soon as the disk has room.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Instant;

use crate::aggregate::{Aggregate, Bucketer};
use crate::batch_ids::{self, BATCH_IDS_FILE, BatchId, BatchIds};

use crate::batch_keys::BatchKeys;
use crate::block::{Block, BlockInfo, BlockWriter, Row, block_path};
use crate::catalog::{CATALOG_FILE, Catalog};
use crate::compact::{self, Step};
use crate::error::Error;
use crate::fsutil::{dir_bytes, sync_dir};
use crate::head::Head;
use crate::index::{Conflict, SeriesIndex};
use crate::key_table::KeyHasher;
use crate::listing_order::{ListingOrder, SETTLE_AFTER};
use crate::locks::{lock, read, write};
use crate::model::{
    FailPoint, Options, RangeQuery, ResolutionStats, Sample, SeriesFilter, SeriesKey, Stats,
    WriteBatch, Written,
};
use crate::record::{SeriesId, decode_batch, encode_batch};
use crate::recovery::{RecoveryReport, Truncation};
use crate::resolution::Resolution;
use crate::wal::{self, WalWriter};

struct Inner {
    index: SeriesIndex,
    head: Head,
    /// A head being written to a block; still visible to queries.
    sealing: Option<Arc<Head>>,
    blocks: Vec<Arc<Block>>,
    sealed_samples: u64,
    /// Newest sample timestamp per series id (`i64::MIN`: none), so
    /// listings can hide inactive series without reading data.
    last_ts: Vec<i64>,
    compactions: u64,
    last_seal: Instant,
    /// Ids of stored batches (idempotent writes), and duplicates refused.
    batch_ids: BatchIds,
    duplicate_batches: u64,
    /// Series defined since the catalog last received definitions (in
    /// definition order); a seal appends them.
    uncataloged: Vec<SeriesId>,
    /// Series forgotten since open (all their data expired).
    forgotten_series: u64,
    /// Reused record buffer and the ids a write created.
    record: Vec<u8>,
    new_ids: Vec<SeriesId>,
    /// Writes applied to the head whose WAL record may not be durable yet,
    /// oldest first: what to undo if their flush fails.
    unacked: VecDeque<Unacked>,
    /// WAL flush failures already undone (see [`crate::wal::WalWriter::progress`]).
    refusals_seen: usize,
}

/// What one write changed in memory, to undo it if its WAL flush fails.
struct Unacked {
    seq: u64,
    /// The series of each sample pushed to the head, in batch order.
    ids: Vec<SeriesId>,
    /// Series this write defined.
    new_ids: Vec<SeriesId>,
    batch_id: Option<BatchId>,
}

impl Inner {
    /// The head holds `max_head_samples`, or `seal_interval` has passed
    /// since the last seal.
    fn head_due(&self, opts: &Options) -> bool {
        self.head.samples() >= opts.max_head_samples
            || self.last_seal.elapsed() >= opts.seal_interval
    }
}

struct SealState {
    catalog: Catalog,
    /// Ids of forgotten series the catalog file may still name: reusable
    /// only after a catalog rewrite.
    pending_free: Vec<SeriesId>,
    /// Look for series to forget at the end of the next compaction (set at
    /// open and after an expiry).
    forget_due: bool,
    /// The catalog names series the index does not hold; rewrite it.
    catalog_stale: bool,
    next_block_id: u64,
    /// Set when a failed multi-file update could not be cleaned up: more
    /// seals or compactions could then make the leftovers look valid.
    poisoned: Option<String>,
}

/// An embedded time-series database rooted at one directory.
pub struct Db {
    dir: PathBuf,
    opts: Options,
    inner: RwLock<Inner>,
    seal: Mutex<SealState>,
    wal: WalWriter,
    report: RecoveryReport,
    /// The index's hasher and listing order, used without the index lock.
    key_hasher: KeyHasher,
    order: Arc<ListingOrder>,
}

fn create_dir(path: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(path).map_err(|e| Error::io(format!("creating {}", path.display()), e))
}

impl Db {
    /// Opens or creates a database in `dir`: loads the catalog and block
    /// indexes, replays the WAL (cutting a torn tail), and starts a new WAL
    /// segment. See [`Db::recovery_report`] for what had to be repaired.
    pub fn open(dir: &Path, opts: Options) -> Result<Db, Error> {
        let blocks_dir = dir.join("blocks");
        let wal_dir = dir.join("wal");
        create_dir(&blocks_dir)?;
        create_dir(&wal_dir)?;
        let mut report = RecoveryReport::default();
        let now_secs = opts.clock.now_ms().div_euclid(1000);

        let mut segments = wal::list_segments(&wal_dir)?;
        let (mut blocks, next_block_id) = load_blocks(
            &blocks_dir,
            segments.first().copied(),
            opts.recover.then_some(now_secs),
            &mut report,
        )?;
        let covered_below = blocks
            .iter()
            .map(|b| b.info.wal_covered_below)
            .max()
            .unwrap_or(0);

        // Built before definitions are loaded: an id no block (and no WAL
        // sample) uses may be a forgotten series (see `define_replacing`).
        let mut last_ts = Vec::new();
        for b in &blocks {
            for sec in b.sections() {
                note_ts(&mut last_ts, sec.series, sec.max_ts);
            }
        }

        let crate::catalog::Opened {
            mut catalog,
            defs,
            rebuild: mut rebuild_catalog,
        } = Catalog::open(dir, opts.fsync, opts.recover, now_secs, &mut report)?;
        let mut index = SeriesIndex::default();
        let mut replaced = Vec::new();
        for (id, key) in defs {
            define_replacing(&mut index, &last_ts, id, key, &mut replaced).map_err(|c| {
                Error::corrupt(
                    dir.join(CATALOG_FILE),
                    format!("conflicting definition ({c:?})"),
                )
            })?;
        }
        let mut in_catalog = vec![false; index.next_id()];
        for id in index.ids() {
            in_catalog[id as usize] = true;
        }

        let already_sealed = segments.iter().take_while(|&&n| n < covered_below).count();
        if already_sealed > 0 {
            report.wal_segments_already_sealed = already_sealed;
            wal::remove_segments_below(&wal_dir, covered_below, opts.fsync)?;
            segments.drain(..already_sealed);
        }
        let mut batch_ids = BatchIds::new(opts.batch_id_retention, opts.max_batch_ids);
        let cut_before = report.truncations.len();
        let stored_ids = batch_ids::load(dir, &mut report)?;
        if opts.recover && report.truncations.len() > cut_before {
            // Keep the damaged file, then store what was intact, so the
            // repaired directory checks clean.
            let path = dir.join(BATCH_IDS_FILE);
            if path.exists() {
                report
                    .kept_aside
                    .push(crate::fsutil::keep_aside(&path, now_secs)?);
            }
            batch_ids::store(dir, &stored_ids, opts.fsync)?;
        }
        for (id, at) in stored_ids {
            batch_ids.insert(id, at);
        }
        let mut head = Head::default();
        let mut samples_replayed = 0u64;
        let mut wal_undefined: Vec<(SeriesId, PathBuf)> = Vec::new();
        let unclosed = wal::replay(
            &wal_dir,
            &segments,
            opts.recover,
            now_secs,
            &mut report,
            |segment, payload| {
                let rec = decode_batch(payload).map_err(|e| e.at(segment))?;
                if let Some((id, at)) = rec.batch {
                    batch_ids.insert(id, at);
                }
                for (id, key) in rec.defs {
                    define_replacing(&mut index, &last_ts, id, key, &mut replaced).map_err(
                        |c| {
                            Error::corrupt(
                                segment,
                                format!("conflicting series definition ({c:?})"),
                            )
                        },
                    )?;
                }
                for (id, sample) in rec.samples {
                    if index.key(id).is_none() && !wal_undefined.iter().any(|u| u.0 == id) {
                        // The catalog lost its definition: checked below.
                        wal_undefined.push((id, segment.to_owned()));
                    }
                    note_ts(&mut last_ts, id, sample.timestamp_ms);
                    head.push(id, sample);
                    samples_replayed += 1;
                }
                Ok(())
            },
        )?;
        report.wal_samples_replayed = samples_replayed;
        // Every series a block holds data for must be defined: a catalog
        // that lost definitions must not orphan data silently.
        let mut undefined = undefined_block_series(&blocks, &index);
        for (id, segment) in wal_undefined {
            if index.key(id).is_none() && !undefined.iter().any(|u| u.0 == id) {
                undefined.push((id, segment));
            }
        }
        if let Some((series, file)) = undefined.first() {
            let catalog_path = dir.join(CATALOG_FILE);
            if !opts.recover {
                return Err(Error::CatalogMissingSeries {
                    path: catalog_path,
                    file: file.clone(),
                    series: *series,
                    missing: undefined.len(),
                });
            }
            let kept = report
                .truncations
                .iter()
                .any(|t| t.path == catalog_path && t.kept_aside.is_some());
            if !kept {
                report
                    .kept_aside
                    .push(crate::fsutil::keep_aside(&catalog_path, now_secs)?);
            }
            rebuild_catalog = true;
            let wanted: HashSet<SeriesId> = undefined.iter().map(|u| u.0).collect();
            for id in define_from_blocks(&blocks, &mut index, wanted, &mut report) {
                if id as usize >= in_catalog.len() {
                    in_catalog.resize(id as usize + 1, false);
                }
                in_catalog[id as usize] = true;
            }
        }
        batch_ids.prune(opts.clock.now_ms());
        // A series with no block and no WAL sample has no data left: it was
        // being forgotten when the process stopped (catalog appends happen
        // at seals, whose data stays in the WAL until their blocks exist).
        let unused = |id: &SeriesId| last_ts.get(*id as usize).is_none_or(|&t| t == i64::MIN);
        let dead: HashSet<SeriesId> = index.ids().filter(unused).collect();
        index.remove_many(&dead);
        replaced.extend(dead);
        let uncataloged: Vec<SeriesId> = index
            .ids()
            .filter(|&id| !in_catalog.get(id as usize).copied().unwrap_or(false))
            .collect();
        // Ids named nowhere (forgotten series whose catalog rewrite finished)
        // are free; replaced ones wait for the next rewrite.
        let waiting: HashSet<SeriesId> = replaced.iter().copied().collect();
        let holes: Vec<SeriesId> = index
            .holes()
            .into_iter()
            .filter(|id| unused(id) && !waiting.contains(id))
            .collect();
        index.release(holes);

        if opts.recover {
            // Blocks are checked only at read otherwise; a damaged section
            // would fail every query of its series over the block's window.
            for b in &mut blocks {
                if let Some(salvaged) = salvage_block(b, &index, now_secs, opts.fsync, &mut report)?
                {
                    *b = Arc::new(salvaged);
                }
            }
        }
        let sealed_samples = blocks.iter().map(|b| b.samples).sum();

        if rebuild_catalog {
            let pending: HashSet<SeriesId> = uncataloged.iter().copied().collect();
            let defs: Vec<(SeriesId, Arc<SeriesKey>)> = index
                .ids()
                .filter(|id| !pending.contains(id))
                .filter_map(|id| index.key(id).map(|k| (id, k.clone())))
                .collect();
            catalog.rewrite(defs.iter().map(|(id, k)| (*id, k.as_ref())))?;
        }

        // Last, so that a refused open leaves the WAL as it found it.
        if let Some((path, len)) = unclosed {
            wal::close_segment(&path, len)?;
        }
        let next_segment = segments
            .last()
            .map_or(covered_below.max(1), |n| n + 1)
            .max(covered_below);
        let wal = WalWriter::create(&wal_dir, next_segment, opts.fsync)?;

        // Settled now: a reopened database lists without a first-call pause.
        index.order().try_settle();
        Ok(Db {
            dir: dir.to_owned(),
            key_hasher: index.hasher().clone(),
            order: index.order().clone(),
            inner: RwLock::new(Inner {
                index,
                head,
                sealing: None,
                blocks,
                sealed_samples,
                last_ts,
                uncataloged,
                forgotten_series: 0,
                compactions: 0,
                last_seal: Instant::now(),
                batch_ids,
                duplicate_batches: 0,
                record: Vec::new(),
                new_ids: Vec::new(),
                unacked: VecDeque::new(),
                refusals_seen: 0,
            }),
            seal: Mutex::new(SealState {
                catalog,
                catalog_stale: !replaced.is_empty(),
                pending_free: replaced,
                forget_due: true,
                next_block_id,
                poisoned: None,
            }),
            wal,
            report,
            opts,
        })
    }

    /// What recovery did at open (truncated tails, replay counts).
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.report
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends `batch` to the WAL and the head. Durable when it returns `Ok`
    /// (fsync'd unless `Options::fsync` is off). Concurrent callers share
    /// fsyncs. May seal the head afterwards when it is due.
    ///
    /// A batch carrying a [`crate::BatchId`] that was already stored returns
    /// [`Written::Duplicate`] and stores nothing — once the original is
    /// durable, so a duplicate is never acknowledged ahead of its original.
    pub fn write(&self, batch: &WriteBatch) -> Result<Written, Error> {
        if batch.is_empty() {
            return Ok(Written::Stored);
        }
        // Steps of `batch_keys`: hashing, lookups and new series' copies
        // happen before the write lock.
        let keys = BatchKeys::encode(&self.key_hasher, batch);
        let (mut ids, generation) = {
            let inner = read(&self.inner);
            (keys.resolve(&inner.index), inner.index.generation())
        };
        let mut prepared = keys.prepare(batch, &ids);
        let (seq, seal_due) = {
            let mut guard = write(&self.inner);
            let inner = &mut *guard;
            // Undo refused writes before this one lands behind them.
            self.settle_unacked(inner);
            let stored_batch = match batch.batch_id {
                Some(id) if inner.batch_ids.contains(&id) => {
                    inner.duplicate_batches += 1;
                    // The original was appended earlier, so it is at or
                    // below the last sequence number.
                    let original_seq = self.wal.counters().0;
                    drop(guard);
                    self.wal.commit(original_seq)?;
                    return Ok(Written::Duplicate);
                }
                Some(id) => {
                    let at = self.opts.clock.now_ms();
                    inner.batch_ids.insert(id, at);
                    Some((id, at))
                }
                None => None,
            };
            let forget_id = |inner: &mut Inner| {
                if let Some((id, _)) = stored_batch {
                    inner.batch_ids.forget(&id);
                }
            };
            if inner.index.generation() != generation {
                // A removal since step 2: ids found then may mean other keys now.
                ids = keys.resolve(&inner.index);
                prepared = keys.prepare(batch, &ids);
            }
            inner.new_ids.clear();
            let ids = match keys.define(&mut inner.index, ids, prepared, &mut inner.new_ids) {
                Ok(ids) => ids,
                Err(c) => {
                    rollback(&mut inner.index, &inner.new_ids);
                    forget_id(inner);
                    return Err(Error::TooManySeries(format!("{c:?}")));
                }
            };
            let index = &inner.index;
            let defs = inner
                .new_ids
                .iter()
                .filter_map(|&i| index.key(i).map(|k| (i, k.as_ref())));
            let defs: Vec<(SeriesId, &SeriesKey)> = defs.collect();
            encode_batch(
                &mut inner.record,
                stored_batch,
                defs.into_iter(),
                ids.iter()
                    .copied()
                    .zip(batch.entries.iter().map(|(_, s)| s)),
            );
            let seq = match self.wal.append(&inner.record) {
                Ok(seq) => seq,
                Err(e) => {
                    rollback(&mut inner.index, &inner.new_ids);
                    forget_id(inner);
                    return Err(e);
                }
            };
            let Inner {
                uncataloged,
                new_ids,
                ..
            } = inner;
            uncataloged.extend_from_slice(new_ids);
            for (&id, (_, sample)) in ids.iter().zip(&batch.entries) {
                note_ts(&mut inner.last_ts, id, sample.timestamp_ms);
                inner.head.push(id, sample.clone());
            }
            inner.unacked.push_back(Unacked {
                seq,
                ids,
                new_ids: inner.new_ids.clone(),
                batch_id: stored_batch.map(|(id, _)| id),
            });
            let due = if self.opts.seal_on_write {
                inner.head_due(&self.opts)
            } else {
                inner.head.samples() >= self.opts.max_head_samples.saturating_mul(2)
            };
            (seq, due)
        };
        if let Err(e) = self.wal.commit(seq) {
            // Undone before the caller hears of it: a query after the
            // refusal never sees the batch.
            self.settle_unacked(&mut write(&self.inner));
            return Err(e);
        }
        if self.order.queued() > SETTLE_AFTER {
            self.order.try_settle();
        }
        if seal_due {
            // Another thread already sealing covers this head too. The write
            // is durable whatever the seal does: a seal that fails (a full
            // disk) keeps the head and is retried when next due, so its
            // error must not make the caller retry a stored batch.
            if let Ok(state) = self.seal.try_lock() {
                let _ = self.seal_locked(state);
            }
        }
        Ok(Written::Stored)
    }

    /// Series matching `filter`, in `SeriesKey` order, strictly after
    /// `after`; series without a sample newer than
    /// [`Options::hide_inactive_after`] are left out.
    pub fn list_series(
        &self,
        filter: &SeriesFilter,
        after: Option<&SeriesKey>,
        limit: usize,
    ) -> Vec<SeriesKey> {
        // Tree first, then the index (the order `listing_order` prescribes).
        let tree = self.order.settled();
        let inner = read(&self.inner);
        let cutoff = self.opts.hide_inactive_after.map_or(i64::MIN, |d| {
            let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
            self.opts.clock.now_ms().saturating_sub(ms)
        });
        let active = |id: SeriesId| inner.last_ts.get(id as usize).is_some_and(|&t| t >= cutoff);
        inner.index.list(&tree, filter, after, limit, &active)
    }

    /// Applies queued definitions to the listing order, so that a listing
    /// after a burst of new series does not pay for them (the server calls
    /// this from its background thread).
    pub fn settle_listing(&self) {
        self.order.try_settle();
    }

    /// Aggregates one series over `[start_ms, end_ms)` into `period_ms`
    /// buckets, one [`Aggregate`] per `(bucket, unit)` with data, sorted by
    /// bucket start then unit. Reads the head, a head being sealed, and every
    /// block whose time range overlaps.
    pub fn query(&self, q: &RangeQuery<'_>) -> Result<Vec<Aggregate>, Error> {
        if q.period_ms <= 0 {
            return Err(Error::InvalidQuery("period must be positive".into()));
        }
        if q.end_ms <= q.start_ms {
            return Ok(Vec::new());
        }
        let mut bucketer = Bucketer::new(q.start_ms, q.end_ms, q.period_ms, q.unit);
        let (id, blocks) = {
            let inner = read(&self.inner);
            let Some(id) = inner.index.get(q.series) else {
                return Ok(Vec::new());
            };
            let mut feed = |samples: &[Sample]| {
                for s in samples {
                    if let Some(a) = bucketer.slot(s.timestamp_ms, s.unit) {
                        a.add(&s.value);
                    }
                }
            };
            feed(inner.head.series(id));
            if let Some(sealing) = &inner.sealing {
                feed(sealing.series(id));
            }
            let blocks: Vec<Arc<Block>> = inner
                .blocks
                .iter()
                .filter(|b| b.max_ts >= q.start_ms && b.min_ts < q.end_ms)
                .cloned()
                .collect();
            (id, blocks)
        };
        // Block reads happen outside the lock; blocks are immutable.
        for block in blocks {
            let Some(meta) = block.section(id) else {
                continue;
            };
            if meta.max_ts < q.start_ms || meta.min_ts >= q.end_ms {
                continue;
            }
            let columns = block.read_section(meta)?;
            columns.feed(&mut bucketer).map_err(|e| e.at(&block.path))?;
        }
        Ok(bucketer.finish())
    }

    /// Writes the head to a new block, records new series in the catalog,
    /// then deletes the WAL segments the block covers.
    /// Whether the head is due to be sealed (it holds `max_head_samples`, or
    /// `seal_interval` has passed since the last seal). For callers that seal
    /// from a background thread ([`Options::seal_on_write`] off).
    pub fn seal_due(&self) -> bool {
        let inner = read(&self.inner);
        inner.head.samples() > 0 && inner.head_due(&self.opts)
    }

    pub fn seal(&self) -> Result<(), Error> {
        let state = lock(&self.seal);
        self.seal_locked(state)
    }

    fn seal_locked(&self, mut state: MutexGuard<'_, SealState>) -> Result<(), Error> {
        self.seal_head(&mut state)?;
        if self.opts.compact_on_seal {
            self.compact_locked(&mut state)?;
        }
        Ok(())
    }

    /// Rolls up, merges and expires blocks until nothing is due (see
    /// module `compact`). Runs after every seal unless
    /// [`Options::compact_on_seal`] is off.
    pub fn compact(&self) -> Result<(), Error> {
        let mut state = lock(&self.seal);
        self.compact_locked(&mut state)
    }

    /// The key of `series`, for the keys blocks carry. Series in a block
    /// being written stay in the index: forgetting runs under the seal lock.
    fn key_of(&self, series: SeriesId) -> Option<Arc<SeriesKey>> {
        read(&self.inner).index.key(series).cloned()
    }

    fn fail_point(&self, p: FailPoint) {
        if let Some(hook) = &self.opts.fail_hook {
            (hook.0)(p);
        }
    }

    fn compact_locked(&self, state: &mut SealState) -> Result<(), Error> {
        if let Some(why) = &state.poisoned {
            return Err(Error::Poisoned(why.clone()));
        }
        let dir = self.dir.join("blocks");
        loop {
            let blocks = read(&self.inner).blocks.clone();
            let now = self.opts.clock.now_ms();
            let Some(step) = compact::plan(&blocks, &self.opts.retention, now) else {
                return self.forget_expired_series(state);
            };
            let (removed, added) = match step {
                Step::Expire(ids) => {
                    state.forget_due = true;
                    (ids, None)
                }
                Step::Rewrite {
                    target,
                    window_start,
                    sources,
                } => {
                    let inputs: Vec<Arc<Block>> = blocks
                        .iter()
                        .filter(|b| sources.contains(&b.id))
                        .cloned()
                        .collect();
                    let id = state.next_block_id;
                    state.next_block_id += 1;
                    let block = compact::rewrite(
                        &dir,
                        id,
                        target,
                        window_start,
                        &inputs,
                        self.opts.fsync,
                        &|series| self.key_of(series),
                    )?;
                    self.fail_point(FailPoint::CompactionBlockWritten);
                    (sources, Some(block))
                }
            };
            let paths = {
                let mut inner = write(&self.inner);
                let paths = compact::paths_of(&inner.blocks, &removed);
                inner.blocks.retain(|b| !removed.contains(&b.id));
                inner.blocks.extend(added.map(Arc::new));
                inner.sealed_samples = inner.blocks.iter().map(|b| b.samples).sum();
                inner.compactions += 1;
                paths
            };
            for (i, path) in paths.iter().enumerate() {
                if let Err(e) = std::fs::remove_file(path) {
                    let e = Error::io(format!("removing replaced block {}", path.display()), e);
                    state.poisoned = Some(e.to_string());
                    return Err(e);
                }
                if i == 0 {
                    self.fail_point(FailPoint::CompactionSourceRemoved);
                }
            }
            if self.opts.fsync {
                sync_dir(&dir).inspect_err(|e| state.poisoned = Some(e.to_string()))?;
            }
        }
    }

    /// Forgets series with no data left: no section in any block and no
    /// sample in the head. They leave the index at once (a write for the
    /// same key then defines it anew, with a new id, in the WAL); the
    /// catalog is rewritten without them; only then are their ids reusable.
    /// Crash safety: until the rewrite, the old catalog still names them,
    /// and `Db::open` drops a definition nothing references when the key is
    /// defined again (see `define_replacing`).
    fn forget_expired_series(&self, state: &mut SealState) -> Result<(), Error> {
        if !state.forget_due && !state.catalog_stale {
            return Ok(());
        }
        // Blocks change only under the seal lock, which we hold.
        let blocks = read(&self.inner).blocks.clone();
        let mut referenced = Vec::new();
        for b in &blocks {
            for sec in b.sections() {
                let slot = sec.series as usize;
                if slot >= referenced.len() {
                    referenced.resize(slot + 1, false);
                }
                referenced[slot] = true;
            }
        }
        let live = {
            let mut inner = write(&self.inner);
            let dead: HashSet<SeriesId> = inner
                .index
                .ids()
                .filter(|&id| {
                    !referenced.get(id as usize).copied().unwrap_or(false)
                        && inner.head.series(id).is_empty()
                        && inner
                            .sealing
                            .as_ref()
                            .is_none_or(|h| h.series(id).is_empty())
                })
                .collect();
            if dead.is_empty() && !state.catalog_stale {
                state.forget_due = false;
                return Ok(());
            }
            inner.index.remove_many(&dead);
            for &id in &dead {
                if let Some(t) = inner.last_ts.get_mut(id as usize) {
                    *t = i64::MIN;
                }
            }
            let next = inner.index.next_id();
            inner.last_ts.truncate(next);
            inner.uncataloged.retain(|id| !dead.contains(id));
            inner.forgotten_series += dead.len() as u64;
            state.pending_free.extend(dead);
            state.catalog_stale = true;
            let pending: HashSet<SeriesId> = inner.uncataloged.iter().copied().collect();
            let index = &inner.index;
            index
                .ids()
                .filter(|id| !pending.contains(id))
                .filter_map(|id| index.key(id).map(|k| (id, k.clone())))
                .collect::<Vec<_>>()
        };
        self.fail_point(FailPoint::ForgetBeforeCatalogRewrite);
        state
            .catalog
            .rewrite(live.iter().map(|(id, k)| (*id, k.as_ref())))?;
        self.fail_point(FailPoint::ForgetCatalogRewritten);
        state.catalog_stale = false;
        state.forget_due = false;
        write(&self.inner)
            .index
            .release(std::mem::take(&mut state.pending_free));
        Ok(())
    }

    fn seal_head(&self, state: &mut SealState) -> Result<(), Error> {
        if let Some(why) = &state.poisoned {
            return Err(Error::Poisoned(why.clone()));
        }
        let (frozen, covered_below, ids_snapshot, (n, keys)) = {
            let mut guard = write(&self.inner);
            let inner = &mut *guard;
            inner.last_seal = Instant::now();
            if inner.head.is_empty() {
                return Ok(());
            }
            // Rotate first: every record in older segments is in this head.
            let rotated = self.wal.rotate();
            // Every write so far is now durable (or refused and undone).
            self.settle_unacked(inner);
            let covered_below = rotated?;
            debug_assert!(inner.unacked.is_empty());
            // Series to catalog, taken while every one of them is durable:
            // the catalog never names a series of a refused write. Writers
            // only append to `uncataloged` (an undone write removes its own
            // entries, which come after these), and forgetting runs under
            // the seal lock we hold, so its first `n` entries stay put.
            let keys: Vec<(SeriesId, Arc<SeriesKey>)> = inner
                .uncataloged
                .iter()
                .filter_map(|&i| inner.index.key(i).map(|k| (i, k.clone())))
                .collect();
            let to_catalog = (inner.uncataloged.len(), keys);
            let frozen = Arc::new(std::mem::take(&mut inner.head));
            inner.sealing = Some(frozen.clone());
            // Taken after the rotation: holds every id the covered segments carry.
            inner.batch_ids.prune(self.opts.clock.now_ms());
            let ids_snapshot = (!inner.batch_ids.is_empty()
                || self.dir.join(BATCH_IDS_FILE).exists())
            .then(|| inner.batch_ids.snapshot());
            (frozen, covered_below, ids_snapshot, to_catalog)
        };

        // The batch ids and the catalog go first: a block must never be on
        // disk (and cover WAL segments) while the keys of its series or the
        // ids of its batches exist only in the WAL.
        let block_id = state.next_block_id;
        let ids_stored = match &ids_snapshot {
            Some(ids) => batch_ids::store(&self.dir, ids, self.opts.fsync),
            None => Ok(()),
        };
        let outcome = ids_stored.and_then(|()| {
            state
                .catalog
                .append(keys.iter().map(|(i, k)| (*i, k.as_ref())))
                .map(|()| {
                    write(&self.inner).uncataloged.drain(..n);
                })
                .and_then(|()| self.write_seal_blocks(state, block_id, &frozen, covered_below))
        });

        let mut inner = write(&self.inner);
        inner.sealing = None;
        match outcome {
            Ok(blocks) => {
                state.next_block_id += blocks.len() as u64;
                inner.sealed_samples += blocks.iter().map(|b| b.samples).sum::<u64>();
                inner.blocks.extend(blocks.into_iter().map(Arc::new));
                drop(inner);
                self.fail_point(FailPoint::SealBeforeWalRemoval);
                self.wal.remove_below(covered_below)
            }
            Err(e) => {
                // Keep the data queryable and in the WAL; a later seal retries.
                let frozen = Arc::try_unwrap(frozen).unwrap_or_else(|a| (*a).clone());
                inner.head.absorb_older(frozen);
                Err(e)
            }
        }
    }

    /// Writes `head` as one raw block per window it touches, ids from
    /// `first_id` on, all in seal group `first_id`. On failure removes the
    /// blocks already written (the WAL still holds their data).
    fn write_seal_blocks(
        &self,
        state: &mut SealState,
        first_id: u64,
        head: &Head,
        covered_below: u64,
    ) -> Result<Vec<Block>, Error> {
        let raw = Resolution::Raw;
        let mut windows: BTreeMap<i64, Vec<(SeriesId, Vec<&Sample>)>> = BTreeMap::new();
        for (series, samples) in head.iter() {
            let first = raw.window_start(samples[0].timestamp_ms);
            if samples
                .iter()
                .all(|s| raw.window_start(s.timestamp_ms) == first)
            {
                let all = samples.iter().collect();
                windows.entry(first).or_default().push((series, all));
                continue;
            }
            let mut per: BTreeMap<i64, Vec<&Sample>> = BTreeMap::new();
            for s in samples {
                per.entry(raw.window_start(s.timestamp_ms))
                    .or_default()
                    .push(s);
            }
            for (w, v) in per {
                windows.entry(w).or_default().push((series, v));
            }
        }
        let dir = self.dir.join("blocks");
        let group = (first_id, windows.len() as u64);
        let mut written: Vec<Block> = Vec::with_capacity(windows.len());
        let mut rows: Vec<Row> = Vec::new();
        for (n, (window_start, sections)) in windows.into_iter().enumerate() {
            let id = first_id + n as u64;
            let block = BlockWriter::create(&dir, id).and_then(|mut w| {
                for (series, samples) in sections {
                    rows.clear();
                    rows.extend(samples.into_iter().map(Row::from));
                    w.add_section(series, self.key_of(series).as_deref(), &mut rows)?;
                }
                let info = BlockInfo {
                    resolution: raw,
                    window_start,
                    wal_covered_below: covered_below,
                    group,
                    sources: Vec::new(),
                };
                w.finish(&info, self.opts.fsync)
            });
            match block {
                Ok(b) => written.push(b),
                Err(e) => {
                    for b in &written {
                        if let Err(rm) = std::fs::remove_file(&b.path) {
                            state.poisoned = Some(format!(
                                "a failed seal left block {} behind: {rm}",
                                b.path.display()
                            ));
                        }
                    }
                    return Err(e);
                }
            }
            self.fail_point(FailPoint::SealBlockWritten);
        }
        Ok(written)
    }

    /// Counters and on-disk sizes.
    pub fn stats(&self) -> Stats {
        let (wal_records, wal_flushes) = self.wal.counters();
        let inner = read(&self.inner);
        Stats {
            wal_records,
            wal_flushes,
            batch_ids: inner.batch_ids.len(),
            duplicate_batches: inner.duplicate_batches,
            series: inner.index.len(),
            series_index_bytes: inner.index.approx_bytes()
                + inner.last_ts.capacity() * std::mem::size_of::<i64>()
                + inner.uncataloged.capacity() * std::mem::size_of::<SeriesId>(),
            forgotten_series: inner.forgotten_series,
            head_samples: inner.head.samples() + inner.sealing.as_ref().map_or(0, |h| h.samples()),
            sealed_samples: inner.sealed_samples,
            blocks: inner.blocks.len(),
            resolutions: Resolution::ALL
                .iter()
                .map(|&r| {
                    let at = || inner.blocks.iter().filter(move |b| b.info.resolution == r);
                    ResolutionStats {
                        resolution: r,
                        blocks: at().count(),
                        bytes: at().map(|b| b.bytes).sum(),
                        rows: at().map(|b| b.samples).sum(),
                        span_ms: at()
                            .filter(|b| b.samples > 0)
                            .map(|b| (b.min_ts, b.max_ts))
                            .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1))),
                    }
                })
                .collect(),
            compactions: inner.compactions,
            block_bytes: inner.blocks.iter().map(|b| b.bytes).sum(),
            wal_bytes: dir_bytes(&self.dir.join("wal"), ".log"),
            catalog_bytes: std::fs::metadata(self.dir.join(CATALOG_FILE)).map_or(0, |m| m.len()),
        }
    }

    /// Seals the head and syncs the WAL.
    pub fn close(self) -> Result<(), Error> {
        self.seal()?;
        self.wal.sync()
    }
}

impl Db {
    /// Forgets writes whose WAL record is durable and undoes those a failed
    /// flush refused (newest first): their samples leave the head, the
    /// series they defined leave the index (their ids are reusable: nothing
    /// on disk names them, as the WAL was cut back and the catalog only
    /// receives durable series), their batch ids are forgotten. Called under
    /// the write lock, before every append and by a refused writer.
    fn settle_unacked(&self, inner: &mut Inner) {
        let (durable, refusals) = self.wal.progress();
        if refusals != inner.refusals_seen {
            inner.refusals_seen = refusals;
            let mut touched = HashSet::new();
            let mut removed = Vec::new();
            while let Some(w) = inner.unacked.back() {
                if !self.wal.is_refused(w.seq) {
                    break;
                }
                let Some(w) = inner.unacked.pop_back() else {
                    break;
                };
                for &id in w.ids.iter().rev() {
                    inner.head.pop(id);
                    touched.insert(id);
                }
                if let Some(id) = w.batch_id {
                    inner.batch_ids.forget(&id);
                }
                removed.extend(w.new_ids);
            }
            if !removed.is_empty() {
                let gone: HashSet<SeriesId> = removed.iter().copied().collect();
                inner.uncataloged.retain(|id| !gone.contains(id));
                rollback(&mut inner.index, &removed);
            }
            self.recompute_last_ts(inner, &touched);
        }
        while inner.unacked.front().is_some_and(|w| w.seq <= durable) {
            inner.unacked.pop_front();
        }
    }

    /// Sets `last_ts` of `ids` from the data they still have, after undone
    /// writes (so a refused write cannot keep a series listed as active).
    fn recompute_last_ts(&self, inner: &mut Inner, ids: &HashSet<SeriesId>) {
        let mut newest: HashMap<SeriesId, i64> = ids.iter().map(|&id| (id, i64::MIN)).collect();
        for (&id, ts) in newest.iter_mut() {
            if inner.index.key(id).is_none() {
                continue;
            }
            let heads = std::iter::once(&inner.head).chain(inner.sealing.as_deref());
            for head in heads {
                if let Some(max) = head.series(id).iter().map(|s| s.timestamp_ms).max() {
                    *ts = (*ts).max(max);
                }
            }
            for b in &inner.blocks {
                if let Some(sec) = b.section(id) {
                    *ts = (*ts).max(sec.max_ts);
                }
            }
        }
        for (id, ts) in newest {
            if let Some(slot) = inner.last_ts.get_mut(id as usize) {
                *slot = ts;
            }
        }
    }
}

/// Records that series `id` has a sample at `ts`.
#[inline]
fn note_ts(last_ts: &mut Vec<i64>, id: SeriesId, ts: i64) {
    let slot = id as usize;
    if slot >= last_ts.len() {
        last_ts.resize(slot + 1, i64::MIN);
    }
    last_ts[slot] = last_ts[slot].max(ts);
}

/// Undoes the series a failed write created (nothing names them on disk).
fn rollback(index: &mut SeriesIndex, new_ids: &[SeriesId]) {
    index.remove_many(&new_ids.iter().copied().collect());
    index.release(new_ids.iter().copied());
}

/// Adds `id → key` while loading the catalog or replaying the WAL. A key
/// already defined under another id that nothing references (no block, no
/// replayed sample) is a series that was forgotten and came back before the
/// catalog rewrite finished: the older definition is dropped (its id goes to
/// `replaced`) and the newer one kept.
fn define_replacing(
    index: &mut SeriesIndex,
    last_ts: &[i64],
    id: SeriesId,
    key: SeriesKey,
    replaced: &mut Vec<SeriesId>,
) -> Result<(), Conflict> {
    match index.define(id, key.clone()) {
        Err(Conflict::KeyTaken) => {
            let old = index.get(&key).ok_or(Conflict::KeyTaken)?;
            if last_ts.get(old as usize).is_some_and(|&t| t != i64::MIN) {
                return Err(Conflict::KeyTaken);
            }
            index.remove_many(&HashSet::from([old]));
            index.define(id, key)?;
            replaced.push(old);
            Ok(())
        }
        other => other,
    }
}

/// Series ids blocks hold data for that `index` does not define, each with
/// the first block naming it.
fn undefined_block_series(blocks: &[Arc<Block>], index: &SeriesIndex) -> Vec<(SeriesId, PathBuf)> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for b in blocks {
        for sec in b.sections() {
            if index.key(sec.series).is_none() && seen.insert(sec.series) {
                out.push((sec.series, b.path.clone()));
            }
        }
    }
    out
}

/// Namespace of the placeholder keys recovery gives series whose key is
/// lost (their data stays queryable, their id stays taken).
pub const ORPHANED_NAMESPACE: &str = "Stratus/Orphaned";

/// Recovery: defines the `wanted` ids from the keys blocks carry (newest
/// blocks first), and the rest under placeholder keys
/// (`Stratus/Orphaned`, `series-<id>`), so their data stays reachable
/// and their ids are never given to another series. Returns the ids defined.
fn define_from_blocks(
    blocks: &[Arc<Block>],
    index: &mut SeriesIndex,
    mut wanted: HashSet<SeriesId>,
    report: &mut RecoveryReport,
) -> Vec<SeriesId> {
    let mut defined = Vec::new();
    for b in blocks.iter().rev() {
        if wanted.is_empty() {
            break;
        }
        let keys = match b.read_keys() {
            Ok(Some(keys)) => keys,
            Ok(None) => continue,
            Err(e) => {
                report.unreadable_block_keys.push(e.to_string());
                continue;
            }
        };
        for (id, key) in keys {
            if let Some(key) = key
                && wanted.contains(&id)
                && index.define(id, key).is_ok()
            {
                wanted.remove(&id);
                defined.push(id);
                report.series_rebuilt_from_blocks += 1;
            }
        }
    }
    let mut orphans: Vec<SeriesId> = wanted.into_iter().collect();
    orphans.sort_unstable();
    for id in orphans {
        let key = SeriesKey::new(ORPHANED_NAMESPACE, format!("series-{id}"), []);
        if index.define(id, key).is_ok() {
            defined.push(id);
        }
        report.orphaned_series.push(id);
    }
    defined
}

/// Recovery: when `block` fails its checks (a section, or its keys), copies
/// it aside and rewrites it under the same id with every intact section and
/// the keys the index knows, reporting each section skipped. `None` when
/// the block is intact.
fn salvage_block(
    block: &Block,
    index: &SeriesIndex,
    now_secs: i64,
    fsync: bool,
    report: &mut RecoveryReport,
) -> Result<Option<Block>, Error> {
    if block.verify().is_ok() {
        return Ok(None);
    }
    let aside = crate::fsutil::keep_aside(&block.path, now_secs)?;
    let dir = block.path.parent().unwrap_or(Path::new("."));
    let mut w = BlockWriter::create(dir, block.id)?;
    let mut rows = Vec::new();
    for meta in block.sections() {
        rows.clear();
        match block.read_rows(meta.series, &mut rows) {
            Ok(()) => {
                let key = index.key(meta.series).cloned();
                w.add_section(meta.series, key.as_deref(), &mut rows)?;
            }
            Err(e) => report.truncations.push(Truncation {
                path: block.path.clone(),
                offset: meta.offset,
                dropped_bytes: u64::from(meta.len) + 4,
                reason: format!("section of series {}: {e}", meta.series),
                kept_aside: Some(aside.clone()),
            }),
        }
    }
    report.kept_aside.push(aside);
    // Renamed over the damaged file: the same id, window, group and sources.
    w.finish(&block.info, fsync).map(Some)
}

/// Opens every block, removing leftover temp files of interrupted seals
/// and the blocks an interrupted seal or compaction left behind (see
/// [`compact::recover`]). Returns the blocks sorted by id and the next id.
/// A block that fails its checks stops the open, unless recovering
/// (`recover_at`: the time for its new name): then it is renamed to
/// `<id>.blk.damaged-<secs>`, kept for inspection, and reported.
fn load_blocks(
    dir: &Path,
    lowest_wal_segment: Option<u64>,
    recover_at: Option<i64>,
    report: &mut RecoveryReport,
) -> Result<(Vec<Arc<Block>>, u64), Error> {
    let mut ids = Vec::new();
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(".tmp") {
            let path = entry.path();
            std::fs::remove_file(&path)
                .map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
            report.removed_temp_files.push(path);
            continue;
        }
        if let Some(id) = name
            .strip_suffix(".blk")
            .and_then(|s| s.parse::<u64>().ok())
        {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    let next = ids.last().map_or(1, |n| n + 1);
    let mut blocks = Vec::with_capacity(ids.len());
    for &id in &ids {
        let path = block_path(dir, id);
        match (Block::open(&path, id), recover_at) {
            (Ok(b), _) => blocks.push(b),
            (Err(e @ Error::Corrupt { .. }), Some(secs)) => {
                let aside = crate::fsutil::set_aside(&path, secs)?;
                report.blocks_set_aside.push((aside, e.to_string()));
            }
            (Err(Error::Corrupt { path, reason }), None) => {
                return Err(Error::CorruptBlock { path, reason });
            }
            (Err(e), _) => return Err(e),
        }
    }
    let leftovers = compact::recover(&blocks, lowest_wal_segment);
    let mut kept = Vec::with_capacity(blocks.len());
    for b in blocks {
        if leftovers.contains(&b.id) {
            std::fs::remove_file(&b.path)
                .map_err(|e| Error::io(format!("removing {}", b.path.display()), e))?;
            report.removed_blocks.push(b.path.clone());
        } else {
            kept.push(Arc::new(b));
        }
    }
    if !report.removed_temp_files.is_empty()
        || !report.removed_blocks.is_empty()
        || !report.blocks_set_aside.is_empty()
    {
        sync_dir(dir)?;
    }
    Ok((kept, next))
}
