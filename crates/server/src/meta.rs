//! The transactional metadata store: access keys, alarms, dashboards, SNS
//! topics and subscriptions, tags, the notification outbox. One redb file
//! (`<data-dir>/meta.redb`); each table maps a string key to a JSON document
//! so records can grow fields without migrations. Every mutation is one redb
//! write transaction, so a crash leaves either the old or the new state.
//!
//! **A full disk.** redb fails every call after one failed I/O
//! (`PreviousIo`) until the database is reopened. A failed call here reports
//! [`MetaError::Unavailable`] (nothing was changed: the transaction did not
//! commit) and drops the database handle; the next call reopens it, so the
//! store works again by itself once the disk has room.
//!
//! **Damage is never papered over.** redb verifies page checksums only when
//! it repairs a file after an unclean shutdown, and when the newest commit
//! fails them it falls back to the one before without a word. That is right
//! after a crash or a refused commit (the newest commit was never complete,
//! so never acknowledged) and wrong after damage (an acknowledged alarm is
//! gone), and redb cannot tell the two apart. So every transaction also
//! stores a commit sequence number (table `meta_commit`), and once it has
//! committed, writes that number to `meta.redb.acked` beside the file (see
//! [`acked`]). Whenever the store opens, the sequence in the file must not be
//! below the acknowledged one. The server also starts only after
//! [`verify_meta`] found the whole file intact (on a copy, so a failed check
//! changes nothing). The way out is `stratus server --recover-meta`
//! ([`MetaStore::open_recovering`]): it keeps the damaged file as
//! `meta.redb.damaged-<unix time>` and lets redb repair it, accepting what
//! the repair drops.
//!
//! **Cluster mode.** [`MetaStore::postgres`] keeps the same tables in
//! PostgreSQL instead (`stratus-cluster-pg`'s key/value tables): every
//! write transaction of the cluster is serialised by one advisory lock, as
//! redb serialises writers, so callers see the same semantics. The `.acked`
//! witness, [`verify_meta`] and salvage are redb-only (PostgreSQL's own WAL
//! and replication keep its commits). A lost connection is
//! [`MetaError::Unavailable`] (nothing changed; the pool reconnects), and a
//! transaction that called [`Txn::fence`] on a lease it no longer holds is
//! [`MetaError::Fenced`] and commits nothing.

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};
use serde::{Serialize, de::DeserializeOwned};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use stratus_cluster_pg::{KvTxn, Pg, PgError};

mod acked;
mod salvage;

/// A named table of JSON records.
#[derive(Debug, Clone, Copy)]
pub struct Table(&'static str);

impl Table {
    pub const fn new(name: &'static str) -> Self {
        Table(name)
    }

    pub fn name(self) -> &'static str {
        self.0
    }
    fn def(self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        TableDefinition::new(self.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("metadata database: {0}")]
    Db(String),
    /// An I/O failure (e.g. a full disk): nothing was changed, and the
    /// store reopens itself on the next call.
    #[error("metadata store unavailable, nothing was changed ({0}); retry later")]
    Unavailable(String),
    #[error("metadata record {table}/{key} is corrupt: {source}")]
    Corrupt {
        table: &'static str,
        key: String,
        source: serde_json::Error,
    },
    /// The file failed its integrity check: starting on it could silently
    /// lose acknowledged changes.
    #[error(
        "{path} is damaged: {reason}. Restore it from a backup, or start with \
         --recover-meta to keep a copy of it and let redb repair it (which may \
         drop recent alarms, topics or other changes)"
    )]
    Damaged { path: PathBuf, reason: String },
    /// A fenced transaction (cluster mode): the lease it wrote under has
    /// moved on to another owner; nothing was changed.
    #[error("refused: {0}")]
    Fenced(String),
}

impl From<PgError> for MetaError {
    fn from(e: PgError) -> Self {
        match e {
            PgError::Unavailable(why) => MetaError::Unavailable(why),
            e @ PgError::Fenced { .. } => MetaError::Fenced(e.to_string()),
            e @ (PgError::Stale(_) | PgError::Db(_) | PgError::BadUrl(_) | PgError::Tls(_)) => {
                MetaError::Db(e.to_string())
            }
        }
    }
}

fn db_err(e: impl Into<redb::Error>) -> MetaError {
    match e.into() {
        e @ (redb::Error::Io(_) | redb::Error::PreviousIo | redb::Error::DatabaseClosed) => {
            MetaError::Unavailable(e.to_string())
        }
        e => MetaError::Db(e.to_string()),
    }
}

