//! `procstat`: per-process metrics for the processes one selector finds,
//! mirroring telegraf `plugins/inputs/procstat` (native finder) on gopsutil
//! `process` (`process_linux.go`).
//!
//! Selection (telegraf `NativeFinder`): `pid_file` = the pid written in that
//! file; `exe` = regex searched in the process name (`/proc/[pid]/status`
//! `Name`, completed from the command line when the kernel truncated it to 15
//! bytes, as gopsutil does); `pattern` = regex searched in the command line
//! (`/proc/[pid]/cmdline`, arguments joined by spaces).
//!
//! Per process (one reading each, tags: the selector (`exe`, `pattern` or
//! `pidfile`) and `process_name`):
//! - `cpu_time_user` = utime / 100, `cpu_time_system` = stime / 100,
//!   `cpu_time_iowait` = delayacct_blkio_ticks / 100 (seconds, gopsutil
//!   `Times`); `cpu_time` = `cpu_time_user + cpu_time_system`;
//! - `cpu_usage` = 100 × Δ(user + system + iowait seconds) / Δwall seconds
//!   (gopsutil `Percent(0)`; may exceed 100 on several cores), absent on the
//!   first sample of a pid;
//! - `memory_rss|vms|swap|data|stack|locked` = `VmRSS|VmSize|VmSwap|VmData|
//!   VmStk|VmLck` of `/proc/[pid]/status` in bytes (gopsutil `MemoryInfo`);
//! - `num_threads` = `Threads:`, `voluntary_context_switches` /
//!   `involuntary_context_switches` = `(non)voluntary_ctxt_switches:`;
//! - `read_count` = syscr, `write_count` = syscw, `read_bytes` = read_bytes,
//!   `write_bytes` = write_bytes of `/proc/[pid]/io` (omitted when unreadable);
//! - `num_fds` = entries of `/proc/[pid]/fd` (omitted when unreadable);
//! - `nice_priority` = nice (stat field 19), `realtime_priority` = rt_priority
//!   (field 40) — the "used" values telegraf reads through gopsutil rlimits;
//!   `pid`.
//!
//! Plus one lookup reading (selector tag only) with `pid_count`, published as
//! `procstat_lookup_pid_count` (see `metric_name`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use regex_lite::Regex;

use super::proc_table::ProcTable;
use super::processes::{pids, stat_fields_after_comm};
use super::{
    CollectError, Collector, FieldSet, PluginOptions, ProcstatSelector, Reading, procfile,
};

const TICKS_PER_SECOND: f64 = 100.0;

/// A compiled selector.
#[derive(Debug, Clone)]
pub enum Finder {
    PidFile(PathBuf),
    Exe(Regex),
    Pattern(Regex),
}

impl Finder {
    pub fn new(selector: &ProcstatSelector) -> Result<Self, CollectError> {
        let compile = |re: &str| {
            Regex::new(re).map_err(|e| CollectError::Other(format!("procstat regex {re:?}: {e}")))
        };
        Ok(match selector {
            ProcstatSelector::PidFile(p) => Finder::PidFile(p.clone()),
            ProcstatSelector::Exe(re) => Finder::Exe(compile(re)?),
            ProcstatSelector::Pattern(re) => Finder::Pattern(compile(re)?),
        })
    }

    /// The tag telegraf puts on every metric of this selector.
    pub fn tag(&self) -> (String, String) {
        match self {
            Finder::PidFile(p) => ("pidfile".into(), p.display().to_string()),
            Finder::Exe(re) => ("exe".into(), re.as_str().to_string()),
            Finder::Pattern(re) => ("pattern".into(), re.as_str().to_string()),
        }
    }

    /// The pids this selector matches among the processes of `table`, with
    /// the process name when matching already worked it out (`exe`), so the
    /// sample need not read `comm` and `cmdline` again.
    pub fn find(&self, table: &ProcTable) -> Result<Vec<(u32, Option<String>)>, CollectError> {
        let proc_root = table.proc_root();
        match self {
            Finder::PidFile(path) => {
                let text = procfile::read(path)?;
                let pid = text
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| procfile::parse_error(&path.display().to_string(), "not a pid"))?;
                Ok(vec![(pid, None)])
            }
            Finder::Exe(re) => {
                let mut found: Vec<(u32, Option<String>)> = table
                    .snapshot()?
                    .iter()
                    .filter_map(|e| {
                        // Kernel threads have no command line to complete a name from.
                        let name = if e.kernel_thread {
                            Cow::Borrowed(e.comm.as_str())
                        } else {
                            complete_name(|| proc_root.join(e.pid.to_string()), &e.comm)
                        };
                        re.is_match(&name).then(|| (e.pid, Some(name.into_owned())))
                    })
                    .collect();
                found.sort_unstable();
                Ok(found)
            }
            Finder::Pattern(re) => {
                let mut found: Vec<(u32, Option<String>)> = pids(proc_root)?
                    .into_iter()
                    .filter(|pid| {
                        command_line(&proc_root.join(pid.to_string()))
                            .is_some_and(|cmd| re.is_match(&cmd))
                    })
                    .map(|pid| (pid, None))
                    .collect();
                found.sort_unstable();
                Ok(found)
            }
        }
    }
}

