//! SNS records in the metadata store: topics (`sns_topics`, keyed by topic
//! ARN), subscriptions (`sns_subscriptions`, keyed by subscription ARN, so a
//! topic's subscriptions are contiguous) and recently removed http(s)
//! subscriptions that an UnsubscribeConfirmation's token may restore
//! (`sns_unsubscribed`).

use crate::meta::{self, MetaStore, Table, Txn};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use stratus_model::{ApiError, ApiResult, ErrorCode};

pub const TOPICS: Table = Table::new("sns_topics");
pub const SUBSCRIPTIONS: Table = Table::new("sns_subscriptions");
pub const UNSUBSCRIBED: Table = Table::new("sns_unsubscribed");

/// A confirmation token is valid for two days (AWS's figure).
pub const TOKEN_TTL_MS: i64 = 2 * 24 * 3600 * 1000;
/// A subscription still pending this long after its token expired (three
/// days after the last confirmation request, as AWS roughly does) is removed.
pub const ABANDONED_AFTER_EXPIRY_MS: i64 = 24 * 3600 * 1000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicRecord {
    pub arn: String,
    pub name: String,
    /// Attributes set by CreateTopic / SetTopicAttributes (DisplayName, Policy…).
    pub attributes: BTreeMap<String, String>,
    /// How many subscriptions were removed (GetTopicAttributes' SubscriptionsDeleted).
    #[serde(default)]
    pub subscriptions_deleted: u64,
    pub created_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionRecord {
    pub arn: String,
    pub topic_arn: String,
    pub protocol: String,
    pub endpoint: String,
    pub owner: String,
    /// Who subscribed (`arn:aws:iam::<account>:user/<key name>`).
    pub principal: String,
    pub pending: bool,
    /// The current confirmation token and when it expires (ms since epoch).
    pub token: Option<String>,
    #[serde(default)]
    pub token_expires_ms: i64,
    #[serde(default)]
    pub confirmation_was_authenticated: bool,
    pub attributes: BTreeMap<String, String>,
    pub created_ms: i64,
}

impl SubscriptionRecord {
    /// Whether `token` is this subscription's unexpired token. Compares
    /// digests so the time taken says nothing about the stored token.
    pub fn token_matches(&self, token: &str, now_ms: i64) -> bool {
        use sha2::Digest as _;
        match &self.token {
            Some(t) if now_ms < self.token_expires_ms => {
                sha2::Sha256::digest(t.as_bytes()) == sha2::Sha256::digest(token.as_bytes())
            }
            _ => false,
        }
    }
    /// A pending subscription nobody confirmed in time (also: an
    /// unsubscribed record whose restore token is long gone).
    pub fn is_abandoned(&self, now_ms: i64) -> bool {
        now_ms
            > self
                .token_expires_ms
                .saturating_add(ABANDONED_AFTER_EXPIRY_MS)
    }
    pub fn raw_delivery(&self) -> bool {
        self.attributes
            .get("RawMessageDelivery")
            .is_some_and(|v| v == "true")
    }
}

/// A fresh confirmation token: 64 random bytes as hex.
pub fn new_token() -> ApiResult<String> {
    let mut bytes = [0u8; 64];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::new(ErrorCode::InternalError, format!("random: {e}")))?;
    Ok(hex::encode(bytes))
}

/// Storage failures are the service's fault.
pub fn internal(e: meta::MetaError) -> ApiError {
    match e {
        // A full disk: nothing changed, and the store recovers by itself.
        e @ meta::MetaError::Unavailable(_) => ApiError::unavailable(e.to_string()),
        e => ApiError::new(ErrorCode::InternalError, e.to_string()),
    }
}

pub fn get_topic(meta: &MetaStore, arn: &str) -> ApiResult<Option<TopicRecord>> {
    meta.get(TOPICS, arn).map_err(internal)
}

pub fn get_subscription(meta: &MetaStore, arn: &str) -> ApiResult<Option<SubscriptionRecord>> {
    meta.get(SUBSCRIPTIONS, arn).map_err(internal)
}

/// The subscriptions of `topic_arn` (their keys start with `<topic-arn>:`).
pub fn topic_subscriptions_in(
    tx: &Txn<'_>,
    topic_arn: &str,
) -> meta::Result<Vec<SubscriptionRecord>> {
    let prefix = format!("{topic_arn}:");
    Ok(tx
        .list::<SubscriptionRecord>(SUBSCRIPTIONS)?
        .into_iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .map(|(_, s)| s)
        .collect())
}

pub fn topic_subscriptions(
    meta: &MetaStore,
    topic_arn: &str,
) -> ApiResult<Vec<SubscriptionRecord>> {
    let prefix = format!("{topic_arn}:");
    Ok(meta
        .list::<SubscriptionRecord>(SUBSCRIPTIONS)
        .map_err(internal)?
        .into_iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .map(|(_, s)| s)
        .collect())
}

/// A page of `items` (in key order) after `next_token`, and the token of the
/// next page. Tokens are the last key returned, base64url-encoded.
pub fn page<T>(
    items: Vec<(String, T)>,
    next_token: Option<&str>,
    size: usize,
) -> ApiResult<(Vec<T>, Option<String>)> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let after = match next_token.filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => Some(
            b64.decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| stratus_model::sns::invalid("NextToken"))?,
        ),
    };
    let (rest, last) = crate::meta::page_after(items, after.as_deref(), size);
    let next = last.map(|k| b64.encode(k));
    Ok((rest.into_iter().map(|(_, v)| v).collect(), next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_walks_every_item_once() {
        let items: Vec<(String, u32)> = (0..250).map(|i| (format!("k{i:03}"), i)).collect();
        let mut seen = Vec::new();
        let mut token = None;
        loop {
            let (page, next) = page(items.clone(), token.as_deref(), 100).unwrap();
            assert!(page.len() <= 100);
            seen.extend(page);
            match next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        assert_eq!(seen, (0..250).collect::<Vec<_>>());
        assert!(page(items, Some("%%%"), 100).is_err());
    }

    #[test]
    fn tokens_expire_and_compare_exactly() {
        let mut s = SubscriptionRecord {
            arn: "a".into(),
            topic_arn: "t".into(),
            protocol: "email".into(),
            endpoint: "e@x.y".into(),
            owner: "o".into(),
            principal: "p".into(),
            pending: true,
            token: Some(new_token().unwrap()),
            token_expires_ms: 1000,
            confirmation_was_authenticated: false,
            attributes: BTreeMap::new(),
            created_ms: 0,
        };
        let t = s.token.clone().unwrap();
        assert_eq!(t.len(), 128);
        assert!(s.token_matches(&t, 999));
        assert!(!s.token_matches(&t, 1000));
        assert!(!s.token_matches("x", 999));
        assert!(!s.is_abandoned(1000 + ABANDONED_AFTER_EXPIRY_MS));
        assert!(s.is_abandoned(1001 + ABANDONED_AFTER_EXPIRY_MS));
        s.token = None;
        assert!(!s.token_matches(&t, 0));
    }
}
