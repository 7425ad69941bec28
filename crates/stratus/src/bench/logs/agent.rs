//! Figure 4: `stratus agent` tailing a file appended at a steady rate. The
//! agent runs as its own process (this binary's `agent` subcommand) with a
//! logs-only config, so its /proc utime+stime and RSS are its own; the lines
//! are then counted back with FilterLogEvents.

use anyhow::{Context as _, bail};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::lines::LineGen;
use super::{AGENT_TARGET_CORE_SHARE, LogsArgs, Row, TICKS_PER_S, Target};
use crate::bench::{ProcSample, proc_sample};

/// The agent's force_flush_interval here (the stock default).
const FLUSH: Duration = Duration::from_secs(5);
/// The writer appends this often, as a program with a buffered logger does.
const TICK: Duration = Duration::from_millis(10);
/// How long to wait for the agent to start tailing, and for the last lines.
const START_TIMEOUT: Duration = Duration::from_secs(30);
const ARRIVAL_TIMEOUT: Duration = Duration::from_secs(90);

struct AgentProc {
    child: Child,
    logfile: PathBuf,
}

impl AgentProc {
    /// SIGTERM (the agent flushes on the way out) and wait.
    fn stop(mut self) -> anyhow::Result<()> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("the agent did not stop within 30 s of SIGTERM")
    }
}

