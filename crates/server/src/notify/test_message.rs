//! The message `StratusAdmin.SendTestNotification` (and `stratus mail
//! test`) sends: a way to check a contact point without SNS, like
//! Grafana's "test contact point".

use super::{Backoff, NewDelivery, RetryPolicy, Target};

/// The pseudo topic test messages are filed under.
pub const TEST_TOPIC: &str = "stratus:test-notification";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Email,
    Http,
    Https,
}

impl Protocol {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email" => Some(Protocol::Email),
            "http" => Some(Protocol::Http),
            "https" => Some(Protocol::Https),
            _ => None,
        }
    }
}

pub fn parse_backoff(s: &str) -> Option<Backoff> {
    match s.to_ascii_lowercase().as_str() {
        "linear" => Some(Backoff::Linear),
        "arithmetic" => Some(Backoff::Arithmetic),
        "geometric" => Some(Backoff::Geometric),
        "exponential" => Some(Backoff::Exponential),
        _ => None,
    }
}

/// The protocol's default policy (SNS's for http/https, ours for email).
pub fn default_policy(p: Protocol) -> RetryPolicy {
    match p {
        Protocol::Email => RetryPolicy::EMAIL_DEFAULT,
        Protocol::Http | Protocol::Https => RetryPolicy::HTTP_DEFAULT,
    }
}

/// Checks the endpoint for the protocol, AWS Subscribe style.
pub fn validate_endpoint(p: Protocol, endpoint: &str) -> Result<(), String> {
    match p {
        Protocol::Email => super::email::parse_mailbox(endpoint)
            .map(|_| ())
            .map_err(|_| format!("Invalid parameter: Email address {endpoint:?} is not valid")),
        Protocol::Http | Protocol::Https => {
            let scheme = if p == Protocol::Http { "http" } else { "https" };
            match url::Url::parse(endpoint) {
                Ok(u) if u.scheme() == scheme && u.host_str().is_some_and(|h| !h.is_empty()) => {
                    Ok(())
                }
                _ => Err(format!(
                    "Invalid parameter: Endpoint must be an {scheme}:// URL, got {endpoint:?}"
                )),
            }
        }
    }
}

/// Builds a test delivery with a fresh message id.
pub fn build(
    p: Protocol,
    endpoint: &str,
    policy: RetryPolicy,
    public_url: &str,
    message_id: &str,
    now: jiff::Timestamp,
) -> NewDelivery {
    let stamp = now.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let text = format!(
        "This is a test notification from Stratus ({public_url}).\n\n\
         If you can read this, notifications to this {kind} reach you.\n\n\
         Message id: {message_id}\nSent: {stamp}\n",
        kind = if p == Protocol::Email {
            "address"
        } else {
            "endpoint"
        },
    );
    let target = match p {
        Protocol::Email => Target::Email {
            to: endpoint.to_string(),
            subject: "Stratus test notification".to_string(),
            text,
        },
        Protocol::Http | Protocol::Https => Target::Http {
            url: endpoint.to_string(),
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("x-stratus-message-type".into(), "TestNotification".into()),
                ("x-stratus-message-id".into(), message_id.to_string()),
            ],
            body: serde_json::json!({
                "Type": "TestNotification",
                "MessageId": message_id,
                "Message": text,
                "Timestamp": stamp,
            })
            .to_string(),
        },
    };
    NewDelivery {
        message_id: message_id.to_string(),
        subscription_arn: None,
        topic_arn: TEST_TOPIC.to_string(),
        target,
        policy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_checked_per_protocol() {
        assert!(validate_endpoint(Protocol::Email, "ops@example.com").is_ok());
        assert!(validate_endpoint(Protocol::Email, "ops").is_err());
        assert!(validate_endpoint(Protocol::Http, "http://127.0.0.1:9/hook").is_ok());
        assert!(validate_endpoint(Protocol::Http, "https://x/hook").is_err());
        assert!(validate_endpoint(Protocol::Https, "https://x/hook").is_ok());
        assert!(validate_endpoint(Protocol::Https, "not a url").is_err());
    }

    #[test]
    fn http_test_message_is_json() {
        let d = build(
            Protocol::Http,
            "http://h/x",
            RetryPolicy::HTTP_DEFAULT,
            "http://stratus",
            "m-1",
            jiff::Timestamp::UNIX_EPOCH,
        );
        let Target::Http { body, .. } = d.target else {
            panic!("not http")
        };
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["MessageId"], "m-1");
        assert_eq!(v["Timestamp"], "1970-01-01T00:00:00.000Z");
    }
}
