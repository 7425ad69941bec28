//! Bit-packed unsigned integer columns.
//!
//! Values are cut into groups of [`GROUP`]; each group stores one width byte
//! (bits per value, 0..=64) followed by the values packed at that width. A
//! group of equal-to-zero values (constant deltas, regular timestamps) costs
//! one byte for 128 values, and one outlier only widens its own group.

use super::bits::{BitReader, BitWriter};
use super::bytes::{ByteReader, put_ivarint, put_uvarint};
use crate::error::DecodeError;

pub const GROUP: usize = 128;

/// Appends `count` as a varint, then the packed groups.
pub fn encode_packed(values: &[u64], out: &mut Vec<u8>) {
    put_uvarint(out, values.len() as u64);
    for group in values.chunks(GROUP) {
        let max = group.iter().fold(0u64, |m, &v| m | v);
        let width = 64 - max.leading_zeros();
        out.push(width as u8);
        if width == 0 {
            continue;
        }
        let mut w = BitWriter::new();
        for &v in group {
            w.write(v, width);
        }
        out.extend_from_slice(&w.finish());
    }
}

/// Decodes a column written by [`encode_packed`]; `max_count` bounds the
/// allocation an untrusted header may ask for.
pub fn decode_packed(
    r: &mut ByteReader<'_>,
    max_count: usize,
    out: &mut Vec<u64>,
) -> Result<(), DecodeError> {
    let count = r.len(max_count)?;
    out.reserve(count.min(1 << 16));
    let mut left = count;
    while left > 0 {
        let n = left.min(GROUP);
        let width = u32::from(r.u8()?);
        if width > 64 {
            return Err(DecodeError("packed width above 64"));
        }
        if width == 0 {
            out.extend(std::iter::repeat_n(0, n));
        } else {
            let nbytes = (n * width as usize).div_ceil(8);
            let mut bits = BitReader::new(r.bytes(nbytes)?);
            for _ in 0..n {
                out.push(bits.read(width)?);
            }
        }
        left -= n;
    }
    Ok(())
}

/// Signed integers, each group stored as frame of reference: group minimum
/// (zigzag varint), width byte, then `value - min` packed. A constant run
/// (or a constant slope, once delta-coded) costs about two bytes per group.
pub fn encode_for_groups(values: &[i64], out: &mut Vec<u8>) {
    put_uvarint(out, values.len() as u64);
    for group in values.chunks(GROUP) {
        let min = group.iter().copied().min().unwrap_or(0);
        let span = group
            .iter()
            .fold(0u64, |m, &v| m | v.wrapping_sub(min) as u64);
        let width = 64 - span.leading_zeros();
        put_ivarint(out, min);
        out.push(width as u8);
        if width == 0 {
            continue;
        }
        let mut w = BitWriter::new();
        for &v in group {
            w.write(v.wrapping_sub(min) as u64, width);
        }
        out.extend_from_slice(&w.finish());
    }
}

/// Decodes [`encode_for_groups`]; at most `max_count` values.
pub fn decode_for_groups(
    r: &mut ByteReader<'_>,
    max_count: usize,
    out: &mut Vec<i64>,
) -> Result<(), DecodeError> {
    let count = r.len(max_count)?;
    out.reserve(count.min(1 << 16));
    let mut left = count;
    while left > 0 {
        let n = left.min(GROUP);
        let min = r.ivarint()?;
        let width = u32::from(r.u8()?);
        if width > 64 {
            return Err(DecodeError("packed width above 64"));
        }
        if width == 0 {
            out.extend(std::iter::repeat_n(min, n));
        } else {
            let nbytes = (n * width as usize).div_ceil(8);
            let mut bits = BitReader::new(r.bytes(nbytes)?);
            for _ in 0..n {
                out.push(min.wrapping_add(bits.read(width)? as i64));
            }
        }
        left -= n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn for_groups_round_trip(values in proptest::collection::vec(
            prop_oneof![any::<i64>(), -3i64..4, Just(i64::MIN), Just(i64::MAX)], 0..600)) {
            let mut buf = Vec::new();
            encode_for_groups(&values, &mut buf);
            let mut out = Vec::new();
            let mut r = ByteReader::new(&buf);
            decode_for_groups(&mut r, usize::MAX, &mut out).unwrap();
            prop_assert_eq!(out, values);
            prop_assert!(r.is_empty());
        }

        #[test]
        fn for_decoder_never_panics(data in proptest::collection::vec(any::<u8>(), 0..100)) {
            let mut out = Vec::new();
            let _ = decode_for_groups(&mut ByteReader::new(&data), 10_000, &mut out);
        }
    }

    proptest! {
        #[test]
        fn packed_round_trip(values in proptest::collection::vec(
            prop_oneof![any::<u64>(), 0u64..4, Just(0u64)], 0..600)) {
            let mut buf = Vec::new();
            encode_packed(&values, &mut buf);
            let mut out = Vec::new();
            let mut r = ByteReader::new(&buf);
            decode_packed(&mut r, usize::MAX, &mut out).unwrap();
            prop_assert_eq!(out, values);
            prop_assert!(r.is_empty());
        }

        #[test]
        fn packed_decoder_never_panics(data in proptest::collection::vec(any::<u8>(), 0..100)) {
            let mut out = Vec::new();
            let _ = decode_packed(&mut ByteReader::new(&data), 10_000, &mut out);
        }
    }

    #[test]
    fn zero_groups_cost_one_byte() {
        let mut buf = Vec::new();
        encode_packed(&[0; 256], &mut buf);
        assert_eq!(buf.len(), 2 + 2); // varint(256) is two bytes, then two width bytes
    }
}
