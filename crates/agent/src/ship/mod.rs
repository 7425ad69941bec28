//! Shipping: batching, awsQuery encoding, gzip, SigV4, retries with backoff and
//! jitter, and the on-disk spool that keeps datapoints through server outages.
//!
//! CONTRACT (shared with the runtime): the runtime calls `Shipper::submit`
//! with finished datums; `Shipper` owns everything after that.
//!
//! One thread ([`worker`]) does all of it; `submit` only hands datums over a
//! channel, so collectors never wait for the network. Modules: [`encode`]
//! (datums → PutMetricData form body, exactly as the stock agent),
//! [`batch`] (≤ 1000 datums, < 1 MB, one random id per batch), [`transport`]
//! (signed POST, answer classification), [`backoff`] (full jitter),
//! [`spool`] (bounded on-disk FIFO that survives `kill -9`), [`queue`] (the
//! spool, or a bounded in-memory queue while the spool's disk is full or
//! read-only), [`journal`]
//! (every datum written down on arrival, so a `kill -9` loses nothing still
//! being batched or awaiting acknowledgement).
//!
//! Delivery is at least once on the wire and exactly once in a Stratus
//! server: every batch carries its id in the signed `x-stratus-batch-id`
//! header, on every retry and after a spool drain, and the server stores an
//! id once. (A stock CloudWatch endpoint ignores the header.)

pub mod backoff;
pub mod batch;
pub mod encode;
pub mod journal;
pub mod queue;
pub mod spool;
pub mod transport;
mod worker;

