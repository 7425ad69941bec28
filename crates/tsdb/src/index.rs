//! In-memory series index: id ↔ key plus inverted postings, so
//! `list_series` never touches sample data.
//!
//! Keys are stored once behind `Arc`, shared by the ordered map (paging in
//! `SeriesKey` order) and the id table. The write hot path looks series up
//! by their *encoded* key bytes ([`crate::record::put_key`]): hashing one
//! contiguous buffer and comparing it with one `memcmp` touches one heap
//! object per probe instead of one per string, which measured ~2× faster
//! than a `HashMap<SeriesKey, _>` on 5,000 series with three dimensions. Postings lists hold ids in
//! insertion order, which is ascending because ids are allocated densely.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use crate::model::{SeriesFilter, SeriesKey};
use crate::record::{SeriesId, put_key};

#[derive(Default)]
pub struct SeriesIndex {
    keys: Vec<Option<Arc<SeriesKey>>>,
    by_key: HashMap<Box<[u8]>, SeriesId>,
    ordered: BTreeMap<Arc<SeriesKey>, SeriesId>,
    by_namespace: HashMap<String, Vec<SeriesId>>,
    by_name: HashMap<String, Vec<SeriesId>>,
    by_dim_name: HashMap<String, Vec<SeriesId>>,
    by_dim: HashMap<(String, String), Vec<SeriesId>>,
}

/// Why a definition could not be added.
#[derive(Debug, PartialEq, Eq)]
pub enum Conflict {
    IdTaken,
    KeyTaken,
    IdSpaceExhausted,
}

impl SeriesIndex {
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// One past the largest id in use.
    pub fn next_id(&self) -> usize {
        self.keys.len()
    }

    pub fn get(&self, key: &SeriesKey) -> Option<SeriesId> {
        let mut buf = Vec::new();
        put_key(&mut buf, key);
        self.get_encoded(&buf)
    }

    /// Lookup by a key already encoded with [`put_key`] (no allocation).
    #[inline]
    pub fn get_encoded(&self, encoded: &[u8]) -> Option<SeriesId> {
        self.by_key.get(encoded).copied()
    }

    pub fn key(&self, id: SeriesId) -> Option<&Arc<SeriesKey>> {
        self.keys.get(id as usize).and_then(Option::as_ref)
    }

    /// Adds a new series with the next id.
    pub fn insert(&mut self, key: SeriesKey) -> Result<SeriesId, Conflict> {
        let id = SeriesId::try_from(self.keys.len()).map_err(|_| Conflict::IdSpaceExhausted)?;
        self.define(id, key)?;
        Ok(id)
    }

    /// Adds `id → key` (replay). Re-defining the same pair is a no-op.
    pub fn define(&mut self, id: SeriesId, key: SeriesKey) -> Result<(), Conflict> {
        let mut encoded = Vec::new();
        put_key(&mut encoded, &key);
        if let Some(existing) = self.by_key.get(encoded.as_slice()) {
            return if *existing == id {
                Ok(())
            } else {
                Err(Conflict::KeyTaken)
            };
        }
        let slot = id as usize;
        if self.keys.get(slot).is_some_and(Option::is_some) {
            return Err(Conflict::IdTaken);
        }
        if slot >= self.keys.len() {
            self.keys.resize(slot + 1, None);
        }
        let key = Arc::new(key);
        push_posting(&mut self.by_namespace, &key.namespace, id);
        push_posting(&mut self.by_name, &key.name, id);
        for (n, v) in &key.dimensions {
            push_posting(&mut self.by_dim_name, n, id);
            self.by_dim
                .entry((n.clone(), v.clone()))
                .or_default()
                .push(id);
        }
        self.by_key.insert(encoded.into_boxed_slice(), id);
        self.ordered.insert(key.clone(), id);
        self.keys[slot] = Some(key);
        Ok(())
    }

