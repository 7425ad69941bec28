//! CloudWatch Logs actions (`Logs_20140328.*`, awsJson1_1): groups and
//! streams (`groups`), events (`events`), metric filters and the datapoints
//! they and Embedded Metric Format lines emit (`filters`), Logs Insights
//! queries (`queries`) and the records their rows point at (`records`). The
//! store is `stratus_logs::store` under `<data-dir>/logs/`; this module
//! validates, authorizes and translates.
//!
//! Single-node only: in cluster mode every Logs action answers that logs are
//! not available in cluster mode yet (nothing is silently dropped).

mod events;
mod filters;
mod groups;
mod queries;
mod records;

use crate::auth::{self, Caller};
use crate::state::AppState;
use std::path::Path;
use std::sync::Arc;
use stratus_logs::store::{Store, StoreError};
use stratus_model::logs as m;
use stratus_model::{ApiError, ApiResult, ErrorCode};
use stratus_proto::Document;

pub use filters::EmitTracker;

/// What the Logs API needs beside the app state: the store, the compiled
/// metric filters, the running queries.
pub struct LogsRuntime {
    pub store: Store,
    filters: filters::FilterCache,
    queries: queries::Queries,
    emit: EmitTracker,
    /// Random per data directory: metric-filter batch ids derive from it
    /// and a batch's sequence number, so a replay is deduplicated by tsdb.
    instance: [u8; 16],
}

/// The request context a Logs action needs beyond its parameters.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogsRequest {
    /// `x-stratus-batch-id`: PutLogEvents stores a batch id only once.
    pub batch_id: Option<[u8; 16]>,
    /// `x-amzn-logs-format: json/emf`: the events are Embedded Metric Format.
    pub emf: bool,
}

impl std::fmt::Debug for LogsRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogsRuntime").finish_non_exhaustive()
    }
}

impl LogsRuntime {
    /// Opens `<data-dir>/logs/` (replaying its WAL).
    pub fn open(data_dir: &Path, fsync: bool) -> Result<LogsRuntime, String> {
        Self::open_recovering(data_dir, fsync, false)
    }

    /// Opens `<data-dir>/logs/`; with `recover` (`stratus server --recover`)
    /// damage is repaired, keeping each damaged original beside it, instead
    /// of refused.
    pub fn open_recovering(
        data_dir: &Path,
        fsync: bool,
        recover: bool,
    ) -> Result<LogsRuntime, String> {
        let dir = data_dir.join("logs");
        let opts = stratus_logs::store::Options {
            fsync,
            recover,
            ..Default::default()
        };
        let (store, report) = Store::open(&dir, opts).map_err(|e| {
            if e.recoverable() {
                format!(
                    "log store {}: {e}. Nothing was changed. `stratus fsck --data-dir {}` lists \
                     every damaged file; `stratus fsck --data-dir {} --repair` or starting with \
                     --recover skips only the damaged parts, keeping a copy of each original",
                    dir.display(),
                    data_dir.display(),
                    data_dir.display()
                )
            } else {
                format!("log store {}: {e}", dir.display())
            }
        })?;
        if report.torn_tail_bytes > 0 {
            tracing::warn!(
                bytes = report.torn_tail_bytes,
                "log store: cut a torn write-ahead-log tail (a crash mid-append)"
            );
        }
        for line in report.recovery.lines() {
            tracing::warn!("log store recovery: {line}");
        }
        let instance = instance_id(&dir).map_err(|e| format!("log store id: {e}"))?;
        Ok(LogsRuntime {
            store,
            filters: Default::default(),
            queries: Default::default(),
            emit: Default::default(),
            instance,
        })
    }
}

/// `<logs>/instance-id`: 16 random bytes written once (temp + rename).
fn instance_id(dir: &Path) -> std::io::Result<[u8; 16]> {
    let path = dir.join("instance-id");
    if let Ok(bytes) = std::fs::read(&path)
        && let Ok(id) = <[u8; 16]>::try_from(bytes.as_slice())
    {
        return Ok(id);
    }
    std::fs::create_dir_all(dir)?;
    let id = *uuid::Uuid::new_v4().as_bytes();
    crate::fsutil::write_private_file(&path, &id)?;
    Ok(id)
}

