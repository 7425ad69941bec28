//! Immutable block files `blocks/<id>.blk`: one resolution, one time window.
//!
//! ```text
//! file    = header | section* | keys (v4) | index | footer
//! header  = "STBLK" | version u8 (5; 1 to 4 are still read) | 0u8 | 0u8
//! section = payload | crc32(payload) u32          (one per series)
//! payload = count varint
//!         | ts     : codec u8 (1 = delta-of-delta packed) | len-prefixed bytes
//!         | kinds  : codec u8 (1 = RLE)                   | len-prefixed bytes
//!         | units  : codec u8 (1 = RLE)                   | len-prefixed bytes
//!         | values : float column (Single values; Values rows'
//!                    values, v3)                             see codec::floats
//!                    (v5: may use the lossless codecs shortest decimal,
//!                    Chimp128 and ratio, in every float column)
//!         | aux    : float column (StatSet rows: count,sum,min,max;
//!                    Distribution values then counts)
//!         | dlens  : codec u8 (1 = packed)                | len-prefixed bytes
//!                    (value count of each Distribution and Values row)
//!         | sketch : codec u8 (1 = DdSketch::encode each) | len-prefixed bytes   (v2)
//!         | 4 float columns: count, sum, min, max of the Sketch rows          (v2)
//! keys    = deflate((1u8 | series key | 0u8)*, one per section in order) | crc32 u32
//! index   = wal_covered_below varint
//!         | (v2) resolution u8 | window_start zigzag | group id, group size varint
//!         |      n_sources varint | n_sources × block id varint
//!         | (v4) keys offset varint | keys len varint
//!         | n varint
//!         | n × (series id, offset, payload len, count varint; min_ts, max_ts zigzag)
//! footer  = index offset u64 | index len u32 | crc32(index) u32 | "STBF"
//! ```
//!
//! Rows inside a section are sorted by timestamp (stable). Raw blocks hold
//! samples as written; rollup blocks hold one row per (slot, unit) at the
//! slot start, using the sample kinds when they describe the slot exactly,
//! a Values row (v3: up to [`MAX_EXACT_VALUES`] values of count 1, stored
//! in the values column like raw samples, count/sum/min/max derived) when
//! the slot's values are few, and a Sketch row (the four statistics plus a
//! DDSketch) otherwise. A 5-minute slot of 60-second data is five values:
//! as a Values row it costs about what the five raw samples did, and keeps
//! exact percentiles.
//!
//! A block is written to `<id>.blk.tmp`, fsync'd, renamed and the directory
//! fsync'd, so a block file is either complete or absent. The index says
//! where the block came from, which is what makes multi-file updates
//! recoverable (see `compact` and `Db::open`): `wal_covered_below` and the
//! seal group (`group id` = first block id of the seal, `group size` =
//! blocks it wrote) for seals, `sources` (the blocks it replaces) for
//! rollups and merges.
//!
//! From v4 a block also carries the series key of each section (`keys`,
//! deflated: keys repeat namespaces and dimension names), so a damaged
//! catalog can be rebuilt from the blocks (`Options::recover`). Nothing on
//! the read path touches it; 0u8 marks a section whose key was unknown.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::aggregate::{Aggregate, Bucketer, Distribution};
use crate::codec::bytes::{ByteReader, put_ivarint, put_uvarint};
use crate::codec::floats::{decode_floats, encode_floats};
use crate::codec::ints::{decode_packed, encode_packed};
use crate::codec::rle::{decode_rle, encode_rle};
use crate::codec::timestamps::{decode_timestamps, encode_timestamps};
use crate::error::{DecodeError, Error};
use crate::fsutil::sync_dir;
use crate::model::{Sample, SampleValue, SeriesKey};
use crate::record::{
    HIGH_RES_FLAG, KIND_DISTRIBUTION, KIND_SINGLE, KIND_STATSET, SeriesId, put_key, read_key,
    value_kind,
};
use crate::resolution::Resolution;
use crate::sketch::DdSketch;

