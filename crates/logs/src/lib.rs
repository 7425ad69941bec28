//! CloudWatch Logs' engine: the log store (write-ahead log fsync'd before an
//! append is acknowledged, sealed zstd segments per log group and time window,
//! retention that drops whole files), CloudWatch filter patterns and the
//! metric values they extract (`pattern`), Embedded Metric Format (`emf`),
//! and Logs Insights queries (`insights`).
//!
//! It owns log groups, streams, events and their metadata on disk. It must not
//! know HTTP, AWS wire formats or the metrics engine: the server turns API
//! calls into calls here and the metric emissions returned here into
//! datapoints.

pub mod emf;
pub mod insights;
pub mod pattern;
pub mod store;

/// One stored log event as the query layers see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventRef<'a> {
    pub group: &'a str,
    pub stream: &'a str,
    /// The event's own time (epoch ms), as the client gave it.
    pub timestamp_ms: i64,
    /// When the server accepted it (epoch ms).
    pub ingestion_ms: i64,
    pub message: &'a str,
}
