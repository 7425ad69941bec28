//! One partition on one node: a tsdb replica fed from the ingest log while
//! this node keeps the partition (module `membership`), and — while it holds
//! the partition's lease — its commits. A node that stops keeping a partition
//! (another joined, or came back) drops its replica after a grace period.
//!
//! A single thread per partition applies log entries, seals, compacts and
//! commits, so a snapshot is always taken between two entries: the files it
//! lists hold exactly the entries up to the sequence number it records.
//! Readers (queries) share the `Db` behind a lock that is taken for writing
//! only to swap in a reloaded replica.

use crate::snapshot::{self, Manifest, ManifestFile, Uploaded};
use crate::{ClusterError, Shared, now_ms};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use stratus_cluster_nats::LogError;
use stratus_cluster_pg::PgError;
use stratus_tsdb as tsdb;

const LEASE_KIND: &str = "partition";
/// Objects no manifest names are deleted once this old (a reader may still
/// be downloading the manifest before the newest).
const GC_GRACE: Duration = Duration::from_secs(15 * 60);
const GC_EVERY: Duration = Duration::from_secs(5 * 60);
const COMPACT_EVERY: Duration = Duration::from_secs(60);

/// What other threads may read about a partition.
pub struct Replica {
    pub partition: u32,
    db: RwLock<Option<Arc<tsdb::Db>>>,
    /// The last log sequence number applied (0: none).
    pub applied: AtomicU64,
    /// The sequence number of the newest commit this node knows of.
    pub committed: AtomicU64,
    /// This node's lease epoch, when it owns the partition (0: not owner).
    pub epoch: AtomicU64,
    /// Loaded and caught up with the log as it stood at the load: reads may
    /// be answered from it (and other nodes are told so).
    pub ready: AtomicBool,
    pub lease_changes: AtomicU64,
    pub last_error: Mutex<Option<String>>,
    /// Entries that failed to decode (never expected; counted, skipped).
    pub undecodable: AtomicU64,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica")
            .field("partition", &self.partition)
            .field("applied", &self.applied)
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

impl Replica {
    pub fn new(partition: u32) -> Replica {
        Replica {
            partition,
            db: RwLock::new(None),
            applied: AtomicU64::new(0),
            committed: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            ready: AtomicBool::new(false),
            lease_changes: AtomicU64::new(0),
            last_error: Mutex::new(None),
            undecodable: AtomicU64::new(0),
        }
    }

    pub fn db(&self) -> Result<Arc<tsdb::Db>, ClusterError> {
        self.db
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or(ClusterError::NotReady(self.partition))
    }

    /// Closes the replica's tsdb (before its directory goes).
    fn close_db(&self) {
        drop(self.db.write().unwrap_or_else(|e| e.into_inner()).take());
    }

    fn set_error(&self, e: Option<String>) {
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = e;
    }
}

/// The partition thread's own state.
struct Worker {
    shared: Arc<Shared>,
    replica: Arc<Replica>,
    /// `<cluster dir>/p<N>`: the live replica directory.
    dir: PathBuf,
    manifest: Manifest,
    uploaded: Uploaded,
    last_commit: Instant,
    last_compact: Instant,
    last_gc: Instant,
    last_lease: Instant,
    /// Since when this node has not been meant to keep the partition.
    unkept_since: Option<Instant>,
    /// The log's last sequence number when the replica was loaded: once
    /// applied this far, the replica is ready.
    catch_up_to: u64,
    /// The sequence number of the commit before the newest: the log is
    /// trimmed below it, keeping one interval for replicas that lag.
    previous_commit: u64,
    /// The commit task in flight (one at a time), reporting back here.
    inflight: Option<std::sync::mpsc::Receiver<CommitOutcome>>,
    gc_running: Arc<AtomicBool>,
}

pub fn spawn(
    shared: Arc<Shared>,
    replica: Arc<Replica>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("partition-{}", replica.partition))
        .spawn(move || {
            let dir = shared.dir.join(format!("p{}", replica.partition));
            let mut w = Worker {
                shared,
                replica,
                dir,
                manifest: Manifest::default(),
                uploaded: Uploaded::default(),
                last_commit: Instant::now(),
                last_compact: Instant::now(),
                last_gc: Instant::now(),
                last_lease: Instant::now() - Duration::from_secs(3600),
                unkept_since: None,
                catch_up_to: 0,
                previous_commit: 0,
                inflight: None,
                gc_running: Arc::new(AtomicBool::new(false)),
            };
            w.run();
        })
}

