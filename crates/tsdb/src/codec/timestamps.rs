//! Timestamp column: first value, then zigzag delta-of-deltas bit-packed in
//! groups ([`super::ints`]). Regularly spaced samples produce all-zero groups
//! (one byte per 128 samples); sorted input keeps deltas non-negative, but the
//! codec accepts any order.

use super::bytes::{ByteReader, put_ivarint, unzigzag, zigzag};
use super::ints::{decode_packed, encode_packed};
use crate::error::DecodeError;

pub fn encode_timestamps(ts: &[i64], out: &mut Vec<u8>) {
    let Some(&first) = ts.first() else {
        encode_packed(&[], out);
        return;
    };
    put_ivarint(out, first);
    // The first delta is stored on its own so that it does not widen the
    // first packed group of (usually zero) delta-of-deltas.
    let first_delta = ts.get(1).map_or(0, |&t| t.wrapping_sub(first));
    put_ivarint(out, first_delta);
    let mut dods = Vec::with_capacity(ts.len().saturating_sub(1));
    let mut prev = first;
    let mut prev_delta: i64 = first_delta;
    for &t in &ts[1..] {
        // Wrapping arithmetic keeps the codec total over all i64 inputs; the
        // decoder wraps the same way, so round trips stay exact.
        let delta = t.wrapping_sub(prev);
        dods.push(zigzag(delta.wrapping_sub(prev_delta)));
        prev_delta = delta;
        prev = t;
    }
    encode_packed(&dods, out);
}

/// Decodes `count` timestamps (the count is stored by the caller).
pub fn decode_timestamps(
    r: &mut ByteReader<'_>,
    count: usize,
    out: &mut Vec<i64>,
) -> Result<(), DecodeError> {
    if count == 0 {
        let mut none = Vec::new();
        decode_packed(r, 0, &mut none)?;
        return Ok(());
    }
    let first = r.ivarint()?;
    let mut delta = r.ivarint()?;
    let mut dods = Vec::new();
    decode_packed(r, count - 1, &mut dods)?;
    if dods.len() != count - 1 {
        return Err(DecodeError("timestamp count mismatch"));
    }
    out.reserve(count);
    out.push(first);
    let mut prev = first;
    for d in dods {
        delta = delta.wrapping_add(unzigzag(d));
        prev = prev.wrapping_add(delta);
        out.push(prev);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(ts: &[i64]) -> Vec<i64> {
        let mut buf = Vec::new();
        encode_timestamps(ts, &mut buf);
        let mut out = Vec::new();
        let mut r = ByteReader::new(&buf);
        decode_timestamps(&mut r, ts.len(), &mut out).unwrap();
        assert!(r.is_empty());
        out
    }

    proptest! {
        #[test]
        fn arbitrary_timestamps_round_trip(ts in proptest::collection::vec(any::<i64>(), 0..300)) {
            prop_assert_eq!(round_trip(&ts), ts);
        }

        #[test]
        fn jittered_timestamps_round_trip(start in -1i64<<50..1i64<<50,
                                          jitter in proptest::collection::vec(-500i64..500, 0..300)) {
            let ts: Vec<i64> = jitter.iter().enumerate().map(|(i, j)| start + i as i64 * 60_000 + j).collect();
            prop_assert_eq!(round_trip(&ts), ts);
        }
    }

    #[test]
    fn regular_minute_series_is_tiny() {
        let ts: Vec<i64> = (0..1440).map(|i| 1_700_000_000_000 + i * 60_000).collect();
        let mut buf = Vec::new();
        encode_timestamps(&ts, &mut buf);
        assert_eq!(round_trip(&ts), ts);
        // first value + count + one width byte per group; the first delta costs one wider group
        assert!(buf.len() < 24, "{} bytes", buf.len());
    }
}
