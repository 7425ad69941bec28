//! The server's view of metric storage: converts validated `model` datums into
//! `tsdb` samples and back. The only place that knows both vocabularies.

use crate::ServerError;
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use stratus_model::metric::{Dimension, MetricId};
use stratus_model::ops::put_metric_data::{Datum, DatumValue};
use stratus_model::unit::Unit;
use stratus_model::{ApiError, Timestamp};
use stratus_tsdb as tsdb;

pub struct MetricStore {
    backend: Backend,
}

enum Backend {
    /// One node: the local tsdb.
    Local {
        db: Arc<tsdb::Db>,
        /// The background sealing and compaction thread and the way to stop it.
        background: Mutex<Option<(Sender<()>, JoinHandle<()>)>>,
    },
    /// Cluster mode: writes go to the replicated ingest log, reads to this
    /// node's partition replicas (see `stratus_cluster`).
    Cluster(Arc<stratus_cluster::ClusterMetrics>),
}

/// How often rollups, merges and expiry run. Windows are at least an hour
/// long, so a minute's delay costs nothing; running them here instead of
/// inside the seal keeps a PutMetricData that triggers a seal from also
/// paying for compaction.
const COMPACT_EVERY: Duration = Duration::from_secs(60);

/// How often the background thread looks whether the head is due to be
/// sealed. Sealing here, not in the PutMetricData that fills the head, keeps
/// writing a block (seconds, at fleet scale) out of every request's latency;
/// the head may overshoot its size for this long (the engine seals inline at
/// twice the size if this thread falls behind).
const SEAL_CHECK_EVERY: Duration = Duration::from_millis(250);

/// After a failed seal (a full disk), wait this long before the next try:
/// the head keeps the data meanwhile, and the log gets one line per try
/// rather than four a second.
const SEAL_RETRY_AFTER: Duration = Duration::from_secs(10);

