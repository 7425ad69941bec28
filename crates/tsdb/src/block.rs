//! Immutable block files `blocks/<id>.blk`, one per seal.
//!
//! ```text
//! file    = header | section* | index | footer
//! header  = "STBLK" | version u8 (1) | 0u8 | 0u8
//! section = payload | crc32(payload) u32          (one per series)
//! payload = count varint
//!         | ts     : codec u8 (1 = delta-of-delta packed) | len-prefixed bytes
//!         | kinds  : codec u8 (1 = RLE)                   | len-prefixed bytes
//!         | units  : codec u8 (1 = RLE)                   | len-prefixed bytes
//!         | values : float column (Single values)          see codec::floats
//!         | aux    : float column (StatSet count,sum,min,max; Distribution
//!                    values then counts)
//!         | dlens  : codec u8 (1 = packed)                | len-prefixed bytes
//! index   = wal_covered_below varint | n varint
//!         | n × (series id, offset, payload len, count varint; min_ts, max_ts zigzag)
//! footer  = index offset u64 | index len u32 | crc32(index) u32 | "STBF"
//! ```
//!
//! Samples inside a section are sorted by timestamp (stable). A block is
//! written to `<id>.blk.tmp`, fsync'd, renamed and the directory fsync'd,
//! so a block file is either complete or absent. `wal_covered_below` records
//! which WAL segments the block's data came from: on open, segments below
//! the largest such number are already sealed and are not replayed again.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::aggregate::Bucketer;
use crate::codec::bytes::{ByteReader, put_ivarint, put_uvarint};
use crate::codec::floats::{decode_floats, encode_floats};
use crate::codec::ints::{decode_packed, encode_packed};
use crate::codec::rle::{decode_rle, encode_rle};
use crate::codec::timestamps::{decode_timestamps, encode_timestamps};
use crate::error::{DecodeError, Error};
use crate::fsutil::sync_dir;
use crate::head::Head;
use crate::model::{Sample, SampleValue};
use crate::record::{
    HIGH_RES_FLAG, KIND_DISTRIBUTION, KIND_SINGLE, KIND_STATSET, SeriesId, kind_byte,
};

const HEADER: [u8; 8] = *b"STBLK\x01\0\0";
const FOOTER_MAGIC: [u8; 4] = *b"STBF";
const FOOTER_LEN: usize = 20;
const COLUMN_CODEC_V1: u8 = 1;
/// Bound on samples per section accepted from disk (allocation guard).
const MAX_SECTION_SAMPLES: usize = 1 << 30;

pub fn block_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:08}.blk"))
}

/// Where one series lives in a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SectionMeta {
    pub series: SeriesId,
    pub offset: u64,
    pub len: u32,
    pub count: u64,
    pub min_ts: i64,
    pub max_ts: i64,
}

/// An open block: its index in memory, its file for positional reads.
#[derive(Debug)]
pub struct Block {
    pub path: PathBuf,
    file: File,
    pub wal_covered_below: u64,
    sections: Vec<SectionMeta>,
    pub min_ts: i64,
    pub max_ts: i64,
    pub samples: u64,
    pub bytes: u64,
}

/// Encodes one series' samples (any order) into a section payload.
pub fn encode_section(samples: &[Sample], out: &mut Vec<u8>) {
    let mut order: Vec<&Sample> = samples.iter().collect();
    order.sort_by_key(|s| s.timestamp_ms);
    let ts: Vec<i64> = order.iter().map(|s| s.timestamp_ms).collect();
    let kinds: Vec<u8> = order.iter().map(|s| kind_byte(s)).collect();
    let units: Vec<u8> = order.iter().map(|s| s.unit).collect();
    let mut values = Vec::with_capacity(order.len());
    let mut aux = Vec::new();
    let mut dlens = Vec::new();
    for s in &order {
        match &s.value {
            SampleValue::Single(v) => values.push(*v),
            SampleValue::StatSet {
                count,
                sum,
                min,
                max,
            } => aux.extend_from_slice(&[*count, *sum, *min, *max]),
            SampleValue::Distribution(pairs) => {
                dlens.push(pairs.len() as u64);
                aux.extend(pairs.iter().map(|p| p.0));
                aux.extend(pairs.iter().map(|p| p.1));
            }
        }
    }
    put_uvarint(out, order.len() as u64);
    let mut col = Vec::new();
    let put_col = |out: &mut Vec<u8>, col: &mut Vec<u8>| {
        out.push(COLUMN_CODEC_V1);
        put_uvarint(out, col.len() as u64);
        out.extend_from_slice(col);
        col.clear();
    };
    encode_timestamps(&ts, &mut col);
    put_col(out, &mut col);
    encode_rle(&kinds, &mut col);
    put_col(out, &mut col);
    encode_rle(&units, &mut col);
    put_col(out, &mut col);
    encode_floats(&values, out);
    encode_floats(&aux, out);
    encode_packed(&dlens, &mut col);
    put_col(out, &mut col);
}