use std::path::PathBuf;
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A finished CloudWatch datum, ready to encode.
#[derive(Debug, Clone, PartialEq)]
pub struct Datum {
    pub metric_name: String,
    /// Sorted by name.
    pub dimensions: Vec<(String, String)>,
    pub timestamp_ms: i64,
    pub value: DatumValue,
    /// CloudWatch unit string (`Percent`, `Bytes`, `None`...).
    pub unit: &'static str,
    /// StorageResolution 1 (interval < 60 s) instead of 60.
    pub high_resolution: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DatumValue {
    Single(f64),
    /// statsd distributions: Values/Counts (≤ 150 values).
    Distribution {
        values: Vec<f64>,
        counts: Vec<f64>,
    },
}

/// Where and how to ship.
#[derive(Clone)]
pub struct ShipperConfig {
    /// `http://host:port` of the Stratus server (or any awsQuery CloudWatch endpoint).
    pub endpoint: String,
    /// Signing region.
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Temporary credentials' token (`AWS_SESSION_TOKEN`), sent signed.
    pub session_token: Option<String>,
    /// PEM CA bundle for an https endpoint (`AWS_CA_BUNDLE`); default: the system's.
    pub ca_bundle: Option<PathBuf>,
    /// Every datum is published under this namespace (`CWAgent` by default in the config).
    pub namespace: String,
    /// A partial batch is sent after this long (`agent.force_flush_interval`).
    pub force_flush_interval: Duration,
    /// The spool directory (created if missing).
    pub spool_dir: PathBuf,
    /// Spool size limit; beyond it the oldest batches are dropped.
    pub spool_max_bytes: u64,
    /// Datums per PutMetricData (capped at CloudWatch's 1000).
    pub max_datums_per_batch: usize,
    /// First retry delay ceiling ([`backoff::DEFAULT_BASE`]).
    pub retry_base: Duration,
    /// Longest retry delay ([`backoff::DEFAULT_CAP`]).
    pub retry_cap: Duration,
    /// One HTTP exchange, connect to last byte.
    pub request_timeout: Duration,
    /// A batch the endpoint refuses for authentication (401/403, clock
    /// skew) is kept and retried like an outage until it is this old
    /// (from its opening), then dropped; zero drops it at once.
    pub auth_failure_max_age: Duration,
    /// How often a spool that cannot be written (full or read-only disk)
    /// is tried again ([`queue::RETRY_SPOOL_EVERY`]).
    pub spool_retry: Duration,
}

/// The journal's directory inside the spool directory.
pub const JOURNAL_DIR: &str = "open";

/// Spool size limit unless configured.
pub const DEFAULT_SPOOL_MAX_BYTES: u64 = 64 << 20;
pub const DEFAULT_MAX_DATUMS_PER_BATCH: usize = 1000;
pub const DEFAULT_FORCE_FLUSH_INTERVAL: Duration = Duration::from_secs(60);
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long batches refused for authentication are kept unless configured:
/// a day, time for someone to notice the log and fix the key or the clock.
pub const DEFAULT_AUTH_FAILURE_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

impl ShipperConfig {
    /// A configuration with the defaults: flush every 60 s, 64 MiB spool,
    /// 1000 datums per batch, backoff 200 ms doubling to 60 s, 30 s timeout,
    /// batches refused for authentication kept for 24 h.
    pub fn new(
        endpoint: impl Into<String>,
        region: impl Into<String>,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        namespace: impl Into<String>,
        spool_dir: impl Into<PathBuf>,
    ) -> ShipperConfig {
        ShipperConfig {
            endpoint: endpoint.into(),
            region: region.into(),
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
            ca_bundle: None,
            namespace: namespace.into(),
            force_flush_interval: DEFAULT_FORCE_FLUSH_INTERVAL,
            spool_dir: spool_dir.into(),
            spool_max_bytes: DEFAULT_SPOOL_MAX_BYTES,
            max_datums_per_batch: DEFAULT_MAX_DATUMS_PER_BATCH,
            retry_base: backoff::DEFAULT_BASE,
            retry_cap: backoff::DEFAULT_CAP,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            auth_failure_max_age: DEFAULT_AUTH_FAILURE_MAX_AGE,
            spool_retry: queue::RETRY_SPOOL_EVERY,
        }
    }
}

impl std::fmt::Debug for ShipperConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShipperConfig")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .field("ca_bundle", &self.ca_bundle)
            .field("namespace", &self.namespace)
            .field("force_flush_interval", &self.force_flush_interval)
            .field("spool_dir", &self.spool_dir)
            .field("spool_max_bytes", &self.spool_max_bytes)
            .field("max_datums_per_batch", &self.max_datums_per_batch)
            .field("retry_base", &self.retry_base)
            .field("retry_cap", &self.retry_cap)
            .field("request_timeout", &self.request_timeout)
            .field("auth_failure_max_age", &self.auth_failure_max_age)
            .field("spool_retry", &self.spool_retry)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ShipError {
    #[error("endpoint {0}")]
    Endpoint(String),
    #[error("spool: {0}")]
    Spool(#[from] spool::SpoolError),
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
    #[error("starting the shipper thread: {0}")]
    Thread(std::io::Error),
}

/// Counters since start. Every datum handed to `submit` ends up sent,
/// spooled (still pending), in the batch being built, or dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShipStats {
    pub batches_sent: u64,
    pub datums_sent: u64,
    /// In the spool now (including batches found there at start, and those
    /// held in memory while the spool cannot be written).
    pub batches_spooled: u64,
    pub datums_spooled: u64,
    /// Of `datums_spooled`, those only in memory (the spool's disk is full
    /// or read-only; see [`queue`]).
    pub datums_in_memory: u64,
    /// Batches and datums lost for good, for any of the reasons below.
    pub batches_dropped: u64,
    pub datums_dropped: u64,
    /// Refused permanently by the endpoint (4xx other than throttling and
    /// authentication).
    pub datums_rejected: u64,
    /// Refused for authentication (401/403, clock skew) when already older
    /// than `auth_failure_max_age`.
    pub datums_auth_expired: u64,
    /// Oldest spooled datums dropped to keep the spool within its limit.
    pub datums_overflowed: u64,
    /// NaN/infinite values or malformed distributions, never sent.
    pub datums_invalid: u64,
    /// Failed attempts that were (or will be) retried.
    pub retries: u64,
}

/// What `shutdown` achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Datums sent between the shutdown request and the end.
    pub datums_flushed: u64,
    /// Left in the spool for the next start.
    pub batches_spooled: u64,
    pub datums_spooled: u64,
    pub stats: ShipStats,
    pub took: Duration,
}

/// The shipping pipeline: a handle to the shipper thread.
pub struct Shipper {
    tx: Option<Sender<worker::Msg>>,
    thread: Option<JoinHandle<ShutdownReport>>,
    stats: Arc<Mutex<ShipStats>>,
}

