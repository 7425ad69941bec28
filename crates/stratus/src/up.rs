//! `stratus up`: the quick start. Runs the server and, once it listens, a local
//! agent collecting this machine's cpu, mem, disk and net every 10 s, so the
//! console and the API show real metrics at once.
//!
//! The agent runs as a child process of the same binary (`stratus agent
//! --config <data-dir>/agent.json`): it stays the small, tokio-free program a
//! monitored host runs, with its own log and spool, and a crash in it cannot
//! take the server down. Its access key is created once through the admin API
//! (policy `agent`) and kept in `<data-dir>/agent-credentials`.
//!
//! Ctrl-C / SIGTERM stop the agent first (its last flush still lands), then the
//! server. A SIGKILLed `up` cannot do that: its agent keeps running (spooling
//! until a server answers again) and must be stopped by hand.
//!
//! The agent tails the host's system log into log group `system`:
//! `/var/log/syslog` or `/var/log/messages`, else — on journald-only hosts —
//! the journal's text export that `up` writes beside it (see [`journal`]).

mod journal;

use crate::client::{self, Credentials};
use anyhow::{Context as _, bail};
use serde_json::json;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The profile the stock amazon-cloudwatch-agent reads on premises.
const AGENT_PROFILE: &str = "AmazonCloudWatchAgent";
/// Collection and flush interval of the local agent.
const INTERVAL_S: u64 = 10;
/// How long the agent gets to flush on SIGTERM before it is killed.
const AGENT_STOP_GRACE: Duration = Duration::from_secs(15);
/// Between restarts of an agent that exited on its own.
const RESTART_BACKOFF: Duration = Duration::from_secs(5);

/// Where the local agent's files live inside the server's data directory.
#[derive(Debug, Clone)]
pub struct AgentFiles {
    pub config: PathBuf,
    pub credentials: PathBuf,
    pub log: PathBuf,
    pub spool: PathBuf,
}

impl AgentFiles {
    pub fn in_data_dir(data_dir: &Path) -> AgentFiles {
        AgentFiles {
            config: data_dir.join("agent.json"),
            credentials: data_dir.join("agent-credentials"),
            log: data_dir.join("agent.log"),
            spool: data_dir.join("agent-spool"),
        }
    }
}

/// Runs the server with a local agent (and, on journald-only hosts, the
/// journal export) until Ctrl-C / SIGTERM; then stops the export, the agent
/// (its last flush still reaches the server), then the server.
pub fn run(args: crate::ServerArgs) -> anyhow::Result<()> {
    let agent = Arc::new(LocalAgent::default());
    let exporter = Arc::new(journal::JournalExporter::default());
    let on_started = {
        let agent = agent.clone();
        let exporter = exporter.clone();
        move |s: &stratus_server::Started| {
            crate::print_banner(s, true);
            let Some(data_dir) = s.credentials_file.parent().map(Path::to_path_buf) else {
                tracing::warn!("no data directory known: not starting the local agent");
                return;
            };
            let system_log = host_system_log();
            if system_log == SystemLog::Journal {
                let positions = stratus_agent::logs::positions::path_in_spool(
                    &AgentFiles::in_data_dir(&data_dir).spool,
                );
                start_journal_export(exporter, &data_dir, positions);
            }
            let admin_credentials = s.credentials_file.clone();
            let endpoint = stratus_server::bootstrap::local_url(s.addr, s.tls);
            let spawned = std::thread::Builder::new()
                .name("local-agent".into())
                .spawn(move || {
                    agent.supervise(&data_dir, &admin_credentials, &endpoint, system_log)
                });
            if let Err(e) = spawned {
                tracing::warn!("not starting the local agent: {e}");
            }
        }
    };
    let after_signal = {
        let agent = agent.clone();
        let exporter = exporter.clone();
        move || async move {
            let _ = tokio::task::spawn_blocking(move || {
                exporter.stop();
                agent.stop();
            })
            .await;
        }
    };
    crate::serve_with(args, on_started, after_signal)?;
    // The server failed or stopped without a signal: never leave the children behind.
    exporter.stop();
    agent.stop();
    Ok(())
}

