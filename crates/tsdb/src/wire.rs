//! A write batch as bytes, for carrying it through a replicated log (cluster
//! mode's ingest log) to every replica that applies it with [`crate::Db::write`].
//!
//! The encoding is the WAL's batch record (see `record`) with ids local to the
//! message: each distinct key is defined once, samples refer to it. Decoding
//! validates everything the WAL decoder does, so a damaged or hostile message
//! is an error, never a panic (fuzzed with the WAL record decoder).
//! Aggregates and series keys travel between nodes in the same spirit
//! (cluster mode's peer reads).

use crate::codec::bytes::{ByteReader, put_ivarint, put_str, put_uvarint};
use crate::error::DecodeError;
use crate::model::{SeriesFilter, SeriesKey, WriteBatch};
use crate::record::{self, SeriesId};
use std::collections::HashMap;

/// Encodes `batch` into `out` (cleared first).
pub fn encode_write_batch(batch: &WriteBatch, out: &mut Vec<u8>) {
    let mut ids: HashMap<&SeriesKey, SeriesId> = HashMap::new();
    let mut defs: Vec<(SeriesId, &SeriesKey)> = Vec::new();
    let mut samples = Vec::with_capacity(batch.entries.len());
    for (key, sample) in &batch.entries {
        let next = defs.len() as SeriesId;
        let id = *ids.entry(key).or_insert_with(|| {
            defs.push((next, key));
            next
        });
        samples.push((id, sample));
    }
    record::encode_batch(
        out,
        batch.batch_id.map(|id| (id, 0)),
        defs.into_iter(),
        samples.into_iter(),
    );
}

/// Decodes a message made by [`encode_write_batch`].
pub fn decode_write_batch(bytes: &[u8]) -> Result<WriteBatch, DecodeError> {
    let rec = record::decode_batch(bytes)?;
    let mut keys: HashMap<SeriesId, SeriesKey> = HashMap::with_capacity(rec.defs.len());
    for (id, key) in rec.defs {
        if keys.insert(id, key).is_some() {
            return Err(DecodeError("series defined twice in a write batch message"));
        }
    }
    let mut entries = Vec::with_capacity(rec.samples.len());
    for (id, sample) in rec.samples {
        let key = keys.get(&id).ok_or(DecodeError(
            "sample of an undefined series in a write batch message",
        ))?;
        entries.push((key.clone(), sample));
    }
    Ok(WriteBatch {
        entries,
        batch_id: rec.batch.map(|(id, _)| id),
    })
}

pub use crate::aggregate::{decode_aggregates, encode_aggregates};

/// Appends a series key in the WAL's encoding (for messages between nodes).
pub fn put_series_key(out: &mut Vec<u8>, key: &SeriesKey) {
    record::put_key(out, key);
}

/// Reads a key written by [`put_series_key`].
pub fn read_series_key(r: &mut ByteReader<'_>) -> Result<SeriesKey, DecodeError> {
    record::read_key(r)
}

const VERSION: u8 = 1;
/// Bounds what a hostile request can make a node allocate.
const MAX_PARTITIONS: usize = 65_536;
const MAX_DIMENSIONS: usize = 64;

/// A read one node asks of another (cluster mode's peer reads).
///
/// ```text
/// request  = version u8 (1) | kind u8 | body
/// query    = partition uvarint | series key | start ivarint | end ivarint
///            | period ivarint | unit (0 | 1 u8)
/// list     = n uvarint | partition uvarint * n | namespace opt | name opt
///            | n uvarint | (dimension str | value opt) * n | after (0 | 1 key)
///            | limit uvarint
/// opt      = 0 | 1 str
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum ReadRequest {
    Query {
        partition: u32,
        series: SeriesKey,
        start_ms: i64,
        end_ms: i64,
        period_ms: i64,
        unit: Option<u8>,
    },
    List {
        partitions: Vec<u32>,
        filter: SeriesFilter,
        after: Option<SeriesKey>,
        limit: usize,
    },
}

fn put_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            put_str(out, s);
        }
    }
}

