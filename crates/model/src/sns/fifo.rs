//! FIFO topics: the `.fifo` name rule, the FIFO attributes, and the
//! `MessageGroupId` / `MessageDeduplicationId` rules of Publish and
//! PublishBatch. Pure: the server keeps the deduplication window and the
//! sequence numbers.

use super::attributes::parse_bool;
use super::invalid;
use crate::error::ApiResult;
use std::collections::BTreeMap;

/// The suffix every FIFO topic name has, and only they have.
pub const FIFO_SUFFIX: &str = ".fifo";

/// How long a deduplication id is remembered (AWS's minimum interval).
pub const DEDUP_WINDOW_MS: i64 = 5 * 60 * 1000;

/// Longest MessageGroupId / MessageDeduplicationId.
pub const MAX_ID_CHARS: usize = 128;

/// Whether a topic's stored attributes make it a FIFO topic.
pub fn is_fifo(attributes: &BTreeMap<String, String>) -> bool {
    attributes.get("FifoTopic").is_some_and(|v| v == "true")
}

/// Whether a FIFO topic derives deduplication ids from the message body.
pub fn content_based(attributes: &BTreeMap<String, String>) -> bool {
    attributes
        .get("ContentBasedDeduplication")
        .is_some_and(|v| v == "true")
}

/// Whether deduplication is per message group (`FifoThroughputScope` =
/// `MessageGroup`) rather than across the topic (the default, `Topic`).
pub fn dedup_per_group(attributes: &BTreeMap<String, String>) -> bool {
    attributes
        .get("FifoThroughputScope")
        .is_some_and(|v| v == "MessageGroup")
}

/// Applies CreateTopic's FIFO rules to a valid `name` and its attributes:
/// a name ending in `.fifo` needs `FifoTopic=true` and `FifoTopic=true`
/// needs such a name (AWS answers both with "Topic Name", recorded). A
/// FIFO topic stores `FifoTopic=true` and `ContentBasedDeduplication`
/// (default `false`), as AWS lists them; a standard topic stores neither
/// (AWS does not keep an explicit `FifoTopic=false`).
pub fn apply_create_rules(name: &str, attributes: &mut BTreeMap<String, String>) -> ApiResult<()> {
    let fifo = match attributes.get("FifoTopic") {
        Some(v) => parse_bool("FifoTopic", v)?,
        None => false,
    };
    if fifo != name.ends_with(FIFO_SUFFIX) {
        return Err(invalid("Topic Name"));
    }
    let content = match attributes.get("ContentBasedDeduplication") {
        Some(v) => parse_bool("ContentBasedDeduplication", v)?,
        None => false,
    };
    if fifo {
        attributes.insert("FifoTopic".into(), "true".into());
        attributes.insert("ContentBasedDeduplication".into(), content.to_string());
    } else {
        if content {
            return Err(not_for_standard_topics("ContentBasedDeduplication"));
        }
        if attributes.contains_key("FifoThroughputScope") {
            return Err(not_for_standard_topics("FifoThroughputScope"));
        }
        attributes.remove("FifoTopic");
        attributes.remove("ContentBasedDeduplication");
    }
    Ok(())
}

/// A FIFO-only attribute set on a standard topic. (AWS's exact text for
/// this case is not in the recordings.)
pub fn not_for_standard_topics(name: &str) -> crate::error::ApiError {
    invalid(format_args!(
        "{name} Reason: {name} can only be set for FIFO topics"
    ))
}

/// Checks the value of `FifoThroughputScope`.
pub fn validate_throughput_scope(value: &str) -> ApiResult<()> {
    if matches!(value, "Topic" | "MessageGroup") {
        Ok(())
    } else {
        Err(invalid("FifoThroughputScope"))
    }
}

/// Checks a MessageGroupId or MessageDeduplicationId: 1..128 ASCII letters,
/// digits and punctuation.
pub fn validate_id(param: &str, value: &str) -> ApiResult<()> {
    let ok = !value.is_empty()
        && value.chars().count() <= MAX_ID_CHARS
        && value.chars().all(|c| c.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(invalid(format_args!(
            "{param} Reason: {param} can only include alphanumeric and punctuation characters. 1 to 128 in length."
        )))
    }
}

/// The FIFO parameters of one message as sent (validated for form only:
/// which are required depends on the topic).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FifoParams {
    pub group: Option<String>,
    pub dedup: Option<String>,
}

impl FifoParams {
    /// From the request's fields; empty strings count as absent.
    pub fn parse(group: Option<String>, dedup: Option<String>) -> ApiResult<FifoParams> {
        let group = group.filter(|g| !g.is_empty());
        let dedup = dedup.filter(|d| !d.is_empty());
        if let Some(g) = &group {
            validate_id("MessageGroupId", g)?;
        }
        if let Some(d) = &dedup {
            validate_id("MessageDeduplicationId", d)?;
        }
        Ok(FifoParams { group, dedup })
    }
}

/// How a FIFO message is identified for ordering and deduplication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FifoIdentity {
    pub group: String,
    /// The explicit MessageDeduplicationId, or the SHA-256 of the body.
    pub dedup_id: String,
}

