//! Domain types and validation for Stratus: metric identity, datums, units,
//! statistics, operation inputs and outputs, and the AWS error codes.
//!
//! This crate owns *what* a valid request means. It must not know about IO,
//! HTTP, async, wire encodings or storage: inputs arrive here already decoded
//! (by `proto`, through serde) and leave as plain values.

pub mod error;
pub mod time;

pub use error::{ApiError, ApiResult, ErrorCode, Fault};
pub use time::Timestamp;
