//! Contributor Insights rules: PutInsightRule / DescribeInsightRules /
//! Enable|Disable|DeleteInsightRules / GetInsightRuleReport inputs, their
//! validation, the stored record and the outputs. The rule definition
//! language itself is `stratus_logs::contributor`.

use crate::alarm::ops::{Tag, validate_tags};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::param::{Param, check_len, constraint, invalid, missing, required_str};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

pub const STATE_ENABLED: &str = "ENABLED";
pub const STATE_DISABLED: &str = "DISABLED";
/// `DescribeInsightRules` `MaxResults`: 1..=500, default 500.
pub const MAX_DESCRIBE_RESULTS: i64 = 500;
/// AWS's quota of rules per account and Region.
pub const MAX_RULES: usize = 100;
/// `MaxContributorCount`: 1..=100, default 10.
pub const MAX_CONTRIBUTORS: i64 = 100;
pub const DEFAULT_CONTRIBUTORS: i64 = 10;
/// A report has at most this many periods (GetMetricStatistics' datapoint
/// limit), which bounds the report's size and the scan behind it.
pub const MAX_REPORT_PERIODS: i64 = 1440;
/// What DescribeInsightRules says of every rule created through the API.
pub const SCHEMA: &str = "CloudWatchLogRule/1";
/// `Metrics` / `INSIGHT_RULE_METRIC` metric names.
pub const METRIC_NAMES: &[&str] = &[
    "UniqueContributors",
    "MaxContributorValue",
    "SampleCount",
    "Sum",
    "Minimum",
    "Maximum",
    "Average",
];
pub const ORDER_BY: &[&str] = &["Sum", "Maximum"];

/// A rule's ARN, as TagResource takes it.
pub fn rule_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:cloudwatch:{region}:{account}:insight-rule/{name}")
}

/// The rule name in a rule ARN.
pub fn name_from_rule_arn(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:aws:cloudwatch:")?;
    let (_, name) = rest.split_once(":insight-rule/")?;
    (!name.is_empty()).then_some(name)
}

/// Rule names: 1 to 128 printable ASCII characters.
pub fn validate_rule_name(name: Option<String>, p: Param) -> ApiResult<String> {
    let name = required_str(name, p)?;
    check_len(&name, 1, 128, p)?;
    if !name.chars().all(|c| (' '..='~').contains(&c)) {
        return Err(constraint(
            &name,
            p,
            "Member must satisfy regular expression pattern: [\\x20-\\x7E]+",
        ));
    }
    Ok(name)
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PutInput {
    pub rule_name: Option<String>,
    pub rule_state: Option<String>,
    pub rule_definition: Option<String>,
    pub tags: Vec<Tag>,
    pub apply_on_transformed_logs: Option<bool>,
}

/// A validated PutInsightRule (the definition is checked by the caller,
/// which knows the rule language).
#[derive(Debug, Clone, PartialEq)]
pub struct ValidPut {
    pub name: String,
    pub enabled: bool,
    pub definition: String,
    pub tags: Vec<(String, String)>,
    pub apply_on_transformed_logs: bool,
}

impl PutInput {
    pub fn validate(self) -> ApiResult<ValidPut> {
        let name = validate_rule_name(self.rule_name, Param::root("RuleName"))?;
        let enabled = match self.rule_state.as_deref().filter(|s| !s.is_empty()) {
            None | Some(STATE_ENABLED) => true,
            Some(STATE_DISABLED) => false,
            Some(other) => {
                return Err(invalid(format!(
                    "The value {} for parameter RuleState is invalid: it must be {STATE_ENABLED} or {STATE_DISABLED}.",
                    crate::param::echo(other)
                )));
            }
        };
        let dp = Param::root("RuleDefinition");
        let definition = required_str(self.rule_definition, dp)?;
        check_len(&definition, 1, 8192, dp)?;
        let tags = validate_tags(self.tags, Param::root("Tags"))?;
        Ok(ValidPut {
            name,
            enabled,
            definition,
            tags,
            apply_on_transformed_logs: self.apply_on_transformed_logs.unwrap_or(false),
        })
    }
}

/// The stored rule (its tags are in the tags table, under `arn`).
/// `enabled_spans` are the `[from, until)` epoch-ms spans
/// the rule was enabled (`until` `None`: still enabled); a report counts
/// only events ingested within one, so a disabled rule gathers nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleRecord {
    pub name: String,
    pub arn: String,
    pub definition: String,
    pub apply_on_transformed_logs: bool,
    pub enabled_spans: Vec<(i64, Option<i64>)>,
}

