//! `stratus`: one binary for the server, the quick-start `up`, and admin verbs.

mod agent_cmd;
mod bench;
mod client;
mod cluster_cmd;
mod fsck_cmd;
mod keys_cmd;
mod mail_cmd;
mod up;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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
    /// Check every metric and log storage file of a (stopped) server's data directory;
    /// exits non-zero when damage is found. --repair does what `server --recover` does.
    Fsck(fsck_cmd::FsckArgs),
    /// Cluster mode: `stratus cluster status` from any node.
    Cluster(cluster_cmd::ClusterArgs),
}

#[derive(clap::Args)]
struct ServerArgs {
    /// Server config file (TOML): [server] settings and per-resolution [retention]
    /// (see the README). Flags and their environment variables override its [server] table.
    #[arg(long, env = "STRATUS_CONFIG")]
    config: Option<PathBuf>,
    /// Where metrics, metadata and the credentials file live. Default: ./stratus-data.
    #[arg(long, env = "STRATUS_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Address to listen on. Default: 127.0.0.1:4566.
    #[arg(long, env = "STRATUS_LISTEN")]
    listen: Option<SocketAddr>,
    /// The URL users reach this server at, for links in emails and
    /// notifications (confirmation, unsubscribe, console). Default: http://<listen address>.
    #[arg(long, env = "STRATUS_PUBLIC_URL")]
    public_url: Option<String>,
    /// SMTP relay for notification emails: smtp://HOST:PORT, smtp://HOST:PORT?tls=starttls
    /// or smtps://HOST:PORT, with optional user:password@ (percent-encoded). Without it,
    /// emails land in <data-dir>/mailbox/ (see `stratus mail list`).
    #[arg(long, env = "STRATUS_SMTP_URL")]
    smtp_url: Option<String>,
    /// The From of notification emails. Default: "Stratus Notifications <no-reply@localhost>"
    /// (fine for the local mailbox; with --smtp-url set an address of your domain: the
    /// server warns at start when it would send as no-reply@localhost).
    #[arg(long, env = "STRATUS_SMTP_FROM")]
    smtp_from: Option<String>,
    /// SMS gateway: SMS messages are POSTed there as JSON ({"phoneNumber", "message",
    /// "senderId", "smsType", "messageId", ...}); any 2xx is delivered, anything else
    /// retried. Without it, SMS land in <data-dir>/mailbox/ (`stratus mail list`).
    #[arg(long, env = "STRATUS_SMS_GATEWAY_URL")]
    sms_gateway_url: Option<String>,
    /// Put the account in the SMS sandbox: SMS only to numbers verified with
    /// CreateSMSSandboxPhoneNumber / VerifySMSSandboxPhoneNumber.
    #[arg(long)]
    sms_sandbox: bool,
    /// Repair damaged metric and log storage at start instead of refusing to start:
    /// skip damaged WAL records (keeping every intact one after them), rebuild a
    /// damaged series catalog from the blocks and a damaged log catalog from
    /// catalog.snap.prev and the WAL, set damaged blocks and log segments aside. Each
    /// damaged file is copied to <name>.damaged-<unix-time> first, and everything
    /// skipped or lost is logged.
    #[arg(long)]
    recover: bool,
    /// Serve HTTPS: PEM certificate chain (server certificate first). Needs
    /// --tls-key. SIGHUP re-reads both files (renewals without a restart).
    #[arg(long, env = "STRATUS_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "STRATUS_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Acknowledge writes before they are fsync'd. Unsafe: for benchmarks only.
    #[arg(long, hide = true)]
    no_fsync: bool,
    /// Start even though <data-dir>/meta.redb fails its integrity check: keep a
    /// copy of it (meta.redb.damaged-<unix time>) and let redb repair it, which
    /// may drop recent alarms, topics or other changes. Without it the server
    /// refuses to start on a damaged meta.redb.
    #[arg(long, env = "STRATUS_RECOVER_META")]
    recover_meta: bool,
    /// Metric streams: deliver the Firehose delivery stream NAME (the end of a
    /// PutMetricStream FirehoseArn) to the HTTP endpoint URL, in Firehose's HTTP
    /// endpoint request format. Repeatable; adds to the config file's [firehose].
    #[arg(long, value_name = "NAME=URL", value_parser = parse_firehose)]
    firehose: Vec<(String, stratus_server::metric_streams::Endpoint)>,
}

fn parse_firehose(s: &str) -> Result<(String, stratus_server::metric_streams::Endpoint), String> {
    stratus_server::metric_streams::parse_destination_flag(s)
}

impl ServerArgs {
    /// The server's settings: flags (and their env variables) first, then the
    /// config file, then the defaults. A bad config file is an error.
    fn into_config(self) -> anyhow::Result<stratus_server::Config> {
        let file = match &self.config {
            Some(path) => stratus_server::config_file::load(path)?,
            None => stratus_server::config_file::FileConfig::default(),
        };
        let server = file.server;
        Ok(stratus_server::Config {
            connections: server.connection_limits(),
            tls: match (self.tls_cert, self.tls_key) {
                (Some(cert), Some(key)) => Some(stratus_server::tls::TlsFiles { cert, key }),
                _ => server.tls_files(),
            },
            data_dir: self
                .data_dir
                .or(server.data_dir)
                .unwrap_or_else(|| PathBuf::from("./stratus-data")),
            listen: self
                .listen
                .or(server.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 4566))),
            public_url: self.public_url.or(server.public_url),
            admin_key: admin_key_from_env()?,
            fsync: !self.no_fsync,
            smtp_url: self.smtp_url.or(server.smtp_url),
            smtp_from: self.smtp_from.or(server.smtp_from),
            sms_gateway_url: self.sms_gateway_url.or(server.sms_gateway_url),
            sms_sandbox: self.sms_sandbox || server.sms_sandbox.unwrap_or(false),
            retention: file.retention,
            egress: file.notify,
            firehose: {
                let mut f = file.firehose;
                f.extend(self.firehose);
                f
            },
            recover: self.recover || server.recover.unwrap_or(false),
            recover_meta: self.recover_meta,
            cluster: file.cluster.as_ref().map(|c| c.to_config()),
        })
    }
}

