//! End-to-end behaviour of `Db` on real files: round trips across head and
//! blocks, aggregation against a naive model, series listing and paging.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use stratus_tsdb::{
    Db, Options, RangeQuery, Retention, Sample, SampleValue, SeriesFilter, SeriesKey, WriteBatch,
};

/// These tests write timestamps near the epoch: keep every sample as
/// written and list every series, whatever its age (retention and
/// inactivity have their own tests).
fn kept_forever() -> Options {
    Options {
        retention: Retention::forever(),
        hide_inactive_after: None,
        ..Options::default()
    }
}

fn key(ns: &str, name: &str, dims: &[(&str, &str)]) -> SeriesKey {
    SeriesKey::new(
        ns,
        name,
        dims.iter().map(|(n, v)| (n.to_string(), v.to_string())),
    )
}

fn fast_opts() -> Options {
    Options {
        fsync: false,
        ..kept_forever()
    }
}

/// The independent model: bucket, group by unit, compute statistics.
#[derive(Debug, PartialEq)]
struct Naive {
    count: f64,
    sum: f64,
    min: f64,
    max: f64,
    /// `None` when a StatSet with min != max hides values.
    values: Option<Vec<(f64, f64)>>,
}

fn naive(
    samples: &[Sample],
    start: i64,
    end: i64,
    period: i64,
    unit: Option<u8>,
) -> BTreeMap<(i64, u8), Naive> {
    let mut out: BTreeMap<(i64, u8), Naive> = BTreeMap::new();
    for s in samples {
        if s.timestamp_ms < start || s.timestamp_ms >= end || unit.is_some_and(|u| u != s.unit) {
            continue;
        }
        let bucket = start + (s.timestamp_ms - start).div_euclid(period) * period;
        let e = out.entry((bucket, s.unit)).or_insert(Naive {
            count: 0.0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            values: Some(Vec::new()),
        });
        let pairs: Vec<(f64, f64)> = match &s.value {
            SampleValue::Single(v) => vec![(*v, 1.0)],
            SampleValue::Distribution(p) => p.clone(),
            SampleValue::StatSet {
                count,
                sum,
                min,
                max,
            } => {
                e.count += count;
                e.sum += sum;
                e.min = e.min.min(*min);
                e.max = e.max.max(*max);
                if min == max {
                    if let Some(v) = &mut e.values {
                        v.push((*min, *count));
                    }
                } else {
                    e.values = None;
                }
                continue;
            }
        };
        for (v, c) in pairs {
            e.count += c;
            e.sum += v * c;
            e.min = e.min.min(v);
            e.max = e.max.max(v);
            if let Some(vals) = &mut e.values {
                vals.push((v, c));
            }
        }
    }
    out
}

/// Nearest rank computed the slow, obvious way: expand weights into copies.
fn naive_percentile(values: &[(f64, f64)], p: f64) -> Option<f64> {
    let mut expanded: Vec<f64> = Vec::new();
    for &(v, c) in values {
        for _ in 0..(c as usize) {
            expanded.push(v);
        }
    }
    expanded.sort_by(f64::total_cmp);
    if expanded.is_empty() {
        return None;
    }
    if p == 0.0 {
        return Some(expanded[0]);
    }
    let rank = (p / 100.0 * expanded.len() as f64).ceil().max(1.0) as usize;
    Some(expanded[rank - 1])
}

fn check_query(
    db: &Db,
    series: &SeriesKey,
    all: &[Sample],
    start: i64,
    end: i64,
    period: i64,
    unit: Option<u8>,
) {
    let got = db
        .query(&RangeQuery {
            series,
            start_ms: start,
            end_ms: end,
            period_ms: period,
            unit,
        })
        .unwrap();
    let want = naive(all, start, end, period, unit);
    let got_keys: Vec<(i64, u8)> = got.iter().map(|a| (a.start_ms, a.unit)).collect();
    let want_keys: Vec<(i64, u8)> = want.keys().copied().collect();
    assert_eq!(got_keys, want_keys);
    for a in &got {
        let w = &want[&(a.start_ms, a.unit)];
        // Test values are multiples of 1/4 with small counts: sums are exact.
        assert_eq!(
            (a.count, a.sum, a.min, a.max),
            (w.count, w.sum, w.min, w.max)
        );
        for p in [0.0, 1.0, 25.0, 50.0, 90.0, 99.0, 100.0] {
            let expected = w.values.as_ref().and_then(|v| naive_percentile(v, p));
            assert_eq!(a.percentile(p), expected, "p{p} of bucket {}", a.start_ms);
        }
    }
}

