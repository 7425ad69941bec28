//! Lossless decimal conversion: each f64 becomes the shortest decimal
//! `digits × 10^e` that parses back to the same bits (Rust's `{:e}` prints
//! exactly that, the Ryu/Grisu shortest form), all scaled to one exponent
//! `E` per chunk, so the chunk is a column of integers `M` with
//! `value = M × 10^E`. Values that do not fit (NaN, ±inf, -0.0, more than
//! 18 digits at `E`, below `E`) are exceptions kept as raw f64 bits.
//!
//! Layout: `count uvarint | E ivarint | exceptions uvarint |
//! (position gap uvarint)* | (raw bits u64 LE)* | mode u8 | integers`,
//! integers by mode: `FOR` [`encode_for_groups`] of `M`; `DELTA` first `M`
//! ivarint then FOR groups of deltas; `DOD` first `M`, first delta, then FOR
//! groups of delta-of-deltas. The encoder keeps the smallest mode. An
//! exception's slot holds the previous `M`, so it costs no delta.
//!
//! Decoding `M × 10^E` strips `M`'s trailing zeros, then rounds correctly
//! (exact fast path when `|M| < 2^53` and `|E| <= 22`, else the standard
//! library's correctly rounded parser); the encoder checks each value's
//! shortest form decodes bit-for-bit before using it, so the round trip is
//! exact by construction.

use crate::codec::bytes::{ByteReader, put_ivarint, put_uvarint};
use crate::codec::ints::{decode_for_groups, encode_for_groups};
use crate::error::DecodeError;

const MODE_FOR: u8 = 0;
const MODE_DELTA: u8 = 1;
const MODE_DOD: u8 = 2;
/// Exponents of finite non-zero doubles' shortest forms lie in -343..=308.
const MAX_EXPONENT: i64 = 400;
const POW10_I64: [i64; 19] = {
    let mut t = [1i64; 19];
    let mut i = 1;
    while i < 19 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};
const POW10_F64: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The shortest decimal `(digits, exponent)` that round-trips `v`, with no
/// trailing zeros in `digits`; `None` for NaN, ±inf and -0.0.
pub fn shortest(v: f64) -> Option<(i64, i32)> {
    if !v.is_finite() || v.to_bits() == (-0.0f64).to_bits() {
        return None;
    }
    if v == 0.0 {
        return Some((0, 0));
    }
    let text = format!("{:e}", v.abs());
    let (mantissa, exp) = text.split_once('e')?;
    let exp: i32 = exp.parse().ok()?;
    let mut digits: i64 = 0;
    let mut fraction_digits = 0i32;
    let mut after_point = false;
    for c in mantissa.bytes() {
        match c {
            b'.' => after_point = true,
            b'0'..=b'9' => {
                digits = digits.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
                fraction_digits += i32::from(after_point);
            }
            _ => return None,
        }
    }
    let mut exp = exp - fraction_digits;
    while digits % 10 == 0 {
        digits /= 10;
        exp += 1;
    }
    Some((if v < 0.0 { -digits } else { digits }, exp))
}

/// `m × 10^e`, correctly rounded.
pub fn to_f64(mut m: i64, mut e: i32) -> f64 {
    if m == 0 {
        return 0.0;
    }
    while m % 10 == 0 {
        m /= 10;
        e += 1;
    }
    if m.unsigned_abs() < 1 << 53 && (-22..=22).contains(&e) {
        // Clinger's fast path: both operands exact, one rounding.
        return if e >= 0 {
            m as f64 * POW10_F64[e as usize]
        } else {
            m as f64 / POW10_F64[(-e) as usize]
        };
    }
    format!("{m}e{e}").parse().unwrap_or(f64::NAN)
}

