//! CloudWatch metric streams: PutMetricStream / GetMetricStream /
//! ListMetricStreams / DeleteMetricStream / Start- and StopMetricStreams
//! inputs, validation, the stored record and outputs, and which metrics a
//! stream's filters select.

use crate::alarm::ops::{Tag, decode_token, validate_tags};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::param::{Param, check_len, invalid, missing, not_in_enum, required_str};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

pub const FORMAT_JSON: &str = "json";
pub const FORMAT_OTEL_07: &str = "opentelemetry0.7";
pub const FORMAT_OTEL_10: &str = "opentelemetry1.0";
const FORMATS: &[&str] = &[FORMAT_JSON, FORMAT_OTEL_07, FORMAT_OTEL_10];
pub const STATE_RUNNING: &str = "running";
pub const STATE_STOPPED: &str = "stopped";
/// ListMetricStreams `MaxResults`: 1..=500 (the model's range and default).
pub const MAX_LIST_RESULTS: i64 = 500;
/// "A metric stream's filters can include up to 1000 total names."
pub const MAX_FILTER_NAMES: usize = 1000;
/// `IncludeMetrics` pairs per statistics configuration.
pub const MAX_STAT_METRICS: usize = 100;
/// `AdditionalStatistics` per statistics configuration.
pub const MAX_ADDITIONAL_STATS: usize = 20;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Filter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_names: Option<Vec<String>>,
}

