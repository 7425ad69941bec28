//! CloudWatch Contributor Insights rules over the log groups of this node's
//! log store. Rules are stored whole in the metadata table `insight_rules`,
//! keyed by name; a report (GetInsightRuleReport, `INSIGHT_RULE_METRIC`) is
//! computed on demand by scanning the matching groups' events in the window
//! with `stratus_logs::contributor`.
//!
//! Enable/disable: a rule records the spans it was enabled; events ingested
//! outside them are not counted, so a disabled rule gathers no data (and an
//! event is counted by its own timestamp, as AWS graphs it). Single-node
//! only, like CloudWatch Logs: in cluster mode these actions are refused.

use crate::alarms::store::meta_error;
use crate::logs::LogsRuntime;
use crate::meta::Table;
use crate::state::AppState;
use crate::tags;
use stratus_logs::contributor::{Accumulator, OrderBy, Report, Rule};
use stratus_logs::store::Scan;
use stratus_model::alarm::ops::encode_token;
use stratus_model::insight_rule::{
    self as ir, ContributorDatapoint, ContributorOutput, DescribeInput, DescribeOutput,
    FailuresOutput, ListManagedInput, ListManagedOutput, MetricDatapoint, PutInput,
    PutManagedInput, ReportInput, ReportOutput, RuleNamesInput, RuleRecord,
};
use stratus_model::param::invalid;
use stratus_model::{ApiError, ApiResult, ErrorCode, Timestamp};
use stratus_proto::{self as proto, Document};

pub const INSIGHT_RULES: Table = Table::new("insight_rules");

/// A report scans at most this many events (over every group it reads):
/// past it the request is refused rather than answered from part of the
/// data.
pub const MAX_SCANNED_EVENTS: u64 = 5_000_000;

fn logs_runtime(state: &AppState) -> ApiResult<&LogsRuntime> {
    state.logs.as_deref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidOperationException,
            "Contributor Insights rules read CloudWatch Logs, which is not available in cluster mode yet; run them on a single-node Stratus.",
        )
    })
}

fn now_ms() -> i64 {
    Timestamp::now().millis()
}

/// A stored definition was valid when put; should the rule language
/// tighten later, reports on it say so instead of failing obscurely.
fn parse_stored(record: &RuleRecord) -> ApiResult<Rule> {
    Rule::parse(&record.definition).map_err(|e| invalid(e.to_string()))
}

/// Creates or replaces a rule. Replacing keeps its enabled history and
/// ignores `Tags` (AWS: tags change through TagResource only).
pub fn put_insight_rule(state: &AppState, region: &str, input: PutInput) -> ApiResult<Document> {
    logs_runtime(state)?;
    let v = input.validate()?;
    Rule::parse(&v.definition).map_err(|e| invalid(e.to_string()))?;
    let now = now_ms();
    state
        .meta
        .transact(|tx| {
            let mut record = match tx.get::<RuleRecord>(INSIGHT_RULES, &v.name)? {
                Some(r) => r,
                None => {
                    if tx.list::<RuleRecord>(INSIGHT_RULES)?.len() >= ir::MAX_RULES {
                        return Ok(Err(ir::too_many_rules()));
                    }
                    let arn = ir::rule_arn(region, crate::ACCOUNT_ID, &v.name);
                    if !v.tags.is_empty() {
                        tags::merge_in(tx, &arn, &v.tags)?;
                    }
                    RuleRecord {
                        name: v.name.clone(),
                        arn,
                        definition: String::new(),
                        apply_on_transformed_logs: false,
                        enabled_spans: Vec::new(),
                    }
                }
            };
            record.definition = v.definition.clone();
            record.apply_on_transformed_logs = v.apply_on_transformed_logs;
            record.set_enabled(v.enabled, now);
            tx.put(INSIGHT_RULES, &v.name, &record)?;
            Ok(Ok(()))
        })
        .map_err(meta_error)??;
    Ok(Document::Struct(Vec::new()))
}

