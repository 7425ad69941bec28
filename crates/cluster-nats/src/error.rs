//! `LogError` and the mapping from async-nats errors onto it.

use async_nats::jetstream::{Error as JsError, ErrorCode};

/// Why a log operation failed. Only `Unavailable` is worth retrying as is.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// Retryable: no quorum, leader election, timeout, disconnected.
    #[error("ingest log unavailable: {0}")]
    Unavailable(String),
    /// The log refused the operation (full, message too large, purged range, ...).
    #[error("ingest log refused: {0}")]
    Refused(String),
    /// Bad configuration, or streams that exist with settings we cannot change.
    #[error("ingest log configuration: {0}")]
    Config(String),
}

/// Cluster-state codes: the request may succeed once a leader is elected.
const TRANSIENT_CODES: [ErrorCode; 7] = [
    ErrorCode::CLUSTER_NOT_AVAILABLE,
    ErrorCode::CLUSTER_NOT_LEADER,
    ErrorCode::CLUSTER_NOT_ACTIVE,
    ErrorCode::CLUSTER_INCOMPLETE,
    ErrorCode::CLUSTER_NO_PEERS,
    ErrorCode::RAFT_GENERAL,
    ErrorCode::INSUFFICIENT_RESOURCES,
];

/// Classifies a JetStream API error answered by the server.
pub(crate) fn from_api(context: &str, err: &JsError) -> LogError {
    let msg = format!("{context}: {err}");
    if err.code() == 503 || TRANSIENT_CODES.contains(&err.error_code()) {
        LogError::Unavailable(msg)
    } else {
        LogError::Refused(msg)
    }
}

/// Classifies any async-nats error: an API error inside is classified by its code; everything
/// else (timeouts, no responders, broken connections) is transport trouble and so retryable.
pub(crate) fn from_any<E>(context: &str, err: &E) -> LogError
where
    E: std::error::Error + 'static,
{
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(api) = e.downcast_ref::<JsError>() {
            return from_api(context, api);
        }
        cur = e.source();
    }
    LogError::Unavailable(format!("{context}: {err}"))
}
