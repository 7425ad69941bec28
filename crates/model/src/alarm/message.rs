//! What an alarm transition publishes to SNS (aws-api.md §3.5): the subject,
//! the JSON message (AWS's key order) and the readable email text with a link
//! to the alarm in the Stratus console. Pure rendering, tested on tables.

use super::contributor::{ContributorRef, describe};
use super::format::{json_date, long_date, number};
use super::record::{AlarmKind, AlarmRecord, MetricAlarmConfig, MetricTarget};
use super::region::long_name;
use super::{StateValue, TreatMissingData};
use crate::time::Timestamp;
use serde::Serialize;
use serde_json::Value;

/// A committed transition, seen from the alarm after the change.
#[derive(Debug, Clone)]
pub struct Transition<'a> {
    /// The alarm with its new state applied.
    pub alarm: &'a AlarmRecord,
    pub old_state: StateValue,
    pub account_id: &'a str,
    /// The console's base URL (no trailing slash).
    pub public_url: &'a str,
    /// Composite alarms: the children whose change triggered this one
    /// (ARN, state, time of their transition).
    pub triggering_children: Vec<(String, StateValue, Timestamp)>,
    /// A multi-time-series alarm's contributor whose transition this is
    /// (`alarm.state` then holds the contributor's state and reason).
    pub contributor: Option<&'a ContributorRef>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub json_message: String,
    pub email_text: String,
}

/// `ALARM: "disk-root-50" in US East (N. Virginia)`.
pub fn subject(state: StateValue, name: &str, region: &str) -> String {
    format!("{}: \"{name}\" in {}", state.as_str(), long_name(region))
}

/// The console page of an alarm: `<public_url>/#/alarms/<url-encoded name>`.
pub fn console_link(public_url: &str, name: &str) -> String {
    let mut enc = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            enc.push(b as char);
        } else {
            enc.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{public_url}/#/alarms/{enc}")
}

pub fn render(t: &Transition<'_>) -> Rendered {
    let a = t.alarm;
    Rendered {
        subject: subject(a.state.value, &a.name, &a.region),
        json_message: json_message(t),
        email_text: email_text(t),
    }
}

#[derive(Serialize)]
struct MetricMessage<'a> {
    #[serde(rename = "AlarmName")]
    alarm_name: &'a str,
    #[serde(rename = "AlarmDescription")]
    alarm_description: Option<&'a str>,
    #[serde(rename = "AWSAccountId")]
    account_id: &'a str,
    #[serde(rename = "AlarmConfigurationUpdatedTimestamp")]
    config_updated: String,
    #[serde(rename = "NewStateValue")]
    new_state: &'a str,
    #[serde(rename = "NewStateReason")]
    new_reason: &'a str,
    #[serde(rename = "StateChangeTime")]
    change_time: String,
    #[serde(rename = "Region")]
    region: &'a str,
    #[serde(rename = "AlarmArn")]
    arn: &'a str,
    #[serde(rename = "OldStateValue")]
    old_state: &'a str,
    #[serde(rename = "OKActions")]
    ok_actions: &'a [String],
    #[serde(rename = "AlarmActions")]
    alarm_actions: &'a [String],
    #[serde(rename = "InsufficientDataActions")]
    insufficient_data_actions: &'a [String],
    #[serde(rename = "Trigger")]
    trigger: Trigger<'a>,
    #[serde(rename = "AlarmContributorId", skip_serializing_if = "Option::is_none")]
    contributor_id: Option<&'a str>,
    #[serde(
        rename = "AlarmContributorAttributes",
        skip_serializing_if = "Option::is_none"
    )]
    contributor_attributes: Option<&'a std::collections::BTreeMap<String, String>>,
}

