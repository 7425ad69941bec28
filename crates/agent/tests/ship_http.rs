//! The shipper against a scripted HTTP endpoint on 127.0.0.1: what goes on
//! the wire, batching, retries with the same batch id, permanent refusals,
//! outages with ordered exactly-once delivery, and spool overflow.

mod ship_support;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use ship_support::*;
use stratus_agent::ship::{Datum, DatumValue, Shipper};
use stratus_model::ops::put_metric_data::DatumValue as WireValue;

#[test]
fn happy_path_sends_valid_signed_gzip_batches() {
    let ep = FakeEndpoint::start("127.0.0.1:0", |_, _| ok());
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = config(&ep.url(), spool.path());
    cfg.force_flush_interval = Duration::from_secs(3600);
    let shipper = Shipper::start(cfg).unwrap();

    let mut submitted: Vec<Datum> = (0..2500).map(datum).collect();
    let values: Vec<f64> = (0..320).map(f64::from).collect();
    let counts: Vec<f64> = (0..320).map(|i| f64::from(i % 4 + 1)).collect();
    submitted.push(Datum {
        metric_name: "latency".into(),
        dimensions: vec![],
        timestamp_ms: base_ms() - 5_000,
        value: DatumValue::Distribution {
            values: values.clone(),
            counts: counts.clone(),
        },
        unit: "Milliseconds",
        high_resolution: false,
    });
    for chunk in submitted.chunks(300) {
        shipper.submit(chunk.to_vec());
    }
    let report = shipper.shutdown(Duration::from_secs(30));
    assert_eq!(report.batches_spooled, 0);
    assert_eq!(report.stats.datums_dropped, 0);

    let seen = ep.seen();
    // 2500 singles + 3 parts of the 320-value distribution, ≤ 1000 per request.
    assert_eq!(seen.len(), 3);
    let ids: HashSet<String> = seen.iter().map(|s| s.batch_id()).collect();
    assert_eq!(ids.len(), seen.len(), "one id per batch");
    let mut singles = BTreeMap::new();
    let mut dist = Vec::new();
    for req in &seen {
        for d in req.decode() {
            assert_eq!(d.metric.namespace, "ShipTest");
            match d.value {
                WireValue::Single(v) => {
                    let i = index_of(&d);
                    let want = datum(i);
                    assert_eq!(d.metric.metric_name, want.metric_name);
                    let dims: Vec<(String, String)> = d
                        .metric
                        .dimensions
                        .iter()
                        .map(|x| (x.name.clone(), x.value.clone()))
                        .collect();
                    assert_eq!(dims, want.dimensions);
                    assert_eq!(d.unit.as_str(), "Count");
                    assert!(d.high_resolution);
                    assert!(singles.insert(i, v).is_none(), "datum {i} sent twice");
                }
                WireValue::Distribution(pairs) => {
                    assert_eq!(d.metric.metric_name, "latency");
                    assert!(pairs.len() <= 150);
                    assert!(!d.high_resolution);
                    dist.extend(pairs);
                }
                WireValue::StatSet { .. } => panic!("no statistic sets were submitted"),
            }
        }
    }
    assert_eq!(singles.len(), 2500);
    assert!(singles.iter().all(|(i, v)| *i as f64 == *v));
    let want: Vec<(f64, f64)> = values.into_iter().zip(counts).collect();
    assert_eq!(dist, want);
    let stats = report.stats;
    assert_eq!((stats.batches_sent, stats.datums_sent), (3, 2503));
}

#[test]
fn partial_batches_go_out_at_the_flush_interval() {
    let ep = FakeEndpoint::start("127.0.0.1:0", |_, _| ok());
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = config(&ep.url(), spool.path());
    cfg.force_flush_interval = Duration::from_millis(300);
    let shipper = Shipper::start(cfg).unwrap();
    shipper.submit((0..3).map(datum).collect());
    wait_until("the flush", Duration::from_secs(5), || ep.seen().len() == 1);
    assert_eq!(ep.seen()[0].decode().len(), 3);
    shipper.submit((3..5).map(datum).collect());
    wait_until("the second flush", Duration::from_secs(5), || {
        ep.seen().len() == 2
    });
    // The endpoint records a request before answering it; the shipper counts
    // it once the answer is in.
    wait_until("the second flush counted", Duration::from_secs(5), || {
        shipper.stats().datums_sent == 5
    });
    assert_eq!(ep.seen()[1].decode().len(), 2);
}

#[test]
fn retries_reuse_the_batch_id_until_accepted() {
    // 500, throttling, a dropped connection's worth of 503, then 200.
    let ep = FakeEndpoint::start("127.0.0.1:0", |_, n| match n {
        0 => error(500, "InternalServiceError", "try later"),
        1 => error(400, "Throttling", "Rate exceeded"),
        2 => (503, "busy".into()),
        _ => ok(),
    });
    let spool = tempfile::tempdir().unwrap();
    let shipper = Shipper::start(config(&ep.url(), spool.path())).unwrap();
    shipper.submit((0..10).map(datum).collect());
    wait_until("acceptance", Duration::from_secs(10), || {
        shipper.stats().datums_sent == 10
    });
    let seen = ep.seen();
    assert_eq!(seen.len(), 4);
    let first = seen[0].batch_id();
    assert!(
        seen.iter().all(|s| s.batch_id() == first),
        "same id on every retry"
    );
    for s in &seen {
        assert_eq!(s.decode().len(), 10);
    }
    let stats = shipper.stats();
    assert_eq!((stats.retries, stats.datums_dropped), (3, 0));
    assert_eq!(stats.batches_spooled, 0, "drained");
}

