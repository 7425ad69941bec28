//! Instance identity for the `${aws:*}` placeholders: the EC2 instance
//! metadata service (IMDSv2 token flow, falling back to IMDSv1 when the token
//! call is refused) when it answers, otherwise a configured `instance_id`, the
//! host's machine id, or its hostname. Being off EC2 is never an error.
//!
//! IMDS is asked only on a host whose firmware says it is EC2 ([`detect_ec2`],
//! the DMI checks cloud-init makes), so a laptop or an on-premises server
//! never sends a packet to the link-local metadata address; and never by
//! `--check-config`, which makes no network calls (on EC2 it takes the
//! instance id from DMI's `board_asset_tag`, where Nitro instances carry it).
//!
//! Off EC2 the instance id derived from the machine id is `mi-` followed by the
//! first 17 hex digits of SHA-256(`"stratus-instance-id:" + machine-id`): the
//! same shape as the ids AWS gives on-premises (SSM managed) instances, stable
//! across reboots and re-installs of the agent, and without publishing the
//! machine id itself (machine-id(5) asks that it not be exposed verbatim).

use crate::config::Ec2Placeholder;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment variable overriding `agent.imds_endpoint` (tests).
pub const IMDS_ENDPOINT_ENV: &str = "STRATUS_IMDS_ENDPOINT";
/// Environment variable naming where `/sys` is read for [`detect_ec2`]
/// (tests: a fake DMI tree).
pub const SYS_ROOT_ENV: &str = "STRATUS_SYS_ROOT";
/// Per-request timeout, as the stock agent's metadata client.
pub const IMDS_TIMEOUT: Duration = Duration::from_secs(1);
/// IMDSv2 session token lifetime requested (6 h, the documented maximum).
const TOKEN_TTL_SECONDS: &str = "21600";
/// Metadata values are short; refuse anything bigger than this.
const MAX_VALUE_BYTES: u64 = 64 * 1024;

/// Where the instance id came from (for the start-up log line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdSource {
    /// The EC2 instance metadata service at this endpoint.
    Imds(String),
    /// On EC2 by DMI, IMDS not asked (`--check-config`): this DMI file.
    Dmi(PathBuf),
    /// `agent.instance_id` in the config.
    Config,
    /// Derived from this machine-id file.
    MachineId(PathBuf),
    /// Last resort: the hostname.
    Hostname,
}

impl std::fmt::Display for IdSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdSource::Imds(e) => write!(f, "EC2 instance metadata ({e})"),
            IdSource::Dmi(p) => write!(f, "EC2 DMI {}", p.display()),
            IdSource::Config => f.write_str("agent.instance_id in the config"),
            IdSource::MachineId(p) => write!(f, "machine id ({})", p.display()),
            IdSource::Hostname => f.write_str("hostname (no IMDS, no machine id)"),
        }
    }
}

/// The values the `${aws:*}` placeholders resolve to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceIdentity {
    pub instance_id: String,
    pub source: IdSource,
    /// Only known on EC2.
    pub instance_type: Option<String>,
    pub image_id: Option<String>,
    /// Only from IMDS with instance metadata tags enabled.
    pub autoscaling_group: Option<String>,
}

impl InstanceIdentity {
    pub fn on_ec2(&self) -> bool {
        matches!(self.source, IdSource::Imds(_) | IdSource::Dmi(_))
    }

    /// The value for a placeholder, `None` when unknown here (the dimension
    /// is then dropped with a warning).
    pub fn value(&self, p: Ec2Placeholder) -> Option<&str> {
        match p {
            Ec2Placeholder::InstanceId => Some(&self.instance_id),
            Ec2Placeholder::InstanceType => self.instance_type.as_deref(),
            Ec2Placeholder::ImageId => self.image_id.as_deref(),
            Ec2Placeholder::AutoScalingGroupName => self.autoscaling_group.as_deref(),
            Ec2Placeholder::VolumeId => None,
        }
    }
}

/// Inputs to [`resolve_identity`].
#[derive(Debug, Clone)]
pub struct IdentityOptions {
    /// IMDS base URL (`http://169.254.169.254`).
    pub imds_endpoint: String,
    pub timeout: Duration,
    /// `agent.instance_id`.
    pub instance_id: Option<String>,
    /// Machine-id files tried in order.
    pub machine_id_paths: Vec<PathBuf>,
    pub hostname: String,
    /// Where `/sys` is read for [`detect_ec2`].
    pub sys_root: PathBuf,
    /// False for `--check-config`: no network call at all.
    pub ask_imds: bool,
}

