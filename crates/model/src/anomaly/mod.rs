//! Anomaly detectors: PutAnomalyDetector / DescribeAnomalyDetectors /
//! DeleteAnomalyDetector inputs, validation, the stored record and outputs;
//! [`band`] is the model `ANOMALY_DETECTION_BAND` evaluates.
//!
//! A detector identifies a metric and statistic and carries training
//! configuration (excluded time ranges, time zone). It holds no trained
//! state: the band is computed from the metric's history at query time, so
//! a detector only changes what training leaves out and which local day the
//! daily cycle follows. Only single-metric detectors are served; metric-math
//! detectors are refused.

pub mod band;

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::metric::{Dimension, MetricId, validate_metric_name, validate_namespace};
use crate::param::{Param, invalid, missing};
use crate::statistic::Stat;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// `DescribeAnomalyDetectors` `MaxResults`: 1..=100.
pub const MAX_DESCRIBE_RESULTS: i64 = 100;
/// `AnomalyDetectorTypes` values.
pub const TYPE_SINGLE_METRIC: &str = "SINGLE_METRIC";
pub const TYPE_METRIC_MATH: &str = "METRIC_MATH";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RangeInput {
    pub start_time: Option<Timestamp>,
    pub end_time: Option<Timestamp>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ConfigurationInput {
    pub excluded_time_ranges: Vec<RangeInput>,
    pub metric_timezone: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SingleMetricInput {
    pub account_id: Option<String>,
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    pub dimensions: Vec<Dimension>,
    pub stat: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct MetricCharacteristics {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub periodic_spikes: Option<bool>,
}

/// Put and Delete take the same identification (legacy top-level members,
/// or `SingleMetricAnomalyDetector`, or `MetricMathAnomalyDetector`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DetectorInput {
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    pub dimensions: Option<Vec<Dimension>>,
    pub stat: Option<String>,
    pub configuration: Option<ConfigurationInput>,
    pub metric_characteristics: Option<MetricCharacteristics>,
    pub single_metric_anomaly_detector: Option<SingleMetricInput>,
    pub metric_math_anomaly_detector: Option<serde_json::Value>,
    /// DeleteAnomalyDetector only (unused by AWS's own SDK flows).
    pub anomaly_detector_id: Option<String>,
}

/// What a detector is for: a metric and a statistic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectorTarget {
    pub metric: MetricId,
    pub stat: String,
}

impl DetectorTarget {
    /// The storage key: one detector per metric and statistic (the
    /// statistic in its canonical spelling, so `p90` and `p90.0` are one).
    pub fn key(&self) -> String {
        let stat = Stat::parse_param(&self.stat, Param::root("Stat"))
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|_| self.stat.clone());
        let dims: Vec<[&str; 2]> = self
            .metric
            .dimensions
            .iter()
            .map(|d| [d.name.as_str(), d.value.as_str()])
            .collect();
        serde_json::json!([self.metric.namespace, self.metric.metric_name, dims, stat]).to_string()
    }
}

/// A validated PutAnomalyDetector.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidPut {
    pub target: DetectorTarget,
    pub record: DetectorRecord,
}

/// The stored detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectorRecord {
    pub namespace: String,
    pub metric_name: String,
    /// Canonical (sorted by name).
    pub dimensions: Vec<Dimension>,
    pub stat: String,
    /// `[start, end)` epoch ms.
    pub excluded_ms: Vec<(i64, i64)>,
    pub metric_timezone: Option<String>,
    pub periodic_spikes: Option<bool>,
}

impl DetectorRecord {
    pub fn target(&self) -> DetectorTarget {
        DetectorTarget {
            metric: MetricId {
                namespace: self.namespace.clone(),
                metric_name: self.metric_name.clone(),
                dimensions: self.dimensions.clone(),
            },
            stat: self.stat.clone(),
        }
    }

    /// The training configuration `ANOMALY_DETECTION_BAND` uses. A time zone
    /// that no longer resolves (tz database change) trains in UTC.
    pub fn training_config(&self) -> band::TrainingConfig {
        band::TrainingConfig {
            excluded: self.excluded_ms.clone(),
            timezone: self
                .metric_timezone
                .as_deref()
                .and_then(|n| jiff::tz::TimeZone::get(n).ok()),
        }
    }

