//! CloudWatch alarms in the server: the alarm actions (Put/Describe/Delete,
//! SetAlarmState, Enable/Disable actions, history, tags on alarm ARNs), the
//! persistence ([`store`]), evaluation against storage ([`engine`]), the
//! background [`scheduler`] and the running of alarm [`actions`] (SNS
//! publishes). What is valid and how states are computed lives in
//! `stratus_model::alarm`; this module does the IO.

pub mod actions;
pub mod changes;
pub mod engine;
pub mod scheduler;
pub mod store;

use crate::state::AppState;
use crate::tags;
use store::{ALARMS, meta_error};
use stratus_model::alarm::contributor::{
    self, ContributorRecord, DescribeAlarmContributorsInput, DescribeAlarmContributorsOutput,
};
use stratus_model::alarm::ops::{
    self, AlarmHistoryItem, AlarmNamesInput, DescribeAlarmHistoryInput, DescribeAlarmHistoryOutput,
    DescribeAlarmsForMetricInput, DescribeAlarmsForMetricOutput, DescribeAlarmsInput,
    DescribeAlarmsOutput, ListTagsForResourceInput, ListTagsForResourceOutput, Relation,
    SetAlarmStateInput, Tag, TagResourceInput, UntagResourceInput,
};
use stratus_model::alarm::put::{AlarmCommon, PutCompositeAlarmInput, PutMetricAlarmInput};
use stratus_model::alarm::record::{
    AlarmKind, AlarmRecord, AlarmState, HistoryItemType, MetricTarget,
};
use stratus_model::alarm::{AlarmType, INITIAL_REASON, StateValue, alarm_arn};
use stratus_model::{ApiError, ApiResult, ErrorCode, Timestamp};
use stratus_proto::{self as proto, Document};

fn empty() -> Document {
    Document::Struct(Vec::new())
}

fn all_alarms(state: &AppState) -> ApiResult<Vec<AlarmRecord>> {
    Ok(state
        .meta
        .list::<AlarmRecord>(ALARMS)
        .map_err(meta_error)?
        .into_iter()
        .map(|(_, a)| a)
        .collect())
}

/// ConfigurationUpdate HistoryData: `{"version":"1.0","type":"Create","createdAlarm":{...}}`,
/// written as text so the keys keep this order and the alarm's fields that
/// of DescribeAlarms (a `serde_json::Value` would sort them).
fn config_data(kind: &str, alarm: &AlarmRecord) -> String {
    let body = match alarm.to_metric_output() {
        Some(m) => serde_json::to_string(&m),
        None => serde_json::to_string(&alarm.to_composite_output()),
    }
    .unwrap_or_else(|_| "null".into());
    let key = match kind {
        "Create" => "createdAlarm",
        "Delete" => "deletedAlarm",
        _ => "updatedAlarm",
    };
    format!("{{\"version\":\"1.0\",\"type\":\"{kind}\",\"{key}\":{body}}}")
}

/// Creates or replaces an alarm (`kind` already validated). A new alarm
/// starts INSUFFICIENT_DATA; an update keeps the state; tags only on create.
fn put_alarm(
    state: &AppState,
    region: &str,
    common: AlarmCommon,
    kind: AlarmKind,
) -> ApiResult<()> {
    let now = Timestamp::now().millis();
    state
        .meta
        .transact(|tx| {
            let existing: Option<AlarmRecord> = tx.get(ALARMS, &common.name)?;
            if let Some(e) = &existing
                && std::mem::discriminant(&e.kind) != std::mem::discriminant(&kind)
            {
                return Ok(Err(ApiError::invalid_value(format!(
                    "An alarm named {} already exists as a {}.",
                    common.name,
                    match e.alarm_type() {
                        AlarmType::MetricAlarm => "metric alarm",
                        AlarmType::CompositeAlarm => "composite alarm",
                    }
                ))));
            }
            let created = existing.is_none();
            // A new query means new series: the old contributors go.
            if let Some(e) = &existing
                && let (AlarmKind::Metric(old), AlarmKind::Metric(new)) = (&e.kind, &kind)
                && old.target != new.target
            {
                store::clear_contributors(tx, &common.name)?;
            }
            let (arn, region, st) = match existing {
                Some(e) => (e.arn, e.region, e.state),
                None => (
                    alarm_arn(region, crate::ACCOUNT_ID, &common.name),
                    region.to_string(),
                    AlarmState {
                        value: StateValue::InsufficientData,
                        reason: INITIAL_REASON.to_string(),
                        reason_data: None,
                        updated_ms: now,
                        transitioned_ms: now,
                    },
                ),
            };
            let rec = AlarmRecord {
                name: common.name.clone(),
                arn,
                region,
                description: common.description.clone(),
                actions_enabled: common.actions_enabled,
                ok_actions: common.ok_actions.clone(),
                alarm_actions: common.alarm_actions.clone(),
                insufficient_data_actions: common.insufficient_data_actions.clone(),
                config_updated_ms: now,
                kind: kind.clone(),
                state: st,
            };
            tx.put(ALARMS, &rec.name, &rec)?;
            if created && !common.tags.is_empty() {
                tags::merge_in(tx, &rec.arn, &common.tags)?;
            }
            let (verb, k) = if created {
                ("created", "Create")
            } else {
                ("updated", "Update")
            };
            store::add_history(
                tx,
                &store::history(
                    &rec,
                    now,
                    HistoryItemType::ConfigurationUpdate,
                    format!("Alarm \"{}\" {verb}", rec.name),
                    config_data(k, &rec),
                ),
            )?;
            Ok(Ok(()))
        })
        .map_err(meta_error)??;
    state.alarm_changes.touch(&common.name);
    Ok(())
}

