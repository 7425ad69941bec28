//! Collectors against captured `/proc` trees: `proc-host1` is this build
//! machine's real files; `proc-delta` is hand-made, with two snapshots
//! (`t0`, `t1`) whose expected values are worked out by hand below.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use stratus_agent::collect::{
    Collector, HostRoots, PluginOptions, ProcstatSelector, Reading,
    cpu::CpuCollector,
    disk,
    diskio::{self, DiskioCollector},
    mem,
    net::{self, NetCollector},
    netstat::NetstatCollector,
    new_collector,
    processes::ProcessesCollector,
    procstat::ProcstatCollector,
    swap,
};

const KIB: f64 = 1024.0;

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

fn text(rel: &str) -> String {
    std::fs::read_to_string(data(rel)).unwrap()
}

fn opts(proc_rel: &str) -> PluginOptions {
    PluginOptions {
        totalcpu: true,
        percpu: true,
        roots: HostRoots {
            proc: data(proc_rel),
            sys: data("proc-delta/sys"),
        },
        ..PluginOptions::default()
    }
}

fn field(r: &Reading, name: &str) -> Option<f64> {
    r.fields.iter().find(|(f, _)| *f == name).map(|(_, v)| *v)
}

fn tagged<'a>(rs: &'a [Reading], key: &str, value: &str) -> &'a Reading {
    rs.iter()
        .find(|r| r.tags.iter().any(|(k, v)| k == key && v == value))
        .unwrap_or_else(|| panic!("no reading with {key}={value} in {rs:?}"))
}

fn close(actual: Option<f64>, expected: f64) {
    let a = actual.expect("field missing");
    assert!((a - expected).abs() < 1e-9, "{a} != {expected}");
}

// ---------------------------------------------------------------- cpu

#[test]
fn cpu_first_sample_has_times_only() {
    let mut c = CpuCollector::new(&opts("proc-host1"));
    let rs = c.collect().unwrap();
    assert_eq!(rs.len(), 3, "cpu-total, cpu0, cpu1");
    let total = tagged(&rs, "cpu", "cpu-total");
    // cpu  613205 27674 65333 216128 1095 0 522 185 0 0
    close(field(total, "time_user"), 6132.05);
    close(field(total, "time_nice"), 276.74);
    close(field(total, "time_idle"), 2161.28);
    // active = user + system + nice + iowait + irq + softirq + steal
    close(
        field(total, "time_active"),
        (613205.0 + 65333.0 + 27674.0 + 1095.0 + 0.0 + 522.0 + 185.0) / 100.0,
    );
    assert!(
        field(total, "usage_idle").is_none(),
        "no usage on first sample"
    );
    tagged(&rs, "cpu", "cpu1");
}

#[test]
fn cpu_usage_between_two_snapshots() {
    let mut c = CpuCollector::new(&opts("proc-delta/t0"));
    c.collect_from(&text("proc-delta/t0/stat"));
    let rs = c.collect_from(&text("proc-delta/t1/stat"));
    // cpu-total deltas: user 400 nice 50 system 150 idle 200 iowait 100 irq 10
    // softirq 40 steal 50 guest 100 guest_nice 20 → Δtotal = 1000 ticks.
    for name in ["cpu-total", "cpu0"] {
        let r = tagged(&rs, "cpu", name);
        close(field(r, "usage_user"), 30.0); // (400 - 100) / 1000
        close(field(r, "usage_system"), 15.0);
        close(field(r, "usage_idle"), 20.0);
        close(field(r, "usage_nice"), 3.0); // (50 - 20) / 1000
        close(field(r, "usage_iowait"), 10.0);
        close(field(r, "usage_irq"), 1.0);
        close(field(r, "usage_softirq"), 4.0);
        close(field(r, "usage_steal"), 5.0);
        close(field(r, "usage_guest"), 10.0);
        close(field(r, "usage_guest_nice"), 2.0);
        close(field(r, "usage_active"), 80.0); // 100 - idle
        let sum: f64 = r
            .fields
            .iter()
            .filter(|(f, _)| f.starts_with("usage_") && *f != "usage_active")
            .map(|(_, v)| v)
            .sum();
        assert!((sum - 100.0).abs() < 1e-9, "{name}: {sum}");
    }
    // cpu1's counters went backwards: times yes, usage dropped.
    let cpu1 = tagged(&rs, "cpu", "cpu1");
    close(field(cpu1, "time_user"), 1.0);
    assert!(cpu1.fields.iter().all(|(f, _)| !f.starts_with("usage_")));
}

