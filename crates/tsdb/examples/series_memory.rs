//! Heap bytes per series in the engine (issue 17: ≤ 400 B per active
//! series at 100,000 hosts): `cargo run --release -p stratus-tsdb --example
//! series_memory [-- HOSTS]`.
//!
//! A counting allocator (live bytes requested, so no allocator overhead)
//! measures the `Db` after each step of a fleet's life: HOSTS × 50 series
//! shaped like the CloudWatch agent's (CWAgent namespace, `host` plus up to
//! two more dimensions), one sample each minute; then a seal empties the
//! head, which leaves what the series index, catalog and block metadata
//! cost on their own. The server's RSS per series beside it (from `stratus
//! bench fleet`) shows what lies outside the engine and in allocator slack.

// The one unsafe item: a benchmark-only global allocator that forwards to
// `System` and counts bytes (GlobalAlloc is an unsafe trait). Not shipped.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use stratus_tsdb::{Db, Options, Retention, Sample, SampleValue, SeriesKey, WriteBatch};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

const SERIES_PER_HOST: usize = 50;

/// The agent's 50 default series of one host: (metric, extra dimensions).
fn host_series(host: usize) -> Vec<SeriesKey> {
    let hostname = format!(
        "ip-10-{}-{}-{}.ec2.internal",
        host >> 16,
        (host >> 8) & 255,
        host & 255
    );
    let mut keys = Vec::with_capacity(SERIES_PER_HOST);
    let mut push = |name: &str, extra: &[(&str, &str)]| {
        let mut dims = vec![("host".to_string(), hostname.clone())];
        dims.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        keys.push(SeriesKey::new("CWAgent", name, dims));
    };
    for f in [
        "idle", "iowait", "user", "system", "nice", "steal", "irq", "softirq",
    ] {
        push(&format!("cpu_usage_{f}"), &[("cpu", "cpu-total")]);
    }
    for f in [
        "used_percent",
        "available",
        "used",
        "total",
        "cached",
        "buffered",
        "free",
        "active",
        "inactive",
    ] {
        push(&format!("mem_{f}"), &[]);
    }
    for (path, device) in [("/", "nvme0n1p1"), ("/data", "nvme1n1")] {
        for f in ["used_percent", "free", "used", "inodes_free", "inodes_used"] {
            push(&format!("disk_{f}"), &[("path", path), ("device", device)]);
        }
    }
    for device in ["nvme0n1", "nvme1n1"] {
        for f in ["reads", "writes", "read_bytes", "write_bytes", "io_time"] {
            push(&format!("diskio_{f}"), &[("name", device)]);
        }
    }
    for f in [
        "bytes_sent",
        "bytes_recv",
        "packets_sent",
        "packets_recv",
        "err_in",
        "err_out",
    ] {
        push(&format!("net_{f}"), &[("interface", "eth0")]);
    }
    for f in ["tcp_established", "tcp_time_wait", "tcp_listen"] {
        push(&format!("netstat_{f}"), &[]);
    }
    for f in ["running", "sleeping", "total"] {
        push(&format!("processes_{f}"), &[]);
    }
    push("swap_used_percent", &[]);
    assert_eq!(keys.len(), SERIES_PER_HOST);
    keys
}

fn main() {
    let hosts: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let opts = Options {
        fsync: false,
        seal_on_write: false,
        compact_on_seal: false,
        max_head_samples: usize::MAX,
        retention: Retention::forever(),
        ..Options::default()
    };
    println!(
        "series_memory: {hosts} hosts × 50 agent-shaped series; size_of Sample {} B, SampleValue {} B, SeriesKey {} B",
        size_of::<Sample>(),
        size_of::<SampleValue>(),
        size_of::<SeriesKey>()
    );
    let keys: Vec<Vec<SeriesKey>> = (0..hosts).map(host_series).collect();
    let series = (hosts * SERIES_PER_HOST) as f64;
    let key_bytes: usize = keys
        .iter()
        .flatten()
        .map(|k| {
            k.namespace.len()
                + k.name.len()
                + k.dimensions
                    .iter()
                    .map(|(n, v)| n.len() + v.len())
                    .sum::<usize>()
        })
        .sum();
    println!(
        "  key text: {:.0} B per series (namespace, name, dimension names and values)",
        key_bytes as f64 / series
    );
    let db = Db::open(dir.path(), opts).expect("open");
    let base = live();
    let t0 = 1_700_000_000_000i64;
    for minute in 0..3i64 {
        let t = Instant::now();
        for host in &keys {
            let mut batch = WriteBatch::with_capacity(SERIES_PER_HOST);
            for (i, key) in host.iter().enumerate() {
                batch.push(
                    key.clone(),
                    Sample::single(t0 + minute * 60_000, 0, 100.0 * i as f64 / 2003.0),
                );
            }
            db.write(&batch).expect("write");
        }
        println!(
            "  after minute {} ({} samples per series in the head): {:.0} B per series live heap in the engine ({:.2} s)",
            minute + 1,
            minute + 1,
            (live() - base) as f64 / series,
            t.elapsed().as_secs_f64()
        );
    }
    db.seal().expect("seal");
    println!(
        "  after a seal (head empty): {:.0} B per series (series index, catalog, block metadata)",
        (live() - base) as f64 / series
    );
    db.close().expect("close");
}
