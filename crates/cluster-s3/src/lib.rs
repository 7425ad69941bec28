//! `stratus-cluster-s3` owns cluster mode's block storage: putting, getting, listing and
//! deleting immutable block objects in an S3-compatible bucket (or in memory for unit tests)
//! through the `object_store` crate, with the retries, timeouts and error classification a
//! caller needs to tell "missing" from "unavailable". Keys are opaque strings relative to a
//! configured prefix. It must not know what a block contains, how keys are chosen, the
//! manifest (PostgreSQL) or the ingest log: those belong to the server.

mod config;
mod error;
mod file;
mod store;

pub use config::S3Config;
pub use error::StoreError;
pub use store::{BlockStore, ObjectInfo};

/// Installs ring as the process-wide rustls crypto provider.
///
/// reqwest is built with `rustls-no-provider` (no aws-lc C build), so some provider must be
/// installed before the first HTTPS client is built. A provider already installed (by the
/// server, a test, or an earlier call) is kept: that is not an error.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
