//! The log store's view of the shared record framing ([`stratus_frame`]):
//! its scan results with a `torn` flag on each damaged range, which is what
//! the WAL reader and recovery ask about.

pub use stratus_frame::{FRAME_HEADER, MAX_PAYLOAD, frame_at, put_frame};

/// A damaged byte range found by a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedRange {
    pub offset: usize,
    pub len: usize,
    pub reason: &'static str,
    /// Nothing intact follows it: a torn tail.
    pub torn: bool,
}

impl DamagedRange {
    fn new(d: stratus_frame::Damage, torn: bool) -> DamagedRange {
        DamagedRange {
            offset: d.offset,
            len: d.len,
            reason: d.reason,
            torn,
        }
    }
}

/// Intact frames `(offset, payload)` from `start` up to the first damage,
/// and that damage.
pub fn scan(buf: &[u8], start: usize, magic: u32) -> (Vec<(usize, &[u8])>, Option<DamagedRange>) {
    let (mut frames, damaged) = scan_all(buf, start, magic);
    let first = damaged.into_iter().next();
    if let Some(d) = &first {
        frames.retain(|&(offset, _)| offset < d.offset);
    }
    (frames, first)
}

/// Every intact frame `(offset, payload)` from `start`, skipping damage:
/// after a bad frame the scan resumes at the next intact one (recovery and
/// fsck, which must keep everything intact after a damaged range).
pub fn scan_all(buf: &[u8], start: usize, magic: u32) -> (Vec<(usize, &[u8])>, Vec<DamagedRange>) {
    let s = stratus_frame::scan(buf, start, magic);
    let mut damaged: Vec<DamagedRange> = s
        .damaged
        .into_iter()
        .map(|d| DamagedRange::new(d, false))
        .collect();
    damaged.extend(s.tail.map(|d| DamagedRange::new(d, true)));
    (s.frames, damaged)
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
