//! CloudWatch actions: each decodes its `model` input, validates it, talks to
//! storage and returns the output as a `proto::Document`.

use crate::alarms;
use crate::anomaly;
use crate::app::not_implemented;
use crate::auth::{self, Caller};
use crate::dashboards;
use crate::insight_rules::{self, Change};
use crate::metric_streams;
use crate::state::AppState;
use crate::storage::{self, metric_id};
use base64::Engine as _;
use stratus_model::ops::get_metric_data::{self as gmd, GetMetricDataInput, MetricStatQuery};
use stratus_model::ops::get_metric_statistics::{self as gms, GetMetricStatisticsInput};
use stratus_model::ops::list_metrics::{self as lm, ListMetricsInput};
use stratus_model::ops::put_metric_data::PutMetricDataInput;
use stratus_model::{ApiError, ApiResult, ErrorCode, Timestamp};
use stratus_proto::{self as proto, Document};
use stratus_tsdb as tsdb;

/// Every operation in the CloudWatch model; those not served yet answer a
/// clear InvalidAction instead of "unknown".
const KNOWN_OPERATIONS: &[&str] = &[
    "DeleteAlarms",
    "DeleteAnomalyDetector",
    "DeleteDashboards",
    "DescribeAlarmContributors",
    "DescribeAlarmHistory",
    "DescribeAlarms",
    "DescribeAlarmsForMetric",
    "DescribeAnomalyDetectors",
    "DisableAlarmActions",
    "EnableAlarmActions",
    "GetDashboard",
    "GetMetricWidgetImage",
    "ListDashboards",
    "ListTagsForResource",
    "PutAnomalyDetector",
    "PutCompositeAlarm",
    "PutDashboard",
    "PutMetricAlarm",
    "SetAlarmState",
    "TagResource",
    "UntagResource",
];