impl Worker {
    fn stopping(&self) -> bool {
        self.shared.stop.load(Ordering::Relaxed)
    }

    fn p(&self) -> u32 {
        self.replica.partition
    }

    fn run(&mut self) {
        let mut reader = None;
        while !self.stopping() {
            if !self.keep() {
                reader = None;
                self.shared
                    .sleep_unless_stopping(Duration::from_millis(500));
                continue;
            }
            let Some(r) = reader.as_mut() else {
                // Load the newest committed snapshot, retrying while the
                // services are not there yet.
                match self.load() {
                    Ok(()) => {
                        let from = self.replica.applied.load(Ordering::SeqCst) + 1;
                        reader = Some(self.shared.log.reader(self.p(), from));
                    }
                    Err(e) => {
                        tracing::warn!(
                            partition = self.p(),
                            "loading the partition: {e}; retrying"
                        );
                        self.replica.set_error(Some(e.to_string()));
                        self.shared.sleep_unless_stopping(Duration::from_secs(1));
                    }
                }
                continue;
            };
            let next = self.shared.rt.block_on(r.next(Duration::from_millis(200)));
            match next {
                Ok(Some(entry)) => {
                    self.apply(entry.seq, &entry.payload);
                    if entry.seq >= self.catch_up_to {
                        self.replica.ready.store(true, Ordering::SeqCst);
                    }
                }
                // Nothing more in the log: caught up.
                Ok(None) => self.replica.ready.store(true, Ordering::SeqCst),
                Err(LogError::Refused(why)) => {
                    // The log was trimmed past us (we were away longer than a
                    // commit interval): start again from the newest snapshot.
                    tracing::warn!(
                        partition = self.p(),
                        "{why}; reloading from the newest commit"
                    );
                    reader = None;
                    continue;
                }
                Err(e) => {
                    self.replica.set_error(Some(e.to_string()));
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
            self.housekeeping();
        }
        self.release();
    }

    /// Whether to keep (or load) the replica now: while this node is meant
    /// to keep the partition or holds its lease, and for a grace period
    /// after (views of the membership settle; a node back from a restart
    /// should not make the others drop and reload). Drops it after that.
    fn keep(&mut self) -> bool {
        let meant = self.shared.membership.keeps_here(self.p());
        if meant || self.replica.epoch.load(Ordering::SeqCst) != 0 {
            self.unkept_since = None;
            return true;
        }
        let loaded = self.replica.db().is_ok();
        let since = *self.unkept_since.get_or_insert_with(Instant::now);
        if loaded && since.elapsed() < 3 * self.shared.config.lease_ttl {
            return true;
        }
        if loaded && self.inflight.is_none() {
            self.unload();
        }
        self.replica.db().is_ok()
    }

    /// Closes the replica and removes its directory (a load starts afresh).
    fn discard(&self) {
        self.replica.ready.store(false, Ordering::SeqCst);
        self.replica.close_db();
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// Drops the replica: no longer kept here.
    fn unload(&mut self) {
        self.discard();
        self.replica.applied.store(0, Ordering::SeqCst);
        self.manifest = Manifest::default();
        self.uploaded = Uploaded::default();
        snapshot::sweep_cache(&self.shared.dir.join("cache"));
        tracing::info!(
            partition = self.p(),
            "partition replica dropped (kept by other nodes now)"
        );
    }

    fn apply(&mut self, seq: u64, payload: &[u8]) {
        let applied = self.replica.applied.load(Ordering::SeqCst);
        if seq <= applied {
            return; // already in the snapshot we loaded
        }
        match tsdb::wire::decode_write_batch(payload) {
            Ok(batch) => {
                let db = match self.replica.db() {
                    Ok(db) => db,
                    Err(_) => return,
                };
                // A write refused here (local disk full) must not be skipped:
                // retry until it is stored, the log keeps it meanwhile.
                loop {
                    match db.write(&batch) {
                        Ok(_) => break,
                        Err(e) => {
                            self.replica
                                .set_error(Some(format!("applying seq {seq}: {e}")));
                            tracing::error!(
                                partition = self.p(),
                                seq,
                                "applying a log entry: {e}; retrying"
                            );
                            if self.stopping() {
                                return;
                            }
                            std::thread::sleep(Duration::from_secs(1));
                        }
                    }
                }
            }
            Err(e) => {
                // Only Stratus gateways publish here, so this is a bug or damage:
                // counted and reported, never applied halfway.
                self.replica.undecodable.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    partition = self.p(),
                    seq,
                    "undecodable log entry skipped: {e}"
                );
            }
        }
        self.replica.applied.store(seq, Ordering::SeqCst);
    }

    /// Replaces the replica with the newest committed snapshot.
    fn load(&mut self) -> Result<(), ClusterError> {
        let p = self.p();
        // Read before the checkpoint: whatever the log held then is applied
        // before the replica calls itself ready.
        let log_end = self.shared.rt.block_on(self.shared.log.info(p))?.last_seq;
        let ckpt = self.shared.pg.partition_checkpoint(p as i32)?;
        let (seq, manifest) = match ckpt {
            Some(c) => (
                c.seq,
                Manifest::from_json(&c.manifest).map_err(ClusterError::Other)?,
            ),
            None => (0, Manifest::default()),
        };
        self.discard();
        std::fs::create_dir_all(self.dir.join("blocks"))?;
        let cache = self.shared.dir.join("cache");
        std::fs::create_dir_all(&cache)?;
        let mut uploaded = Uploaded::default();
        for f in &manifest.files {
            let target = self.dir.join(&f.path);
            if f.path.starts_with("blocks/") {
                let cached = snapshot::cache_path(&cache, &f.key);
                if !cached.exists() {
                    self.shared
                        .rt
                        .block_on(self.shared.store.get_to_file(&f.key, &cached))?;
                }
                std::fs::hard_link(&cached, &target)?;
                use std::os::unix::fs::MetadataExt;
                uploaded.insert(std::fs::metadata(&target)?.ino(), f.key.clone(), f.size);
            } else {
                self.shared
                    .rt
                    .block_on(self.shared.store.get_to_file(&f.key, &target))?;
            }
        }
        let db = open_replica(&self.dir, &self.shared.retention)?;
        *self.replica.db.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(db));
        self.replica.applied.store(seq, Ordering::SeqCst);
        self.replica.committed.store(seq, Ordering::SeqCst);
        self.previous_commit = seq;
        self.manifest = manifest;
        self.uploaded = uploaded;
        self.catch_up_to = log_end;
        self.replica.ready.store(log_end <= seq, Ordering::SeqCst);
        self.replica.set_error(None);
        snapshot::sweep_cache(&cache);
        tracing::info!(
            partition = p,
            seq,
            files = self.manifest.files.len(),
            "partition replica loaded"
        );
        Ok(())
    }

    fn housekeeping(&mut self) {
        let Ok(db) = self.replica.db() else { return };
        db.settle_listing();
        if db.seal_due()
            && let Err(e) = db.seal()
        {
            tracing::error!(partition = self.p(), "seal failed: {e}");
        }
        if self.last_compact.elapsed() >= COMPACT_EVERY {
            self.last_compact = Instant::now();
            if let Err(e) = db.compact() {
                tracing::error!(partition = self.p(), "compaction failed: {e}");
            }
            snapshot::sweep_cache(&self.shared.dir.join("cache"));
        }
        if !self.shared.config.roles.ingester {
            return;
        }
        let ttl = self.shared.config.lease_ttl;
        if self.last_lease.elapsed() >= ttl / 3 {
            self.last_lease = Instant::now();
            self.lease();
        }
        self.poll_commit();
        if self.replica.epoch.load(Ordering::SeqCst) != 0 {
            let applied = self.replica.applied.load(Ordering::SeqCst);
            let due = self.last_commit.elapsed() >= self.shared.config.commit_interval;
            if due
                && self.inflight.is_none()
                && applied > self.replica.committed.load(Ordering::SeqCst)
            {
                self.last_commit = Instant::now();
                if let Err(e) = self.commit(&db) {
                    tracing::warn!(partition = self.p(), "commit failed: {e}; will retry");
                    self.replica.set_error(Some(e.to_string()));
                }
            }
            // Not while our own commit is in flight: its uploads are named by
            // no manifest yet, and may be older than the grace (PostgreSQL away).
            if self.last_gc.elapsed() >= gc_every() && self.inflight.is_none() {
                self.last_gc = Instant::now();
                self.collect_garbage();
            }
        }
    }

    /// Renews or takes the partition's lease — taking a free one only when
    /// this node keeps the partition and its preferred owner is not another
    /// ready node, and handing it back when that owner is ready (it joined or
    /// came back).
    fn lease(&mut self) {
        let p = self.p();
        let mine = self.replica.epoch.load(Ordering::SeqCst) != 0;
        // Not while a commit is in flight: it would be fenced for nothing.
        if mine && self.inflight.is_none() && self.shared.should_give_back(p) {
            tracing::info!(
                partition = p,
                "handing the partition lease to its preferred owner"
            );
            self.release();
            self.replica.lease_changes.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let may_take =
            self.replica.ready.load(Ordering::SeqCst) && self.shared.may_take_partition(p);
        if !mine && !may_take {
            return;
        }
        let node = &self.shared.config.node_id;
        match self
            .shared
            .pg
            .lease_acquire(LEASE_KIND, p as i32, node, self.shared.config.lease_ttl)
        {
            Ok(Some(epoch)) => {
                let before = self.replica.epoch.swap(epoch as u64, Ordering::SeqCst);
                if before != epoch as u64 {
                    self.replica.lease_changes.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(partition = p, epoch, "partition lease taken");
                    // Commit soon: the previous owner may have died long after its last commit.
                    self.last_commit = Instant::now() - self.shared.config.commit_interval;
                    // What was committed meanwhile by others.
                    let newest = match self.shared.pg.partition_checkpoint(p as i32) {
                        Ok(Some(c)) => {
                            self.replica.committed.store(c.seq, Ordering::SeqCst);
                            Manifest::from_json(&c.manifest).ok()
                        }
                        _ => None,
                    };
                    // Blocks uploaded before (as an earlier owner, or loaded) are
                    // reused only while the newest commit names them: another
                    // owner may have collected the rest since. Unknown: none.
                    match newest {
                        Some(m) => {
                            self.uploaded.retain_named(&m);
                            self.manifest = m;
                        }
                        None => self.uploaded = Uploaded::default(),
                    }
                }
            }
            Ok(None) => self.lose_lease("another node holds it"),
            Err(e) => {
                // Unknown: we may or may not still hold it. Commits are
                // fenced, so acting as owner is safe; but stop after the TTL.
                tracing::warn!(partition = p, "renewing the partition lease: {e}");
                if self.last_lease.elapsed() > self.shared.config.lease_ttl {
                    self.lose_lease("cannot reach PostgreSQL");
                }
            }
        }
    }

    fn lose_lease(&mut self, why: &str) {
        if self.replica.epoch.swap(0, Ordering::SeqCst) != 0 {
            self.replica.lease_changes.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(partition = self.p(), "partition lease lost: {why}");
        }
    }

    fn release(&mut self) {
        if self.replica.epoch.swap(0, Ordering::SeqCst) != 0 {
            let _ = self.shared.pg.lease_release(
                LEASE_KIND,
                self.p() as i32,
                &self.shared.config.node_id,
            );
        }
    }

    /// Starts a commit: seals, stages the snapshot (hard links to the
    /// immutable blocks, copies of the catalog and batch ids, so the replica
    /// may change meanwhile) and hands it to a task that uploads what the
    /// newest manifest lacks and commits the manifest fenced by our epoch.
    /// The partition thread goes on applying the log meanwhile: an object
    /// store that is slow or down delays commits, never reads or writes.
    fn commit(&mut self, db: &tsdb::Db) -> Result<(), ClusterError> {
        if self.inflight.is_some() {
            return Ok(());
        }
        let p = self.p();
        let epoch = self.replica.epoch.load(Ordering::SeqCst) as i64;
        let seq = self.replica.applied.load(Ordering::SeqCst);
        db.seal()?;
        let files = snapshot::snapshot_files(&self.dir)?;
        let stage = self
            .shared
            .dir
            .join("stage")
            .join(format!("p{p}-{epoch}-{seq}"));
        let _ = std::fs::remove_dir_all(&stage);
        std::fs::create_dir_all(stage.join("blocks"))?;
        let mut manifest = Manifest::default();
        let mut uploads = Vec::new();
        for (path, size, inode) in &files {
            let is_block = path.starts_with("blocks/");
            let staged = stage.join(path);
            if is_block {
                std::fs::hard_link(self.dir.join(path), &staged)?;
            } else {
                std::fs::copy(self.dir.join(path), &staged)?;
            }
            let key = match self.uploaded.get(*inode, *size).filter(|_| is_block) {
                Some(key) => key.to_string(),
                None => {
                    let key = snapshot::object_key(p, epoch, seq, path);
                    uploads.push((key.clone(), staged.clone(), *inode, *size, is_block));
                    key
                }
            };
            manifest.files.push(ManifestFile {
                path: path.clone(),
                key,
                size: *size,
            });
        }
        let live: Vec<u64> = files.iter().map(|(_, _, ino)| *ino).collect();
        self.uploaded.retain(&live);
        let (tx, rx) = std::sync::mpsc::channel();
        self.inflight = Some(rx);
        let shared = self.shared.clone();
        let trim_below = self.previous_commit + 1;
        self.shared.rt.spawn(async move {
            let outcome =
                upload_and_commit(&shared, p, epoch, seq, manifest, uploads, trim_below).await;
            let _ = std::fs::remove_dir_all(&stage);
            let _ = tx.send(outcome);
        });
        Ok(())
    }

    /// Applies the outcome of the commit in flight, if it has finished.
    fn poll_commit(&mut self) {
        let Some(rx) = &self.inflight else { return };
        let outcome = match rx.try_recv() {
            Ok(o) => o,
            Err(std::sync::mpsc::TryRecvError::Empty) => return,
            Err(std::sync::mpsc::TryRecvError::Disconnected) => CommitOutcome {
                epoch: 0,
                seq: 0,
                result: Err(ClusterError::Other(
                    "the commit task ended without a word".into(),
                )),
            },
        };
        self.inflight = None;
        let p = self.p();
        match outcome.result {
            Ok((manifest, uploaded)) => {
                for (inode, key, size) in uploaded {
                    self.uploaded.insert(inode, key, size);
                }
                self.replica.committed.store(outcome.seq, Ordering::SeqCst);
                self.shared.blocks_committed.fetch_add(1, Ordering::Relaxed);
                self.manifest = manifest;
                self.previous_commit = outcome.seq;
                self.replica.set_error(None);
            }
            Err(ClusterError::Fenced(_)) => {
                tracing::warn!(
                    partition = p,
                    epoch = outcome.epoch,
                    seq = outcome.seq,
                    "commit fenced: a newer owner took the partition; its objects will be collected"
                );
                self.lose_lease("fenced: a newer owner took the partition");
            }
            Err(e) => {
                tracing::warn!(partition = p, "commit failed: {e}; will retry");
                self.replica.set_error(Some(format!("commit failed: {e}")));
            }
        }
    }

    /// Starts a collection of this partition's unreferenced objects, off the
    /// partition thread, unless one is running.
    fn collect_garbage(&mut self) {
        if self.gc_running.swap(true, Ordering::SeqCst) {
            return;
        }
        let shared = self.shared.clone();
        let running = self.gc_running.clone();
        let p = self.p();
        self.shared.rt.spawn(async move {
            if let Err(e) = collect_garbage(&shared, p).await {
                tracing::warn!(partition = p, "collecting unreferenced objects: {e}");
            }
            running.store(false, Ordering::SeqCst);
        });
    }
}

/// (inode, object key, size) of a block file uploaded by a commit.
type UploadedBlock = (u64, String, u64);

/// What a commit task reports back to its partition thread.
struct CommitOutcome {
    /// The epoch and sequence number the commit was made under (they name
    /// its uploads, `snapshot::object_key`).
    epoch: i64,
    seq: u64,
    /// The committed manifest and the blocks uploaded.
    result: Result<(Manifest, Vec<UploadedBlock>), ClusterError>,
}

/// PostgreSQL's client blocks: off the async worker threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ClusterError> + Send + 'static,
) -> Result<T, ClusterError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ClusterError::Other(e.to_string()))?
}

