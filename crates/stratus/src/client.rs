//! A minimal signed client for Stratus's own endpoints (admin API), and the
//! shared-credentials file reader the CLI verbs use.

use anyhow::{Context as _, bail};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// Reads `[profile]` from an AWS shared-credentials file.
pub fn read_profile(path: &Path, profile: &str) -> anyhow::Result<Credentials> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading credentials file {}", path.display()))?;
    let mut in_section = false;
    let (mut id, mut secret) = (None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') && line.ends_with(']') {
            let name = line[1..line.len() - 1].trim();
            in_section = name == profile || name == format!("profile {profile}");
            continue;
        }
        if !in_section {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            match k.trim() {
                "aws_access_key_id" => id = Some(v.trim().to_string()),
                "aws_secret_access_key" => secret = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    match (id, secret) {
        (Some(access_key_id), Some(secret_access_key)) => Ok(Credentials {
            access_key_id,
            secret_access_key,
        }),
        _ => bail!(
            "profile [{profile}] with aws_access_key_id and aws_secret_access_key not found in {}",
            path.display()
        ),
    }
}

/// Where to look for credentials when no file is given: the AWS env var, then
/// the quick-start data directory, then ~/.aws/credentials.
pub fn default_credentials_file() -> PathBuf {
    if let Ok(p) = std::env::var("AWS_SHARED_CREDENTIALS_FILE") {
        return PathBuf::from(p);
    }
    let local = PathBuf::from("./stratus-data/credentials");
    if local.exists() {
        return local;
    }
    std::env::var("HOME")
        .map(|h| PathBuf::from(h).join(".aws/credentials"))
        .unwrap_or(local)
}

/// Builds a SigV4-signed POST of `body` to `endpoint` + `path`. `headers`
/// must include `host` (signed, but ureq sets it on the wire itself).
#[allow(clippy::too_many_arguments)]
pub fn signed_post(
    agent: &ureq::Agent,
    endpoint: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    creds: &Credentials,
    region: &str,
    service: &str,
) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
    let signed = stratus_sigv4::sign(
        &stratus_sigv4::Request {
            method: "POST",
            path,
            query: "",
            headers,
            body,
        },
        &stratus_sigv4::Credentials {
            access_key_id: &creds.access_key_id,
            secret_access_key: &creds.secret_access_key,
        },
        region,
        service,
        jiff::Timestamp::now(),
    );
    let mut req = agent.post(format!("{}{path}", endpoint.trim_end_matches('/')));
    for (k, v) in headers.iter().filter(|(k, _)| *k != "host") {
        req = req.header(*k, *v);
    }
    for (k, v) in &signed {
        req = req.header(k.as_str(), v.as_str());
    }
    req
}

/// POSTs a JSON body to `endpoint` with `X-Amz-Target: target`, SigV4-signed.
/// Returns the HTTP status and body text.
pub fn post_json(
    endpoint: &str,
    target: &str,
    body: &serde_json::Value,
    creds: &Credentials,
    region: &str,
) -> anyhow::Result<(u16, String)> {
    let url: ureq::http::Uri = endpoint.parse().context("parsing --endpoint")?;
    let host = url
        .authority()
        .map(|a| a.as_str().to_string())
        .context("--endpoint needs a host, e.g. http://127.0.0.1:4566")?;
    let bytes = serde_json::to_vec(body)?;
    let headers = [
        ("content-type", "application/x-amz-json-1.0"),
        ("host", host.as_str()),
        ("x-amz-target", target),
    ];
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let req = signed_post(
        &agent, endpoint, "/", &headers, &bytes, creds, region, "stratus",
    );
    let mut resp = req
        .send(&bytes[..])
        .with_context(|| format!("connecting to {endpoint} (is `stratus server` running?)"))?;
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    Ok((status, text))
}
