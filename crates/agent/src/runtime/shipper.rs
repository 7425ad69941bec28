//! The runtime's side of the shipping contract: builds the `ship::Shipper`
//! from the resolved settings and adapts it to [`DatumSink`].

use super::{AgentError, DatumSink, ShipSettings};
use crate::ship::{DEFAULT_SPOOL_MAX_BYTES, Shipper, ShipperConfig};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Spool directory when the config names none: systemd's `StateDirectory=`
/// (`$STATE_DIRECTORY`) when set, else this.
pub const DEFAULT_SPOOL_DIR: &str = "/var/lib/stratus-agent";

/// How long the final flush may take; below systemd's 30 s stop timeout in
/// the unit file, so what is not sent by then still reaches the spool.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(20);

/// Where the spool lives for these settings.
pub fn spool_dir(settings: &ShipSettings) -> PathBuf {
    spool_dir_for(settings.spool_dir.as_deref())
}

/// The configured spool directory, else the default one.
pub fn spool_dir_for(configured: Option<&std::path::Path>) -> PathBuf {
    configured.map(PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("STATE_DIRECTORY")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SPOOL_DIR))
    })
}

/// Starts the shipper for `settings`.
pub fn start_shipper(settings: &ShipSettings) -> Result<Arc<dyn DatumSink>, AgentError> {
    let mut cfg = ShipperConfig::new(
        settings.endpoint.clone(),
        settings.region.clone(),
        settings.credentials.access_key_id.clone(),
        settings.credentials.secret_access_key.clone(),
        settings.namespace.clone(),
        spool_dir(settings),
    );
    cfg.session_token = settings.credentials.session_token.clone();
    cfg.ca_bundle = std::env::var_os("AWS_CA_BUNDLE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    cfg.force_flush_interval = settings.force_flush_interval;
    cfg.spool_max_bytes = settings.spool_max_bytes.unwrap_or(DEFAULT_SPOOL_MAX_BYTES);
    cfg.auth_failure_max_age = settings.auth_failure_max_age;
    crate::info!(
        "shipping to {} every {}s at most; spool {} (max {} MiB)",
        cfg.endpoint,
        cfg.force_flush_interval.as_secs(),
        cfg.spool_dir.display(),
        cfg.spool_max_bytes >> 20
    );
    let shipper = Shipper::start(cfg).map_err(|e| AgentError::Ship(e.to_string()))?;
    Ok(Arc::new(ShipperSink(Mutex::new(Some(shipper)))))
}

/// `Shipper::shutdown` consumes the shipper; the sink is shared, so it holds
/// it in an `Option` taken once at shutdown.
struct ShipperSink(Mutex<Option<Shipper>>);

impl DatumSink for ShipperSink {
    fn submit(&self, datums: Vec<crate::ship::Datum>) {
        let guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = guard.as_ref() {
            s.submit(datums);
        }
    }

    fn shutdown(&self) {
        let shipper = self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(s) = shipper {
            let r = s.shutdown(SHUTDOWN_DEADLINE);
            crate::info!(
                "flushed {} datum(s) in {:.1}s; {} datum(s) in {} batch(es) left in the spool for the next start; \
                 since start: {} sent, {} dropped",
                r.datums_flushed,
                r.took.as_secs_f64(),
                r.datums_spooled,
                r.batches_spooled,
                r.stats.datums_sent,
                r.stats.datums_dropped
            );
        }
    }
}