pub type Result<T, E = MetaError> = std::result::Result<T, E>;

/// Every record of an open table (read-only or in a write transaction), in key order.
fn decode_all<T: DeserializeOwned>(
    table: Table,
    t: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<Vec<(String, T)>> {
    let mut out = Vec::new();
    for item in t.iter().map_err(db_err)? {
        let (k, v) = item.map_err(db_err)?;
        let key = k.value().to_string();
        let rec = decode(table, &key, v.value())?;
        out.push((key, rec));
    }
    Ok(out)
}

fn decode<T: DeserializeOwned>(table: Table, key: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|source| MetaError::Corrupt {
        table: table.0,
        key: key.to_string(),
        source,
    })
}

/// The commit sequence number, stored by every write transaction.
const COMMIT: Table = Table::new("meta_commit");
const COMMIT_SEQ: &str = "seq";

/// Opens (creating) `path`, letting redb repair it after an unclean
/// shutdown. Returns whether the repair fell back to the commit before the
/// newest (whose pages failed their checksums).
fn open_db(path: &Path) -> Result<(Database, bool)> {
    let fell_back = Arc::new(AtomicBool::new(false));
    let seen = fell_back.clone();
    let mut builder = redb::Builder::new();
    builder.set_repair_callback(move |session| {
        // First called at 0.3 only when the newest commit fails its
        // checksums (redb is about to fall back); at 0.6 otherwise.
        if session.progress() < 0.5 {
            seen.store(true, Ordering::Relaxed);
        }
    });
    let damaged = |reason: String| MetaError::Damaged {
        path: path.to_owned(),
        reason,
    };
    let db = survive_panic(path, || builder.create(path)).map_err(|e| match e {
        PanicOr::Panicked(e) => e,
        PanicOr::Returned(redb::DatabaseError::Storage(redb::StorageError::Corrupted(why))) => {
            damaged(why)
        }
        PanicOr::Returned(redb::DatabaseError::Storage(redb::StorageError::Io(e)))
            if e.kind() == std::io::ErrorKind::InvalidData =>
        {
            damaged(e.to_string())
        }
        // A handle from before an I/O failure is still in use.
        PanicOr::Returned(redb::DatabaseError::DatabaseAlreadyOpen) => {
            MetaError::Unavailable(format!("{} is still open", path.display()))
        }
        PanicOr::Returned(e) => db_err(e),
    })?;
    Ok((db, fell_back.load(Ordering::Relaxed)))
}

enum PanicOr<E> {
    Panicked(MetaError),
    Returned(E),
}

/// Runs a redb call on a possibly damaged file. redb asserts (in debug
/// builds; release builds return `Corrupted`) on some malformed on-disk
/// state; either way the file is damaged, and nothing may panic on it.
fn survive_panic<T, E>(
    path: &Path,
    f: impl FnOnce() -> std::result::Result<T, E>,
) -> std::result::Result<T, PanicOr<E>> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(PanicOr::Returned),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("redb failed on it");
            Err(PanicOr::Panicked(MetaError::Damaged {
                path: path.to_owned(),
                reason: what.to_owned(),
            }))
        }
    }
}

/// The sequence number of the newest commit in `db` (0: none yet).
fn stored_seq(db: &Database) -> Result<u64> {
    let tx = db.begin_read().map_err(db_err)?;
    let table = match tx.open_table(COMMIT.def()) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(db_err(e)),
    };
    match table.get(COMMIT_SEQ).map_err(db_err)? {
        Some(v) => decode(COMMIT, COMMIT_SEQ, v.value()),
        None => Ok(0),
    }
}

/// Refuses `db` (opened from `path`, or from a copy of it) when it holds
/// fewer commits than were acknowledged.
fn check_acknowledged(path: &Path, db: &Database, fell_back: bool) -> Result<u64> {
    let stored = stored_seq(db)?;
    if let Some(acked) = acked::read(path)
        && stored < acked
    {
        let why = if fell_back {
            "its newest commit fails its checksums, and the commit before it"
        } else {
            "it"
        };
        return Err(MetaError::Damaged {
            path: path.to_owned(),
            reason: format!(
                "{why} ends at commit {stored}, but commit {acked} was acknowledged \
                 (see {})",
                acked::path(path).display()
            ),
        });
    }
    Ok(stored)
}

/// Opens `path` and checks it against the acknowledged commits.
fn open_checked(path: &Path) -> Result<Database> {
    let (db, fell_back) = open_db(path)?;
    check_acknowledged(path, &db, fell_back)?;
    Ok(db)
}

