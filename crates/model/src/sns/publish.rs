//! Publish validation: target, subject rules, `MessageStructure=json`,
//! message attributes (String, Number, Binary, String.Array) and the size
//! limit; and the JSON view of attributes that filter policies match.

use super::arn::{TopicArn, parse_topic_arn};
use super::fifo::FifoParams;
use super::{invalid, required};
use crate::error::{ApiError, ApiResult, ErrorCode};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Largest message (body plus attributes), in bytes: 256 KiB.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Subjects are shorter than this many characters.
pub const MAX_SUBJECT_CHARS: usize = 100;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MessageAttributeInput {
    pub data_type: Option<String>,
    pub string_value: Option<String>,
    pub binary_value: Option<String>,
}

/// A validated message attribute. Binary values stay base64 text: that is how
/// SNS delivers them in the JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAttribute {
    pub data_type: String,
    pub value: String,
}

impl MessageAttribute {
    /// `String`, `Number`, `Binary` or `String.Array` (custom suffixes stripped).
    pub fn base_type(&self) -> &str {
        if self.data_type == "String.Array" {
            return "String.Array";
        }
        self.data_type.split('.').next().unwrap_or("")
    }
}

pub type MessageAttributes = BTreeMap<String, MessageAttribute>;

/// The body SNS sends: one text, or one per protocol (`MessageStructure=json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageBody {
    Plain(String),
    PerProtocol {
        default: String,
        overrides: BTreeMap<String, String>,
    },
}

impl MessageBody {
    /// The text a subscriber of `protocol` receives.
    pub fn for_protocol(&self, protocol: &str) -> &str {
        match self {
            MessageBody::Plain(m) => m,
            MessageBody::PerProtocol { default, overrides } => {
                overrides.get(protocol).unwrap_or(default)
            }
        }
    }
}

/// A validated message (target-independent, shared by Publish and PublishBatch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidMessage {
    pub subject: Option<String>,
    pub body: MessageBody,
    pub attributes: MessageAttributes,
}

impl ValidMessage {
    /// The attributes as filter policies see them: String → string, Number →
    /// number, String.Array → its JSON array; Binary is not matchable.
    pub fn filter_view(&self) -> Map<String, Value> {
        let mut out = Map::new();
        for (name, a) in &self.attributes {
            let v = match a.base_type() {
                "String" => Value::String(a.value.clone()),
                "Number" => match a
                    .value
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                {
                    Some(n) => Value::Number(n),
                    None => continue,
                },
                "String.Array" => match serde_json::from_str(&a.value) {
                    Ok(v) => v,
                    Err(_) => continue,
                },
                _ => continue,
            };
            out.insert(name.clone(), v);
        }
        out
    }
}

/// Checks a Subject: ASCII, starts with a letter, digit or punctuation, no
/// line breaks or control characters, fewer than 100 characters.
pub fn validate_subject(subject: &str) -> ApiResult<()> {
    let ok = !subject.is_empty()
        && subject.chars().count() < MAX_SUBJECT_CHARS
        && subject.bytes().all(|b| (0x20..0x7f).contains(&b))
        && subject.bytes().next().is_some_and(|b| b.is_ascii_graphic());
    if ok { Ok(()) } else { Err(invalid("Subject")) }
}

fn value_invalid(message: String) -> ApiError {
    ApiError::new(ErrorCode::ParameterValueInvalid, message)
}

