//! The agent process: resolve everything once at start (config, credentials,
//! region, endpoint, instance identity, pipeline, collectors), then collect on
//! one thread per interval, hand datums to the shipper, and on SIGTERM/SIGINT
//! stop collecting and flush through the shipper before exiting.
//! `check_config` runs the same start-up without shipping and prints what
//! would be published.

mod check;
mod schedule;
mod shipper;
pub mod writable;

pub use check::{CheckReport, check_config};
pub use schedule::{
    Collection, CollectorEvent, CollectorSlot, DEFAULT_TIMEOUT_CAP, EventSink, log_events,
    start_collection,
};
pub use shipper::start_shipper;

use crate::config::{AgentConfig, ConfigError, DimensionValue, Ec2Placeholder};
use crate::credentials::{self, CredentialOptions, CredentialsError, ResolvedCredentials};
use crate::metadata::{self, IdentityOptions, InstanceIdentity};
use crate::pipeline::Pipeline;
use crate::ship::Datum;
use crate::statsd::{StatsdListener, StatsdOptions};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Where finished datums go (the shipper; a recorder in tests).
pub trait DatumSink: Send + Sync {
    fn submit(&self, datums: Vec<Datum>);
    /// Flushes everything submitted (to the endpoint or the spool). Called
    /// once, after collection has stopped.
    fn shutdown(&self) {}
}

