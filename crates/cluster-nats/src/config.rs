//! `LogConfig`: where the log lives and how its streams are shaped.

use std::time::Duration;

use crate::LogError;

/// Connection and stream settings. One stream per partition: `{prefix}_P{p}` on subject
/// `{subject_prefix}.{p}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// NATS URLs of the cluster's servers; the client fails over between them.
    pub urls: Vec<String>,
    pub partitions: u32,
    /// Stream replicas: 3 in production, 1 for a single server.
    pub replicas: usize,
    pub prefix: String,
    pub subject_prefix: String,
    /// JetStream dedup window for `Nats-Msg-Id`.
    pub duplicate_window: Duration,
    /// Per-stream size limit; a full stream refuses writes (discard New).
    pub max_bytes: i64,
    /// Timeout of each JetStream API request and PubAck wait.
    pub request_timeout: Duration,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            urls: Vec::new(),
            partitions: 8,
            replicas: 3,
            prefix: "STRATUS_INGEST".to_string(),
            subject_prefix: "stratus.ingest".to_string(),
            duplicate_window: Duration::from_secs(120),
            max_bytes: 8 << 30,
            request_timeout: Duration::from_secs(5),
        }
    }
}

impl LogConfig {
    pub(crate) fn stream_name(&self, partition: u32) -> String {
        format!("{}_P{partition}", self.prefix)
    }

    pub(crate) fn subject(&self, partition: u32) -> String {
        format!("{}.{partition}", self.subject_prefix)
    }

    pub(crate) fn validate(&self) -> Result<(), LogError> {
        let bad = |m: &str| Err(LogError::Config(m.to_string()));
        if self.urls.is_empty() {
            return bad("no NATS urls");
        }
        if self.partitions == 0 {
            return bad("partitions must be at least 1");
        }
        if !(1..=5).contains(&self.replicas) {
            return bad("replicas must be 1..=5 (JetStream limit)");
        }
        // Stream names may not hold '.', spaces or wildcards; subjects may not hold wildcards.
        let name_ok = |s: &str| {
            !s.is_empty()
                && !s
                    .chars()
                    .any(|c| matches!(c, '.' | '*' | '>' | '/' | '\\') || c.is_whitespace())
        };
        if !name_ok(&self.prefix) {
            return bad("prefix must be non-empty, without '.', wildcards or spaces");
        }
        let subject_ok = !self.subject_prefix.is_empty()
            && !self.subject_prefix.starts_with('.')
            && !self.subject_prefix.ends_with('.')
            && !self
                .subject_prefix
                .chars()
                .any(|c| matches!(c, '*' | '>') || c.is_whitespace());
        if !subject_ok {
            return bad("subject_prefix must be a plain subject without wildcards");
        }
        if self.max_bytes <= 0 {
            return bad("max_bytes must be positive");
        }
        if self.request_timeout.is_zero() {
            return bad("request_timeout must be positive");
        }
        Ok(())
    }
}
