//! `LogError` and the mapping from async-nats errors onto it.

use async_nats::jetstream::{Error as JsError, ErrorCode};

/// Why a log operation failed. Only `Unavailable` is worth retrying as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
    let code = err.error_code();
    // "maximum bytes exceeded" comes back as 503 with STREAM_STORE_FAILED: a full log, which
    // retrying will not fix until the owner purges.
    if code == ErrorCode::STREAM_STORE_FAILED {
        return LogError::Refused(msg);
    }
    if err.code() == 503 || TRANSIENT_CODES.contains(&code) {
        LogError::Unavailable(msg)
    } else {
        LogError::Refused(msg)
    }
}

/// Error kinds of async-nats that may carry a JetStream API error as a variant rather than as
/// the error's source.
pub(crate) trait ApiKind {
    fn api(&self) -> Option<&JsError>;
}

impl ApiKind for async_nats::jetstream::context::CreateStreamErrorKind {
    fn api(&self) -> Option<&JsError> {
        match self {
            Self::JetStream(e) => Some(e),
            _ => None,
        }
    }
}

impl ApiKind for async_nats::jetstream::context::GetStreamErrorKind {
    fn api(&self) -> Option<&JsError> {
        match self {
            Self::JetStream(e) => Some(e),
            _ => None,
        }
    }
}

impl ApiKind for async_nats::jetstream::stream::PurgeErrorKind {
    fn api(&self) -> Option<&JsError> {
        match self {
            Self::JetStream(e) => Some(e),
            _ => None,
        }
    }
}

impl ApiKind for async_nats::jetstream::stream::ConsumerErrorKind {
    fn api(&self) -> Option<&JsError> {
        match self {
            Self::JetStream(e) => Some(e),
            _ => None,
        }
    }
}

/// Classifies an async-nats error whose kind may hold the API error.
pub(crate) fn from_kind<K>(context: &str, err: &async_nats::error::Error<K>) -> LogError
where
    K: ApiKind + Clone + std::fmt::Debug + std::fmt::Display + PartialEq + Send + Sync + 'static,
{
    match err.kind().api() {
        Some(api) => from_api(context, api),
        None => from_any(context, err),
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

/// Classifies a publish error: a message over the server's `max_payload` will never fit, the
/// rest is transport trouble or an API answer.
pub(crate) fn from_publish(
    context: &str,
    err: &async_nats::jetstream::context::PublishError,
) -> LogError {
    use async_nats::jetstream::context::PublishErrorKind;
    match err.kind() {
        PublishErrorKind::MaxPayloadExceeded => LogError::Refused(format!("{context}: {err}")),
        _ => from_any(context, err),
    }
}
