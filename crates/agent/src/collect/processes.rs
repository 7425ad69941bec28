//! `processes`: process states from `/proc/[pid]/stat`, mirroring telegraf
//! `plugins/inputs/processes/processes_notwindows.go` (`gatherFromProc`):
//! the state letter after the `(comm)` field counts toward `running` (R),
//! `sleeping` (S), `blocked` (D), `zombies` (Z), `dead` (X), `stopped`
//! (T, t), `paging` (W), `idle` (I); every process counts toward `total`,
//! and its `num_threads` (20th field) toward `total_threads`.
//!
//! `wait` is a BSD state: telegraf does not emit it on Linux and neither do
//! we. Processes that exit while we read are skipped.

use std::path::Path;
use std::sync::Arc;

use super::proc_table::{ProcEntry, ProcTable};
use super::{CollectError, Collector, FieldSet, PluginOptions, Reading};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessCounts {
    pub running: u64,
    pub sleeping: u64,
    pub blocked: u64,
    pub zombies: u64,
    pub dead: u64,
    pub stopped: u64,
    pub paging: u64,
    pub idle: u64,
    pub total: u64,
    pub total_threads: u64,
}

/// The fields after `(comm)` of a `/proc/[pid]/stat` line. `comm` may hold
/// spaces and parentheses, so split at the last `)`, as telegraf does.
pub fn stat_fields_after_comm(stat: &str) -> Option<Vec<&str>> {
    let close = stat.rfind(')')?;
    Some(stat.get(close + 1..)?.split_whitespace().collect())
}

impl ProcessCounts {
    /// Adds one process.
    pub fn add(&mut self, e: &ProcEntry) {
        match e.state {
            b'R' => self.running += 1,
            b'S' => self.sleeping += 1,
            b'D' => self.blocked += 1,
            b'Z' => self.zombies += 1,
            b'X' => self.dead += 1,
            b'T' | b't' => self.stopped += 1,
            b'W' => self.paging += 1,
            b'I' => self.idle += 1,
            _ => {}
        }
        self.total += 1;
        self.total_threads += e.threads;
    }

    pub fn fields(&self, fields: &FieldSet) -> Vec<(&'static str, f64)> {
        let mut out = Vec::new();
        for (name, v) in [
            ("blocked", self.blocked),
            ("dead", self.dead),
            ("idle", self.idle),
            ("paging", self.paging),
            ("running", self.running),
            ("sleeping", self.sleeping),
            ("stopped", self.stopped),
            ("total", self.total),
            ("total_threads", self.total_threads),
            ("zombies", self.zombies),
        ] {
            fields.push(&mut out, name, v as f64);
        }
        out
    }
}

/// The numeric entries of a proc root (`/proc/[0-9]*`), in no order.
pub fn pids(proc_root: &Path) -> Result<Vec<u32>, CollectError> {
    let dir = std::fs::read_dir(proc_root).map_err(|source| CollectError::Io {
        path: proc_root.display().to_string(),
        source,
    })?;
    Ok(dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .collect())
}

pub struct ProcessesCollector {
    table: Arc<ProcTable>,
    fields: FieldSet,
}

impl ProcessesCollector {
    /// With a process table of its own.
    pub fn new(opts: &PluginOptions) -> Self {
        ProcessesCollector::with_table(opts, ProcTable::new(&opts.roots.proc))
    }

    /// Reading `table`, shared with other collectors.
    pub fn with_table(opts: &PluginOptions, table: Arc<ProcTable>) -> Self {
        ProcessesCollector {
            table,
            fields: FieldSet::new(&opts.fields),
        }
    }

    pub fn counts(&self) -> Result<ProcessCounts, CollectError> {
        let mut c = ProcessCounts::default();
        for e in self.table.snapshot()?.iter() {
            c.add(e);
        }
        Ok(c)
    }
}

impl Collector for ProcessesCollector {
    fn collect(&mut self) -> Result<Vec<Reading>, CollectError> {
        Ok(vec![Reading {
            tags: Vec::new(),
            fields: self.counts()?.fields(&self.fields),
        }])
    }
}
