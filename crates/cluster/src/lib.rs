//! Cluster mode's metric path: several `stratus` nodes sharing one
//! PostgreSQL (leases, commits, metadata), one NATS JetStream ingest log and
//! one S3 bucket (blocks), with no consensus or replication of their own.
//!
//! A gateway splits a write by series partition and acknowledges it once the
//! replicated log has confirmed every part. Each partition is kept by
//! `partition_replicas` ingesters, picked by rendezvous hashing with bounded
//! loads over the live ones (modules `partition`, `membership`): each follows the partition's log into a local
//! tsdb, starting from the partition's newest commit. The first of them holds
//! the partition's lease: it seals its replica, uploads the files and commits
//! the manifest in a transaction fenced by its lease epoch, then trims the
//! log. A read is answered from a local replica, or asked of a node that
//! keeps the partition (module `peer`), so the fleet's data grows with the
//! number of ingesters rather than living whole on every node.
//!
//! This crate owns partitioning, replicas, ownership, commits and the reads
//! between nodes. It knows tsdb's types and HTTP only as the transport of its
//! own peer reads — nothing of CloudWatch or the metadata records; those stay
//! in `server`, which adapts requests to the calls here and routes the peer
//! endpoint to [`ClusterMetrics::serve_peer`].

pub mod config;
pub mod membership;
pub mod partition;
pub mod peer;
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
    #[error("no node that keeps partition {0} answered; retry shortly")]
    NoHolder(u32),
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
                | ClusterError::NoHolder(_)
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
    /// Which ingesters keep which partition, from the heartbeat table.
    pub membership: membership::Membership,
    /// Signs this node's peer reads and checks others'.
    pub peer_secret: [u8; 32],
    pub http: reqwest::Client,
    /// Spreads peer reads over the copies of a partition.
    pub read_rotation: AtomicUsize,
    /// Live nodes playing `evaluator`.
    pub live_evaluators: AtomicUsize,
    pub blocks_committed: AtomicU64,
    pub replicas: Vec<Arc<Replica>>,
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

    /// Whether this node, whose replica of `p` is ready, may take `p`'s
    /// lease: it keeps the partition and the preferred owner is not another
    /// ready node; or it no longer keeps it (the keepers changed) but no
    /// keeper is ready yet — a warm replica owns until one is.
    pub fn may_take_partition(&self, p: u32) -> bool {
        if self.membership.keeps_here(p) {
            !self.membership.owner_elsewhere_ready(p)
        } else {
            self.membership.known() && !self.membership.keeper_elsewhere_ready(p)
        }
    }

    /// Whether this node should hand `p`'s lease over: to its preferred
    /// owner, another node that is ready (it joined or came back); or, when
    /// this node no longer keeps `p`, to any keeper that is ready.
    pub fn should_give_back(&self, p: u32) -> bool {
        self.membership.owner_elsewhere_ready(p)
            || (!self.membership.keeps_here(p) && self.membership.keeper_elsewhere_ready(p))
    }

    /// The local replica of `p`, when this node keeps one that is caught up.
    fn ready_replica(&self, p: u32) -> Option<Arc<tsdb::Db>> {
        let r = self.replicas.get(p as usize)?;
        if !r.ready.load(Ordering::SeqCst) {
            return None;
        }
        r.db().ok()
    }

    /// The local replica of `p` if one is loaded, caught up or not.
    fn loaded_replica(&self, p: u32) -> Option<Arc<tsdb::Db>> {
        self.replicas.get(p as usize)?.db().ok()
    }

    /// Asks the nodes whose replica of `p` is ready, in turn, until one
    /// answers; `None` when none did.
    fn ask_peers(&self, p: u32, req: &tsdb::wire::ReadRequest) -> Option<Vec<u8>> {
        let rotate = self.read_rotation.fetch_add(1, Ordering::Relaxed);
        let body = bytes::Bytes::from(req.encode());
        for (id, url) in self.membership.ready_elsewhere(p, rotate) {
            match self.rt.block_on(peer_call(self, &url, body.clone())) {
                Ok(answer) => return Some(answer),
                Err(e) => {
                    tracing::warn!(partition = p, node = %id, "peer read: {e}");
                    self.membership.suspect(&id);
                }
            }
        }
        None
    }
}