/// Creates the export's file before the agent starts (its first scan then
/// knows it), and runs the export on its own thread.
fn start_journal_export(
    exporter: Arc<journal::JournalExporter>,
    data_dir: &Path,
    agent_positions: PathBuf,
) {
    let files = journal::JournalFiles::in_data_dir(data_dir);
    if let Err(e) = std::fs::create_dir_all(&files.dir).and_then(|()| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&files.log)
            .map(drop)
    }) {
        tracing::error!("journal export not started ({}): {e}", files.dir.display());
        return;
    }
    let host = hostname();
    let spawned = std::thread::Builder::new()
        .name("journal-export".into())
        .spawn(move || exporter.supervise(&files, &host, &agent_positions));
    if let Err(e) = spawned {
        tracing::warn!("not starting the journal export: {e}");
    }
}

/// The banner lines describing the local agent (printed by `print_banner`).
pub fn banner_lines(data_dir: &Path) -> Vec<String> {
    let files = AgentFiles::in_data_dir(data_dir);
    vec![
        format!(
            "Local agent: cpu, mem, disk, net of this machine every {INTERVAL_S} s -> namespace CWAgent"
        ),
        format!(
            "  config {} (rewritten each start), log {}",
            files.config.display(),
            files.log.display()
        ),
        match host_system_log() {
            SystemLog::File(path) => format!("  system log {path} -> log group system"),
            SystemLog::Journal => format!(
                "  system log: the journal (journalctl), exported to {} -> log group system",
                journal::JournalFiles::in_data_dir(data_dir).log.display()
            ),
            SystemLog::None => "  no system log found: no log group system".to_string(),
        },
    ]
}

/// The local agent's process, restarted if it exits on its own, stopped once.
#[derive(Default)]
struct LocalAgent {
    child: Mutex<Option<Child>>,
    stopping: AtomicBool,
}

impl LocalAgent {
    /// Prepares the key and config, then keeps the agent running until `stop`.
    fn supervise(
        &self,
        data_dir: &Path,
        admin_credentials: &Path,
        endpoint: &str,
        system_log: SystemLog,
    ) {
        let files = AgentFiles::in_data_dir(data_dir);
        if let Err(e) = prepare(&files, data_dir, admin_credentials, endpoint, system_log) {
            tracing::error!("local agent not started: {e:#}");
            return;
        }
        while !self.stopping.load(Ordering::SeqCst) {
            let started = Instant::now();
            match self.spawn(&files) {
                Ok(()) => tracing::info!(
                    "local agent started (log: {}, config: {})",
                    files.log.display(),
                    files.config.display()
                ),
                Err(e) => {
                    tracing::error!("local agent not started: {e:#}");
                    return;
                }
            }
            let status = self.wait_exit();
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
            tracing::warn!(
                "local agent exited ({}); restarting in {} s, see {}",
                status.map_or_else(|e| e.to_string(), |s| s.to_string()),
                RESTART_BACKOFF.as_secs(),
                files.log.display()
            );
            // A config the agent refuses would otherwise spin.
            if started.elapsed() < RESTART_BACKOFF {
                std::thread::sleep(RESTART_BACKOFF);
            }
        }
    }

