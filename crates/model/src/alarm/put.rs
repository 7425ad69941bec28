//! PutMetricAlarm and PutCompositeAlarm: inputs and validation into the
//! configuration the server stores (aws-api.md §2.6, §2.10).

use super::ops::{Tag, validate_alarm_name, validate_tags};
use super::record::{CompositeConfig, MetricAlarmConfig, MetricTarget};
use super::{
    ComparisonOperator, MAX_ACTIONS, MAX_ALARM_METRICS, MAX_ALARM_RULE_LEN, MAX_DESCRIPTION_LEN,
    MAX_EVALUATION_RANGE_SECS, MAX_EVALUATION_RANGE_SHORT_PERIOD_SECS, TreatMissingData, rule,
};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::metric::{Dimension, MetricId, validate_metric_name, validate_namespace};
use crate::ops::get_metric_data::{GetMetricDataInput, MetricDataQueryInput};
use crate::param::{Param, check_len, constraint, invalid, list_constraint, missing, not_in_enum};
use crate::statistic::{Percentile, Statistic};
use crate::time::Timestamp;
use crate::unit::Unit;
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PutMetricAlarmInput {
    pub alarm_name: Option<String>,
    pub alarm_description: Option<String>,
    pub actions_enabled: Option<bool>,
    #[serde(rename = "OKActions")]
    pub ok_actions: Vec<String>,
    pub alarm_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
    pub metric_name: Option<String>,
    pub namespace: Option<String>,
    pub statistic: Option<String>,
    pub extended_statistic: Option<String>,
    pub dimensions: Option<Vec<Dimension>>,
    pub period: Option<i64>,
    pub unit: Option<String>,
    pub evaluation_periods: Option<i64>,
    pub datapoints_to_alarm: Option<i64>,
    pub threshold: Option<f64>,
    pub comparison_operator: Option<String>,
    pub treat_missing_data: Option<String>,
    pub evaluate_low_sample_count_percentile: Option<String>,
    pub metrics: Option<Vec<MetricDataQueryInput>>,
    pub tags: Vec<Tag>,
    pub threshold_metric_id: Option<String>,
    pub evaluation_window: Option<super::window::EvaluationWindowInput>,
}

/// The common part of both Puts.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmCommon {
    pub name: String,
    pub description: Option<String>,
    pub actions_enabled: bool,
    pub ok_actions: Vec<String>,
    pub alarm_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
    pub tags: Vec<(String, String)>,
}

