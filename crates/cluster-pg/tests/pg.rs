//! Behaviour tests against a real PostgreSQL server on 127.0.0.1.

use std::sync::Arc;
use std::time::Duration;
use stratus_cluster_pg::testing::TempPostgres;
use stratus_cluster_pg::{Pg, PgError};

fn connect(server: &TempPostgres) -> Pg {
    Pg::connect(&server.url(), Duration::from_secs(30)).unwrap()
}

#[test]
fn kv_round_trip_in_byte_order() {
    let server = TempPostgres::start();
    let pg = connect(&server);
    // A second connect re-runs the migration harmlessly.
    let pg2 = connect(&server);
    assert_eq!(pg.kv_get("t", "a").unwrap(), None);
    assert_eq!(pg.table_version("t").unwrap(), 0);
    // Byte order: uppercase before lowercase, "é" (0xC3..) after "z".
    let keys = ["b", "a", "Z", "é", "z", "a/1"];
    pg.transact(|tx| {
        for (i, k) in keys.iter().enumerate() {
            tx.put("t", k, format!("v{i}").as_bytes())?;
        }
        tx.put("other", "a", b"x")?;
        Ok::<_, PgError>(())
    })
    .unwrap();
    let listed: Vec<String> = pg2
        .kv_list("t")
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(listed, ["Z", "a", "a/1", "b", "z", "é"]);
    assert_eq!(pg.kv_get("t", "b").unwrap().as_deref(), Some(&b"v0"[..]));
    assert_eq!(pg.kv_keys_below("t", "b").unwrap(), ["Z", "a", "a/1"]);
    // Bounded ranges [start, end) in either direction, as redb's.
    let range = |start: &str, end: &str, reverse: bool, limit: i64| -> Vec<String> {
        pg.kv_range("t", start, end, reverse, limit)
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    };
    assert_eq!(range("a", "z", false, 10), ["a", "a/1", "b"]);
    assert_eq!(range("a", "z", true, 2), ["b", "a/1"]);
    assert_eq!(range("a", "a\u{1}", false, 10), ["a"]);
    assert_eq!(range("z", "~", false, 10), ["z"]);
    assert!(range("b", "a", false, 10).is_empty());
    assert_eq!(
        pg.kv_list("other").unwrap(),
        [("a".to_string(), b"x".to_vec())]
    );
    assert_eq!(pg.table_version("t").unwrap(), 1);
    // Overwrite and delete, seen inside the transaction.
    let seen = pg
        .transact(|tx| {
            tx.put("t", "a", b"new")?;
            assert!(tx.delete("t", "b")?);
            assert!(!tx.delete("t", "b")?);
            let got = tx.get("t", "a")?;
            Ok::<_, PgError>((got, tx.list("t")?.len()))
        })
        .unwrap();
    assert_eq!(seen, (Some(b"new".to_vec()), 5));
    assert_eq!(pg.kv_get("t", "b").unwrap(), None);
    assert_eq!(pg.table_version("t").unwrap(), 2);
    assert_eq!(pg.table_version("other").unwrap(), 1);
}

