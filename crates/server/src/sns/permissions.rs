//! AddPermission / RemovePermission (statements of the topic's `Policy`,
//! enforced by `access`) and Get/PutDataProtectionPolicy (stored with the
//! topic; Stratus does not inspect or mask message content).

use super::access::authorize_topic;
use super::store::{TOPICS, TopicRecord, internal};
use crate::auth::Caller;
use crate::state::AppState;
use stratus_model::ApiResult;
use stratus_model::sns::ops::{
    AddPermissionInput, DataProtectionPolicyInput, DataProtectionPolicyOutput,
    RemovePermissionInput,
};
use stratus_model::sns::topic_not_found;
use stratus_model::sns::topic_policy::{self, default_policy};
use stratus_proto::{self as proto, Document};

/// The attribute holding the data protection policy; GetTopicAttributes does
/// not list it (AWS answers it only through GetDataProtectionPolicy).
pub const DATA_PROTECTION_POLICY: &str = "DataProtectionPolicy";

/// The topic's policy document: the one set, or AWS's default.
pub fn policy_of(topic: &TopicRecord) -> String {
    topic
        .attributes
        .get("Policy")
        .cloned()
        .unwrap_or_else(|| default_policy(&topic.arn, crate::ACCOUNT_ID))
}

/// Rewrites the topic's policy with `edit` in one transaction.
fn edit_policy(
    state: &AppState,
    arn: &str,
    edit: impl Fn(&str) -> ApiResult<String>,
) -> ApiResult<()> {
    state
        .meta
        .transact(|tx| {
            let Some(mut t) = tx.get::<TopicRecord>(TOPICS, arn)? else {
                return Ok(Err(topic_not_found()));
            };
            let policy = match edit(&policy_of(&t)) {
                Ok(p) => p,
                Err(e) => return Ok(Err(e)),
            };
            t.attributes.insert("Policy".into(), policy);
            tx.put(TOPICS, arn, &t)?;
            Ok(Ok(()))
        })
        .map_err(internal)?
}

pub fn add_permission(state: &AppState, caller: &Caller, params: Document) -> ApiResult<Document> {
    let req = proto::from_document::<AddPermissionInput>(params)?.validate()?;
    super::same_region(caller, &req.topic)?;
    let arn = req.topic.to_arn();
    authorize_topic(state, caller, "AddPermission", &arn)?;
    edit_policy(state, &arn, |p| {
        topic_policy::add_permission(p, &arn, &req.label, &req.accounts, &req.actions)
    })?;
    Ok(Document::Struct(Vec::new()))
}

pub fn remove_permission(
    state: &AppState,
    caller: &Caller,
    params: Document,
) -> ApiResult<Document> {
    let (topic, label) = proto::from_document::<RemovePermissionInput>(params)?.validate()?;
    super::same_region(caller, &topic)?;
    let arn = topic.to_arn();
    authorize_topic(state, caller, "RemovePermission", &arn)?;
    edit_policy(state, &arn, |p| topic_policy::remove_permission(p, &label))?;
    Ok(Document::Struct(Vec::new()))
}

pub fn put_data_protection_policy(
    state: &AppState,
    caller: &Caller,
    params: Document,
) -> ApiResult<Document> {
    let input: DataProtectionPolicyInput = proto::from_document(params)?;
    let topic = input.topic()?;
    super::same_region(caller, &topic)?;
    let arn = topic.to_arn();
    let policy = input.policy()?;
    authorize_topic(state, caller, "PutDataProtectionPolicy", &arn)?;
    state
        .meta
        .transact(|tx| {
            let Some(mut t) = tx.get::<TopicRecord>(TOPICS, &arn)? else {
                return Ok(Err(topic_not_found()));
            };
            if policy.is_empty() {
                t.attributes.remove(DATA_PROTECTION_POLICY);
            } else {
                t.attributes
                    .insert(DATA_PROTECTION_POLICY.into(), policy.clone());
            }
            tx.put(TOPICS, &arn, &t)?;
            Ok(Ok(()))
        })
        .map_err(internal)??;
    Ok(Document::Struct(Vec::new()))
}

pub fn get_data_protection_policy(
    state: &AppState,
    caller: &Caller,
    params: Document,
) -> ApiResult<Document> {
    let input: DataProtectionPolicyInput = proto::from_document(params)?;
    let topic = input.topic()?;
    super::same_region(caller, &topic)?;
    let arn = topic.to_arn();
    authorize_topic(state, caller, "GetDataProtectionPolicy", &arn)?;
    let t = super::store::get_topic(&state.meta, &arn)?.ok_or_else(topic_not_found)?;
    Ok(proto::to_document(&DataProtectionPolicyOutput {
        data_protection_policy: t
            .attributes
            .get(DATA_PROTECTION_POLICY)
            .cloned()
            .unwrap_or_default(),
    }))
}