    pub fn to_output(&self, account_id: &str) -> AnomalyDetectorOutput {
        AnomalyDetectorOutput {
            namespace: self.namespace.clone(),
            metric_name: self.metric_name.clone(),
            dimensions: self.dimensions.clone(),
            stat: self.stat.clone(),
            configuration: ConfigurationOutput {
                excluded_time_ranges: self
                    .excluded_ms
                    .iter()
                    .map(|&(s, e)| RangeOutput {
                        start_time: Timestamp(s),
                        end_time: Timestamp(e),
                    })
                    .collect(),
                metric_timezone: self.metric_timezone.clone(),
            },
            // The model is trained at query time, never ahead: AWS's state
            // for a detector not yet trained.
            state_value: "PENDING_TRAINING".to_string(),
            metric_characteristics: self.periodic_spikes.map(|p| MetricCharacteristics {
                periodic_spikes: Some(p),
            }),
            single_metric_anomaly_detector: SingleMetricOutput {
                account_id: account_id.to_string(),
                namespace: self.namespace.clone(),
                metric_name: self.metric_name.clone(),
                dimensions: self.dimensions.clone(),
                stat: self.stat.clone(),
            },
        }
    }
}

fn metric_math_unsupported() -> ApiError {
    invalid(
        "MetricMathAnomalyDetector is not supported by this server: create the detector for a single metric (SingleMetricAnomalyDetector)."
            .to_string(),
    )
}

impl DetectorInput {
    /// The metric and statistic named, from either the legacy members or
    /// `SingleMetricAnomalyDetector` (not both).
    pub fn target(&mut self) -> ApiResult<DetectorTarget> {
        let legacy_set = self.namespace.is_some()
            || self.metric_name.is_some()
            || self.stat.is_some()
            || self.dimensions.as_ref().is_some_and(|d| !d.is_empty());
        if self.metric_math_anomaly_detector.is_some() {
            if legacy_set || self.single_metric_anomaly_detector.is_some() {
                return Err(ApiError::combination(
                    "The parameters MetricMathAnomalyDetector and SingleMetricAnomalyDetector (or Namespace, MetricName, Dimensions and Stat) are mutually exclusive.",
                ));
            }
            return Err(metric_math_unsupported());
        }
        let (namespace, metric_name, dimensions, stat, base) = match self
            .single_metric_anomaly_detector
            .take()
        {
            Some(s) => {
                if legacy_set {
                    return Err(ApiError::combination(
                        "The parameters SingleMetricAnomalyDetector and Namespace, MetricName, Dimensions or Stat are mutually exclusive.",
                    ));
                }
                (
                    s.namespace,
                    s.metric_name,
                    s.dimensions,
                    s.stat,
                    Some(Param::root("SingleMetricAnomalyDetector")),
                )
            }
            None => (
                self.namespace.take(),
                self.metric_name.take(),
                self.dimensions.take().unwrap_or_default(),
                self.stat.take(),
                None,
            ),
        };
        let at = |name: &'static str| base.map_or(Param::root(name), |b| b.field(name));
        let namespace = validate_namespace(namespace, at("Namespace"))?;
        let metric_name = validate_metric_name(metric_name, at("MetricName"))?;
        let metric = MetricId::new(namespace, metric_name, dimensions, at("Dimensions"))?;
        let stat = crate::param::required_str(stat, at("Stat"))?;
        // The band is computed from this statistic's values.
        Stat::parse_param(&stat, at("Stat"))?;
        Ok(DetectorTarget { metric, stat })
    }

