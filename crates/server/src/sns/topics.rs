//! Topic actions: CreateTopic (idempotent), DeleteTopic, ListTopics,
//! Get/SetTopicAttributes, and the tag operations on topics.

use super::access::authorize_topic;
use super::store::{self, SUBSCRIPTIONS, TOPICS, TopicRecord, internal};
use crate::auth::{self, Caller};
use crate::state::AppState;
use crate::tags;
use std::collections::BTreeMap;
use stratus_model::sns::arn::topic_arn;
use stratus_model::sns::delivery_policy::{parse_topic_policy, topic_effective_json};
use stratus_model::sns::ops::{
    AttributesOutput, CreateTopicInput, CreateTopicOutput, ListInput, ListTagsOutput,
    ListTopicsOutput, SetTopicAttributesInput, Tag, TagResourceInput, TopicArnInput, TopicMember,
    reject_duplicate_tag_keys, tag_limit_exceeded, validate_tags,
};
use stratus_model::sns::topic_policy::default_policy;
use stratus_model::sns::{PAGE_SIZE, fifo, invalid, topic_not_found};
use stratus_model::{ApiError, ApiResult, ErrorCode, Timestamp};
use stratus_proto::{self as proto, Document};

pub fn create_topic(state: &AppState, caller: &Caller, params: Document) -> ApiResult<Document> {
    let req = proto::from_document::<CreateTopicInput>(params)?.validate()?;
    let arn = topic_arn(&caller.region, crate::ACCOUNT_ID, &req.name);
    auth::authorize(caller, "sns:CreateTopic", &arn)?;
    if !req.tags.is_empty() {
        auth::authorize(caller, "sns:TagResource", &arn)?;
    }
    let wanted_tags: Vec<(String, String)> = req
        .tags
        .iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect();
    let result = state
        .meta
        .transact(|tx| {
            if let Some(existing) = tx.get::<TopicRecord>(TOPICS, &arn)? {
                let same_attrs = req
                    .attributes
                    .iter()
                    .all(|(k, v)| existing.attributes.get(k).map_or(v.is_empty(), |e| e == v));
                if !same_attrs {
                    return Ok(Err(invalid(
                        "Attributes Reason: Topic already exists with different attributes",
                    )));
                }
                if !wanted_tags.is_empty() {
                    let mut have: tags::Tags = tx.get(tags::TABLE, &arn)?.unwrap_or_default();
                    have.sort();
                    let mut want = wanted_tags.clone();
                    want.sort();
                    want.dedup_by(|a, b| a.0 == b.0);
                    if have != want {
                        return Ok(Err(invalid(
                            "Tags Reason: Topic already exists with different tags",
                        )));
                    }
                }
                return Ok(Ok(()));
            }
            let mut attributes = req.attributes.clone();
            attributes.retain(|_, v| !v.is_empty());
            tx.put(
                TOPICS,
                &arn,
                &TopicRecord {
                    arn: arn.clone(),
                    name: req.name.clone(),
                    attributes,
                    subscriptions_deleted: 0,
                    created_ms: Timestamp::now().millis(),
                },
            )?;
            if !wanted_tags.is_empty() {
                tags::merge_in(tx, &arn, &wanted_tags)?;
            }
            Ok(Ok(()))
        })
        .map_err(internal)?;
    result?;
    Ok(proto::to_document(&CreateTopicOutput { topic_arn: arn }))
}

/// Deletes a topic, its subscriptions and its tags. Deleting a topic that
/// does not exist succeeds (AWS's DeleteTopic is idempotent).
pub fn delete_topic(state: &AppState, caller: &Caller, params: Document) -> ApiResult<Document> {
    let topic = proto::from_document::<TopicArnInput>(params)?.topic()?;
    super::same_region(caller, &topic)?;
    let arn = topic.to_arn();
    authorize_topic(state, caller, "DeleteTopic", &arn)?;
    state
        .meta
        .transact(|tx| {
            for sub in store::topic_subscriptions_in(tx, &arn)? {
                tx.delete(SUBSCRIPTIONS, &sub.arn)?;
            }
            tx.delete(TOPICS, &arn)?;
            super::fifo::forget_topic_in(tx, &arn)?;
            tags::delete_in(tx, &arn)
        })
        .map_err(internal)?;
    Ok(Document::Struct(Vec::new()))
}

pub fn list_topics(state: &AppState, caller: &Caller, params: Document) -> ApiResult<Document> {
    auth::authorize(caller, "sns:ListTopics", "*")?;
    let input: ListInput = proto::from_document(params)?;
    let prefix = format!("arn:aws:sns:{}:{}:", caller.region, crate::ACCOUNT_ID);
    let topics: Vec<(String, TopicRecord)> = state
        .meta
        .list(TOPICS)
        .map_err(internal)?
        .into_iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .collect();
    let (page, next_token) = store::page(topics, input.next_token.as_deref(), PAGE_SIZE)?;
    Ok(proto::to_document(&ListTopicsOutput {
        topics: page
            .into_iter()
            .map(|t| TopicMember { topic_arn: t.arn })
            .collect(),
        next_token,
    }))
}

