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

/// Runs the subcommand; returns the process exit code.
pub fn run(args: AgentArgs) -> i32 {
    let check = args.check_config.is_some();
    let opts = AgentOptions {
        config_path: args.check_config.or(args.config).unwrap_or_default(),
        credentials_file: args.credentials_file,
        profile: args.profile,
    };
    match runtime::run_or_check(&opts, check) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("stratus agent: {e}");
            1
        }
    }
}
