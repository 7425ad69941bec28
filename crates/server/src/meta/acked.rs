//! `<meta.redb>.acked`: the sequence number of the newest metadata commit
//! acknowledged to a caller, kept outside redb as a witness redb's own
//! repair cannot roll back.
//!
//! Written after each commit, before the caller hears of it, in place (16
//! bytes: the number and its complement, so a torn or damaged file reads as
//! unknown rather than as a wrong number). Not fsync'd: a `kill -9` keeps
//! it (page cache), and a power loss can only leave it *behind* redb, which
//! weakens the check (a later number is never claimed) but never fails a
//! good file. In place, so a full disk does not stop it.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{MetaError, Result};

pub fn path(meta: &Path) -> PathBuf {
    let mut p = meta.as_os_str().to_owned();
    p.push(".acked");
    PathBuf::from(p)
}

fn encode(seq: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&seq.to_le_bytes());
    b[8..].copy_from_slice(&(!seq).to_le_bytes());
    b
}

fn decode(b: &[u8]) -> Option<u64> {
    let seq = u64::from_le_bytes(b.get(..8)?.try_into().ok()?);
    let check = u64::from_le_bytes(b.get(8..16)?.try_into().ok()?);
    (check == !seq).then_some(seq)
}

/// The acknowledged sequence for `meta`; `None` when not recorded (no file
/// yet, or unreadable).
pub fn read(meta: &Path) -> Option<u64> {
    decode(&std::fs::read(path(meta)).ok()?)
}

/// Records acknowledged sequence numbers (only ever forward).
#[derive(Debug)]
pub struct Writer {
    file: File,
    path: PathBuf,
    last: Mutex<u64>,
}

impl Writer {
    pub fn open(meta: &Path) -> Result<Writer> {
        let path = path(meta);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| MetaError::Db(format!("opening {}: {e}", path.display())))?;
        Ok(Writer {
            file,
            last: Mutex::new(read(meta).unwrap_or(0)),
            path,
        })
    }

    /// Records `seq` as acknowledged unless a later one already is
    /// (transactions commit in order but may get here out of order).
    pub fn record(&self, seq: u64) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if seq <= *last {
            return;
        }
        if let Err(e) = self.file.write_all_at(&encode(seq), 0) {
            // Only the damage check loses precision (see the module doc).
            tracing::warn!(path = %self.path.display(), error = %e, "recording a metadata commit");
            return;
        }
        *last = seq;
    }

    /// Starts over at `seq` (after `--recover-meta` accepted a repair).
    pub fn reset(&self, seq: u64) -> Result<()> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        self.file
            .write_all_at(&encode(seq), 0)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| MetaError::Db(format!("writing {}: {e}", self.path.display())))?;
        *last = seq;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_witness_reads_as_unknown() {
        assert_eq!(decode(&encode(42)), Some(42));
        let mut b = encode(42);
        b[3] ^= 1;
        assert_eq!(decode(&b), None);
        assert_eq!(decode(&b[..10]), None);
    }
}