/// In name order; the token is the last name returned.
pub fn describe_insight_rules(state: &AppState, input: DescribeInput) -> ApiResult<Document> {
    logs_runtime(state)?;
    let (after, max) = input.validate()?;
    let all = state
        .meta
        .list::<RuleRecord>(INSIGHT_RULES)
        .map_err(meta_error)?;
    let (rows, last) = crate::meta::page_after(all, after.as_deref(), max);
    let next_token = last.as_deref().map(encode_token);
    Ok(proto::to_document(&DescribeOutput {
        insight_rules: rows.iter().map(|(_, r)| r.to_output()).collect(),
        next_token,
    }))
}

#[derive(Clone, Copy)]
pub enum Change {
    Enable,
    Disable,
    Delete,
}

/// Enable/Disable/DeleteInsightRules: every known name is changed; each
/// unknown one is a `Failures` entry.
pub fn change_insight_rules(
    state: &AppState,
    input: RuleNamesInput,
    change: Change,
) -> ApiResult<Document> {
    logs_runtime(state)?;
    let names = input.validate()?;
    let now = now_ms();
    let failures = state
        .meta
        .transact(|tx| {
            let mut failures = Vec::new();
            for name in &names {
                let Some(mut r) = tx.get::<RuleRecord>(INSIGHT_RULES, name)? else {
                    failures.push(ir::not_found_failure(name));
                    continue;
                };
                match change {
                    Change::Delete => {
                        tx.delete(INSIGHT_RULES, name)?;
                        tags::delete_in(tx, &r.arn)?;
                    }
                    Change::Enable | Change::Disable => {
                        r.set_enabled(matches!(change, Change::Enable), now);
                        tx.put(INSIGHT_RULES, name, &r)?;
                    }
                }
            }
            Ok(failures)
        })
        .map_err(meta_error)?;
    Ok(proto::to_document(&FailuresOutput { failures }))
}

/// Scans the rule's log groups over `[start_ms, end_ms)` on a grid of
/// `period_secs`.
fn evaluate(
    state: &AppState,
    record: &RuleRecord,
    rule: &Rule,
    (start_ms, end_ms, period_secs): (i64, i64, i64),
    top: usize,
    order: OrderBy,
) -> ApiResult<Report> {
    let rt = logs_runtime(state)?;
    let mut acc = Accumulator::new(start_ms, end_ms, period_secs.saturating_mul(1000));
    let mut scanned: u64 = 0;
    let scan = Scan {
        start_ms: Some(start_ms),
        end_ms: Some(end_ms),
        ..Default::default()
    };
    for group in rt.store.groups() {
        if !rule.reads_group(&group.name) {
            continue;
        }
        rt.store
            .scan(&group.name, &scan, &mut |ev, _| {
                scanned += 1;
                if scanned > MAX_SCANNED_EVENTS {
                    return false;
                }
                if record.enabled_at(ev.ingestion_ms)
                    && let Some(obs) = rule.observe(ev.message)
                {
                    acc.add(ev.timestamp_ms, obs);
                }
                true
            })
            .map_err(crate::logs::store_error)?;
        if scanned > MAX_SCANNED_EVENTS {
            return Err(invalid(format!(
                "The time range holds more than {MAX_SCANNED_EVENTS} log events in the rule's log groups; use a shorter time range."
            )));
        }
    }
    Ok(acc.finish(top, order))
}

/// PutManagedInsightRules: managed rules are AWS's templates for its own
/// services' resources; a Stratus server has none, so every valid rule is a
/// `Failures` entry saying so (nothing is created).
pub fn put_managed_insight_rules(input: PutManagedInput) -> ApiResult<Document> {
    let failures = input
        .validate()?
        .iter()
        .map(|(template, arn)| ir::no_managed_template(template, arn))
        .collect();
    Ok(proto::to_document(&FailuresOutput { failures }))
}

