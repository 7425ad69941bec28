//! The Stratus server: the HTTP application serving the CloudWatch (and later
//! SNS) APIs, request authentication and key policies, the metadata store, and
//! the glue from decoded operations to the time-series engine.
//!
//! It owns *doing* things: it must not know wire formats (that is `proto`),
//! what makes a request valid (that is `model`) or how samples are laid out on
//! disk (that is `tsdb`).

pub mod admin;
pub mod alarms;
pub mod anomaly;
pub mod app;
pub mod auth;
pub mod bootstrap;
pub mod cloudwatch;
pub mod cluster_figures;
pub mod cluster_import;
pub mod config_file;
pub mod connections;
pub mod console;
pub mod dashboards;
pub mod fsutil;
pub mod insight_rules;
pub mod keys;
pub mod logs;
pub mod meta;
pub mod metric_streams;
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
    /// SMS gateway (JSON POSTs, `notify::sms`); `None`: SMS go to the mailbox.
    pub sms_gateway_url: Option<String>,
    /// The account is in the SMS sandbox (SMS only to verified numbers).
    pub sms_sandbox: bool,
    /// How long metric data is kept at each resolution (default: CloudWatch's).
    pub retention: stratus_tsdb::Retention,
    /// Where webhook deliveries may connect (`[notify]` of the config file).
    pub egress: notify::egress::EgressConfig,
    /// Firehose delivery stream name → the HTTP endpoint metric streams
    /// deliver to (`[firehose]` of the config file, `--firehose`).
    pub firehose: metric_streams::Destinations,
    /// Repair damaged tsdb and log store files at start instead of refusing
    /// to start (`--recover`; see `stratus_tsdb::Options::recover` and
    /// `stratus_logs::store::Options::recover`).
    pub recover: bool,
    /// Start on a `meta.redb` that fails its integrity check, letting redb
    /// repair it (a copy is kept); see [`meta::MetaStore::open_recovering`].
    pub recover_meta: bool,
    /// Connection timeouts and caps (`[server]` in the config file).
    pub connections: connections::Limits,
    /// Serve HTTPS with this certificate and key (reloaded on SIGHUP).
    pub tls: Option<tls::TlsFiles>,
    /// Cluster mode (`[cluster]` in the config file): metadata in
    /// PostgreSQL, writes through the NATS JetStream log, blocks in S3.
    pub cluster: Option<stratus_cluster::ClusterConfig>,
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
    #[error(
        "cannot listen on {addr}: another program is using that port. Stop it, or choose \
         another address with --listen (STRATUS_LISTEN, or listen in the config file)"
    )]
    PortInUse { addr: SocketAddr },
    #[error(
        "another Stratus is already running on the data directory {}{}. Only one server \
         (`stratus server` or `stratus up`) may use a data directory: stop that one \
         (Ctrl-C in its terminal, or kill -TERM its pid), or start this one with another --data-dir",
        data_dir.display(),
        holder.map(|pid| format!(" (pid {pid})")).unwrap_or_default()
    )]
    DataDirInUse {
        data_dir: PathBuf,
        holder: Option<u32>,
    },
    #[error("server: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Notify(#[from] notify::ConfigError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cluster: {0}")]
    Cluster(String),
}

/// Binds the listen address. A port in use because another server runs on
/// the same data directory is reported as that, the likelier mistake.
fn listen(config: &Config) -> Result<tokio::net::TcpListener, ServerError> {
    let addr = config.listen;
    connections::bind(addr).map_err(|source| match source.kind() {
        std::io::ErrorKind::AddrInUse => {
            match fsutil::process_holding(&config.data_dir.join(META_FILE)) {
                Some(pid) => ServerError::DataDirInUse {
                    data_dir: config.data_dir.clone(),
                    holder: Some(pid),
                },
                None => ServerError::PortInUse { addr },
            }
        }
        _ => ServerError::Listen { addr, source },
    })
}

/// Opens `<data-dir>/meta.redb`; its lock is what keeps two servers off one
/// data directory, so a held lock is reported as exactly that.
fn open_meta(data_dir: &std::path::Path, recover: bool) -> Result<meta::MetaStore, ServerError> {
    let path = data_dir.join(META_FILE);
    let in_use = |holder: u32| ServerError::DataDirInUse {
        data_dir: data_dir.to_path_buf(),
        holder: Some(holder),
    };
    // Another server on this data dir is named before the integrity check:
    // that check reads a copy, and a live file's copy may be mid-commit.
    if let Some(holder) = fsutil::process_holding(&path) {
        return Err(in_use(holder));
    }
    let opened = if recover {
        meta::MetaStore::open_recovering(&path).map(|(meta, damage)| {
            if let Some(damage) = damage {
                tracing::warn!(%damage, "--recover-meta: meta.redb was repaired; a copy of the damaged file was kept beside it");
            }
            meta
        })
    } else {
        meta::MetaStore::open_verified(&path)
    };
    opened.map_err(|e| match e {
        // redb's lock: another process opened it after the check above.
        meta::MetaError::Unavailable(why) => match fsutil::process_holding(&path) {
            Some(holder) => in_use(holder),
            None => meta::MetaError::Unavailable(why).into(),
        },
        e => e.into(),
    })
}