#[test]
fn cpu_honours_totalcpu_percpu_and_fields() {
    let mut o = opts("proc-delta/t0");
    o.percpu = false;
    o.fields = vec!["usage_idle"];
    let mut c = CpuCollector::new(&o);
    assert!(c.collect_from(&text("proc-delta/t0/stat")).is_empty());
    let rs = c.collect_from(&text("proc-delta/t1/stat"));
    assert_eq!(rs.len(), 1);
    assert_eq!(
        rs[0].tags,
        vec![("cpu".to_string(), "cpu-total".to_string())]
    );
    assert_eq!(rs[0].fields, vec![("usage_idle", 20.0)]);
}

// ---------------------------------------------------------------- mem, swap

#[test]
fn mem_from_host1_meminfo() {
    let mut c = new_collector("mem", &opts("proc-host1")).unwrap();
    let rs = c.collect().unwrap();
    let r = &rs[0];
    // MemTotal 24684092, MemFree 17241248, MemAvailable 23986312, Buffers 28064,
    // Cached 6572732 + SReclaimable 476936 = 7049668 (kB)
    close(field(r, "total"), 24684092.0 * KIB);
    close(field(r, "cached"), 7049668.0 * KIB);
    // used = 24684092 - 17241248 - 28064 - 7049668 = 365112 kB
    close(field(r, "used"), 365112.0 * KIB);
    close(field(r, "used_percent"), 100.0 * 365112.0 / 24684092.0);
    close(
        field(r, "available_percent"),
        100.0 * 23986312.0 / 24684092.0,
    );
    close(field(r, "shared"), 8856.0 * KIB);
    close(field(r, "active"), 2299864.0 * KIB);
}

#[test]
fn mem_and_swap_from_hand_made_meminfo() {
    let fields = stratus_agent::collect::FieldSet::default();
    let m0 = mem::parse_meminfo(&text("proc-delta/t0/meminfo")).unwrap();
    let f = mem::mem_fields(&m0, &fields);
    let get = |n: &str| f.iter().find(|(k, _)| *k == n).map(|p| p.1);
    // used = 1000000 - 200000 - 50000 - (250000 + 50000) = 450000 kB
    close(get("used"), 450000.0 * KIB);
    close(get("used_percent"), 45.0);
    close(get("available_percent"), 60.0);
    close(get("buffered"), 50000.0 * KIB);
    let s = swap::swap_fields(&m0, &fields);
    assert_eq!(
        s,
        vec![
            ("free", 100000.0 * KIB),
            ("used", 300000.0 * KIB),
            ("used_percent", 75.0)
        ]
    );

    // t1: an old kernel without MemAvailable → free + cached; no swap → 0 %.
    let m1 = mem::parse_meminfo(&text("proc-delta/t1/meminfo")).unwrap();
    let f = mem::mem_fields(&m1, &fields);
    let get = |n: &str| f.iter().find(|(k, _)| *k == n).map(|p| p.1);
    close(get("available"), 500000.0 * KIB);
    close(get("available_percent"), 50.0);
    assert_eq!(swap::swap_fields(&m1, &fields)[2], ("used_percent", 0.0));

    assert!(mem::parse_meminfo("garbage\n").is_err());
}

// ---------------------------------------------------------------- disk

fn fake_stat(path: &str) -> std::io::Result<disk::FsStats> {
    match path {
        "/" => Ok(disk::FsStats {
            frsize: 4096,
            blocks: 1000,
            bfree: 300,
            bavail: 250,
            files: 100,
            ffree: 40,
        }),
        "/run" | "/mnt/my data" => Ok(disk::FsStats {
            frsize: 1024,
            blocks: 10,
            bfree: 10,
            bavail: 10,
            files: 5,
            ffree: 5,
        }),
        // proc: a dummy filesystem with no blocks.
        "/proc" => Ok(disk::FsStats::default()),
        _ => Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied)),
    }
}

