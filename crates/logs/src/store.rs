#![allow(unused, clippy::all)]
//! STUB (local only)
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
pub struct Options {
    pub fsync: bool,
    pub clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    pub segment_window_ms: i64,
    pub seal_grace_ms: i64,
    pub head_max_bytes: usize,
    pub batch_id_retention_ms: i64,
}
impl Default for Options {
    fn default() -> Self {
        unimplemented!()
    }
}
pub struct Store;
#[derive(Debug)]
pub struct OpenReport {
    pub torn_tail_bytes: u64,
    pub wal_records_replayed: u64,
}
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("x")]
    GroupExists,
    #[error("x")]
    NoGroup,
    #[error("x")]
    StreamExists,
    #[error("x")]
    NoStream,
    #[error("x")]
    NoFilter,
    #[error("io")]
    Io,
}
pub struct GroupSpec {
    pub created_ms: i64,
    pub retention_days: Option<u32>,
    pub tags: BTreeMap<String, String>,
    pub class: String,
    pub kms_key_id: Option<String>,
}
#[derive(Clone, Debug)]
pub struct GroupInfo {
    pub name: String,
    pub created_ms: i64,
    pub retention_days: Option<u32>,
    pub tags: BTreeMap<String, String>,
    pub class: String,
    pub kms_key_id: Option<String>,
    pub metric_filters: BTreeMap<String, String>,
    pub stored_bytes: u64,
}
#[derive(Clone, Debug)]
pub struct StreamInfo {
    pub name: String,
    pub created_ms: i64,
    pub first_event_ms: Option<i64>,
    pub last_event_ms: Option<i64>,
    pub last_ingestion_ms: Option<i64>,
    pub stored_bytes: u64,
}
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub timestamp_ms: i64,
    pub message: String,
}
pub struct Appended {
    pub seq: u64,
    pub duplicate: bool,
    pub ingestion_ms: i64,
}
pub struct StoredEvent {
    pub timestamp_ms: i64,
    pub ingestion_ms: i64,
    pub message: String,
    pub id: EventId,
    pub stream: String,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventId(pub u64);
impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}
#[derive(Clone, Debug, PartialEq)]
pub struct Cursor(u64);
impl Cursor {
    pub fn to_token(&self) -> String {
        unimplemented!()
    }
    pub fn from_token(s: &str) -> Option<Cursor> {
        unimplemented!()
    }
}
pub struct StreamRead {
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub cursor: Option<Cursor>,
    pub forward: bool,
    pub limit: usize,
    pub max_bytes: usize,
}
pub struct StreamPage {
    pub events: Vec<StoredEvent>,
    pub next_forward: Cursor,
    pub next_backward: Cursor,
}
#[derive(Default)]
pub struct Scan {
    pub streams: Option<Vec<String>>,
    pub stream_prefix: Option<String>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub after: Option<Cursor>,
}
pub struct ScanEnd {
    pub resume: Option<Cursor>,
    pub events_scanned: u64,
    pub bytes_scanned: u64,
}
pub struct PendingBatch {
    pub seq: u64,
    pub group: String,
    pub stream: String,
    pub ingestion_ms: i64,
    pub events: Vec<NewEvent>,
}
#[derive(Debug, Default)]
pub struct StoreStats {
    pub groups: usize,
    pub streams: usize,
    pub head_bytes: usize,
    pub segment_files: usize,
    pub segment_bytes: u64,
    pub raw_bytes_sealed: u64,
    pub wal_bytes: u64,
}
impl Store {
    pub fn open(dir: &Path, opts: Options) -> Result<(Store, OpenReport), StoreError> {
        unimplemented!()
    }
    pub fn create_group(&self, name: &str, spec: GroupSpec) -> Result<(), StoreError> {
        unimplemented!()
    }
    pub fn delete_group(&self, name: &str) -> Result<(), StoreError> {
        unimplemented!()
    }
    pub fn group(&self, name: &str) -> Option<GroupInfo> {
        unimplemented!()
    }
    pub fn groups(&self) -> Vec<GroupInfo> {
        unimplemented!()
    }
    pub fn set_retention(&self, group: &str, days: Option<u32>) -> Result<(), StoreError> {
        unimplemented!()
    }
    pub fn tag_group(
        &self,
        group: &str,
        set: &[(String, String)],
        remove: &[String],
    ) -> Result<(), StoreError> {
        unimplemented!()
    }
    pub fn put_metric_filter(
        &self,
        group: &str,
        name: &str,
        definition: &str,
    ) -> Result<(), StoreError> {
        unimplemented!()
    }
    pub fn delete_metric_filter(&self, group: &str, name: &str) -> Result<(), StoreError> {
        unimplemented!()
    }
    pub fn create_stream(
        &self,
        group: &str,
        stream: &str,
        created_ms: i64,
    ) -> Result<(), StoreError> {
        unimplemented!()
    }
    pub fn delete_stream(&self, group: &str, stream: &str) -> Result<(), StoreError> {
        unimplemented!()
    }
    pub fn stream(&self, group: &str, stream: &str) -> Result<StreamInfo, StoreError> {
        unimplemented!()
    }
    pub fn streams(&self, group: &str) -> Result<Vec<StreamInfo>, StoreError> {
        unimplemented!()
    }
    pub fn append(
        &self,
        group: &str,
        stream: &str,
        events: Vec<NewEvent>,
        batch_id: Option<[u8; 16]>,
    ) -> Result<Appended, StoreError> {
        unimplemented!()
    }
    pub fn read_stream(
        &self,
        group: &str,
        stream: &str,
        q: &StreamRead,
    ) -> Result<StreamPage, StoreError> {
        unimplemented!()
    }
    pub fn scan(
        &self,
        group: &str,
        q: &Scan,
        f: &mut dyn FnMut(&crate::EventRef<'_>, EventId) -> bool,
    ) -> Result<ScanEnd, StoreError> {
        unimplemented!()
    }
    pub fn pending_emissions(&self) -> Result<Vec<PendingBatch>, StoreError> {
        unimplemented!()
    }
    pub fn mark_emitted(&self, seq: u64) {
        unimplemented!()
    }
    pub fn maintain(&self) -> Result<(), StoreError> {
        unimplemented!()
    }
    pub fn stats(&self) -> StoreStats {
        unimplemented!()
    }
    pub fn shutdown(&self) -> Result<(), StoreError> {
        unimplemented!()
    }
}
