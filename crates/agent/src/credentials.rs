//! Credentials, region and endpoint, resolved like the stock agent on
//! premises:
//!
//! - credentials: an explicit `--credentials-file`/`--profile` on the command
//!   line wins; otherwise `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (+
//!   `AWS_SESSION_TOKEN`) from the environment; otherwise the profile
//!   (`agent.profile`, default `AmazonCloudWatchAgent`) of the shared
//!   credentials file (`agent.credentials_file`, `AWS_SHARED_CREDENTIALS_FILE`,
//!   `~/.aws/credentials`).
//! - region: `agent.region`, else `AWS_REGION`/`AWS_DEFAULT_REGION`, else the
//!   profile's `region` key, else `us-east-1`.
//! - endpoint: `metrics.endpoint_override`, else
//!   `https://monitoring.<region>.amazonaws.com`.

use std::path::{Path, PathBuf};

/// A static key. `Debug` redacts the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("reading credentials file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("credentials file {path} has no [{profile}] profile")]
    NoProfile { path: PathBuf, profile: String },
    #[error(
        "profile [{profile}] in {path} lacks {key} (needs aws_access_key_id and aws_secret_access_key)"
    )]
    MissingKey {
        path: PathBuf,
        profile: String,
        key: &'static str,
    },
    #[error("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not (or the reverse)")]
    PartialEnv,
    #[error(
        "no credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or pass --credentials-file \
         (or agent.credentials_file) with an [{profile}] profile; no file at {tried}"
    )]
    NotFound { profile: String, tried: String },
}

/// Where to look; `cli_*` are the command-line flags (they outrank the env).
#[derive(Debug, Clone, Default)]
pub struct CredentialOptions {
    pub cli_credentials_file: Option<PathBuf>,
    pub cli_profile: Option<String>,
    /// `agent.credentials_file`.
    pub config_credentials_file: Option<PathBuf>,
    /// `agent.profile` (already defaulted to `AmazonCloudWatchAgent`).
    pub config_profile: String,
}

/// Resolved credentials plus a description of their source for the log
/// (never the secret).
#[derive(Debug, Clone)]
pub struct ResolvedCredentials {
    pub credentials: Credentials,
    pub source: String,
    /// The profile's `region` key, if any.
    pub profile_region: Option<String>,
}

/// Resolves credentials; `env` looks up environment variables (injectable for tests).
pub fn resolve_credentials(
    opts: &CredentialOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ResolvedCredentials, CredentialsError> {
    let profile = opts
        .cli_profile
        .clone()
        .unwrap_or_else(|| opts.config_profile.clone());
    let explicit = opts.cli_credentials_file.is_some() || opts.cli_profile.is_some();
    if !explicit {
        let id = env("AWS_ACCESS_KEY_ID").filter(|s| !s.is_empty());
        let secret = env("AWS_SECRET_ACCESS_KEY").filter(|s| !s.is_empty());
        match (id, secret) {
            (Some(access_key_id), Some(secret_access_key)) => {
                return Ok(ResolvedCredentials {
                    source: format!("environment (AWS_ACCESS_KEY_ID={access_key_id})"),
                    credentials: Credentials {
                        access_key_id,
                        secret_access_key,
                        session_token: env("AWS_SESSION_TOKEN").filter(|s| !s.is_empty()),
                    },
                    profile_region: None,
                });
            }
            (None, None) => {}
            _ => return Err(CredentialsError::PartialEnv),
        }
    }
    let path = opts
        .cli_credentials_file
        .clone()
        .or_else(|| opts.config_credentials_file.clone())
        .or_else(|| {
            env("AWS_SHARED_CREDENTIALS_FILE")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
        })
        .or_else(|| env("HOME").map(|h| Path::new(&h).join(".aws").join("credentials")));
    let Some(path) = path else {
        return Err(CredentialsError::NotFound {
            profile,
            tried: "(no HOME)".into(),
        });
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CredentialsError::NotFound {
                profile,
                tried: path.display().to_string(),
            });
        }
        Err(source) => return Err(CredentialsError::Read { path, source }),
    };
    let Some(section) = ini_section(&text, &profile) else {
        return Err(CredentialsError::NoProfile { path, profile });
    };
    let get = |k: &str| {
        section
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let missing = |key| CredentialsError::MissingKey {
        path: path.clone(),
        profile: profile.clone(),
        key,
    };
    let access_key_id = get("aws_access_key_id").ok_or_else(|| missing("aws_access_key_id"))?;
    let secret_access_key =
        get("aws_secret_access_key").ok_or_else(|| missing("aws_secret_access_key"))?;
    Ok(ResolvedCredentials {
        source: format!(
            "profile [{profile}] of {} (aws_access_key_id={access_key_id})",
            path.display()
        ),
        credentials: Credentials {
            access_key_id,
            secret_access_key,
            session_token: get("aws_session_token"),
        },
        profile_region: get("region"),
    })
}

/// The `key = value` pairs of `[name]` in an INI file (also `[profile name]`,
/// as in `~/.aws/config`). Comments start with `#` or `;`.
fn ini_section(text: &str, name: &str) -> Option<Vec<(String, String)>> {
    let mut in_section = false;
    let mut found = None::<Vec<(String, String)>>;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let header = header.trim();
            let header = header.strip_prefix("profile ").map_or(header, str::trim);
            in_section = header == name;
            if in_section && found.is_none() {
                found = Some(Vec::new());
            }
            continue;
        }
        if in_section
            && let Some((k, v)) = line.split_once('=')
            && let Some(section) = found.as_mut()
        {
            section.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    found
}

