//! `fsck` for a log store directory: reads every file the store owns — WAL
//! segments (every record's crc and encoding), `catalog.snap` and
//! `catalog.snap.prev`, every segment file (footer, index, every block's
//! crc, decompression and layout) — without changing anything, and says
//! per file what it found. [`repair`] does what `Options::recover` does at
//! open.
//!
//! A torn tail of the newest WAL segment is what a crash leaves and what
//! open cuts: reported, not damage. A segment file the catalog does not
//! name is a crash's leftover that open deletes: reported, not damage.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use super::error::StoreError;
use super::fsutil::list_names;
use super::recovery::{RecoveryReport, is_kept_aside};
use super::{Options, Store, catalog, segment, wal};

/// Which store file a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Catalog,
    /// `catalog.snap.prev`: only read when recovery rebuilds the catalog,
    /// rewritten at every snapshot; its damage is reported but is not
    /// damage of the store.
    PreviousCatalog,
    WalSegment,
    Segment,
    /// A copy kept by recovery (`*.damaged-*`).
    KeptAside,
}

/// What [`check`] found in one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileState {
    Ok,
    /// The end of the newest WAL segment, nothing intact after it: a crash
    /// mid-append. Open cuts it.
    TornTail {
        offset: u64,
        bytes: u64,
    },
    /// Damage that open refuses (`ranges` damaged ranges, the first at
    /// `offset`); recovery skips it or sets the file aside.
    Damaged {
        offset: u64,
        ranges: usize,
        reason: String,
    },
    /// Named by the catalog but absent.
    Missing,
    /// A file the catalog does not name (a crash's leftover): open deletes it.
    Unlisted,
    /// Kept by an earlier recovery; not read by the store.
    KeptAside,
}

/// One file's finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileCheck {
    pub path: PathBuf,
    pub kind: FileKind,
    pub state: FileState,
    /// Intact WAL records, catalog groups, or segment events.
    pub intact: u64,
}

impl FileCheck {
    /// Damage open refuses (a damaged `catalog.snap.prev` is not).
    pub fn is_damage(&self) -> bool {
        self.kind != FileKind::PreviousCatalog
            && matches!(self.state, FileState::Damaged { .. } | FileState::Missing)
    }
}

/// Every file's finding: catalog, previous catalog, WAL, segments, copies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    pub files: Vec<FileCheck>,
}

impl CheckReport {
    /// True when some file is damaged or missing (a torn tail is not).
    pub fn damage_found(&self) -> bool {
        self.files.iter().any(FileCheck::is_damage)
    }
}

impl fmt::Display for FileState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileState::Ok => write!(f, "ok"),
            FileState::TornTail { offset, bytes } => write!(
                f,
                "torn tail: {bytes} bytes at byte offset {offset} (cut at open)"
            ),
            FileState::Damaged {
                offset,
                ranges,
                reason,
            } => write!(
                f,
                "damaged at byte offset {offset} ({reason}; {ranges} damaged range(s))"
            ),
            FileState::Missing => write!(f, "missing (the catalog names it)"),
            FileState::Unlisted => write!(
                f,
                "not named by the catalog (a crash's leftover, removed at open)"
            ),
            FileState::KeptAside => write!(f, "kept aside by an earlier recovery"),
        }
    }
}

fn read(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    match std::fs::read(path) {
        Ok(d) => Ok(Some(d)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io(format!("reading {}", path.display()), e)),
    }
}

fn names_in(dir: &Path) -> Result<Vec<String>, StoreError> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut names = list_names(dir)?;
    names.sort();
    Ok(names)
}

fn check_catalog(
    path: PathBuf,
    kind: FileKind,
) -> Result<(Option<HashSet<u64>>, Option<FileCheck>), StoreError> {
    let Some(data) = read(&path)? else {
        return Ok((None, None));
    };
    let (named, state, intact) = match catalog::decode_snapshot(&data) {
        Ok(s) => (
            Some(s.files.iter().map(|f| f.file_id).collect()),
            FileState::Ok,
            s.groups.len() as u64,
        ),
        Err((offset, reason)) => (
            None,
            FileState::Damaged {
                offset,
                ranges: 1,
                reason,
            },
            0,
        ),
    };
    Ok((
        named,
        Some(FileCheck {
            path,
            kind,
            state,
            intact,
        }),
    ))
}

