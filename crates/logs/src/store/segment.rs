//! Sealed segment files: one log group, one time window, immutable.
//!
//! ```text
//! "SLSEG\x03\0\0" | block* | index | index_offset u64 | index_len u32
//!                 | crc32(index) u32 | "SLSEGEND"
//! ```
//!
//! Each block is a zstd-compressed [`super::block`] of ~64 KiB raw; the index
//! gives per block its offset, compressed and raw lengths, crc32 of the
//! compressed bytes, min/max timestamp, event count and the streams in it, so
//! a time-range or single-stream read decompresses only the blocks it needs.
//! Files are written to a temp name, fsync'd, renamed and the directory
//! fsync'd; the catalog snapshot that lists a file is what makes it live.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::block::{BlockMeta, Layout, RawEvent, StreamSet, encode_block, from_disk, to_disk};
use super::codec::{Dec, Enc};
use super::error::StoreError;
use super::fsutil::sync_dir;

const HEADER: &[u8; 8] = b"SLSEG\x03\0\0";
const TRAILER: &[u8; 8] = b"SLSEGEND";
const FOOTER: usize = 8 + 4 + 4 + 8;
/// Raw bytes per block before it is cut.
pub const BLOCK_RAW_BYTES: usize = 256 << 10;
const ZSTD_LEVEL: i32 = 6;

/// The block size and zstd level seals use: the constants, unless the
/// benchmark's tuning variables (`STRATUS_LOGS_BLOCK_KIB`,
/// `STRATUS_LOGS_ZSTD_LEVEL`, read once) say otherwise. Readers need
/// neither: every block's index entry carries its sizes.
fn tuning() -> (usize, i32) {
    static TUNING: std::sync::OnceLock<(usize, i32)> = std::sync::OnceLock::new();
    *TUNING.get_or_init(|| {
        let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<i64>().ok());
        let block = var("STRATUS_LOGS_BLOCK_KIB")
            .filter(|k| (4..=4096).contains(k))
            .map_or(BLOCK_RAW_BYTES, |k| k as usize * 1024);
        let level = var("STRATUS_LOGS_ZSTD_LEVEL")
            .filter(|l| (1..=19).contains(l))
            .map_or(ZSTD_LEVEL, |l| l as i32);
        (block, level)
    })
}

pub fn file_name(file_id: u64) -> String {
    format!("{file_id:016x}.seg")
}

/// Parses a segment file name back into its id.
pub fn parse_file_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".seg")?;
    (stem.len() == 16).then(|| u64::from_str_radix(stem, 16).ok())?
}

#[derive(Clone, Debug)]
pub struct BlockIndex {
    pub offset: u64,
    pub compressed_len: u32,
    pub raw_len: u32,
    pub crc: u32,
    pub meta: BlockMeta,
}

/// What a written file holds, for the catalog and the stats.
#[derive(Clone, Debug, Default)]
pub struct Written {
    pub file_bytes: u64,
    pub raw_bytes: u64,
    pub events: u64,
    pub min_ts: i64,
    pub max_ts: i64,
    /// Message bytes per stream id, sorted by stream id.
    pub stream_bytes: Vec<(u64, u64)>,
}