impl AlarmCommon {
    /// An alarm acts only inside its own partition and region, so AWS refuses
    /// an action ARN naming another (in these words, as AWS answers
    /// PutMetricAlarm: "Invalid region ca-central-1 specified. Only us-west-2 is
    /// supported.", "Invalid partition aws specified. Only aws-us-gov is
    /// supported."). An ARN without a region (`arn:aws:ssm-incidents::…`) is
    /// region-free and passes that half.
    pub fn check_action_placement(&self, region: &str) -> ApiResult<()> {
        let partition = partition_of(region);
        let actions = self
            .ok_actions
            .iter()
            .chain(&self.alarm_actions)
            .chain(&self.insufficient_data_actions);
        for arn in actions {
            // `validate_actions` made sure of `arn:<partition>:<service>:<region>:…`.
            let mut parts = arn.split(':').skip(1);
            let (Some(arn_partition), Some(_service), Some(arn_region)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if arn_partition != partition {
                return Err(ApiError::new(
                    ErrorCode::ValidationError,
                    format!(
                        "Invalid partition {} specified. Only {partition} is supported.",
                        crate::param::echo(arn_partition)
                    ),
                ));
            }
            if !arn_region.is_empty() && arn_region != region {
                return Err(ApiError::new(
                    ErrorCode::ValidationError,
                    format!(
                        "Invalid region {} specified. Only {} is supported.",
                        crate::param::echo(arn_region),
                        crate::param::echo(region)
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The AWS partition a region belongs to: `aws-cn` for `cn-north-1`,
/// `aws-us-gov` for `us-gov-west-1`, the ISO partitions by their prefixes,
/// `aws` for every commercial region.
pub fn partition_of(region: &str) -> &'static str {
    const PREFIXES: &[(&str, &str)] = &[
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-isof-", "aws-iso-f"),
        ("us-iso-", "aws-iso"),
        ("eu-isoe-", "aws-iso-e"),
        ("eusc-", "aws-eusc"),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("aws", |&(_, partition)| partition)
}

#[derive(Debug, Clone, PartialEq)]
pub struct ValidMetricAlarm {
    pub common: AlarmCommon,
    pub config: MetricAlarmConfig,
}

#[allow(clippy::too_many_arguments)]
fn validate_common(
    name: Option<String>,
    description: Option<String>,
    actions_enabled: Option<bool>,
    ok_actions: Vec<String>,
    alarm_actions: Vec<String>,
    insufficient_data_actions: Vec<String>,
    tags: Vec<Tag>,
) -> ApiResult<AlarmCommon> {
    let name = validate_alarm_name(name, Param::root("AlarmName"))?;
    if let Some(d) = &description {
        check_len(d, 0, MAX_DESCRIPTION_LEN, Param::root("AlarmDescription"))?;
    }
    for (list, pname) in [
        (&ok_actions, "OKActions"),
        (&alarm_actions, "AlarmActions"),
        (&insufficient_data_actions, "InsufficientDataActions"),
    ] {
        validate_actions(list, Param::root(pname))?;
    }
    Ok(AlarmCommon {
        name,
        description,
        actions_enabled: actions_enabled.unwrap_or(true),
        ok_actions,
        alarm_actions,
        insufficient_data_actions,
        tags: validate_tags(tags, Param::root("Tags"))?,
    })
}

/// ≤ 5 ARNs, each 1..=1024 characters and shaped like an ARN. AWS does not
/// check that the target exists.
fn validate_actions(list: &[String], p: Param) -> ApiResult<()> {
    if list.len() > MAX_ACTIONS {
        return Err(list_constraint(
            list,
            p,
            &format!("Member must have length less than or equal to {MAX_ACTIONS}"),
        ));
    }
    for (i, arn) in list.iter().enumerate() {
        check_len(arn, 1, 1024, p.member(i))?;
        if arn.split(':').count() < 6 || !arn.starts_with("arn:") {
            return Err(invalid(format!(
                "Invalid arn syntax: {}",
                crate::param::echo(arn)
            )));
        }
    }
    Ok(())
}

fn option_error(value: &str, param: &str, supported: &str) -> ApiError {
    invalid(format!(
        "Option {} is not supported. Supported options for parameter {param} are {supported}.",
        crate::param::echo(value)
    ))
}

/// `Period` of an alarm: 10, 20, 30 or a multiple of 60.
fn validate_alarm_period(period: Option<i64>, p: Param) -> ApiResult<i64> {
    let period = period.ok_or_else(|| missing(p))?;
    if period < 1 {
        return Err(constraint(
            &period.to_string(),
            p,
            "Member must have value greater than or equal to 1",
        ));
    }
    if ![10, 20, 30].contains(&period) && period % 60 != 0 {
        return Err(invalid(format!(
            "The parameter {p} must be 10, 20, 30 or a multiple of 60."
        )));
    }
    Ok(period)
}

impl PutMetricAlarmInput {
    pub fn validate(self, now: Timestamp) -> ApiResult<ValidMetricAlarm> {
        let common = validate_common(
            self.alarm_name,
            self.alarm_description,
            self.actions_enabled,
            self.ok_actions,
            self.alarm_actions,
            self.insufficient_data_actions,
            self.tags,
        )?;
        let ep = Param::root("EvaluationPeriods");
        let n = self.evaluation_periods.ok_or_else(|| missing(ep))?;
        if n < 1 {
            return Err(constraint(
                &n.to_string(),
                ep,
                "Member must have value greater than or equal to 1",
            ));
        }
        let dp = Param::root("DatapointsToAlarm");
        let m = match self.datapoints_to_alarm {
            None => None,
            Some(m) if m < 1 => {
                return Err(constraint(
                    &m.to_string(),
                    dp,
                    "Member must have value greater than or equal to 1",
                ));
            }
            Some(m) if m > n => {
                return Err(invalid(
                    "DatapointsToAlarm must be less than or equal to EvaluationPeriods.".into(),
                ));
            }
            Some(m) => Some(m as u32),
        };
        let cp = Param::root("ComparisonOperator");
        let op_text = crate::param::required_str(self.comparison_operator, cp)?;
        let comparison_operator = ComparisonOperator::parse(&op_text)
            .ok_or_else(|| not_in_enum(&op_text, cp, &ComparisonOperator::NAMES))?;
        let threshold_metric_id = self.threshold_metric_id.filter(|s| !s.is_empty());
        // A band operator compares with the bounds of the ANOMALY_DETECTION_BAND
        // query ThresholdMetricId names, a static one with Threshold.
        let threshold = if comparison_operator.is_band() {
            let Some(band_id) = &threshold_metric_id else {
                return Err(invalid(format!(
                    "ComparisonOperator {op_text} is only supported for anomaly detection alarms: set ThresholdMetricId to the id of the ANOMALY_DETECTION_BAND query in Metrics."
                )));
            };
            if self.threshold.is_some() {
                return Err(ApiError::combination(
                    "The parameters Threshold and ThresholdMetricId are mutually exclusive and you have specified both.",
                ));
            }
            check_band_query(self.metrics.as_deref().unwrap_or_default(), band_id)?;
            0.0
        } else {
            if threshold_metric_id.is_some() {
                return Err(invalid(format!(
                    "ThresholdMetricId is only supported with the anomaly detection comparison operators (LessThanLowerOrGreaterThanUpperThreshold, LessThanLowerThreshold, GreaterThanUpperThreshold), not {op_text}."
                )));
            }
            let threshold = self
                .threshold
                .ok_or_else(|| missing(Param::root("Threshold")))?;
            crate::param::check_value(threshold, Param::root("Threshold"))?;
            threshold
        };
        let treat_missing_data = match self.treat_missing_data.as_deref() {
            None | Some("") => None,
            Some(t) => Some(TreatMissingData::parse(t).ok_or_else(|| {
                option_error(
                    t,
                    "TreatMissingData",
                    "missing, ignore, breaching and notBreaching",
                )
            })?),
        };
        let elscp = match self.evaluate_low_sample_count_percentile.as_deref() {
            None | Some("") => None,
            Some(v @ ("evaluate" | "ignore")) => Some(v.to_string()),
            Some(v) => {
                return Err(option_error(
                    v,
                    "EvaluateLowSampleCountPercentile",
                    "evaluate and ignore",
                ));
            }
        };

        let single_set = [
            (self.metric_name.is_some(), "MetricName"),
            (self.namespace.is_some(), "Namespace"),
            (self.statistic.is_some(), "Statistic"),
            (self.extended_statistic.is_some(), "ExtendedStatistic"),
            (
                self.dimensions.as_ref().is_some_and(|d| !d.is_empty()),
                "Dimensions",
            ),
            (self.period.is_some(), "Period"),
            (self.unit.is_some(), "Unit"),
        ];
        let target = match self.metrics {
            Some(metrics) if !metrics.is_empty() => {
                if let Some((_, name)) = single_set.iter().find(|(set, _)| *set) {
                    return Err(ApiError::combination(format!(
                        "The parameters Metrics and {name} are mutually exclusive: a metric math alarm is defined by Metrics alone."
                    )));
                }
                validate_math(metrics, threshold_metric_id.as_deref(), now)?
            }
            _ => {
                let namespace = validate_namespace(self.namespace, Param::root("Namespace"))?;
                let metric_name =
                    validate_metric_name(self.metric_name, Param::root("MetricName"))?;
                let id = MetricId::new(
                    namespace,
                    metric_name,
                    self.dimensions.unwrap_or_default(),
                    Param::root("Dimensions"),
                )?;
                let statistic = self.statistic.filter(|s| !s.is_empty());
                let extended = self.extended_statistic.filter(|s| !s.is_empty());
                match (&statistic, &extended) {
                    (Some(_), Some(_)) => {
                        return Err(crate::param::mutually_exclusive(
                            Param::root("Statistic"),
                            Param::root("ExtendedStatistic"),
                        ));
                    }
                    (None, None) => {
                        return Err(ApiError::new(
                            ErrorCode::MissingParameter,
                            "Exactly one of the parameters Statistic and ExtendedStatistic must be specified.",
                        ));
                    }
                    (Some(s), None) => {
                        Statistic::parse_param(s, Param::root("Statistic"))?;
                    }
                    (None, Some(e)) => {
                        Percentile::parse_param(e, Param::root("ExtendedStatistic"))?;
                    }
                }
                let unit = self.unit.filter(|s| !s.is_empty());
                if let Some(u) = &unit {
                    Unit::parse_param(u, Param::root("Unit"))?;
                }
                let period = validate_alarm_period(self.period, Param::root("Period"))?;
                MetricTarget::Single {
                    namespace: id.namespace,
                    metric_name: id.metric_name,
                    dimensions: id.dimensions,
                    statistic,
                    extended_statistic: extended,
                    period,
                    unit,
                }
            }
        };
        let mut config = MetricAlarmConfig {
            target,
            evaluation_periods: n as u32,
            datapoints_to_alarm: m,
            threshold,
            comparison_operator,
            threshold_metric_id,
            treat_missing_data,
            evaluate_low_sample_count_percentile: elscp,
            evaluation_window: None,
        };
        let range = config.period().saturating_mul(n);
        let limit = if config.period() < 3600 {
            MAX_EVALUATION_RANGE_SHORT_PERIOD_SECS
        } else {
            MAX_EVALUATION_RANGE_SECS
        };
        if range > limit {
            return Err(invalid(format!(
                "The evaluation period (Period × EvaluationPeriods = {range} seconds) is too long: the limit is {limit} seconds{}.",
                if limit == MAX_EVALUATION_RANGE_SECS {
                    ""
                } else {
                    " for periods under one hour"
                }
            )));
        }
        config.evaluation_window =
            super::window::validate(self.evaluation_window, config.period())?;
        Ok(ValidMetricAlarm { common, config })
    }
}

/// A metric-math alarm's `Metrics`: valid as GetMetricData queries, at most
/// 10, exactly one returning data, every MetricStat on the same period.
fn validate_math(
    metrics: Vec<MetricDataQueryInput>,
    band_id: Option<&str>,
    now: Timestamp,
) -> ApiResult<MetricTarget> {
    let mp = Param::root("Metrics");
    if metrics.len() > MAX_ALARM_METRICS {
        return Err(constraint(
            &format!("[{} metrics]", metrics.len()),
            mp,
            &format!("Member must have length less than or equal to {MAX_ALARM_METRICS}"),
        ));
    }
    // The band query of an anomaly alarm returns data too (as on AWS); the
    // one-returning-query rule is about the watched value.
    let returning = metrics
        .iter()
        .filter(|q| q.return_data.unwrap_or(true))
        .filter(|q| band_id.is_none_or(|b| q.id.as_deref() != Some(b)))
        .count();
    if returning != 1 {
        return Err(ApiError::new(
            ErrorCode::ValidationError,
            // AWS's words (quoted in hashicorp/terraform-provider-aws issue 29894).
            "Exactly one element of the metrics list should return data.",
        ));
    }
    let probe = GetMetricDataInput {
        metric_data_queries: metrics.clone(),
        start_time: Some(Timestamp(now.millis() - 3_600_000)),
        end_time: Some(now),
        ..GetMetricDataInput::default()
    };
    let valid = probe
        .validate(now)
        .map_err(|e| ApiError::new(e.code, e.message.replace("MetricDataQueries", "Metrics")))?;
    // A grouped Metrics Insights query makes a multi-time-series alarm: each
    // series is a contributor with its own state (see `alarm::contributor`).
    // AWS asks for GROUP BY with ORDER BY, and the query alone in the alarm.
    if let Some((i, iq)) = valid
        .queries
        .iter()
        .enumerate()
        .find_map(|(i, q)| match &q.kind {
            crate::ops::get_metric_data::QueryKind::Insights(iq)
                if !iq.query.group_by.is_empty() =>
            {
                Some((i, iq))
            }
            _ => None,
        })
    {
        let field = mp.member(i).field("Expression");
        if valid.queries.len() != 1 || band_id.is_some() {
            return Err(ApiError::new(
                ErrorCode::ValidationError,
                format!(
                    "The parameter {field} is a Metrics Insights query with GROUP BY; an alarm on several time series must have that query as its only metric."
                ),
            ));
        }
        if iq.query.order_by.is_none() {
            return Err(ApiError::new(
                ErrorCode::ValidationError,
                format!(
                    "The parameter {field} is a Metrics Insights query with GROUP BY but no ORDER BY; an alarm on several time series needs both."
                ),
            ));
        }
    }
    let mut periods = valid.queries.iter().filter_map(|q| match &q.kind {
        crate::ops::get_metric_data::QueryKind::Stat(s) => Some(s.period_secs),
        crate::ops::get_metric_data::QueryKind::Insights(q) => Some(q.period_secs),
        crate::ops::get_metric_data::QueryKind::Expression(_) => None,
    });
    let first = periods.next();
    if periods.any(|p| Some(p) != first) {
        return Err(invalid(
            "The metrics of a metric math alarm must all use the same Period.".into(),
        ));
    }
    let returned = valid
        .queries
        .iter()
        .find(|q| q.return_data && band_id.is_none_or(|b| q.id != b))
        .map(|q| q.period_secs())
        .unwrap_or(60);
    let period = first.unwrap_or(returned);
    validate_alarm_period(Some(period), mp)?;
    Ok(MetricTarget::Math { metrics, period })
}

/// An anomaly alarm's `ThresholdMetricId` must name a query of `Metrics`
/// whose expression is an `ANOMALY_DETECTION_BAND`.
fn check_band_query(metrics: &[MetricDataQueryInput], band_id: &str) -> ApiResult<()> {
    if metrics.is_empty() {
        return Err(invalid(
            "Anomaly detection alarms must be defined with Metrics: the watched metric and its ANOMALY_DETECTION_BAND."
                .to_string(),
        ));
    }
    let is_band = metrics
        .iter()
        .find(|q| q.id.as_deref() == Some(band_id))
        .and_then(|q| q.expression.as_deref())
        .is_some_and(|e| {
            e.trim_start()
                .to_ascii_uppercase()
                .starts_with("ANOMALY_DETECTION_BAND")
        });
    if !is_band {
        return Err(invalid(format!(
            "ThresholdMetricId {} must be the id of an ANOMALY_DETECTION_BAND expression in Metrics.",
            crate::param::echo(band_id)
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------- PutCompositeAlarm

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PutCompositeAlarmInput {
    pub alarm_name: Option<String>,
    pub alarm_description: Option<String>,
    pub actions_enabled: Option<bool>,
    #[serde(rename = "OKActions")]
    pub ok_actions: Vec<String>,
    pub alarm_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
    pub alarm_rule: Option<String>,
    pub tags: Vec<Tag>,
    pub actions_suppressor: Option<String>,
    pub actions_suppressor_wait_period: Option<i64>,
    pub actions_suppressor_extension_period: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ValidCompositeAlarm {
    pub common: AlarmCommon,
    pub config: CompositeConfig,
    pub rule: rule::Rule,
}

impl PutCompositeAlarmInput {
    pub fn validate(self) -> ApiResult<ValidCompositeAlarm> {
        let common = validate_common(
            self.alarm_name,
            self.alarm_description,
            self.actions_enabled,
            self.ok_actions,
            self.alarm_actions,
            self.insufficient_data_actions,
            self.tags,
        )?;
        let rp = Param::root("AlarmRule");
        let text = crate::param::required_str(self.alarm_rule, rp)?;
        check_len(&text, 1, MAX_ALARM_RULE_LEN, rp)?;
        let parsed = rule::parse(&text)?;
        let children = parsed.referenced_names();
        if children.len() > super::MAX_RULE_ALARMS {
            return Err(invalid(format!(
                "The parameter AlarmRule references {} alarms; the limit is {}.",
                children.len(),
                super::MAX_RULE_ALARMS
            )));
        }
        if children.contains(&common.name) {
            return Err(invalid(
                "The parameter AlarmRule references the alarm itself, which would create a cycle."
                    .into(),
            ));
        }
        Ok(ValidCompositeAlarm {
            config: CompositeConfig {
                alarm_rule: text,
                children,
                actions_suppressor: self.actions_suppressor.filter(|s| !s.is_empty()),
                actions_suppressor_wait_period: self.actions_suppressor_wait_period,
                actions_suppressor_extension_period: self.actions_suppressor_extension_period,
            },
            common,
            rule: parsed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        Timestamp(1_795_615_200_000)
    }

    fn put(extra: serde_json::Value) -> ApiResult<ValidMetricAlarm> {
        let mut base = json!({"AlarmName": "disk-root-50", "MetricName": "disk_used_percent",
            "Namespace": "CWAgent", "Statistic": "Average", "Period": 3600, "EvaluationPeriods": 1,
            "Threshold": 50.0, "ComparisonOperator": "GreaterThanOrEqualToThreshold"});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                base.as_object_mut().unwrap().remove(k);
            } else {
                base[k] = v.clone();
            }
        }
        serde_json::from_value::<PutMetricAlarmInput>(base)
            .unwrap()
            .validate(now())
    }

    #[test]
    fn action_arns_must_be_in_the_alarms_partition_and_region() {
        let placed = |region: &str, arn: &str| {
            put(json!({"AlarmActions": [arn]}))
                .unwrap()
                .common
                .check_action_placement(region)
        };
        for (region, arn) in [
            ("us-east-1", "arn:aws:sns:us-east-1:123456789012:alerts"),
            ("us-east-1", "arn:aws:automate:us-east-1:ec2:stop"),
            (
                "us-east-1",
                "arn:aws:ssm-incidents::123456789012:responseplan/r",
            ),
            (
                "cn-north-1",
                "arn:aws-cn:sns:cn-north-1:123456789012:alerts",
            ),
            (
                "cn-northwest-1",
                "arn:aws-cn:automate:cn-northwest-1:ec2:reboot",
            ),
            (
                "us-gov-west-1",
                "arn:aws-us-gov:sns:us-gov-west-1:123456789012:alerts",
            ),
            (
                "us-iso-east-1",
                "arn:aws-iso:sns:us-iso-east-1:123456789012:alerts",
            ),
        ] {
            assert_eq!(placed(region, arn), Ok(()), "{region} {arn}");
        }
        for (region, arn, message) in [
            (
                "us-gov-west-1",
                "arn:aws:sns:us-gov-west-1:123456789012:alerts",
                "Invalid partition aws specified. Only aws-us-gov is supported.",
            ),
            (
                "us-east-1",
                "arn:aws-cn:sns:cn-north-1:123456789012:alerts",
                "Invalid partition aws-cn specified. Only aws is supported.",
            ),
            (
                "us-west-2",
                "arn:aws:sns:ca-central-1:123456789012:alerts",
                "Invalid region ca-central-1 specified. Only us-west-2 is supported.",
            ),
        ] {
            let e = placed(region, arn).unwrap_err();
            assert_eq!(e.code, ErrorCode::ValidationError, "{arn}");
            assert_eq!(e.message, message);
        }
    }

    #[test]
    fn accepts_the_story_alarm() {
        let a = put(
            json!({"Dimensions": [{"Name": "path", "Value": "/"}, {"Name": "host", "Value": "h"}],
            "AlarmActions": ["arn:aws:sns:us-east-1:123456789012:alerts"]}),
        )
        .unwrap();
        assert!(a.common.actions_enabled);
        assert_eq!(a.config.m(), 1);
        let MetricTarget::Single { dimensions, .. } = &a.config.target else {
            panic!()
        };
        assert_eq!(dimensions[0].name, "host");
    }

    #[test]
    fn refusals_with_codes() {
        let cases = [
            (
                json!({"AlarmName": null}),
                ErrorCode::MissingParameter,
                "AlarmName",
            ),
            (
                json!({"AlarmName": "x".repeat(256)}),
                ErrorCode::ValidationError,
                "alarmName",
            ),
            (
                json!({"AlarmDescription": "d".repeat(1025)}),
                ErrorCode::ValidationError,
                "alarmDescription",
            ),
            (
                json!({"EvaluationPeriods": null}),
                ErrorCode::MissingParameter,
                "EvaluationPeriods",
            ),
            (
                json!({"EvaluationPeriods": 0}),
                ErrorCode::ValidationError,
                "evaluationPeriods",
            ),
            (
                json!({"DatapointsToAlarm": 2}),
                ErrorCode::InvalidParameterValue,
                "DatapointsToAlarm",
            ),
            (
                json!({"ComparisonOperator": "Bigger"}),
                ErrorCode::ValidationError,
                "comparisonOperator",
            ),
            (
                json!({"ComparisonOperator": "GreaterThanUpperThreshold"}),
                ErrorCode::InvalidParameterValue,
                "anomaly detection alarms",
            ),
            (
                json!({"ThresholdMetricId": "ad1"}),
                ErrorCode::InvalidParameterValue,
                "ThresholdMetricId is only supported",
            ),
            (
                json!({"Threshold": null}),
                ErrorCode::MissingParameter,
                "Threshold",
            ),
            (
                json!({"Statistic": "Mean"}),
                ErrorCode::ValidationError,
                "statistic",
            ),
            (
                json!({"ExtendedStatistic": "p99"}),
                ErrorCode::InvalidParameterCombination,
                "mutually exclusive",
            ),
            (
                json!({"Statistic": null}),
                ErrorCode::MissingParameter,
                "ExtendedStatistic",
            ),
            (
                json!({"Statistic": null, "ExtendedStatistic": "p101"}),
                ErrorCode::InvalidParameterValue,
                "The value p101 for parameter ExtendedStatistic is not supported.",
            ),
            (
                // AWS's words exactly (issue 16).
                json!({"Statistic": null, "ExtendedStatistic": "90"}),
                ErrorCode::InvalidParameterValue,
                "The value 90 for parameter ExtendedStatistic is not supported.",
            ),
            (
                json!({"Period": 45}),
                ErrorCode::InvalidParameterValue,
                "Period",
            ),
            (json!({"Period": 0}), ErrorCode::ValidationError, "period"),
            (
                json!({"Period": 60, "EvaluationPeriods": 1441}),
                ErrorCode::InvalidParameterValue,
                "too long",
            ),
            (
                json!({"TreatMissingData": "sometimes"}),
                ErrorCode::InvalidParameterValue,
                "Option sometimes is not supported",
            ),
            (
                json!({"EvaluateLowSampleCountPercentile": "x"}),
                ErrorCode::InvalidParameterValue,
                "EvaluateLowSampleCountPercentile",
            ),
            (
                json!({"Unit": "Parsecs"}),
                ErrorCode::ValidationError,
                "unit",
            ),
            (
                json!({"Namespace": null}),
                ErrorCode::MissingParameter,
                "Namespace",
            ),
            (
                json!({"AlarmActions": ["a", "b", "c", "d", "e", "f"]}),
                ErrorCode::ValidationError,
                "alarmActions",
            ),
            (
                json!({"OKActions": ["not-an-arn"]}),
                ErrorCode::InvalidParameterValue,
                "Invalid arn",
            ),
            (
                json!({"Metrics": [{"Id": "m1", "Expression": "1"}]}),
                ErrorCode::InvalidParameterCombination,
                "Metrics and MetricName",
            ),
            (
                json!({"Tags": [{"Key": "", "Value": "v"}]}),
                ErrorCode::MissingParameter,
                "Tags.member.1.Key",
            ),
            (
                json!({"AlarmName": "disk\r\nBcc: x"}),
                ErrorCode::ValidationError,
                "Value 'disk\\r\\nBcc: x' at 'alarmName' failed to satisfy constraint: Member must not contain ASCII control characters",
            ),
            (
                json!({"AlarmName": "tab\there"}),
                ErrorCode::ValidationError,
                "alarmName",
            ),
            (
                json!({"AlarmName": "del\u{7f}"}),
                ErrorCode::ValidationError,
                "alarmName",
            ),
            (
                json!({"EvaluationWindow": {"SlidingWindow": {}, "WallClockWindow": {}}}),
                ErrorCode::InvalidParameterCombination,
                "EvaluationWindow.SlidingWindow and EvaluationWindow.WallClockWindow",
            ),
            (
                json!({"EvaluationWindow": {}}),
                ErrorCode::InvalidParameterValue,
                "exactly one",
            ),
            (
                json!({"Period": 120, "EvaluationWindow": {"WallClockWindow": {}}}),
                ErrorCode::InvalidParameterValue,
                "Period",
            ),
            (
                json!({"EvaluationWindow": {"WallClockWindow": {"Timezone": "+05:31"}}}),
                ErrorCode::InvalidParameterValue,
                "multiple of 5 minutes",
            ),
            (
                json!({"EvaluationWindow": {"WallClockWindow": {"Timezone": "x".repeat(51)}}}),
                ErrorCode::ValidationError,
                "evaluationWindow.wallClockWindow.timezone",
            ),
        ];
        for (extra, code, frag) in cases {
            let e = put(extra.clone()).unwrap_err();
            assert_eq!(e.code, code, "{extra}: {}", e.message);
            assert!(
                e.message.contains(frag),
                "{extra}: {} lacks {frag}",
                e.message
            );
        }
    }

    #[test]
    fn evaluation_window_is_stored_as_given() {
        use crate::alarm::window::EvaluationWindow;
        assert_eq!(put(json!({})).unwrap().config.evaluation_window, None);
        let a = put(json!({"EvaluationWindow": {"SlidingWindow": {}}})).unwrap();
        assert_eq!(a.config.evaluation_window, Some(EvaluationWindow::Sliding));
        let a = put(json!({"Period": 86400,
            "EvaluationWindow": {"WallClockWindow": {"Timezone": "America/New_York"}}}))
        .unwrap();
        assert_eq!(
            a.config.evaluation_window,
            Some(EvaluationWindow::WallClock {
                timezone: Some("America/New_York".into())
            })
        );
    }

    #[test]
    fn composite_names_refuse_line_breaks() {
        let e = serde_json::from_value::<PutCompositeAlarmInput>(
            json!({"AlarmName": "c\nd", "AlarmRule": "ALARM(a)"}),
        )
        .unwrap()
        .validate()
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationError);
        assert!(
            e.message.contains("ASCII control characters"),
            "{}",
            e.message
        );
    }

    #[test]
    fn math_alarms() {
        let single_off =
            json!({"MetricName": null, "Namespace": null, "Statistic": null, "Period": null});
        let mut v = single_off.clone();
        v["Metrics"] = json!([
            {"Id": "m1", "MetricStat": {"Metric": {"Namespace": "ns", "MetricName": "a"}, "Period": 60, "Stat": "Sum"}, "ReturnData": false},
            {"Id": "e1", "Expression": "m1 * 2"}
        ]);
        let a = put(v).unwrap();
        assert!(matches!(
            a.config.target,
            MetricTarget::Math { period: 60, .. }
        ));
        let mut v = single_off.clone();
        v["Metrics"] = json!([
            {"Id": "m1", "MetricStat": {"Metric": {"Namespace": "ns", "MetricName": "a"}, "Period": 60, "Stat": "Sum"}},
            {"Id": "e1", "Expression": "m1 * 2"}
        ]);
        let e = put(v).unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationError);
        assert_eq!(
            e.message,
            "Exactly one element of the metrics list should return data."
        );
        let mut v = single_off;
        v["Metrics"] = json!([{"Id": "e1", "Expression": "m9 * 2"}]);
        assert_eq!(put(v).unwrap_err().code, ErrorCode::ValidationError);
    }

    #[test]
    fn composite_validation() {
        let c = |rule: &str| {
            serde_json::from_value::<PutCompositeAlarmInput>(
                json!({"AlarmName": "c", "AlarmRule": rule}),
            )
            .unwrap()
            .validate()
        };
        let ok = c("ALARM(\"a\") AND NOT OK(arn:aws:cloudwatch:us-east-1:123456789012:alarm:b)")
            .unwrap();
        assert_eq!(ok.config.children, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(
            c("ALARM(c)").unwrap_err().code,
            ErrorCode::InvalidParameterValue
        );
        assert_eq!(
            c("ALARM(a) AND").unwrap_err().code,
            ErrorCode::InvalidParameterValue
        );
        assert_eq!(c("").unwrap_err().code, ErrorCode::MissingParameter);
    }
}
