//! Server-side alarm tests on a real metadata store and tsdb: a transition
//! and its pending actions commit together and survive a reopen (crash), the
//! action runner retries and then records the failure, and the scheduler
//! evaluates stored data into a transition.

use super::store::{self, ALARMS, Change, HISTORY, PENDING};
use super::{actions, scheduler};
use crate::state::AppState;
use stratus_model::alarm::StateValue;
use stratus_model::alarm::put::PutMetricAlarmInput;
use stratus_model::alarm::record::{AlarmRecord, HistoryItemType, HistoryRecord, PendingAction};
use stratus_model::metric::MetricId;
use stratus_model::ops::put_metric_data::{Datum, DatumValue};
use stratus_model::{Timestamp, Unit};

fn state(dir: &std::path::Path) -> AppState {
    AppState::for_tests(dir, ("AKIDALARMSTEST000001", "alarms-test-secret"))
}

fn put_alarm(st: &AppState, name: &str, period: i64) {
    let input: PutMetricAlarmInput = serde_json::from_value(serde_json::json!({
        "AlarmName": name, "Namespace": "ns", "MetricName": "cpu", "Statistic": "Average",
        "Period": period, "EvaluationPeriods": 1, "Threshold": 50.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "AlarmActions": ["arn:aws:sns:us-east-1:123456789012:alerts", "arn:aws:lambda:us-east-1:123456789012:function:f"]
    }))
    .unwrap();
    super::put_metric_alarm(st, "us-east-1", input).unwrap();
}

fn history_of(st: &AppState, t: HistoryItemType) -> Vec<HistoryRecord> {
    st.meta
        .list::<HistoryRecord>(HISTORY)
        .unwrap()
        .into_iter()
        .map(|(_, h)| h)
        .filter(|h| h.item_type == t)
        .collect()
}

#[test]
fn transition_and_pending_action_survive_a_reopen_then_run_and_fail() {
    let dir = tempfile::tempdir().unwrap();
    {
        let st = state(dir.path());
        put_alarm(&st, "a", 60);
        let change = Change {
            value: StateValue::Alarm,
            reason: "r".into(),
            reason_data: None,
            triggering_children: vec![],
            contributors: vec![],
        };
        let done = store::commit_change(&st, "a", change.clone(), Timestamp::now())
            .unwrap()
            .unwrap();
        assert_eq!(done.old, StateValue::InsufficientData);
        // The same state again is no transition.
        assert!(
            store::commit_change(&st, "a", change, Timestamp::now())
                .unwrap()
                .is_none()
        );
        st.metrics.shutdown().unwrap();
    } // "crash": nothing ran the pending action
    let st = state(dir.path());
    let pending: Vec<(String, PendingAction)> = st.meta.list(PENDING).unwrap();
    assert_eq!(pending.len(), 1, "one SNS action pending");
    let p = &pending[0].1;
    assert_eq!(p.subject, "ALARM: \"a\" in US East (N. Virginia)");
    assert!(p.json_message.contains("\"NewStateValue\":\"ALARM\""));
    assert!(p.email_text.contains("http://127.0.0.1:4566/#/alarms/a"));
    // The non-SNS action was recorded as failed at once.
    let failed = history_of(&st, HistoryItemType::Action);
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0].summary.contains("arn:aws:lambda"),
        "{}",
        failed[0].summary
    );
    let a: AlarmRecord = st.meta.get(ALARMS, "a").unwrap().unwrap();
    assert_eq!(a.state.value, StateValue::Alarm);
    // Publishing fails (no SNS in this build of the test): retried, then dropped.
    let far = Timestamp(Timestamp::now().millis() + 3_600_000);
    for attempt in 1..actions::MAX_ATTEMPTS {
        assert_eq!(actions::run_due(&st, far), 1);
        let left: Vec<(String, PendingAction)> = st.meta.list(PENDING).unwrap();
        assert_eq!(left[0].1.attempts, attempt);
        assert_eq!(
            left[0].1.message_id, p.message_id,
            "same message id on every retry"
        );
    }
    assert_eq!(actions::run_due(&st, far), 1);
    assert!(st.meta.list::<PendingAction>(PENDING).unwrap().is_empty());
    let items = history_of(&st, HistoryItemType::Action);
    assert_eq!(items.len(), 2);
    assert!(
        items.iter().any(|h| h
            .summary
            .starts_with("Failed to execute action arn:aws:sns:us-east-1:123456789012:alerts")),
        "{items:?}"
    );
    st.metrics.shutdown().unwrap();
}

