//! The raw (uncompressed) event block: the unit of the head and, zstd
//! compressed, of sealed segment files.
//!
//! Columnar, so zstd finds the regularities of each column (timestamps close
//! to each other, few streams, similar ingestion times):
//!
//! ```text
//! n u32 | timestamp i64 × n | ingestion i64 × n | event id u64 × n
//!       | stream id u64 × n | message end offset u32 × n | messages (UTF-8)
//! ```
//!
//! Events are sorted by (timestamp, event id), the store's read order.

use super::codec::{col_i64, col_u32, col_u64};

/// Fixed bytes per event besides its message.
pub const EVENT_OVERHEAD: usize = 8 + 8 + 8 + 8 + 4;

/// Where the columns of a block start; computed once per block.
#[derive(Clone, Copy, Debug, Default)]
pub struct Layout {
    pub n: usize,
    ts: usize,
    ingestion: usize,
    id: usize,
    stream: usize,
    ends: usize,
    messages: usize,
}

impl Layout {
    /// Validates a block: the columns fit, the message offsets never
    /// decrease and end exactly at the end of the block.
    pub fn parse(data: &[u8]) -> Option<Layout> {
        let layout = Layout::shape(data)?;
        let ends_col = &data[layout.ends..layout.messages];
        let mut prev = 0u32;
        for i in 0..layout.n {
            let end = col_u32(ends_col, i);
            if end < prev {
                return None;
            }
            prev = end;
        }
        (layout.messages + prev as usize == data.len()).then_some(layout)
    }

    /// Where the columns are, from the event count alone (the columns fit
    /// in `data`); their contents are not looked at.
    pub fn shape(data: &[u8]) -> Option<Layout> {
        let n = u32::from_le_bytes(data.get(..4)?.try_into().ok()?) as usize;
        let ts: usize = 4;
        let ingestion = ts.checked_add(n.checked_mul(8)?)?;
        let id = ingestion + n * 8;
        let stream = id + n * 8;
        let ends = stream + n * 8;
        let messages = ends.checked_add(n.checked_mul(4)?)?;
        if messages > data.len() {
            return None;
        }
        let layout = Layout {
            n,
            ts,
            ingestion,
            id,
            stream,
            ends,
            messages,
        };
        Some(layout)
    }
}

/// How each fixed-width column is stored on disk: `(start, end, width,
/// row delta)`. Timestamps grow slowly within a sorted block and message end
/// offsets always grow, so their deltas to the previous row are small
/// numbers. Ingestion times and event ids are delta-coded against the
/// previous event *of the same stream* (see [`by_stream_deltas`]): across
/// streams they jump between batches, within one they barely move. Every
/// column is then split into byte planes (all first bytes, then all second
/// bytes, ...), so the mostly-zero high bytes form long runs zstd stores
/// almost for free.
fn disk_columns(l: &Layout) -> [(usize, usize, usize, bool); 5] {
    [
        (l.ts, l.ingestion, 8, true),
        (l.ingestion, l.id, 8, false),
        (l.id, l.stream, 8, false),
        (l.stream, l.ends, 8, false),
        (l.ends, l.messages, 4, true),
    ]
}

fn zigzag(v: u64) -> u64 {
    (v << 1) ^ (((v as i64) >> 63) as u64)
}

fn unzigzag(v: u64) -> u64 {
    (v >> 1) ^ (v & 1).wrapping_neg()
}

fn read_cell(cell: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = cell.len().min(8);
    b[..n].copy_from_slice(&cell[..n]);
    u64::from_le_bytes(b)
}

fn write_cell(cell: &mut [u8], v: u64) {
    let n = cell.len().min(8);
    cell[..n].copy_from_slice(&v.to_le_bytes()[..n]);
}

/// The previous (ingestion, id) of each stream in a block: a short list
/// (blocks mostly hold few streams), a map past that.
#[derive(Default)]
struct PrevByStream {
    few: Vec<(u64, [u64; 2])>,
    many: std::collections::HashMap<u64, [u64; 2]>,
}

impl PrevByStream {
    fn slot(&mut self, stream: u64) -> &mut [u64; 2] {
        if let Some(i) = self.few.iter().position(|(s, _)| *s == stream) {
            return &mut self.few[i].1;
        }
        if self.few.len() < 16 {
            self.few.push((stream, [0; 2]));
            let last = self.few.len() - 1;
            return &mut self.few[last].1;
        }
        self.many.entry(stream).or_insert([0; 2])
    }
}

