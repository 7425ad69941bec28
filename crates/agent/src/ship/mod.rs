//! Shipping: batching, awsQuery encoding, gzip, SigV4, retries with backoff and
//! jitter, and the on-disk spool that keeps datapoints through server outages.
//!
//! CONTRACT (shared with the runtime): the runtime calls `Shipper::submit`
//! with finished datums; `Shipper` owns everything after that.

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
    Distribution { values: Vec<f64>, counts: Vec<f64> },
}
