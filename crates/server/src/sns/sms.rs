//! SMS: Publish to a phone number, deliveries to `sms` subscribers, the
//! account's SMS attributes (`sns_sms_attributes`, keyed by region), the
//! opt-out list (`sns_sms_opted_out`, keyed by number) and the SMS sandbox
//! (`sns_sms_sandbox`, keyed by number, with its one-time password).
//!
//! Every SMS goes through the notifier's outbox as a `Target::Sms`, so the
//! gateway (or the mailbox) gets it after restarts and failures. A message
//! to an opted-out number is queued *blocked*: the outbox records it as
//! failed with the reason instead of it vanishing (AWS drops it silently).

use super::store::{self, SubscriptionRecord, TopicRecord, internal};
use crate::auth::{self, Caller};
use crate::meta::{MetaStore, Table};
use crate::notify::{NewDelivery, RetryPolicy, SmsMessage, Target};
use crate::state::AppState;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use stratus_model::sns::invalid;
use stratus_model::sns::publish::{PublishInput, ValidMessage};
use stratus_model::sns::sms::{
    self as model, GetSmsAttributesInput, NextTokenInput, OptedOutOutput, OriginationNumbersOutput,
    PagedInput, PhoneNumberInput, PhoneNumbersOutput, SandboxNumber, SandboxNumberInput,
    SandboxNumbersOutput, SandboxStatusOutput, SmsAttributes,
};
use stratus_model::{ApiError, ApiResult, ErrorCode, Timestamp};
use stratus_proto::{self as proto, Document};

pub const SMS_ATTRIBUTES: Table = Table::new("sns_sms_attributes");
pub const OPTED_OUT: Table = Table::new("sns_sms_opted_out");
pub const SANDBOX: Table = Table::new("sns_sms_sandbox");

/// ListPhoneNumbersOptedOut's page (AWS: up to 100).
const OPTED_OUT_PAGE: usize = 100;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OptedOutRecord {
    pub opted_out_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SandboxRecord {
    pub otp: String,
    pub verified: bool,
    pub created_ms: i64,
}

fn why_blocked(number: &str) -> String {
    format!("not delivered: {number} has opted out of SMS from this account")
}

pub fn is_opted_out(meta: &MetaStore, number: &str) -> ApiResult<bool> {
    Ok(meta
        .get::<OptedOutRecord>(OPTED_OUT, &model::normalize(number))
        .map_err(internal)?
        .is_some())
}

/// Opts `number` out (what a STOP reply does on AWS): the admin action
/// `OptOutPhoneNumber` (`stratus mail sms-opt-out`).
pub fn opt_out(meta: &MetaStore, number: &str) -> ApiResult<String> {
    let number = model::validate_listed_number(Some(number), "PhoneNumber")?;
    meta.put(
        OPTED_OUT,
        &number,
        &OptedOutRecord {
            opted_out_ms: Timestamp::now().millis(),
        },
    )
    .map_err(internal)?;
    Ok(number)
}

fn sms_attributes(meta: &MetaStore, region: &str) -> ApiResult<BTreeMap<String, String>> {
    Ok(meta
        .get::<BTreeMap<String, String>>(SMS_ATTRIBUTES, region)
        .map_err(internal)?
        .unwrap_or_default())
}

/// Whether the account is in the SMS sandbox and `number` is not verified there.
fn unverified_in_sandbox(state: &AppState, number: &str) -> ApiResult<bool> {
    if !state.sns.sms_sandbox.load(Ordering::Relaxed) {
        return Ok(false);
    }
    let verified = state
        .meta
        .get::<SandboxRecord>(SANDBOX, number)
        .map_err(internal)?
        .is_some_and(|r| r.verified);
    Ok(!verified)
}

/// Who may receive an SMS: everyone but opted-out numbers and, in the
/// sandbox, unverified ones (the one-time password itself excepted).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Recipient {
    Anyone,
    Verifying,
}

