//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::time::Duration;

use bytes::Bytes;
use stratus_cluster_nats::{IngestLog, LogConfig, LogEntry, LogError, LogReader, Published};

pub fn config(urls: Vec<String>, partitions: u32, replicas: usize) -> LogConfig {
    LogConfig {
        urls,
        partitions,
        replicas,
        request_timeout: Duration::from_secs(2),
        // JetStream reserves max_bytes per stream on every replica: keep tests small.
        max_bytes: 64 << 20,
        ..LogConfig::default()
    }
}

pub async fn connect(cfg: LogConfig) -> IngestLog {
    IngestLog::connect(cfg, Duration::from_secs(60))
        .await
        .expect("connect to the test cluster")
}

/// Publishes, retrying `Unavailable` with the same msg id (as the server's ingest path does).
pub async fn publish_retrying(log: &IngestLog, p: u32, id: &str, payload: Bytes) -> Published {
    let mut attempts = 0;
    loop {
        match log.publish(p, id, payload.clone()).await {
            Ok(done) => return done,
            Err(LogError::Unavailable(e)) if attempts < 300 => {
                attempts += 1;
                if attempts == 1 {
                    eprintln!("publish {id}: retrying after {e}");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("publish {id} failed for good: {e}"),
        }
    }
}

/// Reads exactly `n` entries (retrying `Unavailable`), then checks nothing more is there.
pub async fn read_n(reader: &mut LogReader, n: usize) -> Vec<LogEntry> {
    let mut out = Vec::with_capacity(n);
    let mut idle = 0;
    while out.len() < n {
        match reader.next(Duration::from_secs(1)).await {
            Ok(Some(e)) => out.push(e),
            Ok(None) | Err(LogError::Unavailable(_)) => {
                idle += 1;
                assert!(
                    idle < 60,
                    "reader stalled after {} of {n} entries",
                    out.len()
                );
            }
            Err(e) => panic!("reader failed: {e}"),
        }
    }
    out
}