    pub fn validate_put(mut self) -> ApiResult<ValidPut> {
        let target = self.target()?;
        let config = self.configuration.take().unwrap_or_default();
        let cp = Param::root("Configuration");
        let mut excluded_ms = Vec::with_capacity(config.excluded_time_ranges.len());
        for (i, r) in config.excluded_time_ranges.into_iter().enumerate() {
            let rp = cp.field("ExcludedTimeRanges").member(i);
            let s = r.start_time.ok_or_else(|| missing(rp.field("StartTime")))?;
            let e = r.end_time.ok_or_else(|| missing(rp.field("EndTime")))?;
            if e.millis() <= s.millis() {
                return Err(invalid(format!(
                    "The value of {} must be later than {}.",
                    rp.field("EndTime"),
                    rp.field("StartTime")
                )));
            }
            excluded_ms.push((s.millis(), e.millis()));
        }
        let metric_timezone = match config.metric_timezone.filter(|z| !z.is_empty()) {
            None => None,
            Some(z) => {
                if jiff::tz::TimeZone::get(&z).is_err() {
                    return Err(invalid(format!(
                        "The value {} for parameter {} is not a valid IANA time zone.",
                        crate::param::echo(&z),
                        cp.field("MetricTimezone")
                    )));
                }
                Some(z)
            }
        };
        let record = DetectorRecord {
            namespace: target.metric.namespace.clone(),
            metric_name: target.metric.metric_name.clone(),
            dimensions: target.metric.dimensions.clone(),
            stat: target.stat.clone(),
            excluded_ms,
            metric_timezone,
            periodic_spikes: self.metric_characteristics.and_then(|m| m.periodic_spikes),
        };
        Ok(ValidPut { target, record })
    }
}

/// DeleteAnomalyDetector for a detector that does not exist.
pub fn not_found() -> ApiError {
    ApiError::new(
        ErrorCode::ResourceNotFoundException,
        "The anomaly detection model you are trying to delete does not exist.",
    )
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeInput {
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    pub dimensions: Vec<Dimension>,
    pub anomaly_detector_types: Vec<String>,
}

/// A validated DescribeAnomalyDetectors: filters and paging.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidDescribe {
    pub after: Option<String>,
    pub max_results: usize,
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    pub dimensions: Vec<Dimension>,
    /// False when the types asked for leave single-metric detectors out.
    pub single_metric: bool,
}

impl DescribeInput {
    pub fn validate(self) -> ApiResult<ValidDescribe> {
        let mp = Param::root("MaxResults");
        let max = self.max_results.unwrap_or(MAX_DESCRIBE_RESULTS);
        if !(1..=MAX_DESCRIBE_RESULTS).contains(&max) {
            return Err(invalid(format!(
                "The value {max} for parameter {mp} is invalid: it must be between 1 and {MAX_DESCRIBE_RESULTS}."
            )));
        }
        let tp = Param::root("AnomalyDetectorTypes");
        for (i, t) in self.anomaly_detector_types.iter().enumerate() {
            if t != TYPE_SINGLE_METRIC && t != TYPE_METRIC_MATH {
                return Err(crate::param::not_in_enum(
                    t,
                    tp.member(i),
                    &[TYPE_SINGLE_METRIC, TYPE_METRIC_MATH],
                ));
            }
        }
        let single_metric = self.anomaly_detector_types.is_empty()
            || self
                .anomaly_detector_types
                .iter()
                .any(|t| t == TYPE_SINGLE_METRIC);
        let after = self
            .next_token
            .filter(|t| !t.is_empty())
            .map(|t| crate::alarm::ops::decode_token(&t))
            .transpose()?;
        Ok(ValidDescribe {
            after,
            max_results: max as usize,
            namespace: self.namespace.filter(|s| !s.is_empty()),
            metric_name: self.metric_name.filter(|s| !s.is_empty()),
            dimensions: self.dimensions,
            single_metric,
        })
    }
}

impl ValidDescribe {
    /// Whether a stored detector passes the filters (every dimension given
    /// must be among the detector's).
    pub fn matches(&self, d: &DetectorRecord) -> bool {
        self.single_metric
            && self.namespace.as_ref().is_none_or(|n| *n == d.namespace)
            && self
                .metric_name
                .as_ref()
                .is_none_or(|n| *n == d.metric_name)
            && self.dimensions.iter().all(|f| d.dimensions.contains(f))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RangeOutput {
    pub start_time: Timestamp,
    pub end_time: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigurationOutput {
    pub excluded_time_ranges: Vec<RangeOutput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_timezone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SingleMetricOutput {
    pub account_id: String,
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: Vec<Dimension>,
    pub stat: String,
}

/// One `AnomalyDetector` as AWS describes it (recorded): the deprecated
/// top-level members alongside `SingleMetricAnomalyDetector`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AnomalyDetectorOutput {
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: Vec<Dimension>,
    pub stat: String,
    pub configuration: ConfigurationOutput,
    pub state_value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_characteristics: Option<MetricCharacteristics>,
    pub single_metric_anomaly_detector: SingleMetricOutput,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeOutput {
    pub anomaly_detectors: Vec<AnomalyDetectorOutput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}