fn sample_strategy() -> impl Strategy<Value = Sample> {
    let value = prop_oneof![
        4 => (-400i32..400).prop_map(|i| SampleValue::Single(f64::from(i) / 4.0)),
        1 => proptest::collection::vec(((-100i32..100), 1u8..4), 1..5).prop_map(|p| SampleValue::Distribution(
            p.into_iter().map(|(v, c)| (f64::from(v) / 2.0, f64::from(c))).collect())),
        1 => (1u8..5, -50i32..50, 0i32..20).prop_map(|(c, lo, spread)| {
            let (min, max) = (f64::from(lo), f64::from(lo + spread));
            SampleValue::StatSet { count: f64::from(c), sum: (min + max) * f64::from(c) / 2.0, min, max }
        }),
    ];
    // A narrow time window so duplicates and shared buckets are common.
    (0i64..200, 0u8..3, any::<bool>(), value).prop_map(|(t, unit, hr, value)| Sample {
        timestamp_ms: 1_000_000 + t * 250,
        unit,
        high_resolution: hr,
        value,
    })
}

#[derive(Debug, Clone)]
enum Op {
    Write(Vec<(usize, Sample)>),
    Seal,
    Reopen,
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => proptest::collection::vec((0usize..3, sample_strategy()), 1..40).prop_map(Op::Write),
        1 => Just(Op::Seal),
        1 => Just(Op::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn aggregates_match_a_naive_model(
        ops in proptest::collection::vec(op_strategy(), 1..12),
        start_off in 0i64..20_000,
        period in prop_oneof![Just(1i64), 250i64..5_000, Just(60_000)],
        len in 1i64..60_000,
        unit in prop_oneof![Just(None), (0u8..3).prop_map(Some)],
    ) {
        let dir = tempfile::tempdir().unwrap();
        let series = [
            key("NS", "A", &[]),
            key("NS", "B", &[("host", "h1")]),
            key("Other", "A", &[("host", "h1"), ("disk", "d")]),
        ];
        let mut model: Vec<Vec<Sample>> = vec![Vec::new(); 3];
        let mut db = Some(Db::open(dir.path(), fast_opts()).unwrap());
        for op in ops {
            match op {
                Op::Write(entries) => {
                    let mut batch = WriteBatch::new();
                    for (s, sample) in entries {
                        model[s].push(sample.clone());
                        batch.push(series[s].clone(), sample);
                    }
                    db.as_ref().unwrap().write(&batch).unwrap();
                }
                Op::Seal => db.as_ref().unwrap().seal().unwrap(),
                Op::Reopen => {
                    // Drop without close: recovery must come from the WAL.
                    drop(db.take());
                    db = Some(Db::open(dir.path(), fast_opts()).unwrap());
                }
            }
        }
        let db = db.unwrap();
        let start = 1_000_000 - 5_000 + start_off;
        for (s, key) in series.iter().enumerate() {
            check_query(&db, key, &model[s], start, start + len, period, unit);
        }
        let total: usize = model.iter().map(Vec::len).sum();
        let stats = db.stats();
        prop_assert_eq!(stats.head_samples as u64 + stats.sealed_samples, total as u64);
    }
}

fn write_minutes(
    db: &Db,
    key: &SeriesKey,
    from: i64,
    n: i64,
    f: impl Fn(i64) -> f64,
) -> Vec<Sample> {
    let mut batch = WriteBatch::new();
    let mut samples = Vec::new();
    for i in 0..n {
        let s = Sample::single(from + i * 60_000, 1, f(i));
        samples.push(s.clone());
        batch.push(key.clone(), s);
    }
    db.write(&batch).unwrap();
    samples
}

/// Distinct raw (1-hour) block windows the samples fall into.
fn raw_windows(samples: &[Sample]) -> usize {
    let windows: std::collections::BTreeSet<i64> = samples
        .iter()
        .map(|s| s.timestamp_ms.div_euclid(3_600_000))
        .collect();
    windows.len()
}

#[test]
fn round_trip_across_head_blocks_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let k = key("AWS/EC2", "CPUUtilization", &[("InstanceId", "i-1")]);
    let t0 = 1_700_000_000_000;
    let mut all = Vec::new();
    {
        let db = Db::open(dir.path(), kept_forever()).unwrap();
        // Newer data first, then late data, then duplicates of a few points.
        all.extend(write_minutes(&db, &k, t0 + 600 * 60_000, 600, |i| {
            (i % 97) as f64 / 4.0
        }));
        db.seal().unwrap();
        all.extend(write_minutes(&db, &k, t0, 600, |i| (i % 13) as f64));
        all.extend(write_minutes(&db, &k, t0 + 300 * 60_000, 10, |i| i as f64));
        let mut mixed = WriteBatch::new();
        for (i, unit) in [(0, 2u8), (1, 2), (2, 3)] {
            let s = Sample {
                timestamp_ms: t0 + i * 60_000,
                unit,
                high_resolution: false,
                value: SampleValue::Distribution(vec![(1.5, 2.0), (2.5, 1.0)]),
            };
            all.push(s.clone());
            mixed.push(k.clone(), s);
        }
        db.write(&mixed).unwrap();
        check_query(&db, &k, &all, t0, t0 + 1200 * 60_000, 3_600_000, None);
        let stats = db.stats();
        // One raw block per hour window the first 600 minutes touch.
        assert_eq!(stats.blocks, raw_windows(&all[..600]));
        assert_eq!(stats.sealed_samples, 600);
        assert_eq!(stats.head_samples, 613);
        db.close().unwrap();
    }
    let db = Db::open(dir.path(), kept_forever()).unwrap();
    assert!(!db.recovery_report().repaired());
    let stats = db.stats();
    // Overlapping windows were merged: still one block per window.
    assert_eq!(
        (stats.blocks, stats.sealed_samples, stats.head_samples),
        (raw_windows(&all), 1213, 0)
    );
    check_query(&db, &k, &all, t0, t0 + 1200 * 60_000, 3_600_000, None);
    check_query(&db, &k, &all, t0 - 7, t0 + 1200 * 60_000, 300_000, Some(2));
    check_query(&db, &k, &all, t0 + 17, t0 + 100 * 60_000, 60_000, Some(1));
}

