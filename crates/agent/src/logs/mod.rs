//! Log collection: tails the files of `logs.logs_collected.files`, listens
//! for Embedded Metric Format lines, and ships both to CloudWatch Logs'
//! PutLogEvents (awsJson1_1, SigV4 service `logs`).

pub mod glob;
pub mod lines;
pub mod placeholders;
pub mod timestamp;
pub mod batch;
pub mod positions;
pub mod record;
pub mod tail;
pub mod ship;