/// A decoded section, columns side by side.
#[derive(Debug, Default)]
pub struct Columns {
    pub ts: Vec<i64>,
    pub kinds: Vec<u8>,
    pub units: Vec<u8>,
    pub values: Vec<f64>,
    pub aux: Vec<f64>,
    pub dlens: Vec<u64>,
}

fn column<'a>(r: &mut ByteReader<'a>) -> Result<ByteReader<'a>, DecodeError> {
    if r.u8()? != COLUMN_CODEC_V1 {
        return Err(DecodeError("unknown column codec"));
    }
    Ok(ByteReader::new(r.chunk()?))
}

pub fn decode_section(payload: &[u8]) -> Result<Columns, DecodeError> {
    let mut r = ByteReader::new(payload);
    let count = r.len(MAX_SECTION_SAMPLES)?;
    let mut c = Columns::default();
    decode_timestamps(&mut column(&mut r)?, count, &mut c.ts)?;
    decode_rle(&mut column(&mut r)?, count, &mut c.kinds)?;
    decode_rle(&mut column(&mut r)?, count, &mut c.units)?;
    decode_floats(&mut r, count, &mut c.values)?;
    decode_floats(&mut r, MAX_SECTION_SAMPLES, &mut c.aux)?;
    decode_packed(&mut column(&mut r)?, count, &mut c.dlens)?;
    if c.ts.len() != count || c.kinds.len() != count || c.units.len() != count {
        return Err(DecodeError("section columns disagree on length"));
    }
    Ok(c)
}

impl Columns {
    /// Visits every sample in `[start, end)` into the bucketer.
    pub fn feed(&self, b: &mut Bucketer) -> Result<(), DecodeError> {
        let short = DecodeError("section value columns too short");
        let (mut vi, mut ai, mut di) = (0usize, 0usize, 0usize);
        for i in 0..self.ts.len() {
            let kind = self.kinds[i] & !HIGH_RES_FLAG;
            let slot = b.slot(self.ts[i], self.units[i]);
            match kind {
                KIND_SINGLE => {
                    let v = *self.values.get(vi).ok_or(short.clone())?;
                    vi += 1;
                    if let Some(a) = slot {
                        a.add_single(v);
                    }
                }
                KIND_STATSET => {
                    let s = self.aux.get(ai..ai + 4).ok_or(short.clone())?;
                    ai += 4;
                    if let Some(a) = slot {
                        a.add_statset(s[0], s[1], s[2], s[3]);
                    }
                }
                KIND_DISTRIBUTION => {
                    let n = usize::try_from(*self.dlens.get(di).ok_or(short.clone())?)
                        .map_err(|_| short.clone())?;
                    di += 1;
                    let end = n
                        .checked_mul(2)
                        .and_then(|m| m.checked_add(ai))
                        .ok_or(short.clone())?;
                    let both = self.aux.get(ai..end).ok_or(short.clone())?;
                    ai = end;
                    if let Some(a) = slot {
                        a.add_distribution_columns(&both[..n], &both[n..]);
                    }
                }
                _ => return Err(DecodeError("unknown sample kind in block")),
            }
        }
        Ok(())
    }
}

