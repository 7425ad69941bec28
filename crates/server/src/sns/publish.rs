//! Publish and PublishBatch: fan a message out to the topic's confirmed
//! subscriptions whose filter policy it passes, as finished deliveries.

use super::delivery::{self, Outgoing};
use super::store::{self, SubscriptionRecord, TopicRecord};
use super::subscriptions::links;
use crate::auth::{self, Caller};
use crate::state::AppState;
use serde::Serialize;
use stratus_model::sns::filter::{FilterPolicy, FilterScope};
use stratus_model::sns::publish::{PublishBatchInput, PublishInput, ValidMessage};
use stratus_model::sns::topic_not_found;
use stratus_model::{ApiError, ApiResult, ErrorCode, Timestamp};
use stratus_proto::{self as proto, Document};

/// Whether `msg` passes `sub`'s filter policy (no policy: everything passes).
fn passes(
    sub: &SubscriptionRecord,
    msg: &ValidMessage,
    attrs: &serde_json::Map<String, serde_json::Value>,
) -> bool {
    let Some(policy) = sub.attributes.get("FilterPolicy").filter(|p| !p.is_empty()) else {
        return true;
    };
    let scope = sub
        .attributes
        .get("FilterPolicyScope")
        .and_then(|s| FilterScope::parse(s).ok())
        .unwrap_or_default();
    match FilterPolicy::parse(policy, scope) {
        Ok(p) => p.matches(attrs, msg.body.for_protocol(&sub.protocol)),
        // Stored policies were validated when set; one that no longer parses
        // delivers nothing rather than everything.
        Err(_) => false,
    }
}

/// Delivers `msg` with `message_id` to every matching confirmed subscriber
/// of `topic`. Returns how many deliveries were queued.
pub fn fan_out(
    state: &AppState,
    topic: &TopicRecord,
    message_id: &str,
    msg: &ValidMessage,
) -> ApiResult<usize> {
    let links = links(state)?;
    let subs = store::topic_subscriptions(&state.meta, &topic.arn)?;
    let attrs = msg.filter_view();
    let timestamp = Timestamp::now().to_iso8601();
    let mut queued = 0;
    for sub in subs.iter().filter(|s| !s.pending) {
        if !passes(sub, msg, &attrs) {
            continue;
        }
        let out = Outgoing {
            message_id,
            subject: msg.subject.as_deref(),
            text: msg.body.for_protocol(&sub.protocol),
            attributes: &msg.attributes,
            timestamp: &timestamp,
        };
        let d = delivery::notification(&links, topic, sub, &out);
        state.notifier.enqueue(d).map_err(|e| {
            ApiError::new(
                ErrorCode::InternalError,
                format!("The notification could not be queued: {e}"),
            )
        })?;
        queued += 1;
    }
    Ok(queued)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PublishOutput {
    message_id: String,
}

pub fn publish(state: &AppState, caller: &Caller, params: Document) -> ApiResult<Document> {
    let req = proto::from_document::<PublishInput>(params)?.validate()?;
    super::same_region(caller, &req.topic)?;
    let arn = req.topic.to_arn();
    auth::authorize(caller, "sns:Publish", &arn)?;
    let topic = store::get_topic(&state.meta, &arn)?.ok_or_else(topic_not_found)?;
    let message_id = uuid::Uuid::new_v4().to_string();
    fan_out(state, &topic, &message_id, &req.message)?;
    Ok(proto::to_document(&PublishOutput { message_id }))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BatchSuccess {
    id: String,
    message_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BatchFailure {
    id: String,
    code: String,
    message: String,
    sender_fault: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PublishBatchOutput {
    successful: Vec<BatchSuccess>,
    failed: Vec<BatchFailure>,
}

pub fn publish_batch(state: &AppState, caller: &Caller, params: Document) -> ApiResult<Document> {
    let req = proto::from_document::<PublishBatchInput>(params)?.validate()?;
    super::same_region(caller, &req.topic)?;
    let arn = req.topic.to_arn();
    auth::authorize(caller, "sns:Publish", &arn)?;
    let topic = store::get_topic(&state.meta, &arn)?.ok_or_else(topic_not_found)?;
    let mut out = PublishBatchOutput {
        successful: Vec::new(),
        failed: Vec::new(),
    };
    for (id, msg) in req.entries {
        let result = msg.and_then(|m| {
            let message_id = uuid::Uuid::new_v4().to_string();
            fan_out(state, &topic, &message_id, &m).map(|_| message_id)
        });
        match result {
            Ok(message_id) => out.successful.push(BatchSuccess { id, message_id }),
            Err(e) => out.failed.push(BatchFailure {
                id,
                code: e.code.code().to_string(),
                message: e.message,
                sender_fault: e.code.fault() == stratus_model::Fault::Sender,
            }),
        }
    }
    Ok(proto::to_document(&out))
}
