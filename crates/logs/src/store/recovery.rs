//! What opening with [`super::Options::recover`] repaired, and the helpers
//! that keep a damaged file's original before anything changes it.
//!
//! Recovery never deletes an original: a damaged WAL segment or catalog is
//! copied to `<name>.damaged-<unix-time>` before it is rewritten, a damaged
//! or unlisted segment file is renamed so.

use std::fmt;
use std::path::{Path, PathBuf};

use super::error::StoreError;

/// Damaged bytes skipped in a WAL segment (the segment is rewritten with
/// every intact record; the original is `kept_aside`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truncation {
    pub path: PathBuf,
    /// Where the first damaged range started in the original.
    pub offset: u64,
    pub ranges: usize,
    pub dropped_bytes: u64,
    pub reason: String,
    pub kept_aside: PathBuf,
}

/// A segment file dropped from the catalog: damaged or missing. Its events
/// are lost (the WAL no longer holds sealed events).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LostSegment {
    pub path: PathBuf,
    /// The damaged original, renamed; `None` when the file was missing.
    pub kept_aside: Option<PathBuf>,
    pub group: String,
    pub window_start_ms: i64,
    pub events: u64,
    pub reason: String,
}

/// How a damaged `catalog.snap` was rebuilt: from `catalog.snap.prev`
/// (when present and intact) plus every WAL record after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogRebuild {
    pub kept_aside: PathBuf,
    pub reason: String,
    pub from_previous: bool,
    /// Record lsns (inclusive) newer than the base but no longer in the
    /// WAL: their changes (groups, streams, events) are lost. `None`: the
    /// WAL covered everything after the base, nothing was lost.
    pub lost_lsns: Option<(u64, u64)>,
    /// Segment files the base does not name, renamed aside (their events
    /// replay from the WAL when it covers them).
    pub segments_set_aside: Vec<PathBuf>,
}

/// What recovery did at open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub truncations: Vec<Truncation>,
    pub lost_segments: Vec<LostSegment>,
    pub catalog: Option<CatalogRebuild>,
}

impl RecoveryReport {
    /// True when recovery had to repair or discard anything.
    pub fn repaired(&self) -> bool {
        !self.truncations.is_empty() || !self.lost_segments.is_empty() || self.catalog.is_some()
    }

    /// One line per repair, for logs and `stratus fsck --repair`.
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self.truncations.iter().map(ToString::to_string).collect();
        if let Some(c) = &self.catalog {
            out.push(c.to_string());
        }
        out.extend(self.lost_segments.iter().map(ToString::to_string));
        out
    }
}

impl fmt::Display for Truncation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "skipped {} damaged bytes ({} range(s), the first at byte offset {}: {}) of {}, keeping every intact record; the original is kept as {}",
            self.dropped_bytes,
            self.ranges,
            self.offset,
            self.reason,
            self.path.display(),
            self.kept_aside.display()
        )
    }
}

impl fmt::Display for LostSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "dropped segment file {} ({}): lost {} events of log group {} in the window starting at {} ms",
            self.path.display(),
            self.reason,
            self.events,
            self.group,
            self.window_start_ms
        )?;
        match &self.kept_aside {
            Some(p) => write!(f, "; the original is kept as {}", p.display()),
            None => Ok(()),
        }
    }
}

impl fmt::Display for CatalogRebuild {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let base = if self.from_previous {
            "catalog.snap.prev"
        } else {
            "an empty catalog"
        };
        write!(
            f,
            "rebuilt the damaged catalog ({}) from {base} and the WAL; the original is kept as {}",
            self.reason,
            self.kept_aside.display()
        )?;
        match self.lost_lsns {
            None => write!(f, "; nothing lost")?,
            Some((a, b)) => write!(
                f,
                "; LOST: WAL records {a}..={b} (group, stream and filter changes and events) are in neither"
            )?,
        }
        for p in &self.segments_set_aside {
            write!(f, "; set aside unlisted segment file {}", p.display())?;
        }
        Ok(())
    }
}

/// Whether a file name is a copy kept by recovery.
pub fn is_kept_aside(name: &str) -> bool {
    name.contains(".damaged-")
}

/// `<path>.damaged-<now>`, with a `.N` suffix when taken.
fn aside_path(path: &Path, now_secs: i64) -> PathBuf {
    let mut base = path.as_os_str().to_owned();
    base.push(format!(".damaged-{now_secs}"));
    let base = PathBuf::from(base);
    let mut candidate = base.clone();
    let mut n = 1;
    while candidate.exists() {
        let mut name = base.as_os_str().to_owned();
        name.push(format!(".{n}"));
        candidate = PathBuf::from(name);
        n += 1;
    }
    candidate
}

/// Copies `path` aside (fsync'd) before recovery rewrites it.
pub fn copy_aside(path: &Path, now_secs: i64, fsync: bool) -> Result<PathBuf, StoreError> {
    let aside = aside_path(path, now_secs);
    let io = |e| {
        StoreError::io(
            format!("copying {} to {}", path.display(), aside.display()),
            e,
        )
    };
    std::fs::copy(path, &aside).map_err(io)?;
    if fsync {
        std::fs::File::open(&aside)
            .and_then(|f| f.sync_all())
            .map_err(io)?;
    }
    Ok(aside)
}

/// Renames `path` aside (the caller syncs the directory).
pub fn rename_aside(path: &Path, now_secs: i64) -> Result<PathBuf, StoreError> {
    let aside = aside_path(path, now_secs);
    std::fs::rename(path, &aside).map_err(|e| {
        StoreError::io(
            format!("renaming {} to {}", path.display(), aside.display()),
            e,
        )
    })?;
    Ok(aside)
}
