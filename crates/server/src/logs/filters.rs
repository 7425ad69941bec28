//! Metric filters (Put/Describe/Delete/TestMetricFilter) and the datapoints
//! accepted events emit — through the group's metric filters, and, for
//! batches sent with `x-amzn-logs-format: json/emf`, from Embedded Metric
//! Format — into the metrics engine.
//!
//! Exactly once per event, also across a crash: a batch's datapoints carry a
//! tsdb batch id derived from this data directory's log-store id and the
//! batch's sequence number, so writing them again is a no-op. The store keeps
//! every batch above its emission checkpoint in its write-ahead log; the
//! checkpoint advances only when every batch appended so far has emitted
//! (`EmitTracker`), and a start (or a failed emission) replays the batches
//! above it.

use super::{Cx, LogsRequest, LogsRuntime, out, store_error};
use crate::state::AppState;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use stratus_logs::pattern::{self, FilterPattern, MetricTransformation};
use stratus_logs::store::NewEvent;
use stratus_model::logs::{self as m, *};
use stratus_model::metric::{Dimension, MetricId};
use stratus_model::ops::put_metric_data::{Datum, DatumValue};
use stratus_model::param::Param;
use stratus_model::unit::Unit;
use stratus_model::{ApiError, ApiResult, ErrorCode, Timestamp};
use stratus_proto::Document;

/// One metric filter, compiled.
struct Compiled {
    pattern: FilterPattern,
    transformations: Vec<MetricTransformation>,
}

/// Compiled filters per group, rebuilt from the store's definitions when a
/// filter changes.
#[derive(Default)]
pub(super) struct FilterCache {
    groups: RwLock<HashMap<String, Arc<Vec<Compiled>>>>,
}

impl FilterCache {
    pub(super) fn forget(&self, group: &str) {
        self.groups
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(group);
    }

    fn get(&self, rt: &LogsRuntime, group: &str) -> Arc<Vec<Compiled>> {
        if let Some(c) = self
            .groups
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(group)
        {
            return c.clone();
        }
        let compiled: Vec<Compiled> = rt
            .store
            .group(group)
            .map(|g| {
                g.metric_filters
                    .values()
                    .filter_map(|def| compile(def))
                    .collect()
            })
            .unwrap_or_default();
        let compiled = Arc::new(compiled);
        self.groups
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(group.to_owned(), compiled.clone());
        compiled
    }
}

fn compile(definition: &str) -> Option<Compiled> {
    let shape: MetricFilterShape = serde_json::from_str(definition).ok()?;
    let pattern = FilterPattern::parse(&shape.filter_pattern).ok()?;
    let transformations = shape
        .metric_transformations
        .into_iter()
        .map(transformation)
        .collect();
    Some(Compiled {
        pattern,
        transformations,
    })
}

fn transformation(t: MetricTransformationShape) -> MetricTransformation {
    MetricTransformation {
        metric_name: t.metric_name.unwrap_or_default(),
        metric_namespace: t.metric_namespace.unwrap_or_default(),
        metric_value: t.metric_value.unwrap_or_default(),
        default_value: t.default_value,
        dimensions: t.dimensions,
        unit: t.unit,
    }
}

/// Sequence numbers of batches appended but not yet emitted: the store's
/// checkpoint may pass a batch only once every batch before it emitted.
#[derive(Default)]
pub struct EmitTracker {
    inner: Mutex<Tracker>,
}

#[derive(Default)]
struct Tracker {
    in_flight: usize,
    max_done: u64,
    /// An emission failed: the maintenance thread replays from the store.
    failed: bool,
    /// `max_done` as of the last moment nothing was in flight: every batch
    /// up to it has emitted.
    safe: u64,
    /// What the store was last told.
    marked: u64,
}

impl EmitTracker {
    fn begin(&self) {
        self.lock().in_flight += 1;
    }

    fn end(&self, seq: Option<u64>, ok: bool) {
        let mut t = self.lock();
        t.in_flight -= 1;
        if let Some(seq) = seq {
            if ok {
                t.max_done = t.max_done.max(seq);
            } else {
                t.failed = true;
            }
        }
        // With nothing in flight every batch appended so far has emitted (a
        // later append gets a later sequence number).
        if t.in_flight == 0 && !t.failed {
            t.safe = t.max_done;
        }
    }

    /// A checkpoint the store has not been told yet. Taken by the
    /// maintenance thread: telling the store is a WAL record and an fsync,
    /// which PutLogEvents should not pay for.
    pub(super) fn take_checkpoint(&self) -> Option<u64> {
        let mut t = self.lock();
        (t.safe > t.marked && !t.failed).then(|| {
            t.marked = t.safe;
            t.safe
        })
    }

