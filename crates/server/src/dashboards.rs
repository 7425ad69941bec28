//! CloudWatch dashboards: stored whole (name, body, modification time) in
//! the metadata table `dashboards`, keyed by name. Validation is the model's
//! (`stratus_model::dashboard`); tags use the shared tags table.

use crate::alarms::store::meta_error;
use crate::meta::Table;
use crate::state::AppState;
use crate::tags;
use stratus_model::alarm::ops::{decode_token, encode_token};
use stratus_model::dashboard::{
    self as dash, DashboardEntry, DashboardRecord, DeleteDashboardsInput, GetDashboardInput,
    GetDashboardOutput, ListDashboardsInput, ListDashboardsOutput, PutDashboardInput,
    PutDashboardOutput,
};
use stratus_model::param::{Param, missing};
use stratus_model::{ApiResult, Timestamp};
use stratus_proto::{self as proto, Document};

pub const DASHBOARDS: Table = Table::new("dashboards");

fn arn(name: &str) -> String {
    dash::dashboard_arn(crate::ACCOUNT_ID, name)
}

/// Whether the dashboard an ARN names exists (for the tag operations).
pub fn exists_by_arn(state: &AppState, resource_arn: &str) -> ApiResult<bool> {
    let Some(name) = dash::name_from_dashboard_arn(resource_arn) else {
        return Ok(false);
    };
    Ok(state
        .meta
        .get::<DashboardRecord>(DASHBOARDS, name)
        .map_err(meta_error)?
        .is_some())
}

pub fn put_dashboard(state: &AppState, input: PutDashboardInput) -> ApiResult<Document> {
    let v = input.validate()?;
    let rec = DashboardRecord {
        name: v.name.clone(),
        body: v.body,
        last_modified_ms: Timestamp::now().millis(),
    };
    state
        .meta
        .transact(|tx| {
            let created = tx.get::<DashboardRecord>(DASHBOARDS, &rec.name)?.is_none();
            tx.put(DASHBOARDS, &rec.name, &rec)?;
            if created && !v.tags.is_empty() {
                tags::merge_in(tx, &arn(&rec.name), &v.tags)?;
            }
            Ok(())
        })
        .map_err(meta_error)?;
    Ok(proto::to_document(&PutDashboardOutput {
        dashboard_validation_messages: Vec::new(),
    }))
}

pub fn get_dashboard(state: &AppState, input: GetDashboardInput) -> ApiResult<Document> {
    let name = dash::validate_name(input.dashboard_name)?;
    let rec = state
        .meta
        .get::<DashboardRecord>(DASHBOARDS, &name)
        .map_err(meta_error)?
        .ok_or_else(|| dash::not_found(&[&name]))?;
    Ok(proto::to_document(&GetDashboardOutput {
        dashboard_arn: arn(&rec.name),
        dashboard_body: rec.body,
        dashboard_name: rec.name,
    }))
}

pub fn list_dashboards(state: &AppState, input: ListDashboardsInput) -> ApiResult<Document> {
    let prefix = input.dashboard_name_prefix.filter(|p| !p.is_empty());
    let after = input
        .next_token
        .filter(|t| !t.is_empty())
        .map(|t| decode_token(&t))
        .transpose()?;
    let mut entries: Vec<DashboardEntry> = state
        .meta
        .list::<DashboardRecord>(DASHBOARDS)
        .map_err(meta_error)?
        .into_iter()
        .map(|(_, d)| d)
        .filter(|d| {
            prefix
                .as_ref()
                .is_none_or(|p| d.name.starts_with(p.as_str()))
        })
        .filter(|d| after.as_ref().is_none_or(|a| d.name > *a))
        .map(|d| DashboardEntry {
            dashboard_arn: arn(&d.name),
            size: d.body.len() as i64,
            last_modified: Timestamp(d.last_modified_ms),
            dashboard_name: d.name,
        })
        .collect();
    let next_token = if entries.len() > dash::LIST_PAGE_SIZE {
        entries.truncate(dash::LIST_PAGE_SIZE);
        entries.last().map(|e| encode_token(&e.dashboard_name))
    } else {
        None
    };
    Ok(proto::to_document(&ListDashboardsOutput {
        dashboard_entries: entries,
        next_token,
    }))
}

/// All or nothing: one unknown name deletes none.
pub fn delete_dashboards(state: &AppState, input: DeleteDashboardsInput) -> ApiResult<Document> {
    let names = input
        .dashboard_names
        .filter(|n| !n.is_empty())
        .ok_or_else(|| missing(Param::root("DashboardNames")))?;
    state
        .meta
        .transact(|tx| {
            let mut absent = Vec::new();
            for n in &names {
                if tx.get::<DashboardRecord>(DASHBOARDS, n)?.is_none() {
                    absent.push(n.as_str());
                }
            }
            if !absent.is_empty() {
                return Ok(Err(dash::not_found(&absent)));
            }
            for n in &names {
                tx.delete(DASHBOARDS, n)?;
                tags::delete_in(tx, &arn(n))?;
            }
            Ok(Ok(()))
        })
        .map_err(meta_error)??;
    Ok(Document::Struct(Vec::new()))
}