/// Writes `events` (sorted by (timestamp, id)) as segment file `path`
/// durably: streamed to a temp file, fsync, rename, directory fsync. On
/// failure the temp file is removed.
pub fn write(
    path: &Path,
    events: &[RawEvent<'_>],
    fsync: bool,
) -> Result<(Vec<BlockIndex>, Written), StoreError> {
    let tmp = tmp_path(path);
    let result = write_tmp(&tmp, events, fsync).and_then(|done| {
        std::fs::rename(&tmp, path)
            .map_err(|e| StoreError::io(format!("renaming {}", tmp.display()), e))?;
        if fsync {
            sync_dir(path.parent().unwrap_or(Path::new(".")))?;
        }
        Ok(done)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    PathBuf::from(tmp)
}

fn write_tmp(
    tmp: &Path,
    events: &[RawEvent<'_>],
    fsync: bool,
) -> Result<(Vec<BlockIndex>, Written), StoreError> {
    let io = |e| StoreError::io(format!("writing {}", tmp.display()), e);
    let file = File::create(tmp).map_err(io)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    out.write_all(HEADER).map_err(io)?;
    let mut offset = HEADER.len() as u64;
    let mut index = Vec::new();
    let (block_bytes, level) = tuning();
    let mut compressor =
        zstd::bulk::Compressor::new(level).map_err(|e| StoreError::io("starting zstd", e))?;
    let mut compressed = Vec::new();
    let mut written = Written {
        min_ts: i64::MAX,
        max_ts: i64::MIN,
        ..Written::default()
    };
    let mut per_stream: std::collections::BTreeMap<u64, u64> = Default::default();
    let mut start = 0;
    while start < events.len() {
        let mut end = start;
        let mut raw = 4;
        while end < events.len() && (end == start || raw < block_bytes) {
            raw += super::block::EVENT_OVERHEAD + events[end].message.len();
            end += 1;
        }
        let slice = &events[start..end];
        start = end;
        let mut block = encode_block(slice);
        if let Some(layout) = Layout::parse(&block) {
            to_disk(&mut block, &layout);
        }
        compressed.clear();
        compressed.reserve(zstd::zstd_safe::compress_bound(block.len()));
        compressor
            .compress_to_buffer(block.as_slice(), &mut compressed)
            .map_err(|e| StoreError::io("compressing a segment block", e))?;
        out.write_all(&compressed).map_err(io)?;
        let meta = BlockMeta::of(slice);
        written.min_ts = written.min_ts.min(meta.min_ts);
        written.max_ts = written.max_ts.max(meta.max_ts);
        for e in slice {
            *per_stream.entry(e.stream).or_default() += e.message.len() as u64;
            written.raw_bytes += e.message.len() as u64;
        }
        written.events += slice.len() as u64;
        index.push(BlockIndex {
            offset,
            compressed_len: compressed.len() as u32,
            raw_len: block.len() as u32,
            crc: crc32fast::hash(&compressed),
            meta,
        });
        offset += compressed.len() as u64;
    }
    written.stream_bytes = per_stream.into_iter().collect();
    let encoded = encode_index(&index);
    let mut footer = encoded.clone();
    footer.extend_from_slice(&offset.to_le_bytes());
    footer.extend_from_slice(&(encoded.len() as u32).to_le_bytes());
    footer.extend_from_slice(&crc32fast::hash(&encoded).to_le_bytes());
    footer.extend_from_slice(TRAILER);
    out.write_all(&footer).map_err(io)?;
    written.file_bytes = offset + footer.len() as u64;
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    if fsync {
        file.sync_all().map_err(io)?;
    }
    Ok((index, written))
}

/// Temp file, fsync, rename, directory fsync.
pub fn write_durably(path: &Path, bytes: &[u8], fsync: bool) -> Result<(), StoreError> {
    let tmp = tmp_path(path);
    let ctx = |what: &str| format!("{what} {}", tmp.display());
    let mut f = File::create(&tmp).map_err(|e| StoreError::io(ctx("creating"), e))?;
    f.write_all(bytes)
        .and_then(|()| if fsync { f.sync_all() } else { Ok(()) })
        .map_err(|e| StoreError::io(ctx("writing"), e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| StoreError::io(ctx("renaming"), e))?;
    if fsync {
        sync_dir(path.parent().unwrap_or(Path::new(".")))?;
    }
    Ok(())
}

fn encode_index(index: &[BlockIndex]) -> Vec<u8> {
    let mut e = Enc::default();
    e.u32(index.len() as u32);
    for b in index {
        e.u64(b.offset);
        e.u32(b.compressed_len);
        e.u32(b.raw_len);
        e.u32(b.crc);
        e.i64(b.meta.min_ts);
        e.i64(b.meta.max_ts);
        e.u32(b.meta.count);
        match &b.meta.streams {
            StreamSet::Many => e.u8(1),
            StreamSet::Few(ids) => {
                e.u8(0);
                e.u32(ids.len() as u32);
                for id in ids {
                    e.u64(*id);
                }
            }
        }
    }
    e.buf
}

/// The index decoder over arbitrary bytes (fuzzing).
pub(crate) fn fuzz_index(buf: &[u8]) -> Option<usize> {
    decode_index(buf, buf.len() as u64).map(|v| v.len())
}

fn decode_index(buf: &[u8], file_len: u64) -> Option<Vec<BlockIndex>> {
    let mut d = Dec::new(buf);
    let n = d.u32()? as usize;
    let mut out = Vec::with_capacity(n.min(buf.len() / 32));
    for _ in 0..n {
        let offset = d.u64()?;
        let compressed_len = d.u32()?;
        let raw_len = d.u32()?;
        let crc = d.u32()?;
        let min_ts = d.i64()?;
        let max_ts = d.i64()?;
        let count = d.u32()?;
        let streams = match d.u8()? {
            1 => StreamSet::Many,
            0 => {
                let k = d.u32()? as usize;
                let mut ids = Vec::with_capacity(k.min(super::block::MAX_LISTED_STREAMS));
                for _ in 0..k {
                    ids.push(d.u64()?);
                }
                StreamSet::Few(ids)
            }
            _ => return None,
        };
        if offset.checked_add(u64::from(compressed_len))? > file_len {
            return None;
        }
        out.push(BlockIndex {
            offset,
            compressed_len,
            raw_len,
            crc,
            meta: BlockMeta {
                min_ts,
                max_ts,
                count,
                streams,
            },
        });
    }
    d.is_empty().then_some(out)
}

/// Reads a segment file's block index (its footer and index only).
pub fn read_index(path: &Path) -> Result<Vec<BlockIndex>, StoreError> {
    let f =
        File::open(path).map_err(|e| StoreError::io(format!("opening {}", path.display()), e))?;
    let len = f
        .metadata()
        .map_err(|e| StoreError::io(format!("reading {}", path.display()), e))?
        .len();
    let bad = |offset: u64, why: &str| StoreError::damaged(path, offset, why);
    if len < (HEADER.len() + FOOTER) as u64 {
        return Err(bad(0, "shorter than a segment's header and footer"));
    }
    let mut footer = [0u8; FOOTER];
    let footer_at = len - FOOTER as u64;
    f.read_exact_at(&mut footer, footer_at)
        .map_err(|e| StoreError::io(format!("reading {}", path.display()), e))?;
    let mut d = Dec::new(&footer);
    let (Some(index_offset), Some(index_len), Some(crc), Some(trailer)) =
        (d.u64(), d.u32(), d.u32(), d.take(8))
    else {
        return Err(bad(footer_at, "unreadable footer"));
    };
    if trailer != TRAILER {
        return Err(bad(footer_at, "missing segment trailer"));
    }
    if index_offset.checked_add(u64::from(index_len)) != Some(footer_at) {
        return Err(bad(footer_at, "index position out of range"));
    }
    let mut index = vec![0u8; index_len as usize];
    f.read_exact_at(&mut index, index_offset)
        .map_err(|e| StoreError::io(format!("reading {}", path.display()), e))?;
    if crc32fast::hash(&index) != crc {
        return Err(bad(index_offset, "index checksum mismatch"));
    }
    decode_index(&index, index_offset).ok_or_else(|| bad(index_offset, "malformed index"))
}

/// Reads a segment file's index and every block (crc, decompression,
/// layout, event count): what fsck and recovery trust.
pub fn verify(path: &Path) -> Result<Vec<BlockIndex>, StoreError> {
    let index = read_index(path)?;
    let f =
        File::open(path).map_err(|e| StoreError::io(format!("opening {}", path.display()), e))?;
    let mut decompressor =
        zstd::bulk::Decompressor::new().map_err(|e| StoreError::io("starting zstd", e))?;
    let (mut scratch, mut raw) = (Vec::new(), Vec::new());
    for b in &index {
        // A length the index claims beyond any real block is damage, not an
        // allocation to attempt.
        if b.raw_len as usize > 64 * BLOCK_RAW_BYTES.max(tuning().0) {
            return Err(StoreError::damaged(
                path,
                b.offset,
                "block raw length out of range",
            ));
        }
        let layout = read_block(&f, path, b, &mut decompressor, &mut scratch, &mut raw)?;
        if layout.n as u64 != u64::from(b.meta.count) {
            return Err(StoreError::damaged(
                path,
                b.offset,
                "block event count differs from its index entry",
            ));
        }
    }
    Ok(index)
}

/// Reads block `b` of an open segment file into `raw` (decompressed, its
/// columns restored), reusing `scratch` and `raw`'s allocations.
pub fn read_block(
    f: &File,
    path: &Path,
    b: &BlockIndex,
    decompressor: &mut zstd::bulk::Decompressor<'static>,
    scratch: &mut Vec<u8>,
    raw: &mut Vec<u8>,
) -> Result<Layout, StoreError> {
    scratch.clear();
    scratch.resize(b.compressed_len as usize, 0);
    f.read_exact_at(scratch, b.offset)
        .map_err(|e| StoreError::io(format!("reading {}", path.display()), e))?;
    if crc32fast::hash(scratch) != b.crc {
        return Err(StoreError::damaged(
            path,
            b.offset,
            "block checksum mismatch",
        ));
    }
    raw.clear();
    raw.reserve(b.raw_len as usize);
    let n = decompressor
        .decompress_to_buffer(scratch.as_slice(), raw)
        .map_err(|_| StoreError::damaged(path, b.offset, "block does not decompress"))?;
    if n != b.raw_len as usize {
        return Err(StoreError::damaged(
            path,
            b.offset,
            "block has the wrong raw length",
        ));
    }
    let malformed = || StoreError::damaged(path, b.offset, "malformed block");
    let shape = Layout::shape(raw).ok_or_else(malformed)?;
    from_disk(raw, &shape);
    Layout::parse(raw).ok_or_else(malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip() {
        assert_eq!(parse_file_name(&file_name(0xabc)), Some(0xabc));
        assert_eq!(parse_file_name("xyz.seg"), None);
        assert_eq!(parse_file_name("0000000000000abc.seg.tmp"), None);
    }

    #[test]
    fn index_decoding_is_total() {
        for len in 0..80 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 91 % 256) as u8).collect();
            let _ = decode_index(&junk, 1 << 20);
        }
    }
}
