//! Series keys in `SeriesKey` order, for listing and paging — kept apart
//! from the rest of the index so that defining a series costs a writer a
//! queue push, not a tree insert under the engine's write lock.
//!
//! Writers record each definition and removal in a queue (a leaf lock). The
//! tree applies the queue when someone lists, when the owner settles it
//! in the background, or when the queue grows long; new keys are sorted
//! first, so a burst is inserted in order. Ordered tree inserts of half a
//! million new keys took ~35 % of a fleet's first minute, all of it under
//! the write lock, when they were done per definition.
//!
//! The tree may be stale: a reader checks each entry against the index
//! (same `Arc` under the same id) and skips the ones that no longer hold.
//!
//! Lock order: the tree, then the engine's index lock; writers take the
//! queue while holding the index lock, and the queue is never held while
//! taking another lock.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::locks::lock;
use crate::model::SeriesKey;
use crate::record::SeriesId;

/// Apply the queue from the writer's side past this many changes, so it
/// cannot grow without bound (and hold forgotten keys) if nobody lists or
/// settles. High, because the writer that does it waits (~1 s per million):
/// the server settles every 250 ms, long before.
pub const SETTLE_AFTER: usize = 1 << 20;

pub type OrderedKeys = BTreeMap<Arc<SeriesKey>, SeriesId>;

enum Change {
    Added(Arc<SeriesKey>, SeriesId),
    Removed(Arc<SeriesKey>, SeriesId),
}

#[derive(Default)]
pub struct ListingOrder {
    queue: Mutex<Vec<Change>>,
    tree: Mutex<OrderedKeys>,
}

impl ListingOrder {
    /// Records a definition.
    pub fn added(&self, key: &Arc<SeriesKey>, id: SeriesId) {
        lock(&self.queue).push(Change::Added(key.clone(), id));
    }

    pub fn removed(&self, key: &Arc<SeriesKey>, id: SeriesId) {
        lock(&self.queue).push(Change::Removed(key.clone(), id));
    }

    pub fn queued(&self) -> usize {
        lock(&self.queue).len()
    }

    /// The tree with every queued change applied.
    pub fn settled(&self) -> MutexGuard<'_, OrderedKeys> {
        let mut tree = lock(&self.tree);
        apply(&mut tree, self.take_queue());
        tree
    }

    /// Applies the queue unless someone holds the tree (they will apply it).
    pub fn try_settle(&self) {
        if let Ok(mut tree) = self.tree.try_lock() {
            apply(&mut tree, self.take_queue());
        }
    }

    /// Empties the queue. Its own statement: writers wait on the queue
    /// while holding the engine's write lock, so it must not stay locked
    /// while the changes are applied.
    fn take_queue(&self) -> Vec<Change> {
        std::mem::take(&mut *lock(&self.queue))
    }
}

/// Applies `changes` in order; each run of additions is sorted first.
fn apply(tree: &mut OrderedKeys, changes: Vec<Change>) {
    let mut run: Vec<(Arc<SeriesKey>, SeriesId)> = Vec::new();
    let flush = |tree: &mut OrderedKeys, run: &mut Vec<(Arc<SeriesKey>, SeriesId)>| {
        // Stable: a key added twice in one run (removed in between is a
        // separate run) keeps its later id.
        run.sort_by(|a, b| a.0.cmp(&b.0));
        for (k, id) in run.drain(..) {
            tree.insert(k, id);
        }
    };
    for change in changes {
        match change {
            Change::Added(k, id) => run.push((k, id)),
            Change::Removed(k, id) => {
                flush(tree, &mut run);
                if tree.get(&k) == Some(&id) {
                    tree.remove(&k);
                }
            }
        }
    }
    flush(tree, &mut run);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Arc<SeriesKey> {
        Arc::new(SeriesKey::new("ns", name, []))
    }

    #[test]
    fn changes_apply_in_order() {
        let order = ListingOrder::default();
        let (a, b, c) = (key("a"), key("b"), key("c"));
        order.added(&c, 0);
        order.added(&a, 1);
        assert_eq!(order.queued(), 2);
        {
            let tree = order.settled();
            let names: Vec<(&str, SeriesId)> =
                tree.iter().map(|(k, &id)| (k.name.as_str(), id)).collect();
            assert_eq!(names, vec![("a", 1), ("c", 0)]);
        }
        assert_eq!(order.queued(), 0);
        // Removed then re-added under a new id; a stale removal (old id of
        // a key since re-added) leaves the new entry alone.
        order.removed(&a, 1);
        order.added(&a, 7);
        order.added(&b, 1);
        order.removed(&a, 1);
        order.try_settle();
        let tree = order.settled();
        let names: Vec<(&str, SeriesId)> =
            tree.iter().map(|(k, &id)| (k.name.as_str(), id)).collect();
        assert_eq!(names, vec![("a", 7), ("b", 1), ("c", 0)]);
    }
}
