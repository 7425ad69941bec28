//! Claims on work items (e.g. outbox deliveries): a row per `(scope, key)`
//! with an owner and a deadline by the database clock. Claiming uses
//! `FOR UPDATE SKIP LOCKED`, so concurrent claimers never wait on each
//! other and never both get a key; no transaction is held while the work
//! runs (the deadline is the visibility timeout).

use crate::{Pg, PgError, millis};
use std::time::Duration;

impl Pg {
    /// Claims those of `keys` that nobody else validly holds (unclaimed,
    /// expired, or already `owner`'s), until `now() + ttl`. Returns the
    /// keys now held by `owner`, sorted.
    pub fn claim(
        &self,
        scope: &str,
        keys: &[String],
        owner: &str,
        ttl: Duration,
    ) -> Result<Vec<String>, PgError> {
        if owner.is_empty() {
            return Err(PgError::Db("a claim owner must not be empty".into()));
        }
        // Sorted, so concurrent inserts of overlapping sets lock in one order.
        let mut keys = keys.to_vec();
        keys.sort();
        keys.dedup();
        let ttl = millis(ttl);
        self.pool.call(|c| {
            // Missing rows first (own statement): unclaimed, already expired.
            c.execute(
                "INSERT INTO stratus_claim (scope, key, owner, until)
                 SELECT $1, k, '', '-infinity' FROM unnest($2::text[]) AS k
                 ON CONFLICT (scope, key) DO NOTHING",
                &[&scope, &keys],
            )?;
            let mut held: Vec<String> = c
                .query(
                    "WITH free AS (
                         SELECT scope, key FROM stratus_claim
                         WHERE scope = $1 AND key = ANY($2::text[])
                           AND (owner = $3 OR until <= now())
                         ORDER BY key
                         FOR UPDATE SKIP LOCKED)
                     UPDATE stratus_claim t
                     SET owner = $3, until = now() + $4::bigint * interval '1 millisecond'
                     FROM free WHERE t.scope = free.scope AND t.key = free.key
                     RETURNING t.key",
                    &[&scope, &keys, &owner, &ttl],
                )?
                .into_iter()
                .map(|r| r.get(0))
                .collect();
            held.sort();
            Ok(held)
        })
    }

    /// Whether `owner` still holds the claim for at least `margin` more
    /// (by the database clock).
    pub fn claim_held(
        &self,
        scope: &str,
        key: &str,
        owner: &str,
        margin: Duration,
    ) -> Result<bool, PgError> {
        let margin = millis(margin);
        self.pool.call(|c| {
            Ok(c.query_opt(
                "SELECT 1 FROM stratus_claim WHERE scope = $1 AND key = $2 AND owner = $3
                   AND until > now() + $4::bigint * interval '1 millisecond'",
                &[&scope, &key, &owner, &margin],
            )?
            .is_some())
        })
    }

    /// Gives up `owner`'s claim (the row goes; claiming re-creates it).
    pub fn claim_release(&self, scope: &str, key: &str, owner: &str) -> Result<(), PgError> {
        self.pool.call(|c| {
            c.execute(
                "DELETE FROM stratus_claim WHERE scope = $1 AND key = $2 AND owner = $3",
                &[&scope, &key, &owner],
            )?;
            Ok(())
        })
    }
}
