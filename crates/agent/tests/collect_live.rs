//! Collectors against this machine's live `/proc`, checked against the
//! standard tools: `df` for disk, `free` for mem, and arithmetic for cpu.

use std::process::Command;
use std::time::Duration;

use stratus_agent::collect::{PluginOptions, ProcstatSelector, Reading, new_collector};

fn field(r: &Reading, name: &str) -> Option<f64> {
    r.fields.iter().find(|(f, _)| *f == name).map(|(_, v)| *v)
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(out.status.success(), "{cmd} {args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

fn numbers(line: &str) -> Vec<f64> {
    line.split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect()
}

#[test]
fn disk_root_used_percent_matches_df() {
    let o = PluginOptions {
        resources: vec!["/".into()],
        ..PluginOptions::default()
    };
    let rs = new_collector("disk", &o).unwrap().collect().unwrap();
    let root = rs
        .iter()
        .find(|r| r.tags.contains(&("path".to_string(), "/".to_string())))
        .expect("a reading for /");
    let ours = field(root, "used_percent").unwrap();

    let df = run("df", &["--output=used,avail", "-B1", "/"]);
    let v = numbers(df.lines().nth(1).unwrap());
    let (used, avail) = (v[0], v[1]);
    let theirs = 100.0 * used / (used + avail);
    eprintln!("disk / used_percent: ours {ours:.4}, df {theirs:.4}");
    assert!(
        (ours - theirs).abs() < 0.1,
        "disk_used_percent {ours} vs df {theirs}"
    );
    // df's used and available are the same statvfs products.
    assert!((field(root, "used").unwrap() - used).abs() <= 64.0 * 1024.0 * 1024.0);
}

#[test]
fn mem_used_percent_matches_free() {
    let rs = new_collector("mem", &PluginOptions::default())
        .unwrap()
        .collect()
        .unwrap();
    let ours = field(&rs[0], "used_percent").unwrap();

    let free = run("free", &["-b"]);
    let mem = free.lines().find(|l| l.starts_with("Mem:")).unwrap();
    // total used free shared buff/cache available
    let v = numbers(mem);
    let (total, free_b, buff_cache) = (v[0], v[2], v[4]);
    // gopsutil/telegraf "used": total - free - buff/cache (procps 3.3's used;
    // procps 4 prints total - available in its own "used" column).
    let theirs = 100.0 * (total - free_b - buff_cache) / total;
    eprintln!("mem used_percent: ours {ours:.4}, free {theirs:.4}");
    assert!(
        (ours - theirs).abs() < 0.1,
        "mem_used_percent {ours} vs free {theirs}"
    );
    let avail = 100.0 * v[5] / total;
    let ours_avail = field(&rs[0], "available_percent").unwrap();
    assert!((ours_avail - avail).abs() < 0.1, "{ours_avail} vs {avail}");
}

#[test]
fn cpu_usage_sums_to_100() {
    let o = PluginOptions {
        totalcpu: true,
        percpu: true,
        ..PluginOptions::default()
    };
    let mut c = new_collector("cpu", &o).unwrap();
    assert!(
        c.collect()
            .unwrap()
            .iter()
            .all(|r| field(r, "usage_idle").is_none())
    );
    std::thread::sleep(Duration::from_millis(500));
    let rs = c.collect().unwrap();
    let total = rs
        .iter()
        .find(|r| r.tags[0].1 == "cpu-total")
        .expect("cpu-total");
    let sum: f64 = total
        .fields
        .iter()
        .filter(|(f, _)| f.starts_with("usage_") && *f != "usage_active")
        .map(|(_, v)| v)
        .sum();
    eprintln!(
        "cpu-total usage sum {sum}, idle {:?}",
        field(total, "usage_idle")
    );
    assert!((sum - 100.0).abs() < 1e-6, "usage sum {sum}");
    let active = field(total, "usage_active").unwrap();
    let idle = field(total, "usage_idle").unwrap();
    assert!((active + idle - 100.0).abs() < 1e-6);
    assert!((0.0..=100.0).contains(&idle));
    let cores = rs.iter().filter(|r| r.tags[0].1 != "cpu-total").count();
    assert_eq!(
        cores,
        std::thread::available_parallelism().map_or(cores, |n| n.get())
    );
}

#[test]
fn counters_and_counts_are_sane_live() {
    for plugin in ["diskio", "net"] {
        let mut c = new_collector(plugin, &PluginOptions::default()).unwrap();
        c.collect().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        for r in c.collect().unwrap() {
            assert!(r.fields.iter().all(|(_, v)| *v >= 0.0), "{plugin}: {r:?}");
        }
    }
    let rs = new_collector("processes", &PluginOptions::default())
        .unwrap()
        .collect()
        .unwrap();
    assert!(field(&rs[0], "total").unwrap() >= 1.0);
    assert!(field(&rs[0], "total_threads").unwrap() >= field(&rs[0], "total").unwrap());
    let rs = new_collector("netstat", &PluginOptions::default())
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(rs[0].fields.len(), 13);
    let rs = new_collector("swap", &PluginOptions::default())
        .unwrap()
        .collect()
        .unwrap();
    assert!((0.0..=100.0).contains(&field(&rs[0], "used_percent").unwrap()));
}

#[test]
fn procstat_finds_this_test_process() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("me.pid");
    std::fs::write(&pidfile, format!("{}\n", std::process::id())).unwrap();
    let o = PluginOptions {
        procstat: Some(ProcstatSelector::PidFile(pidfile)),
        ..PluginOptions::default()
    };
    let mut c = new_collector("procstat", &o).unwrap();
    let rs = c.collect().unwrap();
    assert_eq!(field(rs.last().unwrap(), "pid_count"), Some(1.0));
    assert!(field(&rs[0], "memory_rss").unwrap() > 0.0);
    assert!(field(&rs[0], "num_fds").unwrap() >= 3.0);
    // Burn a little CPU so the second sample has something to show.
    let start = std::time::Instant::now();
    let mut x = 0u64;
    while start.elapsed() < Duration::from_millis(200) {
        x = x.wrapping_mul(31).wrapping_add(7);
    }
    assert_ne!(x, 1);
    let rs = c.collect().unwrap();
    let usage = field(&rs[0], "cpu_usage").unwrap();
    assert!(usage > 0.0 && usage < 100.0 * 64.0, "{usage}");
}

#[test]
fn one_round_of_every_plugin_is_cheap() {
    let o = PluginOptions {
        totalcpu: true,
        percpu: true,
        procstat: Some(ProcstatSelector::Exe("cargo|bash".into())),
        ..PluginOptions::default()
    };
    let mut collectors: Vec<_> = stratus_agent::collect::PLUGINS
        .iter()
        .map(|p| new_collector(p, &o).unwrap())
        .collect();
    for c in &mut collectors {
        c.collect().unwrap();
    }
    let start = std::time::Instant::now();
    let mut readings = 0;
    for c in &mut collectors {
        readings += c.collect().unwrap().len();
    }
    let took = start.elapsed();
    eprintln!("one round of all host plugins: {took:?}, {readings} readings");
    assert!(readings > 0);
    assert!(took < Duration::from_secs(2), "{took:?}");
}