const HEADER_V1: [u8; 8] = *b"STBLK\x01\0\0";
const HEADER_V2: [u8; 8] = *b"STBLK\x02\0\0";
const HEADER_V3: [u8; 8] = *b"STBLK\x03\0\0";
const HEADER_V4: [u8; 8] = *b"STBLK\x04\0\0";
/// v5 differs from v4 only in the float codecs its columns may use, so a
/// binary that predates them refuses the file instead of misreading it.
const HEADER: [u8; 8] = *b"STBLK\x05\0\0";
/// Bound on a block's inflated keys (allocation guard).
const MAX_KEYS_BYTES: u64 = 1 << 30;
const FOOTER_MAGIC: [u8; 4] = *b"STBF";
const FOOTER_LEN: usize = 20;
const COLUMN_CODEC_V1: u8 = 1;
/// A rollup row summarised by a sketch (never in the WAL).
const KIND_SKETCH: u8 = 3;
/// A rollup row of several values each seen once (v3; never in the WAL).
const KIND_VALUES: u8 = 4;
/// Bound on samples per section accepted from disk (allocation guard).
const MAX_SECTION_SAMPLES: usize = 1 << 30;
/// Rollup slots with at most this many distinct exact values keep them
/// (exact percentiles); larger ones become sketches.
const MAX_EXACT_PAIRS: usize = 4;
/// Rollup slots of at most this many values, each seen once, keep them as
/// a Values row.
pub const MAX_EXACT_VALUES: usize = 12;

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

/// Where a block's data came from and which window it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    pub resolution: Resolution,
    pub window_start: i64,
    /// WAL segments below this number are in blocks (max over sources).
    pub wal_covered_below: u64,
    /// `(first block id of the seal, blocks the seal wrote)`; `(0, 0)` for
    /// rollups and merges.
    pub group: (u64, u64),
    /// Blocks this one replaces (rollups and merges).
    pub sources: Vec<u64>,
}

/// An open block: its index in memory, its file for positional reads.
#[derive(Debug)]
pub struct Block {
    pub id: u64,
    pub path: PathBuf,
    file: File,
    version: u8,
    pub info: BlockInfo,
    sections: Vec<SectionMeta>,
    /// `(offset, len)` of the keys chunk (v4), crc excluded.
    keys_at: Option<(u64, u64)>,
    pub min_ts: i64,
    pub max_ts: i64,
    pub samples: u64,
    pub bytes: u64,
}

/// Each section's series id and key (`None`: the writer did not know it).
pub type SectionKeys = Vec<(SeriesId, Option<SeriesKey>)>;

/// The value of one stored row.
#[derive(Clone, Debug, PartialEq)]
pub enum RowValue {
    Sample(SampleValue),
    /// A rollup slot of a few values, each seen once, in order.
    Values(Vec<f64>),
    /// A rollup slot whose values are summarised by a sketch.
    Sketch {
        count: f64,
        sum: f64,
        min: f64,
        max: f64,
        sketch: Box<DdSketch>,
    },
}

/// One row of a section: a raw sample or a rollup slot.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub ts: i64,
    pub unit: u8,
    pub high_resolution: bool,
    pub value: RowValue,
}

impl From<&Sample> for Row {
    fn from(s: &Sample) -> Row {
        Row {
            ts: s.timestamp_ms,
            unit: s.unit,
            high_resolution: s.high_resolution,
            value: RowValue::Sample(s.value.clone()),
        }
    }
}

impl Row {
    /// The rollup row for one slot's aggregate: exact kinds when they
    /// describe it exactly and cheaply, a sketch otherwise.
    pub fn rollup(a: &Aggregate) -> Row {
        let statset = |min: f64, max: f64| SampleValue::StatSet {
            count: a.count,
            sum: a.sum,
            min,
            max,
        };
        let value = match a.distribution() {
            Distribution::Exact([(v, c)]) if *c == 1.0 => RowValue::Sample(SampleValue::Single(*v)),
            Distribution::Exact(pairs)
                if pairs.iter().all(|p| p.0.to_bits() == pairs[0].0.to_bits()) =>
            {
                RowValue::Sample(statset(a.min, a.min))
            }
            Distribution::Exact(pairs)
                if pairs.len() <= MAX_EXACT_VALUES && pairs.iter().all(|p| p.1 == 1.0) =>
            {
                RowValue::Values(pairs.iter().map(|p| p.0).collect())
            }
            Distribution::Exact(pairs) if pairs.len() <= MAX_EXACT_PAIRS => {
                RowValue::Sample(SampleValue::Distribution(pairs.to_vec()))
            }
            Distribution::Exact(pairs) => {
                let mut sketch = DdSketch::new();
                for &(v, c) in pairs {
                    sketch.add(v, c);
                }
                sketch_row(a, sketch)
            }
            Distribution::Sketch(s) => sketch_row(a, s.clone()),
            // min != max here: percentiles stay unavailable, as for the source.
            Distribution::Unavailable => RowValue::Sample(statset(a.min, a.max)),
        };
        Row {
            ts: a.start_ms,
            unit: a.unit,
            high_resolution: false,
            value,
        }
    }

