//! Embedded Metric Format (AWS "Specification: Embedded metric format"):
//! a JSON log event whose `_aws` member tells CloudWatch which of its
//! top-level members are metric values and which are dimensions.
//!
//! What [`parse`] returns:
//! - `Ok(vec![])` for a line that is not EMF at all: not (after any prefix)
//!   one JSON object, or an object without an `_aws` member. Such lines are
//!   ordinary log events.
//! - `Err` for a line that has `_aws` but breaks the specification; the
//!   error says which rule.
//! - Otherwise one [`EmfDatum`] per metric per dimension set per directive.
//!
//! Text before the first `{` is skipped: "While Lambda may prepend log
//! events with metadata such as timestamp and request id, a valid embedded
//! metric format document after this metadata is considered valid."
//!
//! An empty `Dimensions` array publishes the metrics once, without
//! dimensions (as an empty dimension set would).

use serde_json::{Map, Value};

/// Specification limits.
const MAX_METRICS_PER_DIRECTIVE: usize = 100;
const MAX_DIMENSIONS_PER_SET: usize = 30;
const MAX_VALUES_PER_METRIC: usize = 100;
const MAX_NAME_CHARS: usize = 255;
const DEFAULT_STORAGE_RESOLUTION: u32 = 60;

#[derive(Clone, Debug, PartialEq)]
pub struct EmfDatum {
    pub namespace: String,
    pub name: String,
    pub unit: Option<String>,
    /// 1 (high resolution) or 60 (the default).
    pub storage_resolution: u32,
    /// In the dimension set's order.
    pub dimensions: Vec<(String, String)>,
    /// One value, or up to 100 from an array target.
    pub values: Vec<f64>,
    pub timestamp_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmfError {
    #[error("EMF: _aws must be an object")]
    MetadataNotObject,
    #[error(
        "EMF: _aws.Timestamp is required and must be a non-negative number of epoch milliseconds"
    )]
    InvalidTimestamp,
    #[error("EMF: _aws.CloudWatchMetrics is required and must be an array")]
    MissingDirectives,
    #[error("EMF: CloudWatchMetrics[{directive}] must be an object")]
    DirectiveNotObject { directive: usize },
    #[error(
        "EMF: CloudWatchMetrics[{directive}].Namespace must be a string of 1 to 255 characters"
    )]
    InvalidNamespace { directive: usize },
    #[error("EMF: CloudWatchMetrics[{directive}].Dimensions must be an array of arrays of strings")]
    InvalidDimensions { directive: usize },
    #[error(
        "EMF: CloudWatchMetrics[{directive}].Dimensions[{set}] has {count} dimension keys; the limit is {MAX_DIMENSIONS_PER_SET}"
    )]
    TooManyDimensions {
        directive: usize,
        set: usize,
        count: usize,
    },
    #[error("EMF: dimension '{key}' must be a top-level member with a string value")]
    InvalidDimensionValue { key: String },
    #[error("EMF: CloudWatchMetrics[{directive}].Metrics must be an array")]
    InvalidMetrics { directive: usize },
    #[error(
        "EMF: CloudWatchMetrics[{directive}].Metrics has {count} metrics; the limit is {MAX_METRICS_PER_DIRECTIVE}"
    )]
    TooManyMetrics { directive: usize, count: usize },
    #[error(
        "EMF: CloudWatchMetrics[{directive}].Metrics[{metric}].Name must be a string of 1 to 255 characters"
    )]
    InvalidMetricName { directive: usize, metric: usize },
    #[error("EMF: metric '{name}' has unit '{unit}', which is not a CloudWatch unit")]
    InvalidUnit { name: String, unit: String },
    #[error("EMF: metric '{name}' has StorageResolution {found}; it must be 1 or 60")]
    InvalidStorageResolution { name: String, found: String },
    #[error(
        "EMF: metric '{name}' must have a top-level member that is a number or an array of 1 to 100 numbers"
    )]
    InvalidMetricValue { name: String },
}

/// Parses one log event. See the module documentation for what counts as
/// "not EMF" (`Ok(vec![])`) and what is an error.
pub fn parse(line: &str) -> Result<Vec<EmfDatum>, EmfError> {
    // Cheap rejection: nearly every non-EMF line lacks the marker.
    if memchr::memmem::find(line.as_bytes(), b"\"_aws\"").is_none() {
        return Ok(Vec::new());
    }
    let Some(start) = line.find('{') else {
        return Ok(Vec::new());
    };
    // A line that is not one JSON object is an ordinary log event.
    let Ok(Value::Object(root)) = serde_json::from_str::<Value>(&line[start..]) else {
        return Ok(Vec::new());
    };
    let Some(meta) = root.get("_aws") else {
        return Ok(Vec::new());
    };
    let meta = meta.as_object().ok_or(EmfError::MetadataNotObject)?;
    let timestamp_ms = timestamp(meta.get("Timestamp")).ok_or(EmfError::InvalidTimestamp)?;
    let directives = meta
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or(EmfError::MissingDirectives)?;
    let mut out = Vec::new();
    for (d, directive) in directives.iter().enumerate() {
        let directive = directive
            .as_object()
            .ok_or(EmfError::DirectiveNotObject { directive: d })?;
        read_directive(&root, directive, d, timestamp_ms, &mut out)?;
    }
    Ok(out)
}

