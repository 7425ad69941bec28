//! Who keeps which partition: the live ingesters (from the heartbeat table),
//! the `partition_replicas` of them that `partition::assign` (rendezvous
//! hashing with bounded loads) picks for each partition, and which of their
//! replicas are ready to answer reads.
//!
//! Every node computes the same answer from the same heartbeat rows, without
//! talking to the others; views that differ for a heartbeat or two cost a
//! replica loaded early or a lease handed over late, never data: commits are
//! fenced by lease epochs, and a read goes only to a replica that says it is
//! ready.

use crate::partition;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// How long a node that failed a read is passed over.
const SUSPECT_FOR: Duration = Duration::from_secs(10);

/// A live node that keeps replicas.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: String,
    /// Where its peer-read endpoint listens (its `advertise_url`).
    pub url: String,
    /// Partitions whose replica it has loaded and caught up with the log.
    pub ready: Vec<u32>,
}

#[derive(Debug, Default)]
struct View {
    /// Heartbeat rounds that read the node table. Known from the second:
    /// nodes started together may miss each other's first heartbeat, and
    /// would each think they keep everything.
    rounds: u32,
    members: Vec<Member>,
    /// Each partition's keepers, the preferred owner first (`partition::assign`
    /// over the members and this node).
    holders: Vec<Vec<String>>,
    /// Nodes that failed a peer read recently (paused, partitioned), and
    /// until when they are asked only if no other copy is ready.
    suspect: Vec<(String, Instant)>,
}

/// This node's view of the cluster's replica holders.
#[derive(Debug)]
pub struct Membership {
    node_id: String,
    /// Whether this node keeps replicas (plays `ingester`).
    keeps: bool,
    copies: usize,
    partitions: u32,
    view: RwLock<View>,
}

impl Membership {
    pub fn new(node_id: &str, keeps: bool, copies: usize, partitions: u32) -> Membership {
        Membership {
            node_id: node_id.to_string(),
            keeps,
            copies: copies.max(1),
            partitions,
            view: RwLock::new(View::default()),
        }
    }

    /// Replaces the view with the live replica holders (this node excluded:
    /// it always counts itself while it keeps replicas).
    pub fn update(&self, mut members: Vec<Member>) {
        members.retain(|m| m.id != self.node_id);
        members.sort_by(|a, b| a.id.cmp(&b.id));
        let mut ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
        if self.keeps {
            ids.push(&self.node_id);
        }
        let holders = partition::assign(&ids, self.partitions, self.copies);
        let mut v = self.view.write().unwrap_or_else(|e| e.into_inner());
        v.members = members;
        v.holders = holders;
        v.rounds = v.rounds.saturating_add(1);
    }

    pub fn known(&self) -> bool {
        self.view.read().unwrap_or_else(|e| e.into_inner()).rounds >= 2
    }

    /// A read from `node` failed: ask the other copies first for a while.
    pub fn suspect(&self, node: &str) {
        let mut v = self.view.write().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        v.suspect.retain(|(n, until)| n != node && *until > now);
        v.suspect.push((node.to_string(), now + SUSPECT_FOR));
    }

    /// The nodes that should keep partition `p`, best (the owner) first.
    pub fn holders(&self, p: u32) -> Vec<String> {
        let v = self.view.read().unwrap_or_else(|e| e.into_inner());
        v.holders.get(p as usize).cloned().unwrap_or_default()
    }

    /// Whether this node should keep a replica of `p`.
    pub fn keeps_here(&self, p: u32) -> bool {
        self.keeps && self.known() && self.holders(p).contains(&self.node_id)
    }

    /// Whether `p`'s preferred owner is another node whose replica is ready:
    /// then this node hands the lease to it, or does not take it.
    pub fn owner_elsewhere_ready(&self, p: u32) -> bool {
        let Some(first) = self.holders(p).into_iter().next() else {
            return false;
        };
        first != self.node_id && self.is_ready_on(&first, p)
    }

