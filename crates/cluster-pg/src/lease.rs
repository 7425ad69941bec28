//! Leases (rows with a fencing epoch) and partition checkpoints. Expiry is
//! always judged by the database's clock (`now()`), never a caller's, so
//! skewed node clocks cannot make two owners. The epoch only grows: taking
//! over a free or expired lease increments it, a renewal by the live owner
//! keeps it, and every fenced write re-reads it in its own transaction.

use crate::{Pg, PgError, epoch_ms, millis};
use std::time::Duration;

/// A lease row as [`Pg::leases`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub kind: String,
    pub id: i32,
    /// Empty after a release.
    pub owner: String,
    pub epoch: i64,
    /// Negative once expired.
    pub expires_in_ms: i64,
}

/// A partition's committed checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub seq: u64,
    pub epoch: i64,
    pub manifest: serde_json::Value,
    pub committed_at_ms: i64,
}

/// The lease kind partition checkpoints are fenced by.
pub const PARTITION_LEASE_KIND: &str = "partition";

/// Share-locks lease `(kind, id)` for the rest of `tx` and refuses unless
/// `owner` holds it at `epoch`, unexpired.
pub(crate) fn check_fence(
    tx: &mut postgres::Transaction<'_>,
    kind: &str,
    id: i32,
    owner: &str,
    epoch: i64,
) -> Result<(), PgError> {
    let row = tx.query_opt(
        "SELECT owner = $3 AND epoch = $4 AND expires_at > now()
         FROM stratus_lease WHERE kind = $1 AND id = $2 FOR SHARE",
        &[&kind, &id, &owner, &epoch],
    )?;
    match row.map(|r| r.get::<_, bool>(0)) {
        Some(true) => Ok(()),
        _ => Err(PgError::Fenced {
            kind: kind.to_owned(),
            id,
            epoch,
        }),
    }
}

fn u64_to_i64(seq: u64) -> Result<i64, PgError> {
    i64::try_from(seq).map_err(|_| PgError::Db(format!("sequence {seq} exceeds bigint")))
}

impl Pg {
    /// Takes lease `(kind, id)` for `owner` if it is free or expired (the
    /// epoch increments), or renews it if `owner` holds it (same epoch).
    /// `None` if another live owner holds it.
    pub fn lease_acquire(
        &self,
        kind: &str,
        id: i32,
        owner: &str,
        ttl: Duration,
    ) -> Result<Option<i64>, PgError> {
        if owner.is_empty() {
            return Err(PgError::Db("a lease owner must not be empty".into()));
        }
        let ttl = millis(ttl);
        self.pool.call(|c| {
            Ok(c.query_opt(
                "INSERT INTO stratus_lease AS l (kind, id, owner, epoch, expires_at)
                 VALUES ($1, $2, $3, 1, now() + $4::bigint * interval '1 millisecond')
                 ON CONFLICT (kind, id) DO UPDATE SET
                     epoch = CASE WHEN l.owner = EXCLUDED.owner AND l.expires_at > now()
                                  THEN l.epoch ELSE l.epoch + 1 END,
                     owner = EXCLUDED.owner,
                     expires_at = EXCLUDED.expires_at
                 WHERE l.owner = EXCLUDED.owner OR l.expires_at <= now()
                 RETURNING epoch",
                &[&kind, &id, &owner, &ttl],
            )?
            .map(|r| r.get(0)))
        })
    }

    /// Gives the lease up now if `owner` holds it (the epoch is kept, so the
    /// next owner's is still higher).
    pub fn lease_release(&self, kind: &str, id: i32, owner: &str) -> Result<(), PgError> {
        self.pool.call(|c| {
            c.execute(
                "UPDATE stratus_lease SET owner = '', expires_at = now()
                 WHERE kind = $1 AND id = $2 AND owner = $3",
                &[&kind, &id, &owner],
            )?;
            Ok(())
        })
    }

    /// Every lease (of `kind`, if given), by kind and id.
    pub fn leases(&self, kind: Option<&str>) -> Result<Vec<Lease>, PgError> {
        self.pool.call(|c| {
            Ok(c.query(
                "SELECT kind, id, owner, epoch,
                        (extract(epoch FROM expires_at - now()) * 1000)::bigint
                 FROM stratus_lease WHERE $1::text IS NULL OR kind = $1
                 ORDER BY kind, id",
                &[&kind],
            )?
            .into_iter()
            .map(|r| Lease {
                kind: r.get(0),
                id: r.get(1),
                owner: r.get(2),
                epoch: r.get(3),
                expires_in_ms: r.get(4),
            })
            .collect())
        })
    }

    /// Commits partition `partition`'s checkpoint in one transaction:
    /// refuses with `Fenced` unless lease `("partition", partition)` is held
    /// by `owner` at `epoch` and unexpired, with `Stale` if `seq` is below
    /// the committed one; then upserts `(seq, epoch, manifest, now())`.
    pub fn commit_partition(
        &self,
        partition: i32,
        owner: &str,
        epoch: i64,
        seq: u64,
        manifest: &serde_json::Value,
    ) -> Result<(), PgError> {
        let seq = u64_to_i64(seq)?;
        let manifest = manifest.to_string();
        self.pool.call(|c| {
            let mut tx = c.transaction()?;
            check_fence(&mut tx, PARTITION_LEASE_KIND, partition, owner, epoch)?;
            let n = tx.execute(
                "INSERT INTO stratus_checkpoint AS k (partition, seq, epoch, manifest, committed_at)
                 VALUES ($1, $2, $3, $4::text::jsonb, now())
                 ON CONFLICT (partition) DO UPDATE SET
                     seq = EXCLUDED.seq, epoch = EXCLUDED.epoch,
                     manifest = EXCLUDED.manifest, committed_at = EXCLUDED.committed_at
                 WHERE k.seq <= EXCLUDED.seq",
                &[&partition, &seq, &epoch, &manifest],
            )?;
            if n == 0 {
                return Err(PgError::Stale(format!(
                    "partition {partition}: seq {seq} is below the committed checkpoint"
                )));
            }
            tx.commit()?;
            Ok(())
        })
    }

    pub fn partition_checkpoint(&self, partition: i32) -> Result<Option<Checkpoint>, PgError> {
        Ok(self
            .checkpoints_where(Some(partition))?
            .into_iter()
            .next()
            .map(|(_, c)| c))
    }

    /// Every partition's checkpoint, by partition.
    pub fn checkpoints(&self) -> Result<Vec<(i32, Checkpoint)>, PgError> {
        self.checkpoints_where(None)
    }

    fn checkpoints_where(&self, partition: Option<i32>) -> Result<Vec<(i32, Checkpoint)>, PgError> {
        let rows = self.pool.call(|c| {
            Ok(c.query(
                concat!(
                    "SELECT partition, seq, epoch, manifest::text, ",
                    epoch_ms!("committed_at"),
                    " FROM stratus_checkpoint WHERE $1::int IS NULL OR partition = $1
                      ORDER BY partition"
                ),
                &[&partition],
            )?)
        })?;
        rows.into_iter()
            .map(|r| {
                let manifest: String = r.get(3);
                let seq: i64 = r.get(1);
                Ok((
                    r.get(0),
                    Checkpoint {
                        seq: u64::try_from(seq)
                            .map_err(|_| PgError::Db(format!("negative seq {seq}")))?,
                        epoch: r.get(2),
                        manifest: serde_json::from_str(&manifest)
                            .map_err(|e| PgError::Db(format!("checkpoint manifest: {e}")))?,
                        committed_at_ms: r.get(4),
                    },
                ))
            })
            .collect()
    }
}