#[test]
fn history_older_than_two_weeks_is_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let st = state(dir.path());
    put_alarm(&st, "h", 60); // one ConfigurationUpdate item, now
    let now = Timestamp::now();
    let old = HistoryRecord {
        alarm_name: "h".into(),
        alarm_type: stratus_model::alarm::AlarmType::MetricAlarm,
        timestamp_ms: now.millis() - store::HISTORY_RETENTION_MS - 1,
        item_type: HistoryItemType::StateUpdate,
        summary: "old".into(),
        data: "{}".into(),
        contributor: None,
    };
    st.meta.transact(|tx| store::add_history(tx, &old)).unwrap();
    assert_eq!(st.meta.list::<HistoryRecord>(HISTORY).unwrap().len(), 2);
    assert_eq!(store::prune_history(&st, now).unwrap(), 1);
    let left = st.meta.list::<HistoryRecord>(HISTORY).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].1.item_type, HistoryItemType::ConfigurationUpdate);
    // The per-alarm index lost the pruned item too (plus nothing else).
    let indexed = st
        .meta
        .list::<HistoryRecord>(store::HISTORY_BY_ALARM)
        .unwrap();
    assert_eq!(indexed.len(), 1);
    assert_eq!(indexed[0].1, left[0].1);
    st.metrics.shutdown().unwrap();
}

fn item(alarm: &str, ms: i64, n: usize) -> HistoryRecord {
    HistoryRecord {
        alarm_name: alarm.into(),
        alarm_type: stratus_model::alarm::AlarmType::MetricAlarm,
        timestamp_ms: ms,
        item_type: if n.is_multiple_of(2) {
            HistoryItemType::StateUpdate
        } else {
            HistoryItemType::Action
        },
        summary: format!("{alarm} {n}"),
        data: "{}".into(),
        contributor: None,
    }
}

/// Every page of `q`, following tokens, as summaries.
fn pages(st: &AppState, q: serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut q = q.clone();
        if let Some(t) = &token {
            q["NextToken"] = t.clone().into();
        }
        let doc = super::describe_alarm_history(st, serde_json::from_value(q).unwrap()).unwrap();
        let v: serde_json::Value =
            serde_json::from_slice(&stratus_proto::encode_json(&doc)).unwrap();
        for i in v["AlarmHistoryItems"].as_array().unwrap() {
            out.push(i["HistorySummary"].as_str().unwrap().to_string());
        }
        match v.get("NextToken").and_then(|t| t.as_str()) {
            Some(t) => token = Some(t.to_string()),
            None => return out,
        }
    }
}