#[derive(Debug, thiserror::Error)]
enum TestError {
    #[error("boom")]
    Boom,
    #[error(transparent)]
    Pg(#[from] PgError),
}

#[test]
fn a_failing_transaction_commits_nothing() {
    let server = TempPostgres::start();
    let pg = connect(&server);
    pg.transact(|tx| tx.put("t", "keep", b"1")).unwrap();
    let r: Result<(), TestError> = pg.transact(|tx| {
        tx.put("t", "c", b"3")?;
        tx.delete("t", "keep")?;
        Err(TestError::Boom)
    });
    assert!(matches!(r, Err(TestError::Boom)));
    assert_eq!(pg.kv_get("t", "c").unwrap(), None);
    assert_eq!(pg.kv_get("t", "keep").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(pg.table_version("t").unwrap(), 1);
    // The connection is still usable afterwards.
    pg.transact(|tx| tx.put("t", "after", b"2")).unwrap();
}

#[test]
fn concurrent_transactions_never_lose_an_update() {
    let server = TempPostgres::start();
    let pg = connect(&server);
    const THREADS: usize = 3;
    const EACH: u64 = 40;
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let pg = pg.clone();
            std::thread::spawn(move || {
                for _ in 0..EACH {
                    pg.transact(|tx| {
                        let n: u64 = tx
                            .get("c", "n")?
                            .map_or(0, |v| String::from_utf8(v).unwrap().parse().unwrap());
                        // Widen the read-modify-write window.
                        std::thread::yield_now();
                        tx.put("c", "n", (n + 1).to_string().as_bytes())
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let n = pg.kv_get("c", "n").unwrap().unwrap();
    assert_eq!(
        String::from_utf8(n).unwrap(),
        (THREADS as u64 * EACH).to_string()
    );
    assert_eq!(
        pg.table_version("c").unwrap(),
        (THREADS as u64 * EACH) as i64
    );
}

#[test]
fn leases_renew_take_over_after_expiry_and_fence() {
    let server = TempPostgres::start();
    let pg = connect(&server);
    let ttl = Duration::from_millis(400);
    assert_eq!(pg.lease_acquire("shard", 7, "a", ttl).unwrap(), Some(1));
    // Renewal keeps the epoch; another owner is refused while it is live.
    assert_eq!(pg.lease_acquire("shard", 7, "a", ttl).unwrap(), Some(1));
    assert_eq!(pg.lease_acquire("shard", 7, "b", ttl).unwrap(), None);
    // A fenced write by the holder commits.
    pg.transact(|tx| {
        tx.fence("shard", 7, "a", 1)?;
        tx.put("alarms", "x", b"a1")
    })
    .unwrap();
    // Expired (by the database clock): b takes over with a higher epoch.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(pg.lease_acquire("shard", 7, "b", ttl).unwrap(), Some(2));
    let leases = pg.leases(Some("shard")).unwrap();
    assert_eq!(leases.len(), 1);
    assert_eq!((leases[0].owner.as_str(), leases[0].epoch), ("b", 2));
    assert!(leases[0].expires_in_ms > 0 && leases[0].expires_in_ms <= 400);
    // The zombie's fenced write is refused and rolls back entirely.
    let r = pg.transact(|tx| {
        tx.put("alarms", "x", b"zombie")?;
        tx.fence("shard", 7, "a", 1)
    });
    assert!(
        matches!(&r, Err(PgError::Fenced { kind, id: 7, epoch: 1 }) if kind == "shard"),
        "{r:?}"
    );
    assert_eq!(
        pg.kv_get("alarms", "x").unwrap().as_deref(),
        Some(&b"a1"[..])
    );
    // A fence on a lease that never existed refuses too.
    assert!(matches!(
        pg.transact(|tx| tx.fence("shard", 8, "a", 1)),
        Err(PgError::Fenced { .. })
    ));
    // Release: the next owner (even the same one) gets a higher epoch.
    pg.lease_release("shard", 7, "a").unwrap(); // not a's: no effect
    assert_eq!(pg.lease_acquire("shard", 7, "a", ttl).unwrap(), None);
    pg.lease_release("shard", 7, "b").unwrap();
    assert_eq!(pg.lease_acquire("shard", 7, "a", ttl).unwrap(), Some(3));
    assert_eq!(pg.leases(Some("partition")).unwrap(), []);
    assert_eq!(pg.leases(None).unwrap().len(), 1);
}

#[test]
fn commit_partition_refuses_fenced_and_stale_commits() {
    let server = TempPostgres::start();
    let pg = connect(&server);
    let ttl = Duration::from_millis(400);
    let m = |n: u64| serde_json::json!({ "blocks": [format!("p/3/{n}")] });
    // No lease at all: fenced.
    assert!(matches!(
        pg.commit_partition(3, "a", 1, 10, &m(10)),
        Err(PgError::Fenced { .. })
    ));
    let e1 = pg.lease_acquire("partition", 3, "a", ttl).unwrap().unwrap();
    pg.commit_partition(3, "a", e1, 10, &m(10)).unwrap();
    pg.commit_partition(3, "a", e1, 10, &m(10)).unwrap(); // same seq: idempotent
    assert!(matches!(
        pg.commit_partition(3, "a", e1, 9, &m(9)),
        Err(PgError::Stale(_))
    ));
    // Someone else's name at the right epoch is refused.
    assert!(matches!(
        pg.commit_partition(3, "b", e1, 11, &m(11)),
        Err(PgError::Fenced { .. })
    ));
    std::thread::sleep(Duration::from_millis(600));
    // Expired: even the holder's commit is refused.
    assert!(matches!(
        pg.commit_partition(3, "a", e1, 11, &m(11)),
        Err(PgError::Fenced { .. })
    ));
    let e2 = pg.lease_acquire("partition", 3, "b", ttl).unwrap().unwrap();
    assert_eq!(e2, e1 + 1);
    pg.commit_partition(3, "b", e2, 12, &m(12)).unwrap();
    // The zombie, even with a newer seq, stays fenced.
    assert!(matches!(
        pg.commit_partition(3, "a", e1, 20, &m(20)),
        Err(PgError::Fenced { epoch, .. }) if epoch == e1
    ));
    let ck = pg.partition_checkpoint(3).unwrap().unwrap();
    assert_eq!((ck.seq, ck.epoch, ck.manifest.clone()), (12, e2, m(12)));
    assert!(ck.committed_at_ms > 1_600_000_000_000);
    assert_eq!(pg.partition_checkpoint(4).unwrap(), None);
    assert_eq!(pg.checkpoints().unwrap(), [(3, ck)]);
}

#[test]
fn settings_first_writer_wins_and_nodes_heartbeat() {
    let server = TempPostgres::start();
    let pg = connect(&server);
    assert_eq!(pg.setting_init("partitions", "8").unwrap(), "8");
    assert_eq!(pg.setting_init("partitions", "16").unwrap(), "8");
    let roles = vec!["ingester".to_string(), "query".to_string()];
    pg.node_heartbeat(
        "n1",
        "http://127.0.0.1:1",
        &roles,
        &serde_json::json!({"heads": 1}),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    pg.node_heartbeat(
        "n1",
        "http://127.0.0.1:2",
        &roles,
        &serde_json::json!({"heads": 2}),
    )
    .unwrap();
    let nodes = pg.nodes().unwrap();
    assert_eq!(nodes.len(), 1);
    let n = &nodes[0];
    assert_eq!(
        (n.id.as_str(), n.url.as_str()),
        ("n1", "http://127.0.0.1:2")
    );
    assert_eq!(n.roles, roles);
    assert_eq!(n.stats, serde_json::json!({"heads": 2}));
    assert!(n.heartbeat_age_ms >= 0 && n.heartbeat_age_ms < 60_000);
    assert!(n.started_at_ms > 1_600_000_000_000);
}

#[test]
fn two_owners_never_hold_one_claim_and_expired_claims_return() {
    let server = TempPostgres::start();
    let pg = connect(&server);
    let keys: Vec<String> = (0..200).map(|i| format!("k{i:03}")).collect();
    let long = Duration::from_secs(60);
    // Two owners race for every key, each from its own thread.
    let handles: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|owner| {
            let (pg, keys) = (pg.clone(), keys.clone());
            std::thread::spawn(move || {
                let mut got = Vec::new();
                for chunk in keys.chunks(10) {
                    got.extend(pg.claim("outbox", chunk, owner, long).unwrap());
                }
                got
            })
        })
        .collect();
    let got: Vec<Vec<String>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for k in &got[0] {
        assert!(!got[1].contains(k), "{k} claimed twice");
    }
    assert_eq!(got[0].len() + got[1].len(), keys.len());
    // The holder re-claims (renews); the other cannot.
    // Either owner may have won every race: take a key from whichever holds one.
    let (a, b, k) = match got[0].first() {
        Some(k) => ("a", "b", k.clone()),
        None => ("b", "a", got[1][0].clone()),
    };
    assert_eq!(
        pg.claim("outbox", std::slice::from_ref(&k), a, long)
            .unwrap(),
        vec![k.clone()]
    );
    assert_eq!(
        pg.claim("outbox", std::slice::from_ref(&k), b, long)
            .unwrap(),
        Vec::<String>::new()
    );
    assert!(
        pg.claim_held("outbox", &k, a, Duration::from_secs(30))
            .unwrap()
    );
    assert!(
        !pg.claim_held("outbox", &k, a, Duration::from_secs(90))
            .unwrap()
    );
    assert!(!pg.claim_held("outbox", &k, b, Duration::ZERO).unwrap());
    // Released: claimable by the other owner at once.
    pg.claim_release("outbox", &k, a).unwrap();
    assert!(!pg.claim_held("outbox", &k, a, Duration::ZERO).unwrap());
    assert_eq!(
        pg.claim("outbox", std::slice::from_ref(&k), b, long)
            .unwrap(),
        vec![k.clone()]
    );
    // Expired: claimable by another owner.
    let short = Duration::from_millis(300);
    assert_eq!(
        pg.claim("x", &["e".to_string()], "a", short).unwrap(),
        ["e"]
    );
    assert_eq!(
        pg.claim("x", &["e".to_string()], "b", short).unwrap(),
        Vec::<String>::new()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(!pg.claim_held("x", "e", "a", Duration::ZERO).unwrap());
    assert_eq!(pg.claim("x", &["e".to_string()], "b", long).unwrap(), ["e"]);
}

#[test]
fn calls_fail_unavailable_while_down_and_reconnect_by_themselves() {
    let server = TempPostgres::start();
    let pg = connect(&server);
    // Several pooled connections, all of which the restart kills.
    let pgs: Vec<_> = (0..3).map(|_| pg.clone()).collect();
    let threads: Vec<_> = pgs
        .into_iter()
        .map(|pg| std::thread::spawn(move || pg.transact(|tx| tx.put("t", "a", b"1")).unwrap()))
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());

    server.restart_immediate();
    // The first call may hit a dead pooled connection: Unavailable, never
    // anything else; the pool then reconnects by itself.
    let mut failures = 0;
    let value = loop {
        match pg.kv_get("t", "a") {
            Ok(v) => break v,
            Err(PgError::Unavailable(_)) if failures < 1 => failures += 1,
            Err(e) => panic!("after {failures} failures: {e}"),
        }
    };
    assert_eq!(value.as_deref(), Some(&b"1"[..]), "committed data survives");
    pg.transact(|tx| tx.put("t", "b", b"2")).unwrap();

    // Down: every call is Unavailable (and nothing changes).
    server.stop();
    let r = pg.transact(|tx| tx.put("t", "c", b"3"));
    assert!(matches!(r, Err(PgError::Unavailable(_))), "{r:?}");
    assert!(matches!(pg.kv_list("t"), Err(PgError::Unavailable(_))));
    assert!(matches!(
        pg.lease_acquire("p", 1, "a", Duration::from_secs(1)),
        Err(PgError::Unavailable(_))
    ));
    // connect() waits for the server up to its deadline.
    let later = {
        let url = server.url();
        std::thread::spawn(move || Pg::connect(&url, Duration::from_secs(60)))
    };
    std::thread::sleep(Duration::from_millis(300));
    server.resume();
    let pg2 = later.join().unwrap().unwrap();
    assert_eq!(pg.kv_get("t", "c").unwrap(), None);
    assert_eq!(pg2.kv_list("t").unwrap().len(), 2);
    let _ = Arc::new(pg2);
}

#[test]
fn a_panic_inside_a_transaction_rolls_back_and_frees_its_connection() {
    let server = TempPostgres::start();
    let pg = connect(&server);
    // More panics than the pool has connections: none may leak a slot.
    for _ in 0..20 {
        let pg2 = pg.clone();
        let r = std::thread::spawn(move || {
            pg2.transact(|tx| -> Result<(), PgError> {
                tx.put("t", "p", b"x")?;
                panic!("caller bug");
            })
        })
        .join();
        assert!(r.is_err());
    }
    assert_eq!(pg.kv_get("t", "p").unwrap(), None);
    pg.transact(|tx| tx.put("t", "q", b"y")).unwrap();
}
