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
}
