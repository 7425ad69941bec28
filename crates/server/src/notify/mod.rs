//! Notification delivery: a persistent outbox of email and HTTP(S)
//! deliveries, attempted by a background worker with retries, so that a
//! restart, a down SMTP relay or a failing webhook delays a notification and
//! never loses it.
//!
//! INTERFACE (shared with `sns`): `sns` decides *what* goes to *whom* and
//! builds finished messages ([`NewDelivery`]); this module owns *getting it
//! there*: recording it durably before [`Notifier::enqueue`] returns,
//! attempting it, retrying by its [`RetryPolicy`], and recording the outcome.
//! It knows nothing of topics, filter policies or alarms.
//!
//! SCAFFOLD: the worker, the SMTP/mailbox/HTTP transports and the outbox
//! table are being built; until then `enqueue` refuses.

/// A message to deliver once, built completely by the caller.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewDelivery {
    /// SNS MessageId (or a confirmation's id). With `subscription_arn` it
    /// identifies the delivery: enqueueing the same pair twice is a no-op.
    pub message_id: String,
    /// The subscription this goes to (`None` for a confirmation sent before
    /// the subscription has an ARN of its own... it always has one in Stratus,
    /// so in practice `Some`).
    pub subscription_arn: Option<String>,
    pub topic_arn: String,
    pub target: Target,
    pub policy: RetryPolicy,
}

/// Where and what.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Target {
    /// A plain-text email (UTF-8). `subject` has no line breaks.
    Email {
        to: String,
        subject: String,
        text: String,
    },
    /// An HTTP(S) POST of `body` with `headers` (SNS's `x-amz-sns-*`,
    /// `Content-Type`, `User-Agent`). Any 2xx is delivered.
    Http {
        url: String,
        headers: Vec<(String, String)>,
        body: String,
    },
}

/// How often and how long to retry (SNS's delivery policy, `healthyRetryPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub num_retries: u32,
    pub min_delay_secs: u32,
    pub max_delay_secs: u32,
    pub backoff: Backoff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Backoff {
    Linear,
    Arithmetic,
    Geometric,
    Exponential,
}

impl RetryPolicy {
    /// SNS's default for http/https: 3 retries, 20 s apart.
    pub const HTTP_DEFAULT: RetryPolicy = RetryPolicy {
        num_retries: 3,
        min_delay_secs: 20,
        max_delay_secs: 20,
        backoff: Backoff::Linear,
    };
    /// Email: a relay may be down for a while; keep trying for about a day.
    pub const EMAIL_DEFAULT: RetryPolicy = RetryPolicy {
        num_retries: 50,
        min_delay_secs: 10,
        max_delay_secs: 3600,
        backoff: Backoff::Exponential,
    };
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("the notifier is not available")]
    Unavailable,
}

/// A handle to the outbox (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct Notifier {}

impl Notifier {
    /// Records `d` durably, then returns; a worker delivers it.
    pub fn enqueue(&self, _d: NewDelivery) -> Result<(), NotifyError> {
        Err(NotifyError::Unavailable)
    }
}
