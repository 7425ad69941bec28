//! One module per CloudWatch metric operation: its input as decoded from the
//! wire, its validation, and its output structure.

pub mod get_metric_data;
pub mod get_metric_statistics;
pub mod list_metrics;
pub mod period;
pub mod put_metric_data;

#[cfg(test)]
mod proptests;
