//! Rollups and retention with an injected clock: data moves from raw
//! samples to 1-minute, 5-minute and 1-hour rollups as it ages, keeps its
//! statistics (percentiles within the sketch's stated error), is finally
//! dropped as whole files, and disk use stays flat over simulated months.

use std::time::Duration;

use proptest::prelude::*;
use stratus_tsdb::{
    Aggregate, Db, ManualClock, Options, RangeQuery, Resolution, Sample, SampleValue, SeriesKey,
    WriteBatch, aggregate::exact_percentile, sketch::RELATIVE_ACCURACY,
};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// 2023-08-30 00:00 UTC: windows are epoch-aligned, and this is the start
/// of a 7-day (1-hour rollup) window, so every window starts here.
const T0: i64 = 28 * DAY * 700;

fn key(host: usize) -> SeriesKey {
    SeriesKey::new(
        "CWAgent",
        "latency",
        [("host".to_string(), format!("h{host}"))],
    )
}

fn opts(clock: &ManualClock) -> Options {
    Options {
        fsync: false,
        clock: clock.clock(),
        ..Options::default()
    }
}

fn query(db: &Db, k: &SeriesKey, start: i64, end: i64, period: i64) -> Vec<Aggregate> {
    db.query(&RangeQuery {
        series: k,
        start_ms: start,
        end_ms: end,
        period_ms: period,
        unit: None,
    })
    .unwrap()
}

fn resolution_of_all_blocks(db: &Db) -> Vec<Resolution> {
    db.stats()
        .resolutions
        .iter()
        .filter(|r| r.blocks > 0)
        .map(|r| r.resolution)
        .collect()
}

fn pairs_of(s: &Sample) -> Vec<(f64, f64)> {
    match &s.value {
        SampleValue::Single(v) => vec![(*v, 1.0)],
        SampleValue::Distribution(p) => p.clone(),
        SampleValue::StatSet { count, min, .. } => vec![(*min, *count)],
    }
}

fn sample_strategy() -> impl Strategy<Value = Sample> {
    let value = prop_oneof![
        (-1e6f64..1e6).prop_map(SampleValue::Single),
        (0.0f64..100.0).prop_map(|v| SampleValue::Single((v * 100.0).round() / 100.0)),
        proptest::collection::vec((-1e3f64..1e3, 1u32..4), 1..6).prop_map(|p| {
            SampleValue::Distribution(p.into_iter().map(|(v, c)| (v, f64::from(c))).collect())
        }),
        (1u32..5, -50.0f64..50.0).prop_map(|(c, v)| SampleValue::StatSet {
            count: f64::from(c),
            sum: f64::from(c) * v,
            min: v,
            max: v,
        }),
    ];
    (0..DAY, 0u8..2, value).prop_map(|(ts, unit, value)| Sample {
        timestamp_ms: T0 + ts,
        unit,
        high_resolution: false,
        value,
    })
}