/// What [`verify_meta`] found in an intact metadata store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaReport {
    pub path: PathBuf,
    /// `(table, records)`, every record a readable JSON document.
    pub tables: Vec<(String, u64)>,
    /// The newest commit in the file (its sequence number).
    pub commit: u64,
    /// The newest commit acknowledged to a caller (`None`: not recorded,
    /// e.g. a file from before this check existed).
    pub acknowledged: Option<u64>,
    /// The file's newest commit was incomplete (a crash or a refused write
    /// during it) and is dropped; it was never acknowledged.
    pub dropped_incomplete_commit: bool,
}

/// Checks `path` (a `meta.redb`) without changing it: a copy is opened the
/// way the server opens it, put through redb's full integrity check (every
/// page checksum), held to the acknowledged commit sequence, and every
/// record is decoded. `Err(MetaError::Damaged)` names the file; other errors
/// mean it could not be checked (unreadable, no room for the copy). Run it
/// while no server uses the file, or it may check a copy taken mid-commit.
pub fn verify_meta(path: &Path) -> Result<MetaReport> {
    let damaged = |reason: String| MetaError::Damaged {
        path: path.to_owned(),
        reason,
    };
    let copy = VerifyCopy::of(path)?;
    let (mut db, fell_back) = open_db(&copy.0).map_err(|e| match e {
        MetaError::Damaged { reason, .. } => damaged(reason),
        e => damaged(format!("redb cannot open it: {e}")),
    })?;
    match survive_panic(path, || db.check_integrity()) {
        Ok(true) => {}
        Ok(false) => return Err(damaged("it fails redb's integrity check".into())),
        Err(PanicOr::Panicked(e)) => return Err(e),
        Err(PanicOr::Returned(e)) => {
            return Err(damaged(format!("it fails redb's integrity check: {e}")));
        }
    }
    let commit = check_acknowledged(path, &db, fell_back).map_err(|e| match e {
        e @ MetaError::Damaged { .. } => e,
        e => damaged(e.to_string()),
    })?;
    let tx = db.begin_read().map_err(|e| damaged(e.to_string()))?;
    let mut tables = Vec::new();
    for handle in tx.list_tables().map_err(|e| damaged(e.to_string()))? {
        let name = handle.name().to_owned();
        let def: TableDefinition<'_, &str, &[u8]> = TableDefinition::new(&name);
        let table = tx
            .open_table(def)
            .map_err(|e| damaged(format!("table {name}: {e}")))?;
        let mut records = 0u64;
        for item in table
            .iter()
            .map_err(|e| damaged(format!("table {name}: {e}")))?
        {
            let (k, v) = item.map_err(|e| damaged(format!("table {name}: {e}")))?;
            serde_json::from_slice::<serde::de::IgnoredAny>(v.value())
                .map_err(|e| damaged(format!("record {name}/{} is not JSON: {e}", k.value())))?;
            records += 1;
        }
        tables.push((name, records));
    }
    Ok(MetaReport {
        path: path.to_owned(),
        tables,
        commit,
        acknowledged: acked::read(path),
        dropped_incomplete_commit: fell_back,
    })
}

/// A private copy of the file being verified, removed when dropped.
struct VerifyCopy(PathBuf);

impl VerifyCopy {
    fn of(path: &Path) -> Result<VerifyCopy> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let copy = std::env::temp_dir().join(format!(
            "stratus-verify-meta-{}-{nanos}.redb",
            std::process::id()
        ));
        let guard = VerifyCopy(copy);
        std::fs::copy(path, &guard.0).map_err(|e| {
            MetaError::Db(format!(
                "cannot check {}: copying it to {}: {e}",
                path.display(),
                guard.0.display()
            ))
        })?;
        Ok(guard)
    }
}

impl Drop for VerifyCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[derive(Debug)]
pub struct MetaStore {
    backend: Backend,
}

#[derive(Debug)]
enum Backend {
    Redb(RedbStore),
    /// Cluster mode: the tables live in PostgreSQL.
    Pg(Pg),
}

/// The single-node store: one redb file.
#[derive(Debug)]
struct RedbStore {
    path: PathBuf,
    /// `None` after an I/O failure, until reopened. Calls hold a clone of
    /// the `Arc` (not the lock), so a call made inside another never waits
    /// on a reopen; the file closes once the last of them returns.
    db: Mutex<Option<Arc<Database>>>,
    acked: acked::Writer,
}

