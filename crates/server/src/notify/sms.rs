//! SMS deliveries. With an SMS gateway configured (`--sms-gateway-url`), a
//! JSON POST `{"phoneNumber","message","senderId","smsType","maxPrice",
//! "messageId","topicArn"}`; any 2xx is delivered, anything else is retried
//! by the delivery's policy. Without one, the text lands in the local
//! mailbox as a message `To: <number>@sms.localhost` with the subject
//! `SMS to <number>` and an `X-Stratus-Sms` header, readable with
//! `stratus mail list|show` and in the console. Never dropped: a message to
//! an opted-out number fails for good with that reason, in the outbox.

use super::email::{self, EmailParts};
use super::http::HttpSender;
use super::{DeliveryRecord, SmsMessage};

/// The mailbox domain of SMS messages (`+15550100@sms.localhost`).
pub const MAILBOX_DOMAIN: &str = "sms.localhost";

/// Checks the gateway URL at start-up: `http://` or `https://` with a host.
pub fn parse_gateway_url(s: &str) -> Result<url::Url, String> {
    let u = url::Url::parse(s.trim()).map_err(|e| format!("{s:?} is not a URL: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none_or(str::is_empty) {
        return Err(format!("{s:?} must be an http:// or https:// URL"));
    }
    Ok(u)
}

/// The JSON the gateway receives.
pub fn gateway_body(rec: &DeliveryRecord, sms: &SmsMessage) -> String {
    serde_json::json!({
        "phoneNumber": sms.phone_number,
        "message": sms.message,
        "senderId": sms.sender_id,
        "smsType": sms.sms_type,
        "maxPrice": sms.max_price,
        "messageId": rec.delivery.message_id,
        "topicArn": (!rec.delivery.topic_arn.is_empty()).then_some(&rec.delivery.topic_arn),
    })
    .to_string()
}

/// POSTs to the gateway (operator-configured like the SMTP relay, so not
/// under the webhook egress policy). Blocking.
pub fn send_to_gateway(
    http: &HttpSender,
    url: &url::Url,
    rec: &DeliveryRecord,
    sms: &SmsMessage,
) -> Result<(), String> {
    let headers = [("Content-Type".to_string(), "application/json".to_string())];
    http.post(url.as_str(), &headers, &gateway_body(rec, sms))
        .map(|_| ())
        .map_err(|e| e.message)
}

/// The mailbox copy of an SMS: RFC 5322 bytes and the file id.
pub fn mailbox_message(
    from: &lettre::message::Mailbox,
    rec: &DeliveryRecord,
    sms: &SmsMessage,
) -> Result<(String, Vec<u8>), email::EmailError> {
    let id = format!("sms-{}", email::delivery_id(&rec.key()));
    let to = format!("{}@{MAILBOX_DOMAIN}", sms.phone_number);
    let mut text = format!(
        "SMS to {} ({}{})\n\n{}\n",
        sms.phone_number,
        sms.sms_type,
        sms.sender_id
            .as_deref()
            .map(|s| format!(", sender ID {s}"))
            .unwrap_or_default(),
        sms.message
    );
    if let Some(p) = &sms.max_price {
        text.push_str(&format!("\n(max price {p} USD)\n"));
    }
    let msg = email::build(&EmailParts {
        from,
        to: &to,
        subject: &format!("SMS to {}", sms.phone_number),
        text: &text,
        id: &id,
        enqueued_at_ms: rec.enqueued_at_ms,
    })?;
    let mut raw = b"X-Stratus-Sms: ".to_vec();
    raw.extend_from_slice(sms.phone_number.as_bytes());
    raw.extend_from_slice(b"\r\n");
    raw.extend_from_slice(&msg.formatted());
    Ok((id, raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_urls_are_checked() {
        assert!(parse_gateway_url("http://127.0.0.1:9000/sms").is_ok());
        assert!(parse_gateway_url("ftp://x/").is_err());
        assert!(parse_gateway_url("not a url").is_err());
    }
}