/// Every hour bucket of `got` against the samples: count and min/max exact,
/// sum to rounding, percentiles within the sketch's relative error.
fn check_hours(got: &[Aggregate], samples: &[Sample]) -> Result<(), TestCaseError> {
    let mut expected = std::collections::BTreeMap::<(i64, u8), Vec<&Sample>>::new();
    for s in samples {
        expected
            .entry((s.timestamp_ms.div_euclid(HOUR) * HOUR, s.unit))
            .or_default()
            .push(s);
    }
    prop_assert_eq!(got.len(), expected.len());
    for a in got {
        let bucket = &expected[&(a.start_ms, a.unit)];
        let pairs: Vec<(f64, f64)> = bucket.iter().flat_map(|s| pairs_of(s)).collect();
        let count: f64 = pairs.iter().map(|p| p.1).sum();
        let sum: f64 = pairs.iter().map(|p| p.0 * p.1).sum();
        let min = pairs.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
        let max = pairs.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
        prop_assert_eq!(a.count, count);
        prop_assert!(
            (a.sum - sum).abs() <= 1e-6 * (1.0 + sum.abs()),
            "{} vs {}",
            a.sum,
            sum
        );
        prop_assert_eq!((a.min, a.max), (min, max));
        for p in [0.0, 10.0, 50.0, 90.0, 99.0, 100.0] {
            let exact = exact_percentile(&pairs, p).unwrap();
            let est = a.percentile(p).unwrap();
            let tol = RELATIVE_ACCURACY * exact.abs() * (1.0 + 1e-9);
            prop_assert!(
                (est - exact).abs() <= tol,
                "p{} exact {} got {}",
                p,
                exact,
                est
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// One day of random samples aged through every resolution: at each
    /// stage hourly statistics agree with the exact ones.
    #[test]
    fn rollups_keep_statistics_within_the_sketch_error(
        samples in proptest::collection::vec(sample_strategy(), 1..400),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(T0 + DAY);
        let db = Db::open(dir.path(), opts(&clock)).unwrap();
        let k = key(0);
        let mut batch = WriteBatch::new();
        for s in &samples {
            batch.push(k.clone(), s.clone());
        }
        db.write(&batch).unwrap();
        db.seal().unwrap();
        // Raw kept 3 h after each window: still raw only for the last hours.
        check_hours(&query(&db, &k, T0, T0 + DAY, HOUR), &samples)?;
        let stages = [
            (DAY, vec![Resolution::OneMinute]),
            (20 * DAY, vec![Resolution::FiveMinutes]),
            (100 * DAY, vec![Resolution::OneHour]),
        ];
        for (age, want) in stages {
            clock.set(T0 + DAY + age);
            db.compact().unwrap();
            prop_assert_eq!(resolution_of_all_blocks(&db), want);
            check_hours(&query(&db, &k, T0, T0 + DAY, HOUR), &samples)?;
        }
        // The same after a restart (rollup blocks decode what they encoded).
        drop(db);
        let db = Db::open(dir.path(), opts(&clock)).unwrap();
        check_hours(&query(&db, &k, T0, T0 + DAY, HOUR), &samples)?;
        clock.set(T0 + 500 * DAY);
        db.compact().unwrap();
        prop_assert!(query(&db, &k, T0, T0 + DAY, HOUR).is_empty());
        prop_assert_eq!(db.stats().blocks, 0);
    }
}

/// Writes `days` of one sample per minute for `hosts` series, starting at
/// `from`, one seal per simulated day; calls `each_day` after every seal.
fn simulate(
    db: &Db,
    clock: &ManualClock,
    hosts: usize,
    from: i64,
    days: i64,
    mut each_day: impl FnMut(i64, &Db),
) {
    for day in 0..days {
        let mut batch = WriteBatch::with_capacity(hosts * 1440);
        for h in 0..hosts {
            for m in 0..1440 {
                let ts = from + day * DAY + m * MINUTE;
                let v = ((m * 7 + h as i64 * 13) % 1000) as f64 / 10.0;
                batch.push(key(h), Sample::single(ts, 1, v));
            }
        }
        db.write(&batch).unwrap();
        clock.set(from + (day + 1) * DAY);
        db.seal().unwrap();
        each_day(day, db);
    }
}

#[test]
fn disk_use_stays_flat_over_simulated_months() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    let mut sizes = Vec::new();
    let mut max_blocks = 0;
    simulate(&db, &clock, 1, T0, 540, |day, db| {
        let s = db.stats();
        max_blocks = max_blocks.max(s.blocks);
        if day >= 500 {
            sizes.push(s.block_bytes);
        }
    });
    let (lo, hi) = (
        *sizes.iter().min().unwrap() as f64,
        *sizes.iter().max().unwrap() as f64,
    );
    eprintln!("disk use over days 500..540: {lo} .. {hi} bytes, at most {max_blocks} blocks");
    assert!(hi / lo < 1.05, "disk use not flat: {lo} .. {hi} bytes");
    // Raw 3-4 + 1-minute 16 + 5-minute 49 + 1-hour 66 windows, a few open.
    assert!(max_blocks <= 145, "{max_blocks} block files at once");
    let now = clock.now_ms();
    let k = key(0);
    // Older than 455 days (+ one 7-day window): gone.
    assert!(query(&db, &k, T0, now - 463 * DAY, DAY).is_empty());
    // 400 days ago: hourly rows, all 60 minutes counted.
    let old = query(&db, &k, now - 400 * DAY, now - 399 * DAY, HOUR);
    assert_eq!(old.len(), 24);
    assert!(old.iter().all(|a| a.count == 60.0));
    // Every retained resolution is present, and the last hours are raw.
    let stats = db.stats();
    assert!(stats.resolutions.iter().all(|r| r.blocks > 0), "{stats:?}");
    let recent = query(&db, &k, now - HOUR, now, MINUTE);
    assert_eq!(recent.len(), 60);
    assert!(recent.iter().all(|a| a.count == 1.0 && a.is_exact()));
}

#[test]
fn a_range_across_resolutions_counts_every_sample_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    simulate(&db, &clock, 1, T0, 90, |_, _| {});
    let stats = db.stats();
    assert!(stats.resolutions.iter().all(|r| r.blocks > 0), "{stats:?}");
    let now = clock.now_ms();
    let aggs = query(&db, &key(0), T0, now, DAY);
    assert_eq!(aggs.len(), 90);
    assert!(aggs.iter().all(|a| a.count == 1440.0), "{aggs:?}");
    // Reopened: the same.
    drop(db);
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    let total: f64 = query(&db, &key(0), T0, now, 30 * DAY)
        .iter()
        .map(|a| a.count)
        .sum();
    assert_eq!(total, 90.0 * 1440.0);
}

#[test]
fn late_data_is_merged_into_its_window() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0 + 2 * DAY);
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    let k = key(0);
    let mut on_time = WriteBatch::new();
    for m in 0..60 {
        on_time.push(
            k.clone(),
            Sample::single(T0 + 2 * DAY - HOUR + m * MINUTE, 1, 1.0),
        );
    }
    db.write(&on_time).unwrap();
    db.seal().unwrap();
    // Late samples for the same hour, and for a day ago (already rolled up).
    for round in 0..3 {
        let mut late = WriteBatch::new();
        for m in 0..60 {
            late.push(
                k.clone(),
                Sample::single(T0 + 2 * DAY - HOUR + m * MINUTE, 1, 2.0),
            );
            late.push(
                k.clone(),
                Sample::single(T0 + DAY + m * MINUTE, 1, f64::from(round)),
            );
        }
        db.write(&late).unwrap();
        db.seal().unwrap();
    }
    let stats = db.stats();
    // One raw block (the last hour) and one 1-minute block (yesterday).
    let blocks: Vec<(Resolution, usize)> = stats
        .resolutions
        .iter()
        .filter(|r| r.blocks > 0)
        .map(|r| (r.resolution, r.blocks))
        .collect();
    assert_eq!(
        blocks,
        vec![(Resolution::Raw, 1), (Resolution::OneMinute, 1)]
    );
    let recent = query(&db, &k, T0 + 2 * DAY - HOUR, T0 + 2 * DAY, HOUR);
    assert_eq!((recent[0].count, recent[0].sum), (240.0, 60.0 + 360.0));
    let old = query(&db, &k, T0 + DAY, T0 + DAY + HOUR, MINUTE);
    assert_eq!(old.len(), 60);
    assert!(
        old.iter()
            .all(|a| (a.count, a.sum, a.min, a.max) == (3.0, 3.0, 0.0, 2.0))
    );
    // Three distinct values per minute: still exact.
    assert_eq!(old[0].percentile(50.0), Some(1.0));
}

