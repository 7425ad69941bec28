//! The connection pool: idle clients in a `Vec`, a cap on open connections,
//! and reconnection by dropping any client that saw a connection failure.

use crate::PgError;
use crate::tls::{SslMode, TlsSettings};
use std::str::FromStr;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};
use tokio_postgres_rustls::MakeRustlsConnect;

/// Open connections per process; blocking-pool callers beyond it wait.
const MAX_CONNECTIONS: usize = 16;
/// How long a caller waits for a free connection before `Unavailable`.
const CHECKOUT_WAIT: Duration = Duration::from_secs(10);
/// Server-side limits for every session: no statement and no forgotten open
/// transaction (which would hold the cluster's write lock) may run for long.
const SESSION_OPTIONS: &str = "-c statement_timeout=10000 -c lock_timeout=10000 \
     -c idle_in_transaction_session_timeout=30000";

pub(crate) struct Pool {
    config: postgres::Config,
    tls: MakeRustlsConnect,
    /// For `Debug` and logs: the URL without its password.
    pub(crate) display: String,
    state: Mutex<State>,
    freed: Condvar,
}

struct State {
    idle: Vec<postgres::Client>,
    /// Connections open (idle + checked out).
    open: usize,
}

impl Pool {
    pub(crate) fn new(url: &str) -> Result<Pool, PgError> {
        let settings = TlsSettings::parse(url)?;
        let mut config = postgres::Config::from_str(&settings.rest).map_err(|e| {
            let mut why = e.to_string();
            if let Some(cause) = std::error::Error::source(&e) {
                why = format!("{why}: {cause}");
            }
            PgError::BadUrl(why)
        })?;
        // PostgreSQL has no TLS on Unix sockets, and libpq asks for none there.
        let unix_only = config.get_hostaddrs().is_empty()
            && !config.get_hosts().is_empty()
            && config
                .get_hosts()
                .iter()
                .all(|h| !matches!(h, postgres::config::Host::Tcp(_)));
        let mode = if unix_only {
            SslMode::Disable
        } else {
            settings.mode
        };
        config
            .ssl_mode(mode.driver())
            .connect_timeout(Duration::from_secs(5))
            // A silently dead server (host gone) fails calls instead of hanging them.
            .tcp_user_timeout(Duration::from_secs(15))
            .keepalives_idle(Duration::from_secs(10))
            .options(SESSION_OPTIONS)
            .application_name("stratus");
        let hosts: Vec<String> = config
            .get_hosts()
            .iter()
            .map(|h| match h {
                postgres::config::Host::Tcp(h) => h.clone(),
                postgres::config::Host::Unix(p) => p.display().to_string(),
            })
            .collect();
        let display = format!(
            "postgres://{}@{}:{:?}/{} (sslmode={})",
            config.get_user().unwrap_or(""),
            hosts.join(","),
            config.get_ports(),
            config.get_dbname().unwrap_or(""),
            mode.as_str()
        );
        Ok(Pool {
            config,
            tls: settings.connector()?,
            display,
            state: Mutex::new(State {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An idle client, or a new connection when none is idle and the cap allows.
    fn checkout(&self) -> Result<postgres::Client, PgError> {
        let deadline = Instant::now() + CHECKOUT_WAIT;
        let mut st = self.state();
        loop {
            if let Some(c) = st.idle.pop() {
                if !c.is_closed() {
                    return Ok(c);
                }
                st.open -= 1;
                continue;
            }
            if st.open < MAX_CONNECTIONS {
                st.open += 1;
                drop(st);
                return self.config.connect(self.tls.clone()).map_err(|e| {
                    self.forget_one();
                    match PgError::connecting(e) {
                        PgError::Tls(why) => PgError::Tls(format!("{}: {why}", self.display)),
                        e => e,
                    }
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(PgError::Unavailable(format!(
                    "all {MAX_CONNECTIONS} connections to PostgreSQL are busy"
                )));
            }
            st = self
                .freed
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn forget_one(&self) {
        self.state().open -= 1;
        self.freed.notify_one();
    }

    /// Runs `f` on a pooled client. A connection failure drops that client
    /// and every idle one (after a server restart they are all dead), so
    /// the next call connects afresh.
    /// `f` returns its result and whether the connection failed under it.
    pub(crate) fn with<R, E: From<PgError>>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> (Result<R, E>, bool),
    ) -> Result<R, E> {
        let mut out = CheckedOut {
            pool: self,
            client: Some(self.checkout()?),
        };
        let (r, broken) = f(out.client.as_mut().expect("checked out"));
        let client = out.client.take().expect("checked out");
        let drop_it = broken || client.is_closed();
        let mut st = self.state();
        if drop_it {
            let stale = std::mem::take(&mut st.idle);
            st.open -= 1 + stale.len();
            drop(st);
            if !client.is_closed() {
                tracing::warn!(db = %self.display, "PostgreSQL connection failed; reconnecting on next use");
            }
        } else {
            st.idle.push(client);
            drop(st);
        }
        self.freed.notify_all();
        r
    }

    pub(crate) fn call<R>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> Result<R, PgError>,
    ) -> Result<R, PgError> {
        self.with(|c| {
            let r = f(c);
            let broken = r.as_ref().err().is_some_and(PgError::breaks_connection);
            (r, broken)
        })
    }
}

/// A client out of the pool; if the caller's closure panics, the client is
/// closed and its slot freed (its connection may be mid-transaction).
struct CheckedOut<'p> {
    pool: &'p Pool,
    client: Option<postgres::Client>,
}

impl Drop for CheckedOut<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            drop(client);
            self.pool.forget_one();
        }
    }
}

impl Drop for Pool {
    /// Closing a client blocks on its own small runtime, which panics on a
    /// thread that drives an async runtime, and the last `Pg` handle may well
    /// be dropped there (a server shutting down, an async test): close the
    /// idle clients on a thread of their own.
    fn drop(&mut self) {
        let idle = std::mem::take(&mut self.state().idle);
        if idle.is_empty() {
            return;
        }
        if let Ok(t) = std::thread::Builder::new()
            .name("pg-close".into())
            .spawn(move || drop(idle))
        {
            let _ = t.join();
        }
    }
}
