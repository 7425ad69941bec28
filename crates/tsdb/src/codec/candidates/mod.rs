//! Candidate float codecs measured by `stratus bench codec` (issue 17) and
//! NOT wired into sealing: nothing on disk uses them yet, so their byte
//! layouts may still change freely.
//!
//! - [`shortest_decimal`]: each value as the shortest decimal that parses
//!   back to the exact f64, all scaled to one exponent per chunk, integers
//!   delta / delta-of-delta / frame-of-reference packed; raw f64 exceptions.
//! - [`chimp`]: Chimp128 XOR compression against the best of the last 128
//!   values.
//! - [`ratio`]: values that are `100 × p / q` for small integers (the
//!   agent's cpu percentages of tick counts) as `(p, q)` columns.
//! - [`encode_best`]: per chunk, the smallest of those three and today's
//!   sealing codec ([`super::floats`]), behind one tag byte.
//!
//! Wiring plan (not done): give each candidate a float-column codec id in
//! [`super::floats`] (4 decimal, 5 chimp, 6 ratio; ids 0–3 keep their meaning
//! and decoders) and pick the smallest at seal, as [`encode_best`] does;
//! write such blocks as block version 5 (`block.rs` header), so blocks v1–v4
//! read exactly as today, a binary that predates v5 refuses the file by its
//! version rather than misreading a column, and merges rewrite old blocks
//! into v5 over time. The WAL keeps raw f64 and needs no change.

pub mod chimp;
pub mod ratio;
pub mod shortest_decimal;

use super::bytes::ByteReader;
use super::floats::{decode_floats, encode_floats};
use crate::error::DecodeError;

/// Tag byte of [`encode_best`]'s output.
pub const BEST_FLOATS: u8 = 0;
pub const BEST_DECIMAL: u8 = 1;
pub const BEST_CHIMP: u8 = 2;
pub const BEST_RATIO: u8 = 3;

/// Appends `tag | column`, the column being the smallest of the three
/// encodings; returns the tag.
pub fn encode_best(values: &[f64], out: &mut Vec<u8>) -> u8 {
    let mut candidates = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    encode_floats(values, &mut candidates[0]);
    shortest_decimal::encode(values, &mut candidates[1]);
    chimp::encode(values, &mut candidates[2]);
    ratio::encode(values, &mut candidates[3]);
    let (tag, best) = candidates
        .iter()
        .enumerate()
        .min_by_key(|(_, c)| c.len())
        .map(|(i, c)| (i as u8, c))
        .unwrap_or((BEST_FLOATS, &candidates[0]));
    out.push(tag);
    out.extend_from_slice(best);
    tag
}

/// Decodes [`encode_best`]; at most `max_count` values.
pub fn decode_best(
    r: &mut ByteReader<'_>,
    max_count: usize,
    out: &mut Vec<f64>,
) -> Result<(), DecodeError> {
    match r.u8()? {
        BEST_FLOATS => decode_floats(r, max_count, out),
        BEST_DECIMAL => shortest_decimal::decode(r, max_count, out),
        BEST_CHIMP => chimp::decode(r, max_count, out),
        BEST_RATIO => ratio::decode(r, max_count, out),
        _ => Err(DecodeError("unknown candidate float codec")),
    }
}

/// Bit-exact comparison (NaN payloads and -0.0 included).
#[cfg(test)]
pub(crate) fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Encodes `values` with `encode`, decodes them with `decode`, asserts the
/// same bits come back and the chunk is consumed whole; returns its size.
#[cfg(test)]
pub(crate) fn round_trip(
    encode: fn(&[f64], &mut Vec<u8>),
    decode: fn(&mut ByteReader<'_>, usize, &mut Vec<f64>) -> Result<(), DecodeError>,
    values: &[f64],
) -> usize {
    let mut buf = Vec::new();
    encode(values, &mut buf);
    let mut r = ByteReader::new(&buf);
    let mut out = Vec::new();
    decode(&mut r, values.len(), &mut out).unwrap();
    assert!(same_bits(values, &out), "{values:?} -> {out:?}");
    assert!(r.is_empty());
    buf.len()
}

/// Values that stress lossless float codecs: every special class plus
/// agent-like full-precision ratios, counters and two-decimal values.
#[cfg(test)]
pub(crate) fn hard_value() -> impl proptest::strategy::Strategy<Value = f64> {
    use proptest::prelude::*;
    prop_oneof![
        Just(0.0),
        Just(-0.0),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::NAN),
        Just(f64::from_bits(0x7ff0_0000_dead_beef)), // NaN with a payload
        Just(f64::from_bits(0xfff8_0000_0000_0001)), // negative quiet NaN
        Just(5e-324),
        Just(-2.2250738585072e-308), // subnormal
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        Just(9_007_199_254_740_993.0),
        any::<u64>().prop_map(f64::from_bits),
        any::<f64>(),
        (1u64..1000, 1u64..1000).prop_map(|(a, b)| 100.0 * a as f64 / (a + b) as f64),
        (0i64..1_000_000).prop_map(|i| i as f64 / 100.0),
        (0u64..1 << 40).prop_map(|i| i as f64),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn best_round_trips_bit_exact(values in proptest::collection::vec(hard_value(), 0..300)) {
            round_trip(|v, out| { encode_best(v, out); }, decode_best, &values);
        }

        /// What the fuzz target checks: garbage that happens to decode
        /// re-encodes, with every codec, to the same bits.
        #[test]
        fn decoded_garbage_re_encodes_bit_exact(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            type Dec = fn(&mut ByteReader<'_>, usize, &mut Vec<f64>) -> Result<(), DecodeError>;
            type Enc = fn(&[f64], &mut Vec<u8>);
            let codecs: [(Dec, Enc); 4] = [
                (ratio::decode, ratio::encode),
                (shortest_decimal::decode, shortest_decimal::encode),
                (chimp::decode, chimp::encode),
                (decode_best, |v, out| { encode_best(v, out); }),
            ];
            for (decode, encode) in codecs {
                let mut values = Vec::new();
                if decode(&mut ByteReader::new(&data), 4096, &mut values).is_ok() {
                    let mut again = Vec::new();
                    encode(&values, &mut again);
                    let mut back = Vec::new();
                    decode(&mut ByteReader::new(&again), values.len(), &mut back).unwrap();
                    prop_assert!(same_bits(&values, &back));
                }
            }
        }

        #[test]
        fn best_decoder_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut out = Vec::new();
            let _ = decode_best(&mut ByteReader::new(&data), 4096, &mut out);
            prop_assert!(out.len() <= 4096);
        }
    }
}
