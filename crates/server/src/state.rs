//! Shared server state handed to every request.

use crate::keys::KeyStore;
use crate::meta::MetaStore;
use crate::notify::Notifier;
use crate::storage::MetricStore;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug)]
pub struct AppState {
    pub keys: KeyStore,
    pub meta: Arc<MetaStore>,
    pub metrics: MetricStore,
    /// The outbox of email and HTTP deliveries.
    pub notifier: Notifier,
    /// The (canonical) data directory.
    pub data_dir: PathBuf,
    /// Base URL for links in emails and notifications (no trailing slash).
    pub public_url: String,
    /// SNS's signing key (loaded once).
    pub sns: crate::sns::SnsRuntime,
    /// Web console sessions (in memory; in cluster mode also in the metadata
    /// store, shared by every node).
    pub console: crate::console::Sessions,
    /// Alarms written since the scheduler last refreshed its view.
    pub alarm_changes: crate::alarms::changes::AlarmChanges,
    /// Where webhooks may connect (checked at Subscribe and at delivery).
    pub egress: Arc<crate::notify::egress::EgressPolicy>,
    /// CloudWatch Logs (single-node mode; `None` in cluster mode).
    pub logs: Option<Arc<crate::logs::LogsRuntime>>,
    /// Where metric streams deliver: Firehose delivery stream name → endpoint.
    pub firehose: Arc<crate::metric_streams::Destinations>,
}

/// Whether this node evaluates an alarm (cluster mode shards them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmOwnership {
    /// Single-node mode: every alarm is this node's.
    Single,
    /// This node holds the alarm's shard at `epoch`: its transitions commit
    /// fenced by that epoch.
    Shard { shard: u32, epoch: i64 },
    /// Another evaluator's.
    Elsewhere,
}

impl AppState {
    pub fn alarm_ownership(&self, alarm: &str) -> AlarmOwnership {
        let Some(cluster) = self.metrics.cluster_runtime() else {
            return AlarmOwnership::Single;
        };
        match cluster
            .alarm_shards()
            .and_then(|shards| shards.owner_epoch(alarm))
        {
            Some((shard, epoch)) => AlarmOwnership::Shard { shard, epoch },
            None => AlarmOwnership::Elsewhere,
        }
    }

    /// This node's id in cluster mode.
    pub fn node_id(&self) -> Option<&str> {
        self.metrics
            .cluster_runtime()
            .map(|c| c.config().node_id.as_str())
    }
}

#[cfg(test)]
impl AppState {
    /// A state over a fresh data directory, for unit tests: a working
    /// notifier (outbox in the same store), `admin_key` as the bootstrap
    /// admin key, storage fsync'd as in production.
    pub(crate) fn for_tests(dir: &std::path::Path, admin_key: (&str, &str)) -> AppState {
        let meta = Arc::new(MetaStore::open(&dir.join("meta.redb")).expect("meta store"));
        let keys = KeyStore::open(meta.clone(), &dir.join("master.key")).expect("key store");
        let admin = (admin_key.0.to_string(), admin_key.1.to_string());
        crate::bootstrap::admin_key(&meta, &keys, dir, Some(&admin), "http://127.0.0.1:4566")
            .expect("admin key");
        AppState {
            keys,
            metrics: MetricStore::open(&dir.join("tsdb"), true, Default::default()).expect("tsdb"),
            notifier: Notifier::new(meta.clone(), dir),
            meta,
            data_dir: dir.to_path_buf(),
            public_url: "http://127.0.0.1:4566".into(),
            sns: crate::sns::SnsRuntime::default(),
            console: crate::console::Sessions::default(),
            alarm_changes: Default::default(),
            egress: Default::default(),
            logs: crate::logs::LogsRuntime::open(dir, true).ok().map(Arc::new),
            firehose: Default::default(),
        }
    }
}