async fn upload_and_commit(
    shared: &Arc<Shared>,
    p: u32,
    epoch: i64,
    seq: u64,
    manifest: Manifest,
    uploads: Vec<(String, PathBuf, u64, u64, bool)>,
    trim_below: u64,
) -> CommitOutcome {
    let result = async {
        let mut uploaded = Vec::new();
        let mut bytes = 0u64;
        for (key, path, inode, size, is_block) in uploads {
            bytes += shared.store.put_file(&key, &path).await?;
            if is_block {
                uploaded.push((inode, key, size));
            }
        }
        if let Some(pause) = fault_pause_before_commit() {
            // A stand-in for a GC pause or a frozen VM at the worst moment:
            // uploaded, not yet committed, lease possibly expired meanwhile.
            tracing::warn!(
                partition = p,
                ?pause,
                "fault injection: pausing before the commit"
            );
            tokio::time::sleep(pause).await;
        }
        let (pg, node, json) = (
            shared.pg.clone(),
            shared.config.node_id.clone(),
            manifest.to_json(),
        );
        blocking(
            move || match pg.commit_partition(p as i32, &node, epoch, seq, &json) {
                Ok(()) => Ok(()),
                Err(PgError::Fenced { .. }) => Err(ClusterError::Fenced(p)),
                Err(e) => Err(e.into()),
            },
        )
        .await?;
        tracing::info!(
            partition = p,
            seq,
            epoch,
            uploaded_bytes = bytes,
            files = manifest.files.len(),
            "partition committed"
        );
        // Trim below the commit before this one: replicas that lag by less
        // than a commit interval keep reading the log.
        if trim_below > 1
            && let Err(e) = shared.log.purge_below(p, trim_below).await
        {
            tracing::warn!(partition = p, "trimming the log: {e}");
        }
        Ok((manifest, uploaded))
    }
    .await;
    CommitOutcome { epoch, seq, result }
}

