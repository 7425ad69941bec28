//! Multi-time-series alarms: an alarm on a Metrics Insights query with
//! GROUP BY (and ORDER BY) evaluates every series the query returns as a
//! *contributor* with its own state, ALARM or OK only (a series exists only
//! while it has data). The alarm is in ALARM while any contributor is.
//! Contributor-level transitions have their own history items
//! (`AlarmContributorStateUpdate`, `AlarmContributorAction`) and their own
//! notifications; `DescribeAlarmContributors` lists those in ALARM.
//!
//! Pure: identities, the per-contributor verdict, reason texts, records and
//! the operation's input and output. The server fetches and commits.

use super::StateValue;
use super::evaluate::{self, Outcome, Period, Settings};
use super::ops::{decode_token, validate_alarm_name};
use super::record::{MetricAlarmConfig, MetricTarget};
use crate::error::ApiResult;
use crate::ops::get_metric_data::{GetMetricDataInput, InsightsQuery, QueryKind};
use crate::param::Param;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A contributor's identity as stored with history items and pending
/// actions: its id and the GROUP BY dimensions it stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributorRef {
    pub id: String,
    pub attributes: BTreeMap<String, String>,
}

/// A contributor in ALARM. Only those are stored: a contributor that is not
/// stored is OK (or not seen yet), which keeps a fleet-wide alarm's state
/// as small as its breaching hosts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContributorRecord {
    pub alarm_name: String,
    pub contributor: ContributorRef,
    pub reason: String,
    pub transitioned_ms: i64,
}

/// The group values of one series as attributes: GROUP BY key → value.
pub fn attributes(group_by: &[String], key: &[String]) -> BTreeMap<String, String> {
    group_by.iter().cloned().zip(key.iter().cloned()).collect()
}

/// A contributor's id: 16 hex digits of a stable 64-bit hash (FNV-1a) of
/// its attributes, so the same series keeps its id across evaluations and
/// restarts. AWS's `ContributorId` is at most 16 characters.
pub fn contributor_id(attributes: &BTreeMap<String, String>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for (k, v) in attributes {
        feed(k.as_bytes());
        feed(&[0]);
        feed(v.as_bytes());
        feed(&[1]);
    }
    format!("{h:016x}")
}

