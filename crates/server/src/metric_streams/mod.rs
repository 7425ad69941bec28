//! CloudWatch metric streams: the actions (PutMetricStream, GetMetricStream,
//! ListMetricStreams, DeleteMetricStream, Start/StopMetricStreams), the
//! metadata tables `metric_streams` (records by name) and
//! `metric_stream_checkpoints` (per running stream: the start of the next
//! minute to deliver, epoch ms), and [`Destinations`], which maps a
//! FirehoseArn's delivery stream name to the HTTP endpoint configured on the
//! server (`[firehose]`, `--firehose NAME=URL`). [`delivery`] is the task
//! that reads each closed minute's aggregates and POSTs them.
//!
//! Cluster mode refuses PutMetricStream: one node must own each stream's
//! deliveries and checkpoint, and no lease for that exists yet.

pub mod delivery;

use crate::alarms::store::meta_error;
use crate::meta::Table;
use crate::state::AppState;
use crate::tags;
use std::collections::BTreeMap;
use stratus_model::alarm::ops::encode_token;
use stratus_model::metric_stream::{
    self as ms, ListInput, ListOutput, NameInput, NamesInput, PutInput, PutOutput, StreamRecord,
};
use stratus_model::{ApiError, ApiResult, ErrorCode, Timestamp};
use stratus_proto::{self as proto, Document};

pub const METRIC_STREAMS: Table = Table::new("metric_streams");
pub const CHECKPOINTS: Table = Table::new("metric_stream_checkpoints");

const MINUTE_MS: i64 = 60_000;

/// An HTTP endpoint standing in for a Firehose delivery stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    /// Sent as `X-Amz-Firehose-Access-Key` when set.
    pub access_key: Option<String>,
}

/// Delivery stream name → endpoint.
pub type Destinations = BTreeMap<String, Endpoint>;

/// Parses `NAME=URL` (the `--firehose` flag).
pub fn parse_destination_flag(s: &str) -> Result<(String, Endpoint), String> {
    let (name, url) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected NAME=URL"))?;
    check_destination(name, url)?;
    Ok((
        name.to_string(),
        Endpoint {
            url: url.to_string(),
            access_key: None,
        },
    ))
}

/// A delivery stream name and an http(s) URL.
pub fn check_destination(name: &str, url: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the delivery stream name is empty".into());
    }
    let parsed = url::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("{url:?} is not an http:// or https:// URL"));
    }
    Ok(())
}

fn floor_minute(ms: i64) -> i64 {
    ms.div_euclid(MINUTE_MS) * MINUTE_MS
}

/// Where a stream newly created or started begins: the current minute (as
/// AWS, it streams from "now"). `STRATUS_METRIC_STREAM_BACKFILL_MINUTES`
/// (tests only) starts a new stream that many minutes earlier.
fn start_minute(now_ms: i64, created: bool) -> i64 {
    let back = if created {
        std::env::var("STRATUS_METRIC_STREAM_BACKFILL_MINUTES")
            .ok()
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
            .clamp(0, delivery::MAX_CATCH_UP_MINUTES)
    } else {
        0
    };
    floor_minute(now_ms) - back * MINUTE_MS
}