/// `/proc/[pid]/cmdline` with NULs turned into spaces (gopsutil `Cmdline`).
pub fn command_line(pid_dir: &Path) -> Option<String> {
    let raw = procfile::read_bytes(&pid_dir.join("cmdline")).ok()?;
    let args: Vec<String> = raw
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    Some(args.join(" "))
}

/// gopsutil `Name`: the kernel's `comm` (what status's `Name:` shows); when
/// the kernel cut it at 15 bytes, the basename of argv[0] if that starts with
/// the truncated name.
///
/// Reads `comm`, not `status`: `exe` matching names every process on each
/// collection, and rendering `status` (signal masks, memory maps' sums) costs
/// the kernel ten times more. `status` remains the fallback (fixtures, kernels
/// without `comm`).
pub fn process_name(pid_dir: &Path) -> Option<String> {
    let name = match procfile::read_bytes(&pid_dir.join("comm")) {
        Ok(raw) => String::from_utf8_lossy(raw.strip_suffix(b"\n").unwrap_or(&raw)).into_owned(),
        Err(_) => {
            let status = procfile::read(&pid_dir.join("status")).ok()?;
            procfile::kv_text(&status, "Name")?.to_string()
        }
    };
    Some(complete_name(|| pid_dir.to_path_buf(), &name).into_owned())
}

/// `comm` as gopsutil names the process: when the kernel cut it at 15
/// bytes, the basename of argv[0] (`pid_dir()/cmdline`) if that starts with
/// it. Short names, most of them, are borrowed: no path, read or copy.
fn complete_name<'a>(pid_dir: impl FnOnce() -> PathBuf, comm: &'a str) -> Cow<'a, str> {
    if comm.len() >= 15
        && let Ok(raw) = procfile::read_bytes(&pid_dir().join("cmdline"))
        && let Some(argv0) = raw.split(|&b| b == 0).next()
    {
        let argv0 = String::from_utf8_lossy(argv0);
        let base = argv0.rsplit('/').next().unwrap_or_default();
        if base.starts_with(comm) {
            return Cow::Owned(base.to_string());
        }
    }
    Cow::Borrowed(comm)
}

