//! Metric identity: dimensions, the wire `Metric` structure, and the canonical
//! [`MetricId`] (namespace, name, dimensions sorted by name).

use crate::error::ApiResult;
use crate::limits::{
    MAX_DIMENSION_NAME_LEN, MAX_DIMENSION_VALUE_LEN, MAX_DIMENSIONS_PER_METRIC,
    MAX_METRIC_NAME_LEN, MAX_NAMESPACE_LEN,
};
use crate::param::{
    Param, check_len, check_no_leading_colon, check_xml_chars, invalid, required_str,
};
use serde::{Deserialize, Serialize};

/// A dimension as it travels on the wire (input and output).
///
/// Both members default to `""` when absent; validation reports an empty
/// member as missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Dimension {
    pub name: String,
    pub value: String,
}

impl Dimension {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Dimension {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// The wire `Metric` structure: ListMetrics output, and the `Metric` member of
/// `MetricStat` in GetMetricData and alarms.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Metric {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_name: Option<String>,
    pub dimensions: Vec<Dimension>,
}

impl Metric {
    /// Validates this structure (found at `p`) into a canonical identity.
    /// Namespace rules are the read-side ones: the `AWS/` prefix is allowed.
    pub fn validate(self, p: Param) -> ApiResult<MetricId> {
        let namespace = validate_namespace(self.namespace, p.field("Namespace"))?;
        let metric_name = validate_metric_name(self.metric_name, p.field("MetricName"))?;
        MetricId::new(
            namespace,
            metric_name,
            self.dimensions,
            p.field("Dimensions"),
        )
    }
}

/// A metric's identity in canonical form: dimensions sorted by name, names unique.
/// Two requests naming the same dimensions in a different order yield equal ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetricId {
    pub namespace: String,
    pub metric_name: String,
    /// Sorted by name, no duplicate names.
    pub dimensions: Vec<Dimension>,
}

impl MetricId {
    /// Validates the dimensions found at `dims_param` and canonicalizes them.
    /// `namespace` and `metric_name` must already be validated.
    pub fn new(
        namespace: String,
        metric_name: String,
        mut dimensions: Vec<Dimension>,
        dims_param: Param,
    ) -> ApiResult<MetricId> {
        validate_dimensions(&mut dimensions, dims_param)?;
        Ok(MetricId {
            namespace,
            metric_name,
            dimensions,
        })
    }

    /// Back to the wire structure (for ListMetrics and describe outputs).
    pub fn to_metric(&self) -> Metric {
        Metric {
            namespace: Some(self.namespace.clone()),
            metric_name: Some(self.metric_name.clone()),
            dimensions: self.dimensions.clone(),
        }
    }

    /// The value of a dimension, by name (binary search on the sorted list).
    pub fn dimension(&self, name: &str) -> Option<&str> {
        self.dimensions
            .binary_search_by(|d| d.name.as_str().cmp(name))
            .ok()
            .map(|i| self.dimensions[i].value.as_str())
    }
}

/// `Namespace`: required, 1..=255 characters, not starting with `:`.
pub fn validate_namespace(value: Option<String>, p: Param) -> ApiResult<String> {
    let ns = required_str(value, p)?;
    check_len(&ns, 1, MAX_NAMESPACE_LEN, p)?;
    check_no_leading_colon(&ns, p)?;
    check_xml_chars(&ns, p)?;
    Ok(ns)
}

/// `MetricName`: required, 1..=255 characters.
pub fn validate_metric_name(value: Option<String>, p: Param) -> ApiResult<String> {
    let name = required_str(value, p)?;
    check_len(&name, 1, MAX_METRIC_NAME_LEN, p)?;
    check_xml_chars(&name, p)?;
    Ok(name)
}

