//! GetLogRecord: the event behind a Logs Insights row's `@ptr`, with every
//! field Insights sees in it.

use super::{Cx, out, store_error};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use stratus_logs::insights;
use stratus_logs::store::Scan;
use stratus_model::logs as m;
use stratus_model::{ApiError, ApiResult, ErrorCode};
use stratus_proto::Document;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GetLogRecordInput {
    log_record_pointer: Option<String>,
    /// Stratus has no data protection policies: nothing is ever masked, so
    /// `unmask` changes nothing.
    #[allow(dead_code)]
    unmask: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GetLogRecordOutput {
    log_record: BTreeMap<String, String>,
}

/// An event as GetLogRecord returns it, copied out of the store's scan.
struct Found {
    stream: String,
    timestamp_ms: i64,
    ingestion_ms: i64,
    message: String,
}

pub(super) fn get_log_record(cx: &Cx<'_>, input: GetLogRecordInput) -> ApiResult<Document> {
    let pointer = input
        .log_record_pointer
        .ok_or_else(|| m::missing("logRecordPointer"))?;
    let (group, timestamp_ms, id) = stratus_logs::parse_record_pointer(&pointer)
        .ok_or_else(|| m::invalid("The specified logRecordPointer is not valid."))?;
    let found = find_event(cx, &group, timestamp_ms, id)?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::ResourceNotFoundException,
            "The specified log record does not exist.",
        )
    })?;
    out(&GetLogRecordOutput {
        log_record: record_fields(&group, &found),
    })
}

/// The event `id` at `timestamp_ms` in `group`: one millisecond of the
/// group scanned. `None` when it is gone (retention, a deleted stream).
fn find_event(cx: &Cx<'_>, group: &str, timestamp_ms: i64, id: u64) -> ApiResult<Option<Found>> {
    let scan = Scan {
        start_ms: Some(timestamp_ms),
        // Exclusive; at i64::MAX, unbounded is the same millisecond.
        end_ms: timestamp_ms.checked_add(1),
        ..Default::default()
    };
    let mut found = None;
    cx.rt
        .store
        .scan(group, &scan, &mut |ev, event_id| {
            if event_id.0 != id {
                return true;
            }
            found = Some(Found {
                stream: ev.stream.to_owned(),
                timestamp_ms: ev.timestamp_ms,
                ingestion_ms: ev.ingestion_ms,
                message: ev.message.to_owned(),
            });
            false
        })
        .map_err(store_error)?;
    Ok(found)
}

/// The fields as Insights names them: a JSON message's discovered fields,
/// then the built-in ones, which win over a JSON key of the same name.
/// Times are epoch milliseconds as text, as AWS returns them here.
fn record_fields(group: &str, ev: &Found) -> BTreeMap<String, String> {
    let mut fields: BTreeMap<String, String> =
        insights::json_fields(&ev.message).into_iter().collect();
    fields.insert("@timestamp".into(), ev.timestamp_ms.to_string());
    fields.insert("@ingestionTime".into(), ev.ingestion_ms.to_string());
    fields.insert("@logStream".into(), ev.stream.clone());
    fields.insert("@log".into(), format!("{}:{group}", crate::ACCOUNT_ID));
    fields.insert("@message".into(), ev.message.clone());
    fields
}