impl RuleRecord {
    pub fn enabled(&self) -> bool {
        self.enabled_spans.last().is_some_and(|s| s.1.is_none())
    }

    /// Enables (opening a span at `now_ms`) or disables (closing the open
    /// one); no change when already in that state.
    pub fn set_enabled(&mut self, on: bool, now_ms: i64) {
        match (on, self.enabled()) {
            (true, false) => self.enabled_spans.push((now_ms, None)),
            (false, true) => {
                if let Some(last) = self.enabled_spans.last_mut() {
                    last.1 = Some(now_ms);
                }
            }
            _ => {}
        }
    }

    /// Whether an event ingested at `ms` falls in an enabled span.
    pub fn enabled_at(&self, ms: i64) -> bool {
        self.enabled_spans
            .iter()
            .any(|&(from, until)| ms >= from && until.is_none_or(|u| ms < u))
    }

    pub fn to_output(&self) -> InsightRuleOutput {
        InsightRuleOutput {
            name: self.name.clone(),
            state: if self.enabled() {
                STATE_ENABLED
            } else {
                STATE_DISABLED
            }
            .to_string(),
            schema: SCHEMA.to_string(),
            definition: self.definition.clone(),
            managed_rule: false,
            apply_on_transformed_logs: self.apply_on_transformed_logs,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InsightRuleOutput {
    pub name: String,
    pub state: String,
    pub schema: String,
    pub definition: String,
    pub managed_rule: bool,
    pub apply_on_transformed_logs: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeInput {
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
}

impl DescribeInput {
    /// (the name to list after, page size).
    pub fn validate(self) -> ApiResult<(Option<String>, usize)> {
        let max = self.max_results.unwrap_or(MAX_DESCRIBE_RESULTS);
        if !(1..=MAX_DESCRIBE_RESULTS).contains(&max) {
            return Err(invalid(format!(
                "The value {max} for parameter MaxResults is invalid: it must be between 1 and {MAX_DESCRIBE_RESULTS}."
            )));
        }
        let after = self
            .next_token
            .filter(|t| !t.is_empty())
            .map(|t| crate::alarm::ops::decode_token(&t))
            .transpose()?;
        Ok((after, max as usize))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeOutput {
    pub insight_rules: Vec<InsightRuleOutput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// Enable/Disable/DeleteInsightRules.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RuleNamesInput {
    pub rule_names: Option<Vec<String>>,
}

impl RuleNamesInput {
    pub fn validate(self) -> ApiResult<Vec<String>> {
        let p = Param::root("RuleNames");
        let names = self
            .rule_names
            .filter(|n| !n.is_empty())
            .ok_or_else(|| missing(p))?;
        names
            .into_iter()
            .enumerate()
            .map(|(i, n)| validate_rule_name(Some(n), p.member(i)))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PartialFailure {
    pub failure_resource: String,
    pub exception_type: String,
    pub failure_code: String,
    pub failure_description: String,
}

/// The entry for a rule name that names no rule.
pub fn not_found_failure(name: &str) -> PartialFailure {
    PartialFailure {
        failure_resource: name.to_string(),
        exception_type: "ResourceNotFoundException".to_string(),
        failure_code: "ResourceNotFound".to_string(),
        failure_description: format!("The rule {name} does not exist."),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FailuresOutput {
    pub failures: Vec<PartialFailure>,
}

/// GetInsightRuleReport / INSIGHT_RULE_METRIC on a rule that does not exist.
pub fn rule_not_found(name: &str) -> ApiError {
    ApiError::new(
        ErrorCode::ResourceNotFoundException,
        format!("The rule {name} does not exist."),
    )
}

/// PutInsightRule past [`MAX_RULES`].
pub fn too_many_rules() -> ApiError {
    ApiError::new(
        ErrorCode::LimitExceededException,
        format!("The maximum number of Contributor Insights rules ({MAX_RULES}) has been reached."),
    )
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ReportInput {
    pub rule_name: Option<String>,
    pub start_time: Option<Timestamp>,
    pub end_time: Option<Timestamp>,
    pub period: Option<i64>,
    pub max_contributor_count: Option<i64>,
    pub metrics: Vec<String>,
    pub order_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ValidReport {
    pub name: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub period_secs: i64,
    pub max_contributors: usize,
    pub metrics: Vec<String>,
    /// `Sum` or `Maximum`.
    pub order_by: String,
}

/// The report window's checks, shared with `INSIGHT_RULE_METRIC`: a
/// positive period and at most [`MAX_REPORT_PERIODS`] periods.
pub fn check_window(start_ms: i64, end_ms: i64, period_secs: i64) -> ApiResult<()> {
    if period_secs < 1 {
        return Err(invalid(format!(
            "The value {period_secs} for parameter Period is invalid: it must be at least 1."
        )));
    }
    if end_ms <= start_ms {
        return Err(invalid(
            "The parameter StartTime must be less than the parameter EndTime.".to_string(),
        ));
    }
    let period_ms = period_secs.saturating_mul(1000);
    let first = start_ms.div_euclid(period_ms) * period_ms;
    let periods = (end_ms - first + period_ms - 1) / period_ms;
    if periods > MAX_REPORT_PERIODS {
        return Err(invalid(format!(
            "The report would have {periods} periods; at most {MAX_REPORT_PERIODS} are allowed. Use a longer Period or a shorter time range."
        )));
    }
    Ok(())
}

impl ReportInput {
    pub fn validate(self) -> ApiResult<ValidReport> {
        let name = validate_rule_name(self.rule_name, Param::root("RuleName"))?;
        let start = self
            .start_time
            .ok_or_else(|| missing(Param::root("StartTime")))?;
        let end = self
            .end_time
            .ok_or_else(|| missing(Param::root("EndTime")))?;
        let period_secs = self.period.ok_or_else(|| missing(Param::root("Period")))?;
        check_window(start.millis(), end.millis(), period_secs)?;
        let max = self.max_contributor_count.unwrap_or(DEFAULT_CONTRIBUTORS);
        if !(1..=MAX_CONTRIBUTORS).contains(&max) {
            return Err(invalid(format!(
                "The value {max} for parameter MaxContributorCount is invalid: it must be between 1 and {MAX_CONTRIBUTORS}."
            )));
        }
        for m in &self.metrics {
            if !METRIC_NAMES.contains(&m.as_str()) {
                return Err(invalid(format!(
                    "The value {} for parameter Metrics is invalid: it must be one of {}.",
                    crate::param::echo(m),
                    METRIC_NAMES.join(", ")
                )));
            }
        }
        let order_by = match self.order_by.filter(|o| !o.is_empty()) {
            None => "Sum".to_string(),
            Some(o) if ORDER_BY.contains(&o.as_str()) => o,
            Some(o) => {
                return Err(invalid(format!(
                    "The value {} for parameter OrderBy is invalid: it must be Sum or Maximum.",
                    crate::param::echo(&o)
                )));
            }
        };
        Ok(ValidReport {
            name,
            start_ms: start.millis(),
            end_ms: end.millis(),
            period_secs,
            max_contributors: max as usize,
            metrics: self.metrics,
            order_by,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContributorDatapoint {
    pub timestamp: Timestamp,
    pub approximate_value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContributorOutput {
    pub keys: Vec<String>,
    pub approximate_aggregate_value: f64,
    pub datapoints: Vec<ContributorDatapoint>,
}

/// One period; only the statistics asked for in `Metrics` are set.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricDatapoint {
    pub timestamp: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unique_contributors: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_contributor_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_count: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sum: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum: Option<f64>,
}

impl MetricDatapoint {
    /// A period with no statistic set yet.
    pub fn at(timestamp: Timestamp) -> MetricDatapoint {
        MetricDatapoint {
            timestamp,
            unique_contributors: None,
            max_contributor_value: None,
            sample_count: None,
            average: None,
            sum: None,
            minimum: None,
            maximum: None,
        }
    }

    /// Sets the statistic `name` (one of [`METRIC_NAMES`]).
    pub fn set(&mut self, name: &str, v: Option<f64>) {
        let slot = match name {
            "UniqueContributors" => &mut self.unique_contributors,
            "MaxContributorValue" => &mut self.max_contributor_value,
            "SampleCount" => &mut self.sample_count,
            "Average" => &mut self.average,
            "Sum" => &mut self.sum,
            "Minimum" => &mut self.minimum,
            "Maximum" => &mut self.maximum,
            _ => return,
        };
        *slot = v;
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReportOutput {
    pub key_labels: Vec<String>,
    pub aggregation_statistic: String,
    pub aggregate_value: f64,
    pub approximate_unique_count: i64,
    pub contributors: Vec<ContributorOutput>,
    pub metric_datapoints: Vec<MetricDatapoint>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enabled_spans_follow_enable_and_disable() {
        let mut r = RuleRecord {
            name: "r".into(),
            arn: rule_arn("us-east-1", "123456789012", "r"),
            definition: "{}".into(),
            apply_on_transformed_logs: false,
            enabled_spans: Vec::new(),
        };
        assert!(!r.enabled() && !r.enabled_at(0));
        r.set_enabled(true, 100);
        r.set_enabled(true, 150); // already enabled: no new span
        r.set_enabled(false, 200);
        r.set_enabled(false, 250);
        r.set_enabled(true, 300);
        assert_eq!(r.enabled_spans, vec![(100, Some(200)), (300, None)]);
        assert!(r.enabled());
        let at: Vec<bool> = [99, 100, 199, 200, 299, 300, 10_000]
            .iter()
            .map(|&t| r.enabled_at(t))
            .collect();
        assert_eq!(at, vec![false, true, true, false, false, true, true]);
        assert_eq!(r.to_output().state, STATE_ENABLED);
        assert_eq!(name_from_rule_arn(&r.arn), Some("r"));
        assert_eq!(
            name_from_rule_arn("arn:aws:cloudwatch::1:dashboard/r"),
            None
        );
    }

    #[test]
    fn report_window_limits() {
        assert!(check_window(0, 60_000, 60).is_ok());
        assert!(check_window(0, 1440 * 60_000, 60).is_ok());
        assert!(check_window(0, 1440 * 60_000 + 1, 60).is_err());
        assert!(check_window(60_000, 60_000, 60).is_err());
        assert!(check_window(0, 60_000, 0).is_err());
        let name = |n: &str| validate_rule_name(Some(n.to_string()), Param::root("RuleName"));
        assert!(name("ok rule-1").is_ok());
        assert_eq!(name("tab\t").unwrap_err().code, ErrorCode::ValidationError);
        assert_eq!(
            name(&"x".repeat(129)).unwrap_err().code,
            ErrorCode::ValidationError
        );
        assert_eq!(name("").unwrap_err().code, ErrorCode::MissingParameter);
    }
}

// ---------------------------------------------------------------- managed rules

/// `TemplateName`: 1..=128 of `[0-9A-Za-z][-._0-9A-Za-z]{0,126}[0-9A-Za-z]`.
const TEMPLATE_NAME_PATTERN: &str = "[0-9A-Za-z][\\-\\.\\_0-9A-Za-z]{0,126}[0-9A-Za-z]";
/// `ListManagedInsightRules` `MaxResults`.
pub const MAX_MANAGED_RESULTS: i64 = 500;

fn valid_template_name(t: &str) -> bool {
    let b = t.as_bytes();
    (2..=128).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'))
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ManagedRuleInput {
    pub template_name: Option<String>,
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
    pub tags: Option<Vec<Tag>>,
}

/// PutManagedInsightRules.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PutManagedInput {
    pub managed_rules: Option<Vec<ManagedRuleInput>>,
}

impl PutManagedInput {
    /// The (template name, resource ARN) of each rule, in order.
    pub fn validate(self) -> ApiResult<Vec<(String, String)>> {
        let p = Param::root("ManagedRules");
        let rules = self.managed_rules.ok_or_else(|| missing(p))?;
        rules
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let m = p.member(i);
                let template = required_str(r.template_name, m.field("TemplateName"))?;
                if !valid_template_name(&template) {
                    return Err(constraint(
                        &template,
                        m.field("TemplateName"),
                        &format!(
                            "Member must satisfy regular expression pattern: {TEMPLATE_NAME_PATTERN}"
                        ),
                    ));
                }
                let arn = required_str(r.resource_arn, m.field("ResourceARN"))?;
                check_len(&arn, 1, 1024, m.field("ResourceARN"))?;
                validate_tags(r.tags.unwrap_or_default(), m.field("Tags"))?;
                Ok((template, arn))
            })
            .collect()
    }
}

/// The failure for a managed rule Stratus cannot enable: managed rules are
/// templates AWS offers for its own services' resources (DynamoDB tables,
/// VPCs, ...), which a Stratus server does not have.
pub fn no_managed_template(template: &str, arn: &str) -> PartialFailure {
    PartialFailure {
        failure_resource: arn.to_string(),
        exception_type: "ResourceNotFoundException".to_string(),
        failure_code: "ResourceNotFound".to_string(),
        failure_description: format!(
            "There is no managed rule template {template} for resource {arn}: Stratus hosts no AWS service resources, so it offers no managed Contributor Insights rules."
        ),
    }
}

/// ListManagedInsightRules.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListManagedInput {
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
}

impl ListManagedInput {
    /// Checks the request. Stratus has no managed rules, so there is never a
    /// page after the first: any token is invalid.
    pub fn validate(self) -> ApiResult<()> {
        let p = Param::root("ResourceARN");
        let arn = required_str(self.resource_arn, p)?;
        check_len(&arn, 1, 1024, p)?;
        if let Some(max) = self.max_results
            && !(1..=MAX_MANAGED_RESULTS).contains(&max)
        {
            return Err(invalid(format!(
                "The value {max} for parameter MaxResults is invalid: it must be between 1 and {MAX_MANAGED_RESULTS}."
            )));
        }
        if let Some(t) = self.next_token.filter(|t| !t.is_empty()) {
            crate::alarm::ops::decode_token(&t)?;
            return Err(crate::alarm::ops::invalid_next_token());
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManagedRuleDescription {
    pub template_name: String,
    #[serde(rename = "ResourceARN")]
    pub resource_arn: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListManagedOutput {
    pub managed_rules: Vec<ManagedRuleDescription>,
}

#[cfg(test)]
mod managed_tests {
    use super::*;

    #[test]
    fn template_names_follow_the_model_pattern() {
        for ok in ["DynamoDBMostAccessedItems", "a.b-c_d", "x1"] {
            assert!(valid_template_name(ok), "{ok}");
        }
        for bad in ["", "a", "-ab", "ab-", "a b", "ä1"] {
            assert!(!valid_template_name(bad), "{bad}");
        }
        assert!(!valid_template_name(&"a".repeat(129)));
        assert!(valid_template_name(&"a".repeat(128)));
    }

    #[test]
    fn put_checks_every_rule() {
        let rule = |t: &str, a: &str| ManagedRuleInput {
            template_name: Some(t.into()),
            resource_arn: Some(a.into()),
            tags: None,
        };
        let ok = PutManagedInput {
            managed_rules: Some(vec![rule("T1", "arn:aws:dynamodb:us-east-1:1:table/t")]),
        };
        assert_eq!(
            ok.validate().unwrap(),
            vec![("T1".into(), "arn:aws:dynamodb:us-east-1:1:table/t".into())]
        );
        let bad = PutManagedInput {
            managed_rules: Some(vec![rule("T1", "arn"), rule("-x", "arn")]),
        };
        let e = bad.validate().unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationError);
        assert!(e.message.contains("'-x'"), "{}", e.message);
        assert_eq!(
            PutManagedInput::default().validate().unwrap_err().code,
            ErrorCode::MissingParameter
        );
    }
}