impl Shipper {
    /// Opens the spool (draining what a previous run left there as soon as
    /// the endpoint answers) and starts the shipper thread.
    pub fn start(cfg: ShipperConfig) -> Result<Shipper, ShipError> {
        let transport = transport::Transport::new(transport::Endpoint {
            url: &cfg.endpoint,
            region: &cfg.region,
            access_key_id: &cfg.access_key_id,
            secret_access_key: &cfg.secret_access_key,
            session_token: cfg.session_token.as_deref(),
            ca_bundle: cfg.ca_bundle.as_deref(),
        })?;
        // Nothing here stops the start: a spool or journal that cannot be
        // used (full or read-only disk) leaves the shipper running from
        // memory, logged, until it can be used again (see `queue`).
        let journal_dir = cfg.spool_dir.join(JOURNAL_DIR);
        let (mut spool, report) = queue::BatchQueue::open(
            &cfg.spool_dir,
            &journal_dir,
            cfg.spool_max_bytes,
            cfg.spool_retry,
        );
        report.log(&cfg.spool_dir);
        let recovered = journal::recover(&journal_dir).unwrap_or_else(|e| {
            crate::error!(
                "cannot read the journal of the previous run ({e}); left for the next start"
            );
            Vec::new()
        });
        let mut overflow = spool::Dropped::default();
        for r in recovered {
            if r.dropped_bytes > 0 {
                crate::warn!(
                    "journal: cut a damaged tail of batch {} ({} bytes)",
                    r.id,
                    r.dropped_bytes
                );
            }
            if r.datums.is_empty() {
                if let Err(e) = journal::discard(&journal_dir, r.id) {
                    crate::warn!("journal: {e}");
                }
                continue;
            }
            let b = batch::SealedBatch::seal_as(r.id, &r.namespace, &r.datums);
            let dropped = spool.push(b, true);
            overflow.batches += dropped.batches;
            overflow.datums += dropped.datums;
            crate::info!(
                "recovered batch {} ({} datums) that the previous run had not sent or spooled; it will be sent",
                r.id,
                r.datums.len()
            );
        }
        if overflow.batches > 0 {
            crate::warn!(
                "spool full: dropped the {} oldest batches ({} datums)",
                overflow.batches,
                overflow.datums
            );
        }
        let (journal, journal_error) = journal::Journal::open_or_detached(&journal_dir);
        if let Some(e) = journal_error {
            crate::error!(
                "cannot open the journal ({e}); collected datums are kept in memory until it can be \
                 used, a crash meanwhile would lose them"
            );
        }
        let report = spool::OpenReport {
            batches: spool.len(),
            datums: spool.datums(),
            ..report
        };
        let stats = Arc::new(Mutex::new(ShipStats {
            batches_spooled: report.batches as u64,
            datums_spooled: report.datums,
            ..ShipStats::default()
        }));
        let (tx, rx) = mpsc::channel();
        let worker = worker::Worker::new(cfg, spool, journal, transport, stats.clone());
        let thread = std::thread::Builder::new()
            .name("stratus-ship".into())
            .spawn(move || worker.run(rx))
            .map_err(ShipError::Thread)?;
        Ok(Shipper {
            tx: Some(tx),
            thread: Some(thread),
            stats,
        })
    }

    /// Hands datums to the shipper thread; never blocks.
    pub fn submit(&self, datums: Vec<Datum>) {
        if datums.is_empty() {
            return;
        }
        if let Some(tx) = &self.tx {
            // Fails only if the thread is gone, which only shutdown does.
            let _ = tx.send(worker::Msg::Datums(datums));
        }
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> ShipStats {
        *self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends the partial batch and everything queued until `deadline` has
    /// passed, then writes whatever is left to the spool, so nothing
    /// submitted is lost. Blocks until done (at most about `deadline`).
    pub fn shutdown(mut self, deadline: Duration) -> ShutdownReport {
        let until = Instant::now() + deadline;
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(worker::Msg::Shutdown(until));
        }
        self.join().unwrap_or(ShutdownReport {
            datums_flushed: 0,
            batches_spooled: 0,
            datums_spooled: 0,
            stats: self.stats(),
            took: Duration::ZERO,
        })
    }

    fn join(&mut self) -> Option<ShutdownReport> {
        self.thread.take().and_then(|t| t.join().ok())
    }
}

impl Drop for Shipper {
    /// Without `shutdown`, the thread spools what it holds (no sending) and
    /// exits; waits for that, so a process exiting after the drop keeps it.
    fn drop(&mut self) {
        self.tx = None;
        let _ = self.join();
    }
}