pub fn put_metric_alarm(
    state: &AppState,
    region: &str,
    input: PutMetricAlarmInput,
) -> ApiResult<Document> {
    let v = input.validate(Timestamp::now())?;
    v.common.check_action_placement(region)?;
    // A wall-clock Timezone name must be one this host's database knows.
    engine::placement(&v.config)?;
    put_alarm(state, region, v.common, AlarmKind::Metric(v.config))?;
    Ok(empty())
}

pub fn put_composite_alarm(
    state: &AppState,
    region: &str,
    input: PutCompositeAlarmInput,
) -> ApiResult<Document> {
    let v = input.validate()?;
    v.common.check_action_placement(region)?;
    let alarms = all_alarms(state)?;
    engine::check_children(&alarms, &v.common.name, &v.config.children)?;
    put_alarm(state, region, v.common, AlarmKind::Composite(v.config))?;
    Ok(empty())
}

pub fn describe_alarms(state: &AppState, input: DescribeAlarmsInput) -> ApiResult<Document> {
    let q = input.validate()?;
    let alarms = all_alarms(state)?;
    let related: Option<Vec<String>> = match &q.relation {
        None => None,
        Some(Relation::ChildrenOf(name)) => Some(
            alarms
                .iter()
                .find(|a| &a.name == name)
                .and_then(|a| match &a.kind {
                    AlarmKind::Composite(c) => Some(c.children.clone()),
                    AlarmKind::Metric(_) => None,
                })
                .unwrap_or_default(),
        ),
        Some(Relation::ParentsOf(name)) => Some(
            alarms
                .iter()
                .filter(|a| matches!(&a.kind, AlarmKind::Composite(c) if c.children.contains(name)))
                .map(|a| a.name.clone())
                .collect(),
        ),
    };
    let mut selected: Vec<&AlarmRecord> = alarms
        .iter()
        .filter(|a| match a.alarm_type() {
            AlarmType::MetricAlarm => q.metric,
            AlarmType::CompositeAlarm => q.composite,
        })
        .filter(|a| q.names.is_empty() || q.names.contains(&a.name))
        .filter(|a| {
            q.name_prefix
                .as_ref()
                .is_none_or(|p| a.name.starts_with(p.as_str()))
        })
        .filter(|a| q.state.is_none_or(|s| s == a.state.value))
        .filter(|a| {
            q.action_prefix
                .as_ref()
                .is_none_or(|p| a.all_actions().any(|x| x.starts_with(p.as_str())))
        })
        .filter(|a| related.as_ref().is_none_or(|r| r.contains(&a.name)))
        .filter(|a| q.after.as_ref().is_none_or(|after| a.name > *after))
        .collect();
    // The table is keyed by name, so `alarms` is already in name order.
    let next_token = if selected.len() > q.max_records {
        selected.truncate(q.max_records);
        selected.last().map(|a| ops::encode_token(&a.name))
    } else {
        None
    };
    let out = DescribeAlarmsOutput {
        metric_alarms: selected
            .iter()
            .filter_map(|a| a.to_metric_output())
            .collect(),
        composite_alarms: selected
            .iter()
            .filter_map(|a| a.to_composite_output())
            .collect(),
        next_token,
    };
    Ok(proto::to_document(&out))
}