pub fn get_topic_attributes(
    state: &AppState,
    caller: &Caller,
    params: Document,
) -> ApiResult<Document> {
    let topic = proto::from_document::<TopicArnInput>(params)?.topic()?;
    super::same_region(caller, &topic)?;
    let arn = topic.to_arn();
    authorize_topic(state, caller, "GetTopicAttributes", &arn)?;
    let topic = store::get_topic(&state.meta, &arn)?.ok_or_else(topic_not_found)?;
    let subs = store::topic_subscriptions(&state.meta, &arn)?;
    let pending = subs.iter().filter(|s| s.pending).count();
    let mut a: BTreeMap<String, String> = topic.attributes.clone();
    a.insert("TopicArn".into(), arn.clone());
    a.insert("Owner".into(), crate::ACCOUNT_ID.into());
    a.remove(super::permissions::DATA_PROTECTION_POLICY);
    a.entry("Policy".into())
        .or_insert_with(|| default_policy(&arn, crate::ACCOUNT_ID));
    a.entry("DisplayName".into()).or_default();
    a.insert("SubscriptionsPending".into(), pending.to_string());
    a.insert(
        "SubscriptionsConfirmed".into(),
        (subs.len() - pending).to_string(),
    );
    a.insert(
        "SubscriptionsDeleted".into(),
        topic.subscriptions_deleted.to_string(),
    );
    let policy = topic
        .attributes
        .get("DeliveryPolicy")
        .and_then(|p| parse_topic_policy(p).ok())
        .unwrap_or_default();
    a.insert(
        "EffectiveDeliveryPolicy".into(),
        topic_effective_json(&policy),
    );
    a.entry("SignatureVersion".into())
        .or_insert_with(|| "1".into());
    Ok(proto::to_document(&AttributesOutput { attributes: a }))
}

pub fn set_topic_attributes(
    state: &AppState,
    caller: &Caller,
    params: Document,
) -> ApiResult<Document> {
    let (topic, name, value) =
        proto::from_document::<SetTopicAttributesInput>(params)?.validate()?;
    super::same_region(caller, &topic)?;
    let arn = topic.to_arn();
    authorize_topic(state, caller, "SetTopicAttributes", &arn)?;
    let r = state
        .meta
        .transact(|tx| {
            let Some(mut t) = tx.get::<TopicRecord>(TOPICS, &arn)? else {
                return Ok(Err(topic_not_found()));
            };
            let fifo_only = matches!(
                name.as_str(),
                "ContentBasedDeduplication" | "FifoThroughputScope"
            );
            if fifo_only && !fifo::is_fifo(&t.attributes) {
                return Ok(Err(fifo::not_for_standard_topics(&name)));
            }
            if name == "ContentBasedDeduplication" {
                // Stored as "true"/"false" whatever the case sent.
                let v = value.eq_ignore_ascii_case("true").to_string();
                t.attributes.insert(name.clone(), v);
            } else if value.is_empty() {
                t.attributes.remove(&name);
            } else {
                t.attributes.insert(name.clone(), value.clone());
            }
            tx.put(TOPICS, &arn, &t)?;
            Ok(Ok(()))
        })
        .map_err(internal)?;
    r?;
    Ok(Document::Struct(Vec::new()))
}

/// TagResource and UntagResource have a (memberless) result shape in the SNS
/// model, and botocore requires its `<{Action}Result>` element; an empty
/// string document is written as exactly that empty element.
fn empty_result() -> Document {
    Document::String(String::new())
}

fn resource_not_found() -> ApiError {
    ApiError::new(ErrorCode::ResourceNotFound, "Resource does not exist")
}

pub fn tag_resource(state: &AppState, caller: &Caller, params: Document) -> ApiResult<Document> {
    let input: TagResourceInput = proto::from_document(params)?;
    let arn = input.topic()?.to_arn();
    authorize_topic(state, caller, "TagResource", &arn)?;
    validate_tags(&input.tags)?;
    reject_duplicate_tag_keys(&input.tags)?;
    let pairs: Vec<(String, String)> = input
        .tags
        .iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect();
    let r = state
        .meta
        .transact(|tx| {
            if tx.get::<TopicRecord>(TOPICS, &arn)?.is_none() {
                return Ok(Err(resource_not_found()));
            }
            let have: tags::Tags = tx.get(tags::TABLE, &arn)?.unwrap_or_default();
            let new_keys = pairs
                .iter()
                .filter(|(k, _)| !have.iter().any(|(h, _)| h == k))
                .map(|(k, _)| k)
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            if have.len() + new_keys > stratus_model::sns::ops::MAX_TAGS {
                return Ok(Err(tag_limit_exceeded()));
            }
            tags::merge_in(tx, &arn, &pairs)?;
            Ok(Ok(()))
        })
        .map_err(internal)?;
    r?;
    Ok(empty_result())
}

pub fn untag_resource(state: &AppState, caller: &Caller, params: Document) -> ApiResult<Document> {
    let input: TagResourceInput = proto::from_document(params)?;
    let arn = input.topic()?.to_arn();
    authorize_topic(state, caller, "UntagResource", &arn)?;
    let r = state
        .meta
        .transact(|tx| {
            if tx.get::<TopicRecord>(TOPICS, &arn)?.is_none() {
                return Ok(Err(resource_not_found()));
            }
            tags::remove_keys_in(tx, &arn, &input.tag_keys)?;
            Ok(Ok(()))
        })
        .map_err(internal)?;
    r?;
    Ok(empty_result())
}

pub fn list_tags(state: &AppState, caller: &Caller, params: Document) -> ApiResult<Document> {
    let input: TagResourceInput = proto::from_document(params)?;
    let arn = input.topic()?.to_arn();
    authorize_topic(state, caller, "ListTagsForResource", &arn)?;
    if store::get_topic(&state.meta, &arn)?.is_none() {
        return Err(resource_not_found());
    }
    let tags = tags::get(&state.meta, &arn)
        .map_err(internal)?
        .into_iter()
        .map(|(key, value)| Tag { key, value })
        .collect();
    Ok(proto::to_document(&ListTagsOutput { tags }))
}
