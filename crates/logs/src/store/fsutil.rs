//! Directory fsync and listing helpers.

use std::fs::File;
use std::path::Path;

use super::error::StoreError;

/// fsyncs a directory so creations, renames and deletions in it are durable.
pub fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(format!("syncing directory {}", dir.display()), e))
}

/// Names of the entries of `dir`.
pub fn list_names(dir: &Path) -> Result<Vec<String>, StoreError> {
    let ctx = || format!("listing {}", dir.display());
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| StoreError::io(ctx(), e))? {
        let entry = entry.map_err(|e| StoreError::io(ctx(), e))?;
        if let Some(name) = entry.file_name().to_str() {
            out.push(name.to_owned());
        }
    }
    Ok(out)
}

pub fn create_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| StoreError::io(format!("creating {}", dir.display()), e))
}