#[test]
fn disk_mounts_selection_and_df_formula() {
    let mounts = disk::parse_mounts(&text("proc-delta/mounts"));
    assert_eq!(mounts.len(), 5, "duplicate / line folded: {mounts:?}");
    assert_eq!(mounts[3].mount_point, "/mnt/my data");

    let all = disk::DiskSelection::from_options(&PluginOptions::default());
    let rs = all.readings(&mounts, fake_stat);
    // proc (0 blocks) and nfs (stat failed) are skipped; tmpfs is kept.
    let paths: Vec<_> = rs.iter().map(|r| r.tags[2].1.as_str()).collect();
    assert_eq!(paths, ["/", "/run", "/mnt/my data"]);

    let root = &rs[0];
    assert_eq!(
        root.tags,
        vec![
            ("device".to_string(), "root".to_string()),
            ("fstype".to_string(), "ext4".to_string()),
            ("path".to_string(), "/".to_string()),
        ]
    );
    close(field(root, "total"), 4096000.0);
    close(field(root, "free"), 250.0 * 4096.0); // f_bavail
    close(field(root, "used"), 700.0 * 4096.0); // f_blocks - f_bfree
    close(field(root, "used_percent"), 100.0 * 700.0 / 950.0);
    close(field(root, "inodes_used"), 60.0);
    assert_eq!(tagged(&rs, "path", "/mnt/my data").tags[0].1, "nvme1n1p1");

    let o = PluginOptions {
        resources: vec!["/".into()],
        drop_device: true,
        fields: vec!["used_percent"],
        ..PluginOptions::default()
    };
    let rs = disk::DiskSelection::from_options(&o).readings(&mounts, fake_stat);
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0].tags.len(), 2, "no device tag");
    assert_eq!(rs[0].fields.len(), 1);

    let o = PluginOptions {
        ignore_file_system_types: vec!["tmpfs".into(), "xfs".into()],
        ..PluginOptions::default()
    };
    let rs = disk::DiskSelection::from_options(&o).readings(&mounts, fake_stat);
    assert_eq!(rs.len(), 1);

    // The real capture parses too: / is an ext4 on vda.
    let host = disk::parse_mounts(&text("proc-host1/self/mounts"));
    assert!(
        host.iter()
            .any(|m| m.mount_point == "/" && m.fstype == "ext4")
    );
}

// ---------------------------------------------------------------- diskio

#[test]
fn diskio_deltas_and_reset() {
    let mut c = DiskioCollector::new(&opts("proc-delta/t0"));
    let rs = c.collect_from(&text("proc-delta/t0/diskstats"));
    // First sample: only the gauge. loop0 has 13 columns: skipped.
    assert_eq!(rs.len(), 2);
    assert_eq!(
        tagged(&rs, "name", "sda").fields,
        vec![("iops_in_progress", 3.0)]
    );

    let rs = c.collect_from(&text("proc-delta/t1/diskstats"));
    let sda = tagged(&rs, "name", "sda");
    assert_eq!(
        sda.fields,
        vec![
            ("reads", 100.0),
            ("writes", 500.0),
            ("read_bytes", 800.0 * 512.0),
            ("write_bytes", 4000.0 * 512.0),
            ("read_time", 40.0),
            ("write_time", 100.0),
            ("io_time", 100.0),
            ("iops_in_progress", 1.0),
        ]
    );
    // sda1's counters went backwards: deltas dropped, gauge kept.
    assert_eq!(
        tagged(&rs, "name", "sda1").fields,
        vec![("iops_in_progress", 2.0)]
    );

    let mut o = opts("proc-delta/t0");
    o.resources = vec!["sda".into()];
    let mut c = DiskioCollector::new(&o);
    assert_eq!(c.collect_from(&text("proc-delta/t0/diskstats")).len(), 1);

    // Real capture: a kernel with 20 columns (discard + flush stats).
    let host = diskio::parse_diskstats(&text("proc-host1/diskstats"));
    let vda = host.iter().find(|d| d.name == "vda").unwrap();
    assert_eq!(vda.counters[0], 467994);
    assert_eq!(vda.counters[2], 17471242 * 512);
    assert_eq!(vda.counters[6], 49352);
}

// ---------------------------------------------------------------- net

#[test]
fn net_deltas_skip_loopback_and_down() {
    let mut c = NetCollector::new(&opts("proc-delta/t0"));
    assert!(c.collect_from(&text("proc-delta/t0/net/dev")).is_empty());
    let rs = c.collect_from(&text("proc-delta/t1/net/dev"));
    assert_eq!(
        rs.len(),
        1,
        "lo (loopback) and down0 (down) skipped: {rs:?}"
    );
    assert_eq!(
        rs[0].fields,
        vec![
            ("bytes_recv", 3000.0),
            ("packets_recv", 30.0),
            ("err_in", 0.0),
            ("drop_in", 3.0),
            ("bytes_sent", 1500.0),
            ("packets_sent", 15.0),
            ("err_out", 0.0),
            ("drop_out", 0.0),
        ]
    );

    let mut o = opts("proc-delta/t0");
    o.resources = vec!["lo".into(), "eth*".into()];
    let mut c = NetCollector::new(&o);
    c.collect_from(&text("proc-delta/t0/net/dev"));
    let rs = c.collect_from(&text("proc-delta/t1/net/dev"));
    close(field(tagged(&rs, "interface", "lo"), "bytes_recv"), 1000.0);
    tagged(&rs, "interface", "eth0");

    let host = net::parse_net_dev(&text("proc-host1/net/dev"));
    let eth0 = host.iter().find(|d| d.interface == "eth0").unwrap();
    assert_eq!(eth0.counters[0], 494052318);
    assert_eq!(eth0.counters[4], 1199236);
}

