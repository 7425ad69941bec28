//! `swap`: `SwapTotal`/`SwapFree` of `/proc/meminfo` (the same numbers as
//! gopsutil `mem.SwapMemory`'s sysinfo(2) call), telegraf
//! `plugins/inputs/swap/swap.go`:
//! - `free = SwapFree`, `used = SwapTotal - SwapFree`;
//! - `used_percent = 100 * used / SwapTotal`, and 0 when there is no swap
//!   (gopsutil's "check Infinity" branch).
//!
//! telegraf's `in`/`out` (pswpin/pswpout of `/proc/vmstat`) are not in the
//! CloudWatch agent's Linux field list, so they are not read.

use std::path::PathBuf;

use super::mem::{MemInfo, parse_meminfo};
use super::{CollectError, Collector, FieldSet, PluginOptions, Reading, procfile};

pub fn swap_fields(m: &MemInfo, fields: &FieldSet) -> Vec<(&'static str, f64)> {
    let used = m.swap_total.saturating_sub(m.swap_free);
    let used_percent = if m.swap_total == 0 {
        0.0
    } else {
        100.0 * used as f64 / m.swap_total as f64
    };
    let mut out = Vec::new();
    fields.push(&mut out, "free", m.swap_free as f64);
    fields.push(&mut out, "used", used as f64);
    fields.push(&mut out, "used_percent", used_percent);
    out
}

pub struct SwapCollector {
    path: PathBuf,
    fields: FieldSet,
}

impl SwapCollector {
    pub fn new(opts: &PluginOptions) -> Self {
        SwapCollector {
            path: opts.roots.proc.join("meminfo"),
            fields: FieldSet::new(&opts.fields),
        }
    }
}

impl Collector for SwapCollector {
    fn may_block(&self) -> bool {
        false
    }

    fn collect(&mut self) -> Result<Vec<Reading>, CollectError> {
        let m = parse_meminfo(&procfile::read(&self.path)?)?;
        Ok(vec![Reading {
            tags: Vec::new(),
            fields: swap_fields(&m, &self.fields),
        }])
    }
}