fn read_opt(r: &mut ByteReader<'_>) -> Result<Option<String>, DecodeError> {
    match r.u8()? {
        0 => Ok(None),
        1 => Ok(Some(r.str()?.to_string())),
        _ => Err(DecodeError("invalid optional string")),
    }
}

fn read_partition(r: &mut ByteReader<'_>) -> Result<u32, DecodeError> {
    u32::try_from(r.uvarint()?).map_err(|_| DecodeError("partition out of range"))
}

impl ReadRequest {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![VERSION];
        match self {
            ReadRequest::Query {
                partition,
                series,
                start_ms,
                end_ms,
                period_ms,
                unit,
            } => {
                out.push(1);
                put_uvarint(&mut out, u64::from(*partition));
                put_series_key(&mut out, series);
                put_ivarint(&mut out, *start_ms);
                put_ivarint(&mut out, *end_ms);
                put_ivarint(&mut out, *period_ms);
                match unit {
                    None => out.push(0),
                    Some(u) => out.extend_from_slice(&[1, *u]),
                }
            }
            ReadRequest::List {
                partitions,
                filter,
                after,
                limit,
            } => {
                out.push(2);
                put_uvarint(&mut out, partitions.len() as u64);
                for p in partitions {
                    put_uvarint(&mut out, u64::from(*p));
                }
                put_opt(&mut out, filter.namespace.as_deref());
                put_opt(&mut out, filter.name.as_deref());
                put_uvarint(&mut out, filter.dimensions.len() as u64);
                for (n, v) in &filter.dimensions {
                    put_str(&mut out, n);
                    put_opt(&mut out, v.as_deref());
                }
                match after {
                    None => out.push(0),
                    Some(k) => {
                        out.push(1);
                        put_series_key(&mut out, k);
                    }
                }
                put_uvarint(&mut out, *limit as u64);
            }
        }
        out
    }

    /// Decodes a request; anything malformed is an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<ReadRequest, DecodeError> {
        let mut r = ByteReader::new(bytes);
        if r.u8()? != VERSION {
            return Err(DecodeError("unknown peer request version"));
        }
        let req = match r.u8()? {
            1 => {
                let partition = read_partition(&mut r)?;
                let series = read_series_key(&mut r)?;
                let (start_ms, end_ms, period_ms) = (r.ivarint()?, r.ivarint()?, r.ivarint()?);
                if period_ms <= 0 || end_ms < start_ms {
                    return Err(DecodeError("invalid query range"));
                }
                let unit = match r.u8()? {
                    0 => None,
                    1 => Some(r.u8()?),
                    _ => return Err(DecodeError("invalid unit flag")),
                };
                ReadRequest::Query {
                    partition,
                    series,
                    start_ms,
                    end_ms,
                    period_ms,
                    unit,
                }
            }
            2 => {
                let n = r.len(MAX_PARTITIONS.min(r.remaining()))?;
                let mut partitions = Vec::with_capacity(n);
                for _ in 0..n {
                    partitions.push(read_partition(&mut r)?);
                }
                let namespace = read_opt(&mut r)?;
                let name = read_opt(&mut r)?;
                let n = r.len(MAX_DIMENSIONS)?;
                let mut dimensions = Vec::with_capacity(n);
                for _ in 0..n {
                    dimensions.push((r.str()?.to_string(), read_opt(&mut r)?));
                }
                let after = match r.u8()? {
                    0 => None,
                    1 => Some(read_series_key(&mut r)?),
                    _ => return Err(DecodeError("invalid cursor flag")),
                };
                let limit = r.len(usize::MAX)?;
                ReadRequest::List {
                    partitions,
                    filter: SeriesFilter {
                        namespace,
                        name,
                        dimensions,
                    },
                    after,
                    limit,
                }
            }
            _ => return Err(DecodeError("unknown peer request kind")),
        };
        if !r.is_empty() {
            return Err(DecodeError("trailing bytes after the peer request"));
        }
        Ok(req)
    }
}

