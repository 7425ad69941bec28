//! Topic names, topic ARNs (`arn:aws:sns:<region>:<account>:<name>`) and
//! subscription ARNs (`<topic-arn>:<uuid>`).

use super::{invalid, required};
use crate::error::ApiResult;

/// Longest topic name AWS accepts.
pub const MAX_TOPIC_NAME: usize = 256;

/// Checks a CreateTopic `Name`: 1..256 of `[A-Za-z0-9_-]`, or such a base
/// followed by `.fifo` (256 in all). Whether the name fits the topic type
/// is [`super::fifo::apply_create_rules`]'s check.
pub fn validate_topic_name(name: Option<&str>) -> ApiResult<&str> {
    let name = name.ok_or_else(|| required("Name"))?;
    let base = name.strip_suffix(super::fifo::FIFO_SUFFIX).unwrap_or(name);
    let ok = !base.is_empty()
        && name.len() <= MAX_TOPIC_NAME
        && base
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(name)
    } else {
        Err(invalid("Topic Name"))
    }
}

/// The ARN of topic `name` in `region` of `account`.
pub fn topic_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:sns:{region}:{account}:{name}")
}

/// A parsed topic ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicArn {
    pub region: String,
    pub account: String,
    pub name: String,
}

impl TopicArn {
    pub fn to_arn(&self) -> String {
        topic_arn(&self.region, &self.account, &self.name)
    }
}

/// Splits an ARN into its elements, checking AWS's "at least 6 elements".
fn elements<'a>(param: &str, arn: &'a str) -> ApiResult<Vec<&'a str>> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() < 6 {
        return Err(invalid(format_args!(
            "{param} Reason: An ARN must have at least 6 elements, not {}",
            parts.len()
        )));
    }
    Ok(parts)
}

/// Parses the `param` (e.g. `TopicArn`) as a topic ARN.
pub fn parse_topic_arn(param: &str, arn: Option<&str>) -> ApiResult<TopicArn> {
    let arn = arn
        .filter(|a| !a.is_empty())
        .ok_or_else(|| required(param))?;
    let parts = elements(param, arn)?;
    if parts.len() != 6 || parts[0] != "arn" || parts[2] != "sns" || parts[1].is_empty() {
        return Err(invalid(param));
    }
    let name = validate_topic_name(Some(parts[5])).map_err(|_| invalid(param))?;
    if parts[3].is_empty() || parts[4].is_empty() {
        return Err(invalid(param));
    }
    Ok(TopicArn {
        region: parts[3].to_string(),
        account: parts[4].to_string(),
        name: name.to_string(),
    })
}

/// Parses a topic ARN that was sent, even empty: AWS answers an empty one
/// with its element count (`An ARN must have at least 6 elements, not 1`).
pub fn parse_sent_topic_arn(param: &str, arn: &str) -> ApiResult<TopicArn> {
    elements(param, arn)?;
    parse_topic_arn(param, Some(arn))
}

/// A parsed subscription ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionArn {
    pub topic: TopicArn,
    pub id: String,
}

/// Parses `SubscriptionArn` (`<topic-arn>:<uuid>`).
pub fn parse_subscription_arn(arn: Option<&str>) -> ApiResult<SubscriptionArn> {
    const P: &str = "SubscriptionArn";
    let arn = arn.filter(|a| !a.is_empty()).ok_or_else(|| required(P))?;
    let parts = elements(P, arn)?;
    // A topic ARN without a subscription id: AWS names the missing id.
    if parts.len() == 6 {
        return Err(invalid("SubscriptionId"));
    }
    if parts.len() != 7 {
        return Err(invalid(P));
    }
    let topic = parse_topic_arn(P, Some(&arn[..arn.len() - parts[6].len() - 1]))?;
    let id = parts[6];
    let valid_id = id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    if !valid_id {
        return Err(invalid("SubscriptionId"));
    }
    Ok(SubscriptionArn {
        topic,
        id: id.to_ascii_lowercase(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names() {
        assert!(validate_topic_name(Some("alerts_1-A")).is_ok());
        assert!(validate_topic_name(Some(&"a".repeat(256))).is_ok());
        assert!(validate_topic_name(Some("a.fifo")).is_ok());
        for bad in [
            "",
            "a b",
            ".fifo",
            "a.fifo.fifo",
            "a.FIFO",
            "é",
            &"a".repeat(257),
        ] {
            let e = validate_topic_name(Some(bad)).unwrap_err();
            assert_eq!(e.message, "Invalid parameter: Topic Name", "{bad}");
        }
        let e = validate_topic_name(None).unwrap_err();
        assert_eq!(
            e.message,
            "Invalid parameter: Name Reason: no value for required parameter"
        );
    }

    #[test]
    fn topic_arns() {
        let t = parse_topic_arn("TopicArn", Some("arn:aws:sns:us-east-1:123456789012:x")).unwrap();
        assert_eq!((t.region.as_str(), t.name.as_str()), ("us-east-1", "x"));
        assert_eq!(t.to_arn(), "arn:aws:sns:us-east-1:123456789012:x");
        let e = parse_topic_arn("TopicArn", Some("nope")).unwrap_err();
        assert_eq!(
            e.message,
            "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 1"
        );
        for bad in [
            "arn:aws:sqs:us-east-1:1:x",
            "arn:aws:sns:us-east-1:1:x y",
            "arn:aws:sns::1:x",
            "arn:aws:sns:us-east-1:1:x:y",
        ] {
            let e = parse_topic_arn("TopicArn", Some(bad)).unwrap_err();
            assert_eq!(e.message, "Invalid parameter: TopicArn", "{bad}");
        }
    }

    #[test]
    fn subscription_arns() {
        let s = parse_subscription_arn(Some(
            "arn:aws:sns:us-east-1:123456789012:t:0C0AB9A0-5c4b-4a3b-9d3e-1234567890ab",
        ))
        .unwrap();
        assert_eq!(s.topic.name, "t");
        assert_eq!(s.id, "0c0ab9a0-5c4b-4a3b-9d3e-1234567890ab");
        let e =
            parse_subscription_arn(Some("arn:aws:sns:us-east-1:123456789012:t:zz")).unwrap_err();
        assert_eq!(e.message, "Invalid parameter: SubscriptionId");
        let e = parse_subscription_arn(Some("x")).unwrap_err();
        assert!(
            e.message
                .contains("SubscriptionArn Reason: An ARN must have at least 6 elements, not 1")
        );
        let e = parse_subscription_arn(Some("")).unwrap_err();
        assert_eq!(
            e.message,
            "Invalid parameter: SubscriptionArn Reason: no value for required parameter"
        );
    }
}
