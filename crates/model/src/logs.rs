//! CloudWatch Logs (`Logs_20140328`, awsJson1_1): operation inputs and
//! outputs, name and limit validation, AWS's error texts. Pure, like the
//! rest of `model`: the server's `logs` actions call into the log store.
//!
//! Field names are the API's own (camelCase), so `proto::from_document` and
//! `to_document` carry them without renaming tables.

use crate::error::{ApiError, ApiResult, ErrorCode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// PutLogEvents: at most this many events per call.
pub const MAX_BATCH_EVENTS: usize = 10_000;
/// PutLogEvents: message bytes plus [`EVENT_OVERHEAD`] per event.
pub const MAX_BATCH_BYTES: usize = 1_048_576;
/// What AWS counts per event beside its message.
pub const EVENT_OVERHEAD: usize = 26;
/// A single event: message bytes + overhead (AWS raised it from 256 KiB to 1 MB).
pub const MAX_EVENT_BYTES: usize = 1_048_576;
/// A batch may not span more than this (ms).
pub const MAX_BATCH_SPAN_MS: i64 = 24 * 3600 * 1000;
/// Events older than this are "too old" (AWS: 14 days).
pub const MAX_EVENT_AGE_MS: i64 = 14 * 24 * 3600 * 1000;
/// Events further in the future than this are "too new" (AWS: 2 hours).
pub const MAX_EVENT_FUTURE_MS: i64 = 2 * 3600 * 1000;
/// Describe* page size bounds.
pub const MAX_DESCRIBE_LIMIT: i64 = 50;
/// GetLogEvents / FilterLogEvents page bounds.
pub const MAX_EVENTS_LIMIT: i64 = 10_000;
/// Bytes of events one GetLogEvents / FilterLogEvents page returns at most.
pub const MAX_PAGE_BYTES: usize = 1_048_576;
/// Metric filters per log group (AWS: 100).
pub const MAX_METRIC_FILTERS: usize = 100;
/// Tags per log group (AWS: 50).
pub const MAX_TAGS: usize = 50;

/// The retention periods AWS accepts, in days.
pub const RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

pub fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidParameterException, message)
}

/// AWS's Coral-style constraint message.
pub fn constraint(value: &str, field: &str, constraint: &str) -> ApiError {
    let shown: String = value.chars().take(256).collect();
    invalid(format!(
        "1 validation error detected: Value '{shown}' at '{field}' failed to satisfy constraint: {constraint}"
    ))
}

pub fn missing(field: &str) -> ApiError {
    invalid(format!(
        "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
    ))
}

pub fn group_not_found() -> ApiError {
    ApiError::new(
        ErrorCode::ResourceNotFoundException,
        "The specified log group does not exist.",
    )
}

pub fn stream_not_found() -> ApiError {
    ApiError::new(
        ErrorCode::ResourceNotFoundException,
        "The specified log stream does not exist.",
    )
}

pub fn group_exists() -> ApiError {
    ApiError::new(
        ErrorCode::ResourceAlreadyExistsException,
        "The specified log group already exists",
    )
}

pub fn stream_exists() -> ApiError {
    ApiError::new(
        ErrorCode::ResourceAlreadyExistsException,
        "The specified log stream already exists",
    )
}

pub fn filter_not_found() -> ApiError {
    ApiError::new(
        ErrorCode::ResourceNotFoundException,
        "The specified metric filter does not exist.",
    )
}

pub fn bad_token() -> ApiError {
    invalid("The specified nextToken is invalid.")
}

/// One name field's shape: its length limit (in characters, at least 1) and
/// the characters it takes, with the pattern AWS names when one is refused.
pub struct NameRule {
    pub max_chars: usize,
    pub allowed: fn(char) -> bool,
    pub pattern: &'static str,
}

/// `logGroupName`: 1–512 of `[\.\-_/#A-Za-z0-9]`.
pub const GROUP_NAME: NameRule = NameRule {
    max_chars: 512,
    allowed: |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#'),
    pattern: r"[\.\-_/#A-Za-z0-9]+",
};
/// `logStreamName`: 1–512 characters, no `:` or `*`.
pub const STREAM_NAME: NameRule = NameRule {
    max_chars: 512,
    allowed: |c| !matches!(c, ':' | '*'),
    pattern: "[^:*]*",
};
/// A metric filter's `filterName`: as a stream name.
pub const FILTER_NAME: NameRule = STREAM_NAME;
/// A metric transformation's `metricName` / `metricNamespace`: 1–255, no `:`, `*` or `$`.
pub const METRIC_NAME: NameRule = NameRule {
    max_chars: 255,
    allowed: |c| !matches!(c, ':' | '*' | '$'),
    pattern: "[^:*$]*",
};