/// `Dimension.Name`: 1..=255, not starting with `:`, not only whitespace.
pub fn validate_dimension_name(name: &str, p: Param) -> ApiResult<()> {
    if name.is_empty() {
        return Err(crate::param::missing(p));
    }
    check_len(name, 1, MAX_DIMENSION_NAME_LEN, p)?;
    check_no_leading_colon(name, p)?;
    check_xml_chars(name, p)?;
    if name.trim().is_empty() {
        return Err(invalid(format!(
            "The parameter {p} must contain at least one non-whitespace character."
        )));
    }
    Ok(())
}

/// `Dimension.Value`: 1..=1024, not only whitespace.
pub fn validate_dimension_value(value: &str, p: Param) -> ApiResult<()> {
    if value.is_empty() {
        return Err(crate::param::missing(p));
    }
    check_len(value, 1, MAX_DIMENSION_VALUE_LEN, p)?;
    check_xml_chars(value, p)?;
    if value.trim().is_empty() {
        return Err(invalid(format!(
            "The parameter {p} must contain at least one non-whitespace character."
        )));
    }
    Ok(())
}

/// Checks a dimension list found at `p` (≤ 30 entries, each valid, names unique)
/// and sorts it by name.
pub fn validate_dimensions(dims: &mut [Dimension], p: Param) -> ApiResult<()> {
    if dims.len() > MAX_DIMENSIONS_PER_METRIC {
        // AWS answers collection-size limits with InvalidParameterValue.
        return Err(invalid(format!(
            "The collection {p} must not have a size greater than {MAX_DIMENSIONS_PER_METRIC}."
        )));
    }
    for (i, d) in dims.iter().enumerate() {
        validate_dimension_name(&d.name, p.member(i).field("Name"))?;
        validate_dimension_value(&d.value, p.member(i).field("Value"))?;
    }
    // Already-sorted input (the agent sends sorted dimensions) costs one pass.
    if !dims.is_sorted_by(|a, b| a.name <= b.name) {
        dims.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    }
    // AWS's words, which name neither the dimension nor the parameter.
    if dims.windows(2).any(|w| w[0].name == w[1].name) {
        return Err(invalid(
            "No metric may specify the same dimension name twice.".into(),
        ));
    }
    Ok(())
}

/// A ListMetrics dimension filter: a name, and optionally the value it must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimensionFilter {
    pub name: String,
    pub value: Option<String>,
}

impl DimensionFilter {
    pub fn matches(&self, metric: &MetricId) -> bool {
        match (metric.dimension(&self.name), &self.value) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(v), Some(want)) => v == want,
        }
    }
}