/// mimalloc marks its arenas `MADV_HUGEPAGE`, so each first touch of a
/// 2 MiB region faults in (and zeroes) a whole huge page. Measured with
/// `stratus bench fleet --hosts 10000`: the generator's 256 threads reached
/// 2.0 GiB resident (365 MiB without), and in the first 10 s the server
/// spent half its CPU in the kernel clearing pages, so a fleet's first
/// sends took seconds. Our allocations are small and per thread; huge
/// pages buy nothing here. The flag covers the process and its children.
fn disable_huge_pages() {
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        eprintln!("stratus: could not turn off transparent huge pages ({e}); continuing");
    }
}

/// Agents keep their connection between flushes, so a server for N hosts
/// holds about N idle sockets: the soft open-file limit (often 1,024 when
/// started by hand) goes up to the hard one, as the systemd unit's
/// `LimitNOFILE` does.
fn raise_open_file_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum || (limit.current.is_some() && limit.maximum.is_none()) {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            eprintln!("stratus: could not raise the open-file limit ({e}); continuing");
        }
    }
}

fn main() -> anyhow::Result<()> {
    disable_huge_pages();
    raise_open_file_limit();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STRATUS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour only on a terminal: escape codes in a log file or the journal are noise.
        .with_ansi(log_in_colour())
        .init();
    match cli.command {
        Command::Server(args) => serve(args, false),
        Command::Up(args) => up::run(args),
        Command::Keys(args) => keys_cmd::run(args),
        Command::Cluster(args) => cluster_cmd::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Agent(args) => std::process::exit(agent_cmd::run(args)),
        Command::Mail(args) => mail_cmd::run(args),
        Command::Fsck(args) => std::process::exit(fsck_cmd::run(args)?),
    }
}

/// The log goes to stderr; colour it only when that is a terminal and
/// NO_COLOR (no-color.org) is unset.
fn log_in_colour() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// How to run this binary again from the current directory: `stratus` when
/// that is what PATH finds, else its path (`target/release/stratus` after
/// `cargo run --release`), so printed commands work when pasted.
pub(crate) fn command_name() -> String {
    let Ok(exe) = std::env::current_exe() else {
        return "stratus".into();
    };
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path)
            .any(|dir| std::fs::canonicalize(dir.join("stratus")).is_ok_and(|p| p == exe))
    });
    if on_path {
        return "stratus".into();
    }
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| exe.strip_prefix(cwd).ok().map(Path::to_path_buf));
    match relative {
        // A bare name would be looked up on PATH.
        Some(rel) if rel.components().count() == 1 => format!("./{}", rel.display()),
        Some(rel) => rel.display().to_string(),
        None => exe.display().to_string(),
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
    serve_with(args, |s| print_banner(s, quick_start), || async {})
}

/// Runs the server until SIGINT or SIGTERM, then `after_signal`, then stops;
/// `on_started` runs once it listens. The signal handlers are in place before
/// the port opens, so a signal during start-up stops it cleanly too.
fn serve_with<F>(
    args: ServerArgs,
    on_started: impl FnOnce(&stratus_server::Started),
    after_signal: impl FnOnce() -> F + Send + 'static,
) -> anyhow::Result<()>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let config = args.into_config()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .build()
        .context("starting the async runtime")?;
    // Errors become `anyhow` out here, on the main thread's short stack: a
    // backtrace (RUST_BACKTRACE) captured inside the runtime would push the
    // message itself off a log's tail.
    let served = rt.block_on(async move {
        let signal = shutdown_signal()?;
        let shutdown = async move {
            signal.await;
            after_signal().await;
        };
        Ok::<_, std::io::Error>(stratus_server::run(config, on_started, shutdown).await)
    });
    served.context("installing signal handlers")??;
    Ok(())
}

fn print_banner(s: &stratus_server::Started, quick_start: bool) {
    let scheme = if s.tls { "https" } else { "http" };
    // `bench` reads this first line for the address; the commands below need
    // one a client can connect to (loopback for 0.0.0.0).
    println!("Stratus is listening on {scheme}://{}", s.addr);
    let endpoint = stratus_server::bootstrap::local_url(s.addr, s.tls);
    let creds = s.credentials_file.display();
    let conf = s.config_file.display();
    if let Some(id) = &s.admin_key_id {
        println!("Created admin access key {id}");
    }
    println!("Admin credentials: {creds} (profile [stratus], mode 0600)");
    println!();
    println!(
        "Use it with the AWS CLI ([profile stratus] in {conf} sets endpoint_url to {endpoint}):"
    );
    println!("  export AWS_SHARED_CREDENTIALS_FILE={creds} AWS_CONFIG_FILE={conf}");
    println!("  aws --profile stratus cloudwatch list-metrics");
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
        println!(
            "  {} keys create --name my-host --policy agent --endpoint {endpoint} --credentials-file {creds}",
            command_name()
        );
    }
    println!("Press Ctrl-C to stop.");
}

/// Registers SIGINT and SIGTERM handlers now (inside the runtime); the
/// future resolves on the first of them.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        tracing::info!("signal received, stopping");
    })
}