    fn kind(&self) -> u8 {
        let kind = match &self.value {
            RowValue::Sample(v) => value_kind(v),
            RowValue::Values(_) => KIND_VALUES,
            RowValue::Sketch { .. } => KIND_SKETCH,
        };
        if self.high_resolution {
            kind | HIGH_RES_FLAG
        } else {
            kind
        }
    }
}

fn sketch_row(a: &Aggregate, sketch: DdSketch) -> RowValue {
    RowValue::Sketch {
        count: a.count,
        sum: a.sum,
        min: a.min,
        max: a.max,
        sketch: Box::new(sketch),
    }
}

/// Encodes one series' rows (any order; sorted here) into a section payload.
pub fn encode_section(rows: &mut [Row], out: &mut Vec<u8>) {
    rows.sort_by_key(|r| r.ts);
    let ts: Vec<i64> = rows.iter().map(|r| r.ts).collect();
    let kinds: Vec<u8> = rows.iter().map(Row::kind).collect();
    let units: Vec<u8> = rows.iter().map(|r| r.unit).collect();
    let mut values = Vec::with_capacity(rows.len());
    let mut aux = Vec::new();
    let mut dlens = Vec::new();
    let mut sketches = Vec::new();
    // Separate columns compress far better than interleaved statistics.
    let mut sketch_stats: [Vec<f64>; 4] = Default::default();
    for r in rows.iter() {
        match &r.value {
            RowValue::Sample(SampleValue::Single(v)) => values.push(*v),
            RowValue::Sample(SampleValue::StatSet {
                count,
                sum,
                min,
                max,
            }) => aux.extend_from_slice(&[*count, *sum, *min, *max]),
            RowValue::Sample(SampleValue::Distribution(pairs)) => {
                dlens.push(pairs.len() as u64);
                aux.extend(pairs.iter().map(|p| p.0));
                aux.extend(pairs.iter().map(|p| p.1));
            }
            RowValue::Values(vs) => {
                dlens.push(vs.len() as u64);
                values.extend_from_slice(vs);
            }
            RowValue::Sketch {
                count,
                sum,
                min,
                max,
                sketch,
            } => {
                for (col, v) in sketch_stats.iter_mut().zip([count, sum, min, max]) {
                    col.push(*v);
                }
                sketch.encode(&mut sketches);
            }
        }
    }
    put_uvarint(out, rows.len() as u64);
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
    put_col(out, &mut sketches);
    for col in &sketch_stats {
        encode_floats(col, out);
    }
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
    /// Concatenated sketch encodings of the Sketch rows, in row order.
    pub sketches: Vec<u8>,
    /// count, sum, min, max of the Sketch rows.
    pub sketch_stats: [Vec<f64>; 4],
}

fn column<'a>(r: &mut ByteReader<'a>) -> Result<ByteReader<'a>, DecodeError> {
    if r.u8()? != COLUMN_CODEC_V1 {
        return Err(DecodeError("unknown column codec"));
    }
    Ok(ByteReader::new(r.chunk()?))
}

/// Decodes a section of a block of format `version`.
pub fn decode_section(payload: &[u8], version: u8) -> Result<Columns, DecodeError> {
    let mut r = ByteReader::new(payload);
    let count = r.len(MAX_SECTION_SAMPLES)?;
    let mut c = Columns::default();
    decode_timestamps(&mut column(&mut r)?, count, &mut c.ts)?;
    decode_rle(&mut column(&mut r)?, count, &mut c.kinds)?;
    decode_rle(&mut column(&mut r)?, count, &mut c.units)?;
    // From v3, Values rows put several values per row in this column.
    let values_max = if version >= 3 {
        MAX_SECTION_SAMPLES
    } else {
        count
    };
    decode_floats(&mut r, values_max, &mut c.values)?;
    decode_floats(&mut r, MAX_SECTION_SAMPLES, &mut c.aux)?;
    decode_packed(&mut column(&mut r)?, count, &mut c.dlens)?;
    if version >= 2 {
        let mut sketches = column(&mut r)?;
        c.sketches = sketches.bytes(sketches.remaining())?.to_vec();
        for col in &mut c.sketch_stats {
            decode_floats(&mut r, count, col)?;
        }
    }
    if c.ts.len() != count || c.kinds.len() != count || c.units.len() != count {
        return Err(DecodeError("section columns disagree on length"));
    }
    Ok(c)
}

