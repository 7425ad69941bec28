//! The persistent outbox: one record per delivery in the metadata table
//! `outbox`, plus the index `outbox_pending` (key → next attempt time) that
//! the worker scans, so finished records kept for [`KEEP_FINISHED_MS`] cost
//! nothing per poll. Both change in one redb transaction.
//!
//! The record's state machine ([`DeliveryRecord::on_success`],
//! [`DeliveryRecord::on_failure`]) is pure and tested on its own.
//!
//! **Cluster mode** (the store is PostgreSQL, several nodes' workers drain
//! one outbox): a worker claims a record ([`claim`]) before reading and
//! sending it, sends only while the claim has comfortably longer to run
//! than the transport's timeout ([`claim_held`]), and releases it after
//! the outcome is recorded. Claims are `SKIP LOCKED` rows with a deadline
//! by the database clock, so two workers never send one record at once; a
//! worker that dies mid-send leaves a claim that expires (then the record
//! is sent again, as after a single-node crash). With redb every claim
//! succeeds: one process, one worker.
//!
//! Crash window: a delivery is marked delivered in its own transaction right
//! after the transport succeeded. A crash between the two (the relay or
//! webhook accepted the message, the mark did not commit) sends it once more
//! after the restart; emails carry a Message-ID stable per delivery, so
//! receivers can drop the duplicate. Nothing is ever lost: a record leaves
//! `Pending` only after success or after its retries are spent.

use super::NewDelivery;
use crate::meta::{self, MetaStore, Table};
use serde::{Deserialize, Serialize};

pub const TABLE: Table = Table::new("outbox");
pub const PENDING: Table = Table::new("outbox_pending");
/// Pending deliveries that must go out in order (SNS FIFO topics): outbox
/// key → its [`OrderSlot`]. A record here is attempted only when no record
/// of its lane with a smaller position is still here; it leaves when its
/// record leaves `Pending` (delivered or given up).
pub const ORDERED: Table = Table::new("outbox_ordered");

/// Where an ordered delivery stands in its lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSlot {
    /// Deliveries of one lane go out one after another (SNS: subscription
    /// and message group).
    pub lane: String,
    /// Position in the lane: compared as numbers (decimal digits).
    pub position: u128,
}

/// How long delivered and given-up records are kept (for the console and
/// for `ListDeliveries`), then pruned.
pub const KEEP_FINISHED_MS: i64 = 14 * 24 * 3600 * 1000;

/// The outbox key of a delivery: unique per (message id, subscription).
/// A JSON array, so no choice of separator can make two pairs collide.
pub fn key(message_id: &str, subscription_arn: Option<&str>) -> String {
    serde_json::json!([message_id, subscription_arn.unwrap_or("")]).to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    Pending,
    Delivered,
    GaveUp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub delivery: NewDelivery,
    pub status: Status,
    /// Attempts made so far.
    pub attempts: u32,
    pub enqueued_at_ms: i64,
    /// When the next attempt is due (`Pending` only).
    pub next_attempt_at_ms: Option<i64>,
    pub last_attempt_at_ms: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at_ms: Option<i64>,
    pub given_up_at_ms: Option<i64>,
}

impl DeliveryRecord {
    pub fn new(delivery: NewDelivery, now_ms: i64) -> Self {
        DeliveryRecord {
            delivery,
            status: Status::Pending,
            attempts: 0,
            enqueued_at_ms: now_ms,
            next_attempt_at_ms: Some(now_ms),
            last_attempt_at_ms: None,
            last_error: None,
            delivered_at_ms: None,
            given_up_at_ms: None,
        }
    }

    pub fn key(&self) -> String {
        key(
            &self.delivery.message_id,
            self.delivery.subscription_arn.as_deref(),
        )
    }

    pub fn on_success(&mut self, now_ms: i64) {
        self.attempts = self.attempts.saturating_add(1);
        self.last_attempt_at_ms = Some(now_ms);
        self.status = Status::Delivered;
        self.next_attempt_at_ms = None;
        self.delivered_at_ms = Some(now_ms);
    }