fn timestamp(v: Option<&Value>) -> Option<i64> {
    let n = v?.as_number()?;
    if let Some(i) = n.as_i64() {
        return (i >= 0).then_some(i);
    }
    // A float timestamp is accepted if it is a whole, in-range number.
    let f = n.as_f64()?;
    (f >= 0.0 && f.fract() == 0.0 && f < 9.0e15).then_some(f as i64)
}

fn name_ok(s: &str) -> bool {
    let chars = s.chars().count();
    (1..=MAX_NAME_CHARS).contains(&chars)
}

struct Metric<'a> {
    name: &'a str,
    unit: Option<&'a str>,
    storage_resolution: u32,
    values: Vec<f64>,
}

fn read_directive(
    root: &Map<String, Value>,
    directive: &Map<String, Value>,
    d: usize,
    timestamp_ms: i64,
    out: &mut Vec<EmfDatum>,
) -> Result<(), EmfError> {
    let namespace = directive
        .get("Namespace")
        .and_then(Value::as_str)
        .filter(|s| name_ok(s))
        .ok_or(EmfError::InvalidNamespace { directive: d })?;

    let sets = directive
        .get("Dimensions")
        .and_then(Value::as_array)
        .ok_or(EmfError::InvalidDimensions { directive: d })?;
    let mut dimension_sets: Vec<Vec<(String, String)>> = Vec::with_capacity(sets.len().max(1));
    for (s, set) in sets.iter().enumerate() {
        let keys = set
            .as_array()
            .ok_or(EmfError::InvalidDimensions { directive: d })?;
        if keys.len() > MAX_DIMENSIONS_PER_SET {
            return Err(EmfError::TooManyDimensions {
                directive: d,
                set: s,
                count: keys.len(),
            });
        }
        let mut dims = Vec::with_capacity(keys.len());
        for key in keys {
            let key = key
                .as_str()
                .ok_or(EmfError::InvalidDimensions { directive: d })?;
            let value = root.get(key).and_then(Value::as_str).ok_or_else(|| {
                EmfError::InvalidDimensionValue {
                    key: key.to_string(),
                }
            })?;
            dims.push((key.to_string(), value.to_string()));
        }
        dimension_sets.push(dims);
    }
    if dimension_sets.is_empty() {
        dimension_sets.push(Vec::new());
    }

    let defs = directive
        .get("Metrics")
        .and_then(Value::as_array)
        .ok_or(EmfError::InvalidMetrics { directive: d })?;
    if defs.len() > MAX_METRICS_PER_DIRECTIVE {
        return Err(EmfError::TooManyMetrics {
            directive: d,
            count: defs.len(),
        });
    }
    let mut metrics = Vec::with_capacity(defs.len());
    for (m, def) in defs.iter().enumerate() {
        metrics.push(read_metric(root, def, d, m)?);
    }

    for dims in &dimension_sets {
        for metric in &metrics {
            out.push(EmfDatum {
                namespace: namespace.to_string(),
                name: metric.name.to_string(),
                unit: metric.unit.map(str::to_string),
                storage_resolution: metric.storage_resolution,
                dimensions: dims.clone(),
                values: metric.values.clone(),
                timestamp_ms,
            });
        }
    }
    Ok(())
}

fn read_metric<'a>(
    root: &'a Map<String, Value>,
    def: &'a Value,
    d: usize,
    m: usize,
) -> Result<Metric<'a>, EmfError> {
    let bad_name = EmfError::InvalidMetricName {
        directive: d,
        metric: m,
    };
    let def = def.as_object().ok_or_else(|| bad_name.clone())?;
    let name = def
        .get("Name")
        .and_then(Value::as_str)
        .filter(|s| name_ok(s))
        .ok_or(bad_name)?;
    let unit = match def.get("Unit") {
        None | Some(Value::Null) => None,
        Some(Value::String(u)) if crate::UNITS.contains(&u.as_str()) => Some(u.as_str()),
        Some(other) => {
            let unit = other
                .as_str()
                .map_or_else(|| other.to_string(), str::to_string);
            return Err(EmfError::InvalidUnit {
                name: name.to_string(),
                unit,
            });
        }
    };
    let storage_resolution = match def.get("StorageResolution") {
        None | Some(Value::Null) => DEFAULT_STORAGE_RESOLUTION,
        Some(v) => match v.as_u64() {
            Some(1) => 1,
            Some(60) => 60,
            _ => {
                return Err(EmfError::InvalidStorageResolution {
                    name: name.to_string(),
                    found: v.to_string(),
                });
            }
        },
    };
    let bad_value = || EmfError::InvalidMetricValue {
        name: name.to_string(),
    };
    let values = match root.get(name) {
        Some(Value::Number(n)) => vec![n.as_f64().ok_or_else(bad_value)?],
        Some(Value::Array(items)) if !items.is_empty() && items.len() <= MAX_VALUES_PER_METRIC => {
            items
                .iter()
                .map(|v| v.as_f64().ok_or_else(bad_value))
                .collect::<Result<Vec<_>, _>>()?
        }
        _ => return Err(bad_value()),
    };
    Ok(Metric {
        name,
        unit,
        storage_resolution,
        values,
    })
}

/// Fuzz harness: any bytes through [`parse`]; must never panic, and every
/// datum it returns must respect the specification's limits.
pub fn fuzz_emf(data: &[u8]) {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(data) = parse(line) {
        for datum in data {
            assert!(!datum.values.is_empty() && datum.values.len() <= MAX_VALUES_PER_METRIC);
            assert!(datum.dimensions.len() <= MAX_DIMENSIONS_PER_SET);
            assert!(datum.storage_resolution == 1 || datum.storage_resolution == 60);
        }
    }
}
