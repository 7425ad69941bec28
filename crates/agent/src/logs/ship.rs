//! The logs shipper thread: drains the logs spool oldest first with
//! PutLogEvents, each batch under its own id (`x-stratus-batch-id`, on every
//! retry), creating the group (and its retention) and the stream when the
//! endpoint says they are missing.
//!
//! Answers: 2xx → removed (events the service refused by age, named in
//! `rejectedLogEventsInfo`, are logged); `ResourceNotFoundException` →
//! CreateLogGroup (an existing group is fine), PutRetentionPolicy when
//! configured, CreateLogStream, then the same batch again;
//! throttling, 5xx, 429 and connection errors → full-jitter backoff;
//! 401/403 → retried like an outage until the batch is older than
//! `auth_failure_max_age`; any other refusal (`InvalidParameterException`…)
//! → logged, counted and dropped: the same bytes cannot succeed.

use super::positions::FileKey;
use super::record::LogRecord;
use super::tail::Shared;
use crate::ship::backoff::Backoff;
use crate::ship::batch::SealedBatch;
use crate::ship::transport::{BATCH_ID_HEADER, Transport};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
const TARGET_PREFIX: &str = "Logs_20140328.";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What one answer means for the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogsOutcome {
    /// Stored; counts of events the service refused by age.
    Accepted(Rejected),
    /// The group or stream does not exist.
    Missing,
    Retry(String),
    AuthFailed(String),
    /// Refused for good.
    Dropped(String),
}

/// `rejectedLogEventsInfo` of a PutLogEvents answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rejected {
    pub too_old: bool,
    pub too_new: bool,
    pub expired: bool,
}

/// The error code of an awsJson answer (`__type`, namespace cut off).
pub fn error_code(body: &[u8]) -> (String, String) {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let code = v
        .get("__type")
        .and_then(|t| t.as_str())
        .unwrap_or("")
        .rsplit('#')
        .next()
        .unwrap_or("")
        .to_owned();
    let message = v
        .get("message")
        .or_else(|| v.get("Message"))
        .and_then(|m| m.as_str())
        .unwrap_or("")
        .to_owned();
    (code, message)
}

