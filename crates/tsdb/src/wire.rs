//! A write batch as bytes, for carrying it through a replicated log (cluster
//! mode's ingest log) to every replica that applies it with [`crate::Db::write`].
//!
//! The encoding is the WAL's batch record (see `record`) with ids local to the
//! message: each distinct key is defined once, samples refer to it. Decoding
//! validates everything the WAL decoder does, so a damaged or hostile message
//! is an error, never a panic (fuzzed with the WAL record decoder).

use crate::error::DecodeError;
use crate::model::{SeriesKey, WriteBatch};
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

#[cfg(test)]
mod tests {
    use super::*;
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
