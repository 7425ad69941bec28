//! The store's error type.

use std::path::PathBuf;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the log group already exists")]
    GroupExists,
    #[error("the log group does not exist")]
    NoGroup,
    #[error("the log stream already exists")]
    StreamExists,
    #[error("the log stream does not exist")]
    NoStream,
    #[error("the metric filter does not exist")]
    NoFilter,
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A file is damaged somewhere a torn write cannot explain.
    #[error("{} is damaged at offset {offset}: {reason}", path.display())]
    Damaged {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    /// An earlier write or fsync of the WAL failed: nothing more is
    /// acknowledged until the store is reopened (the kernel may have dropped
    /// the dirty pages, so the segment cannot be trusted).
    #[error("the store refuses writes: {0}")]
    WriteRefused(String),
    /// Another `Store` (this process or another) has the directory open.
    #[error("{} is in use by another store", path.display())]
    Locked { path: PathBuf },
}

impl StoreError {
    /// Damage that `Options::recover` (`stratus server --recover`,
    /// `stratus fsck --repair`) can repair.
    pub fn recoverable(&self) -> bool {
        matches!(self, StoreError::Damaged { .. })
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> StoreError {
        StoreError::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn damaged(
        path: &std::path::Path,
        offset: u64,
        reason: impl Into<String>,
    ) -> StoreError {
        StoreError::Damaged {
            path: path.to_owned(),
            offset,
            reason: reason.into(),
        }
    }
}
