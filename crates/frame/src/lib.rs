//! Checksummed record framing shared by the metric engine's WAL, series
//! catalog and batch-id file and by the log store's WAL and catalog:
//! `magic u32 | len u32 | crc32(payload) u32 | payload`, little endian.
//!
//! A reader walks frames until the end of the buffer and reports the first
//! offset where a frame is short, has an impossible length, a wrong magic
//! or a checksum mismatch. [`scan`] goes on past damage: it resynchronises
//! on the next intact frame, so a caller can tell a torn tail (damage that
//! runs to the end of the file) from damage with intact records after it.
//!
//! Knows bytes only: what a payload means, and what a file's header says,
//! belong to the engines.

/// Upper bound on one payload; larger lengths are treated as corruption.
/// (The log store's catalog snapshot is one frame holding a day of batch
/// ids, hence 1 GiB rather than a WAL record's size.)
pub const MAX_PAYLOAD: usize = 1 << 30;
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

/// The payload of the intact frame at `pos`, or why there is none.
pub fn frame_at(buf: &[u8], pos: usize, magic: u32) -> Result<&[u8], &'static str> {
    match Frames::new(buf, pos, magic).next() {
        Some(Ok((_, payload))) => Ok(payload),
        Some(Err(bad)) => Err(bad.reason),
        None => Err("short frame header"),
    }
}

/// A damaged byte range `[offset, offset + len)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    pub offset: usize,
    pub len: usize,
    /// Why the frame at `offset` could not be read.
    pub reason: &'static str,
}

/// Everything [`scan`] found in a buffer.
#[derive(Debug, Default)]
pub struct Scan<'a> {
    /// Intact frames, `(offset, payload)`, in file order.
    pub frames: Vec<(usize, &'a [u8])>,
    /// Damaged ranges that intact frames follow.
    pub damaged: Vec<Damage>,
    /// Damage that runs to the end of the buffer (nothing intact after it).
    pub tail: Option<Damage>,
}

/// Where the intact frame at `pos` ends, if one starts there.
fn intact_frame_end(buf: &[u8], pos: usize, magic: u32) -> Option<usize> {
    let rest = buf.get(pos..)?;
    if rest.len() < FRAME_HEADER || le32(&rest[0..4]) != magic {
        return None;
    }
    let len = le32(&rest[4..8]) as usize;
    if len > MAX_PAYLOAD || rest.len() - FRAME_HEADER < len {
        return None;
    }
    let payload = &rest[FRAME_HEADER..FRAME_HEADER + len];
    (crc32fast::hash(payload) == le32(&rest[8..12])).then_some(pos + FRAME_HEADER + len)
}

/// The offset of the first intact frame after `from` (exclusive).
pub fn resync(buf: &[u8], from: usize, magic: u32) -> Option<usize> {
    let want = magic.to_le_bytes();
    let mut pos = from + 1;
    while pos + FRAME_HEADER <= buf.len() {
        // Candidates are rare (a 4-byte magic), so the crc runs seldom.
        let hit = memchr::memmem::find(&buf[pos..], &want)?;
        pos += hit;
        if intact_frame_end(buf, pos, magic).is_some() {
            return Some(pos);
        }
        pos += 1;
    }
    None
}

/// Walks every frame of `buf` from `start`, skipping over damage to the
/// next intact frame.
pub fn scan(buf: &[u8], start: usize, magic: u32) -> Scan<'_> {
    let mut out = Scan::default();
    let mut pos = start;
    while pos < buf.len() {
        match Frames::new(buf, pos, magic).next() {
            Some(Ok((offset, payload))) => {
                out.frames.push((offset, payload));
                pos = offset + FRAME_HEADER + payload.len();
            }
            Some(Err(bad)) => match resync(buf, pos, magic) {
                Some(next) => {
                    out.damaged.push(Damage {
                        offset: pos,
                        len: next - pos,
                        reason: bad.reason,
                    });
                    pos = next;
                }
                None => {
                    out.tail = Some(Damage {
                        offset: pos,
                        len: buf.len() - pos,
                        reason: bad.reason,
                    });
                    break;
                }
            },
            None => break,
        }
    }
    out
}

