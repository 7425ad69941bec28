//! Publishing to FIFO topics: the deduplication window, sequence numbers,
//! and deliveries queued in per-(subscription, message group) lanes.
//!
//! One metadata transaction per Publish / PublishBatch does everything: it
//! looks each deduplication id up (`sns_fifo_dedup`, keyed by topic, scope
//! and id, kept [`DEDUP_WINDOW_MS`]), takes the next sequence numbers from
//! the topic's counter (`sns_fifo_sequence`), remembers the new ids, and
//! inserts the deliveries into the outbox with their lane and position. So
//! an acknowledged message is both remembered (a duplicate after a kill -9
//! is still recognised) and queued; an unacknowledged one is neither, and
//! the client's retry publishes it afresh. Because sequence numbers are
//! taken and deliveries queued in one write transaction (redb has a single
//! writer; PostgreSQL write transactions take one advisory lock), positions
//! follow sequence numbers, and the outbox worker sends a lane's deliveries
//! one at a time in that order (`notify::outbox::ORDERED`).

use super::delivery::{self, Outgoing};
use super::publish::passes;
use super::store::{self, TopicRecord, internal};
use super::subscriptions::links;
use crate::meta::{Table, Txn};
use crate::notify::outbox::{self, OrderSlot};
use crate::state::AppState;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicI64, Ordering};
use stratus_model::sns::fifo::{
    DEDUP_WINDOW_MS, FIRST_SEQUENCE, FifoIdentity, dedup_per_group, format_sequence,
};
use stratus_model::sns::publish::ValidMessage;
use stratus_model::{ApiResult, Timestamp};

pub const DEDUP: Table = Table::new("sns_fifo_dedup");
pub const SEQUENCES: Table = Table::new("sns_fifo_sequence");

/// Expired deduplication records are swept at most this often (inside a
/// publish's transaction; a lookup ignores expired records anyway).
const SWEEP_EVERY_MS: i64 = 60_000;
static LAST_SWEEP_MS: AtomicI64 = AtomicI64::new(0);

/// What a deduplication id stands for while its window lasts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DedupRecord {
    pub message_id: String,
    pub sequence_number: String,
    pub expires_ms: i64,
}

/// A topic's last sequence number (decimal text: u128 is wider than JSON
/// numbers are safe for).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SequenceRecord {
    last: String,
}

/// A JSON array, so no separator can make two keys collide; the topic ARN
/// first, so a topic's records share a prefix.
fn dedup_key(topic_arn: &str, group: Option<&str>, dedup_id: &str) -> String {
    serde_json::json!([topic_arn, group.unwrap_or(""), dedup_id]).to_string()
}

fn topic_prefix(topic_arn: &str) -> String {
    format!("[{},", serde_json::Value::String(topic_arn.to_string()))
}

/// The lane of a delivery: one subscription, one message group.
fn lane(subscription_arn: &str, group: &str) -> String {
    serde_json::json!([subscription_arn, group]).to_string()
}

/// A published (or recognised duplicate) message's MessageId and
/// SequenceNumber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub message_id: String,
    pub sequence_number: String,
}

