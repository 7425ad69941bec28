//! Email over SMTP to a configured relay (lettre, tokio, rustls with the
//! webpki roots). The relay is named by a URL:
//!
//! - `smtp://HOST[:PORT]` — plain SMTP (port 25 by default);
//! - `smtp://HOST:PORT?tls=starttls` — STARTTLS, required (port 587);
//! - `smtps://HOST[:PORT]` — implicit TLS (port 465);
//! - `user:password@` before the host authenticates (percent-decoded, so a
//!   password may carry `%40` for `@`).

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// How long one SMTP conversation may take before the attempt fails.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    None,
    StartTls,
    Implicit,
}

/// A parsed `--smtp-url`.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpRelay {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for SmtpRelay {
    // Never print the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpRelay")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Display for SmtpRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls == TlsMode::Implicit {
            "smtps"
        } else {
            "smtp"
        };
        write!(f, "{scheme}://{}:{}", self.host, self.port)?;
        if self.tls == TlsMode::StartTls {
            f.write_str("?tls=starttls")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SmtpUrlError {
    #[error("invalid SMTP URL: {0}")]
    Syntax(String),
    #[error(
        "unsupported SMTP URL scheme {0:?}: use smtp://HOST:PORT, smtp://HOST:PORT?tls=starttls or smtps://HOST:PORT"
    )]
    Scheme(String),
    #[error("the SMTP URL needs a host, e.g. smtp://mail.example.com:25")]
    NoHost,
    #[error("unsupported SMTP URL parameter {0:?}: only tls=starttls (on smtp://) is understood")]
    Parameter(String),
    #[error("the SMTP URL must not have a path (got {0:?})")]
    Path(String),
    #[error("the SMTP URL's user name or password is not valid UTF-8 after percent-decoding")]
    Encoding,
}

impl SmtpRelay {
    pub fn parse(s: &str) -> Result<Self, SmtpUrlError> {
        let url = url::Url::parse(s.trim()).map_err(|e| SmtpUrlError::Syntax(e.to_string()))?;
        let mut tls = match url.scheme() {
            "smtp" => TlsMode::None,
            "smtps" => TlsMode::Implicit,
            other => return Err(SmtpUrlError::Scheme(other.to_string())),
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or(SmtpUrlError::NoHost)?;
        // `url` keeps IPv6 literals bracketed; the transport wants them bare.
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        if !(url.path().is_empty() || url.path() == "/") {
            return Err(SmtpUrlError::Path(url.path().to_string()));
        }
        for (k, v) in url.query_pairs() {
            match (k.as_ref(), v.to_ascii_lowercase().as_str(), tls) {
                ("tls", "starttls" | "required", TlsMode::None | TlsMode::StartTls) => {
                    tls = TlsMode::StartTls;
                }
                _ => return Err(SmtpUrlError::Parameter(format!("{k}={v}"))),
            }
        }
        let decode = |s: &str| -> Result<String, SmtpUrlError> {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| SmtpUrlError::Encoding)
        };
        let username = match url.username() {
            "" => None,
            u => Some(decode(u)?),
        };
        let password = url.password().map(decode).transpose()?;
        let port = url.port().unwrap_or(match tls {
            TlsMode::None => 25,
            TlsMode::StartTls => 587,
            TlsMode::Implicit => 465,
        });
        Ok(SmtpRelay {
            host,
            port,
            tls,
            username,
            password,
        })
    }
}

/// A failed SMTP attempt: its message and whether retrying can help.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub message: String,
    pub permanent: bool,
}

/// Sends messages through one relay (a new connection per message).
#[derive(Clone)]
pub struct SmtpSender {
    relay: SmtpRelay,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl std::fmt::Debug for SmtpSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSender")
            .field("relay", &self.relay)
            .finish_non_exhaustive()
    }
}

impl SmtpSender {
    pub fn new(relay: SmtpRelay) -> Result<Self, SmtpUrlError> {
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(relay.host.clone())
            .port(relay.port)
            .timeout(Some(SMTP_TIMEOUT));
        let tls_params = || {
            TlsParameters::new(relay.host.clone()).map_err(|e| SmtpUrlError::Syntax(e.to_string()))
        };
        b = match relay.tls {
            TlsMode::None => b.tls(Tls::None),
            TlsMode::StartTls => b.tls(Tls::Required(tls_params()?)),
            TlsMode::Implicit => b.tls(Tls::Wrapper(tls_params()?)),
        };
        if let Some(user) = &relay.username {
            b = b.credentials(Credentials::new(
                user.clone(),
                relay.password.clone().unwrap_or_default(),
            ));
        }
        Ok(SmtpSender {
            transport: b.build(),
            relay,
        })
    }