    /// Records a failed attempt: schedules the next retry by the delivery's
    /// policy, or gives up when the retries are spent or the failure is
    /// permanent (an address the relay refuses for good).
    pub fn on_failure(&mut self, now_ms: i64, error: &str, permanent: bool) {
        self.attempts = self.attempts.saturating_add(1);
        self.last_attempt_at_ms = Some(now_ms);
        self.last_error = Some(error.to_string());
        // Retry n follows attempt n.
        let next = if permanent {
            None
        } else {
            self.delivery.policy.delay_before_retry(self.attempts)
        };
        match next {
            Some(secs) => {
                let delay_ms = i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX);
                self.next_attempt_at_ms = Some(now_ms.saturating_add(delay_ms));
            }
            None => {
                self.status = Status::GaveUp;
                self.next_attempt_at_ms = None;
                self.given_up_at_ms = Some(now_ms);
            }
        }
    }

    /// When a finished record stops being kept.
    fn finished_at_ms(&self) -> Option<i64> {
        self.delivered_at_ms.or(self.given_up_at_ms)
    }
}

/// The claim scope of outbox records.
const CLAIM_SCOPE: &str = "outbox";

/// Claims record `key` for `owner` until `ttl` from now. `false`: another
/// worker holds it. Always `true` on redb.
pub fn claim(
    meta: &MetaStore,
    key: &str,
    owner: &str,
    ttl: std::time::Duration,
) -> meta::Result<bool> {
    let Some(pg) = meta.pg() else {
        return Ok(true);
    };
    let held = pg.claim(CLAIM_SCOPE, &[key.to_string()], owner, ttl)?;
    Ok(held.iter().any(|k| k == key))
}

/// Whether `owner` still holds record `key` for at least `margin` more.
/// Always `true` on redb.
pub fn claim_held(
    meta: &MetaStore,
    key: &str,
    owner: &str,
    margin: std::time::Duration,
) -> meta::Result<bool> {
    match meta.pg() {
        Some(pg) => Ok(pg.claim_held(CLAIM_SCOPE, key, owner, margin)?),
        None => Ok(true),
    }
}

/// Gives up `owner`'s claim on record `key` (nothing on redb).
pub fn release(meta: &MetaStore, key: &str, owner: &str) -> meta::Result<()> {
    match meta.pg() {
        Some(pg) => Ok(pg.claim_release(CLAIM_SCOPE, key, owner)?),
        None => Ok(()),
    }
}

/// Records `d` unless its (message id, subscription) pair is already in the
/// outbox. Returns whether it was new. Durable when this returns.
pub fn insert(meta: &MetaStore, d: NewDelivery, now_ms: i64) -> meta::Result<bool> {
    meta.transact(|tx| insert_in(tx, d, now_ms, None))
}

/// [`insert`] inside the caller's transaction, optionally in an ordered
/// lane. The worker is not woken: call [`super::Notifier::wake`] after
/// the commit.
pub fn insert_in(
    tx: &mut meta::Txn<'_>,
    d: NewDelivery,
    now_ms: i64,
    order: Option<OrderSlot>,
) -> meta::Result<bool> {
    let rec = DeliveryRecord::new(d, now_ms);
    let k = rec.key();
    if tx.get::<serde_json::Value>(TABLE, &k)?.is_some() {
        return Ok(false);
    }
    tx.put(TABLE, &k, &rec)?;
    tx.put(PENDING, &k, &now_ms)?;
    if let Some(slot) = order {
        tx.put(ORDERED, &k, &slot)?;
    }
    Ok(true)
}

/// Keys of ordered deliveries that must wait: an earlier one of their
/// lane is still pending (in flight, waiting for a retry, or not yet
/// attempted).
pub fn waiting_for_earlier(meta: &MetaStore) -> meta::Result<std::collections::HashSet<String>> {
    let mut lanes: std::collections::HashMap<String, (u128, String)> = Default::default();
    let mut waiting = std::collections::HashSet::new();
    for (key, slot) in meta.list::<OrderSlot>(ORDERED)? {
        match lanes.get_mut(&slot.lane) {
            Some(head) if head.0 <= slot.position => {
                waiting.insert(key);
            }
            Some(head) => {
                waiting.insert(std::mem::replace(head, (slot.position, key)).1);
            }
            None => {
                lanes.insert(slot.lane, (slot.position, key));
            }
        }
    }
    Ok(waiting)
}

/// The pending deliveries' keys and due times, earliest first.
pub fn pending(meta: &MetaStore) -> meta::Result<Vec<(String, i64)>> {
    let mut all: Vec<(String, i64)> = meta.list(PENDING)?;
    all.sort_by_key(|(_, due)| *due);
    Ok(all)
}

pub fn get(meta: &MetaStore, key: &str) -> meta::Result<Option<DeliveryRecord>> {
    meta.get(TABLE, key)
}