pub fn put_metric_stream(state: &AppState, region: &str, input: PutInput) -> ApiResult<Document> {
    let v = input.validate()?;
    if state.metrics.cluster_runtime().is_some() {
        return Err(ApiError::new(
            ErrorCode::InvalidParameterValue,
            "Metric streams are not available in cluster mode on this server.",
        ));
    }
    let Some(endpoint) = state.firehose.get(&v.delivery_stream) else {
        return Err(ApiError::invalid_value(format!(
            "The Firehose delivery stream {} (FirehoseArn) is not configured on this server: \
             map it to an HTTP endpoint with firehose.{} = \"https://...\" in the server's \
             config file ([firehose] table) or --firehose {}=URL.",
            v.delivery_stream, v.delivery_stream, v.delivery_stream
        )));
    };
    // Deliveries go through the webhook egress policy: say so now rather
    // than accept a stream whose every delivery would be refused.
    state.egress.check_endpoint(&endpoint.url).map_err(|r| {
        ApiError::invalid_value(format!(
            "The endpoint of Firehose delivery stream {} is refused by the egress policy \
             ([notify] webhook_allow): {r}",
            v.delivery_stream
        ))
    })?;
    let now = Timestamp::now().millis();
    let arn = StreamRecord::arn(region, crate::ACCOUNT_ID, &v.name);
    state
        .meta
        .transact(|tx| {
            let old: Option<StreamRecord> = tx.get(METRIC_STREAMS, &v.name)?;
            let created = old.is_none();
            let rec = StreamRecord {
                name: v.name.clone(),
                arn: old.as_ref().map_or_else(|| arn.clone(), |o| o.arn.clone()),
                include_filters: v.include_filters.clone(),
                exclude_filters: v.exclude_filters.clone(),
                firehose_arn: v.firehose_arn.clone(),
                role_arn: v.role_arn.clone(),
                output_format: v.output_format.clone(),
                state: old
                    .as_ref()
                    .map_or_else(|| ms::STATE_RUNNING.to_string(), |o| o.state.clone()),
                created_ms: old.as_ref().map_or(now, |o| o.created_ms),
                updated_ms: now,
                statistics_configurations: v.statistics_configurations.clone(),
                include_linked_accounts_metrics: v.include_linked_accounts_metrics,
            };
            tx.put(METRIC_STREAMS, &v.name, &rec)?;
            if created {
                // Tags are applied only when the stream is created (AWS).
                if !v.tags.is_empty() {
                    tags::merge_in(tx, &rec.arn, &v.tags)?;
                }
                tx.put(CHECKPOINTS, &v.name, &start_minute(now, true))?;
            }
            Ok(rec.arn)
        })
        .map_err(meta_error)
        .map(|arn| proto::to_document(&PutOutput { arn }))
}

pub fn get_metric_stream(state: &AppState, input: NameInput) -> ApiResult<Document> {
    let name = input.validate()?;
    let rec = state
        .meta
        .get::<StreamRecord>(METRIC_STREAMS, &name)
        .map_err(meta_error)?
        .ok_or_else(|| ms::not_found(&name))?;
    Ok(proto::to_document(&rec.to_output()))
}

/// In name order; the token is the last name returned.
pub fn list_metric_streams(state: &AppState, input: ListInput) -> ApiResult<Document> {
    let (after, max) = input.validate()?;
    let all = state
        .meta
        .list::<StreamRecord>(METRIC_STREAMS)
        .map_err(meta_error)?;
    let (rows, last) = crate::meta::page_after(all, after.as_deref(), max);
    let next_token = last.as_deref().map(encode_token);
    Ok(proto::to_document(&ListOutput {
        next_token,
        entries: rows.iter().map(|(_, r)| r.to_entry()).collect(),
    }))
}

/// Deleting a stream that does not exist succeeds (AWS).
pub fn delete_metric_stream(state: &AppState, input: NameInput) -> ApiResult<Document> {
    let name = input.validate()?;
    state
        .meta
        .transact(|tx| {
            if let Some(rec) = tx.get::<StreamRecord>(METRIC_STREAMS, &name)? {
                tx.delete(METRIC_STREAMS, &name)?;
                tx.delete(CHECKPOINTS, &name)?;
                tags::delete_in(tx, &rec.arn)?;
            }
            Ok(())
        })
        .map_err(meta_error)?;
    Ok(Document::Struct(Vec::new()))
}