/// Command-line inputs of `stratus agent`.
#[derive(Debug, Clone, Default)]
pub struct AgentOptions {
    pub config_path: PathBuf,
    /// `--credentials-file` (outranks env and config).
    pub credentials_file: Option<PathBuf>,
    /// `--profile` (outranks env and config).
    pub profile: Option<String>,
    /// Where `/sys` is read to tell an EC2 instance (tests); default
    /// `$STRATUS_SYS_ROOT`, else `/sys`.
    pub sys_root: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error("opening log file {path}: {source}")]
    Log {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A collector could not be built (e.g. a bad procstat regex).
    #[error("metrics.metrics_collected.{label}: {message}")]
    Collector { label: String, message: String },
    #[error("metrics.metrics_collected.statsd.service_address: listening on {address}: {source}")]
    Statsd {
        address: String,
        source: std::io::Error,
    },
    #[error("starting the shipper: {0}")]
    Ship(String),
    #[error("starting log collection: {0}")]
    Logs(String),
    /// A path the config names for writing cannot be written.
    #[error("{key} {path}: {message}")]
    NotWritable {
        key: &'static str,
        path: PathBuf,
        message: String,
    },
    #[error("starting agent threads: {0}")]
    Thread(#[from] std::io::Error),
}

/// What the shipper needs from the config and the start-up resolution.
#[derive(Debug, Clone)]
pub struct ShipSettings {
    pub endpoint: String,
    pub region: String,
    pub credentials: credentials::Credentials,
    pub namespace: String,
    pub force_flush_interval: Duration,
    pub spool_dir: Option<PathBuf>,
    pub spool_max_bytes: Option<u64>,
    pub auth_failure_max_age: Duration,
}

/// Everything resolved once at start.
pub struct Prepared {
    pub config: AgentConfig,
    pub hostname: String,
    /// `None` when the config uses no `${aws:*}` placeholder.
    pub identity: Option<InstanceIdentity>,
    pub pipeline: Pipeline,
    /// Placeholders that could not be resolved (their dimension is dropped).
    pub warnings: Vec<String>,
}

/// Resolves the instance identity (only when placeholders need it) and
/// builds the pipeline. Never fails: being off EC2 is not an error.
pub fn prepare(config: AgentConfig) -> Prepared {
    prepare_with(config, &metadata::sys_root(), true)
}

/// [`prepare`] reading `/sys` at `sys_root`; `ask_imds` false makes no
/// network call (`--check-config`).
pub fn prepare_with(config: AgentConfig, sys_root: &std::path::Path, ask_imds: bool) -> Prepared {
    let hostname = metadata::hostname();
    let wanted = placeholders(&config);
    let identity = (!wanted.is_empty()).then(|| {
        let opts = IdentityOptions {
            sys_root: sys_root.to_owned(),
            ask_imds,
            ..IdentityOptions::for_host(
                &config.agent.imds_endpoint,
                config.agent.instance_id.clone(),
                hostname.clone(),
            )
        };
        metadata::resolve_identity(&opts, &wanted)
    });
    let (pipeline, warnings) = Pipeline::new(&config, &hostname, identity.as_ref());
    Prepared {
        config,
        hostname,
        identity,
        pipeline,
        warnings,
    }
}

/// Every `${aws:*}` placeholder the config uses.
fn placeholders(config: &AgentConfig) -> Vec<Ec2Placeholder> {
    let mut out = Vec::new();
    let all = config.metrics.append_dimensions.iter().chain(
        config
            .metrics
            .plugins
            .iter()
            .flat_map(|p| &p.append_dimensions),
    );
    for (_, v) in all {
        if let DimensionValue::Ec2(p) = v
            && !out.contains(p)
        {
            out.push(*p);
        }
    }
    out
}

/// Region, endpoint and credentials for `config`.
pub fn resolve_shipping(
    config: &AgentConfig,
    opts: &AgentOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(ShipSettings, ResolvedCredentials, &'static str), AgentError> {
    let creds = credentials::resolve_credentials(
        &CredentialOptions {
            cli_credentials_file: opts.credentials_file.clone(),
            cli_profile: opts.profile.clone(),
            config_credentials_file: config.agent.credentials_file.clone(),
            config_profile: config.agent.profile.clone(),
        },
        env,
    )?;
    let (region, region_source) = credentials::resolve_region(
        config.agent.region.as_deref(),
        creds.profile_region.as_deref(),
        env,
    );
    let endpoint =
        credentials::resolve_endpoint(config.metrics.endpoint_override.as_deref(), &region)?;
    let settings = ShipSettings {
        endpoint,
        region,
        credentials: creds.credentials.clone(),
        namespace: config.metrics.namespace.clone(),
        force_flush_interval: config.metrics.force_flush_interval,
        spool_dir: config.agent.spool_dir.clone(),
        spool_max_bytes: config.agent.spool_max_bytes,
        auth_failure_max_age: config.agent.auth_failure_max_age,
    };
    Ok((settings, creds, region_source))
}

pub(crate) fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Builds the collectors of every configured host plugin.
pub fn build_collectors(config: &AgentConfig) -> Result<Vec<CollectorSlot>, AgentError> {
    let mut shared = crate::collect::SharedReaders::default();
    config
        .metrics
        .plugins
        .iter()
        .enumerate()
        .map(|(index, p)| {
            let collector = crate::collect::new_collector_in(p.plugin, &p.options, &mut shared)
                .map_err(|e| AgentError::Collector {
                    label: p.label.clone(),
                    message: e.to_string(),
                })?;
            Ok(CollectorSlot {
                index,
                label: p.label.clone(),
                interval: p.interval,
                collector,
            })
        })
        .collect()
}

/// Milliseconds since the Unix epoch (collection timestamps).
pub(crate) fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Stops the agent's threads; cheap to clone, safe to call from a signal
/// thread, idempotent.
#[derive(Clone, Default)]
pub struct StopHandle {
    inner: Arc<StopInner>,
}

#[derive(Default)]
struct StopInner {
    stopped: AtomicBool,
    waiters: Mutex<Vec<Sender<schedule::Event>>>,
}

impl StopHandle {
    pub fn stop(&self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
        let waiters = self.inner.waiters.lock().unwrap_or_else(|e| e.into_inner());
        for w in waiters.iter() {
            let _ = w.send(schedule::Event::Stop);
        }
    }

    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::SeqCst)
    }

    fn register(&self, tx: Sender<schedule::Event>) {
        let mut waiters = self.inner.waiters.lock().unwrap_or_else(|e| e.into_inner());
        if self.is_stopped() {
            let _ = tx.send(schedule::Event::Stop);
        }
        waiters.push(tx);
    }
}

/// A started agent: collecting until [`StopHandle::stop`].
pub struct RunningAgent {
    stop: StopHandle,
    collection: Collection,
    statsd: Option<JoinHandle<()>>,
    sink: Arc<dyn DatumSink>,
    logs: Option<crate::logs::LogsAgent>,
}