    pub(super) fn needs_replay(&self) -> bool {
        self.lock().failed
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tracker> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn batch_id(rt: &LogsRuntime, seq: u64) -> stratus_tsdb::BatchId {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(b"stratus-logs-metrics");
    h.update(rt.instance);
    h.update(seq.to_be_bytes());
    let digest = h.finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    stratus_tsdb::BatchId(id)
}

/// Appends a (validated, triaged) batch durably and emits its datapoints.
pub(super) fn append_and_emit(
    cx: &Cx<'_>,
    group: &str,
    stream: &str,
    events: Vec<NewEvent>,
    req: LogsRequest,
) -> ApiResult<()> {
    let rt = cx.rt;
    // Computed before the append takes the events (no copy of the batch);
    // written only once the events are durable.
    let datums = datums_for(rt, group, &events, req.emf);
    rt.emit.begin();
    let appended = match rt
        .store
        .append_as(group, stream, events, req.batch_id, req.emf)
    {
        Ok(a) => a,
        Err(e) => {
            rt.emit.end(None, true);
            return Err(store_error(e));
        }
    };
    let ok = if appended.duplicate {
        // Its datapoints were emitted (or are pending) with the original.
        true
    } else {
        emit(cx.state, rt, appended.seq, datums)
    };
    rt.emit.end(Some(appended.seq), ok);
    // The events are durable either way: a failed emission is replayed by
    // the maintenance thread, so the caller must not retry (and duplicate).
    Ok(())
}

fn emit(state: &AppState, rt: &LogsRuntime, seq: u64, datums: Vec<Datum>) -> bool {
    if datums.is_empty() {
        return true;
    }
    match state.metrics.put(datums, Some(batch_id(rt, seq))) {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(
                seq,
                "metric filter datapoints not stored yet (will retry): {}",
                e.message
            );
            false
        }
    }
}

/// Every batch above the store's checkpoint, emitted again (tsdb ignores
/// the ones it already has), then the checkpoint advanced past them.
pub(super) fn replay_pending(state: &AppState, rt: &LogsRuntime) {
    let pending = match rt.store.pending_emissions() {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("log store: cannot list unemitted batches: {e}");
            return;
        }
    };
    let mut max = None;
    for batch in &pending {
        let datums = datums_for(rt, &batch.group, &batch.events, batch.emf);
        if !emit(state, rt, batch.seq, datums) {
            return;
        }
        max = Some(batch.seq);
    }
    if let Some(seq) = max {
        rt.store.mark_emitted(seq);
        tracing::info!(
            batches = pending.len(),
            "log store: metric filter datapoints of unemitted batches replayed"
        );
    }
    rt.emit.lock().failed = false;
}