/// Applies an attempt's outcome to the record `key` in one transaction and
/// keeps the pending index in step. Returns the updated record (`None` when
/// the record is gone or no longer pending: nothing to do).
pub fn record_outcome(
    meta: &MetaStore,
    key: &str,
    now_ms: i64,
    outcome: Result<(), (&str, bool)>,
) -> meta::Result<Option<DeliveryRecord>> {
    meta.transact(|tx| {
        let Some(mut rec) = tx.get::<DeliveryRecord>(TABLE, key)? else {
            tx.delete(PENDING, key)?;
            tx.delete(ORDERED, key)?;
            return Ok(None);
        };
        if rec.status != Status::Pending {
            tx.delete(PENDING, key)?;
            tx.delete(ORDERED, key)?;
            return Ok(None);
        }
        match outcome {
            Ok(()) => rec.on_success(now_ms),
            Err((error, permanent)) => rec.on_failure(now_ms, error, permanent),
        }
        tx.put(TABLE, key, &rec)?;
        match rec.next_attempt_at_ms {
            Some(due) => tx.put(PENDING, key, &due)?,
            None => {
                tx.delete(PENDING, key)?;
                // The next of its lane may go now.
                tx.delete(ORDERED, key)?;
            }
        }
        Ok(Some(rec))
    })
}

/// Every record, newest first (console, `ListDeliveries`).
pub fn list_recent(meta: &MetaStore, limit: usize) -> meta::Result<Vec<DeliveryRecord>> {
    let mut all: Vec<DeliveryRecord> = meta
        .list::<DeliveryRecord>(TABLE)?
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    all.sort_by_key(|r| std::cmp::Reverse(r.enqueued_at_ms));
    all.truncate(limit);
    Ok(all)
}