    /// Undoes the most recent [`Self::insert`] (a write that failed before
    /// reaching the WAL must not leave a visible series behind).
    pub fn remove_last(&mut self, id: SeriesId) {
        if id as usize + 1 != self.keys.len() {
            return;
        }
        let Some(Some(key)) = self.keys.pop() else {
            return;
        };
        let mut encoded = Vec::new();
        put_key(&mut encoded, &key);
        self.by_key.remove(encoded.as_slice());
        self.ordered.remove(&key);
        pop_posting(&mut self.by_namespace, &key.namespace, id);
        pop_posting(&mut self.by_name, &key.name, id);
        for (n, v) in &key.dimensions {
            pop_posting(&mut self.by_dim_name, n, id);
            let dim = (n.clone(), v.clone());
            if let Some(list) = self.by_dim.get_mut(&dim) {
                if list.last() == Some(&id) {
                    list.pop();
                }
                if list.is_empty() {
                    self.by_dim.remove(&dim);
                }
            }
        }
    }

    /// Series matching `filter`, strictly after `after`, in key order.
    /// Series matching `filter` for which `keep(id)` holds, in key order,
    /// strictly after `after`, at most `limit`.
    pub fn list(
        &self,
        filter: &SeriesFilter,
        after: Option<&SeriesKey>,
        limit: usize,
        keep: &dyn Fn(SeriesId) -> bool,
    ) -> Vec<SeriesKey> {
        if limit == 0 {
            return Vec::new();
        }
        match self.smallest_postings(filter) {
            Some(ids) if ids.len() <= self.postings_threshold() => {
                let mut keys: Vec<&Arc<SeriesKey>> = ids
                    .iter()
                    .filter(|&&id| keep(id))
                    .filter_map(|&id| self.key(id))
                    .filter(|k| after.is_none_or(|a| k.as_ref() > a) && filter.matches(k))
                    .collect();
                keys.sort_unstable();
                keys.into_iter()
                    .take(limit)
                    .map(|k| (**k).clone())
                    .collect()
            }
            _ => self.scan_ordered(filter, after, limit, keep),
        }
    }

    /// Postings use beats an ordered scan when the candidate set is small
    /// relative to the index (sorting candidates is then cheap).
    fn postings_threshold(&self) -> usize {
        (self.len() / 8).max(4096)
    }

    /// The shortest postings list among the filter's constraints; `None`
    /// when the filter has no constraint at all. A missing list is empty.
    fn smallest_postings(&self, filter: &SeriesFilter) -> Option<&[SeriesId]> {
        let empty: &[SeriesId] = &[];
        let mut lists: Vec<&[SeriesId]> = Vec::new();
        if let Some(ns) = &filter.namespace {
            lists.push(self.by_namespace.get(ns).map_or(empty, Vec::as_slice));
        }
        if let Some(name) = &filter.name {
            lists.push(self.by_name.get(name).map_or(empty, Vec::as_slice));
        }
        for (n, v) in &filter.dimensions {
            let list = match v {
                Some(v) => self.by_dim.get(&(n.clone(), v.clone())),
                None => self.by_dim_name.get(n),
            };
            lists.push(list.map_or(empty, Vec::as_slice));
        }
        lists.into_iter().min_by_key(|l| l.len())
    }

    /// Walks the ordered map from the later of `after` and the namespace /
    /// name prefix, stopping once past that prefix.
    fn scan_ordered(
        &self,
        filter: &SeriesFilter,
        after: Option<&SeriesKey>,
        limit: usize,
        keep: &dyn Fn(SeriesId) -> bool,
    ) -> Vec<SeriesKey> {
        let prefix = SeriesKey {
            namespace: filter.namespace.clone().unwrap_or_default(),
            name: if filter.namespace.is_some() {
                filter.name.clone().unwrap_or_default()
            } else {
                String::new()
            },
            dimensions: Vec::new(),
        };
        let use_after = after.is_some_and(|a| *a >= prefix);
        let lower = match after {
            Some(a) if use_after => Bound::Excluded(a),
            _ => Bound::Included(&prefix),
        };
        let mut out = Vec::new();
        for (key, &id) in self
            .ordered
            .range::<SeriesKey, _>((lower, Bound::Unbounded))
        {
            if filter
                .namespace
                .as_ref()
                .is_some_and(|ns| *ns != key.namespace)
            {
                break;
            }
            if filter.namespace.is_some() && filter.name.as_ref().is_some_and(|n| *n < key.name) {
                break;
            }
            if filter.matches(key) && keep(id) {
                out.push((**key).clone());
                if out.len() == limit {
                    break;
                }
            }
        }
        out
    }
}

