//! `cpu`: `/proc/stat` times per core (`cpu0`…) and for the machine
//! (`cpu-total`), mirroring telegraf `plugins/inputs/cpu/cpu.go` on top of
//! gopsutil `cpu.Times` (which divides the kernel's USER_HZ ticks by 100).
//!
//! Formulas (telegraf `cpu.go`; `total` and `active` are its
//! `totalCPUTime`/`activeCPUTime`):
//! - `total  = user + system + nice + iowait + irq + softirq + steal + idle`
//!   (guest time is already inside `user`/`nice`, so it is not added again);
//! - `active = total - idle` (iowait counts as active, as in telegraf);
//! - `time_<state>` = cumulative seconds (ticks / 100, i.e. hundredths of a
//!   second resolution), `time_active = active`;
//! - `usage_<state>` = `100 * Δstate / Δtotal` between two samples, except
//!   `usage_user = 100 * (Δuser - Δguest) / Δtotal` and
//!   `usage_nice = 100 * (Δnice - Δguest_nice) / Δtotal`,
//!   `usage_active = 100 * Δactive / Δtotal`. So `usage_user + usage_system +
//!   usage_idle + usage_nice + usage_iowait + usage_irq + usage_softirq +
//!   usage_steal + usage_guest + usage_guest_nice = 100`.
//!
//! No `usage_*` on the first sample, when Δtotal is 0, or when Δtotal is
//! negative (telegraf: "current total CPU time is less than previous").

use std::collections::HashMap;
use std::path::PathBuf;

use super::{CollectError, Collector, FieldSet, PluginOptions, Reading, procfile};

/// Kernel `USER_HZ`: `/proc/stat` is always in 1/100 s on Linux.
const TICKS_PER_SECOND: f64 = 100.0;

/// One `cpu` line of `/proc/stat`, in ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub user: u64,
    pub nice: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: u64,
    pub irq: u64,
    pub softirq: u64,
    pub steal: u64,
    pub guest: u64,
    pub guest_nice: u64,
}

impl CpuTimes {
    /// telegraf `totalCPUTime` (guest excluded: already part of user).
    pub fn total(&self) -> u64 {
        self.user
            .saturating_add(self.system)
            .saturating_add(self.nice)
            .saturating_add(self.iowait)
            .saturating_add(self.irq)
            .saturating_add(self.softirq)
            .saturating_add(self.steal)
            .saturating_add(self.idle)
    }

    /// telegraf `activeCPUTime`.
    pub fn active(&self) -> u64 {
        self.total().saturating_sub(self.idle)
    }
}

/// Parses the `cpu`/`cpuN` lines of `/proc/stat`; the aggregate line is
/// named `cpu-total`, as telegraf tags it.
pub fn parse_stat(text: &str) -> Vec<(String, CpuTimes)> {
    text.lines()
        .filter(|l| l.starts_with("cpu"))
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let name = words.next()?;
            let name = if name == "cpu" {
                "cpu-total".to_string()
            } else if name[3..].bytes().all(|b| b.is_ascii_digit()) && name.len() > 3 {
                name.to_string()
            } else {
                return None;
            };
            let mut v = [0u64; 10];
            let mut n = 0;
            for (slot, word) in v.iter_mut().zip(words) {
                *slot = word.parse().ok()?;
                n += 1;
            }
            // user nice system idle are present on every kernel we support.
            if n < 4 {
                return None;
            }
            let t = CpuTimes {
                user: v[0],
                nice: v[1],
                system: v[2],
                idle: v[3],
                iowait: v[4],
                irq: v[5],
                softirq: v[6],
                steal: v[7],
                guest: v[8],
                guest_nice: v[9],
            };
            Some((name, t))
        })
        .collect()
}

