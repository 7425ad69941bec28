//! Float columns with a per-column codec chosen at seal time.
//!
//! Column layout: `codec u8 | count varint | payload length varint | payload`.
//!
//! | codec | payload |
//! |---|---|
//! | `CONST` | the single value, 8 bytes LE |
//! | `DECIMAL` | scale `d` (0..=4), mode: delta (first value, then deltas) or plain, integers in frame-of-reference groups ([`super::ints::encode_for_groups`]) |
//! | `GORILLA` | [`super::gorilla`] XOR stream |
//! | `SHORTEST_DECIMAL` (block v5) | [`super::shortest_decimal`] |
//! | `CHIMP` (block v5) | [`super::chimp`] |
//! | `RATIO` (block v5) | [`super::ratio`] |
//!
//! `DECIMAL` applies when every value `v` equals `i / 10^d` bit-for-bit for an
//! integer `|i| < 2^53` (checked at encode time, so decoding is exact by
//! construction). This catches integer metrics (bytes, counts) and percentages
//! with a couple of decimals, which Gorilla compresses poorly.
//! `-0.0`, non-finite values and long fractions fall back to `GORILLA`.
//!
//! Real agents send full-precision doubles (cpu `usage_idle`
//! 97.49373433583960 is `100 × ticks / total`), which neither of those
//! shrinks, so a column is also encoded with the three lossless codecs of
//! block v5 and the smallest payload wins (ties keep the older codec, which
//! every binary reads). Each of them verifies every value bit-for-bit at
//! encode time, so any choice decodes exactly. Choosing costs CPU at seal
//! only (tens of MB/s of raw doubles); reads decode at about 1 GB/s.

use super::bytes::{ByteReader, put_ivarint, put_uvarint};
use super::gorilla::{decode_gorilla, encode_gorilla};
use super::ints::{decode_for_groups, encode_for_groups};
use super::{chimp, ratio, shortest_decimal};
use crate::error::DecodeError;

pub const CODEC_EMPTY: u8 = 0;
pub const CODEC_CONST: u8 = 1;
pub const CODEC_DECIMAL: u8 = 2;
pub const CODEC_GORILLA: u8 = 3;
pub const CODEC_SHORTEST_DECIMAL: u8 = 4;
pub const CODEC_CHIMP: u8 = 5;
pub const CODEC_RATIO: u8 = 6;

const MODE_DELTA: u8 = 0;
const MODE_FOR: u8 = 1;
const MAX_DECIMALS: u32 = 4;
const POW10: [f64; 5] = [1.0, 10.0, 100.0, 1000.0, 10000.0];
const MAX_EXACT_INT: f64 = 9_007_199_254_740_992.0; // 2^53

