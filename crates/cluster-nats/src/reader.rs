//! `LogReader`: an in-order, gap-free, repeat-free reader of one partition.
//!
//! It owns an ephemeral, in-memory, R1 pull consumer starting at `position`. After any error
//! (server loss, missed heartbeats, consumer deleted) the consumer is dropped and a new one is
//! created from `position`, the seq after the last one returned, so nothing is skipped or
//! repeated even though the server-side consumer state is lost.

use std::time::Duration;

use async_nats::jetstream::consumer::pull::{Config, Stream as PullStream};
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy};
use async_nats::jetstream::context::Context;
use bytes::Bytes;
use futures::StreamExt;
use tokio::time::Instant;

use crate::LogError;
use crate::error::{from_any, from_kind};

/// One message of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub seq: u64,
    pub payload: Bytes,
}

/// Server-side consumer settings: short heartbeats so a lost server is noticed quickly; an
/// inactivity threshold so consumers of vanished readers are cleaned up by the server.
const HEARTBEAT: Duration = Duration::from_secs(1);
const PULL_EXPIRES: Duration = Duration::from_secs(5);
const INACTIVE_THRESHOLD: Duration = Duration::from_secs(30);
const BATCH: usize = 256;
/// Pause between failed consumer re-creations (a leader election takes seconds).
const RETRY_PAUSE: Duration = Duration::from_millis(250);
/// Pause before reopening after a consumer failed or ended.
const FAIL_PAUSE: Duration = Duration::from_millis(50);

/// Reads one partition in seq order; see [`LogReader::next`]. Made by [`crate::IngestLog::reader`].
pub struct LogReader {
    js: Context,
    stream_name: String,
    partition: u32,
    position: u64,
    valid_partition: bool,
    messages: Option<PullStream>,
    /// (position, seq delivered instead) of the last hole seen, to tell a deleted message
    /// from a consumer glitch.
    last_hole: Option<(u64, u64)>,
}

impl LogReader {
    pub(crate) fn new(
        js: Context,
        stream_name: String,
        partition: u32,
        start_seq: u64,
        valid_partition: bool,
    ) -> LogReader {
        LogReader {
            js,
            stream_name,
            partition,
            // Sequences start at 1; 0 means "from the beginning" too.
            position: start_seq.max(1),
            valid_partition,
            messages: None,
            last_hole: None,
        }
    }

    /// The next seq it will return.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Next entry, waiting up to `timeout` (`Ok(None)` when nothing arrived in time).
    ///
    /// Errors: `Refused` when `position` was purged (names both seqs; load a snapshot first)
    /// or deleted from the middle of the log; `Unavailable` when the log could not be reached
    /// for the whole timeout (call again: the position is kept).
    pub async fn next(&mut self, timeout: Duration) -> Result<Option<LogEntry>, LogError> {
        if !self.valid_partition {
            return Err(LogError::Config(format!(
                "partition {} out of range",
                self.partition
            )));
        }
        let deadline = Instant::now() + timeout;
        let mut last_err: Option<LogError> = None;
        loop {
            if self.messages.is_none() {
                match self.open().await {
                    Ok(m) => {
                        self.messages = Some(m);
                        last_err = None;
                    }
                    Err(e @ (LogError::Refused(_) | LogError::Config(_))) => return Err(e),
                    Err(e) => {
                        tracing::debug!(stream = %self.stream_name, error = %e, "reader reopen failed");
                        if Instant::now() + RETRY_PAUSE >= deadline {
                            return Err(e);
                        }
                        last_err = Some(e);
                        tokio::time::sleep(RETRY_PAUSE).await;
                        continue;
                    }
                }
            }
            let Some(messages) = self.messages.as_mut() else {
                continue;
            };
            let item = match tokio::time::timeout_at(deadline, messages.next()).await {
                Err(_elapsed) => return last_err.map_or(Ok(None), Err),
                Ok(item) => item,
            };
            let msg = match item {
                Some(Ok(msg)) => msg,
                Some(Err(e)) => {
                    tracing::debug!(stream = %self.stream_name, error = %e, "reader consumer failed; recreating");
                    last_err = Some(from_any(&self.stream_name, &e));
                    self.messages = None;
                    // A consumer that fails at once after each reopen must not spin the CPU.
                    tokio::time::sleep_until(deadline.min(Instant::now() + FAIL_PAUSE)).await;
                    continue;
                }
                None => {
                    self.messages = None;
                    tokio::time::sleep_until(deadline.min(Instant::now() + FAIL_PAUSE)).await;
                    continue;
                }
            };
            let seq = match msg.info() {
                Ok(info) => info.stream_sequence,
                Err(e) => {
                    // Not a stream message: ignore it but do not trust this consumer further.
                    tracing::warn!(stream = %self.stream_name, error = %e, "message without JetStream metadata");
                    self.messages = None;
                    continue;
                }
            };
            if seq < self.position {
                // Already returned (a re-created consumer may overlap): never repeat.
                continue;
            }
            if seq > self.position {
                // A hole: purged under us (the reopen's check answers Refused) or a consumer
                // glitch (the reopen re-reads from `position`). Never skip. The same hole
                // seen again from a fresh consumer is a deleted message: refuse, don't spin.
                self.messages = None;
                if self.last_hole == Some((self.position, seq)) {
                    return Err(LogError::Refused(format!(
                        "partition {}: seq {} is missing from the log (deleted); the next present is seq {seq}",
                        self.partition, self.position
                    )));
                }
                self.last_hole = Some((self.position, seq));
                continue;
            }
            self.position = seq + 1;
            self.last_hole = None;
            return Ok(Some(LogEntry {
                seq,
                payload: msg.message.payload.clone(),
            }));
        }
    }

    async fn open(&self) -> Result<PullStream, LogError> {
        self.check_not_purged().await?;
        let what = format!("reader consumer on {}", self.stream_name);
        let stream = self
            .js
            .get_stream_no_info(&self.stream_name)
            .await
            .map_err(|e| from_any(&what, &e))?;
        let consumer = stream
            .create_consumer(Config {
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: self.position,
                },
                ack_policy: AckPolicy::None,
                inactive_threshold: INACTIVE_THRESHOLD,
                num_replicas: 1,
                memory_storage: true,
                ..Default::default()
            })
            .await
            .map_err(|e| from_kind(&what, &e))?;
        consumer
            .stream()
            .max_messages_per_batch(BATCH)
            .heartbeat(HEARTBEAT)
            .expires(PULL_EXPIRES)
            .messages()
            .await
            .map_err(|e| from_any(&what, &e))
    }

    /// `Refused` if `position` lies below the stream's first seq (purged).
    async fn check_not_purged(&self) -> Result<(), LogError> {
        let what = format!("info of {}", self.stream_name);
        let stream = self
            .js
            .get_stream_no_info(&self.stream_name)
            .await
            .map_err(|e| from_any(&what, &e))?;
        let info = stream.get_info().await.map_err(|e| from_any(&what, &e))?;
        let first = info.state.first_sequence;
        if self.position < first {
            return Err(LogError::Refused(format!(
                "partition {}: seq {} was purged; the log starts at seq {first}",
                self.partition, self.position
            )));
        }
        Ok(())
    }
}
