//! The server's configuration file (`stratus server --config FILE`, TOML):
//! reading it, refusing anything it does not understand, and checking that
//! the retention it asks for can be honoured.
//!
//! ```toml
//! [server]              # all optional; command-line flags and env override them
//! listen = "127.0.0.1:4566"
//! data_dir = "/var/lib/stratus"
//! public_url = "https://stratus.example.com"
//! smtp_url = "smtp://relay.example.com:587?tls=starttls"
//! smtp_from = "Stratus <stratus@example.com>"
//! sms_gateway_url = "http://127.0.0.1:9000/sms"   # SMS as JSON POSTs; unset: the mailbox
//! sms_sandbox = false    # true: SMS only to numbers verified in the SMS sandbox
//! recover = false        # true: repair damaged tsdb files at start (see --recover)
//! header_read_timeout = "10s"   # connection limits (defaults shown; see README)
//! idle_timeout = "2m"
//! body_read_timeout = "1m"
//! max_connections = 16384       # default: the open-file limit less a reserve
//! max_connections_per_ip = 4096
//! tls_cert = "/etc/stratus/cert.pem"   # serve HTTPS (both or neither)
//! tls_key = "/etc/stratus/key.pem"
//!
//! [retention]           # all optional; defaults are CloudWatch's
//! raw = "3h"
//! one_minute = "15d"
//! five_minutes = "63d"
//! one_hour = "455d"
//!
//! [notify]              # where webhooks may connect (see notify::egress)
//! webhook_allow = ["127.0.0.1:9000", "10.1.0.0/16"]   # loopback etc. opened deliberately
//! deny_private = false  # true: refuse 10/8, 172.16/12, 192.168/16, fc00::/7 too
//!
//! [firehose]            # metric streams: Firehose delivery stream name → HTTP endpoint
//! metrics-to-otel = "https://collector.example.com/cloudwatch"
//! metrics-archive = { url = "https://archive.example.com/firehose", access_key = "..." }
//!
//! [cluster]             # cluster mode (see docs/cluster.md); absent: one node, as ever
//! node_id = "n1"                                    # unique per node
//! postgres_url = "postgres://stratus@10.0.0.5:5432/stratus"
//! nats_urls = ["nats://10.0.1.1:4222", "nats://10.0.2.1:4222", "nats://10.0.3.1:4222"]
//! log_replicas = 3       # replicas of each ingest-log stream
//! log_max_mib = 1024     # per partition stream, reserved on each NATS server
//! partitions = 8         # fixed when the cluster is created
//! partition_replicas = 2 # ingesters keeping each partition (owner + warm standby)
//! roles = ["gateway", "ingester", "query", "compactor", "evaluator", "notifier"]  # default: all
//! commit_interval = "1m" # how often a partition owner commits blocks
//! lease_ttl = "10s"      # failover delay for partitions and alarm shards
//! alarm_shards = 64
//! advertise_url = "http://10.0.0.11:4566"  # how other nodes reach this one (peer reads)
//! [cluster.s3]
//! endpoint = "http://10.0.0.7:3900"   # omit for AWS S3
//! bucket = "stratus"
//! region = "garage"
//! access_key_id = "..."
//! secret_access_key = "..."
//! prefix = ""                         # optional key prefix inside the bucket
//! ```
//!
//! The file is parsed into a TOML table and walked by hand rather than
//! deserialised, so every error names the key path (`retention.raw`) and
//! says what was expected. A file that fails any check stops start-up:
//! a typo must not silently fall back to a default retention.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::notify::egress::{AllowRule, EgressConfig};
use stratus_tsdb::{Resolution, Retention};

/// What the config file sets; `None` fields were not in the file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FileConfig {
    pub server: ServerSection,
    /// Complete: keys missing from `[retention]` hold CloudWatch's defaults.
    pub retention: Retention,
    /// `[notify]`: the webhook egress policy's settings.
    pub notify: EgressConfig,
    /// `[cluster]`: present only in cluster mode.
    pub cluster: Option<ClusterSection>,
    /// `[firehose]`: where metric streams deliver, by delivery stream name.
    pub firehose: crate::metric_streams::Destinations,
}

/// The `[cluster]` table (and `[cluster.s3]`), checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSection {
    pub node_id: String,
    pub postgres_url: String,
    pub nats_urls: Vec<String>,
    pub log_replicas: usize,
    pub log_max_mib: u64,
    pub partitions: u32,
    pub partition_replicas: usize,
    pub roles: Vec<String>,
    pub commit_interval: Duration,
    pub lease_ttl: Duration,
    pub alarm_shards: u32,
    pub advertise_url: Option<String>,
    pub s3_endpoint: Option<String>,
    pub s3_bucket: String,
    pub s3_region: String,
    pub s3_access_key_id: String,
    pub s3_secret_access_key: String,
    pub s3_prefix: String,
}

