//! The crate's error type and the mapping of driver errors onto it.

/// What went wrong. Callers retry `Unavailable`; `Fenced` and `Stale` mean
/// the caller lost its right to write and must stop.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// Connection or I/O failure, server shutting down, timeout, or a
    /// serialisation conflict: nothing was committed by the failed call
    /// (unless the failure hit the commit itself); retry later.
    #[error("PostgreSQL unavailable: {0}")]
    Unavailable(String),
    /// The lease `(kind, id)` is no longer held at `epoch` (the caller's epoch).
    #[error("lease {kind}/{id} is no longer held at epoch {epoch}")]
    Fenced { kind: String, id: i32, epoch: i64 },
    /// A write older than what is already committed.
    #[error("stale write: {0}")]
    Stale(String),
    /// Any other database error (a bug or a schema problem, not retryable).
    #[error("PostgreSQL: {0}")]
    Db(String),
    /// The connection string does not parse: an unknown `sslmode`, an
    /// unreadable `sslrootcert` file, a malformed URL (not retryable).
    #[error("bad PostgreSQL URL: {0}")]
    BadUrl(String),
    /// The TLS the connection string asks for cannot be had: the server's
    /// certificate was refused, or the server does not offer TLS. A
    /// configuration problem on one side or the other, so not retried.
    #[error("PostgreSQL TLS: {0}")]
    Tls(String),
}

impl PgError {
    /// Whether the connection that produced this error should be dropped.
    pub(crate) fn breaks_connection(&self) -> bool {
        matches!(self, PgError::Unavailable(_))
    }

    /// A failure to connect: as any driver error, except that a TLS
    /// handshake refused on what was presented rather than lost on the
    /// network (a certificate the client refused, an alert from the server,
    /// a server without TLS) is `Tls`, not retried. An I/O error
    /// mid-handshake stays `Unavailable`.
    pub(crate) fn connecting(e: postgres::Error) -> PgError {
        match tls_refusal(&e) {
            Some(why) => PgError::Tls(why),
            None => PgError::from(e),
        }
    }
}

/// SQLSTATE classes and codes that mean "try again later" rather than "bug".
fn retryable(code: &str) -> bool {
    code.starts_with("08") // connection exception
        || code.starts_with("57P") // admin/crash shutdown, cannot connect now
        || code.starts_with("53") // insufficient resources (too many connections, disk full)
        || code == "57014" // query_canceled (statement timeout)
        || code == "55P03" // lock_not_available (lock timeout)
        || code == "40001" // serialization_failure
        || code == "40P01" // deadlock_detected
        || code == "25P03" // idle_in_transaction_session_timeout
}

/// Why a handshake was refused, when it was (see [`PgError::connecting`]).
fn tls_refusal(e: &postgres::Error) -> Option<String> {
    let cause = std::error::Error::source(e)?;
    if let Some(io) = cause.downcast_ref::<std::io::Error>() {
        let tls = io.get_ref()?.downcast_ref::<rustls::Error>()?;
        return Some(crate::tls::explain(tls));
    }
    // The driver's words when the server answers the TLS request with "no".
    (cause.to_string() == "server does not support TLS").then(|| {
        "the server does not offer TLS (sslmode=require and stricter need it: ssl = on in \
         postgresql.conf)"
            .to_string()
    })
}

impl From<postgres::Error> for PgError {
    fn from(e: postgres::Error) -> Self {
        if let Some(db) = e.as_db_error() {
            let what = format!("{} {}: {}", db.severity(), db.code().code(), db.message());
            return if retryable(db.code().code()) {
                PgError::Unavailable(what)
            } else {
                PgError::Db(what)
            };
        }
        // Without a server error this is the driver's own: a parameter or
        // column that does not fit is a bug; everything else (I/O, closed
        // connection, timeout, protocol) is the connection failing.
        let mut what = e.to_string();
        if let Some(cause) = std::error::Error::source(&e) {
            what = format!("{what}: {cause}");
        }
        const BUGS: [&str; 6] = [
            "error serializing",
            "error deserializing",
            "invalid column",
            "query returned",
            "expected ",
            "invalid c",
        ];
        if BUGS.iter().any(|b| what.starts_with(b)) {
            PgError::Db(what)
        } else {
            PgError::Unavailable(what)
        }
    }
}
