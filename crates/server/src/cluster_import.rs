//! `stratus cluster import --data-dir DIR`: moves a (stopped) single-node
//! data directory into a cluster.
//!
//! Metadata: every record of every `meta.redb` table is written to the
//! cluster's PostgreSQL store under the same table and key (records already
//! there with those keys are replaced; nothing else is touched), in one
//! transaction. Metrics: every series of the local tsdb is read back per
//! second at the finest resolution it still has and published through the
//! ingest log as statistic sets (SampleCount, Sum, Minimum and Maximum are
//! exact; percentiles over imported data come from those sets, not from the
//! original samples). Each series' chunks carry batch ids derived from the
//! series and the chunk, so running the import again within a day stores
//! nothing twice.

use crate::ServerError;
use crate::meta::{MetaStore, Table};
use sha2::Digest;
use std::path::Path;
use stratus_tsdb as tsdb;

/// What an import moved.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub tables: usize,
    pub records: usize,
    pub series: usize,
    pub statistic_sets: usize,
}

const CHUNK: usize = 1_000;

fn err(e: impl std::fmt::Display) -> ServerError {
    ServerError::Cluster(e.to_string())
}

/// Imports `data_dir` into the cluster `config` names. The access-key
/// secrets stay sealed with `data_dir`'s `master.key`: every node must hold
/// that same file (the caller checks).
pub fn import(
    data_dir: &Path,
    config: &stratus_cluster::ClusterConfig,
    mut progress: impl FnMut(&str),
) -> Result<ImportReport, ServerError> {
    let mut report = ImportReport::default();
    let source = MetaStore::open(&data_dir.join("meta.redb"))?;
    let pg = stratus_cluster::Pg::connect(&config.postgres_url, std::time::Duration::from_secs(30))
        .map_err(err)?;
    let target = MetaStore::postgres(pg);
    let names = source.table_names()?;
    let mut tables = Vec::new();
    for name in names {
        // Table names live as long as the process: a one-shot command.
        let table = Table::new(Box::leak(name.into_boxed_str()));
        let mut records: Vec<(String, serde_json::Value)> = source.list(table)?;
        if table.name() == crate::bootstrap::SETTINGS.name() {
            // The cluster keeps its own bootstrap key: taking the single node's
            // would make the next node start delete the cluster's (or this) one.
            records.retain(|(k, _)| k != crate::bootstrap::BOOTSTRAP_KEY);
        }
        tables.push((table, records));
    }
    target.transact(|tx| {
        for (table, records) in &tables {
            for (key, value) in records {
                tx.put(*table, key, value)?;
            }
        }
        Ok(())
    })?;
    report.tables = tables.len();
    report.records = tables.iter().map(|(_, r)| r.len()).sum();
    progress(&format!(
        "metadata: {} records from {} tables",
        report.records, report.tables
    ));
    drop(source);

    let opts = tsdb::Options {
        fsync: false,
        hide_inactive_after: None,
        compact_on_seal: false,
        seal_on_write: false,
        ..tsdb::Options::default()
    };
    let db = tsdb::Db::open(&data_dir.join("tsdb"), opts).map_err(err)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(err)?;
    let log = rt
        .block_on(stratus_cluster::connect_log(config))
        .map_err(err)?;
    let now = jiff::Timestamp::now().as_millisecond();
    let mut after: Option<tsdb::SeriesKey> = None;
    loop {
        let keys = db.list_series(&tsdb::SeriesFilter::default(), after.as_ref(), 500);
        let Some(last) = keys.last().cloned() else {
            break;
        };
        for key in keys {
            let aggs = db
                .query(&tsdb::RangeQuery {
                    series: &key,
                    start_ms: 0,
                    end_ms: now + 86_400_000,
                    period_ms: 1_000,
                    unit: None,
                })
                .map_err(err)?;
            report.series += 1;
            for (i, chunk) in aggs.chunks(CHUNK).enumerate() {
                let entries: Vec<(tsdb::SeriesKey, tsdb::Sample)> = chunk
                    .iter()
                    .map(|a| {
                        (
                            key.clone(),
                            tsdb::Sample {
                                timestamp_ms: a.start_ms,
                                unit: a.unit,
                                high_resolution: false,
                                value: tsdb::SampleValue::StatSet {
                                    count: a.count,
                                    sum: a.sum,
                                    min: a.min,
                                    max: a.max,
                                },
                            },
                        )
                    })
                    .collect();
                report.statistic_sets += entries.len();
                let id = chunk_batch_id(&key, i);
                rt.block_on(stratus_cluster::publish_write(
                    &log,
                    config.partitions,
                    entries,
                    id,
                ))
                .map_err(err)?;
            }
        }
        progress(&format!(
            "metrics: {} series, {} statistic sets so far",
            report.series, report.statistic_sets
        ));
        after = Some(last);
    }
    db.close().map_err(err)?;
    Ok(report)
}

/// The batch id of chunk `i` of `key`'s import: stable across runs.
fn chunk_batch_id(key: &tsdb::SeriesKey, i: usize) -> tsdb::BatchId {
    let mut h = sha2::Sha256::new();
    h.update(b"stratus cluster import\0");
    for f in [&key.namespace, &key.name] {
        h.update((f.len() as u64).to_le_bytes());
        h.update(f.as_bytes());
    }
    for (n, v) in &key.dimensions {
        for f in [n, v] {
            h.update((f.len() as u64).to_le_bytes());
            h.update(f.as_bytes());
        }
    }
    h.update((i as u64).to_le_bytes());
    let digest = h.finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    tsdb::BatchId(id)
}