impl Columns {
    /// Calls `visit(ts, unit, high_resolution, value)` for every row, in order.
    fn visit(&self, mut visit: impl FnMut(i64, u8, bool, RowRef<'_>)) -> Result<(), DecodeError> {
        let short = DecodeError("section value columns too short");
        let (mut vi, mut ai, mut di, mut si) = (0usize, 0usize, 0usize, 0usize);
        let mut sketches = ByteReader::new(&self.sketches);
        for i in 0..self.ts.len() {
            let high_res = self.kinds[i] & HIGH_RES_FLAG != 0;
            let kind = self.kinds[i] & !HIGH_RES_FLAG;
            let row = match kind {
                KIND_SINGLE => {
                    let v = *self.values.get(vi).ok_or(short.clone())?;
                    vi += 1;
                    RowRef::Single(v)
                }
                KIND_STATSET => {
                    let s = self.aux.get(ai..ai + 4).ok_or(short.clone())?;
                    ai += 4;
                    RowRef::StatSet([s[0], s[1], s[2], s[3]])
                }
                KIND_SKETCH => {
                    let [c, s, lo, hi] = &self.sketch_stats;
                    let stat = |col: &Vec<f64>| col.get(si).copied().ok_or(short.clone());
                    let stats = [stat(c)?, stat(s)?, stat(lo)?, stat(hi)?];
                    si += 1;
                    let sketch = DdSketch::decode(&mut sketches, stats[1], stats[2], stats[3])?;
                    RowRef::Sketch(stats, sketch)
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
                    RowRef::Distribution(&both[..n], &both[n..])
                }
                KIND_VALUES => {
                    let n = usize::try_from(*self.dlens.get(di).ok_or(short.clone())?)
                        .map_err(|_| short.clone())?;
                    di += 1;
                    let end = vi.checked_add(n).ok_or(short.clone())?;
                    let vs = self.values.get(vi..end).ok_or(short.clone())?;
                    vi = end;
                    RowRef::Values(vs)
                }
                _ => return Err(DecodeError("unknown sample kind in block")),
            };
            visit(self.ts[i], self.units[i], high_res, row);
        }
        Ok(())
    }

    /// Visits every row in `[start, end)` into the bucketer.
    pub fn feed(&self, b: &mut Bucketer) -> Result<(), DecodeError> {
        self.visit(|ts, unit, _, row| {
            let Some(a) = b.slot(ts, unit) else { return };
            match row {
                RowRef::Single(v) => a.add_single(v),
                RowRef::StatSet([c, s, lo, hi]) => a.add_statset(c, s, lo, hi),
                RowRef::Distribution(v, c) => a.add_distribution_columns(v, c),
                RowRef::Values(vs) => {
                    for &v in vs {
                        a.add_single(v);
                    }
                }
                RowRef::Sketch([c, s, lo, hi], sketch) => a.add_sketch(c, s, lo, hi, &sketch),
            }
        })
    }

    /// Every row, owned (for merges).
    pub fn rows(&self, out: &mut Vec<Row>) -> Result<(), DecodeError> {
        self.visit(|ts, unit, high_resolution, row| {
            let value = match row {
                RowRef::Single(v) => RowValue::Sample(SampleValue::Single(v)),
                RowRef::StatSet([count, sum, min, max]) => RowValue::Sample(SampleValue::StatSet {
                    count,
                    sum,
                    min,
                    max,
                }),
                RowRef::Distribution(v, c) => RowValue::Sample(SampleValue::Distribution(
                    v.iter().copied().zip(c.iter().copied()).collect(),
                )),
                RowRef::Values(vs) => RowValue::Values(vs.to_vec()),
                RowRef::Sketch([count, sum, min, max], sketch) => RowValue::Sketch {
                    count,
                    sum,
                    min,
                    max,
                    sketch: Box::new(sketch),
                },
            };
            out.push(Row {
                ts,
                unit,
                high_resolution,
                value,
            });
        })
    }
}

/// A row as it sits in the columns.
enum RowRef<'a> {
    Single(f64),
    StatSet([f64; 4]),
    Distribution(&'a [f64], &'a [f64]),
    Values(&'a [f64]),
    Sketch([f64; 4], DdSketch),
}

/// Writes one block, section by section, then its index.
pub struct BlockWriter {
    dir: PathBuf,
    id: u64,
    tmp: PathBuf,
    /// Removes the temp file unless `finish` renamed it: a seal or
    /// compaction that fails on a full disk must not leave its partial block
    /// taking space until the next restart.
    cleanup: RemoveOnDrop,
    w: BufWriter<File>,
    offset: u64,
    sections: Vec<SectionMeta>,
    payload: Vec<u8>,
    /// Each section's key, `1 | key` or `0` (unknown), inflated.
    keys: Vec<u8>,
}

impl BlockWriter {
    pub fn create(dir: &Path, id: u64) -> Result<BlockWriter, Error> {
        let tmp = block_path(dir, id).with_extension("blk.tmp");
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&tmp)
            .map_err(|e| Error::io(format!("creating {}", tmp.display()), e))?;
        let mut w = BlockWriter {
            dir: dir.to_owned(),
            id,
            cleanup: RemoveOnDrop(Some(tmp.clone())),
            tmp,
            w: BufWriter::with_capacity(1 << 20, file),
            offset: 0,
            sections: Vec::new(),
            payload: Vec::new(),
            keys: Vec::new(),
        };
        w.put(&HEADER)?;
        Ok(w)
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.offset += bytes.len() as u64;
        self.w
            .write_all(bytes)
            .map_err(|e| Error::io(format!("writing {}", self.tmp.display()), e))
    }