impl IdentityOptions {
    /// Defaults for this host; `STRATUS_IMDS_ENDPOINT` overrides the config's endpoint.
    pub fn for_host(imds_endpoint: &str, instance_id: Option<String>, hostname: String) -> Self {
        let imds_endpoint = std::env::var(IMDS_ENDPOINT_ENV)
            .ok()
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| imds_endpoint.to_owned());
        IdentityOptions {
            imds_endpoint: imds_endpoint.trim_end_matches('/').to_owned(),
            timeout: IMDS_TIMEOUT,
            instance_id,
            machine_id_paths: vec![
                PathBuf::from("/etc/machine-id"),
                PathBuf::from("/var/lib/dbus/machine-id"),
            ],
            hostname,
            sys_root: sys_root(),
            ask_imds: true,
        }
    }
}

/// `/sys`, or `$STRATUS_SYS_ROOT` when set (tests).
pub fn sys_root() -> PathBuf {
    std::env::var_os(SYS_ROOT_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("/sys"), PathBuf::from)
}

/// The DMI (or Xen hypervisor) file that says this host is an EC2 instance,
/// and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ec2Evidence {
    pub file: PathBuf,
    pub value: String,
}

/// Whether the firmware says EC2, as cloud-init decides it: Nitro instances
/// have `board_asset_tag` = the instance id (`i-…`) and `sys_vendor`
/// `Amazon EC2`; Xen ones a `product_uuid` or `/sys/hypervisor/uuid`
/// starting with `ec2`. Unreadable files (`product_uuid` is root-only) count
/// as silent.
pub fn detect_ec2(sys_root: &Path) -> Option<Ec2Evidence> {
    type SaysEc2 = fn(&str) -> bool;
    let dmi = sys_root.join("class/dmi/id");
    let checks: [(PathBuf, SaysEc2); 4] = [
        (dmi.join("board_asset_tag"), |v| v.starts_with("i-")),
        (dmi.join("sys_vendor"), |v| v.starts_with("Amazon EC2")),
        (dmi.join("product_uuid"), |v| {
            v.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("ec2"))
        }),
        (sys_root.join("hypervisor/uuid"), |v| {
            v.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("ec2"))
        }),
    ];
    checks.into_iter().find_map(|(file, says_ec2)| {
        let value = std::fs::read_to_string(&file).ok()?.trim().to_owned();
        says_ec2(&value).then_some(Ec2Evidence { file, value })
    })
}

/// Resolves the instance identity, asking IMDS only for what `wanted` needs.
/// Never fails: off EC2 it falls back as the module doc says.
pub fn resolve_identity(opts: &IdentityOptions, wanted: &[Ec2Placeholder]) -> InstanceIdentity {
    let (instance_id, source) = match detect_ec2(&opts.sys_root) {
        None => {
            crate::debug!(
                "not an EC2 instance (no EC2 signature in DMI under {}): instance metadata not asked",
                opts.sys_root.display()
            );
            off_ec2_instance_id(opts)
        }
        Some(ev) if opts.ask_imds => {
            crate::debug!(
                "EC2 by {} = {}: asking instance metadata",
                ev.file.display(),
                ev.value
            );
            if let Some(id) = Imds::new(&opts.imds_endpoint, opts.timeout).identity(wanted) {
                return id;
            }
            off_ec2_instance_id(opts)
        }
        Some(ev) if ev.value.starts_with("i-") => (ev.value, IdSource::Dmi(ev.file)),
        Some(_) => off_ec2_instance_id(opts),
    };
    InstanceIdentity {
        instance_id,
        source,
        instance_type: None,
        image_id: None,
        autoscaling_group: None,
    }
}

fn off_ec2_instance_id(opts: &IdentityOptions) -> (String, IdSource) {
    if let Some(id) = &opts.instance_id {
        return (id.clone(), IdSource::Config);
    }
    for path in &opts.machine_id_paths {
        if let Some(id) = machine_id_instance_id(path) {
            return (id, IdSource::MachineId(path.clone()));
        }
    }
    (opts.hostname.clone(), IdSource::Hostname)
}

/// `mi-` + 17 hex digits derived from a machine-id file (see module doc).
pub fn machine_id_instance_id(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let id = text.trim();
    // machine-id(5): 32 lower-case hex digits. Anything else is not one
    // (e.g. an empty file on a not-yet-booted image).
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let digest = stratus_sigv4::sha256_hex(format!("stratus-instance-id:{id}").as_bytes());
    Some(format!("mi-{}", &digest[..17]))
}

