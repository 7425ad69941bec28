//! Metric-stream record encoding and the Firehose HTTP envelope: turns one
//! minute's statistics of a metric ([`MinuteStats`]) into the bytes AWS
//! metric streams deliver — newline-delimited JSON ([`json`]) or
//! size-delimited OpenTelemetry 1.0 `ExportMetricsServiceRequest` protobuf
//! messages ([`otel`]) — and wraps records in the request body a Kinesis
//! Firehose HTTP endpoint destination receives ([`firehose`]).
//!
//! **Boundary:** pure code. It must not know storage, redb or HTTP serving;
//! the server reads the aggregates, picks the format and does the POST.

pub mod firehose;
pub mod json;
pub mod otel;

/// Who is streaming: the fields every record repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamIdentity {
    pub stream_name: String,
    /// The stream's ARN (`arn:aws:cloudwatch:<region>:<account>:metric-stream/<name>`).
    pub arn: String,
    pub account_id: String,
    pub region: String,
}

/// One metric's statistics over one minute.
#[derive(Debug, Clone, PartialEq)]
pub struct MinuteStats {
    pub namespace: String,
    pub metric_name: String,
    /// (name, value) in the metric's order.
    pub dimensions: Vec<(String, String)>,
    /// Start of the minute, epoch milliseconds.
    pub start_ms: i64,
    /// CloudWatch unit name (`Seconds`, `Count/Second`, `None`, ...).
    pub unit: String,
    pub min: f64,
    pub max: f64,
    pub sum: f64,
    pub count: f64,
    /// Additional statistics the stream asked for: (name as configured,
    /// e.g. `p99`, and its value). Percentiles only.
    pub extra: Vec<(String, f64)>,
}

/// The output formats this crate encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    OpenTelemetry1,
}

impl Format {
    /// One record's data for a batch of minute statistics.
    pub fn encode(self, id: &StreamIdentity, stats: &[MinuteStats]) -> Vec<u8> {
        match self {
            Format::Json => json::encode(id, stats),
            Format::OpenTelemetry1 => otel::encode(id, stats),
        }
    }
}
