//! The replicated ingest log of cluster mode, on NATS JetStream: one stream per partition,
//! durable before the PubAck (R3, `sync_interval: always`), deduplicated by message id, read
//! in order by every node from any sequence. This crate owns the streams' shape, publishing,
//! reading, purging and (behind the `testing` feature) a real nats-server cluster for tests.
//! It must not know what the payloads mean (encoded ingest batches), who owns a partition or
//! where checkpoints live: those belong to the server and `stratus-cluster-pg`.

mod config;
mod error;
mod log;
mod reader;
mod streams;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::LogConfig;
pub use error::LogError;
pub use log::{IngestLog, PartitionInfo, Published};
pub use reader::{LogEntry, LogReader};