impl ClusterSection {
    pub fn to_config(&self) -> stratus_cluster::ClusterConfig {
        let mut roles = stratus_cluster::Roles::none();
        for r in &self.roles {
            roles.set(r);
        }
        stratus_cluster::ClusterConfig {
            node_id: self.node_id.clone(),
            postgres_url: self.postgres_url.clone(),
            nats_urls: self.nats_urls.clone(),
            log_replicas: self.log_replicas,
            log_max_bytes: (self.log_max_mib as i64) << 20,
            partitions: self.partitions,
            partition_replicas: self.partition_replicas,
            roles,
            s3: stratus_cluster_s3::S3Config {
                endpoint: self.s3_endpoint.clone(),
                bucket: self.s3_bucket.clone(),
                region: self.s3_region.clone(),
                access_key_id: self.s3_access_key_id.clone(),
                secret_access_key: self.s3_secret_access_key.clone(),
                prefix: self.s3_prefix.clone(),
            },
            commit_interval: self.commit_interval,
            lease_ttl: self.lease_ttl,
            alarm_shards: self.alarm_shards,
            advertise_url: self.advertise_url.clone(),
        }
    }
}

/// The `[server]` table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerSection {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub public_url: Option<String>,
    pub smtp_url: Option<String>,
    pub smtp_from: Option<String>,
    pub sms_gateway_url: Option<String>,
    pub sms_sandbox: Option<bool>,
    pub recover: Option<bool>,
    pub header_read_timeout: Option<Duration>,
    pub idle_timeout: Option<Duration>,
    pub body_read_timeout: Option<Duration>,
    pub max_connections: Option<usize>,
    pub max_connections_per_ip: Option<usize>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

impl ServerSection {
    /// The TLS certificate and key, when the file names both.
    pub fn tls_files(&self) -> Option<crate::tls::TlsFiles> {
        Some(crate::tls::TlsFiles {
            cert: self.tls_cert.clone()?,
            key: self.tls_key.clone()?,
        })
    }

    /// The connection limits: the file's where set, else the defaults.
    pub fn connection_limits(&self) -> crate::connections::Limits {
        let d = crate::connections::Limits::default();
        crate::connections::Limits {
            header_read_timeout: self.header_read_timeout.unwrap_or(d.header_read_timeout),
            idle_timeout: self.idle_timeout.unwrap_or(d.idle_timeout),
            body_read_timeout: self.body_read_timeout.unwrap_or(d.body_read_timeout),
            max_connections: self.max_connections.or(d.max_connections),
            max_connections_per_ip: self
                .max_connections_per_ip
                .unwrap_or(d.max_connections_per_ip),
        }
    }
}

/// Why a config file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("config file {file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("config file {file}: not valid TOML: {message}")]
    Syntax { file: String, message: String },
    #[error("config file {file}: {key}: {message}")]
    Invalid {
        file: String,
        key: String,
        message: String,
    },
}

/// The longest retention accepted (keeps millisecond arithmetic far from overflow).
const MAX_RETENTION: Duration = Duration::from_secs(100 * 365 * 86_400);

const SERVER_KEYS: [&str; 15] = [
    "listen",
    "data_dir",
    "public_url",
    "smtp_url",
    "smtp_from",
    "sms_gateway_url",
    "sms_sandbox",
    "recover",
    "header_read_timeout",
    "idle_timeout",
    "body_read_timeout",
    "max_connections",
    "max_connections_per_ip",
    "tls_cert",
    "tls_key",
];
const RETENTION_KEYS: [(&str, Resolution); 4] = [
    ("raw", Resolution::Raw),
    ("one_minute", Resolution::OneMinute),
    ("five_minutes", Resolution::FiveMinutes),
    ("one_hour", Resolution::OneHour),
];

/// Reads and checks the config file at `path`.
pub fn load(path: &Path) -> Result<FileConfig, ConfigFileError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
        file: file.clone(),
        source,
    })?;
    parse(&text).map_err(|e| e.in_file(file))
}

/// A refusal before the file name is known.
#[derive(Debug, PartialEq)]
pub struct ParseError {
    /// Dotted key path; empty for syntax errors.
    pub key: String,
    pub message: String,
}

impl ParseError {
    fn at(key: impl Into<String>, message: impl Into<String>) -> Self {
        ParseError {
            key: key.into(),
            message: message.into(),
        }
    }