/// The outbox delivery of one SMS (blocked when it must not be sent).
#[allow(clippy::too_many_arguments)]
fn delivery(
    state: &AppState,
    message_id: &str,
    subscription_arn: Option<String>,
    topic_arn: &str,
    number: &str,
    text: &str,
    settings: model::SmsSettings,
    recipient: Recipient,
) -> ApiResult<NewDelivery> {
    let phone_number = model::normalize(number);
    let blocked = if is_opted_out(&state.meta, &phone_number)? {
        Some(why_blocked(&phone_number))
    } else if recipient == Recipient::Anyone && unverified_in_sandbox(state, &phone_number)? {
        Some(format!(
            "not delivered: {phone_number} is not verified in the SMS sandbox"
        ))
    } else {
        None
    };
    Ok(NewDelivery {
        message_id: message_id.to_string(),
        subscription_arn,
        topic_arn: topic_arn.to_string(),
        target: Target::Sms(SmsMessage {
            phone_number,
            message: text.to_string(),
            sender_id: settings.sender_id,
            sms_type: settings.sms_type,
            max_price: settings.max_price,
            blocked,
        }),
        policy: RetryPolicy::SMS_DEFAULT,
    })
}

fn enqueue(state: &AppState, d: NewDelivery) -> ApiResult<()> {
    state.notifier.enqueue(d).map_err(|e| {
        ApiError::new(
            ErrorCode::InternalError,
            format!("The notification could not be queued: {e}"),
        )
    })
}

/// The delivery of a topic message to an `sms` subscriber: its `sms` text;
/// `AWS.SNS.SMS.*` attributes that do not check out fall back to the
/// account's defaults (the message was published to the topic, not to SMS).
pub fn subscriber_delivery(
    state: &AppState,
    topic: &TopicRecord,
    sub: &SubscriptionRecord,
    message_id: &str,
    msg: &ValidMessage,
) -> ApiResult<NewDelivery> {
    let region = topic.arn.split(':').nth(3).unwrap_or_default();
    let defaults = sms_attributes(&state.meta, region)?;
    let settings = model::sms_settings(&msg.attributes, &defaults)
        .or_else(|_| model::sms_settings(&BTreeMap::new(), &defaults))?;
    delivery(
        state,
        message_id,
        Some(sub.arn.clone()),
        &topic.arn,
        &sub.endpoint,
        msg.body.for_protocol("sms"),
        settings,
        Recipient::Anyone,
    )
}

/// Publish with `PhoneNumber`. Answers like a topic Publish.
pub fn publish(state: &AppState, caller: &Caller, input: PublishInput) -> ApiResult<String> {
    let req = input.validate_sms()?;
    auth::authorize(caller, "sns:Publish", "*")?;
    let defaults = sms_attributes(&state.meta, &caller.region)?;
    let settings = model::sms_settings(&req.message.attributes, &defaults)?;
    if unverified_in_sandbox(state, &req.phone_number)? {
        return Err(ApiError::new(
            ErrorCode::AuthorizationError,
            format!(
                "Phone number {} is not verified in the SMS sandbox: verify it with \
                 CreateSMSSandboxPhoneNumber and VerifySMSSandboxPhoneNumber, or take the \
                 account out of the sandbox",
                req.phone_number
            ),
        ));
    }
    let message_id = uuid::Uuid::new_v4().to_string();
    let d = delivery(
        state,
        &message_id,
        None,
        "",
        &req.phone_number,
        req.message.body.for_protocol("sms"),
        settings,
        Recipient::Anyone,
    )?;
    enqueue(state, d)?;
    Ok(message_id)
}

pub fn check_if_opted_out(
    state: &AppState,
    caller: &Caller,
    params: Document,
) -> ApiResult<Document> {
    let input: PhoneNumberInput = proto::from_document(params)?;
    auth::authorize(caller, "sns:CheckIfPhoneNumberIsOptedOut", "*")?;
    let number = model::validate_listed_number(input.phone_number.as_deref(), "phoneNumber")?;
    Ok(proto::to_document(&OptedOutOutput {
        is_opted_out: is_opted_out(&state.meta, &number)?,
    }))
}

