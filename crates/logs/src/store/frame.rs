//! Checksummed record framing (the tsdb's): `magic u32 | len u32 |
//! crc32(payload) u32 | payload`, little endian.
//!
//! [`scan`] walks frames from an offset and classifies the first bad one:
//! damage with an intact frame somewhere after it is real damage, damage
//! running to the end of the buffer is a torn tail (a crash mid-append).

pub const FRAME_HEADER: usize = 12;
/// Larger lengths are treated as corruption.
pub const MAX_PAYLOAD: usize = 1 << 30;

pub fn put_frame(out: &mut Vec<u8>, magic: u32, payload: &[u8]) {
    out.reserve(FRAME_HEADER + payload.len());
    out.extend_from_slice(&magic.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    let bytes = b.get(at..at + 4)?;
    Some(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// The payload of the intact frame at `pos`, or why there is none.
pub fn frame_at(buf: &[u8], pos: usize, magic: u32) -> Result<&[u8], &'static str> {
    let rest = buf.get(pos..).unwrap_or(&[]);
    if rest.len() < FRAME_HEADER {
        return Err("short frame header");
    }
    if le32(rest, 0) != Some(magic) {
        return Err("bad frame magic");
    }
    let len = le32(rest, 4).unwrap_or(u32::MAX) as usize;
    if len > MAX_PAYLOAD {
        return Err("frame length out of range");
    }
    let Some(payload) = rest.get(FRAME_HEADER..FRAME_HEADER + len) else {
        return Err("frame shorter than its length");
    };
    if le32(rest, 8) != Some(crc32fast::hash(payload)) {
        return Err("frame checksum mismatch");
    }
    Ok(payload)
}

/// The first damaged frame of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    pub offset: usize,
    pub reason: &'static str,
    /// Nothing intact follows it: a torn tail.
    pub torn: bool,
}

/// Intact frames `(offset, payload)` from `start` up to the first damage.
pub fn scan(buf: &[u8], start: usize, magic: u32) -> (Vec<(usize, &[u8])>, Option<Damage>) {
    let mut frames = Vec::new();
    let mut pos = start;
    while pos < buf.len() {
        match frame_at(buf, pos, magic) {
            Ok(payload) => {
                frames.push((pos, payload));
                pos += FRAME_HEADER + payload.len();
            }
            Err(reason) => {
                let torn = !intact_frame_after(buf, pos, magic);
                return (
                    frames,
                    Some(Damage {
                        offset: pos,
                        reason,
                        torn,
                    }),
                );
            }
        }
    }
    (frames, None)
}

/// Whether an intact frame starts anywhere after `from`.
fn intact_frame_after(buf: &[u8], from: usize, magic: u32) -> bool {
    next_intact_frame(buf, from, magic).is_some()
}

/// Where the first intact frame after `from` starts.
fn next_intact_frame(buf: &[u8], from: usize, magic: u32) -> Option<usize> {
    let want = magic.to_le_bytes();
    let mut pos = from + 1;
    while pos + FRAME_HEADER <= buf.len() {
        let hit = buf
            .get(pos..)
            .and_then(|rest| memchr::memmem::find(rest, &want))?;
        pos += hit;
        if frame_at(buf, pos, magic).is_ok() {
            return Some(pos);
        }
        pos += 1;
    }
    None
}

/// A damaged byte range found by [`scan_all`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedRange {
    pub offset: usize,
    pub len: usize,
    pub reason: &'static str,
    /// Nothing intact follows it: a torn tail.
    pub torn: bool,
}

/// Every intact frame `(offset, payload)` from `start`, skipping damage:
/// after a bad frame the scan resumes at the next intact one (recovery and
/// fsck, which must keep everything intact after a damaged range).
pub fn scan_all(buf: &[u8], start: usize, magic: u32) -> (Vec<(usize, &[u8])>, Vec<DamagedRange>) {
    let mut frames = Vec::new();
    let mut damaged = Vec::new();
    let mut pos = start;
    while pos < buf.len() {
        match frame_at(buf, pos, magic) {
            Ok(payload) => {
                frames.push((pos, payload));
                pos += FRAME_HEADER + payload.len();
            }
            Err(reason) => {
                let next = next_intact_frame(buf, pos, magic);
                let end = next.unwrap_or(buf.len());
                damaged.push(DamagedRange {
                    offset: pos,
                    len: end - pos,
                    reason,
                    torn: next.is_none(),
                });
                pos = end;
            }
        }
    }
    (frames, damaged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAGIC: u32 = 0x0102_0304;

    #[test]
    fn torn_tail_is_told_from_damage_in_the_middle() {
        let mut buf = Vec::new();
        for word in [&b"one"[..], b"two", b"three"] {
            put_frame(&mut buf, MAGIC, word);
        }
        let (frames, damage) = scan(&buf[..buf.len() - 2], 0, MAGIC);
        assert_eq!(frames.len(), 2);
        let damage = damage.expect("the cut frame is damage");
        assert_eq!(damage.offset, 2 * FRAME_HEADER + 6);
        assert!(damage.torn);

        let mut flipped = buf.clone();
        flipped[FRAME_HEADER + 1] ^= 0x20; // "one" -> "oNe": crc mismatch
        let (frames, damage) = scan(&flipped, 0, MAGIC);
        assert!(frames.is_empty());
        let damage = damage.expect("the flipped frame is damage");
        assert_eq!((damage.offset, damage.torn), (0, false));
        assert_eq!(damage.reason, "frame checksum mismatch");
    }

    #[test]
    fn scan_all_keeps_the_frames_after_damage() {
        let mut buf = Vec::new();
        for word in [&b"one"[..], b"two", b"three"] {
            put_frame(&mut buf, MAGIC, word);
        }
        // "two" starts at 15; flip a byte of its payload.
        buf[15 + FRAME_HEADER] ^= 0x01;
        let (frames, damaged) = scan_all(&buf, 0, MAGIC);
        let words: Vec<&[u8]> = frames.iter().map(|f| f.1).collect();
        assert_eq!(words, vec![&b"one"[..], b"three"]);
        assert_eq!(damaged.len(), 1);
        assert_eq!((damaged[0].offset, damaged[0].len), (15, 15));
        assert!(!damaged[0].torn);
    }

    proptest! {
        #[test]
        fn scan_is_total(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = scan(&data, 0, MAGIC);
            let (frames, damaged) = scan_all(&data, 0, MAGIC);
            let covered: usize = frames.iter().map(|f| FRAME_HEADER + f.1.len()).sum::<usize>()
                + damaged.iter().map(|d| d.len).sum::<usize>();
            prop_assert_eq!(covered, data.len());
        }
    }
}