/// Deletes finished records older than `keep_ms`. Returns how many.
pub fn prune(meta: &MetaStore, now_ms: i64, keep_ms: i64) -> meta::Result<usize> {
    let old: Vec<String> = meta
        .list::<DeliveryRecord>(TABLE)?
        .into_iter()
        .filter(|(_, r)| {
            r.status != Status::Pending
                && r.finished_at_ms()
                    .is_some_and(|t| t.saturating_add(keep_ms) < now_ms)
        })
        .map(|(k, _)| k)
        .collect();
    meta.delete_many(TABLE, &old)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::{Backoff, RetryPolicy, Target};

    fn delivery(id: &str, retries: u32) -> NewDelivery {
        NewDelivery {
            message_id: id.into(),
            subscription_arn: Some("arn:aws:sns:us-east-1:123456789012:t:s1".into()),
            topic_arn: "arn:aws:sns:us-east-1:123456789012:t".into(),
            target: Target::Email {
                to: "a@example.com".into(),
                subject: "s".into(),
                text: "t".into(),
            },
            policy: RetryPolicy {
                num_retries: retries,
                min_delay_secs: 10,
                max_delay_secs: 30,
                backoff: Backoff::Linear,
            },
        }
    }

    #[test]
    fn state_machine_retries_then_gives_up() {
        let mut r = DeliveryRecord::new(delivery("m", 2), 1_000);
        assert_eq!(r.next_attempt_at_ms, Some(1_000));
        r.on_failure(1_000, "connection refused", false);
        assert_eq!((r.status, r.attempts), (Status::Pending, 1));
        assert_eq!(r.next_attempt_at_ms, Some(11_000));
        r.on_failure(11_000, "connection refused", false);
        assert_eq!((r.status, r.attempts), (Status::Pending, 2));
        assert_eq!(r.next_attempt_at_ms, Some(41_000));
        r.on_failure(41_000, "still refused", false);
        assert_eq!((r.status, r.attempts), (Status::GaveUp, 3));
        assert_eq!(r.next_attempt_at_ms, None);
        assert_eq!(r.given_up_at_ms, Some(41_000));
        assert_eq!(r.last_error.as_deref(), Some("still refused"));
    }

    #[test]
    fn state_machine_success_and_permanent_failure() {
        let mut r = DeliveryRecord::new(delivery("m", 5), 0);
        r.on_failure(0, "421 try later", false);
        r.on_success(10_000);
        assert_eq!((r.status, r.attempts), (Status::Delivered, 2));
        assert_eq!(r.delivered_at_ms, Some(10_000));
        assert_eq!(r.next_attempt_at_ms, None);

        let mut r = DeliveryRecord::new(delivery("m", 5), 0);
        r.on_failure(0, "550 no such user", true);
        assert_eq!((r.status, r.attempts), (Status::GaveUp, 1));
    }

    #[test]
    fn insert_is_idempotent_and_outcomes_keep_the_index_in_step() {
        let dir = tempfile::tempdir().unwrap();
        let m = MetaStore::open(&dir.path().join("m.redb")).unwrap();
        assert!(insert(&m, delivery("m1", 1), 100).unwrap());
        assert!(!insert(&m, delivery("m1", 1), 200).unwrap());
        assert!(insert(&m, delivery("m2", 1), 50).unwrap());
        let k1 = key("m1", Some("arn:aws:sns:us-east-1:123456789012:t:s1"));
        let pend = pending(&m).unwrap();
        assert_eq!(pend.len(), 2);
        assert_eq!(pend[1], (k1.clone(), 100));

        let r = record_outcome(&m, &k1, 150, Err(("boom", false)))
            .unwrap()
            .unwrap();
        assert_eq!(r.next_attempt_at_ms, Some(10_150));
        assert!(pending(&m).unwrap().contains(&(k1.clone(), 10_150)));
        let r = record_outcome(&m, &k1, 10_150, Ok(())).unwrap().unwrap();
        assert_eq!(r.status, Status::Delivered);
        assert!(!pending(&m).unwrap().iter().any(|(k, _)| *k == k1));
        // A late duplicate outcome changes nothing.
        assert_eq!(record_outcome(&m, &k1, 20_000, Ok(())).unwrap(), None);
        // Re-enqueueing a delivered pair is still a no-op.
        assert!(!insert(&m, delivery("m1", 1), 30_000).unwrap());

        // Survives reopening.
        drop(m);
        let m = MetaStore::open(&dir.path().join("m.redb")).unwrap();
        assert_eq!(get(&m, &k1).unwrap().unwrap().status, Status::Delivered);
        assert_eq!(pending(&m).unwrap().len(), 1);

        // Pruning drops only finished records past the keep time.
        assert_eq!(prune(&m, 10_150 + 1_000, 1_000).unwrap(), 0);
        assert_eq!(prune(&m, 10_150 + 1_001, 1_000).unwrap(), 1);
        assert_eq!(get(&m, &k1).unwrap(), None);
        assert_eq!(list_recent(&m, 10).unwrap().len(), 1);
    }

    #[test]
    fn an_ordered_lane_waits_for_its_earliest_pending_delivery() {
        let dir = tempfile::tempdir().unwrap();
        let m = MetaStore::open(&dir.path().join("m.redb")).unwrap();
        let slot = |lane: &str, position: u128| OrderSlot {
            lane: lane.into(),
            position,
        };
        // Inserted out of position order; lane b is independent.
        for (id, s) in [
            ("a2", slot("a", 20)),
            ("a1", slot("a", 10)),
            ("a3", slot("a", 30)),
            ("b1", slot("b", 15)),
        ] {
            m.transact(|tx| insert_in(tx, delivery(id, 2), 0, Some(s)))
                .unwrap();
        }
        let k = |id: &str| key(id, Some("arn:aws:sns:us-east-1:123456789012:t:s1"));
        let waiting = |m: &MetaStore| {
            let mut w: Vec<String> = waiting_for_earlier(m).unwrap().into_iter().collect();
            w.sort();
            w
        };
        assert_eq!(waiting(&m), vec![k("a2"), k("a3")]);
        // A failure with retries left keeps the lane blocked.
        record_outcome(&m, &k("a1"), 1, Err(("503", false))).unwrap();
        assert_eq!(waiting(&m), vec![k("a2"), k("a3")]);
        // Giving up (after its two retries) lets the next one go.
        let r = record_outcome(&m, &k("a1"), 2, Err(("503", false)))
            .unwrap()
            .unwrap();
        assert_eq!(r.status, Status::Pending, "a retry left: still pending");
        record_outcome(&m, &k("a1"), 3, Err(("503", false))).unwrap();
        assert_eq!(get(&m, &k("a1")).unwrap().unwrap().status, Status::GaveUp);
        assert_eq!(waiting(&m), vec![k("a3")]);
        record_outcome(&m, &k("a2"), 4, Ok(())).unwrap();
        assert!(waiting(&m).is_empty());
    }

    #[test]
    fn keys_do_not_collide() {
        assert_ne!(key("a|b", Some("c")), key("a", Some("b|c")));
        assert_ne!(key("a", None), key("a", Some("x")));
    }
}
