//! What `Db::open` had to repair, for the caller to log.

use std::path::PathBuf;

/// Bytes dropped from a file: a torn tail cut at its last good record
/// (`offset` is the new length), or a damaged range skipped under
/// [`crate::Options::recover`] (`offset` is where it started in the
/// original). Under recovery the original was copied to `kept_aside` first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truncation {
    pub path: PathBuf,
    pub offset: u64,
    pub dropped_bytes: u64,
    pub reason: String,
    pub kept_aside: Option<PathBuf>,
}

impl std::fmt::Display for Truncation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (what, how) = match &self.kept_aside {
            None => ("cut a torn tail of", String::new()),
            Some(aside) => (
                "skipped damaged",
                format!("; the original is kept as {}", aside.display()),
            ),
        };
        write!(
            f,
            "{what} {} bytes at byte offset {} of {} ({}){how}",
            self.dropped_bytes,
            self.offset,
            self.path.display(),
            self.reason
        )
    }
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
    /// Torn tails cut from WAL segments or the catalog, and damaged ranges
    /// skipped by recovery.
    pub truncations: Vec<Truncation>,
    /// Series definitions recovery rebuilt from the keys blocks carry.
    pub series_rebuilt_from_blocks: usize,
    /// Series ids blocks hold data for that no catalog record, WAL record
    /// or block key defines (blocks written before keys were stored in
    /// them); their blocks are kept, their data is not listed.
    pub orphaned_series: Vec<u32>,
    /// Blocks whose series keys could not be read during a rebuild.
    pub unreadable_block_keys: Vec<String>,
    /// Damaged blocks renamed aside by recovery, with what was wrong.
    pub blocks_set_aside: Vec<(PathBuf, String)>,
    /// Copies of damaged files made before recovery changed them (besides
    /// those named in `truncations`).
    pub kept_aside: Vec<PathBuf>,
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
            || self.series_rebuilt_from_blocks > 0
            || !self.orphaned_series.is_empty()
            || !self.blocks_set_aside.is_empty()
            || !self.kept_aside.is_empty()
    }
}
