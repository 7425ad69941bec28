//! The ingest log against a real 3-server JetStream cluster (and one single server).

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::stream::{Config as StreamConfig, DiscardPolicy, RetentionPolicy};
use bytes::Bytes;
use common::{config, connect, publish_retrying, read_n};
use stratus_cluster_nats::testing::NatsCluster;
use stratus_cluster_nats::{IngestLog, LogConfig, LogError};
use tokio::sync::Mutex;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_in_order_across_partitions() {
    let cluster = NatsCluster::start(3).await.unwrap();
    let log = connect(config(cluster.urls(), 3, 3)).await;
    assert_eq!(log.partitions(), 3);

    let msgs: Vec<(u32, String, Bytes)> = (0..60u32)
        .map(|i| {
            (
                i % 3,
                format!("id-{i}"),
                Bytes::from(format!("payload-{i}")),
            )
        })
        .collect();
    let acks = log.publish_all(msgs.clone()).await.unwrap();
    assert_eq!(acks.len(), 60);
    for (i, ack) in acks.iter().enumerate() {
        assert_eq!(ack.partition, i as u32 % 3);
        // Publishes are pipelined but each partition's order is the send order.
        assert_eq!(ack.seq, i as u64 / 3 + 1, "ack {i}");
        assert!(!ack.duplicate);
    }

    for p in 0..3u32 {
        let mut reader = log.reader(p, 1);
        let got = read_n(&mut reader, 20).await;
        let want: Vec<Bytes> = msgs
            .iter()
            .filter(|m| m.0 == p)
            .map(|m| m.2.clone())
            .collect();
        assert_eq!(
            got.iter().map(|e| e.seq).collect::<Vec<_>>(),
            (1..=20).collect::<Vec<_>>()
        );
        assert_eq!(got.into_iter().map(|e| e.payload).collect::<Vec<_>>(), want);
        assert_eq!(reader.position(), 21);
        assert_eq!(reader.next(Duration::from_millis(300)).await.unwrap(), None);

        let info = log.info(p).await.unwrap();
        assert_eq!((info.first_seq, info.last_seq, info.messages), (1, 20, 20));
        assert!(info.leader.is_some());
        assert!(info.replicas_current >= 2, "{info:?}");
    }

    // A reader from the middle starts exactly there, and sees later publishes.
    let mut mid = log.reader(1, 15);
    let tail = read_n(&mut mid, 6).await;
    assert_eq!(
        tail.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (15..=20).collect::<Vec<_>>()
    );
    log.publish(1, "late", Bytes::from_static(b"late"))
        .await
        .unwrap();
    let late = mid.next(Duration::from_secs(10)).await.unwrap().unwrap();
    assert_eq!((late.seq, &late.payload[..]), (21, &b"late"[..]));

    // Connecting again verifies the existing streams (changing a limit) and keeps the data.
    let again = connect(LogConfig {
        max_bytes: 32 << 20,
        ..config(cluster.urls(), 3, 3)
    })
    .await;
    assert_eq!(again.info(1).await.unwrap().messages, 21);
    let raw = async_nats::jetstream::new(async_nats::connect(cluster.urls()).await.unwrap());
    let mut stream = raw.get_stream("STRATUS_INGEST_P1").await.unwrap();
    let stored = stream.info().await.unwrap().config.clone();
    assert_eq!(stored.max_bytes, 32 << 20, "the changed limit was applied");
    assert_eq!(stored.discard, DiscardPolicy::New);
    assert_eq!(stored.retention, RetentionPolicy::Limits);
    assert_eq!(stored.num_replicas, 3);

    // A stream of ours with a shape we cannot change in place is a Config error, untouched.
    raw.create_stream(StreamConfig {
        name: "OTHER_P0".into(),
        subjects: vec!["other.0".into()],
        retention: RetentionPolicy::WorkQueue,
        num_replicas: 3,
        max_bytes: 1 << 20,
        ..Default::default()
    })
    .await
    .unwrap();
    let clash = IngestLog::connect(
        LogConfig {
            prefix: "OTHER".into(),
            subject_prefix: "other".into(),
            ..config(cluster.urls(), 1, 3)
        },
        Duration::from_secs(30),
    )
    .await;
    assert!(
        matches!(clash, Err(LogError::Config(_))),
        "{:?}",
        clash.err()
    );
    // Out-of-range partitions are a configuration error, not a hang.
    assert!(matches!(
        again.publish(3, "x", Bytes::new()).await,
        Err(LogError::Config(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_msg_id_is_stored_once() {
    let cluster = NatsCluster::start(3).await.unwrap();
    let log = connect(config(cluster.urls(), 2, 3)).await;

    let first = log
        .publish(0, "batch-1", Bytes::from_static(b"one"))
        .await
        .unwrap();
    assert_eq!((first.seq, first.duplicate), (1, false));
    let again = log
        .publish(0, "batch-1", Bytes::from_static(b"retry"))
        .await
        .unwrap();
    assert_eq!((again.seq, again.duplicate), (1, true));
    // The same id on another partition is another stream's business.
    let other = log
        .publish(1, "batch-1", Bytes::from_static(b"p1"))
        .await
        .unwrap();
    assert_eq!((other.partition, other.seq, other.duplicate), (1, 1, false));
    let second = log
        .publish(0, "batch-2", Bytes::from_static(b"two"))
        .await
        .unwrap();
    assert_eq!((second.seq, second.duplicate), (2, false));
    // Duplicates inside one pipelined batch too.
    let batch = log
        .publish_all(vec![
            (0, "batch-2".into(), Bytes::from_static(b"dup")),
            (0, "batch-3".into(), Bytes::from_static(b"three")),
        ])
        .await
        .unwrap();
    assert_eq!((batch[0].seq, batch[0].duplicate), (2, true));
    assert_eq!((batch[1].seq, batch[1].duplicate), (3, false));

    assert_eq!(log.info(0).await.unwrap().messages, 3);
    let mut reader = log.reader(0, 1);
    let got = read_n(&mut reader, 3).await;
    let payloads: Vec<&[u8]> = got.iter().map(|e| &e.payload[..]).collect();
    assert_eq!(payloads, vec![&b"one"[..], b"two", b"three"]);
    assert_eq!(reader.next(Duration::from_millis(300)).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reader_resumes_exactly_across_server_kill_and_restart() {
    const N: usize = 400;
    let mut cluster = NatsCluster::start(3).await.unwrap();
    let log = connect(config(cluster.urls(), 2, 3)).await;

    // Acknowledged payloads by partition and seq, filled by the publisher.
    let acked: Arc<Mutex<BTreeMap<(u32, u64), Bytes>>> = Arc::default();
    let publisher = {
        let (log, acked) = (log.clone(), acked.clone());
        tokio::spawn(async move {
            for i in 0..N {
                let p = (i % 2) as u32;
                let payload = Bytes::from(format!("m-{i}"));
                let ack = publish_retrying(&log, p, &format!("id-{i}"), payload.clone()).await;
                let prev = acked.lock().await.insert((p, ack.seq), payload);
                assert!(
                    prev.is_none(),
                    "seq {} of partition {p} acked twice",
                    ack.seq
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    // Readers run concurrently; each reads its partition to N/2 entries.
    let readers: Vec<_> = (0..2u32)
        .map(|p| {
            let mut reader = log.reader(p, 1);
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut idle = 0;
                while got.len() < N / 2 {
                    match reader.next(Duration::from_secs(1)).await {
                        Ok(Some(e)) => got.push(e),
                        Ok(None) | Err(LogError::Unavailable(_)) => {
                            idle += 1;
                            eprintln!(
                                "partition {p} reader idle/unavailable at {}",
                                reader.position()
                            );
                            assert!(idle < 180, "partition {p} reader stalled at {}", got.len());
                        }
                        Err(e) => panic!("partition {p} reader: {e}"),
                    }
                }
                // Nothing beyond what was published.
                assert_eq!(reader.next(Duration::from_millis(500)).await.unwrap(), None);
                got
            })
        })
        .collect();

    // Kill partition 0's stream leader mid-way, so both the stream and (likely) the reader's
    // consumer and the client connection must fail over.
    while acked.lock().await.len() < N / 4 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let leader = log
        .info(0)
        .await
        .unwrap()
        .leader
        .expect("partition 0 has a leader");
    let victim = cluster.index_of(&leader).expect("leader is one of ours");
    cluster.kill(victim);
    while acked.lock().await.len() < N / 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.restart(victim).await.unwrap();

    publisher.await.unwrap();
    let acked = acked.lock().await.clone();
    assert_eq!(acked.len(), N, "every message acknowledged once");
    let mut seen: HashMap<Bytes, usize> = HashMap::new();
    for (p, reader) in readers.into_iter().enumerate() {
        let got = reader.await.unwrap();
        let seqs: Vec<u64> = got.iter().map(|e| e.seq).collect();
        assert_eq!(
            seqs,
            (1..=(N / 2) as u64).collect::<Vec<_>>(),
            "partition {p}: gap or repeat"
        );
        for e in got {
            assert_eq!(
                acked.get(&(p as u32, e.seq)),
                Some(&e.payload),
                "partition {p} seq {}",
                e.seq
            );
            *seen.entry(e.payload).or_default() += 1;
        }
    }
    assert_eq!(seen.len(), N, "every acknowledged payload read");
    assert!(seen.values().all(|&c| c == 1), "a payload was read twice");

    // The restarted server catches up: all three replicas current again.
    let mut current = 0;
    for _ in 0..100 {
        current = log.info(0).await.map(|i| i.replicas_current).unwrap_or(0);
        if current == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(current, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_below_then_reading_purged_seq_is_refused() {
    let cluster = NatsCluster::start(3).await.unwrap();
    let log = connect(config(cluster.urls(), 1, 3)).await;
    let msgs = (1..=10)
        .map(|i| (0, format!("id-{i}"), Bytes::from(format!("{i}"))))
        .collect();
    log.publish_all(msgs).await.unwrap();

    log.purge_below(0, 6).await.unwrap();
    let info = log.info(0).await.unwrap();
    assert_eq!((info.first_seq, info.last_seq, info.messages), (6, 10, 5));

    let mut stale = log.reader(0, 3);
    match stale.next(Duration::from_secs(5)).await {
        Err(LogError::Refused(m)) => assert!(m.contains('3') && m.contains('6'), "{m}"),
        other => panic!("expected Refused, got {other:?}"),
    }
    assert_eq!(stale.position(), 3, "a refused reader does not move");

    let mut fresh = log.reader(0, 6);
    let got = read_n(&mut fresh, 5).await;
    assert_eq!(
        got.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![6, 7, 8, 9, 10]
    );
    assert_eq!(&got[0].payload[..], b"6");

    // Purging everything leaves an empty log that continues at the next seq.
    log.purge_below(0, 11).await.unwrap();
    let info = log.info(0).await.unwrap();
    assert_eq!(info.messages, 0);
    let ack = log
        .publish(0, "id-11", Bytes::from_static(b"11"))
        .await
        .unwrap();
    assert_eq!(ack.seq, 11);
    let mut after = log.reader(0, 11);
    assert_eq!(
        after
            .next(Duration::from_secs(5))
            .await
            .unwrap()
            .unwrap()
            .seq,
        11
    );
    assert!(matches!(
        log.reader(0, 10).next(Duration::from_secs(5)).await,
        Err(LogError::Refused(_))
    ));

    // A message deleted from the middle (not by us; an operator) is refused, never skipped.
    for i in 12..=14 {
        log.publish(0, &format!("id-{i}"), Bytes::from(format!("{i}")))
            .await
            .unwrap();
    }
    let raw = async_nats::jetstream::new(async_nats::connect(cluster.urls()).await.unwrap());
    let stream = raw.get_stream("STRATUS_INGEST_P0").await.unwrap();
    assert!(stream.delete_message(13).await.unwrap());
    let mut holed = log.reader(0, 11);
    let got = read_n(&mut holed, 2).await;
    assert_eq!(got.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![11, 12]);
    match holed.next(Duration::from_secs(5)).await {
        Err(LogError::Refused(m)) => assert!(m.contains("13") && m.contains("14"), "{m}"),
        other => panic!("expected Refused for the deleted seq, got {other:?}"),
    }
    assert_eq!(holed.position(), 13);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_server_with_one_replica() {
    let cluster = NatsCluster::start(1).await.unwrap();
    let log = connect(LogConfig {
        max_bytes: 16 * 1024,
        ..config(cluster.urls(), 2, 1)
    })
    .await;
    let a = log
        .publish(1, "a", Bytes::from_static(b"alpha"))
        .await
        .unwrap();
    assert_eq!((a.partition, a.seq), (1, 1));
    let mut reader = log.reader(1, 0);
    let e = reader.next(Duration::from_secs(5)).await.unwrap().unwrap();
    assert_eq!((e.seq, &e.payload[..]), (1, &b"alpha"[..]));
    assert_eq!(log.info(1).await.unwrap().replicas_current, 1);
    // Over the server's max_payload (1 MiB by default): refused, not retryable.
    let huge = Bytes::from(vec![0u8; 2 << 20]);
    assert!(matches!(
        log.publish(1, "huge", huge).await,
        Err(LogError::Refused(_))
    ));

    // A full stream refuses writes (discard New) and keeps what it has.
    let big = Bytes::from(vec![7u8; 1024]);
    let mut refused = None;
    for i in 0..64 {
        match log.publish(0, &format!("big-{i}"), big.clone()).await {
            Ok(_) => {}
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    assert!(matches!(refused, Some(LogError::Refused(_))), "{refused:?}");
    let info = log.info(0).await.unwrap();
    assert_eq!(info.first_seq, 1, "nothing old was dropped");
    assert!(info.messages > 0 && info.bytes <= 16 * 1024, "{info:?}");
}

#[tokio::test]
async fn connect_gives_up_as_unavailable_when_no_server_answers() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = config(vec![format!("nats://127.0.0.1:{port}")], 1, 1);
    let res = IngestLog::connect(cfg, Duration::from_millis(500)).await;
    assert!(matches!(res, Err(LogError::Unavailable(_))));
    let bad = IngestLog::connect(LogConfig::default(), Duration::ZERO).await;
    assert!(matches!(bad, Err(LogError::Config(_))));
}
