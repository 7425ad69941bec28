//! A minimal signed client for Stratus's own endpoints (admin API), and where
//! the CLI verbs find their key: the AWS credential chain, then the data
//! directory.

use anyhow::{Context as _, bail};
use std::path::{Path, PathBuf};
use stratus_agent::credentials::{CredentialOptions, CredentialsError, resolve_credentials};

#[derive(Debug, Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN`/`aws_session_token`: sent, signed, as the AWS CLI
    /// would (Stratus issues none, so the server refuses it by name).
    pub session_token: Option<String>,
}

/// A running server's admin API: its endpoint and the caller's credentials
/// (`keys`, `mail test`, `mail deliveries`, `cluster status`).
#[derive(clap::Args, Debug, Clone)]
pub struct AdminConn {
    /// Server endpoint (in cluster mode, any node's).
    #[arg(
        long,
        global = true,
        default_value = "http://127.0.0.1:4566",
        env = "STRATUS_ENDPOINT"
    )]
    pub endpoint: String,
    #[command(flatten)]
    pub credentials: CredentialArgs,
}

impl AdminConn {
    /// Calls admin operation `op` with `body`; the server's error as an error.
    pub fn call(&self, op: &str, body: &serde_json::Value) -> anyhow::Result<serde_json::Value> {
        crate::keys_cmd::call(&self.endpoint, op, body, &self.credentials.resolve()?)
    }
}

