//! What `Db::open` had to repair, for the caller to log.

use std::path::PathBuf;

/// A file cut at its last good record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truncation {
    pub path: PathBuf,
    /// New length of the file.
    pub offset: u64,
    pub dropped_bytes: u64,
    pub reason: String,
}

/// The outcome of recovery at open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub wal_segments_replayed: usize,
    pub wal_records_replayed: u64,
    pub wal_samples_replayed: u64,
    /// WAL segments skipped because a block already covers them (a crash
    /// between writing a block and deleting its segments).
    pub wal_segments_already_sealed: usize,
    /// Damaged tails cut from WAL segments or the catalog.
    pub truncations: Vec<Truncation>,
    /// Leftover temporary files from an interrupted seal.
    pub removed_temp_files: Vec<PathBuf>,
    /// Blocks an interrupted compaction had already replaced, or an
    /// interrupted seal wrote only part of (its WAL is replayed instead).
    pub removed_blocks: Vec<PathBuf>,
}

impl RecoveryReport {
    /// True when recovery had to repair or discard anything.
    pub fn repaired(&self) -> bool {
        !self.truncations.is_empty()
            || !self.removed_temp_files.is_empty()
            || !self.removed_blocks.is_empty()
    }
}