#[test]
fn history_pages_across_scan_chunks_in_both_orders_with_filters() {
    let dir = tempfile::tempdir().unwrap();
    let st = state(dir.path());
    let t0 = Timestamp::now().millis() - 3_600_000;
    // 700 items of "a" interleaved with 700 of "b": more than two read chunks each.
    st.meta
        .transact(|tx| {
            for n in 0..700 {
                store::add_history(tx, &item("a", t0 + n as i64 * 2, n))?;
                store::add_history(tx, &item("b", t0 + n as i64 * 2 + 1, n))?;
            }
            Ok(())
        })
        .unwrap();
    let a: Vec<String> = (0..700).map(|n| format!("a {n}")).collect();
    let asc = pages(
        &st,
        serde_json::json!({"AlarmName": "a", "ScanBy": "TimestampAscending", "MaxRecords": 7}),
    );
    assert_eq!(asc, a);
    let desc = pages(
        &st,
        serde_json::json!({"AlarmName": "a", "MaxRecords": 100}),
    );
    assert_eq!(desc, a.iter().rev().cloned().collect::<Vec<_>>());
    // Only Action items (odd n), between two timestamps inclusive, across alarms.
    let got = pages(
        &st,
        serde_json::json!({"HistoryItemType": "Action", "ScanBy": "TimestampAscending",
            "StartDate": (t0 + 2) as f64 / 1000.0, "EndDate": (t0 + 601) as f64 / 1000.0, "MaxRecords": 3}),
    );
    // a n is at t0 + 2n, b n at t0 + 2n + 1; Action items are the odd n.
    let want: Vec<String> = (1..=300)
        .filter(|n| n % 2 == 1)
        .flat_map(|n| [format!("a {n}"), format!("b {n}")])
        .collect();
    assert_eq!(got, want);
    st.metrics.shutdown().unwrap();
}

#[test]
fn history_written_before_the_index_is_indexed_once() {
    let dir = tempfile::tempdir().unwrap();
    let st = state(dir.path());
    // As an older version wrote it: the time-keyed table only.
    let t0 = Timestamp::now().millis();
    st.meta
        .transact(|tx| {
            for n in 0..3 {
                let key = format!("{:015}-{}", t0 + n, uuid::Uuid::new_v4());
                tx.put(HISTORY, &key, &item("old", t0 + n, n as usize))?;
            }
            Ok(())
        })
        .unwrap();
    let got = pages(&st, serde_json::json!({"AlarmName": "old"}));
    assert_eq!(got, ["old 2", "old 1", "old 0"]);
    st.meta
        .transact(|tx| store::add_history(tx, &item("old", t0 + 5, 3)))
        .unwrap();
    let got = pages(&st, serde_json::json!({"AlarmName": "old"}));
    assert_eq!(got, ["old 3", "old 2", "old 1", "old 0"]);
    st.metrics.shutdown().unwrap();
}

/// One alarm's few items among 100k: a prefix scan, not a full load. Logs
/// the times (machines differ too much to assert them).
#[test]
fn one_alarms_history_among_many_is_a_prefix_scan() {
    let dir = tempfile::tempdir().unwrap();
    let st = state(dir.path());
    let t0 = Timestamp::now().millis() - 3_600_000;
    for batch in 0..10 {
        st.meta
            .transact(|tx| {
                for n in 0..10_000 {
                    let i = batch * 10_000 + n;
                    store::add_history(
                        tx,
                        &item(&format!("noise-{}", i % 500), t0 + i as i64 / 50, i),
                    )?;
                }
                Ok(())
            })
            .unwrap();
    }
    st.meta
        .transact(|tx| {
            for n in 0..3 {
                store::add_history(tx, &item("few", t0 + 1000 + n as i64, n))?;
            }
            Ok(())
        })
        .unwrap();
    // The first query also indexes what was written without the index.
    let started = std::time::Instant::now();
    let got = pages(&st, serde_json::json!({"AlarmName": "few"}));
    let first = started.elapsed();
    assert_eq!(got, ["few 2", "few 1", "few 0"]);
    let started = std::time::Instant::now();
    let got = pages(&st, serde_json::json!({"AlarmName": "few"}));
    let indexed = started.elapsed();
    assert_eq!(got, ["few 2", "few 1", "few 0"]);
    let started = std::time::Instant::now();
    let all = st.meta.list::<HistoryRecord>(HISTORY).unwrap();
    let full_load = started.elapsed();
    assert_eq!(all.len(), 100_003);
    eprintln!(
        "history of 1 alarm among 100k items: {indexed:?} (first query, indexing: {first:?}; \
         loading every item: {full_load:?})"
    );
    st.metrics.shutdown().unwrap();
}