fn spawn_background(db: Arc<tsdb::Db>) -> std::io::Result<(Sender<()>, JoinHandle<()>)> {
    let (stop, stopped) = mpsc::channel::<()>();
    let handle = std::thread::Builder::new()
        .name("tsdb-background".into())
        .spawn(move || {
            // At start too: catch up on what came due while the server was down.
            let mut next_compaction = std::time::Instant::now();
            let mut next_seal = std::time::Instant::now();
            loop {
                // New series join the listing order here, not in the write
                // that defined them nor in the next ListMetrics.
                db.settle_listing();
                if std::time::Instant::now() >= next_seal
                    && db.seal_due()
                    && let Err(e) = db.seal()
                {
                    tracing::error!(error = %e, "tsdb seal failed; will retry");
                    next_seal = std::time::Instant::now() + SEAL_RETRY_AFTER;
                }
                if std::time::Instant::now() >= next_compaction {
                    if let Err(e) = db.compact() {
                        tracing::error!(error = %e, "tsdb compaction failed; will retry");
                    }
                    next_compaction = std::time::Instant::now() + COMPACT_EVERY;
                }
                match stopped.recv_timeout(SEAL_CHECK_EVERY) {
                    Err(RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        })?;
    Ok((stop, handle))
}

pub fn series_key(m: &MetricId) -> tsdb::SeriesKey {
    tsdb::SeriesKey {
        namespace: m.namespace.clone(),
        name: m.metric_name.clone(),
        dimensions: m
            .dimensions
            .iter()
            .map(|d| (d.name.clone(), d.value.clone()))
            .collect(),
    }
}

pub fn metric_id(k: tsdb::SeriesKey) -> MetricId {
    MetricId {
        namespace: k.namespace,
        metric_name: k.name,
        dimensions: k
            .dimensions
            .into_iter()
            .map(|(name, value)| Dimension { name, value })
            .collect(),
    }
}

fn storage_error(e: tsdb::Error) -> ApiError {
    tracing::error!(error = %e, "storage failure");
    match e {
        // Nothing was stored and the engine recovers by itself (e.g. once
        // the disk has room again): a 503 the SDKs and the agent retry.
        tsdb::Error::WriteRefused(_) => ApiError::unavailable(format!(
            "The request could not be stored and nothing of it was kept; retry later. {e}"
        )),
        e => ApiError::internal(format!("Storage failure: {e}")),
    }
}

fn cluster_error(e: stratus_cluster::ClusterError) -> ApiError {
    if e.retryable() {
        tracing::warn!(error = %e, "cluster storage unavailable");
        ApiError::unavailable(format!(
            "The request could not be completed and nothing of it was kept; retry later. {e}"
        ))
    } else {
        tracing::error!(error = %e, "cluster storage failure");
        ApiError::internal(format!("Storage failure: {e}"))
    }
}

impl std::fmt::Debug for MetricStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricStore").finish_non_exhaustive()
    }
}

impl MetricStore {
    pub fn open(dir: &Path, fsync: bool, retention: tsdb::Retention) -> Result<Self, ServerError> {
        MetricStore::open_recovering(dir, fsync, retention, false)
    }

    /// [`MetricStore::open`], repairing damaged files when `recover` is set
    /// (`--recover`: see `tsdb::Options::recover`). Without it, damage other
    /// than a torn tail stops start-up with a message naming the file.
    pub fn open_recovering(
        dir: &Path,
        fsync: bool,
        retention: tsdb::Retention,
        recover: bool,
    ) -> Result<Self, ServerError> {
        MetricStore::open_with(
            dir,
            tsdb::Options {
                fsync,
                retention,
                recover,
                ..tsdb::Options::default()
            },
        )
    }

    /// Opens with `opts`, except that sealing and compaction are always this
    /// store's background thread's job.
    fn open_with(dir: &Path, opts: tsdb::Options) -> Result<Self, ServerError> {
        let opts = tsdb::Options {
            compact_on_seal: false,
            seal_on_write: false,
            ..opts
        };
        let db = tsdb::Db::open(dir, opts).map_err(|e| {
            if e.recoverable() {
                ServerError::Storage(format!(
                    "{e}. Nothing was changed. Start with --recover (or recover = true in \
                     [server]) to skip only the damaged bytes, keeping a copy of the original \
                     beside it; `stratus fsck --data-dir DIR` lists every damaged file"
                ))
            } else {
                ServerError::Storage(e.to_string())
            }
        })?;
        log_recovery(db.recovery_report());
        let db = Arc::new(db);
        let background = spawn_background(db.clone())
            .map_err(|e| ServerError::Storage(format!("starting the tsdb thread: {e}")))?;
        Ok(MetricStore {
            backend: Backend::Local {
                db,
                background: Mutex::new(Some(background)),
            },
        })
    }

    /// Cluster mode's store: the running cluster runtime.
    pub fn cluster(cluster: Arc<stratus_cluster::ClusterMetrics>) -> Self {
        MetricStore {
            backend: Backend::Cluster(cluster),
        }
    }

    pub fn cluster_runtime(&self) -> Option<&Arc<stratus_cluster::ClusterMetrics>> {
        match &self.backend {
            Backend::Cluster(c) => Some(c),
            Backend::Local { .. } => None,
        }
    }

    /// The idempotency key of a request without a batch id, in cluster mode:
    /// a digest of the caller's key and the body, so a client's retry of a
    /// write whose answer was lost (a gateway died after the log confirmed
    /// it) is not stored twice. Two byte-identical requests from one key are
    /// therefore one write — a documented difference from single-node mode,
    /// where only `x-stratus-batch-id` deduplicates.
    pub fn derived_batch_id(&self, access_key_id: &str, body: &[u8]) -> Option<tsdb::BatchId> {
        use sha2::Digest;
        self.cluster_runtime()?;
        let mut h = sha2::Sha256::new();
        h.update(access_key_id.as_bytes());
        h.update([0u8]);
        h.update(body);
        let digest = h.finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        Some(tsdb::BatchId(id))
    }

    /// Appends datums durably: returns only after the WAL is fsync'd. With a
    /// `batch_id` already stored, stores nothing and says `Duplicate`.
    pub fn put(
        &self,
        datums: Vec<Datum>,
        batch_id: Option<tsdb::BatchId>,
    ) -> Result<tsdb::Written, ApiError> {
        let entries = datums
            .into_iter()
            .map(|d| {
                let value = match d.value {
                    DatumValue::Single(v) => tsdb::SampleValue::Single(v),
                    DatumValue::Distribution(v) => tsdb::SampleValue::Distribution(v),
                    DatumValue::StatSet {
                        count,
                        sum,
                        min,
                        max,
                    } => tsdb::SampleValue::StatSet {
                        count,
                        sum,
                        min,
                        max,
                    },
                };
                let sample = tsdb::Sample {
                    timestamp_ms: d.timestamp.millis(),
                    unit: d.unit.code(),
                    high_resolution: d.high_resolution,
                    value,
                };
                (series_key(&d.metric), sample)
            })
            .collect();
        match &self.backend {
            Backend::Local { db, .. } => db
                .write(&tsdb::WriteBatch { entries, batch_id })
                .map_err(storage_error),
            Backend::Cluster(c) => {
                let id =
                    batch_id.unwrap_or_else(|| tsdb::BatchId(*uuid::Uuid::new_v4().as_bytes()));
                c.write(entries, id).map_err(cluster_error)
            }
        }
    }

    pub fn list(
        &self,
        filter: &tsdb::SeriesFilter,
        after: Option<&tsdb::SeriesKey>,
        limit: usize,
    ) -> Result<Vec<tsdb::SeriesKey>, ApiError> {
        match &self.backend {
            Backend::Local { db, .. } => Ok(db.list_series(filter, after, limit)),
            Backend::Cluster(c) => c.list_series(filter, after, limit).map_err(cluster_error),
        }
    }

    /// Per-period aggregates of one metric, separated by unit.
    pub fn aggregates(
        &self,
        metric: &MetricId,
        start: Timestamp,
        end: Timestamp,
        period_seconds: i64,
        unit: Option<Unit>,
    ) -> Result<Vec<PeriodAgg>, ApiError> {
        let key = series_key(metric);
        let q = tsdb::RangeQuery {
            series: &key,
            start_ms: start.millis(),
            end_ms: end.millis(),
            period_ms: period_seconds * 1000,
            unit: unit.map(|u| u.code()),
        };
        let aggs = match &self.backend {
            Backend::Local { db, .. } => db.query(&q).map_err(storage_error)?,
            Backend::Cluster(c) => c.query(&q).map_err(cluster_error)?,
        };
        Ok(aggs.into_iter().map(PeriodAgg).collect())
    }

    /// Whether reads are complete: always in single-node mode; in cluster
    /// mode once every local partition replica has loaded.
    pub fn ready(&self) -> bool {
        match &self.backend {
            Backend::Local { .. } => true,
            Backend::Cluster(c) => c.ready(),
        }
    }

    pub fn stats(&self) -> tsdb::Stats {
        match &self.backend {
            Backend::Local { db, .. } => db.stats(),
            Backend::Cluster(c) => c.stats(),
        }
    }

    /// Stops the background thread (waiting for a seal or compaction in
    /// progress) and seals the head.
    pub fn shutdown(&self) -> Result<(), ServerError> {
        let (db, background) = match &self.backend {
            Backend::Local { db, background } => (db, background),
            Backend::Cluster(c) => {
                c.shutdown();
                return Ok(());
            }
        };
        let background = background.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some((stop, handle)) = background {
            let _ = stop.send(());
            let _ = handle.join();
        }
        db.seal().map_err(|e| ServerError::Storage(e.to_string()))
    }
}

/// Logs everything recovery at open cut, skipped, set aside or rebuilt.
fn log_recovery(r: &tsdb::RecoveryReport) {
    for t in &r.truncations {
        tracing::warn!("tsdb recovery: {t}");
    }
    for path in &r.kept_aside {
        tracing::warn!(
            "tsdb recovery: kept a copy of a damaged file as {}",
            path.display()
        );
    }
    for (path, why) in &r.blocks_set_aside {
        tracing::error!(
            "tsdb recovery: damaged block set aside as {} ({why}); its data is not served",
            path.display()
        );
    }
    if r.series_rebuilt_from_blocks > 0 {
        tracing::warn!(
            "tsdb recovery: rebuilt {} series definitions from the keys blocks carry",
            r.series_rebuilt_from_blocks
        );
    }
    for e in &r.unreadable_block_keys {
        tracing::error!("tsdb recovery: could not read series keys of a block: {e}");
    }
    if !r.orphaned_series.is_empty() {
        tracing::error!(
            "tsdb recovery: {} series have data but no known key; listed under namespace {} \
             (ids {:?})",
            r.orphaned_series.len(),
            tsdb::ORPHANED_NAMESPACE,
            r.orphaned_series
        );
    }
    for path in &r.removed_blocks {
        tracing::info!(
            "tsdb recovery: removed block {} left by an interrupted seal or compaction",
            path.display()
        );
    }
}

/// A tsdb aggregate seen through the model's statistics interface.
#[derive(Debug)]
pub struct PeriodAgg(pub tsdb::Aggregate);

impl stratus_model::ops::get_metric_statistics::PeriodAggregate for PeriodAgg {
    fn start(&self) -> Timestamp {
        Timestamp::from_millis(self.0.start_ms)
    }
    fn unit(&self) -> Unit {
        Unit::from_code(self.0.unit).unwrap_or(Unit::None)
    }
    fn sample_count(&self) -> f64 {
        self.0.count
    }
    fn sum(&self) -> f64 {
        self.0.sum
    }
    fn minimum(&self) -> f64 {
        self.0.min
    }
    fn maximum(&self) -> f64 {
        self.0.max
    }
    fn percentile(&self, p: f64) -> Option<f64> {
        self.0.percentile(p)
    }
}

/// Merges aggregates of the same period that differ only by unit (they come
/// sorted by period start, then unit).
pub fn merge_units(aggs: Vec<PeriodAgg>) -> Vec<PeriodAgg> {
    let mut out: Vec<PeriodAgg> = Vec::with_capacity(aggs.len());
    for a in aggs {
        match out.last_mut() {
            Some(last) if last.0.start_ms == a.0.start_ms => last.0.merge(&a.0),
            _ => out.push(a),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_head_is_sealed_by_the_background_thread() {
        let dir = tempfile::tempdir().unwrap();
        let store = MetricStore::open_with(
            dir.path(),
            tsdb::Options {
                max_head_samples: 100,
                ..tsdb::Options::default()
            },
        )
        .unwrap();
        let metric = MetricId {
            namespace: "Seal".into(),
            metric_name: "m".into(),
            dimensions: vec![],
        };
        let now = Timestamp::now().millis();
        let datums = (0..150)
            .map(|i| Datum {
                metric: metric.clone(),
                timestamp: Timestamp::from_millis(now - i * 1000),
                unit: Unit::Count,
                high_resolution: false,
                value: DatumValue::Single(i as f64),
            })
            .collect();
        store.put(datums, None).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while store.stats().sealed_samples < 150 {
            assert!(std::time::Instant::now() < deadline, "{:?}", store.stats());
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(store.stats().head_samples, 0);
        store.shutdown().unwrap();
    }

    #[test]
    fn compaction_runs_in_the_background_not_in_the_seal() {
        let dir = tempfile::tempdir().unwrap();
        let store = MetricStore::open(dir.path(), true, tsdb::Retention::default()).unwrap();
        // Five hours old: beyond raw data's 3-hour retention once sealed, so
        // compaction has a rollup to do.
        let old = Timestamp::now().millis() - 5 * 3_600_000;
        let metric = MetricId {
            namespace: "Compact".into(),
            metric_name: "m".into(),
            dimensions: vec![],
        };
        let datums = (0..60)
            .map(|i| Datum {
                metric: metric.clone(),
                timestamp: Timestamp::from_millis(old + i * 60_000),
                unit: Unit::Count,
                high_resolution: false,
                value: DatumValue::Single(i as f64),
            })
            .collect();
        store.put(datums, None).unwrap();
        // Shutdown seals the head (without compacting: that is the thread's job).
        store.shutdown().unwrap();
        assert_eq!(store.stats().compactions, 0, "the seal did not compact");
        drop(store);

        // The compaction thread runs as the store opens, off the caller's thread.
        let store = MetricStore::open(dir.path(), true, tsdb::Retention::default()).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while store.stats().compactions == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "no background compaction"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        store.shutdown().unwrap();
    }
}