pub fn describe_alarms_for_metric(
    state: &AppState,
    input: DescribeAlarmsForMetricInput,
) -> ApiResult<Document> {
    let q = input.validate()?;
    let metric_alarms = all_alarms(state)?
        .iter()
        .filter(|a| match &a.kind {
            AlarmKind::Metric(c) => match &c.target {
                MetricTarget::Single {
                    namespace,
                    metric_name,
                    dimensions,
                    statistic,
                    extended_statistic,
                    period,
                    unit,
                } => q.matches(
                    namespace,
                    metric_name,
                    dimensions,
                    statistic.as_deref(),
                    extended_statistic.as_deref(),
                    *period,
                    unit.as_deref(),
                ),
                MetricTarget::Math { .. } => false,
            },
            AlarmKind::Composite(_) => false,
        })
        .filter_map(|a| a.to_metric_output())
        .collect();
    Ok(proto::to_document(&DescribeAlarmsForMetricOutput {
        metric_alarms,
    }))
}

pub fn delete_alarms(state: &AppState, input: AlarmNamesInput) -> ApiResult<Document> {
    let names = input.validate()?;
    let alarms = all_alarms(state)?;
    let composites = names
        .iter()
        .filter(|n| {
            alarms
                .iter()
                .any(|a| &a.name == *n && a.alarm_type() == AlarmType::CompositeAlarm)
        })
        .count();
    if composites > 1 {
        return Err(ApiError::invalid_value(
            "You can delete at most one composite alarm per DeleteAlarms call.",
        ));
    }
    let now = Timestamp::now().millis();
    state
        .meta
        .transact(|tx| {
            for n in &names {
                let Some(rec) = tx.get::<AlarmRecord>(ALARMS, n)? else {
                    continue; // unknown names are ignored, as AWS does
                };
                tx.delete(ALARMS, n)?;
                store::clear_contributors(tx, n)?;
                tags::delete_in(tx, &rec.arn)?;
                store::add_history(
                    tx,
                    &store::history(
                        &rec,
                        now,
                        HistoryItemType::ConfigurationUpdate,
                        format!("Alarm \"{}\" deleted", rec.name),
                        config_data("Delete", &rec),
                    ),
                )?;
            }
            Ok(())
        })
        .map_err(meta_error)?;
    state
        .alarm_changes
        .touch_all(names.iter().map(String::as_str));
    Ok(empty())
}

pub fn set_alarm_state(state: &AppState, input: SetAlarmStateInput) -> ApiResult<Document> {
    let v = input.validate()?;
    if state
        .meta
        .get::<AlarmRecord>(ALARMS, &v.alarm_name)
        .map_err(meta_error)?
        .is_none()
    {
        // AWS answers this one with an empty message.
        return Err(ApiError::new(ErrorCode::ResourceNotFound, ""));
    }
    let now = Timestamp::now();
    let change = store::Change {
        value: v.state,
        reason: v.reason,
        reason_data: v.reason_data,
        triggering_children: Vec::new(),
        contributors: Vec::new(),
    };
    if let Some(done) =
        store::commit_change(state, &v.alarm_name, change, now).map_err(meta_error)?
    {
        let alarms = all_alarms(state)?;
        let has_parent = alarms.iter().any(
            |a| matches!(&a.kind, AlarmKind::Composite(c) if c.children.contains(&done.alarm.name)),
        );
        // A user's SetAlarmState is not a lease holder's verdict: unfenced.
        engine::cascade(state, done.alarm, now, has_parent, None)?;
    }
    Ok(empty())
}

pub fn set_actions_enabled(
    state: &AppState,
    input: AlarmNamesInput,
    enabled: bool,
) -> ApiResult<Document> {
    let names = input.validate()?;
    state
        .meta
        .transact(|tx| {
            for n in &names {
                if let Some(mut rec) = tx.get::<AlarmRecord>(ALARMS, n)? {
                    rec.actions_enabled = enabled;
                    tx.put(ALARMS, n, &rec)?;
                }
            }
            Ok(())
        })
        .map_err(meta_error)?;
    state
        .alarm_changes
        .touch_all(names.iter().map(String::as_str));
    Ok(empty())
}

