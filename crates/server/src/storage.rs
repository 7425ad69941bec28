//! The server's view of metric storage: converts validated `model` datums into
//! `tsdb` samples and back. The only place that knows both vocabularies.

use crate::ServerError;
use std::path::Path;
use stratus_model::metric::{Dimension, MetricId};
use stratus_model::ops::put_metric_data::{Datum, DatumValue};
use stratus_model::unit::Unit;
use stratus_model::{ApiError, Timestamp};
use stratus_tsdb as tsdb;

pub struct MetricStore {
    db: tsdb::Db,
}

pub fn series_key(m: &MetricId) -> tsdb::SeriesKey {
    tsdb::SeriesKey {
        namespace: m.namespace.clone(),
        name: m.metric_name.clone(),
        dimensions: m
            .dimensions
            .iter()
            .map(|d| (d.name.clone(), d.value.clone()))
            .collect(),
    }
}

pub fn metric_id(k: tsdb::SeriesKey) -> MetricId {
    MetricId {
        namespace: k.namespace,
        metric_name: k.name,
        dimensions: k
            .dimensions
            .into_iter()
            .map(|(name, value)| Dimension { name, value })
            .collect(),
    }
}

fn storage_error(e: tsdb::Error) -> ApiError {
    tracing::error!(error = %e, "storage failure");
    ApiError::internal(format!("Storage failure: {e}"))
}

impl std::fmt::Debug for MetricStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricStore").finish_non_exhaustive()
    }
}

impl MetricStore {
    pub fn open(dir: &Path, fsync: bool) -> Result<Self, ServerError> {
        let opts = tsdb::Options {
            fsync,
            ..tsdb::Options::default()
        };
        let db = tsdb::Db::open(dir, opts).map_err(|e| ServerError::Storage(e.to_string()))?;
        Ok(MetricStore { db })
    }

    /// Appends datums durably: returns only after the WAL is fsync'd. With a
    /// `batch_id` already stored, stores nothing and says `Duplicate`.
    pub fn put(
        &self,
        datums: Vec<Datum>,
        batch_id: Option<tsdb::BatchId>,
    ) -> Result<tsdb::Written, ApiError> {
        let entries = datums
            .into_iter()
            .map(|d| {
                let value = match d.value {
                    DatumValue::Single(v) => tsdb::SampleValue::Single(v),
                    DatumValue::Distribution(v) => tsdb::SampleValue::Distribution(v),
                    DatumValue::StatSet {
                        count,
                        sum,
                        min,
                        max,
                    } => tsdb::SampleValue::StatSet {
                        count,
                        sum,
                        min,
                        max,
                    },
                };
                let sample = tsdb::Sample {
                    timestamp_ms: d.timestamp.millis(),
                    unit: d.unit.code(),
                    high_resolution: d.high_resolution,
                    value,
                };
                (series_key(&d.metric), sample)
            })
            .collect();
        self.db
            .write(&tsdb::WriteBatch { entries, batch_id })
            .map_err(storage_error)
    }

    pub fn list(
        &self,
        filter: &tsdb::SeriesFilter,
        after: Option<&tsdb::SeriesKey>,
        limit: usize,
    ) -> Vec<tsdb::SeriesKey> {
        self.db.list_series(filter, after, limit)
    }

    /// Per-period aggregates of one metric, separated by unit.
    pub fn aggregates(
        &self,
        metric: &MetricId,
        start: Timestamp,
        end: Timestamp,
        period_seconds: i64,
        unit: Option<Unit>,
    ) -> Result<Vec<PeriodAgg>, ApiError> {
        let key = series_key(metric);
        let q = tsdb::RangeQuery {
            series: &key,
            start_ms: start.millis(),
            end_ms: end.millis(),
            period_ms: period_seconds * 1000,
            unit: unit.map(|u| u.code()),
        };
        Ok(self
            .db
            .query(&q)
            .map_err(storage_error)?
            .into_iter()
            .map(PeriodAgg)
            .collect())
    }

    pub fn stats(&self) -> tsdb::Stats {
        self.db.stats()
    }

    pub fn shutdown(&self) -> Result<(), ServerError> {
        self.db
            .seal()
            .map_err(|e| ServerError::Storage(e.to_string()))
    }
}

/// A tsdb aggregate seen through the model's statistics interface.
#[derive(Debug)]
pub struct PeriodAgg(pub tsdb::Aggregate);

impl stratus_model::ops::get_metric_statistics::PeriodAggregate for PeriodAgg {
    fn start(&self) -> Timestamp {
        Timestamp::from_millis(self.0.start_ms)
    }
    fn unit(&self) -> Unit {
        Unit::from_code(self.0.unit).unwrap_or(Unit::None)
    }
    fn sample_count(&self) -> f64 {
        self.0.count
    }
    fn sum(&self) -> f64 {
        self.0.sum
    }
    fn minimum(&self) -> f64 {
        self.0.min
    }
    fn maximum(&self) -> f64 {
        self.0.max
    }
    fn percentile(&self, p: f64) -> Option<f64> {
        self.0.percentile(p)
    }
}

/// Merges aggregates of the same period that differ only by unit (they come
/// sorted by period start, then unit).
pub fn merge_units(aggs: Vec<PeriodAgg>) -> Vec<PeriodAgg> {
    let mut out: Vec<PeriodAgg> = Vec::with_capacity(aggs.len());
    for a in aggs {
        match out.last_mut() {
            Some(last) if last.0.start_ms == a.0.start_ms => last.0.merge(&a.0),
            _ => out.push(a),
        }
    }
    out
}
