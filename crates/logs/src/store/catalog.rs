//! The catalog: groups, streams, counters, the emission checkpoint and
//! recent batch ids; persisted as a crc-framed JSON snapshot (temp + rename)
//! together with the list of live segment files and the sealed watermarks.
//!
//! [`Catalog::apply`] is the one place a mutation changes the catalog, used
//! both live (after validation) and when replaying the WAL.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::frame::{frame_at, put_frame};
use super::record::Body;

const SNAPSHOT_MAGIC: u32 = u32::from_le_bytes(*b"SLC1");

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct StreamRec {
    pub id: u64,
    pub created_ms: i64,
    pub first_event_ms: Option<i64>,
    pub last_event_ms: Option<i64>,
    pub last_ingestion_ms: Option<i64>,
    pub stored_bytes: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct GroupRec {
    pub id: u64,
    pub name: String,
    pub created_ms: i64,
    pub retention_days: Option<u32>,
    pub tags: BTreeMap<String, String>,
    pub class: String,
    pub kms_key_id: Option<String>,
    pub metric_filters: BTreeMap<String, String>,
    pub streams: BTreeMap<String, StreamRec>,
    /// Stream id → name, rebuilt at load.
    #[serde(skip)]
    pub stream_names: HashMap<u64, String>,
}

impl GroupRec {
    pub fn stored_bytes(&self) -> u64 {
        self.streams.values().map(|s| s.stored_bytes).sum()
    }
}

/// A live sealed segment file.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct FileRec {
    pub file_id: u64,
    pub group_id: u64,
    pub window_start: i64,
    pub file_bytes: u64,
    pub raw_bytes: u64,
    pub events: u64,
    pub min_ts: i64,
    pub max_ts: i64,
    pub stream_bytes: Vec<(u64, u64)>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct Counters {
    pub next_group_id: u64,
    pub next_stream_id: u64,
    pub next_event_id: u64,
    pub next_seq: u64,
    pub next_lsn: u64,
    pub next_file_id: u64,
    pub emitted_through: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub groups: BTreeMap<String, GroupRec>,
    pub group_names: HashMap<u64, String>,
    pub counters: Counters,
    /// Batch id → (seq, ingestion ms).
    pub batch_ids: HashMap<[u8; 16], (u64, i64)>,
}

/// What a snapshot holds.
#[derive(Serialize, Deserialize, Debug, Default)]
pub struct Snapshot {
    pub version: u32,
    /// Every record at or below this lsn is reflected here.
    pub lsn: u64,
    pub counters: Counters,
    pub groups: Vec<GroupRec>,
    pub files: Vec<FileRec>,
    /// `(group id, window start, lsn)`: the events of that group-window
    /// with a record lsn at or below are in segment files.
    pub sealed: Vec<(u64, i64, u64)>,
    /// `(batch id hex, seq, ingestion ms)`.
    pub batch_ids: Vec<(String, u64, i64)>,
}

impl Catalog {
    pub fn new() -> Catalog {
        Catalog {
            counters: Counters {
                next_group_id: 1,
                next_stream_id: 1,
                next_event_id: 1,
                next_seq: 1,
                next_lsn: 1,
                next_file_id: 1,
                emitted_through: 0,
            },
            ..Catalog::default()
        }
    }

    pub fn group_by_id(&self, id: u64) -> Option<&GroupRec> {
        self.groups.get(self.group_names.get(&id)?)
    }

    pub fn group_by_id_mut(&mut self, id: u64) -> Option<&mut GroupRec> {
        let name = self.group_names.get(&id)?;
        self.groups.get_mut(name)
    }

    /// Applies one record. Records naming a group or stream that no longer
    /// exists (replayed after a later deletion) change nothing.
    pub fn apply(&mut self, body: &Body<'_>) {
        match body {
            Body::CreateGroup {
                group_id,
                name,
                spec,
            } => {
                self.counters.next_group_id = self.counters.next_group_id.max(group_id + 1);
                self.group_names.insert(*group_id, (*name).to_owned());
                self.groups.insert(
                    (*name).to_owned(),
                    GroupRec {
                        id: *group_id,
                        name: (*name).to_owned(),
                        created_ms: spec.created_ms,
                        retention_days: spec.retention_days,
                        tags: spec.tags.clone(),
                        class: spec.class.clone(),
                        kms_key_id: spec.kms_key_id.clone(),
                        ..GroupRec::default()
                    },
                );
            }
            Body::DeleteGroup { group_id } => {
                if let Some(name) = self.group_names.remove(group_id) {
                    self.groups.remove(&name);
                }
            }
            Body::SetRetention { group_id, days } => {
                if let Some(g) = self.group_by_id_mut(*group_id) {
                    g.retention_days = *days;
                }
            }
            Body::TagGroup {
                group_id,
                set,
                remove,
            } => {
                if let Some(g) = self.group_by_id_mut(*group_id) {
                    for (k, v) in set {
                        g.tags.insert((*k).to_owned(), (*v).to_owned());
                    }
                    for k in remove {
                        g.tags.remove(*k);
                    }
                }
            }
            Body::PutFilter {
                group_id,
                name,
                definition,
            } => {
                if let Some(g) = self.group_by_id_mut(*group_id) {
                    g.metric_filters
                        .insert((*name).to_owned(), (*definition).to_owned());
                }
            }
            Body::DeleteFilter { group_id, name } => {
                if let Some(g) = self.group_by_id_mut(*group_id) {
                    g.metric_filters.remove(*name);
                }
            }
            Body::CreateStream {
                group_id,
                stream_id,
                name,
                created_ms,
            } => {
                self.counters.next_stream_id = self.counters.next_stream_id.max(stream_id + 1);
                if let Some(g) = self.group_by_id_mut(*group_id) {
                    g.stream_names.insert(*stream_id, (*name).to_owned());
                    g.streams.insert(
                        (*name).to_owned(),
                        StreamRec {
                            id: *stream_id,
                            created_ms: *created_ms,
                            ..StreamRec::default()
                        },
                    );
                }
            }
            Body::DeleteStream {
                group_id,
                stream_id,
            } => {
                if let Some(g) = self.group_by_id_mut(*group_id)
                    && let Some(name) = g.stream_names.remove(stream_id)
                {
                    g.streams.remove(&name);
                }
            }
            Body::Events(ev) => {
                let c = &mut self.counters;
                c.next_seq = c.next_seq.max(ev.seq + 1);
                c.next_event_id = c
                    .next_event_id
                    .max(ev.first_event_id + ev.events.len() as u64);
                if let Some(id) = ev.batch_id {
                    self.batch_ids.insert(id, (ev.seq, ev.ingestion_ms));
                }
                if let Some(g) = self.group_by_id_mut(ev.group_id)
                    && let Some(name) = g.stream_names.get(&ev.stream_id)
                    && let Some(s) = g.streams.get_mut(name)
                {
                    for (ts, msg) in &ev.events {
                        s.first_event_ms = Some(s.first_event_ms.map_or(*ts, |f| f.min(*ts)));
                        s.last_event_ms = Some(s.last_event_ms.map_or(*ts, |l| l.max(*ts)));
                        s.stored_bytes += msg.len() as u64;
                    }
                    s.last_ingestion_ms = Some(ev.ingestion_ms);
                }
            }
            Body::MarkEmitted { seq } => {
                self.counters.emitted_through = self.counters.emitted_through.max(*seq);
            }
        }
    }

    /// Forgets batch ids older than `cutoff_ms`.
    pub fn prune_batch_ids(&mut self, cutoff_ms: i64) {
        self.batch_ids.retain(|_, (_, ms)| *ms >= cutoff_ms);
    }

    pub fn from_snapshot(s: Snapshot) -> Catalog {
        let mut cat = Catalog {
            counters: s.counters,
            ..Catalog::default()
        };
        for mut g in s.groups {
            g.stream_names = g.streams.iter().map(|(n, s)| (s.id, n.clone())).collect();
            cat.group_names.insert(g.id, g.name.clone());
            cat.groups.insert(g.name.clone(), g);
        }
        for (hex, seq, ms) in s.batch_ids {
            if let Some(id) = parse_hex16(&hex) {
                cat.batch_ids.insert(id, (seq, ms));
            }
        }
        cat
    }

    /// The snapshot of this catalog (files and watermarks filled in by the caller).
    pub fn to_snapshot(&self, lsn: u64) -> Snapshot {
        Snapshot {
            version: 1,
            lsn,
            counters: self.counters.clone(),
            groups: self.groups.values().cloned().collect(),
            files: Vec::new(),
            sealed: Vec::new(),
            batch_ids: self
                .batch_ids
                .iter()
                .map(|(id, (seq, ms))| (hex16(id), *seq, *ms))
                .collect(),
        }
    }
}

fn hex16(id: &[u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_hex16(s: &str) -> Option<[u8; 16]> {
    if s.len() != 32 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

pub fn snapshot_path(dir: &Path) -> PathBuf {
    dir.join("catalog.snap")
}

/// The snapshot before the current one, kept so a damaged `catalog.snap`
/// can be rebuilt from it and the WAL (which keeps every record after it:
/// see `seal::persist`).
pub fn previous_snapshot_path(dir: &Path) -> PathBuf {
    dir.join("catalog.snap.prev")
}

pub fn write_snapshot(dir: &Path, s: &Snapshot, fsync: bool) -> Result<(), StoreError> {
    let json = serde_json::to_vec(s)
        .map_err(|e| StoreError::io("encoding the catalog", std::io::Error::other(e)))?;
    let mut framed = Vec::with_capacity(json.len() + 12);
    put_frame(&mut framed, SNAPSHOT_MAGIC, &json);
    keep_previous(dir)?;
    // Its directory fsync also makes the `.prev` rename durable.
    super::segment::write_durably(&snapshot_path(dir), &framed, fsync)
}

/// Links the current snapshot as `catalog.snap.prev` (a hard link: the
/// rename of the new snapshot then leaves the old inode there), copying
/// where links are not supported.
fn keep_previous(dir: &Path) -> Result<(), StoreError> {
    let current = snapshot_path(dir);
    let prev = previous_snapshot_path(dir);
    let tmp = dir.join("catalog.snap.prev.tmp");
    let io = |e| {
        StoreError::io(
            format!("keeping {} as {}", current.display(), prev.display()),
            e,
        )
    };
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    match std::fs::hard_link(&current, &tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(_) => match std::fs::copy(&current, &tmp) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io(e)),
        },
    }
    std::fs::rename(&tmp, &prev).map_err(io)
}

/// The snapshot, or `None` when there is none yet.
pub fn read_snapshot(dir: &Path) -> Result<Option<Snapshot>, StoreError> {
    read_snapshot_file(&snapshot_path(dir))
}

/// A snapshot file's contents; `None` when it does not exist.
pub fn read_snapshot_file(path: &Path) -> Result<Option<Snapshot>, StoreError> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io(format!("reading {}", path.display()), e)),
    };
    decode_snapshot(&data)
        .map(Some)
        .map_err(|(offset, why)| StoreError::damaged(path, offset, why))
}

/// Decodes snapshot bytes; on damage, its offset and why.
pub fn decode_snapshot(data: &[u8]) -> Result<Snapshot, (u64, String)> {
    let payload = frame_at(data, 0, SNAPSHOT_MAGIC).map_err(|why| (0, why.to_owned()))?;
    if data.len() != payload.len() + 12 {
        return Err((
            payload.len() as u64 + 12,
            "bytes after the catalog".to_owned(),
        ));
    }
    serde_json::from_slice(payload).map_err(|e| (12, format!("undecodable catalog: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_id_hex_round_trips() {
        let id = [
            0u8, 1, 0xab, 0xff, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
        ];
        assert_eq!(hex16(&id).len(), 32);
        assert_eq!(parse_hex16(&hex16(&id)), Some(id));
        assert_eq!(parse_hex16("zz"), None);
    }
}
