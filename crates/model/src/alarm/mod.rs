//! CloudWatch alarms: the alarm vocabulary (states, operators, missing-data
//! treatment), the stored alarm record, operation inputs and outputs, the
//! composite-alarm rule language, the pure evaluator and the rendering of what
//! an alarm transition publishes (aws-api.md §2.6–2.13, §3.5).
//!
//! Submodules: [`put`] (PutMetricAlarm / PutCompositeAlarm validation),
//! [`ops`] (the other alarm operations' inputs and outputs), [`record`] (what
//! the server stores per alarm and per history item), [`rule`] (AlarmRule
//! parser and evaluator), [`evaluate`] (state from datapoints), [`format`]
//! (AWS's number and date spellings), [`message`] (SNS subject, JSON and email
//! text), [`region`] (region long names), [`window`] (EvaluationWindow:
//! where the evaluated range falls), [`contributor`] (multi-time-series
//! alarms: one state per series of a grouped Metrics Insights query).

pub mod contributor;
pub mod evaluate;
pub mod format;
pub mod message;
pub mod ops;
pub mod put;
pub mod record;
pub mod region;
pub mod rule;
pub mod window;

use crate::error::ApiResult;
use crate::param::{Param, not_in_enum};
use serde::{Deserialize, Serialize};

/// Alarm names: 1..=255 characters.
pub const MAX_ALARM_NAME_LEN: usize = 255;
/// `AlarmDescription`: 0..=1024 characters.
pub const MAX_DESCRIPTION_LEN: usize = 1024;
/// ARNs per action list.
pub const MAX_ACTIONS: usize = 5;
/// Names in one DescribeAlarms / DeleteAlarms / Enable/DisableAlarmActions call.
pub const MAX_ALARM_NAMES: usize = 100;
/// `MaxRecords` bounds and defaults.
pub const MAX_RECORDS: i64 = 100;
pub const DEFAULT_DESCRIBE_RECORDS: i64 = 50;
pub const DEFAULT_HISTORY_RECORDS: i64 = 100;
/// Tags per resource, key and value lengths.
pub const MAX_TAGS: usize = 50;
pub const MAX_TAG_KEY_LEN: usize = 128;
pub const MAX_TAG_VALUE_LEN: usize = 256;
/// `Metrics` entries in a metric-math alarm.
pub const MAX_ALARM_METRICS: usize = 10;
/// `AlarmRule`: at most this many characters and referenced alarms.
pub const MAX_ALARM_RULE_LEN: usize = 10_240;
pub const MAX_RULE_ALARMS: usize = 100;
/// SetAlarmState `StateReason` / `StateReasonData` lengths.
pub const MAX_STATE_REASON_LEN: usize = 1023;
pub const MAX_STATE_REASON_DATA_LEN: usize = 4000;
/// `Period × EvaluationPeriods` limits, seconds.
pub const MAX_EVALUATION_RANGE_SECS: i64 = 7 * 24 * 3600;
pub const MAX_EVALUATION_RANGE_SHORT_PERIOD_SECS: i64 = 24 * 3600;
/// The reason every new alarm starts with (AWS-recorded).
pub const INITIAL_REASON: &str = "Unchecked: Initial alarm creation";

/// An alarm's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StateValue {
    #[serde(rename = "OK")]
    Ok,
    #[serde(rename = "ALARM")]
    Alarm,
    #[serde(rename = "INSUFFICIENT_DATA")]
    InsufficientData,
}

impl StateValue {
    /// In the order AWS lists them in its enum error message.
    pub const NAMES: [&'static str; 3] = ["INSUFFICIENT_DATA", "ALARM", "OK"];

    pub fn as_str(self) -> &'static str {
        match self {
            StateValue::Ok => "OK",
            StateValue::Alarm => "ALARM",
            StateValue::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
    pub fn parse(s: &str) -> Option<StateValue> {
        match s {
            "OK" => Some(StateValue::Ok),
            "ALARM" => Some(StateValue::Alarm),
            "INSUFFICIENT_DATA" => Some(StateValue::InsufficientData),
            _ => None,
        }
    }
    pub fn parse_param(s: &str, p: Param) -> ApiResult<StateValue> {
        StateValue::parse(s).ok_or_else(|| not_in_enum(s, p, &StateValue::NAMES))
    }
}

/// How a value is compared with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ComparisonOperator {
    GreaterThanOrEqualToThreshold,
    GreaterThanThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
    /// Anomaly-band operators: the alarm's `ThresholdMetricId` names an
    /// `ANOMALY_DETECTION_BAND` query whose bounds replace the threshold.
    LessThanLowerOrGreaterThanUpperThreshold,
    LessThanLowerThreshold,
    GreaterThanUpperThreshold,
}

impl ComparisonOperator {
    /// Every operator of the model, anomaly-band ones included (for the enum message).
    pub const NAMES: [&'static str; 7] = [
        "GreaterThanOrEqualToThreshold",
        "GreaterThanThreshold",
        "LessThanThreshold",
        "LessThanOrEqualToThreshold",
        "LessThanLowerOrGreaterThanUpperThreshold",
        "LessThanLowerThreshold",
        "GreaterThanUpperThreshold",
    ];

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
    pub fn parse(s: &str) -> Option<ComparisonOperator> {
        use ComparisonOperator::*;
        [
            GreaterThanOrEqualToThreshold,
            GreaterThanThreshold,
            LessThanThreshold,
            LessThanOrEqualToThreshold,
            LessThanLowerOrGreaterThanUpperThreshold,
            LessThanLowerThreshold,
            GreaterThanUpperThreshold,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
    /// Whether `value` breaches `threshold`.
    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            ComparisonOperator::GreaterThanOrEqualToThreshold => value >= threshold,
            ComparisonOperator::GreaterThanThreshold => value > threshold,
            ComparisonOperator::LessThanThreshold => value < threshold,
            ComparisonOperator::LessThanOrEqualToThreshold => value <= threshold,
            // Band operators compare with a band ([`Self::breaches_band`]).
            _ => false,
        }
    }
    /// Whether this operator compares with an anomaly band.
    pub fn is_band(self) -> bool {
        matches!(
            self,
            ComparisonOperator::LessThanLowerOrGreaterThanUpperThreshold
                | ComparisonOperator::LessThanLowerThreshold
                | ComparisonOperator::GreaterThanUpperThreshold
        )
    }
    /// Whether `value` breaches the band `[lower, upper]` (a static
    /// operator never does).
    pub fn breaches_band(self, value: f64, lower: f64, upper: f64) -> bool {
        match self {
            ComparisonOperator::LessThanLowerOrGreaterThanUpperThreshold => {
                value < lower || value > upper
            }
            ComparisonOperator::LessThanLowerThreshold => value < lower,
            ComparisonOperator::GreaterThanUpperThreshold => value > upper,
            _ => false,
        }
    }
    /// The phrase in state reasons: "greater than or equal to".
    pub fn phrase(self) -> &'static str {
        match self {
            ComparisonOperator::GreaterThanOrEqualToThreshold => "greater than or equal to",
            ComparisonOperator::GreaterThanThreshold => "greater than",
            ComparisonOperator::LessThanThreshold => "less than",
            ComparisonOperator::LessThanOrEqualToThreshold => "less than or equal to",
            ComparisonOperator::LessThanLowerOrGreaterThanUpperThreshold => {
                "less than the lower thresholds or greater than the upper thresholds"
            }
            ComparisonOperator::LessThanLowerThreshold => "less than the lower thresholds",
            ComparisonOperator::GreaterThanUpperThreshold => "greater than the upper thresholds",
        }
    }
}