impl Drop for AgentProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn run(args: &LogsArgs) -> anyhow::Result<Vec<Row>> {
    let mut target = super::target(args)?;
    println!(
        "\n== 4. agent: `stratus agent` tailing a file appended every {} ms for {:?} per rate (force_flush_interval {} s) → {}",
        TICK.as_millis(),
        args.agent_duration,
        FLUSH.as_secs(),
        target.endpoint
    );
    let mut rows = Vec::new();
    for &rate in &args.agent_rates {
        if rate == 0 {
            continue;
        }
        let row = one_rate(&target, rate, args.agent_duration)?;
        rows.push(row);
    }
    if let Some((server, dir)) = target.own.take() {
        server.stop()?;
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(rows)
}

fn one_rate(target: &Target, rate: u64, duration: Duration) -> anyhow::Result<Row> {
    let work = crate::bench::tempdir()?;
    let group = format!("bench-agent-{rate}-{}", std::process::id());
    let log_path = work.join("app.log");
    std::fs::File::create(&log_path)?;
    let agent = start_agent(target, &work, &log_path, &group)?;
    let pid = agent.child.id();
    wait_for_tailing(&agent)?;

    let mut file = std::fs::OpenOptions::new().append(true).open(&log_path)?;
    let mut lines_gen = LineGen::new(rate);
    let (mut line, mut buf) = (String::new(), String::new());
    let before = proc_sample(pid);
    let began = Instant::now();
    let mut written = 0u64;
    let mut raw_bytes = 0u64;
    while began.elapsed() < duration {
        let due = (began.elapsed().as_secs_f64() * rate as f64) as u64;
        let now_ms = jiff::Timestamp::now().as_millisecond();
        buf.clear();
        while written < due {
            lines_gen.line(now_ms, &mut line);
            raw_bytes += line.len() as u64;
            buf.push_str(&line);
            buf.push('\n');
            written += 1;
        }
        if !buf.is_empty() {
            file.write_all(buf.as_bytes())?;
        }
        std::thread::sleep(TICK);
    }
    let elapsed = began.elapsed().as_secs_f64();
    let after = proc_sample(pid);
    let arrived = count_arrived(target, &group, written)?;
    agent.stop()?;
    let share = cpu_s(&after, &before) / elapsed;
    let rss_mib = after.rss_kib as f64 / 1024.0;
    println!(
        "   {rate:>6} lines/s: wrote {written} lines ({:.1} MB) in {elapsed:.1} s; agent CPU {:.2} s = {:.1}% of a core, RSS {rss_mib:.1} MiB (peak {:.1} MiB); {arrived} of {written} lines counted back with FilterLogEvents{}",
        raw_bytes as f64 / 1e6,
        cpu_s(&after, &before),
        100.0 * share,
        after.hwm_kib as f64 / 1024.0,
        if arrived == written {
            ""
        } else {
            " — LINES MISSING"
        },
    );
    let _ = std::fs::remove_dir_all(&work);
    let at_target_rate = rate >= 10_000;
    Ok(Row::new(
        &format!("agent at {rate} lines/s"),
        format!(
            "{:.1} % of a core, RSS {rss_mib:.1} MiB, {arrived}/{written} lines arrived",
            100.0 * share
        ),
        if at_target_rate {
            "≤ 5 % of a core"
        } else {
            "—"
        },
        if at_target_rate {
            Some(share <= AGENT_TARGET_CORE_SHARE && arrived == written)
        } else {
            Some(arrived == written).filter(|ok| !ok)
        },
    ))
}

fn cpu_s(after: &ProcSample, before: &ProcSample) -> f64 {
    after.cpu_ticks.saturating_sub(before.cpu_ticks) as f64 / TICKS_PER_S
}

fn start_agent(
    target: &Target,
    work: &Path,
    log_path: &Path,
    group: &str,
) -> anyhow::Result<AgentProc> {
    let creds = work.join("credentials");
    std::fs::write(
        &creds,
        format!(
            "[AmazonCloudWatchAgent]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            target.access_key_id, target.secret_access_key
        ),
    )?;
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600))?;
    }
    let logfile = work.join("agent.log");
    let config = serde_json::json!({
        "agent": {
            "logfile": logfile,
            "spool_dir": work.join("spool"),
            "region": "us-east-1",
            // Set, so the agent never asks an instance metadata service.
            "instance_id": "i-0bench0logs0agent",
        },
        "logs": {
            "endpoint_override": target.endpoint,
            "force_flush_interval": FLUSH.as_secs(),
            "logs_collected": {
                "files": {
                    "collect_list": [{
                        "file_path": log_path,
                        "log_group_name": group,
                        "log_stream_name": "tail",
                    }]
                }
            }
        }
    });
    let config_path = work.join("agent.json");
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config)?)?;
    let stderr = std::fs::File::create(work.join("agent-stderr.log"))?;
    let child = Command::new(std::env::current_exe()?)
        .arg("agent")
        .arg("--config")
        .arg(&config_path)
        .arg("--credentials-file")
        .arg(&creds)
        .stdin(Stdio::null())
        .stdout(stderr.try_clone()?)
        .stderr(stderr)
        .spawn()
        .context("starting stratus agent")?;
    Ok(AgentProc { child, logfile })
}

fn wait_for_tailing(agent: &AgentProc) -> anyhow::Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        let text = std::fs::read_to_string(&agent.logfile).unwrap_or_default();
        if text.contains("tailing") {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = std::fs::read_to_string(&agent.logfile).unwrap_or_default();
    bail!(
        "the agent did not start tailing within {START_TIMEOUT:?}; its log:\n{}",
        text.lines().rev().take(20).collect::<Vec<_>>().join("\n")
    )
}

/// Counts the group's events with FilterLogEvents until all `expected` are
/// there or the wait runs out; the count at the end either way.
fn count_arrived(target: &Target, group: &str, expected: u64) -> anyhow::Result<u64> {
    let client = target.client();
    let deadline = Instant::now() + ARRIVAL_TIMEOUT;
    // The last lines wait up to one flush interval in the agent's batch.
    std::thread::sleep(FLUSH + Duration::from_secs(1));
    loop {
        let counted = match client.filter_all(group, None) {
            Ok(run) => run.events,
            // The agent creates the group with its first batch.
            Err(e) if e.to_string().contains("ResourceNotFoundException") => 0,
            Err(e) => return Err(e),
        };
        if counted >= expected || Instant::now() >= deadline {
            return Ok(counted);
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}
