//! Cluster mode's metric path: several `stratus` nodes sharing one
//! PostgreSQL (leases, commits, metadata), one NATS JetStream ingest log and
//! one S3 bucket (blocks), with no consensus or replication of their own.
//!
//! A gateway splits a write by series partition and acknowledges it once the
//! replicated log has confirmed every part. Every node that keeps replicas
//! follows every partition's log into a local tsdb, starting from the
//! partition's newest commit; the node holding a partition's lease also seals
//! its replica, uploads the files and commits the manifest in a transaction
//! fenced by its lease epoch, then trims the log. Reads are answered from the
//! local replicas.
//!
//! This crate owns partitioning, replicas, ownership and commits. It knows
//! tsdb's types but nothing of CloudWatch, HTTP or the metadata records —
//! those stay in `server`, which adapts requests to the calls here.

pub mod config;
pub mod partition;
mod replica;
pub mod shards;
pub mod snapshot;
pub mod status;

pub use config::{ClusterConfig, Roles};
pub use replica::Replica;
pub use stratus_cluster_nats::IngestLog;
pub use stratus_cluster_pg::Pg;
pub use stratus_cluster_s3::BlockStore;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stratus_tsdb as tsdb;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("PostgreSQL: {0}")]
    Pg(#[from] stratus_cluster_pg::PgError),
    #[error("ingest log: {0}")]
    Log(#[from] stratus_cluster_nats::LogError),
    #[error("object storage: {0}")]
    Store(#[from] stratus_cluster_s3::StoreError),
    #[error("storage: {0}")]
    Tsdb(#[from] tsdb::Error),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("partition {0} is still loading on this node; retry shortly")]
    NotReady(u32),
    #[error("partition {0}: a newer owner took it (commit fenced)")]
    Fenced(u32),
    #[error("this node does not play the {0} role (roles: {1})")]
    Role(&'static str, String),
    #[error("{0}")]
    Other(String),
}

impl ClusterError {
    /// Nothing was stored or answered, and trying again (here or on another
    /// node) may succeed: a 503 for the API.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            ClusterError::Log(stratus_cluster_nats::LogError::Unavailable(_))
                | ClusterError::Pg(stratus_cluster_pg::PgError::Unavailable(_))
                | ClusterError::Store(stratus_cluster_s3::StoreError::Unavailable(_))
                | ClusterError::NotReady(_)
                | ClusterError::Role(..)
        )
    }
}

/// What every thread of the cluster runtime shares.
pub(crate) struct Shared {
    pub config: ClusterConfig,
    pub pg: Pg,
    pub log: IngestLog,
    pub store: BlockStore,
    pub rt: tokio::runtime::Handle,
    /// `<data-dir>/cluster`: replicas and the block cache.
    pub dir: PathBuf,
    pub retention: tsdb::Retention,
    pub stop: AtomicBool,
    /// Live nodes playing `ingester`, from the heartbeat table.
    pub live_ingesters: AtomicUsize,
    /// Live nodes playing `evaluator`.
    pub live_evaluators: AtomicUsize,
    pub blocks_committed: AtomicU64,
    pub replicas: Vec<Arc<Replica>>,
}

impl Shared {
    /// Whether this node may take one more partition lease: it holds fewer
    /// than its fair share among the live ingesters.
    pub fn may_take_partition(&self) -> bool {
        let held = self
            .replicas
            .iter()
            .filter(|r| r.epoch.load(Ordering::SeqCst) != 0)
            .count();
        held < partition::fair_share(
            self.config.partitions,
            self.live_ingesters.load(Ordering::Relaxed),
        )
    }
}

impl Shared {
    /// Sleeps `d`, waking early (within 100 ms) once the runtime is stopping.
    pub fn sleep_unless_stopping(&self, d: Duration) {
        let step = Duration::from_millis(100);
        let mut slept = Duration::ZERO;
        while slept < d && !self.stop.load(Ordering::SeqCst) {
            std::thread::sleep(step);
            slept += step;
        }
    }

    /// Whether this node holds more partitions than its fair share and
    /// `partition` is the highest-numbered one it holds (given back first).
    pub fn should_give_back(&self, partition: u32) -> bool {
        let held: Vec<u32> = self
            .replicas
            .iter()
            .filter(|r| r.epoch.load(Ordering::SeqCst) != 0)
            .map(|r| r.partition)
            .collect();
        let share = partition::fair_share(
            self.config.partitions,
            self.live_ingesters.load(Ordering::Relaxed),
        );
        held.len() > share && held.iter().max() == Some(&partition)
    }
}

/// The running cluster runtime of one node.
pub struct ClusterMetrics {
    shared: Arc<Shared>,
    /// Alarm shards this node holds (`None` without the evaluator role).
    shards: Option<Arc<shards::ShardTable>>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for ClusterMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterMetrics")
            .field("node", &self.shared.config.node_id)
            .finish_non_exhaustive()
    }
}

/// How long a start waits for each shared service.
const CONNECT_WAIT: Duration = Duration::from_secs(60);
/// How long a gateway waits for the log to confirm a write.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);
const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);

