//! `mem`: `/proc/meminfo`, mirroring telegraf `plugins/inputs/mem/mem.go` on
//! top of gopsutil `mem.VirtualMemory` (`mem_linux.go`):
//! - `total = MemTotal`, `free = MemFree`, `buffered = Buffers`,
//!   `active = Active`, `inactive = Inactive`, `shared = Shmem`;
//! - `cached = Cached + SReclaimable` (gopsutil folds reclaimable slab in);
//! - `available = MemAvailable` (kernel ≥ 3.14; older kernels: `free + cached`,
//!   gopsutil's fallback when zoneinfo-based estimation is unavailable);
//! - `used = total - free - buffered - cached` (gopsutil; this is procps 3.3's
//!   "used", i.e. `total - free - buff/cache` of `free`, not procps 4's
//!   `total - available`);
//! - `used_percent = 100 * used / total`, `available_percent = 100 *
//!   available / total` (telegraf `mem.go`).

use std::path::PathBuf;

use super::{CollectError, Collector, FieldSet, PluginOptions, Reading, procfile};

/// The `/proc/meminfo` values the mem and swap plugins use, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemInfo {
    pub total: u64,
    pub free: u64,
    pub available: Option<u64>,
    pub buffers: u64,
    pub cached: u64,
    pub sreclaimable: u64,
    pub active: u64,
    pub inactive: u64,
    pub shmem: u64,
    pub swap_total: u64,
    pub swap_free: u64,
}

pub fn parse_meminfo(text: &str) -> Result<MemInfo, CollectError> {
    let mut m = MemInfo::default();
    let mut saw_total = false;
    for (key, value) in procfile::kv_numbers(text) {
        match key {
            "MemTotal" => {
                m.total = value;
                saw_total = true;
            }
            "MemFree" => m.free = value,
            "MemAvailable" => m.available = Some(value),
            "Buffers" => m.buffers = value,
            "Cached" => m.cached = value,
            "SReclaimable" => m.sreclaimable = value,
            "Active" => m.active = value,
            "Inactive" => m.inactive = value,
            "Shmem" => m.shmem = value,
            "SwapTotal" => m.swap_total = value,
            "SwapFree" => m.swap_free = value,
            _ => {}
        }
    }
    if !saw_total {
        return Err(procfile::parse_error("meminfo", "no MemTotal line"));
    }
    Ok(m)
}

/// The mem plugin's fields for one meminfo snapshot.
pub fn mem_fields(m: &MemInfo, fields: &FieldSet) -> Vec<(&'static str, f64)> {
    let cached = m.cached.saturating_add(m.sreclaimable);
    let available = m.available.unwrap_or_else(|| m.free.saturating_add(cached));
    let used = m
        .total
        .saturating_sub(m.free)
        .saturating_sub(m.buffers)
        .saturating_sub(cached);
    let mut out = Vec::new();
    fields.push(&mut out, "total", m.total as f64);
    fields.push(&mut out, "available", available as f64);
    fields.push(&mut out, "used", used as f64);
    fields.push(&mut out, "free", m.free as f64);
    fields.push(&mut out, "buffered", m.buffers as f64);
    fields.push(&mut out, "cached", cached as f64);
    fields.push(&mut out, "active", m.active as f64);
    fields.push(&mut out, "inactive", m.inactive as f64);
    fields.push(&mut out, "shared", m.shmem as f64);
    if m.total > 0 {
        let total = m.total as f64;
        fields.push(&mut out, "used_percent", 100.0 * used as f64 / total);
        fields.push(
            &mut out,
            "available_percent",
            100.0 * available as f64 / total,
        );
    }
    out
}

pub struct MemCollector {
    path: PathBuf,
    fields: FieldSet,
}

impl MemCollector {
    pub fn new(opts: &PluginOptions) -> Self {
        MemCollector {
            path: opts.roots.proc.join("meminfo"),
            fields: FieldSet::new(&opts.fields),
        }
    }
}

impl Collector for MemCollector {
    fn may_block(&self) -> bool {
        false
    }

    fn collect(&mut self) -> Result<Vec<Reading>, CollectError> {
        let m = parse_meminfo(&procfile::read(&self.path)?)?;
        Ok(vec![Reading {
            tags: Vec::new(),
            fields: mem_fields(&m, &self.fields),
        }])
    }
}