pub fn describe_alarm_history(
    state: &AppState,
    input: DescribeAlarmHistoryInput,
) -> ApiResult<Document> {
    let q = input.validate()?;
    if q.after
        .as_deref()
        .is_some_and(|k| !store::is_history_key(k))
    {
        return Err(ops::invalid_next_token());
    }
    let mut items = if q.matches_nothing() {
        Vec::new()
    } else {
        let scan = store::HistoryScan {
            alarm: q.alarm_name.as_deref(),
            start_ms: q.start.map(|t| t.millis()),
            end_ms: q.end.map(|t| t.millis()),
            after: q.after.as_deref(),
            ascending: q.ascending,
        };
        // One more than a page tells whether there is a next page.
        store::scan_history(state, &scan, q.max_records + 1, |h| {
            (match h.alarm_type {
                AlarmType::MetricAlarm => q.metric,
                AlarmType::CompositeAlarm => q.composite,
            }) && q.item_type.is_none_or(|t| t == h.item_type)
                && q.contributor_id
                    .as_deref()
                    .is_none_or(|id| h.contributor.as_ref().is_some_and(|c| c.id == id))
        })
        .map_err(meta_error)?
    };
    // The token is the last key returned: items added later sort after it
    // (ascending) or are above it (descending), so pages never repeat or skip.
    let next_token = if items.len() > q.max_records {
        items.truncate(q.max_records);
        items.last().map(|(k, _)| ops::encode_token(k))
    } else {
        None
    };
    let out = DescribeAlarmHistoryOutput {
        alarm_history_items: items
            .into_iter()
            .map(|(_, h)| {
                let (id, attributes) = match h.contributor {
                    Some(c) => (Some(c.id), Some(c.attributes)),
                    None => (None, None),
                };
                AlarmHistoryItem {
                    alarm_name: h.alarm_name,
                    alarm_contributor_id: id,
                    alarm_type: h.alarm_type,
                    timestamp: Timestamp(h.timestamp_ms),
                    history_item_type: h.item_type,
                    history_summary: h.summary,
                    history_data: h.data,
                    alarm_contributor_attributes: attributes,
                }
            })
            .collect(),
        next_token,
    };
    Ok(proto::to_document(&out))
}

/// DescribeAlarmContributors: the contributors of a multi-time-series alarm
/// that are in ALARM, by id, a page at a time. Other metric alarms have
/// none; an unknown alarm is ResourceNotFoundException (404).
pub fn describe_alarm_contributors(
    state: &AppState,
    input: DescribeAlarmContributorsInput,
) -> ApiResult<Document> {
    let q = input.validate()?;
    let exists = state
        .meta
        .get::<AlarmRecord>(ALARMS, &q.alarm_name)
        .map_err(meta_error)?
        .is_some();
    if !exists {
        return Err(ApiError::new(
            ErrorCode::ResourceNotFoundException,
            format!("Alarm {} does not exist.", q.alarm_name),
        ));
    }
    let rows: Vec<(String, ContributorRecord)> = store::contributors(state, &q.alarm_name)
        .map_err(meta_error)?
        .into_iter()
        .map(|c| (c.contributor.id.clone(), c))
        .collect();
    let (page, last) =
        crate::meta::page_after(rows, q.after.as_deref(), contributor::CONTRIBUTORS_PER_PAGE);
    let out = DescribeAlarmContributorsOutput {
        alarm_contributors: page.iter().map(|(_, c)| c.to_output()).collect(),
        next_token: last.map(|k| ops::encode_token(&k)),
    };
    Ok(proto::to_document(&out))
}

/// Whether `arn` names an existing taggable CloudWatch resource (an alarm or
/// a dashboard).
fn resource_exists(state: &AppState, arn: &str) -> ApiResult<bool> {
    if let Some(found) = crate::metric_streams::exists_by_arn(state, arn)? {
        return Ok(found);
    }
    let Some(name) = stratus_model::alarm::name_from_arn(arn) else {
        return Ok(crate::dashboards::exists_by_arn(state, arn)?
            || crate::insight_rules::exists_by_arn(state, arn)?);
    };
    Ok(state
        .meta
        .get::<AlarmRecord>(ALARMS, name)
        .map_err(meta_error)?
        .is_some_and(|a| a.arn == arn))
}

pub fn tag_resource(state: &AppState, input: TagResourceInput) -> ApiResult<Document> {
    let (arn, new_tags) = input.validate()?;
    if !resource_exists(state, &arn)? {
        return Err(ops::resource_not_found(&arn));
    }
    state
        .meta
        .transact(|tx| tags::merge_in(tx, &arn, &new_tags))
        .map_err(meta_error)?;
    Ok(empty())
}

pub fn untag_resource(state: &AppState, input: UntagResourceInput) -> ApiResult<Document> {
    let (arn, keys) = input.validate()?;
    if !resource_exists(state, &arn)? {
        return Err(ops::resource_not_found(&arn));
    }
    state
        .meta
        .transact(|tx| tags::remove_keys_in(tx, &arn, &keys))
        .map_err(meta_error)?;
    Ok(empty())
}

/// A deleted (or never created) alarm lists no tags, without an error
/// (AWS-recorded).
pub fn list_tags_for_resource(
    state: &AppState,
    input: ListTagsForResourceInput,
) -> ApiResult<Document> {
    let arn = input.validate()?;
    let list = tags::get(&state.meta, &arn).map_err(meta_error)?;
    let out = ListTagsForResourceOutput {
        tags: list
            .into_iter()
            .map(|(k, v)| Tag {
                key: Some(k),
                value: Some(v),
            })
            .collect(),
    };
    Ok(proto::to_document(&out))
}

#[cfg(test)]
mod tests;
