//! SNS: topics, subscriptions with the confirmation flow, publishing with
//! filter policies, and the signed documents SNS delivers.
//!
//! INTERFACE (shared with the alarm engine): [`publish_alarm`] is how an
//! alarm transition reaches a topic.
//!
//! SCAFFOLD: the SNS actions are being built; until then publishing refuses.

use crate::state::AppState;
use stratus_model::{ApiError, ApiResult, ErrorCode};

/// What CloudWatch publishes on an alarm transition (reference §3.5): the
/// JSON document for http/https/email-json subscribers and a readable text
/// for email subscribers, under one subject.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmPublish {
    /// A stable id for this transition's notification, generated when the
    /// transition is committed and stored with the pending action. Used as
    /// the SNS MessageId, so a publish retried after a crash is dropped by
    /// the outbox instead of sent twice.
    pub message_id: String,
    /// `ALARM: "name" in US East (N. Virginia)`.
    pub subject: String,
    /// The alarm JSON message (a JSON object serialised as a string).
    pub json_message: String,
    /// The email body (text/plain).
    pub email_text: String,
}

/// Publishes an alarm notification to `topic_arn`. Returns the MessageId.
/// A topic that does not exist is `NotFound` (the caller records a failed
/// Action history item).
pub fn publish_alarm(_state: &AppState, topic_arn: &str, _msg: &AlarmPublish) -> ApiResult<String> {
    Err(ApiError::new(
        ErrorCode::InvalidAction,
        format!("SNS is not available yet: cannot publish to {topic_arn}"),
    ))
}
