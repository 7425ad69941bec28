//! SNS delivery policies (JSON): a subscription's `{"healthyRetryPolicy":
//! {...}}` and a topic's `{"http": {"defaultHealthyRetryPolicy": {...},
//! "disableSubscriptionOverrides": bool}}`, and the effective policy a
//! delivery uses.

use super::invalid;
use crate::error::{ApiError, ApiResult};
use serde_json::{Map, Value, json};

/// How SNS spaces retries (`backoffFunction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackoffFunction {
    Linear,
    Arithmetic,
    Geometric,
    Exponential,
}

impl BackoffFunction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Linear => "linear",
            Self::Arithmetic => "arithmetic",
            Self::Geometric => "geometric",
            Self::Exponential => "exponential",
        }
    }
}

/// A `healthyRetryPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthyRetryPolicy {
    pub num_retries: u32,
    pub min_delay_target: u32,
    pub max_delay_target: u32,
    pub backoff: BackoffFunction,
}

impl HealthyRetryPolicy {
    /// SNS's http/https default: 3 retries, 20 s apart.
    pub const DEFAULT: HealthyRetryPolicy = HealthyRetryPolicy {
        num_retries: 3,
        min_delay_target: 20,
        max_delay_target: 20,
        backoff: BackoffFunction::Linear,
    };

    fn to_json(self) -> Value {
        json!({
            "minDelayTarget": self.min_delay_target,
            "maxDelayTarget": self.max_delay_target,
            "numRetries": self.num_retries,
            "numMaxDelayRetries": 0,
            "numNoDelayRetries": 0,
            "numMinDelayRetries": 0,
            "backoffFunction": self.backoff.as_str(),
        })
    }
}

/// AWS's limits on a retry policy (`numRetries` ≤ 100, delays 1..=3600 s).
const MAX_RETRIES: u64 = 100;
const MAX_DELAY: u64 = 3600;

fn bad(reason: impl std::fmt::Display) -> ApiError {
    invalid(format_args!("DeliveryPolicy: {reason}"))
}

fn parse_object(text: &str) -> ApiResult<Map<String, Value>> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(bad("must be a JSON object")),
    }
}

fn parse_retry(v: &Value, name: &str) -> ApiResult<HealthyRetryPolicy> {
    let obj = v
        .as_object()
        .ok_or_else(|| bad(format_args!("{name} must be an object")))?;
    let num = |key: &str, default: u64, max: u64| -> ApiResult<u64> {
        match obj.get(key) {
            None => Ok(default),
            Some(v) => match v.as_u64() {
                Some(n) if n <= max => Ok(n),
                _ => Err(bad(format_args!(
                    "{name}.{key} must be an integer between 0 and {max}"
                ))),
            },
        }
    };
    let num_retries = num("numRetries", 3, MAX_RETRIES)?;
    let min = num("minDelayTarget", 20, MAX_DELAY)?;
    let max = num("maxDelayTarget", min.max(20), MAX_DELAY)?;
    if min == 0 || max == 0 {
        return Err(bad(format_args!(
            "{name}: delay targets must be at least 1"
        )));
    }
    if min > max {
        return Err(bad(format_args!(
            "{name}.minDelayTarget must be less than or equal to maxDelayTarget"
        )));
    }
    for key in obj.keys() {
        const KNOWN: &[&str] = &[
            "numRetries",
            "minDelayTarget",
            "maxDelayTarget",
            "numNoDelayRetries",
            "numMinDelayRetries",
            "numMaxDelayRetries",
            "backoffFunction",
        ];
        if !KNOWN.contains(&key.as_str()) {
            return Err(bad(format_args!("{name}: unknown key {key}")));
        }
    }
    let backoff = match obj.get("backoffFunction").map(|v| v.as_str()) {
        None | Some(Some("linear")) => BackoffFunction::Linear,
        Some(Some("arithmetic")) => BackoffFunction::Arithmetic,
        Some(Some("geometric")) => BackoffFunction::Geometric,
        Some(Some("exponential")) => BackoffFunction::Exponential,
        _ => {
            return Err(bad(format_args!(
                "{name}.backoffFunction must be one of linear, arithmetic, geometric, exponential"
            )));
        }
    };
    Ok(HealthyRetryPolicy {
        num_retries: num_retries as u32,
        min_delay_target: min as u32,
        max_delay_target: max as u32,
        backoff,
    })
}

/// A subscription's DeliveryPolicy: its `healthyRetryPolicy`, if any.
pub fn parse_subscription_policy(text: &str) -> ApiResult<Option<HealthyRetryPolicy>> {
    let obj = parse_object(text)?;
    for key in obj.keys() {
        if ![
            "healthyRetryPolicy",
            "throttlePolicy",
            "requestPolicy",
            "sicklyRetryPolicy",
        ]
        .contains(&key.as_str())
        {
            return Err(bad(format_args!("unknown key {key}")));
        }
    }
    obj.get("healthyRetryPolicy")
        .map(|v| parse_retry(v, "healthyRetryPolicy"))
        .transpose()
}