pub fn list_opted_out(state: &AppState, caller: &Caller, params: Document) -> ApiResult<Document> {
    let input: NextTokenInput = proto::from_document(params)?;
    auth::authorize(caller, "sns:ListPhoneNumbersOptedOut", "*")?;
    let all: Vec<(String, String)> = state
        .meta
        .list::<OptedOutRecord>(OPTED_OUT)
        .map_err(internal)?
        .into_iter()
        .map(|(k, _)| (k.clone(), k))
        .collect();
    let (phone_numbers, next_token) =
        store::page(all, input.next_token.as_deref(), OPTED_OUT_PAGE)?;
    Ok(proto::to_document(&PhoneNumbersOutput {
        phone_numbers,
        next_token,
    }))
}

pub fn opt_in(state: &AppState, caller: &Caller, params: Document) -> ApiResult<Document> {
    let input: PhoneNumberInput = proto::from_document(params)?;
    auth::authorize(caller, "sns:OptInPhoneNumber", "*")?;
    let number = model::validate_listed_number(input.phone_number.as_deref(), "PhoneNumber")?;
    // A number that never opted out succeeds too (AWS, recorded).
    state.meta.delete(OPTED_OUT, &number).map_err(internal)?;
    Ok(Document::Struct(Vec::new()))
}

pub fn get_sms_attributes(
    state: &AppState,
    caller: &Caller,
    params: Document,
) -> ApiResult<Document> {
    let input: GetSmsAttributesInput = proto::from_document(params)?;
    auth::authorize(caller, "sns:GetSMSAttributes", "*")?;
    let mut attributes = sms_attributes(&state.meta, &caller.region)?;
    attributes
        .entry("MonthlySpendLimit".into())
        .or_insert_with(|| model::DEFAULT_MONTHLY_SPEND_LIMIT.into());
    if !input.attributes.is_empty() {
        attributes.retain(|k, _| input.attributes.contains(k));
    }
    Ok(proto::to_document(&SmsAttributes { attributes }))
}

pub fn set_sms_attributes(
    state: &AppState,
    caller: &Caller,
    params: Document,
) -> ApiResult<Document> {
    let input: SmsAttributes = proto::from_document(params)?;
    auth::authorize(caller, "sns:SetSMSAttributes", "*")?;
    for (k, v) in &input.attributes {
        model::validate_sms_attribute(k, v)?;
    }
    state
        .meta
        .transact(|tx| {
            let mut current = tx
                .get::<BTreeMap<String, String>>(SMS_ATTRIBUTES, &caller.region)?
                .unwrap_or_default();
            current.extend(input.attributes.clone());
            tx.put(SMS_ATTRIBUTES, &caller.region, &current)
        })
        .map_err(internal)?;
    Ok(Document::Struct(Vec::new()))
}

pub fn sandbox_status(state: &AppState, caller: &Caller) -> ApiResult<Document> {
    auth::authorize(caller, "sns:GetSMSSandboxAccountStatus", "*")?;
    Ok(proto::to_document(&SandboxStatusOutput {
        is_in_sandbox: state.sns.sms_sandbox.load(Ordering::Relaxed),
    }))
}

fn sandbox_number(input: &SandboxNumberInput) -> ApiResult<String> {
    model::validate_listed_number(input.phone_number.as_deref(), "PhoneNumber")
}

fn new_otp() -> ApiResult<String> {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b)
        .map_err(|e| ApiError::new(ErrorCode::InternalError, format!("random: {e}")))?;
    Ok(format!("{:06}", u32::from_le_bytes(b) % 1_000_000))
}

