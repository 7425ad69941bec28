//! One signed PutMetricData over HTTP or HTTPS (ureq, blocking, rustls), and
//! what its answer means for the batch: taken, worth retrying, refused for
//! authentication (kept and retried for a bounded time), or refused for good.
//!
//! HTTPS trusts, in this order: the PEM bundle named by `ca_bundle`
//! (`AWS_CA_BUNDLE`, as the AWS SDKs and the stock agent), else the system
//! bundle (`/etc/ssl/certs/ca-certificates.crt`, which holds the CAs an admin
//! installed with `update-ca-certificates`), else Mozilla's roots built in.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use stratus_proto::{Document, decode_xml_response};
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};

use super::ShipError;
use super::batch::SealedBatch;

/// Idempotency header the Stratus server honours (other endpoints ignore it).
pub const BATCH_ID_HEADER: &str = "x-stratus-batch-id";
const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";
/// Error bodies are small XML documents; more is not worth reading.
const MAX_ERROR_BODY: u64 = 64 * 1024;

/// Error codes that mean "later", whatever the HTTP status.
const RETRYABLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "LimitExceeded",
    "InternalServiceError",
    "InternalFailure",
    "ServiceUnavailable",
    "RequestTimeout",
];

/// Error codes that mean "this host's clock is off" (AWS and Stratus).
const CLOCK_SKEW_CODES: &[&str] = &["RequestExpired", "RequestTimeTooSkewed"];

/// The fate of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: stored (or already stored: a duplicate id also answers 200).
    Accepted,
    /// Connection error, timeout, 5xx, 429 or a throttling code: try again.
    Retry(String),
    /// HTTP 401/403 or a clock-skew answer: wrong or deleted key, a policy
    /// that denies it, or this host's clock. Fixed outside the agent, not by
    /// the request, so the batch is kept and retried like an outage (for a
    /// bounded time, see `worker`).
    AuthFailed {
        status: u16,
        code: String,
        message: String,
        /// The answer says the signature's time is off (check NTP).
        clock_skew: bool,
    },
    /// A permanent refusal: retrying the same bytes cannot succeed.
    Rejected {
        status: u16,
        code: String,
        message: String,
    },
}

/// How long a looked-up address of the endpoint is used before the name is
/// looked up again.
const NAME_REUSE: Duration = Duration::from_secs(60);

/// Name resolution for the one endpoint a transport talks to. ureq's default
/// resolver starts a thread per lookup whenever a timeout is set, i.e. for
/// every new connection (one per flush): here an IP-literal endpoint is used
/// as is, and a name is looked up (ureq's way, under the send's timeout) at
/// most once per [`NAME_REUSE`].
#[derive(Debug, Default)]
struct ReusedResolver {
    lookup: ureq::unversioned::resolver::DefaultResolver,
    last: std::sync::Mutex<Option<(std::time::Instant, ResolvedSocketAddrs)>>,
}

impl Resolver for ReusedResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let literal = uri
            .host()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
            .and_then(|h| h.parse::<std::net::IpAddr>().ok());
        if let Some(ip) = literal {
            let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
                Some("https") => 443,
                _ => 80,
            });
            let mut out = self.empty();
            out.push(std::net::SocketAddr::new(ip, port));
            return Ok(out);
        }
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, addrs)) = last.as_ref()
            && at.elapsed() < NAME_REUSE
        {
            return Ok(addrs.clone());
        }
        let addrs = self.lookup.resolve(uri, config, timeout)?;
        *last = Some((std::time::Instant::now(), addrs.clone()));
        Ok(addrs)
    }
}

pub struct Transport {
    agent: ureq::Agent,
    url: String,
    host: String,
    path: String,
    region: String,
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

/// The system's CA bundle on Debian/Ubuntu (and, by symlink, most others).
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Root certificates for HTTPS (see the module docs for the order).
fn root_certs(ca_bundle: Option<&Path>) -> Result<ureq::tls::RootCerts, String> {
    let path = match ca_bundle {
        Some(p) => p,
        None if Path::new(SYSTEM_CA_BUNDLE).is_file() => Path::new(SYSTEM_CA_BUNDLE),
        None => return Ok(ureq::tls::RootCerts::WebPki),
    };
    let pem = std::fs::read(path).map_err(|e| format!("CA bundle {}: {e}", path.display()))?;
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(format!(
            "CA bundle {}: no PEM certificate in it",
            path.display()
        ));
    }
    Ok(ureq::tls::RootCerts::Specific(Arc::new(certs)))
}

