//! `BlockStore`: keys relative to a prefix over any `object_store` backend.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, RetryConfig};

use crate::{S3Config, StoreError};

/// Files larger than this are uploaded in parts (S3 caps a single PUT at 5 GiB, and a
/// part can be retried alone).
pub(crate) const MULTIPART_THRESHOLD: u64 = 64 * 1024 * 1024;
/// Part size: S3's minimum is 5 MiB; 16 MiB keeps two parts in flight within ~32 MiB.
pub(crate) const PART_SIZE: usize = 16 * 1024 * 1024;

/// One stored object, its key relative to the store's prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    pub last_modified_ms: i64,
}

/// A bucket (or in-memory store) holding immutable objects under a key prefix. Cheap to
/// clone: clones share one HTTP client.
#[derive(Clone)]
pub struct BlockStore {
    inner: Arc<dyn ObjectStore>,
    /// Without leading or trailing slashes; empty for the root.
    prefix: String,
    pub(crate) multipart_threshold: u64,
    pub(crate) part_size: usize,
}

impl std::fmt::Debug for BlockStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockStore")
            .field("store", &self.inner.to_string())
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl BlockStore {
    /// An S3 client for `cfg`: path-style requests (what Garage and MinIO expect), plain
    /// HTTP only when the endpoint says `http://`, bounded timeouts and retries so a dead
    /// store surfaces as `Unavailable` within about a minute instead of hanging a seal.
    pub fn s3(cfg: &S3Config) -> Result<BlockStore, StoreError> {
        crate::install_crypto();
        if cfg.bucket.is_empty() {
            return Err(StoreError::Other("S3 bucket name is empty".into()));
        }
        let allow_http = cfg
            .endpoint
            .as_deref()
            .is_some_and(|e| e.to_ascii_lowercase().starts_with("http://"));
        let client = ClientOptions::new()
            .with_allow_http(allow_http)
            .with_connect_timeout(Duration::from_secs(5))
            // A whole request (one part or one block download) may take minutes on a slow
            // link; a stalled one is caught by the read timeout instead.
            .with_timeout(Duration::from_secs(300))
            .with_read_timeout(Duration::from_secs(30));
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(5),
                base: 2.0,
            },
            max_retries: 5,
            retry_timeout: Duration::from_secs(60),
        };
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&cfg.bucket)
            .with_region(&cfg.region)
            .with_access_key_id(&cfg.access_key_id)
            .with_secret_access_key(&cfg.secret_access_key)
            .with_virtual_hosted_style_request(false)
            .with_client_options(client)
            .with_retry(retry);
        if let Some(endpoint) = &cfg.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        let s3 = builder
            .build()
            .map_err(|e| StoreError::Other(format!("S3 configuration: {e}")))?;
        Ok(Self::new(Arc::new(s3), &cfg.prefix))
    }

    /// An empty in-memory store (nothing persists), for tests.
    pub fn in_memory() -> BlockStore {
        Self::new(Arc::new(InMemory::new()), "")
    }

    fn new(inner: Arc<dyn ObjectStore>, prefix: &str) -> BlockStore {
        BlockStore {
            inner,
            prefix: prefix.trim_matches('/').to_string(),
            multipart_threshold: MULTIPART_THRESHOLD,
            part_size: PART_SIZE,
        }
    }

    /// The same bucket and client with keys under `prefix` (relative to this store's prefix).
    pub fn with_prefix(&self, prefix: &str) -> BlockStore {
        let sub = prefix.trim_matches('/');
        let mut store = self.clone();
        store.prefix = match (self.prefix.is_empty(), sub.is_empty()) {
            (_, true) => self.prefix.clone(),
            (true, false) => sub.to_string(),
            (false, false) => format!("{}/{sub}", self.prefix),
        };
        store
    }

    /// Lowers the size above which `put_file` uploads in parts, and the part size (S3
    /// refuses parts under 5 MiB but the last). Lets tests exercise multipart cheaply.
    pub fn with_multipart(mut self, threshold: u64, part_size: usize) -> BlockStore {
        self.multipart_threshold = threshold;
        self.part_size = part_size.max(1);
        self
    }

    /// The prefix every key is stored under (no slashes at either end; empty for the root).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StoreError> {
        let location = self.location(key)?;
        self.inner
            .put(&location, bytes.into())
            .await
            .map_err(|e| StoreError::from_store(key, e))?;
        Ok(())
    }

    /// Uploads a local file; returns its size. Above the multipart threshold it goes in
    /// parts, and an upload that fails part-way is aborted (no orphaned parts billed).
    pub async fn put_file(&self, key: &str, path: &Path) -> Result<u64, StoreError> {
        let location = self.location(key)?;
        crate::file::upload(self, &location, key, path).await
    }

    pub async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        let location = self.location(key)?;
        let result = self
            .inner
            .get(&location)
            .await
            .map_err(|e| StoreError::from_store(key, e))?;
        result
            .bytes()
            .await
            .map_err(|e| StoreError::from_store(key, e))
    }

    /// Downloads to `path` atomically (temp file in the same dir, fsync, rename).
    pub async fn get_to_file(&self, key: &str, path: &Path) -> Result<u64, StoreError> {
        let location = self.location(key)?;
        crate::file::download(self, &location, key, path).await
    }

    /// The size and modification time of one object.
    pub async fn head(&self, key: &str) -> Result<ObjectInfo, StoreError> {
        let location = self.location(key)?;
        let meta = self
            .inner
            .head(&location)
            .await
            .map_err(|e| StoreError::from_store(key, e))?;
        Ok(ObjectInfo {
            key: key.to_string(),
            size: meta.size,
            last_modified_ms: meta.last_modified.timestamp_millis(),
        })
    }

    /// The ETag the store reports for `key` (multipart uploads have S3's `-<parts>`
    /// suffix): for tests that check which upload path was taken.
    #[doc(hidden)]
    pub async fn e_tag(&self, key: &str) -> Result<Option<String>, StoreError> {
        let location = self.location(key)?;
        let meta = self
            .inner
            .head(&location)
            .await
            .map_err(|e| StoreError::from_store(key, e))?;
        Ok(meta.e_tag)
    }

    /// Every object whose key starts with the path segments of `prefix` (`"p/3"` matches
    /// `p/3/x` but not `p/30/x`; `""` lists everything), sorted by key.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        let sub = prefix.trim_matches('/');
        let location = if sub.is_empty() {
            self.root()?
        } else {
            Some(self.location(sub)?)
        };
        let metas: Vec<_> = self
            .inner
            .list(location.as_ref())
            .try_collect()
            .await
            .map_err(|e| StoreError::from_store(prefix, e))?;
        let mut out = Vec::with_capacity(metas.len());
        for meta in metas {
            let full = meta.location.as_ref();
            let key = if self.prefix.is_empty() {
                full
            } else {
                match full
                    .strip_prefix(self.prefix.as_str())
                    .and_then(|rest| rest.strip_prefix('/'))
                {
                    Some(key) => key,
                    // The listing is by segment prefix, so this cannot happen; skipping is
                    // safer than handing out a key outside this store.
                    None => continue,
                }
            };
            out.push(ObjectInfo {
                key: key.to_string(),
                size: meta.size,
                last_modified_ms: meta.last_modified.timestamp_millis(),
            });
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// Deletes `key`; deleting a missing key is Ok (deletes are retried by GC and expiry).
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let location = self.location(key)?;
        match self.inner.delete(&location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(StoreError::from_store(key, e)),
        }
    }

    /// A cheap readiness probe: one delimited listing of the prefix. It fails on a wrong
    /// endpoint, bucket or credentials (a HEAD of a missing key could not tell a missing
    /// bucket from a missing key: both are 404).
    pub async fn check(&self) -> Result<(), StoreError> {
        let root = self.root()?;
        match self.inner.list_with_delimiter(root.as_ref()).await {
            Ok(_) => Ok(()),
            // A listing's 404 is the bucket (NoSuchBucket): configuration, not a missing key.
            Err(e @ object_store::Error::NotFound { .. }) => {
                Err(StoreError::Other(format!("bucket not found: {e}")))
            }
            Err(e) => Err(StoreError::from_store(&self.prefix, e)),
        }
    }

    pub(crate) fn inner(&self) -> &dyn ObjectStore {
        self.inner.as_ref()
    }

    fn root(&self) -> Result<Option<ObjectPath>, StoreError> {
        if self.prefix.is_empty() {
            return Ok(None);
        }
        ObjectPath::parse(&self.prefix)
            .map(Some)
            .map_err(|e| StoreError::Other(format!("invalid prefix {:?}: {e}", self.prefix)))
    }

    /// The full object path of `key`. Keys are strict (no empty, `.` or `..` segments, no
    /// leading or trailing slash) so a key maps to exactly one object on every backend.
    fn location(&self, key: &str) -> Result<ObjectPath, StoreError> {
        if key.is_empty() || key.starts_with('/') || key.ends_with('/') {
            return Err(StoreError::Other(format!("invalid key {key:?}")));
        }
        let full = if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.prefix)
        };
        ObjectPath::parse(&full).map_err(|e| StoreError::Other(format!("invalid key {key:?}: {e}")))
    }
}