    pub fn relay(&self) -> &SmtpRelay {
        &self.relay
    }

    pub async fn send(&self, msg: Message) -> Result<(), SendError> {
        match self.transport.send(msg).await {
            Ok(_) => Ok(()),
            Err(e) => Err(SendError {
                // A 5xx reply (unknown mailbox, relaying denied) will not get
                // better by retrying; everything else (refused connection,
                // 4xx, timeouts, TLS) may.
                permanent: e.is_permanent(),
                message: format!("SMTP relay {}: {e}", self.relay),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay(
        host: &str,
        port: u16,
        tls: TlsMode,
        user: Option<&str>,
        pw: Option<&str>,
    ) -> SmtpRelay {
        SmtpRelay {
            host: host.into(),
            port,
            tls,
            username: user.map(Into::into),
            password: pw.map(Into::into),
        }
    }

    #[test]
    fn parses_relay_urls() {
        let table = [
            (
                "smtp://mail.example.com",
                relay("mail.example.com", 25, TlsMode::None, None, None),
            ),
            (
                "smtp://127.0.0.1:2525",
                relay("127.0.0.1", 2525, TlsMode::None, None, None),
            ),
            (
                "smtp://127.0.0.1:2525/",
                relay("127.0.0.1", 2525, TlsMode::None, None, None),
            ),
            (
                "smtp://mail.example.com?tls=starttls",
                relay("mail.example.com", 587, TlsMode::StartTls, None, None),
            ),
            (
                "smtp://u:p@mail.example.com:2587?tls=STARTTLS",
                relay(
                    "mail.example.com",
                    2587,
                    TlsMode::StartTls,
                    Some("u"),
                    Some("p"),
                ),
            ),
            (
                "smtps://mail.example.com",
                relay("mail.example.com", 465, TlsMode::Implicit, None, None),
            ),
            (
                "smtps://alerts%40example.com:p%40ss%3Aw%2Fd@mail.example.com:4650",
                relay(
                    "mail.example.com",
                    4650,
                    TlsMode::Implicit,
                    Some("alerts@example.com"),
                    Some("p@ss:w/d"),
                ),
            ),
            (
                "smtp://user@[::1]:25",
                relay("::1", 25, TlsMode::None, Some("user"), None),
            ),
        ];
        for (url, want) in table {
            assert_eq!(SmtpRelay::parse(url), Ok(want), "{url}");
        }
    }

    #[test]
    fn rejects_bad_urls_clearly() {
        type IsExpected = fn(&SmtpUrlError) -> bool;
        let table: [(&str, IsExpected); 7] = [
            ("mail.example.com:25", |e| {
                matches!(e, SmtpUrlError::Scheme(_))
            }),
            ("http://mail.example.com", |e| {
                matches!(e, SmtpUrlError::Scheme(_))
            }),
            ("smtp://", |e| {
                matches!(e, SmtpUrlError::NoHost | SmtpUrlError::Syntax(_))
            }),
            ("smtp://h:99999", |e| matches!(e, SmtpUrlError::Syntax(_))),
            ("smtp://h?tls=maybe", |e| {
                matches!(e, SmtpUrlError::Parameter(_))
            }),
            ("smtps://h?tls=starttls", |e| {
                matches!(e, SmtpUrlError::Parameter(_))
            }),
            ("smtp://h/inbox", |e| matches!(e, SmtpUrlError::Path(_))),
        ];
        for (url, ok) in table {
            let e = SmtpRelay::parse(url).unwrap_err();
            assert!(ok(&e), "{url}: {e:?}");
        }
    }

    #[test]
    fn debug_and_display_hide_the_password() {
        let r = SmtpRelay::parse("smtp://u:secret@h:25?tls=starttls").unwrap();
        assert!(!format!("{r:?}").contains("secret"));
        assert_eq!(r.to_string(), "smtp://h:25?tls=starttls");
    }
}
