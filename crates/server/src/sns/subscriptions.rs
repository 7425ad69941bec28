//! Subscription actions: Subscribe (pending until confirmed; re-subscribing
//! returns the existing subscription and resends its confirmation),
//! ConfirmSubscription, Unsubscribe (with an UnsubscribeConfirmation to
//! http(s) endpoints whose token restores the subscription), the two list
//! operations and Get/SetSubscriptionAttributes.

use super::delivery::{self, Links};
use super::store::{
    self, SUBSCRIPTIONS, SubscriptionRecord, TOKEN_TTL_MS, TOPICS, TopicRecord, UNSUBSCRIBED,
    internal,
};
use crate::auth::{self, Caller};
use crate::state::AppState;
use std::collections::BTreeMap;
use stratus_model::sns::attributes::validate_subscription_attribute;
use stratus_model::sns::delivery_policy::subscription_effective_json;
use stratus_model::sns::document::ConfirmationKind;
use stratus_model::sns::ops::{
    AttributesOutput, ConfirmRequest, ConfirmSubscriptionInput, ListInput, ListSubscriptionsOutput,
    SetSubscriptionAttributesInput, SubscribeInput, SubscriptionArnInput, SubscriptionArnOutput,
    SubscriptionMember, TopicArnInput,
};
use stratus_model::sns::{PAGE_SIZE, arn::parse_subscription_arn, invalid, required};
use stratus_model::sns::{subscription_not_found, topic_not_found};
use stratus_model::{ApiError, ApiResult, ErrorCode, Timestamp};
use stratus_proto::{self as proto, Document};

/// What Subscribe answers for a subscription awaiting confirmation.
pub const PENDING_CONFIRMATION: &str = "pending confirmation";

fn enqueue(state: &AppState, d: crate::notify::NewDelivery) -> ApiResult<()> {
    state.notifier.enqueue(d).map_err(|e| {
        ApiError::new(
            ErrorCode::InternalError,
            format!("The notification could not be queued: {e}"),
        )
    })
}

pub fn links(state: &AppState) -> ApiResult<Links<'_>> {
    Ok(Links {
        public_url: &state.public_url,
        signer: state.sns.signer(&state.data_dir)?,
    })
}

/// Refuses an http(s) endpoint the egress policy forbids (loopback,
/// metadata, this server...) before anything is stored or sent; delivery
/// checks again after its own DNS lookup.
pub fn check_webhook_endpoint(state: &AppState, protocol: &str, endpoint: &str) -> ApiResult<()> {
    if !matches!(protocol, "http" | "https") {
        return Ok(());
    }
    state
        .egress
        .check_endpoint(endpoint)
        .map_err(|r| invalid(format!("Endpoint Reason: {r}")))
}