#[test]
fn retention_is_configurable_per_resolution() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut o = opts(&clock);
    o.retention.raw = Some(Duration::from_secs(2 * 86_400));
    o.retention.one_minute = Some(Duration::from_secs(3 * 86_400));
    o.retention.five_minutes = None;
    let db = Db::open(dir.path(), o).unwrap();
    simulate(&db, &clock, 1, T0, 40, |_, _| {});
    let have: Vec<Resolution> = resolution_of_all_blocks(&db);
    // 5-minute data is kept forever, so nothing reaches 1-hour rollups.
    assert_eq!(
        have,
        vec![
            Resolution::Raw,
            Resolution::OneMinute,
            Resolution::FiveMinutes
        ]
    );
    let raw = db.stats().resolutions[0].clone();
    let (oldest, _) = raw.span_ms.unwrap();
    assert!(
        oldest >= clock.now_ms() - 3 * DAY - HOUR,
        "raw kept too long"
    );
    assert!(oldest <= clock.now_ms() - 2 * DAY, "raw dropped too early");
}

#[test]
fn listings_hide_series_without_data_for_two_weeks() {
    use stratus_tsdb::SeriesFilter;
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0 + 30 * DAY);
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    let mut batch = WriteBatch::new();
    batch.push(key(0), Sample::single(T0 + 15 * DAY, 1, 1.0)); // 15 days old
    batch.push(key(1), Sample::single(T0 + 15 * DAY, 1, 1.0));
    batch.push(key(1), Sample::single(T0 + 29 * DAY, 1, 1.0)); // 1 day old
    batch.push(key(2), Sample::single(T0 + 17 * DAY, 1, 1.0)); // 13 days old
    db.write(&batch).unwrap();
    let listed = |db: &Db| db.list_series(&SeriesFilter::default(), None, 10);
    assert_eq!(listed(&db), vec![key(1), key(2)]);
    // From sealed (and rolled-up) blocks after a restart, too.
    db.close().unwrap();
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    assert_eq!(listed(&db), vec![key(1), key(2)]);
    clock.advance(Duration::from_secs(2 * 86_400));
    assert_eq!(listed(&db), vec![key(1)]);
    // New data brings a series back.
    let mut batch = WriteBatch::new();
    batch.push(key(0), Sample::single(clock.now_ms(), 1, 1.0));
    db.write(&batch).unwrap();
    assert_eq!(listed(&db), vec![key(0), key(1)]);
}

