//! Logs Insights: StartQuery runs a query on its own thread over the
//! groups' events in the time range; GetQueryResults reports progress and
//! the rows; StopQuery cancels. Finished queries are kept for an hour (the
//! last 200), as AWS keeps results for a while.

use super::{Cx, out};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use stratus_logs::insights;
use stratus_logs::store::Scan;
use stratus_model::logs::{self as m, *};
use stratus_model::{ApiError, ApiResult, ErrorCode};
use stratus_proto::Document;

const KEEP_FINISHED: Duration = Duration::from_secs(3600);
const MAX_KEPT: usize = 200;
/// Concurrent queries (AWS: 30 per account; two cores here).
const MAX_RUNNING: usize = 4;
/// A query stops (status Timeout) after this long, as AWS's 60 minutes.
const QUERY_TIMEOUT: Duration = Duration::from_secs(15 * 60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Running,
    Complete,
    Cancelled,
    Failed,
    Timeout,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Running => "Running",
            Status::Complete => "Complete",
            Status::Cancelled => "Cancelled",
            Status::Failed => "Failed",
            Status::Timeout => "Timeout",
        }
    }
}

struct QueryState {
    info: QueryInfo,
    status: Status,
    rows: Vec<Vec<ResultField>>,
    stats: QueryStatistics,
    cancel: Arc<AtomicBool>,
    finished_at: Option<Instant>,
}

#[derive(Default)]
pub(super) struct Queries {
    map: Mutex<HashMap<String, QueryState>>,
}

impl Queries {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, QueryState>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn expire(&self) {
        let mut map = self.lock();
        map.retain(|_, q| q.finished_at.is_none_or(|t| t.elapsed() < KEEP_FINISHED));
        if map.len() > MAX_KEPT {
            let mut finished: Vec<(Instant, String)> = map
                .iter()
                .filter_map(|(id, q)| q.finished_at.map(|t| (t, id.clone())))
                .collect();
            finished.sort();
            let excess = map.len() - MAX_KEPT;
            for (_, id) in finished.into_iter().take(excess) {
                map.remove(&id);
            }
        }
    }
}