impl MetaStore {
    /// Opens or creates the store, refusing a file that holds fewer commits
    /// than were acknowledged. The server calls [`Self::open_verified`].
    pub fn open(path: &Path) -> Result<Self> {
        let db = open_checked(path)?;
        Ok(MetaStore {
            backend: Backend::Redb(RedbStore {
                path: path.to_owned(),
                db: Mutex::new(Some(Arc::new(db))),
                acked: acked::Writer::open(path)?,
            }),
        })
    }

    /// The store in the cluster's PostgreSQL database (schema created by
    /// [`Pg::connect`]).
    pub fn postgres(pg: Pg) -> Self {
        MetaStore {
            backend: Backend::Pg(pg),
        }
    }

    /// The PostgreSQL handle in cluster mode (`None` on redb).
    pub fn pg(&self) -> Option<&Pg> {
        match &self.backend {
            Backend::Pg(pg) => Some(pg),
            Backend::Redb(_) => None,
        }
    }

    /// How many committed transactions have written `table` (cluster mode;
    /// for cache invalidation across nodes). Always 0 on redb, where this
    /// process sees every write itself.
    pub fn table_version(&self, table: Table) -> Result<i64> {
        match &self.backend {
            Backend::Pg(pg) => Ok(pg.table_version(table.0)?),
            Backend::Redb(_) => Ok(0),
        }
    }

    /// The server's open: an existing file must pass [`verify_meta`] first.
    pub fn open_verified(path: &Path) -> Result<Self> {
        if path.exists() {
            let report = verify_meta(path)?;
            if report.dropped_incomplete_commit {
                tracing::info!(
                    "meta.redb: an incomplete (never acknowledged) last commit was dropped"
                );
            }
        }
        Self::open(path)
    }

    /// `--recover-meta`: when the file fails [`verify_meta`], keeps a copy
    /// (`<file>.damaged-<unix time>`) and lets redb repair it, which may
    /// fall back to an older commit; where redb refuses, copies the records
    /// still legible into a new file ([`salvage`]). The acknowledged
    /// sequence restarts from what survived. Returns the store and, when it had to repair,
    /// what the check found.
    pub fn open_recovering(path: &Path) -> Result<(Self, Option<MetaError>)> {
        let damage = match path.exists().then(|| verify_meta(path)) {
            Some(Err(e @ MetaError::Damaged { .. })) => e,
            Some(Err(e)) => return Err(e),
            Some(Ok(_)) | None => return Ok((Self::open(path)?, None)),
        };
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut kept = path.as_os_str().to_owned();
        kept.push(format!(".damaged-{secs}"));
        std::fs::copy(path, &kept)
            .map_err(|e| MetaError::Db(format!("keeping a copy of {}: {e}", path.display())))?;
        let beyond_repair = |e: &dyn std::fmt::Display| {
            MetaError::Db(format!(
                "--recover-meta: redb cannot repair {}: {e}; restore it from a backup",
                path.display()
            ))
        };
        // redb's own repair first (it may fall back to an older commit)...
        let repaired = open_db(path).and_then(|(mut db, _)| {
            match survive_panic(path, || db.check_integrity()) {
                Ok(_) => Ok(db),
                Err(PanicOr::Panicked(e)) => Err(e),
                Err(PanicOr::Returned(e)) => Err(db_err(e)),
            }
        });
        let db = match repaired {
            Ok(db) => db,
            // ... else whatever records are still legible.
            Err(why) => {
                let kept = Path::new(&kept);
                let saved = salvage::salvage(kept, path).map_err(|e| beyond_repair(&e))?;
                tracing::warn!(
                    %why, copied = saved.copied, dropped = saved.dropped,
                    "--recover-meta: redb cannot repair meta.redb; copied its legible records into a new one"
                );
                open_db(path).map_err(|e| beyond_repair(&e))?.0
            }
        };
        let survived = stored_seq(&db)?;
        let acked = acked::Writer::open(path)?;
        acked.reset(survived)?;
        let store = MetaStore {
            backend: Backend::Redb(RedbStore {
                path: path.to_owned(),
                db: Mutex::new(Some(Arc::new(db))),
                acked,
            }),
        };
        Ok((store, Some(damage)))
    }
}

impl RedbStore {
    /// The open database, reopening it after an I/O failure closed it (a
    /// reopen fails while a call still holds the old handle; a later call
    /// retries).
    fn db(&self) -> Result<Arc<Database>> {
        let mut slot = self.db.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(db) = slot.as_ref() {
            return Ok(db.clone());
        }
        let db = Arc::new(open_checked(&self.path)?);
        tracing::info!(path = %self.path.display(), "metadata store reopened");
        *slot = Some(db.clone());
        Ok(db)
    }

