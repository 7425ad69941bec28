//! The schema, created idempotently at connect. Three nodes starting
//! together serialise on an advisory lock, since concurrent
//! `CREATE TABLE IF NOT EXISTS` can still collide in the catalog.

use crate::PgError;

/// Advisory lock keys (arbitrary constants, "stratus" in ASCII-ish digits).
pub(crate) const MIGRATE_LOCK: i64 = 0x5354_5241_0001;
/// Taken first by every `transact`: one writer at a time, as with redb.
pub(crate) const WRITE_LOCK: i64 = 0x5354_5241_0002;

const VERSION: i32 = 1;

const SCHEMA_V1: &str = r#"
CREATE TABLE IF NOT EXISTS stratus_schema (version int NOT NULL);
CREATE TABLE IF NOT EXISTS stratus_kv (
    tbl text NOT NULL,
    key text COLLATE "C" NOT NULL,
    value bytea NOT NULL,
    PRIMARY KEY (tbl, key));
CREATE TABLE IF NOT EXISTS stratus_kv_version (
    tbl text PRIMARY KEY,
    version bigint NOT NULL);
CREATE TABLE IF NOT EXISTS stratus_lease (
    kind text NOT NULL,
    id int NOT NULL,
    owner text NOT NULL,
    epoch bigint NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (kind, id));
CREATE TABLE IF NOT EXISTS stratus_checkpoint (
    partition int PRIMARY KEY,
    seq bigint NOT NULL,
    epoch bigint NOT NULL,
    manifest jsonb NOT NULL,
    committed_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS stratus_setting (
    name text PRIMARY KEY,
    value text NOT NULL);
CREATE TABLE IF NOT EXISTS stratus_node (
    id text PRIMARY KEY,
    url text NOT NULL,
    roles text[] NOT NULL,
    stats jsonb NOT NULL,
    started_at timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS stratus_claim (
    scope text NOT NULL,
    key text NOT NULL,
    owner text NOT NULL,
    until timestamptz NOT NULL,
    PRIMARY KEY (scope, key));
"#;

/// Creates or upgrades the schema in one transaction under [`MIGRATE_LOCK`].
pub(crate) fn migrate(client: &mut postgres::Client) -> Result<(), PgError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])?;
    tx.batch_execute(SCHEMA_V1)?;
    let current: Option<i32> = tx
        .query_opt("SELECT max(version) FROM stratus_schema", &[])?
        .and_then(|r| r.get(0));
    match current {
        None => {
            tx.execute(
                "INSERT INTO stratus_schema (version) VALUES ($1)",
                &[&VERSION],
            )?;
        }
        Some(v) if v > VERSION => {
            return Err(PgError::Db(format!(
                "the database has schema version {v}, newer than this build's {VERSION}: \
                 upgrade this node"
            )));
        }
        Some(_) => {}
    }
    tx.commit()?;
    Ok(())
}