/// `TreatMissingData`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum TreatMissingData {
    #[default]
    #[serde(rename = "missing")]
    Missing,
    #[serde(rename = "notBreaching")]
    NotBreaching,
    #[serde(rename = "breaching")]
    Breaching,
    #[serde(rename = "ignore")]
    Ignore,
}

impl TreatMissingData {
    pub fn as_str(self) -> &'static str {
        match self {
            TreatMissingData::Missing => "missing",
            TreatMissingData::NotBreaching => "notBreaching",
            TreatMissingData::Breaching => "breaching",
            TreatMissingData::Ignore => "ignore",
        }
    }
    pub fn parse(s: &str) -> Option<TreatMissingData> {
        [
            TreatMissingData::Missing,
            TreatMissingData::NotBreaching,
            TreatMissingData::Breaching,
            TreatMissingData::Ignore,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// `AlarmType` as DescribeAlarms / DescribeAlarmHistory spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AlarmType {
    MetricAlarm,
    CompositeAlarm,
}

impl AlarmType {
    pub const NAMES: [&'static str; 3] = ["CompositeAlarm", "MetricAlarm", "LogAlarm"];
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmType::MetricAlarm => "MetricAlarm",
            AlarmType::CompositeAlarm => "CompositeAlarm",
        }
    }
}

/// The ARN of alarm `name` in `region`.
pub fn alarm_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:cloudwatch:{region}:{account}:alarm:{name}")
}

/// The alarm name inside an alarm ARN (`arn:aws:cloudwatch:<r>:<acct>:alarm:<name>`).
pub fn name_from_arn(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:aws:cloudwatch:")?;
    let mut parts = rest.splitn(4, ':');
    let _region = parts.next()?;
    let _account = parts.next()?;
    if parts.next()? != "alarm" {
        return None;
    }
    parts.next().filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_round_trip() {
        let arn = alarm_arn("eu-west-1", "123456789012", "a:b");
        assert_eq!(arn, "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:a:b");
        assert_eq!(name_from_arn(&arn), Some("a:b"));
        assert_eq!(name_from_arn("arn:aws:sns:us-east-1:1:t"), None);
        assert_eq!(name_from_arn("arn:aws:cloudwatch::1:dashboard/x"), None);
    }

    #[test]
    fn operators() {
        use ComparisonOperator::*;
        assert!(GreaterThanOrEqualToThreshold.breaches(50.0, 50.0));
        assert!(!GreaterThanThreshold.breaches(50.0, 50.0));
        assert!(LessThanThreshold.breaches(49.0, 50.0));
        assert!(LessThanOrEqualToThreshold.breaches(50.0, 50.0));
        for o in [GreaterThanOrEqualToThreshold, LessThanOrEqualToThreshold] {
            assert_eq!(ComparisonOperator::parse(o.as_str()), Some(o));
        }
        assert_eq!(
            ComparisonOperator::parse("GreaterThanUpperThreshold"),
            Some(GreaterThanUpperThreshold)
        );
        assert_eq!(ComparisonOperator::parse("Bigger"), None);
        // Band operators compare with a band, never with a threshold.
        assert!(!GreaterThanUpperThreshold.breaches(100.0, 0.0));
        assert!(GreaterThanUpperThreshold.breaches_band(11.0, 0.0, 10.0));
        assert!(!GreaterThanUpperThreshold.breaches_band(-1.0, 0.0, 10.0));
        assert!(LessThanLowerThreshold.breaches_band(-1.0, 0.0, 10.0));
        assert!(LessThanLowerOrGreaterThanUpperThreshold.breaches_band(-1.0, 0.0, 10.0));
        assert!(LessThanLowerOrGreaterThanUpperThreshold.breaches_band(11.0, 0.0, 10.0));
        assert!(!LessThanLowerOrGreaterThanUpperThreshold.breaches_band(10.0, 0.0, 10.0));
    }
}