pub fn subscribe(state: &AppState, caller: &Caller, params: Document) -> ApiResult<Document> {
    let req = proto::from_document::<SubscribeInput>(params)?.validate()?;
    super::same_region(caller, &req.topic)?;
    let topic_arn = req.topic.to_arn();
    super::access::authorize_topic(state, caller, "Subscribe", &topic_arn)?;
    check_webhook_endpoint(state, &req.protocol, &req.endpoint)?;
    let links = links(state)?;
    let now = Timestamp::now().millis();
    let principal = super::access::principal_arn(caller);
    let outcome = state
        .meta
        .transact(|tx| {
            let Some(topic) = tx.get::<TopicRecord>(TOPICS, &topic_arn)? else {
                return Ok(Err(topic_not_found()));
            };
            if stratus_model::sns::fifo::is_fifo(&topic.attributes)
                && !matches!(req.protocol.as_str(), "http" | "https")
            {
                // AWS allows only SQS on FIFO topics; Stratus has no SQS and
                // delivers FIFO topics in order to http(s) endpoints only.
                return Ok(Err(stratus_model::sns::invalid(format_args!(
                    "Invalid parameter: Endpoint Reason: {} endpoints can not be subscribed to FIFO SNS topics",
                    req.protocol
                ))));
            }
            let mut existing = None;
            for s in store::topic_subscriptions_in(tx, &topic_arn)? {
                if s.pending && s.is_abandoned(now) {
                    // Never confirmed: gone, as on AWS; a new request starts afresh.
                    tx.delete(SUBSCRIPTIONS, &s.arn)?;
                } else if s.protocol == req.protocol && s.endpoint == req.endpoint {
                    existing = Some(s);
                }
            }
            if let Some(mut sub) = existing {
                if sub.attributes != req.attributes && !req.attributes.is_empty() {
                    return Ok(Err(invalid(
                        "Attributes Reason: Subscription already exists with different attributes",
                    )));
                }
                if sub.pending && !sub.token_matches(sub.token.as_deref().unwrap_or(""), now) {
                    // The old token expired: a resent confirmation needs a new one.
                    match store::new_token() {
                        Ok(t) => sub.token = Some(t),
                        Err(e) => return Ok(Err(e)),
                    }
                    sub.token_expires_ms = now + TOKEN_TTL_MS;
                    tx.put(SUBSCRIPTIONS, &sub.arn, &sub)?;
                }
                return Ok(Ok((topic, sub)));
            }
            let token = match store::new_token() {
                Ok(t) => t,
                Err(e) => return Ok(Err(e)),
            };
            // AWS confirms sms subscriptions at once (as authenticated).
            let sms = req.protocol == "sms";
            let sub = SubscriptionRecord {
                arn: format!("{topic_arn}:{}", uuid::Uuid::new_v4()),
                topic_arn: topic_arn.clone(),
                protocol: req.protocol.clone(),
                endpoint: req.endpoint.clone(),
                owner: crate::ACCOUNT_ID.into(),
                principal: principal.clone(),
                pending: !sms,
                token: Some(token),
                token_expires_ms: now + TOKEN_TTL_MS,
                confirmation_was_authenticated: sms,
                attributes: req.attributes.clone(),
                created_ms: now,
            };
            tx.put(SUBSCRIPTIONS, &sub.arn, &sub)?;
            Ok(Ok((topic, sub)))
        })
        .map_err(internal)??;
    let (topic, sub) = outcome;
    if sub.pending {
        let token = sub.token.clone().unwrap_or_default();
        enqueue(
            state,
            delivery::confirmation(&links, &topic, &sub, ConfirmationKind::Subscription, &token),
        )?;
    }
    let subscription_arn = if sub.pending && !req.return_subscription_arn {
        PENDING_CONFIRMATION.to_string()
    } else {
        sub.arn
    };
    Ok(proto::to_document(&SubscriptionArnOutput {
        subscription_arn,
    }))
}

/// Confirms the subscription `req.token` belongs to. `signed` says whether
/// the request was authenticated (only then may it set
/// AuthenticateOnUnsubscribe). Returns the subscription ARN.
pub fn confirm(state: &AppState, req: &ConfirmRequest, signed: bool) -> ApiResult<String> {
    if req.authenticate_on_unsubscribe && !signed {
        return Err(ApiError::new(
            ErrorCode::AuthorizationError,
            "AuthenticateOnUnsubscribe requires a signed request",
        ));
    }
    let topic_arn = req.topic.to_arn();
    let now = Timestamp::now().millis();
    state
        .meta
        .transact(|tx| {
            // AWS answers a token for a topic that does not exist as a bad token.
            if tx.get::<TopicRecord>(TOPICS, &topic_arn)?.is_none() {
                return Ok(Err(invalid("Token")));
            }
            let found = store::topic_subscriptions_in(tx, &topic_arn)?
                .into_iter()
                .find(|s| s.token_matches(&req.token, now));
            if let Some(mut sub) = found {
                if sub.pending {
                    sub.pending = false;
                    sub.confirmation_was_authenticated = req.authenticate_on_unsubscribe;
                    tx.put(SUBSCRIPTIONS, &sub.arn, &sub)?;
                }
                return Ok(Ok(sub.arn));
            }
            // An UnsubscribeConfirmation's token restores the subscription.
            let restorable = tx
                .list::<SubscriptionRecord>(UNSUBSCRIBED)?
                .into_iter()
                .map(|(_, s)| s)
                .find(|s| s.topic_arn == topic_arn && s.token_matches(&req.token, now));
            if let Some(mut sub) = restorable {
                tx.delete(UNSUBSCRIBED, &sub.arn)?;
                sub.pending = false;
                sub.confirmation_was_authenticated = req.authenticate_on_unsubscribe;
                tx.put(SUBSCRIPTIONS, &sub.arn, &sub)?;
                return Ok(Ok(sub.arn));
            }
            Ok(Err(invalid("Token")))
        })
        .map_err(internal)?
}

pub fn confirm_subscription(
    state: &AppState,
    caller: &Caller,
    params: Document,
) -> ApiResult<Document> {
    let req = proto::from_document::<ConfirmSubscriptionInput>(params)?.validate()?;
    auth::authorize(caller, "sns:ConfirmSubscription", &req.topic.to_arn())?;
    let subscription_arn = confirm(state, &req, true)?;
    Ok(proto::to_document(&SubscriptionArnOutput {
        subscription_arn,
    }))
}

