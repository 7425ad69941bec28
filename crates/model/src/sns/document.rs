//! The JSON documents SNS delivers (aws-api.md §3.4) — Notification,
//! SubscriptionConfirmation, UnsubscribeConfirmation — with keys in AWS's
//! order, the canonical string their signature covers, and the texts of the
//! emails SNS sends. Signing itself (RSA) is the server's.

use super::publish::MessageAttributes;
use serde_json::Value;

/// `SignatureVersion` topic attribute: 1 = SHA1withRSA, 2 = SHA256withRSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignatureVersion {
    #[default]
    V1,
    V2,
}

impl SignatureVersion {
    pub fn parse(s: &str) -> Option<SignatureVersion> {
        match s {
            "1" => Some(SignatureVersion::V1),
            "2" => Some(SignatureVersion::V2),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureVersion::V1 => "1",
            SignatureVersion::V2 => "2",
        }
    }
}

/// A Notification before signing.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification<'a> {
    pub message_id: &'a str,
    /// A FIFO topic's SequenceNumber (delivered right after MessageId, as
    /// AWS's recorded documents have it; not part of the signed string).
    pub sequence_number: Option<&'a str>,
    pub topic_arn: &'a str,
    pub subject: Option<&'a str>,
    pub message: &'a str,
    /// ISO 8601 with milliseconds.
    pub timestamp: &'a str,
    pub signature_version: SignatureVersion,
    pub signing_cert_url: &'a str,
    pub unsubscribe_url: &'a str,
    pub attributes: &'a MessageAttributes,
}

/// Which confirmation document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmationKind {
    Subscription,
    Unsubscribe,
}

impl ConfirmationKind {
    pub fn type_name(self) -> &'static str {
        match self {
            ConfirmationKind::Subscription => "SubscriptionConfirmation",
            ConfirmationKind::Unsubscribe => "UnsubscribeConfirmation",
        }
    }
}

/// A SubscriptionConfirmation / UnsubscribeConfirmation before signing.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirmation<'a> {
    pub kind: ConfirmationKind,
    pub message_id: &'a str,
    pub token: &'a str,
    pub topic_arn: &'a str,
    pub message: &'a str,
    pub subscribe_url: &'a str,
    pub timestamp: &'a str,
    pub signature_version: SignatureVersion,
    pub signing_cert_url: &'a str,
}

/// The text of a SubscriptionConfirmation's `Message`.
pub fn subscribe_message(topic_arn: &str) -> String {
    format!(
        "You have chosen to subscribe to the topic {topic_arn}.\nTo confirm the subscription, visit the SubscribeURL included in this message."
    )
}

/// The text of an UnsubscribeConfirmation's `Message`.
pub fn unsubscribe_message(subscription_arn: &str) -> String {
    format!(
        "You have chosen to deactivate subscription {subscription_arn}.\nTo cancel this operation and restore the subscription, visit the SubscribeURL included in this message."
    )
}

fn canonical(pairs: &[(&str, Option<&str>)]) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        if let Some(v) = v {
            out.push_str(k);
            out.push('\n');
            out.push_str(v);
            out.push('\n');
        }
    }
    out
}

impl Notification<'_> {
    /// What the signature covers: `key\nvalue\n` for Message, MessageId,
    /// Subject (when present), Timestamp, TopicArn, Type.
    pub fn string_to_sign(&self) -> String {
        canonical(&[
            ("Message", Some(self.message)),
            ("MessageId", Some(self.message_id)),
            ("Subject", self.subject),
            ("Timestamp", Some(self.timestamp)),
            ("TopicArn", Some(self.topic_arn)),
            ("Type", Some("Notification")),
        ])
    }

    /// The signed document, as SNS formats it.
    pub fn render(&self, signature: &str) -> String {
        let mut w = DocWriter::default();
        w.field("Type", "Notification");
        w.field("MessageId", self.message_id);
        if let Some(n) = self.sequence_number {
            w.field("SequenceNumber", n);
        }
        w.field("TopicArn", self.topic_arn);
        if let Some(s) = self.subject {
            w.field("Subject", s);
        }
        w.field("Message", self.message);
        w.field("Timestamp", self.timestamp);
        w.field("SignatureVersion", self.signature_version.as_str());
        w.field("Signature", signature);
        w.field("SigningCertURL", self.signing_cert_url);
        w.field("UnsubscribeURL", self.unsubscribe_url);
        if !self.attributes.is_empty() {
            let mut attrs = serde_json::Map::new();
            for (name, a) in self.attributes {
                // Custom type suffixes (`Number.float`) are delivered as given.
                attrs.insert(
                    name.clone(),
                    serde_json::json!({"Type": a.data_type, "Value": a.value}),
                );
            }
            w.raw("MessageAttributes", &Value::Object(attrs).to_string());
        }
        w.finish()
    }
}

