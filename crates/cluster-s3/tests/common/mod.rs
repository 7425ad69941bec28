//! Scenarios run against every backend: `tests/memory.rs` (in memory) and `tests/garage.rs`
//! (a real Garage S3 server on loopback).

#![allow(dead_code)] // each test binary uses a different subset

use bytes::Bytes;
use stratus_cluster_s3::{BlockStore, StoreError};

pub const MIB: usize = 1024 * 1024;

/// Deterministic, incompressible-looking bytes (a file of zeros would hide offset bugs).
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub async fn put_get_overwrite(store: &BlockStore) {
    store
        .put("a/b/1.blk", Bytes::from_static(b"first"))
        .await
        .unwrap();
    assert_eq!(
        store.get("a/b/1.blk").await.unwrap(),
        Bytes::from_static(b"first")
    );
    store
        .put("a/b/1.blk", Bytes::from_static(b"second, longer"))
        .await
        .unwrap();
    assert_eq!(
        store.get("a/b/1.blk").await.unwrap(),
        Bytes::from_static(b"second, longer")
    );
    let info = store.head("a/b/1.blk").await.unwrap();
    assert_eq!((info.key.as_str(), info.size), ("a/b/1.blk", 14));
    store.put("empty", Bytes::new()).await.unwrap();
    assert!(store.get("empty").await.unwrap().is_empty());
    match store.get("a/b/2.blk").await {
        Err(StoreError::NotFound(key)) => assert_eq!(key, "a/b/2.blk"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(matches!(
        store.head("nope").await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn list_by_segment_prefix(store: &BlockStore) {
    for (key, body) in [
        ("p/1/x", "xx"),
        ("p/1/y", "yyy"),
        ("p/10/z", "z"),
        ("q/w", "wwww"),
    ] {
        store.put(key, Bytes::from(body)).await.unwrap();
    }
    let keys = |v: Vec<stratus_cluster_s3::ObjectInfo>| {
        v.into_iter().map(|o| (o.key, o.size)).collect::<Vec<_>>()
    };
    let p1 = store.list("p/1").await.unwrap();
    // 2020-01-01 in ms: a sanity bound on the unit (seconds or ns would fail it).
    assert!(
        p1.iter().all(|o| o.last_modified_ms > 1_577_836_800_000),
        "{p1:?}"
    );
    assert!(
        p1.iter().all(|o| o.last_modified_ms < 4_102_444_800_000),
        "{p1:?}"
    );
    assert_eq!(
        keys(p1),
        [("p/1/x".to_string(), 2), ("p/1/y".to_string(), 3)]
    );
    assert_eq!(keys(store.list("p/1/").await.unwrap()).len(), 2);
    assert_eq!(
        keys(store.list("").await.unwrap()),
        [
            ("p/1/x".to_string(), 2),
            ("p/1/y".to_string(), 3),
            ("p/10/z".to_string(), 1),
            ("q/w".to_string(), 4),
        ]
    );
    assert!(store.list("nothing/here").await.unwrap().is_empty());
}

pub async fn prefixes_isolate(store: &BlockStore) {
    let one = store.with_prefix("t1");
    let two = store.with_prefix("/t2/");
    assert_eq!(two.prefix().rsplit('/').next(), Some("t2"));
    one.put("k", Bytes::from_static(b"one")).await.unwrap();
    two.put("k", Bytes::from_static(b"two")).await.unwrap();
    assert_eq!(one.get("k").await.unwrap(), Bytes::from_static(b"one"));
    assert_eq!(two.get("k").await.unwrap(), Bytes::from_static(b"two"));
    let listed: Vec<_> = one
        .list("")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(listed, ["k"]);
    let parent: Vec<_> = store
        .list("")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(parent, ["t1/k", "t2/k"]);
    assert_eq!(store.get("t2/k").await.unwrap(), Bytes::from_static(b"two"));
}

pub async fn delete_is_idempotent(store: &BlockStore) {
    store.put("d/1", Bytes::from_static(b"x")).await.unwrap();
    store.put("d/2", Bytes::from_static(b"y")).await.unwrap();
    store.delete("d/1").await.unwrap();
    assert!(matches!(
        store.get("d/1").await,
        Err(StoreError::NotFound(_))
    ));
    store.delete("d/1").await.unwrap();
    store.delete("d/never-existed").await.unwrap();
    let left: Vec<_> = store
        .list("d")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(left, ["d/2"]);
}

pub async fn invalid_keys_refused(store: &BlockStore) {
    for key in ["", "/a", "a/", "a//b", "a/../b", "./a"] {
        match store.put(key, Bytes::from_static(b"x")).await {
            Err(StoreError::Other(msg)) => assert!(msg.contains("invalid key"), "{key:?}: {msg}"),
            other => panic!("{key:?}: expected Other, got {other:?}"),
        }
        assert!(
            matches!(store.get(key).await, Err(StoreError::Other(_))),
            "{key:?}"
        );
    }
    assert!(
        store.list("").await.unwrap().is_empty(),
        "nothing was written"
    );
}

/// Small file up and back; the download replaces an existing file and leaves no temp file.
pub async fn files_roundtrip(store: &BlockStore) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.blk");
    let body = pattern(100_003, 1);
    std::fs::write(&src, &body).unwrap();
    assert_eq!(store.put_file("f/small.blk", &src).await.unwrap(), 100_003);
    assert_eq!(store.get("f/small.blk").await.unwrap().as_ref(), &body[..]);

    let out_dir = dir.path().join("cache");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("small.blk");
    std::fs::write(&out, b"stale contents").unwrap();
    assert_eq!(
        store.get_to_file("f/small.blk", &out).await.unwrap(),
        100_003
    );
    assert_eq!(std::fs::read(&out).unwrap(), body);
    assert_eq!(dir_names(&out_dir), ["small.blk"]);

    // A missing key creates nothing and leaves the existing file alone.
    let missing = store.get_to_file("f/missing.blk", &out).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), body);
    assert_eq!(dir_names(&out_dir), ["small.blk"]);

    // A missing source file is a local error, not a store error.
    let gone = store.put_file("f/gone.blk", &dir.path().join("gone")).await;
    assert!(matches!(gone, Err(StoreError::Other(_))), "{gone:?}");
}

/// A file above the (lowered) threshold goes up in 5 MiB parts plus a short last part and
/// comes back byte for byte. Returns the key for backend-specific checks.
pub async fn multipart_roundtrip(store: &BlockStore) -> &'static str {
    let store = store.clone().with_multipart(MIB as u64, 5 * MIB);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big.blk");
    let len = 12 * MIB + 123;
    let body = pattern(len, 7);
    std::fs::write(&src, &body).unwrap();
    assert_eq!(store.put_file("m/big.blk", &src).await.unwrap(), len as u64);
    assert_eq!(store.head("m/big.blk").await.unwrap().size, len as u64);
    let out = dir.path().join("back.blk");
    assert_eq!(
        store.get_to_file("m/big.blk", &out).await.unwrap(),
        len as u64
    );
    assert!(
        std::fs::read(&out).unwrap() == body,
        "multipart object differs from its file"
    );
    "m/big.blk"
}

fn dir_names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
