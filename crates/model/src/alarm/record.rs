//! What the server stores per alarm, per history item and per pending action
//! (JSON records in the metadata store). Times are epoch milliseconds so a
//! record round-trips through JSON exactly. Pure data plus the conversions to
//! the Describe outputs.

use super::contributor::ContributorRef;
use super::ops::{CompositeAlarmOutput, MetricAlarmOutput};
use super::window::EvaluationWindow;
use super::{AlarmType, ComparisonOperator, StateValue, TreatMissingData};
use crate::metric::Dimension;
use crate::ops::get_metric_data::MetricDataQueryInput;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// One alarm (metric or composite) with its current state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmRecord {
    pub name: String,
    pub arn: String,
    /// The region the alarm was created in (from the request's signature).
    pub region: String,
    pub description: Option<String>,
    pub actions_enabled: bool,
    pub ok_actions: Vec<String>,
    pub alarm_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
    pub config_updated_ms: i64,
    pub kind: AlarmKind,
    pub state: AlarmState,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AlarmKind {
    Metric(MetricAlarmConfig),
    Composite(CompositeConfig),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricAlarmConfig {
    pub target: MetricTarget,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: Option<u32>,
    pub threshold: f64,
    pub comparison_operator: ComparisonOperator,
    /// The `ANOMALY_DETECTION_BAND` query of an anomaly alarm (band
    /// operators); `threshold` is then unused.
    #[serde(default)]
    pub threshold_metric_id: Option<String>,
    pub treat_missing_data: Option<TreatMissingData>,
    pub evaluate_low_sample_count_percentile: Option<String>,
    /// `None`: not given (a sliding window; records older than the setting).
    #[serde(default)]
    pub evaluation_window: Option<EvaluationWindow>,
}

impl MetricAlarmConfig {
    /// M: breaching datapoints needed (defaults to N).
    pub fn m(&self) -> u32 {
        self.datapoints_to_alarm.unwrap_or(self.evaluation_periods)
    }
    /// The window in effect (sliding unless a wall clock was asked for).
    pub fn window(&self) -> EvaluationWindow {
        self.evaluation_window
            .clone()
            .unwrap_or(EvaluationWindow::Sliding)
    }
    pub fn period(&self) -> i64 {
        match &self.target {
            MetricTarget::Single { period, .. } | MetricTarget::Math { period, .. } => *period,
        }
    }
}

/// What a metric alarm watches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MetricTarget {
    /// One metric with a statistic (exactly one of the two is set).
    Single {
        namespace: String,
        metric_name: String,
        /// Canonical order (sorted by name).
        dimensions: Vec<Dimension>,
        statistic: Option<String>,
        extended_statistic: Option<String>,
        period: i64,
        unit: Option<String>,
    },
    /// A metric-math alarm: the queries as given; `period` is the returned
    /// query's period.
    Math {
        metrics: Vec<MetricDataQueryInput>,
        period: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompositeConfig {
    pub alarm_rule: String,
    /// Names of the alarms the rule references (normalised from names or ARNs).
    pub children: Vec<String>,
    pub actions_suppressor: Option<String>,
    pub actions_suppressor_wait_period: Option<i64>,
    pub actions_suppressor_extension_period: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmState {
    pub value: StateValue,
    pub reason: String,
    pub reason_data: Option<String>,
    pub updated_ms: i64,
    pub transitioned_ms: i64,
}

impl AlarmRecord {
    pub fn alarm_type(&self) -> AlarmType {
        match self.kind {
            AlarmKind::Metric(_) => AlarmType::MetricAlarm,
            AlarmKind::Composite(_) => AlarmType::CompositeAlarm,
        }
    }

    /// The action ARNs of `state`.
    pub fn actions_for(&self, state: StateValue) -> &[String] {
        match state {
            StateValue::Ok => &self.ok_actions,
            StateValue::Alarm => &self.alarm_actions,
            StateValue::InsufficientData => &self.insufficient_data_actions,
        }
    }

    pub fn all_actions(&self) -> impl Iterator<Item = &String> {
        self.ok_actions
            .iter()
            .chain(&self.alarm_actions)
            .chain(&self.insufficient_data_actions)
    }

    pub fn to_metric_output(&self) -> Option<MetricAlarmOutput> {
        let AlarmKind::Metric(c) = &self.kind else {
            return None;
        };
        let mut out = MetricAlarmOutput {
            alarm_name: self.name.clone(),
            alarm_arn: self.arn.clone(),
            alarm_description: self.description.clone(),
            alarm_configuration_updated_timestamp: Timestamp(self.config_updated_ms),
            actions_enabled: self.actions_enabled,
            ok_actions: self.ok_actions.clone(),
            alarm_actions: self.alarm_actions.clone(),
            insufficient_data_actions: self.insufficient_data_actions.clone(),
            state_value: self.state.value,
            state_reason: self.state.reason.clone(),
            state_reason_data: self.state.reason_data.clone(),
            state_updated_timestamp: Timestamp(self.state.updated_ms),
            metric_name: None,
            namespace: None,
            statistic: None,
            extended_statistic: None,
            dimensions: Vec::new(),
            period: None,
            unit: None,
            evaluation_periods: c.evaluation_periods,
            datapoints_to_alarm: c.datapoints_to_alarm,
            threshold: c.threshold_metric_id.is_none().then_some(c.threshold),
            threshold_metric_id: c.threshold_metric_id.clone(),
            comparison_operator: c.comparison_operator,
            treat_missing_data: c.treat_missing_data,
            evaluate_low_sample_count_percentile: c.evaluate_low_sample_count_percentile.clone(),
            metrics: None,
            evaluation_window: c
                .evaluation_window
                .as_ref()
                .map(EvaluationWindow::to_output),
            state_transitioned_timestamp: Timestamp(self.state.transitioned_ms),
        };
        match &c.target {
            MetricTarget::Single {
                namespace,
                metric_name,
                dimensions,
                statistic,
                extended_statistic,
                period,
                unit,
            } => {
                out.metric_name = Some(metric_name.clone());
                out.namespace = Some(namespace.clone());
                out.statistic = statistic.clone();
                out.extended_statistic = extended_statistic.clone();
                out.dimensions = dimensions.clone();
                out.period = Some(*period);
                out.unit = unit.clone();
            }
            MetricTarget::Math { metrics, .. } => out.metrics = Some(metrics.clone()),
        }
        Some(out)
    }

    pub fn to_composite_output(&self) -> Option<CompositeAlarmOutput> {
        let AlarmKind::Composite(c) = &self.kind else {
            return None;
        };
        Some(CompositeAlarmOutput {
            actions_enabled: self.actions_enabled,
            alarm_actions: self.alarm_actions.clone(),
            alarm_arn: self.arn.clone(),
            alarm_configuration_updated_timestamp: Timestamp(self.config_updated_ms),
            alarm_description: self.description.clone(),
            alarm_name: self.name.clone(),
            alarm_rule: c.alarm_rule.clone(),
            insufficient_data_actions: self.insufficient_data_actions.clone(),
            ok_actions: self.ok_actions.clone(),
            state_reason: self.state.reason.clone(),
            state_reason_data: self.state.reason_data.clone(),
            state_updated_timestamp: Timestamp(self.state.updated_ms),
            state_value: self.state.value,
            state_transitioned_timestamp: Timestamp(self.state.transitioned_ms),
            actions_suppressor: c.actions_suppressor.clone(),
            actions_suppressor_wait_period: c.actions_suppressor_wait_period,
            actions_suppressor_extension_period: c.actions_suppressor_extension_period,
        })
    }
}

/// `HistoryItemType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HistoryItemType {
    ConfigurationUpdate,
    StateUpdate,
    Action,
    AlarmContributorStateUpdate,
    AlarmContributorAction,
}

impl HistoryItemType {
    pub const NAMES: [&'static str; 5] = [
        "ConfigurationUpdate",
        "StateUpdate",
        "Action",
        "AlarmContributorStateUpdate",
        "AlarmContributorAction",
    ];
    pub fn parse(s: &str) -> Option<HistoryItemType> {
        match s {
            "ConfigurationUpdate" => Some(HistoryItemType::ConfigurationUpdate),
            "StateUpdate" => Some(HistoryItemType::StateUpdate),
            "Action" => Some(HistoryItemType::Action),
            "AlarmContributorStateUpdate" => Some(HistoryItemType::AlarmContributorStateUpdate),
            "AlarmContributorAction" => Some(HistoryItemType::AlarmContributorAction),
            _ => None,
        }
    }
}

/// One alarm history item; kept after the alarm is deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRecord {
    pub alarm_name: String,
    pub alarm_type: AlarmType,
    pub timestamp_ms: i64,
    pub item_type: HistoryItemType,
    pub summary: String,
    pub data: String,
    /// The contributor of a contributor item (multi-time-series alarms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contributor: Option<ContributorRef>,
}

/// A notification owed for a committed transition, stored in the same
/// transaction as the new state and removed once it has been handed to SNS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingAction {
    pub message_id: String,
    pub alarm_name: String,
    pub alarm_type: AlarmType,
    pub action_arn: String,
    pub subject: String,
    pub json_message: String,
    pub email_text: String,
    pub attempts: u32,
    pub next_attempt_ms: i64,
    /// Set when a contributor's transition owes this notification: its
    /// outcome is then an `AlarmContributorAction` item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contributor: Option<ContributorRef>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records written before `evaluation_window` existed still load, as
    /// sliding-window alarms that Describe shows without the field.
    #[test]
    fn records_without_a_window_load_as_sliding() {
        let old = r#"{"target":{"Single":{"namespace":"CWAgent","metric_name":"disk_used_percent",
            "dimensions":[],"statistic":"Average","extended_statistic":null,"period":3600,"unit":null}},
            "evaluation_periods":1,"datapoints_to_alarm":null,"threshold":50.0,
            "comparison_operator":"GreaterThanOrEqualToThreshold","treat_missing_data":null,
            "evaluate_low_sample_count_percentile":null}"#;
        let c: MetricAlarmConfig = serde_json::from_str(old).unwrap();
        assert_eq!(c.evaluation_window, None);
        assert_eq!(c.window(), EvaluationWindow::Sliding);
        let mut c = c;
        c.evaluation_window = Some(EvaluationWindow::WallClock {
            timezone: Some("+05:30".into()),
        });
        let back: MetricAlarmConfig =
            serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }
}