#[test]
fn query_edge_cases() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), fast_opts()).unwrap();
    let k = key("NS", "m", &[]);
    write_minutes(&db, &k, 0, 10, |i| i as f64);
    let q = |start, end, period| RangeQuery {
        series: &k,
        start_ms: start,
        end_ms: end,
        period_ms: period,
        unit: None,
    };
    assert!(db.query(&q(0, 100, 0)).is_err());
    assert!(db.query(&q(100, 0, 60)).unwrap().is_empty());
    assert!(db.query(&q(i64::MIN, i64::MAX, i64::MAX)).unwrap().len() == 1);
    let unknown = key("NS", "missing", &[]);
    let none = db
        .query(&RangeQuery {
            series: &unknown,
            start_ms: 0,
            end_ms: 100,
            period_ms: 10,
            unit: None,
        })
        .unwrap();
    assert!(none.is_empty());
    // end is exclusive: the sample at 9 minutes is left out
    let aggs = db.query(&q(0, 9 * 60_000, 3_600_000)).unwrap();
    assert_eq!(aggs[0].count, 9.0);
}

fn listing(db: &Db, filter: &SeriesFilter) -> Vec<SeriesKey> {
    db.list_series(filter, None, usize::MAX)
}

#[test]
fn list_series_filters_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let mut keys = Vec::new();
    for ns in ["AWS/EC2", "CWAgent"] {
        for name in ["CPUUtilization", "mem_used_percent"] {
            for host in 0..30 {
                let host = format!("i-{host:03}");
                keys.push(key(ns, name, &[("InstanceId", &host)]));
                keys.push(key(
                    ns,
                    name,
                    &[("InstanceId", &host), ("cpu", "cpu-total")],
                ));
            }
        }
    }
    keys.push(key("CWAgent", "disk_used_percent", &[("path", "/")]));
    {
        let db = Db::open(dir.path(), fast_opts()).unwrap();
        let mut batch = WriteBatch::new();
        for k in &keys {
            batch.push(k.clone(), Sample::single(0, 0, 1.0));
        }
        db.write(&batch).unwrap();
        db.seal().unwrap();
        // Series defined after the seal live only in the WAL at reopen.
        let mut late = WriteBatch::new();
        late.push(key("Late", "x", &[("a", "b")]), Sample::single(1, 0, 2.0));
        db.write(&late).unwrap();
    }
    keys.push(key("Late", "x", &[("a", "b")]));
    let db = Db::open(dir.path(), fast_opts()).unwrap();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(db.stats().series, keys.len());

    let filters = vec![
        SeriesFilter::default(),
        SeriesFilter {
            namespace: Some("CWAgent".into()),
            ..Default::default()
        },
        SeriesFilter {
            namespace: Some("CWAgent".into()),
            name: Some("mem_used_percent".into()),
            ..Default::default()
        },
        SeriesFilter {
            name: Some("CPUUtilization".into()),
            ..Default::default()
        },
        SeriesFilter {
            dimensions: vec![("cpu".into(), None)],
            ..Default::default()
        },
        SeriesFilter {
            namespace: Some("AWS/EC2".into()),
            dimensions: vec![
                ("InstanceId".into(), Some("i-007".into())),
                ("cpu".into(), None),
            ],
            ..Default::default()
        },
        SeriesFilter {
            dimensions: vec![("InstanceId".into(), Some("nope".into()))],
            ..Default::default()
        },
        SeriesFilter {
            namespace: Some("Nope".into()),
            ..Default::default()
        },
        SeriesFilter {
            namespace: Some("Late".into()),
            dimensions: vec![("a".into(), Some("b".into()))],
            ..Default::default()
        },
    ];
    for f in &filters {
        let want: Vec<SeriesKey> = sorted.iter().filter(|k| f.matches(k)).cloned().collect();
        assert_eq!(listing(&db, f), want, "{f:?}");
        // Page through 7 at a time and get the same sequence.
        let mut paged = Vec::new();
        let mut after: Option<SeriesKey> = None;
        loop {
            let page = db.list_series(f, after.as_ref(), 7);
            assert!(page.len() <= 7);
            if page.is_empty() {
                break;
            }
            after = page.last().cloned();
            paged.extend(page);
        }
        assert_eq!(paged, want, "paged {f:?}");
    }
    assert!(db.list_series(&SeriesFilter::default(), None, 0).is_empty());
}

