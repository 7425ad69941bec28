//! Evaluating one alarm against storage: fetch the per-period statistics of
//! its range (the GetMetricStatistics path for single-metric alarms, the
//! GetMetricData executor for metric math), run the pure evaluator, commit a
//! change, and re-evaluate composite alarms whose children changed.
//! Synchronous: callers run it on the blocking pool.

use super::store::{self, ALARMS, Change, Committed};
use crate::cloudwatch::StoreSource;
use crate::state::AppState;
use crate::storage;
use std::collections::BTreeMap;
use stratus_model::alarm::contributor::{self, ContributorRecord, ContributorRef};
use stratus_model::alarm::evaluate::{self, Datapoint, Outcome, Period, Settings};
use stratus_model::alarm::format::long_date;
use stratus_model::alarm::record::{AlarmKind, AlarmRecord, MetricAlarmConfig, MetricTarget};
use stratus_model::alarm::window::{self, Placement};
use stratus_model::alarm::{StateValue, rule};
use stratus_model::metric::MetricId;
use stratus_model::ops::get_metric_data::{self as gmd, GetMetricDataInput};
use stratus_model::{ApiResult, Percentile, Stat, Statistic, Timestamp, Unit};

/// Composite chains deeper than this are not followed (cycles are refused
/// at PutCompositeAlarm; this bounds the work regardless).
const MAX_COMPOSITE_DEPTH: usize = 16;

/// The statistic of a single-metric alarm.
fn alarm_stat(statistic: &Option<String>, extended: &Option<String>) -> Option<Stat> {
    match (statistic, extended) {
        (_, Some(e)) => Percentile::parse(e).map(Stat::Percentile),
        (Some(s), None) => Statistic::parse(s).map(Stat::Basic),
        (None, None) => None,
    }
}

fn settings(c: &MetricAlarmConfig) -> Settings {
    let (statistic, unit, low) = match &c.target {
        MetricTarget::Single {
            statistic,
            extended_statistic,
            unit,
            ..
        } => {
            let low = match (
                extended_statistic,
                c.evaluate_low_sample_count_percentile.as_deref(),
            ) {
                (Some(e), Some("ignore")) => Percentile::parse(e).map(|p| p.rank()),
                _ => None,
            };
            (
                extended_statistic.clone().or_else(|| statistic.clone()),
                unit.clone(),
                low,
            )
        }
        MetricTarget::Math { .. } => (None, None, None),
    };
    Settings {
        threshold: c.threshold,
        operator: c.comparison_operator,
        evaluation_periods: c.evaluation_periods,
        datapoints_to_alarm: c.m(),
        treat_missing_data: c.treat_missing_data.unwrap_or_default(),
        period_secs: c.period(),
        low_sample_ignore_percentile: low,
        statistic,
        unit,
    }
}

/// Where `c`'s evaluated range falls, its time zone looked up in the
/// system's time-zone database (refused as the client's error when unknown).
pub fn placement(c: &MetricAlarmConfig) -> ApiResult<Placement> {
    c.window()
        .placement(&|name| jiff::tz::TimeZone::get(name).ok())
}

/// Whether every period `bounds` delimit is `period_ms` long (else calendar
/// days or weeks across a daylight-saving change: one query per period).
fn uniform(bounds: &[Timestamp], period_ms: i64) -> bool {
    bounds
        .windows(2)
        .all(|w| w[1].millis() - w[0].millis() == period_ms)
}

/// The slot of `periods` (starting at `first`, `period_ms` each) that the
/// bucket starting at `t_ms` falls in.
fn slot_at(
    periods: &mut [Period],
    first: Timestamp,
    period_ms: i64,
    t_ms: i64,
) -> Option<&mut Period> {
    let i = usize::try_from((t_ms - first.millis()).div_euclid(period_ms)).ok()?;
    periods.get_mut(i)
}

/// One period without data per pair of consecutive `bounds`.
fn empty_periods(bounds: &[Timestamp]) -> Vec<Period> {
    bounds
        .windows(2)
        .map(|w| Period {
            start: w[0],
            point: None,
        })
        .collect()
}