    /// Adds the section of `series` with its key (`None`: unknown, as for
    /// an orphaned series); ids must ascend and empty `rows` are skipped.
    pub fn add_section(
        &mut self,
        series: SeriesId,
        key: Option<&SeriesKey>,
        rows: &mut [Row],
    ) -> Result<(), Error> {
        if rows.is_empty() {
            return Ok(());
        }
        match key {
            Some(k) => {
                self.keys.push(1);
                put_key(&mut self.keys, k);
            }
            None => self.keys.push(0),
        }
        let mut payload = std::mem::take(&mut self.payload);
        payload.clear();
        encode_section(rows, &mut payload);
        let len = u32::try_from(payload.len()).map_err(|_| {
            Error::io(
                format!("writing {}", self.tmp.display()),
                std::io::Error::other("section above 4 GiB"),
            )
        })?;
        let offset = self.offset;
        self.put(&payload)?;
        self.put(&crc32fast::hash(&payload).to_le_bytes())?;
        self.payload = payload;
        self.sections.push(SectionMeta {
            series,
            offset,
            len,
            count: rows.len() as u64,
            min_ts: rows[0].ts,
            max_ts: rows[rows.len() - 1].ts,
        });
        Ok(())
    }

    /// Writes the index and footer, fsyncs, renames into place and opens.
    pub fn finish(mut self, info: &BlockInfo, fsync: bool) -> Result<Block, Error> {
        let keys_offset = self.offset;
        let keys = deflate(&self.keys)
            .map_err(|e| Error::io(format!("compressing keys of {}", self.tmp.display()), e))?;
        self.put(&keys)?;
        self.put(&crc32fast::hash(&keys).to_le_bytes())?;
        let index = encode_index(info, Some((keys_offset, keys.len() as u64)), &self.sections);
        let mut footer = Vec::with_capacity(FOOTER_LEN);
        footer.extend_from_slice(&self.offset.to_le_bytes());
        footer.extend_from_slice(&(index.len() as u32).to_le_bytes());
        footer.extend_from_slice(&crc32fast::hash(&index).to_le_bytes());
        footer.extend_from_slice(&FOOTER_MAGIC);
        self.put(&index)?;
        self.put(&footer)?;
        let ctx = |what: &str| format!("{what} {}", self.tmp.display());
        let file = self
            .w
            .into_inner()
            .map_err(|e| Error::io(ctx("writing"), e.into_error()))?;
        if fsync {
            file.sync_all().map_err(|e| Error::io(ctx("syncing"), e))?;
        }
        drop(file);
        let path = block_path(&self.dir, self.id);
        fs::rename(&self.tmp, &path).map_err(|e| Error::io(ctx("renaming"), e))?;
        self.cleanup.0 = None;
        if fsync && let Err(e) = sync_dir(&self.dir) {
            // The caller treats the block as not written and retries later:
            // it must not stay behind beside its retry.
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        Block::open(&path, self.id)
    }
}

/// Removes a file when dropped, unless disarmed (set to `None`).
struct RemoveOnDrop(Option<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = fs::remove_file(path);
        }
    }
}

