//! The engine's error type.

use std::path::PathBuf;

/// Everything that can go wrong inside the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O call failed; `context` names the operation and the file.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// Persistent data failed a checksum or could not be decoded.
    #[error("corrupt data in {path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// A WAL segment is damaged somewhere other than a torn tail (a bad
    /// record with intact records after it, a bad segment header, damage
    /// in an older segment). Reopen with `Options::recover` to skip the
    /// damaged bytes and keep every intact record (the original file is
    /// copied aside first).
    #[error(
        "WAL segment {path} is damaged at byte offset {offset} ({reason}); \
         intact records may follow, so it was not cut"
    )]
    CorruptWalSegment {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    /// The series catalog is damaged (not just a torn tail). Reopen with
    /// `Options::recover` to rebuild it from its intact records and the
    /// series keys blocks carry (the original is copied aside first).
    #[error("series catalog {path} is damaged at byte offset {offset} ({reason})")]
    CorruptCatalog {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    /// Blocks or WAL records hold data of series the catalog does not
    /// define (a damaged or truncated catalog). `Options::recover` rebuilds
    /// the definitions from the keys blocks carry.
    #[error(
        "series catalog {path} does not define {missing} series that stored data belongs to \
         (first: id {series} in {file})"
    )]
    CatalogMissingSeries {
        path: PathBuf,
        file: PathBuf,
        series: u32,
        missing: usize,
    },
    /// A block failed its checks at open. `Options::recover` renames it
    /// to `<name>.damaged-<secs>` and opens without it.
    #[error("block {path} is damaged: {reason}")]
    CorruptBlock { path: PathBuf, reason: String },
    /// A query was malformed (empty range, non-positive period, ...).
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// A batch is too large to be framed as a single WAL record.
    #[error("write batch of {0} bytes exceeds the WAL record limit")]
    BatchTooLarge(usize),
    /// The series id space (u32) is exhausted.
    #[error("cannot add a series: {0}")]
    TooManySeries(String),
    /// A write was refused and nothing of it is stored or visible: its
    /// group's WAL write or fsync failed (a full disk, an I/O error), or the
    /// WAL could not yet open a fresh segment after such a failure. Writes
    /// succeed again by themselves once the cause is gone.
    #[error("write refused, nothing of it was stored: {0}")]
    WriteRefused(String),
    /// A failed seal or compaction could not clean up after itself; more of
    /// them could make its leftovers look valid, so they stop until a restart
    /// (whose recovery removes the leftovers). Writes are unaffected.
    #[error("sealing and compaction stopped after a failed cleanup: {0}")]
    Poisoned(String),
}

impl Error {
    /// True for damage that opening with `Options::recover` can repair.
    pub fn recoverable(&self) -> bool {
        matches!(
            self,
            Error::CorruptWalSegment { .. }
                | Error::CorruptCatalog { .. }
                | Error::CatalogMissingSeries { .. }
                | Error::CorruptBlock { .. }
        )
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Corrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// Errors from the pure decoders (no file context yet); callers attach the path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub &'static str);

impl DecodeError {
    pub(crate) fn at(self, path: impl Into<PathBuf>) -> Error {
        Error::corrupt(path, self.0)
    }
}
