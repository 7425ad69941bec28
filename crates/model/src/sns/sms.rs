//! SMS: phone number checks (E.164 as AWS reads it), the account's SMS
//! attributes, the per-message `AWS.SNS.SMS.*` attributes and the inputs and
//! outputs of the SMS, opt-out and sandbox actions. Texts are AWS's, as
//! recorded in `tests/aws-recorded/test_sns.snapshot.json` where known.

use super::invalid;
use super::publish::MessageAttributes;
use crate::error::{ApiError, ApiResult, ErrorCode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Whether `s` is an E.164 number: `+`, a country code not starting with 0,
/// up to 15 digits in all. AWS also takes the digits without the `+` and
/// single `-` or spaces between digit groups (`+1 555-010-0100`); it
/// refuses doubled separators, trailing dots and other characters.
pub fn is_e164(s: &str) -> bool {
    let rest = s.strip_prefix('+').unwrap_or(s);
    let mut digits = 0usize;
    let mut prev_sep = true; // no separator first
    for (i, c) in rest.chars().enumerate() {
        match c {
            '0'..='9' => {
                if i == 0 && c == '0' {
                    return false;
                }
                digits += 1;
                prev_sep = false;
            }
            '-' | ' ' if !prev_sep => prev_sep = true,
            _ => return false,
        }
    }
    !prev_sep && (2..=15).contains(&digits)
}

/// `+` and the digits of an E.164 number (separators removed): the key of
/// the opt-out and sandbox lists and what the gateway receives.
pub fn normalize(s: &str) -> String {
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    format!("+{digits}")
}

/// Subscribe's check of an `sms` endpoint.
pub fn validate_sms_endpoint(endpoint: &str) -> ApiResult<()> {
    if is_e164(endpoint) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::InvalidParameter,
            format!("Invalid SMS endpoint: {endpoint}"),
        ))
    }
}

/// Publish's check of `PhoneNumber`.
pub fn validate_publish_number(number: &str) -> ApiResult<String> {
    if is_e164(number) {
        Ok(normalize(number))
    } else {
        Err(invalid(format_args!(
            "PhoneNumber Reason: {number} is not valid to publish to"
        )))
    }
}

/// The opt-out and sandbox actions' check of `phoneNumber`.
pub fn validate_listed_number(number: Option<&str>, name: &str) -> ApiResult<String> {
    let number = number
        .filter(|n| !n.is_empty())
        .ok_or_else(|| super::required(name))?;
    if is_e164(number) {
        Ok(normalize(number))
    } else {
        Err(invalid(format_args!(
            "{name} Reason: input incorrectly formatted"
        )))
    }
}

/// Longest SMS body AWS accepts: 1600 characters (it splits longer texts
/// into up to 10 parts of 160 GSM characters).
pub const MAX_SMS_CHARS: usize = 1600;

pub const TRANSACTIONAL: &str = "Transactional";
pub const PROMOTIONAL: &str = "Promotional";

/// A sender ID: 1–11 letters and digits, at least one letter.
pub fn valid_sender_id(s: &str) -> bool {
    (1..=11).contains(&s.len())
        && s.chars().all(|c| c.is_ascii_alphanumeric())
        && s.chars().any(|c| c.is_ascii_alphabetic())
}

/// SetSMSAttributes' names.
pub const SMS_ATTRIBUTES: &[&str] = &[
    "DefaultSMSType",
    "DefaultSenderID",
    "DeliveryStatusIAMRole",
    "DeliveryStatusSuccessSamplingRate",
    "MonthlySpendLimit",
    "UsageReportS3Bucket",
];

/// AWS's account default, present even where nothing was set.
pub const DEFAULT_MONTHLY_SPEND_LIMIT: &str = "1";

