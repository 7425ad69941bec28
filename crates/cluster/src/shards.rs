//! Alarm-shard leases: an evaluator evaluates the alarms of the shards it
//! holds (`partition::of_alarm`), and commits each transition in a
//! transaction fenced by the shard's epoch, so an evaluator that was paused
//! past its lease can never commit a transition its successor also makes.

use crate::{Shared, partition};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

pub const LEASE_KIND: &str = "alarm-shard";

/// The epochs of the shards this node holds (0: not held).
#[derive(Debug)]
pub struct ShardTable {
    epochs: Vec<AtomicI64>,
}

impl ShardTable {
    pub fn new(shards: u32) -> ShardTable {
        ShardTable {
            epochs: (0..shards).map(|_| AtomicI64::new(0)).collect(),
        }
    }

    pub fn shards(&self) -> u32 {
        self.epochs.len() as u32
    }

    /// The alarm's shard and this node's epoch for it, if held.
    pub fn owner_epoch(&self, alarm: &str) -> Option<(u32, i64)> {
        let shard = partition::of_alarm(alarm, self.shards());
        let epoch = self.epochs.get(shard as usize)?.load(Ordering::SeqCst);
        (epoch != 0).then_some((shard, epoch))
    }

    pub fn held(&self) -> usize {
        self.epochs
            .iter()
            .filter(|e| e.load(Ordering::SeqCst) != 0)
            .count()
    }
}

pub(crate) fn spawn(
    shared: Arc<Shared>,
    table: Arc<ShardTable>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("alarm-shards".into())
        .spawn(move || {
            let ttl = shared.config.lease_ttl;
            let node = shared.config.node_id.clone();
            while !shared.stop.load(Ordering::SeqCst) {
                let share = partition::fair_share(
                    table.shards(),
                    shared
                        .live_evaluators
                        .load(std::sync::atomic::Ordering::Relaxed),
                );
                for shard in 0..table.shards() {
                    let slot = &table.epochs[shard as usize];
                    let mine = slot.load(Ordering::SeqCst) != 0;
                    if !mine && table.held() >= share {
                        continue;
                    }
                    match shared
                        .pg
                        .lease_acquire(LEASE_KIND, shard as i32, &node, ttl)
                    {
                        Ok(Some(epoch)) => {
                            if slot.swap(epoch, Ordering::SeqCst) != epoch {
                                tracing::info!(shard, epoch, "alarm shard lease taken");
                            }
                        }
                        Ok(None) => {
                            if slot.swap(0, Ordering::SeqCst) != 0 {
                                tracing::warn!(shard, "alarm shard lease lost");
                            }
                        }
                        Err(e) => {
                            // Transitions are fenced; stop evaluating only
                            // when the lease must have expired.
                            tracing::warn!(shard, "renewing an alarm shard lease: {e}");
                            slot.store(0, Ordering::SeqCst);
                        }
                    }
                }
                // Holding more than the share (a node joined): give some back.
                let mut extra = table.held().saturating_sub(share);
                for shard in (0..table.shards()).rev() {
                    if extra == 0 {
                        break;
                    }
                    let slot = &table.epochs[shard as usize];
                    if slot.swap(0, Ordering::SeqCst) != 0 {
                        let _ = shared.pg.lease_release(LEASE_KIND, shard as i32, &node);
                        extra -= 1;
                    }
                }
                shared.sleep_unless_stopping(ttl / 3);
            }
            for shard in 0..table.shards() {
                if table.epochs[shard as usize].swap(0, Ordering::SeqCst) != 0 {
                    let _ = shared.pg.lease_release(LEASE_KIND, shard as i32, &node);
                }
            }
        })
}
