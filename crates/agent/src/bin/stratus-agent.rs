//! `stratus-agent`: the host agent alone, without the server's code in the
//! binary, for hosts where resident memory matters (the full `stratus` binary
//! maps the server too). Same flags as `stratus agent`.

use std::path::PathBuf;
use std::process::ExitCode;
use stratus_agent::runtime::{self, AgentOptions};

const USAGE: &str = "\
stratus-agent: collect host metrics and ship them to a CloudWatch-compatible endpoint

Usage: stratus-agent (--config FILE | --check-config FILE) [--credentials-file FILE] [--profile NAME]

  --config FILE             run with this amazon-cloudwatch-agent JSON config
  --check-config FILE       validate the config, collect once, print the metrics; exit 1 if bad
  --credentials-file FILE   shared credentials file (default: agent.credentials_file,
                            AWS_SHARED_CREDENTIALS_FILE, ~/.aws/credentials)
  --profile NAME            profile in the credentials file (default: AmazonCloudWatchAgent)
  --version                 print the version
";

fn main() -> ExitCode {
    let mut config = None;
    let mut check = None;
    let mut credentials_file = None;
    let mut profile = None;
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        let arg = arg.to_string_lossy().into_owned();
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Option<String> {
            inline
                .clone()
                .or_else(|| args.next().map(|v| v.to_string_lossy().into_owned()))
                .or_else(|| {
                    eprintln!("stratus-agent: {name} needs a value\n\n{USAGE}");
                    None
                })
        };
        match flag.as_str() {
            "--config" => config = value("--config").map(PathBuf::from),
            "--check-config" => check = value("--check-config").map(PathBuf::from),
            "--credentials-file" => {
                credentials_file = value("--credentials-file").map(PathBuf::from)
            }
            "--profile" => profile = value("--profile"),
            "-h" | "--help" => {
                print!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "-V" | "--version" => {
                println!("stratus-agent {}", env!("CARGO_PKG_VERSION"));
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("stratus-agent: unknown argument '{other}'\n\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let checking = check.is_some();
    let Some(config_path) = check.or(config) else {
        eprintln!("stratus-agent: one of --config or --check-config is required\n\n{USAGE}");
        return ExitCode::from(2);
    };
    let opts = AgentOptions {
        config_path,
        credentials_file,
        profile,
        sys_root: None,
    };
    match runtime::run_or_check(&opts, checking) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stratus-agent: {e}");
            ExitCode::FAILURE
        }
    }
}
