//! HTTP(S) deliveries: a POST of the body with the delivery's headers. Any
//! 2xx is delivered; anything else (3xx included: redirects are not
//! followed, as SNS does not follow them) is a failed attempt the retry
//! policy handles. ureq (already the agent's client) runs on the blocking
//! pool; https uses rustls with the webpki roots. Names are resolved by
//! [`VettedResolver`], so a connection only ever goes to an address the
//! egress policy allows; no proxy from the environment is used (it would
//! connect on our behalf to an address nobody vetted).

use super::egress::{EgressPolicy, Refused, VettedResolver};
use std::sync::Arc;
use std::time::Duration;

/// A whole attempt (connect, send, answer) may take this long.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone)]
pub struct HttpSender {
    agent: ureq::Agent,
}

impl HttpSender {
    pub fn new(policy: Arc<EgressPolicy>) -> Self {
        let config = agent_config();
        let agent = ureq::Agent::with_parts(
            config,
            ureq::unversioned::transport::DefaultConnector::default(),
            VettedResolver { policy },
        );
        HttpSender { agent }
    }

    /// A sender for an address the operator configured (the SMS gateway):
    /// trusted like the SMTP relay, so not vetted by the egress policy.
    pub fn unrestricted() -> Self {
        let config = agent_config();
        HttpSender {
            agent: ureq::Agent::new_with_config(config),
        }
    }
}

/// Every sender's settings: one timeout for the whole attempt, redirects not
/// followed, any status an answer (the caller decides), no proxy.
fn agent_config() -> ureq::config::Config {
    ureq::Agent::config_builder()
        .timeout_global(Some(HTTP_TIMEOUT))
        .max_redirects(0)
        .http_status_as_error(false)
        .proxy(None)
        .user_agent("Stratus Notifications")
        .build()
}

/// Why an attempt failed. `refused`: the egress policy forbade every
/// address, nothing was sent (not worth retrying).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct HttpError {
    pub message: String,
    pub refused: bool,
}

impl HttpSender {
    /// Blocking: call from the blocking pool.
    pub fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: &str,
    ) -> Result<u16, HttpError> {
        let fail = |message: String, refused: bool| HttpError { message, refused };
        // Sent as the URL parser (which Subscribe's check used) reads it.
        let url =
            url::Url::parse(url).map_err(|e| fail(format!("POST {url}: not a URL: {e}"), false))?;
        let mut req = self.agent.post(url.as_str());
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let mut resp = req.send(body.as_bytes()).map_err(|e| match e {
            ureq::Error::Other(inner) if inner.is::<Refused>() => fail(
                format!("POST {url}: refused by the webhook egress policy: {inner}"),
                true,
            ),
            e => fail(format!("POST {url}: {e}"), false),
        })?;
        let status = resp.status().as_u16();
        // Read (a bounded part of) the answer so the connection can be reused.
        let _ = resp.body_mut().with_config().limit(64 * 1024).read_to_vec();
        if (200..300).contains(&status) {
            Ok(status)
        } else {
            Err(fail(format!("POST {url}: HTTP {status}"), false))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::egress::EgressConfig;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    fn sender(allow: &[&str]) -> HttpSender {
        HttpSender::new(Arc::new(EgressPolicy::new(
            EgressConfig {
                webhook_allow: allow.iter().map(|r| r.parse().unwrap()).collect(),
                deny_private: false,
            },
            Vec::new(),
        )))
    }

    /// A listener on 127.0.0.1 that answers one request with 204 on a thread.
    fn receiver() -> (u16, std::thread::JoinHandle<String>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut buf = vec![0u8; 4096];
            let n = c.read(&mut buf).unwrap();
            c.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        (port, t)
    }

    #[test]
    fn forbidden_addresses_are_refused_before_any_connection() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let s = sender(&[]);
        for url in [
            format!("http://127.0.0.1:{port}/hook"),
            format!("http://2130706433:{port}/hook"),
            format!("http://0x7f000001:{port}/hook"),
            format!("http://localhost:{port}/hook"),
            format!("http://[::ffff:127.0.0.1]:{port}/hook"),
        ] {
            let e = s.post(&url, &[], "{}").unwrap_err();
            assert!(e.refused, "{url}: {e}");
            assert!(
                e.message.contains("refused by the webhook egress policy")
                    && e.message.contains("loopback"),
                "{e}"
            );
        }
        assert_eq!(
            l.accept().map(|_| ()).unwrap_err().kind(),
            std::io::ErrorKind::WouldBlock,
            "nothing may have connected"
        );
    }

    #[test]
    fn an_allowed_address_is_delivered_to() {
        let (port, t) = receiver();
        let s = sender(&[&format!("127.0.0.1:{port}")]);
        // localhost also resolves to ::1, which stays refused: only 127.0.0.1 is tried.
        let status = s
            .post(
                &format!("http://localhost:{port}/hook"),
                &[("x-test".into(), "1".into())],
                "{}",
            )
            .unwrap();
        assert_eq!(status, 204);
        let request = t.join().unwrap();
        assert!(request.starts_with("POST /hook HTTP/1.1"), "{request}");
    }
}