impl Filter {
    /// A missing namespace matches every namespace; missing (or empty)
    /// metric names match every metric of the namespace.
    pub fn matches(&self, namespace: &str, metric_name: &str) -> bool {
        self.namespace.as_deref().is_none_or(|n| n == namespace)
            && self
                .metric_names
                .as_ref()
                .is_none_or(|names| names.is_empty() || names.iter().any(|m| m == metric_name))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StatisticsMetric {
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StatisticsConfiguration {
    pub include_metrics: Option<Vec<StatisticsMetric>>,
    pub additional_statistics: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PutInput {
    pub name: Option<String>,
    pub include_filters: Option<Vec<Filter>>,
    pub exclude_filters: Option<Vec<Filter>>,
    pub firehose_arn: Option<String>,
    pub role_arn: Option<String>,
    pub output_format: Option<String>,
    pub tags: Option<Vec<Tag>>,
    pub statistics_configurations: Option<Vec<StatisticsConfiguration>>,
    pub include_linked_accounts_metrics: Option<bool>,
}

/// A validated PutMetricStream.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidPut {
    pub name: String,
    pub include_filters: Vec<Filter>,
    pub exclude_filters: Vec<Filter>,
    pub firehose_arn: String,
    /// The delivery stream's name, from the FirehoseArn.
    pub delivery_stream: String,
    pub role_arn: String,
    pub output_format: String,
    pub tags: Vec<(String, String)>,
    pub statistics_configurations: Vec<StatisticsConfiguration>,
    pub include_linked_accounts_metrics: bool,
}

/// Valid characters are A-Z, a-z, 0-9, "-" and "_" (the model's docs).
pub fn validate_name(value: Option<String>, p: Param) -> ApiResult<String> {
    let name = required_str(value, p)?;
    check_len(&name, 1, 255, p)?;
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(invalid(format!(
            "The value {} for parameter {p} is invalid. Valid characters are A-Z, a-z, 0-9, \"-\" and \"_\".",
            crate::param::echo(&name)
        )));
    }
    Ok(name)
}

/// ASCII printable (32..=126) with at least one non-whitespace character,
/// as the model documents for filter namespaces and metric names.
fn validate_printable(value: &str, p: Param) -> ApiResult<()> {
    check_len(value, 1, 255, p)?;
    if !value.bytes().all(|b| (32..=126).contains(&b)) || value.trim().is_empty() {
        return Err(invalid(format!(
            "The value {} for parameter {p} is invalid. It can contain only ASCII printable characters and must contain at least one non-whitespace character.",
            crate::param::echo(value)
        )));
    }
    Ok(())
}

fn validate_filters(filters: &[Filter], p: Param) -> ApiResult<usize> {
    let mut names = 0;
    for (i, f) in filters.iter().enumerate() {
        let fp = p.member(i);
        if let Some(ns) = &f.namespace {
            validate_printable(ns, fp.field("Namespace"))?;
            names += 1;
        }
        for (j, m) in f.metric_names.iter().flatten().enumerate() {
            validate_printable(m, fp.field("MetricNames").member(j))?;
            names += 1;
        }
        if f.namespace.is_none() && f.metric_names.as_ref().is_none_or(Vec::is_empty) {
            return Err(missing(fp.field("Namespace")));
        }
    }
    Ok(names)
}

/// `arn:aws:firehose:<region>:<account>:deliverystream/<name>` → name.
pub fn delivery_stream_name(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_partition), Some("firehose"), Some(_region), Some(_account)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    parts
        .next()?
        .strip_prefix("deliverystream/")
        .filter(|n| !n.is_empty())
}

impl PutInput {
    pub fn validate(self) -> ApiResult<ValidPut> {
        let name = validate_name(self.name, Param::root("Name"))?;
        let include = self.include_filters.unwrap_or_default();
        let exclude = self.exclude_filters.unwrap_or_default();
        if !include.is_empty() && !exclude.is_empty() {
            return Err(ApiError::new(
                ErrorCode::InvalidParameterCombination,
                "You cannot include IncludeFilters and ExcludeFilters in the same operation.",
            ));
        }
        let names = validate_filters(&include, Param::root("IncludeFilters"))?
            + validate_filters(&exclude, Param::root("ExcludeFilters"))?;
        if names > MAX_FILTER_NAMES {
            return Err(invalid(format!(
                "A metric stream's filters can include up to {MAX_FILTER_NAMES} total names (namespaces and metric names); found {names}."
            )));
        }
        let fp = Param::root("FirehoseArn");
        let firehose_arn = required_str(self.firehose_arn, fp)?;
        check_len(&firehose_arn, 1, 1024, fp)?;
        let delivery_stream = delivery_stream_name(&firehose_arn)
            .ok_or_else(|| {
                invalid(format!(
                    "The value {} for parameter {fp} is invalid: expected an ARN like arn:aws:firehose:<region>:<account>:deliverystream/<name>.",
                    crate::param::echo(&firehose_arn)
                ))
            })?
            .to_string();
        let rp = Param::root("RoleArn");
        let role_arn = required_str(self.role_arn, rp)?;
        check_len(&role_arn, 1, 1024, rp)?;
        let op = Param::root("OutputFormat");
        let output_format = required_str(self.output_format, op)?;
        if !FORMATS.contains(&output_format.as_str()) {
            return Err(not_in_enum(&output_format, op, FORMATS));
        }
        if output_format == FORMAT_OTEL_07 {
            // 0.7's attributes are StringKeyValue, a different wire encoding
            // than 1.0's KeyValue: not delivered by this server.
            return Err(invalid(format!(
                "The value {FORMAT_OTEL_07} for parameter {op} is not supported by this server; use {FORMAT_OTEL_10} or {FORMAT_JSON}."
            )));
        }
        let tags = validate_tags(self.tags.unwrap_or_default(), Param::root("Tags"))?;
        let configs = self.statistics_configurations.unwrap_or_default();
        let sp = Param::root("StatisticsConfigurations");
        for (i, c) in configs.iter().enumerate() {
            let cp = sp.member(i);
            let metrics = c
                .include_metrics
                .as_ref()
                .ok_or_else(|| missing(cp.field("IncludeMetrics")))?;
            let stats = c
                .additional_statistics
                .as_ref()
                .ok_or_else(|| missing(cp.field("AdditionalStatistics")))?;
            if metrics.len() > MAX_STAT_METRICS {
                return Err(invalid(format!(
                    "The parameter {} can have at most {MAX_STAT_METRICS} members.",
                    cp.field("IncludeMetrics")
                )));
            }
            if stats.len() > MAX_ADDITIONAL_STATS {
                return Err(invalid(format!(
                    "The parameter {} can have at most {MAX_ADDITIONAL_STATS} members.",
                    cp.field("AdditionalStatistics")
                )));
            }
            for (j, m) in metrics.iter().enumerate() {
                let mp = cp.field("IncludeMetrics").member(j);
                crate::metric::validate_namespace(m.namespace.clone(), mp.field("Namespace"))?;
                crate::metric::validate_metric_name(m.metric_name.clone(), mp.field("MetricName"))?;
            }
            for (j, s) in stats.iter().enumerate() {
                if !is_percentile(s) {
                    return Err(invalid(format!(
                        "The value {} for parameter {} is invalid. Only percentile statistics such as p90 and p99 are streamed by this server.",
                        crate::param::echo(s),
                        cp.field("AdditionalStatistics").member(j)
                    )));
                }
            }
        }
        Ok(ValidPut {
            name,
            include_filters: include,
            exclude_filters: exclude,
            firehose_arn,
            delivery_stream,
            role_arn,
            output_format,
            tags,
            statistics_configurations: configs,
            include_linked_accounts_metrics: self.include_linked_accounts_metrics.unwrap_or(false),
        })
    }
}

/// `p0`..`p100` with an optional fraction (`p99.9`).
pub fn is_percentile(s: &str) -> bool {
    s.strip_prefix('p').is_some_and(|d| {
        !d.is_empty()
            && d.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && d.parse::<f64>().is_ok_and(|n| (0.0..=100.0).contains(&n))
    })
}

/// A stored metric stream (times in epoch ms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamRecord {
    pub name: String,
    pub arn: String,
    pub include_filters: Vec<Filter>,
    pub exclude_filters: Vec<Filter>,
    pub firehose_arn: String,
    pub role_arn: String,
    pub output_format: String,
    pub state: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub statistics_configurations: Vec<StatisticsConfiguration>,
    pub include_linked_accounts_metrics: bool,
}

