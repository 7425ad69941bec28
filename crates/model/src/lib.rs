//! Domain types and validation for Stratus: metric identity, datums, units,
//! statistics, operation inputs and outputs, and the AWS error codes.
//!
//! This crate owns *what* a valid request means. It must not know about IO,
//! HTTP, async, wire encodings or storage: inputs arrive here already decoded
//! (by `proto`, through serde) and leave as plain values. Errors name the
//! offending parameter with its query-protocol path and use AWS's codes.

pub mod alarm;
pub mod anomaly;
pub mod dashboard;
pub mod error;
pub mod glob;
pub mod insight_rule;
pub mod insights_query;
pub mod limits;
pub mod logs;
pub mod math;
pub mod metric;
pub mod metric_stream;
pub mod ops;
pub mod param;
pub mod sns;
pub mod statistic;
pub mod time;
pub mod unit;

pub use error::{ApiError, ApiResult, ErrorCode, Fault};
pub use metric::{Dimension, DimensionFilter, Metric, MetricId};
pub use statistic::{Percentile, Stat, Statistic};
pub use time::Timestamp;
pub use unit::Unit;
