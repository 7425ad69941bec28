//! In-memory series index: id ↔ key plus inverted postings, so
//! `list_series` never touches sample data.
//!
//! Keys are stored once behind `Arc`, shared by the id table and the
//! listing order ([`crate::listing_order`]). The write hot path looks series
//! up by their *encoded* key bytes ([`crate::record::put_key`]) in a
//! [`KeyTable`]: hashing one contiguous buffer and comparing it with one
//! `memcmp` touches one heap object per probe instead of one per string,
//! which measured ~2× faster than a `HashMap<SeriesKey, _>` on 5,000 series
//! with three dimensions. Postings lists hold ids in insertion order (not
//! necessarily ascending: ids are reused).
//!
//! Adding a series is split so the costly part needs no lock: a
//! [`NewSeries`] (key copy, encoding, hash) is built first, then
//! [`SeriesIndex::insert_new`] only links it in.
//!
//! Series lifecycle: [`SeriesIndex::remove_many`] forgets series whose data
//! has all expired; their ids become reusable only once the caller says the
//! persisted catalog no longer names them ([`SeriesIndex::release`]), so an
//! id never means two keys on disk. Reuse keeps the id-indexed arrays (here,
//! in the head and the newest-timestamp table) as large as the most series
//! ever live at once, not the number ever seen.

use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::sync::Arc;

use crate::key_table::{KeyHasher, KeyTable};
use crate::listing_order::{ListingOrder, OrderedKeys};
use crate::model::{SeriesFilter, SeriesKey};
use crate::record::{SeriesId, put_key};

#[derive(Default)]
pub struct SeriesIndex {
    keys: Vec<Option<Arc<SeriesKey>>>,
    by_key: KeyTable,
    order: Arc<ListingOrder>,
    by_namespace: HashMap<String, Vec<SeriesId>>,
    by_name: HashMap<String, Vec<SeriesId>>,
    by_dim: HashMap<String, DimPostings>,
    /// Ids free for [`SeriesIndex::insert`] (lowest last, so low ids are reused first).
    free: Vec<SeriesId>,
    /// Sum of encoded key lengths, for [`SeriesIndex::approx_bytes`].
    key_bytes: usize,
    /// Bumped by every removal: an id looked up before it may since have
    /// been forgotten, or reused for another key.
    generation: u64,
}

/// Series carrying one dimension name: all of them, and by value.
#[derive(Default)]
struct DimPostings {
    all: Vec<SeriesId>,
    by_value: HashMap<String, Vec<SeriesId>>,
}

/// A series ready to be added: the key's copy, encoding and hash, built
/// without the index (so outside the engine's write lock).
pub struct NewSeries {
    key: Arc<SeriesKey>,
    encoded: Box<[u8]>,
    hash: u64,
}

impl NewSeries {
    pub fn new(hasher: &KeyHasher, key: &SeriesKey) -> NewSeries {
        let mut encoded = Vec::new();
        put_key(&mut encoded, key);
        let hash = hasher.hash(&encoded);
        Self::with_hash(key.clone(), encoded.into_boxed_slice(), hash)
    }

    /// From a key already encoded with [`put_key`] and hashed with the
    /// index's [`KeyHasher`].
    pub fn with_hash(key: SeriesKey, encoded: Box<[u8]>, hash: u64) -> NewSeries {
        NewSeries {
            key: Arc::new(key),
            encoded,
            hash,
        }
    }
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

    /// The hasher [`NewSeries`] and [`Self::get_hashed`] need.
    pub fn hasher(&self) -> &KeyHasher {
        self.by_key.hasher()
    }

