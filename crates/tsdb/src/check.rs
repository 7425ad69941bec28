//! `fsck` for a database directory: reads every file the engine owns —
//! WAL segments, the catalog, blocks (every section and the keys they
//! carry), `batch-ids` — without changing anything, and says per file what
//! it found. [`repair`] does what `Options::recover` does at open.
//!
//! A torn tail (the end of the newest WAL segment or of the catalog, with
//! nothing intact after it) is what a crash leaves and what open cuts; it is
//! reported but is not damage. Anything else is.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::batch_ids::{self, BATCH_IDS_FILE};
use crate::block::Block;
use crate::catalog::{self, CATALOG_FILE};
use crate::db::Db;
use crate::error::Error;
use crate::frame::Damage;
use crate::model::Options;
use crate::record::{SeriesId, decode_batch};
use crate::recovery::RecoveryReport;
use crate::resolution::Retention;
use crate::wal;

/// Which engine file a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    WalSegment,
    Catalog,
    Block,
    BatchIds,
    /// A copy or block set aside by recovery (`*.damaged-*`).
    KeptAside,
}

/// What [`check`] found in one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileState {
    Ok,
    /// Damage running to the end of a file that is appended to: a crash
    /// mid-append. Open cuts it.
    TornTail {
        offset: u64,
        bytes: u64,
    },
    /// Damage that open refuses (`ranges` damaged ranges, the first at
    /// `offset`); `Options::recover` / [`repair`] skips it.
    Damaged {
        offset: u64,
        ranges: usize,
        reason: String,
    },
    /// A block holding data of series nothing defines.
    Orphaned {
        series: Vec<SeriesId>,
    },
    /// Kept by an earlier recovery; not read by the engine.
    KeptAside,
}

/// One file's finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileCheck {
    pub path: PathBuf,
    pub kind: FileKind,
    pub state: FileState,
    /// Records, definitions or sections found intact.
    pub intact: u64,
}

/// Every file's finding, in directory order (catalog, batch-ids, WAL, blocks).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    pub files: Vec<FileCheck>,
}

impl CheckReport {
    /// True when some file is damaged or orphans data (a torn tail is not).
    pub fn damage_found(&self) -> bool {
        self.files.iter().any(|f| {
            matches!(
                f.state,
                FileState::Damaged { .. } | FileState::Orphaned { .. }
            )
        })
    }
}

impl fmt::Display for FileState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileState::Ok => write!(f, "ok"),
            FileState::TornTail { offset, bytes } => {
                write!(
                    f,
                    "torn tail: {bytes} bytes at byte offset {offset} (cut at open)"
                )
            }
            FileState::Damaged {
                offset,
                ranges,
                reason,
            } => write!(
                f,
                "damaged at byte offset {offset} ({reason}; {ranges} damaged range(s))"
            ),
            FileState::Orphaned { series } => {
                let shown: Vec<String> = series.iter().take(8).map(u32::to_string).collect();
                let more = if series.len() > 8 { ", ..." } else { "" };
                write!(
                    f,
                    "orphaned: data of {} series nothing defines (ids {}{more})",
                    series.len(),
                    shown.join(", ")
                )
            }
            FileState::KeptAside => write!(f, "kept aside by an earlier recovery"),
        }
    }
}

fn state_of(damaged: &[Damage], tail: Option<&Damage>, tail_is_torn: bool) -> FileState {
    let mut all: Vec<&Damage> = damaged.iter().collect();
    if !tail_is_torn {
        all.extend(tail);
    }
    match (all.first(), tail) {
        (Some(first), _) => FileState::Damaged {
            offset: first.offset as u64,
            ranges: all.len(),
            reason: first.reason.to_owned(),
        },
        (None, Some(t)) => FileState::TornTail {
            offset: t.offset as u64,
            bytes: t.len as u64,
        },
        _ => FileState::Ok,
    }
}

fn read(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    match std::fs::read(path) {
        Ok(d) => Ok(Some(d)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}

fn is_kept_aside(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.contains(".damaged-"))
}

fn kept_aside_in(dir: &Path, out: &mut Vec<FileCheck>) -> Result<(), Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(format!("listing {}", dir.display()), e)),
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| is_kept_aside(p))
        .collect();
    found.sort();
    out.extend(found.into_iter().map(|path| FileCheck {
        path,
        kind: FileKind::KeptAside,
        state: FileState::KeptAside,
        intact: 0,
    }));
    Ok(())
}