/// Checks one SetSMSAttributes entry.
pub fn validate_sms_attribute(name: &str, value: &str) -> ApiResult<()> {
    let bad = |text: String| Err(ApiError::new(ErrorCode::InvalidParameter, text));
    match name {
        "DefaultSMSType" if value != TRANSACTIONAL && value != PROMOTIONAL => {
            bad(format!("{name} is invalid"))
        }
        "DefaultSenderID" if !value.is_empty() && !valid_sender_id(value) => {
            bad(format!("{name} is invalid"))
        }
        "DeliveryStatusSuccessSamplingRate"
            if !value.is_empty() && !value.parse::<u8>().is_ok_and(|n| n <= 100) =>
        {
            bad(format!("{name} is invalid"))
        }
        "MonthlySpendLimit" if value.parse::<u64>().is_err() => bad(format!("{name} is invalid")),
        n if !SMS_ATTRIBUTES.contains(&n) => bad(format!("{name} is not a valid attribute")),
        _ => Ok(()),
    }
}

/// The `AWS.`-prefixed message attributes AWS accepts: SMS settings.
pub const RESERVED_ATTRIBUTES: &[&str] = &[
    "AWS.SNS.SMS.SenderID",
    "AWS.SNS.SMS.SMSType",
    "AWS.SNS.SMS.MaxPrice",
    "AWS.MM.SMS.OriginationNumber",
    "AWS.MM.SMS.EntityId",
    "AWS.MM.SMS.TemplateId",
];

/// A message's SMS settings: `AWS.SNS.SMS.*` attributes over the account's
/// defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsSettings {
    pub sender_id: Option<String>,
    pub sms_type: String,
    pub max_price: Option<String>,
}

/// Reads and checks the `AWS.SNS.SMS.*` message attributes (as Publish
/// does; other attributes are the subscriber's business).
pub fn sms_settings(
    attrs: &MessageAttributes,
    defaults: &BTreeMap<String, String>,
) -> ApiResult<SmsSettings> {
    let get = |k: &str| attrs.get(k).map(|a| a.value.as_str());
    let sender_id = match get("AWS.SNS.SMS.SenderID") {
        Some(s) if !valid_sender_id(s) => {
            return Err(invalid(
                "MessageAttributes Reason: AWS.SNS.SMS.SenderID must be 1-11 alphanumeric characters with at least one letter",
            ));
        }
        Some(s) => Some(s.to_string()),
        None => defaults
            .get("DefaultSenderID")
            .filter(|s| !s.is_empty())
            .cloned(),
    };
    let sms_type = match get("AWS.SNS.SMS.SMSType") {
        Some(t) if t != TRANSACTIONAL && t != PROMOTIONAL => {
            return Err(invalid(
                "MessageAttributes Reason: AWS.SNS.SMS.SMSType must be Promotional or Transactional",
            ));
        }
        Some(t) => t.to_string(),
        None => defaults
            .get("DefaultSMSType")
            .cloned()
            .unwrap_or_else(|| PROMOTIONAL.to_string()),
    };
    let max_price = match get("AWS.SNS.SMS.MaxPrice") {
        Some(p) if !p.parse::<f64>().is_ok_and(|v| v.is_finite() && v >= 0.0) => {
            return Err(invalid(
                "MessageAttributes Reason: AWS.SNS.SMS.MaxPrice must be a non-negative number",
            ));
        }
        p => p.map(str::to_string),
    };
    Ok(SmsSettings {
        sender_id,
        sms_type,
        max_price,
    })
}

/// An SMS body longer than AWS sends.
pub fn check_sms_length(text: &str) -> ApiResult<()> {
    if text.chars().count() > MAX_SMS_CHARS {
        Err(invalid("Message Reason: Message too long for SMS"))
    } else {
        Ok(())
    }
}

