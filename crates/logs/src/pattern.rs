#![allow(unused, clippy::all)]
//! STUB
use std::collections::BTreeMap;
#[derive(Clone, Debug)]
pub struct FilterPattern;
#[derive(Debug, thiserror::Error)]
#[error("bad")]
pub struct PatternError;
impl FilterPattern {
    pub fn parse(s: &str) -> Result<FilterPattern, PatternError> {
        unimplemented!()
    }
    pub fn matches(&self, message: &str) -> bool {
        unimplemented!()
    }
    pub fn extract(&self, message: &str) -> Option<BTreeMap<String, String>> {
        unimplemented!()
    }
}
pub struct MetricTransformation {
    pub metric_name: String,
    pub metric_namespace: String,
    pub metric_value: String,
    pub default_value: Option<f64>,
    pub dimensions: BTreeMap<String, String>,
    pub unit: Option<String>,
}
pub struct Emission {
    pub namespace: String,
    pub name: String,
    pub value: f64,
    pub unit: Option<String>,
    pub dimensions: Vec<(String, String)>,
    pub timestamp_ms: i64,
}
pub fn validate_transformation(
    p: &FilterPattern,
    t: &MetricTransformation,
) -> Result<(), PatternError> {
    unimplemented!()
}
pub fn apply(
    p: &FilterPattern,
    t: &MetricTransformation,
    message: &str,
    timestamp_ms: i64,
) -> Option<Emission> {
    unimplemented!()
}
