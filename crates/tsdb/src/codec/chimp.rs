//! Chimp128 (Liakos et al., VLDB 2022): Gorilla-style XOR coding, but each
//! value is XORed with whichever of the last 128 values shares its low 14
//! bits (found through a hash table), when that leaves many trailing zeros,
//! and leading-zero counts are rounded to eight classes (3 bits).
//!
//! Layout: `count uvarint | stream length uvarint | stream`; the stream is
//! LSB-first ([`crate::codec::bits`]): the first value's 64 bits, then per
//! value a 2-bit flag:
//! - `0`: equal to ring slot `i` (7 bits);
//! - `1`: XOR with slot `i` (7 bits), leading class (3 bits), significant
//!   bit count (6 bits), the significant bits (trailing zeros dropped);
//! - `2`: XOR with the previous value, same leading class as last time,
//!   the `64 - leading` low bits;
//! - `3`: like `2` with a new leading class (3 bits) first.

use crate::codec::bits::{BitReader, BitWriter};
use crate::codec::bytes::{ByteReader, put_uvarint};
use crate::error::DecodeError;

const RING: usize = 128;
const RING_BITS: u32 = 7;
/// XOR with an older ring value only when it leaves more trailing zeros.
const THRESHOLD: u32 = 6 + RING_BITS;
const KEY_MASK: u64 = (1 << (THRESHOLD + 1)) - 1;
const LEADING: [u32; 8] = [0, 8, 12, 16, 18, 20, 22, 24];
/// No leading class to reuse (after flags 0 and 1).
const NO_LEADING: u32 = 65;

fn leading_class(lz: u32) -> u8 {
    match lz {
        0..8 => 0,
        8..12 => 1,
        12..16 => 2,
        16..18 => 3,
        18..20 => 4,
        20..22 => 5,
        22..24 => 6,
        _ => 7,
    }
}

/// Appends the chunk for `values`.
pub fn encode(values: &[f64], out: &mut Vec<u8>) {
    put_uvarint(out, values.len() as u64);
    let Some((&first, rest)) = values.split_first() else {
        put_uvarint(out, 0);
        return;
    };
    let mut w = BitWriter::new();
    let mut ring = [0u64; RING];
    // Last index (+1; 0 = never) of a value with these low bits.
    let mut seen = vec![0usize; (KEY_MASK + 1) as usize];
    let first = first.to_bits();
    w.write(first, 64);
    ring[0] = first;
    seen[(first & KEY_MASK) as usize] = 1;
    let mut stored_leading = NO_LEADING;
    for (k, v) in rest.iter().enumerate() {
        let index = k + 1;
        let bits = v.to_bits();
        let key = (bits & KEY_MASK) as usize;
        let previous = (index - 1) % RING;
        let mut slot = previous;
        let mut xor = bits ^ ring[previous];
        if let Some(at) = seen[key].checked_sub(1)
            && index - at < RING
        {
            let candidate = bits ^ ring[at % RING];
            if candidate.trailing_zeros() > THRESHOLD {
                slot = at % RING;
                xor = candidate;
            }
        }
        let trailing = xor.trailing_zeros();
        if xor == 0 {
            w.write(0, 2);
            w.write(slot as u64, RING_BITS);
            stored_leading = NO_LEADING;
        } else {
            let class = leading_class(xor.leading_zeros());
            let leading = LEADING[class as usize];
            if trailing > THRESHOLD {
                let significant = 64 - leading - trailing;
                w.write(1, 2);
                w.write(slot as u64, RING_BITS);
                w.write(u64::from(class), 3);
                w.write(u64::from(significant), 6);
                w.write(xor >> trailing, significant);
                stored_leading = NO_LEADING;
            } else if leading == stored_leading {
                w.write(2, 2);
                w.write(xor, 64 - leading);
            } else {
                w.write(3, 2);
                w.write(u64::from(class), 3);
                w.write(xor, 64 - leading);
                stored_leading = leading;
            }
        }
        ring[index % RING] = bits;
        seen[key] = index + 1;
    }
    let stream = w.finish();
    put_uvarint(out, stream.len() as u64);
    out.extend_from_slice(&stream);
}

/// Decodes one chunk written by [`encode`]; at most `max_count` values.
pub fn decode(
    r: &mut ByteReader<'_>,
    max_count: usize,
    out: &mut Vec<f64>,
) -> Result<(), DecodeError> {
    let count = r.len(max_count)?;
    let stream = r.chunk()?;
    if count == 0 {
        return if stream.is_empty() {
            Ok(())
        } else {
            Err(DecodeError("chimp stream for no values"))
        };
    }
    // Every value after the first takes at least 9 bits.
    if (count - 1) / 8 > stream.len() {
        return Err(DecodeError("chimp count exceeds its stream"));
    }
    let mut bits = BitReader::new(stream);
    let mut ring = [0u64; RING];
    ring[0] = bits.read(64)?;
    out.reserve(count);
    out.push(f64::from_bits(ring[0]));
    let mut stored_leading = NO_LEADING;
    for index in 1..count {
        let previous = ring[(index - 1) % RING];
        let value = match bits.read(2)? {
            0 => {
                stored_leading = NO_LEADING;
                ring[bits.read(RING_BITS)? as usize % RING]
            }
            1 => {
                let slot = bits.read(RING_BITS)? as usize % RING;
                let leading = LEADING[bits.read(3)? as usize % 8];
                let significant = bits.read(6)? as u32;
                if significant == 0 || leading + significant > 64 {
                    return Err(DecodeError("chimp significant bits out of range"));
                }
                let trailing = 64 - leading - significant;
                stored_leading = NO_LEADING;
                ring[slot] ^ (bits.read(significant)? << trailing)
            }
            2 => {
                if stored_leading == NO_LEADING {
                    return Err(DecodeError("chimp leading class reused before set"));
                }
                previous ^ bits.read(64 - stored_leading)?
            }
            _ => {
                stored_leading = LEADING[bits.read(3)? as usize % 8];
                previous ^ bits.read(64 - stored_leading)?
            }
        };
        ring[index % RING] = value;
        out.push(f64::from_bits(value));
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
        fn round_trips_bit_exact(values in proptest::collection::vec(hard_value(), 0..400)) {
            round_trip(&values);
        }

        #[test]
        fn repeats_within_the_ring_round_trip(
            pool in proptest::collection::vec(hard_value(), 1..200),
            picks in proptest::collection::vec(any::<prop::sample::Index>(), 0..600),
        ) {
            let values: Vec<f64> = picks.iter().map(|i| pool[i.index(pool.len())]).collect();
            round_trip(&values);
        }

        #[test]
        fn decoder_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut out = Vec::new();
            let _ = decode(&mut ByteReader::new(&data), 4096, &mut out);
            prop_assert!(out.len() <= 4096);
        }
    }

    #[test]
    fn repeated_values_cost_nine_bits() {
        // Alternating values: each repeat is a flag and a ring slot.
        let values: Vec<f64> = (0..100).map(|i| [1.1, 2.3][i % 2]).collect();
        let len = round_trip(&values);
        // count, stream length (2), first value, second (< 9 bytes), 98 × 9 bits
        assert!(
            len <= 1 + 2 + 8 + 9 + (98 * 9usize).div_ceil(8),
            "{len} bytes"
        );
    }
}