/// Checks every file of the database in `dir` without changing anything.
/// Errors only when a file cannot be read at all.
pub fn check(dir: &Path) -> Result<CheckReport, Error> {
    let mut files = Vec::new();
    // Series defined anywhere: the catalog, then WAL records.
    let mut defined: HashSet<SeriesId> = HashSet::new();

    let catalog_path = dir.join(CATALOG_FILE);
    if let Some(data) = read(&catalog_path)? {
        let found = catalog::check(&data);
        defined.extend(found.defs.iter().map(|d| d.0));
        files.push(FileCheck {
            state: state_of(&found.damaged, found.tail.as_ref(), true),
            intact: found.defs.len() as u64,
            path: catalog_path,
            kind: FileKind::Catalog,
        });
    }

    let ids_path = dir.join(BATCH_IDS_FILE);
    if let Some(data) = read(&ids_path)? {
        let found = batch_ids::check(&data);
        files.push(FileCheck {
            // Rewritten whole (temp + rename), never appended: no torn tail.
            state: state_of(&found.damaged, found.tail.as_ref(), false),
            intact: found.frames.len() as u64,
            path: ids_path,
            kind: FileKind::BatchIds,
        });
    }

    let wal_dir = dir.join("wal");
    let segments = if wal_dir.exists() {
        wal::list_segments(&wal_dir)?
    } else {
        Vec::new()
    };
    for (i, &n) in segments.iter().enumerate() {
        let path = wal::segment_path(&wal_dir, n);
        let Some(data) = read(&path)? else { continue };
        let newest = i + 1 == segments.len();
        let found = wal::check_segment(&data, newest);
        let mut damaged = found.damaged.clone();
        for &(offset, payload) in &found.records {
            match decode_batch(payload) {
                Ok(rec) => defined.extend(rec.defs.iter().map(|d| d.0)),
                Err(e) => damaged.push(Damage {
                    offset,
                    len: payload.len(),
                    reason: e.0,
                }),
            }
        }
        damaged.sort_by_key(|d| d.offset);
        files.push(FileCheck {
            state: state_of(&damaged, found.torn.as_ref(), true),
            intact: found.records.len() as u64,
            path,
            kind: FileKind::WalSegment,
        });
    }
    kept_aside_in(&wal_dir, &mut files)?;

    let blocks_dir = dir.join("blocks");
    let mut blocks = Vec::new();
    if blocks_dir.exists() {
        for entry in std::fs::read_dir(&blocks_dir)
            .map_err(|e| Error::io(format!("listing {}", blocks_dir.display()), e))?
        {
            let entry =
                entry.map_err(|e| Error::io(format!("listing {}", blocks_dir.display()), e))?;
            let name = entry.file_name();
            if let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".blk"))
                .and_then(|s| s.parse::<u64>().ok())
            {
                blocks.push((id, entry.path()));
            }
        }
    }
    blocks.sort();
    for (id, path) in blocks {
        let damaged = |offset: u64, e: Error| FileState::Damaged {
            offset,
            ranges: 1,
            reason: e.to_string(),
        };
        let (state, intact) = match Block::open(&path, id) {
            Err(e) => (damaged(0, e), 0),
            Ok(b) => match b.verify() {
                Err((offset, e)) => (damaged(offset, e), 0),
                Ok(()) => {
                    let orphans: Vec<SeriesId> = b
                        .sections()
                        .iter()
                        .map(|s| s.series)
                        .filter(|s| !defined.contains(s))
                        .collect();
                    let state = if orphans.is_empty() {
                        FileState::Ok
                    } else {
                        FileState::Orphaned { series: orphans }
                    };
                    (state, b.sections().len() as u64)
                }
            },
        };
        files.push(FileCheck {
            intact,
            path,
            kind: FileKind::Block,
            state,
        });
    }
    kept_aside_in(&blocks_dir, &mut files)?;
    kept_aside_in(dir, &mut files)?;
    Ok(CheckReport { files })
}

/// Repairs the database in `dir` as opening it with `Options::recover`
/// does (damaged ranges skipped, originals kept aside, the catalog rebuilt
/// from blocks), and returns what was done. Nothing else may have the
/// database open.
pub fn repair(dir: &Path) -> Result<RecoveryReport, Error> {
    let opts = Options {
        recover: true,
        // Open only: nothing is sealed, compacted or expired here.
        retention: Retention::forever(),
        ..Options::default()
    };
    let db = Db::open(dir, opts)?;
    Ok(db.recovery_report().clone())
}