/// Region and where it came from.
pub fn resolve_region(
    config_region: Option<&str>,
    profile_region: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> (String, &'static str) {
    if let Some(r) = config_region {
        return (r.to_owned(), "agent.region");
    }
    for var in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
        if let Some(r) = env(var).filter(|r| !r.is_empty()) {
            return (
                r,
                if var == "AWS_REGION" {
                    "AWS_REGION"
                } else {
                    "AWS_DEFAULT_REGION"
                },
            );
        }
    }
    if let Some(r) = profile_region {
        return (r.to_owned(), "credentials profile");
    }
    ("us-east-1".to_owned(), "default")
}

/// The PutMetricData endpoint: `endpoint_override` or the regional AWS one.
pub fn resolve_endpoint(
    endpoint_override: Option<&str>,
    region: &str,
) -> Result<String, CredentialsError> {
    let endpoint = match endpoint_override {
        Some(e) => e.trim_end_matches('/').to_owned(),
        None => format!("https://monitoring.{region}.amazonaws.com"),
    };
    Ok(endpoint)
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

    fn file(contents: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), contents).unwrap();
        f
    }

    const FILE: &str = "[default]\naws_access_key_id = DEF\naws_secret_access_key = defsecret\n\n\
        # agent key\n[AmazonCloudWatchAgent]\naws_access_key_id=AKAGENT\n\
        aws_secret_access_key = agentsecret\nregion = eu-west-1\n[other]\naws_access_key_id=O\n";

    fn opts(path: Option<&Path>) -> CredentialOptions {
        CredentialOptions {
            config_credentials_file: path.map(Path::to_owned),
            config_profile: "AmazonCloudWatchAgent".into(),
            ..Default::default()
        }
    }

    #[test]
    fn env_keys_win_over_the_file() {
        let f = file(FILE);
        let r = resolve_credentials(
            &opts(Some(f.path())),
            &env_of(&[
                ("AWS_ACCESS_KEY_ID", "AKENV"),
                ("AWS_SECRET_ACCESS_KEY", "s"),
            ]),
        )
        .unwrap();
        assert_eq!(r.credentials.access_key_id, "AKENV");
        assert!(r.source.starts_with("environment"));
    }

    #[test]
    fn agent_profile_of_the_file() {
        let f = file(FILE);
        let r = resolve_credentials(&opts(Some(f.path())), &env_of(&[])).unwrap();
        assert_eq!(r.credentials.access_key_id, "AKAGENT");
        assert_eq!(r.credentials.secret_access_key, "agentsecret");
        assert_eq!(r.profile_region.as_deref(), Some("eu-west-1"));
        assert!(!format!("{:?}", r.credentials).contains("agentsecret"));
    }

    #[test]
    fn cli_flags_outrank_env_and_shared_file_env_is_used() {
        let f = file(FILE);
        let path = f.path().to_str().unwrap().to_owned();
        let o = CredentialOptions {
            cli_profile: Some("default".into()),
            config_profile: "AmazonCloudWatchAgent".into(),
            ..Default::default()
        };
        let env = env_of(&[
            ("AWS_ACCESS_KEY_ID", "AKENV"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_SHARED_CREDENTIALS_FILE", path.as_str()),
        ]);
        let r = resolve_credentials(&o, &env).unwrap();
        assert_eq!(r.credentials.access_key_id, "DEF");
    }

    #[test]
    fn errors_name_what_is_missing() {
        let f = file(FILE);
        let mut o = opts(Some(f.path()));
        o.config_profile = "other".into();
        let e = resolve_credentials(&o, &env_of(&[])).unwrap_err();
        assert!(e.to_string().contains("aws_secret_access_key"), "{e}");
        o.config_profile = "nope".into();
        let e = resolve_credentials(&o, &env_of(&[])).unwrap_err();
        assert!(matches!(e, CredentialsError::NoProfile { .. }), "{e}");
        let e = resolve_credentials(&opts(None), &env_of(&[("HOME", "/nonexistent")])).unwrap_err();
        assert!(
            e.to_string().contains("/nonexistent/.aws/credentials"),
            "{e}"
        );
        let e =
            resolve_credentials(&opts(None), &env_of(&[("AWS_ACCESS_KEY_ID", "x")])).unwrap_err();
        assert!(matches!(e, CredentialsError::PartialEnv));
    }

    #[test]
    fn region_and_endpoint() {
        let env = env_of(&[("AWS_DEFAULT_REGION", "ap-south-1")]);
        assert_eq!(
            resolve_region(Some("eu-north-1"), None, &env).0,
            "eu-north-1"
        );
        assert_eq!(resolve_region(None, Some("x"), &env).0, "ap-south-1");
        assert_eq!(
            resolve_region(None, Some("eu-west-1"), &env_of(&[])).0,
            "eu-west-1"
        );
        assert_eq!(resolve_region(None, None, &env_of(&[])).0, "us-east-1");
        assert_eq!(
            resolve_endpoint(Some("http://127.0.0.1:4566/"), "us-east-1").unwrap(),
            "http://127.0.0.1:4566"
        );
        assert_eq!(
            resolve_endpoint(None, "eu-west-1").unwrap(),
            "https://monitoring.eu-west-1.amazonaws.com"
        );
    }
}
