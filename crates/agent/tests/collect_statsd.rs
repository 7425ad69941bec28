//! The statsd listener over real UDP, its aggregation rules, and a property
//! test that no datagram can make it panic.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use stratus_agent::statsd::{
    Aggregator, MAX_VALUES_PER_DATUM, StatsdKind, StatsdListener, StatsdMetric, StatsdOptions,
};

fn listener() -> StatsdListener {
    StatsdListener::bind(&StatsdOptions {
        service_address: "127.0.0.1:0".into(),
        ..StatsdOptions::default()
    })
    .unwrap()
}

/// Drains until `want` metrics arrived (UDP delivery is asynchronous).
fn drain_until(l: &StatsdListener, want: usize) -> Vec<StatsdMetric> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    while got.len() < want && Instant::now() < deadline {
        got.extend(l.drain());
        std::thread::sleep(Duration::from_millis(10));
    }
    got.sort_by(|a, b| a.name.cmp(&b.name));
    got
}

fn by_name<'a>(ms: &'a [StatsdMetric], name: &str) -> &'a StatsdMetric {
    ms.iter().find(|m| m.name == name).unwrap()
}

#[test]
fn udp_packet_aggregates_every_type() {
    let l = listener();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let packet = "page.views:1|c\n\
                  page.views:2|c|@0.5\n\
                  queue.depth:10|g\n\
                  queue.depth:+5|g\n\
                  queue.depth:-3|g\n\
                  latency:10|ms|#route:/a\n\
                  latency:10|ms|#route:/a\n\
                  latency:20|ms|@0.25|#route:/a\n\
                  users:alice|s\nusers:bob|s\nusers:alice|s\n\
                  garbage line\n";
    client.send_to(packet.as_bytes(), l.local_addr()).unwrap();
    let ms = drain_until(&l, 4);
    assert_eq!(ms.len(), 4, "{ms:?}");

    let views = by_name(&ms, "page_views");
    assert_eq!(views.kind, StatsdKind::Counter);
    assert_eq!(views.values, vec![5.0]); // 1 + 2 / 0.5

    let depth = by_name(&ms, "queue_depth");
    assert_eq!(depth.kind, StatsdKind::Gauge);
    assert_eq!(depth.values, vec![12.0]); // 10, +5, -3

    let lat = by_name(&ms, "latency");
    assert_eq!(lat.kind, StatsdKind::Timer);
    assert_eq!(lat.tags, vec![("route".to_string(), "/a".to_string())]);
    assert_eq!(lat.values, vec![10.0, 20.0]);
    assert_eq!(lat.counts, vec![2.0, 4.0]); // 20 sampled at 1/4

    let users = by_name(&ms, "users");
    assert_eq!(users.kind, StatsdKind::Set);
    assert_eq!(users.values, vec![2.0]);

    assert_eq!(l.rejected(), 1);
    // Drained: the next interval starts empty.
    assert!(l.drain().is_empty());
}

#[test]
fn gauges_keep_the_last_value_and_tags_split_series() {
    let mut a = Aggregator::new("_");
    a.ingest_packet(b"temp:1|g|#room:a\ntemp:2|g|#room:b\ntemp:3|g|#room:a\r\n");
    let ms = a.drain();
    assert_eq!(ms.len(), 2);
    assert_eq!(ms[0].tags[0].1, "a");
    assert_eq!(ms[0].values, vec![3.0]);
    assert_eq!(ms[1].values, vec![2.0]);
}

#[test]
fn more_than_150_distinct_values_split_into_several_datums() {
    let mut a = Aggregator::new(".");
    let mut packet = String::new();
    for v in 0..400 {
        packet.push_str(&format!("req.time:{v}|ms\n"));
    }
    packet.push_str("req.time:7|h\n"); // a repeat counts, not a new value
    a.ingest_packet(packet.as_bytes());
    let ms = a.drain();
    assert_eq!(ms.len(), 3);
    assert_eq!(
        ms.iter().map(|m| m.values.len()).collect::<Vec<_>>(),
        vec![150, 150, 100]
    );
    assert!(ms.iter().all(|m| m.name == "req.time"));
    let total: f64 = ms.iter().flat_map(|m| m.counts.iter()).sum();
    assert_eq!(total, 401.0);
    assert_eq!(ms[0].values[7], 7.0);
    assert_eq!(ms[0].counts[7], 2.0);
    // Values come out sorted across the split.
    let all: Vec<f64> = ms.iter().flat_map(|m| m.values.clone()).collect();
    assert!(all.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn overflowing_values_are_rejected_not_published_as_inf() {
    let mut a = Aggregator::new("_");
    a.ingest_packet(b"big:1e308|c\nbig:1e308|c\nt:1|ms|@1e-320\ng:1e308|g\ng:+1e308|g\n");
    let ms = a.drain();
    check_drained(&ms);
    assert_eq!(by_name(&ms, "big").values, vec![1e308]);
    assert_eq!(by_name(&ms, "g").values, vec![1e308]);
    assert_eq!(a.rejected, 3);
}

#[test]
fn dropping_the_listener_stops_its_thread() {
    let l = listener();
    let addr = l.local_addr();
    let start = Instant::now();
    drop(l);
    assert!(start.elapsed() < Duration::from_secs(2));
    // The port is free again.
    UdpSocket::bind(addr).unwrap();
}

fn check_drained(ms: &[StatsdMetric]) {
    for m in ms {
        assert_eq!(m.values.len(), m.counts.len());
        assert!(!m.values.is_empty() && m.values.len() <= MAX_VALUES_PER_DATUM);
        assert!(m.values.iter().chain(&m.counts).all(|v| v.is_finite()));
        assert!(!m.name.is_empty());
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(packet in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut a = Aggregator::new("_");
        a.ingest_packet(&packet);
        check_drained(&a.drain());
    }

    #[test]
    fn statsd_shaped_garbage_never_panics(
        lines in proptest::collection::vec("[a-z.,=#:|@+\\-0-9eE \r]{0,40}", 0..20)
    ) {
        let mut a = Aggregator::new("_");
        a.ingest_packet(lines.join("\n").as_bytes());
        check_drained(&a.drain());
    }

    #[test]
    fn counters_sum_what_was_sent(values in proptest::collection::vec(0u32..1000, 1..50)) {
        let mut a = Aggregator::new("_");
        let packet: String = values.iter().map(|v| format!("n:{v}|c\n")).collect();
        a.ingest_packet(packet.as_bytes());
        let ms = a.drain();
        let expected: f64 = values.iter().map(|&v| f64::from(v)).sum();
        prop_assert_eq!(ms.len(), 1);
        prop_assert_eq!(ms[0].values[0], expected);
    }
}
