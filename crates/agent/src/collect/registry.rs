//! The plugin table: which fields each Linux plugin has (the stock agent's
//! `validLinuxMetrics`), their CloudWatch units, their published names, and
//! the constructor for each collector.

use std::path::Path;
use std::sync::Arc;

use super::{
    CollectError, Collector, PluginOptions, cpu::CpuCollector, disk::DiskCollector,
    diskio::DiskioCollector, mem::MemCollector, net::NetCollector, netstat::NetstatCollector,
    proc_table::ProcTable, processes::ProcessesCollector, procstat::ProcstatCollector,
    swap::SwapCollector,
};

/// Host plugins `new_collector` builds.
pub const PLUGINS: &[&str] = &[
    "cpu",
    "disk",
    "diskio",
    "mem",
    "net",
    "netstat",
    "processes",
    "procstat",
    "swap",
];

const CPU: &[&str] = &[
    "time_active",
    "time_guest",
    "time_guest_nice",
    "time_idle",
    "time_iowait",
    "time_irq",
    "time_nice",
    "time_softirq",
    "time_steal",
    "time_system",
    "time_user",
    "usage_active",
    "usage_guest",
    "usage_guest_nice",
    "usage_idle",
    "usage_iowait",
    "usage_irq",
    "usage_nice",
    "usage_softirq",
    "usage_steal",
    "usage_system",
    "usage_user",
];

const DISK: &[&str] = &[
    "free",
    "inodes_free",
    "inodes_total",
    "inodes_used",
    "total",
    "used",
    "used_percent",
];

const DISKIO: &[&str] = &[
    "io_time",
    "iops_in_progress",
    "read_bytes",
    "read_time",
    "reads",
    "write_bytes",
    "write_time",
    "writes",
];

const MEM: &[&str] = &[
    "active",
    "available",
    "available_percent",
    "buffered",
    "cached",
    "free",
    "inactive",
    "shared",
    "total",
    "used",
    "used_percent",
];

const SWAP: &[&str] = &["free", "used", "used_percent"];

const NET: &[&str] = &[
    "bytes_recv",
    "bytes_sent",
    "drop_in",
    "drop_out",
    "err_in",
    "err_out",
    "packets_recv",
    "packets_sent",
];

const NETSTAT: &[&str] = &[
    "tcp_close",
    "tcp_close_wait",
    "tcp_closing",
    "tcp_established",
    "tcp_fin_wait1",
    "tcp_fin_wait2",
    "tcp_last_ack",
    "tcp_listen",
    "tcp_none",
    "tcp_syn_recv",
    "tcp_syn_sent",
    "tcp_time_wait",
    "udp_socket",
];

const PROCESSES: &[&str] = &[
    "blocked",
    "dead",
    "idle",
    "paging",
    "running",
    "sleeping",
    "stopped",
    "total",
    "total_threads",
    "wait",
    "zombies",
];

const PROCSTAT: &[&str] = &[
    "cpu_time",
    "cpu_time_iowait",
    "cpu_time_system",
    "cpu_time_user",
    "cpu_usage",
    "involuntary_context_switches",
    "memory_data",
    "memory_locked",
    "memory_rss",
    "memory_stack",
    "memory_swap",
    "memory_vms",
    "nice_priority",
    "num_fds",
    "num_threads",
    "pid",
    "pid_count",
    "read_bytes",
    "read_count",
    "realtime_priority",
    "voluntary_context_switches",
    "write_bytes",
    "write_count",
];

/// The Linux fields of a plugin (config names, without the plugin prefix),
/// or `None` for a plugin we do not collect.
pub fn known_fields(plugin: &str) -> Option<&'static [&'static str]> {
    Some(match plugin {
        "cpu" => CPU,
        "disk" => DISK,
        "diskio" => DISKIO,
        "mem" => MEM,
        "swap" => SWAP,
        "net" => NET,
        "netstat" => NETSTAT,
        "processes" => PROCESSES,
        "procstat" => PROCSTAT,
        _ => return None,
    })
}

