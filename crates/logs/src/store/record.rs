//! WAL record payloads: `kind u8 | lsn u64 | body`. Every mutation of the
//! store is one record; `lsn` orders them and ties them to the catalog
//! snapshot (records at or below the snapshot's lsn are already in it).

use std::collections::BTreeMap;

use super::GroupSpec;
use super::codec::{Dec, Enc};

const CREATE_GROUP: u8 = 1;
const DELETE_GROUP: u8 = 2;
const SET_RETENTION: u8 = 3;
const TAG_GROUP: u8 = 4;
const PUT_FILTER: u8 = 5;
const DELETE_FILTER: u8 = 6;
const CREATE_STREAM: u8 = 7;
const DELETE_STREAM: u8 = 8;
const EVENTS: u8 = 9;
const MARK_EMITTED: u8 = 10;

/// One accepted batch of events, borrowed from the WAL payload on replay.
#[derive(Debug, Clone, PartialEq)]
pub struct Events<'a> {
    pub seq: u64,
    pub group_id: u64,
    pub stream_id: u64,
    pub ingestion_ms: i64,
    /// Event ids are `first_event_id + index in the batch`.
    pub first_event_id: u64,
    pub batch_id: Option<[u8; 16]>,
    /// The batch was sent as Embedded Metric Format (`json/emf`): its
    /// metrics are extracted again if a crash left them unemitted.
    pub emf: bool,
    /// Names as they were at append, for `pending_emissions`.
    pub group: &'a str,
    pub stream: &'a str,
    pub events: Vec<(i64, &'a str)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body<'a> {
    CreateGroup {
        group_id: u64,
        name: &'a str,
        spec: GroupSpec,
    },
    DeleteGroup {
        group_id: u64,
    },
    SetRetention {
        group_id: u64,
        days: Option<u32>,
    },
    TagGroup {
        group_id: u64,
        set: Vec<(&'a str, &'a str)>,
        remove: Vec<&'a str>,
    },
    PutFilter {
        group_id: u64,
        name: &'a str,
        definition: &'a str,
    },
    DeleteFilter {
        group_id: u64,
        name: &'a str,
    },
    CreateStream {
        group_id: u64,
        stream_id: u64,
        name: &'a str,
        created_ms: i64,
    },
    DeleteStream {
        group_id: u64,
        stream_id: u64,
    },
    Events(Events<'a>),
    MarkEmitted {
        seq: u64,
    },
}

#[cfg(test)]
pub fn encode(lsn: u64, body: &Body<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(lsn, body, &mut out);
    out
}

/// Appends the payload of `body` to `out` (the WAL's pending buffer, so a
/// 1 MB batch is copied once, not encoded and then copied).
pub fn encode_into(lsn: u64, body: &Body<'_>, out: &mut Vec<u8>) {
    let mut e = Enc {
        buf: std::mem::take(out),
    };
    encode_body(lsn, body, &mut e);
    *out = e.buf;
}

fn encode_body(lsn: u64, body: &Body<'_>, e: &mut Enc) {
    let e = &mut *e;
    match body {
        Body::CreateGroup {
            group_id,
            name,
            spec,
        } => {
            head(e, CREATE_GROUP, lsn, *group_id);
            e.str(name);
            e.i64(spec.created_ms);
            e.opt_u32(spec.retention_days);
            e.u32(spec.tags.len() as u32);
            for (k, v) in &spec.tags {
                e.str(k);
                e.str(v);
            }
            e.str(&spec.class);
            e.opt_str(spec.kms_key_id.as_deref());
        }
        Body::DeleteGroup { group_id } => head(e, DELETE_GROUP, lsn, *group_id),
        Body::SetRetention { group_id, days } => {
            head(e, SET_RETENTION, lsn, *group_id);
            e.opt_u32(*days);
        }
        Body::TagGroup {
            group_id,
            set,
            remove,
        } => {
            head(e, TAG_GROUP, lsn, *group_id);
            e.u32(set.len() as u32);
            for (k, v) in set {
                e.str(k);
                e.str(v);
            }
            e.u32(remove.len() as u32);
            for k in remove {
                e.str(k);
            }
        }
        Body::PutFilter {
            group_id,
            name,
            definition,
        } => {
            head(e, PUT_FILTER, lsn, *group_id);
            e.str(name);
            e.str(definition);
        }
        Body::DeleteFilter { group_id, name } => {
            head(e, DELETE_FILTER, lsn, *group_id);
            e.str(name);
        }
        Body::CreateStream {
            group_id,
            stream_id,
            name,
            created_ms,
        } => {
            head(e, CREATE_STREAM, lsn, *group_id);
            e.u64(*stream_id);
            e.str(name);
            e.i64(*created_ms);
        }
        Body::DeleteStream {
            group_id,
            stream_id,
        } => {
            head(e, DELETE_STREAM, lsn, *group_id);
            e.u64(*stream_id);
        }
        Body::Events(ev) => encode_events(lsn, ev, e),
        Body::MarkEmitted { seq } => {
            e.u8(MARK_EMITTED);
            e.u64(lsn);
            e.u64(*seq);
        }
    }
}

fn head(e: &mut Enc, kind: u8, lsn: u64, group_id: u64) {
    e.u8(kind);
    e.u64(lsn);
    e.u64(group_id);
}

fn encode_events(lsn: u64, ev: &Events<'_>, e: &mut Enc) {
    let bytes: usize = ev.events.iter().map(|(_, m)| m.len() + 12).sum();
    e.buf
        .reserve(128 + bytes + ev.group.len() + ev.stream.len());
    head(e, EVENTS, lsn, ev.group_id);
    e.u64(ev.seq);
    e.u64(ev.stream_id);
    e.i64(ev.ingestion_ms);
    e.u64(ev.first_event_id);
    // A flags byte: bit 0 a batch id follows, bit 1 EMF (records written
    // before EMF existed carry 0 or 1 and read back as not EMF).
    let flags = u8::from(ev.batch_id.is_some()) | (u8::from(ev.emf) << 1);
    e.u8(flags);
    if let Some(id) = ev.batch_id {
        e.buf.extend_from_slice(&id);
    }
    e.str(ev.group);
    e.str(ev.stream);
    e.u32(ev.events.len() as u32);
    for (ts, m) in &ev.events {
        e.i64(*ts);
        e.str(m);
    }
}

/// Decodes a payload; `None` for anything malformed (the crc passed, so
/// only a bug or a foreign file gets here).
pub fn decode(buf: &[u8]) -> Option<(u64, Body<'_>)> {
    let mut d = Dec::new(buf);
    let kind = d.u8()?;
    let lsn = d.u64()?;
    if kind == MARK_EMITTED {
        let seq = d.u64()?;
        return d.is_empty().then_some((lsn, Body::MarkEmitted { seq }));
    }
    let group_id = d.u64()?;
    let body = match kind {
        CREATE_GROUP => {
            let name = d.str()?;
            let created_ms = d.i64()?;
            let retention_days = d.opt_u32()?;
            let mut tags = BTreeMap::new();
            for _ in 0..d.u32()? {
                let k = d.str()?;
                tags.insert(k.to_owned(), d.str()?.to_owned());
            }
            let class = d.str()?.to_owned();
            let kms_key_id = d.opt_str()?.map(str::to_owned);
            Body::CreateGroup {
                group_id,
                name,
                spec: GroupSpec {
                    created_ms,
                    retention_days,
                    tags,
                    class,
                    kms_key_id,
                },
            }
        }
        DELETE_GROUP => Body::DeleteGroup { group_id },
        SET_RETENTION => Body::SetRetention {
            group_id,
            days: d.opt_u32()?,
        },
        TAG_GROUP => {
            let mut set = Vec::new();
            for _ in 0..d.u32()? {
                set.push((d.str()?, d.str()?));
            }
            let mut remove = Vec::new();
            for _ in 0..d.u32()? {
                remove.push(d.str()?);
            }
            Body::TagGroup {
                group_id,
                set,
                remove,
            }
        }
        PUT_FILTER => Body::PutFilter {
            group_id,
            name: d.str()?,
            definition: d.str()?,
        },
        DELETE_FILTER => Body::DeleteFilter {
            group_id,
            name: d.str()?,
        },
        CREATE_STREAM => Body::CreateStream {
            group_id,
            stream_id: d.u64()?,
            name: d.str()?,
            created_ms: d.i64()?,
        },
        DELETE_STREAM => Body::DeleteStream {
            group_id,
            stream_id: d.u64()?,
        },
        EVENTS => {
            let seq = d.u64()?;
            let stream_id = d.u64()?;
            let ingestion_ms = d.i64()?;
            let first_event_id = d.u64()?;
            let flags = d.u8()?;
            if flags & !3 != 0 {
                return None;
            }
            let batch_id = if flags & 1 != 0 {
                Some(d.id16()?)
            } else {
                None
            };
            let emf = flags & 2 != 0;
            let group = d.str()?;
            let stream = d.str()?;
            let n = d.u32()? as usize;
            let mut events = Vec::with_capacity(n.min(buf.len() / 12));
            for _ in 0..n {
                events.push((d.i64()?, d.str()?));
            }
            Body::Events(Events {
                seq,
                group_id,
                stream_id,
                ingestion_ms,
                first_event_id,
                batch_id,
                emf,
                group,
                stream,
                events,
            })
        }
        _ => return None,
    };
    d.is_empty().then_some((lsn, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_kind_round_trips() {
        let spec = GroupSpec {
            created_ms: 5,
            retention_days: Some(7),
            tags: [("a".to_owned(), "b".to_owned())].into(),
            class: "STANDARD".to_owned(),
            kms_key_id: Some("k".to_owned()),
        };
        let bodies = vec![
            Body::CreateGroup {
                group_id: 1,
                name: "/g",
                spec,
            },
            Body::DeleteGroup { group_id: 1 },
            Body::SetRetention {
                group_id: 1,
                days: None,
            },
            Body::TagGroup {
                group_id: 1,
                set: vec![("x", "y")],
                remove: vec!["a"],
            },
            Body::PutFilter {
                group_id: 1,
                name: "f",
                definition: "{}",
            },
            Body::DeleteFilter {
                group_id: 1,
                name: "f",
            },
            Body::CreateStream {
                group_id: 1,
                stream_id: 2,
                name: "s",
                created_ms: -3,
            },
            Body::DeleteStream {
                group_id: 1,
                stream_id: 2,
            },
            Body::Events(Events {
                seq: 9,
                group_id: 1,
                stream_id: 2,
                ingestion_ms: 10,
                first_event_id: 11,
                batch_id: Some([7; 16]),
                emf: true,
                group: "/g",
                stream: "s",
                events: vec![(1, "a"), (-2, "ü")],
            }),
            Body::MarkEmitted { seq: 4 },
        ];
        for (i, body) in bodies.iter().enumerate() {
            let bytes = encode(i as u64 + 100, body);
            assert_eq!(decode(&bytes), Some((i as u64 + 100, body.clone())));
            assert_eq!(decode(&bytes[..bytes.len() - 1]), None);
        }
    }

    proptest! {
        #[test]
        fn decode_is_total(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&data);
        }
    }
}
