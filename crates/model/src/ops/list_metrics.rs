//! ListMetrics: input, validation into a [`ListMetricsQuery`], and output.

use crate::error::ApiResult;
use crate::limits::{
    LIST_METRICS_PAGE_SIZE, MAX_LIST_METRICS_DIMENSION_FILTERS, RECENTLY_ACTIVE_PT3H,
};
use crate::metric::{
    DimensionFilter, Metric, MetricId, validate_dimension_name, validate_dimension_value,
    validate_metric_name, validate_namespace,
};
use crate::param::{Param, list_constraint, missing, not_in_enum};
use serde::{Deserialize, Serialize};

/// Metrics per page (re-exported from [`crate::limits`] for callers of this op).
pub const PAGE_SIZE: usize = LIST_METRICS_PAGE_SIZE;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListMetricsInput {
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    pub dimensions: Vec<DimensionFilterInput>,
    pub next_token: Option<String>,
    pub recently_active: Option<String>,
    pub include_linked_accounts: Option<bool>,
    pub owning_account: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DimensionFilterInput {
    pub name: Option<String>,
    pub value: Option<String>,
}

/// A validated ListMetrics request. Pagination tokens are opaque here: their
/// format belongs to whoever walks the series index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListMetricsQuery {
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    pub dimensions: Vec<DimensionFilter>,
    pub next_token: Option<String>,
    /// `RecentlyActive=PT3H`: only metrics with data in the last three hours.
    pub recently_active: bool,
    pub include_linked_accounts: bool,
    pub owning_account: Option<String>,
}

impl ListMetricsQuery {
    /// Whether `metric` passes the namespace, name and dimension filters. A
    /// filter with only a name matches any value; the metric may carry extra
    /// dimensions.
    pub fn matches(&self, metric: &MetricId) -> bool {
        self.namespace
            .as_ref()
            .is_none_or(|ns| *ns == metric.namespace)
            && self
                .metric_name
                .as_ref()
                .is_none_or(|n| *n == metric.metric_name)
            && self.dimensions.iter().all(|f| f.matches(metric))
    }
}

impl ListMetricsInput {
    pub fn validate(self) -> ApiResult<ListMetricsQuery> {
        let namespace = self
            .namespace
            .map(|ns| validate_namespace(Some(ns), Param::root("Namespace")))
            .transpose()?;
        let metric_name = self
            .metric_name
            .map(|n| validate_metric_name(Some(n), Param::root("MetricName")))
            .transpose()?;

        let dp = Param::root("Dimensions");
        if self.dimensions.len() > MAX_LIST_METRICS_DIMENSION_FILTERS {
            let names: Vec<&str> = self
                .dimensions
                .iter()
                .map(|d| d.name.as_deref().unwrap_or(""))
                .collect();
            return Err(list_constraint(
                &names,
                dp,
                &format!(
                    "Member must have length less than or equal to {MAX_LIST_METRICS_DIMENSION_FILTERS}"
                ),
            ));
        }
        let mut dimensions = Vec::with_capacity(self.dimensions.len());
        for (i, f) in self.dimensions.into_iter().enumerate() {
            let name = f.name.ok_or_else(|| missing(dp.member(i).field("Name")))?;
            validate_dimension_name(&name, dp.member(i).field("Name"))?;
            if let Some(v) = &f.value {
                validate_dimension_value(v, dp.member(i).field("Value"))?;
            }
            dimensions.push(DimensionFilter {
                name,
                value: f.value,
            });
        }

        let recently_active = match self.recently_active.as_deref() {
            None => false,
            Some(RECENTLY_ACTIVE_PT3H) => true,
            Some(other) => {
                return Err(not_in_enum(
                    other,
                    Param::root("RecentlyActive"),
                    &[RECENTLY_ACTIVE_PT3H],
                ));
            }
        };

        Ok(ListMetricsQuery {
            namespace,
            metric_name,
            dimensions,
            next_token: self.next_token.filter(|t| !t.is_empty()),
            recently_active,
            include_linked_accounts: self.include_linked_accounts.unwrap_or(false),
            owning_account: self.owning_account.filter(|a| !a.is_empty()),
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListMetricsOutput {
    pub metrics: Vec<Metric>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// Only with `IncludeLinkedAccounts`: the owning account of each metric, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owning_accounts: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;
    use crate::metric::Dimension;
    use serde_json::json;

    fn input(v: serde_json::Value) -> ListMetricsInput {
        serde_json::from_value(v).expect("decodes")
    }

    #[test]
    fn rejects_with_code_and_parameter() {
        let filters: Vec<_> = (0..11).map(|i| json!({"Name": format!("d{i}")})).collect();
        let cases = vec![
            (
                json!({"Namespace": ":x"}),
                ErrorCode::ValidationError,
                "'namespace'",
            ),
            (
                json!({"MetricName": "m".repeat(256)}),
                ErrorCode::ValidationError,
                "'metricName'",
            ),
            (
                json!({"Dimensions": filters}),
                ErrorCode::ValidationError,
                "'dimensions'",
            ),
            (
                json!({"Dimensions": [{"Value": "x"}]}),
                ErrorCode::MissingParameter,
                "The parameter Dimensions.member.1.Name is required.",
            ),
            (
                json!({"Dimensions": [{"Name": "a"}, {"Name": "b", "Value": ""}]}),
                ErrorCode::MissingParameter,
                "Dimensions.member.2.Value",
            ),
            (
                json!({"RecentlyActive": "PT1H"}),
                ErrorCode::ValidationError,
                "Member must satisfy enum value set: [PT3H]",
            ),
        ];
        for (v, code, fragment) in cases {
            let e = input(v.clone()).validate().unwrap_err();
            assert_eq!(e.code, code, "{v}: {}", e.message);
            assert!(
                e.message.contains(fragment),
                "{v}: {} lacks {fragment}",
                e.message
            );
        }
    }

    #[test]
    fn accepts_and_matches() {
        let q = input(json!({"Namespace": "AWS/EC2", "Dimensions": [{"Name": "host"}, {"Name": "disk", "Value": "/"}],
            "RecentlyActive": "PT3H", "NextToken": ""}))
        .validate()
        .unwrap();
        assert!(q.recently_active);
        assert_eq!(q.next_token, None);
        let m = |ns: &str, dims: &[(&str, &str)]| {
            let d = dims.iter().map(|(n, v)| Dimension::new(*n, *v)).collect();
            MetricId::new(ns.into(), "cpu".into(), d, Param::ROOT).unwrap()
        };
        assert!(q.matches(&m(
            "AWS/EC2",
            &[("host", "a"), ("disk", "/"), ("extra", "x")]
        )));
        assert!(!q.matches(&m("AWS/EC2", &[("host", "a"), ("disk", "/home")])));
        assert!(!q.matches(&m("AWS/EC2", &[("disk", "/")])));
        assert!(!q.matches(&m("Other", &[("host", "a"), ("disk", "/")])));
        assert!(input(json!({})).validate().unwrap().matches(&m("x", &[])));
    }

    #[test]
    fn output_shape() {
        let out = ListMetricsOutput {
            metrics: vec![
                MetricId::new("ns".into(), "m".into(), vec![], Param::ROOT)
                    .unwrap()
                    .to_metric(),
            ],
            next_token: None,
            owning_accounts: None,
        };
        let v = serde_json::to_value(&out).unwrap();
        assert_eq!(
            v,
            json!({"Metrics": [{"Namespace": "ns", "MetricName": "m", "Dimensions": []}]})
        );
    }
}