fn is_base64(s: &str) -> bool {
    let trimmed = s.trim_end_matches('=');
    s.len().is_multiple_of(4)
        && s.len() - trimmed.len() <= 2
        && trimmed
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// Checks a message attribute name, refusing it with AWS's message for the
/// first rule it breaks (length, characters, dots at the ends, `..`).
fn validate_attribute_name(name: &str) -> ApiResult<()> {
    if name.len() > 256 {
        return Err(value_invalid(
            "Length of message attribute name must be less than 256 bytes.".into(),
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(value_invalid(format!(
            "Invalid non-alphanumeric character '#x{:X}' was found in the message attribute name. Can only include alphanumeric characters, hyphens, underscores, or dots.",
            c as u32
        )));
    }
    if name.starts_with('.') {
        return Err(value_invalid(
            "Invalid message attribute name starting with character '.' was found.".into(),
        ));
    }
    if name.ends_with('.') {
        return Err(value_invalid(
            "Invalid message attribute name ending with character '.' was found.".into(),
        ));
    }
    if name.contains("..") {
        return Err(value_invalid(
            "Message attribute name can not have successive '.' character.".into(),
        ));
    }
    let lower = name.to_ascii_lowercase();
    // AWS's own SMS settings are the exception to its reserved prefix.
    if super::sms::RESERVED_ATTRIBUTES.contains(&name) {
        return Ok(());
    }
    if name.is_empty() || lower.starts_with("aws.") || lower.starts_with("amazon.") {
        return Err(value_invalid(format!(
            "The message attribute name '{}' is invalid: names must not be empty or start with AWS. or Amazon.",
            name.chars().take(64).collect::<String>()
        )));
    }
    Ok(())
}

/// Validates message attributes; returns them and their size in bytes.
/// `path` is where they are in the request as AWS's validation messages name
/// it (`messageAttributes`, `publishBatchRequestEntries.1.member.messageAttributes`).
pub fn validate_attributes(
    input: BTreeMap<String, MessageAttributeInput>,
    path: &str,
) -> ApiResult<(MessageAttributes, usize)> {
    let mut out = BTreeMap::new();
    let mut size = 0usize;
    for (name, a) in input {
        validate_attribute_name(&name)?;
        let Some(data_type) = a.data_type else {
            return Err(ApiError::new(
                ErrorCode::ValidationError,
                format!(
                    "1 validation error detected: Value null at '{path}.{name}.member.dataType' failed to satisfy constraint: Member must not be null"
                ),
            ));
        };
        if data_type.is_empty() {
            return Err(value_invalid(format!(
                "The message attribute '{name}' must contain non-empty message attribute type."
            )));
        }
        let base = if data_type == "String.Array" {
            "String.Array"
        } else {
            data_type.split('.').next().unwrap_or("")
        };
        // A custom type is `<base>.<label>`: "String." has an empty label.
        if !matches!(base, "String" | "Number" | "Binary" | "String.Array")
            || data_type.ends_with('.')
        {
            return Err(value_invalid(format!(
                "The message attribute '{name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String."
            )));
        }
        let (value, other, field) = if base == "Binary" {
            (a.binary_value, a.string_value, "Binary")
        } else {
            (a.string_value, a.binary_value, "String")
        };
        // Only the other field given: AWS names the field this type uses.
        if value.is_none() && other.is_some() {
            return Err(value_invalid(format!(
                "The message attribute '{name}' with type '{base}' must use field '{field}'."
            )));
        }
        let value = value.filter(|v| !v.is_empty()).ok_or_else(|| {
            value_invalid(format!(
                "The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{base}'."
            ))
        })?;
        match base {
            "Number" if value.trim().parse::<f64>().map_or(true, |n| !n.is_finite()) => {
                return Err(value_invalid(format!(
                    "Could not cast message attribute '{name}' value to number."
                )));
            }
            "Binary" if !is_base64(&value) => {
                return Err(value_invalid(format!(
                    "The message attribute '{name}' with type 'Binary' must be base64 encoded."
                )));
            }
            "String.Array"
                if !matches!(serde_json::from_str::<Value>(&value), Ok(Value::Array(_))) =>
            {
                return Err(value_invalid(format!(
                    "The message attribute '{name}' with type 'String.Array' has an invalid value: it must be a JSON array."
                )));
            }
            _ => {}
        }
        size += name.len() + data_type.len() + value.len();
        out.insert(name, MessageAttribute { data_type, value });
    }
    Ok((out, size))
}

/// Parses `Message` under `MessageStructure`.
pub fn parse_body(message: String, structure: Option<&str>) -> ApiResult<MessageBody> {
    match structure {
        None | Some("") => Ok(MessageBody::Plain(message)),
        Some("json") => {
            let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(&message) else {
                return Err(invalid(
                    "Message Structure - JSON message body failed to parse",
                ));
            };
            let mut overrides = BTreeMap::new();
            let mut default = None;
            for (k, v) in obj {
                // AWS ignores entries whose value is not a string: a non-string
                // "default" is answered "No default entry in JSON message body".
                let Value::String(text) = v else {
                    continue;
                };
                if k == "default" {
                    default = Some(text);
                } else {
                    overrides.insert(k, text);
                }
            }
            let default = default.ok_or_else(|| {
                invalid("Message Structure - No default entry in JSON message body")
            })?;
            Ok(MessageBody::PerProtocol { default, overrides })
        }
        Some(_) => Err(invalid("MessageStructure")),
    }
}

/// Validates one Publish message.
pub fn validate_message(
    message: Option<String>,
    subject: Option<String>,
    structure: Option<&str>,
    attributes: BTreeMap<String, MessageAttributeInput>,
) -> ApiResult<ValidMessage> {
    let message = message.ok_or_else(|| required("Message"))?;
    if message.is_empty() {
        return Err(invalid("Empty message"));
    }
    if let Some(s) = &subject {
        validate_subject(s)?;
    }
    let (attributes, attr_size) = validate_attributes(attributes, "messageAttributes")?;
    finish_message(message, subject, structure, attributes, attr_size)
}

/// The checks after the attributes: size, then `MessageStructure`.
fn finish_message(
    message: String,
    subject: Option<String>,
    structure: Option<&str>,
    attributes: MessageAttributes,
    attr_size: usize,
) -> ApiResult<ValidMessage> {
    if message.len() + attr_size > MAX_MESSAGE_BYTES {
        return Err(invalid("Message too long"));
    }
    let body = parse_body(message, structure)?;
    Ok(ValidMessage {
        subject,
        body,
        attributes,
    })
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PublishInput {
    pub topic_arn: Option<String>,
    pub target_arn: Option<String>,
    pub phone_number: Option<String>,
    pub message: Option<String>,
    pub subject: Option<String>,
    pub message_structure: Option<String>,
    pub message_attributes: BTreeMap<String, MessageAttributeInput>,
    pub message_group_id: Option<String>,
    pub message_deduplication_id: Option<String>,
}

/// A validated Publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishRequest {
    pub topic: TopicArn,
    pub message: ValidMessage,
    /// MessageGroupId / MessageDeduplicationId, checked against the topic
    /// type by the server (`fifo::identity`).
    pub fifo: FifoParams,
    /// `Message` as sent: what content-based deduplication hashes.
    pub raw_message: String,
}

/// The topic a Publish targets (`TopicArn` or `TargetArn`; a `PhoneNumber`
/// publish is [`PublishInput::validate_sms`]'s).
pub fn publish_target(
    topic_arn: Option<&str>,
    target_arn: Option<&str>,
    phone_number: Option<&str>,
) -> ApiResult<TopicArn> {
    let nonempty = |o: Option<&str>| o.filter(|s| !s.is_empty()).is_some();
    if nonempty(phone_number) {
        return Err(invalid(
            "TopicArn, TargetArn or PhoneNumber Reason: Only one of them may be set",
        ));
    }
    match (
        topic_arn.filter(|s| !s.is_empty()),
        target_arn.filter(|s| !s.is_empty()),
    ) {
        (Some(_), Some(_)) => Err(invalid(
            "TopicArn or TargetArn Reason: Only one of them may be set",
        )),
        (Some(t), None) => parse_topic_arn("TopicArn", Some(t)),
        // A mobile push endpoint: Stratus has none, so none is ever found.
        (None, Some(t))
            if t.split(':')
                .nth(5)
                .is_some_and(|r| r.starts_with("endpoint/"))
                && t.split(':').count() == 6 =>
        {
            Err(invalid(
                "TargetArn Reason: No endpoint found for the target arn specified",
            ))
        }
        (None, Some(t)) => parse_topic_arn("TargetArn", Some(t)),
        // A TopicArn sent empty is parsed as AWS does ("… at least 6 elements, not 1").
        (None, None) if topic_arn == Some("") => super::arn::parse_sent_topic_arn("TopicArn", ""),
        (None, None) => Err(invalid(
            "TopicArn or TargetArn Reason: no value for required parameter",
        )),
    }
}

/// A validated Publish to a phone number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsPublishRequest {
    /// Normalised (`+` and digits).
    pub phone_number: String,
    pub message: ValidMessage,
}

impl PublishInput {
    /// A `PhoneNumber` and neither `TopicArn` nor `TargetArn`: an SMS.
    pub fn is_sms(&self) -> bool {
        let set = |o: &Option<String>| o.as_deref().is_some_and(|s| !s.is_empty());
        set(&self.phone_number) && !set(&self.topic_arn) && !set(&self.target_arn)
    }

    /// Checks a Publish to a phone number (after [`PublishInput::is_sms`]).
    /// The body is the `sms` entry of a MessageStructure=json message, else
    /// its `default`, at most [`super::sms::MAX_SMS_CHARS`] characters.
    pub fn validate_sms(self) -> ApiResult<SmsPublishRequest> {
        let phone_number =
            super::sms::validate_publish_number(self.phone_number.as_deref().unwrap_or(""))?;
        let message = validate_message(
            self.message,
            self.subject,
            self.message_structure.as_deref(),
            self.message_attributes,
        )?;
        super::sms::check_sms_length(message.body.for_protocol("sms"))?;
        Ok(SmsPublishRequest {
            phone_number,
            message,
        })
    }

    pub fn validate(self) -> ApiResult<PublishRequest> {
        let topic = publish_target(
            self.topic_arn.as_deref(),
            self.target_arn.as_deref(),
            self.phone_number.as_deref(),
        )?;
        let raw_message = self.message.clone().unwrap_or_default();
        let message = validate_message(
            self.message,
            self.subject,
            self.message_structure.as_deref(),
            self.message_attributes,
        )?;
        let fifo = FifoParams::parse(self.message_group_id, self.message_deduplication_id)?;
        Ok(PublishRequest {
            topic,
            message,
            fifo,
            raw_message,
        })
    }
}

/// Most entries in one PublishBatch.
pub const MAX_BATCH_ENTRIES: usize = 10;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PublishBatchInput {
    pub topic_arn: Option<String>,
    pub publish_batch_request_entries: Vec<PublishBatchEntryInput>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PublishBatchEntryInput {
    pub id: Option<String>,
    pub message: Option<String>,
    pub subject: Option<String>,
    pub message_structure: Option<String>,
    pub message_attributes: BTreeMap<String, MessageAttributeInput>,
    pub message_group_id: Option<String>,
    pub message_deduplication_id: Option<String>,
}

/// A validated PublishBatch: each entry's id and either its message or the
/// error that entry fails with (reported in `Failed`, not for the request).
#[derive(Debug, Clone, PartialEq)]
pub struct PublishBatchRequest {
    pub topic: TopicArn,
    pub entries: Vec<BatchEntry>,
}

/// One PublishBatch entry: its id, and its message or the error it fails
/// with (reported in `Failed`).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchEntry {
    pub id: String,
    pub message: ApiResult<ValidMessage>,
    pub fifo: FifoParams,
    /// `Message` as sent (content-based deduplication).
    pub raw_message: String,
}

impl PublishBatchInput {
    pub fn validate(self) -> ApiResult<PublishBatchRequest> {
        let topic = parse_topic_arn("TopicArn", self.topic_arn.as_deref())?;
        let entries = self.publish_batch_request_entries;
        if entries.is_empty() {
            return Err(ApiError::new(
                ErrorCode::EmptyBatchRequest,
                "The batch request doesn't contain any entries.",
            ));
        }
        if entries.len() > MAX_BATCH_ENTRIES {
            return Err(ApiError::new(
                ErrorCode::TooManyEntriesInBatchRequest,
                "The batch request contains more entries than permissible.",
            ));
        }
        let mut ids = std::collections::BTreeSet::new();
        let mut total = 0usize;
        let mut out = Vec::with_capacity(entries.len());
        for (index, e) in entries.into_iter().enumerate() {
            let id = e.id.unwrap_or_default();
            if id.is_empty() {
                return Err(ApiError::new(
                    ErrorCode::InvalidBatchEntryId,
                    "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
                ));
            }
            if id.chars().count() > 80 {
                return Err(ApiError::new(
                    ErrorCode::InvalidBatchEntryId,
                    format!("The Id of a batch entry in the batch request is too long: {id}"),
                ));
            }
            if !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(ApiError::new(
                    ErrorCode::InvalidBatchEntryId,
                    format!(
                        "The Id of a batch entry in the batch request contains an impermissible character: {id}"
                    ),
                ));
            }
            if !ids.insert(id.clone()) {
                return Err(ApiError::new(
                    ErrorCode::BatchEntryIdsNotDistinct,
                    "Two or more batch entries in the request have the same Id.",
                ));
            }
            // AWS refuses the whole request for an entry's bad attributes or
            // MessageStructure (recorded); other entry errors go to `Failed`.
            let (attributes, attr_size) = validate_attributes(
                e.message_attributes,
                &format!(
                    "publishBatchRequestEntries.{}.member.messageAttributes",
                    index + 1
                ),
            )?;
            if let Some(m) = e.message.as_ref().filter(|m| !m.is_empty()) {
                parse_body(m.clone(), e.message_structure.as_deref())?;
            }
            total += e.message.as_ref().map_or(0, String::len) + attr_size;
            let raw_message = e.message.clone().unwrap_or_default();
            let fifo = FifoParams::parse(e.message_group_id, e.message_deduplication_id);
            let fifo_params = fifo.clone().unwrap_or_default();
            let msg = fifo.and_then(|_| {
                let message = e.message.ok_or_else(|| required("Message"))?;
                if message.is_empty() {
                    return Err(invalid("Empty message"));
                }
                if let Some(s) = &e.subject {
                    validate_subject(s)?;
                }
                finish_message(
                    message,
                    e.subject,
                    e.message_structure.as_deref(),
                    attributes,
                    attr_size,
                )
            });
            out.push(BatchEntry {
                id,
                message: msg,
                fifo: fifo_params,
                raw_message,
            });
        }
        if total > MAX_MESSAGE_BYTES {
            return Err(ApiError::new(
                ErrorCode::BatchRequestTooLong,
                "The length of all the messages put together is more than the limit.",
            ));
        }
        Ok(PublishBatchRequest {
            topic,
            entries: out,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(t: &str, s: Option<&str>, b: Option<&str>) -> MessageAttributeInput {
        MessageAttributeInput {
            data_type: Some(t.into()),
            string_value: s.map(Into::into),
            binary_value: b.map(Into::into),
        }
    }

    #[test]
    fn subjects() {
        assert!(validate_subject("ALARM: \"disk\" in US East (N. Virginia)").is_ok());
        assert!(validate_subject(&"s".repeat(99)).is_ok());
        for bad in ["", " lead", "a\nb", "tab\t", &"s".repeat(100), "é"] {
            assert_eq!(
                validate_subject(bad).unwrap_err().message,
                "Invalid parameter: Subject",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn attributes_table() {
        let ok: BTreeMap<_, _> = [
            ("s".to_string(), attr("String", Some("x"), None)),
            ("n".to_string(), attr("Number.float", Some("1.5"), None)),
            ("b".to_string(), attr("Binary", None, Some("AAE="))),
            (
                "a".to_string(),
                attr("String.Array", Some("[\"x\", 1]"), None),
            ),
        ]
        .into();
        let (v, size) = validate_attributes(ok, "messageAttributes").unwrap();
        assert_eq!(v.len(), 4);
        assert!(size > 0);
        let m = ValidMessage {
            subject: None,
            body: MessageBody::Plain("m".into()),
            attributes: v,
        };
        let view = m.filter_view();
        assert_eq!(view["n"], serde_json::json!(1.5));
        assert!(view.get("b").is_none());
        assert_eq!(view["a"], serde_json::json!(["x", 1]));

        let cases = [
            (
                "s",
                attr("String", Some(""), None),
                "must contain non-empty message attribute value",
            ),
            (
                "n",
                attr("Number", Some("abc"), None),
                "Could not cast message attribute 'n' value to number.",
            ),
            (
                "t",
                attr("Blob", Some("x"), None),
                "invalid message attribute type",
            ),
            ("b", attr("Binary", None, Some("!!")), "must be base64"),
            (
                "a",
                attr("String.Array", Some("x"), None),
                "must be a JSON array",
            ),
            (
                "AWS.x",
                attr("String", Some("x"), None),
                "name 'AWS.x' is invalid",
            ),
            (
                "a..b",
                attr("String", Some("x"), None),
                "Message attribute name can not have successive '.' character.",
            ),
            (
                "a^",
                attr("String", Some("x"), None),
                "Invalid non-alphanumeric character '#x5E' was found",
            ),
            (
                "s",
                attr("String", None, Some("MTIz")),
                "with type 'String' must use field 'String'.",
            ),
            (
                "d",
                attr("String.", Some("x"), None),
                "invalid message attribute type",
            ),
        ];
        for (name, a, frag) in cases {
            let e = validate_attributes([(name.to_string(), a)].into(), "messageAttributes")
                .unwrap_err();
            assert_eq!(e.code, ErrorCode::ParameterValueInvalid);
            assert!(e.message.contains(frag), "{name}: {}", e.message);
        }
    }

    #[test]
    fn message_structure() {
        let b = parse_body(r#"{"default":"d","email":"e"}"#.into(), Some("json")).unwrap();
        assert_eq!(b.for_protocol("email"), "e");
        assert_eq!(b.for_protocol("https"), "d");
        let e = parse_body(r#"{"email":"e"}"#.into(), Some("json")).unwrap_err();
        assert_eq!(
            e.message,
            "Invalid parameter: Message Structure - No default entry in JSON message body"
        );
        let e = parse_body("x".into(), Some("json")).unwrap_err();
        assert_eq!(
            e.message,
            "Invalid parameter: Message Structure - JSON message body failed to parse"
        );
        assert_eq!(
            parse_body("x".into(), Some("xml")).unwrap_err().message,
            "Invalid parameter: MessageStructure"
        );
    }

    #[test]
    fn message_limits_and_targets() {
        let e = validate_message(Some(String::new()), None, None, BTreeMap::new()).unwrap_err();
        assert_eq!(e.message, "Invalid parameter: Empty message");
        let e = validate_message(
            Some("x".repeat(MAX_MESSAGE_BYTES + 1)),
            None,
            None,
            BTreeMap::new(),
        )
        .unwrap_err();
        assert_eq!(e.message, "Invalid parameter: Message too long");
        assert!(
            validate_message(
                Some("x".repeat(MAX_MESSAGE_BYTES)),
                None,
                None,
                BTreeMap::new()
            )
            .is_ok()
        );
        let arn = "arn:aws:sns:us-east-1:123456789012:t";
        assert_eq!(publish_target(None, Some(arn), None).unwrap().name, "t");
        assert!(publish_target(Some(arn), Some(arn), None).is_err());
        assert!(publish_target(None, None, Some("+15555550100")).is_err());
        assert!(
            publish_target(None, None, None)
                .unwrap_err()
                .message
                .contains("no value")
        );
    }

    #[test]
    fn batches() {
        let entry = |id: &str| PublishBatchEntryInput {
            id: Some(id.into()),
            message: Some("m".into()),
            ..Default::default()
        };
        let arn = Some("arn:aws:sns:us-east-1:123456789012:t".to_string());
        let input = |entries| PublishBatchInput {
            topic_arn: arn.clone(),
            publish_batch_request_entries: entries,
        };
        assert_eq!(
            input(vec![]).validate().unwrap_err().code,
            ErrorCode::EmptyBatchRequest
        );
        let many = (0..11).map(|i| entry(&format!("e{i}"))).collect();
        assert_eq!(
            input(many).validate().unwrap_err().code,
            ErrorCode::TooManyEntriesInBatchRequest
        );
        assert_eq!(
            input(vec![entry("a"), entry("a")])
                .validate()
                .unwrap_err()
                .code,
            ErrorCode::BatchEntryIdsNotDistinct
        );
        assert_eq!(
            input(vec![entry("a b")]).validate().unwrap_err().code,
            ErrorCode::InvalidBatchEntryId
        );
        let mut bad = entry("b");
        bad.subject = Some("a\nb".into());
        let v = input(vec![entry("a"), bad]).validate().unwrap();
        assert!(v.entries[0].message.is_ok());
        assert!(v.entries[1].message.is_err());
    }
}