#[test]
fn data_older_than_two_resolutions_goes_to_the_first_one_still_retained() {
    // Late data (or data sealed before a long downtime) whose 1-minute and
    // 5-minute windows have already expired becomes 1-hour rows, not lost.
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0 + 10 * DAY);
    let mut o = opts(&clock);
    o.retention.raw = Some(Duration::from_secs(3600));
    o.retention.one_minute = Some(Duration::from_secs(86_400));
    o.retention.five_minutes = Some(Duration::from_secs(86_400));
    let db = Db::open(dir.path(), o).unwrap();
    let start = T0 + 7 * DAY;
    let mut batch = WriteBatch::new();
    for m in 0..120 {
        batch.push(key(0), Sample::single(start + m * MINUTE, 0, m as f64));
    }
    db.write(&batch).unwrap();
    db.seal().unwrap();
    assert_eq!(resolution_of_all_blocks(&db), vec![Resolution::OneHour]);
    let got = query(&db, &key(0), start, start + 2 * HOUR, 60_000);
    let rows: Vec<(i64, f64, f64)> = got.iter().map(|a| (a.start_ms, a.count, a.sum)).collect();
    assert_eq!(
        rows,
        vec![
            (start, 60.0, (0..60).sum::<i64>() as f64),
            (start + HOUR, 60.0, (60..120).sum::<i64>() as f64)
        ]
    );
}