    fn in_file(self, file: String) -> ConfigFileError {
        if self.key.is_empty() {
            ConfigFileError::Syntax {
                file,
                message: self.message,
            }
        } else {
            ConfigFileError::Invalid {
                file,
                key: self.key,
                message: self.message,
            }
        }
    }
}

/// Parses and checks config file text.
pub fn parse(text: &str) -> Result<FileConfig, ParseError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ParseError::at("", e.to_string().trim_end().to_string()))?;
    let mut config = FileConfig::default();
    for (key, value) in &table {
        match key.as_str() {
            "server" => config.server = server_section(sub_table(key, value)?)?,
            "retention" => config.retention = retention_section(sub_table(key, value)?)?,
            "notify" => config.notify = notify_section(sub_table(key, value)?)?,
            "cluster" => config.cluster = Some(cluster_section(sub_table(key, value)?)?),
            "firehose" => config.firehose = firehose_section(sub_table(key, value)?)?,
            _ => {
                return Err(unknown(
                    key,
                    "tables are [server], [retention], [notify], [firehose] and [cluster]",
                ));
            }
        }
    }
    Ok(config)
}

fn unknown(path: &str, known: &str) -> ParseError {
    ParseError::at(path, format!("unknown key ({known})"))
}

fn sub_table<'a>(key: &str, value: &'a toml::Value) -> Result<&'a toml::Table, ParseError> {
    value
        .as_table()
        .ok_or_else(|| ParseError::at(key, format!("expected a table [{key}]")))
}

fn string<'a>(path: &str, value: &'a toml::Value) -> Result<&'a str, ParseError> {
    value.as_str().ok_or_else(|| {
        ParseError::at(
            path,
            format!("expected a string, found {}", value.type_str()),
        )
    })
}

fn server_section(table: &toml::Table) -> Result<ServerSection, ParseError> {
    let mut s = ServerSection::default();
    for (key, value) in table {
        let path = format!("server.{key}");
        let text = || string(&path, value).map(str::to_string);
        match key.as_str() {
            "listen" => {
                let addr = string(&path, value)?;
                s.listen = Some(addr.parse().map_err(|_| {
                    ParseError::at(
                        &path,
                        format!("{addr:?} is not an address and port like \"127.0.0.1:4566\""),
                    )
                })?);
            }
            "data_dir" => s.data_dir = Some(PathBuf::from(text()?)),
            "public_url" => s.public_url = Some(text()?),
            "smtp_url" => s.smtp_url = Some(text()?),
            "smtp_from" => s.smtp_from = Some(text()?),
            "sms_gateway_url" => s.sms_gateway_url = Some(text()?),
            "sms_sandbox" => {
                s.sms_sandbox = Some(value.as_bool().ok_or_else(|| {
                    ParseError::at(
                        &path,
                        format!("expected true or false, found {}", value.type_str()),
                    )
                })?);
            }
            "recover" => {
                s.recover = Some(value.as_bool().ok_or_else(|| {
                    ParseError::at(
                        &path,
                        format!("expected true or false, found {}", value.type_str()),
                    )
                })?);
            }
            "header_read_timeout" => s.header_read_timeout = Some(timeout(&path, value)?),
            "idle_timeout" => s.idle_timeout = Some(timeout(&path, value)?),
            "body_read_timeout" => s.body_read_timeout = Some(timeout(&path, value)?),
            "max_connections" => s.max_connections = Some(count(&path, value)?),
            "max_connections_per_ip" => s.max_connections_per_ip = Some(count(&path, value)?),
            "tls_cert" => s.tls_cert = Some(PathBuf::from(text()?)),
            "tls_key" => s.tls_key = Some(PathBuf::from(text()?)),
            _ => {
                return Err(unknown(
                    &path,
                    &format!("[server] takes {}", SERVER_KEYS.join(", ")),
                ));
            }
        }
    }
    if s.tls_cert.is_some() != s.tls_key.is_some() {
        let (set, missing) = if s.tls_cert.is_some() {
            ("tls_cert", "tls_key")
        } else {
            ("tls_key", "tls_cert")
        };
        return Err(ParseError::at(
            format!("server.{set}"),
            format!("needs server.{missing} as well"),
        ));
    }
    Ok(s)
}

fn notify_section(table: &toml::Table) -> Result<EgressConfig, ParseError> {
    let mut c = EgressConfig::default();
    for (key, value) in table {
        let path = format!("notify.{key}");
        match key.as_str() {
            "webhook_allow" => {
                let items = value.as_array().ok_or_else(|| {
                    ParseError::at(
                        &path,
                        format!("expected a list of strings, found {}", value.type_str()),
                    )
                })?;
                for (i, item) in items.iter().enumerate() {
                    let at = format!("{path}[{i}]");
                    let rule: AllowRule = string(&at, item)?.parse().map_err(
                        |e: crate::notify::egress::AllowRuleError| {
                            ParseError::at(&at, e.to_string())
                        },
                    )?;
                    c.webhook_allow.push(rule);
                }
            }
            "deny_private" => {
                c.deny_private = value.as_bool().ok_or_else(|| {
                    ParseError::at(
                        &path,
                        format!("expected true or false, found {}", value.type_str()),
                    )
                })?;
            }
            _ => {
                return Err(unknown(&path, "[notify] takes webhook_allow, deny_private"));
            }
        }
    }
    Ok(c)
}

