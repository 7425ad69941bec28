//! `stratus agent`: the host agent (amazon-cloudwatch-agent compatible).

use std::path::PathBuf;
use stratus_agent::runtime::{self, AgentOptions};

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["config", "check_config"])))]
pub struct AgentArgs {
    /// Run with this amazon-cloudwatch-agent JSON config.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Validate this config, run each collector once and print the metrics that
    /// would be published, without sending anything. Exit code 1 on a bad config.
    #[arg(long, value_name = "FILE")]
    check_config: Option<PathBuf>,
    /// Shared credentials file (default: agent.credentials_file,
    /// AWS_SHARED_CREDENTIALS_FILE, ~/.aws/credentials).
    #[arg(long, value_name = "FILE")]
    credentials_file: Option<PathBuf>,
    /// Profile in the credentials file (default: agent.profile, AmazonCloudWatchAgent).
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
}

/// Set by `stratus up` on the agent it starts, to its own pid.
pub const UP_PARENT_ENV: &str = "STRATUS_UP_PARENT_PID";

/// Under `stratus up`: asks the kernel to SIGTERM this agent when `up` dies,
/// however it dies (a SIGKILL of `up` must not leave an orphan agent behind).
/// SIGTERM, not SIGKILL, so the agent flushes on the way out.
fn follow_up_parent() {
    let Ok(parent) = std::env::var(UP_PARENT_ENV) else {
        return;
    };
    use rustix::process::{Signal, getppid, set_parent_process_death_signal};
    if let Err(e) = set_parent_process_death_signal(Some(Signal::TERM)) {
        eprintln!("stratus agent: cannot follow the stratus up process: {e}");
        return;
    }
    // `up` may have died before the prctl; then we already have a new parent.
    let ppid = getppid().map(|p| p.as_raw_pid().to_string());
    if ppid.as_deref() != Some(parent.trim()) {
        eprintln!("stratus agent: stratus up (pid {parent}) is gone; exiting");
        std::process::exit(0);
    }
}

/// Runs the subcommand; returns the process exit code.
pub fn run(args: AgentArgs) -> i32 {
    follow_up_parent();
    let check = args.check_config.is_some();
    let opts = AgentOptions {
        config_path: args.check_config.or(args.config).unwrap_or_default(),
        credentials_file: args.credentials_file,
        profile: args.profile,
        sys_root: None,
    };
    match runtime::run_or_check(&opts, check) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("stratus agent: {e}");
            1
        }
    }
}
