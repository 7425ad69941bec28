//! `diskio`: `/proc/diskstats`, mirroring telegraf
//! `plugins/inputs/diskio/diskio.go` on gopsutil `disk.IOCounters`
//! (`disk_linux.go`), with the stock agent's `cumulativetodelta` processor
//! applied (every field but `iops_in_progress` becomes a per-interval delta).
//!
//! Columns after `major minor name` (kernel `Documentation/admin-guide/iostats`):
//! - `reads` = Δ reads completed (col 4), `writes` = Δ writes completed (col 8);
//! - `read_bytes` = Δ sectors read (col 6) × 512, `write_bytes` = Δ sectors
//!   written (col 10) × 512 (gopsutil `SectorSize`; the kernel always counts
//!   512-byte sectors here);
//! - `read_time` (col 7), `write_time` (col 11), `io_time` (col 13) = Δ ms;
//! - `iops_in_progress` = col 12, a gauge, published as is.
//!
//! Lines with fewer than 14 columns are skipped (gopsutil). Tag: `name`.
//! `resources` selects device names (`*` or empty = all devices).

use std::path::PathBuf;

use super::counter::CounterHistory;
use super::{CollectError, Collector, FieldSet, PluginOptions, Reading, ResourceFilter, procfile};

const SECTOR_SIZE: u64 = 512;

/// Cumulative counters of one device, in the order of `COUNTER_FIELDS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskStat {
    pub name: String,
    /// reads, writes, read_bytes, write_bytes, read_time, write_time, io_time
    pub counters: [u64; 7],
    pub iops_in_progress: u64,
}

const COUNTER_FIELDS: [&str; 7] = [
    "reads",
    "writes",
    "read_bytes",
    "write_bytes",
    "read_time",
    "write_time",
    "io_time",
];

pub fn parse_diskstats(text: &str) -> Vec<DiskStat> {
    text.lines()
        .filter_map(|line| {
            let w: Vec<&str> = line.split_whitespace().collect();
            if w.len() < 14 {
                return None;
            }
            let n = |i: usize| w[i].parse::<u64>().ok();
            Some(DiskStat {
                name: w[2].to_string(),
                counters: [
                    n(3)?,
                    n(7)?,
                    n(5)?.saturating_mul(SECTOR_SIZE),
                    n(9)?.saturating_mul(SECTOR_SIZE),
                    n(6)?,
                    n(10)?,
                    n(12)?,
                ],
                iops_in_progress: n(11)?,
            })
        })
        .collect()
}

pub struct DiskioCollector {
    path: PathBuf,
    devices: ResourceFilter,
    fields: FieldSet,
    history: CounterHistory,
}

impl DiskioCollector {
    pub fn new(opts: &PluginOptions) -> Self {
        DiskioCollector {
            path: opts.roots.proc.join("diskstats"),
            devices: ResourceFilter::new(&opts.resources),
            fields: FieldSet::new(&opts.fields),
            history: CounterHistory::default(),
        }
    }

    /// One round from `/proc/diskstats` text.
    pub fn collect_from(&mut self, text: &str) -> Vec<Reading> {
        let mut out = Vec::new();
        for d in parse_diskstats(text) {
            if !self.devices.matches(&d.name) {
                continue;
            }
            let deltas = self.history.deltas(&d.name, &d.counters);
            let mut fields = Vec::new();
            for (field, delta) in COUNTER_FIELDS.iter().zip(deltas) {
                if let Some(delta) = delta {
                    self.fields.push(&mut fields, field, delta as f64);
                }
            }
            self.fields
                .push(&mut fields, "iops_in_progress", d.iops_in_progress as f64);
            if !fields.is_empty() {
                out.push(Reading {
                    tags: vec![("name".to_string(), d.name)],
                    fields,
                });
            }
        }
        self.history.finish_round();
        out
    }
}

impl Collector for DiskioCollector {
    fn may_block(&self) -> bool {
        false
    }

    fn collect(&mut self) -> Result<Vec<Reading>, CollectError> {
        let text = procfile::read(&self.path)?;
        Ok(self.collect_from(&text))
    }
}