/// Runs `action`. `batch_id` is the request's idempotency token
/// ([`crate::app::BATCH_ID_HEADER`]); only PutMetricData uses it.
pub fn dispatch(
    state: &AppState,
    caller: &Caller,
    action: &str,
    params: Document,
    batch_id: Option<tsdb::BatchId>,
) -> ApiResult<Document> {
    match action {
        "PutMetricAlarm" => {
            auth::authorize(caller, "cloudwatch:PutMetricAlarm", "*")?;
            alarms::put_metric_alarm(state, &caller.region, proto::from_document(params)?)
        }
        "PutCompositeAlarm" => {
            auth::authorize(caller, "cloudwatch:PutCompositeAlarm", "*")?;
            alarms::put_composite_alarm(state, &caller.region, proto::from_document(params)?)
        }
        "DescribeAlarms" => {
            auth::authorize(caller, "cloudwatch:DescribeAlarms", "*")?;
            alarms::describe_alarms(state, proto::from_document(params)?)
        }
        "DescribeAlarmsForMetric" => {
            auth::authorize(caller, "cloudwatch:DescribeAlarmsForMetric", "*")?;
            alarms::describe_alarms_for_metric(state, proto::from_document(params)?)
        }
        "DeleteAlarms" => {
            auth::authorize(caller, "cloudwatch:DeleteAlarms", "*")?;
            alarms::delete_alarms(state, proto::from_document(params)?)
        }
        "SetAlarmState" => {
            auth::authorize(caller, "cloudwatch:SetAlarmState", "*")?;
            alarms::set_alarm_state(state, proto::from_document(params)?)
        }
        "EnableAlarmActions" => {
            auth::authorize(caller, "cloudwatch:EnableAlarmActions", "*")?;
            alarms::set_actions_enabled(state, proto::from_document(params)?, true)
        }
        "DisableAlarmActions" => {
            auth::authorize(caller, "cloudwatch:DisableAlarmActions", "*")?;
            alarms::set_actions_enabled(state, proto::from_document(params)?, false)
        }
        "DescribeAlarmContributors" => {
            auth::authorize(caller, "cloudwatch:DescribeAlarmContributors", "*")?;
            alarms::describe_alarm_contributors(state, proto::from_document(params)?)
        }
        "DescribeAlarmHistory" => {
            auth::authorize(caller, "cloudwatch:DescribeAlarmHistory", "*")?;
            alarms::describe_alarm_history(state, proto::from_document(params)?)
        }
        "TagResource" => {
            auth::authorize(caller, "cloudwatch:TagResource", "*")?;
            alarms::tag_resource(state, proto::from_document(params)?)
        }
        "UntagResource" => {
            auth::authorize(caller, "cloudwatch:UntagResource", "*")?;
            alarms::untag_resource(state, proto::from_document(params)?)
        }
        "ListTagsForResource" => {
            auth::authorize(caller, "cloudwatch:ListTagsForResource", "*")?;
            alarms::list_tags_for_resource(state, proto::from_document(params)?)
        }
        "PutAnomalyDetector" => {
            auth::authorize(caller, "cloudwatch:PutAnomalyDetector", "*")?;
            anomaly::put_anomaly_detector(state, proto::from_document(params)?)
        }
        "DescribeAnomalyDetectors" => {
            auth::authorize(caller, "cloudwatch:DescribeAnomalyDetectors", "*")?;
            anomaly::describe_anomaly_detectors(state, proto::from_document(params)?)
        }
        "DeleteAnomalyDetector" => {
            auth::authorize(caller, "cloudwatch:DeleteAnomalyDetector", "*")?;
            anomaly::delete_anomaly_detector(state, proto::from_document(params)?)
        }
        "PutManagedInsightRules" => {
            auth::authorize(caller, "cloudwatch:PutManagedInsightRules", "*")?;
            insight_rules::put_managed_insight_rules(proto::from_document(params)?)
        }
        "ListManagedInsightRules" => {
            auth::authorize(caller, "cloudwatch:ListManagedInsightRules", "*")?;
            insight_rules::list_managed_insight_rules(proto::from_document(params)?)
        }
        "PutInsightRule" => {
            auth::authorize(caller, "cloudwatch:PutInsightRule", "*")?;
            insight_rules::put_insight_rule(state, &caller.region, proto::from_document(params)?)
        }
        "DescribeInsightRules" => {
            auth::authorize(caller, "cloudwatch:DescribeInsightRules", "*")?;
            insight_rules::describe_insight_rules(state, proto::from_document(params)?)
        }
        "EnableInsightRules" => {
            auth::authorize(caller, "cloudwatch:EnableInsightRules", "*")?;
            insight_rules::change_insight_rules(
                state,
                proto::from_document(params)?,
                Change::Enable,
            )
        }
        "DisableInsightRules" => {
            auth::authorize(caller, "cloudwatch:DisableInsightRules", "*")?;
            insight_rules::change_insight_rules(
                state,
                proto::from_document(params)?,
                Change::Disable,
            )
        }
        "DeleteInsightRules" => {
            auth::authorize(caller, "cloudwatch:DeleteInsightRules", "*")?;
            insight_rules::change_insight_rules(
                state,
                proto::from_document(params)?,
                Change::Delete,
            )
        }
        "GetInsightRuleReport" => {
            auth::authorize(caller, "cloudwatch:GetInsightRuleReport", "*")?;
            insight_rules::get_insight_rule_report(state, proto::from_document(params)?)
        }
        "PutMetricStream" => {
            auth::authorize(caller, "cloudwatch:PutMetricStream", "*")?;
            metric_streams::put_metric_stream(state, &caller.region, proto::from_document(params)?)
        }
        "GetMetricStream" => {
            auth::authorize(caller, "cloudwatch:GetMetricStream", "*")?;
            metric_streams::get_metric_stream(state, proto::from_document(params)?)
        }
        "ListMetricStreams" => {
            auth::authorize(caller, "cloudwatch:ListMetricStreams", "*")?;
            metric_streams::list_metric_streams(state, proto::from_document(params)?)
        }
        "DeleteMetricStream" => {
            auth::authorize(caller, "cloudwatch:DeleteMetricStream", "*")?;
            metric_streams::delete_metric_stream(state, proto::from_document(params)?)
        }
        "StartMetricStreams" => {
            auth::authorize(caller, "cloudwatch:StartMetricStreams", "*")?;
            metric_streams::set_running(state, proto::from_document(params)?, true)
        }
        "StopMetricStreams" => {
            auth::authorize(caller, "cloudwatch:StopMetricStreams", "*")?;
            metric_streams::set_running(state, proto::from_document(params)?, false)
        }
        "PutDashboard" => {
            auth::authorize(caller, "cloudwatch:PutDashboard", "*")?;
            dashboards::put_dashboard(state, proto::from_document(params)?)
        }
        "GetDashboard" => {
            auth::authorize(caller, "cloudwatch:GetDashboard", "*")?;
            dashboards::get_dashboard(state, proto::from_document(params)?)
        }
        "ListDashboards" => {
            auth::authorize(caller, "cloudwatch:ListDashboards", "*")?;
            dashboards::list_dashboards(state, proto::from_document(params)?)
        }
        "DeleteDashboards" => {
            auth::authorize(caller, "cloudwatch:DeleteDashboards", "*")?;
            dashboards::delete_dashboards(state, proto::from_document(params)?)
        }
        "PutMetricData" => {
            authorized_put_metric_data(state, caller, proto::from_document(params)?, batch_id)
        }
        "ListMetrics" => {
            auth::authorize(caller, "cloudwatch:ListMetrics", "*")?;
            list_metrics(state, proto::from_document(params)?)
        }
        "GetMetricStatistics" => {
            auth::authorize(caller, "cloudwatch:GetMetricStatistics", "*")?;
            get_metric_statistics(state, proto::from_document(params)?)
        }
        "GetMetricData" => {
            auth::authorize(caller, "cloudwatch:GetMetricData", "*")?;
            get_metric_data(state, proto::from_document(params)?)
        }
        known if KNOWN_OPERATIONS.contains(&known) => Err(not_implemented("CloudWatch", known)),
        other => Err(ApiError::new(
            ErrorCode::InvalidAction,
            format!("The action {other} is not valid for this web service."),
        )),
    }
}

