//! Generic key/value tables (`stratus_kv`): the metadata store's records.
//! Keys sort by bytes (`COLLATE "C"`), as redb's `&str` keys do. Every
//! write transaction first takes one cluster-wide advisory lock, so writers
//! are serialised exactly as redb's single writer is, and each sees the
//! latest committed state without retry loops.

use crate::{Pg, PgError, schema::WRITE_LOCK};
use std::collections::BTreeSet;

impl Pg {
    pub fn kv_get(&self, table: &str, key: &str) -> Result<Option<Vec<u8>>, PgError> {
        self.pool.call(|c| {
            Ok(c.query_opt(
                "SELECT value FROM stratus_kv WHERE tbl = $1 AND key = $2",
                &[&table, &key],
            )?
            .map(|r| r.get(0)))
        })
    }

    /// Every record of `table` in key (byte) order.
    pub fn kv_list(&self, table: &str) -> Result<Vec<(String, Vec<u8>)>, PgError> {
        self.pool.call(|c| {
            Ok(c.query(
                "SELECT key, value FROM stratus_kv WHERE tbl = $1 ORDER BY key",
                &[&table],
            )?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
        })
    }

    /// The keys of `table` below `end`, in order.
    pub fn kv_keys_below(&self, table: &str, end: &str) -> Result<Vec<String>, PgError> {
        self.pool.call(|c| {
            Ok(c.query(
                r#"SELECT key FROM stratus_kv WHERE tbl = $1 AND key < ($2 COLLATE "C")
                   ORDER BY key"#,
                &[&table, &end],
            )?
            .into_iter()
            .map(|r| r.get(0))
            .collect())
        })
    }

    /// Up to `limit` records of `table` with `start <= key < end`, in key
    /// order, or in reverse key order when `reverse`.
    pub fn kv_range(
        &self,
        table: &str,
        start: &str,
        end: &str,
        reverse: bool,
        limit: i64,
    ) -> Result<Vec<(String, Vec<u8>)>, PgError> {
        let sql = if reverse {
            r#"SELECT key, value FROM stratus_kv WHERE tbl = $1 AND key >= ($2 COLLATE "C")
               AND key < ($3 COLLATE "C") ORDER BY key DESC LIMIT $4"#
        } else {
            r#"SELECT key, value FROM stratus_kv WHERE tbl = $1 AND key >= ($2 COLLATE "C")
               AND key < ($3 COLLATE "C") ORDER BY key LIMIT $4"#
        };
        self.pool.call(|c| {
            Ok(c.query(sql, &[&table, &start, &end, &limit])?
                .into_iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect())
        })
    }

    /// How many committed transactions have written `table` (0: none yet).
    pub fn table_version(&self, table: &str) -> Result<i64, PgError> {
        self.pool.call(|c| {
            Ok(c.query_opt(
                "SELECT version FROM stratus_kv_version WHERE tbl = $1",
                &[&table],
            )?
            .map_or(0, |r| r.get(0)))
        })
    }

    /// One write transaction. All write transactions of the cluster are
    /// serialised by an advisory transaction lock taken first, so `f` sees
    /// the latest committed state. Rolled back if `f` errs; committed (with
    /// the written tables' versions bumped) if it returns `Ok`.
    pub fn transact<R, E: From<PgError>>(
        &self,
        f: impl FnOnce(&mut KvTxn<'_>) -> Result<R, E>,
    ) -> Result<R, E> {
        self.pool.with(|c| {
            let mut broken = false;
            let tx = match c.transaction() {
                Ok(tx) => tx,
                Err(e) => return (Err(note(e, &mut broken).into()), broken),
            };
            let mut txn = KvTxn {
                tx,
                written: BTreeSet::new(),
                broken: false,
            };
            if let Err(e) = txn
                .tx
                .execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
            {
                let e = note(e, &mut broken);
                return (Err(e.into()), broken);
            }
            let r = f(&mut txn);
            broken |= txn.broken;
            let KvTxn {
                mut tx, written, ..
            } = txn;
            let r = match r {
                // Dropping `tx` rolls it back.
                Err(e) => Err(e),
                Ok(v) => {
                    let tables: Vec<String> = written.into_iter().collect();
                    let done = tx
                        .execute(
                            "INSERT INTO stratus_kv_version (tbl, version)
                             SELECT t, 1 FROM unnest($1::text[]) AS t
                             ON CONFLICT (tbl) DO UPDATE
                             SET version = stratus_kv_version.version + 1",
                            &[&tables],
                        )
                        .and_then(|_| tx.commit());
                    match done {
                        Ok(()) => Ok(v),
                        Err(e) => Err(note(e, &mut broken).into()),
                    }
                }
            };
            (r, broken)
        })
    }
}

/// `e` as a [`PgError`], noting whether it broke the connection.
fn note(e: postgres::Error, broken: &mut bool) -> PgError {
    let e = PgError::from(e);
    *broken |= e.breaks_connection();
    e
}

/// A write transaction, passed to [`Pg::transact`].
pub struct KvTxn<'a> {
    tx: postgres::Transaction<'a>,
    /// Tables written, whose versions the commit bumps.
    written: BTreeSet<String>,
    /// A connection failure happened: the client is dropped afterwards.
    broken: bool,
}

impl KvTxn<'_> {
    fn err(&mut self, e: postgres::Error) -> PgError {
        note(e, &mut self.broken)
    }

    pub fn get(&mut self, table: &str, key: &str) -> Result<Option<Vec<u8>>, PgError> {
        let r = self.tx.query_opt(
            "SELECT value FROM stratus_kv WHERE tbl = $1 AND key = $2",
            &[&table, &key],
        );
        Ok(r.map_err(|e| self.err(e))?.map(|r| r.get(0)))
    }

    pub fn put(&mut self, table: &str, key: &str, value: &[u8]) -> Result<(), PgError> {
        let r = self.tx.execute(
            "INSERT INTO stratus_kv (tbl, key, value) VALUES ($1, $2, $3)
             ON CONFLICT (tbl, key) DO UPDATE SET value = EXCLUDED.value",
            &[&table, &key, &value],
        );
        r.map_err(|e| self.err(e))?;
        self.written.insert(table.to_owned());
        Ok(())
    }

    /// Whether `key` existed.
    pub fn delete(&mut self, table: &str, key: &str) -> Result<bool, PgError> {
        let r = self.tx.execute(
            "DELETE FROM stratus_kv WHERE tbl = $1 AND key = $2",
            &[&table, &key],
        );
        let n = r.map_err(|e| self.err(e))?;
        if n > 0 {
            self.written.insert(table.to_owned());
        }
        Ok(n > 0)
    }

    /// Every record of `table` in key order, as this transaction sees them.
    pub fn list(&mut self, table: &str) -> Result<Vec<(String, Vec<u8>)>, PgError> {
        let r = self.tx.query(
            "SELECT key, value FROM stratus_kv WHERE tbl = $1 ORDER BY key",
            &[&table],
        );
        Ok(r.map_err(|e| self.err(e))?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    /// Refuses with [`PgError::Fenced`] unless lease `(kind, id)` is held by
    /// `owner` at `epoch` and unexpired. The lease row stays share-locked
    /// until this transaction ends, so it cannot change hands before commit.
    pub fn fence(&mut self, kind: &str, id: i32, owner: &str, epoch: i64) -> Result<(), PgError> {
        let r = crate::lease::check_fence(&mut self.tx, kind, id, owner, epoch);
        if let Err(e) = &r {
            self.broken |= e.breaks_connection();
        }
        r
    }
}
