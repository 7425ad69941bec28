//! Errors, classified so callers can tell a missing object from a store they cannot reach.

use std::error::Error as StdError;

use object_store::client::{HttpError, HttpErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist (the key, relative to the prefix).
    #[error("object not found: {0}")]
    NotFound(String),
    /// The store could not be reached or answered with a transient failure (connection
    /// refused, timeout, 5xx, throttling) after the client's retries: worth retrying later.
    #[error("object store unavailable: {0}")]
    Unavailable(String),
    /// Anything else: bad configuration or credentials, an invalid key, a local file error.
    #[error("object store error: {0}")]
    Other(String),
}

impl StoreError {
    /// Classifies an `object_store` error for `key`.
    pub(crate) fn from_store(key: &str, e: object_store::Error) -> StoreError {
        match e {
            object_store::Error::NotFound { .. } => StoreError::NotFound(key.to_string()),
            e if is_transient(&e) => StoreError::Unavailable(format!("{key}: {e}")),
            e => StoreError::Other(format!("{key}: {e}")),
        }
    }

    pub(crate) fn io(what: &str, path: &std::path::Path, e: std::io::Error) -> StoreError {
        StoreError::Other(format!("{what} {}: {e}", path.display()))
    }
}

/// Walks the source chain. Transport failures are typed (`HttpError`); HTTP statuses are
/// not, because `object_store` 0.14 keeps its `RetryError` private, so a 5xx or 429 is
/// recognised by the status its message carries ("status code: 503 ...").
fn is_transient(e: &object_store::Error) -> bool {
    let mut current: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(http) = err.downcast_ref::<HttpError>() {
            return matches!(
                http.kind(),
                HttpErrorKind::Connect
                    | HttpErrorKind::Request
                    | HttpErrorKind::Timeout
                    | HttpErrorKind::Interrupted
            );
        }
        let text = err.to_string();
        if text.contains("status code: 5")
            || text.contains("status code: 429")
            // S3 can report these in the body of a 200 (e.g. CompleteMultipartUpload).
            || text.contains("<Code>InternalError</Code>")
            || text.contains("<Code>SlowDown</Code>")
            || text.contains("<Code>ServiceUnavailable</Code>")
        {
            return true;
        }
        current = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("Server returned non-2xx status code: {0}: ")]
    struct Status(&'static str);

    fn generic(source: Box<dyn StdError + Send + Sync>) -> object_store::Error {
        object_store::Error::Generic {
            store: "S3",
            source,
        }
    }

    #[test]
    fn classifies_statuses_and_transport_failures() {
        let e = StoreError::from_store("k", generic(Box::new(Status("503 Service Unavailable"))));
        assert!(matches!(e, StoreError::Unavailable(_)), "{e}");
        let e = StoreError::from_store("k", generic(Box::new(Status("429 Too Many Requests"))));
        assert!(matches!(e, StoreError::Unavailable(_)), "{e}");
        let e = StoreError::from_store("k", generic(Box::new(Status("400 Bad Request"))));
        assert!(matches!(e, StoreError::Other(_)), "{e}");
        let refused = HttpError::new(HttpErrorKind::Connect, std::io::Error::other("refused"));
        let e = StoreError::from_store("k", generic(Box::new(refused)));
        assert!(matches!(e, StoreError::Unavailable(_)), "{e}");
        let decode = HttpError::new(HttpErrorKind::Decode, std::io::Error::other("bad xml"));
        let e = StoreError::from_store("k", generic(Box::new(decode)));
        assert!(matches!(e, StoreError::Other(_)), "{e}");
        let missing = object_store::Error::NotFound {
            path: "pre/k".into(),
            source: Box::new(Status("404 Not Found")),
        };
        match StoreError::from_store("k", missing) {
            StoreError::NotFound(k) => assert_eq!(k, "k"),
            e => panic!("{e}"),
        }
    }
}