    /// The listing order, shared so it can be settled and read without
    /// the lock that guards the index.
    pub fn order(&self) -> &Arc<ListingOrder> {
        &self.order
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn get(&self, key: &SeriesKey) -> Option<SeriesId> {
        let mut buf = Vec::new();
        put_key(&mut buf, key);
        self.get_hashed(self.hasher().hash(&buf), &buf)
    }

    /// Lookup by a key already encoded with [`put_key`] and hashed with
    /// [`Self::hasher`] (no allocation).
    #[inline]
    pub fn get_hashed(&self, hash: u64, encoded: &[u8]) -> Option<SeriesId> {
        self.by_key.get(hash, encoded)
    }

    pub fn key(&self, id: SeriesId) -> Option<&Arc<SeriesKey>> {
        self.keys.get(id as usize).and_then(Option::as_ref)
    }

    /// Adds a new series with a free id (a released one, else the next).
    #[cfg(test)]
    pub fn insert(&mut self, key: SeriesKey) -> Result<SeriesId, Conflict> {
        let new = NewSeries::new(self.hasher(), &key);
        self.insert_new(new)
    }

    /// [`Self::insert`] of a prepared series.
    pub fn insert_new(&mut self, new: NewSeries) -> Result<SeriesId, Conflict> {
        let id = match self.free.pop() {
            Some(id) => id,
            None => SeriesId::try_from(self.keys.len()).map_err(|_| Conflict::IdSpaceExhausted)?,
        };
        if let Err(c) = self.define_new(id, new) {
            if (id as usize) < self.keys.len() && self.keys[id as usize].is_none() {
                self.free.push(id);
            }
            return Err(c);
        }
        Ok(id)
    }

    /// The id of `new`'s key, adding it first if absent (then `true`).
    pub fn find_or_insert(&mut self, new: NewSeries) -> Result<(SeriesId, bool), Conflict> {
        match self.get_hashed(new.hash, &new.encoded) {
            Some(id) => Ok((id, false)),
            None => self.insert_new(new).map(|id| (id, true)),
        }
    }

    /// Every id in use, ascending.
    pub fn ids(&self) -> impl Iterator<Item = SeriesId> + '_ {
        self.keys
            .iter()
            .enumerate()
            .filter(|(_, k)| k.is_some())
            .map(|(i, _)| i as SeriesId)
    }

    /// Makes `ids` (removed, and no longer named anywhere on disk) reusable.
    pub fn release(&mut self, ids: impl IntoIterator<Item = SeriesId>) {
        self.free.extend(
            ids.into_iter()
                .filter(|&id| self.keys.get(id as usize).is_some_and(Option::is_none)),
        );
        self.free.sort_unstable_by(|a, b| b.cmp(a));
        self.free.dedup();
    }

    /// Unused ids below [`Self::next_id`] not yet released (holes left by
    /// definitions that were never loaded).
    pub fn holes(&self) -> Vec<SeriesId> {
        let free: HashSet<SeriesId> = self.free.iter().copied().collect();
        self.keys
            .iter()
            .enumerate()
            .filter(|(i, k)| k.is_none() && !free.contains(&(*i as SeriesId)))
            .map(|(i, _)| i as SeriesId)
            .collect()
    }

    /// Forgets the series `ids` (their ids are *not* reusable until
    /// [`Self::release`]d). Each postings list is rewritten once.
    pub fn remove_many(&mut self, ids: &HashSet<SeriesId>) {
        let mut touched_ns = HashSet::new();
        let mut touched_name = HashSet::new();
        let mut touched_dim: HashMap<String, HashSet<String>> = HashMap::new();
        let mut encoded = Vec::new();
        for &id in ids {
            let Some(key) = self.keys.get_mut(id as usize).and_then(Option::take) else {
                continue;
            };
            encoded.clear();
            put_key(&mut encoded, &key);
            let hash = self.by_key.hasher().hash(&encoded);
            self.by_key.remove(hash, &encoded);
            self.key_bytes -= encoded.len();
            self.order.removed(&key, id);
            touched_ns.insert(key.namespace.clone());
            touched_name.insert(key.name.clone());
            for (n, v) in &key.dimensions {
                touched_dim.entry(n.clone()).or_default().insert(v.clone());
            }
        }
        self.generation += 1;
        let prune = |map: &mut HashMap<String, Vec<SeriesId>>, touched: HashSet<String>| {
            for k in touched {
                if let Some(list) = map.get_mut(&k) {
                    list.retain(|id| !ids.contains(id));
                    if list.is_empty() {
                        map.remove(&k);
                    }
                }
            }
        };
        prune(&mut self.by_namespace, touched_ns);
        prune(&mut self.by_name, touched_name);
        for (n, values) in touched_dim {
            if let Some(dim) = self.by_dim.get_mut(&n) {
                dim.all.retain(|id| !ids.contains(id));
                prune(&mut dim.by_value, values);
                if dim.all.is_empty() {
                    self.by_dim.remove(&n);
                }
            }
        }
        // Trailing unused slots need no reservation: the next id covers them.
        while self.keys.last().is_some_and(Option::is_none) {
            self.keys.pop();
        }
        let next = self.keys.len();
        self.free.retain(|&id| (id as usize) < next);
    }