/// The credential flags of the verbs that call the admin API.
#[derive(clap::Args, Debug, Clone)]
pub struct CredentialArgs {
    /// Shared-credentials file holding an admin key. Default, first found:
    /// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the profile in
    /// AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, <data-dir>/credentials.
    #[arg(long, global = true, value_name = "FILE")]
    pub credentials_file: Option<PathBuf>,
    /// Profile in the credentials file. Default: $AWS_PROFILE, else stratus.
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// The server's data directory: its credentials file is the last place
    /// looked. Default: ./stratus-data.
    #[arg(long, global = true, env = "STRATUS_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

impl CredentialArgs {
    pub fn resolve(&self) -> anyhow::Result<Credentials> {
        let data_dir = self
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        admin_credentials(
            self.credentials_file.as_deref(),
            self.profile.as_deref(),
            Some(&data_dir),
            &|k| std::env::var(k).ok(),
        )
    }
}

/// Where `stratus up` and `stratus server` keep their data by default.
pub const DEFAULT_DATA_DIR: &str = "./stratus-data";
/// The profile the server writes its admin key under.
const ADMIN_PROFILE: &str = stratus_server::bootstrap::PROFILE;

/// The admin key, first found: `file` (with `profile`) when given; else
/// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (unless `profile` was given); else
/// the profile (`profile`, $AWS_PROFILE, `stratus`) in
/// AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials; else that profile in
/// `<data_dir>/credentials`. A failure names every place looked.
pub fn admin_credentials(
    file: Option<&Path>,
    profile: Option<&str>,
    data_dir: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Credentials> {
    // A --profile flag outranks the environment's keys; AWS_PROFILE does not.
    let flag = profile.map(str::to_owned);
    let profile = flag
        .clone()
        .or_else(|| env("AWS_PROFILE").filter(|p| !p.is_empty()))
        .unwrap_or_else(|| ADMIN_PROFILE.to_owned());
    let resolve = |file: Option<&Path>| {
        resolve_credentials(
            &CredentialOptions {
                cli_credentials_file: file.map(Path::to_path_buf),
                cli_profile: flag.clone(),
                config_credentials_file: None,
                config_profile: profile.clone(),
            },
            env,
        )
        .map(|r| Credentials {
            access_key_id: r.credentials.access_key_id,
            secret_access_key: r.credentials.secret_access_key,
            session_token: r.credentials.session_token,
        })
    };
    if let Some(file) = file {
        return resolve(Some(file)).map_err(|e| anyhow::anyhow!("--credentials-file: {e}"));
    }
    let mut looked = Vec::new();
    if flag.is_none() {
        looked.push("AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the environment (not set)".into());
    }
    match resolve(None) {
        Ok(c) => return Ok(c),
        Err(CredentialsError::NotFound { tried, .. }) => {
            looked.push(format!("profile [{profile}] in {tried} (no such file)"));
        }
        Err(CredentialsError::NoProfile { path, .. }) => {
            looked.push(format!(
                "profile [{profile}] in {} (not there)",
                path.display()
            ));
        }
        Err(e) => return Err(e.into()),
    }
    if let Some(dir) = data_dir {
        let path = dir.join("credentials");
        match resolve(Some(&path)) {
            Ok(c) => return Ok(c),
            Err(CredentialsError::NotFound { .. }) => {
                looked.push(format!(
                    "profile [{profile}] in {} (no such file)",
                    path.display()
                ));
            }
            Err(CredentialsError::NoProfile { .. }) => {
                looked.push(format!(
                    "profile [{profile}] in {} (not there)",
                    path.display()
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    bail!(
        "no credentials for the Stratus admin API. Looked for: {}. Pass --credentials-file \
         with the credentials file the server wrote (<data-dir>/credentials: ./stratus-data/ \
         for `stratus up`, /var/lib/stratus/ for the packaged server), or --data-dir",
        looked.join("; ")
    )
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
            session_token: None,
        }),
        _ => bail!(
            "profile [{profile}] with aws_access_key_id and aws_secret_access_key not found in {}",
            path.display()
        ),
    }
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
    let mut headers = vec![
        ("content-type", "application/x-amz-json-1.0"),
        ("host", host.as_str()),
        ("x-amz-target", target),
    ];
    if let Some(token) = &creds.session_token {
        headers.push(("x-amz-security-token", token.as_str()));
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    /// A scratch directory with `home/.aws/credentials` and `data/credentials`.
    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("stratus-client-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("home/.aws")).unwrap();
        std::fs::create_dir_all(dir.join("data")).unwrap();
        std::fs::write(
            dir.join("home/.aws/credentials"),
            "[ops]\naws_access_key_id = AKHOME\naws_secret_access_key = h\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("data/credentials"),
            "[stratus]\naws_access_key_id = AKDATA\naws_secret_access_key = d\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn the_chain_is_env_then_shared_file_then_data_dir() {
        let dir = scratch("chain");
        let home = dir.join("home");
        let home = home.to_str().unwrap();
        let data = dir.join("data");
        let id = |file: Option<&Path>, profile: Option<&str>, env: &[(&str, &str)]| {
            admin_credentials(file, profile, Some(&data), &env_of(env))
                .unwrap()
                .access_key_id
        };
        let keys = [
            ("AWS_ACCESS_KEY_ID", "AKENV"),
            ("AWS_SECRET_ACCESS_KEY", "e"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut v = vec![("HOME", home)];
            v.extend_from_slice(extra);
            v
        };
        // The environment's keys win, even over AWS_PROFILE (as in the AWS CLI).
        let mut env = with(&keys);
        env.push(("AWS_PROFILE", "ops"));
        assert_eq!(id(None, None, &env), "AKENV");
        // A --profile flag outranks them.
        assert_eq!(id(None, Some("ops"), &with(&keys)), "AKHOME");
        assert_eq!(id(None, None, &with(&[("AWS_PROFILE", "ops")])), "AKHOME");
        // ~/.aws/credentials has no [stratus]: the data dir's file.
        assert_eq!(id(None, None, &with(&[])), "AKDATA");
        // An explicit file is the only one read.
        let explicit = dir.join("data/credentials");
        assert_eq!(id(Some(&explicit), None, &with(&keys)), "AKDATA");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn finding_nothing_names_every_place_looked() {
        let dir = scratch("none");
        let home = dir.join("home");
        std::fs::remove_file(home.join(".aws/credentials")).unwrap();
        let empty = dir.join("elsewhere");
        let e = admin_credentials(
            None,
            None,
            Some(&empty),
            &env_of(&[("HOME", home.to_str().unwrap())]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("AWS_ACCESS_KEY_ID"), "{e}");
        assert!(
            e.contains(&format!(
                "{}/.aws/credentials (no such file)",
                home.display()
            )),
            "{e}"
        );
        assert!(
            e.contains(&format!("{}/credentials (no such file)", empty.display())),
            "{e}"
        );
        assert!(e.contains("--credentials-file"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
