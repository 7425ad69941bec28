//! In-memory series index: id ↔ key plus inverted postings, so
//! `list_series` never touches sample data.
//!
//! Keys are stored once behind `Arc` and shared by the hash map (write hot
//! path: look up by `&SeriesKey` without cloning), the ordered map (paging
//! in `SeriesKey` order) and the id table. Postings lists hold ids in
//! insertion order, which is ascending because ids are allocated densely.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use crate::model::{SeriesFilter, SeriesKey};
use crate::record::SeriesId;

#[derive(Default)]
pub struct SeriesIndex {
    keys: Vec<Option<Arc<SeriesKey>>>,
    by_key: HashMap<Arc<SeriesKey>, SeriesId>,
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

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// One past the largest id in use.
    pub fn next_id(&self) -> usize {
        self.keys.len()
    }

    #[inline]
    pub fn get(&self, key: &SeriesKey) -> Option<SeriesId> {
        self.by_key.get(key).copied()
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
        if let Some(existing) = self.by_key.get(&key) {
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
        self.by_key.insert(key.clone(), id);
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
        self.by_key.remove(&key);
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
    pub fn list(
        &self,
        filter: &SeriesFilter,
        after: Option<&SeriesKey>,
        limit: usize,
    ) -> Vec<SeriesKey> {
        if limit == 0 {
            return Vec::new();
        }
        match self.smallest_postings(filter) {
            Some(ids) if ids.len() <= self.postings_threshold() => {
                let mut keys: Vec<&Arc<SeriesKey>> = ids
                    .iter()
                    .filter_map(|&id| self.key(id))
                    .filter(|k| after.is_none_or(|a| k.as_ref() > a) && filter.matches(k))
                    .collect();
                keys.sort_unstable();
                keys.into_iter()
                    .take(limit)
                    .map(|k| (**k).clone())
                    .collect()
            }
            _ => self.scan_ordered(filter, after, limit),
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
        for (key, _) in self
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
            if filter.matches(key) {
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
