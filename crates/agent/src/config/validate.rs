//! Raw JSON → validated `AgentConfig`: defaults, ranges from the stock
//! schema, measurement names, units and placeholders. Every refusal names the
//! JSON path it is about.

use super::raw::{
    RawAgent, RawBasic, RawConfig, RawCpu, RawDevices, RawDisk, RawMeasurement, RawMetrics,
    RawProcstat, RawStatsd,
};
use super::{
    AgentConfig, AgentSection, ConfigError, DEFAULT_IMDS_ENDPOINT, DEFAULT_NAMESPACE,
    DEFAULT_PROFILE, DimensionValue, Ec2Placeholder, Measurement, MetricsSection, PluginConfig,
    StatsdConfig, catalog,
};
use crate::collect::{PluginOptions, ProcstatSelector};
use crate::ship::DEFAULT_AUTH_FAILURE_MAX_AGE;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

type Result<T, E = ConfigError> = std::result::Result<T, E>;

/// Schema bound for every interval (seconds).
const MAX_INTERVAL_S: u64 = 172_800;
const MAX_DIMENSIONS: usize = 30;
/// `agent.auth_failure_max_age` bound (seconds): 30 days.
const MAX_AUTH_FAILURE_MAX_AGE: u64 = 30 * 86_400;

pub(super) fn validate(raw: RawConfig) -> Result<AgentConfig> {
    for (present, key) in [
        (raw.traces.is_some(), "traces"),
        (raw.opentelemetry.is_some(), "opentelemetry"),
    ] {
        if present {
            return Err(ConfigError::invalid(
                key,
                format!(
                    "the {key} section is not supported by the Stratus agent (it collects \
                     metrics and logs only); remove it"
                ),
            ));
        }
    }
    let mut ignored = Vec::new();
    let agent = agent_section(raw.agent, &mut ignored)?;
    let logs = raw
        .logs
        .map(|l| super::logs::logs_section(l, &mut ignored))
        .transpose()?;
    // A logs-only config runs without metrics (as the stock agent's).
    let metrics = match (raw.metrics, &logs) {
        (Some(m), _) => metrics_section(m, &agent, &mut ignored)?,
        (None, Some(_)) => MetricsSection::none(),
        (None, None) => {
            return Err(ConfigError::invalid(
                "metrics",
                "missing: the Stratus agent needs a metrics section with metrics_collected, \
                 or a logs section",
            ));
        }
    };
    Ok(AgentConfig {
        agent,
        metrics,
        logs,
        ignored,
    })
}