    /// A rough count of the heap bytes the index holds: keys (stored twice:
    /// encoded for lookups, as strings for listing), the id table, the
    /// listing tree and postings. Meant to show growth, not to account
    /// exactly.
    pub fn approx_bytes(&self) -> usize {
        const PER_SERIES: usize = 4 * std::mem::size_of::<usize>() // Arcs + table entry
            + 2 * std::mem::size_of::<SeriesKey>()
            + 64; // hash and tree node overheads
        let list = |k: &String, v: &Vec<SeriesId>| k.len() + v.capacity() * 4 + 48;
        let postings: usize = [&self.by_namespace, &self.by_name]
            .iter()
            .flat_map(|m| m.iter())
            .map(|(k, v)| list(k, v))
            .sum::<usize>()
            + self
                .by_dim
                .iter()
                .map(|(n, d)| {
                    list(n, &d.all) + d.by_value.iter().map(|(k, v)| list(k, v)).sum::<usize>()
                })
                .sum::<usize>();
        self.keys.capacity() * std::mem::size_of::<Option<Arc<SeriesKey>>>()
            + self.free.capacity() * 4
            + self.len() * PER_SERIES
            + 2 * self.key_bytes
            + postings
    }

    /// Adds `id → key` (replay). Re-defining the same pair is a no-op.
    pub fn define(&mut self, id: SeriesId, key: SeriesKey) -> Result<(), Conflict> {
        let new = NewSeries::new(self.hasher(), &key);
        self.define_new(id, new)
    }

