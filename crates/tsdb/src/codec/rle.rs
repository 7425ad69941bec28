//! Run-length encoding for byte columns (units, sample kinds): almost every
//! series has a single unit and kind, so a column is usually one run.

use super::bytes::{ByteReader, put_uvarint};
use crate::error::DecodeError;

/// Appends `(value, run length)` pairs preceded by the number of runs.
pub fn encode_rle(values: &[u8], out: &mut Vec<u8>) {
    let mut runs: Vec<(u8, u64)> = Vec::new();
    for &v in values {
        match runs.last_mut() {
            Some((last, n)) if *last == v => *n += 1,
            _ => runs.push((v, 1)),
        }
    }
    put_uvarint(out, runs.len() as u64);
    for (v, n) in runs {
        out.push(v);
        put_uvarint(out, n);
    }
}

/// Decodes at most `max_count` values in total.
pub fn decode_rle(
    r: &mut ByteReader<'_>,
    max_count: usize,
    out: &mut Vec<u8>,
) -> Result<(), DecodeError> {
    let runs = r.len(r.remaining())?;
    let mut total = 0usize;
    for _ in 0..runs {
        let v = r.u8()?;
        let n = r.len(max_count)?;
        total = total
            .checked_add(n)
            .filter(|&t| t <= max_count)
            .ok_or(DecodeError("run lengths exceed the column size"))?;
        out.extend(std::iter::repeat_n(v, n));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn rle_round_trip(values in proptest::collection::vec(0u8..3, 0..300)) {
            let mut buf = Vec::new();
            encode_rle(&values, &mut buf);
            let mut out = Vec::new();
            decode_rle(&mut ByteReader::new(&buf), values.len(), &mut out).unwrap();
            prop_assert_eq!(out, values);
        }

        #[test]
        fn rle_decoder_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut out = Vec::new();
            let _ = decode_rle(&mut ByteReader::new(&data), 1000, &mut out);
            prop_assert!(out.len() <= 1000);
        }
    }
}