fn agent_section(
    raw: Option<RawAgent>,
    ignored: &mut Vec<(String, &'static str)>,
) -> Result<AgentSection> {
    let raw = match raw {
        Some(r) => r,
        None => RawAgent {
            metrics_collection_interval: None,
            region: None,
            logfile: None,
            debug: None,
            omit_hostname: None,
            run_as_user: None,
            credentials: None,
            aws_sdk_log_level: None,
            internal: None,
            quiet: None,
            user_agent: None,
            usage_data: None,
            service_name: None,
            deployment_environment: None,
            credentials_file: None,
            profile: None,
            spool_dir: None,
            spool_max_bytes: None,
            instance_id: None,
            imds_endpoint: None,
            auth_failure_max_age: None,
        },
    };
    if raw.credentials.is_some_and(|c| c.role_arn.is_some()) {
        return Err(role_arn_refusal("agent.credentials.role_arn"));
    }
    let no_effect: [(bool, &str, &'static str); 8] = [
        (
            raw.run_as_user.is_some(),
            "agent.run_as_user",
            "the agent runs as the user that starts it (see the systemd unit)",
        ),
        (
            raw.aws_sdk_log_level.is_some(),
            "agent.aws_sdk_log_level",
            "no AWS SDK here; use agent.debug",
        ),
        (
            raw.internal.is_some(),
            "agent.internal",
            "no internal metrics",
        ),
        (raw.quiet.is_some(), "agent.quiet", "use agent.debug"),
        (
            raw.user_agent.is_some(),
            "agent.user_agent",
            "fixed user agent",
        ),
        (
            raw.usage_data.is_some(),
            "agent.usage_data",
            "the Stratus agent sends no usage data",
        ),
        (
            raw.service_name.is_some(),
            "agent.service.name",
            "no entity metadata",
        ),
        (
            raw.deployment_environment.is_some(),
            "agent.deployment.environment",
            "no entity metadata",
        ),
    ];
    for (present, path, why) in no_effect {
        if present {
            ignored.push((path.to_owned(), why));
        }
    }
    let interval = interval(
        "agent.metrics_collection_interval",
        raw.metrics_collection_interval.unwrap_or(60),
    )?;
    if let Some(r) = &raw.region {
        length("agent.region", r, 1, 64)?;
    }
    let profile = raw.profile.unwrap_or_else(|| DEFAULT_PROFILE.to_owned());
    length("agent.profile", &profile, 1, 255)?;
    if let Some(n) = raw.spool_max_bytes
        && n < 64 * 1024
    {
        return Err(ConfigError::invalid(
            "agent.spool_max_bytes",
            format!("{n} is too small: at least 65536 bytes"),
        ));
    }
    if let Some(id) = &raw.instance_id {
        length("agent.instance_id", id, 1, 1024)?;
    }
    let imds_endpoint = raw
        .imds_endpoint
        .unwrap_or_else(|| DEFAULT_IMDS_ENDPOINT.to_owned());
    if !imds_endpoint.starts_with("http://") {
        return Err(ConfigError::invalid(
            "agent.imds_endpoint",
            format!("{imds_endpoint:?} must be an http:// URL (IMDS is plain HTTP)"),
        ));
    }
    let auth_failure_max_age = raw
        .auth_failure_max_age
        .unwrap_or(DEFAULT_AUTH_FAILURE_MAX_AGE.as_secs());
    if auth_failure_max_age > MAX_AUTH_FAILURE_MAX_AGE {
        return Err(ConfigError::invalid(
            "agent.auth_failure_max_age",
            format!(
                "{auth_failure_max_age} is too long: at most {MAX_AUTH_FAILURE_MAX_AGE} seconds (30 days)"
            ),
        ));
    }
    let path_or_none = |s: Option<String>| s.filter(|s| !s.is_empty()).map(PathBuf::from);
    Ok(AgentSection {
        interval,
        region: raw.region,
        logfile: path_or_none(raw.logfile),
        debug: raw.debug.unwrap_or(false),
        omit_hostname: raw.omit_hostname.unwrap_or(false),
        run_as_user: raw.run_as_user,
        credentials_file: path_or_none(raw.credentials_file),
        profile,
        spool_dir: path_or_none(raw.spool_dir),
        spool_max_bytes: raw.spool_max_bytes,
        instance_id: raw.instance_id,
        imds_endpoint: imds_endpoint.trim_end_matches('/').to_owned(),
        auth_failure_max_age: Duration::from_secs(auth_failure_max_age),
    })
}

pub(super) fn role_arn_refusal(path: &str) -> ConfigError {
    ConfigError::invalid(
        path,
        "assuming a role is not supported by the Stratus agent; give the agent a key in its \
         credentials profile instead",
    )
}

fn metrics_section(
    raw: RawMetrics,
    agent: &AgentSection,
    ignored: &mut Vec<(String, &'static str)>,
) -> Result<MetricsSection> {
    if raw.credentials.is_some_and(|c| c.role_arn.is_some()) {
        return Err(role_arn_refusal("metrics.credentials.role_arn"));
    }
    if let Some(dest) = &raw.metrics_destinations
        && let Some(other) = dest.keys().find(|k| k.as_str() != "cloudwatch")
    {
        return Err(ConfigError::invalid(
            format!("metrics.metrics_destinations.{other}"),
            "only the cloudwatch destination is supported by the Stratus agent",
        ));
    }
    if raw.service_name.is_some() {
        ignored.push(("metrics.service.name".to_owned(), "no entity metadata"));
    }
    if raw.deployment_environment.is_some() {
        ignored.push((
            "metrics.deployment.environment".to_owned(),
            "no entity metadata",
        ));
    }
    let namespace = raw
        .namespace
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
    length("metrics.namespace", &namespace, 1, 255)?;
    if namespace.starts_with("AWS/") || namespace.starts_with(':') {
        return Err(ConfigError::invalid(
            "metrics.namespace",
            format!("{namespace:?}: namespaces starting with \"AWS/\" or ':' are reserved"),
        ));
    }
    let append_dimensions = dimensions("metrics.append_dimensions", raw.append_dimensions, false)?;
    let aggregation_dimensions = aggregation(raw.aggregation_dimensions)?;
    let force_flush_interval = interval(
        "metrics.force_flush_interval",
        raw.force_flush_interval.unwrap_or(60),
    )?;
    if let Some(url) = &raw.endpoint_override {
        endpoint_url("metrics.endpoint_override", url)?;
    }
    let (plugins, statsd) = plugins(raw.metrics_collected, agent.interval)?;
    Ok(MetricsSection {
        namespace,
        append_dimensions,
        aggregation_dimensions,
        force_flush_interval,
        endpoint_override: raw.endpoint_override,
        plugins,
        statsd,
    })
}

fn plugins(
    raw: super::raw::RawCollected,
    default_interval: Duration,
) -> Result<(Vec<PluginConfig>, Option<StatsdConfig>)> {
    const BASE: &str = "metrics.metrics_collected";
    for (present, name) in [
        (raw.collectd.is_some(), "collectd"),
        (raw.ethtool.is_some(), "ethtool"),
        (raw.nvidia_gpu.is_some(), "nvidia_gpu"),
        (raw.jmx.is_some(), "jmx"),
        (raw.otlp.is_some(), "otlp"),
    ] {
        if present {
            return Err(ConfigError::invalid(
                format!("{BASE}.{name}"),
                format!(
                    "plugin {name} is not supported by the Stratus agent (supported: {}, statsd)",
                    catalog::HOST_PLUGINS.join(", ")
                ),
            ));
        }
    }
    let mut out = Vec::new();
    let ctx = Ctx { default_interval };
    if let Some(c) = raw.cpu {
        out.push(ctx.cpu(c)?);
    }
    if let Some(d) = raw.disk {
        out.push(ctx.disk(d)?);
    }
    if let Some(d) = raw.diskio {
        out.push(ctx.devices("diskio", d)?);
    }
    if let Some(b) = raw.mem {
        out.push(ctx.basic("mem", b)?);
    }
    if let Some(b) = raw.swap {
        out.push(ctx.basic("swap", b)?);
    }
    if let Some(d) = raw.net {
        out.push(ctx.devices("net", d)?);
    }
    if let Some(b) = raw.netstat {
        out.push(ctx.basic("netstat", b)?);
    }
    if let Some(b) = raw.processes {
        out.push(ctx.basic("processes", b)?);
    }
    if let Some(list) = raw.procstat {
        if list.len() > 255 {
            return Err(ConfigError::invalid(
                format!("{BASE}.procstat"),
                format!("{} entries: at most 255", list.len()),
            ));
        }
        for (i, p) in list.into_iter().enumerate() {
            out.push(ctx.procstat(i, p)?);
        }
    }
    let statsd = raw.statsd.map(statsd).transpose()?;
    if out.is_empty() && statsd.is_none() {
        return Err(ConfigError::invalid(
            BASE,
            format!(
                "no plugin configured: add at least one of {}, statsd",
                catalog::HOST_PLUGINS.join(", ")
            ),
        ));
    }
    Ok((out, statsd))
}

struct Ctx {
    default_interval: Duration,
}

impl Ctx {
    /// The parts every host plugin shares.
    fn common(
        &self,
        plugin: &'static str,
        label: String,
        measurement: Vec<RawMeasurement>,
        plugin_interval: Option<u64>,
        append: Option<BTreeMap<String, String>>,
    ) -> Result<PluginConfig> {
        let path = format!("metrics.metrics_collected.{label}");
        let interval = match plugin_interval {
            Some(s) => interval(&format!("{path}.metrics_collection_interval"), s)?,
            None => self.default_interval,
        };
        let measurements = measurements(&path, plugin, measurement)?;
        let append_dimensions = dimensions(
            &format!("{path}.append_dimensions"),
            append,
            plugin == "disk",
        )?;
        let mut fields: Vec<&'static str> = measurements.iter().map(|m| m.field).collect();
        fields.sort_unstable();
        fields.dedup();
        Ok(PluginConfig {
            plugin,
            label,
            interval,
            measurements,
            append_dimensions,
            options: PluginOptions {
                fields,
                interval,
                ..PluginOptions::default()
            },
        })
    }

    fn cpu(&self, raw: RawCpu) -> Result<PluginConfig> {
        let mut p = self.common(
            "cpu",
            "cpu".into(),
            raw.measurement,
            raw.metrics_collection_interval,
            raw.append_dimensions,
        )?;
        let resources = raw.resources.unwrap_or_default();
        for (i, r) in resources.iter().enumerate() {
            if r != "*" {
                return Err(ConfigError::invalid(
                    format!("metrics.metrics_collected.cpu.resources[{i}]"),
                    format!("{r:?}: the only value allowed is \"*\" (report every core)"),
                ));
            }
        }
        p.options.percpu = !resources.is_empty();
        p.options.totalcpu = raw.totalcpu.unwrap_or(true);
        p.options.resources = resources;
        Ok(p)
    }

    fn disk(&self, raw: RawDisk) -> Result<PluginConfig> {
        let mut p = self.common(
            "disk",
            "disk".into(),
            raw.measurement,
            raw.metrics_collection_interval,
            raw.append_dimensions,
        )?;
        p.options.resources = resources("disk", raw.resources)?;
        p.options.drop_device = raw.drop_device.unwrap_or(false);
        p.options.ignore_file_system_types = raw.ignore_file_system_types.unwrap_or_default();
        Ok(p)
    }

    fn devices(&self, plugin: &'static str, raw: RawDevices) -> Result<PluginConfig> {
        let mut p = self.common(
            plugin,
            plugin.into(),
            raw.measurement,
            raw.metrics_collection_interval,
            raw.append_dimensions,
        )?;
        p.options.resources = resources(plugin, raw.resources)?;
        Ok(p)
    }

    fn basic(&self, plugin: &'static str, raw: RawBasic) -> Result<PluginConfig> {
        self.common(
            plugin,
            plugin.into(),
            raw.measurement,
            raw.metrics_collection_interval,
            raw.append_dimensions,
        )
    }

    fn procstat(&self, index: usize, raw: RawProcstat) -> Result<PluginConfig> {
        let label = format!("procstat[{index}]");
        let path = format!("metrics.metrics_collected.{label}");
        let selectors: Vec<(&str, ProcstatSelector)> = [
            raw.pid_file
                .map(|v| ("pid_file", ProcstatSelector::PidFile(PathBuf::from(v)))),
            raw.exe.map(|v| ("exe", ProcstatSelector::Exe(v))),
            raw.pattern
                .map(|v| ("pattern", ProcstatSelector::Pattern(v))),
        ]
        .into_iter()
        .flatten()
        .collect();
        let selector = match <[_; 1]>::try_from(selectors) {
            Ok([(key, sel)]) => {
                let value = match &sel {
                    ProcstatSelector::PidFile(p) => p.to_string_lossy().into_owned(),
                    ProcstatSelector::Exe(s) | ProcstatSelector::Pattern(s) => s.clone(),
                };
                length(&format!("{path}.{key}"), &value, 1, 4096)?;
                sel
            }
            Err(v) if v.is_empty() => {
                return Err(ConfigError::invalid(
                    path,
                    "needs one of pid_file, exe or pattern to select processes",
                ));
            }
            Err(v) => {
                let keys: Vec<&str> = v.iter().map(|(k, _)| *k).collect();
                return Err(ConfigError::invalid(
                    path,
                    format!(
                        "has {}: give exactly one process selector",
                        keys.join(" and ")
                    ),
                ));
            }
        };
        let mut p = self.common(
            "procstat",
            label,
            raw.measurement,
            raw.metrics_collection_interval,
            raw.append_dimensions,
        )?;
        p.options.procstat = Some(selector);
        Ok(p)
    }
}

fn statsd(raw: RawStatsd) -> Result<StatsdConfig> {
    const PATH: &str = "metrics.metrics_collected.statsd";
    let service_address = raw.service_address.unwrap_or_else(|| ":8125".to_owned());
    let port_ok = service_address
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse::<u16>().ok())
        .is_some();
    if !port_ok {
        return Err(ConfigError::invalid(
            format!("{PATH}.service_address"),
            format!("{service_address:?} is not host:port (e.g. \":8125\" or \"127.0.0.1:8125\")"),
        ));
    }
    let interval = interval(
        &format!("{PATH}.metrics_collection_interval"),
        raw.metrics_collection_interval.unwrap_or(10),
    )?;
    let agg = raw.metrics_aggregation_interval.unwrap_or(60);
    if agg > MAX_INTERVAL_S {
        return Err(ConfigError::invalid(
            format!("{PATH}.metrics_aggregation_interval"),
            format!("{agg} is out of range: 0..={MAX_INTERVAL_S} seconds"),
        ));
    }
    Ok(StatsdConfig {
        service_address,
        interval,
        aggregation_interval: Duration::from_secs(agg),
    })
}

/// An `endpoint_override`: `http(s)://host[:port][/path]`.
pub(super) fn endpoint_url(path: &str, url: &str) -> Result<()> {
    length(path, url, 4, 2048)?;
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    if rest.is_none_or(|r| r.is_empty() || r.starts_with('/')) {
        return Err(ConfigError::invalid(
            path,
            format!("{url:?} is not a URL: expected http://host:port or https://host"),
        ));
    }
    Ok(())
}

fn interval(path: &str, seconds: u64) -> Result<Duration> {
    if !(1..=MAX_INTERVAL_S).contains(&seconds) {
        return Err(ConfigError::invalid(
            path,
            format!("{seconds} is out of range: 1..={MAX_INTERVAL_S} seconds"),
        ));
    }
    Ok(Duration::from_secs(seconds))
}

fn length(path: &str, value: &str, min: usize, max: usize) -> Result<()> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(ConfigError::invalid(
            path,
            format!("{value:?} must be {min}..={max} characters long (is {n})"),
        ));
    }
    Ok(())
}

