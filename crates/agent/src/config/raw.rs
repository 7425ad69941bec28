//! The JSON exactly as written: serde structs that mirror the
//! amazon-cloudwatch-agent schema (`translator/config/schema.json`). Every
//! struct denies unknown fields so a typo is refused with its JSON path;
//! meaning (defaults, units, placeholders) is applied in `validate`.

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub agent: Option<RawAgent>,
    pub metrics: Option<RawMetrics>,
    pub logs: Option<super::logs::RawLogs>,
    // Sections of the stock schema this agent does not implement: present
    // here so they are refused with a clear message rather than "unknown".
    pub traces: Option<IgnoredAny>,
    pub opentelemetry: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAgent {
    pub metrics_collection_interval: Option<u64>,
    pub region: Option<String>,
    pub logfile: Option<String>,
    pub debug: Option<bool>,
    pub omit_hostname: Option<bool>,
    pub run_as_user: Option<String>,
    pub credentials: Option<RawRoleCredentials>,
    // Stock keys with no effect here (SDK wire logs, telemetry, entity
    // metadata): accepted so stock configs load, and named in the log.
    pub aws_sdk_log_level: Option<String>,
    pub internal: Option<bool>,
    pub quiet: Option<bool>,
    pub user_agent: Option<String>,
    pub usage_data: Option<bool>,
    #[serde(rename = "service.name")]
    pub service_name: Option<String>,
    #[serde(rename = "deployment.environment")]
    pub deployment_environment: Option<String>,
    // Stratus additions.
    pub credentials_file: Option<String>,
    pub profile: Option<String>,
    pub spool_dir: Option<String>,
    pub spool_max_bytes: Option<u64>,
    pub instance_id: Option<String>,
    pub imds_endpoint: Option<String>,
    pub auth_failure_max_age: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoleCredentials {
    pub role_arn: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMetrics {
    pub namespace: Option<String>,
    pub append_dimensions: Option<BTreeMap<String, String>>,
    pub aggregation_dimensions: Option<Vec<Vec<String>>>,
    pub force_flush_interval: Option<u64>,
    pub endpoint_override: Option<String>,
    pub metrics_collected: RawCollected,
    pub credentials: Option<RawRoleCredentials>,
    pub metrics_destinations: Option<BTreeMap<String, IgnoredAny>>,
    #[serde(rename = "service.name")]
    pub service_name: Option<String>,
    #[serde(rename = "deployment.environment")]
    pub deployment_environment: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCollected {
    pub cpu: Option<RawCpu>,
    pub disk: Option<RawDisk>,
    pub diskio: Option<RawDevices>,
    pub mem: Option<RawBasic>,
    pub swap: Option<RawBasic>,
    pub net: Option<RawDevices>,
    pub netstat: Option<RawBasic>,
    pub processes: Option<RawBasic>,
    pub procstat: Option<Vec<RawProcstat>>,
    pub statsd: Option<RawStatsd>,
    // Stock plugins this agent does not implement (refused by name).
    pub collectd: Option<IgnoredAny>,
    pub ethtool: Option<IgnoredAny>,
    pub nvidia_gpu: Option<IgnoredAny>,
    pub jmx: Option<IgnoredAny>,
    pub otlp: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCpu {
    pub measurement: Vec<RawMeasurement>,
    pub metrics_collection_interval: Option<u64>,
    pub append_dimensions: Option<BTreeMap<String, String>>,
    pub resources: Option<Vec<String>>,
    pub totalcpu: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDisk {
    pub measurement: Vec<RawMeasurement>,
    pub metrics_collection_interval: Option<u64>,
    pub append_dimensions: Option<BTreeMap<String, String>>,
    pub resources: Option<Vec<String>>,
    pub drop_device: Option<bool>,
    pub ignore_file_system_types: Option<Vec<String>>,
}

/// `diskio` and `net`: devices / interfaces selected by `resources`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDevices {
    pub measurement: Vec<RawMeasurement>,
    pub metrics_collection_interval: Option<u64>,
    pub append_dimensions: Option<BTreeMap<String, String>>,
    pub resources: Option<Vec<String>>,
}

/// `mem`, `swap`, `netstat`, `processes`: no plugin options.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBasic {
    pub measurement: Vec<RawMeasurement>,
    pub metrics_collection_interval: Option<u64>,
    pub append_dimensions: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProcstat {
    pub pid_file: Option<String>,
    pub exe: Option<String>,
    pub pattern: Option<String>,
    pub measurement: Vec<RawMeasurement>,
    pub metrics_collection_interval: Option<u64>,
    pub append_dimensions: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStatsd {
    pub service_address: Option<String>,
    pub metrics_collection_interval: Option<u64>,
    pub metrics_aggregation_interval: Option<u64>,
}

/// A `measurement` entry: `"used_percent"` or
/// `{"name": "used_percent", "rename": "DiskUse", "unit": "Percent"}`.
#[derive(Debug)]
pub(crate) struct RawMeasurement {
    pub name: String,
    pub rename: Option<String>,
    pub unit: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeasurementObject {
    name: String,
    rename: Option<String>,
    unit: Option<String>,
}

impl<'de> Deserialize<'de> for RawMeasurement {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Hand-written rather than `untagged` so a bad object reports its own
        // field error (and path) instead of "did not match any variant".
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawMeasurement;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a measurement name or an object {name, rename, unit}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawMeasurement, E> {
                Ok(RawMeasurement {
                    name: v.to_owned(),
                    rename: None,
                    unit: None,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawMeasurement, A::Error> {
                let o =
                    RawMeasurementObject::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawMeasurement {
                    name: o.name,
                    rename: o.rename,
                    unit: o.unit,
                })
            }
        }
        d.deserialize_any(V)
    }
}