#[test]
fn scheduler_evaluates_stored_data() {
    let dir = tempfile::tempdir().unwrap();
    let st = state(dir.path());
    put_alarm(&st, "cpu", 60);
    let now = Timestamp::now();
    let minute = now.millis().div_euclid(60_000) * 60_000;
    let metric = MetricId {
        namespace: "ns".into(),
        metric_name: "cpu".into(),
        dimensions: vec![],
    };
    st.metrics
        .put(
            vec![Datum {
                metric,
                timestamp: Timestamp(minute - 30_000),
                value: DatumValue::Single(75.0),
                unit: Unit::Percent,
                high_resolution: false,
            }],
            None,
        )
        .unwrap();
    let mut sched = scheduler::Schedule::default();
    // 15 s after the boundary the previous minute is evaluated.
    assert_eq!(
        scheduler::tick(&st, &mut sched, Timestamp(minute + 15_000)),
        1
    );
    let a: AlarmRecord = st.meta.get(ALARMS, "cpu").unwrap().unwrap();
    assert_eq!(a.state.value, StateValue::Alarm, "{}", a.state.reason);
    assert!(
        a.state
            .reason
            .starts_with("Threshold Crossed: 1 out of the last 1 datapoints [75.0 (")
    );
    // Not due again until the next minute.
    assert_eq!(
        scheduler::tick(&st, &mut sched, Timestamp(minute + 16_000)),
        0
    );
    st.metrics.shutdown().unwrap();
}

fn put_cpu(st: &AppState, at_ms: i64, value: f64) {
    let metric = MetricId {
        namespace: "ns".into(),
        metric_name: "cpu".into(),
        dimensions: vec![],
    };
    st.metrics
        .put(
            vec![Datum {
                metric,
                timestamp: Timestamp(at_ms),
                value: DatumValue::Single(value),
                unit: Unit::Percent,
                high_resolution: false,
            }],
            None,
        )
        .unwrap();
}

fn state_of(st: &AppState, name: &str) -> StateValue {
    let a: AlarmRecord = st.meta.get(ALARMS, name).unwrap().unwrap();
    a.state.value
}

/// The scheduler's in-memory view follows SetAlarmState, reconfiguration
/// and deletion made through the API between its passes.
#[test]
fn scheduler_view_follows_alarm_writes() {
    let dir = tempfile::tempdir().unwrap();
    let st = state(dir.path());
    put_alarm(&st, "cpu", 60);
    let minute = Timestamp::now().millis().div_euclid(60_000) * 60_000;
    put_cpu(&st, minute - 30_000, 75.0);
    put_cpu(&st, minute + 30_000, 75.0);
    let mut sched = scheduler::Schedule::default();
    assert_eq!(
        scheduler::tick(&st, &mut sched, Timestamp(minute + 15_000)),
        1
    );
    assert_eq!(state_of(&st, "cpu"), StateValue::Alarm);
    // Set to OK by hand: the next evaluation must see OK, and put it back.
    let input: stratus_model::alarm::ops::SetAlarmStateInput =
        serde_json::from_value(serde_json::json!({
            "AlarmName": "cpu", "StateValue": "OK", "StateReason": "by hand"
        }))
        .unwrap();
    super::set_alarm_state(&st, input).unwrap();
    assert_eq!(
        scheduler::tick(&st, &mut sched, Timestamp(minute + 16_000)),
        0
    );
    assert_eq!(state_of(&st, "cpu"), StateValue::Ok, "not due: left alone");
    assert_eq!(
        scheduler::tick(&st, &mut sched, Timestamp(minute + 75_000)),
        1
    );
    assert_eq!(state_of(&st, "cpu"), StateValue::Alarm);
    // A reconfigured alarm is evaluated on the next pass, not at its due time.
    std::thread::sleep(std::time::Duration::from_millis(5)); // a new config_updated_ms
    put_alarm(&st, "cpu", 60);
    assert_eq!(
        scheduler::tick(&st, &mut sched, Timestamp(minute + 76_000)),
        1
    );
    // A deleted alarm is never evaluated again.
    let names: stratus_model::alarm::ops::AlarmNamesInput =
        serde_json::from_value(serde_json::json!({"AlarmNames": ["cpu"]})).unwrap();
    super::delete_alarms(&st, names).unwrap();
    assert_eq!(
        scheduler::tick(&st, &mut sched, Timestamp(minute + 200_000)),
        0
    );
    st.metrics.shutdown().unwrap();
}