#[derive(Serialize)]
struct Trigger<'a> {
    #[serde(rename = "MetricName", skip_serializing_if = "Option::is_none")]
    metric_name: Option<&'a str>,
    #[serde(rename = "Namespace", skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
    #[serde(rename = "StatisticType", skip_serializing_if = "Option::is_none")]
    statistic_type: Option<&'static str>,
    #[serde(rename = "Statistic", skip_serializing_if = "Option::is_none")]
    statistic: Option<String>,
    #[serde(rename = "ExtendedStatistic", skip_serializing_if = "Option::is_none")]
    extended_statistic: Option<&'a str>,
    /// Absent for math alarms, `null` when a single-metric alarm has no unit.
    #[serde(rename = "Unit", skip_serializing_if = "Option::is_none")]
    unit: Option<Option<&'a str>>,
    #[serde(rename = "Dimensions", skip_serializing_if = "Option::is_none")]
    dimensions: Option<Dims<'a>>,
    #[serde(rename = "Metrics", skip_serializing_if = "Option::is_none")]
    metrics: Option<Value>,
    #[serde(rename = "Period")]
    period: i64,
    #[serde(rename = "EvaluationPeriods")]
    evaluation_periods: u32,
    #[serde(rename = "DatapointsToAlarm", skip_serializing_if = "Option::is_none")]
    datapoints_to_alarm: Option<u32>,
    #[serde(rename = "ComparisonOperator")]
    comparison_operator: &'static str,
    #[serde(rename = "Threshold")]
    threshold: f64,
    #[serde(rename = "TreatMissingData")]
    treat_missing_data: &'static str,
    #[serde(rename = "EvaluateLowSampleCountPercentile")]
    evaluate_low_sample_count_percentile: &'a str,
}

/// The trigger's dimensions: `""` when the metric has none.
#[derive(Serialize)]
#[serde(untagged)]
enum Dims<'a> {
    None(&'static str),
    List(Vec<TriggerDimension<'a>>),
}

/// A dimension in the trigger: lowercase keys, value first (AWS's order).
#[derive(Serialize)]
struct TriggerDimension<'a> {
    value: &'a str,
    name: &'a str,
}

/// `AVERAGE`, `SAMPLE_COUNT`.
fn upper_snake(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Lower-camel-case keys, recursively (`MetricStat` → `metricStat`).
fn lower_keys(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let mut c = k.chars();
                    let key = match c.next() {
                        Some(f) => f.to_ascii_lowercase().to_string() + c.as_str(),
                        None => k,
                    };
                    (key, lower_keys(v))
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(lower_keys).collect()),
        other => other,
    }
}

fn trigger(c: &MetricAlarmConfig) -> Trigger<'_> {
    let mut t = Trigger {
        metric_name: None,
        namespace: None,
        statistic_type: None,
        statistic: None,
        extended_statistic: None,
        unit: None,
        dimensions: None,
        metrics: None,
        period: c.period(),
        evaluation_periods: c.evaluation_periods,
        datapoints_to_alarm: c.datapoints_to_alarm,
        comparison_operator: c.comparison_operator.as_str(),
        threshold: c.threshold,
        treat_missing_data: c.treat_missing_data.map_or("", TreatMissingData::as_str),
        evaluate_low_sample_count_percentile: c
            .evaluate_low_sample_count_percentile
            .as_deref()
            .unwrap_or(""),
    };
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
            t.metric_name = Some(metric_name);
            t.namespace = Some(namespace);
            match (statistic, extended_statistic) {
                (_, Some(e)) => {
                    t.statistic_type = Some("ExtendedStatistic");
                    t.extended_statistic = Some(e);
                }
                (s, None) => {
                    t.statistic_type = Some("Statistic");
                    t.statistic = s.as_deref().map(upper_snake);
                }
            }
            t.unit = Some(unit.as_deref());
            t.dimensions = Some(if dimensions.is_empty() {
                Dims::None("")
            } else {
                Dims::List(
                    dimensions
                        .iter()
                        .map(|d| TriggerDimension {
                            value: &d.value,
                            name: &d.name,
                        })
                        .collect(),
                )
            });
        }
        MetricTarget::Math { metrics, .. } => {
            t.metrics = Some(lower_keys(
                serde_json::to_value(metrics).unwrap_or(Value::Null),
            ));
        }
    }
    t
}