/// Checks every file of the log store in `dir` without changing anything.
/// Errors only when a file cannot be read at all.
pub fn check(dir: &Path) -> Result<CheckReport, StoreError> {
    let mut files = Vec::new();
    let (named, current) = check_catalog(catalog::snapshot_path(dir), FileKind::Catalog)?;
    let catalog_present = current.is_some();
    files.extend(current);
    let (_, prev) = check_catalog(
        catalog::previous_snapshot_path(dir),
        FileKind::PreviousCatalog,
    )?;
    files.extend(prev);

    let wal_dir = dir.join("wal");
    let mut segments = if wal_dir.is_dir() {
        wal::list_segments(&wal_dir)?
    } else {
        Vec::new()
    };
    // As open does: a header-only segment behind an older one is a crash at
    // rotation, and the older one is the newest.
    let mut rotation_leftover = None;
    if segments.len() >= 2
        && let Some(&last) = segments.last()
    {
        let path = wal::segment_path(&wal_dir, last);
        if std::fs::metadata(&path).is_ok_and(|m| m.len() <= wal::SEGMENT_HEADER.len() as u64) {
            rotation_leftover = Some(path);
            segments.pop();
        }
    }
    for (i, &n) in segments.iter().enumerate() {
        let path = wal::segment_path(&wal_dir, n);
        let Some(data) = read(&path)? else { continue };
        let scan = wal::scan_segment(&data, i + 1 == segments.len());
        let state = match (scan.damaged.first(), &scan.torn) {
            (Some(first), _) => FileState::Damaged {
                offset: first.offset as u64,
                ranges: scan.damaged.len(),
                reason: first.reason.to_owned(),
            },
            (None, Some(t)) => FileState::TornTail {
                offset: t.offset as u64,
                bytes: t.len as u64,
            },
            (None, None) => FileState::Ok,
        };
        files.push(FileCheck {
            path,
            kind: FileKind::WalSegment,
            state,
            intact: scan.records.len() as u64,
        });
    }
    if let Some(path) = rotation_leftover {
        files.push(FileCheck {
            path,
            kind: FileKind::WalSegment,
            state: FileState::Unlisted,
            intact: 0,
        });
    }
    kept_aside_in(&wal_dir, &mut files)?;

    let seg_dir = dir.join("segments");
    let present = names_in(&seg_dir)?;
    let mut seen = HashSet::new();
    for name in &present {
        let Some(id) = segment::parse_file_name(name) else {
            continue;
        };
        seen.insert(id);
        let path = seg_dir.join(name);
        // With the catalog damaged nothing says which files are live:
        // check them all.
        let listed = named.as_ref().is_none_or(|n| n.contains(&id));
        if !listed && catalog_present {
            files.push(FileCheck {
                path,
                kind: FileKind::Segment,
                state: FileState::Unlisted,
                intact: 0,
            });
            continue;
        }
        let (state, intact) = match segment::verify(&path) {
            Ok(index) => (
                FileState::Ok,
                index.iter().map(|b| u64::from(b.meta.count)).sum(),
            ),
            Err(StoreError::Damaged { offset, reason, .. }) => (
                FileState::Damaged {
                    offset,
                    ranges: 1,
                    reason,
                },
                0,
            ),
            Err(e) => return Err(e),
        };
        files.push(FileCheck {
            path,
            kind: FileKind::Segment,
            state,
            intact,
        });
    }
    if let Some(named) = &named {
        let mut missing: Vec<u64> = named.difference(&seen).copied().collect();
        missing.sort_unstable();
        files.extend(missing.into_iter().map(|id| FileCheck {
            path: seg_dir.join(segment::file_name(id)),
            kind: FileKind::Segment,
            state: FileState::Missing,
            intact: 0,
        }));
    }
    for name in present
        .iter()
        .filter(|n| segment::parse_file_name(n).is_none() && !is_kept_aside(n))
    {
        files.push(FileCheck {
            path: seg_dir.join(name),
            kind: FileKind::Segment,
            state: FileState::Unlisted,
            intact: 0,
        });
    }
    kept_aside_in(&seg_dir, &mut files)?;
    kept_aside_in(dir, &mut files)?;
    Ok(CheckReport { files })
}

fn kept_aside_in(dir: &Path, out: &mut Vec<FileCheck>) -> Result<(), StoreError> {
    for name in names_in(dir)?.into_iter().filter(|n| is_kept_aside(n)) {
        out.push(FileCheck {
            path: dir.join(name),
            kind: FileKind::KeptAside,
            state: FileState::KeptAside,
            intact: 0,
        });
    }
    Ok(())
}

/// Repairs the log store in `dir` as opening it with `Options::recover`
/// does, and returns what was done. Nothing else may have it open.
pub fn repair(dir: &Path) -> Result<RecoveryReport, StoreError> {
    let opts = Options {
        recover: true,
        ..Options::default()
    };
    let (_store, report) = Store::open(dir, opts)?;
    Ok(report.recovery)
}