/// [`scan`] of a file that starts with `header`. A damaged header counts
/// as damage at offset 0 (merged with what follows it up to the first
/// intact frame); with no intact frame at all, the whole file is `tail`.
pub fn scan_with_header<'a>(
    data: &'a [u8],
    header: &[u8],
    magic: u32,
    reason: &'static str,
) -> Scan<'a> {
    let h = header.len();
    if data.len() >= h && &data[..h] == header {
        return scan(data, h, magic);
    }
    let mut s = scan(data, h.min(data.len()), magic);
    match s.frames.first() {
        None => {
            s.damaged.clear();
            s.tail = Some(Damage {
                offset: 0,
                len: data.len(),
                reason,
            });
        }
        Some(&(first, _)) => {
            if s.damaged.first().is_some_and(|d| d.offset == h) {
                s.damaged.remove(0);
            }
            s.damaged.insert(
                0,
                Damage {
                    offset: 0,
                    len: first,
                    reason,
                },
            );
        }
    }
    s
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

    #[test]
    fn frame_at_reads_one_frame_or_says_why_not() {
        let mut buf = Vec::new();
        put_frame(&mut buf, MAGIC, b"hello");
        assert_eq!(frame_at(&buf, 0, MAGIC), Ok(&b"hello"[..]));
        assert_eq!(frame_at(&buf, 0, MAGIC ^ 1), Err("bad frame magic"));
        assert_eq!(frame_at(&buf, buf.len(), MAGIC), Err("short frame header"));
        assert_eq!(frame_at(&buf, usize::MAX, MAGIC), Err("short frame header"));
        assert_eq!(
            frame_at(&buf[..buf.len() - 1], 0, MAGIC),
            Err("frame shorter than its length")
        );
    }

    #[test]
    fn scan_resynchronises_after_damage() {
        let mut buf = Vec::new();
        for word in [&b"one"[..], b"two", b"three", b"four"] {
            put_frame(&mut buf, MAGIC, word);
        }
        // Damage the second frame's payload and the fourth's length.
        let mut bad = buf.clone();
        bad[15 + 12] ^= 1;
        let fourth = 15 + 15 + 17;
        bad[fourth + 4] ^= 0x80;
        let s = scan(&bad, 0, MAGIC);
        let words: Vec<&[u8]> = s.frames.iter().map(|f| f.1).collect();
        assert_eq!(words, vec![&b"one"[..], b"three"]);
        assert_eq!(
            s.damaged,
            vec![Damage {
                offset: 15,
                len: 15,
                reason: "frame checksum mismatch"
            }]
        );
        assert_eq!(s.tail.map(|t| (t.offset, t.len)), Some((fourth, 16)));
        // Garbage before the first frame, then intact frames.
        let mut prefixed = vec![0xAB; 5];
        prefixed.extend_from_slice(&buf);
        let s = scan(&prefixed, 0, MAGIC);
        assert_eq!(s.frames.len(), 4);
        assert_eq!(s.damaged[0].len, 5);
        assert!(s.tail.is_none());
    }

    proptest! {
        /// Damage inside one frame costs that frame only: `scan` finds every
        /// other one, in order.
        #[test]
        fn damage_in_one_frame_costs_only_that_frame(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..12),
            pick in any::<proptest::sample::Index>(),
            at in any::<proptest::sample::Index>(),
            run in 1usize..9,
            mask in 1u8..=255,
        ) {
            let mut buf = Vec::new();
            let mut spans = Vec::new();
            for p in &payloads {
                let start = buf.len();
                put_frame(&mut buf, MAGIC, p);
                spans.push((start, buf.len()));
            }
            let k = pick.index(payloads.len());
            let (start, end) = spans[k];
            let first = start + at.index(end - start);
            for b in &mut buf[first..(first + run).min(end)] {
                *b ^= mask;
            }
            let s = scan(&buf, 0, MAGIC);
            let got: Vec<&[u8]> = s.frames.iter().map(|f| f.1).collect();
            let want: Vec<&[u8]> = payloads
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != k)
                .map(|(_, p)| p.as_slice())
                .collect();
            prop_assert_eq!(got, want);
            let bad = s.damaged.first().or(s.tail.as_ref()).map(|d| d.offset);
            prop_assert_eq!(bad, Some(start));
        }

        #[test]
        fn scan_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let s = scan(&data, 0, MAGIC);
            let _ = s;
        }

        #[test]
        fn frames_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            for f in Frames::new(&data, 0, MAGIC) {
                let _ = f;
            }
        }
    }
}
