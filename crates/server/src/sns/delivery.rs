//! Builds the finished deliveries SNS hands to the notifier: confirmation
//! requests (email text, email-json / http(s) SubscriptionConfirmation),
//! UnsubscribeConfirmations, and notifications per protocol — and the links
//! they carry (SubscribeURL, confirmation and unsubscribe pages).

use super::signing::Signer;
use super::store::{SubscriptionRecord, TopicRecord};
use crate::notify::{Backoff, NewDelivery, RetryPolicy, Target};
use stratus_model::sns::delivery_policy::{
    BackoffFunction, HealthyRetryPolicy, effective_retry, parse_subscription_policy,
    parse_topic_policy,
};
use stratus_model::sns::document::{
    CONFIRMATION_EMAIL_SUBJECT, Confirmation, ConfirmationKind, DEFAULT_EMAIL_SUBJECT,
    Notification, SignatureVersion, confirmation_email_text, email_footer, subscribe_message,
    unsubscribe_message,
};
use stratus_model::sns::publish::MessageAttributes;

/// `User-Agent` of SNS's HTTP deliveries.
pub const USER_AGENT: &str = "Amazon Simple Notification Service Agent";

/// Everything link- and signature-related a document needs.
pub struct Links<'a> {
    pub public_url: &'a str,
    pub signer: std::sync::Arc<Signer>,
}

fn query(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

impl Links<'_> {
    pub fn signing_cert_url(&self) -> String {
        format!("{}/{}", self.public_url, self.signer.certificate_file())
    }
    pub fn subscribe_url(&self, topic_arn: &str, token: &str) -> String {
        format!(
            "{}/?{}",
            self.public_url,
            query(&[
                ("Action", "ConfirmSubscription"),
                ("TopicArn", topic_arn),
                ("Token", token)
            ])
        )
    }
    pub fn unsubscribe_url(&self, subscription_arn: &str) -> String {
        format!(
            "{}/?{}",
            self.public_url,
            query(&[
                ("Action", "Unsubscribe"),
                ("SubscriptionArn", subscription_arn)
            ])
        )
    }
    pub fn confirmation_page(&self, topic_arn: &str, token: &str, endpoint: &str) -> String {
        format!(
            "{}/confirmation.html?{}",
            self.public_url,
            query(&[
                ("TopicArn", topic_arn),
                ("Token", token),
                ("Endpoint", endpoint)
            ])
        )
    }
    pub fn unsubscribe_page(&self, subscription_arn: &str, endpoint: &str) -> String {
        format!(
            "{}/unsubscribe.html?{}",
            self.public_url,
            query(&[
                ("SubscriptionArn", subscription_arn),
                ("Endpoint", endpoint)
            ])
        )
    }
}

pub fn signature_version(topic: &TopicRecord) -> SignatureVersion {
    topic
        .attributes
        .get("SignatureVersion")
        .and_then(|v| SignatureVersion::parse(v))
        .unwrap_or_default()
}

fn to_retry(p: HealthyRetryPolicy) -> RetryPolicy {
    RetryPolicy {
        num_retries: p.num_retries,
        min_delay_secs: p.min_delay_target,
        max_delay_secs: p.max_delay_target,
        backoff: match p.backoff {
            BackoffFunction::Linear => Backoff::Linear,
            BackoffFunction::Arithmetic => Backoff::Arithmetic,
            BackoffFunction::Geometric => Backoff::Geometric,
            BackoffFunction::Exponential => Backoff::Exponential,
        },
    }
}

/// The effective http(s) retry policy of `sub` on `topic` (stored policies
/// were validated when set; an unreadable one falls back to the default).
pub fn http_retry(topic: &TopicRecord, sub: &SubscriptionRecord) -> HealthyRetryPolicy {
    let topic_policy = topic
        .attributes
        .get("DeliveryPolicy")
        .filter(|p| !p.is_empty())
        .and_then(|p| parse_topic_policy(p).ok())
        .unwrap_or_default();
    let sub_policy = sub
        .attributes
        .get("DeliveryPolicy")
        .filter(|p| !p.is_empty())
        .and_then(|p| parse_subscription_policy(p).ok().flatten());
    effective_retry(&topic_policy, sub_policy)
}

fn policy_for(topic: &TopicRecord, sub: &SubscriptionRecord) -> RetryPolicy {
    match sub.protocol.as_str() {
        "http" | "https" => {
            let p = http_retry(topic, sub);
            if p == HealthyRetryPolicy::DEFAULT {
                RetryPolicy::HTTP_DEFAULT
            } else {
                to_retry(p)
            }
        }
        _ => RetryPolicy::EMAIL_DEFAULT,
    }
}