fn resources(plugin: &str, raw: Option<Vec<String>>) -> Result<Vec<String>> {
    let list = raw.unwrap_or_else(|| vec!["*".to_owned()]);
    for (i, r) in list.iter().enumerate() {
        if r.is_empty() {
            return Err(ConfigError::invalid(
                format!("metrics.metrics_collected.{plugin}.resources[{i}]"),
                "empty resource name",
            ));
        }
    }
    Ok(list)
}

fn measurements(
    path: &str,
    plugin: &'static str,
    raw: Vec<RawMeasurement>,
) -> Result<Vec<Measurement>> {
    if raw.is_empty() {
        return Err(ConfigError::invalid(
            format!("{path}.measurement"),
            format!(
                "empty: name at least one of {}",
                catalog::known_fields(plugin).join(", ")
            ),
        ));
    }
    let mut out: Vec<Measurement> = Vec::with_capacity(raw.len());
    for (i, m) in raw.into_iter().enumerate() {
        let at = format!("{path}.measurement[{i}]");
        let Some(field) = catalog::resolve_field(plugin, &m.name) else {
            return Err(ConfigError::invalid(
                at,
                format!(
                    "unknown measurement {:?} for plugin {plugin} (known: {})",
                    m.name,
                    catalog::known_fields(plugin).join(", ")
                ),
            ));
        };
        let metric_name = match m.rename {
            Some(r) => {
                length(&format!("{at}.rename"), &r, 1, 255)?;
                r
            }
            None => catalog::metric_name(plugin, field),
        };
        let unit = match m.unit {
            Some(u) => match stratus_model::unit::Unit::parse(&u) {
                Some(unit) => unit.as_str(),
                None => {
                    return Err(ConfigError::invalid(
                        format!("{at}.unit"),
                        format!(
                            "{u:?} is not a CloudWatch unit (one of: {})",
                            stratus_model::unit::Unit::NAMES.join(", ")
                        ),
                    ));
                }
            },
            None => catalog::default_unit(plugin, field),
        };
        let m = Measurement {
            field,
            metric_name,
            unit,
        };
        // The same name twice would publish every datapoint twice.
        if !out.iter().any(|o| o.metric_name == m.metric_name) {
            out.push(m);
        }
    }
    Ok(out)
}

