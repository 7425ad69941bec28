//! What a node of a cluster is told: where the shared services are, which
//! roles it plays, and the few settings every node must agree on.

use std::time::Duration;
use stratus_cluster_s3::S3Config;

/// The roles a node may play (`[cluster] roles`); a node may play all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// Accepts PutMetricData and publishes it to the ingest log.
    pub gateway: bool,
    /// Keeps replicas of the partitions rendezvous hashing gives it
    /// (`partition_replicas` nodes per partition), answers reads for them
    /// (its own and other nodes'), takes their leases: seals, uploads and
    /// commits blocks, trims the log.
    pub ingester: bool,
    /// Answers metric reads. Every node does — from its own replicas, or by
    /// asking a node that keeps the partition (alarm evaluation reads too) —
    /// so the role is accepted and names the intent.
    pub query: bool,
    /// Rollups, merges and expiry. They run where blocks are sealed — with
    /// the partition's owner — so this is accepted as part of `ingester`.
    pub compactor: bool,
    /// Takes alarm-shard leases and evaluates the alarms in them.
    pub evaluator: bool,
    /// Claims and sends notifications from the shared outbox.
    pub notifier: bool,
}

impl Roles {
    pub const NAMES: [&'static str; 6] = [
        "gateway",
        "ingester",
        "query",
        "compactor",
        "evaluator",
        "notifier",
    ];

    pub fn all() -> Roles {
        Roles {
            gateway: true,
            ingester: true,
            query: true,
            compactor: true,
            evaluator: true,
            notifier: true,
        }
    }

    pub fn none() -> Roles {
        Roles {
            gateway: false,
            ingester: false,
            query: false,
            compactor: false,
            evaluator: false,
            notifier: false,
        }
    }

    /// Sets the role called `name`; false for an unknown name.
    pub fn set(&mut self, name: &str) -> bool {
        match name {
            "gateway" => self.gateway = true,
            "ingester" => self.ingester = true,
            "query" => self.query = true,
            "compactor" => self.compactor = true,
            "evaluator" => self.evaluator = true,
            "notifier" => self.notifier = true,
            _ => return false,
        }
        true
    }

    pub fn names(&self) -> Vec<String> {
        let on = [
            self.gateway,
            self.ingester,
            self.query,
            self.compactor,
            self.evaluator,
            self.notifier,
        ];
        Roles::NAMES
            .iter()
            .zip(on)
            .filter(|(_, on)| *on)
            .map(|(n, _)| n.to_string())
            .collect()
    }

    /// Whether this node keeps partition replicas: to answer reads, and to
    /// commit what it owns (an owner commits its own replica's state).
    pub fn keeps_replicas(&self) -> bool {
        self.ingester
    }
}

#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// Unique per node; names its leases, claims and heartbeat row.
    pub node_id: String,
    pub postgres_url: String,
    pub nats_urls: Vec<String>,
    /// Replicas of each ingest-log stream (3 in production: one per zone).
    pub log_replicas: usize,
    /// Bytes each partition's stream may hold (JetStream reserves it on
    /// every replica): the backlog that survives an object-storage outage.
    pub log_max_bytes: i64,
    /// How many ingesters keep a replica of each partition: the owner and
    /// warm standbys that take over at once. More copies spread reads and
    /// shorten failover; fewer let the fleet's data grow with the nodes
    /// (each ingester holds about `partitions × copies / ingesters`).
    pub partition_replicas: usize,
    /// Series partitions. Fixed when the cluster is created (stored in
    /// PostgreSQL); a node configured otherwise refuses to start.
    pub partitions: u32,
    pub roles: Roles,
    pub s3: S3Config,
    /// How often a partition owner seals and commits its replica (and so how
    /// much log a new owner or a restarted node replays).
    pub commit_interval: Duration,
    /// Lease time-to-live for partitions and alarm shards: the failover delay.
    pub lease_ttl: Duration,
    /// Alarm shards (fixed when the cluster is created).
    pub alarm_shards: u32,
    /// The URL other nodes and `stratus cluster status` show for this node.
    pub advertise_url: Option<String>,
}

impl ClusterConfig {
    pub const DEFAULT_PARTITIONS: u32 = 8;
    pub const DEFAULT_PARTITION_REPLICAS: usize = 2;
    pub const DEFAULT_ALARM_SHARDS: u32 = 64;
    pub const DEFAULT_COMMIT_INTERVAL: Duration = Duration::from_secs(60);
    pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(10);
    pub const DEFAULT_LOG_MAX_BYTES: i64 = 1 << 30;
}
