//! Inputs and outputs of the SNS topic, subscription and tag operations
//! (Publish lives in [`super::publish`]). Every input member is optional at
//! the serde level so a missing one is answered with SNS's own
//! `InvalidParameter` wording rather than a generic decoding error.

use super::arn::{
    SubscriptionArn, TopicArn, parse_subscription_arn, parse_topic_arn, validate_topic_name,
};
use super::attributes::{validate_subscription_attributes, validate_topic_attribute};
use super::{invalid, required};
use crate::error::{ApiError, ApiResult, ErrorCode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// Most tags on one resource.
pub const MAX_TAGS: usize = 50;

pub fn tag_limit_exceeded() -> ApiError {
    ApiError::new(
        ErrorCode::TagLimitExceeded,
        "Could not complete request: tag quota of per resource exceeded",
    )
}

/// Validates tag keys (1..128) and values (0..256), and the count.
pub fn validate_tags(tags: &[Tag]) -> ApiResult<()> {
    if tags.len() > MAX_TAGS {
        return Err(tag_limit_exceeded());
    }
    for t in tags {
        if t.key.is_empty() || t.key.chars().count() > 128 {
            return Err(invalid(
                "Tags Reason: A tag key must be 1 to 128 characters long",
            ));
        }
        if t.value.chars().count() > 256 {
            return Err(invalid(
                "Tags Reason: A tag value must be at most 256 characters long",
            ));
        }
        if t.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(invalid("Tags Reason: Tag keys must not start with aws:"));
        }
    }
    Ok(())
}

