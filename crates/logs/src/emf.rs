#![allow(unused, clippy::all)]
//! STUB
pub struct EmfDatum {
    pub namespace: String,
    pub name: String,
    pub unit: Option<String>,
    pub storage_resolution: u32,
    pub dimensions: Vec<(String, String)>,
    pub values: Vec<f64>,
    pub timestamp_ms: i64,
}
#[derive(Debug, thiserror::Error)]
#[error("bad")]
pub struct EmfError;
pub fn parse(line: &str) -> Result<Vec<EmfDatum>, EmfError> {
    unimplemented!()
}