/// The CloudWatch unit the stock agent publishes a field with; `None` when
/// the field is unknown for that plugin.
pub fn default_unit(plugin: &str, field: &str) -> Option<&'static str> {
    if !known_fields(plugin)?.contains(&field) {
        return None;
    }
    Some(match plugin {
        "cpu" if field.starts_with("usage_") => "Percent",
        "cpu" => "None",
        "disk" | "mem" | "swap" if field.ends_with("_percent") => "Percent",
        "disk" if field.starts_with("inodes_") => "Count",
        "disk" | "mem" | "swap" => "Bytes",
        "diskio" => match field {
            "read_bytes" | "write_bytes" => "Bytes",
            "read_time" | "write_time" | "io_time" => "Milliseconds",
            _ => "Count",
        },
        "net" if field.starts_with("bytes_") => "Bytes",
        "net" | "netstat" | "processes" => "Count",
        "procstat" => match field {
            "cpu_usage" => "Percent",
            f if f.starts_with("memory_") || f.ends_with("_bytes") => "Bytes",
            f if f.starts_with("cpu_time") => "None",
            "pid" | "nice_priority" | "realtime_priority" => "None",
            _ => "Count",
        },
        _ => return None,
    })
}

/// The published metric name: `<plugin>_<field>`, except procstat's pid
/// count, which telegraf emits in its `procstat_lookup` measurement.
pub fn metric_name(plugin: &str, field: &str) -> String {
    if plugin == "procstat" && field == "pid_count" {
        return "procstat_lookup_pid_count".to_string();
    }
    format!("{plugin}_{field}")
}

/// Builds the collector of a host plugin (with readers of its own).
pub fn new_collector(
    plugin: &str,
    opts: &PluginOptions,
) -> Result<Box<dyn Collector>, CollectError> {
    new_collector_in(plugin, opts, &mut SharedReaders::default())
}

/// What the collectors of one agent read together: one process table per
/// proc root (see `proc_table`).
#[derive(Default)]
pub struct SharedReaders {
    proc_tables: Vec<Arc<ProcTable>>,
}

impl SharedReaders {
    fn proc_table(&mut self, root: &Path) -> Arc<ProcTable> {
        if let Some(t) = self.proc_tables.iter().find(|t| t.proc_root() == root) {
            return Arc::clone(t);
        }
        let t = ProcTable::new(root);
        self.proc_tables.push(Arc::clone(&t));
        t
    }
}

/// Builds the collector of a host plugin, sharing `shared`'s readers with
/// the other collectors built from it.
pub fn new_collector_in(
    plugin: &str,
    opts: &PluginOptions,
    shared: &mut SharedReaders,
) -> Result<Box<dyn Collector>, CollectError> {
    Ok(match plugin {
        "cpu" => Box::new(CpuCollector::new(opts)),
        "disk" => Box::new(DiskCollector::new(opts)),
        "diskio" => Box::new(DiskioCollector::new(opts)),
        "mem" => Box::new(MemCollector::new(opts)),
        "swap" => Box::new(SwapCollector::new(opts)),
        "net" => Box::new(NetCollector::new(opts)),
        "netstat" => Box::new(NetstatCollector::new(opts)),
        "processes" => Box::new(ProcessesCollector::with_table(
            opts,
            shared.proc_table(&opts.roots.proc),
        )),
        "procstat" => Box::new(ProcstatCollector::with_table(
            opts,
            shared.proc_table(&opts.roots.proc),
        )?),
        other => return Err(CollectError::Other(format!("unsupported plugin {other:?}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_field_has_a_unit() {
        for plugin in PLUGINS {
            for field in known_fields(plugin).unwrap_or_default() {
                assert!(default_unit(plugin, field).is_some(), "{plugin}.{field}");
            }
        }
        assert_eq!(default_unit("disk", "used_percent"), Some("Percent"));
        assert_eq!(default_unit("disk", "inodes_free"), Some("Count"));
        assert_eq!(default_unit("diskio", "io_time"), Some("Milliseconds"));
        assert_eq!(default_unit("cpu", "time_idle"), Some("None"));
        assert_eq!(default_unit("mem", "nope"), None);
        assert_eq!(default_unit("gpu", "x"), None);
        assert_eq!(
            metric_name("procstat", "pid_count"),
            "procstat_lookup_pid_count"
        );
        assert_eq!(metric_name("disk", "used_percent"), "disk_used_percent");
    }
}