/// A list of series keys (the answer to a `List` read).
pub fn encode_series_keys(keys: &[SeriesKey]) -> Vec<u8> {
    let mut out = Vec::new();
    put_uvarint(&mut out, keys.len() as u64);
    for k in keys {
        put_series_key(&mut out, k);
    }
    out
}

/// Reads what [`encode_series_keys`] wrote.
pub fn decode_series_keys(bytes: &[u8]) -> Result<Vec<SeriesKey>, DecodeError> {
    let mut r = ByteReader::new(bytes);
    // A key takes at least 3 bytes.
    let n = r.len(r.remaining() / 3)?;
    let mut keys = Vec::with_capacity(n);
    for _ in 0..n {
        keys.push(read_series_key(&mut r)?);
    }
    if !r.is_empty() {
        return Err(DecodeError("trailing bytes after the series keys"));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SeriesKey {
        SeriesKey::new("CWAgent", "mem", [("host".into(), "a".into())])
    }

    #[test]
    fn requests_round_trip_and_damage_is_an_error() {
        let reqs = [
            ReadRequest::Query {
                partition: 7,
                series: key(),
                start_ms: -60_000,
                end_ms: 120_000,
                period_ms: 60_000,
                unit: Some(3),
            },
            ReadRequest::List {
                partitions: vec![0, 5, 65_535],
                filter: SeriesFilter {
                    namespace: Some("CWAgent".into()),
                    name: None,
                    dimensions: vec![("host".into(), None), ("path".into(), Some("/".into()))],
                },
                after: Some(key()),
                limit: 500,
            },
        ];
        for req in reqs {
            let bytes = req.encode();
            assert_eq!(ReadRequest::decode(&bytes).unwrap(), req);
            for cut in 0..bytes.len() {
                assert!(ReadRequest::decode(&bytes[..cut]).is_err(), "cut at {cut}");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(ReadRequest::decode(&longer).is_err());
        }
        let keys = vec![key(), SeriesKey::new("A", "b", [])];
        assert_eq!(
            decode_series_keys(&encode_series_keys(&keys)).unwrap(),
            keys
        );
    }

    use crate::batch_ids::BatchId;
    use crate::model::{Sample, SampleValue};

    #[test]
    fn round_trip_with_shared_keys_and_batch_id() {
        let a = SeriesKey::new("NS", "cpu", [("host".into(), "a".into())]);
        let b = SeriesKey::new("NS", "mem", []);
        let batch = WriteBatch {
            entries: vec![
                (a.clone(), Sample::single(1_000, 1, 1.5)),
                (b.clone(), Sample::single(2_000, 0, 2.5)),
                (
                    a.clone(),
                    Sample {
                        timestamp_ms: 500,
                        unit: 3,
                        high_resolution: true,
                        value: SampleValue::StatSet {
                            count: 2.0,
                            sum: 3.0,
                            min: 1.0,
                            max: 2.0,
                        },
                    },
                ),
            ],
            batch_id: Some(BatchId([7; 16])),
        };
        let mut out = Vec::new();
        encode_write_batch(&batch, &mut out);
        let back = decode_write_batch(&out).expect("decodes");
        assert_eq!(back.entries, batch.entries);
        assert_eq!(back.batch_id, batch.batch_id);
    }

    #[test]
    fn damaged_messages_are_errors() {
        let batch = WriteBatch {
            entries: vec![(SeriesKey::new("N", "m", []), Sample::single(1, 0, 1.0))],
            batch_id: None,
        };
        let mut out = Vec::new();
        encode_write_batch(&batch, &mut out);
        for cut in 0..out.len() {
            assert!(decode_write_batch(&out[..cut]).is_err(), "cut at {cut}");
        }
        // A sample naming an id no definition gave.
        let mut bad = out.clone();
        let pos = bad.len() - 8 - 2 - 1 - 1; // id byte of the only sample
        bad[pos] = 5;
        assert!(decode_write_batch(&bad).is_err());
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // The fuzz target's property, on every test run.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(batch) = decode_write_batch(&bytes) {
                let mut again = Vec::new();
                encode_write_batch(&batch, &mut again);
                prop_assert!(decode_write_batch(&again).is_ok());
            }
        }
    }
}
