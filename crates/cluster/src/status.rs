//! `stratus cluster status`: nodes, roles, leases, log positions and the last
//! committed block per partition, as one JSON-serialisable document.

use crate::{ClusterError, Shared, now_ms};
use serde::Serialize;
use std::sync::atomic::Ordering;

#[derive(Debug, Serialize)]
pub struct ClusterStatus {
    pub node: String,
    pub partitions: Vec<PartitionStatus>,
    pub nodes: Vec<NodeStatus>,
    pub leases: Vec<LeaseStatus>,
}

#[derive(Debug, Serialize)]
pub struct PartitionStatus {
    pub partition: u32,
    pub owner: Option<String>,
    pub epoch: Option<i64>,
    pub committed_seq: Option<u64>,
    pub committed_age_ms: Option<i64>,
    pub committed_files: usize,
    pub log_first_seq: Option<u64>,
    pub log_last_seq: Option<u64>,
    /// The nodes meant to keep the partition (the preferred owner first), in
    /// this node's view.
    pub holders: Vec<String>,
    /// This node's replica is loaded and caught up (reads are served from it).
    pub ready_here: bool,
    /// This node's replica: applied up to, and how far behind the log.
    pub applied_seq: Option<u64>,
    pub lag: Option<u64>,
    /// Log entries this node's replica could not decode and skipped (never expected).
    pub undecodable_entries: Option<u64>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct NodeStatus {
    pub id: String,
    pub url: String,
    pub roles: Vec<String>,
    pub heartbeat_age_ms: i64,
    pub live: bool,
    pub stats: serde_json::Value,
}

#[derive(Debug, Serialize)]
pub struct LeaseStatus {
    pub kind: String,
    pub id: i32,
    pub owner: String,
    pub epoch: i64,
    pub expires_in_ms: i64,
}

pub(crate) fn node_stats(shared: &Shared) -> serde_json::Value {
    let owned: Vec<u32> = shared
        .replicas
        .iter()
        .filter(|r| r.epoch.load(Ordering::SeqCst) != 0)
        .map(|r| r.partition)
        .collect();
    let ready: Vec<u32> = shared
        .replicas
        .iter()
        .filter(|r| r.ready.load(Ordering::SeqCst))
        .map(|r| r.partition)
        .collect();
    serde_json::json!({
        "partitions_owned": owned,
        // Other nodes send reads of these partitions here (module `membership`).
        "ready_partitions": ready,
        "blocks_committed": shared.blocks_committed.load(Ordering::Relaxed),
    })
}

pub(crate) fn collect(shared: &Shared) -> Result<ClusterStatus, ClusterError> {
    let leases = shared.pg.leases(None)?;
    let checkpoints = shared.pg.checkpoints()?;
    let nodes = shared.pg.nodes()?;
    let ttl_ms = shared.config.lease_ttl.as_millis() as i64;
    let mut partitions = Vec::new();
    for p in 0..shared.config.partitions {
        let lease = leases
            .iter()
            .find(|l| l.kind == "partition" && l.id == p as i32 && l.expires_in_ms > 0);
        let ckpt = checkpoints
            .iter()
            .find(|(id, _)| *id == p as i32)
            .map(|(_, c)| c);
        let info = shared.rt.block_on(shared.log.info(p)).ok();
        let replica = shared.replicas.get(p as usize);
        // Only for a replica loaded here (a partition this node keeps).
        let replica = replica.filter(|r| r.db().is_ok());
        let applied = replica.map(|r| r.applied.load(Ordering::SeqCst));
        partitions.push(PartitionStatus {
            partition: p,
            owner: lease.map(|l| l.owner.clone()),
            epoch: lease.map(|l| l.epoch),
            committed_seq: ckpt.map(|c| c.seq),
            committed_age_ms: ckpt.map(|c| now_ms() - c.committed_at_ms),
            committed_files: ckpt
                .and_then(|c| crate::snapshot::Manifest::from_json(&c.manifest).ok())
                .map_or(0, |m| m.files.len()),
            log_first_seq: info.as_ref().map(|i| i.first_seq),
            log_last_seq: info.as_ref().map(|i| i.last_seq),
            holders: shared.membership.holders(p),
            ready_here: replica.is_some_and(|r| r.ready.load(Ordering::SeqCst)),
            applied_seq: applied,
            lag: match (&info, applied) {
                (Some(i), Some(a)) => Some(i.last_seq.saturating_sub(a)),
                _ => None,
            },
            undecodable_entries: replica.map(|r| r.undecodable.load(Ordering::Relaxed)),
            error: replica.and_then(|r| r.last_error.lock().ok().and_then(|e| e.clone())),
        });
    }
    Ok(ClusterStatus {
        node: shared.config.node_id.clone(),
        partitions,
        nodes: nodes
            .into_iter()
            .map(|n| NodeStatus {
                live: n.heartbeat_age_ms < ttl_ms,
                id: n.id,
                url: n.url,
                roles: n.roles,
                heartbeat_age_ms: n.heartbeat_age_ms,
                stats: n.stats,
            })
            .collect(),
        leases: leases
            .into_iter()
            .map(|l| LeaseStatus {
                kind: l.kind,
                id: l.id,
                owner: l.owner,
                epoch: l.epoch,
                expires_in_ms: l.expires_in_ms,
            })
            .collect(),
    })
}