impl Block {
    /// Opens block `id` and loads its index; any damage is an error.
    pub fn open(path: &Path, id: u64) -> Result<Block, Error> {
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
        let version = match head {
            HEADER => 5,
            HEADER_V4 => 4,
            HEADER_V3 => 3,
            HEADER_V2 => 2,
            HEADER_V1 => 1,
            _ => return Err(Error::corrupt(path, "bad block header or unknown version")),
        };
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
        let (mut info, keys_at, sections) =
            decode_index(&index, index_offset, version).map_err(|e| e.at(path))?;
        let min_ts = sections.iter().map(|s| s.min_ts).min().unwrap_or(i64::MAX);
        let max_ts = sections.iter().map(|s| s.max_ts).max().unwrap_or(i64::MIN);
        if version == 1 {
            // Pre-rollup blocks span any time: file them under their newest
            // sample's window so they expire late rather than early.
            info.window_start = Resolution::Raw.window_start(max_ts);
            info.group = (id, 1);
        }
        let samples = sections.iter().map(|s| s.count).sum();
        Ok(Block {
            id,
            path: path.to_owned(),
            file,
            version,
            info,
            sections,
            keys_at,
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

    pub fn sections(&self) -> &[SectionMeta] {
        &self.sections
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
        decode_section(payload, self.version).map_err(|e| e.at(&self.path))
    }

    /// The series key of each section (v4 blocks; `None` for older blocks),
    /// `None` where the writer did not know it.
    pub fn read_keys(&self) -> Result<Option<SectionKeys>, Error> {
        let Some((offset, len)) = self.keys_at else {
            return Ok(None);
        };
        let bad = |why: &'static str| Error::corrupt(&self.path, why);
        let n = usize::try_from(len).map_err(|_| bad("block keys too large"))?;
        let mut buf = vec![0u8; n + 4];
        read_at(&self.file, &mut buf, offset)
            .map_err(|e| Error::io(format!("reading {}", self.path.display()), e))?;
        let (chunk, crc) = buf.split_at(n);
        let mut c = [0u8; 4];
        c.copy_from_slice(crc);
        if crc32fast::hash(chunk) != u32::from_le_bytes(c) {
            return Err(bad("block keys checksum mismatch"));
        }
        let raw = inflate(chunk).map_err(|_| bad("block keys do not inflate"))?;
        let mut r = ByteReader::new(&raw);
        let mut out = Vec::with_capacity(self.sections.len());
        for s in &self.sections {
            let key = match r.u8().map_err(|e| e.at(&self.path))? {
                0 => None,
                _ => Some(read_key(&mut r).map_err(|e| e.at(&self.path))?),
            };
            out.push((s.series, key));
        }
        Ok(Some(out))
    }

    /// Reads every section and the keys and checks their checksums and
    /// encoding (fsck); a failure comes with its byte offset.
    pub fn verify(&self) -> Result<(), (u64, Error)> {
        for meta in &self.sections {
            self.read_section(meta)
                .and_then(|c| c.visit(|_, _, _, _| {}).map_err(|e| e.at(&self.path)))
                .map_err(|e| (meta.offset, e))?;
        }
        self.read_keys()
            .map(|_| ())
            .map_err(|e| (self.keys_at.map_or(0, |k| k.0), e))
    }

    /// Appends every row of `series` to `out`.
    pub fn read_rows(&self, series: SeriesId, out: &mut Vec<Row>) -> Result<(), Error> {
        let Some(meta) = self.section(series) else {
            return Ok(());
        };
        self.read_section(meta)?
            .rows(out)
            .map_err(|e| e.at(&self.path))
    }
}

/// Encodes the index; `keys_at: None` gives the v3 layout (tests).
fn encode_index(
    info: &BlockInfo,
    keys_at: Option<(u64, u64)>,
    sections: &[SectionMeta],
) -> Vec<u8> {
    let mut index = Vec::new();
    put_uvarint(&mut index, info.wal_covered_below);
    index.push(info.resolution.code());
    put_ivarint(&mut index, info.window_start);
    put_uvarint(&mut index, info.group.0);
    put_uvarint(&mut index, info.group.1);
    put_uvarint(&mut index, info.sources.len() as u64);
    for &s in &info.sources {
        put_uvarint(&mut index, s);
    }
    if let Some((offset, len)) = keys_at {
        put_uvarint(&mut index, offset);
        put_uvarint(&mut index, len);
    }
    put_uvarint(&mut index, sections.len() as u64);
    for s in sections {
        put_uvarint(&mut index, u64::from(s.series));
        put_uvarint(&mut index, s.offset);
        put_uvarint(&mut index, u64::from(s.len));
        put_uvarint(&mut index, s.count);
        put_ivarint(&mut index, s.min_ts);
        put_ivarint(&mut index, s.max_ts);
    }
    index
}

/// The index: where the block came from, its keys chunk (v4), its sections.
type Index = (BlockInfo, Option<(u64, u64)>, Vec<SectionMeta>);

fn decode_index(index: &[u8], index_offset: u64, version: u8) -> Result<Index, DecodeError> {
    let mut r = ByteReader::new(index);
    let mut info = BlockInfo {
        resolution: Resolution::Raw,
        window_start: 0,
        wal_covered_below: r.uvarint()?,
        group: (0, 0),
        sources: Vec::new(),
    };
    if version >= 2 {
        info.resolution =
            Resolution::from_code(r.u8()?).ok_or(DecodeError("unknown block resolution"))?;
        info.window_start = r.ivarint()?;
        info.group = (r.uvarint()?, r.uvarint()?);
        let n = r.len(r.remaining())?;
        for _ in 0..n {
            info.sources.push(r.uvarint()?);
        }
    }
    let mut keys_at = None;
    if version >= 4 {
        let (offset, len) = (r.uvarint()?, r.uvarint()?);
        if offset
            .checked_add(len)
            .and_then(|end| end.checked_add(4))
            .is_none_or(|end| end > index_offset)
        {
            return Err(DecodeError("block keys outside the block"));
        }
        keys_at = Some((offset, len));
    }
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
    Ok((info, keys_at, sections))
}

fn deflate(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(raw)?;
    enc.finish()
}

fn inflate(chunk: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(chunk)
        .take(MAX_KEYS_BYTES)
        .read_to_end(&mut out)?;
    Ok(out)
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

    /// A v4 block and the same data as a v3 writer laid it out (no keys).
    #[test]
    fn v3_blocks_without_keys_still_read_and_v4_keys_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let key = |n: u32| SeriesKey::new("NS", format!("m{n}"), [("h".into(), "a".into())]);
        let mut w = BlockWriter::create(dir.path(), 1).unwrap();
        for series in [2u32, 5, 9] {
            let mut rows: Vec<Row> = (0..10)
                .map(|i| Row::from(&Sample::single(i * 1000, 0, f64::from(series) + i as f64)))
                .collect();
            let k = (series != 5).then(|| key(series));
            w.add_section(series, k.as_ref(), &mut rows).unwrap();
        }
        let info = BlockInfo {
            resolution: Resolution::Raw,
            window_start: 0,
            wal_covered_below: 3,
            group: (1, 1),
            sources: Vec::new(),
        };
        let v4 = w.finish(&info, false).unwrap();
        assert_eq!(
            v4.read_keys().unwrap().unwrap(),
            vec![(2, Some(key(2))), (5, None), (9, Some(key(9)))]
        );
        v4.verify().unwrap();

        let bytes = fs::read(&v4.path).unwrap();
        let (keys_offset, _) = v4.keys_at.unwrap();
        let mut v3 = HEADER_V3.to_vec();
        v3.extend_from_slice(&bytes[8..keys_offset as usize]);
        let index = encode_index(&info, None, v4.sections());
        let index_offset = v3.len() as u64;
        v3.extend_from_slice(&index);
        v3.extend_from_slice(&index_offset.to_le_bytes());
        v3.extend_from_slice(&(index.len() as u32).to_le_bytes());
        v3.extend_from_slice(&crc32fast::hash(&index).to_le_bytes());
        v3.extend_from_slice(&FOOTER_MAGIC);
        let path = block_path(dir.path(), 2);
        fs::write(&path, &v3).unwrap();
        let old = Block::open(&path, 2).unwrap();
        assert_eq!((old.version, old.info.clone()), (3, info));
        assert_eq!(old.read_keys().unwrap(), None);
        old.verify().unwrap();
        for series in [2u32, 5, 9] {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            v4.read_rows(series, &mut a).unwrap();
            old.read_rows(series, &mut b).unwrap();
            assert_eq!((a.len(), &a), (10, &b));
        }
    }

    /// v5 stores agent-like full-precision values with the lossless codecs
    /// and reads them back bit-exact; a v4 header (same layout, older
    /// codecs) still reads.
    #[test]
    fn v5_blocks_use_the_lossless_codecs_and_v4_headers_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let info = BlockInfo {
            resolution: Resolution::Raw,
            window_start: 0,
            wal_covered_below: 1,
            group: (1, 1),
            sources: Vec::new(),
        };
        let cpu = |i: u64| 100.0 * (2000 - (i * 31) % 97) as f64 / 2000.0;
        let cpu_rows = || -> Vec<Row> {
            (0..720u64)
                .map(|i| Row::from(&Sample::single(i as i64 * 10_000, 0, cpu(i))))
                .collect()
        };
        let mut w = BlockWriter::create(dir.path(), 1).unwrap();
        w.add_section(1, None, &mut cpu_rows()).unwrap();
        let v5 = w.finish(&info, false).unwrap();
        assert_eq!(v5.version, 5);
        v5.verify().unwrap();
        let mut rows = Vec::new();
        v5.read_rows(1, &mut rows).unwrap();
        assert_eq!(rows, cpu_rows());
        // Block v4 kept these as Gorilla, about 7 bytes a value.
        let size = fs::metadata(&v5.path).unwrap().len();
        assert!(size < 720 * 3, "{size} bytes for 720 samples");

        let mut w = BlockWriter::create(dir.path(), 2).unwrap();
        let const_rows = || -> Vec<Row> {
            (0..10)
                .map(|i| Row::from(&Sample::single(i * 1000, 0, 42.0)))
                .collect()
        };
        w.add_section(1, None, &mut const_rows()).unwrap();
        let path = w.finish(&info, false).unwrap().path;
        let mut bytes = fs::read(&path).unwrap();
        bytes[..8].copy_from_slice(&HEADER_V4);
        fs::write(&path, &bytes).unwrap();
        let v4 = Block::open(&path, 2).unwrap();
        assert_eq!(v4.version, 4);
        v4.verify().unwrap();
        let mut rows = Vec::new();
        v4.read_rows(1, &mut rows).unwrap();
        assert_eq!(rows, const_rows());
    }

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
        let mut rows: Vec<Row> = samples.iter().map(Row::from).collect();
        let mut sketch = DdSketch::new();
        sketch.add(3.0, 2.0);
        sketch.add(-7.5, 1.0);
        rows.push(Row {
            ts: 7,
            unit: 1,
            high_resolution: false,
            value: RowValue::Sketch {
                count: 3.0,
                sum: -1.5,
                min: -7.5,
                max: 3.0,
                sketch: Box::new(sketch),
            },
        });
        rows.push(Row {
            ts: 9,
            unit: 2,
            high_resolution: false,
            value: RowValue::Values(vec![4.5, -1.0, 4.5, 1e6]),
        });
        let mut payload = Vec::new();
        encode_section(&mut rows, &mut payload);
        let cols = decode_section(&payload, 3).unwrap();
        let mut back = Vec::new();
        cols.rows(&mut back).unwrap();
        assert_eq!(back, rows);
        let cols = decode_section(&payload, 3).unwrap();
        assert_eq!(cols.ts.len(), 52);
        assert!(cols.ts.windows(2).all(|w| w[0] <= w[1]));
        for i in 0..payload.len() {
            for bit in [0x01u8, 0x80] {
                let mut m = payload.clone();
                m[i] ^= bit;
                if let Ok(c) = decode_section(&m, 3) {
                    let mut b = Bucketer::new(0, i64::MAX, 1000, None);
                    let _ = c.feed(&mut b);
                }
            }
        }
    }