impl RunningAgent {
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Waits for collection to stop, then flushes through the sink.
    pub fn wait(self) {
        if self.logs.is_some() {
            // With no metrics collector nothing else would block until stop.
            let (tx, rx) = mpsc::channel();
            self.stop.register(tx);
            let _ = rx.recv();
        }
        self.collection.join();
        if let Some(t) = self.statsd {
            let _ = t.join();
        }
        crate::info!("collection stopped; flushing");
        // Both flush at once: together they stay within systemd's stop timeout.
        let logs = self.logs.map(|l| std::thread::spawn(move || l.shutdown()));
        self.sink.shutdown();
        if let Some(t) = logs {
            let _ = t.join();
        }
        crate::info!("agent stopped");
    }
}

/// Starts the agent with the shipper `make_sink` builds from the resolved
/// settings. Logs the start-up lines (version, config, endpoint, region,
/// credential source, instance id source, config summary).
pub fn start(
    opts: &AgentOptions,
    make_sink: impl FnOnce(&ShipSettings) -> Result<Arc<dyn DatumSink>, AgentError>,
) -> Result<RunningAgent, AgentError> {
    let config = AgentConfig::load(&opts.config_path)?;
    crate::log::init(config.agent.logfile.as_deref(), config.agent.debug).map_err(|source| {
        let path = config.agent.logfile.clone().unwrap_or_default();
        let dir = path.parent().unwrap_or(&path).to_owned();
        match writable::sandbox_advice(&dir, &source) {
            Some(message) => AgentError::NotWritable {
                key: "agent.logfile",
                path,
                message,
            },
            None => AgentError::Log { path, source },
        }
    })?;
    let (settings, creds, region_source) = resolve_shipping(&config, opts, &env_var)?;
    crate::info!(
        "Stratus agent {} starting: config {}, {}, region {} ({region_source}), \
         credentials from {}",
        env!("CARGO_PKG_VERSION"),
        opts.config_path.display(),
        endpoints_used(&config, &settings),
        settings.region,
        creds.source
    );
    for (path, why) in &config.ignored {
        crate::info!("{path}: accepted and ignored: {why}");
    }
    let sys_root = opts.sys_root.clone().unwrap_or_else(metadata::sys_root);
    let prepared = prepare_with(config, &sys_root, true);
    match &prepared.identity {
        Some(id) => crate::info!("instance id {} from {}", id.instance_id, id.source),
        None => crate::info!("instance id: not needed (no ${{aws:*}} placeholder in the config)"),
    }
    for w in &prepared.warnings {
        crate::warn!("{w}");
    }
    crate::info!("{}", summary(&prepared.config));
    let slots = build_collectors(&prepared.config)?;
    // Only the parts the config has: a logs-only config starts no metrics
    // shipper (its thread, spool and connection would idle).
    let sink = if prepared.config.has_metrics() {
        make_sink(&settings)?
    } else {
        Arc::new(NoMetrics)
    };
    let stop = StopHandle::default();
    let pipeline = Arc::new(prepared.pipeline);
    let statsd = match &prepared.config.metrics.statsd {
        Some(s) => Some(start_statsd(
            s,
            Arc::clone(&pipeline),
            Arc::clone(&sink),
            &stop,
        )?),
        None => None,
    };
    let logs = match &prepared.config.logs {
        Some(l) => Some(start_logs(&prepared.config, l, &settings, &sys_root)?),
        None => None,
    };
    let collection = start_collection(
        pipeline,
        slots,
        Arc::clone(&sink),
        log_events(),
        &stop,
        DEFAULT_TIMEOUT_CAP,
    )?;
    Ok(RunningAgent {
        stop,
        collection,
        statsd,
        sink,
        logs,
    })
}

/// Stands in for the shipper when the config collects no metrics.
struct NoMetrics;

impl DatumSink for NoMetrics {
    fn submit(&self, _datums: Vec<Datum>) {}
}

/// The endpoints the agent sends to, for its start-up line:
/// `endpoint <metrics>` and/or `logs endpoint <logs>`.
pub fn endpoints_used(config: &AgentConfig, settings: &ShipSettings) -> String {
    let metrics = config
        .has_metrics()
        .then(|| format!("endpoint {}", settings.endpoint));
    let logs = config.logs.as_ref().map(|l| {
        format!(
            "logs endpoint {}",
            logs_endpoint(config, l, &settings.region)
        )
    });
    let used: Vec<String> = metrics.into_iter().chain(logs).collect();
    if used.is_empty() {
        "no endpoint".to_owned()
    } else {
        used.join(", ")
    }
}

