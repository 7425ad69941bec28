//! Builds the RFC 5322 message for an email delivery: text/plain UTF-8,
//! `Date` (when the delivery was enqueued) and `Message-ID` both stable per
//! delivery, so a rare resend after a crash is the same message and
//! receivers can drop it; `Subject` RFC 2047-encoded when not ASCII;
//! `List-Unsubscribe` when the text carries an unsubscribe link. The same
//! bytes go to the relay or into the local mailbox.

use lettre::message::header::{ContentType, HeaderName, HeaderValue, MIME_VERSION_1_0};
use lettre::message::{Mailbox, Message};
use sha2::{Digest, Sha256};
use std::time::{Duration, SystemTime};

/// The sender used when `--smtp-from` is not given.
pub const DEFAULT_FROM: &str = "Stratus Notifications <no-reply@localhost>";

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("invalid email address {address:?}: {reason}")]
    Address { address: String, reason: String },
    #[error("cannot build the email: {0}")]
    Build(String),
}

/// Parses `Name <user@host>` or `user@host`.
pub fn parse_mailbox(s: &str) -> Result<Mailbox, EmailError> {
    s.trim()
        .parse::<Mailbox>()
        .map_err(|e| EmailError::Address {
            address: s.to_string(),
            reason: e.to_string(),
        })
}

/// A short id stable per delivery (hex of a hash of its outbox key): the
/// mailbox file id and the local part of the Message-ID.
pub fn delivery_id(outbox_key: &str) -> String {
    let digest = Sha256::digest(outbox_key.as_bytes());
    hex::encode(&digest[..10])
}

/// The first `http(s)://` link in `text` whose URL mentions "unsubscribe".
fn unsubscribe_link(text: &str) -> Option<&str> {
    text.split(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == '"')
        .find(|w| {
            (w.starts_with("https://") || w.starts_with("http://"))
                && w.to_ascii_lowercase().contains("unsubscribe")
        })
}

pub struct EmailParts<'a> {
    pub from: &'a Mailbox,
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    /// From [`delivery_id`].
    pub id: &'a str,
    pub enqueued_at_ms: i64,
}

pub fn build(p: &EmailParts<'_>) -> Result<Message, EmailError> {
    let to = parse_mailbox(p.to)?;
    // A subject is one line: a stray line break must not start a header.
    let subject: String = p
        .subject
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    let date = SystemTime::UNIX_EPOCH
        + Duration::from_millis(u64::try_from(p.enqueued_at_ms).unwrap_or(0));
    let mut b = Message::builder()
        .from(p.from.clone())
        .to(to)
        .subject(subject)
        .date(date)
        .message_id(Some(format!("<{}@{}>", p.id, p.from.email.domain())))
        .user_agent("Stratus".to_string())
        .header(MIME_VERSION_1_0)
        .header(ContentType::TEXT_PLAIN);
    if let Some(link) = unsubscribe_link(p.text) {
        b = b.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe"),
            format!("<{link}>"),
        ));
    }
    b.body(p.text.to_string())
        .map_err(|e| EmailError::Build(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn formatted(subject: &str, text: &str) -> String {
        let from = parse_mailbox(DEFAULT_FROM).unwrap();
        let msg = build(&EmailParts {
            from: &from,
            to: "Ops Team <ops@example.com>",
            subject,
            text,
            id: "0123abcd",
            enqueued_at_ms: 1_764_000_000_000,
        })
        .unwrap();
        String::from_utf8(msg.formatted()).unwrap()
    }

    #[test]
    fn headers_are_stable_and_complete() {
        let a = formatted(
            "ALARM: \"cpu\"",
            "hello\nvisit https://x/unsubscribe.html?a=b now",
        );
        let b = formatted(
            "ALARM: \"cpu\"",
            "hello\nvisit https://x/unsubscribe.html?a=b now",
        );
        assert_eq!(a, b, "the same delivery formats to the same bytes");
        assert!(
            a.contains("From: \"Stratus Notifications\" <no-reply@localhost>\r\n"),
            "{a}"
        );
        assert!(a.contains("To: \"Ops Team\" <ops@example.com>\r\n"), "{a}");
        assert!(a.contains("MIME-Version: 1.0\r\n"), "{a}");
        assert!(a.contains("Message-ID: <0123abcd@localhost>\r\n"), "{a}");
        assert!(
            a.contains("Date: Mon, 24 Nov 2025 16:00:00 +0000\r\n"),
            "{a}"
        );
        assert!(
            a.contains("Content-Type: text/plain; charset=utf-8\r\n"),
            "{a}"
        );
        assert!(
            a.contains("List-Unsubscribe: <https://x/unsubscribe.html?a=b>\r\n"),
            "{a}"
        );
        assert!(a.contains("Subject: ALARM: \"cpu\"\r\n"), "{a}");
    }

    #[test]
    fn non_ascii_subject_is_encoded_and_no_header_injection() {
        let m = formatted("Température élevée\r\nBcc: evil@example.com", "plain");
        assert!(m.contains("Subject: =?utf-8?"), "{m}");
        assert!(!m.contains("\r\nBcc:"), "{m}");
        assert!(!m.contains("List-Unsubscribe"), "{m}");
    }

    #[test]
    fn bad_addresses_are_errors() {
        assert!(parse_mailbox("not an address").is_err());
        let from = parse_mailbox(DEFAULT_FROM).unwrap();
        let r = build(&EmailParts {
            from: &from,
            to: "nobody",
            subject: "s",
            text: "t",
            id: "x",
            enqueued_at_ms: 0,
        });
        assert!(matches!(r, Err(EmailError::Address { .. })));
    }

    #[test]
    fn delivery_ids_are_short_and_stable() {
        assert_eq!(delivery_id("k"), delivery_id("k"));
        assert_ne!(delivery_id("k"), delivery_id("k2"));
        assert_eq!(delivery_id("k").len(), 20);
    }
}