fn http_headers(message_type: &str, message_id: &str, topic_arn: &str) -> Vec<(String, String)> {
    vec![
        ("Content-Type".into(), "text/plain; charset=UTF-8".into()),
        ("User-Agent".into(), USER_AGENT.into()),
        ("x-amz-sns-message-type".into(), message_type.into()),
        ("x-amz-sns-message-id".into(), message_id.into()),
        ("x-amz-sns-topic-arn".into(), topic_arn.into()),
    ]
}

/// The confirmation request (kind Subscription) or the notice that a
/// subscription was removed (kind Unsubscribe, http(s) only), carrying `token`.
pub fn confirmation(
    links: &Links<'_>,
    topic: &TopicRecord,
    sub: &SubscriptionRecord,
    kind: ConfirmationKind,
    token: &str,
) -> NewDelivery {
    let message_id = uuid::Uuid::new_v4().to_string();
    let timestamp = stratus_model::Timestamp::now().to_iso8601();
    let message = match kind {
        ConfirmationKind::Subscription => subscribe_message(&topic.arn),
        ConfirmationKind::Unsubscribe => unsubscribe_message(&sub.arn),
    };
    let subscribe_url = links.subscribe_url(&topic.arn, token);
    let cert_url = links.signing_cert_url();
    let doc = Confirmation {
        kind,
        message_id: &message_id,
        token,
        topic_arn: &topic.arn,
        message: &message,
        subscribe_url: &subscribe_url,
        timestamp: &timestamp,
        signature_version: signature_version(topic),
        signing_cert_url: &cert_url,
    };
    let render = || {
        let sig = links
            .signer
            .sign(doc.signature_version, &doc.string_to_sign());
        doc.render(&sig)
    };
    let target = match sub.protocol.as_str() {
        "email" => Target::Email {
            to: sub.endpoint.clone(),
            subject: CONFIRMATION_EMAIL_SUBJECT.into(),
            text: confirmation_email_text(
                &topic.arn,
                &links.confirmation_page(&topic.arn, token, &sub.endpoint),
            ),
        },
        "email-json" => Target::Email {
            to: sub.endpoint.clone(),
            subject: CONFIRMATION_EMAIL_SUBJECT.into(),
            text: render(),
        },
        _ => Target::Http {
            url: sub.endpoint.clone(),
            headers: http_headers(kind.type_name(), &message_id, &topic.arn),
            body: render(),
        },
    };
    NewDelivery {
        message_id,
        subscription_arn: Some(sub.arn.clone()),
        topic_arn: topic.arn.clone(),
        target,
        policy: policy_for(topic, sub),
    }
}

/// One published message as a subscriber of `sub.protocol` receives it.
pub struct Outgoing<'a> {
    pub message_id: &'a str,
    /// A FIFO topic's SequenceNumber for this message.
    pub sequence_number: Option<&'a str>,
    pub subject: Option<&'a str>,
    /// The text for this protocol (MessageStructure already applied).
    pub text: &'a str,
    pub attributes: &'a MessageAttributes,
    pub timestamp: &'a str,
}

pub fn notification(
    links: &Links<'_>,
    topic: &TopicRecord,
    sub: &SubscriptionRecord,
    msg: &Outgoing<'_>,
) -> NewDelivery {
    let unsubscribe_url = links.unsubscribe_url(&sub.arn);
    let cert_url = links.signing_cert_url();
    let doc = Notification {
        message_id: msg.message_id,
        sequence_number: msg.sequence_number,
        topic_arn: &topic.arn,
        subject: msg.subject,
        message: msg.text,
        timestamp: msg.timestamp,
        signature_version: signature_version(topic),
        signing_cert_url: &cert_url,
        unsubscribe_url: &unsubscribe_url,
        attributes: msg.attributes,
    };
    let render = || {
        let sig = links
            .signer
            .sign(doc.signature_version, &doc.string_to_sign());
        doc.render(&sig)
    };
    let subject = msg.subject.unwrap_or(DEFAULT_EMAIL_SUBJECT).to_string();
    let target = match sub.protocol.as_str() {
        "email" => Target::Email {
            to: sub.endpoint.clone(),
            subject,
            text: format!(
                "{}{}",
                msg.text,
                email_footer(&links.unsubscribe_page(&sub.arn, &sub.endpoint))
            ),
        },
        "email-json" => Target::Email {
            to: sub.endpoint.clone(),
            subject,
            text: render(),
        },
        _ => {
            let mut headers = http_headers("Notification", msg.message_id, &topic.arn);
            headers.push(("x-amz-sns-subscription-arn".into(), sub.arn.clone()));
            let body = if sub.raw_delivery() {
                headers.push(("x-amz-sns-rawdelivery".into(), "true".into()));
                msg.text.to_string()
            } else {
                render()
            };
            Target::Http {
                url: sub.endpoint.clone(),
                headers,
                body,
            }
        }
    };
    NewDelivery {
        message_id: msg.message_id.to_string(),
        subscription_arn: Some(sub.arn.clone()),
        topic_arn: topic.arn.clone(),
        target,
        policy: policy_for(topic, sub),
    }
}
