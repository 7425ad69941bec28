//! LSB-first bit buffers used by the bit-packed integer and Gorilla codecs.

use crate::error::DecodeError;

/// Appends bit fields to a byte vector, least significant bit first.
#[derive(Debug, Default)]
pub struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    nbits: u32,
}

impl BitWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes the low `n` bits of `value` (`n <= 64`).
    #[inline]
    pub fn write(&mut self, value: u64, n: u32) {
        debug_assert!(n <= 64);
        if n == 0 {
            return;
        }
        let value = if n == 64 {
            value
        } else {
            value & ((1u64 << n) - 1)
        };
        let free = 64 - self.nbits;
        if n < free {
            self.acc |= value << self.nbits;
            self.nbits += n;
        } else {
            // Fill the accumulator, flush 8 bytes, keep the rest.
            let acc = if self.nbits == 64 {
                self.acc
            } else {
                self.acc | (value << self.nbits)
            };
            self.out.extend_from_slice(&acc.to_le_bytes());
            let used = free;
            self.acc = if used == 64 { 0 } else { value >> used };
            self.nbits = n - used;
        }
    }

    #[inline]
    pub fn write_bit(&mut self, bit: bool) {
        self.write(u64::from(bit), 1);
    }

    /// Pads to a byte boundary and returns the bytes.
    pub fn finish(mut self) -> Vec<u8> {
        let nbytes = self.nbits.div_ceil(8) as usize;
        self.out
            .extend_from_slice(&self.acc.to_le_bytes()[..nbytes]);
        self.out
    }
}

/// Reads bit fields written by [`BitWriter`]; running past the end is an error.
#[derive(Debug)]
pub struct BitReader<'a> {
    buf: &'a [u8],
    /// Next byte of `buf` to load into `acc`.
    pos: usize,
    acc: u64,
    nbits: u32,
}

impl<'a> BitReader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        BitReader {
            buf,
            pos: 0,
            acc: 0,
            nbits: 0,
        }
    }

    #[inline]
    fn refill(&mut self) {
        if self.pos + 8 <= self.buf.len() && self.nbits == 0 {
            let mut b = [0u8; 8];
            b.copy_from_slice(&self.buf[self.pos..self.pos + 8]);
            self.acc = u64::from_le_bytes(b);
            self.pos += 8;
            self.nbits = 64;
            return;
        }
        while self.nbits <= 56 && self.pos < self.buf.len() {
            self.acc |= u64::from(self.buf[self.pos]) << self.nbits;
            self.pos += 1;
            self.nbits += 8;
        }
    }

    /// Reads `n <= 64` bits.
    #[inline]
    pub fn read(&mut self, n: u32) -> Result<u64, DecodeError> {
        if n == 0 {
            return Ok(0);
        }
        if n <= self.nbits {
            return Ok(self.take(n));
        }
        // Split: take what is buffered, refill, take the rest.
        let low_n = self.nbits;
        let low = if low_n == 0 { 0 } else { self.take(low_n) };
        self.refill();
        let rest = n - low_n;
        if rest > self.nbits {
            return Err(DecodeError("bit stream ended early"));
        }
        let high = self.take(rest);
        Ok(low | (high << low_n))
    }

    #[inline]
    fn take(&mut self, n: u32) -> u64 {
        debug_assert!(n <= self.nbits && n > 0);
        let v = if n == 64 {
            self.acc
        } else {
            self.acc & ((1u64 << n) - 1)
        };
        self.acc = if n == 64 { 0 } else { self.acc >> n };
        self.nbits -= n;
        v
    }

    #[inline]
    pub fn read_bit(&mut self) -> Result<bool, DecodeError> {
        Ok(self.read(1)? == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn fields_round_trip(fields in proptest::collection::vec((any::<u64>(), 0u32..=64), 0..200)) {
            let mut w = BitWriter::new();
            for &(v, n) in &fields {
                w.write(v, n);
            }
            let bytes = w.finish();
            let total: u32 = fields.iter().map(|f| f.1).sum();
            prop_assert_eq!(bytes.len(), total.div_ceil(8) as usize);
            let mut r = BitReader::new(&bytes);
            for &(v, n) in &fields {
                let mask = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
                prop_assert_eq!(r.read(n).unwrap(), v & mask);
            }
        }
    }

    #[test]
    fn reading_past_the_end_fails() {
        let mut w = BitWriter::new();
        w.write(0b101, 3);
        let bytes = w.finish();
        let mut r = BitReader::new(&bytes);
        assert_eq!(r.read(8).unwrap(), 0b101);
        assert!(r.read(1).is_err());
    }
}