/// Removes a subscription. An unknown but well-formed ARN succeeds (AWS).
/// Unsigned requests (the UnsubscribeURL, the unsubscribe page) may not
/// remove a subscription confirmed with AuthenticateOnUnsubscribe.
pub fn unsubscribe_arn(
    state: &AppState,
    arn: Option<&str>,
    signed: bool,
) -> ApiResult<Option<SubscriptionRecord>> {
    let parsed = parse_subscription_arn(arn)?;
    let arn = format!("{}:{}", parsed.topic.to_arn(), parsed.id);
    let links = links(state)?;
    let now = Timestamp::now().millis();
    let removed = state
        .meta
        .transact(|tx| {
            let Some(mut sub) = tx.get::<SubscriptionRecord>(SUBSCRIPTIONS, &arn)? else {
                return Ok(Ok(None));
            };
            if sub.confirmation_was_authenticated && !signed {
                return Ok(Err(ApiError::new(
                    ErrorCode::AuthorizationError,
                    "This subscription requires an authenticated Unsubscribe request",
                )));
            }
            tx.delete(SUBSCRIPTIONS, &arn)?;
            for (key, old) in tx.list::<SubscriptionRecord>(UNSUBSCRIBED)? {
                if old.is_abandoned(now) {
                    tx.delete(UNSUBSCRIBED, &key)?;
                }
            }
            let topic = tx.get::<TopicRecord>(TOPICS, &sub.topic_arn)?;
            if let Some(mut t) = topic.clone() {
                t.subscriptions_deleted += 1;
                tx.put(TOPICS, &t.arn, &t)?;
            }
            let notice = matches!(sub.protocol.as_str(), "http" | "https") && !sub.pending;
            match (notice, topic) {
                (true, Some(t)) => {
                    let token = match store::new_token() {
                        Ok(tok) => tok,
                        Err(e) => return Ok(Err(e)),
                    };
                    sub.token = Some(token);
                    sub.token_expires_ms = now + store::TOKEN_TTL_MS;
                    tx.put(UNSUBSCRIBED, &sub.arn, &sub)?;
                    Ok(Ok(Some((sub, Some(t)))))
                }
                _ => Ok(Ok(Some((sub, None)))),
            }
        })
        .map_err(internal)??;
    match removed {
        Some((sub, Some(topic))) => {
            let token = sub.token.clone().unwrap_or_default();
            enqueue(
                state,
                delivery::confirmation(&links, &topic, &sub, ConfirmationKind::Unsubscribe, &token),
            )?;
            Ok(Some(sub))
        }
        Some((sub, None)) => Ok(Some(sub)),
        None => Ok(None),
    }
}

pub fn unsubscribe(state: &AppState, caller: &Caller, params: Document) -> ApiResult<Document> {
    let input: SubscriptionArnInput = proto::from_document(params)?;
    let parsed = input.subscription()?;
    auth::authorize(caller, "sns:Unsubscribe", &parsed.topic.to_arn())?;
    unsubscribe_arn(state, input.subscription_arn.as_deref(), true)?;
    Ok(Document::Struct(Vec::new()))
}

fn member(s: SubscriptionRecord) -> SubscriptionMember {
    SubscriptionMember {
        subscription_arn: if s.pending {
            "PendingConfirmation".into()
        } else {
            s.arn
        },
        owner: s.owner,
        protocol: s.protocol,
        endpoint: s.endpoint,
        topic_arn: s.topic_arn,
    }
}

pub fn list_subscriptions(
    state: &AppState,
    caller: &Caller,
    params: Document,
) -> ApiResult<Document> {
    auth::authorize(caller, "sns:ListSubscriptions", "*")?;
    let input: ListInput = proto::from_document(params)?;
    let prefix = format!("arn:aws:sns:{}:{}:", caller.region, crate::ACCOUNT_ID);
    let subs: Vec<(String, SubscriptionRecord)> = state
        .meta
        .list(SUBSCRIPTIONS)
        .map_err(internal)?
        .into_iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .collect();
    let (page, next_token) = store::page(subs, input.next_token.as_deref(), PAGE_SIZE)?;
    Ok(proto::to_document(&ListSubscriptionsOutput {
        subscriptions: page.into_iter().map(member).collect(),
        next_token,
    }))
}