/// `InstanceId=i-1, AutoScalingGroupName=web`: a contributor in one line
/// (history summaries, email text).
pub fn describe(attributes: &BTreeMap<String, String>) -> String {
    attributes
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The grouped Metrics Insights query of a multi-time-series alarm, or
/// `None` for every other alarm. PutMetricAlarm admits such a query only
/// alone, with ORDER BY.
pub fn grouped_query(c: &MetricAlarmConfig, now: Timestamp) -> Option<InsightsQuery> {
    let MetricTarget::Math { metrics, .. } = &c.target else {
        return None;
    };
    // Called on every evaluation: only a lone Metrics Insights query is
    // worth validating (metric math and MetricStat alarms stop here).
    if metrics.len() != 1
        || c.threshold_metric_id.is_some()
        || !metrics[0]
            .expression
            .as_deref()
            .is_some_and(crate::insights_query::is_query)
    {
        return None;
    }
    let probe = GetMetricDataInput {
        metric_data_queries: metrics.clone(),
        start_time: Some(Timestamp(now.millis() - 3_600_000)),
        end_time: Some(now),
        ..GetMetricDataInput::default()
    };
    let valid = probe.validate(now).ok()?;
    valid.queries.into_iter().find_map(|q| match q.kind {
        QueryKind::Insights(iq) if !iq.query.group_by.is_empty() => Some(iq),
        _ => None,
    })
}

/// A contributor's state after evaluating its `periods` (empty when the
/// query no longer returns it) from `current`, with the reason: `None` to
/// keep it. INSUFFICIENT_DATA does not exist for a contributor: a series
/// without data is OK.
pub fn verdict(
    s: &Settings,
    periods: &[Period],
    now: Timestamp,
    current: StateValue,
) -> Option<(StateValue, String)> {
    let (value, reason) = match evaluate::evaluate(s, periods, now, current) {
        Outcome::Keep => return None,
        Outcome::State {
            value: StateValue::InsufficientData,
            ..
        } => (
            StateValue::Ok,
            "No data for this contributor in the evaluation range.".to_string(),
        ),
        Outcome::State { value, reason, .. } => (value, reason),
    };
    (value != current).then_some((value, reason))
}

/// The alarm's own reason while `in_alarm` of its `total` known
/// contributors are in ALARM.
pub fn alarm_reason(in_alarm: usize, total: usize) -> String {
    let noun = if total == 1 {
        "contributor"
    } else {
        "contributors"
    };
    format!("{in_alarm} of {total} {noun} in ALARM state.")
}

/// `AlarmContributorStateUpdate` summary.
pub fn state_update_summary(old: StateValue, new: StateValue) -> String {
    format!(
        "Alarm contributor updated from {} to {}",
        old.as_str(),
        new.as_str()
    )
}

// ---------------------------------------------------------------- DescribeAlarmContributors

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeAlarmContributorsInput {
    pub alarm_name: Option<String>,
    pub next_token: Option<String>,
}

/// A validated DescribeAlarmContributors request.
#[derive(Debug, Clone, PartialEq)]
pub struct ContributorsQuery {
    pub alarm_name: String,
    /// Contributors with an id strictly after this one.
    pub after: Option<String>,
}

/// Contributors per DescribeAlarmContributors page.
pub const CONTRIBUTORS_PER_PAGE: usize = 100;

impl DescribeAlarmContributorsInput {
    pub fn validate(self) -> ApiResult<ContributorsQuery> {
        let alarm_name = validate_alarm_name(self.alarm_name, Param::root("AlarmName"))?;
        let after = self
            .next_token
            .filter(|t| !t.is_empty())
            .map(|t| decode_token(&t))
            .transpose()?;
        Ok(ContributorsQuery { alarm_name, after })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AlarmContributorOutput {
    pub contributor_id: String,
    pub contributor_attributes: BTreeMap<String, String>,
    pub state_reason: String,
    pub state_transitioned_timestamp: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAlarmContributorsOutput {
    pub alarm_contributors: Vec<AlarmContributorOutput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

impl ContributorRecord {
    pub fn to_output(&self) -> AlarmContributorOutput {
        AlarmContributorOutput {
            contributor_id: self.contributor.id.clone(),
            contributor_attributes: self.contributor.attributes.clone(),
            state_reason: self.reason.clone(),
            state_transitioned_timestamp: Timestamp(self.transitioned_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alarm::evaluate::Datapoint;
    use crate::alarm::{ComparisonOperator, TreatMissingData};

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn ids_are_stable_short_and_distinct() {
        let a = contributor_id(&attrs(&[("InstanceId", "i-1")]));
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(a, contributor_id(&attrs(&[("InstanceId", "i-1")])));
        assert_ne!(a, contributor_id(&attrs(&[("InstanceId", "i-2")])));
        // The separators keep "ab"+"c" apart from "a"+"bc".
        assert_ne!(
            contributor_id(&attrs(&[("ab", "c")])),
            contributor_id(&attrs(&[("a", "bc")]))
        );
        assert_eq!(
            describe(&attrs(&[("b", "2"), ("a", "1")])),
            "a=1, b=2".to_string()
        );
    }

    fn settings() -> Settings {
        Settings {
            threshold: 50.0,
            operator: ComparisonOperator::GreaterThanThreshold,
            evaluation_periods: 1,
            datapoints_to_alarm: 1,
            treat_missing_data: TreatMissingData::Missing,
            period_secs: 60,
            low_sample_ignore_percentile: None,
            statistic: None,
            unit: None,
        }
    }

    fn period(start: i64, v: Option<f64>) -> Period {
        Period {
            start: Timestamp(start),
            point: v.map(|value| Datapoint {
                value,
                sample_count: None,
                band: None,
            }),
        }
    }

    #[test]
    fn contributors_are_only_alarm_or_ok() {
        let s = settings();
        let now = Timestamp(600_000);
        let hot = [period(480_000, Some(80.0)), period(540_000, Some(90.0))];
        let (v, reason) = verdict(&s, &hot, now, StateValue::Ok).unwrap();
        assert_eq!(v, StateValue::Alarm);
        assert!(reason.starts_with("Threshold Crossed"), "{reason}");
        assert_eq!(verdict(&s, &hot, now, StateValue::Alarm), None);
        // Gone from the query: OK, never INSUFFICIENT_DATA.
        let gone = [period(480_000, None), period(540_000, None)];
        let (v, _) = verdict(&s, &gone, now, StateValue::Alarm).unwrap();
        assert_eq!(v, StateValue::Ok);
        assert_eq!(verdict(&s, &gone, now, StateValue::Ok), None);
    }

    #[test]
    fn reasons() {
        assert_eq!(alarm_reason(1, 1), "1 of 1 contributor in ALARM state.");
        assert_eq!(alarm_reason(0, 3), "0 of 3 contributors in ALARM state.");
        assert_eq!(
            state_update_summary(StateValue::Ok, StateValue::Alarm),
            "Alarm contributor updated from OK to ALARM"
        );
    }
}