/// Encodes (`encode`) or decodes the ingestion and id columns as zigzag
/// deltas to the previous event of the same stream. The stream column must
/// be plain.
fn by_stream_deltas(data: &mut [u8], l: &Layout, encode: bool) {
    let mut prev = PrevByStream::default();
    for i in 0..l.n {
        let stream = data
            .get(l.stream + i * 8..l.stream + i * 8 + 8)
            .map_or(0, read_cell);
        let slot = prev.slot(stream);
        for (c, base) in [l.ingestion, l.id].into_iter().enumerate() {
            let Some(cell) = data.get_mut(base + i * 8..base + i * 8 + 8) else {
                continue;
            };
            let v = read_cell(cell);
            if encode {
                write_cell(cell, zigzag(v.wrapping_sub(slot[c])));
                slot[c] = v;
            } else {
                let value = slot[c].wrapping_add(unzigzag(v));
                write_cell(cell, value);
                slot[c] = value;
            }
        }
    }
}

/// Rewrites a block's columns for compression (see [`disk_columns`]).
pub fn to_disk(data: &mut [u8], l: &Layout) {
    by_stream_deltas(data, l, true);
    let mut planes = Vec::new();
    for (start, end, width, delta) in disk_columns(l) {
        let Some(col) = data.get_mut(start..end) else {
            continue;
        };
        if delta {
            let mut prev = 0u64;
            for cell in col.chunks_exact_mut(width) {
                let v = read_cell(cell);
                let d = v.wrapping_sub(prev);
                write_cell(cell, if width == 8 { zigzag(d) } else { d });
                prev = v;
            }
        }
        let n = col.len() / width;
        planes.clear();
        planes.resize(col.len(), 0);
        for (i, cell) in col.chunks_exact(width).enumerate() {
            for (p, b) in cell.iter().enumerate() {
                planes[p * n + i] = *b;
            }
        }
        col.copy_from_slice(&planes);
    }
}

/// Undoes [`to_disk`] after decompression.
pub fn from_disk(data: &mut [u8], l: &Layout) {
    let mut cells = Vec::new();
    for (start, end, width, delta) in disk_columns(l) {
        let Some(col) = data.get_mut(start..end) else {
            continue;
        };
        let n = col.len() / width;
        cells.clear();
        cells.resize(col.len(), 0);
        for (p, plane) in col.chunks_exact(n.max(1)).enumerate().take(width) {
            for (i, b) in plane.iter().enumerate() {
                cells[i * width + p] = *b;
            }
        }
        col.copy_from_slice(&cells);
        if delta {
            let mut acc = 0u64;
            for cell in col.chunks_exact_mut(width) {
                let d = read_cell(cell);
                acc = acc.wrapping_add(if width == 8 { unzigzag(d) } else { d });
                write_cell(cell, acc);
            }
        }
    }
    by_stream_deltas(data, l, false);
}

/// A block's events, borrowed.
#[derive(Clone, Copy)]
pub struct BlockView<'a> {
    pub n: usize,
    ts: &'a [u8],
    ingestion: &'a [u8],
    id: &'a [u8],
    stream: &'a [u8],
    ends: &'a [u8],
    messages: &'a [u8],
}