/// Start or stop the named streams (names that do not exist are skipped).
/// A started stream delivers from the current minute; a stopped one drops
/// its checkpoint, so nothing of its stopped time is ever sent.
pub fn set_running(state: &AppState, input: NamesInput, running: bool) -> ApiResult<Document> {
    let names = input.validate()?;
    let now = Timestamp::now().millis();
    state
        .meta
        .transact(|tx| {
            for name in &names {
                let Some(mut rec) = tx.get::<StreamRecord>(METRIC_STREAMS, name)? else {
                    continue;
                };
                if rec.running() == running {
                    continue;
                }
                rec.state = if running {
                    ms::STATE_RUNNING
                } else {
                    ms::STATE_STOPPED
                }
                .to_string();
                tx.put(METRIC_STREAMS, name, &rec)?;
                if running {
                    tx.put(CHECKPOINTS, name, &start_minute(now, false))?;
                } else {
                    tx.delete(CHECKPOINTS, name)?;
                }
            }
            Ok(())
        })
        .map_err(meta_error)?;
    Ok(Document::Struct(Vec::new()))
}

/// For TagResource / UntagResource: whether `arn` names an existing stream.
pub fn exists_by_arn(state: &AppState, arn: &str) -> ApiResult<Option<bool>> {
    let Some(name) = ms::name_from_arn(arn) else {
        return Ok(None);
    };
    Ok(Some(
        state
            .meta
            .get::<StreamRecord>(METRIC_STREAMS, name)
            .map_err(meta_error)?
            .is_some_and(|r| r.arn == arn),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn state(dir: &std::path::Path) -> AppState {
        let mut firehose = Destinations::new();
        firehose.insert(
            "d".into(),
            Endpoint {
                url: "http://192.0.2.1/fh".into(),
                access_key: None,
            },
        );
        AppState {
            firehose: Arc::new(firehose),
            ..AppState::for_tests(dir, ("AKIDSTREAMSTEST00001", "streams-test-secret"))
        }
    }

    fn put(st: &AppState, name: &str) -> ApiResult<Document> {
        let input: PutInput = serde_json::from_value(serde_json::json!({
            "Name": name,
            "FirehoseArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/d",
            "RoleArn": "arn:aws:iam::123456789012:role/r",
            "OutputFormat": "json",
            "Tags": [{"Key": "k", "Value": "v"}],
        }))
        .unwrap();
        put_metric_stream(st, "us-east-1", input)
    }

    fn checkpoint(st: &AppState, name: &str) -> Option<i64> {
        st.meta.get(CHECKPOINTS, name).unwrap()
    }

    fn names(list: &[&str]) -> NamesInput {
        NamesInput {
            names: Some(list.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[test]
    fn checkpoints_follow_the_stream_lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        let st = state(dir.path());
        let before = floor_minute(Timestamp::now().millis());
        put(&st, "s").unwrap();
        let c = checkpoint(&st, "s").unwrap();
        assert!(c >= before && c % MINUTE_MS == 0);
        let arn = StreamRecord::arn("us-east-1", crate::ACCOUNT_ID, "s");
        assert_eq!(tags::get(&st.meta, &arn).unwrap().len(), 1);

        set_running(&st, names(&["s", "missing"]), false).unwrap();
        assert_eq!(checkpoint(&st, "s"), None);
        set_running(&st, names(&["s"]), true).unwrap();
        assert!(checkpoint(&st, "s").is_some());

        // Unmapped delivery stream: refused, nothing stored.
        let bad: PutInput = serde_json::from_value(serde_json::json!({
            "Name": "t",
            "FirehoseArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/other",
            "RoleArn": "r", "OutputFormat": "json",
        }))
        .unwrap();
        let e = put_metric_stream(&st, "us-east-1", bad).unwrap_err();
        assert!(e.message.contains("firehose.other"), "{}", e.message);
        assert!(
            st.meta
                .get::<StreamRecord>(METRIC_STREAMS, "t")
                .unwrap()
                .is_none()
        );

        delete_metric_stream(
            &st,
            NameInput {
                name: Some("s".into()),
            },
        )
        .unwrap();
        assert_eq!(checkpoint(&st, "s"), None);
        assert!(tags::get(&st.meta, &arn).unwrap().is_empty());
    }
}
