//! The Stratus agent: reads the amazon-cloudwatch-agent JSON config, collects
//! host metrics from `/proc` and `statvfs`, and ships them to a Stratus (or
//! CloudWatch) endpoint as signed, gzip'd awsQuery PutMetricData — spooling to
//! disk while the endpoint is unreachable so no datapoint is lost.
//!
//! It owns everything on the monitored host. It must not know the server's
//! internals, and it must not pull in tokio: it is plain threads, small and
//! cheap to keep resident.

pub mod collect;
pub mod config;
pub mod credentials;
pub mod log;
pub mod logs;
pub mod metadata;
pub mod pipeline;
pub mod runtime;
pub mod ship;
pub mod statsd;