pub(super) fn start_query(cx: &Cx<'_>, input: StartQueryInput) -> ApiResult<Document> {
    if let Some(lang) = input.query_language.as_deref()
        && lang != "CWLI"
    {
        return Err(m::invalid(format!(
            "Query language {lang} is not supported by Stratus (only CWLI, the Logs Insights language)."
        )));
    }
    let mut groups: Vec<String> = Vec::new();
    let given = [
        input.log_group_name.is_some(),
        input.log_group_names.is_some(),
        input.log_group_identifiers.is_some(),
    ]
    .iter()
    .filter(|g| **g)
    .count();
    if given > 1 {
        return Err(m::invalid(
            "Only one of logGroupName, logGroupNames and logGroupIdentifiers may be given.",
        ));
    }
    if let Some(g) = &input.log_group_name {
        groups.push(validate_group_name(Some(g), "logGroupName")?);
    }
    for g in input.log_group_names.iter().flatten() {
        groups.push(validate_group_name(Some(g), "logGroupNames")?);
    }
    for g in input.log_group_identifiers.iter().flatten() {
        groups.push(resolve_group(None, Some(g))?);
    }
    if groups.is_empty() {
        return Err(m::invalid(
            "Log group names or identifiers must be specified.",
        ));
    }
    if groups.len() > 50 {
        return Err(m::invalid("A query can search at most 50 log groups."));
    }
    for g in &groups {
        if cx.rt.store.group(g).is_none() {
            return Err(ApiError::new(
                ErrorCode::ResourceNotFoundException,
                format!(
                    "Log group '{g}' does not exist for account ID '{}'",
                    crate::ACCOUNT_ID
                ),
            ));
        }
    }
    let start = input.start_time.ok_or_else(|| m::missing("startTime"))?;
    let end = input.end_time.ok_or_else(|| m::missing("endTime"))?;
    if start < 0 || end < 0 {
        return Err(m::invalid("startTime and endTime must not be negative."));
    }
    if end < start {
        return Err(m::invalid("End time should not be before start time"));
    }
    let text = input
        .query_string
        .ok_or_else(|| m::missing("queryString"))?;
    if text.is_empty() || text.chars().count() > 10_000 {
        return Err(constraint(
            &text,
            "queryString",
            "Member must have length less than or equal to 10000 and greater than or equal to 0",
        ));
    }
    let query = insights::parse(&text)
        .map_err(|e| ApiError::new(ErrorCode::MalformedQueryException, e.to_string()))?;
    let row_limit = match input.limit {
        None => query.row_limit(),
        Some(n) if (1..=10_000).contains(&n) => (n as usize).min(query.row_limit()),
        Some(n) => {
            return Err(constraint(
                &n.to_string(),
                "limit",
                "Member must have value less than or equal to 10000 and greater than or equal to 1",
            ));
        }
    };
    let id = uuid::Uuid::new_v4().to_string();
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let mut map = cx.rt.queries.lock();
        let running = map.values().filter(|q| q.status == Status::Running).count();
        if running >= MAX_RUNNING {
            return Err(ApiError::new(
                ErrorCode::LimitExceededException,
                format!("Account maximum query concurrency limit of [{MAX_RUNNING}] reached."),
            ));
        }
        map.insert(
            id.clone(),
            QueryState {
                info: QueryInfo {
                    query_language: "CWLI".into(),
                    query_id: id.clone(),
                    query_string: text,
                    status: Status::Running.as_str().into(),
                    create_time: super::now_ms(),
                    log_group_name: groups.first().cloned().unwrap_or_default(),
                },
                status: Status::Running,
                rows: Vec::new(),
                stats: QueryStatistics::default(),
                cancel: cancel.clone(),
                finished_at: None,
            },
        );
    }
    // The query runs beside the request threads, on the runtime it shares.
    let rt = cx.rt.clone();
    let qid = id.clone();
    let spawned = std::thread::Builder::new()
        .name("logs-query".into())
        .spawn(move || {
            let started = Instant::now();
            let mut exec = query.executor();
            let mut timed_out = false;
            for g in &groups {
                // Rows show @log as AWS does, "<account id>:<group>"; their
                // @ptr names the group itself, for GetLogRecord.
                let label = format!("{}:{g}", crate::ACCOUNT_ID);
                let scan = Scan {
                    start_ms: Some(start.saturating_mul(1000)),
                    // endTime is inclusive (seconds): everything up to its last ms.
                    end_ms: Some(end.saturating_mul(1000).saturating_add(1000)),
                    ..Default::default()
                };
                let mut n = 0u32;
                let res = rt.store.scan(g, &scan, &mut |ev, _| {
                    let labelled = stratus_logs::EventRef {
                        group: &label,
                        ..*ev
                    };
                    exec.push_with_pointer_group(&labelled, g);
                    n = n.wrapping_add(1);
                    if n.is_multiple_of(4096) {
                        if cancel.load(Ordering::Relaxed) {
                            return false;
                        }
                        if started.elapsed() > QUERY_TIMEOUT {
                            timed_out = true;
                            return false;
                        }
                    }
                    true
                });
                if let Err(e) = res {
                    tracing::warn!(group = %g, "Insights query: {e}");
                }
                if cancel.load(Ordering::Relaxed) || timed_out {
                    break;
                }
            }
            let output = exec.finish();
            let mut map = rt.queries.lock();
            if let Some(q) = map.get_mut(&qid) {
                q.status = if cancel.load(Ordering::Relaxed) {
                    Status::Cancelled
                } else if timed_out {
                    Status::Timeout
                } else {
                    Status::Complete
                };
                q.info.status = q.status.as_str().into();
                q.stats = QueryStatistics {
                    records_matched: output.records_matched as f64,
                    records_scanned: output.records_scanned as f64,
                    bytes_scanned: output.bytes_scanned as f64,
                };
                // A row with no field at all (a `stats ... by f` group of
                // events without `f` and no aggregate value) says nothing.
                q.rows = output
                    .rows
                    .into_iter()
                    .filter(|row| !row.is_empty())
                    .take(row_limit)
                    .map(|row| {
                        row.into_iter()
                            .map(|(field, value)| ResultField { field, value })
                            .collect()
                    })
                    .collect();
                q.finished_at = Some(Instant::now());
            }
        });
    if let Err(e) = spawned {
        let mut map = cx.rt.queries.lock();
        if let Some(q) = map.get_mut(&id) {
            q.status = Status::Failed;
            q.info.status = Status::Failed.as_str().into();
            q.finished_at = Some(Instant::now());
        }
        return Err(ApiError::internal(format!("cannot start the query: {e}")));
    }
    out(&StartQueryOutput { query_id: id })
}

