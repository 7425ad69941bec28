//! SNS: topics, subscriptions with the confirmation flow, publishing with
//! filter policies, and the signed documents SNS delivers (aws-api.md §3).
//!
//! INTERFACE (shared with the alarm engine): [`publish_alarm`] is how an
//! alarm transition reaches a topic.
//!
//! Modules: `store` (redb records), `topics` and `subscriptions` (actions),
//! `permissions` (Add/RemovePermission, data protection policies), `access`
//! (topic policies combined with key policies),
//! `publish` (fan-out), `fifo` (FIFO topics: deduplication, sequence
//! numbers, ordered lanes), `sms` (phone numbers: Publish, opt-out,
//! sandbox, SMS attributes), `delivery` (finished messages for the notifier),
//! `signing` (RSA key and certificate), `web` (the unsigned pages and links).

mod access;
mod delivery;
pub mod fifo;
mod permissions;
mod publish;
pub mod signing;
pub mod sms;
pub mod store;
mod subscriptions;
mod topics;
pub mod web;

use crate::auth::Caller;
use crate::state::AppState;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use stratus_model::sns::publish::{MessageBody, ValidMessage};
use stratus_model::{ApiError, ApiResult, ErrorCode};
use stratus_proto::Document;

/// SNS's process-wide state: the signing key, loaded (or created) once.
#[derive(Debug, Default)]
pub struct SnsRuntime {
    signer: Mutex<Option<Arc<signing::Signer>>>,
    /// The account is in the SMS sandbox (`--sms-sandbox`): SMS only to
    /// verified numbers.
    pub sms_sandbox: std::sync::atomic::AtomicBool,
}

impl SnsRuntime {
    /// The signing key of `data_dir`, created on first use.
    pub fn signer(&self, data_dir: &std::path::Path) -> ApiResult<Arc<signing::Signer>> {
        let mut slot = self
            .signer
            .lock()
            .map_err(|_| ApiError::new(ErrorCode::InternalError, "signing key lock poisoned"))?;
        if let Some(s) = slot.as_ref() {
            return Ok(s.clone());
        }
        let s = Arc::new(
            signing::Signer::load_or_create(data_dir)
                .map_err(|e| ApiError::new(ErrorCode::InternalError, e.to_string()))?,
        );
        *slot = Some(s.clone());
        Ok(s)
    }
}

/// Every operation in the SNS model that Stratus does not serve answers a
/// clear InvalidAction (platform applications and endpoints).
const UNSERVED: &[&str] = &[
    "CreatePlatformApplication",
    "CreatePlatformEndpoint",
    "DeleteEndpoint",
    "DeletePlatformApplication",
    "GetEndpointAttributes",
    "GetPlatformApplicationAttributes",
    "ListEndpointsByPlatformApplication",
    "ListPlatformApplications",
    "SetEndpointAttributes",
    "SetPlatformApplicationAttributes",
];

/// Runs an SNS action.
pub fn dispatch(
    state: &AppState,
    caller: &Caller,
    action: &str,
    params: Document,
) -> ApiResult<Document> {
    run(state, caller, action, params).map_err(|e| {
        // SNS names a policy refusal AuthorizationError (403), not AccessDenied.
        if e.code == ErrorCode::AccessDenied {
            ApiError::new(ErrorCode::AuthorizationError, e.message)
        } else {
            e
        }
    })
}