/// Deletes a partition's objects that the committed manifest does not name
/// and that are older than the grace period.
async fn collect_garbage(shared: &Arc<Shared>, p: u32) -> Result<(), ClusterError> {
    let pg = shared.pg.clone();
    let Some(ckpt) = blocking(move || Ok(pg.partition_checkpoint(p as i32)?)).await? else {
        return Ok(());
    };
    let manifest = Manifest::from_json(&ckpt.manifest).map_err(ClusterError::Other)?;
    let live: std::collections::HashSet<&str> = manifest.keys().collect();
    let objects = shared.store.list(&snapshot::partition_prefix(p)).await?;
    let now_ms = now_ms();
    let mut deleted = 0;
    for o in objects {
        if live.contains(o.key.as_str())
            || now_ms - o.last_modified_ms < gc_grace().as_millis() as i64
        {
            continue;
        }
        shared.store.delete(&o.key).await?;
        deleted += 1;
    }
    if deleted > 0 {
        tracing::info!(partition = p, deleted, "collected unreferenced objects");
    }
    Ok(())
}

/// Objects no manifest names are deleted once this old (a reader may still
/// be downloading the files of the manifest before the newest).
/// `STRATUS_CLUSTER_GC_GRACE_SECS` shortens it for tests.
fn gc_grace() -> Duration {
    std::env::var("STRATUS_CLUSTER_GC_GRACE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(GC_GRACE, Duration::from_secs)
}

/// How often an owner collects its partition's unreferenced objects.
/// `STRATUS_CLUSTER_GC_EVERY_SECS` shortens it for tests.
fn gc_every() -> Duration {
    std::env::var("STRATUS_CLUSTER_GC_EVERY_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(GC_EVERY, Duration::from_secs)
}

/// `STRATUS_CLUSTER_FAULT_PAUSE_BEFORE_COMMIT_MS`: fault injection for the
/// zombie-owner test (tests/cluster), never set in production.
fn fault_pause_before_commit() -> Option<Duration> {
    std::env::var("STRATUS_CLUSTER_FAULT_PAUSE_BEFORE_COMMIT_MS")
        .ok()?
        .parse()
        .ok()
        .map(Duration::from_millis)
}

/// A replica's tsdb: no fsync (the replicated log is the durable copy, and a
/// restarted node rebuilds from the newest commit), sealing and compaction
/// driven by the partition thread.
pub fn open_replica(dir: &Path, retention: &tsdb::Retention) -> Result<tsdb::Db, ClusterError> {
    let opts = tsdb::Options {
        fsync: false,
        retention: retention.clone(),
        compact_on_seal: false,
        seal_on_write: false,
        ..tsdb::Options::default()
    };
    Ok(tsdb::Db::open(dir, opts)?)
}