    /// Runs `f` on the database; an I/O failure drops this store's handle
    /// (redb refuses every later call until a reopen), so a later call
    /// reopens the file.
    fn with_db<R>(&self, f: impl FnOnce(&Database) -> Result<R>) -> Result<R> {
        let db = self.db()?;
        let r = f(&db);
        if let Err(MetaError::Unavailable(why)) = &r {
            tracing::warn!(error = %why, "metadata store I/O failure; reopening on next use");
            let mut slot = self.db.lock().unwrap_or_else(|e| e.into_inner());
            if slot
                .as_ref()
                .is_some_and(|current| Arc::ptr_eq(current, &db))
            {
                *slot = None;
            }
        }
        r
    }

    /// `table` in a read transaction of its own; `None` before anything was
    /// ever written to it.
    fn read_table(
        db: &Database,
        table: Table,
    ) -> Result<Option<redb::ReadOnlyTable<&'static str, &'static [u8]>>> {
        let tx = db.begin_read().map_err(db_err)?;
        match tx.open_table(table.def()) {
            Ok(t) => Ok(Some(t)),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(db_err(e)),
        }
    }
}

impl MetaStore {
    pub fn get<T: DeserializeOwned>(&self, table: Table, key: &str) -> Result<Option<T>> {
        let redb = match &self.backend {
            Backend::Redb(r) => r,
            Backend::Pg(pg) => {
                return pg
                    .kv_get(table.0, key)?
                    .map(|v| decode(table, key, &v))
                    .transpose();
            }
        };
        redb.with_db(|db| {
            let Some(t) = RedbStore::read_table(db, table)? else {
                return Ok(None);
            };
            t.get(key)
                .map_err(db_err)?
                .map(|v| decode(table, key, v.value()))
                .transpose()
        })
    }

    /// All records of a table in key order.
    /// The names of the record tables in this store (redb; for `stratus
    /// cluster import`). Excludes the internal commit-sequence table.
    pub fn table_names(&self) -> Result<Vec<String>> {
        let redb = match &self.backend {
            Backend::Redb(r) => r,
            Backend::Pg(_) => {
                return Err(MetaError::Db(
                    "listing tables is only for a redb store".into(),
                ));
            }
        };
        redb.with_db(|db| {
            let tx = db.begin_read().map_err(db_err)?;
            let mut names: Vec<String> = tx
                .list_tables()
                .map_err(db_err)?
                .map(|t| t.name().to_string())
                .filter(|n| n != COMMIT.0)
                .collect();
            names.sort();
            Ok(names)
        })
    }

    pub fn list<T: DeserializeOwned>(&self, table: Table) -> Result<Vec<(String, T)>> {
        let redb = match &self.backend {
            Backend::Redb(r) => r,
            Backend::Pg(pg) => return decode_pairs(table, pg.kv_list(table.0)?),
        };
        redb.with_db(|db| match RedbStore::read_table(db, table)? {
            Some(t) => decode_all(table, &t),
            None => Ok(Vec::new()),
        })
    }

    /// The keys of a table below `end`, in order, without decoding records.
    pub fn keys_below(&self, table: Table, end: &str) -> Result<Vec<String>> {
        let redb = match &self.backend {
            Backend::Redb(r) => r,
            Backend::Pg(pg) => return Ok(pg.kv_keys_below(table.0, end)?),
        };
        redb.with_db(|db| {
            let Some(t) = RedbStore::read_table(db, table)? else {
                return Ok(Vec::new());
            };
            let mut out = Vec::new();
            for item in t.range(..end).map_err(db_err)? {
                let (k, _) = item.map_err(db_err)?;
                out.push(k.value().to_string());
            }
            Ok(out)
        })
    }