/// A topic's DeliveryPolicy, as it affects http/https subscriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TopicDeliveryPolicy {
    pub default_retry: Option<HealthyRetryPolicy>,
    pub disable_subscription_overrides: bool,
}

pub fn parse_topic_policy(text: &str) -> ApiResult<TopicDeliveryPolicy> {
    let obj = parse_object(text)?;
    let mut out = TopicDeliveryPolicy::default();
    for (protocol, v) in &obj {
        let p = v
            .as_object()
            .ok_or_else(|| bad(format_args!("{protocol} must be an object")))?;
        if protocol != "http" {
            // Other protocols' sections (sqs, lambda…) are kept but unused here.
            continue;
        }
        if let Some(r) = p.get("defaultHealthyRetryPolicy") {
            out.default_retry = Some(parse_retry(r, "defaultHealthyRetryPolicy")?);
        }
        match p.get("disableSubscriptionOverrides") {
            None => {}
            Some(Value::Bool(b)) => out.disable_subscription_overrides = *b,
            Some(_) => return Err(bad("disableSubscriptionOverrides must be a boolean")),
        }
    }
    Ok(out)
}

/// The retry policy a delivery to an http(s) subscription uses.
pub fn effective_retry(
    topic: &TopicDeliveryPolicy,
    subscription: Option<HealthyRetryPolicy>,
) -> HealthyRetryPolicy {
    let topic_default = topic.default_retry.unwrap_or(HealthyRetryPolicy::DEFAULT);
    if topic.disable_subscription_overrides {
        return topic_default;
    }
    subscription.unwrap_or(topic_default)
}

/// A topic's `EffectiveDeliveryPolicy` attribute.
pub fn topic_effective_json(topic: &TopicDeliveryPolicy) -> String {
    json!({
        "http": {
            "defaultHealthyRetryPolicy": topic.default_retry.unwrap_or(HealthyRetryPolicy::DEFAULT).to_json(),
            "disableSubscriptionOverrides": topic.disable_subscription_overrides,
            "defaultRequestPolicy": {"headerContentType": "text/plain; charset=UTF-8"},
        }
    })
    .to_string()
}

/// A subscription's `EffectiveDeliveryPolicy` attribute.
pub fn subscription_effective_json(retry: HealthyRetryPolicy) -> String {
    json!({
        "healthyRetryPolicy": retry.to_json(),
        "sicklyRetryPolicy": null,
        "throttlePolicy": null,
        "requestPolicy": {"headerContentType": "text/plain; charset=UTF-8"},
        "guaranteed": false,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_policies() {
        let p = parse_subscription_policy(
            r#"{"healthyRetryPolicy":{"numRetries":5,"minDelayTarget":1,"maxDelayTarget":60,"backoffFunction":"exponential"}}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (
                p.num_retries,
                p.min_delay_target,
                p.max_delay_target,
                p.backoff
            ),
            (5, 1, 60, BackoffFunction::Exponential)
        );
        assert_eq!(parse_subscription_policy("{}").unwrap(), None);
        for bad in [
            "[]",
            "x",
            r#"{"healthyRetryPolicy":{"numRetries":101}}"#,
            r#"{"healthyRetryPolicy":{"minDelayTarget":30,"maxDelayTarget":10}}"#,
            r#"{"healthyRetryPolicy":{"backoffFunction":"cubic"}}"#,
            r#"{"healthyRetryPolicy":{"numRetries":-1}}"#,
            r#"{"nope":{}}"#,
        ] {
            let e = parse_subscription_policy(bad).unwrap_err();
            assert!(
                e.message.starts_with("Invalid parameter: DeliveryPolicy: "),
                "{bad}: {}",
                e.message
            );
        }
    }

    #[test]
    fn topic_policy_overrides() {
        let t = parse_topic_policy(
            r#"{"http":{"defaultHealthyRetryPolicy":{"numRetries":7,"minDelayTarget":5,"maxDelayTarget":5},"disableSubscriptionOverrides":true}}"#,
        )
        .unwrap();
        let sub = Some(HealthyRetryPolicy {
            num_retries: 1,
            ..HealthyRetryPolicy::DEFAULT
        });
        assert_eq!(effective_retry(&t, sub).num_retries, 7);
        let t2 = TopicDeliveryPolicy::default();
        assert_eq!(effective_retry(&t2, sub).num_retries, 1);
        assert_eq!(effective_retry(&t2, None), HealthyRetryPolicy::DEFAULT);
        let v: Value = serde_json::from_str(&topic_effective_json(&t2)).unwrap();
        assert_eq!(v["http"]["defaultHealthyRetryPolicy"]["numRetries"], 3);
    }
}