#[derive(Serialize)]
struct CompositeMessage<'a> {
    #[serde(rename = "AlarmName")]
    alarm_name: &'a str,
    #[serde(rename = "AlarmDescription")]
    alarm_description: Option<&'a str>,
    #[serde(rename = "AWSAccountId")]
    account_id: &'a str,
    #[serde(rename = "NewStateValue")]
    new_state: &'a str,
    #[serde(rename = "NewStateReason")]
    new_reason: &'a str,
    #[serde(rename = "StateChangeTime")]
    change_time: String,
    #[serde(rename = "Region")]
    region: &'a str,
    #[serde(rename = "AlarmArn")]
    arn: &'a str,
    #[serde(rename = "OldStateValue")]
    old_state: &'a str,
    #[serde(rename = "AlarmRule")]
    alarm_rule: &'a str,
    #[serde(rename = "TriggeringChildren")]
    triggering_children: Vec<Child>,
    #[serde(rename = "OKActions")]
    ok_actions: &'a [String],
    #[serde(rename = "AlarmActions")]
    alarm_actions: &'a [String],
    #[serde(rename = "InsufficientDataActions")]
    insufficient_data_actions: &'a [String],
}

#[derive(Serialize)]
struct Child {
    #[serde(rename = "Arn")]
    arn: String,
    #[serde(rename = "State")]
    state: ChildState,
}

#[derive(Serialize)]
struct ChildState {
    #[serde(rename = "Value")]
    value: &'static str,
    #[serde(rename = "Timestamp")]
    timestamp: String,
}

fn json_message(t: &Transition<'_>) -> String {
    let a = t.alarm;
    let change_time = json_date(Timestamp(a.state.transitioned_ms));
    let region = long_name(&a.region);
    let out = match &a.kind {
        AlarmKind::Metric(c) => serde_json::to_string(&MetricMessage {
            alarm_name: &a.name,
            alarm_description: a.description.as_deref(),
            account_id: t.account_id,
            config_updated: json_date(Timestamp(a.config_updated_ms)),
            new_state: a.state.value.as_str(),
            new_reason: &a.state.reason,
            change_time,
            region,
            arn: &a.arn,
            old_state: t.old_state.as_str(),
            ok_actions: &a.ok_actions,
            alarm_actions: &a.alarm_actions,
            insufficient_data_actions: &a.insufficient_data_actions,
            trigger: trigger(c),
            contributor_id: t.contributor.map(|c| c.id.as_str()),
            contributor_attributes: t.contributor.map(|c| &c.attributes),
        }),
        AlarmKind::Composite(c) => serde_json::to_string(&CompositeMessage {
            alarm_name: &a.name,
            alarm_description: a.description.as_deref(),
            account_id: t.account_id,
            new_state: a.state.value.as_str(),
            new_reason: &a.state.reason,
            change_time,
            region,
            arn: &a.arn,
            old_state: t.old_state.as_str(),
            alarm_rule: &c.alarm_rule,
            triggering_children: t
                .triggering_children
                .iter()
                .map(|(arn, s, ts)| Child {
                    arn: arn.clone(),
                    state: ChildState {
                        value: s.as_str(),
                        timestamp: json_date(*ts),
                    },
                })
                .collect(),
            ok_actions: &a.ok_actions,
            alarm_actions: &a.alarm_actions,
            insufficient_data_actions: &a.insufficient_data_actions,
        }),
    };
    out.unwrap_or_else(|_| "{}".to_string())
}

fn action_line(list: &[String]) -> String {
    list.iter().map(|a| format!(" [{a}]")).collect()
}

