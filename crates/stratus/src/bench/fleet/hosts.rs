//! The simulated hosts of `stratus bench fleet`: what one EC2 instance running
//! the CloudWatch agent with the wizard's "standard"-like config publishes per
//! interval — names and units from the agent's own plugin table, the stock
//! dimensions (`host`, the wizard's `append_dimensions` InstanceId, ImageId,
//! InstanceType, and each plugin's tags), and values computed the way the
//! collectors compute them (cpu percentages from integer tick deltas, memory
//! and disk in pages and blocks, counter deltas), so they compress like real
//! data rather than like round numbers.
//!
//! Values are a pure function of (host, round): no state to share between
//! the sender threads that serve one host's consecutive sends.

use stratus_agent::collect::{default_unit, metric_name};
use stratus_agent::ship::{Datum, DatumValue};

/// Datums one host publishes per interval.
pub const DATUMS_PER_HOST: usize = 50;

const CORES: usize = 2;
const CPU_FIELDS: [&str; 4] = ["usage_idle", "usage_iowait", "usage_user", "usage_system"];
/// (path, device, fstype, size in bytes, inodes).
const MOUNTS: [(&str, &str, &str, u64, u64); 2] = [
    ("/", "nvme0n1p1", "xfs", 20 << 30, 10_485_760),
    ("/data", "nvme1n1", "ext4", 100 << 30, 6_553_600),
];
const DISKS: [&str; 2] = ["nvme0n1", "nvme1n1"];
const DISKIO_FIELDS: [&str; 7] = [
    "reads",
    "writes",
    "read_bytes",
    "write_bytes",
    "read_time",
    "write_time",
    "io_time",
];
const NET_FIELDS: [&str; 4] = ["bytes_sent", "bytes_recv", "packets_sent", "packets_recv"];
const PROCESS_FIELDS: [&str; 6] = [
    "running",
    "sleeping",
    "blocked",
    "zombies",
    "total",
    "total_threads",
];
/// (type, memory in bytes as `/proc/meminfo` MemTotal reports it).
const INSTANCE_TYPES: [(&str, u64); 3] = [
    ("m5.large", 8_124_297_216),
    ("c5.large", 3_900_473_344),
    ("r5.large", 16_409_120_768),
];
const IMAGES: [&str; 2] = ["ami-0c02fb55956c7d316", "ami-0a3c3a20c09d6f377"];
const PAGE: u64 = 4096;

/// One simulated instance.
#[derive(Debug, Clone)]
pub struct FleetHost {
    seed: u64,
    host: String,
    instance_id: String,
    image_id: &'static str,
    instance_type: &'static str,
    mem_total: u64,
}