/// Appends the chunk for `values` (see the module docs).
pub fn encode(values: &[f64], out: &mut Vec<u8>) {
    // Checked once here: scaling `digits` by `10^k` below keeps the decode
    // exact, since the decoder strips those zeros back before rounding.
    let forms: Vec<Option<(i64, i32)>> = values
        .iter()
        .map(|&v| shortest(v).filter(|&(d, e)| to_f64(d, e).to_bits() == v.to_bits()))
        .collect();
    let mut exps: Vec<i32> = forms.iter().flatten().map(|&(_, e)| e).collect();
    exps.sort_unstable();
    exps.dedup();
    // The smallest exponent makes every value an integer but may overflow 18
    // digits; a few larger ones trade the smallest-exponent outliers for
    // exceptions. Keep the smallest result.
    let mut tried: Vec<i32> = [0, exps.len() / 4, exps.len() / 2]
        .iter()
        .filter_map(|&i| exps.get(i).copied())
        .collect();
    tried.dedup();
    if tried.is_empty() {
        tried.push(0);
    }
    let mut best: Option<Vec<u8>> = None;
    for e in tried {
        let mut buf = Vec::new();
        encode_at(values, &forms, e, &mut buf);
        if best.as_ref().is_none_or(|b| buf.len() < b.len()) {
            best = Some(buf);
        }
    }
    out.extend_from_slice(&best.unwrap_or_default());
}

fn encode_at(values: &[f64], forms: &[Option<(i64, i32)>], e: i32, out: &mut Vec<u8>) {
    let mut ints = Vec::with_capacity(values.len());
    let mut exceptions = Vec::new();
    let mut prev = 0i64;
    for (i, form) in forms.iter().enumerate() {
        let scaled = form.and_then(|(d, de)| {
            let shift = usize::try_from(de - e).ok()?;
            d.checked_mul(*POW10_I64.get(shift)?)
        });
        match scaled {
            Some(m) => prev = m,
            None => exceptions.push(i),
        }
        ints.push(prev);
    }
    put_uvarint(out, values.len() as u64);
    put_ivarint(out, i64::from(e));
    put_exceptions(values, &exceptions, out);
    out.extend_from_slice(&smallest_int_layout(&ints));
}

/// `count | (position gap uvarint)* | (raw bits u64 LE)*` of the values at
/// `positions` (increasing).
pub(super) fn put_exceptions(values: &[f64], positions: &[usize], out: &mut Vec<u8>) {
    put_uvarint(out, positions.len() as u64);
    let mut last = 0usize;
    for &i in positions {
        put_uvarint(out, (i - last) as u64);
        last = i;
    }
    for &i in positions {
        out.extend_from_slice(&values[i].to_bits().to_le_bytes());
    }
}

/// Reads [`put_exceptions`] for a chunk of `count` values.
pub(super) fn read_exceptions(
    r: &mut ByteReader<'_>,
    count: usize,
) -> Result<Vec<(usize, f64)>, DecodeError> {
    let n_exc = r.len(count)?;
    let mut positions = Vec::with_capacity(n_exc);
    let mut pos = 0usize;
    for k in 0..n_exc {
        let gap = usize::try_from(r.uvarint()?).map_err(|_| DecodeError("exception gap"))?;
        if k > 0 && gap == 0 {
            return Err(DecodeError("exception positions not increasing"));
        }
        pos = pos
            .checked_add(gap)
            .filter(|&p| p < count)
            .ok_or(DecodeError("exception position out of range"))?;
        positions.push(pos);
    }
    let mut out = Vec::with_capacity(n_exc);
    for p in positions {
        out.push((p, f64::from_bits(r.u64_le()?)));
    }
    Ok(out)
}

