//! Topic and subscription attributes: which names exist, which are
//! settable, and what values they accept.

use super::delivery_policy::{parse_subscription_policy, parse_topic_policy};
use super::document::SignatureVersion;
use super::filter::{FilterPolicy, FilterScope};
use super::invalid;
use crate::error::{ApiError, ApiResult};
use std::collections::BTreeMap;

/// Longest DisplayName.
pub const MAX_DISPLAY_NAME: usize = 100;

/// Validates a settable topic attribute. `FifoTopic` is accepted only at
/// creation.
pub fn validate_topic_attribute(name: &str, value: &str, creating: bool) -> ApiResult<()> {
    match name {
        "DisplayName" => {
            if value.chars().count() > MAX_DISPLAY_NAME || value.chars().any(char::is_control) {
                return Err(invalid("DisplayName"));
            }
        }
        "Policy" => super::topic_policy::validate(value)?,
        "DataProtectionPolicy" | "ArchivePolicy" => {
            let ok = value.is_empty()
                || matches!(
                    serde_json::from_str::<serde_json::Value>(value),
                    Ok(serde_json::Value::Object(_))
                );
            if !ok {
                return Err(invalid(format_args!("{name}: must be a JSON object")));
            }
        }
        "DeliveryPolicy" => {
            if !value.is_empty() {
                parse_topic_policy(value)?;
            }
        }
        "SignatureVersion" => {
            SignatureVersion::parse(value).ok_or_else(|| invalid("SignatureVersion"))?;
        }
        "TracingConfig" => {
            if !matches!(value, "PassThrough" | "Active") {
                return Err(invalid("TracingConfig"));
            }
        }
        "KmsMasterKeyId" => {}
        // Whether these fit the topic's type is checked with the topic
        // (`fifo::apply_create_rules`, SetTopicAttributes); FifoTopic is
        // fixed at creation.
        "FifoTopic" if creating => {
            parse_bool(name, value)?;
        }
        "ContentBasedDeduplication" => {
            parse_bool(name, value)?;
        }
        "FifoThroughputScope" => super::fifo::validate_throughput_scope(value)?,
        _ if creating => {
            return Err(invalid(format_args!(
                "Attributes Reason: Unknown attribute {}",
                name.chars().take(64).collect::<String>()
            )));
        }
        _ => return Err(invalid("AttributeName")),
    }
    Ok(())
}

/// Parses a boolean attribute the way SNS does (`true`/`false`, any case).
pub fn parse_bool(name: &str, value: &str) -> ApiResult<bool> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(invalid(format_args!(
            "{name}: Invalid value [{}]. Must be true or false.",
            value.chars().take(64).collect::<String>()
        )))
    }
}

fn supports_http_features(protocol: &str) -> bool {
    matches!(protocol, "http" | "https")
}

/// Validates one subscription attribute for a subscription of `protocol`,
/// given the other attributes it will have (FilterPolicy is checked against
/// the FilterPolicyScope it will be used with). Returns the value to store
/// (booleans normalised to lowercase).
pub fn validate_subscription_attribute(
    protocol: &str,
    name: &str,
    value: &str,
    all: &BTreeMap<String, String>,
) -> ApiResult<String> {
    match name {
        "RawMessageDelivery" => {
            let b = parse_bool(name, value)?;
            if !supports_http_features(protocol) {
                return Err(invalid(format_args!(
                    "Attributes Reason: Delivery protocol [{protocol}] does not support raw message delivery."
                )));
            }
            Ok(b.to_string())
        }
        "FilterPolicy" => {
            if !value.is_empty() {
                let scope = match all.get("FilterPolicyScope") {
                    Some(s) if !s.is_empty() => FilterScope::parse(s)?,
                    _ => FilterScope::default(),
                };
                FilterPolicy::parse(value, scope)?;
            }
            Ok(value.to_string())
        }
        "FilterPolicyScope" => {
            let scope = FilterScope::parse(value)?;
            if let Some(p) = all.get("FilterPolicy").filter(|p| !p.is_empty()) {
                FilterPolicy::parse(p, scope)?;
            }
            Ok(value.to_string())
        }
        "DeliveryPolicy" => {
            if !supports_http_features(protocol) {
                return Err(invalid(format_args!(
                    "DeliveryPolicy: Delivery protocol [{protocol}] does not support delivery policies"
                )));
            }
            if !value.is_empty() {
                parse_subscription_policy(value)?;
            }
            Ok(value.to_string())
        }
        "RedrivePolicy" | "SubscriptionRoleArn" | "ReplayPolicy" => Err(invalid(format_args!(
            "{name}: not supported by Stratus (no SQS, Kinesis Data Firehose or archives)"
        ))),
        _ => Err(invalid("AttributeName")),
    }
}

