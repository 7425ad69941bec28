//! `stratus`: one binary for the server, the quick-start `up`, and admin verbs.

mod agent_cmd;
mod bench;
mod client;
mod keys_cmd;
mod mail_cmd;
mod up;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// The request path allocates many small strings per datum; mimalloc's
/// thread-local free lists make that markedly cheaper than glibc malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "stratus",
    version,
    about = "Self-hosted, CloudWatch-compatible monitoring"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the Stratus server (CloudWatch API on one port).
    Server(ServerArgs),
    /// Quick start: run Stratus on its embedded defaults (data in ./stratus-data)
    /// with a local agent reporting this machine's cpu, mem, disk and net.
    Up(ServerArgs),
    /// Manage access keys on a running server.
    Keys(keys_cmd::KeysArgs),
    /// Benchmarks: start a server and drive it over HTTP, printing figures.
    Bench(bench::BenchArgs),
    /// Run the host agent (amazon-cloudwatch-agent JSON config), or check a config.
    Agent(agent_cmd::AgentArgs),
    /// Notification email: read the local mailbox, send a test notification.
    Mail(mail_cmd::MailArgs),
}

#[derive(clap::Args)]
struct ServerArgs {
    /// Where metrics, metadata and the credentials file live.
    #[arg(long, default_value = "./stratus-data", env = "STRATUS_DATA_DIR")]
    data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:4566", env = "STRATUS_LISTEN")]
    listen: SocketAddr,
    /// The URL users reach this server at, for links in emails and
    /// notifications (confirmation, unsubscribe, console). Default: http://<listen address>.
    #[arg(long, env = "STRATUS_PUBLIC_URL")]
    public_url: Option<String>,
    /// SMTP relay for notification emails: smtp://HOST:PORT, smtp://HOST:PORT?tls=starttls
    /// or smtps://HOST:PORT, with optional user:password@ (percent-encoded). Without it,
    /// emails land in <data-dir>/mailbox/ (see `stratus mail list`).
    #[arg(long, env = "STRATUS_SMTP_URL")]
    smtp_url: Option<String>,
    /// The From of notification emails. Default: "Stratus Notifications <no-reply@localhost>".
    #[arg(long, env = "STRATUS_SMTP_FROM")]
    smtp_from: Option<String>,
    /// Acknowledge writes before they are fsync'd. Unsafe: for benchmarks only.
    #[arg(long, hide = true)]
    no_fsync: bool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STRATUS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Server(args) => serve(args, false),
        Command::Up(args) => up::run(args),
        Command::Keys(args) => keys_cmd::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Agent(args) => std::process::exit(agent_cmd::run(args)),
        Command::Mail(args) => mail_cmd::run(args),
    }
}

fn admin_key_from_env() -> anyhow::Result<Option<(String, String)>> {
    let id = std::env::var("STRATUS_ADMIN_ACCESS_KEY_ID").ok();
    let secret = std::env::var("STRATUS_ADMIN_SECRET_ACCESS_KEY").ok();
    match (id, secret) {
        (Some(i), Some(s)) => Ok(Some((i, s))),
        (None, None) => Ok(None),
        _ => anyhow::bail!(
            "set both STRATUS_ADMIN_ACCESS_KEY_ID and STRATUS_ADMIN_SECRET_ACCESS_KEY, or neither"
        ),
    }
}

/// Each API request runs on a blocking thread. Tokio's default cap (512)
/// lets a burst of slow requests start hundreds of threads, each with its
/// own allocator heap, for no throughput (they wait on the same write lock
/// and fsync, on 2 cores): measured with `stratus bench fleet --hosts 10000
/// --senders 256` while every host's series were new, 347 threads and
/// 1411 MiB RSS. Requests beyond the cap wait in tokio's queue instead.
/// Notification deliveries (a few at a time) leave the API most of it.
const MAX_BLOCKING_THREADS: usize = 32;

fn serve(args: ServerArgs, quick_start: bool) -> anyhow::Result<()> {
    serve_with(args, |s| print_banner(s, quick_start), shutdown_signal())
}

/// Runs the server until `shutdown` resolves; `on_started` runs once it listens.
fn serve_with(
    args: ServerArgs,
    on_started: impl FnOnce(&stratus_server::Started),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let config = stratus_server::Config {
        data_dir: args.data_dir,
        listen: args.listen,
        public_url: args.public_url,
        admin_key: admin_key_from_env()?,
        fsync: !args.no_fsync,
        smtp_url: args.smtp_url,
        smtp_from: args.smtp_from,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move { stratus_server::run(config, on_started, shutdown).await })?;
    Ok(())
}

fn print_banner(s: &stratus_server::Started, quick_start: bool) {
    let endpoint = format!("http://{}", s.addr);
    let creds = s.credentials_file.display();
    let conf = s.config_file.display();
    println!("Stratus is listening on {endpoint}");
    if let Some(id) = &s.admin_key_id {
        println!("Created admin access key {id}");
    }
    println!("Admin credentials: {creds} (profile [stratus], mode 0600)");
    println!();
    println!("Use it with the AWS CLI:");
    println!("  export AWS_SHARED_CREDENTIALS_FILE={creds} AWS_CONFIG_FILE={conf}");
    println!("  aws --endpoint-url {endpoint} --profile stratus cloudwatch list-metrics");
    println!();
    println!("Web console: {endpoint}/");
    println!("  log in with aws_access_key_id and aws_secret_access_key from {creds}");
    if quick_start {
        if let Some(data_dir) = s.credentials_file.parent() {
            for line in up::banner_lines(data_dir) {
                println!("{line}");
            }
        }
        println!("Create a least-privilege key for an agent on another host:");
        println!("  stratus keys create --name my-host --policy agent --credentials-file {creds}");
    }
    println!("Press Ctrl-C to stop.");
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("signal received, stopping");
}