/// A minimal IMDS client (IMDSv2 with IMDSv1 fallback).
pub struct Imds {
    endpoint: String,
    agent: ureq::Agent,
}

#[derive(Debug, thiserror::Error)]
pub enum ImdsError {
    /// Nothing answered (off EC2, or IMDS disabled).
    #[error("instance metadata service unreachable at {endpoint}: {message}")]
    Unreachable { endpoint: String, message: String },
    #[error("instance metadata {path}: HTTP {status}")]
    Status { path: String, status: u16 },
}

impl Imds {
    pub fn new(endpoint: &str, timeout: Duration) -> Imds {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            // IMDS is link-local: never through an HTTP proxy from the env.
            .proxy(None)
            .max_redirects(0)
            .build()
            .into();
        Imds {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            agent,
        }
    }

    /// An IMDSv2 session token; `Ok(None)` when the service answers but
    /// refuses tokens (IMDSv1-only), so callers fall back to plain GETs.
    pub fn token(&self) -> Result<Option<String>, ImdsError> {
        let url = format!("{}/latest/api/token", self.endpoint);
        let mut resp = self
            .agent
            .put(&url)
            .header("X-aws-ec2-metadata-token-ttl-seconds", TOKEN_TTL_SECONDS)
            .send_empty()
            .map_err(|e| self.unreachable(e))?;
        match resp.status().as_u16() {
            200 => Ok(Some(
                read_body(resp.body_mut()).map_err(|e| self.unreachable(e))?,
            )),
            403..=405 => Ok(None),
            status => Err(ImdsError::Status {
                path: "/latest/api/token".into(),
                status,
            }),
        }
    }

    /// GET `/latest/meta-data/<path>`.
    pub fn get(&self, token: Option<&str>, path: &str) -> Result<String, ImdsError> {
        let url = format!("{}/latest/meta-data/{path}", self.endpoint);
        let mut req = self.agent.get(&url);
        if let Some(t) = token {
            req = req.header("X-aws-ec2-metadata-token", t);
        }
        let mut resp = req.call().map_err(|e| self.unreachable(e))?;
        match resp.status().as_u16() {
            200 => read_body(resp.body_mut()).map_err(|e| self.unreachable(e)),
            status => Err(ImdsError::Status {
                path: path.into(),
                status,
            }),
        }
    }

    fn unreachable(&self, e: impl std::fmt::Display) -> ImdsError {
        ImdsError::Unreachable {
            endpoint: self.endpoint.clone(),
            message: e.to_string(),
        }
    }

    /// The identity from IMDS, or `None` when it does not answer with an
    /// instance id. Optional values that fail are left `None` (logged).
    fn identity(&self, wanted: &[Ec2Placeholder]) -> Option<InstanceIdentity> {
        let token = match self.token() {
            Ok(t) => t,
            Err(e) => {
                crate::debug!("{e}");
                return None;
            }
        };
        let token = token.as_deref();
        let instance_id = match self.get(token, "instance-id") {
            Ok(id) if !id.trim().is_empty() => id.trim().to_owned(),
            Ok(_) => return None,
            Err(e) => {
                crate::warn!("instance metadata answered but not its instance id: {e}");
                return None;
            }
        };
        let optional = |p: Ec2Placeholder, path: &str| -> Option<String> {
            if !wanted.contains(&p) {
                return None;
            }
            match self.get(token, path) {
                Ok(v) if !v.trim().is_empty() => Some(v.trim().to_owned()),
                Ok(_) => None,
                Err(e) => {
                    crate::warn!("{} unavailable from instance metadata: {e}", p.as_str());
                    None
                }
            }
        };
        Some(InstanceIdentity {
            instance_type: optional(Ec2Placeholder::InstanceType, "instance-type"),
            image_id: optional(Ec2Placeholder::ImageId, "ami-id"),
            // Needs "instance metadata tags" enabled on the instance; the
            // stock agent calls EC2 DescribeTags instead.
            autoscaling_group: optional(
                Ec2Placeholder::AutoScalingGroupName,
                "tags/instance/aws:autoscaling:groupName",
            ),
            instance_id,
            source: IdSource::Imds(self.endpoint.clone()),
        })
    }
}

fn read_body(body: &mut ureq::Body) -> std::io::Result<String> {
    let mut s = String::new();
    body.as_reader()
        .take(MAX_VALUE_BYTES)
        .read_to_string(&mut s)?;
    Ok(s)
}

/// This host's name (the kernel's nodename, as Go's `os.Hostname`).
pub fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}
