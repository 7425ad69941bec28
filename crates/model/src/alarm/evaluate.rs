//! The alarm evaluator: a pure function from an alarm's settings, the
//! per-period datapoints of its evaluation range, the time and the current
//! state to the state the alarm should be in, with AWS's reason text and
//! `StateReasonData` (aws-api.md §2.13).
//!
//! Missing data (`TreatMissingData`), for N evaluation periods and M
//! datapoints to alarm, over a range of a few more than N periods:
//! - ≥ N real datapoints in the range: the N most recent are evaluated.
//! - none at all: `missing` → INSUFFICIENT_DATA, `ignore` → keep the state,
//!   `breaching` → ALARM, `notBreaching` → OK.
//! - some (fewer than N): `breaching` / `notBreaching` fill the gap up to N
//!   with breaching / non-breaching points. `missing` and `ignore` evaluate
//!   the real points only: M breaching → ALARM; otherwise any non-breaching
//!   point → OK; otherwise (only breaching points, fewer than M) the outcome
//!   is undecided — `ignore` keeps the state, `missing` is INSUFFICIENT_DATA
//!   while the newest N periods hold data and ALARM when those real points are
//!   all older than the newest N periods. This reproduces both tables of the
//!   AWS documentation (tested verbatim below).

use super::format::{json_date, number, reason_date};
use super::{ComparisonOperator, StateValue, TreatMissingData};
use crate::time::Timestamp;
use serde::Serialize;

/// One period's statistic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Datapoint {
    pub value: f64,
    /// Samples behind the value (for the percentile low-sample rule and
    /// StateReasonData); `None` for metric-math values.
    pub sample_count: Option<f64>,
    /// The anomaly band's `(lower, upper)` at this period, for alarms with a
    /// band operator; `None` otherwise.
    pub band: Option<(f64, f64)>,
}

impl Datapoint {
    /// Whether this point breaches: against its band for a band operator,
    /// against the threshold otherwise.
    pub fn breaches(&self, s: &Settings) -> bool {
        match self.band {
            Some((lower, upper)) if s.operator.is_band() => {
                s.operator.breaches_band(self.value, lower, upper)
            }
            _ => s.operator.breaches(self.value, s.threshold),
        }
    }
}

/// The period starting at `start`, with its datapoint if the period had data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Period {
    pub start: Timestamp,
    pub point: Option<Datapoint>,
}

/// What the evaluator needs to know about an alarm.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub threshold: f64,
    pub operator: ComparisonOperator,
    /// N.
    pub evaluation_periods: u32,
    /// M.
    pub datapoints_to_alarm: u32,
    pub treat_missing_data: TreatMissingData,
    pub period_secs: i64,
    /// `Some(rank in percent)` when the alarm is on a percentile with
    /// `EvaluateLowSampleCountPercentile=ignore`.
    pub low_sample_ignore_percentile: Option<f64>,
    /// For StateReasonData: the statistic's spelling and the alarm's unit.
    pub statistic: Option<String>,
    pub unit: Option<String>,
}

/// The evaluator's verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Leave state and reason as they are.
    Keep,
    State {
        value: StateValue,
        reason: String,
        /// JSON text.
        reason_data: String,
    },
}

/// The number of periods fetched for an alarm of N evaluation periods: a few
/// more than N so that missing recent data can be bridged with older points.
pub fn range_periods(evaluation_periods: u32) -> u32 {
    evaluation_periods.saturating_add(2)
}

/// Sample count below which a percentile is not evaluated (`ignore` mode):
/// 10/(1-p) for p ≥ 0.5, else 10/p (p as a fraction).
pub fn low_sample_limit(rank_percent: f64) -> f64 {
    let p = rank_percent / 100.0;
    if p >= 0.5 { 10.0 / (1.0 - p) } else { 10.0 / p }
}

#[derive(Debug, Clone, Copy)]
enum Slot {
    Real(Timestamp, Datapoint),
    Filled(Timestamp),
}