/// Prints what one evaluation costs (not an assertion: tests never assert on
/// speed). `cargo test -p stratus-server --release evaluation_cost -- --ignored --nocapture`
#[test]
#[ignore]
fn evaluation_cost() {
    let dir = tempfile::tempdir().unwrap();
    let st = state(dir.path());
    let n = 1000;
    let now = Timestamp::now();
    let mut datums = Vec::new();
    for i in 0..n {
        let input: PutMetricAlarmInput = serde_json::from_value(serde_json::json!({
            "AlarmName": format!("a{i:04}"), "Namespace": "ns", "MetricName": format!("m{i}"),
            "Statistic": "Average", "Period": 60, "EvaluationPeriods": 3, "Threshold": 50.0,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold"
        }))
        .unwrap();
        super::put_metric_alarm(&st, "us-east-1", input).unwrap();
        for k in 0..300 {
            datums.push(Datum {
                metric: MetricId {
                    namespace: "ns".into(),
                    metric_name: format!("m{i}"),
                    dimensions: vec![],
                },
                timestamp: Timestamp(now.millis() - k * 1000),
                value: DatumValue::Single(k as f64),
                unit: Unit::Percent,
                high_resolution: false,
            });
        }
    }
    for chunk in datums.chunks(1000) {
        st.metrics.put(chunk.to_vec(), None).unwrap();
    }
    let mut sched = scheduler::Schedule::default();
    let t = std::time::Instant::now();
    let evaluated = scheduler::tick(&st, &mut sched, now);
    let first = t.elapsed();
    let t = std::time::Instant::now();
    let mut sched2 = scheduler::Schedule::default();
    scheduler::tick(&st, &mut sched2, now);
    let steady = t.elapsed();
    println!(
        "{evaluated} alarms: first pass (with transitions) {first:?} = {:?}/alarm; steady pass {steady:?} = {:?}/alarm",
        first / evaluated as u32,
        steady / evaluated as u32
    );
    st.metrics.shutdown().unwrap();
}

fn put_hourly(st: &AppState, name: &str, extra: serde_json::Value) {
    let mut v = serde_json::json!({
        "AlarmName": name, "Namespace": "ns", "MetricName": "cpu", "Statistic": "Average",
        "Period": 3600, "EvaluationPeriods": 1, "Threshold": 50.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold"
    });
    for (k, x) in extra.as_object().unwrap() {
        if x.is_null() {
            v.as_object_mut().unwrap().remove(k);
        } else {
            v[k] = x.clone();
        }
    }
    let input: PutMetricAlarmInput = serde_json::from_value(v).unwrap();
    super::put_metric_alarm(st, "us-east-1", input).unwrap();
}

