//! The amazon-cloudwatch-agent JSON config (`agent`, `metrics` and `logs` sections),
//! parsed into typed, validated structs. Anything the agent cannot honour is
//! refused at start with the JSON path of the offending key, e.g.
//! `metrics.metrics_collected.disk.measurement[1]: unknown measurement ...`.

mod catalog;
mod logs;
mod raw;
mod validate;

pub use logs::{
    DEFAULT_EMF_ADDRESS, DEFAULT_EMF_GROUP, DEFAULT_LOGS_FLUSH, DEFAULT_STREAM_TEMPLATE, EmfConfig,
    Encoding, FileCollect, LogFilter, LogTimezone, LogsSection, MultiLineStart, RETENTION_DAYS,
};

pub use catalog::{HOST_PLUGINS, default_unit, known_fields, metric_name, resolve_field};

use crate::collect::PluginOptions;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default of `agent.profile`: the profile the stock agent reads on premises.
pub const DEFAULT_PROFILE: &str = "AmazonCloudWatchAgent";
/// Default of `agent.imds_endpoint`.
pub const DEFAULT_IMDS_ENDPOINT: &str = "http://169.254.169.254";
/// Default of `metrics.namespace`.
pub const DEFAULT_NAMESPACE: &str = "CWAgent";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config is not valid JSON: {0}")]
    Syntax(String),
    /// A key, value or section the agent refuses; `path` is the JSON path.
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

impl ConfigError {
    pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The JSON path the error is about (`None` for I/O and syntax errors).
    pub fn path(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { path, .. } => Some(path),
            _ => None,
        }
    }
}

/// A validated config.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub agent: AgentSection,
    /// Empty (no plugin, no statsd) when the config has only a `logs` section.
    pub metrics: MetricsSection,
    pub logs: Option<LogsSection>,
    /// Keys accepted for compatibility but without effect here, as
    /// `(json path, why)`; the runtime logs one line for each.
    pub ignored: Vec<(String, &'static str)>,
}

#[derive(Debug, Clone)]
pub struct AgentSection {
    /// `metrics_collection_interval` (default 60 s).
    pub interval: Duration,
    pub region: Option<String>,
    /// `logfile`; `None` (absent or `""`) logs to stderr.
    pub logfile: Option<PathBuf>,
    pub debug: bool,
    pub omit_hostname: bool,
    /// Accepted and ignored (the agent runs as whoever starts it).
    pub run_as_user: Option<String>,
    pub credentials_file: Option<PathBuf>,
    /// `profile`, default [`DEFAULT_PROFILE`].
    pub profile: String,
    pub spool_dir: Option<PathBuf>,
    pub spool_max_bytes: Option<u64>,
    /// Value of `${aws:InstanceId}` off EC2 (before the machine id).
    pub instance_id: Option<String>,
    /// IMDS base URL, default [`DEFAULT_IMDS_ENDPOINT`].
    pub imds_endpoint: String,
    /// `auth_failure_max_age` (seconds, default 24 h): how old a batch the
    /// endpoint refuses for authentication may get before it is dropped.
    pub auth_failure_max_age: Duration,
}

#[derive(Debug, Clone)]
pub struct MetricsSection {
    pub namespace: String,
    /// Global `append_dimensions`, sorted by name.
    pub append_dimensions: Vec<(String, DimensionValue)>,
    pub aggregation_dimensions: Vec<Vec<String>>,
    /// `force_flush_interval` (default 60 s).
    pub force_flush_interval: Duration,
    pub endpoint_override: Option<String>,
    /// Host plugins, in a stable order (procstat entries one each).
    pub plugins: Vec<PluginConfig>,
    pub statsd: Option<StatsdConfig>,
}

impl MetricsSection {
    /// The section of a logs-only config: nothing collected.
    pub fn none() -> MetricsSection {
        MetricsSection {
            namespace: DEFAULT_NAMESPACE.to_owned(),
            append_dimensions: Vec::new(),
            aggregation_dimensions: Vec::new(),
            force_flush_interval: Duration::from_secs(60),
            endpoint_override: None,
            plugins: Vec::new(),
            statsd: None,
        }
    }

    /// Whether anything is collected (plugins or statsd).
    pub fn is_empty(&self) -> bool {
        self.plugins.is_empty() && self.statsd.is_none()
    }
}