/// What one pid's files say, before cpu_usage (which needs history).
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessSample {
    pub pid: u32,
    pub name: String,
    /// utime + stime + delayacct_blkio_ticks, in ticks.
    pub cpu_ticks: u64,
    pub fields: Vec<(&'static str, f64)>,
}

/// Reads one process (`name`, when the caller already knows it, spares
/// reading it again). `None` when it vanished or its stat is unreadable.
pub fn sample_process(
    proc_root: &Path,
    pid: u32,
    name: Option<&str>,
    wanted: &FieldSet,
) -> Option<ProcessSample> {
    let dir = proc_root.join(pid.to_string());
    let stat = procfile::read(&dir.join("stat")).ok()?;
    let status = procfile::read(&dir.join("status")).ok()?;
    let f = stat_fields_after_comm(&stat)?;
    // After `(comm)`: f[0] = state (field 3), so field N is f[N - 3].
    let num = |field: usize| f.get(field - 3).and_then(|s| s.parse::<i64>().ok());
    let utime = u64::try_from(num(14)?).ok()?;
    let stime = u64::try_from(num(15)?).ok()?;
    let blkio = num(42).and_then(|v| u64::try_from(v).ok()).unwrap_or(0);
    let secs = |t: u64| t as f64 / TICKS_PER_SECOND;

    let mut fields = Vec::new();
    wanted.push(&mut fields, "pid", f64::from(pid));
    wanted.push(&mut fields, "cpu_time", secs(utime) + secs(stime));
    wanted.push(&mut fields, "cpu_time_user", secs(utime));
    wanted.push(&mut fields, "cpu_time_system", secs(stime));
    wanted.push(&mut fields, "cpu_time_iowait", secs(blkio));
    if let Some(p) = num(40) {
        wanted.push(&mut fields, "realtime_priority", p as f64);
    }
    if let Some(n) = num(19) {
        wanted.push(&mut fields, "nice_priority", n as f64);
    }

    let kv: HashMap<&str, u64> = procfile::kv_numbers(&status).collect();
    let get = |k: &str| kv.get(k).copied().unwrap_or(0) as f64;
    wanted.push(&mut fields, "memory_rss", get("VmRSS"));
    wanted.push(&mut fields, "memory_vms", get("VmSize"));
    wanted.push(&mut fields, "memory_swap", get("VmSwap"));
    wanted.push(&mut fields, "memory_data", get("VmData"));
    wanted.push(&mut fields, "memory_stack", get("VmStk"));
    wanted.push(&mut fields, "memory_locked", get("VmLck"));
    wanted.push(&mut fields, "num_threads", get("Threads"));
    wanted.push(
        &mut fields,
        "voluntary_context_switches",
        get("voluntary_ctxt_switches"),
    );
    wanted.push(
        &mut fields,
        "involuntary_context_switches",
        get("nonvoluntary_ctxt_switches"),
    );

    let wants_io = ["read_count", "write_count", "read_bytes", "write_bytes"]
        .iter()
        .any(|f| wanted.wants(f));
    if wants_io && let Ok(io) = procfile::read(&dir.join("io")) {
        let io: HashMap<&str, u64> = procfile::kv_numbers(&io).collect();
        let get = |k: &str| io.get(k).copied().unwrap_or(0) as f64;
        wanted.push(&mut fields, "read_count", get("syscr"));
        wanted.push(&mut fields, "write_count", get("syscw"));
        wanted.push(&mut fields, "read_bytes", get("read_bytes"));
        wanted.push(&mut fields, "write_bytes", get("write_bytes"));
    }
    if wanted.wants("num_fds")
        && let Ok(entries) = std::fs::read_dir(dir.join("fd"))
    {
        wanted.push(&mut fields, "num_fds", entries.count() as f64);
    }

    let name = match name {
        Some(known) => known.to_string(),
        None => {
            let name = procfile::kv_text(&status, "Name")
                .unwrap_or_default()
                .to_string();
            if name.len() >= 15 {
                process_name(&dir).unwrap_or(name)
            } else {
                name
            }
        }
    };
    Some(ProcessSample {
        pid,
        name,
        cpu_ticks: utime.saturating_add(stime).saturating_add(blkio),
        fields,
    })
}

pub struct ProcstatCollector {
    proc: PathBuf,
    table: Arc<ProcTable>,
    finder: Finder,
    fields: FieldSet,
    /// pid → (cpu ticks, when) of the previous round.
    last: HashMap<u32, (u64, Instant)>,
}

impl ProcstatCollector {
    /// With a process table of its own.
    pub fn new(opts: &PluginOptions) -> Result<Self, CollectError> {
        ProcstatCollector::with_table(opts, ProcTable::new(&opts.roots.proc))
    }

    /// Finding processes in `table`, shared with other collectors.
    pub fn with_table(opts: &PluginOptions, table: Arc<ProcTable>) -> Result<Self, CollectError> {
        let selector = opts
            .procstat
            .as_ref()
            .ok_or_else(|| CollectError::Other("procstat needs pid_file, exe or pattern".into()))?;
        Ok(ProcstatCollector {
            proc: opts.roots.proc.clone(),
            table,
            finder: Finder::new(selector)?,
            fields: FieldSet::new(&opts.fields),
            last: HashMap::new(),
        })
    }

    /// One round, with `now` as the wall-clock instant for cpu_usage.
    pub fn collect_at(&mut self, now: Instant) -> Result<Vec<Reading>, CollectError> {
        let selector_tag = self.finder.tag();
        // A pid file naming a dead process is "found nothing", not an error.
        let pids = match self.finder.find(&self.table) {
            Ok(p) => p,
            Err(CollectError::Io { .. }) if matches!(self.finder, Finder::PidFile(_)) => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        let mut next = HashMap::new();
        let mut count = 0u64;
        for (pid, name) in pids {
            let Some(mut s) = sample_process(&self.proc, pid, name.as_deref(), &self.fields) else {
                continue;
            };
            count += 1;
            if let Some(&(ticks, at)) = self.last.get(&pid) {
                let wall = now.saturating_duration_since(at).as_secs_f64();
                if wall > 0.0 && s.cpu_ticks >= ticks {
                    let cpu = (s.cpu_ticks - ticks) as f64 / TICKS_PER_SECOND;
                    self.fields
                        .push(&mut s.fields, "cpu_usage", 100.0 * cpu / wall);
                }
            }
            next.insert(pid, (s.cpu_ticks, now));
            if s.fields.is_empty() {
                continue;
            }
            out.push(Reading {
                tags: vec![selector_tag.clone(), ("process_name".to_string(), s.name)],
                fields: s.fields,
            });
        }
        self.last = next;
        let mut lookup = Vec::new();
        self.fields.push(&mut lookup, "pid_count", count as f64);
        if !lookup.is_empty() {
            out.push(Reading {
                tags: vec![selector_tag],
                fields: lookup,
            });
        }
        Ok(out)
    }
}

impl Collector for ProcstatCollector {
    fn collect(&mut self) -> Result<Vec<Reading>, CollectError> {
        self.collect_at(Instant::now())
    }
}