#[test]
fn concurrent_writers_share_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options {
            max_head_samples: 5_000,
            ..kept_forever()
        },
    )
    .unwrap();
    let k = key("NS", "m", &[]);
    std::thread::scope(|s| {
        for t in 0..4i64 {
            let (db, k) = (&db, &k);
            s.spawn(move || {
                for b in 0..50i64 {
                    let mut batch = WriteBatch::new();
                    for i in 0..100 {
                        batch.push(
                            k.clone(),
                            Sample::single(t * 1_000_000 + b * 100 + i, 0, 1.0),
                        );
                    }
                    db.write(&batch).unwrap();
                }
            });
        }
    });
    let aggs = db
        .query(&RangeQuery {
            series: &k,
            start_ms: 0,
            end_ms: 4_000_000,
            period_ms: 1_000_000,
            unit: None,
        })
        .unwrap();
    assert_eq!(
        aggs.iter().map(|a| a.count).collect::<Vec<_>>(),
        vec![5000.0; 4]
    );
    // Every sample is in the first hour: each seal's block was merged into one.
    let stats = db.stats();
    assert!(stats.blocks == 1 && stats.compactions >= 2, "{stats:?}");
    assert_wal_is_small(dir.path());
}

fn assert_wal_is_small(dir: &Path) {
    // Sealed segments were deleted: only the post-seal tail remains.
    let n = std::fs::read_dir(dir.join("wal")).unwrap().count();
    assert!(n <= 2, "{n} WAL segments left");
}

