//! Cluster settings fixed at creation, and node heartbeats.

use crate::{Pg, PgError, epoch_ms};

/// A node as its last heartbeat described it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRow {
    pub id: String,
    pub url: String,
    pub roles: Vec<String>,
    pub stats: serde_json::Value,
    /// Its first heartbeat (by the database clock).
    pub started_at_ms: i64,
    /// Milliseconds since its last heartbeat (by the database clock).
    pub heartbeat_age_ms: i64,
}

impl Pg {
    /// Stores `value` for `name` unless a value is already stored (first
    /// writer wins); returns the stored value either way.
    pub fn setting_init(&self, name: &str, value: &str) -> Result<String, PgError> {
        self.pool.call(|c| {
            // The no-op update makes RETURNING yield the existing row too.
            Ok(c.query_one(
                "INSERT INTO stratus_setting AS s (name, value) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET value = s.value
                 RETURNING value",
                &[&name, &value],
            )?
            .get(0))
        })
    }

    /// Records that node `id` is alive, with where it answers and what it does.
    pub fn node_heartbeat(
        &self,
        id: &str,
        url: &str,
        roles: &[String],
        stats: &serde_json::Value,
    ) -> Result<(), PgError> {
        let stats = stats.to_string();
        let roles = roles.to_vec();
        self.pool.call(|c| {
            c.execute(
                "INSERT INTO stratus_node (id, url, roles, stats, started_at, heartbeat_at)
                 VALUES ($1, $2, $3, $4::text::jsonb, now(), now())
                 ON CONFLICT (id) DO UPDATE SET url = EXCLUDED.url, roles = EXCLUDED.roles,
                     stats = EXCLUDED.stats, heartbeat_at = now()",
                &[&id, &url, &roles, &stats],
            )?;
            Ok(())
        })
    }

    /// Every node that ever sent a heartbeat, by id.
    pub fn nodes(&self) -> Result<Vec<NodeRow>, PgError> {
        let rows = self.pool.call(|c| {
            Ok(c.query(
                concat!(
                    "SELECT id, url, roles, stats::text, ",
                    epoch_ms!("started_at"),
                    ", (extract(epoch FROM now() - heartbeat_at) * 1000)::bigint
                     FROM stratus_node ORDER BY id"
                ),
                &[],
            )?)
        })?;
        rows.into_iter()
            .map(|r| {
                let stats: String = r.get(3);
                Ok(NodeRow {
                    id: r.get(0),
                    url: r.get(1),
                    roles: r.get(2),
                    stats: serde_json::from_str(&stats)
                        .map_err(|e| PgError::Db(format!("node stats: {e}")))?,
                    started_at_ms: r.get(4),
                    heartbeat_age_ms: r.get(5),
                })
            })
            .collect()
    }
}