/// PutMetricData's refusal of the reserved `AWS/` prefix.
pub(crate) fn reserved_namespace_error(ns: &str, p: Param) -> crate::ApiError {
    invalid(format!(
        "The value {} for parameter {p} is invalid: the {} prefix is reserved for AWS services.",
        crate::param::echo(ns),
        crate::limits::RESERVED_NAMESPACE_PREFIX
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    fn dims(pairs: &[(&str, &str)]) -> Vec<Dimension> {
        pairs.iter().map(|(n, v)| Dimension::new(*n, *v)).collect()
    }

    #[test]
    fn canonical_order_makes_equal_ids() {
        let p = Param::root("Dimensions");
        let a = MetricId::new("ns".into(), "m".into(), dims(&[("b", "2"), ("a", "1")]), p).unwrap();
        let b = MetricId::new("ns".into(), "m".into(), dims(&[("a", "1"), ("b", "2")]), p).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.dimensions[0].name, "a");
        assert_eq!(a.dimension("b"), Some("2"));
        assert_eq!(a.dimension("c"), None);
    }

    #[test]
    fn dimension_rules() {
        let p = Param::root("MetricData").member(0).field("Dimensions");
        let long_name = "n".repeat(256);
        let long_value = "v".repeat(1025);
        let too_many: Vec<(String, String)> = (0..31)
            .map(|i| (format!("d{i}"), "v".to_string()))
            .collect();
        let too_many: Vec<(&str, &str)> = too_many
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        type Case<'a> = (Vec<(&'a str, &'a str)>, ErrorCode, &'a str);
        let cases: Vec<Case<'_>> = vec![
            (
                vec![("a", "1"), ("a", "2")],
                ErrorCode::InvalidParameterValue,
                "No metric may specify the same dimension name twice.",
            ),
            (
                vec![("", "1")],
                ErrorCode::MissingParameter,
                "MetricData.member.1.Dimensions.member.1.Name",
            ),
            (
                vec![("a", "1"), ("b", "")],
                ErrorCode::MissingParameter,
                "MetricData.member.1.Dimensions.member.2.Value",
            ),
            (
                vec![(":a", "1")],
                ErrorCode::ValidationError,
                "metricData.1.member.dimensions.1.member.name",
            ),
            (
                vec![("  ", "1")],
                ErrorCode::InvalidParameterValue,
                "MetricData.member.1.Dimensions.member.1.Name",
            ),
            (
                vec![("a", " ")],
                ErrorCode::InvalidParameterValue,
                "MetricData.member.1.Dimensions.member.1.Value",
            ),
            (
                vec![(long_name.as_str(), "1")],
                ErrorCode::ValidationError,
                "metricData.1.member.dimensions.1.member.name",
            ),
            (
                vec![("a", long_value.as_str())],
                ErrorCode::ValidationError,
                "metricData.1.member.dimensions.1.member.value",
            ),
            (
                vec![("a", "x\u{1}")],
                ErrorCode::InvalidParameterValue,
                "MetricData.member.1.Dimensions.member.1.Value",
            ),
            (
                too_many,
                ErrorCode::InvalidParameterValue,
                "MetricData.member.1.Dimensions",
            ),
        ];
        for (input, code, param) in cases {
            let mut d = dims(&input);
            let e = validate_dimensions(&mut d, p).unwrap_err();
            assert_eq!(e.code, code, "{input:?}: {}", e.message);
            assert!(
                e.message.contains(param),
                "{input:?}: {} lacks {param}",
                e.message
            );
        }
        let mut ok: Vec<Dimension> = (0..30)
            .map(|i| Dimension::new(format!("d{i:02}"), "v"))
            .collect();
        ok.reverse();
        validate_dimensions(&mut ok, p).unwrap();
        assert!(ok.is_sorted());
    }

    #[test]
    fn metric_validate() {
        let p = Param::root("MetricDataQueries")
            .member(1)
            .field("MetricStat")
            .field("Metric");
        let e = Metric {
            namespace: None,
            metric_name: Some("m".into()),
            dimensions: vec![],
        }
        .validate(p)
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::MissingParameter);
        assert_eq!(
            e.message,
            "The parameter MetricDataQueries.member.2.MetricStat.Metric.Namespace is required."
        );
        let ok = Metric {
            namespace: Some("AWS/EC2".into()),
            metric_name: Some("CPU".into()),
            dimensions: vec![],
        }
        .validate(p)
        .unwrap();
        assert_eq!(ok.to_metric().namespace.as_deref(), Some("AWS/EC2"));
    }

    #[test]
    fn filters() {
        let m = MetricId::new(
            "ns".into(),
            "m".into(),
            dims(&[("host", "a"), ("disk", "/")]),
            Param::ROOT,
        )
        .unwrap();
        assert!(
            DimensionFilter {
                name: "host".into(),
                value: None
            }
            .matches(&m)
        );
        assert!(
            DimensionFilter {
                name: "host".into(),
                value: Some("a".into())
            }
            .matches(&m)
        );
        assert!(
            !DimensionFilter {
                name: "host".into(),
                value: Some("b".into())
            }
            .matches(&m)
        );
        assert!(
            !DimensionFilter {
                name: "zone".into(),
                value: None
            }
            .matches(&m)
        );
    }
}
