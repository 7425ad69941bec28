//! `stratus-cluster-pg` owns cluster mode's PostgreSQL control plane: the
//! connection pool and schema, the generic key/value tables behind the
//! server's metadata store (one cluster-wide writer at a time), leases with
//! fencing epochs, partition checkpoints (the block manifest's commit
//! point), fixed cluster settings, node heartbeats and work-item claims. It
//! is synchronous (the `postgres` client; callers run it on tokio's blocking
//! pool) and must not know what the records mean: no alarms, topics, blocks
//! or HTTP, and it depends on no other workspace crate.
//!
//! The connection URL takes libpq's `sslmode` (`disable`, `prefer` — the
//! default —, `require`, `verify-ca`, `verify-full`) and `sslrootcert` (a
//! PEM file of trusted CAs; without it the bundled Mozilla roots): TLS is
//! rustls with the ring provider (see `tls.rs`).

mod claim;
mod error;
mod kv;
mod lease;
mod nodes;
mod pool;
mod schema;
#[cfg(feature = "testing")]
pub mod testing;
mod tls;

pub use error::PgError;
pub use kv::KvTxn;
pub use lease::{Checkpoint, Lease, PARTITION_LEASE_KIND};
pub use nodes::NodeRow;

use std::sync::Arc;
use std::time::{Duration, Instant};

/// A handle on the cluster's PostgreSQL database (cheap to clone).
#[derive(Clone)]
pub struct Pg {
    pool: Arc<pool::Pool>,
}

impl std::fmt::Debug for Pg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pg")
            .field("db", &self.pool.display)
            .finish()
    }
}

impl Pg {
    /// Connects (retrying for up to `wait` while the server is unavailable)
    /// and creates or migrates the schema idempotently (under an advisory
    /// lock, so nodes starting together do not race).
    pub fn connect(url: &str, wait: Duration) -> Result<Pg, PgError> {
        let pg = Pg {
            pool: Arc::new(pool::Pool::new(url)?),
        };
        let deadline = Instant::now() + wait;
        loop {
            match pg.pool.call(schema::migrate) {
                Ok(()) => return Ok(pg),
                Err(PgError::Unavailable(why)) if Instant::now() < deadline => {
                    tracing::info!(db = %pg.pool.display, %why, "waiting for PostgreSQL");
                    std::thread::sleep(Duration::from_millis(250));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Whether a pooled session runs over TLS (the server's own view,
    /// `pg_stat_ssl`): for status pages and tests.
    pub fn tls_in_use(&self) -> Result<bool, PgError> {
        self.pool.call(|c| {
            Ok(c.query_one(
                "SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)",
                &[],
            )?
            .get(0))
        })
    }
}

/// A duration as whole milliseconds for SQL (`$n * interval '1 millisecond'`).
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// SQL for a `timestamptz` column as Unix milliseconds.
macro_rules! epoch_ms {
    ($col:literal) => {
        concat!("(extract(epoch FROM ", $col, ") * 1000)::bigint")
    };
}
pub(crate) use epoch_ms;
