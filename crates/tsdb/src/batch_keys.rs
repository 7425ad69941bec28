//! The series keys of one write batch, resolved to ids in three steps so
//! that the engine's write lock covers as little as possible:
//!
//! 1. [`BatchKeys::encode`], no lock: every key encoded and hashed once
//!    (consecutive equal keys share one encoding);
//! 2. [`BatchKeys::resolve`], shared lock: known keys looked up;
//! 3. [`BatchKeys::prepare`], no lock: each new key copied, boxed and
//!    hashed ([`NewSeries`]); then [`BatchKeys::define`], write lock: the
//!    prepared series linked into the index.
//!
//! Ids found in step 2 stay valid while the index's generation is
//! unchanged (only removals change what an id means); the caller repeats
//! steps 2–3 under the write lock when it changed.

use crate::index::{Conflict, NewSeries, SeriesIndex};
use crate::key_table::KeyHasher;
use crate::model::WriteBatch;
use crate::record::{SeriesId, put_key};

pub struct BatchKeys {
    bytes: Vec<u8>,
    /// Per entry: its key's bytes in `bytes` and their hash.
    spans: Vec<Span>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
    hash: u64,
}

impl BatchKeys {
    pub fn encode(hasher: &KeyHasher, batch: &WriteBatch) -> BatchKeys {
        let mut bytes = Vec::with_capacity(batch.entries.len() * 96);
        let mut spans: Vec<Span> = Vec::with_capacity(batch.entries.len());
        for (i, (key, _)) in batch.entries.iter().enumerate() {
            if i > 0 && batch.entries[i - 1].0 == *key {
                spans.push(spans[i - 1]);
                continue;
            }
            let start = bytes.len();
            put_key(&mut bytes, key);
            let end = bytes.len();
            spans.push(Span {
                start,
                end,
                hash: hasher.hash(&bytes[start..end]),
            });
        }
        BatchKeys { bytes, spans }
    }

    fn key_bytes(&self, span: Span) -> &[u8] {
        &self.bytes[span.start..span.end]
    }

    /// Per entry, the id of its series if the index knows it.
    pub fn resolve(&self, index: &SeriesIndex) -> Vec<Option<SeriesId>> {
        let mut ids: Vec<Option<SeriesId>> = Vec::with_capacity(self.spans.len());
        for (i, &span) in self.spans.iter().enumerate() {
            let id = match i.checked_sub(1) {
                Some(prev) if self.spans[prev] == span => ids[prev],
                _ => index.get_hashed(span.hash, self.key_bytes(span)),
            };
            ids.push(id);
        }
        ids
    }

    /// The series of entries `resolve` did not find, one per run of equal
    /// keys (a key repeated further on is prepared again and found by
    /// [`Self::define`] once the first is in).
    pub fn prepare(&self, batch: &WriteBatch, ids: &[Option<SeriesId>]) -> Vec<(usize, NewSeries)> {
        let mut out = Vec::new();
        for (i, &span) in self.spans.iter().enumerate() {
            let repeat = i > 0 && self.spans[i - 1] == span;
            if ids[i].is_none() && !repeat {
                let encoded = self.key_bytes(span).into();
                let new = NewSeries::with_hash(batch.entries[i].0.clone(), encoded, span.hash);
                out.push((i, new));
            }
        }
        out
    }

    /// Adds the prepared series (or finds them, when another writer added
    /// them first) and returns every entry's id. Ids created here are
    /// appended to `created`, also on failure (for the caller's rollback).
    pub fn define(
        &self,
        index: &mut SeriesIndex,
        mut ids: Vec<Option<SeriesId>>,
        prepared: Vec<(usize, NewSeries)>,
        created: &mut Vec<SeriesId>,
    ) -> Result<Vec<SeriesId>, Conflict> {
        for (i, new) in prepared {
            let (id, is_new) = index.find_or_insert(new)?;
            if is_new {
                created.push(id);
            }
            ids[i] = Some(id);
        }
        let mut out = Vec::with_capacity(ids.len());
        for (i, id) in ids.into_iter().enumerate() {
            // An unresolved entry repeats the key of the one before.
            let id = match id {
                Some(id) => id,
                None => *out.get(i.wrapping_sub(1)).ok_or(Conflict::KeyTaken)?,
            };
            out.push(id);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Sample, SeriesKey};

    fn key(name: &str) -> SeriesKey {
        SeriesKey::new("ns", name, [("host".to_string(), "a".to_string())])
    }

    #[test]
    fn resolves_known_and_new_keys_with_repeats() {
        let mut index = SeriesIndex::default();
        let known = index.insert(key("known")).unwrap();
        let mut batch = WriteBatch::default();
        for name in ["new", "new", "known", "other", "new"] {
            batch.push(key(name), Sample::single(0, 0, 1.0));
        }
        let keys = BatchKeys::encode(index.hasher(), &batch);
        let ids = keys.resolve(&index);
        assert_eq!(ids, vec![None, None, Some(known), None, None]);
        let prepared = keys.prepare(&batch, &ids);
        // "new" twice (not adjacent the second time) and "other" once.
        assert_eq!(
            prepared.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            [0, 3, 4]
        );
        let mut created = Vec::new();
        let ids = keys
            .define(&mut index, ids, prepared, &mut created)
            .unwrap();
        let new = index.get(&key("new")).unwrap();
        let other = index.get(&key("other")).unwrap();
        assert_eq!(ids, vec![new, new, known, other, new]);
        assert_eq!(created, vec![new, other]);
        assert_eq!(index.len(), 3);
    }
}