    fn spawn(&self, files: &AgentFiles) -> anyhow::Result<()> {
        let exe = std::env::current_exe().context("locating the stratus binary")?;
        let mut guard = self.child.lock().unwrap_or_else(|e| e.into_inner());
        // Checked under the lock `stop` takes: no agent starts after a stop.
        if self.stopping.load(Ordering::SeqCst) {
            return Ok(());
        }
        let child = Command::new(&exe)
            .arg("agent")
            .arg("--config")
            .arg(&files.config)
            .arg("--credentials-file")
            .arg(&files.credentials)
            .arg("--profile")
            .arg(AGENT_PROFILE)
            // The agent exits when `up` does, even when `up` is SIGKILLed.
            .env(
                crate::agent_cmd::UP_PARENT_ENV,
                std::process::id().to_string(),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // Its own process group: a terminal's Ctrl-C reaches only `up`, which then
            // stops the agent before the server, so the agent's last flush lands.
            .process_group(0)
            .spawn()
            .with_context(|| format!("running {} agent", exe.display()))?;
        *guard = Some(child);
        Ok(())
    }

    /// Polls (rather than blocking in `wait`) so `stop` can take the child.
    fn wait_exit(&self) -> std::io::Result<std::process::ExitStatus> {
        loop {
            {
                let mut guard = self.child.lock().unwrap_or_else(|e| e.into_inner());
                match guard.as_mut() {
                    None => return Err(std::io::Error::other("stopped")),
                    Some(child) => {
                        if let Some(status) = child.try_wait()? {
                            *guard = None;
                            return Ok(status);
                        }
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// SIGTERM (the agent flushes), then SIGKILL after a grace period.
    fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        let mut guard = self.child.lock().unwrap_or_else(|e| e.into_inner());
        let Some(mut child) = guard.take() else {
            return;
        };
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        let pid = rustix::process::Pid::from_child(&child);
        if rustix::process::kill_process(pid, rustix::process::Signal::TERM).is_ok() {
            let deadline = Instant::now() + AGENT_STOP_GRACE;
            while Instant::now() < deadline {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    tracing::info!("local agent stopped");
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            tracing::warn!(
                "local agent ignored SIGTERM for {} s: killing it",
                AGENT_STOP_GRACE.as_secs()
            );
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Makes sure the agent has a working key and an up-to-date config.
fn prepare(
    files: &AgentFiles,
    data_dir: &Path,
    admin_credentials: &Path,
    endpoint: &str,
    system_log: SystemLog,
) -> anyhow::Result<()> {
    let admin = client::read_profile(admin_credentials, "stratus")?;
    ensure_agent_key(&files.credentials, &admin, endpoint)?;
    let export = journal::JournalFiles::in_data_dir(data_dir).log;
    let tailed = match system_log {
        SystemLog::File(path) => Some(TailedLog {
            path: Path::new(path),
            timestamp_format: None,
        }),
        SystemLog::Journal => Some(TailedLog {
            path: &export,
            timestamp_format: Some(journal::TIMESTAMP_FORMAT),
        }),
        SystemLog::None => None,
    };
    let config = agent_config(files, endpoint, tailed);
    let text = serde_json::to_string_pretty(&config)?;
    write_file(&files.config, text.as_bytes(), 0o644)
        .with_context(|| format!("writing {}", files.config.display()))?;
    Ok(())
}

/// Reuses the key in `path` while the server still knows it; otherwise creates
/// an `agent`-policy key and stores it there (0600, profile AmazonCloudWatchAgent).
fn ensure_agent_key(path: &Path, admin: &Credentials, endpoint: &str) -> anyhow::Result<()> {
    let keys = server_keys(admin, endpoint)?;
    if let Ok(existing) = client::read_profile(path, AGENT_PROFILE) {
        if keys
            .iter()
            .any(|k| k["AccessKeyId"].as_str() == Some(&existing.access_key_id))
        {
            return Ok(());
        }
        tracing::warn!(
            "the local agent's key {} is gone from the server: creating a new one",
            existing.access_key_id
        );
    }
    let name = format!("local-agent@{}", hostname());
    // Key names are unique. A key of this name whose secret is not in `path`
    // (the file was lost or is stale) can never be used again: replace it.
    let stale_keys = keys
        .iter()
        .filter(|k| k["Name"].as_str() == Some(&name))
        .filter_map(|k| k["AccessKeyId"].as_str());
    for stale in stale_keys {
        admin_call(endpoint, "DeleteKey", &json!({"AccessKeyId": stale}), admin)?;
        tracing::warn!(
            "deleted access key {stale} ({name}): its secret was lost; creating a new one"
        );
    }
    let created = admin_call(
        endpoint,
        "CreateKey",
        &json!({"Name": name, "Policy": "agent"}),
        admin,
    )?;
    let (Some(id), Some(secret)) = (
        created["AccessKeyId"].as_str(),
        created["SecretAccessKey"].as_str(),
    ) else {
        bail!("CreateKey answered without AccessKeyId/SecretAccessKey: {created}");
    };
    let text = format!(
        "# Written by `stratus up` for its local agent (policy: agent, PutMetricData only).\n\
         [{AGENT_PROFILE}]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\n"
    );
    write_file(path, text.as_bytes(), 0o600)
        .with_context(|| format!("writing {}", path.display()))?;
    tracing::info!("created access key {id} (policy agent) for the local agent");
    Ok(())
}

/// The server's access keys, as the admin API's ListKeys gives them.
fn server_keys(admin: &Credentials, endpoint: &str) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut listed = admin_call(endpoint, "ListKeys", &json!({}), admin)?;
    Ok(match listed["Keys"].take() {
        serde_json::Value::Array(keys) => keys,
        _ => Vec::new(),
    })
}

fn admin_call(
    endpoint: &str,
    op: &str,
    body: &serde_json::Value,
    admin: &Credentials,
) -> anyhow::Result<serde_json::Value> {
    let target = format!("StratusAdmin.{op}");
    let (status, text) = client::post_json(endpoint, &target, body, admin, "us-east-1")?;
    if status != 200 {
        bail!("{op} answered HTTP {status}: {text}");
    }
    serde_json::from_str(&text).with_context(|| format!("{op} answered non-JSON: {text}"))
}

/// Forces the journal export even where `/var/log/syslog` exists (value
/// `journal`): for tests, and for hosts whose syslog file is stale.
const SYSTEM_LOG_ENV: &str = "STRATUS_UP_SYSTEM_LOG";

/// What the local agent tails into log group `system`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SystemLog {
    /// A syslog daemon's file.
    File(&'static str),
    /// `journalctl`'s text export, written by `up` (see [`journal`]).
    Journal,
    /// Neither: no logs section.
    None,
}

/// This host's choice (see [`system_log`]).
fn host_system_log() -> SystemLog {
    let forced = std::env::var(SYSTEM_LOG_ENV).ok();
    if forced.as_deref().is_some_and(|v| v != "journal") {
        tracing::warn!("{SYSTEM_LOG_ENV}: only `journal` is understood; ignored");
    }
    system_log(
        |p| p.is_file(),
        journal::journalctl_on_path(),
        forced.as_deref() == Some("journal"),
    )
}

/// Debian's `/var/log/syslog`, else Red Hat's `/var/log/messages`, else the
/// journal (when `journalctl` is there to read it), else nothing.
/// `force_journal` picks the journal whenever journalctl is there.
fn system_log(exists: impl Fn(&Path) -> bool, journalctl: bool, force_journal: bool) -> SystemLog {
    if force_journal && journalctl {
        return SystemLog::Journal;
    }
    match ["/var/log/syslog", "/var/log/messages"]
        .into_iter()
        .find(|p| exists(Path::new(p)))
    {
        Some(path) => SystemLog::File(path),
        None if journalctl => SystemLog::Journal,
        None => SystemLog::None,
    }
}

/// The file the agent tails into group `system`, and how to read its times.
struct TailedLog<'a> {
    path: &'a Path,
    timestamp_format: Option<&'static str>,
}

/// The amazon-cloudwatch-agent JSON of the local agent.
fn agent_config(
    files: &AgentFiles,
    endpoint: &str,
    system_log: Option<TailedLog<'_>>,
) -> serde_json::Value {
    let mut config = json!({
        "agent": {
            "metrics_collection_interval": INTERVAL_S,
            "logfile": files.log,
            "credentials_file": files.credentials,
            "spool_dir": files.spool,
        },
        "metrics": {
            "namespace": "CWAgent",
            "endpoint_override": endpoint,
            "force_flush_interval": INTERVAL_S,
            "append_dimensions": {"InstanceId": "${aws:InstanceId}"},
            "metrics_collected": {
                "cpu": {
                    "measurement": ["usage_idle", "usage_user", "usage_system", "usage_iowait"],
                    "totalcpu": true,
                },
                "mem": {"measurement": ["used_percent", "available_percent"]},
                "disk": {
                    "measurement": ["used_percent"],
                    "resources": ["*"],
                    "ignore_file_system_types": [
                        "tmpfs", "devtmpfs", "overlay", "squashfs", "proc", "sysfs",
                        "cgroup", "cgroup2", "nsfs", "autofs", "fuse.lxcfs",
                    ],
                },
                "net": {"measurement": ["bytes_sent", "bytes_recv"]},
            },
        },
    });
    if let Some(log) = system_log {
        let mut entry = json!({
            "file_path": log.path,
            "log_group_name": "system",
            "log_stream_name": "{hostname}",
        });
        if let Some(format) = log.timestamp_format {
            entry["timestamp_format"] = json!(format);
        }
        config["logs"] = json!({
            "endpoint_override": endpoint,
            "logs_collected": {"files": {"collect_list": [entry]}},
        });
    }
    config
}

/// Writes via a temporary file and a rename, created with `mode` from the start
/// (a secret is never briefly world-readable).
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_config_points_at_the_server_and_the_data_dir() {
        let files = AgentFiles::in_data_dir(Path::new("/d"));
        let c = agent_config(&files, "http://127.0.0.1:4566", None);
        assert_eq!(c["metrics"]["endpoint_override"], "http://127.0.0.1:4566");
        assert_eq!(c["agent"]["credentials_file"], "/d/agent-credentials");
        assert_eq!(c["agent"]["spool_dir"], "/d/agent-spool");
        let plugins: Vec<&String> = c["metrics"]["metrics_collected"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(plugins, ["cpu", "disk", "mem", "net"]);
        assert!(c.get("logs").is_none(), "no system log, no logs section");
    }

    #[test]
    fn the_system_log_is_syslog_then_messages_then_the_journal() {
        use SystemLog::{File, Journal};
        let only = |want: &'static str| move |p: &Path| p == Path::new(want);
        let none = |_: &Path| false;
        // (files present, journalctl on PATH, forced) -> choice
        let syslog = "/var/log/syslog";
        let messages = "/var/log/messages";
        assert_eq!(system_log(only(syslog), false, false), File(syslog));
        assert_eq!(system_log(only(syslog), true, false), File(syslog));
        assert_eq!(system_log(only(messages), true, false), File(messages));
        assert_eq!(system_log(|_| true, true, false), File(syslog));
        assert_eq!(system_log(none, true, false), Journal);
        assert_eq!(system_log(none, false, false), SystemLog::None);
        // Forced: the journal even beside a syslog file, but only if it can be read.
        assert_eq!(system_log(only(syslog), true, true), Journal);
        assert_eq!(system_log(only(syslog), false, true), File(syslog));
        assert_eq!(system_log(none, false, true), SystemLog::None);
    }

    #[test]
    fn the_journal_export_is_tailed_with_its_own_times() {
        let files = AgentFiles::in_data_dir(Path::new("/d"));
        let tailed = TailedLog {
            path: Path::new("/d/journal/system.log"),
            timestamp_format: Some(journal::TIMESTAMP_FORMAT),
        };
        let c = agent_config(&files, "http://127.0.0.1:4566", Some(tailed));
        let entry = &c["logs"]["logs_collected"]["files"]["collect_list"][0];
        assert_eq!(entry["file_path"], "/d/journal/system.log");
        assert_eq!(entry["log_group_name"], "system");
        assert_eq!(entry["log_stream_name"], "{hostname}");
        assert_eq!(entry["timestamp_format"], "%Y-%m-%dT%H:%M:%S.%f%z");
        stratus_agent::config::AgentConfig::parse(&c.to_string()).unwrap();
    }

    #[test]
    fn the_system_log_is_tailed_into_group_system() {
        let files = AgentFiles::in_data_dir(Path::new("/d"));
        let tailed = TailedLog {
            path: Path::new("/var/log/messages"),
            timestamp_format: None,
        };
        let c = agent_config(&files, "http://127.0.0.1:4566", Some(tailed));
        let entry = &c["logs"]["logs_collected"]["files"]["collect_list"][0];
        assert_eq!(entry["file_path"], "/var/log/messages");
        assert_eq!(entry["log_group_name"], "system");
        assert_eq!(entry["log_stream_name"], "{hostname}");
        assert!(entry.get("timestamp_format").is_none(), "{entry}");
        assert_eq!(c["logs"]["endpoint_override"], "http://127.0.0.1:4566");
        // The agent itself accepts what `up` writes.
        stratus_agent::config::AgentConfig::parse(&c.to_string()).unwrap();
    }

    #[test]
    fn secrets_are_written_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("stratus-up-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("agent-credentials");
        write_file(&p, b"secret", 0o600).unwrap();
        write_file(&p, b"secret2", 0o600).unwrap();
        let meta = std::fs::metadata(&p).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(&p).unwrap(), b"secret2");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