    /// Up to `limit` records with `start <= key < end`, in key order (or
    /// reverse key order): a bounded scan, for callers that page through a
    /// large table instead of loading it.
    pub fn range<T: DeserializeOwned>(
        &self,
        table: Table,
        start: &str,
        end: &str,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<(String, T)>> {
        if start >= end || limit == 0 {
            return Ok(Vec::new());
        }
        let redb = match &self.backend {
            Backend::Redb(r) => r,
            Backend::Pg(pg) => {
                let lim = i64::try_from(limit).unwrap_or(i64::MAX);
                return decode_pairs(table, pg.kv_range(table.0, start, end, reverse, lim)?);
            }
        };
        redb.with_db(|db| {
            let Some(t) = RedbStore::read_table(db, table)? else {
                return Ok(Vec::new());
            };
            let iter = t.range(start..end).map_err(db_err)?;
            let iter: Box<dyn Iterator<Item = _>> = if reverse {
                Box::new(iter.rev())
            } else {
                Box::new(iter)
            };
            let mut out = Vec::new();
            for item in iter.take(limit) {
                let (k, v) = item.map_err(db_err)?;
                let key = k.value().to_string();
                let rec = decode(table, &key, v.value())?;
                out.push((key, rec));
            }
            Ok(out)
        })
    }

    pub fn put<T: Serialize>(&self, table: Table, key: &str, value: &T) -> Result<()> {
        self.transact(|tx| tx.put(table, key, value))
    }

    pub fn delete(&self, table: Table, key: &str) -> Result<bool> {
        self.transact(|tx| tx.delete(table, key))
    }

    /// Deletes `keys` from `table` in one transaction; how many were asked.
    pub fn delete_many(&self, table: Table, keys: &[String]) -> Result<usize> {
        if keys.is_empty() {
            return Ok(0);
        }
        self.transact(|tx| {
            for k in keys {
                tx.delete(table, k)?;
            }
            Ok(keys.len())
        })
    }

    /// Runs `f` in one write transaction; commits only when it returns Ok.
    /// On redb the commit carries the next sequence number, recorded as
    /// acknowledged once it has committed.
    pub fn transact<R>(&self, f: impl FnOnce(&mut Txn<'_>) -> Result<R>) -> Result<R> {
        let redb = match &self.backend {
            Backend::Redb(r) => r,
            Backend::Pg(pg) => {
                return pg.transact(|kv| {
                    let mut txn = Txn {
                        inner: TxnInner::Pg(RefCell::new(kv)),
                    };
                    f(&mut txn)
                });
            }
        };
        let (r, seq) = redb.with_db(|db| {
            let tx = db.begin_write().map_err(db_err)?;
            let mut txn = Txn {
                inner: TxnInner::Redb(&tx),
            };
            let r = f(&mut txn)?;
            let seq = txn.get::<u64>(COMMIT, COMMIT_SEQ)?.unwrap_or(0) + 1;
            txn.put(COMMIT, COMMIT_SEQ, &seq)?;
            tx.commit().map_err(db_err)?;
            Ok((r, seq))
        })?;
        redb.acked.record(seq);
        Ok(r)
    }
}

/// One page of a table's records listed by [`MetaStore::list`]: those with a
/// key after `after`, in key order, at most `max`; and the last key returned
/// when more remain (the caller encodes it as its API's paging token).
pub fn page_after<T>(
    rows: Vec<(String, T)>,
    after: Option<&str>,
    max: usize,
) -> (Vec<(String, T)>, Option<String>) {
    let mut rows: Vec<(String, T)> = rows
        .into_iter()
        .filter(|(k, _)| after.is_none_or(|a| k.as_str() > a))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let last = if rows.len() > max {
        rows.truncate(max);
        rows.last().map(|(k, _)| k.clone())
    } else {
        None
    };
    (rows, last)
}

fn decode_pairs<T: DeserializeOwned>(
    table: Table,
    raw: Vec<(String, Vec<u8>)>,
) -> Result<Vec<(String, T)>> {
    raw.into_iter()
        .map(|(k, v)| {
            let rec = decode(table, &k, &v)?;
            Ok((k, rec))
        })
        .collect()
}

/// The PostgreSQL transaction behind a [`Txn`], as a trait object so
/// `Txn` keeps its single lifetime (`KvTxn` has its own).
trait PgTxn {
    fn get(&mut self, table: &str, key: &str) -> Result<Option<Vec<u8>>, PgError>;
    fn put(&mut self, table: &str, key: &str, value: &[u8]) -> Result<(), PgError>;
    fn delete(&mut self, table: &str, key: &str) -> Result<bool, PgError>;
    fn list(&mut self, table: &str) -> Result<Vec<(String, Vec<u8>)>, PgError>;
    fn fence(&mut self, kind: &str, id: i32, owner: &str, epoch: i64) -> Result<(), PgError>;
}

impl PgTxn for KvTxn<'_> {
    fn get(&mut self, table: &str, key: &str) -> Result<Option<Vec<u8>>, PgError> {
        KvTxn::get(self, table, key)
    }
    fn put(&mut self, table: &str, key: &str, value: &[u8]) -> Result<(), PgError> {
        KvTxn::put(self, table, key, value)
    }
    fn delete(&mut self, table: &str, key: &str) -> Result<bool, PgError> {
        KvTxn::delete(self, table, key)
    }
    fn list(&mut self, table: &str) -> Result<Vec<(String, Vec<u8>)>, PgError> {
        KvTxn::list(self, table)
    }
    fn fence(&mut self, kind: &str, id: i32, owner: &str, epoch: i64) -> Result<(), PgError> {
        KvTxn::fence(self, kind, id, owner, epoch)
    }
}

/// A write transaction handle passed to [`MetaStore::transact`].
pub struct Txn<'a> {
    inner: TxnInner<'a>,
}

