//! Host collectors: each plugin reads `/proc` (under a configurable root, so
//! tests run on captured fixtures) or `statvfs` and reports raw fields with
//! their tags. Naming, filtering, units and dimensions are the pipeline's job.
//!
//! CONTRACT (shared with `config` and the runtime):
//! - `Reading { tags, fields }`: `fields` use the stock agent's field names
//!   without the plugin prefix (`used_percent`, `usage_idle`).
//! - `default_unit(plugin, field)` gives the CloudWatch unit the stock agent
//!   publishes (`None` = the field is unknown for that plugin).
//! - `new_collector(plugin, &PluginOptions)` builds a collector.
//! - `known_fields(plugin)` lists a plugin's Linux fields; `metric_name`
//!   gives the published name (`procstat` + `pid_count` →
//!   `procstat_lookup_pid_count`).
//!
//! Collectors are `Send`, read only files and `statvfs`, and keep nothing
//! but the previous sample for deltas. `disk` can block indefinitely in
//! `statvfs` on a hung network mount: run every collector on its own thread
//! under a timeout. Each module's doc names the telegraf/gopsutil formula
//! it mirrors.

use std::path::PathBuf;
use std::time::Duration;

/// One group of fields sharing the same tags (e.g. one mount point).
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub tags: Vec<(String, String)>,
    pub fields: Vec<(&'static str, f64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("parsing {path}: {message}")]
    Parse { path: String, message: String },
    #[error("{0}")]
    Other(String),
}

pub trait Collector: Send {
    /// Reads the current values. Rate/delta fields may be absent on the first
    /// call (no previous sample), exactly as the stock agent drops them.
    fn collect(&mut self) -> Result<Vec<Reading>, CollectError>;

    /// Whether a call can wait on something beyond the kernel's own
    /// counters — a file system (`statvfs` on a dead NFS server), another
    /// process (its memory-map lock, for `/proc/PID/cmdline`) — and so needs
    /// a thread of its own, to be timed out alone. Collectors that only read
    /// kernel counters (`/proc/stat`, `/proc/meminfo`, netlink) return
    /// `false` and share one thread per interval: a thread wake-up per
    /// collector per round was a tenth of the agent's CPU.
    fn may_block(&self) -> bool {
        true
    }
}

/// Where `/proc` and `/sys` live (fixtures in tests).
#[derive(Debug, Clone)]
pub struct HostRoots {
    pub proc: PathBuf,
    pub sys: PathBuf,
}

impl Default for HostRoots {
    fn default() -> Self {
        HostRoots {
            proc: PathBuf::from("/proc"),
            sys: PathBuf::from("/sys"),
        }
    }
}

/// Everything a collector may need from its plugin's config section.
#[derive(Debug, Clone, Default)]
pub struct PluginOptions {
    /// Fields the config asks for (without prefix); collectors may skip work for others.
    pub fields: Vec<&'static str>,
    /// `resources`: mount points (disk), devices (diskio), interfaces (net), `*` = all.
    pub resources: Vec<String>,
    /// cpu: emit `cpu-total`.
    pub totalcpu: bool,
    /// cpu: `resources: ["*"]` → per-core readings too.
    pub percpu: bool,
    /// disk: drop the `device` tag.
    pub drop_device: bool,
    /// disk: filesystem types to skip.
    pub ignore_file_system_types: Vec<String>,
    /// procstat: which processes.
    pub procstat: Option<ProcstatSelector>,
    pub interval: Duration,
    pub roots: HostRoots,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ProcstatSelector {
    PidFile(PathBuf),
    /// Regex on the process name (`comm`).
    Exe(String),
    /// Regex on the full command line.
    Pattern(String),
}

pub mod counter;
pub mod cpu;
pub mod disk;
pub mod diskio;
pub mod mem;
pub mod net;
pub mod netstat;
pub mod proc_table;
pub mod processes;
pub mod procfile;
pub mod procstat;
pub mod sock_diag;
pub mod swap;

mod registry;

pub use registry::{
    PLUGINS, SharedReaders, default_unit, known_fields, metric_name, new_collector,
    new_collector_in,
};

/// The fields a collector emits, as the config asked for them (`fields` empty
/// = every field of the plugin).
#[derive(Debug, Clone, Default)]
pub struct FieldSet {
    wanted: Vec<&'static str>,
}

impl FieldSet {
    pub fn new(wanted: &[&'static str]) -> Self {
        FieldSet {
            wanted: wanted.to_vec(),
        }
    }

    pub fn wants(&self, field: &str) -> bool {
        self.wanted.is_empty() || self.wanted.contains(&field)
    }

    /// Appends `(field, value)` to `fields` when the config asked for it.
    pub fn push(&self, fields: &mut Vec<(&'static str, f64)>, field: &'static str, value: f64) {
        if self.wants(field) {
            fields.push((field, value));
        }
    }
}

/// `resources` semantics shared by disk, diskio and net: empty or `*` = all;
/// otherwise names matched exactly or with `*`/`?` globs (telegraf's
/// `filter.Compile`).
#[derive(Debug, Clone, Default)]
pub struct ResourceFilter {
    patterns: Vec<String>,
}

impl ResourceFilter {
    pub fn new(resources: &[String]) -> Self {
        if resources.iter().any(|r| r == "*") {
            return ResourceFilter::default();
        }
        ResourceFilter {
            patterns: resources.to_vec(),
        }
    }

    /// True when no resource list restricts the selection.
    pub fn is_all(&self) -> bool {
        self.patterns.is_empty()
    }

    pub fn matches(&self, name: &str) -> bool {
        self.is_all() || self.is_listed(name)
    }

    /// True when `name` is named by the list (never true for "all").
    pub fn is_listed(&self, name: &str) -> bool {
        self.patterns
            .iter()
            .any(|p| glob_match(p.as_bytes(), name.as_bytes()))
    }
}

/// `*` any run, `?` any one byte; everything else literal.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match(b"eth*", b"eth0"));
        assert!(glob_match(b"*", b""));
        assert!(glob_match(b"e?h0", b"eth0"));
        assert!(!glob_match(b"eth", b"eth0"));
        assert!(glob_match(b"/", b"/"));
        assert!(!glob_match(b"/", b"/boot"));
        assert!(glob_match(b"a*b*c", b"axxbyyc"));
        assert!(!glob_match(b"a*b*c", b"axxbyy"));
    }

    #[test]
    fn resource_star_means_all() {
        let f = ResourceFilter::new(&["*".to_string()]);
        assert!(f.is_all());
        assert!(!f.is_listed("lo"));
        let f = ResourceFilter::new(&["lo".to_string()]);
        assert!(f.is_listed("lo") && !f.matches("eth0"));
    }
}