pub fn list_subscriptions_by_topic(
    state: &AppState,
    caller: &Caller,
    params: Document,
) -> ApiResult<Document> {
    let input: TopicArnInput = proto::from_document(params)?;
    let topic = input.topic()?;
    super::same_region(caller, &topic)?;
    let topic_arn = topic.to_arn();
    super::access::authorize_topic(state, caller, "ListSubscriptionsByTopic", &topic_arn)?;
    if store::get_topic(&state.meta, &topic_arn)?.is_none() {
        return Err(topic_not_found());
    }
    let subs = store::topic_subscriptions(&state.meta, &topic_arn)?
        .into_iter()
        .map(|s| (s.arn.clone(), s))
        .collect();
    let (page, next_token) = store::page(subs, input.next_token.as_deref(), PAGE_SIZE)?;
    Ok(proto::to_document(&ListSubscriptionsOutput {
        subscriptions: page.into_iter().map(member).collect(),
        next_token,
    }))
}

fn find_subscription(state: &AppState, arn: Option<&str>) -> ApiResult<SubscriptionRecord> {
    let parsed = parse_subscription_arn(arn)?;
    let arn = format!("{}:{}", parsed.topic.to_arn(), parsed.id);
    store::get_subscription(&state.meta, &arn)?.ok_or_else(subscription_not_found)
}

pub fn get_subscription_attributes(
    state: &AppState,
    caller: &Caller,
    params: Document,
) -> ApiResult<Document> {
    let input: SubscriptionArnInput = proto::from_document(params)?;
    let parsed = input.subscription()?;
    auth::authorize(
        caller,
        "sns:GetSubscriptionAttributes",
        &parsed.topic.to_arn(),
    )?;
    let sub = find_subscription(state, input.subscription_arn.as_deref())?;
    let topic = store::get_topic(&state.meta, &sub.topic_arn)?;
    let mut a: BTreeMap<String, String> = sub.attributes.clone();
    a.insert("SubscriptionArn".into(), sub.arn.clone());
    a.insert("TopicArn".into(), sub.topic_arn.clone());
    a.insert("Owner".into(), sub.owner.clone());
    a.insert("Protocol".into(), sub.protocol.clone());
    a.insert("Endpoint".into(), sub.endpoint.clone());
    a.insert("PendingConfirmation".into(), sub.pending.to_string());
    a.insert(
        "ConfirmationWasAuthenticated".into(),
        sub.confirmation_was_authenticated.to_string(),
    );
    a.insert("SubscriptionPrincipal".into(), sub.principal.clone());
    a.entry("RawMessageDelivery".into())
        .or_insert_with(|| "false".into());
    if a.get("FilterPolicy").is_some_and(|p| !p.is_empty()) {
        a.entry("FilterPolicyScope".into())
            .or_insert_with(|| "MessageAttributes".into());
    }
    if let (Some(t), true) = (&topic, matches!(sub.protocol.as_str(), "http" | "https")) {
        a.insert(
            "EffectiveDeliveryPolicy".into(),
            subscription_effective_json(delivery::http_retry(t, &sub)),
        );
    }
    Ok(proto::to_document(&AttributesOutput { attributes: a }))
}

pub fn set_subscription_attributes(
    state: &AppState,
    caller: &Caller,
    params: Document,
) -> ApiResult<Document> {
    let input: SetSubscriptionAttributesInput = proto::from_document(params)?;
    let parsed = parse_subscription_arn(input.subscription_arn.as_deref())?;
    let arn = format!("{}:{}", parsed.topic.to_arn(), parsed.id);
    auth::authorize(
        caller,
        "sns:SetSubscriptionAttributes",
        &parsed.topic.to_arn(),
    )?;
    let name = input
        .attribute_name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| required("AttributeName"))?;
    let value = input.attribute_value.unwrap_or_default();
    let r = state
        .meta
        .transact(|tx| {
            let Some(mut sub) = tx.get::<SubscriptionRecord>(SUBSCRIPTIONS, &arn)? else {
                return Ok(Err(subscription_not_found()));
            };
            let stored = match validate_subscription_attribute(
                &sub.protocol,
                &name,
                &value,
                &sub.attributes,
            ) {
                Ok(v) => v,
                Err(e) => return Ok(Err(e)),
            };
            if stored.is_empty() {
                sub.attributes.remove(&name);
            } else {
                sub.attributes.insert(name.clone(), stored);
            }
            tx.put(SUBSCRIPTIONS, &arn, &sub)?;
            Ok(Ok(()))
        })
        .map_err(internal)?;
    r?;
    Ok(Document::Struct(Vec::new()))
}