enum TxnInner<'a> {
    Redb(&'a redb::WriteTransaction),
    /// A `RefCell` because reads take `&self` (as redb's do) while the
    /// PostgreSQL transaction needs `&mut` for every statement.
    Pg(RefCell<&'a mut (dyn PgTxn + 'a)>),
}

impl Txn<'_> {
    pub fn get<T: DeserializeOwned>(&self, table: Table, key: &str) -> Result<Option<T>> {
        let tx = match &self.inner {
            TxnInner::Redb(tx) => tx,
            TxnInner::Pg(kv) => {
                return kv
                    .borrow_mut()
                    .get(table.0, key)?
                    .map(|v| decode(table, key, &v))
                    .transpose();
            }
        };
        let t = tx.open_table(table.def()).map_err(db_err)?;
        t.get(key)
            .map_err(db_err)?
            .map(|v| decode(table, key, v.value()))
            .transpose()
    }
    pub fn put<T: Serialize>(&mut self, table: Table, key: &str, value: &T) -> Result<()> {
        let bytes = serde_json::to_vec(value).map_err(|e| MetaError::Db(e.to_string()))?;
        let tx = match &self.inner {
            TxnInner::Redb(tx) => tx,
            TxnInner::Pg(kv) => return Ok(kv.borrow_mut().put(table.0, key, &bytes)?),
        };
        let mut t = tx.open_table(table.def()).map_err(db_err)?;
        t.insert(key, bytes.as_slice()).map_err(db_err)?;
        Ok(())
    }
    /// All records of a table in key order, as this transaction sees them.
    pub fn list<T: DeserializeOwned>(&self, table: Table) -> Result<Vec<(String, T)>> {
        let tx = match &self.inner {
            TxnInner::Redb(tx) => tx,
            TxnInner::Pg(kv) => return decode_pairs(table, kv.borrow_mut().list(table.0)?),
        };
        let t = tx.open_table(table.def()).map_err(db_err)?;
        decode_all(table, &t)
    }
    pub fn delete(&mut self, table: Table, key: &str) -> Result<bool> {
        let tx = match &self.inner {
            TxnInner::Redb(tx) => tx,
            TxnInner::Pg(kv) => return Ok(kv.borrow_mut().delete(table.0, key)?),
        };
        let mut t = tx.open_table(table.def()).map_err(db_err)?;
        let existed = t.remove(key).map_err(db_err)?.is_some();
        Ok(existed)
    }
    /// Refuses with [`MetaError::Fenced`] unless lease `(kind, id)` is held
    /// by `owner` at `epoch` and unexpired; the lease cannot change hands
    /// before this transaction ends. A no-op on redb (one node, no leases).
    pub fn fence(&mut self, kind: &str, id: i32, owner: &str, epoch: i64) -> Result<()> {
        match &self.inner {
            TxnInner::Redb(_) => Ok(()),
            TxnInner::Pg(kv) => Ok(kv.borrow_mut().fence(kind, id, owner, epoch)?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Table = Table::new("t");

    #[test]
    fn a_store_open_elsewhere_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.redb");
        let first = MetaStore::open(&path).unwrap();
        let second = MetaStore::open(&path).unwrap_err();
        assert!(
            // The server names the other process (`open_meta` asks /proc).
            matches!(&second, MetaError::Unavailable(why) if why.contains("m.redb")),
            "{second}"
        );
        drop(first);
        MetaStore::open(&path).unwrap();
    }

    #[test]
    fn put_get_list_delete_and_abort() {
        let dir = tempfile::tempdir().unwrap();
        let m = MetaStore::open(&dir.path().join("m.redb")).unwrap();
        assert_eq!(m.get::<u32>(T, "a").unwrap(), None);
        m.put(T, "b", &2u32).unwrap();
        m.put(T, "a", &1u32).unwrap();
        assert_eq!(m.get::<u32>(T, "a").unwrap(), Some(1));
        let all: Vec<(String, u32)> = m.list(T).unwrap();
        assert_eq!(all, vec![("a".into(), 1), ("b".into(), 2)]);
        // A failing transaction commits nothing.
        let r: Result<()> = m.transact(|tx| {
            tx.put(T, "c", &3u32)?;
            Err(MetaError::Db("boom".into()))
        });
        assert!(r.is_err());
        assert_eq!(m.get::<u32>(T, "c").unwrap(), None);
        assert!(m.delete(T, "a").unwrap());
        assert!(!m.delete(T, "a").unwrap());
        drop(m);
        let m = MetaStore::open(&dir.path().join("m.redb")).unwrap();
        assert_eq!(m.get::<u32>(T, "b").unwrap(), Some(2));
    }
}

/// The metadata store on a real small tmpfs that the test fills (needs
/// root, as in CI; fails loudly where `mount` is not permitted).
#[cfg(test)]
mod disk_full {
    use super::*;
    use std::io::Write;

    const T: Table = Table::new("t");

    struct SmallDisk(tempfile::TempDir);

    impl SmallDisk {
        fn mount() -> SmallDisk {
            let dir = tempfile::tempdir().unwrap();
            let status = std::process::Command::new("mount")
                .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
                .arg(dir.path())
                .status()
                .expect("running mount");
            assert!(
                status.success(),
                "mounting a tmpfs failed: this test needs root"
            );
            SmallDisk(dir)
        }
        fn fill(&self) {
            let mut f = std::fs::File::create(self.0.path().join("filler")).unwrap();
            let chunk = vec![0u8; 4096];
            while f.write_all(&chunk).is_ok() {}
        }
        fn free(&self) {
            std::fs::remove_file(self.0.path().join("filler")).unwrap();
        }
    }

    impl Drop for SmallDisk {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .arg(self.0.path())
                .status();
        }
    }

    #[test]
    fn a_full_disk_refuses_writes_and_the_store_recovers_without_a_restart() {
        let disk = SmallDisk::mount();
        let path = disk.0.path().join("meta.redb");
        let m = MetaStore::open(&path).unwrap();
        let mut acked: Vec<(String, Vec<u32>)> = Vec::new();
        for i in 0..50u32 {
            let key = format!("before-{i:03}");
            m.put(T, &key, &vec![i; 100]).unwrap();
            acked.push((key, vec![i; 100]));
        }
        disk.fill();
        let mut refused = None;
        for i in 0..1000u32 {
            let key = format!("full-{i:03}");
            match m.put(T, &key, &vec![i; 100]) {
                Ok(()) => acked.push((key, vec![i; 100])),
                Err(MetaError::Unavailable(why)) => {
                    assert!(why.contains("No space left"), "{why}");
                    refused = Some(key);
                    break;
                }
                Err(e) => panic!("{e}"),
            }
        }
        let refused = refused.expect("a full disk refuses a commit");
        // Still full: still refused, and nothing of the refused write shows.
        assert!(matches!(
            m.put(T, "while-full", &1u32),
            Err(MetaError::Unavailable(_))
        ));
        disk.free();
        // No restart: reads and writes work again, the refused key is absent.
        assert_eq!(m.get::<Vec<u32>>(T, &refused).unwrap(), None);
        m.put(T, "after", &vec![7u32]).unwrap();
        acked.push(("after".into(), vec![7]));
        acked.sort();
        assert_eq!(m.list::<Vec<u32>>(T).unwrap(), acked);
        drop(m);
        // A restart finds exactly the acknowledged records, and the file passes.
        verify_meta(&path).unwrap();
        let m = MetaStore::open_verified(&path).unwrap();
        assert_eq!(m.list::<Vec<u32>>(T).unwrap(), acked);
    }

    #[test]
    fn a_restart_right_after_a_refused_commit_drops_only_that_commit() {
        let disk = SmallDisk::mount();
        let path = disk.0.path().join("meta.redb");
        let m = MetaStore::open(&path).unwrap();
        let mut acked = Vec::new();
        disk.fill();
        for i in 0..1000u32 {
            let key = format!("k-{i:03}");
            if m.put(T, &key, &i).is_err() {
                break;
            }
            acked.push((key, i));
        }
        // Stopped before the store could reopen: the file's newest commit
        // slot may be the refused one.
        drop(m);
        disk.free();
        verify_meta(&path).unwrap();
        let m = MetaStore::open_verified(&path).unwrap();
        assert_eq!(m.list::<u32>(T).unwrap(), acked);
    }
}

#[cfg(test)]
mod damage_tests;

#[cfg(test)]
mod pg_tests;