/// How to reach and authenticate to the endpoint.
#[derive(Clone, Copy)]
pub struct Endpoint<'a> {
    /// `http(s)://host[:port][/path]`.
    pub url: &'a str,
    pub region: &'a str,
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    /// Sent (and signed) as `x-amz-security-token` with temporary credentials.
    pub session_token: Option<&'a str>,
    /// PEM roots for HTTPS instead of the system's.
    pub ca_bundle: Option<&'a Path>,
}

impl Transport {
    pub fn new(ep: Endpoint<'_>) -> Result<Transport, ShipError> {
        let endpoint = ep.url;
        let bad = |why: &str| ShipError::Endpoint(format!("{endpoint}: {why}"));
        let uri: ureq::http::Uri = endpoint.parse().map_err(|_| bad("not a URL"))?;
        let scheme = match uri.scheme_str() {
            Some(s @ ("http" | "https")) => s.to_owned(),
            _ => return Err(bad("needs http(s)://host[:port]")),
        };
        let tls = if scheme == "https" {
            ureq::tls::TlsConfig::builder()
                .root_certs(root_certs(ep.ca_bundle).map_err(|e| bad(&e))?)
                .build()
        } else {
            ureq::tls::TlsConfig::default()
        };
        let host = uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .ok_or_else(|| bad("needs a host"))?;
        let path = match uri.path() {
            "" => "/".to_owned(),
            p => p.to_owned(),
        };
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            // Keep the connection across flushes (the stock agent's default
            // is one a minute): a new connection per flush cost this agent
            // more kernel time (handshake and teardown, on loopback both
            // ends) than encoding its batch. A connection the server closed
            // meanwhile is noticed before reuse (ureq probes it), and 90 s
            // stays under the idle timeouts of NATs and load balancers.
            .max_idle_age(Duration::from_secs(90))
            .user_agent(concat!("stratus-agent/", env!("CARGO_PKG_VERSION")))
            .tls_config(tls)
            .build();
        let agent = ureq::Agent::with_parts(
            config,
            ureq::unversioned::transport::DefaultConnector::default(),
            ReusedResolver::default(),
        );
        Ok(Transport {
            agent,
            url: format!("{scheme}://{host}{path}"),
            host,
            path,
            region: ep.region.to_owned(),
            access_key_id: ep.access_key_id.to_owned(),
            secret_access_key: ep.secret_access_key.to_owned(),
            session_token: ep.session_token.map(str::to_owned),
        })
    }

    /// Signs and posts `batch`, giving up after `timeout`.
    pub fn send(&self, batch: &SealedBatch, timeout: Duration) -> Outcome {
        let id = batch.id.to_string();
        let headers = [
            ("content-encoding", "gzip"),
            ("content-type", CONTENT_TYPE),
            (BATCH_ID_HEADER, id.as_str()),
        ];
        match self.post("monitoring", &headers, &batch.body, timeout) {
            Ok((status, _)) if (200..300).contains(&status) => Outcome::Accepted,
            Ok((status, body)) => classify(status, &body),
            Err(e) => Outcome::Retry(e),
        }
    }