impl Confirmation<'_> {
    /// `key\nvalue\n` for Message, MessageId, SubscribeURL, Timestamp,
    /// Token, TopicArn, Type.
    pub fn string_to_sign(&self) -> String {
        canonical(&[
            ("Message", Some(self.message)),
            ("MessageId", Some(self.message_id)),
            ("SubscribeURL", Some(self.subscribe_url)),
            ("Timestamp", Some(self.timestamp)),
            ("Token", Some(self.token)),
            ("TopicArn", Some(self.topic_arn)),
            ("Type", Some(self.kind.type_name())),
        ])
    }

    pub fn render(&self, signature: &str) -> String {
        let mut w = DocWriter::default();
        w.field("Type", self.kind.type_name());
        w.field("MessageId", self.message_id);
        w.field("Token", self.token);
        w.field("TopicArn", self.topic_arn);
        w.field("Message", self.message);
        w.field("SubscribeURL", self.subscribe_url);
        w.field("Timestamp", self.timestamp);
        w.field("SignatureVersion", self.signature_version.as_str());
        w.field("Signature", signature);
        w.field("SigningCertURL", self.signing_cert_url);
        w.finish()
    }
}

/// Writes `{\n  "Key" : "value",\n ...\n}` — SNS's layout — in insertion order.
#[derive(Default)]
struct DocWriter {
    out: String,
}

impl DocWriter {
    fn raw(&mut self, key: &str, json: &str) {
        self.out.push_str(if self.out.is_empty() {
            "{\n  "
        } else {
            ",\n  "
        });
        self.out
            .push_str(&Value::String(key.to_string()).to_string());
        self.out.push_str(" : ");
        self.out.push_str(json);
    }
    fn field(&mut self, key: &str, value: &str) {
        self.raw(key, &Value::String(value.to_string()).to_string());
    }
    fn finish(mut self) -> String {
        self.out.push_str("\n}");
        self.out
    }
}

/// Subject of the confirmation email.
pub const CONFIRMATION_EMAIL_SUBJECT: &str = "AWS Notification - Subscription Confirmation";
/// Subject of a notification email published without a Subject.
pub const DEFAULT_EMAIL_SUBJECT: &str = "AWS Notification Message";

/// Body of the confirmation email (protocol `email`).
pub fn confirmation_email_text(topic_arn: &str, confirm_link: &str) -> String {
    format!(
        "You have chosen to subscribe to the topic: \n{topic_arn}\n\n\
         To confirm this subscription, click or visit the link below (If this was in error no action is necessary): \n\
         Confirm subscription: {confirm_link}\n\n\
         Please do not reply directly to this email. If you wish to remove yourself from receiving all future SNS subscription confirmation requests please send an email to your Stratus administrator.\n"
    )
}

