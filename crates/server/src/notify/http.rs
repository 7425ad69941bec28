//! HTTP(S) deliveries: a POST of the body with the delivery's headers. Any
//! 2xx is delivered; anything else (3xx included: redirects are not
//! followed, as SNS does not follow them) is a failed attempt the retry
//! policy handles. ureq (already the agent's client) runs on the blocking
//! pool; https uses rustls with the webpki roots.

use std::time::Duration;

/// A whole attempt (connect, send, answer) may take this long.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone)]
pub struct HttpSender {
    agent: ureq::Agent,
}

impl Default for HttpSender {
    fn default() -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(HTTP_TIMEOUT))
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent("Stratus Notifications")
            .build()
            .into();
        HttpSender { agent }
    }
}

/// Why an attempt failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(pub String);

impl HttpSender {
    /// Blocking: call from the blocking pool.
    pub fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: &str,
    ) -> Result<u16, HttpError> {
        let mut req = self.agent.post(url);
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let mut resp = req
            .send(body.as_bytes())
            .map_err(|e| HttpError(format!("POST {url}: {e}")))?;
        let status = resp.status().as_u16();
        // Read (a bounded part of) the answer so the connection can be reused.
        let _ = resp.body_mut().with_config().limit(64 * 1024).read_to_vec();
        if (200..300).contains(&status) {
            Ok(status)
        } else {
            Err(HttpError(format!("POST {url}: HTTP {status}")))
        }
    }
}