impl StreamRecord {
    pub fn arn(region: &str, account: &str, name: &str) -> String {
        format!("arn:aws:cloudwatch:{region}:{account}:metric-stream/{name}")
    }

    pub fn running(&self) -> bool {
        self.state == STATE_RUNNING
    }

    /// Whether the stream sends this metric.
    pub fn selects(&self, namespace: &str, metric_name: &str) -> bool {
        if !self.include_filters.is_empty() {
            return self
                .include_filters
                .iter()
                .any(|f| f.matches(namespace, metric_name));
        }
        !self
            .exclude_filters
            .iter()
            .any(|f| f.matches(namespace, metric_name))
    }

    /// The additional statistics configured for a metric, each once, in order.
    pub fn additional_statistics(&self, namespace: &str, metric_name: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in &self.statistics_configurations {
            let hit = c.include_metrics.iter().flatten().any(|m| {
                m.namespace.as_deref() == Some(namespace)
                    && m.metric_name.as_deref() == Some(metric_name)
            });
            if hit {
                for s in c.additional_statistics.iter().flatten() {
                    if !out.contains(s) {
                        out.push(s.clone());
                    }
                }
            }
        }
        out
    }

    pub fn to_output(&self) -> GetOutput {
        GetOutput {
            arn: self.arn.clone(),
            name: self.name.clone(),
            include_filters: (!self.include_filters.is_empty())
                .then(|| self.include_filters.clone()),
            exclude_filters: (!self.exclude_filters.is_empty())
                .then(|| self.exclude_filters.clone()),
            firehose_arn: self.firehose_arn.clone(),
            role_arn: self.role_arn.clone(),
            state: self.state.clone(),
            creation_date: Timestamp::from_millis(self.created_ms),
            last_update_date: Timestamp::from_millis(self.updated_ms),
            output_format: self.output_format.clone(),
            statistics_configurations: (!self.statistics_configurations.is_empty())
                .then(|| self.statistics_configurations.clone()),
            include_linked_accounts_metrics: self.include_linked_accounts_metrics,
        }
    }

    pub fn to_entry(&self) -> Entry {
        Entry {
            arn: self.arn.clone(),
            creation_date: Timestamp::from_millis(self.created_ms),
            last_update_date: Timestamp::from_millis(self.updated_ms),
            name: self.name.clone(),
            firehose_arn: self.firehose_arn.clone(),
            state: self.state.clone(),
            output_format: self.output_format.clone(),
        }
    }
}