impl ClusterMetrics {
    /// Connects to the services (blocking; call from a blocking thread),
    /// checks the cluster-wide settings, and starts the partition threads and
    /// the heartbeat. `pg` is the metadata store's connection.
    pub fn start(
        config: ClusterConfig,
        pg: Pg,
        data_dir: &std::path::Path,
        retention: tsdb::Retention,
        rt: tokio::runtime::Handle,
    ) -> Result<ClusterMetrics, ClusterError> {
        let stored = pg.setting_init("partitions", &config.partitions.to_string())?;
        if stored != config.partitions.to_string() {
            return Err(ClusterError::Other(format!(
                "[cluster] partitions = {} but this cluster was created with {stored}; \
                 every node must use {stored}",
                config.partitions
            )));
        }
        let stored = pg.setting_init("alarm_shards", &config.alarm_shards.to_string())?;
        if stored != config.alarm_shards.to_string() {
            return Err(ClusterError::Other(format!(
                "[cluster] alarm_shards = {} but this cluster was created with {stored}",
                config.alarm_shards
            )));
        }
        let log = rt.block_on(connect_log(&config))?;
        stratus_cluster_s3::install_crypto();
        let store = BlockStore::s3(&config.s3)?;
        let dir = data_dir.join("cluster");
        std::fs::create_dir_all(&dir)?;
        let replicas = if config.roles.keeps_replicas() {
            (0..config.partitions)
                .map(|p| Arc::new(Replica::new(p)))
                .collect()
        } else {
            Vec::new()
        };
        let shared = Arc::new(Shared {
            config,
            pg,
            log,
            store,
            rt,
            dir,
            retention,
            stop: AtomicBool::new(false),
            live_ingesters: AtomicUsize::new(1),
            live_evaluators: AtomicUsize::new(1),
            blocks_committed: AtomicU64::new(0),
            replicas,
        });
        let mut threads = Vec::new();
        threads.push(spawn_heartbeat(shared.clone())?);
        for r in &shared.replicas {
            threads.push(replica::spawn(shared.clone(), r.clone())?);
        }
        let shards = if shared.config.roles.evaluator {
            let table = Arc::new(shards::ShardTable::new(shared.config.alarm_shards));
            threads.push(shards::spawn(shared.clone(), table.clone())?);
            Some(table)
        } else {
            None
        };
        Ok(ClusterMetrics {
            shared,
            shards,
            threads: Mutex::new(threads),
        })
    }

    pub fn config(&self) -> &ClusterConfig {
        &self.shared.config
    }

    /// Alarm shards held here; `None` when this node does not evaluate alarms.
    pub fn alarm_shards(&self) -> Option<&shards::ShardTable> {
        self.shards.as_deref()
    }

    fn roles_text(&self) -> String {
        self.shared.config.roles.names().join(", ")
    }

