//! The delivery task: every tick, for each running stream, the minutes
//! from its checkpoint up to the last one closed a grace period ago are read
//! from storage (per metric, the minute's Minimum, Maximum, Sum, SampleCount
//! and configured percentiles, as GetMetricStatistics computes them), encoded
//! by `stratus_streams` and POSTed in one Firehose HTTP endpoint request.
//! Only a 2xx answer advances the checkpoint (committed after the POST, so a
//! crash in between sends those minutes again: at-least-once); a failure is
//! retried with exponential backoff, from the same checkpoint. Catch-up after
//! an outage is bounded to the last [`MAX_CATCH_UP_MINUTES`].

use super::{CHECKPOINTS, Destinations, METRIC_STREAMS, MINUTE_MS, floor_minute};
use crate::notify::http::HttpSender;
use crate::state::AppState;
use crate::storage::{self, PeriodAgg};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stratus_model::metric_stream::{FORMAT_OTEL_10, StreamRecord};
use stratus_model::{Timestamp, Unit};
use stratus_streams::{Format, MinuteStats, StreamIdentity, firehose};
use stratus_tsdb as tsdb;

/// Older minutes than this (24 h) are skipped after a long outage.
pub const MAX_CATCH_UP_MINUTES: i64 = 24 * 60;
/// Minutes sent in one request at most (a long catch-up goes in steps).
const MAX_MINUTES_PER_REQUEST: i64 = 60;
/// Minute statistics per Firehose record.
const STATS_PER_RECORD: usize = 500;
/// Series listed per storage call.
const LIST_PAGE: usize = 1000;

/// Timing knobs; defaults as AWS (a minute goes out ~1.5 min after it
/// starts). The `STRATUS_METRIC_STREAM_*` variables exist for tests.
#[derive(Debug, Clone, Copy)]
struct Timing {
    tick: Duration,
    /// How long after a minute closes it is delivered (late data window).
    grace_ms: i64,
    max_backoff: Duration,
}

fn env_ms(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

impl Timing {
    fn from_env() -> Timing {
        Timing {
            tick: Duration::from_millis(env_ms("STRATUS_METRIC_STREAM_TICK_MS", 5_000).max(50)),
            grace_ms: env_ms("STRATUS_METRIC_STREAM_GRACE_MS", 30_000) as i64,
            max_backoff: Duration::from_millis(
                env_ms("STRATUS_METRIC_STREAM_MAX_BACKOFF_MS", 60_000).max(100),
            ),
        }
    }
}

/// Failed attempts of a stream and when to try again.
#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
    next: Option<Instant>,
}

pub fn spawn(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let timing = Timing::from_env();
        let sender = HttpSender::new(state.egress.clone());
        let backoff = Arc::new(std::sync::Mutex::new(HashMap::<String, Backoff>::new()));
        loop {
            tokio::time::sleep(timing.tick).await;
            let (st, s, b) = (state.clone(), sender.clone(), backoff.clone());
            let pass = tokio::task::spawn_blocking(move || {
                let mut b = b.lock().unwrap_or_else(|p| p.into_inner());
                run_once(&st, &s, &mut b, timing, Timestamp::now().millis());
            });
            if let Err(e) = pass.await {
                tracing::error!(error = %e, "metric stream delivery pass failed");
            }
        }
    })
}

fn run_once(
    state: &AppState,
    sender: &HttpSender,
    backoff: &mut HashMap<String, Backoff>,
    timing: Timing,
    now_ms: i64,
) {
    let streams = match state.meta.list::<StreamRecord>(METRIC_STREAMS) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "metric streams: cannot read the streams");
            return;
        }
    };
    backoff.retain(|name, _| streams.iter().any(|(n, r)| n == name && r.running()));
    for (name, rec) in streams {
        if !rec.running() {
            continue;
        }
        if backoff
            .get(&name)
            .and_then(|b| b.next)
            .is_some_and(|t| Instant::now() < t)
        {
            continue;
        }
        match deliver_stream(state, sender, &state.firehose, &rec, timing, now_ms) {
            Ok(()) => {
                backoff.remove(&name);
            }
            Err(e) => {
                let b = backoff.entry(name.clone()).or_default();
                b.failures = b.failures.saturating_add(1);
                let delay = Duration::from_secs(1)
                    .saturating_mul(1u32 << b.failures.min(16).saturating_sub(1))
                    .min(timing.max_backoff);
                b.next = Some(Instant::now() + delay);
                tracing::warn!(stream = %name, failures = b.failures, retry_in = ?delay,
                    error = %e, "metric stream delivery failed; will retry");
            }
        }
    }
}