impl<'a> BlockView<'a> {
    pub fn new(data: &'a [u8], l: &Layout) -> BlockView<'a> {
        let col = |a: usize, b: usize| data.get(a..b).unwrap_or(&[]);
        BlockView {
            n: l.n,
            ts: col(l.ts, l.ingestion),
            ingestion: col(l.ingestion, l.id),
            id: col(l.id, l.stream),
            stream: col(l.stream, l.ends),
            ends: col(l.ends, l.messages),
            messages: data.get(l.messages..).unwrap_or(&[]),
        }
    }
    pub fn ts(&self, i: usize) -> i64 {
        col_i64(self.ts, i)
    }
    pub fn ingestion(&self, i: usize) -> i64 {
        col_i64(self.ingestion, i)
    }
    pub fn id(&self, i: usize) -> u64 {
        col_u64(self.id, i)
    }
    pub fn stream(&self, i: usize) -> u64 {
        col_u64(self.stream, i)
    }
    pub fn key(&self, i: usize) -> (i64, u64) {
        (self.ts(i), self.id(i))
    }
    pub fn message_bytes(&self, i: usize) -> &'a [u8] {
        let start = if i == 0 {
            0
        } else {
            col_u32(self.ends, i - 1) as usize
        };
        let end = col_u32(self.ends, i) as usize;
        self.messages.get(start..end).unwrap_or(&[])
    }
    /// The message; a block whose bytes are not UTF-8 (only a damaged one
    /// that still passed its crc) reads as an empty message.
    pub fn message(&self, i: usize) -> &'a str {
        std::str::from_utf8(self.message_bytes(i)).unwrap_or("")
    }
    /// The first index whose key is above `key` (`strict`) or at least `key`.
    pub fn seek(&self, key: (i64, u64), strict: bool) -> usize {
        let (mut lo, mut hi) = (0, self.n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let k = self.key(mid);
            let before = if strict { k <= key } else { k < key };
            if before {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// One event to be written into a block.
#[derive(Clone, Copy, Debug)]
pub struct RawEvent<'a> {
    pub ts: i64,
    pub ingestion: i64,
    pub id: u64,
    pub stream: u64,
    pub message: &'a str,
}

/// Encodes events (already in (timestamp, id) order) as one block.
pub fn encode_block(events: &[RawEvent<'_>]) -> Vec<u8> {
    let n = events.len();
    let msg_bytes: usize = events.iter().map(|e| e.message.len()).sum();
    let mut out = Vec::with_capacity(4 + n * EVENT_OVERHEAD + msg_bytes);
    out.extend_from_slice(&(n as u32).to_le_bytes());
    for e in events {
        out.extend_from_slice(&e.ts.to_le_bytes());
    }
    for e in events {
        out.extend_from_slice(&e.ingestion.to_le_bytes());
    }
    for e in events {
        out.extend_from_slice(&e.id.to_le_bytes());
    }
    for e in events {
        out.extend_from_slice(&e.stream.to_le_bytes());
    }
    let mut end = 0u32;
    for e in events {
        end = end.saturating_add(e.message.len() as u32);
        out.extend_from_slice(&end.to_le_bytes());
    }
    for e in events {
        out.extend_from_slice(e.message.as_bytes());
    }
    out
}

/// Which streams a block (or file) holds: a short sorted list, or "many".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamSet {
    Few(Vec<u64>),
    Many,
}

/// Above this many distinct streams a block's set is just `Many`.
pub const MAX_LISTED_STREAMS: usize = 32;

impl StreamSet {
    pub fn of(ids: impl Iterator<Item = u64>) -> StreamSet {
        let mut v: Vec<u64> = Vec::new();
        for id in ids {
            if let Err(at) = v.binary_search(&id) {
                if v.len() == MAX_LISTED_STREAMS {
                    return StreamSet::Many;
                }
                v.insert(at, id);
            }
        }
        StreamSet::Few(v)
    }
    /// Whether any of `wanted` (sorted) may occur.
    pub fn may_contain_any(&self, wanted: &[u64]) -> bool {
        match self {
            StreamSet::Few(v) => v.iter().any(|id| wanted.binary_search(id).is_ok()),
            StreamSet::Many => true,
        }
    }
}

/// What an index keeps about one block.
#[derive(Clone, Debug)]
pub struct BlockMeta {
    pub min_ts: i64,
    pub max_ts: i64,
    pub count: u32,
    pub streams: StreamSet,
}

impl BlockMeta {
    pub fn of(events: &[RawEvent<'_>]) -> BlockMeta {
        BlockMeta {
            min_ts: events.iter().map(|e| e.ts).min().unwrap_or(0),
            max_ts: events.iter().map(|e| e.ts).max().unwrap_or(0),
            count: events.len() as u32,
            streams: StreamSet::of(events.iter().map(|e| e.stream)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_round_trips_and_seeks() {
        let events = [
            RawEvent {
                ts: 5,
                ingestion: 100,
                id: 1,
                stream: 7,
                message: "héllo",
            },
            RawEvent {
                ts: 5,
                ingestion: 100,
                id: 3,
                stream: 9,
                message: "",
            },
            RawEvent {
                ts: 8,
                ingestion: 101,
                id: 2,
                stream: 7,
                message: "world",
            },
        ];
        let data = encode_block(&events);
        let layout = Layout::parse(&data).expect("a block just encoded parses");
        let v = BlockView::new(&data, &layout);
        assert_eq!(v.n, 3);
        assert_eq!(v.message(0), "héllo");
        assert_eq!(v.message(1), "");
        assert_eq!(v.message(2), "world");
        assert_eq!(
            (v.ts(2), v.ingestion(2), v.id(2), v.stream(2)),
            (8, 101, 2, 7)
        );
        assert_eq!(v.seek((5, 3), false), 1);
        assert_eq!(v.seek((5, 3), true), 2);
        assert_eq!(v.seek((9, 0), false), 3);
        assert!(Layout::parse(&data[..data.len() - 1]).is_none());
        let mut disk = data.clone();
        to_disk(&mut disk, &layout);
        assert_ne!(disk, data);
        // Timestamps 5, 5, 8 are stored as deltas 5, 0, 3 (zigzag: 10, 0,
        // 6), first bytes first.
        assert_eq!(disk[4..7], [10, 0, 6]);
        assert!(disk[7..28].iter().all(|b| *b == 0));
        // Ids 1, 3, 2 of streams 7, 9, 7: deltas to the same stream's last
        // id are 1, 3, 1 (zigzag 2, 6, 2).
        assert_eq!(disk[4 + 48..4 + 51], [2, 6, 2]);
        from_disk(&mut disk, &layout);
        assert_eq!(disk, data);
    }

    #[test]
    fn layout_parse_is_total() {
        for len in 0..64 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 % 251) as u8).collect();
            let _ = Layout::parse(&junk);
        }
        assert!(Layout::parse(&[255, 255, 255, 255]).is_none());
    }
}