/// Writes `head` as block `id` (temp file, fsync, rename, dir fsync).
pub fn write_block(
    dir: &Path,
    id: u64,
    head: &Head,
    wal_covered_below: u64,
    fsync: bool,
) -> Result<Block, Error> {
    let path = block_path(dir, id);
    let tmp = path.with_extension("blk.tmp");
    let ctx = |what: &str| format!("{what} {}", tmp.display());
    let file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&tmp)
        .map_err(|e| Error::io(ctx("creating"), e))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let mut offset = HEADER.len() as u64;
    w.write_all(&HEADER)
        .map_err(|e| Error::io(ctx("writing"), e))?;
    let mut sections = Vec::new();
    let mut payload = Vec::new();
    for (series, samples) in head.iter() {
        payload.clear();
        encode_section(samples, &mut payload);
        let len = u32::try_from(payload.len())
            .map_err(|_| Error::io(ctx("writing"), std::io::Error::other("section above 4 GiB")))?;
        w.write_all(&payload)
            .map_err(|e| Error::io(ctx("writing"), e))?;
        w.write_all(&crc32fast::hash(&payload).to_le_bytes())
            .map_err(|e| Error::io(ctx("writing"), e))?;
        let (min_ts, max_ts) = samples.iter().fold((i64::MAX, i64::MIN), |(lo, hi), s| {
            (lo.min(s.timestamp_ms), hi.max(s.timestamp_ms))
        });
        sections.push(SectionMeta {
            series,
            offset,
            len,
            count: samples.len() as u64,
            min_ts,
            max_ts,
        });
        offset += u64::from(len) + 4;
    }
    let mut index = Vec::new();
    put_uvarint(&mut index, wal_covered_below);
    put_uvarint(&mut index, sections.len() as u64);
    for s in &sections {
        put_uvarint(&mut index, u64::from(s.series));
        put_uvarint(&mut index, s.offset);
        put_uvarint(&mut index, u64::from(s.len));
        put_uvarint(&mut index, s.count);
        put_ivarint(&mut index, s.min_ts);
        put_ivarint(&mut index, s.max_ts);
    }
    let mut footer = Vec::with_capacity(FOOTER_LEN);
    footer.extend_from_slice(&offset.to_le_bytes());
    footer.extend_from_slice(&(index.len() as u32).to_le_bytes());
    footer.extend_from_slice(&crc32fast::hash(&index).to_le_bytes());
    footer.extend_from_slice(&FOOTER_MAGIC);
    w.write_all(&index)
        .map_err(|e| Error::io(ctx("writing"), e))?;
    w.write_all(&footer)
        .map_err(|e| Error::io(ctx("writing"), e))?;
    let file = w
        .into_inner()
        .map_err(|e| Error::io(ctx("writing"), e.into_error()))?;
    if fsync {
        file.sync_all().map_err(|e| Error::io(ctx("syncing"), e))?;
    }
    drop(file);
    fs::rename(&tmp, &path).map_err(|e| Error::io(ctx("renaming"), e))?;
    if fsync {
        sync_dir(dir)?;
    }
    Block::open(&path)
}

impl Block {
    /// Opens a block and loads its index; any damage is an error.
    pub fn open(path: &Path) -> Result<Block, Error> {
        let ctx = |what: &str| format!("{what} {}", path.display());
        let file = File::open(path).map_err(|e| Error::io(ctx("opening"), e))?;
        let bytes = file
            .metadata()
            .map_err(|e| Error::io(ctx("reading"), e))?
            .len();
        if bytes < (HEADER.len() + FOOTER_LEN) as u64 {
            return Err(Error::corrupt(path, "block shorter than header and footer"));
        }
        let mut head = [0u8; 8];
        read_at(&file, &mut head, 0).map_err(|e| Error::io(ctx("reading"), e))?;
        if head != HEADER {
            return Err(Error::corrupt(path, "bad block header or unknown version"));
        }
        let mut footer = [0u8; FOOTER_LEN];
        read_at(&file, &mut footer, bytes - FOOTER_LEN as u64)
            .map_err(|e| Error::io(ctx("reading"), e))?;
        let mut fr = ByteReader::new(&footer);
        let index_offset = fr.u64_le().map_err(|e| e.at(path))?;
        let index_len = fr.u32_le().map_err(|e| e.at(path))?;
        let index_crc = fr.u32_le().map_err(|e| e.at(path))?;
        if fr.array::<4>().map_err(|e| e.at(path))? != FOOTER_MAGIC {
            return Err(Error::corrupt(path, "bad block footer"));
        }
        if index_offset.checked_add(u64::from(index_len)) != Some(bytes - FOOTER_LEN as u64) {
            return Err(Error::corrupt(path, "block index position out of range"));
        }
        let mut index = vec![0u8; index_len as usize];
        read_at(&file, &mut index, index_offset).map_err(|e| Error::io(ctx("reading"), e))?;
        if crc32fast::hash(&index) != index_crc {
            return Err(Error::corrupt(path, "block index checksum mismatch"));
        }
        let (wal_covered_below, sections) =
            decode_index(&index, index_offset).map_err(|e| e.at(path))?;
        let min_ts = sections.iter().map(|s| s.min_ts).min().unwrap_or(i64::MAX);
        let max_ts = sections.iter().map(|s| s.max_ts).max().unwrap_or(i64::MIN);
        let samples = sections.iter().map(|s| s.count).sum();
        Ok(Block {
            path: path.to_owned(),
            file,
            wal_covered_below,
            sections,
            min_ts,
            max_ts,
            samples,
            bytes,
        })
    }

