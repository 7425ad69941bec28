//! The PostgreSQL backend through `MetaStore`, against a real server on
//! 127.0.0.1: the redb backend's behaviour where it applies.

use super::*;
use std::time::Duration;
use stratus_cluster_pg::testing::TempPostgres;

const T: Table = Table::new("t");

fn store(server: &TempPostgres) -> MetaStore {
    MetaStore::postgres(Pg::connect(&server.url(), Duration::from_secs(30)).unwrap())
}

#[test]
fn put_get_list_delete_and_abort() {
    let server = TempPostgres::start();
    let m = store(&server);
    assert!(m.pg().is_some());
    assert_eq!(m.get::<u32>(T, "a").unwrap(), None);
    m.put(T, "b", &2u32).unwrap();
    m.put(T, "a", &1u32).unwrap();
    assert_eq!(m.get::<u32>(T, "a").unwrap(), Some(1));
    let all: Vec<(String, u32)> = m.list(T).unwrap();
    assert_eq!(all, vec![("a".into(), 1), ("b".into(), 2)]);
    assert_eq!(m.keys_below(T, "b").unwrap(), ["a"]);
    assert_eq!(m.table_version(T).unwrap(), 2);
    // A failing transaction commits nothing, though it read its own write.
    let r: Result<()> = m.transact(|tx| {
        tx.put(T, "c", &3u32)?;
        assert_eq!(tx.get::<u32>(T, "c")?, Some(3));
        assert_eq!(tx.list::<u32>(T)?.len(), 3);
        Err(MetaError::Db("boom".into()))
    });
    assert!(r.is_err());
    assert_eq!(m.get::<u32>(T, "c").unwrap(), None);
    assert_eq!(m.table_version(T).unwrap(), 2);
    assert!(m.delete(T, "a").unwrap());
    assert!(!m.delete(T, "a").unwrap());
    // A record that is not the expected type is reported, not misread.
    m.put(T, "s", &"text").unwrap();
    assert!(matches!(
        m.get::<u32>(T, "s"),
        Err(MetaError::Corrupt { table: "t", .. })
    ));
    // Another store on the same database (another node) sees it all.
    let other = store(&server);
    assert_eq!(other.get::<u32>(T, "b").unwrap(), Some(2));
    assert_eq!(other.list::<serde_json::Value>(T).unwrap().len(), 2);
}

#[test]
fn a_fenced_transaction_commits_nothing() {
    let server = TempPostgres::start();
    let m = store(&server);
    let pg = m.pg().unwrap();
    let ttl = Duration::from_secs(30);
    let epoch = pg
        .lease_acquire("alarm-shard", 1, "n1", ttl)
        .unwrap()
        .unwrap();
    m.transact(|tx| {
        tx.fence("alarm-shard", 1, "n1", epoch)?;
        tx.put(T, "alarm", &1u32)
    })
    .unwrap();
    let r = m.transact(|tx| {
        tx.put(T, "alarm", &2u32)?;
        tx.fence("alarm-shard", 1, "n1", epoch + 1)
    });
    assert!(matches!(r, Err(MetaError::Fenced(_))), "{r:?}");
    assert_eq!(m.get::<u32>(T, "alarm").unwrap(), Some(1));
}

#[test]
fn redb_has_no_fencing_or_versions() {
    let dir = tempfile::tempdir().unwrap();
    let m = MetaStore::open(&dir.path().join("m.redb")).unwrap();
    assert!(m.pg().is_none());
    m.transact(|tx| {
        tx.fence("alarm-shard", 1, "n1", 1)?;
        tx.put(T, "a", &1u32)
    })
    .unwrap();
    assert_eq!(m.table_version(T).unwrap(), 0);
}

#[test]
fn unavailable_while_the_server_is_down_and_recovers_after() {
    let server = TempPostgres::start();
    let m = store(&server);
    m.put(T, "a", &1u32).unwrap();
    server.stop();
    assert!(matches!(
        m.put(T, "b", &2u32),
        Err(MetaError::Unavailable(_))
    ));
    assert!(matches!(
        m.get::<u32>(T, "a"),
        Err(MetaError::Unavailable(_))
    ));
    assert!(matches!(m.list::<u32>(T), Err(MetaError::Unavailable(_))));
    server.resume();
    // The first call after the server returns may still find a dead
    // connection; the store recovers by itself within a couple of calls.
    let mut tries = 0;
    let all = loop {
        match m.list::<u32>(T) {
            Ok(all) => break all,
            Err(MetaError::Unavailable(_)) if tries < 3 => tries += 1,
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(
        all,
        vec![("a".to_string(), 1)],
        "the refused write is absent"
    );
    m.put(T, "b", &2u32).unwrap();
    assert_eq!(m.get::<u32>(T, "b").unwrap(), Some(2));
}