// ---------------------------------------------------------------- netstat

#[test]
fn netstat_counts_states() {
    let mut c = NetstatCollector::new(&opts("proc-delta"));
    let rs = c.collect().unwrap();
    let r = &rs[0];
    close(field(r, "tcp_listen"), 3.0); // two v4, one v6
    close(field(r, "tcp_established"), 2.0);
    close(field(r, "tcp_time_wait"), 1.0);
    close(field(r, "tcp_close_wait"), 1.0);
    close(field(r, "tcp_syn_sent"), 0.0);
    // unix: two stream + one seqpacket = NONE; one dgram counts as udp.
    close(field(r, "tcp_none"), 3.0);
    close(field(r, "udp_socket"), 3.0);

    let mut c = NetstatCollector::new(&opts("proc-host1"));
    let r = &c.collect().unwrap()[0];
    close(field(r, "tcp_listen"), 1.0);
    close(field(r, "tcp_time_wait"), 2.0);
    close(field(r, "tcp_none"), 2.0);
    close(field(r, "udp_socket"), 0.0);
}

// ---------------------------------------------------------------- processes

#[test]
fn processes_count_states_and_threads() {
    let mut c = ProcessesCollector::new(&opts("proc-delta/t0"));
    let r = &c.collect().unwrap()[0];
    for (f, v) in [
        ("sleeping", 2.0),
        ("running", 1.0),
        ("zombies", 1.0), // comm "my (odd) proc"
        ("idle", 1.0),
        ("blocked", 1.0),
        ("stopped", 1.0),
        ("dead", 0.0),
        ("paging", 0.0),
        ("total", 7.0),
        ("total_threads", 13.0),
    ] {
        close(field(r, f), v);
    }
    assert!(field(r, "wait").is_none(), "BSD-only field");

    let mut c = ProcessesCollector::new(&opts("proc-host1"));
    let r = &c.collect().unwrap()[0];
    close(field(r, "total"), 2.0);
    close(field(r, "total_threads"), 2.0);
}

// ---------------------------------------------------------------- procstat

/// A proc root that can be switched from t0 to t1 between rounds.
struct SwitchableRoot {
    _dir: tempfile::TempDir,
    link: PathBuf,
}

impl SwitchableRoot {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("proc");
        std::os::unix::fs::symlink(data("proc-delta/t0"), &link).unwrap();
        SwitchableRoot { _dir: dir, link }
    }

    fn switch_to_t1(&self) {
        std::fs::remove_file(&self.link).unwrap();
        std::fs::symlink_metadata(data("proc-delta/t1")).unwrap();
        std::os::unix::fs::symlink(data("proc-delta/t1"), &self.link).unwrap();
    }

    fn opts(&self, selector: ProcstatSelector) -> PluginOptions {
        PluginOptions {
            procstat: Some(selector),
            roots: HostRoots {
                proc: self.link.clone(),
                sys: data("proc-delta/sys"),
            },
            ..PluginOptions::default()
        }
    }
}