/// Posts a peer read to the node at `url`; its answer's bytes on 200.
async fn peer_call(shared: &Shared, url: &str, body: bytes::Bytes) -> Result<Vec<u8>, String> {
    let secs = now_ms() / 1000;
    let auth = peer::sign(&shared.peer_secret, secs, &body);
    let resp = shared
        .http
        .post(format!("{}{}", url.trim_end_matches('/'), peer::PATH))
        .header(peer::AUTH_HEADER, auth)
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        Ok(bytes.to_vec())
    } else {
        Err(format!(
            "{status}: {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
        ))
    }
}

/// Why a peer read was refused ([`ClusterMetrics::serve_peer`]).
#[derive(Debug, thiserror::Error)]
pub enum PeerServeError {
    #[error("missing or invalid cluster signature")]
    Unauthorized,
    #[error("malformed peer request: {0}")]
    Malformed(String),
    #[error("partition {0} is not kept here")]
    NotHere(u32),
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
const PEER_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// A peer read is one series or one listing from a local tsdb: seconds mean
/// the peer is paused or cut off, and another copy should be asked.
const PEER_TIMEOUT: Duration = Duration::from_secs(5);

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
        peer_secret: [u8; 32],
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
        let http = reqwest::Client::builder()
            .connect_timeout(PEER_CONNECT_TIMEOUT)
            .timeout(PEER_TIMEOUT)
            .build()
            .map_err(|e| ClusterError::Other(format!("peer HTTP client: {e}")))?;
        let membership = membership::Membership::new(
            &config.node_id,
            config.roles.keeps_replicas(),
            config.partition_replicas,
            config.partitions,
        );
        let shared = Arc::new(Shared {
            config,
            pg,
            log,
            store,
            rt,
            dir,
            retention,
            stop: AtomicBool::new(false),
            membership,
            peer_secret,
            http,
            read_rotation: AtomicUsize::new(0),
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

    /// Per-period aggregates of one series: from the local replica when it
    /// is caught up, else from a node that keeps the partition, else from a
    /// local replica still catching up with the log.
    pub fn query(&self, q: &tsdb::RangeQuery<'_>) -> Result<Vec<tsdb::Aggregate>, ClusterError> {
        let shared = &self.shared;
        let p = partition::of_series(q.series, shared.config.partitions);
        if let Some(db) = shared.ready_replica(p) {
            return Ok(db.query(q)?);
        }
        let req = tsdb::wire::ReadRequest::Query {
            partition: p,
            series: q.series.clone(),
            start_ms: q.start_ms,
            end_ms: q.end_ms,
            period_ms: q.period_ms,
            unit: q.unit,
        };
        if let Some(answer) = shared.ask_peers(p, &req) {
            return tsdb::wire::decode_aggregates(&answer)
                .map_err(|e| ClusterError::Other(format!("a peer's answer: {e}")));
        }
        match shared.loaded_replica(p) {
            Some(db) => Ok(db.query(q)?),
            None => Err(ClusterError::NoHolder(p)),
        }
    }

    /// Series in `SeriesKey` order across every partition: the local ready
    /// replicas, and one peer read per node for the others.
    pub fn list_series(
        &self,
        filter: &tsdb::SeriesFilter,
        after: Option<&tsdb::SeriesKey>,
        limit: usize,
    ) -> Result<Vec<tsdb::SeriesKey>, ClusterError> {
        let shared = &self.shared;
        let mut all = Vec::new();
        // Partitions to ask for, grouped by the node first in line for each.
        let mut remote: std::collections::BTreeMap<(String, String), Vec<u32>> = Default::default();
        let mut unplaced = Vec::new();
        for p in 0..shared.config.partitions {
            if let Some(db) = shared.ready_replica(p) {
                all.extend(db.list_series(filter, after, limit));
                continue;
            }
            let rotate = shared.read_rotation.fetch_add(1, Ordering::Relaxed);
            match shared
                .membership
                .ready_elsewhere(p, rotate)
                .into_iter()
                .next()
            {
                Some((id, url)) => remote.entry((id, url)).or_default().push(p),
                None => unplaced.push(p),
            }
        }
        let keys_of = |answer: &[u8]| {
            tsdb::wire::decode_series_keys(answer)
                .map_err(|e| ClusterError::Other(format!("a peer's answer: {e}")))
        };
        let list = |partitions: Vec<u32>| tsdb::wire::ReadRequest::List {
            partitions,
            filter: filter.clone(),
            after: after.cloned(),
            limit,
        };
        for ((id, url), partitions) in remote {
            let body = bytes::Bytes::from(list(partitions.clone()).encode());
            match shared.rt.block_on(peer_call(shared, &url, body)) {
                Ok(answer) => all.extend(keys_of(&answer)?),
                Err(e) => {
                    tracing::warn!(node = %id, "peer listing: {e}; asking the other copies");
                    shared.membership.suspect(&id);
                    unplaced.extend(partitions);
                }
            }
        }
        // One partition at a time, from any copy; a local replica still
        // catching up is better than no answer.
        for p in unplaced {
            if let Some(answer) = shared.ask_peers(p, &list(vec![p])) {
                all.extend(keys_of(&answer)?);
                continue;
            }
            match shared.loaded_replica(p) {
                Some(db) => all.extend(db.list_series(filter, after, limit)),
                None => return Err(ClusterError::NoHolder(p)),
            }
        }
        all.sort();
        all.dedup();
        all.truncate(limit);
        Ok(all)
    }

    /// Answers another node's read (the body of a `POST` to [`peer::PATH`])
    /// from this node's replicas. Blocking.
    pub fn serve_peer(&self, auth: Option<&str>, body: &[u8]) -> Result<Vec<u8>, PeerServeError> {
        let shared = &self.shared;
        let authentic =
            auth.is_some_and(|a| peer::verify(&shared.peer_secret, now_ms() / 1000, a, body));
        if !authentic {
            return Err(PeerServeError::Unauthorized);
        }
        let req = tsdb::wire::ReadRequest::decode(body)
            .map_err(|e| PeerServeError::Malformed(e.to_string()))?;
        let db_of = |p: u32| shared.loaded_replica(p).ok_or(PeerServeError::NotHere(p));
        match req {
            tsdb::wire::ReadRequest::Query {
                partition,
                series,
                start_ms,
                end_ms,
                period_ms,
                unit,
            } => {
                let q = tsdb::RangeQuery {
                    series: &series,
                    start_ms,
                    end_ms,
                    period_ms,
                    unit,
                };
                let aggs = db_of(partition)?
                    .query(&q)
                    .map_err(|e| PeerServeError::Malformed(e.to_string()))?;
                let mut out = Vec::new();
                tsdb::wire::encode_aggregates(&aggs, &mut out);
                Ok(out)
            }
            tsdb::wire::ReadRequest::List {
                partitions,
                filter,
                after,
                limit,
            } => {
                let mut keys = Vec::new();
                for p in partitions {
                    keys.extend(db_of(p)?.list_series(&filter, after.as_ref(), limit));
                }
                keys.sort();
                keys.truncate(limit);
                Ok(tsdb::wire::encode_series_keys(&keys))
            }
        }
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

    /// Reads are complete here: this node knows who keeps what, and every
    /// partition has a caught-up replica — its own or another live node's.
    pub fn ready(&self) -> bool {
        let shared = &self.shared;
        shared.membership.known()
            && (0..shared.config.partitions).all(|p| {
                shared.ready_replica(p).is_some()
                    || !shared.membership.ready_elsewhere(p, 0).is_empty()
            })
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

/// Every few seconds: this node's row in the node table (with the
/// partitions it can answer for), and its view of the others.
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
                    let live = |n: &stratus_cluster_pg::NodeRow, role: &str| {
                        n.heartbeat_age_ms < ttl_ms && n.roles.iter().any(|r| r == role)
                    };
                    // At least 1: this node counts even before its first heartbeat lands.
                    let evaluators = nodes.iter().filter(|n| live(n, "evaluator")).count();
                    shared
                        .live_evaluators
                        .store(evaluators.max(1), Ordering::Relaxed);
                    shared.membership.update(
                        nodes
                            .iter()
                            .filter(|n| live(n, "ingester"))
                            .map(|n| membership::Member {
                                id: n.id.clone(),
                                url: n.url.clone(),
                                ready: n.stats["ready_partitions"]
                                    .as_array()
                                    .map(|ps| {
                                        ps.iter()
                                            .filter_map(|p| p.as_u64())
                                            .map(|p| p as u32)
                                            .collect()
                                    })
                                    .unwrap_or_default(),
                            })
                            .collect(),
                    );
                }
                shared.sleep_unless_stopping(HEARTBEAT_EVERY);
            }
        })
}