    #[test]
    fn few_values_roll_up_into_a_values_row_with_exact_statistics() {
        let mut a = Aggregate::new(300_000, 1);
        let values = [3.25, 1.5, 9.0, 1.5, 2.0];
        for v in values {
            a.add_single(v);
        }
        let row = Row::rollup(&a);
        assert_eq!(row.value, RowValue::Values(values.to_vec()));
        let mut payload = Vec::new();
        encode_section(&mut [row], &mut payload);
        let cols = decode_section(&payload, 3).unwrap();
        let mut b = Bucketer::new(0, 600_000, 300_000, None);
        cols.feed(&mut b).unwrap();
        let got = b.finish();
        assert_eq!(
            (got[0].count, got[0].sum, got[0].min, got[0].max),
            (a.count, a.sum, a.min, a.max)
        );
        assert_eq!(got[0].percentile(50.0), Some(2.0));
        // Too many values: a sketch.
        for v in 0..8 {
            a.add_single(f64::from(v) + 0.5);
        }
        assert!(matches!(Row::rollup(&a).value, RowValue::Sketch { .. }));
    }

    proptest! {
        #[test]
        fn random_sections_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(c) = decode_section(&data, 3) {
                let mut b = Bucketer::new(i64::MIN, i64::MAX, 1, None);
                let _ = c.feed(&mut b);
            }
        }
    }
}