/// `mode | integers` with the smallest of the FOR, delta and
/// delta-of-delta layouts.
pub(super) fn smallest_int_layout(ints: &[i64]) -> Vec<u8> {
    let mut by_value = vec![MODE_FOR];
    encode_for_groups(ints, &mut by_value);
    let deltas: Vec<i64> = ints.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
    let mut by_delta = vec![MODE_DELTA];
    put_ivarint(&mut by_delta, ints.first().copied().unwrap_or(0));
    encode_for_groups(&deltas, &mut by_delta);
    let dods: Vec<i64> = deltas.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
    let mut by_dod = vec![MODE_DOD];
    put_ivarint(&mut by_dod, ints.first().copied().unwrap_or(0));
    put_ivarint(&mut by_dod, deltas.first().copied().unwrap_or(0));
    encode_for_groups(&dods, &mut by_dod);
    [by_value, by_delta, by_dod]
        .into_iter()
        .min_by_key(Vec::len)
        .unwrap_or_default()
}

/// Decodes one chunk written by [`encode`]; at most `max_count` values.
pub fn decode(
    r: &mut ByteReader<'_>,
    max_count: usize,
    out: &mut Vec<f64>,
) -> Result<(), DecodeError> {
    let count = r.len(max_count)?;
    let e = r.ivarint()?;
    if !(-MAX_EXPONENT..=MAX_EXPONENT).contains(&e) {
        return Err(DecodeError("decimal exponent out of range"));
    }
    let e = e as i32;
    let exceptions = read_exceptions(r, count)?;
    let ints = read_int_layout(r, count)?;
    let start = out.len();
    out.extend(ints.into_iter().map(|m| to_f64(m, e)));
    for (p, v) in exceptions {
        out[start + p] = v;
    }
    Ok(())
}

/// Reads [`smallest_int_layout`]: exactly `count` integers.
pub(super) fn read_int_layout(
    r: &mut ByteReader<'_>,
    count: usize,
) -> Result<Vec<i64>, DecodeError> {
    let mut ints = Vec::new();
    match r.u8()? {
        MODE_FOR => decode_for_groups(r, count, &mut ints)?,
        MODE_DELTA | MODE_DOD if count == 0 => {
            return Err(DecodeError("empty chunk with a delta layout"));
        }
        MODE_DELTA => {
            let first = r.ivarint()?;
            let mut deltas = Vec::new();
            decode_for_groups(r, count - 1, &mut deltas)?;
            ints.push(first);
            for d in deltas {
                let next = ints[ints.len() - 1].wrapping_add(d);
                ints.push(next);
            }
        }
        MODE_DOD => {
            let first = r.ivarint()?;
            let mut delta = r.ivarint()?;
            let mut dods = Vec::new();
            decode_for_groups(r, count.saturating_sub(2), &mut dods)?;
            ints.push(first);
            if count >= 2 {
                ints.push(first.wrapping_add(delta));
            }
            for dd in dods {
                delta = delta.wrapping_add(dd);
                let next = ints[ints.len() - 1].wrapping_add(delta);
                ints.push(next);
            }
        }
        _ => return Err(DecodeError("unknown decimal layout")),
    }
    if ints.len() != count {
        return Err(DecodeError("integer column count mismatch"));
    }
    Ok(ints)
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
        fn shortest_form_round_trips(v in any::<f64>()) {
            if let Some((m, e)) = shortest(v) {
                prop_assert_eq!(to_f64(m, e).to_bits(), v.to_bits());
            }
        }

        #[test]
        fn decoder_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut out = Vec::new();
            let _ = decode(&mut ByteReader::new(&data), 4096, &mut out);
            prop_assert!(out.len() <= 4096);
        }
    }

    #[test]
    fn agent_values_take_their_printed_form() {
        assert_eq!(shortest(97.4937343358396), Some((974937343358396, -13)));
        assert_eq!(shortest(12638089216.0), Some((12638089216, 0)));
        assert_eq!(shortest(-1500.0), Some((-15, 2)));
        assert_eq!(shortest(0.0), Some((0, 0)));
        assert_eq!(shortest(-0.0), None);
    }

    #[test]
    fn two_decimal_gauges_cost_about_a_byte() {
        let values: Vec<f64> = (0..720)
            .map(|i| (5000 + (i * 7) % 50) as f64 / 100.0)
            .collect();
        let len = round_trip(&values);
        assert!(len < 720, "{len} bytes");
    }
}