/// An attribute refused inside Subscribe's `Attributes` map: AWS words it as
/// SetSubscriptionAttributes does, under `Attributes Reason: ` (e.g.
/// `Invalid parameter: Attributes Reason: RawMessageDelivery: Invalid value …`).
fn in_attributes(mut e: ApiError) -> ApiError {
    const PREFIX: &str = "Invalid parameter: ";
    if let Some(rest) = e.message.strip_prefix(PREFIX)
        && !rest.starts_with("Attributes Reason: ")
    {
        e.message = format!("{PREFIX}Attributes Reason: {rest}");
    }
    e
}

/// Validates Subscribe's `Attributes` as a whole.
pub fn validate_subscription_attributes(
    protocol: &str,
    attrs: &BTreeMap<String, String>,
) -> ApiResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (k, v) in attrs {
        let stored = validate_subscription_attribute(protocol, k, v, attrs).map_err(|e| {
            if e.message == "Invalid parameter: AttributeName" {
                invalid(format_args!(
                    "Attributes Reason: Unknown attribute {}",
                    k.chars().take(64).collect::<String>()
                ))
            } else {
                in_attributes(e)
            }
        })?;
        out.insert(k.clone(), stored);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_attributes() {
        assert!(validate_topic_attribute("DisplayName", "Alerts", false).is_ok());
        assert!(validate_topic_attribute("SignatureVersion", "2", false).is_ok());
        assert_eq!(
            validate_topic_attribute("SignatureVersion", "3", false)
                .unwrap_err()
                .message,
            "Invalid parameter: SignatureVersion"
        );
        assert_eq!(
            validate_topic_attribute("Nope", "x", false)
                .unwrap_err()
                .message,
            "Invalid parameter: AttributeName"
        );
        assert!(validate_topic_attribute("FifoTopic", "false", true).is_ok());
        assert!(validate_topic_attribute("FifoTopic", "true", true).is_ok());
        assert!(validate_topic_attribute("FifoTopic", "maybe", true).is_err());
        assert!(validate_topic_attribute("ContentBasedDeduplication", "true", false).is_ok());
        assert!(validate_topic_attribute("FifoThroughputScope", "Queue", false).is_err());
        assert!(validate_topic_attribute("FifoTopic", "false", false).is_err());
        assert!(validate_topic_attribute("Policy", "[]", false).is_err());
        assert!(validate_topic_attribute("DeliveryPolicy", "{\"http\":1}", false).is_err());
    }

    #[test]
    fn subscription_attributes() {
        let none = BTreeMap::new();
        assert_eq!(
            validate_subscription_attribute("https", "RawMessageDelivery", "TRUE", &none).unwrap(),
            "true"
        );
        assert_eq!(
            validate_subscription_attribute("https", "RawMessageDelivery", "x", &none)
                .unwrap_err()
                .message,
            "Invalid parameter: RawMessageDelivery: Invalid value [x]. Must be true or false."
        );
        assert!(
            validate_subscription_attribute("email", "RawMessageDelivery", "true", &none).is_err()
        );
        assert!(validate_subscription_attribute("email", "DeliveryPolicy", "{}", &none).is_err());
        assert_eq!(
            validate_subscription_attribute("email", "Nope", "1", &none)
                .unwrap_err()
                .message,
            "Invalid parameter: AttributeName"
        );
        // A nested policy is valid only with the MessageBody scope.
        let nested = r#"{"a":{"b":["x"]}}"#;
        assert!(validate_subscription_attribute("email", "FilterPolicy", nested, &none).is_err());
        let body: BTreeMap<_, _> =
            [("FilterPolicyScope".to_string(), "MessageBody".to_string())].into();
        assert!(validate_subscription_attribute("email", "FilterPolicy", nested, &body).is_ok());
        let with_nested: BTreeMap<_, _> = [("FilterPolicy".to_string(), nested.to_string())].into();
        assert!(
            validate_subscription_attribute(
                "email",
                "FilterPolicyScope",
                "MessageAttributes",
                &with_nested
            )
            .is_err()
        );
        let e =
            validate_subscription_attributes("email", &[("X".to_string(), "1".to_string())].into())
                .unwrap_err();
        assert_eq!(
            e.message,
            "Invalid parameter: Attributes Reason: Unknown attribute X"
        );
    }
}
