//! One delivery attempt through the right transport: email to the SMTP
//! relay (or the local mailbox when none is configured), HTTP(S) by POST.

use super::egress::EgressPolicy;
use super::email::{self, EmailParts};
use super::http::HttpSender;
use super::mailbox::Mailbox;
use super::smtp::SmtpSender;
use super::{DeliveryConfig, DeliveryRecord, Target};
use std::sync::Arc;

/// A failed attempt; `permanent` failures are not retried.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub permanent: bool,
}

impl Failure {
    fn retryable(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            permanent: false,
        }
    }
}

/// The transports, built once when the worker starts.
#[derive(Debug, Clone)]
pub struct Transports {
    pub from: lettre::message::Mailbox,
    pub smtp: Option<SmtpSender>,
    pub mailbox: Mailbox,
    pub http: HttpSender,
}

impl Transports {
    pub fn new(
        config: &DeliveryConfig,
        mailbox: Mailbox,
        egress: Arc<EgressPolicy>,
    ) -> Result<Self, super::ConfigError> {
        Ok(Transports {
            from: config.from.clone(),
            smtp: config.smtp.clone().map(SmtpSender::new).transpose()?,
            mailbox,
            http: HttpSender::new(egress),
        })
    }

    /// Where emails go, for the start-up log.
    pub fn email_destination(&self) -> String {
        match &self.smtp {
            Some(s) => format!("SMTP relay {}", s.relay()),
            None => format!("local mailbox {}", self.mailbox.dir().display()),
        }
    }

    pub async fn attempt(&self, rec: &DeliveryRecord) -> Result<(), Failure> {
        match &rec.delivery.target {
            Target::Email { to, subject, text } => {
                let id = email::delivery_id(&rec.key());
                let msg = email::build(&EmailParts {
                    from: &self.from,
                    to,
                    subject,
                    text,
                    id: &id,
                    enqueued_at_ms: rec.enqueued_at_ms,
                })
                .map_err(|e| Failure {
                    message: e.to_string(),
                    permanent: true,
                })?;
                match &self.smtp {
                    Some(smtp) => smtp.send(msg).await.map_err(|e| Failure {
                        message: e.message,
                        permanent: e.permanent,
                    }),
                    None => {
                        let mailbox = self.mailbox.clone();
                        let at = rec.enqueued_at_ms;
                        tokio::task::spawn_blocking(move || {
                            mailbox.write(&id, at, &msg.formatted())
                        })
                        .await
                        .map_err(|e| Failure::retryable(e.to_string()))?
                        .map(|_| ())
                        .map_err(|e| Failure::retryable(e.to_string()))
                    }
                }
            }
            Target::Http { url, headers, body } => {
                let (http, url, headers, body) = (
                    self.http.clone(),
                    url.clone(),
                    headers.clone(),
                    body.clone(),
                );
                tokio::task::spawn_blocking(move || http.post(&url, &headers, &body))
                    .await
                    .map_err(|e| Failure::retryable(e.to_string()))?
                    .map(|_| ())
                    .map_err(|e| Failure {
                        message: e.message,
                        // A refused address stays refused: recorded, not retried.
                        permanent: e.refused,
                    })
            }
        }
    }
}
