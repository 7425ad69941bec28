//! `stratus bench codec`: bytes per datapoint and speed of the float codecs
//! on recorded agent data (`scripts/export-agent-recording`'s CSV) and on
//! the fleet generator's full-precision values (issue 17). Pure in-process:
//! no server. `scripts/bench-codec` runs it beside VictoriaMetrics.

use anyhow::{Context as _, bail};
use clap::Args;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;
use stratus_agent::ship::DatumValue;
use stratus_tsdb::codec::bytes::ByteReader;
use stratus_tsdb::codec::floats::{decode_floats, encode_floats, encode_floats_block_v4};
use stratus_tsdb::codec::gorilla::{decode_gorilla, encode_gorilla};
use stratus_tsdb::codec::timestamps::encode_timestamps;
use stratus_tsdb::codec::{chimp, ratio, shortest_decimal};
use stratus_tsdb::{Db, Options, Sample, SampleValue, SeriesKey, WriteBatch};

use super::dir_bytes;
use super::fleet::hosts::FleetHost;

#[derive(Args, Clone, Debug)]
pub struct CodecArgs {
    /// Data set files (gzip'd `series_key,unix_ms,value` lines).
    #[arg(
        long,
        default_value = "crates/tsdb/benches/data/agent-recording.csv.gz"
    )]
    data: Vec<PathBuf>,
    /// Fleet generator hosts (50 full-precision series each); 0 skips it.
    #[arg(long, default_value_t = 20)]
    generator_hosts: usize,
    /// Generator rounds at 10 s (720 = two hours, one seal's chunk).
    #[arg(long, default_value_t = 720)]
    generator_rounds: u64,
    /// Also write the generator's data set here (same format), for peers.
    #[arg(long)]
    write_generator: Option<PathBuf>,
    /// Samples per series per chunk (720 = a 2 h seal at 10 s).
    #[arg(long, default_value_t = 720)]
    chunk: usize,
}

type Series = BTreeMap<String, Vec<(i64, f64)>>;

type DecodeFn = fn(&[u8], usize, &mut Vec<f64>) -> Result<(), stratus_tsdb::DecodeError>;

struct Codec {
    name: &'static str,
    encode: fn(&[f64], &mut Vec<u8>),
    decode: DecodeFn,
}

const CODECS: [Codec; 6] = [
    Codec {
        name: "block v4 (const/decimal≤4/gorilla)",
        encode: |v, out| {
            encode_floats_block_v4(v, out);
        },
        decode: |b, n, out| decode_floats(&mut ByteReader::new(b), n, out),
    },
    Codec {
        name: "gorilla only",
        encode: encode_gorilla,
        decode: decode_gorilla,
    },
    Codec {
        name: "(a) shortest decimal",
        encode: shortest_decimal::encode,
        decode: |b, n, out| shortest_decimal::decode(&mut ByteReader::new(b), n, out),
    },
    Codec {
        name: "(b) chimp128",
        encode: chimp::encode,
        decode: |b, n, out| chimp::decode(&mut ByteReader::new(b), n, out),
    },
    Codec {
        name: "(c) ratio 100·p/q",
        encode: ratio::encode,
        decode: |b, n, out| ratio::decode(&mut ByteReader::new(b), n, out),
    },
    Codec {
        name: "block v5 (smallest of v4/(a)/(b)/(c))",
        encode: |v, out| {
            encode_floats(v, out);
        },
        decode: |b, n, out| decode_floats(&mut ByteReader::new(b), n, out),
    },
];

pub fn run(args: &CodecArgs) -> anyhow::Result<()> {
    for path in &args.data {
        let series = read_data_set(path)?;
        report(&path.display().to_string(), &series, args.chunk)?;
    }
    if args.generator_hosts > 0 {
        let series = generate(args.generator_hosts, args.generator_rounds);
        if let Some(path) = &args.write_generator {
            write_data_set(path, &series)?;
        }
        let name = format!(
            "fleet generator ({} hosts × {} rounds at 10 s)",
            args.generator_hosts, args.generator_rounds
        );
        report(&name, &series, args.chunk)?;
    }
    Ok(())
}

