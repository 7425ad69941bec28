//! What one flush costs the shipping thread, step by step, for a host's
//! worth of datums (231, as `scripts/footprint.sh` collects):
//! `cargo run --release -p stratus-agent --example ship_cost`

use std::time::Instant;

use stratus_agent::ship::encode::{BodyWriter, Gzip};
use stratus_agent::ship::journal::record;
use stratus_agent::ship::{Datum, DatumValue};

fn datums() -> Vec<Datum> {
    let base = vec![
        ("InstanceId".to_string(), "i-0123456789abcdef0".to_string()),
        ("host".to_string(), "ip-10-0-1-23.ec2.internal".to_string()),
    ];
    (0..231)
        .map(|i| {
            let mut dimensions = base.clone();
            dimensions.push(("cpu".to_string(), format!("cpu{}", i % 4)));
            dimensions.sort();
            Datum {
                metric_name: format!("metric_{}", i % 40),
                dimensions,
                timestamp_ms: 1_764_640_000_000,
                value: DatumValue::Single(12.3456 + i as f64 * 1.7),
                unit: "Percent",
                high_resolution: true,
            }
        })
        .collect()
}

fn time<T>(label: &str, rounds: u32, mut f: impl FnMut() -> T) {
    let t = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(f());
    }
    println!(
        "{label:<28} {:>8.1} µs per flush",
        t.elapsed().as_secs_f64() * 1e6 / rounds as f64
    );
}

fn main() {
    let d = datums();
    if std::env::args().any(|a| a == "--cold") {
        cold(&d);
        return;
    }
    let rounds = 2000;
    time("journal records", rounds, || {
        let mut out = Vec::new();
        for x in &d {
            record(x, &mut out);
        }
        out
    });
    time("encode (BodyWriter)", rounds, || {
        let mut w = BodyWriter::new("CWAgent");
        for x in &d {
            w.push(x);
        }
        w.finish()
    });
    let mut w = BodyWriter::new("CWAgent");
    for x in &d {
        w.push(x);
    }
    let body = w.finish();
    let mut gz = Gzip::default();
    time("gzip level 1 (reused)", rounds, || {
        gz.compress(body.as_bytes())
    });
    println!(
        "body {} B, gzip'd {} B",
        body.len(),
        gz.compress(body.as_bytes()).len()
    );
}

/// The same steps once after each of a few idle seconds, as a flush runs
/// in a real agent (caches and branch predictors cold).
fn cold(d: &[Datum]) {
    let mut gz = Gzip::default();
    let mut enc = std::time::Duration::ZERO;
    let mut zip = std::time::Duration::ZERO;
    let rounds = 6;
    for _ in 0..rounds {
        std::thread::sleep(std::time::Duration::from_secs(2));
        let t = Instant::now();
        let mut w = BodyWriter::new("CWAgent");
        for x in d {
            w.push(x);
        }
        let body = w.finish();
        enc += t.elapsed();
        let t = Instant::now();
        std::hint::black_box(gz.compress(body.as_bytes()));
        zip += t.elapsed();
    }
    println!(
        "cold: encode {:.1} µs, gzip {:.1} µs per flush",
        enc.as_secs_f64() * 1e6 / rounds as f64,
        zip.as_secs_f64() * 1e6 / rounds as f64
    );
}