fn push_posting(map: &mut HashMap<String, Vec<SeriesId>>, k: &str, id: SeriesId) {
    match map.get_mut(k) {
        Some(list) => list.push(id),
        None => {
            map.insert(k.to_owned(), vec![id]);
        }
    }
}

fn pop_posting(map: &mut HashMap<String, Vec<SeriesId>>, k: &str, id: SeriesId) {
    if let Some(list) = map.get_mut(k) {
        if list.last() == Some(&id) {
            list.pop();
        }
        if list.is_empty() {
            map.remove(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key_strategy() -> impl Strategy<Value = SeriesKey> {
        (
            0u8..3,
            0u8..3,
            proptest::collection::btree_map(0u8..3, 0u8..3, 0..3),
        )
            .prop_map(|(ns, n, dims)| {
                SeriesKey::new(
                    format!("ns{ns}"),
                    format!("m{n}"),
                    dims.into_iter()
                        .map(|(d, v)| (format!("d{d}"), format!("v{v}"))),
                )
            })
    }

    fn filter_strategy() -> impl Strategy<Value = SeriesFilter> {
        (
            proptest::option::of(0u8..4),
            proptest::option::of(0u8..4),
            proptest::collection::vec((0u8..4, proptest::option::of(0u8..4)), 0..3),
        )
            .prop_map(|(ns, n, dims)| SeriesFilter {
                namespace: ns.map(|x| format!("ns{x}")),
                name: n.map(|x| format!("m{x}")),
                dimensions: dims
                    .into_iter()
                    .map(|(d, v)| (format!("d{d}"), v.map(|v| format!("v{v}"))))
                    .collect(),
            })
    }

    proptest! {
        /// Both strategies (postings + sort, ordered scan) agree with brute force.
        #[test]
        fn listing_matches_brute_force(
            keys in proptest::collection::btree_set(key_strategy(), 0..60),
            filter in filter_strategy(),
            after in proptest::option::of(key_strategy()),
            limit in 1usize..10,
        ) {
            let mut index = SeriesIndex::default();
            for k in &keys {
                index.insert(k.clone()).unwrap();
            }
            let want: Vec<SeriesKey> = keys
                .iter()
                .filter(|k| after.as_ref().is_none_or(|a| *k > a) && filter.matches(k))
                .take(limit)
                .cloned()
                .collect();
            prop_assert_eq!(&index.list(&filter, after.as_ref(), limit, &|_| true), &want);
            prop_assert_eq!(&index.scan_ordered(&filter, after.as_ref(), limit, &|_| true), &want);
        }
    }

    #[test]
    fn remove_last_undoes_insert() {
        let mut index = SeriesIndex::default();
        let a = SeriesKey::new("ns", "a", [("d".to_string(), "1".to_string())]);
        let b = SeriesKey::new("ns", "b", [("d".to_string(), "1".to_string())]);
        index.insert(a.clone()).unwrap();
        let id = index.insert(b.clone()).unwrap();
        index.remove_last(id);
        assert_eq!(index.get(&b), None);
        assert_eq!(index.get(&a), Some(0));
        assert_eq!(
            index.list(&SeriesFilter::default(), None, 10, &|_| true),
            vec![a.clone()]
        );
        let by_dim = SeriesFilter {
            dimensions: vec![("d".into(), Some("1".into()))],
            ..Default::default()
        };
        assert_eq!(index.list(&by_dim, None, 10, &|_| true), vec![a]);
        assert_eq!(index.insert(b).unwrap(), 1);
        assert_eq!(
            index.define(0, SeriesKey::default()),
            Err(Conflict::IdTaken)
        );
    }
}