/// The logs endpoint: `logs.endpoint_override`, else the metrics one (a
/// Stratus server serves both APIs on one port), else CloudWatch Logs'.
pub fn logs_endpoint(
    config: &AgentConfig,
    logs: &crate::config::LogsSection,
    region: &str,
) -> String {
    match logs
        .endpoint_override
        .as_deref()
        .or(config.metrics.endpoint_override.as_deref())
    {
        Some(e) => e.trim_end_matches('/').to_owned(),
        None => format!("https://logs.{region}.amazonaws.com"),
    }
}

fn start_logs(
    config: &AgentConfig,
    logs: &crate::config::LogsSection,
    settings: &ShipSettings,
    sys_root: &std::path::Path,
) -> Result<crate::logs::LogsAgent, AgentError> {
    let hostname = metadata::hostname();
    let identity = metadata::resolve_identity(
        &IdentityOptions {
            sys_root: sys_root.to_owned(),
            ask_imds: true,
            ..IdentityOptions::for_host(
                &config.agent.imds_endpoint,
                config.agent.instance_id.clone(),
                hostname.clone(),
            )
        },
        &[Ec2Placeholder::InstanceId],
    );
    let names = crate::logs::placeholders::HostNames {
        instance_id: identity.instance_id,
        local_hostname: hostname.clone(),
        hostname,
        ip_address: crate::logs::placeholders::primary_ip(),
    };
    let s = crate::logs::LogsSettings {
        endpoint: logs_endpoint(config, logs, &settings.region),
        region: settings.region.clone(),
        access_key_id: settings.credentials.access_key_id.clone(),
        secret_access_key: settings.credentials.secret_access_key.clone(),
        session_token: settings.credentials.session_token.clone(),
        ca_bundle: std::env::var_os("AWS_CA_BUNDLE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
        spool_dir: shipper::spool_dir(settings),
        spool_max_bytes: settings
            .spool_max_bytes
            .unwrap_or(crate::ship::DEFAULT_SPOOL_MAX_BYTES),
        auth_failure_max_age: settings.auth_failure_max_age,
        names,
        retry_base: crate::ship::backoff::DEFAULT_BASE,
        retry_cap: crate::ship::backoff::DEFAULT_CAP,
    };
    crate::logs::LogsAgent::start(logs, s).map_err(|e| AgentError::Logs(e.to_string()))
}

/// One line: plugins with intervals, metric count, flush and spool settings.
pub fn summary(config: &AgentConfig) -> String {
    let plugins: Vec<String> = config
        .metrics
        .plugins
        .iter()
        .map(|p| format!("{} every {}s", p.label, p.interval.as_secs()))
        .collect();
    let metrics: usize = config
        .metrics
        .plugins
        .iter()
        .map(|p| p.measurements.len())
        .sum();
    let statsd = match &config.metrics.statsd {
        Some(s) => format!(
            "statsd on {} (aggregated every {}s)",
            s.service_address,
            s.aggregation_interval.as_secs()
        ),
        None => "no statsd".to_owned(),
    };
    let spool = match &config.agent.spool_dir {
        Some(d) => format!("spool {}", d.display()),
        None => "default spool".to_owned(),
    };
    let logs = match &config.logs {
        Some(l) => format!(
            ", logs: {} file entr{} [{}]{}, flush every {}s",
            l.files.len(),
            if l.files.len() == 1 { "y" } else { "ies" },
            l.files
                .iter()
                .map(|f| f.file_path.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            match &l.emf {
                Some(e) => format!(", emf on {}", e.service_address),
                None => String::new(),
            },
            l.force_flush_interval.as_secs()
        ),
        None => String::new(),
    };
    if !config.has_metrics() {
        return format!("config: no metrics, {spool}{logs}");
    }
    format!(
        "config: namespace {}, {} plugin(s) [{}], {metrics} metric(s), {statsd}, flush every {}s, {spool}{logs}",
        config.metrics.namespace,
        plugins.len(),
        plugins.join(", "),
        config.metrics.force_flush_interval.as_secs()
    )
}

/// The statsd listener plus a thread that drains it every aggregation
/// interval (or collection interval when aggregation is off).
fn start_statsd(
    cfg: &crate::config::StatsdConfig,
    pipeline: Arc<Pipeline>,
    sink: Arc<dyn DatumSink>,
    stop: &StopHandle,
) -> Result<JoinHandle<()>, AgentError> {
    let listener = StatsdListener::bind(&StatsdOptions {
        service_address: cfg.service_address.clone(),
        ..StatsdOptions::default()
    })
    .map_err(|source| AgentError::Statsd {
        address: cfg.service_address.clone(),
        source,
    })?;
    crate::info!("statsd listening on udp {}", listener.local_addr());
    let period = if cfg.aggregation_interval.is_zero() {
        cfg.interval
    } else {
        cfg.aggregation_interval
    };
    let high_resolution = period < Duration::from_secs(60);
    let (tx, rx) = mpsc::channel();
    stop.register(tx);
    let thread = std::thread::Builder::new()
        .name("statsd-drain".into())
        .spawn(move || {
            loop {
                let stopping = !matches!(rx.recv_timeout(period), Err(RecvTimeoutError::Timeout));
                let datums = pipeline.statsd_datums(&listener.drain(), unix_ms(), high_resolution);
                if !datums.is_empty() {
                    sink.submit(datums);
                }
                if stopping {
                    return;
                }
            }
        })?;
    Ok(thread)
}

/// `stratus agent --config FILE`: starts with the real shipper, runs until
/// SIGTERM or SIGINT, then stops collecting, flushes through the shipper and
/// returns (exit code 0).
/// The command-line entry shared by `stratus agent` and `stratus-agent`:
/// `--check-config` prints the report to stdout, otherwise the agent runs
/// until SIGTERM/SIGINT.
pub fn run_or_check(opts: &AgentOptions, check_only: bool) -> Result<(), AgentError> {
    if check_only {
        check_config(opts, &mut std::io::stdout().lock()).map(|_| ())
    } else {
        run(opts)
    }
}

pub fn run(opts: &AgentOptions) -> Result<(), AgentError> {
    // Transparent huge pages turn the allocator's small arenas into 2 MiB of
    // resident memory each (measured: 39 MiB RSS instead of ~11). Best effort:
    // kernels without THP answer EINVAL, which changes nothing.
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    // Registered before anything starts, so an early SIGTERM still flushes.
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
    ])?;
    let agent = start(opts, start_shipper)?;
    let handle = signals.handle();
    let stop = agent.stop_handle();
    let waiter = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                let name = if sig == signal_hook::consts::SIGTERM {
                    "SIGTERM"
                } else {
                    "SIGINT"
                };
                crate::info!("{name} received: stopping");
                stop.stop();
            }
        })?;
    agent.wait();
    handle.close();
    let _ = waiter.join();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings_for(config: &AgentConfig) -> ShipSettings {
        let env = |k: &str| match k {
            "AWS_ACCESS_KEY_ID" => Some("AKID".to_owned()),
            "AWS_SECRET_ACCESS_KEY" => Some("secret".to_owned()),
            _ => None,
        };
        resolve_shipping(config, &AgentOptions::default(), &env)
            .unwrap()
            .0
    }

    #[test]
    fn a_logs_only_config_names_only_the_logs_endpoint() {
        let config = AgentConfig::parse(
            r#"{"logs":{"logs_collected":{"files":{"collect_list":[
                {"file_path":"/var/log/app.log","log_group_name":"g"}]}}}}"#,
        )
        .unwrap();
        assert!(!config.has_metrics());
        let settings = settings_for(&config);
        assert_eq!(
            endpoints_used(&config, &settings),
            "logs endpoint https://logs.us-east-1.amazonaws.com"
        );
        let line = summary(&config);
        assert!(line.starts_with("config: no metrics, "), "{line}");
        assert!(!line.contains("namespace"), "{line}");
    }

    #[test]
    fn metrics_and_logs_name_both_endpoints() {
        let config = AgentConfig::parse(
            r#"{"metrics":{"metrics_collected":{"mem":{"measurement":["used_percent"]}}},
                "logs":{"logs_collected":{"files":{"collect_list":[
                {"file_path":"/var/log/app.log","log_group_name":"g"}]}}}}"#,
        )
        .unwrap();
        assert!(config.has_metrics());
        assert_eq!(
            endpoints_used(&config, &settings_for(&config)),
            "endpoint https://monitoring.us-east-1.amazonaws.com, \
             logs endpoint https://logs.us-east-1.amazonaws.com"
        );
    }
}