/// Classifies a PutLogEvents answer.
pub fn classify(status: u16, body: &[u8]) -> LogsOutcome {
    if (200..300).contains(&status) {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let info = v.get("rejectedLogEventsInfo");
        let has = |k: &str| info.and_then(|i| i.get(k)).is_some_and(|x| !x.is_null());
        return LogsOutcome::Accepted(Rejected {
            too_old: has("tooOldLogEventEndIndex"),
            too_new: has("tooNewLogEventStartIndex"),
            expired: has("expiredLogEventEndIndex"),
        });
    }
    let (code, message) = error_code(body);
    let what = format!("HTTP {status} {code}: {message}");
    match code.as_str() {
        "ResourceNotFoundException" => LogsOutcome::Missing,
        // Already stored (a retry of a batch the service took).
        "DataAlreadyAcceptedException" => LogsOutcome::Accepted(Rejected::default()),
        "ThrottlingException"
        | "ServiceUnavailableException"
        | "LimitExceededException"
        | "InternalFailure"
        | "RequestTimeout" => LogsOutcome::Retry(what),
        _ if status >= 500 || status == 429 || status == 408 => LogsOutcome::Retry(what),
        _ if status == 401 || status == 403 => LogsOutcome::AuthFailed(what),
        "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "AccessDeniedException"
        | "ExpiredTokenException"
        | "IncompleteSignature" => LogsOutcome::AuthFailed(what),
        _ => LogsOutcome::Dropped(what),
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct ShipCounts {
    pub batches_sent: u64,
    pub events_sent: u64,
    pub batches_dropped: u64,
    pub events_dropped: u64,
    pub retries: u64,
}

pub struct LogsShipper {
    pub transport: Transport,
    pub shared: Arc<Shared>,
    pub stop: Arc<AtomicBool>,
    /// How long after a stop request sending goes on.
    pub shutdown_deadline: Duration,
    pub auth_failure_max_age: Duration,
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// Groups (and streams) this run created or saw exist.
    pub known: HashSet<(String, String)>,
    pub counts: ShipCounts,
}

impl LogsShipper {
    fn call(
        &self,
        op: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), String> {
        let target = format!("{TARGET_PREFIX}{op}");
        let mut h: Vec<(&str, &str)> =
            vec![("content-type", CONTENT_TYPE), ("x-amz-target", &target)];
        h.extend_from_slice(headers);
        self.transport.post("logs", &h, body, REQUEST_TIMEOUT)
    }

    /// Creates the group (retention, class) and the stream; an existing one
    /// is fine. Errors are worth a retry.
    fn create(&mut self, r: &LogRecord) -> Result<(), String> {
        let ok = |res: Result<(u16, Vec<u8>), String>| -> Result<bool, String> {
            let (status, body) = res?;
            if (200..300).contains(&status) {
                return Ok(true);
            }
            match error_code(&body) {
                (c, _) if c == "ResourceAlreadyExistsException" => Ok(false),
                (c, m) => Err(format!("HTTP {status} {c}: {m}")),
            }
        };
        let mut group = serde_json::json!({ "logGroupName": r.group });
        if let Some(class) = &r.group_class {
            group["logGroupClass"] = serde_json::Value::from(class.as_str());
        }
        let created = ok(self.call("CreateLogGroup", &[], group.to_string().as_bytes()))?;
        if created {
            crate::info!("logs: created log group {}", r.group);
            if let Some(days) = r.retention_days {
                let body = serde_json::json!({ "logGroupName": r.group, "retentionInDays": days });
                ok(self.call("PutRetentionPolicy", &[], body.to_string().as_bytes()))?;
            }
        }
        let stream = serde_json::json!({ "logGroupName": r.group, "logStreamName": r.stream });
        ok(self.call("CreateLogStream", &[], stream.to_string().as_bytes()))?;
        self.known.insert((r.group.clone(), r.stream.clone()));
        Ok(())
    }

    fn send(&self, b: &SealedBatch, r: &LogRecord) -> LogsOutcome {
        let id = b.id.to_string();
        let mut headers = vec![("content-encoding", "gzip"), (BATCH_ID_HEADER, id.as_str())];
        if r.emf {
            headers.push(("x-amzn-logs-format", "json/emf"));
        }
        match self.call("PutLogEvents", &headers, &r.body) {
            Ok((status, body)) => classify(status, &body),
            Err(e) => LogsOutcome::Retry(e),
        }
    }

    /// Removes the oldest batch and records its files' acknowledged ends.
    fn pop(&self, r: Option<&LogRecord>) {
        let mut spool = self.shared.spool.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = spool.pop() {
            crate::error!("logs: spool: {e}");
        }
        drop(spool);
        if let Some(r) = r {
            let mut acked = self.shared.acked.lock().unwrap_or_else(|e| e.into_inner());
            for (key, _, end) in &r.ends {
                let e = acked
                    .entry(FileKey {
                        dev: key.dev,
                        ino: key.ino,
                    })
                    .or_insert(0);
                *e = (*e).max(*end);
            }
        }
    }

    /// Runs until stopped and (the spool empty or the deadline passed).
    pub fn run(mut self) -> ShipCounts {
        let mut backoff = Backoff::new(self.retry_base, self.retry_cap);
        let mut stop_at: Option<Instant> = None;
        loop {
            if stop_at.is_none() && self.stop.load(Ordering::SeqCst) {
                stop_at = Some(Instant::now() + self.shutdown_deadline);
            }
            let past_deadline = stop_at.is_some_and(|t| Instant::now() >= t);
            let next = {
                let mut spool = self.shared.spool.lock().unwrap_or_else(|e| e.into_inner());
                match spool.peek() {
                    Ok(Some(b)) => Some(b),
                    Ok(None) => {
                        if stop_at.is_some() {
                            return self.counts;
                        }
                        let _ = self
                            .shared
                            .appended
                            .wait_timeout(spool, Duration::from_millis(250));
                        None
                    }
                    Err(e) => {
                        crate::error!("logs: unreadable spool record dropped: {e}");
                        let _ = spool.pop();
                        None
                    }
                }
            };
            if past_deadline {
                return self.counts;
            }
            let Some(batch) = next else { continue };
            let record = match LogRecord::decode(&batch.body) {
                Ok(r) => r,
                Err(why) => {
                    crate::error!(
                        "logs: spooled batch {} is not a log record ({why}); dropped",
                        batch.id
                    );
                    self.pop(None);
                    continue;
                }
            };
            let outcome = self.send(&batch, &record);
            let wait = match outcome {
                LogsOutcome::Accepted(rej) => {
                    if rej != Rejected::default() {
                        crate::warn!(
                            "logs: {}/{}: the service refused some events of batch {} \
                             (too old: {}, too new: {}, expired: {})",
                            record.group,
                            record.stream,
                            batch.id,
                            rej.too_old,
                            rej.too_new,
                            rej.expired
                        );
                    }
                    self.counts.batches_sent += 1;
                    self.counts.events_sent += u64::from(batch.datums);
                    self.pop(Some(&record));
                    backoff.reset();
                    None
                }
                LogsOutcome::Missing => {
                    if self
                        .known
                        .contains(&(record.group.clone(), record.stream.clone()))
                    {
                        // Created and still missing (deleted meanwhile?): try again later.
                        self.known
                            .remove(&(record.group.clone(), record.stream.clone()));
                        Some(backoff.next_delay())
                    } else {
                        match self.create(&record) {
                            Ok(()) => None,
                            Err(e) => {
                                crate::warn!(
                                    "logs: creating {}/{}: {e}",
                                    record.group,
                                    record.stream
                                );
                                Some(backoff.next_delay())
                            }
                        }
                    }
                }
                LogsOutcome::Retry(why) => {
                    self.counts.retries += 1;
                    let d = backoff.next_delay();
                    crate::warn!(
                        "logs: batch {} ({} events) not sent ({why}); retrying in {:.1}s",
                        batch.id,
                        batch.datums,
                        d.as_secs_f64()
                    );
                    Some(d)
                }
                LogsOutcome::AuthFailed(why) => {
                    let age_ms =
                        crate::ship::batch::unix_ms_now().saturating_sub(batch.id.opened_at());
                    if u128::from(age_ms) > self.auth_failure_max_age.as_millis() {
                        crate::error!(
                            "logs: batch {} ({} events) refused for authentication ({why}) and older \
                             than auth_failure_max_age; dropped",
                            batch.id,
                            batch.datums
                        );
                        self.counts.batches_dropped += 1;
                        self.counts.events_dropped += u64::from(batch.datums);
                        self.pop(None);
                        None
                    } else {
                        crate::error!(
                            "logs: batch {} refused for authentication ({why}); kept",
                            batch.id
                        );
                        Some(backoff.next_delay())
                    }
                }
                LogsOutcome::Dropped(why) => {
                    crate::error!(
                        "logs: {}/{}: batch {} ({} events) refused ({why}); dropped",
                        record.group,
                        record.stream,
                        batch.id,
                        batch.datums
                    );
                    self.counts.batches_dropped += 1;
                    self.counts.events_dropped += u64::from(batch.datums);
                    self.pop(None);
                    None
                }
            };
            if let Some(d) = wait {
                self.sleep(d, stop_at);
            }
        }
    }

    /// Sleeps `d`, waking early for a stop request or the deadline.
    fn sleep(&self, d: Duration, stop_at: Option<Instant>) {
        let until = Instant::now() + d;
        loop {
            let now = Instant::now();
            if now >= until || stop_at.is_some_and(|t| now >= t) {
                return;
            }
            if stop_at.is_none() && self.stop.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep((until - now).min(Duration::from_millis(100)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: &str) -> Vec<u8> {
        format!(r#"{{"__type":"com.amazonaws.logs#{code}","message":"m"}}"#).into_bytes()
    }

    #[test]
    fn answers_are_classified_as_the_logs_api_documents() {
        assert_eq!(
            classify(200, b"{}"),
            LogsOutcome::Accepted(Rejected::default())
        );
        assert_eq!(
            classify(
                200,
                br#"{"rejectedLogEventsInfo":{"tooOldLogEventEndIndex":2}}"#
            ),
            LogsOutcome::Accepted(Rejected {
                too_old: true,
                too_new: false,
                expired: false
            })
        );
        assert_eq!(
            classify(400, &err("ResourceNotFoundException")),
            LogsOutcome::Missing
        );
        assert!(matches!(
            classify(400, &err("ThrottlingException")),
            LogsOutcome::Retry(_)
        ));
        assert!(matches!(classify(503, b"<html/>"), LogsOutcome::Retry(_)));
        assert!(matches!(
            classify(500, &err("InternalFailure")),
            LogsOutcome::Retry(_)
        ));
        assert!(matches!(
            classify(403, &err("AccessDeniedException")),
            LogsOutcome::AuthFailed(_)
        ));
        assert!(matches!(
            classify(400, &err("InvalidParameterException")),
            LogsOutcome::Dropped(m) if m.contains("InvalidParameterException")
        ));
        assert_eq!(
            classify(400, &err("DataAlreadyAcceptedException")),
            LogsOutcome::Accepted(Rejected::default())
        );
    }
}