/// Stores the number as pending and sends it a one-time password by SMS.
pub fn create_sandbox_number(
    state: &AppState,
    caller: &Caller,
    params: Document,
) -> ApiResult<Document> {
    let input: SandboxNumberInput = proto::from_document(params)?;
    auth::authorize(caller, "sns:CreateSMSSandboxPhoneNumber", "*")?;
    let number = sandbox_number(&input)?;
    if is_opted_out(&state.meta, &number)? {
        return Err(ApiError::new(
            ErrorCode::OptedOut,
            format!("Phone number {number} has opted out of receiving SMS messages"),
        ));
    }
    let otp = new_otp()?;
    state
        .meta
        .put(
            SANDBOX,
            &number,
            &SandboxRecord {
                otp: otp.clone(),
                verified: false,
                created_ms: Timestamp::now().millis(),
            },
        )
        .map_err(internal)?;
    let defaults = sms_attributes(&state.meta, &caller.region)?;
    let mut settings = model::sms_settings(&BTreeMap::new(), &defaults)?;
    settings.sms_type = model::TRANSACTIONAL.into();
    let message_id = uuid::Uuid::new_v4().to_string();
    let d = delivery(
        state,
        &message_id,
        None,
        "",
        &number,
        &format!("Your Amazon SNS verification code is: {otp}"),
        settings,
        Recipient::Verifying,
    )?;
    enqueue(state, d)?;
    Ok(Document::Struct(Vec::new()))
}

pub fn verify_sandbox_number(
    state: &AppState,
    caller: &Caller,
    params: Document,
) -> ApiResult<Document> {
    let input: SandboxNumberInput = proto::from_document(params)?;
    auth::authorize(caller, "sns:VerifySMSSandboxPhoneNumber", "*")?;
    let number = sandbox_number(&input)?;
    let otp = input
        .one_time_password
        .filter(|p| !p.is_empty())
        .ok_or_else(|| stratus_model::sns::required("OneTimePassword"))?;
    state
        .meta
        .transact(|tx| {
            let Some(mut rec) = tx.get::<SandboxRecord>(SANDBOX, &number)? else {
                return Ok(Err(ApiError::new(
                    ErrorCode::ResourceNotFound,
                    format!("Phone number {number} is not in the SMS sandbox"),
                )));
            };
            if rec.verified {
                return Ok(Ok(()));
            }
            if rec.otp != otp {
                return Ok(Err(ApiError::new(
                    ErrorCode::VerificationException,
                    "Invalid one-time password",
                )));
            }
            rec.verified = true;
            tx.put(SANDBOX, &number, &rec)?;
            Ok(Ok(()))
        })
        .map_err(internal)??;
    Ok(Document::Struct(Vec::new()))
}

pub fn list_sandbox_numbers(
    state: &AppState,
    caller: &Caller,
    params: Document,
) -> ApiResult<Document> {
    let input: PagedInput = proto::from_document(params)?;
    auth::authorize(caller, "sns:ListSMSSandboxPhoneNumbers", "*")?;
    let size = match input.max_results.as_deref() {
        None | Some("") => 100,
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| invalid("MaxResults Reason: must be between 1 and 100"))?,
    };
    let all: Vec<(String, SandboxNumber)> = state
        .meta
        .list::<SandboxRecord>(SANDBOX)
        .map_err(internal)?
        .into_iter()
        .map(|(k, r)| {
            let status = if r.verified { "Verified" } else { "Pending" };
            (
                k.clone(),
                SandboxNumber {
                    phone_number: k,
                    status: status.into(),
                },
            )
        })
        .collect();
    let (phone_numbers, next_token) = store::page(all, input.next_token.as_deref(), size)?;
    Ok(proto::to_document(&SandboxNumbersOutput {
        phone_numbers,
        next_token,
    }))
}

pub fn delete_sandbox_number(
    state: &AppState,
    caller: &Caller,
    params: Document,
) -> ApiResult<Document> {
    let input: SandboxNumberInput = proto::from_document(params)?;
    auth::authorize(caller, "sns:DeleteSMSSandboxPhoneNumber", "*")?;
    let number = sandbox_number(&input)?;
    if !state.meta.delete(SANDBOX, &number).map_err(internal)? {
        return Err(ApiError::new(
            ErrorCode::ResourceNotFound,
            format!("Phone number {number} is not in the SMS sandbox"),
        ));
    }
    Ok(Document::Struct(Vec::new()))
}

pub fn list_origination_numbers(caller: &Caller, params: Document) -> ApiResult<Document> {
    let _: PagedInput = proto::from_document(params)?;
    auth::authorize(caller, "sns:ListOriginationNumbers", "*")?;
    Ok(proto::to_document(&OriginationNumbersOutput::default()))
}