/// Checks a required name field against its rule, in AWS's words.
pub fn check_name(name: Option<&str>, field: &str, rule: &NameRule) -> ApiResult<String> {
    let name = name.ok_or_else(|| missing(field))?;
    if name.is_empty() {
        return Err(constraint(
            name,
            field,
            "Member must have length greater than or equal to 1",
        ));
    }
    if name.chars().count() > rule.max_chars {
        return Err(constraint(
            name,
            field,
            &format!(
                "Member must have length less than or equal to {}",
                rule.max_chars
            ),
        ));
    }
    if !name.chars().all(rule.allowed) {
        return Err(constraint(
            name,
            field,
            &format!(
                "Member must satisfy regular expression pattern: {}",
                rule.pattern
            ),
        ));
    }
    Ok(name.to_owned())
}

pub fn validate_group_name(name: Option<&str>, field: &str) -> ApiResult<String> {
    check_name(name, field, &GROUP_NAME)
}

pub fn validate_stream_name(name: Option<&str>, field: &str) -> ApiResult<String> {
    check_name(name, field, &STREAM_NAME)
}

/// A group named either way (`logGroupName` or `logGroupIdentifier`: a
/// name or an ARN, `arn:aws:logs:<region>:<account>:log-group:<name>[:*]`).
pub fn resolve_group(name: Option<&str>, identifier: Option<&str>) -> ApiResult<String> {
    match (name, identifier) {
        (Some(_), Some(_)) => Err(invalid(
            "LogGroup name and LogGroup ARN are mutually exclusive parameters.",
        )),
        (Some(n), None) => validate_group_name(Some(n), "logGroupName"),
        (None, Some(id)) => {
            let name = group_name_from_arn(id).unwrap_or(id);
            validate_group_name(Some(name), "logGroupIdentifier")
        }
        (None, None) => Err(invalid(
            "Should provide either a log group name or log group identifier.",
        )),
    }
}

/// The group name in a log-group ARN (with or without the trailing `:*`).
pub fn group_name_from_arn(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    let mut parts = rest.splitn(5, ':');
    let (_partition, service, _region, _account) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if service != "logs" {
        return None;
    }
    let name = parts.next()?.strip_prefix("log-group:")?;
    Some(name.strip_suffix(":*").unwrap_or(name))
}

pub fn group_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:logs:{region}:{account}:log-group:{name}")
}

pub fn stream_arn(region: &str, account: &str, group: &str, stream: &str) -> String {
    format!("arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{stream}")
}