/// splitmix64: a well-mixed 64-bit hash of `x`.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl FleetHost {
    /// Host number `index` of the fleet (names are unique for any index).
    pub fn new(index: usize) -> FleetHost {
        let seed = mix(index as u64 ^ 0x5EED_F1EE_7000_0000);
        let subnet = index / 254;
        let host = format!(
            "ip-10-{}-{}-{}.ec2.internal",
            (subnet / 256) % 256,
            subnet % 256,
            index % 254 + 1
        );
        // Real ids are "i-0" + 16 hex digits; the index in the low bits keeps them unique.
        let instance_id = format!(
            "i-0{:016x}",
            (mix(seed) & !0xFFFF_FFFF) | (index as u64 & 0xFFFF_FFFF)
        );
        let (instance_type, mem_total) = INSTANCE_TYPES[index % INSTANCE_TYPES.len()];
        FleetHost {
            seed,
            host,
            instance_id,
            image_id: IMAGES[(seed >> 8) as usize % IMAGES.len()],
            instance_type,
            mem_total,
        }
    }

    #[cfg(test)]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// A uniform value in [0, 1) for (round, k): the noise of one reading.
    fn noise(&self, round: u64, k: u64) -> f64 {
        let r = mix(self.seed ^ mix(round.wrapping_mul(0x1_0000_0001) ^ k));
        (r >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A fixed per-host level in [lo, hi) (how busy, how full this host is).
    fn level(&self, k: u64, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.noise(u64::MAX, k)
    }

    /// The datums of one collection: round `round` (0, 1, ...) of an
    /// `interval_s`-second interval, stamped `timestamp_ms`.
    pub fn datums(&self, round: u64, interval_s: u64, timestamp_ms: i64) -> Vec<Datum> {
        let mut out = Vec::with_capacity(DATUMS_PER_HOST);
        let base = [
            ("host", self.host.as_str()),
            ("ImageId", self.image_id),
            ("InstanceId", self.instance_id.as_str()),
            ("InstanceType", self.instance_type),
        ];
        let mut push = |plugin: &str, field: &str, tags: &[(&str, &str)], value: f64| {
            let mut dimensions: Vec<(String, String)> = base
                .iter()
                .chain(tags)
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect();
            dimensions.sort();
            out.push(Datum {
                metric_name: metric_name(plugin, field),
                dimensions,
                timestamp_ms,
                value: DatumValue::Single(value),
                unit: default_unit(plugin, field).unwrap_or("None"),
                high_resolution: interval_s < 60,
            });
        };
        let interval = interval_s.max(1) as f64;

        // cpu: integer tick deltas per core (USER_HZ 100), percentages of their sum.
        let load = self.level(1, 0.02, 0.45);
        let mut total = [0u64; 4];
        let mut per_core = Vec::with_capacity(CORES);
        for core in 0..CORES as u64 {
            let ticks = (interval * 100.0) as u64;
            let busy = load * (0.6 + 0.8 * self.noise(round, 10 + core));
            let user = (ticks as f64 * busy * 0.7).round() as u64;
            let system = (ticks as f64 * busy * 0.25).round() as u64;
            let iowait = (ticks as f64 * 0.02 * self.noise(round, 20 + core)).round() as u64;
            let idle = ticks.saturating_sub(user + system + iowait);
            let t = [idle, iowait, user, system];
            for (sum, v) in total.iter_mut().zip(t) {
                *sum += v;
            }
            per_core.push((format!("cpu{core}"), t));
        }
        let mut cpu = vec![("cpu-total".to_owned(), total)];
        cpu.extend(per_core);
        for (name, t) in &cpu {
            let sum: u64 = t.iter().sum();
            for (field, v) in CPU_FIELDS.iter().zip(t) {
                let pct = 100.0 * *v as f64 / sum.max(1) as f64;
                push("cpu", field, &[("cpu", name)], pct);
            }
        }

        // mem: pages in use drift around a per-host level.
        let used_frac = self.level(2, 0.2, 0.7) + 0.05 * self.noise(round, 30);
        let used = (self.mem_total as f64 * used_frac) as u64 / PAGE * PAGE;
        let cached = (self.mem_total as f64 * 0.2 * self.noise(round, 31)) as u64 / PAGE * PAGE;
        let available = self.mem_total - used;
        push(
            "mem",
            "used_percent",
            &[],
            100.0 * used as f64 / self.mem_total as f64,
        );
        push(
            "mem",
            "available_percent",
            &[],
            100.0 * available as f64 / self.mem_total as f64,
        );
        push("mem", "used", &[], used as f64);
        push("mem", "cached", &[], cached as f64);
        push("swap", "used_percent", &[], 0.0);

        // disk: usage grows slowly, in 4 KiB blocks and whole inodes.
        for (i, (path, device, fstype, size, inodes)) in MOUNTS.iter().enumerate() {
            let i = i as u64;
            let growth = round * (1 + (mix(self.seed ^ i) % 64)) * PAGE * 256;
            let used = ((*size as f64 * self.level(40 + i, 0.1, 0.8)) as u64 + growth).min(*size)
                / PAGE
                * PAGE;
            let free = size - used;
            let inodes_used =
                (*inodes as f64 * self.level(50 + i, 0.01, 0.3)) as u64 + round * (i + 1) * 3;
            let tags = [("device", *device), ("fstype", *fstype), ("path", *path)];
            push(
                "disk",
                "used_percent",
                &tags,
                100.0 * used as f64 / *size as f64,
            );
            push(
                "disk",
                "inodes_free",
                &tags,
                inodes.saturating_sub(inodes_used) as f64,
            );
            push("disk", "free", &tags, free as f64);
        }

        // diskio: counter deltas over the interval.
        for (i, name) in DISKS.iter().enumerate() {
            let k = 60 + 10 * i as u64;
            let rate = self.level(k, 1.0, 80.0);
            let reads = (rate * interval * self.noise(round, k + 1) * 0.3).round();
            let writes = (rate * interval * self.noise(round, k + 2)).round();
            let read_bytes = reads * 4096.0 * (1.0 + (self.noise(round, k + 3) * 15.0).floor());
            let write_bytes = writes * 4096.0 * (1.0 + (self.noise(round, k + 4) * 7.0).floor());
            let read_time = (reads * (0.2 + self.noise(round, k + 5))).round();
            let write_time = (writes * (0.5 + self.noise(round, k + 6) * 2.0)).round();
            let io_time = (read_time + write_time).min(interval * 1000.0);
            let values = [
                reads,
                writes,
                read_bytes,
                write_bytes,
                read_time,
                write_time,
                io_time,
            ];
            for (field, v) in DISKIO_FIELDS.iter().zip(values) {
                push("diskio", field, &[("name", name)], v);
            }
        }

        // net: counter deltas on eth0.
        let pps = self.level(80, 5.0, 2000.0);
        let sent = (pps * interval * (0.5 + self.noise(round, 81))).round();
        let recv = (pps * interval * (0.5 + self.noise(round, 82))).round();
        let values = [
            (sent * (60.0 + 1400.0 * self.noise(round, 83))).round(),
            (recv * (60.0 + 1400.0 * self.noise(round, 84))).round(),
            sent,
            recv,
        ];
        for (field, v) in NET_FIELDS.iter().zip(values) {
            push("net", field, &[("interface", "eth0")], v);
        }

        // netstat and processes: small gauges.
        let conns = self.level(90, 5.0, 300.0);
        push(
            "netstat",
            "tcp_established",
            &[],
            (conns * (0.8 + 0.4 * self.noise(round, 91))).round(),
        );
        push(
            "netstat",
            "tcp_time_wait",
            &[],
            (conns * 0.3 * self.noise(round, 92)).round(),
        );
        push(
            "netstat",
            "udp_socket",
            &[],
            (3.0 + 5.0 * self.noise(round, 93)).floor(),
        );
        let running = 1.0 + (3.0 * self.noise(round, 100)).floor();
        let sleeping = (self.level(101, 90.0, 250.0) + 10.0 * self.noise(round, 102)).round();
        let blocked = (1.2 * self.noise(round, 103)).floor();
        let zombies = 0.0;
        let total = running + sleeping + blocked + zombies;
        let threads = (total * (1.8 + 0.4 * self.level(104, 0.0, 1.0))).round();
        let values = [running, sleeping, blocked, zombies, total, threads];
        for (field, v) in PROCESS_FIELDS.iter().zip(values) {
            push("processes", field, &[], v);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn value(d: &Datum) -> f64 {
        match d.value {
            DatumValue::Single(v) => v,
            DatumValue::Distribution { .. } => panic!("a distribution"),
        }
    }

    fn dim<'a>(d: &'a Datum, name: &str) -> Option<&'a str> {
        d.dimensions
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_host_publishes_the_standard_metric_set() {
        let h = FleetHost::new(7);
        let ds = h.datums(3, 60, 1_767_323_045_000);
        assert_eq!(ds.len(), DATUMS_PER_HOST);
        let mut per_metric: BTreeMap<&str, usize> = BTreeMap::new();
        for d in &ds {
            *per_metric.entry(d.metric_name.as_str()).or_default() += 1;
            // Every name is one the agent's plugin table knows, with its unit.
            let (plugin, field) = d.metric_name.split_once('_').unwrap();
            assert_eq!(
                default_unit(plugin, field),
                Some(d.unit),
                "{}",
                d.metric_name
            );
            assert_eq!(dim(d, "host"), Some(h.host()));
            assert!(dim(d, "InstanceId").unwrap().starts_with("i-0"));
            assert_eq!(dim(d, "InstanceId").unwrap().len(), 19);
            assert!(dim(d, "ImageId").unwrap().starts_with("ami-"));
            assert_eq!(
                dim(d, "InstanceType"),
                Some("c5.large"),
                "host 7 of m5, c5, r5 in turn"
            );
            let names: Vec<&str> = d.dimensions.iter().map(|(n, _)| n.as_str()).collect();
            let mut sorted = names.clone();
            sorted.sort();
            assert_eq!(
                names, sorted,
                "dimensions sorted by name, as the agent sends them"
            );
            assert!(value(d).is_finite() && value(d) >= 0.0, "{d:?}");
            assert_eq!(d.timestamp_ms, 1_767_323_045_000);
            assert!(!d.high_resolution);
        }
        assert_eq!(per_metric["cpu_usage_idle"], 3);
        assert_eq!(per_metric["cpu_usage_user"], 3);
        assert_eq!(per_metric["disk_used_percent"], 2);
        assert_eq!(per_metric["diskio_io_time"], 2);
        assert_eq!(per_metric["net_bytes_sent"], 1);
        assert_eq!(per_metric["netstat_tcp_established"], 1);
        assert_eq!(per_metric["mem_used_percent"], 1);
        assert_eq!(per_metric["swap_used_percent"], 1);
        assert_eq!(per_metric["processes_total"], 1);
        // Each datum is its own series within the host.
        let series: BTreeSet<_> = ds.iter().map(|d| (&d.metric_name, &d.dimensions)).collect();
        assert_eq!(series.len(), DATUMS_PER_HOST);
        let cpus: BTreeSet<_> = ds.iter().filter_map(|d| dim(d, "cpu")).collect();
        assert_eq!(cpus, BTreeSet::from(["cpu-total", "cpu0", "cpu1"]));
        let paths: BTreeSet<_> = ds.iter().filter_map(|d| dim(d, "path")).collect();
        assert_eq!(paths, BTreeSet::from(["/", "/data"]));
    }

    #[test]
    fn cpu_percentages_add_up_and_values_vary() {
        let h = FleetHost::new(1);
        let a = h.datums(0, 60, 0);
        let b = h.datums(1, 60, 60_000);
        let total: f64 = a
            .iter()
            .filter(|d| d.metric_name.starts_with("cpu_") && dim(d, "cpu") == Some("cpu-total"))
            .map(value)
            .sum();
        assert!((total - 100.0).abs() < 1e-9, "{total}");
        let changed = a
            .iter()
            .zip(&b)
            .filter(|(x, y)| value(x) != value(y))
            .count();
        assert!(changed > 30, "only {changed} values changed between rounds");
        assert_eq!(a, h.datums(0, 60, 0), "deterministic");
        assert!(FleetHost::new(0).datums(0, 10, 0)[0].high_resolution);
    }

    #[test]
    fn hosts_are_distinct() {
        let names: BTreeSet<String> = (0..20_000).map(|i| FleetHost::new(i).host).collect();
        assert_eq!(names.len(), 20_000);
        let ids: BTreeSet<String> = (0..20_000).map(|i| FleetHost::new(i).instance_id).collect();
        assert_eq!(ids.len(), 20_000);
    }
}