/// ListManagedInsightRules: no resource of a Stratus server has managed
/// rules, so the list is empty (the request is still checked).
pub fn list_managed_insight_rules(input: ListManagedInput) -> ApiResult<Document> {
    input.validate()?;
    Ok(proto::to_document(&ListManagedOutput {
        managed_rules: Vec::new(),
    }))
}

/// Whether `arn` names an existing rule (TagResource and friends).
pub fn exists_by_arn(state: &AppState, arn: &str) -> ApiResult<bool> {
    let Some(name) = ir::name_from_rule_arn(arn) else {
        return Ok(false);
    };
    Ok(state
        .meta
        .get::<RuleRecord>(INSIGHT_RULES, name)
        .map_err(meta_error)?
        .is_some_and(|r| r.arn == arn))
}

fn stored_rule(state: &AppState, name: &str) -> ApiResult<RuleRecord> {
    state
        .meta
        .get::<RuleRecord>(INSIGHT_RULES, name)
        .map_err(meta_error)?
        .ok_or_else(|| ir::rule_not_found(name))
}

pub fn get_insight_rule_report(state: &AppState, input: ReportInput) -> ApiResult<Document> {
    logs_runtime(state)?;
    let v = input.validate()?;
    let record = stored_rule(state, &v.name)?;
    let rule = parse_stored(&record)?;
    let order = if v.order_by == "Maximum" {
        OrderBy::Maximum
    } else {
        OrderBy::Sum
    };
    let report = evaluate(
        state,
        &record,
        &rule,
        (v.start_ms, v.end_ms, v.period_secs),
        v.max_contributors,
        order,
    )?;
    let out = ReportOutput {
        key_labels: rule.key_labels.clone(),
        aggregation_statistic: rule.aggregate_on.statistic().to_string(),
        aggregate_value: report.aggregate_value,
        approximate_unique_count: report.unique_count as i64,
        contributors: report
            .contributors
            .into_iter()
            .map(|c| ContributorOutput {
                keys: c.keys,
                approximate_aggregate_value: c.value,
                datapoints: c
                    .datapoints
                    .into_iter()
                    .map(|(t, x)| ContributorDatapoint {
                        timestamp: Timestamp(t),
                        approximate_value: x,
                    })
                    .collect(),
            })
            .collect(),
        metric_datapoints: report
            .periods
            .iter()
            .map(|p| {
                let mut d = MetricDatapoint::at(Timestamp(p.start_ms));
                for m in &v.metrics {
                    d.set(m, p.metric(m));
                }
                d
            })
            .collect(),
    };
    Ok(proto::to_document(&out))
}

/// `INSIGHT_RULE_METRIC(rule, metric)`: one value per period of
/// `[start_ms, end_ms)` (periods where the statistic has no value, e.g.
/// `Minimum` without data, are left out).
pub fn rule_metric(
    state: &AppState,
    rule_name: &str,
    metric: &str,
    start_ms: i64,
    end_ms: i64,
    period_secs: i64,
) -> ApiResult<Vec<(Timestamp, f64)>> {
    if !ir::METRIC_NAMES.contains(&metric) {
        return Err(ApiError::new(
            ErrorCode::ValidationError,
            format!(
                "INSIGHT_RULE_METRIC: {metric} is not a Contributor Insights metric; use one of {}.",
                ir::METRIC_NAMES.join(", ")
            ),
        ));
    }
    if end_ms <= start_ms {
        return Ok(Vec::new());
    }
    ir::check_window(start_ms, end_ms, period_secs)?;
    let record = stored_rule(state, rule_name)?;
    let rule = parse_stored(&record)?;
    let report = evaluate(
        state,
        &record,
        &rule,
        (start_ms, end_ms, period_secs),
        0,
        OrderBy::Sum,
    )?;
    Ok(report
        .periods
        .iter()
        .filter_map(|p| Some((Timestamp(p.start_ms), p.metric(metric)?)))
        .collect())
}