/// Evaluates `periods` (the range, oldest first, one entry per period).
pub fn evaluate(s: &Settings, periods: &[Period], now: Timestamp, current: StateValue) -> Outcome {
    let n = s.evaluation_periods.max(1) as usize;
    let m = (s.datapoints_to_alarm.max(1) as usize).min(n);
    let real: Vec<(Timestamp, Datapoint)> = periods
        .iter()
        .filter_map(|p| p.point.map(|d| (p.start, d)))
        .collect();

    if let (Some(rank), Some(&(_, newest))) = (s.low_sample_ignore_percentile, real.last())
        && newest
            .sample_count
            .is_some_and(|c| c < low_sample_limit(rank))
    {
        return Outcome::Keep;
    }

    let breaches = |d: &Datapoint| d.breaches(s);
    let data = |evaluated: &[Slot]| reason_data(s, periods, evaluated, now);

    if real.is_empty() {
        let evaluated: Vec<Slot> = newest_missing(periods, n);
        let (value, label) = match s.treat_missing_data {
            TreatMissingData::Ignore => return Outcome::Keep,
            TreatMissingData::Missing => {
                return Outcome::State {
                    value: StateValue::InsufficientData,
                    reason: unknown_reason(n),
                    reason_data: data(&evaluated),
                };
            }
            TreatMissingData::Breaching => (StateValue::Alarm, "Breaching"),
            TreatMissingData::NotBreaching => (StateValue::Ok, "NonBreaching"),
        };
        return Outcome::State {
            value,
            reason: format!(
                "Threshold Crossed: no datapoints were received for {n} period{} and {n} missing datapoint{} {} treated as [{label}].",
                plural(n),
                plural(n),
                if n == 1 { "was" } else { "were" }
            ),
            reason_data: data(&evaluated),
        };
    }

    // The evaluated slots, newest first.
    let mut evaluated: Vec<Slot> = real
        .iter()
        .rev()
        .take(n)
        .map(|&(t, d)| Slot::Real(t, d))
        .collect();
    let fill = n - evaluated.len();
    let fill_breaching = match s.treat_missing_data {
        _ if fill == 0 => None,
        TreatMissingData::Breaching => Some(true),
        TreatMissingData::NotBreaching => Some(false),
        TreatMissingData::Missing | TreatMissingData::Ignore => None,
    };
    if let Some(b) = fill_breaching {
        evaluated.extend(newest_missing(periods, fill));
        let breaching = evaluated
            .iter()
            .filter(|sl| match sl {
                Slot::Real(_, d) => breaches(d),
                Slot::Filled(_) => b,
            })
            .count();
        let value = if breaching >= m {
            StateValue::Alarm
        } else {
            StateValue::Ok
        };
        let reason = crossed_reason(s, &evaluated, n, m, value, current, Some(b));
        return Outcome::State {
            value,
            reason,
            reason_data: data(&evaluated),
        };
    }

    let breaching = evaluated
        .iter()
        .filter(|sl| matches!(sl, Slot::Real(_, d) if breaches(d)))
        .count();
    let non_breaching = evaluated.len() - breaching;
    let value = if breaching >= m {
        StateValue::Alarm
    } else if non_breaching > 0 || fill == 0 {
        StateValue::Ok
    } else if s.treat_missing_data == TreatMissingData::Ignore {
        return Outcome::Keep;
    } else {
        // Only breaching points, fewer than M. Fresh data inside the newest N
        // periods is not enough to decide; if the newest N periods are all
        // empty, the older points are all there is to go by.
        let window_start = periods.len().saturating_sub(n);
        let window_has_data = periods[window_start..].iter().any(|p| p.point.is_some());
        if window_has_data {
            let mut shown = evaluated.clone();
            shown.extend(newest_missing(periods, fill));
            return Outcome::State {
                value: StateValue::InsufficientData,
                reason: unknown_reason(fill),
                reason_data: data(&shown),
            };
        }
        StateValue::Alarm
    };
    let shown = evaluated.len();
    let reason = crossed_reason(s, &evaluated, shown, m.min(shown), value, current, None);
    Outcome::State {
        value,
        reason,
        reason_data: data(&evaluated),
    }
}

/// The newest `k` periods of the range without data, newest first.
fn newest_missing(periods: &[Period], k: usize) -> Vec<Slot> {
    periods
        .iter()
        .rev()
        .filter(|p| p.point.is_none())
        .take(k)
        .map(|p| Slot::Filled(p.start))
        .collect()
}

fn plural(k: usize) -> &'static str {
    if k == 1 { "" } else { "s" }
}

fn unknown_reason(k: usize) -> String {
    format!(
        "Insufficient Data: {k} datapoint{} {} unknown.",
        plural(k),
        if k == 1 { "was" } else { "were" }
    )
}