/// The `time_*` fields (cumulative seconds).
pub fn time_fields(t: &CpuTimes, fields: &FieldSet, out: &mut Vec<(&'static str, f64)>) {
    let s = |ticks: u64| ticks as f64 / TICKS_PER_SECOND;
    fields.push(out, "time_user", s(t.user));
    fields.push(out, "time_system", s(t.system));
    fields.push(out, "time_idle", s(t.idle));
    fields.push(out, "time_nice", s(t.nice));
    fields.push(out, "time_iowait", s(t.iowait));
    fields.push(out, "time_irq", s(t.irq));
    fields.push(out, "time_softirq", s(t.softirq));
    fields.push(out, "time_steal", s(t.steal));
    fields.push(out, "time_guest", s(t.guest));
    fields.push(out, "time_guest_nice", s(t.guest_nice));
    fields.push(out, "time_active", s(t.active()));
}

/// The `usage_*` fields between two samples, or nothing when telegraf would
/// skip them (Δtotal ≤ 0).
pub fn usage_fields(
    prev: &CpuTimes,
    cur: &CpuTimes,
    fields: &FieldSet,
    out: &mut Vec<(&'static str, f64)>,
) {
    // Signed: single states (iowait notably) can step backwards on Linux;
    // telegraf then reports a negative share, and so do we.
    let d = |a: u64, b: u64| a as f64 - b as f64;
    let total = d(cur.total(), prev.total());
    if total <= 0.0 {
        return;
    }
    let pct = |delta: f64| 100.0 * delta / total;
    let guest = d(cur.guest, prev.guest);
    let guest_nice = d(cur.guest_nice, prev.guest_nice);
    fields.push(out, "usage_user", pct(d(cur.user, prev.user) - guest));
    fields.push(out, "usage_system", pct(d(cur.system, prev.system)));
    fields.push(out, "usage_idle", pct(d(cur.idle, prev.idle)));
    fields.push(out, "usage_nice", pct(d(cur.nice, prev.nice) - guest_nice));
    fields.push(out, "usage_iowait", pct(d(cur.iowait, prev.iowait)));
    fields.push(out, "usage_irq", pct(d(cur.irq, prev.irq)));
    fields.push(out, "usage_softirq", pct(d(cur.softirq, prev.softirq)));
    fields.push(out, "usage_steal", pct(d(cur.steal, prev.steal)));
    fields.push(out, "usage_guest", pct(guest));
    fields.push(out, "usage_guest_nice", pct(guest_nice));
    fields.push(out, "usage_active", pct(d(cur.active(), prev.active())));
}

pub struct CpuCollector {
    path: PathBuf,
    fields: FieldSet,
    totalcpu: bool,
    percpu: bool,
    last: HashMap<String, CpuTimes>,
}

impl CpuCollector {
    pub fn new(opts: &PluginOptions) -> Self {
        CpuCollector {
            path: opts.roots.proc.join("stat"),
            fields: FieldSet::new(&opts.fields),
            totalcpu: opts.totalcpu,
            percpu: opts.percpu,
            last: HashMap::new(),
        }
    }

    /// One round from `/proc/stat` text (the collector minus the file read).
    pub fn collect_from(&mut self, text: &str) -> Vec<Reading> {
        let times = parse_stat(text);
        let mut readings = Vec::new();
        for (name, cur) in &times {
            let is_total = name == "cpu-total";
            if (is_total && !self.totalcpu) || (!is_total && !self.percpu) {
                continue;
            }
            let mut fields = Vec::new();
            time_fields(cur, &self.fields, &mut fields);
            if let Some(prev) = self.last.get(name) {
                usage_fields(prev, cur, &self.fields, &mut fields);
            }
            if !fields.is_empty() {
                readings.push(Reading {
                    tags: vec![("cpu".to_string(), name.clone())],
                    fields,
                });
            }
        }
        self.last = times.into_iter().collect();
        readings
    }
}

impl Collector for CpuCollector {
    fn may_block(&self) -> bool {
        false
    }

    fn collect(&mut self) -> Result<Vec<Reading>, CollectError> {
        let text = procfile::read(&self.path)?;
        Ok(self.collect_from(&text))
    }
}