    /// Publishes a write to the log, one message per partition it touches,
    /// each carrying `batch_id`; returns once every part is confirmed.
    /// `Duplicate` when every part had been published before (a retry).
    pub fn write(
        &self,
        entries: Vec<(tsdb::SeriesKey, tsdb::Sample)>,
        batch_id: tsdb::BatchId,
    ) -> Result<tsdb::Written, ClusterError> {
        if !self.shared.config.roles.gateway {
            return Err(ClusterError::Role("gateway", self.roles_text()));
        }
        let log = self.shared.log.clone();
        let partitions = self.shared.config.partitions;
        self.shared.rt.block_on(async move {
            match tokio::time::timeout(
                PUBLISH_TIMEOUT,
                publish_write(&log, partitions, entries, batch_id),
            )
            .await
            {
                Ok(r) => r,
                Err(_) => Err(ClusterError::Log(
                    stratus_cluster_nats::LogError::Unavailable(
                        "the ingest log did not confirm the write in time".into(),
                    ),
                )),
            }
        })
    }

    fn replica_of(&self, key: &tsdb::SeriesKey) -> Result<Arc<tsdb::Db>, ClusterError> {
        if self.shared.replicas.is_empty() {
            return Err(ClusterError::Role("query", self.roles_text()));
        }
        let p = partition::of_series(key, self.shared.config.partitions);
        self.shared.replicas[p as usize].db()
    }

    pub fn query(&self, q: &tsdb::RangeQuery<'_>) -> Result<Vec<tsdb::Aggregate>, ClusterError> {
        Ok(self.replica_of(q.series)?.query(q)?)
    }

    /// Series in `SeriesKey` order across every partition.
    pub fn list_series(
        &self,
        filter: &tsdb::SeriesFilter,
        after: Option<&tsdb::SeriesKey>,
        limit: usize,
    ) -> Result<Vec<tsdb::SeriesKey>, ClusterError> {
        if self.shared.replicas.is_empty() {
            return Err(ClusterError::Role("query", self.roles_text()));
        }
        let mut all = Vec::new();
        for r in &self.shared.replicas {
            all.extend(r.db()?.list_series(filter, after, limit));
        }
        all.sort();
        all.truncate(limit);
        Ok(all)
    }

    /// Engine statistics summed over the local replicas.
    pub fn stats(&self) -> tsdb::Stats {
        let mut total = tsdb::Stats::default();
        for r in &self.shared.replicas {
            if let Ok(db) = r.db() {
                let s = db.stats();
                total.series += s.series;
                total.head_samples += s.head_samples;
                total.sealed_samples += s.sealed_samples;
                total.blocks += s.blocks;
                total.block_bytes += s.block_bytes;
                total.duplicate_batches += s.duplicate_batches;
                total.batch_ids += s.batch_ids;
            }
        }
        total
    }

    /// Every local replica has loaded its partition (reads are complete).
    pub fn ready(&self) -> bool {
        self.shared
            .replicas
            .iter()
            .all(|r| r.ready.load(Ordering::SeqCst))
    }

    /// This node's view of the cluster, for `stratus cluster status`.
    pub fn status(&self) -> Result<status::ClusterStatus, ClusterError> {
        status::collect(&self.shared)
    }

    /// This node's own figures, published as metrics in the `Stratus`
    /// namespace so alarms can watch the cluster.
    /// All are counts.
    pub fn own_figures(&self) -> Vec<(&'static str, f64)> {
        let mut lag = 0u64;
        for r in &self.shared.replicas {
            if let Ok(info) = self.shared.rt.block_on(self.shared.log.info(r.partition)) {
                lag = lag.max(
                    info.last_seq
                        .saturating_sub(r.applied.load(Ordering::SeqCst)),
                );
            }
        }
        let owned = self
            .shared
            .replicas
            .iter()
            .filter(|r| r.epoch.load(Ordering::SeqCst) != 0)
            .count();
        let lease_changes: u64 = self
            .shared
            .replicas
            .iter()
            .map(|r| r.lease_changes.load(Ordering::Relaxed))
            .sum();
        vec![
            ("LogLag", lag as f64),
            ("PartitionsOwned", owned as f64),
            ("PartitionLeaseChanges", lease_changes as f64),
            (
                "BlocksCommitted",
                self.shared.blocks_committed.load(Ordering::Relaxed) as f64,
            ),
        ]
    }