    pub fn section(&self, series: SeriesId) -> Option<&SectionMeta> {
        self.sections
            .binary_search_by_key(&series, |s| s.series)
            .ok()
            .map(|i| &self.sections[i])
    }

    /// Reads and checks one section.
    pub fn read_section(&self, meta: &SectionMeta) -> Result<Columns, Error> {
        let mut buf = vec![0u8; meta.len as usize + 4];
        read_at(&self.file, &mut buf, meta.offset)
            .map_err(|e| Error::io(format!("reading {}", self.path.display()), e))?;
        let (payload, crc) = buf.split_at(meta.len as usize);
        let mut c = [0u8; 4];
        c.copy_from_slice(crc);
        if crc32fast::hash(payload) != u32::from_le_bytes(c) {
            return Err(Error::corrupt(&self.path, "section checksum mismatch"));
        }
        decode_section(payload).map_err(|e| e.at(&self.path))
    }
}

fn decode_index(index: &[u8], index_offset: u64) -> Result<(u64, Vec<SectionMeta>), DecodeError> {
    let mut r = ByteReader::new(index);
    let covered = r.uvarint()?;
    let n = r.len(r.remaining() / 6)?;
    let mut sections = Vec::with_capacity(n);
    let mut prev: Option<SeriesId> = None;
    for _ in 0..n {
        let series =
            SeriesId::try_from(r.uvarint()?).map_err(|_| DecodeError("series id out of range"))?;
        if prev.is_some_and(|p| p >= series) {
            return Err(DecodeError("block index not sorted by series"));
        }
        prev = Some(series);
        let offset = r.uvarint()?;
        let len =
            u32::try_from(r.uvarint()?).map_err(|_| DecodeError("section length out of range"))?;
        if offset
            .checked_add(u64::from(len) + 4)
            .is_none_or(|end| end > index_offset)
        {
            return Err(DecodeError("section outside the block"));
        }
        let count = r.uvarint()?;
        let min_ts = r.ivarint()?;
        let max_ts = r.ivarint()?;
        sections.push(SectionMeta {
            series,
            offset,
            len,
            count,
            min_ts,
            max_ts,
        });
    }
    Ok((covered, sections))
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        let n = file.seek_read(buf, offset)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
        offset += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn section_decoder_never_panics_on_mutations() {
        let samples: Vec<Sample> = (0..50)
            .map(|i| Sample {
                timestamp_ms: 1000 * (50 - i),
                unit: (i % 3) as u8,
                high_resolution: i % 2 == 0,
                value: match i % 3 {
                    0 => SampleValue::Single(i as f64 * 0.5),
                    1 => SampleValue::Distribution(vec![(1.0, 2.0), (i as f64, 1.0)]),
                    _ => SampleValue::StatSet {
                        count: 2.0,
                        sum: 3.0,
                        min: 1.0,
                        max: 2.0,
                    },
                },
            })
            .collect();
        let mut payload = Vec::new();
        encode_section(&samples, &mut payload);
        let cols = decode_section(&payload).unwrap();
        assert_eq!(cols.ts.len(), 50);
        assert!(cols.ts.windows(2).all(|w| w[0] <= w[1]));
        for i in 0..payload.len() {
            for bit in [0x01u8, 0x80] {
                let mut m = payload.clone();
                m[i] ^= bit;
                if let Ok(c) = decode_section(&m) {
                    let mut b = Bucketer::new(0, i64::MAX, 1000, None);
                    let _ = c.feed(&mut b);
                }
            }
        }
    }

    proptest! {
        #[test]
        fn random_sections_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(c) = decode_section(&data) {
                let mut b = Bucketer::new(i64::MIN, i64::MAX, 1, None);
                let _ = c.feed(&mut b);
            }
        }
    }
}