/// A value in an `append_dimensions` map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DimensionValue {
    Literal(String),
    /// `${aws:...}`: resolved once at start from instance metadata.
    Ec2(Ec2Placeholder),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ec2Placeholder {
    InstanceId,
    InstanceType,
    ImageId,
    AutoScalingGroupName,
    /// Disk plugin only in the stock agent (EBS volume of the device).
    VolumeId,
}

impl Ec2Placeholder {
    pub fn parse(value: &str) -> Option<Result<Ec2Placeholder, String>> {
        let name = value.strip_prefix("${aws:")?.strip_suffix('}')?;
        Some(match name {
            "InstanceId" => Ok(Ec2Placeholder::InstanceId),
            "InstanceType" => Ok(Ec2Placeholder::InstanceType),
            "ImageId" => Ok(Ec2Placeholder::ImageId),
            "AutoScalingGroupName" => Ok(Ec2Placeholder::AutoScalingGroupName),
            "VolumeId" => Ok(Ec2Placeholder::VolumeId),
            other => Err(other.to_owned()),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Ec2Placeholder::InstanceId => "${aws:InstanceId}",
            Ec2Placeholder::InstanceType => "${aws:InstanceType}",
            Ec2Placeholder::ImageId => "${aws:ImageId}",
            Ec2Placeholder::AutoScalingGroupName => "${aws:AutoScalingGroupName}",
            Ec2Placeholder::VolumeId => "${aws:VolumeId}",
        }
    }
}

/// One host plugin instance (one per `procstat` array entry).
#[derive(Debug, Clone)]
pub struct PluginConfig {
    /// `cpu`, `disk`, ... (one of [`HOST_PLUGINS`]).
    pub plugin: &'static str,
    /// Name for logs: the plugin, or `procstat[2]`.
    pub label: String,
    pub interval: Duration,
    pub measurements: Vec<Measurement>,
    /// Plugin-level `append_dimensions`, sorted by name.
    pub append_dimensions: Vec<(String, DimensionValue)>,
    /// What the collector needs (fields, resources, interval...).
    pub options: PluginOptions,
}

/// One configured measurement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measurement {
    /// Collector field name (no prefix).
    pub field: &'static str,
    /// Published name: `<plugin>_<field>` or the `rename`.
    pub metric_name: String,
    /// CloudWatch unit: the `unit` override or the stock default.
    pub unit: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsdConfig {
    /// `service_address`, default `:8125` (all interfaces).
    pub service_address: String,
    /// `metrics_collection_interval`, default 10 s.
    pub interval: Duration,
    /// `metrics_aggregation_interval`, default 60 s; zero = no aggregation.
    pub aggregation_interval: Duration,
}

impl AgentConfig {
    /// Whether the config collects metrics (a plugin or statsd): a config
    /// with only a `logs` section starts no metrics shipper.
    pub fn has_metrics(&self) -> bool {
        !self.metrics.plugins.is_empty() || self.metrics.statsd.is_some()
    }

    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<AgentConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        AgentConfig::parse(&text)
    }

    /// Parses and validates config JSON.
    pub fn parse(json: &str) -> Result<AgentConfig, ConfigError> {
        let mut de = serde_json::Deserializer::from_str(json);
        let raw: raw::RawConfig = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if matches!(
                inner.classify(),
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof
            ) {
                ConfigError::Syntax(inner.to_string())
            } else {
                ConfigError::invalid(path, inner.to_string())
            }
        })?;
        de.end().map_err(|e| ConfigError::Syntax(e.to_string()))?;
        validate::validate(raw)
    }

    /// Every interval group's length, deduplicated and sorted.
    pub fn intervals(&self) -> Vec<Duration> {
        let mut v: Vec<Duration> = self.metrics.plugins.iter().map(|p| p.interval).collect();
        v.sort();
        v.dedup();
        v
    }

    /// Whether any `append_dimensions` value is an EC2 placeholder.
    pub fn uses_ec2_placeholders(&self) -> bool {
        let any = |d: &[(String, DimensionValue)]| {
            d.iter().any(|(_, v)| matches!(v, DimensionValue::Ec2(_)))
        };
        any(&self.metrics.append_dimensions)
            || self
                .metrics
                .plugins
                .iter()
                .any(|p| any(&p.append_dimensions))
    }
}

#[cfg(test)]
mod tests;