fn read_data_set(path: &Path) -> anyhow::Result<Series> {
    let file = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
    let mut series = Series::new();
    for (n, line) in BufReader::new(GzDecoder::new(file)).lines().enumerate() {
        let line = line?;
        let mut fields = line.rsplitn(3, ',');
        let (Some(value), Some(ms), Some(key)) = (fields.next(), fields.next(), fields.next())
        else {
            bail!("{}:{}: not series,ms,value", path.display(), n + 1);
        };
        series
            .entry(key.to_owned())
            .or_default()
            .push((ms.parse()?, value.parse()?));
    }
    for samples in series.values_mut() {
        samples.sort_by_key(|s| s.0);
    }
    Ok(series)
}

fn write_data_set(path: &Path, series: &Series) -> anyhow::Result<()> {
    let mut gz = GzEncoder::new(std::fs::File::create(path)?, Compression::fast());
    for (key, samples) in series {
        for (ms, v) in samples {
            // `{:?}` prints the shortest text that parses back to the same f64.
            writeln!(gz, "{key},{ms},{v:?}")?;
        }
    }
    gz.finish()?;
    Ok(())
}

fn generate(hosts: usize, rounds: u64) -> Series {
    let now = stratus_model::Timestamp::now().millis() / 10_000 * 10_000;
    let start = now - rounds as i64 * 10_000;
    let hosts: Vec<FleetHost> = (0..hosts).map(FleetHost::new).collect();
    let mut series = Series::new();
    for round in 0..rounds {
        let ts = start + round as i64 * 10_000;
        for host in &hosts {
            for d in host.datums(round, 10, ts) {
                if let DatumValue::Single(v) = d.value {
                    let mut key = d.metric_name.clone();
                    for (n, v) in &d.dimensions {
                        key.push_str(&format!(";{n}={v}"));
                    }
                    series.entry(key).or_default().push((ts, v));
                }
            }
        }
    }
    series
}

fn report(name: &str, series: &Series, chunk: usize) -> anyhow::Result<()> {
    let samples: usize = series.values().map(Vec::len).sum();
    println!("\n== {name}: {} series, {samples} samples", series.len());
    if samples == 0 {
        return Ok(());
    }
    let chunks: Vec<(Vec<i64>, Vec<f64>)> = series
        .values()
        .flat_map(|s| s.chunks(chunk.max(1)))
        .map(|c| {
            (
                c.iter().map(|s| s.0).collect(),
                c.iter().map(|s| s.1).collect(),
            )
        })
        .collect();
    let mut ts_bytes = 0usize;
    for (ts, _) in &chunks {
        let mut buf = Vec::new();
        encode_timestamps(ts, &mut buf);
        ts_bytes += buf.len();
    }
    let dp = samples as f64;
    println!(
        "  timestamps column (same for every codec): {:.3} B/dp",
        ts_bytes as f64 / dp
    );
    println!(
        "  {:<42} {:>10} {:>14} {:>12} {:>12}",
        "value codec", "values B/dp", "+timestamps", "encode MB/s", "decode MB/s"
    );
    let raw_mb = dp * 8.0 / 1e6;
    for codec in &CODECS {
        let t = Instant::now();
        let encoded: Vec<Vec<u8>> = chunks
            .iter()
            .map(|(_, v)| {
                let mut buf = Vec::new();
                (codec.encode)(v, &mut buf);
                buf
            })
            .collect();
        let enc_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut out = Vec::new();
        for ((_, v), buf) in chunks.iter().zip(&encoded) {
            out.clear();
            (codec.decode)(buf, v.len(), &mut out)
                .map_err(|e| anyhow::anyhow!("{}: {e}", codec.name))?;
            if out.len() != v.len() || out.iter().zip(v).any(|(a, b)| a.to_bits() != b.to_bits()) {
                bail!("{}: decoded values differ (not lossless)", codec.name);
            }
        }
        let dec_s = t.elapsed().as_secs_f64();
        let bytes: usize = encoded.iter().map(Vec::len).sum();
        println!(
            "  {:<42} {:>10.3} {:>14.3} {:>12.0} {:>12.0}",
            codec.name,
            bytes as f64 / dp,
            (bytes + ts_bytes) as f64 / dp,
            raw_mb / enc_s,
            raw_mb / dec_s
        );
    }
    breakdown(series, chunk);
    sealed(series)?;
    Ok(())
}