fn email_text(t: &Transition<'_>) -> String {
    let a = t.alarm;
    let region = long_name(&a.region);
    let when = long_date(Timestamp(a.state.transitioned_ms));
    let state = a.state.value.as_str();
    let mut s = format!(
        "You are receiving this email because your Amazon CloudWatch Alarm \"{}\" in the {region} region has entered the {state} state, because \"{}\" at \"{when}\".\n\n",
        a.name, a.state.reason
    );
    s.push_str("View this alarm in the Stratus console:\n");
    s.push_str(&console_link(t.public_url, &a.name));
    s.push_str("\n\nAlarm Details:\n");
    s.push_str(&format!("- Name:                       {}\n", a.name));
    s.push_str(&format!(
        "- Description:                {}\n",
        a.description.as_deref().unwrap_or("")
    ));
    s.push_str(&format!(
        "- State Change:               {} -> {state}\n",
        t.old_state.as_str()
    ));
    s.push_str(&format!(
        "- Reason for State Change:    {}\n",
        a.state.reason
    ));
    if let Some(c) = t.contributor {
        s.push_str(&format!(
            "- Contributor:                {} ({})\n",
            describe(&c.attributes),
            c.id
        ));
    }
    s.push_str(&format!("- Timestamp:                  {when}\n"));
    s.push_str(&format!("- AWS Account:                {}\n", t.account_id));
    s.push_str(&format!("- Alarm Arn:                  {}\n", a.arn));
    match &a.kind {
        AlarmKind::Metric(c) => {
            let (n, m, p) = (c.evaluation_periods, c.m(), c.period());
            let span = if n == 1 {
                format!("for {p} seconds.")
            } else {
                format!(
                    "for at least {m} of the last {n} period{} of {p} seconds.",
                    if n == 1 { "" } else { "s" }
                )
            };
            s.push_str(&format!(
                "\nThreshold:\n- The alarm is in the ALARM state when the metric is {} {} {span}\n",
                c.comparison_operator.as_str(),
                number(c.threshold)
            ));
            s.push_str("\nMonitored Metric:\n");
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
                    let dims: Vec<String> = dimensions
                        .iter()
                        .map(|d| format!("[{} = {}]", d.name, d.value))
                        .collect();
                    s.push_str(&format!(
                        "- MetricNamespace:                     {namespace}\n"
                    ));
                    s.push_str(&format!(
                        "- MetricName:                          {metric_name}\n"
                    ));
                    s.push_str(&format!(
                        "- Dimensions:                          {}\n",
                        dims.join(" ")
                    ));
                    s.push_str(&format!(
                        "- Period:                              {period} seconds\n"
                    ));
                    s.push_str(&format!(
                        "- Statistic:                           {}\n",
                        extended_statistic
                            .as_deref()
                            .or(statistic.as_deref())
                            .unwrap_or("")
                    ));
                    s.push_str(&format!(
                        "- Unit:                                {}\n",
                        unit.as_deref().unwrap_or("not specified")
                    ));
                }
                MetricTarget::Math { metrics, period } => {
                    for q in metrics {
                        let what = match (&q.expression, &q.metric_stat) {
                            (Some(e), _) => e.clone(),
                            (None, Some(ms)) => {
                                let m = ms.metric.clone().unwrap_or_default();
                                format!(
                                    "{}/{} {}",
                                    m.namespace.unwrap_or_default(),
                                    m.metric_name.unwrap_or_default(),
                                    ms.stat.clone().unwrap_or_default()
                                )
                            }
                            (None, None) => String::new(),
                        };
                        s.push_str(&format!(
                            "- {}:{}{what}\n",
                            q.id.as_deref().unwrap_or(""),
                            " ".repeat(36usize.saturating_sub(q.id.as_deref().map_or(0, str::len)))
                        ));
                    }
                    s.push_str(&format!(
                        "- Period:                              {period} seconds\n"
                    ));
                }
            }
            s.push_str(&format!(
                "- TreatMissingData:                    {}\n",
                c.treat_missing_data.unwrap_or_default().as_str()
            ));
        }
        AlarmKind::Composite(c) => {
            s.push_str(&format!("\nAlarm Rule:\n- {}\n", c.alarm_rule));
            if !t.triggering_children.is_empty() {
                s.push_str("\nTriggering Children:\n");
                for (arn, st, ts) in &t.triggering_children {
                    s.push_str(&format!(
                        "- {arn} entered {} at {}\n",
                        st.as_str(),
                        long_date(*ts)
                    ));
                }
            }
        }
    }
    s.push_str("\nState Change Actions:\n");
    s.push_str(&format!("- OK:{}\n", action_line(&a.ok_actions)));
    s.push_str(&format!("- ALARM:{}\n", action_line(&a.alarm_actions)));
    s.push_str(&format!(
        "- INSUFFICIENT_DATA:{}\n",
        action_line(&a.insufficient_data_actions)
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alarm::ComparisonOperator;
    use crate::alarm::record::{AlarmState, CompositeConfig};
    use crate::metric::Dimension;

    fn story_alarm() -> AlarmRecord {
        AlarmRecord {
            name: "disk-root-50".into(),
            arn: "arn:aws:cloudwatch:us-east-1:123456789012:alarm:disk-root-50".into(),
            region: "us-east-1".into(),
            description: Some("root volume over 50%".into()),
            actions_enabled: true,
            ok_actions: vec![],
            alarm_actions: vec!["arn:aws:sns:us-east-1:123456789012:alerts".into()],
            insufficient_data_actions: vec![],
            config_updated_ms: 1_795_615_140_000, // 2026-11-25T13:59:00Z
            kind: AlarmKind::Metric(MetricAlarmConfig {
                target: MetricTarget::Single {
                    namespace: "CWAgent".into(),
                    metric_name: "disk_used_percent".into(),
                    dimensions: vec![Dimension::new("path", "/"), Dimension::new("host", "web-1")],
                    statistic: Some("Average".into()),
                    extended_statistic: None,
                    period: 3600,
                    unit: None,
                },
                evaluation_periods: 1,
                datapoints_to_alarm: Some(1),
                threshold: 50.0,
                comparison_operator: ComparisonOperator::GreaterThanOrEqualToThreshold,
                threshold_metric_id: None,
                treat_missing_data: Some(TreatMissingData::Missing),
                evaluate_low_sample_count_percentile: None,
                evaluation_window: None,
            }),
            state: AlarmState {
                value: StateValue::Alarm,
                reason: "Threshold Crossed: 1 out of the last 1 datapoints [55.2 (25/11/26 14:00:00)] was greater than or equal to the threshold (50.0) (minimum 1 datapoint for OK -> ALARM transition).".into(),
                reason_data: None,
                updated_ms: 1_795_618_810_548,
                transitioned_ms: 1_795_618_810_548, // 2026-11-25T15:00:10.548Z
            },
        }
    }

    fn transition(a: &AlarmRecord) -> Transition<'_> {
        Transition {
            alarm: a,
            old_state: StateValue::Ok,
            account_id: "123456789012",
            public_url: "http://stratus.example:8080",
            triggering_children: vec![],
            contributor: None,
        }
    }

    /// A contributor's notification names it in the JSON (after Trigger)
    /// and in the email; an alarm-level one has neither.
    #[test]
    fn contributor_messages_name_the_contributor() {
        let a = story_alarm();
        let c = ContributorRef {
            id: "00aa11bb22cc33dd".into(),
            attributes: [("InstanceId".to_string(), "i-7".to_string())].into(),
        };
        let mut t = transition(&a);
        let plain = render(&t);
        assert!(!plain.json_message.contains("AlarmContributor"));
        assert!(!plain.email_text.contains("Contributor:"));
        t.contributor = Some(&c);
        let r = render(&t);
        let trigger_at = r.json_message.find("\"Trigger\"").unwrap();
        let id_at = r
            .json_message
            .find("\"AlarmContributorId\":\"00aa11bb22cc33dd\"")
            .unwrap();
        assert!(trigger_at < id_at, "{}", r.json_message);
        assert!(
            r.json_message
                .contains("\"AlarmContributorAttributes\":{\"InstanceId\":\"i-7\"}")
        );
        assert!(
            r.email_text
                .contains("- Contributor:                InstanceId=i-7 (00aa11bb22cc33dd)\n"),
            "{}",
            r.email_text
        );
    }

    #[test]
    fn story_message() {
        let a = story_alarm();
        let r = render(&transition(&a));
        assert_eq!(
            r.subject,
            "ALARM: \"disk-root-50\" in US East (N. Virginia)"
        );
        let want = concat!(
            r#"{"AlarmName":"disk-root-50","AlarmDescription":"root volume over 50%","AWSAccountId":"123456789012","#,
            r#""AlarmConfigurationUpdatedTimestamp":"2026-11-25T13:59:00.000+0000","NewStateValue":"ALARM","#,
            r#""NewStateReason":"Threshold Crossed: 1 out of the last 1 datapoints [55.2 (25/11/26 14:00:00)] was greater than or equal to the threshold (50.0) (minimum 1 datapoint for OK -> ALARM transition).","#,
            r#""StateChangeTime":"2026-11-25T15:00:10.548+0000","Region":"US East (N. Virginia)","#,
            r#""AlarmArn":"arn:aws:cloudwatch:us-east-1:123456789012:alarm:disk-root-50","OldStateValue":"OK","#,
            r#""OKActions":[],"AlarmActions":["arn:aws:sns:us-east-1:123456789012:alerts"],"InsufficientDataActions":[],"#,
            r#""Trigger":{"MetricName":"disk_used_percent","Namespace":"CWAgent","StatisticType":"Statistic","#,
            r#""Statistic":"AVERAGE","Unit":null,"Dimensions":[{"value":"/","name":"path"},{"value":"web-1","name":"host"}],"#,
            r#""Period":3600,"EvaluationPeriods":1,"DatapointsToAlarm":1,"ComparisonOperator":"GreaterThanOrEqualToThreshold","#,
            r#""Threshold":50.0,"TreatMissingData":"missing","EvaluateLowSampleCountPercentile":""}}"#
        );
        assert_eq!(r.json_message, want);
        let email = r.email_text;
        assert!(email.starts_with("You are receiving this email because your Amazon CloudWatch Alarm \"disk-root-50\" in the US East (N. Virginia) region has entered the ALARM state, because \"Threshold Crossed: 1 out of the last 1 datapoints [55.2 (25/11/26 14:00:00)]"), "{email}");
        assert!(
            email.contains("at \"Wednesday 25 November, 2026 15:00:10 UTC\".\n\n"),
            "{email}"
        );
        assert!(
            email.contains("\nhttp://stratus.example:8080/#/alarms/disk-root-50\n"),
            "{email}"
        );
        for line in [
            "- Name:                       disk-root-50\n",
            "- State Change:               OK -> ALARM\n",
            "- Alarm Arn:                  arn:aws:cloudwatch:us-east-1:123456789012:alarm:disk-root-50\n",
            "- The alarm is in the ALARM state when the metric is GreaterThanOrEqualToThreshold 50.0 for 3600 seconds.\n",
            "- MetricNamespace:                     CWAgent\n",
            "- Dimensions:                          [path = /] [host = web-1]\n",
            "- Period:                              3600 seconds\n",
            "- Statistic:                           Average\n",
            "- Unit:                                not specified\n",
            "- TreatMissingData:                    missing\n",
            "\nState Change Actions:\n- OK:\n- ALARM: [arn:aws:sns:us-east-1:123456789012:alerts]\n- INSUFFICIENT_DATA:\n",
        ] {
            assert!(email.contains(line), "missing {line:?} in\n{email}");
        }
    }

    #[test]
    fn variants() {
        assert_eq!(upper_snake("SampleCount"), "SAMPLE_COUNT");
        assert_eq!(
            console_link("http://h", "a b/ü"),
            "http://h/#/alarms/a%20b%2F%C3%BC"
        );
        assert_eq!(
            subject(StateValue::Ok, "x", "eu-west-1"),
            "OK: \"x\" in EU (Ireland)"
        );
        let mut a = story_alarm();
        if let AlarmKind::Metric(c) = &mut a.kind {
            c.evaluation_periods = 3;
            c.datapoints_to_alarm = Some(2);
            if let MetricTarget::Single {
                statistic,
                extended_statistic,
                dimensions,
                ..
            } = &mut c.target
            {
                *statistic = None;
                *extended_statistic = Some("p99".into());
                dimensions.clear();
            }
        }
        let r = render(&transition(&a));
        assert!(r.json_message.contains(r#""StatisticType":"ExtendedStatistic","ExtendedStatistic":"p99","Unit":null,"Dimensions":"","#), "{}", r.json_message);
        assert!(
            r.email_text
                .contains("for at least 2 of the last 3 periods of 3600 seconds.")
        );
        a.kind = AlarmKind::Composite(CompositeConfig {
            alarm_rule: "ALARM(\"disk-root-50\")".into(),
            children: vec!["disk-root-50".into()],
            actions_suppressor: None,
            actions_suppressor_wait_period: None,
            actions_suppressor_extension_period: None,
        });
        let mut t = transition(&a);
        t.triggering_children = vec![(
            "arn:c".into(),
            StateValue::Alarm,
            Timestamp(1_795_618_810_000),
        )];
        let r = render(&t);
        assert!(r.json_message.contains(r#""AlarmRule":"ALARM(\"disk-root-50\")","TriggeringChildren":[{"Arn":"arn:c","State":{"Value":"ALARM","Timestamp":"2026-11-25T15:00:10.000+0000"}}]"#), "{}", r.json_message);
        assert!(
            r.email_text
                .contains("Alarm Rule:\n- ALARM(\"disk-root-50\")\n")
        );
    }
}