#[test]
fn without_seal_on_write_the_caller_seals_and_writes_seal_only_at_twice_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options {
            max_head_samples: 100,
            seal_on_write: false,
            compact_on_seal: false,
            ..kept_forever()
        },
    )
    .unwrap();
    let k = key("NS", "m", &[]);
    let write = |from: i64, n: i64| {
        let mut batch = WriteBatch::new();
        for i in from..from + n {
            batch.push(k.clone(), Sample::single(i * 1000, 0, 1.0));
        }
        db.write(&batch).unwrap();
    };
    assert!(!db.seal_due(), "an empty head is never due");
    write(0, 150);
    let s = db.stats();
    assert_eq!(
        (s.head_samples, s.sealed_samples),
        (150, 0),
        "the write did not seal"
    );
    assert!(db.seal_due());
    db.seal().unwrap();
    assert!(!db.seal_due());
    assert_eq!(db.stats().sealed_samples, 150);
    // A caller that falls behind: at twice the head size the write seals.
    write(150, 199);
    assert_eq!(db.stats().sealed_samples, 150);
    write(349, 1);
    let s = db.stats();
    assert_eq!((s.head_samples, s.sealed_samples), (0, 350), "{s:?}");
}

/// Writers racing to define the same new series (each key prepared outside
/// the write lock by several threads at once, one of them wins), with a
/// lister reading the lazily settled order meanwhile: every key ends up
/// with one id, every sample under it, and no listing ever shows a key twice.
#[test]
fn concurrent_writers_defining_the_same_series() {
    use std::sync::atomic::{AtomicBool, Ordering};
    const KEYS: usize = 1_500;
    const WRITERS: i64 = 6;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), fast_opts()).unwrap();
    let keys: Vec<SeriesKey> = (0..KEYS)
        .map(|i| key("ns", &format!("m{}", i % 7), &[("host", &format!("h{i}"))]))
        .collect();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let lister = s.spawn(|| {
            let mut listings = 0;
            while !done.load(Ordering::Relaxed) || listings == 0 {
                let listed = db.list_series(&SeriesFilter::default(), None, usize::MAX);
                let mut sorted = listed.clone();
                sorted.dedup();
                assert_eq!(sorted.len(), listed.len(), "a listing showed a key twice");
                assert!(
                    listed.windows(2).all(|w| w[0] < w[1]),
                    "listing out of order"
                );
                listings += 1;
            }
            listings
        });
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (db, keys) = (&db, &keys);
                s.spawn(move || {
                    // Each writer walks the keys from its own offset, in
                    // batches of 50 that also repeat their first key last.
                    let order: Vec<&SeriesKey> = (0..KEYS)
                        .map(|i| &keys[(i + w as usize * 251) % KEYS])
                        .collect();
                    for chunk in order.chunks(50) {
                        let mut batch = WriteBatch::with_capacity(51);
                        for k in chunk {
                            batch.push((*k).clone(), Sample::single(w * 1000, 0, 1.0));
                        }
                        batch.push(chunk[0].clone(), Sample::single(w * 1000 + 1, 0, 1.0));
                        db.write(&batch).unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
        assert!(lister.join().unwrap() > 0);
    });
    let check = |db: &Db| {
        let listed = db.list_series(&SeriesFilter::default(), None, usize::MAX);
        let mut want = keys.clone();
        want.sort();
        assert_eq!(listed, want);
        let mut total = 0.0;
        for k in &keys {
            let aggs = db
                .query(&RangeQuery {
                    series: k,
                    start_ms: 0,
                    end_ms: 1_000_000,
                    period_ms: 1_000_000,
                    unit: None,
                })
                .unwrap();
            let count: f64 = aggs.iter().map(|a| a.count).sum();
            assert!(count >= WRITERS as f64, "{k:?} has {count} samples");
            total += count;
        }
        // One sample per key per writer, plus each batch's repeated first key.
        let batches_per_writer = KEYS.div_ceil(50) as f64;
        assert_eq!(total, WRITERS as f64 * (KEYS as f64 + batches_per_writer));
    };
    check(&db);
    assert_eq!(db.stats().series, KEYS);
    db.close().unwrap();
    // The WAL holds one definition per key: replay finds no conflict.
    let db = Db::open(dir.path(), fast_opts()).unwrap();
    check(&db);
}