fn run(state: &AppState, caller: &Caller, action: &str, params: Document) -> ApiResult<Document> {
    match action {
        "CreateTopic" => topics::create_topic(state, caller, params),
        "DeleteTopic" => topics::delete_topic(state, caller, params),
        "ListTopics" => topics::list_topics(state, caller, params),
        "GetTopicAttributes" => topics::get_topic_attributes(state, caller, params),
        "SetTopicAttributes" => topics::set_topic_attributes(state, caller, params),
        "TagResource" => topics::tag_resource(state, caller, params),
        "UntagResource" => topics::untag_resource(state, caller, params),
        "ListTagsForResource" => topics::list_tags(state, caller, params),
        "Subscribe" => subscriptions::subscribe(state, caller, params),
        "ConfirmSubscription" => subscriptions::confirm_subscription(state, caller, params),
        "Unsubscribe" => subscriptions::unsubscribe(state, caller, params),
        "ListSubscriptions" => subscriptions::list_subscriptions(state, caller, params),
        "ListSubscriptionsByTopic" => {
            subscriptions::list_subscriptions_by_topic(state, caller, params)
        }
        "GetSubscriptionAttributes" => {
            subscriptions::get_subscription_attributes(state, caller, params)
        }
        "SetSubscriptionAttributes" => {
            subscriptions::set_subscription_attributes(state, caller, params)
        }
        "Publish" => publish::publish(state, caller, params),
        "AddPermission" => permissions::add_permission(state, caller, params),
        "RemovePermission" => permissions::remove_permission(state, caller, params),
        "GetDataProtectionPolicy" => permissions::get_data_protection_policy(state, caller, params),
        "PutDataProtectionPolicy" => permissions::put_data_protection_policy(state, caller, params),
        "PublishBatch" => publish::publish_batch(state, caller, params),
        "CheckIfPhoneNumberIsOptedOut" => sms::check_if_opted_out(state, caller, params),
        "ListPhoneNumbersOptedOut" => sms::list_opted_out(state, caller, params),
        "OptInPhoneNumber" => sms::opt_in(state, caller, params),
        "GetSMSAttributes" => sms::get_sms_attributes(state, caller, params),
        "SetSMSAttributes" => sms::set_sms_attributes(state, caller, params),
        "GetSMSSandboxAccountStatus" => sms::sandbox_status(state, caller),
        "CreateSMSSandboxPhoneNumber" => sms::create_sandbox_number(state, caller, params),
        "VerifySMSSandboxPhoneNumber" => sms::verify_sandbox_number(state, caller, params),
        "ListSMSSandboxPhoneNumbers" => sms::list_sandbox_numbers(state, caller, params),
        "DeleteSMSSandboxPhoneNumber" => sms::delete_sandbox_number(state, caller, params),
        "ListOriginationNumbers" => sms::list_origination_numbers(caller, params),
        known if UNSERVED.contains(&known) => Err(crate::app::not_implemented("SNS", known)),
        other => Err(ApiError::new(
            ErrorCode::InvalidAction,
            format!("The action {other} is not valid for this web service."),
        )),
    }
}

/// A topic of another region than the request's: AWS refuses it as a bad
/// TopicArn (cross-account is possible, cross-region is not).
fn same_region(caller: &Caller, topic: &stratus_model::sns::arn::TopicArn) -> ApiResult<()> {
    if topic.region == caller.region {
        Ok(())
    } else {
        Err(stratus_model::sns::invalid("TopicArn"))
    }
}

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
pub fn publish_alarm(state: &AppState, topic_arn: &str, msg: &AlarmPublish) -> ApiResult<String> {
    let topic = store::get_topic(&state.meta, topic_arn)?
        .ok_or_else(stratus_model::sns::topic_not_found)?;
    let message = ValidMessage {
        subject: Some(msg.subject.clone()),
        body: MessageBody::PerProtocol {
            default: msg.json_message.clone(),
            // SMS subscribers get the short form: the subject line.
            overrides: BTreeMap::from([
                ("email".to_string(), msg.email_text.clone()),
                ("sms".to_string(), msg.subject.clone()),
            ]),
        },
        attributes: BTreeMap::new(),
    };
    publish::fan_out(state, &topic, &msg.message_id, &message)?;
    Ok(msg.message_id.clone())
}

#[cfg(test)]
mod tests {
    use super::store::{SUBSCRIPTIONS, SubscriptionRecord, TOPICS, TopicRecord};
    use super::*;
    use crate::notify::Target;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:alerts";

    fn state(dir: &std::path::Path) -> AppState {
        AppState {
            public_url: "http://sns.test".into(),
            ..AppState::for_tests(dir, ("AKIDSNSTEST000000001", "sns-unit-test-secret"))
        }
    }