/// PutMetricData for `caller`, however its input was decoded (the general
/// dispatch above, or the awsJson1_0 fast path in `app`).
pub fn authorized_put_metric_data(
    state: &AppState,
    caller: &Caller,
    input: PutMetricDataInput,
    batch_id: Option<tsdb::BatchId>,
) -> ApiResult<Document> {
    auth::authorize(caller, "cloudwatch:PutMetricData", "*")?;
    put_metric_data(state, input, batch_id)
}

/// Stores the datums. A batch whose id was stored before is acknowledged the
/// same way (the client retried after losing our answer) but not stored.
fn put_metric_data(
    state: &AppState,
    input: PutMetricDataInput,
    batch_id: Option<tsdb::BatchId>,
) -> ApiResult<Document> {
    let valid = input.validate(Timestamp::now())?;
    if valid.datums.is_empty() {
        return Ok(Document::Struct(Vec::new()));
    }
    let written = state.metrics.put(valid.datums, batch_id)?;
    if let (tsdb::Written::Duplicate, Some(id)) = (written, batch_id) {
        tracing::debug!(batch_id = %id, "duplicate PutMetricData batch acknowledged, not stored");
    }
    Ok(Document::Struct(Vec::new()))
}

fn list_metrics(state: &AppState, input: ListMetricsInput) -> ApiResult<Document> {
    let valid = input.validate()?;
    let filter = tsdb::SeriesFilter {
        namespace: valid.namespace.clone(),
        name: valid.metric_name.clone(),
        dimensions: valid
            .dimensions
            .iter()
            .map(|f| (f.name.clone(), f.value.clone()))
            .collect(),
    };
    let after = match &valid.next_token {
        Some(t) => Some(decode_list_token(t)?),
        None => None,
    };
    // Fetch one extra to know whether another page exists.
    let mut keys = state
        .metrics
        .list(&filter, after.as_ref(), lm::PAGE_SIZE + 1)?;
    let next_token = if keys.len() > lm::PAGE_SIZE {
        keys.truncate(lm::PAGE_SIZE);
        keys.last().map(encode_list_token)
    } else {
        None
    };
    let out = lm::ListMetricsOutput {
        metrics: keys.into_iter().map(|k| metric_id(k).to_metric()).collect(),
        next_token,
        owning_accounts: None,
    };
    Ok(proto::to_document(&out))
}

const LIST_TOKEN_PREFIX: &str = "lm1:";

fn encode_list_token(k: &tsdb::SeriesKey) -> String {
    let json = serde_json::json!([k.namespace, k.name, k.dimensions]);
    format!(
        "{LIST_TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string())
    )
}

fn decode_list_token(t: &str) -> ApiResult<tsdb::SeriesKey> {
    // ListMetrics models only InvalidParameterValue; SDKs raise that class.
    let bad = || {
        ApiError::new(
            ErrorCode::InvalidParameterValue,
            "The parameter NextToken is invalid: it was not returned by ListMetrics.",
        )
    };
    let b64 = t.strip_prefix(LIST_TOKEN_PREFIX).ok_or_else(bad)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|_| bad())?;
    let (namespace, name, dimensions): (String, String, Vec<(String, String)>) =
        serde_json::from_slice(&bytes).map_err(|_| bad())?;
    Ok(tsdb::SeriesKey {
        namespace,
        name,
        dimensions,
    })
}