/// TagResource refuses a request naming one key twice (AWS's wording).
pub fn reject_duplicate_tag_keys(tags: &[Tag]) -> ApiResult<()> {
    let mut seen = std::collections::BTreeSet::new();
    if tags.iter().all(|t| seen.insert(t.key.as_str())) {
        Ok(())
    } else {
        Err(invalid("Duplicated keys are not allowed."))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateTopicInput {
    pub name: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub tags: Vec<Tag>,
    pub data_protection_policy: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTopicRequest {
    pub name: String,
    pub attributes: BTreeMap<String, String>,
    pub tags: Vec<Tag>,
}

impl CreateTopicInput {
    pub fn validate(mut self) -> ApiResult<CreateTopicRequest> {
        let name = validate_topic_name(self.name.as_deref())?.to_string();
        if let Some(p) = self.data_protection_policy.take().filter(|p| !p.is_empty()) {
            self.attributes.insert("DataProtectionPolicy".into(), p);
        }
        for (k, v) in &self.attributes {
            validate_topic_attribute(k, v, true)?;
        }
        // FifoTopic=false is the default: not stored, so it never makes a
        // second CreateTopic look different; FIFO topics store theirs.
        super::fifo::apply_create_rules(&name, &mut self.attributes)?;
        validate_tags(&self.tags)?;
        Ok(CreateTopicRequest {
            name,
            attributes: self.attributes,
            tags: self.tags,
        })
    }
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTopicOutput {
    pub topic_arn: String,
}

/// Input of every operation taking just a `TopicArn`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TopicArnInput {
    pub topic_arn: Option<String>,
    pub next_token: Option<String>,
}

impl TopicArnInput {
    pub fn topic(&self) -> ApiResult<TopicArn> {
        parse_topic_arn("TopicArn", self.topic_arn.as_deref())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListInput {
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TopicMember {
    pub topic_arn: String,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTopicsOutput {
    pub topics: Vec<TopicMember>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributesOutput {
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SetTopicAttributesInput {
    pub topic_arn: Option<String>,
    pub attribute_name: Option<String>,
    pub attribute_value: Option<String>,
}

impl SetTopicAttributesInput {
    pub fn validate(self) -> ApiResult<(TopicArn, String, String)> {
        let topic = parse_topic_arn("TopicArn", self.topic_arn.as_deref())?;
        let name = self
            .attribute_name
            .filter(|n| !n.is_empty())
            .ok_or_else(|| required("AttributeName"))?;
        let value = self.attribute_value.unwrap_or_default();
        validate_topic_attribute(&name, &value, false)?;
        Ok((topic, name, value))
    }
}

/// Protocols Stratus delivers to.
pub const PROTOCOLS: &[&str] = &["email", "email-json", "http", "https", "sms"];

/// Checks `endpoint` for `protocol`.
pub fn validate_endpoint(protocol: &str, endpoint: Option<&str>) -> ApiResult<String> {
    let endpoint = endpoint
        .filter(|e| !e.is_empty())
        .ok_or_else(|| required("Endpoint"))?;
    match protocol {
        "sms" => super::sms::validate_sms_endpoint(endpoint)?,
        "email" | "email-json" => {
            let ok = endpoint.len() <= 254
                && endpoint.split('@').count() == 2
                && endpoint.split_once('@').is_some_and(|(l, d)| {
                    !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
                })
                && !endpoint
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c));
            if !ok {
                return Err(invalid("Email address"));
            }
        }
        _ => {
            let prefix = format!("{protocol}://");
            // `get` rather than slicing: the cut may fall inside a character.
            let rest = endpoint
                .get(..prefix.len())
                .filter(|head| head.eq_ignore_ascii_case(&prefix))
                .and_then(|_| endpoint.get(prefix.len()..));
            let ok = endpoint.len() <= 2048
                && rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
                && !endpoint
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control());
            if !ok {
                return Err(invalid("Endpoint must match the specified protocol"));
            }
        }
    }
    Ok(endpoint.to_string())
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SubscribeInput {
    pub topic_arn: Option<String>,
    pub protocol: Option<String>,
    pub endpoint: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub return_subscription_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeRequest {
    pub topic: TopicArn,
    pub protocol: String,
    pub endpoint: String,
    pub attributes: BTreeMap<String, String>,
    pub return_subscription_arn: bool,
}

impl SubscribeInput {
    pub fn validate(self) -> ApiResult<SubscribeRequest> {
        let topic = parse_topic_arn("TopicArn", self.topic_arn.as_deref())?;
        let protocol = self
            .protocol
            .filter(|p| !p.is_empty())
            .ok_or_else(|| required("Protocol"))?;
        let lower = protocol.to_ascii_lowercase();
        if !PROTOCOLS.contains(&lower.as_str()) {
            return Err(invalid(format_args!(
                "Amazon SNS does not support this protocol string: {}",
                protocol.chars().take(64).collect::<String>()
            )));
        }
        let endpoint = validate_endpoint(&lower, self.endpoint.as_deref())?;
        let attributes = validate_subscription_attributes(&lower, &self.attributes)?;
        let return_subscription_arn = match self.return_subscription_arn.as_deref() {
            None | Some("") => false,
            Some(v) => super::attributes::parse_bool("ReturnSubscriptionArn", v)?,
        };
        Ok(SubscribeRequest {
            topic,
            protocol: lower,
            endpoint,
            attributes,
            return_subscription_arn,
        })
    }
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubscriptionArnOutput {
    pub subscription_arn: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ConfirmSubscriptionInput {
    pub topic_arn: Option<String>,
    pub token: Option<String>,
    pub authenticate_on_unsubscribe: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmRequest {
    pub topic: TopicArn,
    pub token: String,
    pub authenticate_on_unsubscribe: bool,
}

/// Longest token accepted (ours are 128 hex digits; the bound only stops abuse).
pub const MAX_TOKEN_LEN: usize = 2048;

impl ConfirmSubscriptionInput {
    pub fn validate(self) -> ApiResult<ConfirmRequest> {
        let topic = parse_topic_arn("TopicArn", self.topic_arn.as_deref()).map_err(|e| {
            if e.message.contains("no value") {
                e
            } else {
                invalid("Topic")
            }
        })?;
        let token = self
            .token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| required("Token"))?;
        if token.len() > MAX_TOKEN_LEN {
            return Err(invalid("Token"));
        }
        // SNS tokens are hex; anything else is not a token at all (AWS's wording).
        if !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ApiError::new(ErrorCode::InvalidParameter, "Invalid token"));
        }
        let authenticate_on_unsubscribe = match self.authenticate_on_unsubscribe.as_deref() {
            None | Some("") => false,
            Some(v) => super::attributes::parse_bool("AuthenticateOnUnsubscribe", v)?,
        };
        Ok(ConfirmRequest {
            topic,
            token,
            authenticate_on_unsubscribe,
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SubscriptionArnInput {
    pub subscription_arn: Option<String>,
}

impl SubscriptionArnInput {
    pub fn subscription(&self) -> ApiResult<SubscriptionArn> {
        parse_subscription_arn(self.subscription_arn.as_deref())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SetSubscriptionAttributesInput {
    pub subscription_arn: Option<String>,
    pub attribute_name: Option<String>,
    pub attribute_value: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubscriptionMember {
    pub subscription_arn: String,
    pub owner: String,
    pub protocol: String,
    pub endpoint: String,
    pub topic_arn: String,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSubscriptionsOutput {
    pub subscriptions: Vec<SubscriptionMember>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TagResourceInput {
    pub resource_arn: Option<String>,
    pub tags: Vec<Tag>,
    pub tag_keys: Vec<String>,
}

impl TagResourceInput {
    pub fn topic(&self) -> ApiResult<TopicArn> {
        parse_topic_arn("ResourceArn", self.resource_arn.as_deref())
    }
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsOutput {
    pub tags: Vec<Tag>,
}

/// AddPermission's input (`AWSAccountId.member.N`, `ActionName.member.N`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AddPermissionInput {
    #[serde(rename = "TopicArn")]
    pub topic_arn: Option<String>,
    #[serde(rename = "Label")]
    pub label: Option<String>,
    #[serde(rename = "AWSAccountId")]
    pub aws_account_id: Vec<String>,
    #[serde(rename = "ActionName")]
    pub action_name: Vec<String>,
}

/// A valid AddPermission request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddPermissionRequest {
    pub topic: TopicArn,
    pub label: String,
    pub accounts: Vec<String>,
    pub actions: Vec<String>,
}

impl AddPermissionInput {
    pub fn validate(self) -> ApiResult<AddPermissionRequest> {
        let topic = parse_topic_arn("TopicArn", self.topic_arn.as_deref())?;
        let label = self
            .label
            .filter(|l| !l.is_empty())
            .ok_or_else(|| required("Label"))?;
        if self.aws_account_id.is_empty() {
            return Err(required("AWSAccountId"));
        }
        if self.action_name.is_empty() {
            return Err(required("ActionName"));
        }
        Ok(AddPermissionRequest {
            topic,
            label,
            accounts: self.aws_account_id,
            actions: self.action_name,
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RemovePermissionInput {
    pub topic_arn: Option<String>,
    pub label: Option<String>,
}

impl RemovePermissionInput {
    pub fn validate(self) -> ApiResult<(TopicArn, String)> {
        let topic = parse_topic_arn("TopicArn", self.topic_arn.as_deref())?;
        let label = self
            .label
            .filter(|l| !l.is_empty())
            .ok_or_else(|| required("Label"))?;
        Ok((topic, label))
    }
}

/// Get/PutDataProtectionPolicy's input.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DataProtectionPolicyInput {
    pub resource_arn: Option<String>,
    pub data_protection_policy: Option<String>,
}

/// Longest DataProtectionPolicy (botocore's documented 30,720 characters).
pub const MAX_DATA_PROTECTION_POLICY: usize = 30_720;

impl DataProtectionPolicyInput {
    pub fn topic(&self) -> ApiResult<TopicArn> {
        parse_topic_arn("ResourceArn", self.resource_arn.as_deref())
    }
    /// The policy PutDataProtectionPolicy stores: a JSON object (an empty
    /// value removes the topic's policy).
    pub fn policy(&self) -> ApiResult<String> {
        let p = self
            .data_protection_policy
            .clone()
            .ok_or_else(|| required("DataProtectionPolicy"))?;
        if p.chars().count() > MAX_DATA_PROTECTION_POLICY {
            return Err(invalid(
                "DataProtectionPolicy Reason: must be at most 30720 characters long",
            ));
        }
        validate_topic_attribute("DataProtectionPolicy", &p, false)?;
        Ok(p)
    }
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DataProtectionPolicyOutput {
    pub data_protection_policy: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert!(validate_endpoint("email", Some("ops@example.com")).is_ok());
        for bad in ["ops", "a@b", "a@@b.c", "a b@c.d", "@x.y"] {
            assert_eq!(
                validate_endpoint("email", Some(bad)).unwrap_err().message,
                "Invalid parameter: Email address",
                "{bad}"
            );
        }
        assert!(validate_endpoint("http", Some("http://127.0.0.1:9/x")).is_ok());
        assert!(validate_endpoint("https", Some("HTTPS://h/")).is_ok());
        for bad in [
            "https://h",
            "ftp://h",
            "http://",
            "http:///x",
            "http://a b",
            "ééééé",
            "htté://x",
        ] {
            assert_eq!(
                validate_endpoint("http", Some(bad)).unwrap_err().message,
                "Invalid parameter: Endpoint must match the specified protocol",
                "{bad}"
            );
        }
    }

    #[test]
    fn subscribe_protocols() {
        let input = |p: &str| SubscribeInput {
            topic_arn: Some("arn:aws:sns:us-east-1:123456789012:t".into()),
            protocol: Some(p.into()),
            endpoint: Some("a@b.co".into()),
            ..Default::default()
        };
        assert_eq!(input("EMAIL").validate().unwrap().protocol, "email");
        assert_eq!(
            input("test-protocol").validate().unwrap_err().message,
            "Invalid parameter: Amazon SNS does not support this protocol string: test-protocol"
        );
        let mut i = input("email");
        i.return_subscription_arn = Some("maybe".into());
        assert!(i.validate().is_err());
    }

    #[test]
    fn create_topic() {
        let ok = CreateTopicInput {
            name: Some("t".into()),
            attributes: [
                ("FifoTopic".to_string(), "false".to_string()),
                ("DisplayName".to_string(), "D".to_string()),
            ]
            .into(),
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert_eq!(ok.attributes.len(), 1);
        let e = CreateTopicInput {
            name: Some("t.fifo".into()),
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.message, "Invalid parameter: Topic Name");
        let many: Vec<Tag> = (0..51)
            .map(|i| Tag {
                key: format!("k{i}"),
                value: String::new(),
            })
            .collect();
        let e = CreateTopicInput {
            name: Some("t".into()),
            tags: many,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::TagLimitExceeded);
    }

    proptest::proptest! {
        /// Validators answer every input with Ok or an error, never a panic.
        #[test]
        fn validators_never_panic(text in "\\PC{0,40}", protocol in "(http|https|email|email-json)") {
            use crate::sns::{arn, filter, publish};
            let _ = validate_endpoint(&protocol, Some(&text));
            let _ = arn::parse_topic_arn("TopicArn", Some(&text));
            let _ = arn::parse_subscription_arn(Some(&text));
            let _ = publish::validate_subject(&text);
            let _ = publish::parse_body(text.clone(), Some("json"));
            for scope in [filter::FilterScope::MessageAttributes, filter::FilterScope::MessageBody] {
                if let Ok(p) = filter::FilterPolicy::parse(&text, scope) {
                    let _ = p.matches(&serde_json::Map::new(), &text);
                }
            }
        }
    }
}
