//! Test support shared by the float codecs' tests: bit-exact round trips
//! and the values that stress lossless float codecs.

use super::bytes::ByteReader;
use crate::error::DecodeError;

/// Bit-exact comparison (NaN payloads and -0.0 included).
pub(crate) fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Encodes `values` with `encode`, decodes them with `decode`, asserts the
/// same bits come back and the chunk is consumed whole; returns its size.
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