/// Per metric family (name up to its first `_`): block v4's value column vs
/// block v5's, and which codec v5 chose for how many chunks.
fn breakdown(series: &Series, chunk: usize) {
    use stratus_tsdb::codec::floats::{
        CODEC_CHIMP, CODEC_DECIMAL, CODEC_GORILLA, CODEC_RATIO, CODEC_SHORTEST_DECIMAL,
    };
    let mut families: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    let mut chosen: BTreeMap<u8, usize> = BTreeMap::new();
    for (key, samples) in series {
        let family = key.split(['_', ';']).next().unwrap_or(key);
        let e = families.entry(family).or_default();
        for c in samples.chunks(chunk.max(1)) {
            let v: Vec<f64> = c.iter().map(|s| s.1).collect();
            let (mut v4, mut v5) = (Vec::new(), Vec::new());
            encode_floats_block_v4(&v, &mut v4);
            *chosen.entry(encode_floats(&v, &mut v5)).or_default() += 1;
            e.0 += v.len();
            e.1 += v4.len();
            e.2 += v5.len();
        }
    }
    let name = |codec: u8| match codec {
        CODEC_DECIMAL => "decimal≤4",
        CODEC_GORILLA => "gorilla",
        CODEC_SHORTEST_DECIMAL => "(a) shortest decimal",
        CODEC_CHIMP => "(b) chimp",
        CODEC_RATIO => "(c) ratio",
        _ => "const/empty",
    };
    let chosen: Vec<String> = chosen
        .iter()
        .map(|(c, n)| format!("{} {n}", name(*c)))
        .collect();
    println!("  block v5 chunks by codec: {}", chosen.join(" / "));
    let line: Vec<String> = families
        .iter()
        .map(|(f, (n, v4, v5))| {
            format!(
                "{f} {:.2}→{:.2}",
                *v4 as f64 / *n as f64,
                *v5 as f64 / *n as f64
            )
        })
        .collect();
    println!("  values B/dp by family (v4→v5): {}", line.join(", "));
}

/// The whole data set through tsdb's real seal (block files only: columns,
/// keys, checksums; no WAL, catalog or rollups).
fn sealed(series: &Series) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("stratus-bench-codec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = Db::open(
        &dir,
        Options {
            fsync: false,
            compact_on_seal: false,
            seal_on_write: false,
            ..Options::default()
        },
    )?;
    let mut samples = 0usize;
    for (key, points) in series {
        let mut parts = key.split(';');
        let name = parts.next().unwrap_or_default();
        let dims = parts.filter_map(|p| p.split_once('=').map(|(n, v)| (n.into(), v.into())));
        let key = SeriesKey::new("CWAgent", name, dims);
        let mut batch = WriteBatch::new();
        for &(ms, v) in points {
            batch.entries.push((
                key.clone(),
                Sample {
                    timestamp_ms: ms,
                    unit: 0,
                    high_resolution: true,
                    value: SampleValue::Single(v),
                },
            ));
        }
        samples += points.len();
        db.write(&batch)?;
    }
    let t = Instant::now();
    db.seal()?;
    let seal_s = t.elapsed().as_secs_f64();
    let bytes = dir_bytes(&dir.join("blocks"));
    db.close()?;
    std::fs::remove_dir_all(&dir)?;
    println!(
        "  tsdb seal (block v5), block files: {:.3} B/dp ({bytes} bytes, {samples} samples, sealed in {seal_s:.2} s)",
        bytes as f64 / samples.max(1) as f64
    );
    Ok(())
}
