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
//! Modules: `outbox` (the redb records and their state machine), `retry`
//! (the delay schedule), `worker` (the background task), `deliver` (one
//! attempt through the right transport), `smtp` (relay URL and lettre
//! transport), `email` (RFC 5322 message building), `mailbox` (the local
//! mailbox when no relay is configured), `http` (webhook POSTs), `sms` (the SMS gateway or mailbox), `egress`
//! (where webhooks may connect),
//! `test_message` (what `StratusAdmin.SendTestNotification` sends).

mod deliver;
pub mod egress;
pub mod email;
pub(crate) mod http;
pub mod mailbox;
pub mod outbox;
mod retry;
pub mod sms;
pub mod smtp;
pub mod test_message;
mod worker;

pub use mailbox::{MailMessage, MailSummary, Mailbox, MailboxError};
pub use outbox::{DeliveryRecord, Status};
pub use worker::WorkerHandle;

use crate::meta::{MetaError, MetaStore};
use std::path::Path;
use std::sync::Arc;

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
    /// A text message: POSTed as JSON to the SMS gateway, or written to the
    /// local mailbox when none is configured (`sms` module).
    Sms(SmsMessage),
}

/// One SMS to send. `blocked` says why it must not be sent (the number opted
/// out): the attempt then fails for good with that reason, so the outbox
/// records it instead of the message vanishing.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SmsMessage {
    /// E.164, normalised (`+` and digits).
    pub phone_number: String,
    pub message: String,
    pub sender_id: Option<String>,
    /// `Promotional` or `Transactional`.
    pub sms_type: String,
    pub max_price: Option<String>,
    #[serde(default)]
    pub blocked: Option<String>,
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
    /// SMS: a gateway may be down for a while; retry soon, then back off to
    /// every ten minutes (about eight hours in all).
    pub const SMS_DEFAULT: RetryPolicy = RetryPolicy {
        num_retries: 50,
        min_delay_secs: 2,
        max_delay_secs: 600,
        backoff: Backoff::Exponential,
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
    #[error(transparent)]
    Store(#[from] MetaError),
}

/// A bad `--smtp-url` / `--smtp-from`: the server refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--smtp-url: {0}")]
    SmtpUrl(#[from] smtp::SmtpUrlError),
    #[error("--smtp-from: {0}")]
    From(email::EmailError),
    #[error("--sms-gateway-url: {0}")]
    SmsGateway(String),
    #[error(transparent)]
    Notifier(#[from] NotifyError),
}

/// Where emails go and who sends them.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// `None`: emails go to the local mailbox.
    pub smtp: Option<smtp::SmtpRelay>,
    pub from: lettre::message::Mailbox,
    /// `None`: SMS messages go to the local mailbox.
    pub sms_gateway: Option<url::Url>,
}

impl DeliveryConfig {
    /// From the server's options; both are checked here so a typo stops the
    /// server at start-up instead of failing every delivery later.
    pub fn from_options(smtp_url: Option<&str>, from: Option<&str>) -> Result<Self, ConfigError> {
        let smtp = smtp_url
            .filter(|u| !u.trim().is_empty())
            .map(smtp::SmtpRelay::parse)
            .transpose()?;
        let from =
            email::parse_mailbox(from.unwrap_or(email::DEFAULT_FROM)).map_err(ConfigError::From)?;
        Ok(DeliveryConfig {
            smtp,
            from,
            sms_gateway: None,
        })
    }

    /// Adds the SMS gateway (`http(s)://` URL; empty: none).
    pub fn with_sms_gateway(mut self, url: Option<&str>) -> Result<Self, ConfigError> {
        self.sms_gateway = url
            .filter(|u| !u.trim().is_empty())
            .map(sms::parse_gateway_url)
            .transpose()
            .map_err(ConfigError::SmsGateway)?;
        Ok(self)
    }
}

#[derive(Debug)]
struct Shared {
    meta: Arc<MetaStore>,
    /// Wakes the worker when a delivery is enqueued.
    wake: tokio::sync::Notify,
    mailbox: Mailbox,
    /// This node's name as the owner of outbox claims (cluster mode; the
    /// `[cluster]` config sets it). `None`: [`Shared::random_id`].
    node_id: std::sync::Mutex<Option<String>>,
    /// A per-process default, so two nodes never share an owner by accident.
    random_id: String,
}

impl Shared {
    fn node_id(&self) -> String {
        let id = self.node_id.lock().unwrap_or_else(|e| e.into_inner());
        id.clone().unwrap_or_else(|| self.random_id.clone())
    }
}

/// A handle to the outbox (cheap to clone). `Notifier::default()` is a
/// disconnected handle whose `enqueue` refuses (for tests that never send).
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    shared: Option<Arc<Shared>>,
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

impl Notifier {
    /// The outbox in `meta`, with the mailbox of `data_dir`. Nothing is
    /// delivered until [`worker::start`] runs a worker on it.
    pub fn new(meta: Arc<MetaStore>, data_dir: &Path) -> Self {
        Notifier {
            shared: Some(Arc::new(Shared {
                meta,
                wake: tokio::sync::Notify::new(),
                mailbox: Mailbox::in_data_dir(data_dir),
                node_id: std::sync::Mutex::new(None),
                random_id: format!("notifier-{}", uuid::Uuid::new_v4()),
            })),
        }
    }

    /// Names this node as the owner of the outbox claims its worker takes
    /// (cluster mode, where several nodes' workers drain one PostgreSQL
    /// outbox). Without it a random per-process id is used. A no-op on a
    /// disconnected handle.
    pub fn set_node_id(&self, id: impl Into<String>) {
        if let Some(sh) = &self.shared {
            *sh.node_id.lock().unwrap_or_else(|e| e.into_inner()) = Some(id.into());
        }
    }

    /// The owner name of this node's outbox claims.
    pub fn node_id(&self) -> Option<String> {
        self.shared.as_ref().map(|sh| sh.node_id())
    }

    fn shared(&self) -> Result<&Arc<Shared>, NotifyError> {
        self.shared.as_ref().ok_or(NotifyError::Unavailable)
    }

    /// Records `d` durably, then returns; a worker delivers it. Enqueueing a
    /// (message id, subscription) pair already in the outbox is a no-op.
    /// Blocking (one fsync'd redb commit, about 5 ms): call it from the
    /// blocking pool, as actions run.
    pub fn enqueue(&self, d: NewDelivery) -> Result<(), NotifyError> {
        self.enqueue_new(d).map(|_| ())
    }

    /// [`Notifier::enqueue`], telling whether the delivery was new.
    pub fn enqueue_new(&self, d: NewDelivery) -> Result<bool, NotifyError> {
        let sh = self.shared()?;
        let new = outbox::insert(&sh.meta, d, now_ms())?;
        if new {
            sh.wake.notify_one();
        }
        Ok(new)
    }

    /// Wakes the worker after deliveries were committed with
    /// [`outbox::insert_in`] in the caller's own transaction.
    pub fn wake(&self) {
        if let Some(sh) = &self.shared {
            sh.wake.notify_one();
        }
    }

    /// The delivery of `message_id` to `subscription_arn`, if still kept.
    pub fn get(
        &self,
        message_id: &str,
        subscription_arn: Option<&str>,
    ) -> Result<Option<DeliveryRecord>, NotifyError> {
        let sh = self.shared()?;
        Ok(outbox::get(
            &sh.meta,
            &outbox::key(message_id, subscription_arn),
        )?)
    }

    /// The most recent deliveries (pending and finished), newest first.
    pub fn recent(&self, limit: usize) -> Result<Vec<DeliveryRecord>, NotifyError> {
        let sh = self.shared()?;
        Ok(outbox::list_recent(&sh.meta, limit)?)
    }

    /// Starts the background worker that delivers this outbox's records;
    /// webhooks connect only where `egress` allows.
    pub fn start_worker(
        &self,
        config: &DeliveryConfig,
        egress: Arc<egress::EgressPolicy>,
    ) -> Result<WorkerHandle, ConfigError> {
        let sh = self.shared()?;
        let transports = deliver::Transports::new(config, sh.mailbox.clone(), egress)?;
        Ok(worker::start(self, transports)?)
    }

    /// The local mailbox (used when no SMTP relay is configured).
    pub fn mailbox(&self) -> Option<&Mailbox> {
        self.shared.as_ref().map(|s| &s.mailbox)
    }
}