// ---- inputs and outputs (the SMS actions' members are camelCase) ----------

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PhoneNumberInput {
    pub phone_number: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OptedOutOutput {
    pub is_opted_out: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NextTokenInput {
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneNumbersOutput {
    pub phone_numbers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GetSmsAttributesInput {
    pub attributes: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SmsAttributes {
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SandboxNumberInput {
    pub phone_number: Option<String>,
    pub language_code: Option<String>,
    pub one_time_password: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PagedInput {
    pub next_token: Option<String>,
    pub max_results: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SandboxNumber {
    pub phone_number: String,
    /// `Pending` or `Verified`.
    pub status: String,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SandboxNumbersOutput {
    pub phone_numbers: Vec<SandboxNumber>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SandboxStatusOutput {
    pub is_in_sandbox: bool,
}

/// ListOriginationNumbers: Stratus owns no numbers.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OriginationNumbersOutput {
    pub phone_numbers: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_as_aws_reads_it() {
        for ok in [
            "+123123123",
            "+15551234567",
            "15551234567",
            "+1 555-123-4567",
        ] {
            assert!(is_e164(ok), "{ok}");
        }
        for bad in [
            "invalid-number",
            "+15--551234567",
            "NAA+15551234567",
            "+15551234567.",
            "/+15551234567",
            "+1a234",
            "+0123456",
            "+1234567890123456",
            "+",
            "",
            "+1-",
        ] {
            assert!(!is_e164(bad), "{bad}");
        }
        assert_eq!(normalize("+1 555-123-4567"), "+15551234567");
    }

    #[test]
    fn sms_attribute_errors_are_aws_texts() {
        assert_eq!(
            validate_sms_attribute("DefaultSMSType", "Bulk")
                .unwrap_err()
                .message,
            "DefaultSMSType is invalid"
        );
        assert_eq!(
            validate_sms_attribute("DefaultSendID", "x")
                .unwrap_err()
                .message,
            "DefaultSendID is not a valid attribute"
        );
        assert!(validate_sms_attribute("MonthlySpendLimit", "10").is_ok());
        assert!(validate_sms_attribute("DefaultSenderID", "123").is_err());
    }

    #[test]
    fn publish_to_a_phone_number() {
        use crate::sns::publish::{MessageAttributeInput, PublishInput};
        let input = |number: &str, message: &str, structure: Option<&str>| PublishInput {
            phone_number: Some(number.into()),
            message: Some(message.into()),
            message_structure: structure.map(str::to_string),
            ..Default::default()
        };
        let ok = input(
            "+1 555-010-0100",
            r#"{"default":"d","sms":"s"}"#,
            Some("json"),
        );
        assert!(ok.is_sms());
        let req = ok.validate_sms().unwrap();
        assert_eq!(req.phone_number, "+15550100100");
        assert_eq!(req.message.body.for_protocol("sms"), "s");
        let long = input("+15550100", &"x".repeat(MAX_SMS_CHARS + 1), None);
        assert!(long.validate_sms().is_err());
        assert!(
            input("+15550100", &"é".repeat(MAX_SMS_CHARS), None)
                .validate_sms()
                .is_ok()
        );
        // AWS's SMS attributes pass the reserved-prefix rule; other AWS. names do not.
        let with_attr = |name: &str| PublishInput {
            message_attributes: [(
                name.to_string(),
                MessageAttributeInput {
                    data_type: Some("String".into()),
                    string_value: Some("Transactional".into()),
                    ..Default::default()
                },
            )]
            .into(),
            ..input("+15550100", "m", None)
        };
        assert!(with_attr("AWS.SNS.SMS.SMSType").validate_sms().is_ok());
        assert!(with_attr("AWS.SNS.Other").validate_sms().is_err());
        // With a topic too it is not an SMS publish.
        let both = PublishInput {
            topic_arn: Some("arn:aws:sns:us-east-1:123456789012:t".into()),
            ..input("+15550100", "m", None)
        };
        assert!(!both.is_sms());
        assert!(both.validate().is_err());
    }

    proptest::proptest! {
        #[test]
        fn checks_never_panic(s in "\\PC{0,20}") {
            let _ = is_e164(&s);
            let _ = validate_publish_number(&s);
            let _ = validate_sms_attribute(&s, &s);
        }
    }
}