#[test]
fn permanent_refusal_is_dropped_not_retried() {
    let ep = FakeEndpoint::start("127.0.0.1:0", |_, n| match n {
        0 => error(
            400,
            "InvalidParameterValue",
            "The value NaN is not allowed.",
        ),
        _ => ok(),
    });
    let spool = tempfile::tempdir().unwrap();
    let shipper = Shipper::start(config(&ep.url(), spool.path())).unwrap();
    shipper.submit((0..4).map(datum).collect());
    wait_until("the refusal", Duration::from_secs(5), || {
        shipper.stats().datums_rejected == 4
    });
    shipper.submit((4..6).map(datum).collect());
    wait_until("the next batch", Duration::from_secs(5), || {
        shipper.stats().datums_sent == 2
    });
    std::thread::sleep(Duration::from_millis(300));
    let seen = ep.seen();
    assert_eq!(seen.len(), 2, "the refused batch was sent once");
    assert_ne!(seen[0].batch_id(), seen[1].batch_id());
    let stats = shipper.stats();
    assert_eq!(
        (stats.batches_dropped, stats.datums_dropped, stats.retries),
        (1, 4, 0)
    );
}

#[test]
fn outage_then_recovery_delivers_everything_once_in_order() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = config(&url, spool.path());
    cfg.max_datums_per_batch = 20;
    let shipper = Shipper::start(cfg).unwrap();

    // Up, then down for a while, then up again; datums keep coming.
    let ep = FakeEndpoint::start(&format!("127.0.0.1:{port}"), |_, _| ok());
    let mut next = 0u64;
    let mut submit = |n: u64| {
        shipper.submit((next..next + n).map(datum).collect());
        next += n;
    };
    submit(50);
    wait_until("the first datums", Duration::from_secs(5), || {
        shipper.stats().datums_sent == 50
    });
    let before_outage = ep.seen();
    ep.stop();
    for _ in 0..10 {
        submit(37);
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_until("batches to be spooled", Duration::from_secs(5), || {
        shipper.stats().datums_spooled == 370
    });
    assert_eq!(shipper.stats().datums_sent, 50);
    let ep = FakeEndpoint::start(&format!("127.0.0.1:{port}"), |_, _| ok());
    submit(25);
    wait_until("the drain", Duration::from_secs(20), || {
        shipper.stats().datums_sent == 445
    });
    let stats = shipper.stats();
    assert_eq!((stats.datums_spooled, stats.datums_dropped), (0, 0));

    let mut order = Vec::new();
    for req in before_outage.iter().chain(ep.seen().iter()) {
        order.extend(req.decode().iter().map(index_of));
    }
    let want: Vec<u64> = (0..445).collect();
    assert_eq!(order, want, "every datum exactly once, in submission order");
}

#[test]
fn spool_overflow_drops_the_oldest_and_counts_them() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = config(&url, spool.path());
    cfg.max_datums_per_batch = 10;
    cfg.spool_max_bytes = 4_000;
    let shipper = Shipper::start(cfg).unwrap();
    for i in 0..40 {
        shipper.submit((i * 10..i * 10 + 10).map(datum).collect());
    }
    wait_until("overflow", Duration::from_secs(10), || {
        let s = shipper.stats();
        s.datums_overflowed > 0 && s.datums_spooled + s.datums_overflowed == 400
    });
    let spooled = shipper.stats().datums_spooled;
    assert!((10..400).contains(&spooled), "{spooled}");

    let ep = FakeEndpoint::start(&format!("127.0.0.1:{port}"), |_, _| ok());
    wait_until("the drain", Duration::from_secs(10), || {
        shipper.stats().datums_spooled == 0
    });
    let got: Vec<u64> = ep
        .seen()
        .iter()
        .flat_map(|r| r.decode())
        .map(|d| index_of(&d))
        .collect();
    let stats = shipper.stats();
    assert_eq!(got.len() as u64, spooled);
    assert_eq!(stats.datums_dropped, 400 - spooled);
    // The newest survived, contiguous and in order.
    let first = 400 - spooled;
    assert_eq!(got, (first..400).collect::<Vec<u64>>());
}

#[test]
fn shutdown_spools_what_it_cannot_send_and_a_new_shipper_sends_it() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = config(&url, spool.path());
    cfg.force_flush_interval = Duration::from_secs(3600);
    let shipper = Shipper::start(cfg.clone()).unwrap();
    shipper.submit((0..30).map(datum).collect());
    let report = shipper.shutdown(Duration::from_millis(300));
    assert_eq!(report.datums_spooled, 30, "{report:?}");
    assert!(report.took < Duration::from_secs(3));

    let shipper = Shipper::start(cfg).unwrap();
    assert_eq!(shipper.stats().datums_spooled, 30);
    let ep = FakeEndpoint::start(&format!("127.0.0.1:{port}"), |_, _| ok());
    wait_until("the drain", Duration::from_secs(10), || {
        shipper.stats().datums_sent == 30
    });
    let got: Vec<u64> = ep
        .seen()
        .iter()
        .flat_map(|r| r.decode())
        .map(|d| index_of(&d))
        .collect();
    assert_eq!(got, (0..30).collect::<Vec<u64>>());
}