/// `name = "URL"` or `name = { url = "URL", access_key = "KEY" }`.
fn firehose_section(
    table: &toml::Table,
) -> Result<crate::metric_streams::Destinations, ParseError> {
    use crate::metric_streams::{Endpoint, check_destination};
    let mut out = crate::metric_streams::Destinations::new();
    for (name, value) in table {
        let path = format!("firehose.{name}");
        let endpoint = match value {
            toml::Value::String(url) => Endpoint {
                url: url.clone(),
                access_key: None,
            },
            toml::Value::Table(t) => {
                let mut url = None;
                let mut access_key = None;
                for (k, v) in t {
                    let at = format!("{path}.{k}");
                    match k.as_str() {
                        "url" => url = Some(string(&at, v)?.to_string()),
                        "access_key" => access_key = Some(string(&at, v)?.to_string()),
                        _ => return Err(unknown(&at, "a destination takes url, access_key")),
                    }
                }
                Endpoint {
                    url: url.ok_or_else(|| ParseError::at(&path, "needs url".to_string()))?,
                    access_key,
                }
            }
            other => {
                return Err(ParseError::at(
                    &path,
                    format!(
                        "expected a URL string or a table {{ url, access_key }}, found {}",
                        other.type_str()
                    ),
                ));
            }
        };
        check_destination(name, &endpoint.url).map_err(|e| ParseError::at(&path, e))?;
        out.insert(name.clone(), endpoint);
    }
    Ok(out)
}

const CLUSTER_KEYS: &str = "node_id, postgres_url, nats_urls, log_replicas, log_max_mib, partitions, \
     partition_replicas, roles, commit_interval, lease_ttl, alarm_shards, advertise_url and the table [cluster.s3]";
const CLUSTER_S3_KEYS: &str = "endpoint, bucket, region, access_key_id, secret_access_key, prefix";

fn string_list(path: &str, value: &toml::Value) -> Result<Vec<String>, ParseError> {
    let items = value.as_array().ok_or_else(|| {
        ParseError::at(
            path,
            format!("expected a list of strings, found {}", value.type_str()),
        )
    })?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| string(&format!("{path}[{i}]"), item).map(str::to_string))
        .collect()
}

