//! One delivery attempt through the right transport: email to the SMTP
//! relay (or the local mailbox when none is configured), HTTP(S) by POST.

use super::egress::EgressPolicy;
use super::email::{self, EmailParts};
use super::http::HttpSender;
use super::mailbox::Mailbox;
use super::sms;
use super::smtp::SmtpSender;
use super::{DeliveryConfig, DeliveryRecord, SmsMessage, Target};
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
    /// `None`: SMS messages go to the mailbox.
    pub sms_gateway: Option<(url::Url, HttpSender)>,
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
            sms_gateway: config
                .sms_gateway
                .clone()
                .map(|u| (u, HttpSender::unrestricted())),
        })
    }

    /// Where emails go, for the start-up log.
    pub fn email_destination(&self) -> String {
        match &self.smtp {
            Some(s) => format!("SMTP relay {}", s.relay()),
            None => format!("local mailbox {}", self.mailbox.dir().display()),
        }
    }

    /// Where SMS messages go, for the start-up log.
    pub fn sms_destination(&self) -> String {
        match &self.sms_gateway {
            Some((u, _)) => format!("SMS gateway {u}"),
            None => format!("local mailbox {}", self.mailbox.dir().display()),
        }
    }

    async fn attempt_sms(&self, rec: &DeliveryRecord, sms: &SmsMessage) -> Result<(), Failure> {
        if let Some(reason) = &sms.blocked {
            return Err(Failure {
                message: reason.clone(),
                permanent: true,
            });
        }
        let (rec, sms) = (rec.clone(), sms.clone());
        let result = match &self.sms_gateway {
            Some((url, http)) => {
                let (url, http) = (url.clone(), http.clone());
                tokio::task::spawn_blocking(move || sms::send_to_gateway(&http, &url, &rec, &sms))
                    .await
            }
            None => {
                let (mailbox, from) = (self.mailbox.clone(), self.from.clone());
                tokio::task::spawn_blocking(move || {
                    let (id, raw) =
                        sms::mailbox_message(&from, &rec, &sms).map_err(|e| e.to_string())?;
                    mailbox
                        .write(&id, rec.enqueued_at_ms, &raw)
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                })
                .await
            }
        };
        result
            .map_err(|e| Failure::retryable(e.to_string()))?
            .map_err(Failure::retryable)
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
            Target::Sms(sms) => self.attempt_sms(rec, sms).await,
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