    fn define_new(&mut self, id: SeriesId, new: NewSeries) -> Result<(), Conflict> {
        if let Some(existing) = self.by_key.get(new.hash, &new.encoded) {
            return if existing == id {
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
        let NewSeries { key, encoded, hash } = new;
        push_posting(&mut self.by_namespace, &key.namespace, id);
        push_posting(&mut self.by_name, &key.name, id);
        for (n, v) in &key.dimensions {
            if let Some(dim) = self.by_dim.get_mut(n.as_str()) {
                dim.all.push(id);
                push_posting(&mut dim.by_value, v, id);
            } else {
                let dim = DimPostings {
                    all: vec![id],
                    by_value: HashMap::from([(v.clone(), vec![id])]),
                };
                self.by_dim.insert(n.clone(), dim);
            }
        }
        self.key_bytes += encoded.len();
        self.by_key.insert_new(hash, encoded, id);
        self.order.added(&key, id);
        self.keys[slot] = Some(key);
        Ok(())
    }

    /// Series matching `filter` for which `keep(id)` holds, in key order,
    /// strictly after `after`, at most `limit`. `tree` is [`Self::order`],
    /// settled by the caller (see [`crate::listing_order`] for why).
    pub fn list(
        &self,
        tree: &OrderedKeys,
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
            _ => self.scan_ordered(tree, filter, after, limit, keep),
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
            let dim = self.by_dim.get(n);
            let list = match v {
                Some(v) => dim.and_then(|d| d.by_value.get(v)),
                None => dim.map(|d| &d.all),
            };
            lists.push(list.map_or(empty, Vec::as_slice));
        }
        lists.into_iter().min_by_key(|l| l.len())
    }

    /// Walks the ordered keys from the later of `after` and the namespace /
    /// name prefix, stopping once past that prefix. Entries the index no
    /// longer holds (the tree settles lazily) are skipped.
    fn scan_ordered(
        &self,
        tree: &OrderedKeys,
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
        for (key, &id) in tree.range::<SeriesKey, _>((lower, Bound::Unbounded)) {
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
            let current = self.key(id).is_some_and(|k| Arc::ptr_eq(k, key));
            if current && filter.matches(key) && keep(id) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Lists with the listing order settled, as `Db::list_series` does.
    fn list(
        index: &SeriesIndex,
        filter: &SeriesFilter,
        after: Option<&SeriesKey>,
        limit: usize,
    ) -> Vec<SeriesKey> {
        let order = index.order().clone();
        let tree = order.settled();
        index.list(&tree, filter, after, limit, &|_| true)
    }

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
            prop_assert_eq!(&list(&index, &filter, after.as_ref(), limit), &want);
            let tree = index.order().settled();
            prop_assert_eq!(&index.scan_ordered(&tree, &filter, after.as_ref(), limit, &|_| true), &want);
        }
    }

    #[test]
    fn removal_undoes_insert() {
        let mut index = SeriesIndex::default();
        let a = SeriesKey::new("ns", "a", [("d".to_string(), "1".to_string())]);
        let b = SeriesKey::new("ns", "b", [("d".to_string(), "1".to_string())]);
        index.insert(a.clone()).unwrap();
        let one = index.approx_bytes();
        let id = index.insert(b.clone()).unwrap();
        let two = index.approx_bytes();
        assert!(two > one);
        index.remove_many(&HashSet::from([id]));
        // Less than with two series (the id table keeps its capacity).
        assert!(index.approx_bytes() < two);
        assert_eq!(index.get(&b), None);
        assert_eq!(index.get(&a), Some(0));
        assert_eq!(
            list(&index, &SeriesFilter::default(), None, 10),
            vec![a.clone()]
        );
        let by_dim = SeriesFilter {
            dimensions: vec![("d".into(), Some("1".into()))],
            ..Default::default()
        };
        assert_eq!(list(&index, &by_dim, None, 10), vec![a]);
        assert_eq!(index.insert(b).unwrap(), 1);
        assert_eq!(
            index.define(0, SeriesKey::default()),
            Err(Conflict::IdTaken)
        );
    }

    #[test]
    fn removed_ids_are_reused_only_once_released() {
        let mut index = SeriesIndex::default();
        let key = |i: usize| SeriesKey::new("ns", "m", [("host".to_string(), format!("h{i}"))]);
        for i in 0..4 {
            index.insert(key(i)).unwrap();
        }
        let gone = HashSet::from([1, 2]);
        index.remove_many(&gone);
        assert_eq!(index.len(), 2);
        assert_eq!(index.ids().collect::<Vec<_>>(), vec![0, 3]);
        // Not released yet: a new series gets a fresh id.
        assert_eq!(index.insert(key(10)).unwrap(), 4);
        assert_eq!(index.holes(), vec![1, 2]);
        index.release(gone);
        assert!(index.holes().is_empty());
        assert_eq!(index.insert(key(11)).unwrap(), 1);
        assert_eq!(index.insert(key(12)).unwrap(), 2);
        assert_eq!(index.insert(key(13)).unwrap(), 5);
        // A host's dimension postings disappear with its last series.
        let by_host = |h: &str| SeriesFilter {
            dimensions: vec![("host".into(), Some(h.into()))],
            ..Default::default()
        };
        assert!(list(&index, &by_host("h1"), None, 10).is_empty());
        assert!(!index.by_dim["host"].by_value.contains_key("h1"));
        assert_eq!(list(&index, &by_host("h11"), None, 10), vec![key(11)]);
        // Removing the highest ids shrinks the id table.
        index.remove_many(&HashSet::from([4, 5]));
        assert_eq!(index.next_id(), 4);
    }

    #[test]
    fn a_stale_listing_order_never_shows_a_removed_series() {
        let mut index = SeriesIndex::default();
        let key = |h: &str| SeriesKey::new("ns", "m", [("host".to_string(), h.to_string())]);
        let a = index.insert(key("a")).unwrap();
        index.insert(key("b")).unwrap();
        let order = index.order().clone();
        let tree = order.settled();
        // Removed and its id reused while a reader holds the old tree.
        index.remove_many(&HashSet::from([a]));
        index.release([a]);
        assert_eq!(index.insert(key("c")).unwrap(), a);
        let all = SeriesFilter::default();
        assert_eq!(
            index.scan_ordered(&tree, &all, None, 10, &|_| true),
            vec![key("b")]
        );
        drop(tree);
        assert_eq!(list(&index, &all, None, 10), vec![key("b"), key("c")]);
    }
}