/// The datapoints a batch emits: each event through each metric filter of
/// its group, plus its EMF metrics. Datapoints of one metric at one instant
/// are merged into one distribution (exact counts, sums and percentiles).
fn datums_for(rt: &LogsRuntime, group: &str, events: &[NewEvent], emf: bool) -> Vec<Datum> {
    let filters = rt.filters.get(rt, group);
    let mut merged: BTreeMap<(MetricKey, i64, bool), Vec<(f64, f64)>> = BTreeMap::new();
    let mut add = |key: MetricKey, ts: i64, high_res: bool, v: f64| {
        let values = merged.entry((key, ts, high_res)).or_default();
        match values.iter_mut().find(|(x, _)| *x == v) {
            Some((_, n)) => *n += 1.0,
            None => values.push((v, 1.0)),
        }
    };
    for ev in events {
        for f in filters.iter() {
            for t in &f.transformations {
                if let Some(e) = pattern::apply(&f.pattern, t, &ev.message, ev.timestamp_ms)
                    && e.value.is_finite()
                {
                    let key = MetricKey {
                        namespace: e.namespace,
                        name: e.name,
                        dimensions: e.dimensions,
                        unit: e.unit,
                    };
                    add(key, e.timestamp_ms, false, e.value);
                }
            }
        }
        if emf && ev.message.starts_with('{') {
            match stratus_logs::emf::parse(&ev.message) {
                Ok(data) => {
                    for d in data {
                        let key = MetricKey {
                            namespace: d.namespace,
                            name: d.name,
                            dimensions: d.dimensions,
                            unit: d.unit,
                        };
                        for v in d.values.into_iter().filter(|v| v.is_finite()) {
                            add(key.clone(), d.timestamp_ms, d.storage_resolution == 1, v);
                        }
                    }
                }
                Err(e) => tracing::debug!(group, "not valid EMF, stored as a log event: {e}"),
            }
        }
    }
    merged
        .into_iter()
        .filter_map(|((key, ts, high_resolution), values)| {
            let metric = key.metric_id()?;
            Some(Datum {
                metric,
                timestamp: Timestamp::from_millis(ts),
                unit: key
                    .unit
                    .as_deref()
                    .and_then(Unit::parse)
                    .unwrap_or(Unit::None),
                high_resolution,
                value: if values.len() == 1 && values[0].1 == 1.0 {
                    DatumValue::Single(values[0].0)
                } else {
                    DatumValue::Distribution(values)
                },
            })
        })
        .collect()
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct MetricKey {
    namespace: String,
    name: String,
    dimensions: Vec<(String, String)>,
    unit: Option<String>,
}

impl MetricKey {
    /// The metric identity; `None` (nothing emitted) when the names or
    /// dimensions an event produced are not a valid metric.
    fn metric_id(&self) -> Option<MetricId> {
        if self.namespace.is_empty() || self.name.is_empty() {
            return None;
        }
        let dims = self
            .dimensions
            .iter()
            .map(|(n, v)| Dimension {
                name: n.clone(),
                value: v.clone(),
            })
            .collect();
        MetricId::new(
            self.namespace.clone(),
            self.name.clone(),
            dims,
            Param::root("Dimensions"),
        )
        .ok()
    }
}

fn parse_pattern(p: Option<&str>) -> ApiResult<(String, FilterPattern)> {
    let p = p.ok_or_else(|| m::missing("filterPattern"))?;
    if p.chars().count() > 1024 {
        return Err(constraint(
            p,
            "filterPattern",
            "Member must have length less than or equal to 1024",
        ));
    }
    let parsed = FilterPattern::parse(p)
        .map_err(|e| m::invalid(format!("Invalid metric filter pattern: {e}")))?;
    Ok((p.to_owned(), parsed))
}

pub(super) fn put_metric_filter(cx: &Cx<'_>, input: PutMetricFilterInput) -> ApiResult<Document> {
    let group = validate_group_name(input.log_group_name.as_deref(), "logGroupName")?;
    let name = m::check_name(input.filter_name.as_deref(), "filterName", &m::FILTER_NAME)?;
    let (pattern_text, pattern) = parse_pattern(input.filter_pattern.as_deref())?;
    let ts = input
        .metric_transformations
        .ok_or_else(|| m::missing("metricTransformations"))?;
    if ts.len() != 1 {
        return Err(constraint(
            "[...]",
            "metricTransformations",
            "Member must have length less than or equal to 1 and greater than or equal to 1",
        ));
    }
    let mut shapes = Vec::with_capacity(ts.len());
    for t in ts {
        m::check_name(
            t.metric_name.as_deref(),
            "metricTransformations.1.member.metricName",
            &m::METRIC_NAME,
        )?;
        m::check_name(
            t.metric_namespace.as_deref(),
            "metricTransformations.1.member.metricNamespace",
            &m::METRIC_NAME,
        )?;
        if t.metric_value.as_deref().is_none_or(str::is_empty) {
            return Err(m::missing("metricTransformations.1.member.metricValue"));
        }
        if let Some(u) = t.unit.as_deref()
            && Unit::parse(u).is_none()
        {
            return Err(constraint(
                u,
                "metricTransformations.1.member.unit",
                "Member must satisfy enum value set: [Seconds, Microseconds, Milliseconds, Bytes, Kilobytes, Megabytes, Gigabytes, Terabytes, Bits, Kilobits, Megabits, Gigabits, Terabits, Percent, Count, Bytes/Second, Kilobytes/Second, Megabytes/Second, Gigabytes/Second, Terabytes/Second, Bits/Second, Kilobits/Second, Megabits/Second, Gigabits/Second, Terabits/Second, Count/Second, None]",
            ));
        }
        pattern::validate_transformation(&pattern, &transformation(t.clone()))
            .map_err(|e| m::invalid(e.to_string()))?;
        shapes.push(t);
    }
    let info = cx.rt.store.group(&group).ok_or_else(m::group_not_found)?;
    if !info.metric_filters.contains_key(&name) && info.metric_filters.len() >= MAX_METRIC_FILTERS {
        return Err(ApiError::new(
            ErrorCode::LimitExceededException,
            "Resource limit exceeded.",
        ));
    }
    let created = info
        .metric_filters
        .get(&name)
        .and_then(|d| serde_json::from_str::<MetricFilterShape>(d).ok())
        .map_or_else(super::now_ms, |old| old.creation_time);
    let shape = MetricFilterShape {
        filter_name: name.clone(),
        filter_pattern: pattern_text,
        metric_transformations: shapes,
        creation_time: created,
        log_group_name: group.clone(),
        apply_on_transformed_logs: input.apply_on_transformed_logs.unwrap_or(false),
    };
    let definition = serde_json::to_string(&shape)
        .map_err(|e| ApiError::internal(format!("metric filter: {e}")))?;
    cx.rt
        .store
        .put_metric_filter(&group, &name, &definition)
        .map_err(store_error)?;
    cx.rt.filters.forget(&group);
    Ok(Document::Null)
}

pub(super) fn delete_metric_filter(
    cx: &Cx<'_>,
    input: DeleteMetricFilterInput,
) -> ApiResult<Document> {
    let group = validate_group_name(input.log_group_name.as_deref(), "logGroupName")?;
    let name = m::check_name(input.filter_name.as_deref(), "filterName", &m::FILTER_NAME)?;
    cx.rt
        .store
        .delete_metric_filter(&group, &name)
        .map_err(store_error)?;
    cx.rt.filters.forget(&group);
    Ok(Document::Null)
}

pub(super) fn describe_metric_filters(
    cx: &Cx<'_>,
    input: DescribeMetricFiltersInput,
) -> ApiResult<Document> {
    let limit = page_limit(input.limit, MAX_DESCRIBE_LIMIT)?;
    if input.filter_name_prefix.is_some() && input.log_group_name.is_none() {
        return Err(m::invalid(
            "If filterNamePrefix is specified, logGroupName must also be specified.",
        ));
    }
    if input.metric_name.is_some() != input.metric_namespace.is_some() {
        return Err(m::invalid(
            "metricName and metricNamespace must be specified together.",
        ));
    }
    let groups = match &input.log_group_name {
        Some(g) => {
            let g = validate_group_name(Some(g), "logGroupName")?;
            vec![cx.rt.store.group(&g).ok_or_else(m::group_not_found)?]
        }
        None => cx.rt.store.groups(),
    };
    let after = super::groups::parse_name_token("f", input.next_token.as_deref())?;
    let mut all: Vec<(String, MetricFilterShape)> = Vec::new();
    for g in &groups {
        for (name, def) in &g.metric_filters {
            if input
                .filter_name_prefix
                .as_deref()
                .is_some_and(|p| !name.starts_with(p))
            {
                continue;
            }
            let Ok(shape) = serde_json::from_str::<MetricFilterShape>(def) else {
                continue;
            };
            if let (Some(mn), Some(ns)) = (&input.metric_name, &input.metric_namespace)
                && !shape.metric_transformations.iter().any(|t| {
                    t.metric_name.as_deref() == Some(mn.as_str())
                        && t.metric_namespace.as_deref() == Some(ns.as_str())
                })
            {
                continue;
            }
            all.push((format!("{}\u{0}{}", g.name, name), shape));
        }
    }
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let start = after
        .as_deref()
        .map_or(0, |a| all.partition_point(|(k, _)| k.as_str() <= a));
    let page: Vec<&(String, MetricFilterShape)> = all[start..].iter().take(limit).collect();
    let next_token = (start + page.len() < all.len())
        .then(|| page.last().map(|(k, _)| super::groups::name_token("f", k)))
        .flatten();
    out(&DescribeMetricFiltersOutput {
        metric_filters: page.into_iter().map(|(_, s)| s.clone()).collect(),
        next_token,
    })
}

pub(super) fn test_metric_filter(input: TestMetricFilterInput) -> ApiResult<Document> {
    let (_, pattern) = parse_pattern(input.filter_pattern.as_deref())?;
    let messages = input
        .log_event_messages
        .ok_or_else(|| m::missing("logEventMessages"))?;
    if messages.is_empty() || messages.len() > 50 {
        return Err(constraint(
            "[...]",
            "logEventMessages",
            "Member must have length less than or equal to 50 and greater than or equal to 1",
        ));
    }
    let matches = messages
        .into_iter()
        .enumerate()
        .filter_map(|(i, msg)| {
            let values = pattern.extract(&msg)?;
            Some(MetricFilterMatch {
                event_number: i + 1,
                event_message: msg,
                extracted_values: values,
            })
        })
        .collect();
    out(&TestMetricFilterOutput { matches })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checkpoint_passes_a_batch_only_once_every_earlier_one_emitted() {
        let t = EmitTracker::default();
        t.begin(); // seq 1
        t.begin(); // seq 2
        t.end(Some(2), true);
        // Batch 1 is still in flight: nothing is safe yet.
        assert_eq!(t.take_checkpoint(), None);
        t.end(Some(1), true);
        assert_eq!(t.take_checkpoint(), Some(2));
        assert_eq!(t.take_checkpoint(), None, "told once");
        // A failed emission holds the checkpoint until a replay.
        t.begin();
        t.end(Some(3), false);
        assert!(t.needs_replay());
        assert_eq!(t.take_checkpoint(), None);
        t.begin();
        t.end(Some(4), true);
        assert_eq!(t.take_checkpoint(), None);
    }
}