#[test]
fn procstat_exe_fields_and_cpu_usage() {
    let root = SwitchableRoot::new();
    let mut c =
        ProcstatCollector::new(&root.opts(ProcstatSelector::Exe("^nginx$".into()))).unwrap();
    let t0 = Instant::now();
    let rs = c.collect_at(t0).unwrap();
    assert_eq!(rs.len(), 3, "two processes + lookup");
    let lookup = rs.last().unwrap();
    assert_eq!(
        lookup.tags,
        vec![("exe".to_string(), "^nginx$".to_string())]
    );
    assert_eq!(lookup.fields, vec![("pid_count", 2.0)]);

    let w = rs.iter().find(|r| field(r, "pid") == Some(11.0)).unwrap();
    assert_eq!(
        w.tags,
        vec![
            ("exe".to_string(), "^nginx$".to_string()),
            ("process_name".to_string(), "nginx".to_string())
        ]
    );
    close(field(w, "cpu_time_user"), 4.0); // 400 ticks
    close(field(w, "cpu_time_system"), 1.0);
    close(field(w, "cpu_time"), 5.0);
    close(field(w, "cpu_time_iowait"), 0.1);
    close(field(w, "memory_rss"), 11000.0 * KIB);
    close(field(w, "memory_vms"), 55000.0 * KIB);
    close(field(w, "memory_swap"), 11.0 * KIB);
    close(field(w, "memory_data"), 2200.0 * KIB);
    close(field(w, "memory_stack"), 132.0 * KIB);
    close(field(w, "memory_locked"), 0.0);
    close(field(w, "num_threads"), 4.0);
    close(field(w, "voluntary_context_switches"), 77.0);
    close(field(w, "involuntary_context_switches"), 11.0);
    close(field(w, "read_count"), 33.0);
    close(field(w, "write_bytes"), 11.0 * 8192.0);
    close(field(w, "nice_priority"), 0.0);
    assert!(field(w, "cpu_usage").is_none(), "first sample");

    root.switch_to_t1();
    let rs = c.collect_at(t0 + Duration::from_secs(10)).unwrap();
    // pid 11: 400+100+10 → 700+250+60 ticks: 5 s of CPU in 10 s.
    let w = rs.iter().find(|r| field(r, "pid") == Some(11.0)).unwrap();
    close(field(w, "cpu_usage"), 50.0);
    // pid 10: 150 → 200 ticks: 0.5 s in 10 s.
    let m = rs.iter().find(|r| field(r, "pid") == Some(10.0)).unwrap();
    close(field(m, "cpu_usage"), 5.0);
}

#[test]
fn procstat_pattern_pidfile_and_long_names() {
    let root = SwitchableRoot::new();
    let run = |sel: ProcstatSelector| {
        let mut c = ProcstatCollector::new(&root.opts(sel)).unwrap();
        c.collect_at(Instant::now()).unwrap()
    };
    let rs = run(ProcstatSelector::Pattern(r"app\.py --port 80".into()));
    assert_eq!(rs.len(), 2);
    close(field(&rs[0], "pid"), 14.0);
    close(field(&rs[0], "nice_priority"), -5.0);
    assert_eq!(rs[0].tags[0].0, "pattern");

    let pidfile = data("proc-delta/run/nginx.pid");
    let rs = run(ProcstatSelector::PidFile(pidfile.clone()));
    close(field(&rs[0], "pid"), 11.0);
    assert_eq!(
        rs[0].tags[0],
        ("pidfile".to_string(), pidfile.display().to_string())
    );

    // The kernel cut the name at 15 bytes; argv[0] completes it.
    let rs = run(ProcstatSelector::Exe("longname$".into()));
    assert_eq!(rs[0].tags[1].1, "averyveryverylongname");

    // Parentheses inside comm.
    let rs = run(ProcstatSelector::Exe(r"\(odd\)".into()));
    close(field(rs.last().unwrap(), "pid_count"), 1.0);

    // A pid file that is gone: nothing found, not an error.
    let rs = run(ProcstatSelector::PidFile(data(
        "proc-delta/run/missing.pid",
    )));
    assert_eq!(rs.len(), 1);
    close(field(&rs[0], "pid_count"), 0.0);

    // Only the lookup asked for: no per-process readings.
    let mut o = root.opts(ProcstatSelector::Exe("nginx".into()));
    o.fields = vec!["pid_count"];
    let rs = ProcstatCollector::new(&o)
        .unwrap()
        .collect_at(Instant::now())
        .unwrap();
    assert_eq!(rs.len(), 1);

    assert!(ProcstatCollector::new(&root.opts(ProcstatSelector::Exe("(".into()))).is_err());
}

#[test]
fn registry_builds_every_plugin_and_refuses_others() {
    for plugin in stratus_agent::collect::PLUGINS {
        let mut o = opts("proc-host1");
        o.procstat = Some(ProcstatSelector::Exe("bash".into()));
        let mut c = new_collector(plugin, &o).unwrap();
        c.collect().unwrap_or_else(|e| panic!("{plugin}: {e}"));
    }
    assert!(new_collector("nvidia_gpu", &PluginOptions::default()).is_err());
    assert!(new_collector("procstat", &PluginOptions::default()).is_err());
    let mut missing = new_collector("mem", &opts("proc-delta/nowhere")).unwrap();
    assert!(missing.collect().is_err());
}
