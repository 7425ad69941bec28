//! Compaction: rollups, merges and expiry of whole block files.
//!
//! Every instant's data lives at exactly one resolution: when a window of a
//! resolution has outlived its retention, its blocks are rolled up into one
//! block of the next coarser resolution (in the coarser window holding it)
//! and deleted; the coarsest resolution's windows are simply deleted. A
//! query can therefore read every block overlapping its range and never
//! counts a sample twice, and what it reads is the finest resolution still
//! retained for each part of the range.
//!
//! Blocks of one `(resolution, window)` — late data, several seals, several
//! rollups into one coarser window — are merged into one once the window
//! has ended, or as soon as there are [`MAX_BLOCKS_PER_OPEN_WINDOW`].
//!
//! Crash safety: a rollup or merge writes its new block (listing its
//! `sources`) durably *before* deleting the sources; `Db::open` deletes any
//! block listed as another block's source ([`recover`]), so a crash at any
//! point leaves either the old blocks or the new one, never both.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use crate::aggregate::Bucketer;
use crate::block::{Block, BlockInfo, BlockWriter, Row};
use crate::error::Error;
use crate::model::SeriesKey;
use crate::record::SeriesId;
use crate::resolution::{Resolution, Retention};

/// Merge an open window's blocks once there are this many.
pub const MAX_BLOCKS_PER_OPEN_WINDOW: usize = 4;

/// One unit of compaction work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Delete these blocks: their window passed the coarsest retention.
    Expire(Vec<u64>),
    /// Write one block of `target` in `window_start` from `sources` (a
    /// rollup when `target` is coarser than the sources, else a merge).
    Rewrite {
        target: Resolution,
        window_start: i64,
        sources: Vec<u64>,
    },
}

/// The next step due at `now_ms`, if any: expiries and rollups first
/// (finest resolution first, so data cascades in one pass), then merges.
/// A window whose next coarser window has expired as well is rolled up
/// straight into the finest resolution still retained for it.
pub fn plan(blocks: &[Arc<Block>], retention: &Retention, now_ms: i64) -> Option<Step> {
    let mut windows: BTreeMap<(Resolution, i64), Vec<u64>> = BTreeMap::new();
    for b in blocks {
        windows
            .entry((b.info.resolution, b.info.window_start))
            .or_default()
            .push(b.id);
    }
    for (&(res, start), ids) in &windows {
        if !retention.expired(res, start, now_ms) {
            continue;
        }
        // The finest coarser resolution still retained for this window: after
        // downtime or for late data, the next one may have expired too, and
        // the data then belongs further up, not in the bin.
        let mut coarser = res.coarser();
        while let Some(c) = coarser.filter(|&c| retention.expired(c, c.window_start(start), now_ms))
        {
            coarser = c.coarser();
        }
        let Some((target, window_start)) = coarser.map(|c| (c, c.window_start(start))) else {
            return Some(Step::Expire(ids.clone()));
        };
        // Roll every expired window of `res` inside that coarser window at once.
        let sources = windows
            .iter()
            .filter(|&(&(r, s), _)| {
                r == res
                    && target.window_start(s) == window_start
                    && retention.expired(r, s, now_ms)
            })
            .flat_map(|(_, ids)| ids.iter().copied())
            .collect();
        return Some(Step::Rewrite {
            target,
            window_start,
            sources,
        });
    }
    for (&(res, start), ids) in &windows {
        let closed = start.saturating_add(res.window_ms()) <= now_ms;
        if ids.len() >= 2 && (closed || ids.len() >= MAX_BLOCKS_PER_OPEN_WINDOW) {
            return Some(Step::Rewrite {
                target: res,
                window_start: start,
                sources: ids.clone(),
            });
        }
    }
    None
}

/// Writes block `id` of `target` from `sources`: raw rows are copied
/// (sorted, duplicates kept), rollup rows are re-aggregated per slot.
pub fn rewrite(
    dir: &std::path::Path,
    id: u64,
    target: Resolution,
    window_start: i64,
    sources: &[Arc<Block>],
    fsync: bool,
    key_of: &dyn Fn(SeriesId) -> Option<Arc<SeriesKey>>,
) -> Result<Block, Error> {
    let series: BTreeSet<SeriesId> = sources
        .iter()
        .flat_map(|b| b.sections().iter().map(|s| s.series))
        .collect();
    let mut w = BlockWriter::create(dir, id)?;
    let mut rows = Vec::new();
    for id in series {
        rows.clear();
        match target.slot_ms() {
            None => {
                for b in sources {
                    b.read_rows(id, &mut rows)?;
                }
            }
            Some(slot) => {
                let metas = sources.iter().filter_map(|b| b.section(id).map(|m| (b, m)));
                let lo = metas.clone().map(|(_, m)| m.min_ts).min().unwrap_or(0);
                let hi = metas.clone().map(|(_, m)| m.max_ts).max().unwrap_or(0);
                let start = lo.div_euclid(slot).saturating_mul(slot);
                let mut bucketer = Bucketer::new(start, hi.saturating_add(1), slot, None);
                for (b, m) in metas {
                    b.read_section(m)?
                        .feed(&mut bucketer)
                        .map_err(|e| e.at(&b.path))?;
                }
                rows.extend(bucketer.finish().iter().map(Row::rollup));
            }
        }
        w.add_section(id, key_of(id).as_deref(), &mut rows)?;
    }
    let info = BlockInfo {
        resolution: target,
        window_start,
        wal_covered_below: sources
            .iter()
            .map(|b| b.info.wal_covered_below)
            .max()
            .unwrap_or(0),
        group: (0, 0),
        sources: sources.iter().map(|b| b.id).collect(),
    };
    w.finish(&info, fsync)
}

/// Finishes or undoes multi-file updates a crash interrupted, given every
/// block on disk and the lowest WAL segment still present. Returns the
/// blocks to delete:
/// - blocks listed as a source of another block (the rewrite finished);
/// - blocks of a seal that wrote only part of its group while the WAL
///   segments it covers still exist (the WAL replay restores them whole).
pub fn recover(blocks: &[Block], lowest_wal_segment: Option<u64>) -> HashSet<u64> {
    let replaced: HashSet<u64> = blocks
        .iter()
        .flat_map(|b| b.info.sources.iter().copied())
        .collect();
    let mut group_sizes: BTreeMap<u64, u64> = BTreeMap::new();
    for b in blocks.iter().filter(|b| b.info.group.1 > 0) {
        *group_sizes.entry(b.info.group.0).or_default() += 1;
    }
    let unsealed_wal = |b: &Block| lowest_wal_segment.is_some_and(|s| s < b.info.wal_covered_below);
    blocks
        .iter()
        .filter(|b| {
            replaced.contains(&b.id)
                || (b.info.group.1 > 0
                    && group_sizes.get(&b.info.group.0) != Some(&b.info.group.1)
                    && unsealed_wal(b))
        })
        .map(|b| b.id)
        .collect()
}

/// Paths of `ids` among `blocks`.
pub fn paths_of(blocks: &[Arc<Block>], ids: &[u64]) -> Vec<PathBuf> {
    blocks
        .iter()
        .filter(|b| ids.contains(&b.id))
        .map(|b| b.path.clone())
        .collect()
}