/// Publishes `messages` to the FIFO `topic`, in the given order.
pub fn publish(
    state: &AppState,
    topic: &TopicRecord,
    messages: &[(FifoIdentity, &ValidMessage)],
) -> ApiResult<Vec<Published>> {
    let links = links(state)?;
    let subs: Vec<_> = store::topic_subscriptions(&state.meta, &topic.arn)?
        .into_iter()
        .filter(|s| !s.pending)
        .collect();
    let per_group = dedup_per_group(&topic.attributes);
    let now = Timestamp::now();
    let now_ms = now.millis();
    let timestamp = now.to_iso8601();
    let sweep = now_ms - LAST_SWEEP_MS.load(Ordering::Relaxed) >= SWEEP_EVERY_MS;
    let audience = Audience {
        links: &links,
        topic,
        subs: &subs,
        timestamp: &timestamp,
    };
    let out = state
        .meta
        .transact(|tx| {
            let mut last = tx
                .get::<SequenceRecord>(SEQUENCES, &topic.arn)?
                .and_then(|r| r.last.parse::<u128>().ok())
                .unwrap_or(FIRST_SEQUENCE - 1);
            let mut out = Vec::with_capacity(messages.len());
            for (id, msg) in messages {
                let key = dedup_key(
                    &topic.arn,
                    per_group.then_some(id.group.as_str()),
                    &id.dedup_id,
                );
                if let Some(seen) = tx.get::<DedupRecord>(DEDUP, &key)?
                    && seen.expires_ms > now_ms
                {
                    // Accepted, answered as the first time, not delivered again.
                    out.push(Published {
                        message_id: seen.message_id,
                        sequence_number: seen.sequence_number,
                    });
                    continue;
                }
                last = last.saturating_add(1);
                let published = Published {
                    message_id: uuid::Uuid::new_v4().to_string(),
                    sequence_number: format_sequence(last),
                };
                tx.put(
                    DEDUP,
                    &key,
                    &DedupRecord {
                        message_id: published.message_id.clone(),
                        sequence_number: published.sequence_number.clone(),
                        expires_ms: now_ms + DEDUP_WINDOW_MS,
                    },
                )?;
                audience.queue(tx, id, msg, &published, last)?;
                out.push(published);
            }
            tx.put(
                SEQUENCES,
                &topic.arn,
                &SequenceRecord {
                    last: last.to_string(),
                },
            )?;
            if sweep {
                sweep_expired(tx, now_ms)?;
            }
            Ok(out)
        })
        .map_err(internal)?;
    if sweep {
        LAST_SWEEP_MS.store(now_ms, Ordering::Relaxed);
    }
    state.notifier.wake();
    Ok(out)
}

/// Who one publish reaches: the topic's confirmed subscriptions, with what
/// their documents need.
struct Audience<'a> {
    links: &'a delivery::Links<'a>,
    topic: &'a TopicRecord,
    subs: &'a [store::SubscriptionRecord],
    timestamp: &'a str,
}

impl Audience<'_> {
    /// Inserts one message's deliveries, each in its (subscription, group)
    /// lane at the message's sequence number.
    fn queue(
        &self,
        tx: &mut Txn<'_>,
        id: &FifoIdentity,
        msg: &ValidMessage,
        published: &Published,
        position: u128,
    ) -> crate::meta::Result<()> {
        let (links, topic, timestamp) = (self.links, self.topic, self.timestamp);
        let attrs = msg.filter_view();
        for sub in self.subs.iter().filter(|s| passes(s, msg, &attrs)) {
            let out = Outgoing {
                message_id: &published.message_id,
                sequence_number: Some(&published.sequence_number),
                subject: msg.subject.as_deref(),
                text: msg.body.for_protocol(&sub.protocol),
                attributes: &msg.attributes,
                timestamp,
            };
            let d = delivery::notification(links, topic, sub, &out);
            let slot = OrderSlot {
                lane: lane(&sub.arn, &id.group),
                position,
            };
            outbox::insert_in(tx, d, Timestamp::now().millis(), Some(slot))?;
        }
        Ok(())
    }
}

fn sweep_expired(tx: &mut Txn<'_>, now_ms: i64) -> crate::meta::Result<()> {
    for (key, rec) in tx.list::<DedupRecord>(DEDUP)? {
        if rec.expires_ms <= now_ms {
            tx.delete(DEDUP, &key)?;
        }
    }
    Ok(())
}

