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
