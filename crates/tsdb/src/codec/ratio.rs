//! Percentages of integer counts: the agent's cpu fields are
//! `100 × ticks / total_ticks` (usage_idle 97.49373433583960 is
//! `100 × p / q` for tick counts p ≤ q ≈ 2000), full 53-bit doubles that decimal and XOR
//! codecs cannot shrink, yet exactly `100.0 * p as f64 / q as f64` for small
//! integers. Each value becomes `(p, q)`, `q ≤ 2^32`, found among the
//! continued-fraction convergents of `v / 100` (Legendre: a fraction this
//! close is one of them), then scaled to the multiple of its reduced form
//! nearest the previous `q` so the `q` column stays nearly constant. The
//! previous `q` itself is tried first, which keeps `q` constant for a gauge
//! over a fixed total whose reduced fractions vary (used / total bytes).
//! Values with no such fraction (or -0.0, NaN, ±inf) are raw exceptions.
//!
//! Layout: `count uvarint | exceptions (as shortest_decimal) |
//! q integers | p integers`, each integer column in the smallest of the FOR,
//! delta and delta-of-delta layouts. The encoder checks every `(p, q)`
//! bit-for-bit, so decoding is exact by construction.

use super::shortest_decimal::{
    put_exceptions, read_exceptions, read_int_layout, smallest_int_layout,
};
use crate::codec::bytes::{ByteReader, put_uvarint};
use crate::error::DecodeError;

const MAX_Q: i64 = 1 << 32;
/// `100 × p` stays exact in an f64.
const MAX_P: i64 = 1 << 40;

#[inline]
pub fn to_f64(p: i64, q: i64) -> f64 {
    100.0 * p as f64 / q as f64
}

/// The smallest-denominator `(p, q)` with `to_f64(p, q) == v` bit-for-bit.
fn reduced(v: f64) -> Option<(i64, i64)> {
    if !v.is_finite() || v.to_bits() == (-0.0f64).to_bits() {
        return None;
    }
    let x = (v / 100.0).abs();
    // Convergents h/k of x.
    let (mut h0, mut h1, mut k0, mut k1) = (0i64, 1i64, 1i64, 0i64);
    let mut rest = x;
    for _ in 0..40 {
        if !(rest.is_finite() && rest < MAX_P as f64) {
            return None;
        }
        let a = rest.floor() as i64;
        let h = a.checked_mul(h1)?.checked_add(h0)?;
        let k = a.checked_mul(k1)?.checked_add(k0)?;
        if k > MAX_Q || h > MAX_P {
            return None;
        }
        let p = if v < 0.0 { -h } else { h };
        if to_f64(p, k).to_bits() == v.to_bits() {
            return Some((p, k));
        }
        (h0, h1, k0, k1) = (h1, h, k1, k);
        let frac = rest - a as f64;
        if frac == 0.0 {
            return None;
        }
        rest = 1.0 / frac;
    }
    None
}

/// `(p, q)` for this `q`, if `100 × p / q` is `v` bit-for-bit. Trying the
/// previous value's `q` first keeps the `q` column constant for a gauge
/// over a fixed total (`mem_used_percent` is `100 × used / total` bytes).
#[inline]
fn with_q(v: f64, q: i64) -> Option<(i64, i64)> {
    let p = (v * q as f64 / 100.0).round();
    // NaN and out-of-range fail this test.
    if p.is_nan() || p.abs() > MAX_P as f64 {
        return None;
    }
    let p = p as i64;
    (to_f64(p, q).to_bits() == v.to_bits()).then_some((p, q))
}

/// Appends the chunk for `values`.
pub fn encode(values: &[f64], out: &mut Vec<u8>) {
    let mut ps = Vec::with_capacity(values.len());
    let mut qs = Vec::with_capacity(values.len());
    let mut exceptions = Vec::new();
    let (mut prev_p, mut prev_q) = (0i64, 1i64);
    for (i, &v) in values.iter().enumerate() {
        let scaled = with_q(v, prev_q).or_else(|| {
            reduced(v).map(|(p, q)| {
                let k = ((prev_q + q / 2) / q).clamp(1, MAX_Q / q);
                with_q(v, q * k).unwrap_or((p, q))
            })
        });
        match scaled {
            Some((p, q)) => (prev_p, prev_q) = (p, q),
            None => exceptions.push(i),
        }
        ps.push(prev_p);
        qs.push(prev_q);
    }
    put_uvarint(out, values.len() as u64);
    put_exceptions(values, &exceptions, out);
    out.extend_from_slice(&smallest_int_layout(&qs));
    out.extend_from_slice(&smallest_int_layout(&ps));
}

/// Decodes one chunk written by [`encode`]; at most `max_count` values.
pub fn decode(
    r: &mut ByteReader<'_>,
    max_count: usize,
    out: &mut Vec<f64>,
) -> Result<(), DecodeError> {
    let count = r.len(max_count)?;
    let exceptions = read_exceptions(r, count)?;
    let qs = read_int_layout(r, count)?;
    let ps = read_int_layout(r, count)?;
    let start = out.len();
    out.extend(ps.into_iter().zip(qs).map(|(p, q)| to_f64(p, q)));
    for (i, v) in exceptions {
        out[start + i] = v;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::test_support::hard_value;
    use proptest::prelude::*;

    fn round_trip(values: &[f64]) -> usize {
        crate::codec::test_support::round_trip(encode, decode, values)
    }

    proptest! {
        #[test]
        fn round_trips_bit_exact(values in proptest::collection::vec(hard_value(), 0..300)) {
            round_trip(&values);
        }

        #[test]
        fn tick_percentages_are_found(p in 0i64..4000, q in 1i64..4000) {
            let v = to_f64(p, q);
            let (rp, rq) = reduced(v).unwrap();
            prop_assert_eq!(to_f64(rp, rq).to_bits(), v.to_bits());
        }

        #[test]
        fn decoder_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut out = Vec::new();
            let _ = decode(&mut ByteReader::new(&data), 4096, &mut out);
            prop_assert!(out.len() <= 4096);
        }
    }

    #[test]
    fn cpu_percentages_cost_under_two_bytes() {
        // usage_idle of a 2-core host: ~2000 ticks per 10 s, idle ~98 %.
        let values: Vec<f64> = (0..720i64)
            .map(|i| {
                let total = 1990 + (i * 7) % 21;
                to_f64(total - 20 - (i * 13) % 40, total)
            })
            .collect();
        let len = round_trip(&values);
        assert!(len < 2 * 720, "{len} bytes");
        assert_eq!(reduced(0.3508771929824561), Some((1, 285)));
    }
}
