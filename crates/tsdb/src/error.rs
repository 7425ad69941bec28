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
    /// A WAL segment that is not the newest one is damaged; reopen with
    /// `Options::truncate_corrupt_wal` to cut it at the last good record.
    #[error(
        "WAL segment {path} is corrupt at offset {offset} ({reason}); it is not the newest segment"
    )]
    CorruptWalSegment {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
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