    /// Signs (SigV4 for `service`, every header given signed) and posts
    /// `body`, giving up after `timeout`. The answer's status and body (at
    /// most 64 KiB), or why there was none.
    pub fn post(
        &self,
        service: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> Result<(u16, Vec<u8>), String> {
        let mut headers: Vec<(&str, &str)> = headers.to_vec();
        headers.push(("host", self.host.as_str()));
        if let Some(token) = &self.session_token {
            headers.push(("x-amz-security-token", token.as_str()));
        }
        let signed = stratus_sigv4::sign(
            &stratus_sigv4::Request {
                method: "POST",
                path: &self.path,
                query: "",
                headers: &headers,
                body,
            },
            &stratus_sigv4::Credentials {
                access_key_id: &self.access_key_id,
                secret_access_key: &self.secret_access_key,
            },
            &self.region,
            service,
            jiff::Timestamp::now(),
        );
        let mut req = self
            .agent
            .post(&self.url)
            .config()
            .timeout_global(Some(timeout.max(Duration::from_millis(1))))
            .build();
        for (k, v) in headers.iter().filter(|(k, _)| *k != "host") {
            req = req.header(*k, *v);
        }
        for (k, v) in &signed {
            req = req.header(k.as_str(), v.as_str());
        }
        match req.send(body) {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                // Read to the end even on success: only a connection whose
                // response was consumed goes back to the pool for reuse.
                let body = resp
                    .body_mut()
                    .with_config()
                    .limit(MAX_ERROR_BODY)
                    .read_to_vec()
                    .unwrap_or_default();
                Ok((status, body))
            }
            Err(e) => Err(format!("{e}")),
        }
    }
}

/// Reads `<ErrorResponse><Error><Code/><Message/></Error></ErrorResponse>`;
/// anything else yields an empty code and the start of the body as message.
pub fn error_details(body: &[u8]) -> (String, String) {
    let from_xml = decode_xml_response(body).ok().and_then(|doc| {
        let error = doc.get("ErrorResponse")?.get("Error")?;
        let text = |name: &str| {
            error
                .get(name)
                .and_then(Document::as_str)
                .unwrap_or("")
                .to_owned()
        };
        Some((text("Code"), text("Message")))
    });
    from_xml.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        let cut = text.char_indices().nth(200).map_or(text.len(), |(i, _)| i);
        (String::new(), text[..cut].to_owned())
    })
}

/// Decides what a non-2xx answer means for the batch.
pub fn classify(status: u16, body: &[u8]) -> Outcome {
    if (200..300).contains(&status) {
        return Outcome::Accepted;
    }
    let (code, message) = error_details(body);
    if status >= 500 || status == 429 || status == 408 {
        return retry(status, &code, &message);
    }
    // SigV4's "Signature expired" / "not yet current" is a clock, not a key.
    let clock_skew = CLOCK_SKEW_CODES.contains(&code.as_str())
        || (code == "SignatureDoesNotMatch"
            && (message.contains("Signature expired") || message.contains("not yet current")));
    if clock_skew || status == 401 || status == 403 {
        return Outcome::AuthFailed {
            status,
            code,
            message,
            clock_skew,
        };
    }
    if RETRYABLE_CODES.contains(&code.as_str()) {
        return retry(status, &code, &message);
    }
    Outcome::Rejected {
        status,
        code,
        message,
    }
}