    fn subscription(protocol: &str, endpoint: &str, pending: bool) -> SubscriptionRecord {
        SubscriptionRecord {
            arn: format!("{TOPIC}:{}", uuid::Uuid::new_v4()),
            topic_arn: TOPIC.into(),
            protocol: protocol.into(),
            endpoint: endpoint.into(),
            owner: crate::ACCOUNT_ID.into(),
            principal: "p".into(),
            pending,
            token: None,
            token_expires_ms: 0,
            confirmation_was_authenticated: false,
            attributes: BTreeMap::new(),
            created_ms: 0,
        }
    }

    #[test]
    fn publish_alarm_sends_each_protocol_its_body_once_per_message_id() {
        let dir = tempfile::tempdir().unwrap();
        let st = state(dir.path());
        let msg = AlarmPublish {
            message_id: "6c1a1f55-7d5e-4a4b-8c55-0d7a3d1e9f00".into(),
            subject: "ALARM: \"disk\" in US East (N. Virginia)".into(),
            json_message: "{\"AlarmName\":\"disk\"}".into(),
            email_text: "You are receiving this email because ...".into(),
        };
        let e = publish_alarm(&st, TOPIC, &msg).unwrap_err();
        assert_eq!(e.code, ErrorCode::NotFound);

        let topic = TopicRecord {
            arn: TOPIC.into(),
            name: "alerts".into(),
            attributes: BTreeMap::new(),
            subscriptions_deleted: 0,
            created_ms: 0,
        };
        let subs = [
            subscription("email", "ops@example.com", false),
            subscription("https", "https://hooks.example.com/x", false),
            subscription("email-json", "json@example.com", false),
            subscription("email", "pending@example.com", true),
            subscription("sms", "+1 555-0100", false),
        ];
        st.meta
            .transact(|tx| {
                tx.put(TOPICS, TOPIC, &topic)?;
                for s in &subs {
                    tx.put(SUBSCRIPTIONS, &s.arn, s)?;
                }
                Ok(())
            })
            .unwrap();

        // A retried publish (same message id) queues nothing more.
        assert_eq!(publish_alarm(&st, TOPIC, &msg).unwrap(), msg.message_id);
        assert_eq!(publish_alarm(&st, TOPIC, &msg).unwrap(), msg.message_id);
        let queued = st.notifier.recent(100).unwrap();
        assert_eq!(queued.len(), 4, "{queued:?}");
        for rec in &queued {
            let d = &rec.delivery;
            assert_eq!(d.message_id, msg.message_id);
            match &d.target {
                Target::Email { to, subject, text } if to == "ops@example.com" => {
                    assert_eq!(subject, &msg.subject);
                    assert!(text.starts_with(&msg.email_text));
                    assert!(text.contains("http://sns.test/unsubscribe.html?SubscriptionArn="));
                }
                Target::Email { to, text, .. } => {
                    assert_eq!(to, "json@example.com");
                    let doc: serde_json::Value = serde_json::from_str(text).unwrap();
                    assert_eq!(doc["Message"], msg.json_message.as_str());
                    assert_eq!(doc["MessageId"], msg.message_id.as_str());
                }
                Target::Sms(sms) => {
                    // The short form, to the normalised number, through the SMS policy.
                    assert_eq!(sms.phone_number, "+15550100");
                    assert_eq!(sms.message, msg.subject);
                    assert_eq!(sms.blocked, None);
                    assert_eq!(d.policy, crate::notify::RetryPolicy::SMS_DEFAULT);
                }
                Target::Http { url, headers, body } => {
                    assert_eq!(url, "https://hooks.example.com/x");
                    let doc: serde_json::Value = serde_json::from_str(body).unwrap();
                    assert_eq!(doc["Subject"], msg.subject.as_str());
                    assert_eq!(doc["Message"], msg.json_message.as_str());
                    assert!(
                        headers.contains(&("x-amz-sns-message-type".into(), "Notification".into()))
                    );
                    assert_eq!(d.policy, crate::notify::RetryPolicy::HTTP_DEFAULT);
                }
            }
        }
    }
}
