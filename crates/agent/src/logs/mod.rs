//! Log collection: tails the files of `logs.logs_collected.files`, listens
//! for Embedded Metric Format lines, and ships both to CloudWatch Logs'
//! PutLogEvents (awsJson1_1, SigV4 service `logs`).
//!
//! Threads: one tail thread (every file, every [`POLL`]), one shipper, and
//! the EMF listener when configured. A line is acknowledged by the server,
//! in the crc-framed spool `<spool>/logs/` (with the file positions saved
//! beside it, `<spool>/logs/positions`), or still in its file ahead of the
//! saved position — so a `kill -9` neither loses nor repeats a line (see
//! `tail`). EMF lines have no file behind them: the listener appends each
//! poll round's lines to the journal `<spool>/logs/emf.journal` before it
//! reads more, and the tail treats the journal like a tailed file (offsets
//! in the spool and the positions file, replayed past them at start,
//! emptied once all of it is spooled) — so a `kill -9` loses no EMF line
//! the listener has read (see `emf_journal`).

pub mod batch;
pub mod emf;
pub mod emf_journal;
pub mod glob;
pub mod lines;
pub mod placeholders;
pub mod positions;
pub mod record;
pub mod ship;
pub mod tail;
pub mod timestamp;

use crate::config::LogsSection;
use crate::ship::spool::Spool;
use crate::ship::transport::{Endpoint, Transport};
use placeholders::HostNames;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the tail reads its files.
pub const POLL: Duration = Duration::from_millis(200);
/// The logs spool directory inside the agent's spool directory.
pub const LOGS_DIR: &str = "logs";
/// How long the shipper keeps sending after a stop request.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// What the logs side needs beyond the config.
#[derive(Clone)]
pub struct LogsSettings {
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    pub ca_bundle: Option<PathBuf>,
    /// The agent's spool directory (`<it>/logs/` is used).
    pub spool_dir: PathBuf,
    pub spool_max_bytes: u64,
    pub auth_failure_max_age: Duration,
    pub names: HostNames,
    pub retry_base: Duration,
    pub retry_cap: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    #[error("logs endpoint {0}")]
    Endpoint(String),
    #[error("logs spool: {0}")]
    Spool(#[from] crate::ship::spool::SpoolError),
    #[error("logs.metrics_collected.emf.service_address: listening on {address}: {source}")]
    Emf {
        address: String,
        source: std::io::Error,
    },
    #[error("starting the logs threads: {0}")]
    Thread(#[from] std::io::Error),
}

/// The running logs side.
pub struct LogsAgent {
    stop_tail: Arc<AtomicBool>,
    stop_ship: Arc<AtomicBool>,
    tail: Option<JoinHandle<tail::TailStats>>,
    ship: Option<JoinHandle<ship::ShipCounts>>,
    emf: Option<JoinHandle<()>>,
}

impl LogsAgent {
    pub fn start(cfg: &LogsSection, s: LogsSettings) -> Result<LogsAgent, LogsError> {
        let transport = Transport::new(Endpoint {
            url: &s.endpoint,
            region: &s.region,
            access_key_id: &s.access_key_id,
            secret_access_key: &s.secret_access_key,
            session_token: s.session_token.as_deref(),
            ca_bundle: s.ca_bundle.as_deref(),
        })
        .map_err(|e| LogsError::Endpoint(e.to_string()))?;
        let dir = s.spool_dir.join(LOGS_DIR);
        let (spool, report) = Spool::open(&dir, s.spool_max_bytes)?;
        report.log(&dir);
        let shared = Arc::new(tail::Shared {
            spool: Mutex::new(spool),
            appended: Condvar::new(),
            acked: Mutex::new(HashMap::new()),
        });
        let stop_tail = Arc::new(AtomicBool::new(false));
        let stop_ship = Arc::new(AtomicBool::new(false));
        let (emf_tx, emf_rx) = mpsc::channel();
        // Opened when EMF is configured, or when an earlier run left lines.
        let journal_path = dir.join(emf_journal::FILE_NAME);
        let journal = if cfg.emf.is_some() || journal_path.exists() {
            match emf_journal::EmfJournal::open(&journal_path) {
                Ok((j, records)) => Some((Arc::new(Mutex::new(j)), records)),
                Err(e) => {
                    crate::error!("logs: {e}; EMF lines are held only in memory until spooled");
                    None
                }
            }
        } else {
            None
        };
        let listener_journal = journal.as_ref().map(|(j, _)| Arc::clone(j));
        let emf = match &cfg.emf {
            Some(e) => {
                let listener = emf::EmfListener::bind(&e.service_address).map_err(|source| {
                    LogsError::Emf {
                        address: e.service_address.clone(),
                        source,
                    }
                })?;
                crate::info!("emf: listening on tcp and udp {}", e.service_address);
                let stop = Arc::clone(&stop_tail);
                Some(
                    std::thread::Builder::new()
                        .name("logs-emf".into())
                        .spawn(move || listener.run(emf_tx, stop, listener_journal))?,
                )
            }
            None => {
                drop(emf_tx);
                None
            }
        };
        let mut tailer = tail::Tailer::new(
            &cfg.files,
            &s.names,
            s.names.resolve(&cfg.default_stream),
            cfg.force_flush_interval,
            dir.join(positions::FILE_NAME),
            Arc::clone(&shared),
        );
        if let Some((j, records)) = journal {
            tailer.attach_emf_journal(j, records);
        }
        let stop = Arc::clone(&stop_tail);
        let tail = std::thread::Builder::new()
            .name("logs-tail".into())
            .spawn(move || {
                loop {
                    let stopping = stop.load(Ordering::SeqCst);
                    let emf: Vec<_> = emf_rx.try_iter().collect();
                    tailer.tick(emf, stopping);
                    tailer.reclaim_emf_journal(&emf_rx, stopping);
                    if stopping {
                        return tailer.stats;
                    }
                    std::thread::sleep(POLL);
                }
            })?;
        let shipper = ship::LogsShipper {
            transport,
            shared,
            stop: Arc::clone(&stop_ship),
            shutdown_deadline: SHUTDOWN_DEADLINE,
            auth_failure_max_age: s.auth_failure_max_age,
            retry_base: s.retry_base,
            retry_cap: s.retry_cap,
            known: HashSet::new(),
            counts: ship::ShipCounts::default(),
        };
        crate::info!(
            "logs: shipping to {} every {}s at most; spool {}",
            s.endpoint,
            cfg.force_flush_interval.as_secs(),
            dir.display()
        );
        let ship = std::thread::Builder::new()
            .name("logs-ship".into())
            .spawn(move || shipper.run())?;
        Ok(LogsAgent {
            stop_tail,
            stop_ship,
            tail: Some(tail),
            ship: Some(ship),
            emf,
        })
    }

    /// Stops reading, spools what is open, sends for up to
    /// [`SHUTDOWN_DEADLINE`], and leaves the rest in the spool.
    pub fn shutdown(mut self) {
        self.stop_tail.store(true, Ordering::SeqCst);
        let tail = self
            .tail
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        if let Some(e) = self.emf.take() {
            let _ = e.join();
        }
        self.stop_ship.store(true, Ordering::SeqCst);
        let ship = self
            .ship
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        crate::info!(
            "logs stopped: {} event(s) read ({} filtered out), {} batch(es) spooled; {} event(s) in {} \
             batch(es) sent, {} event(s) dropped, {} retries",
            tail.events,
            tail.filtered,
            tail.batches_spooled,
            ship.events_sent,
            ship.batches_sent,
            ship.events_dropped,
            ship.retries
        );
    }
}

impl Drop for LogsAgent {
    fn drop(&mut self) {
        self.stop_tail.store(true, Ordering::SeqCst);
        self.stop_ship.store(true, Ordering::SeqCst);
    }
}