const META_FILE: &str = "meta.redb";

async fn refresh_keys(state: Arc<state::AppState>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        let st = state.clone();
        match tokio::task::spawn_blocking(move || st.keys.refresh_if_changed()).await {
            Ok(Ok(true)) => tracing::info!("access keys reloaded (changed on another node)"),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => tracing::warn!("refreshing access keys: {e}"),
            Err(e) => tracing::warn!("refreshing access keys: {e}"),
        }
    }
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
    let delivery_config = notify::DeliveryConfig::from_options(
        config.smtp_url.as_deref(),
        config.smtp_from.as_deref(),
    )?
    .with_sms_gateway(config.sms_gateway_url.as_deref())?;
    // Certificate problems stop start-up before the port opens.
    let tls = match &config.tls {
        Some(files) => Some(Arc::new(tls::Reloadable::open(files.clone())?)),
        None => None,
    };
    // SIGHUP's handler is in place before the port opens: its default action
    // would stop the server.
    let reloader = tls::reload_on_sighup(tls.clone()).map_err(ServerError::Serve)?;
    // The port first: a start that cannot listen must not leave a data
    // directory with an admin key nobody was told about.
    let listener = listen(&config)?;
    let addr = listener.local_addr().map_err(ServerError::Serve)?;
    std::fs::create_dir_all(&config.data_dir).map_err(|source| ServerError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    let data_dir =
        std::fs::canonicalize(&config.data_dir).map_err(|source| ServerError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
    if delivery_config.smtp.is_some() && config.smtp_from.is_none() {
        tracing::warn!(
            "--smtp-url is set but --smtp-from is not: notification emails go out From {}, \
             which a real relay may reject or mark as spam; set --smtp-from (STRATUS_SMTP_FROM, \
             or smtp_from in the config file) to an address of your domain",
            notify::email::DEFAULT_FROM
        );
    }
    // Cluster mode: the metadata lives in PostgreSQL (shared by every node).
    let pg = match &config.cluster {
        Some(c) => {
            let url = c.postgres_url.clone();
            let pg = tokio::task::spawn_blocking(move || {
                stratus_cluster::Pg::connect(&url, std::time::Duration::from_secs(60))
            })
            .await
            .map_err(|e| ServerError::Cluster(e.to_string()))?
            .map_err(|e| ServerError::Cluster(format!("PostgreSQL: {e}")))?;
            Some(pg)
        }
        None => None,
    };
    let meta = match &pg {
        Some(pg) => Arc::new(meta::MetaStore::postgres(pg.clone())),
        None => Arc::new(open_meta(&data_dir, config.recover_meta)?),
    };
    // Blocking calls (PostgreSQL's client runs its own runtime): off the async thread.
    let (key_store, boot) = tokio::task::block_in_place(|| -> Result<_, ServerError> {
        let key_store = keys::KeyStore::open(meta.clone(), &data_dir.join("master.key"))?;
        let boot = bootstrap::admin_key(
            &meta,
            &key_store,
            &data_dir,
            config.admin_key.as_ref(),
            &bootstrap::local_url(addr, tls.is_some()),
        )?;
        Ok((key_store, boot))
    })?;
    let metrics = if let (Some(mut cluster), Some(pg)) = (config.cluster.clone(), pg.clone()) {
        let dir = data_dir.clone();
        let retention = config.retention.clone();
        let rt = tokio::runtime::Handle::current();
        let peer_secret = key_store.peer_secret();
        if cluster.advertise_url.is_none() {
            // Other nodes read this node's partitions through it.
            if addr.ip().is_unspecified() {
                return Err(ServerError::Cluster(format!(
                    "[cluster] advertise_url is required when listening on {addr}: other \
                     nodes read this node's partitions through it"
                )));
            }
            let scheme = if tls.is_some() { "https" } else { "http" };
            cluster.advertise_url = Some(format!("{scheme}://{addr}"));
        }
        let started = tokio::task::spawn_blocking(move || {
            stratus_cluster::ClusterMetrics::start(cluster, pg, &dir, retention, rt, peer_secret)
        })
        .await
        .map_err(|e| ServerError::Cluster(e.to_string()))?
        .map_err(|e| ServerError::Cluster(e.to_string()))?;
        storage::MetricStore::cluster(Arc::new(started))
    } else {
        let dir = data_dir.join("tsdb");
        let fsync = config.fsync;
        let retention = config.retention.clone();
        let recover = config.recover;
        tokio::task::spawn_blocking(move || {
            storage::MetricStore::open_recovering(&dir, fsync, retention, recover)
        })
        .await
        .map_err(|e| ServerError::Storage(e.to_string()))??
    };
    // CloudWatch Logs: single-node only for now (see `logs`).
    let logs = if config.cluster.is_none() {
        let dir = data_dir.clone();
        let (fsync, recover) = (config.fsync, config.recover);
        let rt = tokio::task::spawn_blocking(move || {
            logs::LogsRuntime::open_recovering(&dir, fsync, recover)
        })
        .await
        .map_err(|e| ServerError::Storage(e.to_string()))?
        .map_err(ServerError::Storage)?;
        Some(Arc::new(rt))
    } else {
        None
    };
    let public_url = config
        .public_url
        .clone()
        .map(|u| u.trim_end_matches('/').to_string())
        .unwrap_or_else(|| {
            let scheme = if tls.is_some() { "https" } else { "http" };
            format!("{scheme}://{addr}")
        });
    let notifier = notify::Notifier::new(meta.clone(), &data_dir);
    if let Some(c) = &config.cluster {
        notifier.set_node_id(c.node_id.clone());
    }
    let roles = config
        .cluster
        .as_ref()
        .map_or(stratus_cluster::Roles::all(), |c| c.roles);
    // The server's own address is known only now that it is bound.
    let egress = Arc::new(notify::egress::EgressPolicy::new(
        config.egress.clone(),
        vec![addr],
    ));
    // Cluster mode: console sessions are shared through the metadata store,
    // so any node serves any logged-in browser.
    let console = if config.cluster.is_some() {
        console::Sessions::shared(meta.clone())
    } else {
        console::Sessions::default()
    };
    let state = Arc::new(state::AppState {
        keys: key_store,
        meta,
        metrics,
        notifier,
        data_dir: data_dir.clone(),
        public_url,
        sns: sns::SnsRuntime::default(),
        console,
        alarm_changes: Default::default(),
        egress: egress.clone(),
        logs,
        firehose: Arc::new(config.firehose.clone()),
    });
    state
        .sns
        .sms_sandbox
        .store(config.sms_sandbox, std::sync::atomic::Ordering::Relaxed);
    if state.logs.is_some() {
        let st = state.clone();
        tokio::task::spawn_blocking(move || logs::replay_at_start(&st))
            .await
            .map_err(|e| ServerError::Storage(e.to_string()))?;
        logs::spawn_maintenance(state.clone(), std::time::Duration::from_secs(2));
    }
    {
        // Create (first start) or load the SNS signing key now, not on the
        // first Subscribe.
        let st = state.clone();
        tokio::task::spawn_blocking(move || st.sns.signer(&st.data_dir).map(|_| ()))
            .await
            .map_err(|e| ServerError::Storage(e.to_string()))?
            .map_err(|e| ServerError::Storage(e.message))?;
    }
    let worker = if roles.notifier {
        Some(state.notifier.start_worker(&delivery_config, egress)?)
    } else {
        None
    };
    on_started(&Started {
        addr,
        tls: tls.is_some(),
        credentials_file: boot.credentials_file,
        config_file: boot.config_file,
        admin_key_id: boot.created_key_id,
    });
    let scheduler = roles
        .evaluator
        .then(|| alarms::scheduler::spawn(state.clone()));
    let figures = state
        .metrics
        .cluster_runtime()
        .is_some()
        .then(|| tokio::spawn(cluster_figures::publish(state.clone())));
    // Single-node only: PutMetricStream is refused in cluster mode.
    let stream_delivery = state
        .metrics
        .cluster_runtime()
        .is_none()
        .then(|| metric_streams::delivery::spawn(state.clone()));
    // Cluster mode: keys created or deleted on other nodes reach this one
    // within a second (a deleted key stops working everywhere).
    let key_refresh = state
        .metrics
        .cluster_runtime()
        .is_some()
        .then(|| tokio::spawn(refresh_keys(state.clone())));
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
    if let Some(figures) = figures {
        figures.abort();
    }
    if let Some(task) = key_refresh {
        task.abort();
    }
    if let Some(task) = stream_delivery {
        task.abort();
        let _ = task.await;
    }
    if let Some(scheduler) = scheduler {
        scheduler.abort();
        let _ = scheduler.await;
    }
    if let Some(worker) = worker {
        worker.shutdown().await;
    }
    tracing::info!("shutting down: sealing storage");
    let st = state.clone();
    tokio::task::spawn_blocking(move || st.metrics.shutdown())
        .await
        .map_err(|e| ServerError::Storage(e.to_string()))??;
    if let Some(rt) = state.logs.clone() {
        tokio::task::spawn_blocking(move || rt.store.shutdown())
            .await
            .map_err(|e| ServerError::Storage(e.to_string()))?
            .map_err(|e| ServerError::Storage(format!("log store: {e}")))?;
    }
    Ok(())
}
