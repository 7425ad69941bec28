//! The Logs API as a client sees it: awsJson1_1 POSTs
//! (`X-Amz-Target: Logs_20140328.<Op>`, SigV4 service `logs`), PutLogEvents
//! bodies packed to AWS's batch limits, and FilterLogEvents paged to the end.

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// AWS's PutLogEvents limits: the batch size counts each event's message
/// bytes plus 26.
pub const MAX_BATCH_BYTES: usize = 1_048_576;
pub const MAX_BATCH_EVENTS: usize = 10_000;
pub const EVENT_OVERHEAD: usize = 26;

pub struct LogsClient {
    agent: ureq::Agent,
    endpoint: String,
    host: String,
    creds: crate::client::Credentials,
}

impl LogsClient {
    pub fn new(endpoint: &str, access_key_id: &str, secret_access_key: &str) -> LogsClient {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let endpoint = endpoint.trim_end_matches('/').to_string();
        let host = endpoint
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .to_string();
        LogsClient {
            agent,
            endpoint,
            host,
            creds: crate::client::Credentials {
                access_key_id: access_key_id.to_string(),
                secret_access_key: secret_access_key.to_string(),
                session_token: None,
            },
        }
    }

    /// One action; an answer other than 200 is an error carrying its body.
    pub fn call_raw(&self, op: &str, body: &[u8]) -> anyhow::Result<Vec<u8>> {
        let target = format!("Logs_20140328.{op}");
        let headers = [
            ("content-type", "application/x-amz-json-1.1"),
            ("host", self.host.as_str()),
            ("x-amz-target", target.as_str()),
        ];
        let req = crate::client::signed_post(
            &self.agent,
            &self.endpoint,
            "/",
            &headers,
            body,
            &self.creds,
            "us-east-1",
            "logs",
        );
        let mut resp = req.send(body).with_context(|| op.to_string())?;
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()?;
        if status != 200 {
            bail!(
                "{op} answered {status}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        Ok(bytes)
    }

    pub fn call(&self, op: &str, body: &Value) -> anyhow::Result<Value> {
        let bytes = self.call_raw(op, body.to_string().as_bytes())?;
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).with_context(|| format!("{op}: answer is not JSON"))
    }

    /// Creates the group and streams (already existing is fine: a rerun
    /// against a long-running server).
    pub fn create(&self, group: &str, streams: &[String]) -> anyhow::Result<()> {
        let exists = |r: anyhow::Result<Value>| match r {
            Err(e) if e.to_string().contains("ResourceAlreadyExistsException") => Ok(()),
            other => other.map(drop),
        };
        exists(self.call("CreateLogGroup", &json!({ "logGroupName": group })))?;
        for s in streams {
            exists(self.call(
                "CreateLogStream",
                &json!({ "logGroupName": group, "logStreamName": s }),
            ))?;
        }
        Ok(())
    }

    /// FilterLogEvents over the whole group, oldest first, following
    /// nextToken until the server has none.
    pub fn filter_all(&self, group: &str, pattern: Option<&str>) -> anyhow::Result<FilterRun> {
        let began = Instant::now();
        let mut run = FilterRun::default();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({ "logGroupName": group, "startFromHead": true });
            if let Some(p) = pattern {
                body["filterPattern"] = json!(p);
            }
            if let Some(t) = &token {
                body["nextToken"] = json!(t);
            }
            let page = self.call("FilterLogEvents", &body)?;
            run.pages += 1;
            run.events += page["events"].as_array().map_or(0, Vec::len) as u64;
            token = page["nextToken"].as_str().map(str::to_owned);
            if token.is_none() {
                break;
            }
            if run.pages > 1_000_000 {
                bail!("FilterLogEvents: more than a million pages; giving up");
            }
        }
        run.elapsed = began.elapsed();
        Ok(run)
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct FilterRun {
    pub pages: u64,
    pub events: u64,
    pub elapsed: Duration,
}

/// A PutLogEvents body being filled with events until the next one would
/// break AWS's limits.
pub struct Batch {
    body: Vec<u8>,
    events: usize,
    aws_bytes: usize,
    /// Message bytes (what the figures call raw bytes).
    pub raw_bytes: usize,
}

impl Batch {
    pub fn new(group: &str, stream: &str) -> Batch {
        let mut body = Vec::with_capacity(MAX_BATCH_BYTES + MAX_BATCH_BYTES / 4);
        body.extend_from_slice(b"{\"logGroupName\":");
        let _ = serde_json::to_writer(&mut body, group);
        body.extend_from_slice(b",\"logStreamName\":");
        let _ = serde_json::to_writer(&mut body, stream);
        body.extend_from_slice(b",\"logEvents\":[");
        Batch {
            body,
            events: 0,
            aws_bytes: 0,
            raw_bytes: 0,
        }
    }

    /// Adds the event if it fits; `false` (nothing added) if it does not.
    pub fn push(&mut self, timestamp_ms: i64, message: &str) -> bool {
        let size = message.len() + EVENT_OVERHEAD;
        if self.events >= MAX_BATCH_EVENTS || self.aws_bytes + size > MAX_BATCH_BYTES {
            return false;
        }
        if self.events > 0 {
            self.body.push(b',');
        }
        self.body.extend_from_slice(b"{\"timestamp\":");
        self.body
            .extend_from_slice(timestamp_ms.to_string().as_bytes());
        self.body.extend_from_slice(b",\"message\":");
        let _ = serde_json::to_writer(&mut self.body, message);
        self.body.push(b'}');
        self.events += 1;
        self.aws_bytes += size;
        self.raw_bytes += message.len();
        true
    }

    pub fn events(&self) -> usize {
        self.events
    }

    /// The finished JSON body.
    pub fn finish(mut self) -> Vec<u8> {
        self.body.extend_from_slice(b"]}");
        self.body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_valid_json_with_the_events_in_order() {
        let mut b = Batch::new("g\"1", "s");
        assert!(b.push(5, "first \"quoted\" line"));
        assert!(b.push(6, "second"));
        let v: Value = serde_json::from_slice(&b.finish()).expect("JSON");
        assert_eq!(v["logGroupName"], "g\"1");
        assert_eq!(v["logStreamName"], "s");
        assert_eq!(v["logEvents"][0]["timestamp"], 5);
        assert_eq!(v["logEvents"][0]["message"], "first \"quoted\" line");
        assert_eq!(v["logEvents"][1]["message"], "second");
        assert_eq!(v["logEvents"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn a_batch_stops_at_1_048_576_bytes_counting_26_per_event() {
        // 1,048,576 / (998 + 26) = 1024 events exactly.
        let msg = "x".repeat(998);
        let mut b = Batch::new("g", "s");
        let mut n = 0;
        while b.push(1, &msg) {
            n += 1;
        }
        assert_eq!(n, 1024);
        assert_eq!(b.raw_bytes, 1024 * 998);
    }

    #[test]
    fn a_batch_stops_at_10_000_events() {
        let mut b = Batch::new("g", "s");
        let mut n = 0;
        while b.push(1, "a") {
            n += 1;
        }
        assert_eq!(n, 10_000);
        assert_eq!(b.events(), 10_000);
    }
}
