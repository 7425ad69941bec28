//! `processes`: process states from `/proc/[pid]/stat`, mirroring telegraf
//! `plugins/inputs/processes/processes_notwindows.go` (`gatherFromProc`):
//! the state letter after the `(comm)` field counts toward `running` (R),
//! `sleeping` (S), `blocked` (D), `zombies` (Z), `dead` (X), `stopped`
//! (T, t), `paging` (W), `idle` (I); every process counts toward `total`,
//! and its `num_threads` (20th field) toward `total_threads`.
//!
//! `wait` is a BSD state: telegraf does not emit it on Linux and neither do
//! we. Processes that exit while we read are skipped.

use std::path::{Path, PathBuf};

use super::{CollectError, Collector, FieldSet, PluginOptions, Reading, procfile};

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
    /// Adds one process from its `/proc/[pid]/stat` text.
    pub fn add(&mut self, stat: &str) {
        let Some(f) = stat_fields_after_comm(stat) else {
            return;
        };
        if f.len() < 18 {
            return;
        }
        match f[0].as_bytes().first() {
            Some(b'R') => self.running += 1,
            Some(b'S') => self.sleeping += 1,
            Some(b'D') => self.blocked += 1,
            Some(b'Z') => self.zombies += 1,
            Some(b'X') => self.dead += 1,
            Some(b'T' | b't') => self.stopped += 1,
            Some(b'W') => self.paging += 1,
            Some(b'I') => self.idle += 1,
            _ => {}
        }
        self.total += 1;
        if let Ok(threads) = f[17].parse::<u64>() {
            self.total_threads += threads;
        }
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
    proc: PathBuf,
    fields: FieldSet,
}

impl ProcessesCollector {
    pub fn new(opts: &PluginOptions) -> Self {
        ProcessesCollector {
            proc: opts.roots.proc.clone(),
            fields: FieldSet::new(&opts.fields),
        }
    }

    pub fn counts(&self) -> Result<ProcessCounts, CollectError> {
        let mut c = ProcessCounts::default();
        for pid in pids(&self.proc)? {
            // A process may exit between listing and reading.
            if let Ok(stat) = procfile::read(&self.proc.join(pid.to_string()).join("stat")) {
                c.add(&stat);
            }
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