fn cluster_section(table: &toml::Table) -> Result<ClusterSection, ParseError> {
    let mut node_id = None;
    let mut postgres_url = None;
    let mut nats_urls = None;
    let mut s3 = None;
    let mut c = ClusterSection {
        node_id: String::new(),
        postgres_url: String::new(),
        nats_urls: Vec::new(),
        log_replicas: 3,
        log_max_mib: (stratus_cluster::ClusterConfig::DEFAULT_LOG_MAX_BYTES >> 20) as u64,
        partitions: stratus_cluster::ClusterConfig::DEFAULT_PARTITIONS,
        partition_replicas: stratus_cluster::ClusterConfig::DEFAULT_PARTITION_REPLICAS,
        roles: stratus_cluster::Roles::all().names(),
        commit_interval: stratus_cluster::ClusterConfig::DEFAULT_COMMIT_INTERVAL,
        lease_ttl: stratus_cluster::ClusterConfig::DEFAULT_LEASE_TTL,
        alarm_shards: stratus_cluster::ClusterConfig::DEFAULT_ALARM_SHARDS,
        advertise_url: None,
        s3_endpoint: None,
        s3_bucket: String::new(),
        s3_region: "us-east-1".into(),
        s3_access_key_id: String::new(),
        s3_secret_access_key: String::new(),
        s3_prefix: String::new(),
    };
    for (key, value) in table {
        let path = format!("cluster.{key}");
        let text = || string(&path, value).map(str::to_string);
        match key.as_str() {
            "node_id" => {
                let id = text()?;
                if id.is_empty()
                    || id.len() > 64
                    || !id
                        .chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
                {
                    return Err(ParseError::at(
                        &path,
                        "expected 1 to 64 letters, digits, '-', '_' or '.'",
                    ));
                }
                node_id = Some(id);
            }
            "postgres_url" => postgres_url = Some(text()?),
            "nats_urls" => {
                let urls = string_list(&path, value)?;
                if urls.is_empty() {
                    return Err(ParseError::at(&path, "needs at least one URL"));
                }
                nats_urls = Some(urls);
            }
            "log_replicas" => {
                c.log_replicas = count(&path, value)?;
                if c.log_replicas > 5 {
                    return Err(ParseError::at(&path, "JetStream allows at most 5 replicas"));
                }
            }
            "log_max_mib" => {
                c.log_max_mib = count(&path, value)? as u64;
                if c.log_max_mib > 1 << 30 {
                    return Err(ParseError::at(&path, "at most 1073741824 (1 PiB)"));
                }
            }
            "partitions" => {
                c.partitions = u32::try_from(count(&path, value)?)
                    .ok()
                    .filter(|n| *n <= 4096)
                    .ok_or_else(|| ParseError::at(&path, "at most 4096"))?;
            }
            "partition_replicas" => {
                c.partition_replicas = count(&path, value)?;
                if !(1..=16).contains(&c.partition_replicas) {
                    return Err(ParseError::at(&path, "between 1 and 16"));
                }
            }
            "alarm_shards" => {
                c.alarm_shards = u32::try_from(count(&path, value)?)
                    .ok()
                    .filter(|n| *n <= 4096)
                    .ok_or_else(|| ParseError::at(&path, "at most 4096"))?;
            }
            "roles" => {
                let roles = string_list(&path, value)?;
                let mut check = stratus_cluster::Roles::none();
                for (i, r) in roles.iter().enumerate() {
                    if !check.set(r) {
                        return Err(ParseError::at(
                            format!("{path}[{i}]"),
                            format!(
                                "unknown role {r:?} (roles are {})",
                                stratus_cluster::Roles::NAMES.join(", ")
                            ),
                        ));
                    }
                }
                if roles.is_empty() {
                    return Err(ParseError::at(&path, "needs at least one role"));
                }
                c.roles = roles;
            }
            "commit_interval" => c.commit_interval = timeout(&path, value)?,
            "lease_ttl" => {
                c.lease_ttl = timeout(&path, value)?;
                if c.lease_ttl < Duration::from_secs(3) {
                    return Err(ParseError::at(&path, "at least 3s"));
                }
            }
            "advertise_url" => c.advertise_url = Some(text()?),
            "s3" => {
                let t = sub_table(&path, value)?;
                let mut bucket = None;
                let mut access = None;
                let mut secret = None;
                for (k, v) in t {
                    let p = format!("cluster.s3.{k}");
                    let text = || string(&p, v).map(str::to_string);
                    match k.as_str() {
                        "endpoint" => c.s3_endpoint = Some(text()?),
                        "bucket" => bucket = Some(text()?),
                        "region" => c.s3_region = text()?,
                        "access_key_id" => access = Some(text()?),
                        "secret_access_key" => secret = Some(text()?),
                        "prefix" => c.s3_prefix = text()?,
                        _ => {
                            return Err(unknown(
                                &p,
                                &format!("[cluster.s3] takes {CLUSTER_S3_KEYS}"),
                            ));
                        }
                    }
                }
                c.s3_bucket =
                    bucket.ok_or_else(|| ParseError::at("cluster.s3.bucket", "is required"))?;
                c.s3_access_key_id = access
                    .ok_or_else(|| ParseError::at("cluster.s3.access_key_id", "is required"))?;
                c.s3_secret_access_key = secret
                    .ok_or_else(|| ParseError::at("cluster.s3.secret_access_key", "is required"))?;
                s3 = Some(());
            }
            _ => return Err(unknown(&path, &format!("[cluster] takes {CLUSTER_KEYS}"))),
        }
    }
    c.node_id = node_id.ok_or_else(|| ParseError::at("cluster.node_id", "is required"))?;
    c.postgres_url =
        postgres_url.ok_or_else(|| ParseError::at("cluster.postgres_url", "is required"))?;
    c.nats_urls = nats_urls.ok_or_else(|| ParseError::at("cluster.nats_urls", "is required"))?;
    s3.ok_or_else(|| ParseError::at("cluster.s3", "the table [cluster.s3] is required"))?;
    Ok(c)
}

/// Connection timeouts: a humane duration of at most a day.
fn timeout(path: &str, value: &toml::Value) -> Result<Duration, ParseError> {
    let d = parse_duration(string(path, value)?).map_err(|m| ParseError::at(path, m))?;
    if d > Duration::from_secs(86_400) {
        return Err(ParseError::at(path, "longer than a day"));
    }
    Ok(d)
}