/// The per-period datapoints of the periods `bounds` delimit (see
/// [`window::bounds`]), oldest first.
pub fn fetch_periods(
    state: &AppState,
    c: &MetricAlarmConfig,
    bounds: &[Timestamp],
    now: Timestamp,
) -> ApiResult<Vec<Period>> {
    let mut periods = empty_periods(bounds);
    let (Some(first), Some(last)) = (bounds.first(), bounds.last()) else {
        return Ok(periods);
    };
    let p_ms = c.period() * 1000;
    if uniform(bounds, p_ms) {
        for (t, d) in fetch_range(state, c, *first, *last, c.period(), now)? {
            if let Some(slot) = slot_at(&mut periods, *first, p_ms, t) {
                slot.point = Some(d);
            }
        }
        return Ok(periods);
    }
    // Calendar days or weeks across a daylight-saving change: one query per
    // period, each as long as that period really is.
    for (slot, w) in periods.iter_mut().zip(bounds.windows(2)) {
        let secs = (w[1].millis() - w[0].millis()) / 1000;
        let points = fetch_range(state, c, w[0], w[1], secs, now)?;
        slot.point = points.first().map(|&(_, d)| d);
    }
    Ok(periods)
}

/// The statistic per `period_secs` bucket of `[start, end)`, buckets
/// counted from `start`: (bucket start ms, datapoint).
fn fetch_range(
    state: &AppState,
    c: &MetricAlarmConfig,
    start: Timestamp,
    end: Timestamp,
    period_secs: i64,
    now: Timestamp,
) -> ApiResult<Vec<(i64, Datapoint)>> {
    let mut out = Vec::new();
    match &c.target {
        MetricTarget::Single {
            namespace,
            metric_name,
            dimensions,
            statistic,
            extended_statistic,
            unit,
            ..
        } => {
            let Some(stat) = alarm_stat(statistic, extended_statistic) else {
                return Ok(out);
            };
            let metric = MetricId {
                namespace: namespace.clone(),
                metric_name: metric_name.clone(),
                dimensions: dimensions.clone(),
            };
            let unit = unit.as_deref().and_then(Unit::parse);
            let mut aggs = state
                .metrics
                .aggregates(&metric, start, end, period_secs, unit)?;
            if unit.is_none() {
                aggs = storage::merge_units(aggs);
            }
            for a in &aggs {
                if let Some(v) = stat.of(a) {
                    out.push((
                        a.0.start_ms,
                        Datapoint {
                            band: None,
                            value: v,
                            sample_count: Some(a.0.count),
                        },
                    ));
                }
            }
        }
        MetricTarget::Math { metrics, period } => {
            let mut queries = metrics.clone();
            if period_secs != *period {
                // A stretched calendar period: every MetricStat spans it whole.
                for q in &mut queries {
                    if let Some(ms) = &mut q.metric_stat {
                        ms.period = Some(period_secs);
                    }
                    if q.period.is_some() {
                        q.period = Some(period_secs);
                    }
                }
            }
            let input = GetMetricDataInput {
                metric_data_queries: queries,
                start_time: Some(start),
                end_time: Some(end),
                scan_by: Some("TimestampAscending".into()),
                ..GetMetricDataInput::default()
            };
            let valid = input.validate(now)?;
            let result = gmd::execute_get_metric_data(&valid, &mut StoreSource { state })?;
            let results = &result.metric_data_results;
            match c.threshold_metric_id.as_deref() {
                None => {
                    if let Some(r) = results.first() {
                        for (t, v) in r.timestamps.iter().zip(&r.values) {
                            out.push((
                                t.millis(),
                                Datapoint {
                                    band: None,
                                    value: *v,
                                    sample_count: None,
                                },
                            ));
                        }
                    }
                }
                // An anomaly alarm: the watched value is the other returned
                // query; the band query yields its lower then its upper
                // bound. A period counts only where value and band both exist.
                Some(band_id) => {
                    let mut bands = results.iter().filter(|r| r.id == band_id);
                    let (Some(lower), Some(upper)) = (bands.next(), bands.next()) else {
                        return Ok(out);
                    };
                    let at = |r: &gmd::MetricDataResult| -> std::collections::HashMap<i64, f64> {
                        r.timestamps
                            .iter()
                            .map(|t| t.millis())
                            .zip(r.values.iter().copied())
                            .collect()
                    };
                    let (lower, upper) = (at(lower), at(upper));
                    if let Some(r) = results.iter().find(|r| r.id != band_id) {
                        for (t, v) in r.timestamps.iter().zip(&r.values) {
                            let t = t.millis();
                            if let (Some(lo), Some(hi)) = (lower.get(&t), upper.get(&t)) {
                                out.push((
                                    t,
                                    Datapoint {
                                        band: Some((*lo, *hi)),
                                        value: *v,
                                        sample_count: None,
                                    },
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Evaluates metric alarm `alarm` at `now`: the change of state to commit,
/// if any. Reads only; the caller commits (see [`store::commit_changes`]),
/// so an evaluation that changes nothing writes nothing.
pub fn metric_change(
    state: &AppState,
    alarm: &AlarmRecord,
    now: Timestamp,
) -> ApiResult<Option<Change>> {
    let AlarmKind::Metric(c) = &alarm.kind else {
        return Ok(None);
    };
    let count = evaluate::range_periods(c.evaluation_periods);
    let bounds = window::bounds(&placement(c)?, c.period(), count, now);
    if let Some(q) = contributor::grouped_query(c, now) {
        return contributor_change(state, alarm, c, &q, &bounds, now);
    }
    let periods = fetch_periods(state, c, &bounds, now)?;
    match evaluate::evaluate(&settings(c), &periods, now, alarm.state.value) {
        Outcome::Keep => Ok(None),
        Outcome::State {
            value,
            reason,
            reason_data,
        } => {
            if value == alarm.state.value {
                return Ok(None);
            }
            Ok(Some(Change {
                value,
                reason,
                reason_data: Some(reason_data),
                triggering_children: Vec::new(),
                contributors: Vec::new(),
            }))
        }
    }
}

/// The series of grouped query `q` over the periods `bounds` delimit, per
/// contributor (oldest period first). One query for the whole range, or one
/// per period when calendar periods differ in length.
fn fetch_contributor_periods(
    state: &AppState,
    c: &MetricAlarmConfig,
    q: &gmd::InsightsQuery,
    bounds: &[Timestamp],
    now: Timestamp,
) -> ApiResult<BTreeMap<Vec<String>, Vec<Period>>> {
    let empty = empty_periods(bounds);
    let mut out: BTreeMap<Vec<String>, Vec<Period>> = BTreeMap::new();
    let (Some(first), Some(last)) = (bounds.first(), bounds.last()) else {
        return Ok(out);
    };
    let p_ms = c.period() * 1000;
    let point = |value: f64| {
        Some(Datapoint {
            value,
            sample_count: None,
            band: None,
        })
    };
    let mut src = StoreSource { state };
    if uniform(bounds, p_ms) {
        let (_, groups) = gmd::insights_groups(q, *first, *last, now, &mut src)?;
        // A group without a datapoint in the range is not a contributor.
        for g in groups.into_iter().filter(|g| !g.values.is_empty()) {
            let slots = out.entry(g.key).or_insert_with(|| empty.clone());
            for (t, v) in g.timestamps.iter().zip(&g.values) {
                if let Some(slot) = slot_at(slots, *first, p_ms, *t) {
                    slot.point = point(*v);
                }
            }
        }
        return Ok(out);
    }
    for (i, w) in bounds.windows(2).enumerate() {
        let mut stretched = q.clone();
        stretched.period_secs = (w[1].millis() - w[0].millis()) / 1000;
        let (_, groups) = gmd::insights_groups(&stretched, w[0], w[1], now, &mut src)?;
        for g in groups {
            if let Some(v) = g.values.first() {
                let slots = out.entry(g.key).or_insert_with(|| empty.clone());
                if let Some(slot) = slots.get_mut(i) {
                    slot.point = point(*v);
                }
            }
        }
    }
    Ok(out)
}

/// A multi-time-series alarm's evaluation: each series of its grouped query
/// is a contributor judged on its own (ALARM or OK); the alarm is in ALARM
/// while any contributor is, OK while the query returns series and none
/// breaches, and follows TreatMissingData when the query returns nothing.
fn contributor_change(
    state: &AppState,
    alarm: &AlarmRecord,
    c: &MetricAlarmConfig,
    q: &gmd::InsightsQuery,
    bounds: &[Timestamp],
    now: Timestamp,
) -> ApiResult<Option<Change>> {
    let s = settings(c);
    let series = fetch_contributor_periods(state, c, q, bounds, now)?;
    let stored: BTreeMap<String, ContributorRecord> = store::contributors(state, &alarm.name)
        .map_err(store::meta_error)?
        .into_iter()
        .map(|r| (r.contributor.id.clone(), r))
        .collect();
    let mut changes = Vec::new();
    let mut in_alarm = stored.len();
    let mut seen = std::collections::HashSet::new();
    let mut judge = |contributor: ContributorRef, periods: &[Period], current: StateValue| {
        if let Some((new, reason)) = contributor::verdict(&s, periods, now, current) {
            if new == StateValue::Alarm {
                in_alarm += 1;
            } else {
                in_alarm -= 1;
            }
            changes.push(store::ContributorChange {
                contributor,
                new,
                reason,
            });
        }
    };
    for (key, periods) in &series {
        let attributes = contributor::attributes(&q.query.group_by, key);
        let id = contributor::contributor_id(&attributes);
        let current = if stored.contains_key(&id) {
            StateValue::Alarm
        } else {
            StateValue::Ok
        };
        seen.insert(id.clone());
        judge(ContributorRef { id, attributes }, periods, current);
    }
    // Contributors in ALARM the query no longer returns: judged on no data.
    let none = empty_periods(bounds);
    for (id, r) in &stored {
        if !seen.contains(id) {
            judge(r.contributor.clone(), &none, StateValue::Alarm);
        }
    }
    let total = series.len().max(in_alarm);
    let (value, reason, reason_data) = if in_alarm > 0 {
        (
            StateValue::Alarm,
            contributor::alarm_reason(in_alarm, total),
            None,
        )
    } else if !series.is_empty() {
        (StateValue::Ok, contributor::alarm_reason(0, total), None)
    } else {
        match evaluate::evaluate(&s, &none, now, alarm.state.value) {
            Outcome::Keep => (alarm.state.value, alarm.state.reason.clone(), None),
            Outcome::State {
                value,
                reason,
                reason_data,
            } => (value, reason, Some(reason_data)),
        }
    };
    if value == alarm.state.value && changes.is_empty() {
        return Ok(None);
    }
    Ok(Some(Change {
        value,
        reason,
        reason_data,
        triggering_children: Vec::new(),
        contributors: changes,
    }))
}

/// Evaluates a composite alarm's rule over its children's current states.
/// `trigger` is the child whose change caused this evaluation, if any.
/// `lookup` finds an alarm by name (the caller's current view of the table).
/// In cluster mode the commit is fenced by `fence`, a lease this node must
/// still hold: a paused node that lost it cannot commit a stale verdict.
pub fn evaluate_composite<'a>(
    state: &AppState,
    alarm: &AlarmRecord,
    lookup: &dyn Fn(&str) -> Option<&'a AlarmRecord>,
    trigger: Option<&'a AlarmRecord>,
    now: Timestamp,
    fence: Option<&store::Fence>,
) -> ApiResult<Option<Committed>> {
    let AlarmKind::Composite(c) = &alarm.kind else {
        return Ok(None);
    };
    let Ok(parsed) = rule::parse(&c.alarm_rule) else {
        return Ok(None);
    };
    let state_of = |n: &str| lookup(n).map(|a| a.state.value);
    let value = if parsed.eval(&state_of) {
        StateValue::Alarm
    } else {
        StateValue::Ok
    };
    if value == alarm.state.value {
        return Ok(None);
    }
    // The child named in the reason: the trigger, else the first child that
    // exists.
    let child = trigger.or_else(|| c.children.iter().find_map(|n| lookup(n)));
    let (reason, reason_data, triggering) = match child {
        Some(ch) => {
            let at = Timestamp(ch.state.transitioned_ms);
            (
                format!(
                    "{} transitioned to {} at {}",
                    ch.arn,
                    ch.state.value.as_str(),
                    long_date(at)
                ),
                serde_json::json!({"triggeringAlarms": [{"arn": ch.arn, "state": {
                    "value": ch.state.value.as_str(),
                    "timestamp": stratus_model::alarm::format::json_date(at)}}]})
                .to_string(),
                vec![(ch.arn.clone(), ch.state.value, at)],
            )
        }
        None => (
            format!(
                "The alarm rule evaluated to {}.",
                if value == StateValue::Alarm {
                    "TRUE"
                } else {
                    "FALSE"
                }
            ),
            "{\"triggeringAlarms\":[]}".to_string(),
            Vec::new(),
        ),
    };
    let change = Change {
        value,
        reason,
        reason_data: Some(reason_data),
        triggering_children: triggering,
        contributors: Vec::new(),
    };
    store::commit_change_fenced(state, &alarm.name, change, now, fence).map_err(store::meta_error)
}

/// After `changed` transitioned: re-evaluates every composite alarm that
/// references it, and their parents in turn. `has_parent` (from the caller's
/// view: does any composite reference `changed`?) answers the common case
/// without reading the table. `fence` (cluster mode) is the lease under which
/// `changed` was committed: each parent's commit is fenced by the parent's
/// own shard when this node holds it, else by the lease that let the child
/// change — either way by a lease this node must still hold.
pub fn cascade(
    state: &AppState,
    changed: AlarmRecord,
    now: Timestamp,
    has_parent: bool,
    fence: Option<store::Fence>,
) -> ApiResult<()> {
    if !has_parent {
        return Ok(());
    }
    let mut queue = vec![(changed, 0usize, fence)];
    while let Some((child, depth, fence)) = queue.pop() {
        if depth >= MAX_COMPOSITE_DEPTH {
            continue;
        }
        let alarms: Vec<AlarmRecord> = state
            .meta
            .list::<AlarmRecord>(ALARMS)
            .map_err(store::meta_error)?
            .into_iter()
            .map(|(_, a)| a)
            .collect();
        for parent in alarms.iter().filter(
            |a| matches!(&a.kind, AlarmKind::Composite(c) if c.children.contains(&child.name)),
        ) {
            let lookup = |n: &str| alarms.iter().find(|a| a.name == n);
            let parent_fence = store::Fence::for_alarm(state, &parent.name).or(fence.clone());
            if let Some(done) = evaluate_composite(
                state,
                parent,
                &lookup,
                Some(&child),
                now,
                parent_fence.as_ref(),
            )? {
                queue.push((done.alarm, depth + 1, parent_fence));
            }
        }
    }
    Ok(())
}

/// Rejects a composite rule whose children do not exist or that would make
/// `name` its own ancestor.
pub fn check_children(alarms: &[AlarmRecord], name: &str, children: &[String]) -> ApiResult<()> {
    let missing: Vec<&str> = children
        .iter()
        .filter(|c| !alarms.iter().any(|a| &a.name == *c))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(stratus_model::param::invalid(format!(
            "Could not save the composite alarm as alarms [{}] in the alarm rule do not exist",
            missing.join(", ")
        )));
    }
    // Walk down from the children; reaching `name` again is a cycle.
    let mut stack: Vec<&str> = children.iter().map(String::as_str).collect();
    let mut seen: Vec<&str> = Vec::new();
    while let Some(n) = stack.pop() {
        if n == name {
            return Err(stratus_model::param::invalid(format!(
                "The parameter AlarmRule would create a cycle: alarm {name} would depend on itself."
            )));
        }
        if seen.contains(&n) {
            continue;
        }
        seen.push(n);
        if let Some(AlarmKind::Composite(c)) = alarms.iter().find(|a| a.name == n).map(|a| &a.kind)
        {
            stack.extend(c.children.iter().map(String::as_str));
        }
    }
    Ok(())
}