/// `metric-stream/<name>` of a CloudWatch ARN.
pub fn name_from_arn(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:aws:cloudwatch:")?;
    let mut parts = rest.splitn(3, ':');
    let _region = parts.next()?;
    let _account = parts.next()?;
    parts
        .next()?
        .strip_prefix("metric-stream/")
        .filter(|n| !n.is_empty())
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutOutput {
    pub arn: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetOutput {
    pub arn: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_filters: Option<Vec<Filter>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclude_filters: Option<Vec<Filter>>,
    pub firehose_arn: String,
    pub role_arn: String,
    pub state: String,
    pub creation_date: Timestamp,
    pub last_update_date: Timestamp,
    pub output_format: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistics_configurations: Option<Vec<StatisticsConfiguration>>,
    pub include_linked_accounts_metrics: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Entry {
    pub arn: String,
    pub creation_date: Timestamp,
    pub last_update_date: Timestamp,
    pub name: String,
    pub firehose_arn: String,
    pub state: String,
    pub output_format: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NameInput {
    pub name: Option<String>,
}

impl NameInput {
    pub fn validate(self) -> ApiResult<String> {
        let p = Param::root("Name");
        let name = required_str(self.name, p)?;
        check_len(&name, 1, 255, p)?;
        Ok(name)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NamesInput {
    pub names: Option<Vec<String>>,
}

impl NamesInput {
    pub fn validate(self) -> ApiResult<Vec<String>> {
        let p = Param::root("Names");
        let names = self.names.ok_or_else(|| missing(p))?;
        for (i, n) in names.iter().enumerate() {
            check_len(n, 1, 255, p.member(i))?;
        }
        Ok(names)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListInput {
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
}

impl ListInput {
    /// (the name to continue after, page size).
    pub fn validate(self) -> ApiResult<(Option<String>, usize)> {
        let max = self.max_results.unwrap_or(MAX_LIST_RESULTS);
        if !(1..=MAX_LIST_RESULTS).contains(&max) {
            return Err(crate::param::constraint(
                &max.to_string(),
                Param::root("MaxResults"),
                if max < 1 {
                    "Member must have value greater than or equal to 1"
                } else {
                    "Member must have value less than or equal to 500"
                },
            ));
        }
        let after = self
            .next_token
            .filter(|t| !t.is_empty())
            .map(|t| decode_token(&t))
            .transpose()?;
        Ok((after, max as usize))
    }
}

pub fn not_found(name: &str) -> ApiError {
    ApiError::new(
        ErrorCode::ResourceNotFoundException,
        format!("The metric stream {name} does not exist."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put() -> PutInput {
        PutInput {
            name: Some("s-1".into()),
            firehose_arn: Some("arn:aws:firehose:us-east-1:123456789012:deliverystream/d".into()),
            role_arn: Some("arn:aws:iam::123456789012:role/r".into()),
            output_format: Some("json".into()),
            ..Default::default()
        }
    }

    #[test]
    fn put_validation() {
        let v = put().validate().unwrap();
        assert_eq!(v.delivery_stream, "d");
        let f = |ns: &str| Filter {
            namespace: Some(ns.into()),
            metric_names: None,
        };
        let mut both = put();
        both.include_filters = Some(vec![f("A")]);
        both.exclude_filters = Some(vec![f("B")]);
        assert_eq!(
            both.validate().unwrap_err().code,
            ErrorCode::InvalidParameterCombination
        );
        let mut bad = put();
        bad.name = Some("a b".into());
        assert_eq!(
            bad.validate().unwrap_err().code,
            ErrorCode::InvalidParameterValue
        );
        let mut fmt = put();
        fmt.output_format = Some("csv".into());
        assert_eq!(fmt.validate().unwrap_err().code, ErrorCode::ValidationError);
        let mut arn = put();
        arn.firehose_arn = Some("arn:aws:s3:::bucket".into());
        assert_eq!(
            arn.validate().unwrap_err().code,
            ErrorCode::InvalidParameterValue
        );
        let mut none = put();
        none.role_arn = None;
        assert_eq!(
            none.validate().unwrap_err().code,
            ErrorCode::MissingParameter
        );
    }

    #[test]
    fn filters_select_metrics() {
        let mut r = StreamRecord {
            name: "s".into(),
            arn: StreamRecord::arn("us-east-1", "1", "s"),
            include_filters: vec![],
            exclude_filters: vec![Filter {
                namespace: Some("X".into()),
                metric_names: Some(vec!["m".into()]),
            }],
            firehose_arn: String::new(),
            role_arn: String::new(),
            output_format: "json".into(),
            state: STATE_RUNNING.into(),
            created_ms: 0,
            updated_ms: 0,
            statistics_configurations: vec![],
            include_linked_accounts_metrics: false,
        };
        assert!(!r.selects("X", "m"));
        assert!(r.selects("X", "n"));
        assert!(r.selects("Y", "m"));
        r.include_filters = vec![Filter {
            namespace: Some("Y".into()),
            metric_names: None,
        }];
        assert!(r.selects("Y", "anything"));
        assert!(!r.selects("X", "n"));
        assert_eq!(name_from_arn(&r.arn), Some("s"));
        assert!(is_percentile("p99.9") && !is_percentile("tm99") && !is_percentile("p101"));
    }
}
