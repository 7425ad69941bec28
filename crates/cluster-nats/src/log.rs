//! `IngestLog`: connecting, publishing, purging and stream info.

use std::time::Duration;

use async_nats::jetstream::context::{Context, ContextBuilder, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;
use futures::future::join_all;
use tokio::time::Instant;

use crate::error::{from_any, from_kind, from_publish};
use crate::reader::LogReader;
use crate::{LogConfig, LogError, streams};

/// A published message's place in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    pub partition: u32,
    pub seq: u64,
    /// The msg id was seen within the dedup window: `seq` is the original message's.
    pub duplicate: bool,
}

/// One partition's state as the stream leader reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    pub partition: u32,
    pub first_seq: u64,
    pub last_seq: u64,
    pub messages: u64,
    pub bytes: u64,
    /// Server name of the stream's leader; `None` during an election.
    pub leader: Option<String>,
    /// Replicas that are current (leader included).
    pub replicas_current: usize,
}

/// Handle on the replicated ingest log. Cheap to clone; clones share one connection.
#[derive(Clone)]
pub struct IngestLog {
    js: Context,
    cfg: std::sync::Arc<LogConfig>,
}

impl IngestLog {
    /// Connects (retrying up to `wait`) to any of the URLs (the client fails over between them
    /// and reconnects forever), then creates or verifies the streams.
    pub async fn connect(cfg: LogConfig, wait: Duration) -> Result<IngestLog, LogError> {
        cfg.validate()?;
        let deadline = Instant::now() + wait;
        let client = loop {
            let attempt = async_nats::ConnectOptions::new()
                .max_reconnects(None)
                .connection_timeout(cfg.request_timeout)
                .request_timeout(Some(cfg.request_timeout))
                .connect(cfg.urls.as_slice())
                .await;
            match attempt {
                Ok(client) => break client,
                Err(e) if Instant::now() >= deadline => {
                    return Err(LogError::Unavailable(format!(
                        "connecting to {:?}: {e}",
                        cfg.urls
                    )));
                }
                Err(e) => {
                    tracing::debug!(error = %e, "NATS connect failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        let js = ContextBuilder::new()
            .timeout(cfg.request_timeout)
            // Wait for an in-flight slot instead of failing a large publish_all.
            .backpressure_on_inflight(true)
            .build(client);
        for p in 0..cfg.partitions {
            // A fresh cluster may not have elected its meta leader yet: retry until `wait`.
            loop {
                match streams::ensure(&js, &cfg, p).await {
                    Ok(()) => break,
                    Err(LogError::Unavailable(m)) if Instant::now() < deadline => {
                        tracing::debug!(error = %m, "ingest log stream not ready; retrying");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let log = IngestLog {
            js,
            cfg: std::sync::Arc::new(cfg),
        };
        // A just-created stream answers publishes only once its leader is elected and its
        // subject interest has reached our server; wait for that so the first publish does
        // not bounce with "no responders".
        for p in 0..log.cfg.partitions {
            loop {
                let err = match log.probe(p).await {
                    Ok(()) => break,
                    Err(e) => e,
                };
                match err {
                    LogError::Unavailable(_) if Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    e => return Err(e),
                }
            }
        }
        Ok(log)
    }

    /// Publishes with header Nats-Msg-Id = msg_id and waits for the PubAck (stream quorum
    /// fsync'd with sync_interval: always). A duplicate within the window returns the original
    /// seq with duplicate = true.
    pub async fn publish(
        &self,
        partition: u32,
        msg_id: &str,
        payload: Bytes,
    ) -> Result<Published, LogError> {
        let mut all = self
            .publish_all(vec![(partition, msg_id.to_string(), payload)])
            .await?;
        Ok(all.remove(0))
    }

    /// Publishes all concurrently (pipelined) and returns when every PubAck arrived; the first
    /// error otherwise.
    pub async fn publish_all(
        &self,
        msgs: Vec<(u32, String, Bytes)>,
    ) -> Result<Vec<Published>, LogError> {
        // Check every partition before sending any, so a bad batch publishes nothing.
        for (partition, _, _) in &msgs {
            self.check_partition(*partition)?;
        }
        let mut pending = Vec::with_capacity(msgs.len());
        for (partition, msg_id, payload) in msgs {
            let msg = PublishMessage::build().payload(payload).message_id(&msg_id);
            let ack = self
                .js
                .send_publish(self.cfg.subject(partition), msg)
                .await
                .map_err(|e| from_publish(&format!("publish to partition {partition}"), &e))?;
            pending.push((partition, ack));
        }
        let acks = join_all(pending.into_iter().map(|(p, ack)| async move {
            let ack = ack
                .await
                .map_err(|e| from_publish(&format!("PubAck from partition {p}"), &e))?;
            Ok(Published {
                partition: p,
                seq: ack.sequence,
                duplicate: ack.duplicate,
            })
        }))
        .await;
        acks.into_iter().collect()
    }

    /// Reads partition `partition` from `start_seq` (inclusive) onward; see [`LogReader`].
    pub fn reader(&self, partition: u32, start_seq: u64) -> LogReader {
        LogReader::new(
            self.js.clone(),
            self.cfg.stream_name(partition),
            partition,
            start_seq,
            partition < self.cfg.partitions,
        )
    }

    /// Drops every message of `partition` with a sequence below `seq`.
    pub async fn purge_below(&self, partition: u32, seq: u64) -> Result<(), LogError> {
        self.check_partition(partition)?;
        let what = format!("purge of {}", self.cfg.stream_name(partition));
        let stream = self.stream(partition).await?;
        // JetStream's purge `seq` removes everything up to but not including `seq`.
        stream
            .purge()
            .sequence(seq)
            .await
            .map_err(|e| from_kind(&what, &e))?;
        Ok(())
    }

    pub async fn info(&self, partition: u32) -> Result<PartitionInfo, LogError> {
        self.check_partition(partition)?;
        let what = format!("info of {}", self.cfg.stream_name(partition));
        let stream = self.stream(partition).await?;
        let info = stream.get_info().await.map_err(|e| from_any(&what, &e))?;
        let (leader, replicas_current) = match &info.cluster {
            Some(c) => {
                let followers = c
                    .replicas
                    .iter()
                    .filter(|r| r.current && !r.offline)
                    .count();
                let leader = c.leader.clone().filter(|l| !l.is_empty());
                (leader.clone(), followers + usize::from(leader.is_some()))
            }
            None => (None, 1),
        };
        Ok(PartitionInfo {
            partition,
            first_seq: info.state.first_sequence,
            last_seq: info.state.last_sequence,
            messages: info.state.messages,
            bytes: info.state.bytes,
            leader,
            replicas_current,
        })
    }

    /// Asks the stream to store a message only if its last seq is u64::MAX: it never is, so
    /// nothing is stored, but a "wrong last sequence" answer proves the stream's leader
    /// answers publishes on this subject through our connection.
    async fn probe(&self, partition: u32) -> Result<(), LogError> {
        let msg = PublishMessage::build().expected_last_sequence(u64::MAX);
        let what = format!("probe of partition {partition}");
        let ack = self
            .js
            .send_publish(self.cfg.subject(partition), msg)
            .await
            .map_err(|e| from_any(&what, &e))?;
        match ack.await {
            Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => Ok(()),
            Err(e) => Err(from_any(&what, &e)),
            Ok(ack) => Err(LogError::Config(format!(
                "{what}: stream stored a probe at seq {}; is another stream on its subject?",
                ack.sequence
            ))),
        }
    }

    pub fn partitions(&self) -> u32 {
        self.cfg.partitions
    }

    fn check_partition(&self, partition: u32) -> Result<(), LogError> {
        if partition < self.cfg.partitions {
            Ok(())
        } else {
            Err(LogError::Config(format!(
                "partition {partition} out of range (log has {})",
                self.cfg.partitions
            )))
        }
    }

    async fn stream(
        &self,
        partition: u32,
    ) -> Result<async_nats::jetstream::stream::Stream<()>, LogError> {
        let name = self.cfg.stream_name(partition);
        self.js
            .get_stream_no_info(&name)
            .await
            .map_err(|e| from_any(&name, &e))
    }
}