fn get_metric_statistics(state: &AppState, input: GetMetricStatisticsInput) -> ApiResult<Document> {
    let q = input.validate(Timestamp::now())?;
    let aggs = state
        .metrics
        .aggregates(&q.metric, q.start, q.end, q.period_secs, q.unit)?;
    let out = gms::statistics_output(&q, &q.metric.metric_name, &aggs);
    Ok(proto::to_document(&out))
}

fn get_metric_data(state: &AppState, input: GetMetricDataInput) -> ApiResult<Document> {
    let valid = input.validate(Timestamp::now())?;
    let mut source = StoreSource { state };
    let out = gmd::execute_get_metric_data(&valid, &mut source)?;
    Ok(proto::to_document(&out))
}

/// Feeds GetMetricData's MetricStat queries from storage: one value per period
/// (units merged, as GetMetricData returns one series per query).
pub(crate) struct StoreSource<'a> {
    pub(crate) state: &'a AppState,
}

impl gmd::MetricStatSource for StoreSource<'_> {
    fn fetch(
        &mut self,
        stat: &MetricStatQuery,
        start: Timestamp,
        end: Timestamp,
    ) -> ApiResult<Vec<(Timestamp, f64)>> {
        let aggs =
            self.state
                .metrics
                .aggregates(&stat.metric, start, end, stat.period_secs, stat.unit)?;
        Ok(storage::merge_units(aggs)
            .into_iter()
            .filter_map(|a| {
                let v = stat.stat.of(&a)?;
                Some((Timestamp::from_millis(a.0.start_ms), v))
            })
            .collect())
    }

    fn insights_metrics(
        &mut self,
        query: &stratus_model::insights_query::Query,
        limit: usize,
    ) -> ApiResult<Vec<stratus_model::metric::MetricId>> {
        // Storage narrows by namespace and name (and, for SCHEMA, by the
        // presence of its keys); the query decides the rest.
        let schema_keys = match &query.source {
            stratus_model::insights_query::Source::Schema { keys, .. } => keys.clone(),
            stratus_model::insights_query::Source::Namespace(_) => Vec::new(),
        };
        let filter = tsdb::SeriesFilter {
            namespace: Some(query.source.namespace().to_string()),
            name: Some(query.metric_name.clone()),
            dimensions: schema_keys.into_iter().map(|k| (k, None)).collect(),
        };
        const PAGE: usize = 1000;
        let mut out = Vec::new();
        let mut after: Option<tsdb::SeriesKey> = None;
        loop {
            let keys = self.state.metrics.list(&filter, after.as_ref(), PAGE)?;
            let full_page = keys.len() == PAGE;
            after = keys.last().cloned();
            for k in keys {
                let m = metric_id(k);
                if query.matches(&m) {
                    out.push(m);
                    if out.len() >= limit {
                        return Ok(out);
                    }
                }
            }
            if !full_page {
                return Ok(out);
            }
        }
    }

    fn period_stats(
        &mut self,
        metric: &stratus_model::metric::MetricId,
        start: Timestamp,
        end: Timestamp,
        period_secs: i64,
    ) -> ApiResult<Vec<stratus_model::insights_query::PeriodStats>> {
        let aggs = self
            .state
            .metrics
            .aggregates(metric, start, end, period_secs, None)?;
        Ok(storage::merge_units(aggs)
            .into_iter()
            .map(|a| stratus_model::insights_query::PeriodStats {
                start_ms: a.0.start_ms,
                count: a.0.count,
                sum: a.0.sum,
                min: a.0.min,
                max: a.0.max,
            })
            .collect())
    }

    fn training_config(
        &mut self,
        stat: &MetricStatQuery,
    ) -> ApiResult<stratus_model::anomaly::band::TrainingConfig> {
        let target = stratus_model::anomaly::DetectorTarget {
            metric: stat.metric.clone(),
            stat: stat.stat.as_str().to_string(),
        };
        anomaly::training_config(self.state, &target)
    }

    fn insight_rule_metric(
        &mut self,
        rule: &str,
        metric: &str,
        start: Timestamp,
        end: Timestamp,
        period_secs: i64,
    ) -> ApiResult<Vec<(Timestamp, f64)>> {
        insight_rules::rule_metric(
            self.state,
            rule,
            metric,
            start.millis(),
            end.millis(),
            period_secs,
        )
    }
}
