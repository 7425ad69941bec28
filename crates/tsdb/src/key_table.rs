//! Series ids by encoded key ([`crate::record::put_key`]): the write path's
//! lookup table.
//!
//! Each entry keeps its key's hash, and the table is split in shards by the
//! hash. Growing a single `HashMap<Box<[u8]>, _>` re-hashed every key while
//! the engine's write lock was held: at 458,752 series one resize stalled
//! every writer for 257 ms. With stored hashes a resize only moves entries,
//! and with 16 shards each resize moves a sixteenth of them.
//!
//! Hashes come from [`KeyHasher`], which callers clone so they can hash keys
//! before taking any lock.

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;

use crate::record::SeriesId;

const SHARDS: usize = 16;

/// Hashes encoded keys the way a [`KeyTable`] does (seeded per process, so
/// clients cannot aim keys at one bucket).
#[derive(Clone, Default)]
pub struct KeyHasher(RandomState);

impl KeyHasher {
    #[inline]
    pub fn hash(&self, encoded: &[u8]) -> u64 {
        self.0.hash_one(encoded)
    }
}

struct Entry {
    hash: u64,
    key: Box<[u8]>,
    id: SeriesId,
}

#[derive(Default)]
pub struct KeyTable {
    hasher: KeyHasher,
    shards: [HashTable<Entry>; SHARDS],
    len: usize,
}

/// Shard from bits hashbrown uses for neither the bucket position (low
/// bits) nor the control tag (top 7 bits).
#[inline]
fn shard(hash: u64) -> usize {
    (hash >> 40) as usize % SHARDS
}

impl KeyTable {
    pub fn hasher(&self) -> &KeyHasher {
        &self.hasher
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// The id of the key encoded as `encoded`, whose hash is `hash`.
    #[inline]
    pub fn get(&self, hash: u64, encoded: &[u8]) -> Option<SeriesId> {
        self.shards[shard(hash)]
            .find(hash, |e| *e.key == *encoded)
            .map(|e| e.id)
    }

    /// Adds `key → id`; the caller has checked that `key` is absent.
    pub fn insert_new(&mut self, hash: u64, key: Box<[u8]>, id: SeriesId) {
        debug_assert!(self.get(hash, &key).is_none());
        self.shards[shard(hash)].insert_unique(hash, Entry { hash, key, id }, |e| e.hash);
        self.len += 1;
    }

    pub fn remove(&mut self, hash: u64, encoded: &[u8]) -> Option<SeriesId> {
        let entry = self.shards[shard(hash)]
            .find_entry(hash, |e| *e.key == *encoded)
            .ok()?;
        let (removed, _) = entry.remove();
        self.len -= 1;
        Some(removed.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_get_remove_across_resizes() {
        let mut table = KeyTable::default();
        let hasher = table.hasher().clone();
        let key = |i: u32| format!("key-{i}").into_bytes();
        for i in 0..10_000u32 {
            let k = key(i);
            table.insert_new(hasher.hash(&k), k.into_boxed_slice(), i);
        }
        assert_eq!(table.len(), 10_000);
        for i in 0..10_000u32 {
            let k = key(i);
            assert_eq!(table.get(hasher.hash(&k), &k), Some(i));
        }
        for i in (0..10_000u32).step_by(2) {
            let k = key(i);
            assert_eq!(table.remove(hasher.hash(&k), &k), Some(i));
            assert_eq!(table.remove(hasher.hash(&k), &k), None);
        }
        assert_eq!(table.len(), 5_000);
        for i in 0..10_000u32 {
            let k = key(i);
            let want = (i % 2 == 1).then_some(i);
            assert_eq!(table.get(hasher.hash(&k), &k), want);
        }
        // Same hash, different bytes: no false match.
        let k = key(1);
        assert_eq!(table.get(hasher.hash(&k), b"key-3"), None);
    }
}
