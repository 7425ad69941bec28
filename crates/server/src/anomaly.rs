//! CloudWatch anomaly detectors: stored whole in the metadata table
//! `anomaly_detectors`, keyed by metric and statistic
//! (`stratus_model::anomaly::DetectorTarget::key`), like dashboards. A
//! detector holds configuration only; `ANOMALY_DETECTION_BAND` trains on the
//! metric's history at query time (`stratus_model::anomaly::band`) and reads
//! the detector for its excluded ranges and time zone.

use crate::alarms::store::meta_error;
use crate::meta::Table;
use crate::state::AppState;
use stratus_model::ApiResult;
use stratus_model::alarm::ops::encode_token;
use stratus_model::anomaly::{
    self as ad, DescribeInput, DescribeOutput, DetectorInput, DetectorRecord, DetectorTarget,
    band::TrainingConfig,
};
use stratus_proto::{self as proto, Document};

pub const ANOMALY_DETECTORS: Table = Table::new("anomaly_detectors");

/// Creates or replaces the detector of a metric and statistic.
pub fn put_anomaly_detector(state: &AppState, input: DetectorInput) -> ApiResult<Document> {
    let v = input.validate_put()?;
    state
        .meta
        .transact(|tx| tx.put(ANOMALY_DETECTORS, &v.target.key(), &v.record))
        .map_err(meta_error)?;
    Ok(Document::Struct(Vec::new()))
}

pub fn delete_anomaly_detector(state: &AppState, mut input: DetectorInput) -> ApiResult<Document> {
    let key = input.target()?.key();
    state
        .meta
        .transact(|tx| {
            if tx.get::<DetectorRecord>(ANOMALY_DETECTORS, &key)?.is_none() {
                return Ok(Err(ad::not_found()));
            }
            tx.delete(ANOMALY_DETECTORS, &key)?;
            Ok(Ok(()))
        })
        .map_err(meta_error)??;
    Ok(Document::Struct(Vec::new()))
}

/// In key order; the token is the last key returned.
pub fn describe_anomaly_detectors(state: &AppState, input: DescribeInput) -> ApiResult<Document> {
    let v = input.validate()?;
    let mut rows: Vec<(String, DetectorRecord)> = state
        .meta
        .list::<DetectorRecord>(ANOMALY_DETECTORS)
        .map_err(meta_error)?
        .into_iter()
        .filter(|(k, d)| v.after.as_ref().is_none_or(|a| k > a) && v.matches(d))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let next_token = if rows.len() > v.max_results {
        rows.truncate(v.max_results);
        rows.last().map(|(k, _)| encode_token(k))
    } else {
        None
    };
    Ok(proto::to_document(&DescribeOutput {
        anomaly_detectors: rows
            .iter()
            .map(|(_, d)| d.to_output(crate::ACCOUNT_ID))
            .collect(),
        next_token,
    }))
}

/// The training configuration for a metric and statistic: its detector's,
/// or the default when it has none.
pub fn training_config(state: &AppState, target: &DetectorTarget) -> ApiResult<TrainingConfig> {
    Ok(state
        .meta
        .get::<DetectorRecord>(ANOMALY_DETECTORS, &target.key())
        .map_err(meta_error)?
        .map(|d| d.training_config())
        .unwrap_or_default())
}