/// The story: a 1-hour alarm sees data of the current, incomplete clock hour
/// at the next minute's evaluation (sliding window, the default, also for a
/// metric-math alarm); a wall-clock alarm judges only the complete hour.
#[test]
fn hourly_alarms_slide_unless_wall_clock() {
    let dir = tempfile::tempdir().unwrap();
    let st = state(dir.path());
    put_hourly(&st, "sliding", serde_json::json!({}));
    put_hourly(
        &st,
        "wall",
        serde_json::json!({"EvaluationWindow": {"WallClockWindow": {}}}),
    );
    put_hourly(
        &st,
        "math",
        serde_json::json!({"Namespace": null, "MetricName": null, "Statistic": null, "Period": null,
            "Metrics": [{"Id": "m1", "MetricStat": {"Metric": {"Namespace": "ns", "MetricName": "cpu"},
                "Period": 3600, "Stat": "Average"}}]}),
    );
    // An hour boundary 20 minutes ago: data 5 minutes into the current hour.
    let now = Timestamp::now();
    let hour = now.millis().div_euclid(3_600_000) * 3_600_000;
    let (hour, minute) = if now.millis() - hour >= 20 * 60_000 {
        (hour, now.millis().div_euclid(60_000) * 60_000)
    } else {
        // Too early in the hour for the layout: evaluate as of the previous one
        // (the data is still recent enough for every resolution).
        (hour - 3_600_000, hour - 60_000)
    };
    put_cpu(&st, hour + 5 * 60_000, 75.0);
    let mut sched = scheduler::Schedule::default();
    assert_eq!(
        scheduler::tick(&st, &mut sched, Timestamp(minute + 15_000)),
        3
    );
    let a: AlarmRecord = st.meta.get(ALARMS, "sliding").unwrap().unwrap();
    assert_eq!(a.state.value, StateValue::Alarm, "{}", a.state.reason);
    // The period ends at the evaluation minute and is labelled by its start.
    let start = stratus_model::alarm::format::reason_date(Timestamp(minute - 3_600_000));
    assert!(
        a.state.reason.contains(&format!("[75.0 ({start})]")),
        "{}",
        a.state.reason
    );
    assert_eq!(state_of(&st, "math"), StateValue::Alarm);
    assert_eq!(state_of(&st, "wall"), StateValue::InsufficientData);
    st.metrics.shutdown().unwrap();
}

/// A wall-clock Timezone this host's database does not know is refused at
/// PutMetricAlarm, and nothing is stored.
#[test]
fn unknown_time_zone_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let st = state(dir.path());
    let input: PutMetricAlarmInput = serde_json::from_value(serde_json::json!({
        "AlarmName": "tz", "Namespace": "ns", "MetricName": "cpu", "Statistic": "Average",
        "Period": 3600, "EvaluationPeriods": 1, "Threshold": 50.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "EvaluationWindow": {"WallClockWindow": {"Timezone": "Mars/Olympus_Mons"}}
    }))
    .unwrap();
    let e = super::put_metric_alarm(&st, "us-east-1", input).unwrap_err();
    assert_eq!(e.code, stratus_model::ErrorCode::InvalidParameterValue);
    assert!(e.message.contains("Mars/Olympus_Mons"), "{}", e.message);
    assert!(st.meta.get::<AlarmRecord>(ALARMS, "tz").unwrap().is_none());
    st.metrics.shutdown().unwrap();
}

/// Wall-clock days in a zone with daylight saving: the day it ends
/// (2026-11-01 in New York) lasts 25 hours, and the alarm's datapoint covers
/// all of it — for a single-metric and a metric-math alarm alike.
#[test]
fn wall_clock_day_across_a_daylight_saving_change() {
    // The bundled database (jiff's `tzdb-bundle-always`) makes this hold on any host.
    assert!(jiff::tz::TimeZone::get("America/New_York").is_ok());
    let dir = tempfile::tempdir().unwrap();
    let st = state(dir.path());
    let window = serde_json::json!({"WallClockWindow": {"Timezone": "America/New_York"}});
    put_hourly(
        &st,
        "daily",
        serde_json::json!({"Period": 86400, "EvaluationWindow": window}),
    );
    put_hourly(
        &st,
        "daily-math",
        serde_json::json!({"Namespace": null, "MetricName": null, "Statistic": null, "Period": null,
            "EvaluationWindow": window,
            "Metrics": [{"Id": "m1", "MetricStat": {"Metric": {"Namespace": "ns", "MetricName": "cpu"},
                "Period": 86400, "Stat": "Average"}}]}),
    );
    // The New York day of 2026-11-01 runs 04:00Z (EDT midnight) to 05:00Z
    // the next day (EST midnight). 90 in its first hour, 0 in its 25th: the
    // day's average is 45, under the threshold; a 24-hour bucket would miss
    // the 0 and see 90.
    let t = |s: &str| s.parse::<jiff::Timestamp>().unwrap().as_millisecond();
    put_cpu(&st, t("2026-11-01T04:30:00Z"), 90.0);
    put_cpu(&st, t("2026-11-02T04:30:00Z"), 0.0);
    let mut sched = scheduler::Schedule::default();
    let now = Timestamp(t("2026-11-02T12:00:15Z"));
    assert_eq!(scheduler::tick(&st, &mut sched, now), 2);
    for name in ["daily", "daily-math"] {
        let a: AlarmRecord = st.meta.get(ALARMS, name).unwrap().unwrap();
        assert_eq!(a.state.value, StateValue::Ok, "{name}: {}", a.state.reason);
        assert!(
            a.state.reason.contains("[45.0 (01/11/26 04:00:00)]"),
            "{name}: {}",
            a.state.reason
        );
    }
    st.metrics.shutdown().unwrap();
}