fn dimensions(
    path: &str,
    raw: Option<BTreeMap<String, String>>,
    volume_id_allowed: bool,
) -> Result<Vec<(String, DimensionValue)>> {
    let raw = raw.unwrap_or_default();
    if raw.len() > MAX_DIMENSIONS {
        return Err(ConfigError::invalid(
            path,
            format!("{} dimensions: at most {MAX_DIMENSIONS}", raw.len()),
        ));
    }
    let mut out = Vec::with_capacity(raw.len());
    for (key, value) in raw {
        let at = format!("{path}.{key}");
        length(&at, &key, 1, 255)?;
        let v = match Ec2Placeholder::parse(&value) {
            Some(Ok(Ec2Placeholder::VolumeId)) if !volume_id_allowed => {
                return Err(ConfigError::invalid(
                    at,
                    "${aws:VolumeId} is only valid in metrics_collected.disk.append_dimensions",
                ));
            }
            Some(Ok(p)) => DimensionValue::Ec2(p),
            Some(Err(name)) => {
                return Err(ConfigError::invalid(
                    at,
                    format!(
                        "unknown placeholder ${{aws:{name}}} (known: ${{aws:InstanceId}}, \
                         ${{aws:InstanceType}}, ${{aws:ImageId}}, ${{aws:AutoScalingGroupName}})"
                    ),
                ));
            }
            None => {
                length(&at, &value, 1, 1024)?;
                DimensionValue::Literal(value)
            }
        };
        out.push((key, v));
    }
    Ok(out)
}

fn aggregation(raw: Option<Vec<Vec<String>>>) -> Result<Vec<Vec<String>>> {
    const PATH: &str = "metrics.aggregation_dimensions";
    let raw = raw.unwrap_or_default();
    if raw.len() > 1024 {
        return Err(ConfigError::invalid(
            PATH,
            format!("{} sets: at most 1024", raw.len()),
        ));
    }
    let mut out: Vec<Vec<String>> = Vec::with_capacity(raw.len());
    for (i, mut set) in raw.into_iter().enumerate() {
        if set.len() > MAX_DIMENSIONS {
            return Err(ConfigError::invalid(
                format!("{PATH}[{i}]"),
                format!("{} names: at most {MAX_DIMENSIONS}", set.len()),
            ));
        }
        if let Some(j) = set.iter().position(|n| n.is_empty()) {
            return Err(ConfigError::invalid(
                format!("{PATH}[{i}][{j}]"),
                "empty dimension name",
            ));
        }
        set.sort();
        set.dedup();
        if !out.contains(&set) {
            out.push(set);
        }
    }
    Ok(out)
}
