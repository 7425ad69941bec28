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

/// Runs the server with a local agent until Ctrl-C / SIGTERM; then stops the
/// agent first (its last flush still reaches the server), then the server.
pub fn run(args: crate::ServerArgs) -> anyhow::Result<()> {
    let agent = Arc::new(LocalAgent::default());
    let on_started = {
        let agent = agent.clone();
        move |s: &stratus_server::Started| {
            crate::print_banner(s, true);
            let Some(data_dir) = s.credentials_file.parent().map(Path::to_path_buf) else {
                tracing::warn!("no data directory known: not starting the local agent");
                return;
            };
            let admin_credentials = s.credentials_file.clone();
            let endpoint = stratus_server::bootstrap::local_url(s.addr, s.tls);
            let spawned = std::thread::Builder::new()
                .name("local-agent".into())
                .spawn(move || agent.supervise(&data_dir, &admin_credentials, &endpoint));
            if let Err(e) = spawned {
                tracing::warn!("not starting the local agent: {e}");
            }
        }
    };
    let after_signal = {
        let agent = agent.clone();
        move || async move {
            let _ = tokio::task::spawn_blocking(move || agent.stop()).await;
        }
    };
    crate::serve_with(args, on_started, after_signal)?;
    // The server failed or stopped without a signal: never leave the agent behind.
    agent.stop();
    Ok(())
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
    fn supervise(&self, data_dir: &Path, admin_credentials: &Path, endpoint: &str) {
        let files = AgentFiles::in_data_dir(data_dir);
        if let Err(e) = prepare(&files, admin_credentials, endpoint) {
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
fn prepare(files: &AgentFiles, admin_credentials: &Path, endpoint: &str) -> anyhow::Result<()> {
    let admin = client::read_profile(admin_credentials, "stratus")?;
    ensure_agent_key(&files.credentials, &admin, endpoint)?;
    let config = agent_config(files, endpoint, system_log(|p| p.is_file()));
    let text = serde_json::to_string_pretty(&config)?;
    write_file(&files.config, text.as_bytes(), 0o644)
        .with_context(|| format!("writing {}", files.config.display()))?;
    Ok(())
}

/// Reuses the key in `path` while the server still knows it; otherwise creates
/// an `agent`-policy key and stores it there (0600, profile AmazonCloudWatchAgent).
fn ensure_agent_key(path: &Path, admin: &Credentials, endpoint: &str) -> anyhow::Result<()> {
    if let Ok(existing) = client::read_profile(path, AGENT_PROFILE) {
        if server_has_key(admin, endpoint, &existing.access_key_id)? {
            return Ok(());
        }
        tracing::warn!(
            "the local agent's key {} is gone from the server: creating a new one",
            existing.access_key_id
        );
    }
    let host = hostname();
    let created = admin_call(
        endpoint,
        "CreateKey",
        &json!({"Name": format!("local-agent@{host}"), "Policy": "agent"}),
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

fn server_has_key(admin: &Credentials, endpoint: &str, id: &str) -> anyhow::Result<bool> {
    let listed = admin_call(endpoint, "ListKeys", &json!({}), admin)?;
    Ok(listed["Keys"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|k| k["AccessKeyId"].as_str() == Some(id)))
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

/// The amazon-cloudwatch-agent JSON of the local agent.
/// The host's system log for the agent to tail: Debian's `/var/log/syslog`,
/// else Red Hat's `/var/log/messages`. `None` on hosts with neither (a
/// journald-only system): the agent then gets no logs section at all, since
/// the Stratus agent does not read the journal.
fn system_log(exists: impl Fn(&Path) -> bool) -> Option<&'static str> {
    ["/var/log/syslog", "/var/log/messages"]
        .into_iter()
        .find(|p| exists(Path::new(p)))
}

fn agent_config(files: &AgentFiles, endpoint: &str, system_log: Option<&str>) -> serde_json::Value {
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
    if let Some(path) = system_log {
        config["logs"] = json!({
            "endpoint_override": endpoint,
            "logs_collected": {"files": {"collect_list": [{
                "file_path": path,
                "log_group_name": "system",
                "log_stream_name": "{hostname}",
            }]}},
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
    fn the_system_log_is_tailed_into_group_system() {
        let only = |want: &'static str| move |p: &Path| p == Path::new(want);
        assert_eq!(system_log(only("/var/log/syslog")), Some("/var/log/syslog"));
        assert_eq!(
            system_log(only("/var/log/messages")),
            Some("/var/log/messages")
        );
        assert_eq!(system_log(|_| true), Some("/var/log/syslog"));
        assert_eq!(system_log(|_| false), None);
        let files = AgentFiles::in_data_dir(Path::new("/d"));
        let c = agent_config(&files, "http://127.0.0.1:4566", Some("/var/log/messages"));
        let entry = &c["logs"]["logs_collected"]["files"]["collect_list"][0];
        assert_eq!(entry["file_path"], "/var/log/messages");
        assert_eq!(entry["log_group_name"], "system");
        assert_eq!(entry["log_stream_name"], "{hostname}");
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
