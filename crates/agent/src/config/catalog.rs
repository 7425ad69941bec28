//! What the config may name for each plugin: the collectors' field lists and
//! default units (owned by `collect`), and the published metric name.

/// Plugins this agent collects itself (host plugins, in config order of the
/// stock docs). `statsd` is configured separately.
pub const HOST_PLUGINS: &[&str] = &[
    "cpu",
    "disk",
    "diskio",
    "mem",
    "swap",
    "net",
    "netstat",
    "processes",
    "procstat",
];

/// Fields the collector for `plugin` can report (without the plugin prefix).
pub fn known_fields(plugin: &str) -> &'static [&'static str] {
    interim::known_fields(plugin)
}

/// The CloudWatch unit the stock agent publishes for `plugin`'s `field`.
pub fn default_unit(plugin: &str, field: &str) -> &'static str {
    interim::default_unit(plugin, field).unwrap_or("None")
}

/// The metric name the stock agent publishes for a field: `<plugin>_<field>`,
/// except procstat's pid count, which telegraf reports from its separate
/// `procstat_lookup` measurement.
pub fn metric_name(plugin: &str, field: &str) -> String {
    if plugin == "procstat" && field == "pid_count" {
        return "procstat_lookup_pid_count".to_owned();
    }
    format!("{plugin}_{field}")
}

/// Maps a configured measurement name (with or without the `<plugin>_`
/// prefix, or a full published name) to the collector's static field name.
pub fn resolve_field(plugin: &str, name: &str) -> Option<&'static str> {
    let fields = known_fields(plugin);
    let find = |n: &str| fields.iter().copied().find(|f| *f == n);
    if let Some(f) = find(name) {
        return Some(f);
    }
    if plugin == "procstat" && name == "procstat_lookup_pid_count" {
        return find("pid_count");
    }
    name.strip_prefix(plugin)
        .and_then(|rest| rest.strip_prefix('_'))
        .and_then(find)
}

/// Stand-in for `collect::{known_fields, default_unit}` until the collectors
/// land (same data as aws-api.md §1.4).
mod interim {
    const CPU: &[&str] = &[
        "usage_active", "usage_idle", "usage_nice", "usage_guest", "usage_guest_nice",
        "usage_iowait", "usage_irq", "usage_softirq", "usage_steal", "usage_system",
        "usage_user", "time_active", "time_idle", "time_nice", "time_guest",
        "time_guest_nice", "time_iowait", "time_irq", "time_softirq", "time_steal",
        "time_system", "time_user",
    ];
    const DISK: &[&str] = &[
        "free", "total", "used", "used_percent", "inodes_free", "inodes_total", "inodes_used",
    ];
    const DISKIO: &[&str] = &[
        "reads", "writes", "read_bytes", "write_bytes", "read_time", "write_time", "io_time",
        "iops_in_progress",
    ];
    const MEM: &[&str] = &[
        "active", "available", "available_percent", "buffered", "cached", "free", "inactive",
        "shared", "total", "used", "used_percent",
    ];
    const SWAP: &[&str] = &["free", "used", "used_percent"];
    const NET: &[&str] = &[
        "bytes_sent", "bytes_recv", "packets_sent", "packets_recv", "drop_in", "drop_out",
        "err_in", "err_out",
    ];
    const NETSTAT: &[&str] = &[
        "tcp_close", "tcp_close_wait", "tcp_closing", "tcp_established", "tcp_fin_wait1",
        "tcp_fin_wait2", "tcp_last_ack", "tcp_listen", "tcp_none", "tcp_syn_sent",
        "tcp_syn_recv", "tcp_time_wait", "udp_socket",
    ];
    const PROCESSES: &[&str] = &[
        "blocked", "dead", "idle", "paging", "running", "sleeping", "stopped", "total",
        "total_threads", "wait", "zombies",
    ];
    const PROCSTAT: &[&str] = &[
        "cpu_time", "cpu_time_system", "cpu_time_user", "cpu_usage", "memory_data",
        "memory_locked", "memory_rss", "memory_stack", "memory_swap", "memory_vms",
        "read_bytes", "write_bytes", "read_count", "write_count", "num_fds", "num_threads",
        "pid", "pid_count",
    ];

    pub fn known_fields(plugin: &str) -> &'static [&'static str] {
        match plugin {
            "cpu" => CPU,
            "disk" => DISK,
            "diskio" => DISKIO,
            "mem" => MEM,
            "swap" => SWAP,
            "net" => NET,
            "netstat" => NETSTAT,
            "processes" => PROCESSES,
            "procstat" => PROCSTAT,
            _ => &[],
        }
    }

    pub fn default_unit(plugin: &str, field: &str) -> Option<&'static str> {
        if !known_fields(plugin).contains(&field) {
            return None;
        }
        let unit = match (plugin, field) {
            (_, f) if f.ends_with("percent") || f.starts_with("usage_") || f == "cpu_usage" => {
                "Percent"
            }
            ("cpu", _) => "None",
            ("diskio", "read_bytes" | "write_bytes") => "Bytes",
            ("diskio", "read_time" | "write_time" | "io_time") => "Milliseconds",
            ("disk", f) if f.starts_with("inodes") => "Count",
            ("disk" | "mem" | "swap", _) => "Bytes",
            ("net", f) if f.starts_with("bytes") => "Bytes",
            ("procstat", f) if f.starts_with("memory") || f.ends_with("bytes") => "Bytes",
            ("procstat", f) if f.starts_with("cpu_time") => "None",
            _ => "Count",
        };
        Some(unit)
    }
}