/// Forgets a deleted topic's counter and deduplication ids, so a new topic
/// of the same name starts afresh.
pub fn forget_topic_in(tx: &mut Txn<'_>, topic_arn: &str) -> crate::meta::Result<()> {
    tx.delete(SEQUENCES, topic_arn)?;
    let prefix = topic_prefix(topic_arn);
    for (key, _) in tx.list::<DedupRecord>(DEDUP)? {
        if key.starts_with(&prefix) {
            tx.delete(DEDUP, &key)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sns::store::{SUBSCRIPTIONS, SubscriptionRecord, TOPICS};
    use std::collections::BTreeMap;
    use stratus_model::sns::publish::MessageBody;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:orders.fifo";

    fn fifo_state(dir: &std::path::Path) -> (AppState, TopicRecord) {
        let st = AppState {
            public_url: "http://sns.test".into(),
            ..AppState::for_tests(dir, ("AKIDSNSFIFO000000001", "sns-fifo-unit-secret"))
        };
        let topic = TopicRecord {
            arn: TOPIC.into(),
            name: "orders.fifo".into(),
            attributes: [("FifoTopic".to_string(), "true".to_string())].into(),
            subscriptions_deleted: 0,
            created_ms: 0,
        };
        let sub = SubscriptionRecord {
            arn: format!("{TOPIC}:2f1c0a55-0d7a-4e1d-9f00-6c1a1f557d5e"),
            topic_arn: TOPIC.into(),
            protocol: "https".into(),
            endpoint: "https://hooks.example.com/x".into(),
            owner: crate::ACCOUNT_ID.into(),
            principal: "p".into(),
            pending: false,
            token: None,
            token_expires_ms: 0,
            confirmation_was_authenticated: false,
            attributes: BTreeMap::new(),
            created_ms: 0,
        };
        st.meta
            .transact(|tx| {
                tx.put(TOPICS, TOPIC, &topic)?;
                tx.put(SUBSCRIPTIONS, &sub.arn, &sub)
            })
            .unwrap();
        (st, topic)
    }

    #[test]
    fn a_dedup_id_counts_only_within_its_window() {
        let dir = tempfile::tempdir().unwrap();
        let (st, topic) = fifo_state(dir.path());
        let msg = ValidMessage {
            subject: None,
            body: MessageBody::Plain("hello".into()),
            attributes: BTreeMap::new(),
        };
        let id = FifoIdentity {
            group: "g".into(),
            dedup_id: "d".into(),
        };
        let first = publish(&st, &topic, &[(id.clone(), &msg)]).unwrap();
        assert_eq!(first[0].sequence_number, format_sequence(FIRST_SEQUENCE));
        assert_eq!(publish(&st, &topic, &[(id.clone(), &msg)]).unwrap(), first);
        assert_eq!(st.notifier.recent(10).unwrap().len(), 1);

        // The window ends: the same id is a new message, with a later number.
        let key = dedup_key(TOPIC, None, "d");
        st.meta
            .transact(|tx| {
                let mut r: DedupRecord = tx.get(DEDUP, &key)?.unwrap();
                r.expires_ms = Timestamp::now().millis() - 1;
                tx.put(DEDUP, &key, &r)
            })
            .unwrap();
        let later = publish(&st, &topic, &[(id, &msg)]).unwrap();
        assert_ne!(later[0].message_id, first[0].message_id);
        assert_eq!(
            later[0].sequence_number,
            format_sequence(FIRST_SEQUENCE + 1)
        );
        let queued = st.notifier.recent(10).unwrap();
        assert_eq!(queued.len(), 2);
        let crate::notify::Target::Http { body, .. } = &queued[0].delivery.target else {
            panic!("an https subscription gets an http delivery");
        };
        let doc: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(doc["SequenceNumber"].is_string());

        // Deleting the topic forgets its counter and ids.
        st.meta.transact(|tx| forget_topic_in(tx, TOPIC)).unwrap();
        assert!(st.meta.list::<DedupRecord>(DEDUP).unwrap().is_empty());
        let again = publish(
            &st,
            &topic,
            &[(
                FifoIdentity {
                    group: "g".into(),
                    dedup_id: "d".into(),
                },
                &msg,
            )],
        )
        .unwrap();
        assert_eq!(again[0].sequence_number, format_sequence(FIRST_SEQUENCE));
    }

    #[test]
    fn keys_group_by_topic() {
        let a = "arn:aws:sns:us-east-1:123456789012:t.fifo";
        let k = dedup_key(a, None, "d\",x");
        assert!(k.starts_with(&topic_prefix(a)));
        assert!(!k.starts_with(&topic_prefix("arn:aws:sns:us-east-1:123456789012:t")));
        assert_ne!(dedup_key(a, Some("g"), "d"), dedup_key(a, None, "d"));
        assert_ne!(lane("s", "a\",\"b"), lane("s\",\"a", "b"));
    }
}