/// Connection counts: a positive integer.
fn count(path: &str, value: &toml::Value) -> Result<usize, ParseError> {
    value
        .as_integer()
        .filter(|n| *n >= 1)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| {
            let found = match value.as_integer() {
                Some(n) => n.to_string(),
                None => format!("a {}", value.type_str()),
            };
            ParseError::at(
                path,
                format!("expected a whole number of at least 1, found {found}"),
            )
        })
}

fn retention_section(table: &toml::Table) -> Result<Retention, ParseError> {
    let mut r = Retention::default();
    for (key, value) in table {
        let path = format!("retention.{key}");
        let Some(&(_, res)) = RETENTION_KEYS.iter().find(|(k, _)| k == key) else {
            let names: Vec<&str> = RETENTION_KEYS.iter().map(|(k, _)| *k).collect();
            return Err(unknown(
                &path,
                &format!("[retention] takes {}", names.join(", ")),
            ));
        };
        let d = parse_duration(string(&path, value)?).map_err(|m| ParseError::at(&path, m))?;
        if d > MAX_RETENTION {
            return Err(ParseError::at(&path, "longer than 100 years"));
        }
        let window = Duration::from_millis(res.window_ms().unsigned_abs());
        if d < window {
            return Err(ParseError::at(
                &path,
                format!(
                    "{} is shorter than {}, the time one file of this resolution covers: \
                     expiry drops whole files, so data would be kept up to twice as long as asked",
                    show(d),
                    show(window)
                ),
            ));
        }
        *slot(&mut r, res) = Some(d);
    }
    // Each resolution is made from the finer one when that expires: a
    // coarser one kept for less would be expired before it ever held data.
    for pair in RETENTION_KEYS.windows(2) {
        let (finer, coarser) = (pair[0], pair[1]);
        let (f, c) = (*slot(&mut r, finer.1), *slot(&mut r, coarser.1));
        if let (Some(f), Some(c)) = (f, c)
            && c < f
        {
            return Err(ParseError::at(
                format!("retention.{}", coarser.0),
                format!(
                    "{} is shorter than retention.{} ({}): data moves to a coarser resolution \
                     when the finer one expires, so each must be kept at least as long as the finer one",
                    show(c),
                    finer.0,
                    show(f)
                ),
            ));
        }
    }
    Ok(r)
}

fn slot(r: &mut Retention, res: Resolution) -> &mut Option<Duration> {
    match res {
        Resolution::Raw => &mut r.raw,
        Resolution::OneMinute => &mut r.one_minute,
        Resolution::FiveMinutes => &mut r.five_minutes,
        Resolution::OneHour => &mut r.one_hour,
    }
}

const UNITS: [(char, u64); 5] = [
    ('w', 7 * 86_400),
    ('d', 86_400),
    ('h', 3600),
    ('m', 60),
    ('s', 1),
];

/// Parses a humane duration: one or more `<integer><unit>` terms, units
/// `w`, `d`, `h`, `m`, `s` ("3h", "15d", "1d12h").
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "{text:?} is not a duration: expected a whole number and a unit \
             (s, m, h, d or w), e.g. \"3h\", \"15d\", \"1d12h\""
        )
    };
    let mut total: u64 = 0;
    let mut digits = String::new();
    let mut terms = 0;
    for ch in text.trim().chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
            continue;
        }
        let per = UNITS
            .iter()
            .find(|(u, _)| *u == ch)
            .map(|(_, s)| *s)
            .ok_or_else(bad)?;
        let n: u64 = digits.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(per)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(bad)?;
        digits.clear();
        terms += 1;
    }
    if terms == 0 || !digits.is_empty() {
        return Err(bad());
    }
    if total == 0 {
        return Err(format!("{text:?}: a retention must be longer than zero"));
    }
    Ok(Duration::from_secs(total))
}

