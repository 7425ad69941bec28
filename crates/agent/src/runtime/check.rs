//! `stratus agent --check-config`: validate, resolve, run every collector
//! (twice, one second apart, so delta and rate fields have a previous sample)
//! and print each datum that would be published, without sending anything
//! or making any network call (no instance metadata either).

use super::shipper::spool_dir_for;
use super::writable::{self, PathProblem};
use super::{AgentError, AgentOptions, build_collectors, env_var, prepare_with, summary};
use crate::collect::{CollectError, Reading};
use crate::config::AgentConfig;
use crate::credentials::{self, CredentialOptions};
use crate::ship::{Datum, DatumValue};
use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

/// How long check-config waits for one collector run.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);
/// Gap between the two runs (rates need two samples).
const SECOND_RUN_AFTER: Duration = Duration::from_secs(1);

/// What the check found; config errors are `Err` instead.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    pub datums: Vec<Datum>,
    /// Problems that do not stop the agent from starting (collector
    /// failures, missing credentials, unresolved placeholders).
    pub warnings: Vec<String>,
}

/// Validates the config at `opts.config_path` and writes a report to `out`.
/// `Err` only for problems that would stop `stratus agent` from starting.
pub fn check_config(opts: &AgentOptions, out: &mut dyn Write) -> Result<CheckReport, AgentError> {
    let config = AgentConfig::load(&opts.config_path)?;
    let mut report = CheckReport::default();
    let creds = credentials::resolve_credentials(
        &CredentialOptions {
            cli_credentials_file: opts.credentials_file.clone(),
            cli_profile: opts.profile.clone(),
            config_credentials_file: config.agent.credentials_file.clone(),
            config_profile: config.agent.profile.clone(),
        },
        &env_var,
    );
    let profile_region = creds.as_ref().ok().and_then(|c| c.profile_region.clone());
    let (region, region_source) = credentials::resolve_region(
        config.agent.region.as_deref(),
        profile_region.as_deref(),
        &env_var,
    );
    let endpoint =
        credentials::resolve_endpoint(config.metrics.endpoint_override.as_deref(), &region)?;
    let slots = build_collectors(&config)?;
    check_writable_paths(&config, &mut report.warnings)?;
    let w = |out: &mut dyn Write, line: String| {
        let _ = writeln!(out, "{line}");
    };
    w(out, format!("config OK: {}", opts.config_path.display()));
    w(out, summary(&config));
    w(
        out,
        format!("endpoint {endpoint}, region {region} ({region_source})"),
    );
    match &creds {
        Ok(c) => w(out, format!("credentials from {}", c.source)),
        Err(e) => report.warnings.push(format!("credentials: {e}")),
    }
    for (path, why) in &config.ignored {
        w(out, format!("{path}: accepted and ignored: {why}"));
    }
    // No network call: IMDS is asked only when the agent runs.
    let sys_root = opts
        .sys_root
        .clone()
        .unwrap_or_else(crate::metadata::sys_root);
    let prepared = prepare_with(config, &sys_root, false);
    if let Some(id) = &prepared.identity {
        w(
            out,
            format!("instance id {} from {}", id.instance_id, id.source),
        );
    }
    report.warnings.extend(prepared.warnings.iter().cloned());

    let mut collectors: Vec<_> = slots.into_iter().map(Some).collect();
    let mut last: Vec<Vec<Reading>> = vec![Vec::new(); collectors.len()];
    for round in 0..2 {
        if round == 1 {
            std::thread::sleep(SECOND_RUN_AFTER);
        }
        for (i, slot) in collectors.iter_mut().enumerate() {
            let Some(mut s) = slot.take() else { continue };
            let label = s.label.clone();
            match run_once(s.collector) {
                Ok((c, Ok(readings))) => {
                    s.collector = c;
                    last[i] = readings;
                    *slot = Some(s);
                }
                Ok((c, Err(e))) => {
                    s.collector = c;
                    if round == 1 {
                        report
                            .warnings
                            .push(format!("collector {label} failed: {e}"));
                    }
                    *slot = Some(s);
                }
                Err(()) => report.warnings.push(format!(
                    "collector {label} did not answer within {}s (hung mount?)",
                    CHECK_TIMEOUT.as_secs()
                )),
            }
        }
    }
    let now = super::unix_ms();
    for (index, readings) in last.iter().enumerate() {
        let datums = prepared.pipeline.datums(index, readings, now);
        let plan = &prepared.pipeline.plugins()[index];
        for m in &plan.measurements {
            if !datums.iter().any(|d| d.metric_name == m.metric_name) {
                report.warnings.push(format!(
                    "{} ({}): no value on this host right now",
                    m.metric_name, plan.label
                ));
            }
        }
        report.datums.extend(datums);
    }
    if let Some(s) = &prepared.config.metrics.statsd {
        w(
            out,
            format!(
                "statsd would listen on udp {} (application metrics, unit None)",
                s.service_address
            ),
        );
    }
    w(
        out,
        format!(
            "{} metric(s) would be published to namespace {} (name, unit, resolution, dimensions):",
            report.datums.len(),
            prepared.config.metrics.namespace
        ),
    );
    for d in &report.datums {
        w(out, format!("  {}", describe(d)));
    }
    for warning in &report.warnings {
        w(out, format!("warning: {warning}"));
    }
    Ok(report)
}

