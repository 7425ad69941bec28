//! The whole API on the in-memory backend, and a store that cannot be reached.

mod common;

use bytes::Bytes;
use stratus_cluster_s3::{BlockStore, S3Config, StoreError};

#[tokio::test]
async fn put_get_overwrite() {
    common::put_get_overwrite(&BlockStore::in_memory()).await;
}

#[tokio::test]
async fn list_by_segment_prefix() {
    common::list_by_segment_prefix(&BlockStore::in_memory()).await;
}

#[tokio::test]
async fn prefixes_isolate() {
    common::prefixes_isolate(&BlockStore::in_memory()).await;
}

#[tokio::test]
async fn delete_is_idempotent() {
    common::delete_is_idempotent(&BlockStore::in_memory()).await;
}

#[tokio::test]
async fn invalid_keys_refused() {
    common::invalid_keys_refused(&BlockStore::in_memory()).await;
}

#[tokio::test]
async fn files_roundtrip() {
    common::files_roundtrip(&BlockStore::in_memory()).await;
}

#[tokio::test]
async fn multipart_roundtrip() {
    common::multipart_roundtrip(&BlockStore::in_memory()).await;
}

#[tokio::test]
async fn check_ok() {
    BlockStore::in_memory().check().await.unwrap();
}

/// Nothing listens on the port: every call is `Unavailable` (after the client's retries),
/// never `NotFound` or `Other`, so callers know to retry later.
#[tokio::test]
async fn closed_port_is_unavailable() {
    stratus_cluster_s3::install_crypto();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let store = BlockStore::s3(&S3Config {
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        bucket: "stratus".into(),
        region: "garage".into(),
        access_key_id: "GK0000".into(),
        secret_access_key: "secret".into(),
        prefix: "blocks".into(),
    })
    .unwrap();
    let put = store.put("k", Bytes::from_static(b"x")).await;
    assert!(matches!(put, Err(StoreError::Unavailable(_))), "{put:?}");
    let get = store.get("k").await;
    assert!(matches!(get, Err(StoreError::Unavailable(_))), "{get:?}");
    let check = store.check().await;
    assert!(
        matches!(check, Err(StoreError::Unavailable(_))),
        "{check:?}"
    );
}

#[test]
fn config_debug_hides_the_secret() {
    let cfg = S3Config {
        endpoint: None,
        bucket: "b".into(),
        region: "r".into(),
        access_key_id: "AKID".into(),
        secret_access_key: "very-secret".into(),
        prefix: String::new(),
    };
    let shown = format!("{cfg:?}");
    assert!(
        shown.contains("AKID") && !shown.contains("very-secret"),
        "{shown}"
    );
}

#[test]
fn https_endpoint_and_empty_bucket() {
    let mut cfg = S3Config {
        endpoint: Some("https://s3.example.invalid".into()),
        bucket: "b".into(),
        region: "r".into(),
        access_key_id: "a".into(),
        secret_access_key: "s".into(),
        prefix: "/x/".into(),
    };
    // Building makes no request.
    assert_eq!(BlockStore::s3(&cfg).unwrap().prefix(), "x");
    cfg.bucket.clear();
    assert!(matches!(BlockStore::s3(&cfg), Err(StoreError::Other(_))));
}