    /// Stops the partition threads (releasing leases, so another node takes
    /// over at once rather than after the lease expires).
    pub fn shutdown(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }
}

/// Milliseconds since the Unix epoch (wall clock).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Splits a write by partition and publishes one message per partition it
/// touches, each carrying `batch_id` (message id `<batch id>-<partition>`);
/// returns once the log confirmed every part. `Duplicate` when every part
/// had been published before (a retry).
pub async fn publish_write(
    log: &IngestLog,
    partitions: u32,
    entries: Vec<(tsdb::SeriesKey, tsdb::Sample)>,
    batch_id: tsdb::BatchId,
) -> Result<tsdb::Written, ClusterError> {
    let mut parts: Vec<Vec<(tsdb::SeriesKey, tsdb::Sample)>> =
        vec![Vec::new(); partitions as usize];
    for (key, sample) in entries {
        let p = partition::of_series(&key, partitions);
        parts[p as usize].push((key, sample));
    }
    let id_hex = hex::encode(batch_id.0);
    let mut msgs = Vec::new();
    for (p, entries) in parts.into_iter().enumerate() {
        if entries.is_empty() {
            continue;
        }
        let batch = tsdb::WriteBatch {
            entries,
            batch_id: Some(batch_id),
        };
        let mut bytes = Vec::new();
        tsdb::wire::encode_write_batch(&batch, &mut bytes);
        msgs.push((p as u32, format!("{id_hex}-{p}"), bytes::Bytes::from(bytes)));
    }
    if msgs.is_empty() {
        return Ok(tsdb::Written::Stored);
    }
    let published = log.publish_all(msgs).await?;
    if published.iter().all(|p| p.duplicate) {
        Ok(tsdb::Written::Duplicate)
    } else {
        Ok(tsdb::Written::Stored)
    }
}

/// Connects to the ingest log a cluster configuration names (for tools
/// that write without running a node: `stratus cluster import`).
pub async fn connect_log(config: &ClusterConfig) -> Result<IngestLog, ClusterError> {
    let log_config = stratus_cluster_nats::LogConfig {
        urls: config.nats_urls.clone(),
        partitions: config.partitions,
        replicas: config.log_replicas,
        max_bytes: config.log_max_bytes,
        ..stratus_cluster_nats::LogConfig::default()
    };
    Ok(IngestLog::connect(log_config, CONNECT_WAIT).await?)
}

/// Every few seconds: this node's row in the node table, and the count of
/// live ingesters the fair-share rule needs.
fn spawn_heartbeat(shared: Arc<Shared>) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("cluster-heartbeat".into())
        .spawn(move || {
            while !shared.stop.load(Ordering::SeqCst) {
                let stats = status::node_stats(&shared);
                let url = shared.config.advertise_url.clone().unwrap_or_default();
                if let Err(e) = shared.pg.node_heartbeat(
                    &shared.config.node_id,
                    &url,
                    &shared.config.roles.names(),
                    &stats,
                ) {
                    tracing::warn!("cluster heartbeat: {e}");
                }
                if let Ok(nodes) = shared.pg.nodes() {
                    let ttl_ms = shared.config.lease_ttl.as_millis() as i64;
                    // At least 1: this node counts even before its first heartbeat lands.
                    let live = |role: &str| {
                        nodes
                            .iter()
                            .filter(|n| {
                                n.heartbeat_age_ms < ttl_ms && n.roles.iter().any(|r| r == role)
                            })
                            .count()
                            .max(1)
                    };
                    shared
                        .live_ingesters
                        .store(live("ingester"), Ordering::Relaxed);
                    shared
                        .live_evaluators
                        .store(live("evaluator"), Ordering::Relaxed);
                }
                shared.sleep_unless_stopping(HEARTBEAT_EVERY);
            }
        })
}
