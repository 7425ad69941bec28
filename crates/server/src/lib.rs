//! The Stratus server: the HTTP application serving the CloudWatch (and later
//! SNS) APIs, request authentication and key policies, the metadata store, and
//! the glue from decoded operations to the time-series engine.
//!
//! It owns *doing* things: it must not know wire formats (that is `proto`),
//! what makes a request valid (that is `model`) or how samples are laid out on
//! disk (that is `tsdb`).

pub mod admin;
pub mod alarms;
pub mod app;
pub mod auth;
pub mod bootstrap;
pub mod cloudwatch;
pub mod config_file;
pub mod connections;
pub mod console;
pub mod dashboards;
pub mod fsutil;
pub mod keys;
pub mod meta;
pub mod notify;
pub mod policy;
pub mod sns;
pub mod state;
pub mod storage;
pub mod tags;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// The account id every ARN carries (AWS's documentation example id, as
/// moto and LocalStack use).
pub const ACCOUNT_ID: &str = "123456789012";
/// Region used when a request carries none (unsigned pages, console).
pub const DEFAULT_REGION: &str = "us-east-1";

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Base URL for links in notifications (`http://host:port`, no trailing
    /// slash); `None` means `http://<bound address>`.
    pub public_url: Option<String>,
    /// A fixed bootstrap admin key (from STRATUS_ADMIN_* env), for automation.
    pub admin_key: Option<(String, String)>,
    /// fsync the WAL before acknowledging writes. Only benchmarks turn it off.
    pub fsync: bool,
    /// SMTP relay for email notifications (`smtp://`, `smtps://`,
    /// `?tls=starttls`); `None`: emails go to `<data-dir>/mailbox/`.
    pub smtp_url: Option<String>,
    /// The From of notification emails (`Name <address>`); `None`: the default.
    pub smtp_from: Option<String>,
    /// How long metric data is kept at each resolution (default: CloudWatch's).
    pub retention: stratus_tsdb::Retention,
    /// Connection timeouts and caps (`[server]` in the config file).
    pub connections: connections::Limits,
    /// Serve HTTPS with this certificate and key (reloaded on SIGHUP).
    pub tls: Option<tls::TlsFiles>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Meta(#[from] meta::MetaError),
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    #[error("storage: {0}")]
    Storage(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Notify(#[from] notify::ConfigError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}

/// A started server: its bound address and what a user needs to connect.
#[derive(Debug)]
pub struct Started {
    pub addr: SocketAddr,
    /// The port speaks HTTPS.
    pub tls: bool,
    pub credentials_file: PathBuf,
    pub config_file: PathBuf,
    pub admin_key_id: Option<String>,
}

/// Opens the data directory (creating it), bootstraps the admin key, binds the
/// listener and serves until `shutdown` resolves; then seals storage cleanly.
pub async fn run(
    config: Config,
    on_started: impl FnOnce(&Started),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| ServerError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    let data_dir =
        std::fs::canonicalize(&config.data_dir).map_err(|source| ServerError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
    let delivery_config = notify::DeliveryConfig::from_options(
        config.smtp_url.as_deref(),
        config.smtp_from.as_deref(),
    )?;
    let meta = Arc::new(meta::MetaStore::open(&data_dir.join("meta.redb"))?);
    let key_store = keys::KeyStore::open(meta.clone(), &data_dir.join("master.key"))?;
    let boot = bootstrap::admin_key(&meta, &key_store, &data_dir, config.admin_key.as_ref())?;
    let metrics = {
        let dir = data_dir.join("tsdb");
        let fsync = config.fsync;
        let retention = config.retention.clone();
        tokio::task::spawn_blocking(move || storage::MetricStore::open(&dir, fsync, retention))
            .await
            .map_err(|e| ServerError::Storage(e.to_string()))??
    };
    // Certificate problems stop start-up before the port opens.
    let tls = match &config.tls {
        Some(files) => Some(Arc::new(tls::Reloadable::open(files.clone())?)),
        None => None,
    };
    // SIGHUP's handler is in place before the port opens: its default action
    // would stop the server.
    let reloader = tls::reload_on_sighup(tls.clone()).map_err(ServerError::Serve)?;
    let listener = connections::bind(config.listen).map_err(|source| ServerError::Listen {
        addr: config.listen,
        source,
    })?;
    let addr = listener.local_addr().map_err(ServerError::Serve)?;
    let public_url = config
        .public_url
        .clone()
        .map(|u| u.trim_end_matches('/').to_string())
        .unwrap_or_else(|| {
            let scheme = if tls.is_some() { "https" } else { "http" };
            format!("{scheme}://{addr}")
        });
    let notifier = notify::Notifier::new(meta.clone(), &data_dir);
    let state = Arc::new(state::AppState {
        keys: key_store,
        meta,
        metrics,
        notifier,
        data_dir: data_dir.clone(),
        public_url,
        sns: sns::SnsRuntime::default(),
        console: console::Sessions::default(),
        alarm_changes: Default::default(),
    });
    {
        // Create (first start) or load the SNS signing key now, not on the
        // first Subscribe.
        let st = state.clone();
        tokio::task::spawn_blocking(move || st.sns.signer(&st.data_dir).map(|_| ()))
            .await
            .map_err(|e| ServerError::Storage(e.to_string()))?
            .map_err(|e| ServerError::Storage(e.message))?;
    }
    let worker = state.notifier.start_worker(&delivery_config)?;
    on_started(&Started {
        addr,
        tls: tls.is_some(),
        credentials_file: boot.credentials_file,
        config_file: boot.config_file,
        admin_key_id: boot.created_key_id,
    });
    let scheduler = alarms::scheduler::spawn(state.clone());
    connections::serve(
        listener,
        app::router(state.clone()),
        config.connections,
        tls,
        shutdown,
    )
    .await;
    reloader.abort();
    // Alarms first (they enqueue notifications), then the delivery worker.
    scheduler.abort();
    let _ = scheduler.await;
    worker.shutdown().await;
    tracing::info!("shutting down: sealing storage");
    let st = state.clone();
    tokio::task::spawn_blocking(move || st.metrics.shutdown())
        .await
        .map_err(|e| ServerError::Storage(e.to_string()))??;
    Ok(())
}