/// A contributor transition commits its record, one history item and its
/// notifications with the alarm's own change; replaying the same verdict
/// (an evaluation racing another) changes nothing, and a reason-only change
/// of the alarm is stored without a transition.
#[test]
fn contributor_transitions_commit_once() {
    use stratus_model::alarm::contributor::ContributorRef;
    let dir = tempfile::tempdir().unwrap();
    let st = state(dir.path());
    put_alarm(&st, "m", 60);
    let c = ContributorRef {
        id: "0123456789abcdef".into(),
        attributes: [("host".to_string(), "h-1".to_string())].into(),
    };
    let to = |new: StateValue, value: StateValue, reason: &str| Change {
        value,
        reason: reason.into(),
        reason_data: None,
        triggering_children: vec![],
        contributors: vec![store::ContributorChange {
            contributor: c.clone(),
            new,
            reason: "Threshold Crossed: x".into(),
        }],
    };
    let now = Timestamp::now();
    let done = store::commit_change(
        &st,
        "m",
        to(StateValue::Alarm, StateValue::Alarm, "1 of 1"),
        now,
    )
    .unwrap();
    assert!(done.is_some());
    assert_eq!(store::contributors(&st, "m").unwrap().len(), 1);
    let updates = || history_of(&st, HistoryItemType::AlarmContributorStateUpdate);
    assert_eq!(updates().len(), 1);
    assert_eq!(updates()[0].contributor.as_ref(), Some(&c));
    let pending = st.meta.list::<PendingAction>(PENDING).unwrap();
    // The alarm's SNS action twice (alarm and contributor); the Lambda one is
    // recorded failed, once as Action and once as AlarmContributorAction.
    assert_eq!(pending.len(), 2);
    assert_eq!(
        pending
            .iter()
            .filter(|(_, p)| p.contributor.is_some())
            .count(),
        1
    );
    assert_eq!(
        history_of(&st, HistoryItemType::AlarmContributorAction).len(),
        1
    );

    // The same verdict again: nothing new.
    let again = store::commit_change(
        &st,
        "m",
        to(StateValue::Alarm, StateValue::Alarm, "1 of 1"),
        now,
    )
    .unwrap();
    assert!(again.is_none());
    assert_eq!(updates().len(), 1);
    assert_eq!(st.meta.list::<PendingAction>(PENDING).unwrap().len(), 2);

    // Back to OK while the alarm stays in ALARM (another contributor, say):
    // the record goes, the reason is updated, no StateUpdate is added.
    let state_updates = history_of(&st, HistoryItemType::StateUpdate).len();
    store::commit_change(
        &st,
        "m",
        to(StateValue::Ok, StateValue::Alarm, "1 of 2"),
        now,
    )
    .unwrap();
    assert!(store::contributors(&st, "m").unwrap().is_empty());
    assert_eq!(updates().len(), 2);
    assert_eq!(
        history_of(&st, HistoryItemType::StateUpdate).len(),
        state_updates
    );
    let a = st.meta.get::<AlarmRecord>(ALARMS, "m").unwrap().unwrap();
    assert_eq!(
        (a.state.value, a.state.reason.as_str()),
        (StateValue::Alarm, "1 of 2")
    );
    st.metrics.shutdown().unwrap();
}