/// Applies the topic's rules to a message's FIFO parameters. A standard
/// topic refuses MessageDeduplicationId (recorded) and accepts, then
/// ignores, MessageGroupId (AWS forwards it only to SQS fair queues). A
/// FIFO topic requires MessageGroupId, and MessageDeduplicationId unless
/// the topic is content-based; `body_sha256` (lowercase hex of the
/// Message as sent) is then the deduplication id. `Ok(None)`: standard.
pub fn identity(
    params: &FifoParams,
    topic_attributes: &BTreeMap<String, String>,
    body_sha256: impl FnOnce() -> String,
) -> ApiResult<Option<FifoIdentity>> {
    if !is_fifo(topic_attributes) {
        if params.dedup.is_some() {
            return Err(invalid(
                "MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type",
            ));
        }
        return Ok(None);
    }
    let Some(group) = params.group.clone() else {
        return Err(invalid(
            "The MessageGroupId parameter is required for FIFO topics",
        ));
    };
    let dedup_id = match &params.dedup {
        Some(d) => d.clone(),
        None if content_based(topic_attributes) => body_sha256(),
        None => {
            return Err(invalid(
                "The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
            ));
        }
    };
    Ok(Some(FifoIdentity { group, dedup_id }))
}

/// The first sequence number of a topic: AWS's are 20-digit decimals.
pub const FIRST_SEQUENCE: u128 = 10_000_000_000_000_000_000;

/// A sequence number as AWS writes it: decimal, at least 20 digits.
pub fn format_sequence(n: u128) -> String {
    format!("{n:020}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn name_and_fifo_attribute_must_agree() {
        let mut a = attrs(&[("FifoTopic", "true")]);
        apply_create_rules("t.fifo", &mut a).unwrap();
        assert_eq!(
            a,
            attrs(&[
                ("FifoTopic", "true"),
                ("ContentBasedDeduplication", "false")
            ])
        );
        let mut a = attrs(&[("FifoTopic", "TRUE"), ("ContentBasedDeduplication", "True")]);
        apply_create_rules("t.fifo", &mut a).unwrap();
        assert_eq!(a["ContentBasedDeduplication"], "true");
        for (name, pairs) in [
            ("t.fifo", &[][..]),
            ("t.fifo", &[("FifoTopic", "false")][..]),
            ("t", &[("FifoTopic", "true")][..]),
        ] {
            let e = apply_create_rules(name, &mut attrs(pairs)).unwrap_err();
            assert_eq!(
                e.message, "Invalid parameter: Topic Name",
                "{name} {pairs:?}"
            );
        }
        let mut a = attrs(&[("FifoTopic", "false")]);
        apply_create_rules("t", &mut a).unwrap();
        assert!(a.is_empty());
        assert!(
            apply_create_rules("t", &mut attrs(&[("ContentBasedDeduplication", "true")])).is_err()
        );
        assert!(apply_create_rules("t.fifo", &mut attrs(&[("FifoTopic", "yes")])).is_err());
    }

    #[test]
    fn identities_follow_the_topic_type() {
        let standard = BTreeMap::new();
        let fifo = attrs(&[
            ("FifoTopic", "true"),
            ("ContentBasedDeduplication", "false"),
        ]);
        let content = attrs(&[("FifoTopic", "true"), ("ContentBasedDeduplication", "true")]);
        let p = |g: Option<&str>, d: Option<&str>| {
            FifoParams::parse(g.map(Into::into), d.map(Into::into)).unwrap()
        };
        let hash = || "ab".to_string();
        assert_eq!(
            identity(&p(Some("g"), None), &standard, hash).unwrap(),
            None
        );
        assert_eq!(
            identity(&p(None, Some("d")), &standard, hash)
                .unwrap_err()
                .message,
            "Invalid parameter: MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type"
        );
        assert_eq!(
            identity(&p(None, Some("d")), &fifo, hash)
                .unwrap_err()
                .message,
            "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
        );
        assert_eq!(
            identity(&p(Some("g"), None), &fifo, hash)
                .unwrap_err()
                .message,
            "Invalid parameter: The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly"
        );
        let id = identity(&p(Some("g"), None), &content, hash)
            .unwrap()
            .unwrap();
        assert_eq!((id.group.as_str(), id.dedup_id.as_str()), ("g", "ab"));
        let id = identity(&p(Some("g"), Some("d")), &content, hash)
            .unwrap()
            .unwrap();
        assert_eq!(id.dedup_id, "d");
    }

    #[test]
    fn id_form() {
        assert!(FifoParams::parse(Some("a-b_c!~".into()), Some("x".repeat(128))).is_ok());
        assert!(FifoParams::parse(Some("a b".into()), None).is_err());
        assert!(FifoParams::parse(None, Some("x".repeat(129))).is_err());
        assert!(FifoParams::parse(Some("é".into()), None).is_err());
        assert_eq!(
            FifoParams::parse(Some(String::new()), None).unwrap().group,
            None
        );
        assert_eq!(format_sequence(FIRST_SEQUENCE).len(), 20);
    }
}