fn query_id(input: QueryIdInput) -> ApiResult<String> {
    let id = input.query_id.ok_or_else(|| m::missing("queryId"))?;
    if id.is_empty() || id.len() > 256 {
        return Err(constraint(
            &id,
            "queryId",
            "Member must have length less than or equal to 256 and greater than or equal to 0",
        ));
    }
    Ok(id)
}

fn no_query() -> ApiError {
    ApiError::new(
        ErrorCode::ResourceNotFoundException,
        "Query does not exist.",
    )
}

pub(super) fn get_query_results(cx: &Cx<'_>, input: QueryIdInput) -> ApiResult<Document> {
    let id = query_id(input)?;
    let map = cx.rt.queries.lock();
    let q = map.get(&id).ok_or_else(no_query)?;
    out(&GetQueryResultsOutput {
        query_language: "CWLI".into(),
        results: q.rows.clone(),
        statistics: q.stats.clone(),
        status: q.status.as_str().into(),
    })
}

pub(super) fn stop_query(cx: &Cx<'_>, input: QueryIdInput) -> ApiResult<Document> {
    let id = query_id(input)?;
    let map = cx.rt.queries.lock();
    let q = map.get(&id).ok_or_else(no_query)?;
    if q.status != Status::Running {
        return Err(m::invalid(format!(
            "Query {id} is not running (status {}).",
            q.status.as_str()
        )));
    }
    q.cancel.store(true, Ordering::Relaxed);
    out(&StopQueryOutput { success: true })
}

pub(super) fn describe_queries(cx: &Cx<'_>, input: DescribeQueriesInput) -> ApiResult<Document> {
    let max = match input.max_results {
        None => 1000,
        Some(n) if (1..=1000).contains(&n) => n as usize,
        Some(n) => {
            return Err(constraint(
                &n.to_string(),
                "maxResults",
                "Member must have value less than or equal to 1000 and greater than or equal to 1",
            ));
        }
    };
    let status = match input.status.as_deref() {
        None => None,
        Some(
            s @ ("Scheduled" | "Running" | "Complete" | "Failed" | "Cancelled" | "Timeout"
            | "Unknown"),
        ) => Some(s.to_owned()),
        Some(s) => {
            return Err(constraint(
                s,
                "status",
                "Member must satisfy enum value set: [Scheduled, Running, Complete, Failed, Cancelled, Timeout, Unknown]",
            ));
        }
    };
    let map = cx.rt.queries.lock();
    let mut queries: Vec<QueryInfo> = map
        .values()
        .filter(|q| status.as_deref().is_none_or(|s| s == q.status.as_str()))
        .filter(|q| {
            input
                .log_group_name
                .as_deref()
                .is_none_or(|g| g == q.info.log_group_name)
        })
        .map(|q| q.info.clone())
        .collect();
    // Newest first.
    queries.sort_by(|a, b| {
        b.create_time
            .cmp(&a.create_time)
            .then(a.query_id.cmp(&b.query_id))
    });
    let after = super::groups::parse_name_token("q", input.next_token.as_deref())?;
    let start = after
        .as_deref()
        .and_then(|a| queries.iter().position(|q| q.query_id == a).map(|i| i + 1))
        .unwrap_or(0);
    let page: Vec<QueryInfo> = queries.iter().skip(start).take(max).cloned().collect();
    let next_token = (start + page.len() < queries.len())
        .then(|| {
            page.last()
                .map(|q| super::groups::name_token("q", &q.query_id))
        })
        .flatten();
    out(&DescribeQueriesOutput {
        queries: page,
        next_token,
    })
}