/// The log file and spool must be writable (an error naming the path, and
/// under systemd the unit setting); a full disk, or a default spool this
/// user cannot write, is a warning: the agent then ships from memory.
fn check_writable_paths(
    config: &AgentConfig,
    warnings: &mut Vec<String>,
) -> Result<(), AgentError> {
    let refused = |key, path: &std::path::Path, message| AgentError::NotWritable {
        key,
        path: path.to_owned(),
        message,
    };
    if let Some(log) = &config.agent.logfile {
        match writable::probe_file(log) {
            Ok(()) => {}
            Err(PathProblem::DiskFull(m)) => {
                warnings.push(format!("agent.logfile {}: {m}", log.display()))
            }
            Err(PathProblem::Refused(m)) => return Err(refused("agent.logfile", log, m)),
        }
    }
    let spool = spool_dir_for(config.agent.spool_dir.as_deref());
    match writable::probe_dir(&spool) {
        Ok(()) => {}
        Err(PathProblem::Refused(m)) if config.agent.spool_dir.is_some() => {
            return Err(refused("agent.spool_dir", &spool, m));
        }
        Err(PathProblem::Refused(m) | PathProblem::DiskFull(m)) => warnings.push(format!(
            "spool {}: {m}; without it the agent keeps its batches in memory",
            spool.display()
        )),
    }
    Ok(())
}

type Boxed = Box<dyn crate::collect::Collector>;

/// Runs a collector on its own thread under [`CHECK_TIMEOUT`]; `Err` when
/// it does not answer (the thread is abandoned).
fn run_once(mut c: Boxed) -> Result<(Boxed, Result<Vec<Reading>, CollectError>), ()> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("check-collect".into())
        .spawn(move || {
            let r = c.collect();
            let _ = tx.send((c, r));
        })
        .map_err(|_| ())?;
    rx.recv_timeout(CHECK_TIMEOUT).map_err(|_| ())
}

/// `disk_used_percent  Percent  60s  device=sda1, fstype=ext4, path=/  = 41.2`
pub fn describe(d: &Datum) -> String {
    let dims: Vec<String> = d
        .dimensions
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let value = match &d.value {
        DatumValue::Single(v) => format!("{v}"),
        DatumValue::Distribution { values, .. } => format!("{} values", values.len()),
    };
    format!(
        "{}  {}  {}  {}  = {value}",
        d.metric_name,
        d.unit,
        if d.high_resolution { "1s" } else { "60s" },
        if dims.is_empty() {
            "(no dimensions)".to_owned()
        } else {
            dims.join(", ")
        }
    )
}
