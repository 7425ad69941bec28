//! Gorilla XOR float compression (Pelkonen et al., VLDB 2015), the fallback
//! codec for float columns that are not short decimals.
//!
//! Each value is XORed with its predecessor. A zero XOR costs one bit; else a
//! control bit says whether the meaningful bits fit the previous window
//! (leading/trailing zero counts) or a new window follows (5 bits of leading
//! zeros capped at 31, 6 bits of length where 0 means 64).

use super::bits::{BitReader, BitWriter};
use crate::error::DecodeError;

pub fn encode_gorilla(values: &[f64], out: &mut Vec<u8>) {
    let Some(&first) = values.first() else {
        return;
    };
    let mut w = BitWriter::new();
    let mut prev = first.to_bits();
    w.write(prev, 64);
    // Start with an impossible window so the first non-zero XOR opens one.
    let mut lead: u32 = u32::MAX;
    let mut trail: u32 = 0;
    for &v in &values[1..] {
        let bits = v.to_bits();
        let xor = bits ^ prev;
        prev = bits;
        if xor == 0 {
            w.write_bit(false);
            continue;
        }
        w.write_bit(true);
        let l = xor.leading_zeros().min(31);
        let t = xor.trailing_zeros();
        if lead != u32::MAX && l >= lead && t >= trail {
            w.write_bit(false);
            let len = 64 - lead - trail;
            w.write(xor >> trail, len);
        } else {
            w.write_bit(true);
            let len = 64 - l - t;
            w.write(u64::from(l), 5);
            w.write(u64::from(len & 63), 6);
            w.write(xor >> t, len);
            lead = l;
            trail = t;
        }
    }
    out.extend_from_slice(&w.finish());
}

pub fn decode_gorilla(buf: &[u8], count: usize, out: &mut Vec<f64>) -> Result<(), DecodeError> {
    if count == 0 {
        return Ok(());
    }
    let mut r = BitReader::new(buf);
    let mut prev = r.read(64)?;
    out.reserve(count.min(1 << 16));
    out.push(f64::from_bits(prev));
    let mut lead: Option<u32> = None;
    let mut trail: u32 = 0;
    for _ in 1..count {
        if r.read_bit()? {
            if r.read_bit()? {
                let l = r.read(5)? as u32;
                let len = match r.read(6)? as u32 {
                    0 => 64,
                    n => n,
                };
                if l + len > 64 {
                    return Err(DecodeError("gorilla window exceeds 64 bits"));
                }
                lead = Some(l);
                trail = 64 - l - len;
            }
            let l = lead.ok_or(DecodeError("gorilla reuses a window before defining one"))?;
            let len = 64 - l - trail;
            let bits = r.read(len)?;
            prev ^= if trail == 64 { 0 } else { bits << trail };
        }
        out.push(f64::from_bits(prev));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(values: &[f64]) {
        let mut buf = Vec::new();
        encode_gorilla(values, &mut buf);
        let mut out = Vec::new();
        decode_gorilla(&buf, values.len(), &mut out).unwrap();
        let a: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
        let b: Vec<u64> = out.iter().map(|v| v.to_bits()).collect();
        assert_eq!(a, b);
    }

    fn edge_value() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(0.0),
            Just(-0.0),
            Just(f64::MAX),
            Just(f64::MIN),
            Just(f64::MIN_POSITIVE),
            Just(-f64::MIN_POSITIVE),
            Just(5e-324),
            Just(1e300),
            Just(-1e-300),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            any::<f64>().prop_filter("NaN-free", |v| !v.is_nan()),
            (-1000i64..1000).prop_map(|i| i as f64 / 100.0),
        ]
    }

    proptest! {
        #[test]
        fn gorilla_round_trips(values in proptest::collection::vec(edge_value(), 0..300)) {
            round_trip(&values);
        }

        #[test]
        fn gorilla_decoder_never_panics(data in proptest::collection::vec(any::<u8>(), 0..80), n in 0usize..200) {
            let mut out = Vec::new();
            let _ = decode_gorilla(&data, n, &mut out);
        }
    }

    #[test]
    fn repeated_values_cost_one_bit() {
        let values = vec![42.5; 801];
        let mut buf = Vec::new();
        encode_gorilla(&values, &mut buf);
        assert_eq!(buf.len(), 8 + 100);
        round_trip(&values);
    }
}