/// The largest unit up to days that divides `d` exactly ("15d", "90m").
fn show(d: Duration) -> String {
    let secs = d.as_secs();
    let (unit, per) = UNITS[1..]
        .iter()
        .find(|(_, per)| secs.is_multiple_of(*per))
        .copied()
        .unwrap_or(('s', 1));
    format!("{}{unit}", secs / per)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> ParseError {
        parse(text).expect_err(text)
    }

    #[test]
    fn empty_file_means_cloudwatch_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c, FileConfig::default());
        assert_eq!(c.retention, Retention::default());
    }

    #[test]
    fn connection_limits_are_read_and_checked() {
        let c = parse(
            r#"
            [server]
            header_read_timeout = "5s"
            idle_timeout = "3m"
            body_read_timeout = "30s"
            max_connections = 2000
            max_connections_per_ip = 100
            "#,
        )
        .unwrap();
        let l = c.server.connection_limits();
        assert_eq!(l.header_read_timeout, Duration::from_secs(5));
        assert_eq!(l.idle_timeout, Duration::from_secs(180));
        assert_eq!(l.body_read_timeout, Duration::from_secs(30));
        assert_eq!(
            (l.max_connections, l.max_connections_per_ip),
            (Some(2000), 100)
        );
        assert_eq!(
            parse("").unwrap().server.connection_limits(),
            crate::connections::Limits::default()
        );
        for (text, key) in [
            ("[server]\nidle_timeout = 120", "server.idle_timeout"),
            ("[server]\nidle_timeout = \"0s\"", "server.idle_timeout"),
            (
                "[server]\nheader_read_timeout = \"2d\"",
                "server.header_read_timeout",
            ),
            ("[server]\nmax_connections = 0", "server.max_connections"),
            (
                "[server]\nmax_connections_per_ip = \"9\"",
                "server.max_connections_per_ip",
            ),
        ] {
            assert_eq!(refused(text).key, key, "{text}");
        }
    }

    #[test]
    fn full_file_is_read() {
        let c = parse(
            r#"
            [server]
            listen = "0.0.0.0:4566"
            data_dir = "/var/lib/stratus"
            public_url = "https://mon.example.com"
            smtp_url = "smtp://relay:25"
            smtp_from = "S <s@example.com>"

            [retention]
            raw = "6h"
            one_minute = "1d12h"
            five_minutes = "8w"
            one_hour = "455d"
            "#,
        )
        .unwrap();
        assert_eq!(c.server.listen, Some("0.0.0.0:4566".parse().unwrap()));
        assert_eq!(c.server.data_dir, Some(PathBuf::from("/var/lib/stratus")));
        assert_eq!(c.server.smtp_url.as_deref(), Some("smtp://relay:25"));
        let h = |n: u64| Some(Duration::from_secs(n * 3600));
        assert_eq!(c.retention.raw, h(6));
        assert_eq!(c.retention.one_minute, h(36));
        assert_eq!(c.retention.five_minutes, h(56 * 24));
        assert_eq!(c.retention.one_hour, h(455 * 24));
    }

    #[test]
    fn recover_is_a_boolean() {
        assert_eq!(parse("").unwrap().server.recover, None);
        let c = parse("[server]\nrecover = true\n").unwrap();
        assert_eq!(c.server.recover, Some(true));
        let e = parse("[server]\nrecover = \"yes\"\n").unwrap_err();
        assert_eq!(e.key, "server.recover");
        assert!(
            e.message.contains("expected true or false"),
            "{}",
            e.message
        );
    }

    #[test]
    fn missing_retention_keys_keep_their_defaults() {
        let c = parse("[retention]\none_hour = \"730d\"\n").unwrap();
        assert_eq!(c.retention.raw, Retention::default().raw);
        assert_eq!(
            c.retention.one_hour,
            Some(Duration::from_secs(730 * 86_400))
        );
    }

    #[test]
    fn broken_configs_are_refused_naming_the_key() {
        let cases: [(&str, &str, &str); 10] = [
            (
                "[retention]\nraww = \"3h\"\n",
                "retention.raww",
                "unknown key",
            ),
            ("[server]\nport = 80\n", "server.port", "unknown key"),
            ("[storage]\n", "storage", "unknown key"),
            (
                "[retention]\nraw = \"3 hours\"\n",
                "retention.raw",
                "not a duration",
            ),
            (
                "[retention]\nraw = 3\n",
                "retention.raw",
                "expected a string",
            ),
            (
                "[retention]\none_minute = \"0d\"\n",
                "retention.one_minute",
                "longer than zero",
            ),
            (
                "[retention]\nraw = \"30m\"\n",
                "retention.raw",
                "shorter than 1h, the time one file",
            ),
            (
                "[retention]\none_hour = \"30d\"\n",
                "retention.one_hour",
                "shorter than retention.five_minutes (63d)",
            ),
            (
                "[retention]\nraw = \"20d\"\n",
                "retention.one_minute",
                "shorter than retention.raw (20d)",
            ),
            (
                "[server]\nlisten = \"localhost\"\n",
                "server.listen",
                "not an address",
            ),
        ];
        for (text, key, message) in cases {
            let e = refused(text);
            assert_eq!(e.key, key, "{text}");
            assert!(e.message.contains(message), "{text}: {}", e.message);
        }
    }

    #[test]
    fn the_firehose_table_maps_delivery_streams_to_endpoints() {
        use crate::metric_streams::Endpoint;
        let c = parse(
            "[firehose]\na = \"http://127.0.0.1:9000/fh\"\nb = { url = \"https://x.example/f\", access_key = \"k\" }\n",
        )
        .unwrap();
        assert_eq!(
            c.firehose.get("a"),
            Some(&Endpoint {
                url: "http://127.0.0.1:9000/fh".into(),
                access_key: None
            })
        );
        assert_eq!(c.firehose["b"].access_key.as_deref(), Some("k"));
        for (text, key, message) in [
            ("[firehose]\na = 1\n", "firehose.a", "expected a URL string"),
            (
                "[firehose]\na = \"ftp://h/x\"\n",
                "firehose.a",
                "not an http",
            ),
            (
                "[firehose]\na = { access_key = \"k\" }\n",
                "firehose.a",
                "needs url",
            ),
            (
                "[firehose]\na = { url = \"http://h/\", key = \"k\" }\n",
                "firehose.a.key",
                "unknown key",
            ),
        ] {
            let e = refused(text);
            assert_eq!(e.key, key, "{text}");
            assert!(e.message.contains(message), "{text}: {}", e.message);
        }
        let (name, ep) = crate::metric_streams::parse_destination_flag("s=http://h:1/p").unwrap();
        assert_eq!((name.as_str(), ep.url.as_str()), ("s", "http://h:1/p"));
        assert!(crate::metric_streams::parse_destination_flag("no-equals").is_err());
    }

    #[test]
    fn the_notify_table_sets_the_webhook_egress_policy() {
        let c = parse(
            "[notify]\nwebhook_allow = [\"127.0.0.1:9000\", \"10.1.0.0/16\"]\ndeny_private = true\n",
        )
        .unwrap();
        let shown: Vec<String> = c
            .notify
            .webhook_allow
            .iter()
            .map(|r| r.to_string())
            .collect();
        assert_eq!(shown, ["127.0.0.1:9000", "10.1.0.0/16"]);
        assert!(c.notify.deny_private);
        assert_eq!(parse("").unwrap().notify, EgressConfig::default());
        for (text, key, message) in [
            (
                "[notify]\nwebhook_allow = [\"127.0.0.1\", \"localhost:9000\"]\n",
                "notify.webhook_allow[1]",
                "host names are not accepted",
            ),
            (
                "[notify]\nwebhook_allow = \"127.0.0.1\"\n",
                "notify.webhook_allow",
                "expected a list of strings",
            ),
            (
                "[notify]\nwebhook_allow = [1]\n",
                "notify.webhook_allow[0]",
                "expected a string",
            ),
            (
                "[notify]\ndeny_private = \"yes\"\n",
                "notify.deny_private",
                "expected true or false",
            ),
            ("[notify]\nallow = []\n", "notify.allow", "unknown key"),
        ] {
            let e = refused(text);
            assert_eq!(e.key, key, "{text}");
            assert!(e.message.contains(message), "{text}: {}", e.message);
        }
    }

    #[test]
    fn syntax_errors_are_refused() {
        let e = refused("[retention\nraw = \"3h\"");
        assert_eq!(e.key, "");
        assert!(!e.message.is_empty());
        let e = refused("server = 1\n");
        assert_eq!(e.key, "server");
    }

    #[test]
    fn the_packaged_example_is_valid_and_keeps_cloudwatch_retention() {
        let c = parse(include_str!("../../../packaging/server.toml")).unwrap();
        assert_eq!(c.retention, Retention::default());
        assert_eq!(c.server.listen, Some("127.0.0.1:4566".parse().unwrap()));
        assert_eq!(c.server.data_dir, Some(PathBuf::from("/var/lib/stratus")));
        // Uncommenting the retention lines changes nothing either.
        let uncommented = include_str!("../../../packaging/server.toml")
            .lines()
            .map(|l| {
                l.strip_prefix("# ")
                    .filter(|r| r.contains(" = \""))
                    .unwrap_or(l)
            })
            .filter(|l| {
                !l.contains("smtp_url") && !l.contains("public_url") && !l.contains("smtp_from")
            })
            .collect::<Vec<_>>()
            .join("\n");
        let c = parse(&uncommented).unwrap();
        assert_eq!(c.retention, Retention::default());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(14 * 86_400)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        for bad in ["", "h", "3", "3x", "-3h", "3.5h", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(show(Duration::from_secs(63 * 86_400)), "63d");
        assert_eq!(show(Duration::from_secs(15 * 86_400)), "15d");
    }

    #[test]
    fn the_file_name_is_in_the_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.toml");
        std::fs::write(&path, "[retention]\nraw = \"1x\"\n").unwrap();
        let msg = load(&path).unwrap_err().to_string();
        assert!(
            msg.contains("server.toml: retention.raw: \"1x\" is not a duration"),
            "{msg}"
        );
        let msg = load(&dir.path().join("absent.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("absent.toml"), "{msg}");
    }
}