/// `Threshold Crossed: 2 out of the last 3 datapoints [v (t), ...] were greater
/// than the threshold (50.0) (minimum 2 datapoints for OK -> ALARM transition).`
/// Lists the points that decided the outcome (breaching for ALARM,
/// non-breaching for OK), newest first; `fill` says how filled slots count.
fn crossed_reason(
    s: &Settings,
    evaluated: &[Slot],
    out_of: usize,
    m: usize,
    value: StateValue,
    current: StateValue,
    fill: Option<bool>,
) -> String {
    let to_alarm = value == StateValue::Alarm;
    let mut listed = Vec::new();
    let mut count = 0usize;
    for sl in evaluated {
        match sl {
            Slot::Real(t, d) => {
                if d.breaches(s) == to_alarm {
                    count += 1;
                    listed.push(format!("{} ({})", number(d.value), reason_date(*t)));
                }
            }
            Slot::Filled(_) => {
                if fill == Some(to_alarm) {
                    count += 1;
                }
            }
        }
    }
    let minimum = if to_alarm {
        m
    } else {
        out_of + 1 - m.min(out_of)
    };
    let filled_note = match fill {
        Some(b) if evaluated.iter().any(|sl| matches!(sl, Slot::Filled(_))) => {
            let k = evaluated
                .iter()
                .filter(|sl| matches!(sl, Slot::Filled(_)))
                .count();
            format!(
                " ({k} missing datapoint{} treated as [{}])",
                plural(k),
                if b { "Breaching" } else { "NonBreaching" }
            )
        }
        _ => String::new(),
    };
    if s.operator.is_band() {
        // No single threshold: each point had its own band.
        return format!(
            "Thresholds Crossed: {count} out of the last {out_of} datapoints [{}]{filled_note} {} {}{} of the anomaly band (minimum {minimum} datapoint{} for {} -> {} transition).",
            listed.join(", "),
            if count == 1 { "was" } else { "were" },
            if to_alarm { "" } else { "not " },
            s.operator.phrase(),
            plural(minimum),
            current.as_str(),
            value.as_str(),
        );
    }
    format!(
        "Threshold Crossed: {count} out of the last {out_of} datapoints [{}]{filled_note} {} {}{} the threshold ({}) (minimum {minimum} datapoint{} for {} -> {} transition).",
        listed.join(", "),
        if count == 1 { "was" } else { "were" },
        if to_alarm { "" } else { "not " },
        s.operator.phrase(),
        number(s.threshold),
        plural(minimum),
        current.as_str(),
        value.as_str(),
    )
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReasonData<'a> {
    version: &'static str,
    query_date: String,
    start_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    statistic: Option<&'a str>,
    period: i64,
    recent_datapoints: Vec<f64>,
    threshold: f64,
    evaluated_datapoints: Vec<EvaluatedPoint>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EvaluatedPoint {
    timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    sample_count: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<f64>,
}

fn reason_data(s: &Settings, periods: &[Period], evaluated: &[Slot], now: Timestamp) -> String {
    let start = periods.first().map_or(now, |p| p.start);
    let mut points: Vec<EvaluatedPoint> = evaluated
        .iter()
        .map(|sl| match sl {
            Slot::Real(t, d) => (t, Some(d)),
            Slot::Filled(t) => (t, None),
        })
        .map(|(t, d)| EvaluatedPoint {
            timestamp: json_date(*t),
            sample_count: d.and_then(|d| d.sample_count),
            value: d.map(|d| d.value),
        })
        .collect();
    // Newest first, as AWS lists them.
    points.sort_by(|a, b| b.timestamp.cmp(&a.timestamp));
    let data = ReasonData {
        version: "1.0",
        query_date: json_date(now),
        start_date: json_date(start),
        unit: s.unit.as_deref(),
        statistic: s.statistic.as_deref(),
        period: s.period_secs,
        recent_datapoints: periods
            .iter()
            .filter_map(|p| p.point.map(|d| d.value))
            .collect(),
        threshold: s.threshold,
        evaluated_datapoints: points,
    };
    serde_json::to_string(&data).unwrap_or_else(|_| "{}".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use StateValue::*;

    const HOUR: i64 = 3_600_000;
    // 2026-11-25T10:00:00Z
    const T0: i64 = 1_795_600_800_000;

    fn settings(n: u32, m: u32, tmd: TreatMissingData) -> Settings {
        Settings {
            threshold: 50.0,
            operator: ComparisonOperator::GreaterThanOrEqualToThreshold,
            evaluation_periods: n,
            datapoints_to_alarm: m,
            treat_missing_data: tmd,
            period_secs: 3600,
            low_sample_ignore_percentile: None,
            statistic: Some("Average".into()),
            unit: None,
        }
    }

    /// `0 - X - X` (oldest first): 0 = 10.0, X = 90.0, - = no data.
    fn periods(pattern: &str) -> Vec<Period> {
        pattern
            .split_whitespace()
            .enumerate()
            .map(|(i, c)| Period {
                start: Timestamp(T0 + i as i64 * HOUR),
                point: match c {
                    "0" => Some(Datapoint {
                        band: None,
                        value: 10.0,
                        sample_count: Some(60.0),
                    }),
                    "X" => Some(Datapoint {
                        band: None,
                        value: 90.0,
                        sample_count: Some(60.0),
                    }),
                    _ => None,
                },
            })
            .collect()
    }

    fn state(o: &Outcome, current: StateValue) -> StateValue {
        match o {
            Outcome::Keep => current,
            Outcome::State { value, .. } => *value,
        }
    }

    /// `None` = keep the current state.
    type Row = (&'static str, [Option<StateValue>; 4]);

    fn check_table(n: u32, m: u32, rows: &[Row]) {
        use TreatMissingData as T;
        let now = Timestamp(T0 + 5 * HOUR + 10_000);
        for (pattern, wants) in rows {
            for (tmd, want) in [T::Missing, T::Ignore, T::Breaching, T::NotBreaching]
                .iter()
                .zip(wants)
            {
                // Try from every current state so "keep" is observable.
                for current in [Ok, Alarm, InsufficientData] {
                    let o = evaluate(&settings(n, m, *tmd), &periods(pattern), now, current);
                    let expect = want.unwrap_or(current);
                    assert_eq!(
                        state(&o, current),
                        expect,
                        "N={n} M={m} `{pattern}` {tmd:?} from {current:?}: {o:?}"
                    );
                    if want.is_none() {
                        assert_eq!(o, Outcome::Keep, "`{pattern}` {tmd:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn aws_table_n3_m3() {
        check_table(
            3,
            3,
            &[
                ("0 - X - X", [Some(Ok), Some(Ok), Some(Ok), Some(Ok)]),
                ("0 - - - -", [Some(Ok), Some(Ok), Some(Ok), Some(Ok)]),
                (
                    "- - - - -",
                    [Some(InsufficientData), None, Some(Alarm), Some(Ok)],
                ),
                (
                    "0 X X - X",
                    [Some(Alarm), Some(Alarm), Some(Alarm), Some(Alarm)],
                ),
                (
                    "- - - - X",
                    [Some(InsufficientData), None, Some(Alarm), Some(Ok)],
                ),
                ("X - - - -", [Some(Alarm), None, Some(Alarm), Some(Ok)]),
            ],
        );
    }

    #[test]
    fn aws_table_n3_m2() {
        check_table(
            3,
            2,
            &[
                (
                    "0 - X - X",
                    [Some(Alarm), Some(Alarm), Some(Alarm), Some(Alarm)],
                ),
                (
                    "0 0 X 0 X",
                    [Some(Alarm), Some(Alarm), Some(Alarm), Some(Alarm)],
                ),
                ("0 - X - -", [Some(Ok), Some(Ok), Some(Alarm), Some(Ok)]),
                ("- - - - 0", [Some(Ok), Some(Ok), Some(Alarm), Some(Ok)]),
                (
                    "- - - - X",
                    [Some(InsufficientData), None, Some(Alarm), Some(Ok)],
                ),
            ],
        );
    }

    #[test]
    fn m_out_of_n_with_full_data() {
        let now = Timestamp(T0 + 5 * HOUR);
        let s = settings(5, 3, TreatMissingData::Missing);
        assert_eq!(
            state(&evaluate(&s, &periods("X 0 X 0 X"), now, Ok), Ok),
            Alarm
        );
        assert_eq!(
            state(&evaluate(&s, &periods("X 0 X 0 0"), now, Alarm), Alarm),
            Ok
        );
    }

    #[test]
    fn story_reason_texts_and_data() {
        // Period 3600, N=M=1, >= 50: one hourly average of 55.2 → ALARM.
        let s = settings(1, 1, TreatMissingData::Missing);
        let start = Timestamp(1_795_615_200_000); // 2026-11-25T14:00:00Z
        let now = Timestamp(1_795_618_810_123); // 15:00:10.123
        let ps = [Period {
            start,
            point: Some(Datapoint {
                band: None,
                value: 55.2,
                sample_count: Some(60.0),
            }),
        }];
        let Outcome::State {
            value,
            reason,
            reason_data,
        } = evaluate(&s, &ps, now, Ok)
        else {
            panic!()
        };
        assert_eq!(value, Alarm);
        assert_eq!(
            reason,
            "Threshold Crossed: 1 out of the last 1 datapoints [55.2 (25/11/26 14:00:00)] was greater than or equal to the threshold (50.0) (minimum 1 datapoint for OK -> ALARM transition)."
        );
        assert_eq!(
            reason_data,
            r#"{"version":"1.0","queryDate":"2026-11-25T15:00:10.123+0000","startDate":"2026-11-25T14:00:00.000+0000","statistic":"Average","period":3600,"recentDatapoints":[55.2],"threshold":50.0,"evaluatedDatapoints":[{"timestamp":"2026-11-25T14:00:00.000+0000","sampleCount":60.0,"value":55.2}]}"#
        );
        let start2 = Timestamp(start.millis() + HOUR);
        let ps = [Period {
            start: start2,
            point: Some(Datapoint {
                band: None,
                value: 40.1,
                sample_count: Some(60.0),
            }),
        }];
        let Outcome::State { value, reason, .. } = evaluate(&s, &ps, now, Alarm) else {
            panic!()
        };
        assert_eq!(value, Ok);
        assert_eq!(
            reason,
            "Threshold Crossed: 1 out of the last 1 datapoints [40.1 (25/11/26 15:00:00)] was not greater than or equal to the threshold (50.0) (minimum 1 datapoint for ALARM -> OK transition)."
        );
    }

    #[test]
    fn m_of_n_reason() {
        let s = settings(3, 2, TreatMissingData::Missing);
        let now = Timestamp(T0 + 5 * HOUR);
        let Outcome::State { reason, .. } = evaluate(&s, &periods("0 0 X 0 X"), now, Ok) else {
            panic!()
        };
        assert_eq!(
            reason,
            "Threshold Crossed: 2 out of the last 3 datapoints [90.0 (25/11/26 14:00:00), 90.0 (25/11/26 12:00:00)] were greater than or equal to the threshold (50.0) (minimum 2 datapoints for OK -> ALARM transition)."
        );
    }

    #[test]
    fn no_data_reasons() {
        let now = Timestamp(T0 + 5 * HOUR);
        let s = settings(2, 2, TreatMissingData::Breaching);
        let Outcome::State {
            value,
            reason,
            reason_data,
        } = evaluate(&s, &periods("- - - -"), now, Ok)
        else {
            panic!()
        };
        assert_eq!(value, Alarm);
        assert_eq!(
            reason,
            "Threshold Crossed: no datapoints were received for 2 periods and 2 missing datapoints were treated as [Breaching]."
        );
        assert!(
            reason_data.contains(r#""recentDatapoints":[]"#),
            "{reason_data}"
        );
        assert!(
            reason_data.contains(r#"{"timestamp":"2026-11-25T13:00:00.000+0000"}"#),
            "{reason_data}"
        );
        let s = settings(1, 1, TreatMissingData::Missing);
        let Outcome::State { value, reason, .. } = evaluate(&s, &periods("- - -"), now, Ok) else {
            panic!()
        };
        assert_eq!(value, InsufficientData);
        assert_eq!(reason, "Insufficient Data: 1 datapoint was unknown.");
    }

    /// The same samples judged through each evaluation window: the window
    /// places the periods (`window::bounds`), the evaluator labels each point
    /// with its period's start. Now is 2026-11-25T20:05:10Z; 1-hour periods,
    /// N = M = 1, >= 50, missing data `missing`.
    #[test]
    fn windows_table() {
        use crate::alarm::window::{Placement, Zone, bounds};
        let now = Timestamp(T0 + 10 * HOUR + 5 * 60_000 + 10_000);
        let at = |h: i64, m: i64| T0 + h * HOUR + m * 60_000;
        let utc = || Placement::WallClock(jiff::tz::TimeZone::UTC);
        let ist = || Placement::WallClock(Zone::Fixed(19_800).fixed().unwrap());
        // (placement, samples (ms, value), expected state, expected label or "").
        type Row = (Placement, Vec<(i64, f64)>, StateValue, &'static str);
        let rows: Vec<Row> = vec![
            // 90 at 20:02, in the incomplete clock hour.
            (
                Placement::Sliding,
                vec![(at(10, 2), 90.0)],
                Alarm,
                "90.0 (25/11/26 19:05:00)",
            ),
            (utc(), vec![(at(10, 2), 90.0)], InsufficientData, ""),
            // 90 at 19:45: the complete UTC hour 19:00-20:00 holds it...
            (
                utc(),
                vec![(at(9, 45), 90.0)],
                Alarm,
                "90.0 (25/11/26 19:00:00)",
            ),
            // ...the +05:30 hour 18:30-19:30 does not; 19:30-20:30 is incomplete.
            (ist(), vec![(at(9, 45), 90.0)], InsufficientData, ""),
            (
                ist(),
                vec![(at(9, 15), 90.0)],
                Alarm,
                "90.0 (25/11/26 18:30:00)",
            ),
            // Sliding averages whatever the last 60 minutes hold: 19:45 and 20:02.
            (
                Placement::Sliding,
                vec![(at(9, 45), 10.0), (at(10, 2), 80.0)],
                Ok,
                "45.0 (25/11/26 19:05:00)",
            ),
            // 19:00 is outside the sliding hour (19:05-20:05): it counts as an
            // older period, the newest one (with 90) decides.
            (
                Placement::Sliding,
                vec![(at(9, 0), 10.0), (at(10, 0), 90.0)],
                Alarm,
                "90.0 (25/11/26 19:05:00)",
            ),
        ];
        let s = settings(1, 1, TreatMissingData::Missing);
        for (i, (placement, samples, want, label)) in rows.into_iter().enumerate() {
            let b = bounds(&placement, 3600, range_periods(1), now);
            let periods: Vec<Period> = b
                .windows(2)
                .map(|w| {
                    let inside: Vec<f64> = samples
                        .iter()
                        .filter(|(t, _)| *t >= w[0].millis() && *t < w[1].millis())
                        .map(|&(_, v)| v)
                        .collect();
                    Period {
                        start: w[0],
                        point: (!inside.is_empty()).then(|| Datapoint {
                            band: None,
                            value: inside.iter().sum::<f64>() / inside.len() as f64,
                            sample_count: Some(inside.len() as f64),
                        }),
                    }
                })
                .collect();
            let o = evaluate(&s, &periods, now, InsufficientData);
            assert_eq!(state(&o, InsufficientData), want, "row {i}: {o:?}");
            if let Outcome::State { reason, .. } = &o
                && !label.is_empty()
            {
                assert!(reason.contains(&format!("[{label}]")), "row {i}: {reason}");
            }
        }
    }

    #[test]
    fn percentile_low_sample_rule() {
        assert!((low_sample_limit(99.0) - 1000.0).abs() < 1e-6);
        assert_eq!(low_sample_limit(10.0), 100.0);
        assert_eq!(low_sample_limit(50.0), 20.0);
        let mut s = settings(1, 1, TreatMissingData::Missing);
        s.low_sample_ignore_percentile = Some(50.0); // needs 20 samples
        let now = Timestamp(T0 + 2 * HOUR);
        let few = [Period {
            start: Timestamp(T0),
            point: Some(Datapoint {
                band: None,
                value: 90.0,
                sample_count: Some(19.0),
            }),
        }];
        assert_eq!(evaluate(&s, &few, now, Ok), Outcome::Keep);
        let enough = [Period {
            start: Timestamp(T0),
            point: Some(Datapoint {
                band: None,
                value: 90.0,
                sample_count: Some(20.0),
            }),
        }];
        assert_eq!(state(&evaluate(&s, &enough, now, Ok), Ok), Alarm);
        s.low_sample_ignore_percentile = None; // `evaluate` mode
        assert_eq!(state(&evaluate(&s, &few, now, Ok), Ok), Alarm);
    }
}
