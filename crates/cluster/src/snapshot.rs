//! A partition's committed state in object storage: the files of its replica
//! (blocks, catalog, batch ids) right after a seal, listed in a manifest that
//! PostgreSQL commits together with the log sequence number they cover.
//!
//! Blocks are immutable, so each is uploaded once, under a key unique to the
//! commit that first carried it, and later manifests refer to the same
//! object. The catalog and the batch-id file change with every seal and are
//! uploaded with every commit. Objects no live manifest names are collected
//! by the owner after a grace period (a zombie owner's uploads among them).

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One file of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Path inside the replica directory (`catalog.log`, `blocks/00000012.blk`).
    pub path: String,
    /// Object key (relative to the store's prefix).
    pub key: String,
    pub size: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub files: Vec<ManifestFile>,
}

impl Manifest {
    pub fn from_json(v: &serde_json::Value) -> Result<Manifest, String> {
        serde_json::from_value(v.clone()).map_err(|e| format!("partition manifest: {e}"))
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(|f| f.key.as_str())
    }
}

/// The files of a replica directory a snapshot consists of, with their sizes
/// and inode numbers (an inode identifies a block file that was uploaded
/// before: tsdb never rewrites a block in place).
pub fn snapshot_files(dir: &Path) -> std::io::Result<Vec<(String, u64, u64)>> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    for name in ["catalog.log", "batch-ids"] {
        match std::fs::metadata(dir.join(name)) {
            Ok(m) => out.push((name.to_string(), m.len(), m.ino())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    let blocks = dir.join("blocks");
    if blocks.exists() {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&blocks)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".blk") {
                let m = entry.metadata()?;
                names.push((format!("blocks/{name}"), m.len(), m.ino()));
            }
        }
        names.sort();
        out.extend(names);
    }
    Ok(out)
}

/// Object key of a file first uploaded by the commit (epoch, seq).
pub fn object_key(partition: u32, epoch: i64, seq: u64, path: &str) -> String {
    format!("p{partition}/{epoch:010}-{seq:020}/{path}")
}

/// The prefix of every object of a partition.
pub fn partition_prefix(partition: u32) -> String {
    format!("p{partition}/")
}

/// Where the cache keeps a downloaded block (shared by reloads).
pub fn cache_path(cache_dir: &Path, key: &str) -> PathBuf {
    cache_dir.join(key.replace('/', "%"))
}

/// Deletes cached blocks no replica links to any more (compacted away, or
/// their partition dropped): a cached file whose only link is the cache's.
/// Files younger than a minute stay (a load may be about to link them).
pub fn sweep_cache(cache_dir: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(cache_dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(meta) = e.metadata() else { continue };
        let young = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_none_or(|age| age < std::time::Duration::from_secs(60));
        if meta.is_file() && meta.nlink() == 1 && !young {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Which uploaded object each local block file (by inode) already is.
#[derive(Debug, Default)]
pub struct Uploaded {
    by_inode: HashMap<u64, (String, u64)>,
}

impl Uploaded {
    pub fn get(&self, inode: u64, size: u64) -> Option<&str> {
        self.by_inode
            .get(&inode)
            .filter(|(_, s)| *s == size)
            .map(|(k, _)| k.as_str())
    }

    pub fn insert(&mut self, inode: u64, key: String, size: u64) {
        self.by_inode.insert(inode, (key, size));
    }

    /// Keeps only the inodes still present.
    pub fn retain(&mut self, live: &[u64]) {
        self.by_inode.retain(|ino, _| live.contains(ino));
    }

    /// Keeps only the objects `manifest` names: the others may have been
    /// collected while another node owned the partition.
    pub fn retain_named(&mut self, manifest: &Manifest) {
        let named: std::collections::HashSet<&str> = manifest.keys().collect();
        self.by_inode
            .retain(|_, (key, _)| named.contains(key.as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_catalog_batch_ids_and_blocks_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("blocks")).unwrap();
        std::fs::create_dir_all(dir.path().join("wal")).unwrap();
        std::fs::write(dir.path().join("catalog.log"), b"c").unwrap();
        std::fs::write(dir.path().join("blocks/00000002.blk"), b"bb").unwrap();
        std::fs::write(dir.path().join("blocks/00000001.blk"), b"b").unwrap();
        std::fs::write(dir.path().join("blocks/x.tmp"), b"t").unwrap();
        std::fs::write(dir.path().join("wal/00000001.log"), b"w").unwrap();
        let files: Vec<_> = snapshot_files(dir.path())
            .unwrap()
            .into_iter()
            .map(|(p, s, _)| (p, s))
            .collect();
        assert_eq!(
            files,
            vec![
                ("catalog.log".to_string(), 1),
                ("blocks/00000001.blk".to_string(), 1),
                ("blocks/00000002.blk".to_string(), 2)
            ]
        );
        assert_eq!(
            object_key(3, 2, 17, "catalog.log"),
            "p3/0000000002-00000000000000000017/catalog.log"
        );
        let m = Manifest {
            files: vec![ManifestFile {
                path: "catalog.log".into(),
                key: "k".into(),
                size: 1,
            }],
        };
        assert_eq!(Manifest::from_json(&m.to_json()).unwrap(), m);
    }

    #[test]
    fn uploaded_blocks_are_reused_only_while_the_newest_manifest_names_them() {
        let mut up = Uploaded::default();
        up.insert(
            1,
            "p0/0000000001-00000000000000000010/blocks/1.blk".into(),
            5,
        );
        up.insert(
            2,
            "p0/0000000001-00000000000000000010/blocks/2.blk".into(),
            7,
        );
        let m = Manifest {
            files: vec![ManifestFile {
                path: "blocks/2.blk".into(),
                key: "p0/0000000001-00000000000000000010/blocks/2.blk".into(),
                size: 7,
            }],
        };
        up.retain_named(&m);
        assert_eq!(up.get(1, 5), None);
        assert_eq!(
            up.get(2, 7),
            Some("p0/0000000001-00000000000000000010/blocks/2.blk")
        );
    }
}