fn retry(status: u16, code: &str, message: &str) -> Outcome {
    let what = if code.is_empty() {
        String::new()
    } else {
        format!(" {code}")
    };
    Outcome::Retry(format!("HTTP {status}{what}: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_endpoints_skip_the_lookup_and_names_are_reused() {
        let r = ReusedResolver::default();
        let config = ureq::config::Config::default();
        let t = ureq::unversioned::transport::NextTimeout::default();
        for (url, want) in [
            ("http://127.0.0.1:4566/", "127.0.0.1:4566"),
            ("https://[::1]/", "[::1]:443"),
            ("http://10.1.2.3/", "10.1.2.3:80"),
        ] {
            let got = r.resolve(&url.parse().unwrap(), &config, t).unwrap();
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].to_string(), want);
        }
        assert!(r.last.lock().unwrap().is_none(), "no lookup for literals");
        let uri: ureq::http::Uri = "http://localhost:4566/".parse().unwrap();
        let first = r.resolve(&uri, &config, t).unwrap();
        assert!(
            first
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 4566)
        );
        let at = r.last.lock().unwrap().as_ref().map(|(at, _)| *at);
        let again = r.resolve(&uri, &config, t).unwrap();
        assert_eq!(&first[..], &again[..]);
        assert_eq!(
            r.last.lock().unwrap().as_ref().map(|(at, _)| *at),
            at,
            "reused, not looked up again"
        );
    }

    fn xml(code: &str, message: &str) -> Vec<u8> {
        format!(
            "<ErrorResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><Error><Type>Sender</Type>\
             <Code>{code}</Code><Message>{message}</Message></Error><RequestId>r</RequestId></ErrorResponse>"
        )
        .into_bytes()
    }

    fn retried(o: &Outcome) -> bool {
        matches!(o, Outcome::Retry(_))
    }

    #[test]
    fn transient_answers_are_retried() {
        assert_eq!(classify(200, b""), Outcome::Accepted);
        assert!(retried(&classify(500, &xml("InternalServiceError", "x"))));
        assert!(retried(&classify(503, b"<html>busy</html>")));
        assert!(retried(&classify(429, b"")));
        assert!(retried(&classify(400, &xml("Throttling", "Rate exceeded"))));
        assert!(retried(&classify(400, &xml("LimitExceeded", "slow down"))));
    }

    #[test]
    fn auth_refusals_are_kept_and_clock_skew_is_named() {
        let auth = |status, code: &str, message: &str, clock_skew| Outcome::AuthFailed {
            status,
            code: code.into(),
            message: message.into(),
            clock_skew,
        };
        for (status, code) in [
            (403, "AccessDenied"),
            (403, "InvalidClientTokenId"),
            (403, "SignatureDoesNotMatch"),
            (403, "UnrecognizedClientException"),
            (401, ""),
        ] {
            assert_eq!(
                classify(status, &xml(code, "no")),
                auth(status, code, "no", false)
            );
        }
        let expired = "Signature expired: 20260101T000000Z is now earlier than ...";
        assert_eq!(
            classify(403, &xml("SignatureDoesNotMatch", expired)),
            auth(403, "SignatureDoesNotMatch", expired, true)
        );
        let future = "Signature not yet current: 20260101T000000Z is still later than ...";
        assert_eq!(
            classify(403, &xml("SignatureDoesNotMatch", future)),
            auth(403, "SignatureDoesNotMatch", future, true)
        );
        assert_eq!(
            classify(400, &xml("RequestTimeTooSkewed", "skewed")),
            auth(400, "RequestTimeTooSkewed", "skewed", true)
        );
        // A 5xx stays an outage whatever its body says.
        assert!(retried(&classify(503, &xml("AccessDenied", "proxy"))));
    }

    #[test]
    fn permanent_answers_keep_the_server_message() {
        for (status, code) in [
            (400, "InvalidParameterValue"),
            (400, "MissingParameter"),
            (413, "RequestEntityTooLarge"),
        ] {
            assert_eq!(
                classify(status, &xml(code, "why &amp; how")),
                Outcome::Rejected {
                    status,
                    code: code.into(),
                    message: "why & how".into()
                }
            );
        }
        assert_eq!(
            classify(404, b"not found\n"),
            Outcome::Rejected {
                status: 404,
                code: String::new(),
                message: "not found".into()
            }
        );
    }

    fn ep(url: &str) -> Endpoint<'_> {
        Endpoint {
            url,
            region: "us-east-1",
            access_key_id: "a",
            secret_access_key: "b",
            session_token: None,
            ca_bundle: None,
        }
    }

    #[test]
    fn endpoint_must_be_http_or_https_with_a_host() {
        assert!(Transport::new(ep("http://127.0.0.1:4566")).is_ok());
        assert!(Transport::new(ep("https://monitoring.us-east-1.amazonaws.com")).is_ok());
        assert!(Transport::new(ep("127.0.0.1:4566")).is_err());
        assert!(Transport::new(ep("not a url")).is_err());
        assert!(Transport::new(ep("ftp://host/")).is_err());
    }

    #[test]
    fn a_ca_bundle_must_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let missing = dir.path().join("missing.pem");
        for bundle in [&empty, &missing] {
            let e = Transport::new(Endpoint {
                ca_bundle: Some(bundle),
                ..ep("https://127.0.0.1:4566")
            })
            .err()
            .expect("refused");
            assert!(e.to_string().contains("CA bundle"), "{e}");
        }
        // http ignores the bundle.
        assert!(
            Transport::new(Endpoint {
                ca_bundle: Some(&missing),
                ..ep("http://127.0.0.1:4566")
            })
            .is_ok()
        );
    }
}