fn deliver_stream(
    state: &AppState,
    sender: &HttpSender,
    destinations: &Destinations,
    rec: &StreamRecord,
    timing: Timing,
    now_ms: i64,
) -> Result<(), String> {
    let checkpoint: i64 = match state.meta.get(CHECKPOINTS, &rec.name) {
        Ok(Some(c)) => c,
        // Running without a checkpoint (never expected): start from now.
        Ok(None) => floor_minute(now_ms),
        Err(e) => return Err(format!("checkpoint: {e}")),
    };
    let end = floor_minute(now_ms - timing.grace_ms);
    let from = checkpoint.max(end - MAX_CATCH_UP_MINUTES * MINUTE_MS);
    if from >= end {
        return Ok(());
    }
    let to = end.min(from + MAX_MINUTES_PER_REQUEST * MINUTE_MS);
    let stats = collect(state, rec, from, to).map_err(|e| format!("reading metrics: {e}"))?;
    if !stats.is_empty() {
        let delivery_stream = stratus_model::metric_stream::delivery_stream_name(&rec.firehose_arn)
            .unwrap_or_default();
        let endpoint = destinations.get(delivery_stream).ok_or_else(|| {
            format!("delivery stream {delivery_stream} is no longer configured ([firehose])")
        })?;
        let format = if rec.output_format == FORMAT_OTEL_10 {
            Format::OpenTelemetry1
        } else {
            Format::Json
        };
        let id = StreamIdentity {
            stream_name: rec.name.clone(),
            arn: rec.arn.clone(),
            account_id: crate::ACCOUNT_ID.to_string(),
            region: rec.arn.split(':').nth(3).unwrap_or_default().to_string(),
        };
        let records: Vec<Vec<u8>> = stats
            .chunks(STATS_PER_RECORD)
            .map(|c| format.encode(&id, c))
            .collect();
        let request_id = uuid::Uuid::new_v4().to_string();
        let body = firehose::body(&request_id, now_ms, &records);
        let headers = firehose::headers(&request_id, endpoint.access_key.as_deref());
        sender
            .post(&endpoint.url, &headers, &body)
            .map_err(|e| e.message)?;
        tracing::debug!(stream = %rec.name, from, to, metrics = stats.len(), "metric stream delivered");
    }
    // Advance only if nobody stopped, restarted or replaced the stream meanwhile.
    state
        .meta
        .transact(|tx| {
            let cur: Option<i64> = tx.get(CHECKPOINTS, &rec.name)?;
            let still: Option<StreamRecord> = tx.get(METRIC_STREAMS, &rec.name)?;
            if cur == Some(checkpoint)
                && still.is_some_and(|s| s.running() && s.created_ms == rec.created_ms)
            {
                tx.put(CHECKPOINTS, &rec.name, &to)?;
            }
            Ok(())
        })
        .map_err(|e| format!("checkpoint: {e}"))
}

/// Every selected metric's minutes in `[from, to)`, by minute then metric.
fn collect(
    state: &AppState,
    rec: &StreamRecord,
    from: i64,
    to: i64,
) -> Result<Vec<MinuteStats>, stratus_model::ApiError> {
    let filter = tsdb::SeriesFilter {
        namespace: None,
        name: None,
        dimensions: Vec::new(),
    };
    let mut out = Vec::new();
    let mut after: Option<tsdb::SeriesKey> = None;
    loop {
        let page = state.metrics.list(&filter, after.as_ref(), LIST_PAGE)?;
        let full = page.len() == LIST_PAGE;
        let last = page.last().cloned();
        for key in page {
            if !rec.selects(&key.namespace, &key.name) {
                continue;
            }
            let extra_stats = rec.additional_statistics(&key.namespace, &key.name);
            let metric = storage::metric_id(key);
            let aggs = state.metrics.aggregates(
                &metric,
                Timestamp::from_millis(from),
                Timestamp::from_millis(to),
                60,
                None,
            )?;
            for PeriodAgg(a) in storage::merge_units(aggs) {
                if a.count <= 0.0 {
                    continue;
                }
                let extra = extra_stats
                    .iter()
                    .filter_map(|s| {
                        let rank: f64 = s.strip_prefix('p')?.parse().ok()?;
                        Some((s.clone(), a.percentile(rank)?))
                    })
                    .collect();
                out.push(MinuteStats {
                    namespace: metric.namespace.clone(),
                    metric_name: metric.metric_name.clone(),
                    dimensions: metric
                        .dimensions
                        .iter()
                        .map(|d| (d.name.clone(), d.value.clone()))
                        .collect(),
                    start_ms: a.start_ms,
                    unit: Unit::from_code(a.unit).unwrap_or(Unit::None).to_string(),
                    min: a.min,
                    max: a.max,
                    sum: a.sum,
                    count: a.count,
                    extra,
                });
            }
        }
        match last {
            Some(k) if full => after = Some(k),
            _ => break,
        }
    }
    out.sort_by_key(|s| s.start_ms);
    Ok(out)
}
