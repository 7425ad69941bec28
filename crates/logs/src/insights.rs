#![allow(unused, clippy::all)]
//! STUB
#[derive(Clone, Debug)]
pub struct Query;
#[derive(Debug, thiserror::Error)]
#[error("bad")]
pub struct QueryError;
pub fn parse(q: &str) -> Result<Query, QueryError> {
    unimplemented!()
}
impl Query {
    pub fn executor(&self) -> Executor {
        unimplemented!()
    }
    pub fn row_limit(&self) -> usize {
        unimplemented!()
    }
}
pub struct Executor;
impl Executor {
    pub fn push(&mut self, ev: &crate::EventRef<'_>) {
        unimplemented!()
    }
    pub fn finish(self) -> QueryOutput {
        unimplemented!()
    }
}
pub struct QueryOutput {
    pub rows: Vec<Vec<(String, String)>>,
    pub records_matched: u64,
    pub records_scanned: u64,
    pub bytes_scanned: u64,
}
