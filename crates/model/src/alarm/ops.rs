//! Inputs, validation and outputs of the alarm operations other than the two
//! Puts: DescribeAlarms, DescribeAlarmsForMetric, DeleteAlarms, SetAlarmState,
//! Enable/DisableAlarmActions, DescribeAlarmHistory and the tag operations.

use super::record::HistoryItemType;
use super::{
    AlarmType, ComparisonOperator, MAX_ALARM_NAME_LEN, MAX_ALARM_NAMES, MAX_RECORDS,
    MAX_STATE_REASON_DATA_LEN, MAX_STATE_REASON_LEN, MAX_TAG_KEY_LEN, MAX_TAG_VALUE_LEN, MAX_TAGS,
    StateValue, TreatMissingData,
};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::metric::{Dimension, validate_metric_name, validate_namespace};
use crate::ops::get_metric_data::MetricDataQueryInput;
use crate::param::{
    Param, check_len, constraint, list_constraint, missing, mutually_exclusive, not_in_enum,
    required_str,
};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------- outputs

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricAlarmOutput {
    pub alarm_name: String,
    pub alarm_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm_description: Option<String>,
    pub alarm_configuration_updated_timestamp: Timestamp,
    pub actions_enabled: bool,
    #[serde(rename = "OKActions")]
    pub ok_actions: Vec<String>,
    pub alarm_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
    pub state_value: StateValue,
    pub state_reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason_data: Option<String>,
    pub state_updated_timestamp: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended_statistic: Option<String>,
    pub dimensions: Vec<Dimension>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub evaluation_periods: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datapoints_to_alarm: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold_metric_id: Option<String>,
    pub comparison_operator: ComparisonOperator,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub treat_missing_data: Option<TreatMissingData>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluate_low_sample_count_percentile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Vec<MetricDataQueryInput>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluation_window: Option<super::window::EvaluationWindowInput>,
    pub state_transitioned_timestamp: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CompositeAlarmOutput {
    pub actions_enabled: bool,
    pub alarm_actions: Vec<String>,
    pub alarm_arn: String,
    pub alarm_configuration_updated_timestamp: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm_description: Option<String>,
    pub alarm_name: String,
    pub alarm_rule: String,
    pub insufficient_data_actions: Vec<String>,
    #[serde(rename = "OKActions")]
    pub ok_actions: Vec<String>,
    pub state_reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason_data: Option<String>,
    pub state_updated_timestamp: Timestamp,
    pub state_value: StateValue,
    pub state_transitioned_timestamp: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actions_suppressor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actions_suppressor_wait_period: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actions_suppressor_extension_period: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAlarmsOutput {
    pub metric_alarms: Vec<MetricAlarmOutput>,
    pub composite_alarms: Vec<CompositeAlarmOutput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAlarmsForMetricOutput {
    pub metric_alarms: Vec<MetricAlarmOutput>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AlarmHistoryItem {
    pub alarm_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm_contributor_id: Option<String>,
    pub alarm_type: AlarmType,
    pub timestamp: Timestamp,
    pub history_item_type: HistoryItemType,
    pub history_summary: String,
    pub history_data: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm_contributor_attributes: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAlarmHistoryOutput {
    pub alarm_history_items: Vec<AlarmHistoryItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

// ---------------------------------------------------------------- shared checks

/// `AlarmName`: required, 1..=255 characters, no ASCII control characters.
pub fn validate_alarm_name(name: Option<String>, p: Param) -> ApiResult<String> {
    let name = required_str(name, p)?;
    check_len(&name, 1, MAX_ALARM_NAME_LEN, p)?;
    crate::param::check_no_control_chars(&name, p)?;
    crate::param::check_xml_chars(&name, p)?;
    Ok(name)
}

/// A list of alarm names of at most 100 entries, each 1..=255.
fn validate_names(names: &[String], p: Param) -> ApiResult<()> {
    if names.len() > MAX_ALARM_NAMES {
        return Err(list_constraint(
            names,
            p,
            &format!("Member must have length less than or equal to {MAX_ALARM_NAMES}"),
        ));
    }
    for (i, n) in names.iter().enumerate() {
        check_len(n, 1, MAX_ALARM_NAME_LEN, p.member(i))?;
    }
    Ok(())
}

fn validate_max_records(v: Option<i64>, default: i64) -> ApiResult<usize> {
    let p = Param::root("MaxRecords");
    match v {
        None => Ok(default as usize),
        Some(n) if n < 1 => Err(constraint(
            &n.to_string(),
            p,
            "Member must have value greater than or equal to 1",
        )),
        Some(n) if n > MAX_RECORDS => Err(constraint(
            &n.to_string(),
            p,
            &format!("Member must have value less than or equal to {MAX_RECORDS}"),
        )),
        Some(n) => Ok(n as usize),
    }
}

const TOKEN_PREFIX: &str = "sa1-";

/// An opaque paging token carrying the last key of the previous page.
pub fn encode_token(last_key: &str) -> String {
    let mut s = String::from(TOKEN_PREFIX);
    for b in last_key.bytes() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// A paging token this server did not hand out.
pub fn invalid_next_token() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidNextToken,
        "The service returned an invalid NextToken.",
    )
}

/// The key inside a token from [`encode_token`]; anything else is `InvalidNextToken`.
pub fn decode_token(token: &str) -> ApiResult<String> {
    let bad = invalid_next_token;
    let hex = token.strip_prefix(TOKEN_PREFIX).ok_or_else(bad)?;
    if hex.len() % 2 != 0 {
        return Err(bad());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| bad())?;
    String::from_utf8(bytes).map_err(|_| bad())
}

// ---------------------------------------------------------------- DescribeAlarms

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeAlarmsInput {
    pub alarm_names: Vec<String>,
    pub alarm_name_prefix: Option<String>,
    pub alarm_types: Vec<String>,
    pub children_of_alarm_name: Option<String>,
    pub parents_of_alarm_name: Option<String>,
    pub state_value: Option<String>,
    pub action_prefix: Option<String>,
    pub max_records: Option<i64>,
    pub next_token: Option<String>,
}

/// Which relation filter DescribeAlarms applies, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relation {
    ChildrenOf(String),
    ParentsOf(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct DescribeAlarmsQuery {
    pub names: Vec<String>,
    pub name_prefix: Option<String>,
    pub metric: bool,
    pub composite: bool,
    pub relation: Option<Relation>,
    pub state: Option<StateValue>,
    pub action_prefix: Option<String>,
    pub max_records: usize,
    /// Names strictly after this one.
    pub after: Option<String>,
}

impl DescribeAlarmsInput {
    pub fn validate(self) -> ApiResult<DescribeAlarmsQuery> {
        validate_names(&self.alarm_names, Param::root("AlarmNames"))?;
        let name_prefix = self.alarm_name_prefix.filter(|s| !s.is_empty());
        if let Some(pfx) = &name_prefix {
            check_len(pfx, 1, MAX_ALARM_NAME_LEN, Param::root("AlarmNamePrefix"))?;
            if !self.alarm_names.is_empty() {
                return Err(mutually_exclusive(
                    Param::root("AlarmNames"),
                    Param::root("AlarmNamePrefix"),
                ));
            }
        }
        let (mut metric, mut composite) = (self.alarm_types.is_empty(), false);
        for (i, t) in self.alarm_types.iter().enumerate() {
            match t.as_str() {
                "MetricAlarm" => metric = true,
                "CompositeAlarm" => composite = true,
                "LogAlarm" => {}
                other => {
                    return Err(not_in_enum(
                        other,
                        Param::root("AlarmTypes").member(i),
                        &AlarmType::NAMES,
                    ));
                }
            }
        }
        let state = self
            .state_value
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| StateValue::parse_param(s, Param::root("StateValue")))
            .transpose()?;
        let action_prefix = self.action_prefix.filter(|s| !s.is_empty());
        if let Some(a) = &action_prefix {
            check_len(a, 1, 1024, Param::root("ActionPrefix"))?;
        }
        let children = self.children_of_alarm_name.filter(|s| !s.is_empty());
        let parents = self.parents_of_alarm_name.filter(|s| !s.is_empty());
        let relation = match (children, parents) {
            (Some(_), Some(_)) => {
                return Err(mutually_exclusive(
                    Param::root("ChildrenOfAlarmName"),
                    Param::root("ParentsOfAlarmName"),
                ));
            }
            (Some(c), None) => Some((Relation::ChildrenOf(c), "ChildrenOfAlarmName")),
            (None, Some(p)) => Some((Relation::ParentsOf(p), "ParentsOfAlarmName")),
            (None, None) => None,
        };
        let relation = match relation {
            None => None,
            Some((r, pname)) => {
                let other = [
                    (!self.alarm_names.is_empty(), "AlarmNames"),
                    (name_prefix.is_some(), "AlarmNamePrefix"),
                    (state.is_some(), "StateValue"),
                    (action_prefix.is_some(), "ActionPrefix"),
                    (!self.alarm_types.is_empty(), "AlarmTypes"),
                ]
                .into_iter()
                .find(|(set, _)| *set);
                if let Some((_, o)) = other {
                    return Err(ApiError::new(
                        ErrorCode::InvalidParameterCombination,
                        format!(
                            "The parameter {pname} cannot be used with {o}: it can only be combined with MaxRecords and NextToken."
                        ),
                    ));
                }
                // Relations return both kinds of alarm.
                metric = true;
                composite = true;
                Some(r)
            }
        };
        let max_records = validate_max_records(self.max_records, super::DEFAULT_DESCRIBE_RECORDS)?;
        let after = self
            .next_token
            .filter(|t| !t.is_empty())
            .map(|t| decode_token(&t))
            .transpose()?;
        Ok(DescribeAlarmsQuery {
            names: self.alarm_names,
            name_prefix,
            metric,
            composite,
            relation,
            state,
            action_prefix,
            max_records,
            after,
        })
    }
}

// ---------------------------------------------------------------- DescribeAlarmsForMetric

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeAlarmsForMetricInput {
    pub metric_name: Option<String>,
    pub namespace: Option<String>,
    pub statistic: Option<String>,
    pub extended_statistic: Option<String>,
    pub dimensions: Option<Vec<Dimension>>,
    pub period: Option<i64>,
    pub unit: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AlarmsForMetricQuery {
    pub metric_name: String,
    pub namespace: String,
    pub statistic: Option<String>,
    pub extended_statistic: Option<String>,
    /// Sorted by name; `None` = any dimensions.
    pub dimensions: Option<Vec<Dimension>>,
    pub period: Option<i64>,
    pub unit: Option<String>,
}

impl DescribeAlarmsForMetricInput {
    pub fn validate(self) -> ApiResult<AlarmsForMetricQuery> {
        let metric_name = validate_metric_name(self.metric_name, Param::root("MetricName"))?;
        let namespace = validate_namespace(self.namespace, Param::root("Namespace"))?;
        if let Some(s) = self.statistic.as_deref().filter(|s| !s.is_empty()) {
            crate::statistic::Statistic::parse_param(s, Param::root("Statistic"))?;
        }
        let dimensions = match self.dimensions {
            None => None,
            Some(d) => Some(
                crate::metric::MetricId::new(
                    namespace.clone(),
                    metric_name.clone(),
                    d,
                    Param::root("Dimensions"),
                )?
                .dimensions,
            ),
        };
        if let Some(u) = self.unit.as_deref().filter(|s| !s.is_empty()) {
            crate::unit::Unit::parse_param(u, Param::root("Unit"))?;
        }
        // As PutMetricAlarm: one of the two, each valid for its kind.
        let statistic = self.statistic.filter(|s| !s.is_empty());
        let extended_statistic = self.extended_statistic.filter(|s| !s.is_empty());
        if statistic.is_some() && extended_statistic.is_some() {
            return Err(crate::param::mutually_exclusive(
                Param::root("Statistic"),
                Param::root("ExtendedStatistic"),
            ));
        }
        if let Some(e) = &extended_statistic {
            crate::statistic::Percentile::parse_param(e, Param::root("ExtendedStatistic"))?;
        }
        // The model's `Period` shape: min 1.
        if let Some(p) = self.period.filter(|p| *p < 1) {
            return Err(constraint(
                &p.to_string(),
                Param::root("Period"),
                "Member must have value greater than or equal to 1",
            ));
        }
        Ok(AlarmsForMetricQuery {
            metric_name,
            namespace,
            statistic,
            extended_statistic,
            dimensions,
            period: self.period,
            unit: self.unit.filter(|s| !s.is_empty()),
        })
    }
}

impl AlarmsForMetricQuery {
    /// Whether a single-metric alarm with these settings matches.
    #[allow(clippy::too_many_arguments)]
    pub fn matches(
        &self,
        namespace: &str,
        metric_name: &str,
        dimensions: &[Dimension],
        statistic: Option<&str>,
        extended_statistic: Option<&str>,
        period: i64,
        unit: Option<&str>,
    ) -> bool {
        namespace == self.namespace
            && metric_name == self.metric_name
            && self.dimensions.as_deref().is_none_or(|d| d == dimensions)
            && self
                .statistic
                .as_deref()
                .is_none_or(|s| Some(s) == statistic)
            && self
                .extended_statistic
                .as_deref()
                .is_none_or(|s| Some(s) == extended_statistic)
            && self.period.is_none_or(|p| p == period)
            && self.unit.as_deref().is_none_or(|u| Some(u) == unit)
    }
}

// ---------------------------------------------------------------- names-only operations

/// DeleteAlarms, EnableAlarmActions, DisableAlarmActions.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AlarmNamesInput {
    pub alarm_names: Option<Vec<String>>,
}

impl AlarmNamesInput {
    pub fn validate(self) -> ApiResult<Vec<String>> {
        let p = Param::root("AlarmNames");
        let names = self.alarm_names.ok_or_else(|| missing(p))?;
        validate_names(&names, p)?;
        Ok(names)
    }
}

// ---------------------------------------------------------------- SetAlarmState

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SetAlarmStateInput {
    pub alarm_name: Option<String>,
    pub state_value: Option<String>,
    pub state_reason: Option<String>,
    pub state_reason_data: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SetAlarmState {
    pub alarm_name: String,
    pub state: StateValue,
    pub reason: String,
    pub reason_data: Option<String>,
}

impl SetAlarmStateInput {
    pub fn validate(self) -> ApiResult<SetAlarmState> {
        let alarm_name = validate_alarm_name(self.alarm_name, Param::root("AlarmName"))?;
        let sp = Param::root("StateValue");
        let state = StateValue::parse_param(&required_str(self.state_value, sp)?, sp)?;
        let rp = Param::root("StateReason");
        let reason = self.state_reason.ok_or_else(|| missing(rp))?;
        check_len(&reason, 0, MAX_STATE_REASON_LEN, rp)?;
        let reason_data = self.state_reason_data.filter(|s| !s.is_empty());
        if let Some(d) = &reason_data {
            let dp = Param::root("StateReasonData");
            check_len(d, 0, MAX_STATE_REASON_DATA_LEN, dp)?;
            if serde_json::from_str::<serde_json::Value>(d).is_err() {
                return Err(ApiError::new(
                    ErrorCode::InvalidFormat,
                    "Invalid JSON in StateReasonData.",
                ));
            }
        }
        Ok(SetAlarmState {
            alarm_name,
            state,
            reason,
            reason_data,
        })
    }
}

// ---------------------------------------------------------------- DescribeAlarmHistory

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeAlarmHistoryInput {
    pub alarm_name: Option<String>,
    pub alarm_contributor_id: Option<String>,
    pub alarm_types: Vec<String>,
    pub history_item_type: Option<String>,
    pub start_date: Option<Timestamp>,
    pub end_date: Option<Timestamp>,
    pub max_records: Option<i64>,
    pub next_token: Option<String>,
    pub scan_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HistoryQuery {
    pub alarm_name: Option<String>,
    /// Only this contributor's items.
    pub contributor_id: Option<String>,
    pub metric: bool,
    pub composite: bool,
    pub item_type: Option<HistoryItemType>,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub max_records: usize,
    /// Items strictly after this storage key (in scan order).
    pub after: Option<String>,
    pub ascending: bool,
}

impl HistoryQuery {
    /// Whether the query can match anything at all.
    pub fn matches_nothing(&self) -> bool {
        !self.metric && !self.composite
    }
}

/// `ContributorId`: 1..=16 characters.
const MAX_CONTRIBUTOR_ID_LEN: usize = 16;

impl DescribeAlarmHistoryInput {
    pub fn validate(self) -> ApiResult<HistoryQuery> {
        let alarm_name = match self.alarm_name.filter(|s| !s.is_empty()) {
            None => None,
            Some(n) => Some(validate_alarm_name(Some(n), Param::root("AlarmName"))?),
        };
        let contributor_id = match self.alarm_contributor_id {
            None => None,
            Some(id) => {
                check_len(
                    &id,
                    1,
                    MAX_CONTRIBUTOR_ID_LEN,
                    Param::root("AlarmContributorId"),
                )?;
                Some(id)
            }
        };
        // AWS: "If you omit this parameter, only metric alarms are returned."
        let (mut metric, mut composite) = (self.alarm_types.is_empty(), false);
        for (i, t) in self.alarm_types.iter().enumerate() {
            match t.as_str() {
                "MetricAlarm" => metric = true,
                "CompositeAlarm" => composite = true,
                "LogAlarm" => {}
                other => {
                    return Err(not_in_enum(
                        other,
                        Param::root("AlarmTypes").member(i),
                        &AlarmType::NAMES,
                    ));
                }
            }
        }
        let item_type = match self.history_item_type.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(t) => Some(HistoryItemType::parse(t).ok_or_else(|| {
                not_in_enum(t, Param::root("HistoryItemType"), &HistoryItemType::NAMES)
            })?),
        };
        if let (Some(s), Some(e)) = (self.start_date, self.end_date)
            && s > e
        {
            return Err(ApiError::invalid_value(
                "The parameter StartDate must be less than the parameter EndDate.",
            ));
        }
        let ascending = match self.scan_by.as_deref() {
            None | Some("") | Some("TimestampDescending") => false,
            Some("TimestampAscending") => true,
            Some(other) => {
                return Err(not_in_enum(
                    other,
                    Param::root("ScanBy"),
                    &["TimestampDescending", "TimestampAscending"],
                ));
            }
        };
        let max_records = validate_max_records(self.max_records, super::DEFAULT_HISTORY_RECORDS)?;
        let after = self
            .next_token
            .filter(|t| !t.is_empty())
            .map(|t| decode_token(&t))
            .transpose()?;
        // Contributors belong to metric alarms only.
        if contributor_id.is_some() {
            composite = false;
        }
        Ok(HistoryQuery {
            alarm_name,
            contributor_id,
            metric,
            composite,
            item_type,
            start: self.start_date,
            end: self.end_date,
            max_records,
            after,
            ascending,
        })
    }
}

// ---------------------------------------------------------------- tags

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Tag {
    pub key: Option<String>,
    pub value: Option<String>,
}

/// Validates a `Tags` list found at `p` into (key, value) pairs.
pub fn validate_tags(tags: Vec<Tag>, p: Param) -> ApiResult<Vec<(String, String)>> {
    if tags.len() > MAX_TAGS {
        let keys: Vec<String> = tags
            .iter()
            .map(|t| t.key.clone().unwrap_or_default())
            .collect();
        return Err(list_constraint(
            &keys,
            p,
            &format!("Member must have length less than or equal to {MAX_TAGS}"),
        ));
    }
    let mut out = Vec::with_capacity(tags.len());
    for (i, t) in tags.into_iter().enumerate() {
        let key = required_str(t.key, p.member(i).field("Key"))?;
        check_len(&key, 1, MAX_TAG_KEY_LEN, p.member(i).field("Key"))?;
        let value = t.value.ok_or_else(|| missing(p.member(i).field("Value")))?;
        check_len(&value, 0, MAX_TAG_VALUE_LEN, p.member(i).field("Value"))?;
        out.push((key, value));
    }
    Ok(out)
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TagResourceInput {
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
    pub tags: Option<Vec<Tag>>,
}

impl TagResourceInput {
    pub fn validate(self) -> ApiResult<(String, Vec<(String, String)>)> {
        let arn = required_str(self.resource_arn, Param::root("ResourceARN"))?;
        check_len(&arn, 1, 1024, Param::root("ResourceARN"))?;
        let tags = self.tags.ok_or_else(|| missing(Param::root("Tags")))?;
        Ok((arn, validate_tags(tags, Param::root("Tags"))?))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UntagResourceInput {
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
    pub tag_keys: Option<Vec<String>>,
}

impl UntagResourceInput {
    pub fn validate(self) -> ApiResult<(String, Vec<String>)> {
        let arn = required_str(self.resource_arn, Param::root("ResourceARN"))?;
        check_len(&arn, 1, 1024, Param::root("ResourceARN"))?;
        let kp = Param::root("TagKeys");
        let keys = self.tag_keys.ok_or_else(|| missing(kp))?;
        for (i, k) in keys.iter().enumerate() {
            check_len(k, 1, MAX_TAG_KEY_LEN, kp.member(i))?;
        }
        Ok((arn, keys))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListTagsForResourceInput {
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
}

impl ListTagsForResourceInput {
    pub fn validate(self) -> ApiResult<String> {
        let arn = required_str(self.resource_arn, Param::root("ResourceARN"))?;
        check_len(&arn, 1, 1024, Param::root("ResourceARN"))?;
        Ok(arn)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForResourceOutput {
    pub tags: Vec<Tag>,
}

/// `ResourceNotFoundException` for a tag operation on an unknown resource.
pub fn resource_not_found(arn: &str) -> ApiError {
    ApiError::new(
        ErrorCode::ResourceNotFoundException,
        format!("The specified resource does not exist: {arn}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn describe(v: serde_json::Value) -> ApiResult<DescribeAlarmsQuery> {
        serde_json::from_value::<DescribeAlarmsInput>(v)
            .unwrap()
            .validate()
    }

    #[test]
    fn describe_validation() {
        let q = describe(json!({})).unwrap();
        assert!(q.metric && !q.composite);
        assert_eq!(q.max_records, 50);
        let q = describe(json!({"AlarmTypes": ["CompositeAlarm"]})).unwrap();
        assert!(!q.metric && q.composite);
        let cases = [
            (
                json!({"AlarmNames": ["a"], "AlarmNamePrefix": "b"}),
                ErrorCode::InvalidParameterCombination,
            ),
            (
                json!({"ChildrenOfAlarmName": "a", "StateValue": "OK"}),
                ErrorCode::InvalidParameterCombination,
            ),
            (
                json!({"ChildrenOfAlarmName": "a", "ParentsOfAlarmName": "b"}),
                ErrorCode::InvalidParameterCombination,
            ),
            (json!({"StateValue": "BAD"}), ErrorCode::ValidationError),
            (json!({"AlarmTypes": ["Nope"]}), ErrorCode::ValidationError),
            (json!({"MaxRecords": 0}), ErrorCode::ValidationError),
            (json!({"MaxRecords": 101}), ErrorCode::ValidationError),
            (json!({"NextToken": "garbage"}), ErrorCode::InvalidNextToken),
            (json!({"NextToken": "sa1-zz"}), ErrorCode::InvalidNextToken),
        ];
        for (v, code) in cases {
            assert_eq!(describe(v.clone()).unwrap_err().code, code, "{v}");
        }
        let names: Vec<String> = (0..101).map(|i| format!("a{i}")).collect();
        assert_eq!(
            describe(json!({ "AlarmNames": names })).unwrap_err().code,
            ErrorCode::ValidationError
        );
    }

    fn history(v: serde_json::Value) -> ApiResult<HistoryQuery> {
        serde_json::from_value::<DescribeAlarmHistoryInput>(v)
            .unwrap()
            .validate()
    }

    #[test]
    fn history_validation() {
        // AWS: without AlarmTypes, metric alarms only.
        let q = history(json!({})).unwrap();
        assert!(q.metric && !q.composite && !q.ascending);
        assert_eq!(q.max_records, 100);
        let q = history(json!({"AlarmTypes": ["CompositeAlarm"], "ScanBy": "TimestampAscending"}))
            .unwrap();
        assert!(!q.metric && q.composite && q.ascending);
        assert!(
            history(json!({"AlarmTypes": ["LogAlarm"]}))
                .unwrap()
                .matches_nothing()
        );
        // Contributor filters: items of metric alarms' contributors only.
        let q = history(
            json!({"AlarmContributorId": "c1", "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]}),
        )
        .unwrap();
        assert_eq!(q.contributor_id.as_deref(), Some("c1"));
        assert!(q.metric && !q.composite);
        for (t, want) in [
            (
                "AlarmContributorStateUpdate",
                HistoryItemType::AlarmContributorStateUpdate,
            ),
            (
                "AlarmContributorAction",
                HistoryItemType::AlarmContributorAction,
            ),
        ] {
            let q = history(json!({ "HistoryItemType": t })).unwrap();
            assert_eq!(q.item_type, Some(want));
        }
        // ...but the rest of such a request is still validated.
        let e = history(json!({"HistoryItemType": "AlarmContributorAction", "MaxRecords": 0}))
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationError);
        let e = history(json!({"AlarmContributorId": "x".repeat(17)})).unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "1 validation error detected: Value '{}' at 'alarmContributorId' failed to satisfy \
                 constraint: Member must have length less than or equal to 16",
                "x".repeat(17)
            )
        );
        for (v, code) in [
            (json!({"MaxRecords": 101}), ErrorCode::ValidationError),
            (json!({"ScanBy": "Up"}), ErrorCode::ValidationError),
            (
                json!({"HistoryItemType": "Nope"}),
                ErrorCode::ValidationError,
            ),
            (json!({"NextToken": "bogus"}), ErrorCode::InvalidNextToken),
            (
                json!({"StartDate": 20.0, "EndDate": 10.0}),
                ErrorCode::InvalidParameterValue,
            ),
        ] {
            assert_eq!(history(v.clone()).unwrap_err().code, code, "{v}");
        }
    }

    #[test]
    fn alarms_for_metric_validation() {
        let q = |v: serde_json::Value| {
            serde_json::from_value::<DescribeAlarmsForMetricInput>(v)
                .unwrap()
                .validate()
        };
        let ok = q(json!({"MetricName": "m", "Namespace": "n", "ExtendedStatistic": "p99",
            "Period": 60, "Dimensions": [{"Name": "b", "Value": "2"}, {"Name": "a", "Value": "1"}]}))
        .unwrap();
        // Dimensions compare as a set: kept sorted by name.
        let names: Vec<_> = ok.dimensions.unwrap().into_iter().map(|d| d.name).collect();
        assert_eq!(names, ["a", "b"]);
        for (v, code) in [
            (json!({"Namespace": "n"}), None),
            (json!({"MetricName": "m"}), None),
            (
                json!({"MetricName": "m", "Namespace": "n", "Statistic": "Sum", "ExtendedStatistic": "p99"}),
                Some(ErrorCode::InvalidParameterCombination),
            ),
            (
                json!({"MetricName": "m", "Namespace": "n", "Period": 0}),
                Some(ErrorCode::ValidationError),
            ),
            (
                json!({"MetricName": "m", "Namespace": "n", "Statistic": "Median"}),
                Some(ErrorCode::ValidationError),
            ),
            (
                json!({"MetricName": "m", "Namespace": "n", "ExtendedStatistic": "p101"}),
                None,
            ),
        ] {
            let e = q(v.clone()).unwrap_err();
            if let Some(c) = code {
                assert_eq!(e.code, c, "{v}");
            }
        }
    }

    #[test]
    fn tokens_round_trip() {
        for k in ["", "abc", "ünï/\"x"] {
            assert_eq!(decode_token(&encode_token(k)).unwrap(), k);
        }
    }

    #[test]
    fn set_alarm_state_validation() {
        let v = |j: serde_json::Value| {
            serde_json::from_value::<SetAlarmStateInput>(j)
                .unwrap()
                .validate()
        };
        let e =
            v(json!({"AlarmName": "a", "StateValue": "INVALID", "StateReason": "r"})).unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationError);
        assert_eq!(
            e.message,
            "1 validation error detected: Value 'INVALID' at 'stateValue' failed to satisfy constraint: Member must satisfy enum value set: [INSUFFICIENT_DATA, ALARM, OK]"
        );
        let e = v(json!({"AlarmName": "a", "StateValue": "OK", "StateReason": "r", "StateReasonData": "{nope"})).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidFormat);
        assert_eq!(
            v(json!({"AlarmName": "a", "StateValue": "OK"}))
                .unwrap_err()
                .code,
            ErrorCode::MissingParameter
        );
        let ok = v(json!({"AlarmName": "a", "StateValue": "ALARM", "StateReason": "", "StateReasonData": "{\"a\":1}"})).unwrap();
        assert_eq!(ok.state, StateValue::Alarm);
    }

    #[test]
    fn tags_validation() {
        let t = |k: &str, v: &str| Tag {
            key: Some(k.into()),
            value: Some(v.into()),
        };
        assert!(validate_tags(vec![t("a", "")], Param::root("Tags")).is_ok());
        let e = validate_tags(vec![t(&"k".repeat(129), "v")], Param::root("Tags")).unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationError);
        let many: Vec<Tag> = (0..51).map(|i| t(&format!("k{i}"), "v")).collect();
        assert_eq!(
            validate_tags(many, Param::root("Tags")).unwrap_err().code,
            ErrorCode::ValidationError
        );
    }
}