    /// Whether another node meant to keep `p` has its replica ready.
    pub fn keeper_elsewhere_ready(&self, p: u32) -> bool {
        self.holders(p)
            .iter()
            .any(|h| *h != self.node_id && self.is_ready_on(h, p))
    }

    fn is_ready_on(&self, node: &str, p: u32) -> bool {
        let v = self.view.read().unwrap_or_else(|e| e.into_inner());
        v.members
            .iter()
            .any(|m| m.id == node && m.ready.contains(&p))
    }

    /// Other live nodes whose replica of `p` is ready, as (id, url), starting
    /// at a rotating position so reads spread over the copies; nodes that
    /// failed a read recently come last.
    pub fn ready_elsewhere(&self, p: u32, rotate: usize) -> Vec<(String, String)> {
        let v = self.view.read().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<(String, String)> = v
            .members
            .iter()
            .filter(|m| m.ready.contains(&p) && !m.url.is_empty())
            .map(|m| (m.id.clone(), m.url.clone()))
            .collect();
        if !out.is_empty() {
            let k = rotate % out.len();
            out.rotate_left(k);
        }
        let now = Instant::now();
        let suspected = |id: &str| v.suspect.iter().any(|(n, until)| n == id && *until > now);
        // Stable: the rotation is kept among the healthy and among the suspects.
        out.sort_by_key(|(id, _)| suspected(id));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, ready: &[u32]) -> Member {
        Member {
            id: id.into(),
            url: format!("http://{id}"),
            ready: ready.to_vec(),
        }
    }

    #[test]
    fn every_partition_is_kept_by_the_configured_number_of_nodes() {
        let views: Vec<Membership> = ["a", "b", "c"]
            .iter()
            .map(|n| Membership::new(n, true, 2, 16))
            .collect();
        for m in &views {
            m.update(vec![member("a", &[]), member("b", &[]), member("c", &[])]);
            assert!(
                !m.known(),
                "one round may have missed nodes started at the same time"
            );
            assert!(!m.keeps_here(0) && !m.keeps_here(1));
            m.update(vec![member("a", &[]), member("b", &[]), member("c", &[])]);
        }
        for p in 0..16 {
            let keepers = views.iter().filter(|m| m.keeps_here(p)).count();
            assert_eq!(keepers, 2, "partition {p}");
            // Every node names the same holders.
            assert_eq!(views[0].holders(p), views[1].holders(p));
            assert_eq!(views[0].holders(p), views[2].holders(p));
        }
    }

    #[test]
    fn a_node_that_keeps_nothing_reads_from_ready_holders() {
        let q = Membership::new("q", false, 2, 4);
        assert!(!q.keeps_here(0));
        q.update(vec![member("a", &[0, 1]), member("b", &[1])]);
        assert!(!q.keeps_here(0) && !q.keeps_here(1));
        assert_eq!(
            q.ready_elsewhere(0, 0),
            vec![("a".into(), "http://a".into())]
        );
        let both: Vec<String> = q.ready_elsewhere(1, 1).into_iter().map(|m| m.0).collect();
        assert_eq!(both, vec!["b".to_string(), "a".to_string()]);
        assert!(q.ready_elsewhere(2, 0).is_empty());
    }

    #[test]
    fn the_lease_goes_to_the_preferred_holder_once_it_is_ready() {
        let a = Membership::new("a", true, 2, 32);
        a.update(vec![member("b", &[])]);
        a.update(vec![member("b", &[])]);
        let p = (0..32).find(|&p| a.holders(p)[0] == "b").unwrap();
        assert!(
            !a.owner_elsewhere_ready(p),
            "b is not ready yet: a keeps the lease"
        );
        a.update(vec![member("b", &[p])]);
        assert!(a.owner_elsewhere_ready(p));
        let mine = (0..32).find(|&p| a.holders(p)[0] == "a").unwrap();
        assert!(!a.owner_elsewhere_ready(mine));
    }
}