/// The footer every notification email carries.
pub fn email_footer(unsubscribe_link: &str) -> String {
    format!(
        "\n\n--\nIf you wish to stop receiving notifications from this topic, please click or visit the link below to unsubscribe:\n{unsubscribe_link}\n\nPlease do not reply directly to this email.\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sns::publish::MessageAttribute;

    fn attrs() -> MessageAttributes {
        [(
            "attr1".to_string(),
            MessageAttribute {
                data_type: "Number".into(),
                value: "100.12".into(),
            },
        )]
        .into()
    }

    #[test]
    fn notification_shape_and_canonical_string() {
        let a = attrs();
        let n = Notification {
            message_id: "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
            sequence_number: None,
            topic_arn: "arn:aws:sns:us-east-1:123456789012:alerts",
            subject: Some("ALARM: \"d\""),
            message: "line1\nline2",
            timestamp: "2026-11-25T15:00:11.123Z",
            signature_version: SignatureVersion::V1,
            signing_cert_url: "http://h/SimpleNotificationService-x.pem",
            unsubscribe_url: "http://h/?Action=Unsubscribe&SubscriptionArn=s",
            attributes: &a,
        };
        assert_eq!(
            n.string_to_sign(),
            "Message\nline1\nline2\nMessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\nSubject\nALARM: \"d\"\n\
             Timestamp\n2026-11-25T15:00:11.123Z\nTopicArn\narn:aws:sns:us-east-1:123456789012:alerts\nType\nNotification\n"
        );
        let doc = n.render("c2ln");
        let keys: Vec<&str> = doc
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix('"')?.split('"').next())
            .collect();
        assert_eq!(
            keys,
            [
                "Type",
                "MessageId",
                "TopicArn",
                "Subject",
                "Message",
                "Timestamp",
                "SignatureVersion",
                "Signature",
                "SigningCertURL",
                "UnsubscribeURL",
                "MessageAttributes"
            ]
        );
        let v: Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(v["Message"], "line1\nline2");
        assert_eq!(v["MessageAttributes"]["attr1"]["Type"], "Number");
        assert_eq!(v["MessageAttributes"]["attr1"]["Value"], "100.12");

        // Without a subject or attributes, both keys are absent.
        let empty = MessageAttributes::new();
        let n2 = Notification {
            subject: None,
            attributes: &empty,
            ..n
        };
        assert!(!n2.string_to_sign().contains("Subject"));
        let v: Value = serde_json::from_str(&n2.render("x")).unwrap();
        assert!(v.get("Subject").is_none() && v.get("MessageAttributes").is_none());

        // A FIFO topic's document carries its SequenceNumber after MessageId.
        let n3 = Notification {
            sequence_number: Some("10000000000000000001"),
            ..n2
        };
        assert_eq!(n3.string_to_sign(), n2.string_to_sign());
        let doc = n3.render("x");
        let seq_at = doc.find("\"SequenceNumber\"").unwrap();
        assert!(doc.find("\"MessageId\"").unwrap() < seq_at);
        assert!(seq_at < doc.find("\"TopicArn\"").unwrap());
    }

    #[test]
    fn confirmation_shape_and_canonical_string() {
        let topic = "arn:aws:sns:us-east-1:123456789012:alerts";
        let msg = subscribe_message(topic);
        let c = Confirmation {
            kind: ConfirmationKind::Subscription,
            message_id: "m",
            token: "tok",
            topic_arn: topic,
            message: &msg,
            subscribe_url: "http://h/?Action=ConfirmSubscription&TopicArn=a&Token=tok",
            timestamp: "2026-11-25T15:00:11.123Z",
            signature_version: SignatureVersion::V2,
            signing_cert_url: "http://h/c.pem",
        };
        assert_eq!(
            c.string_to_sign(),
            format!(
                "Message\n{msg}\nMessageId\nm\nSubscribeURL\nhttp://h/?Action=ConfirmSubscription&TopicArn=a&Token=tok\n\
                 Timestamp\n2026-11-25T15:00:11.123Z\nToken\ntok\nTopicArn\n{topic}\nType\nSubscriptionConfirmation\n"
            )
        );
        let v: Value = serde_json::from_str(&c.render("sig")).unwrap();
        assert_eq!(v["Type"], "SubscriptionConfirmation");
        assert_eq!(v["SignatureVersion"], "2");
        assert_eq!(
            v["Message"],
            "You have chosen to subscribe to the topic arn:aws:sns:us-east-1:123456789012:alerts.\nTo confirm the subscription, visit the SubscribeURL included in this message."
        );
        let u = Confirmation {
            kind: ConfirmationKind::Unsubscribe,
            ..c
        };
        assert!(
            u.string_to_sign()
                .ends_with("Type\nUnsubscribeConfirmation\n")
        );
        assert!(
            unsubscribe_message("s").starts_with("You have chosen to deactivate subscription s.\n")
        );
    }
}
