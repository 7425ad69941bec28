//! Local files to and from the store: multipart upload, atomic download.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, WriteMultipart};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{BlockStore, StoreError};

/// Parts uploaded at once: two overlap network and disk without holding much memory.
const PARTS_IN_FLIGHT: usize = 2;

pub(crate) async fn upload(
    store: &BlockStore,
    location: &ObjectPath,
    key: &str,
    path: &Path,
) -> Result<u64, StoreError> {
    let len = tokio::fs::metadata(path)
        .await
        .map_err(|e| StoreError::io("reading", path, e))?
        .len();
    if len <= store.multipart_threshold {
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|e| StoreError::io("reading", path, e))?;
        let n = bytes.len() as u64;
        store
            .inner()
            .put(location, bytes.into())
            .await
            .map_err(|e| StoreError::from_store(key, e))?;
        return Ok(n);
    }
    let upload = store
        .inner()
        .put_multipart(location)
        .await
        .map_err(|e| StoreError::from_store(key, e))?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, store.part_size);
    match write_parts(&mut writer, store.part_size, key, path).await {
        Ok(n) => {
            writer
                .finish()
                .await
                .map_err(|e| StoreError::from_store(key, e))?;
            Ok(n)
        }
        Err(e) => {
            // Best effort: a part-way upload left behind costs storage until the bucket's
            // lifecycle rule removes it; the original error is the one worth reporting.
            if let Err(abort) = writer.abort().await {
                tracing::warn!(key, error = %abort, "aborting a failed multipart upload failed");
            }
            Err(e)
        }
    }
}

async fn write_parts(
    writer: &mut WriteMultipart,
    part_size: usize,
    key: &str,
    path: &Path,
) -> Result<u64, StoreError> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| StoreError::io("opening", path, e))?;
    let mut total = 0u64;
    loop {
        let mut buf = Vec::with_capacity(part_size);
        // One part's worth at a time: memory stays bounded by the parts in flight.
        let n = (&mut file)
            .take(part_size as u64)
            .read_to_end(&mut buf)
            .await
            .map_err(|e| StoreError::io("reading", path, e))?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
        writer
            .wait_for_capacity(PARTS_IN_FLIGHT)
            .await
            .map_err(|e| StoreError::from_store(key, e))?;
        writer.put(buf.into());
    }
}

pub(crate) async fn download(
    store: &BlockStore,
    location: &ObjectPath,
    key: &str,
    path: &Path,
) -> Result<u64, StoreError> {
    let result = store
        .inner()
        .get(location)
        .await
        .map_err(|e| StoreError::from_store(key, e))?;
    let tmp = temp_path(path)?;
    let written = write_temp(result.into_stream(), key, &tmp).await;
    let finished = match written {
        Ok(n) => tokio::fs::rename(&tmp, path)
            .await
            .map(|()| n)
            .map_err(|e| StoreError::io("renaming into", path, e)),
        Err(e) => Err(e),
    };
    match finished {
        Ok(n) => {
            sync_dir(path).await?;
            Ok(n)
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            Err(e)
        }
    }
}

async fn write_temp(
    mut stream: futures::stream::BoxStream<'static, object_store::Result<bytes::Bytes>>,
    key: &str,
    tmp: &Path,
) -> Result<u64, StoreError> {
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)
        .await
        .map_err(|e| StoreError::io("creating", tmp, e))?;
    let mut total = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| StoreError::from_store(key, e))?;
        file.write_all(&chunk)
            .await
            .map_err(|e| StoreError::io("writing", tmp, e))?;
        total += chunk.len() as u64;
    }
    // Durable before the rename makes it visible: a crash never leaves a short file under
    // the final name.
    file.sync_all()
        .await
        .map_err(|e| StoreError::io("syncing", tmp, e))?;
    Ok(total)
}

/// A unique name beside `path` (same directory, so the rename is atomic).
fn temp_path(path: &Path) -> Result<PathBuf, StoreError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| StoreError::Other(format!("not a file path: {}", path.display())))?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = format!(
        ".{}.download-{}-{n}",
        name.to_string_lossy(),
        std::process::id()
    );
    Ok(path.with_file_name(tmp))
}

/// Makes the rename itself durable.
async fn sync_dir(path: &Path) -> Result<(), StoreError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let handle = tokio::fs::File::open(&dir)
        .await
        .map_err(|e| StoreError::io("opening", &dir, e))?;
    handle
        .sync_all()
        .await
        .map_err(|e| StoreError::io("syncing", &dir, e))
}