pub fn dispatch(
    state: &AppState,
    caller: &Caller,
    action: &str,
    params: Document,
    req: LogsRequest,
) -> ApiResult<Document> {
    let Some(rt) = state.logs.as_ref() else {
        return Err(ApiError::new(
            ErrorCode::InvalidOperationException,
            "CloudWatch Logs is not available in cluster mode yet; run it on a single-node Stratus.",
        ));
    };
    auth::authorize(
        caller,
        &format!("logs:{action}"),
        &resource(action, &params, &caller.region),
    )?;
    let cx = Cx {
        state,
        rt,
        region: &caller.region,
    };
    match action {
        "CreateLogGroup" => groups::create_group(&cx, from(params)?),
        "DeleteLogGroup" => groups::delete_group(&cx, from(params)?),
        "DescribeLogGroups" => groups::describe_groups(&cx, from(params)?),
        "CreateLogStream" => groups::create_stream(&cx, from(params)?),
        "DeleteLogStream" => groups::delete_stream(&cx, from(params)?),
        "DescribeLogStreams" => groups::describe_streams(&cx, from(params)?),
        "PutRetentionPolicy" => groups::put_retention(&cx, from(params)?),
        "DeleteRetentionPolicy" => groups::delete_retention(&cx, from(params)?),
        "TagLogGroup" => groups::tag_log_group(&cx, from(params)?),
        "UntagLogGroup" => groups::untag_log_group(&cx, from(params)?),
        "ListTagsLogGroup" => groups::list_tags_log_group(&cx, from(params)?),
        "TagResource" => groups::tag_resource(&cx, from(params)?),
        "UntagResource" => groups::untag_resource(&cx, from(params)?),
        "ListTagsForResource" => groups::list_tags_for_resource(&cx, from(params)?),
        "PutLogEvents" => events::put_log_events(&cx, from(params)?, req),
        "GetLogEvents" => events::get_log_events(&cx, from(params)?),
        "FilterLogEvents" => events::filter_log_events(&cx, from(params)?),
        "PutMetricFilter" => filters::put_metric_filter(&cx, from(params)?),
        "DescribeMetricFilters" => filters::describe_metric_filters(&cx, from(params)?),
        "DeleteMetricFilter" => filters::delete_metric_filter(&cx, from(params)?),
        "TestMetricFilter" => filters::test_metric_filter(from(params)?),
        "StartQuery" => queries::start_query(&cx, from(params)?),
        "GetQueryResults" => queries::get_query_results(&cx, from(params)?),
        "StopQuery" => queries::stop_query(&cx, from(params)?),
        "DescribeQueries" => queries::describe_queries(&cx, from(params)?),
        "GetLogRecord" => records::get_log_record(&cx, from(params)?),
        other => Err(ApiError::new(
            ErrorCode::InvalidAction,
            format!("The action {other} is not implemented by Stratus for CloudWatch Logs."),
        )),
    }
}

/// The resource a policy statement is matched against: the log group's ARN
/// when the request names one, else `*`.
/// The ARN a key policy's `Resource` is matched against: the group's ARN in
/// the caller's region, as the responses spell it.
fn resource(action: &str, params: &Document, region: &str) -> String {
    let name = params
        .get("logGroupName")
        .or_else(|| params.get("logGroupIdentifier"))
        .or_else(|| params.get("resourceArn"))
        .and_then(Document::as_str);
    match name {
        Some(arn) if arn.starts_with("arn:") => arn.to_owned(),
        Some(n) if action != "TestMetricFilter" => m::group_arn(region, crate::ACCOUNT_ID, n),
        _ => "*".to_owned(),
    }
}

fn from<T: serde::de::DeserializeOwned>(params: Document) -> ApiResult<T> {
    stratus_proto::from_document(params).map_err(|e| m::invalid(e.message))
}

fn out<T: serde::Serialize>(v: &T) -> ApiResult<Document> {
    Ok(stratus_proto::to_document(v))
}

/// One action's view of the world.
pub(crate) struct Cx<'a> {
    pub state: &'a AppState,
    pub rt: &'a Arc<LogsRuntime>,
    pub region: &'a str,
}

impl Cx<'_> {
    fn group_arn(&self, name: &str) -> String {
        m::group_arn(self.region, crate::ACCOUNT_ID, name)
    }
}

/// The store's refusals as the Logs API words them.
pub(crate) fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::GroupExists => m::group_exists(),
        StoreError::NoGroup => m::group_not_found(),
        StoreError::StreamExists => m::stream_exists(),
        StoreError::NoStream => m::stream_not_found(),
        StoreError::NoFilter => m::filter_not_found(),
        other => {
            tracing::error!("log store: {other}");
            ApiError::unavailable(format!(
                "The log store could not complete the request: {other}"
            ))
        }
    }
}

pub fn now_ms() -> i64 {
    stratus_model::Timestamp::now().millis()
}

/// Runs the store's sealing and retention, the metric-filter replay after a
/// failure, and query expiry, every `every`, until the process ends. Called
/// once at start (after the replay of batches a crash left unemitted).
pub fn spawn_maintenance(state: Arc<AppState>, every: std::time::Duration) {
    std::thread::Builder::new()
        .name("logs-maintenance".into())
        .spawn(move || {
            loop {
                std::thread::sleep(every);
                let Some(rt) = state.logs.as_deref() else {
                    return;
                };
                if let Err(e) = rt.store.maintain() {
                    tracing::warn!("log store maintenance: {e}");
                }
                if rt.emit.needs_replay() {
                    filters::replay_pending(&state, rt);
                } else if let Some(checkpoint) = rt.emit.take_checkpoint() {
                    rt.store.mark_emitted(checkpoint);
                }
                rt.queries.expire();
            }
        })
        .map(|_| ())
        .unwrap_or_else(|e| tracing::error!("cannot start the log maintenance thread: {e}"));
}

/// At start: re-emits the metric datapoints of batches a crash left
/// unemitted (tsdb drops the ones it already stored, by batch id).
pub fn replay_at_start(state: &AppState) {
    if let Some(rt) = state.logs.as_deref() {
        filters::replay_pending(state, rt);
    }
}
