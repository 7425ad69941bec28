//! Publish and PublishBatch: fan a message out to the topic's confirmed
//! subscriptions whose filter policy it passes, as finished deliveries.

use super::delivery::{self, Outgoing};
use super::store::{self, SubscriptionRecord, TopicRecord};
use super::subscriptions::links;
use crate::auth::Caller;
use crate::state::AppState;
use serde::Serialize;
use stratus_model::sns::fifo;
use stratus_model::sns::filter::{FilterPolicy, FilterScope};
use stratus_model::sns::publish::{PublishBatchInput, PublishInput, ValidMessage};
use stratus_model::sns::topic_not_found;
use stratus_model::{ApiError, ApiResult, ErrorCode, Timestamp};
use stratus_proto::{self as proto, Document};

/// Whether `msg` passes `sub`'s filter policy (no policy: everything passes).
pub(super) fn passes(
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
        if sub.protocol == "sms" {
            let d = super::sms::subscriber_delivery(state, topic, sub, message_id, msg)?;
            state.notifier.enqueue(d).map_err(|e| {
                ApiError::new(
                    ErrorCode::InternalError,
                    format!("The notification could not be queued: {e}"),
                )
            })?;
            queued += 1;
            continue;
        }
        let out = Outgoing {
            message_id,
            sequence_number: None,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence_number: Option<String>,
}

/// Lowercase hex SHA-256 of `Message` as sent: a content-based topic's
/// deduplication id.
fn body_sha256(raw: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(raw.as_bytes()))
}

pub fn publish(state: &AppState, caller: &Caller, params: Document) -> ApiResult<Document> {
    let input = proto::from_document::<PublishInput>(params)?;
    if input.is_sms() {
        let message_id = super::sms::publish(state, caller, input)?;
        return Ok(proto::to_document(&PublishOutput {
            message_id,
            sequence_number: None,
        }));
    }
    let req = input.validate()?;
    super::same_region(caller, &req.topic)?;
    let arn = req.topic.to_arn();
    super::access::authorize_topic(state, caller, "Publish", &arn)?;
    let topic = store::get_topic(&state.meta, &arn)?.ok_or_else(topic_not_found)?;
    let identity = fifo::identity(&req.fifo, &topic.attributes, || {
        body_sha256(&req.raw_message)
    })?;
    if let Some(id) = identity {
        let mut published = super::fifo::publish(state, &topic, &[(id, &req.message)])?;
        let p = published.pop().ok_or_else(|| {
            ApiError::new(ErrorCode::InternalError, "a FIFO publish returned nothing")
        })?;
        return Ok(proto::to_document(&PublishOutput {
            message_id: p.message_id,
            sequence_number: Some(p.sequence_number),
        }));
    }
    let message_id = uuid::Uuid::new_v4().to_string();
    fan_out(state, &topic, &message_id, &req.message)?;
    Ok(proto::to_document(&PublishOutput {
        message_id,
        sequence_number: None,
    }))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BatchSuccess {
    id: String,
    message_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence_number: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BatchFailure {
    id: String,
    code: String,
    message: String,
    sender_fault: bool,
}

impl BatchFailure {
    fn new(id: String, e: ApiError) -> Self {
        BatchFailure {
            id,
            code: e.code.code().to_string(),
            message: e.message,
            sender_fault: e.code.fault() == stratus_model::Fault::Sender,
        }
    }
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
    super::access::authorize_topic(state, caller, "Publish", &arn)?;
    let topic = store::get_topic(&state.meta, &arn)?.ok_or_else(topic_not_found)?;
    let mut out = PublishBatchOutput {
        successful: Vec::new(),
        failed: Vec::new(),
    };
    if fifo::is_fifo(&topic.attributes) {
        // A missing MessageGroupId or deduplication id refuses the whole
        // request (recorded); the valid entries are published together,
        // in the request's order.
        let mut ok = Vec::new();
        for e in &req.entries {
            let id = fifo::identity(&e.fifo, &topic.attributes, || body_sha256(&e.raw_message))?;
            match (&e.message, id) {
                (Ok(m), Some(id)) => ok.push((e.id.clone(), id, m)),
                (Err(err), _) => out
                    .failed
                    .push(BatchFailure::new(e.id.clone(), err.clone())),
                (Ok(_), None) => {}
            }
        }
        let messages: Vec<_> = ok.iter().map(|(_, id, m)| (id.clone(), *m)).collect();
        let published = super::fifo::publish(state, &topic, &messages)?;
        for ((entry_id, _, _), p) in ok.into_iter().zip(published) {
            out.successful.push(BatchSuccess {
                id: entry_id,
                message_id: p.message_id,
                sequence_number: Some(p.sequence_number),
            });
        }
        return Ok(proto::to_document(&out));
    }
    for e in req.entries {
        let result = e.message.and_then(|m| {
            fifo::identity(&e.fifo, &topic.attributes, String::new)?;
            let message_id = uuid::Uuid::new_v4().to_string();
            fan_out(state, &topic, &message_id, &m).map(|_| message_id)
        });
        match result {
            Ok(message_id) => out.successful.push(BatchSuccess {
                id: e.id,
                message_id,
                sequence_number: None,
            }),
            Err(err) => out.failed.push(BatchFailure::new(e.id, err)),
        }
    }
    Ok(proto::to_document(&out))
}