/// A float column codec of block v5: its encoder and decoder.
struct Lossless {
    codec: u8,
    encode: fn(&[f64], &mut Vec<u8>),
    decode: fn(&mut ByteReader<'_>, usize, &mut Vec<f64>) -> Result<(), DecodeError>,
}

const LOSSLESS: [Lossless; 3] = [
    Lossless {
        codec: CODEC_SHORTEST_DECIMAL,
        encode: shortest_decimal::encode,
        decode: shortest_decimal::decode,
    },
    Lossless {
        codec: CODEC_CHIMP,
        encode: chimp::encode,
        decode: chimp::decode,
    },
    Lossless {
        codec: CODEC_RATIO,
        encode: ratio::encode,
        decode: ratio::decode,
    },
];

/// Appends the column for `values` with the smallest codec; returns it.
pub fn encode_floats(values: &[f64], out: &mut Vec<u8>) -> u8 {
    let (mut codec, mut payload) = block_v4_payload(values);
    if codec != CODEC_EMPTY && codec != CODEC_CONST {
        let mut candidate = Vec::new();
        for c in &LOSSLESS {
            candidate.clear();
            (c.encode)(values, &mut candidate);
            if candidate.len() < payload.len() {
                codec = c.codec;
                std::mem::swap(&mut payload, &mut candidate);
            }
        }
    }
    put_column(codec, values.len(), &payload, out);
    codec
}

/// Appends the column as block v4 wrote it (const, decimal or Gorilla); the
/// baseline `stratus bench codec` compares against.
pub fn encode_floats_block_v4(values: &[f64], out: &mut Vec<u8>) -> u8 {
    let (codec, payload) = block_v4_payload(values);
    put_column(codec, values.len(), &payload, out);
    codec
}

fn block_v4_payload(values: &[f64]) -> (u8, Vec<u8>) {
    let mut payload = Vec::new();
    let codec = if values.is_empty() {
        CODEC_EMPTY
    } else if values.iter().all(|v| v.to_bits() == values[0].to_bits()) {
        payload.extend_from_slice(&values[0].to_bits().to_le_bytes());
        CODEC_CONST
    } else if let Some((scale, ints)) = as_decimals(values) {
        encode_decimal(scale, &ints, &mut payload);
        CODEC_DECIMAL
    } else {
        encode_gorilla(values, &mut payload);
        CODEC_GORILLA
    };
    (codec, payload)
}

fn put_column(codec: u8, count: usize, payload: &[u8], out: &mut Vec<u8>) {
    out.push(codec);
    put_uvarint(out, count as u64);
    put_uvarint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// Decodes one column, at most `max_count` values.
pub fn decode_floats(
    r: &mut ByteReader<'_>,
    max_count: usize,
    out: &mut Vec<f64>,
) -> Result<(), DecodeError> {
    let codec = r.u8()?;
    let count = r.len(max_count)?;
    let payload = r.chunk()?;
    let mut p = ByteReader::new(payload);
    match codec {
        CODEC_EMPTY if count == 0 => {}
        CODEC_CONST => {
            let v = p.f64_le()?;
            out.extend(std::iter::repeat_n(v, count));
        }
        CODEC_DECIMAL => decode_decimal(&mut p, count, out)?,
        CODEC_GORILLA => decode_gorilla(payload, count, out)?,
        codec => {
            let c = LOSSLESS
                .iter()
                .find(|c| c.codec == codec)
                .ok_or(DecodeError("unknown float codec"))?;
            let before = out.len();
            (c.decode)(&mut p, count, out)?;
            if out.len() - before != count || !p.is_empty() {
                return Err(DecodeError("float column count mismatch"));
            }
        }
    }
    Ok(())
}

/// Finds the smallest decimal scale that represents every value exactly.
fn as_decimals(values: &[f64]) -> Option<(u32, Vec<i64>)> {
    let mut scale = 0u32;
    for &v in values {
        while !exact_at(v, scale) {
            scale += 1;
            if scale > MAX_DECIMALS {
                return None;
            }
        }
    }
    // A value exact at a smaller scale is almost always exact at a larger one,
    // but verify rather than assume.
    let mut ints = Vec::with_capacity(values.len());
    for &v in values {
        ints.push(to_scaled(v, scale)?);
    }
    Some((scale, ints))
}

#[inline]
fn to_scaled(v: f64, scale: u32) -> Option<i64> {
    let p = POW10[scale as usize];
    let s = (v * p).round();
    if s.is_nan() || s.abs() >= MAX_EXACT_INT {
        return None;
    }
    let i = s as i64;
    ((i as f64 / p).to_bits() == v.to_bits()).then_some(i)
}

#[inline]
fn exact_at(v: f64, scale: u32) -> bool {
    to_scaled(v, scale).is_some()
}

fn encode_decimal(scale: u32, ints: &[i64], out: &mut Vec<u8>) {
    out.push(scale as u8);
    // Two layouts, keep the smaller: deltas suit slowly moving gauges and
    // counters, plain frame-of-reference suits noisy values in a band.
    // |i| < 2^53, so differences cannot overflow.
    let deltas: Vec<i64> = ints.windows(2).map(|w| w[1] - w[0]).collect();
    let mut by_delta = vec![MODE_DELTA];
    put_ivarint(&mut by_delta, ints.first().copied().unwrap_or(0));
    encode_for_groups(&deltas, &mut by_delta);
    let mut by_value = vec![MODE_FOR];
    encode_for_groups(ints, &mut by_value);
    out.extend_from_slice(if by_delta.len() <= by_value.len() {
        &by_delta
    } else {
        &by_value
    });
}

fn decode_decimal(
    p: &mut ByteReader<'_>,
    count: usize,
    out: &mut Vec<f64>,
) -> Result<(), DecodeError> {
    let scale = p.u8()?;
    if u32::from(scale) > MAX_DECIMALS {
        return Err(DecodeError("decimal scale out of range"));
    }
    let div = POW10[scale as usize];
    let mode = p.u8()?;
    let mut ints = Vec::new();
    match mode {
        MODE_DELTA => {
            let first = p.ivarint()?;
            decode_for_groups(p, count.saturating_sub(1), &mut ints)?;
            if count == 0 || ints.len() != count - 1 {
                return Err(DecodeError("decimal column count mismatch"));
            }
            out.reserve(count);
            let mut cur = first;
            out.push(cur as f64 / div);
            for d in ints {
                cur = cur.wrapping_add(d);
                out.push(cur as f64 / div);
            }
        }
        MODE_FOR => {
            decode_for_groups(p, count, &mut ints)?;
            if ints.len() != count {
                return Err(DecodeError("decimal column count mismatch"));
            }
            out.extend(ints.into_iter().map(|i| i as f64 / div));
        }
        _ => return Err(DecodeError("unknown decimal mode")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::test_support::hard_value;
    use proptest::prelude::*;

    fn round_trip(values: &[f64]) -> (u8, usize) {
        let mut buf = Vec::new();
        let codec = encode_floats(values, &mut buf);
        let mut out = Vec::new();
        let mut r = ByteReader::new(&buf);
        decode_floats(&mut r, values.len(), &mut out).unwrap();
        assert!(r.is_empty());
        let a: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
        let b: Vec<u64> = out.iter().map(|v| v.to_bits()).collect();
        assert_eq!(a, b, "codec {codec}");
        (codec, buf.len())
    }

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(0.0),
            Just(-0.0),
            Just(1e300),
            Just(-1e-300),
            Just(5e-324),
            Just(f64::MAX),
            Just(9_007_199_254_740_991.0),
            Just(9_007_199_254_740_993.0),
            any::<f64>().prop_filter("NaN-free", |v| !v.is_nan()),
            (-100_000i64..100_000).prop_map(|i| i as f64 / 100.0),
            (-1i64 << 52..1i64 << 52).prop_map(|i| i as f64),
            (0i64..1_000_000).prop_map(|i| i as f64 / 10_000.0),
        ]
    }

    proptest! {
        #[test]
        fn float_columns_round_trip(values in proptest::collection::vec(value(), 0..400)) {
            round_trip(&values);
        }

        #[test]
        fn decimal_columns_round_trip(ints in proptest::collection::vec(-1i64<<40..1i64<<40, 1..400), d in 0usize..5) {
            let values: Vec<f64> = ints.iter().map(|&i| i as f64 / POW10[d]).collect();
            round_trip(&values);
        }

        #[test]
        fn hard_values_round_trip_bit_exact(values in proptest::collection::vec(hard_value(), 0..300)) {
            round_trip(&values);
        }

        /// Garbage that happens to decode re-encodes to the same bits.
        #[test]
        fn decoded_garbage_re_encodes_bit_exact(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut values = Vec::new();
            if decode_floats(&mut ByteReader::new(&data), 4096, &mut values).is_ok() {
                round_trip(&values);
            }
        }

        #[test]
        fn float_decoder_never_panics(data in proptest::collection::vec(any::<u8>(), 0..100)) {
            let mut out = Vec::new();
            let _ = decode_floats(&mut ByteReader::new(&data), 5000, &mut out);
            prop_assert!(out.len() <= 5000);
        }
    }

    #[test]
    fn block_v4_picks_the_expected_codec() {
        let v4 = |values: &[f64]| encode_floats_block_v4(values, &mut Vec::new());
        assert_eq!(v4(&[]), CODEC_EMPTY);
        assert_eq!(v4(&[3.5; 100]), CODEC_CONST);
        let pct: Vec<f64> = (0..1000)
            .map(|i| ((i * 37) % 10_000) as f64 / 100.0)
            .collect();
        assert_eq!(v4(&pct), CODEC_DECIMAL);
        let irrational: Vec<f64> = (1..1000).map(|i| (i as f64).sqrt()).collect();
        assert_eq!(v4(&irrational), CODEC_GORILLA);
        assert_eq!(v4(&[1.0, -0.0, 2.0]), CODEC_GORILLA);
    }

    #[test]
    fn never_larger_than_block_v4() {
        let pct: Vec<f64> = (0..1000)
            .map(|i| ((i * 37) % 10_000) as f64 / 100.0)
            .collect();
        let irrational: Vec<f64> = (1..1000).map(|i| (i as f64).sqrt()).collect();
        for values in [
            &[][..],
            &[3.5; 100][..],
            &pct,
            &irrational,
            &[1.0, -0.0, 2.0],
        ] {
            let mut old = Vec::new();
            encode_floats_block_v4(values, &mut old);
            let (_, len) = round_trip(values);
            assert!(len <= old.len(), "{len} > {}", old.len());
        }
        assert_eq!(round_trip(&[]).0, CODEC_EMPTY);
        assert_eq!(round_trip(&[3.5; 100]).0, CODEC_CONST);
    }

    /// The agent's cpu percentages are `100 × p / q` of tick counts: full
    /// 53-bit doubles Gorilla barely shrinks, that the ratio codec stores in
    /// under two bytes each.
    fn agent_cpu(n: u64) -> Vec<f64> {
        (0..n)
            .map(|i| {
                let total = 2000 + (i * 7) % 13;
                let busy = (i * 31) % 97;
                100.0 * (total - busy) as f64 / total as f64
            })
            .collect()
    }

    #[test]
    fn agent_cpu_percentages_take_the_ratio_codec() {
        let values = agent_cpu(720);
        let mut old = Vec::new();
        assert_eq!(encode_floats_block_v4(&values, &mut old), CODEC_GORILLA);
        let (codec, len) = round_trip(&values);
        assert_eq!(codec, CODEC_RATIO);
        assert!(len * 3 < old.len(), "{len} vs block v4's {}", old.len());
        assert!(len < 720 * 2, "{len} bytes");
    }

    #[test]
    fn full_precision_decimals_take_the_shortest_decimal_codec() {
        // Five significant decimals at varying scales: not ≤ 4 decimals, so
        // block v4 fell back to Gorilla.
        let values: Vec<f64> = (0..720)
            .map(|i| 1234.5 + f64::from((i * 7919) % 1000) * 0.00001)
            .collect();
        let mut old = Vec::new();
        assert_eq!(encode_floats_block_v4(&values, &mut old), CODEC_GORILLA);
        let (codec, len) = round_trip(&values);
        assert_eq!(codec, CODEC_SHORTEST_DECIMAL);
        assert!(len * 2 < old.len(), "{len} vs block v4's {}", old.len());
    }

    #[test]
    fn a_lossless_payload_must_hold_exactly_its_count() {
        let values = agent_cpu(50);
        let mut buf = Vec::new();
        assert_eq!(encode_floats(&values, &mut buf), CODEC_RATIO);
        // Claim one value fewer in the column header than the payload holds.
        buf[1] -= 1;
        let mut out = Vec::new();
        assert!(decode_floats(&mut ByteReader::new(&buf), 100, &mut out).is_err());
    }

    #[test]
    fn slowly_growing_integers_are_compact() {
        let values: Vec<f64> = (0..1440)
            .map(|i| 8_000_000_000.0 + (i * 4096) as f64)
            .collect();
        let (codec, len) = round_trip(&values);
        assert!(
            matches!(codec, CODEC_DECIMAL | CODEC_SHORTEST_DECIMAL),
            "{codec}"
        );
        assert!(len < 1440 / 16, "{len} bytes");
    }
}
