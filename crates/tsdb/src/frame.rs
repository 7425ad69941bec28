//! Checksummed record framing shared by the WAL and the series catalog:
//! `magic u32 | len u32 | crc32(payload) u32 | payload`, little endian.
//!
//! A reader walks frames until the end of the buffer and reports the first
//! offset where a frame is short, has an impossible length, a wrong magic
//! or a checksum mismatch, so the caller can cut the file there.

/// Upper bound on one payload; larger lengths are treated as corruption.
pub const MAX_PAYLOAD: usize = 256 << 20;
pub const FRAME_HEADER: usize = 12;

pub fn put_frame(out: &mut Vec<u8>, magic: u32, payload: &[u8]) {
    out.extend_from_slice(&magic.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadFrame {
    pub offset: usize,
    pub reason: &'static str,
}

/// Iterates the frames of `buf` starting at `start`.
pub struct Frames<'a> {
    buf: &'a [u8],
    pos: usize,
    magic: u32,
    failed: bool,
}

impl<'a> Frames<'a> {
    pub fn new(buf: &'a [u8], start: usize, magic: u32) -> Self {
        Frames {
            buf,
            pos: start,
            magic,
            failed: false,
        }
    }
}

fn le32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

impl<'a> Iterator for Frames<'a> {
    /// `(offset of the frame, payload)` or the first bad frame.
    type Item = Result<(usize, &'a [u8]), BadFrame>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let offset = self.pos;
        let rest = &self.buf[offset..];
        let bad = |reason| Some(Err(BadFrame { offset, reason }));
        if rest.len() < FRAME_HEADER {
            self.failed = true;
            return bad("short frame header");
        }
        if le32(&rest[0..4]) != self.magic {
            self.failed = true;
            return bad("bad frame magic");
        }
        let len = le32(&rest[4..8]) as usize;
        if len > MAX_PAYLOAD {
            self.failed = true;
            return bad("frame length out of range");
        }
        if rest.len() - FRAME_HEADER < len {
            self.failed = true;
            return bad("frame shorter than its length");
        }
        let payload = &rest[FRAME_HEADER..FRAME_HEADER + len];
        if crc32fast::hash(payload) != le32(&rest[8..12]) {
            self.failed = true;
            return bad("frame checksum mismatch");
        }
        self.pos = offset + FRAME_HEADER + len;
        Some(Ok((offset, payload)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAGIC: u32 = 0xA1B2_C3D4;

    #[test]
    fn detects_torn_and_flipped_frames() {
        let mut buf = Vec::new();
        put_frame(&mut buf, MAGIC, b"hello");
        put_frame(&mut buf, MAGIC, b"world!");
        let all: Vec<_> = Frames::new(&buf, 0, MAGIC).collect();
        assert_eq!(all, vec![Ok((0, &b"hello"[..])), Ok((17, &b"world!"[..]))]);

        let torn = &buf[..buf.len() - 1];
        let got: Vec<_> = Frames::new(torn, 0, MAGIC).collect();
        assert_eq!(
            got[1],
            Err(BadFrame {
                offset: 17,
                reason: "frame shorter than its length"
            })
        );

        let mut flipped = buf.clone();
        let last = flipped.len() - 2;
        flipped[last] ^= 0x40;
        let got: Vec<_> = Frames::new(&flipped, 0, MAGIC).collect();
        assert_eq!(
            got[1],
            Err(BadFrame {
                offset: 17,
                reason: "frame checksum mismatch"
            })
        );
    }

    proptest! {
        #[test]
        fn frames_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            for f in Frames::new(&data, 0, MAGIC) {
                let _ = f;
            }
        }
    }
}
