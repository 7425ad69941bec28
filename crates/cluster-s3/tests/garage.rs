//! The same scenarios as `tests/memory.rs` against a real Garage S3 server on 127.0.0.1,
//! plus what only a real server shows: multipart ETags, refused credentials, a missing
//! bucket, and the store going away. Fails (never skips) when garage is not built.

mod common;
mod support;

use bytes::Bytes;
use stratus_cluster_s3::{BlockStore, S3Config, StoreError};

/// One server for all scenarios (starting Garage takes seconds); each scenario gets its own
/// prefix so their listings do not see each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garage_block_store() {
    stratus_cluster_s3::install_crypto();
    let mut garage = support::Garage::start();
    let store = BlockStore::s3(&garage.config).unwrap();
    store.check().await.unwrap();

    common::put_get_overwrite(&store.with_prefix("put")).await;
    common::list_by_segment_prefix(&store.with_prefix("list")).await;
    common::prefixes_isolate(&store.with_prefix("iso")).await;
    common::delete_is_idempotent(&store.with_prefix("del")).await;
    common::invalid_keys_refused(&store.with_prefix("invalid")).await;
    common::files_roundtrip(&store.with_prefix("files")).await;

    // Multipart really happened: S3 ETags of multipart objects end in -<parts>.
    let multi = store.with_prefix("multi");
    let key = common::multipart_roundtrip(&multi).await;
    let tag = multi.e_tag(key).await.unwrap().unwrap_or_default();
    assert!(
        tag.trim_matches('"').ends_with("-3"),
        "multipart ETag {tag:?}"
    );
    multi.put("single", Bytes::from_static(b"x")).await.unwrap();
    let tag = multi.e_tag("single").await.unwrap().unwrap_or_default();
    assert!(!tag.contains('-'), "single-PUT ETag {tag:?}");

    // The store's prefix is where the objects are: a prefix-less view sees them under it.
    let root = BlockStore::s3(&S3Config {
        prefix: String::new(),
        ..garage.config.clone()
    })
    .unwrap();
    let under = root
        .list(&format!("{}/put", garage.config.prefix))
        .await
        .unwrap();
    assert!(
        under.iter().any(|o| o.key.ends_with("/put/a/b/1.blk")),
        "{under:?}"
    );

    // Wrong secret: refused, and not mistaken for an outage (retrying would not help).
    let bad = BlockStore::s3(&S3Config {
        secret_access_key: "0".repeat(64),
        ..garage.config.clone()
    })
    .unwrap();
    let refused = bad.check().await;
    assert!(matches!(refused, Err(StoreError::Other(_))), "{refused:?}");
    let refused = bad.get("put/a/b/1.blk").await;
    assert!(matches!(refused, Err(StoreError::Other(_))), "{refused:?}");

    // A bucket that does not exist fails the readiness probe.
    let nobucket = BlockStore::s3(&S3Config {
        bucket: "no-such-bucket".into(),
        ..garage.config.clone()
    })
    .unwrap();
    let missing = nobucket.check().await;
    assert!(matches!(missing, Err(StoreError::Other(_))), "{missing:?}");

    // The store crashes: calls fail as Unavailable (worth retrying), not NotFound. After a
    // restart, what was acknowledged before the crash is all there.
    if garage.crash() {
        let down = store.check().await;
        assert!(matches!(down, Err(StoreError::Unavailable(_))), "{down:?}");
        let down = store.get("put/a/b/1.blk").await;
        assert!(matches!(down, Err(StoreError::Unavailable(_))), "{down:?}");
        garage.restart();
        store.check().await.unwrap();
        let back = store.get("put/a/b/1.blk").await.unwrap();
        assert_eq!(back, Bytes::from_static(b"second, longer"));
        let big = store.head("multi/m/big.blk").await.unwrap();
        assert_eq!(big.size, 12 * common::MIB as u64 + 123);
    }
}
