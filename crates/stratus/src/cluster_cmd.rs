//! `stratus cluster status`: a cluster node's view of nodes, roles, leases,
//! log positions and commits, through the admin API of any node.

use crate::client;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

#[derive(Args)]
pub struct ClusterArgs {
    #[command(subcommand)]
    command: ClusterCommand,
    #[command(flatten)]
    conn: client::AdminConn,
    /// Print the status as JSON.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// Nodes, roles, leases, log lag and the last committed block per partition.
    Status,
    /// Move a stopped single-node server's data directory into a cluster: its metadata
    /// (keys, alarms and their history, dashboards, topics, subscriptions, tags, outbox)
    /// into PostgreSQL, its metrics through the ingest log. Every node must then hold the
    /// data directory's master.key (it seals the imported access keys).
    Import {
        /// The single-node data directory (its server stopped).
        #[arg(long)]
        data_dir: std::path::PathBuf,
        /// A node's config file: its [cluster] table names the services.
        #[arg(long)]
        config: std::path::PathBuf,
    },
}

pub fn run(args: ClusterArgs) -> anyhow::Result<()> {
    match args.command {
        ClusterCommand::Import { data_dir, config } => import(&data_dir, &config)?,
        ClusterCommand::Status => {
            let v = args.conn.call("ClusterStatus", &json!({}))?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print!("{}", render(&v));
            }
        }
    }
    Ok(())
}

fn import(data_dir: &std::path::Path, config: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context;
    let file = stratus_server::config_file::load(config)?;
    let cluster = file
        .cluster
        .as_ref()
        .with_context(|| format!("{} has no [cluster] table", config.display()))?
        .to_config();
    let source_key = std::fs::read(data_dir.join("master.key"))
        .with_context(|| format!("reading {}/master.key", data_dir.display()))?;
    if let Some(node_dir) = &file.server.data_dir {
        match std::fs::read(node_dir.join("master.key")) {
            Ok(k) if k != source_key => anyhow::bail!(
                "{}/master.key differs from {}/master.key: the imported access keys would not \
                 open on that node. Copy {}/master.key to every node's data directory first",
                node_dir.display(),
                data_dir.display(),
                data_dir.display()
            ),
            _ => {}
        }
    }
    let report = stratus_server::cluster_import::import(data_dir, &cluster, |line| {
        eprintln!("{line}");
    })?;
    println!(
        "imported {} metadata records ({} tables) and {} series ({} statistic sets)",
        report.records, report.tables, report.series, report.statistic_sets
    );
    println!(
        "every node needs {}/master.key in its data directory",
        data_dir.display()
    );
    Ok(())
}

fn opt(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn render(v: &Value) -> String {
    let mut out = format!("asked node {}\n\nNODES\n", opt(&v["node"]));
    out += &format!(
        "{:<12} {:<6} {:<28} {:>10}  ROLES\n",
        "ID", "LIVE", "URL", "HEARTBEAT"
    );
    for n in v["nodes"].as_array().into_iter().flatten() {
        let roles: Vec<&str> = n["roles"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        out += &format!(
            "{:<12} {:<6} {:<28} {:>8}ms  {}\n",
            opt(&n["id"]),
            if n["live"].as_bool() == Some(true) {
                "yes"
            } else {
                "NO"
            },
            opt(&n["url"]),
            opt(&n["heartbeat_age_ms"]),
            roles.join(",")
        );
    }
    out += "\nPARTITIONS\n";
    out += &format!(
        "{:<4} {:<12} {:<20} {:>6} {:>12} {:>10} {:>12} {:>12} {:>8}  ERROR\n",
        "P", "OWNER", "KEPT BY", "EPOCH", "COMMITTED", "AGE", "LOG FIRST", "LOG LAST", "LAG"
    );
    for p in v["partitions"].as_array().into_iter().flatten() {
        out += &format!(
            "{:<4} {:<12} {:<20} {:>6} {:>12} {:>10} {:>12} {:>12} {:>8}  {}\n",
            opt(&p["partition"]),
            opt(&p["owner"]),
            p["holders"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
            opt(&p["epoch"]),
            opt(&p["committed_seq"]),
            p["committed_age_ms"]
                .as_i64()
                .map_or("-".into(), |ms| format!("{}s", ms / 1000)),
            opt(&p["log_first_seq"]),
            opt(&p["log_last_seq"]),
            opt(&p["lag"]),
            p["error"].as_str().unwrap_or("")
        );
    }
    let shards: Vec<&Value> = v["leases"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["kind"] == "alarm-shard" && l["expires_in_ms"].as_i64().unwrap_or(0) > 0)
        .collect();
    let mut by_owner: std::collections::BTreeMap<String, usize> = Default::default();
    for l in &shards {
        *by_owner.entry(opt(&l["owner"])).or_default() += 1;
    }
    out += "\nALARM SHARDS\n";
    for (owner, n) in by_owner {
        out += &format!("{owner:<12} {n} shards\n");
    }
    out
}
