//! Shared server state handed to every request.

use crate::keys::KeyStore;
use crate::meta::MetaStore;
use crate::storage::MetricStore;
use std::sync::Arc;

#[derive(Debug)]
pub struct AppState {
    pub keys: KeyStore,
    pub meta: Arc<MetaStore>,
    pub metrics: MetricStore,
}