pub fn validate_retention(days: Option<i64>) -> ApiResult<u32> {
    let days = days.ok_or_else(|| missing("retentionInDays"))?;
    match u32::try_from(days) {
        Ok(d) if RETENTION_DAYS.contains(&d) => Ok(d),
        _ => Err(constraint(
            &days.to_string(),
            "retentionInDays",
            &format!(
                "Member must satisfy enum value set: [{}]",
                RETENTION_DAYS
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// A Describe* `limit`: 1..=max, default max.
pub fn page_limit(limit: Option<i64>, max: i64) -> ApiResult<usize> {
    match limit {
        None => Ok(max as usize),
        Some(n) if (1..=max).contains(&n) => Ok(n as usize),
        Some(n) if n < 1 => Err(constraint(
            &n.to_string(),
            "limit",
            "Member must have value greater than or equal to 1",
        )),
        Some(n) => Err(constraint(
            &n.to_string(),
            "limit",
            &format!("Member must have value less than or equal to {max}"),
        )),
    }
}

pub fn validate_tags(tags: &BTreeMap<String, String>) -> ApiResult<()> {
    if tags.len() > MAX_TAGS {
        return Err(invalid(format!(
            "A log group can have at most {MAX_TAGS} tags."
        )));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || k.starts_with("aws:") {
            return Err(constraint(
                k,
                "tags",
                "Map keys must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+)$]",
            ));
        }
        if v.chars().count() > 256 {
            return Err(constraint(
                v,
                "tags",
                "Map value must satisfy constraint: [Member must have length less than or equal to 256]",
            ));
        }
    }
    Ok(())
}

// ---- inputs ---------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateLogGroupInput {
    pub log_group_name: Option<String>,
    pub kms_key_id: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
    pub log_group_class: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogGroupNameInput {
    pub log_group_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeLogGroupsInput {
    pub log_group_name_prefix: Option<String>,
    pub log_group_name_pattern: Option<String>,
    pub next_token: Option<String>,
    pub limit: Option<i64>,
    pub log_group_class: Option<String>,
    pub log_group_identifiers: Option<Vec<String>>,
    pub include_linked_accounts: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogStreamInput {
    pub log_group_name: Option<String>,
    pub log_stream_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeLogStreamsInput {
    pub log_group_name: Option<String>,
    pub log_group_identifier: Option<String>,
    pub log_stream_name_prefix: Option<String>,
    pub order_by: Option<String>,
    pub descending: Option<bool>,
    pub next_token: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputLogEvent {
    pub timestamp: Option<i64>,
    pub message: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutLogEventsInput {
    pub log_group_name: Option<String>,
    pub log_stream_name: Option<String>,
    pub log_events: Option<Vec<InputLogEvent>>,
    /// Ignored, as AWS now ignores it.
    pub sequence_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetLogEventsInput {
    pub log_group_name: Option<String>,
    pub log_group_identifier: Option<String>,
    pub log_stream_name: Option<String>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub next_token: Option<String>,
    pub limit: Option<i64>,
    pub start_from_head: Option<bool>,
    pub unmask: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterLogEventsInput {
    pub log_group_name: Option<String>,
    pub log_group_identifier: Option<String>,
    pub log_stream_names: Option<Vec<String>>,
    pub log_stream_name_prefix: Option<String>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub filter_pattern: Option<String>,
    pub next_token: Option<String>,
    pub limit: Option<i64>,
    pub start_from_head: Option<bool>,
    pub interleaved: Option<bool>,
    pub unmask: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutRetentionPolicyInput {
    pub log_group_name: Option<String>,
    pub retention_in_days: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagLogGroupInput {
    pub log_group_name: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UntagLogGroupInput {
    pub log_group_name: Option<String>,
    pub tags: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagResourceInput {
    pub resource_arn: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UntagResourceInput {
    pub resource_arn: Option<String>,
    pub tag_keys: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceArnInput {
    pub resource_arn: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricTransformationShape {
    pub metric_name: Option<String>,
    pub metric_namespace: Option<String>,
    pub metric_value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_value: Option<f64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dimensions: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutMetricFilterInput {
    pub log_group_name: Option<String>,
    pub filter_name: Option<String>,
    pub filter_pattern: Option<String>,
    pub metric_transformations: Option<Vec<MetricTransformationShape>>,
    pub apply_on_transformed_logs: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeMetricFiltersInput {
    pub log_group_name: Option<String>,
    pub filter_name_prefix: Option<String>,
    pub next_token: Option<String>,
    pub limit: Option<i64>,
    pub metric_name: Option<String>,
    pub metric_namespace: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteMetricFilterInput {
    pub log_group_name: Option<String>,
    pub filter_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestMetricFilterInput {
    pub filter_pattern: Option<String>,
    pub log_event_messages: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartQueryInput {
    pub log_group_name: Option<String>,
    pub log_group_names: Option<Vec<String>>,
    pub log_group_identifiers: Option<Vec<String>>,
    /// Epoch seconds.
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub query_string: Option<String>,
    pub limit: Option<i64>,
    pub query_language: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryIdInput {
    pub query_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeQueriesInput {
    pub log_group_name: Option<String>,
    pub status: Option<String>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
    pub query_language: Option<String>,
}

// ---- outputs --------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogGroupShape {
    pub log_group_name: String,
    pub creation_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_in_days: Option<u32>,
    /// The `Option`s below are left out when a name pattern was given (AWS
    /// then answers only `arn`, `creationTime` and `logGroupName`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_filter_count: Option<usize>,
    pub arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_group_class: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_group_arn: Option<String>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeLogGroupsOutput {
    pub log_groups: Vec<LogGroupShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogStreamShape {
    pub log_stream_name: String,
    pub creation_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_event_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_event_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_ingestion_time: Option<i64>,
    pub upload_sequence_token: String,
    pub arn: String,
    pub stored_bytes: u64,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeLogStreamsOutput {
    pub log_streams: Vec<LogStreamShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectedLogEventsInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub too_new_log_event_start_index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub too_old_log_event_end_index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired_log_event_end_index: Option<usize>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PutLogEventsOutput {
    pub next_sequence_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected_log_events_info: Option<RejectedLogEventsInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputLogEvent {
    pub timestamp: i64,
    pub message: String,
    pub ingestion_time: i64,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetLogEventsOutput {
    pub events: Vec<OutputLogEvent>,
    pub next_forward_token: String,
    pub next_backward_token: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FilteredLogEvent {
    pub log_stream_name: String,
    pub timestamp: i64,
    pub message: String,
    pub ingestion_time: i64,
    pub event_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchedLogStream {
    pub log_stream_name: String,
    pub searched_completely: bool,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterLogEventsOutput {
    pub events: Vec<FilteredLogEvent>,
    pub searched_log_streams: Vec<SearchedLogStream>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TagsOutput {
    pub tags: BTreeMap<String, String>,
}

/// A metric filter as stored (the log store keeps it as this JSON) and as
/// DescribeMetricFilters returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricFilterShape {
    pub filter_name: String,
    pub filter_pattern: String,
    pub metric_transformations: Vec<MetricTransformationShape>,
    pub creation_time: i64,
    pub log_group_name: String,
    #[serde(default)]
    pub apply_on_transformed_logs: bool,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeMetricFiltersOutput {
    pub metric_filters: Vec<MetricFilterShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricFilterMatch {
    pub event_number: usize,
    pub event_message: String,
    pub extracted_values: BTreeMap<String, String>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestMetricFilterOutput {
    pub matches: Vec<MetricFilterMatch>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartQueryOutput {
    pub query_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultField {
    pub field: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryStatistics {
    pub records_matched: f64,
    pub records_scanned: f64,
    pub bytes_scanned: f64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetQueryResultsOutput {
    pub query_language: String,
    pub results: Vec<Vec<ResultField>>,
    pub statistics: QueryStatistics,
    pub status: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StopQueryOutput {
    pub success: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryInfo {
    pub query_language: String,
    pub query_id: String,
    pub query_string: String,
    pub status: String,
    pub create_time: i64,
    pub log_group_name: String,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeQueriesOutput {
    pub queries: Vec<QueryInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// How PutLogEvents sorts a batch's events: accepted ones, and the indexes
/// AWS reports as rejected. `events` are `(timestamp, message)`, `now` and
/// `retention_days` decide "too old" / "expired"; indexes are into the
/// batch sorted by timestamp (AWS reports them that way, and sorts a batch
/// given in any order).
pub struct Triage {
    /// Positions (into the sorted batch) of the accepted events.
    pub accepted: std::ops::Range<usize>,
    pub rejected: Option<RejectedLogEventsInfo>,
}

pub fn triage(sorted_timestamps: &[i64], now_ms: i64, retention_days: Option<u32>) -> Triage {
    let too_old_before = now_ms - MAX_EVENT_AGE_MS;
    let expired_before = retention_days.map(|d| now_ms - i64::from(d) * 24 * 3600 * 1000);
    let too_new_after = now_ms + MAX_EVENT_FUTURE_MS;
    let n = sorted_timestamps.len();
    let first_not_old = sorted_timestamps.partition_point(|&t| t < too_old_before);
    let first_not_expired =
        expired_before.map_or(0, |e| sorted_timestamps.partition_point(|&t| t < e));
    let first_too_new = sorted_timestamps.partition_point(|&t| t <= too_new_after);
    let start = first_not_old.max(first_not_expired).min(first_too_new);
    let mut info = RejectedLogEventsInfo::default();
    if first_not_old > 0 {
        info.too_old_log_event_end_index = Some(first_not_old);
    }
    if first_not_expired > 0 {
        info.expired_log_event_end_index = Some(first_not_expired);
    }
    if first_too_new < n {
        info.too_new_log_event_start_index = Some(first_too_new);
    }
    let rejected = (info != RejectedLogEventsInfo::default()).then_some(info);
    Triage {
        accepted: start..first_too_new.max(start),
        rejected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names() {
        assert!(validate_group_name(Some("/aws/app-1_x.y#z"), "logGroupName").is_ok());
        assert!(validate_group_name(Some("a:b"), "logGroupName").is_err());
        assert!(validate_group_name(Some(""), "logGroupName").is_err());
        assert!(validate_group_name(Some(&"a".repeat(513)), "logGroupName").is_err());
        assert_eq!(
            validate_group_name(None, "logGroupName").unwrap_err().code,
            ErrorCode::InvalidParameterException
        );
    }

    #[test]
    fn stream_names() {
        assert!(validate_stream_name(Some("i-123 host/a"), "logStreamName").is_ok());
        assert!(validate_stream_name(Some("a:b"), "logStreamName").is_err());
        assert!(validate_stream_name(Some("a*"), "logStreamName").is_err());
    }

    #[test]
    fn metric_names_and_the_words_of_refusals() {
        let field = "metricTransformations.1.member.metricName";
        assert_eq!(
            check_name(Some("Errors 5xx"), field, &METRIC_NAME).unwrap(),
            "Errors 5xx"
        );
        let dollar = check_name(Some("a$b"), field, &METRIC_NAME).unwrap_err();
        assert_eq!(
            dollar.message,
            "1 validation error detected: Value 'a$b' at 'metricTransformations.1.member.metricName' \
             failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*$]*"
        );
        let long = check_name(Some(&"é".repeat(256)), field, &METRIC_NAME).unwrap_err();
        assert!(
            long.message
                .ends_with("Member must have length less than or equal to 255"),
            "{}",
            long.message
        );
        assert!(check_name(Some(&"é".repeat(255)), field, &METRIC_NAME).is_ok());
        let bad_group = check_name(Some("a b"), "logGroupName", &GROUP_NAME).unwrap_err();
        assert!(
            bad_group
                .message
                .ends_with(r"Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]+"),
            "{}",
            bad_group.message
        );
    }

    #[test]
    fn arns() {
        assert_eq!(
            group_name_from_arn("arn:aws:logs:us-east-1:123:log-group:/app/x:*"),
            Some("/app/x")
        );
        assert_eq!(
            group_name_from_arn("arn:aws-cn:logs:cn-north-1:1:log-group:a"),
            Some("a")
        );
        assert_eq!(
            group_name_from_arn("arn:aws:sns:us-east-1:1:log-group:a"),
            None
        );
        assert_eq!(
            resolve_group(None, Some("arn:aws:logs:us-east-1:1:log-group:g:*")).unwrap(),
            "g"
        );
        assert!(resolve_group(Some("a"), Some("b")).is_err());
        assert!(resolve_group(None, None).is_err());
    }

    #[test]
    fn retention_values() {
        assert_eq!(validate_retention(Some(30)).unwrap(), 30);
        assert!(validate_retention(Some(2)).is_err());
        assert!(validate_retention(Some(-1)).is_err());
        assert!(validate_retention(None).is_err());
    }

    #[test]
    fn triage_of_a_batch() {
        let now = 100 * 24 * 3600 * 1000;
        let day = 24 * 3600 * 1000;
        // Two too old, one fine, one too new.
        let ts = [
            now - 20 * day,
            now - 15 * day,
            now - 1000,
            now + 3 * 3600 * 1000,
        ];
        let t = triage(&ts, now, None);
        assert_eq!(t.accepted, 2..3);
        let r = t.rejected.unwrap();
        assert_eq!(r.too_old_log_event_end_index, Some(2));
        assert_eq!(r.too_new_log_event_start_index, Some(3));
        assert_eq!(r.expired_log_event_end_index, None);
        // Retention 1 day expires the 1.5-day-old event.
        let ts = [now - day - day / 2, now - 10];
        let t = triage(&ts, now, Some(1));
        assert_eq!(t.accepted, 1..2);
        assert_eq!(t.rejected.unwrap().expired_log_event_end_index, Some(1));
        // All fine.
        let t = triage(&[now - 5, now], now, Some(1));
        assert_eq!(t.accepted, 0..2);
        assert!(t.rejected.is_none());
        // All too new.
        let t = triage(&[now + 3 * 3600 * 1000], now, None);
        assert_eq!(t.accepted.len(), 0);
    }
}
