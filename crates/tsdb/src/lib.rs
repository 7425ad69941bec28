//! `stratus-tsdb`: the embedded time-series storage engine of Stratus.
//!
//! It owns everything between "a batch of samples for some series" and the
//! bytes on disk: a group-committed write-ahead log, an in-memory head that
//! accepts out-of-order and duplicate samples, immutable compressed columnar
//! block files, a series catalog, an in-memory inverted series index, and
//! period aggregation with exact (or sketch-based) percentiles. It must not
//! know HTTP, AWS request shapes, authentication or alarms: a series is an
//! opaque `(namespace, name, sorted dimensions)` key, a unit is an opaque
//! `u8`, and the API is synchronous (`&self`, `Send + Sync`) so a server can
//! call it from blocking threads.
//!
//! # Layout on disk
//!
//! ```text
//! <dir>/catalog.log        series id → key definitions (append-only, crc-framed)
//! <dir>/batch-ids          stored batch ids, rewritten at each seal (module `batch_ids`)
//! <dir>/wal/NNNNNNNN.log   WAL segments (crc-framed batch records)
//! <dir>/blocks/NNNNNNNN.blk immutable columnar blocks, each one resolution
//!                          (raw, 1 min, 5 min, 1 h) and one time window,
//!                          with the series key of each section (v4)
//! ```
//!
//! # Write path
//!
//! [`Db::write`] assigns series ids (interning new keys), encodes the batch
//! as one WAL record (module `record`), appends it and inserts the samples into
//! the head under one lock, then waits for a group commit (module `wal`): one
//! `fdatasync` covers every batch appended meanwhile. When the head exceeds
//! [`Options::max_head_samples`] or [`Options::seal_interval`] has passed
//! (checked on write), or on [`Db::seal`] / [`Db::close`], the head is
//! *sealed*: the WAL rotates, new series are appended to the catalog
//! (fsync'd), the samples are split by 1-hour window and each window's
//! series are sorted and encoded into one raw block (module `block`:
//! delta-of-delta timestamps, per-column chosen float codecs, RLE unit and
//! kind columns, crc per section), every block is fsync'd and renamed into
//! place, and only then are the covered WAL segments deleted. The blocks of
//! one seal form a *seal group*; a group found incomplete while its WAL
//! segments still exist is deleted at open and the WAL replayed instead.
//!
//! # Rollups, retention, compaction
//!
//! After each seal (or on [`Db::compact`]) module `compact` works on whole
//! windows (module `resolution`): a window older than its resolution's
//! [`Retention`] (CloudWatch's by default: raw 3 h, 1 min 15 days, 5 min
//! 63 days, 1 h 455 days) is rolled up into the next coarser resolution —
//! per slot SampleCount, Sum, Minimum, Maximum and a [`DdSketch`] (or the
//! exact values: up to 12 values each seen once, or up to 4 distinct
//! weighted ones) — and its files deleted (straight into the finest coarser
//! resolution still retained, when the next one has expired too); the
//! coarsest windows are deleted. Several blocks of one window (late data,
//! several seals) are merged into one. New blocks name their sources and
//! are durable before the sources are deleted; open deletes blocks named as
//! sources, so a crash never loses or duplicates data.
//!
//! # Series lifecycle
//!
//! After an expiry, series that no block and no head sample reference are
//! forgotten: dropped from the index at once, then from the catalog by an
//! atomic rewrite, and only after that may their ids be reused. A series
//! that comes back is a new series. See [`Stats::series`],
//! [`Stats::series_index_bytes`] and `tests/series_lifecycle.rs`. Time comes from
//! [`Options::clock`], so tests and benchmarks simulate months.
//!
//! # Idempotent writes
//!
//! A [`WriteBatch`] may carry a client [`BatchId`]. The id is written in the
//! batch's WAL record and remembered in memory; a later batch with the same
//! id returns [`Written::Duplicate`] without storing anything. Ids survive
//! a crash with their samples (same record) and a seal (the `batch-ids`
//! file is rewritten before WAL segments are deleted).
//!
//! # Recovery
//!
//! [`Db::open`] loads the catalog and block indexes, skips WAL segments a
//! block already covers, and replays the rest. A torn tail (damage at the
//! end of the newest segment with nothing intact after it) is cut; any other
//! damage in the WAL, the catalog or a block is an error naming the file and
//! offset unless [`Options::recover`] is set, which skips only damaged bytes
//! and keeps the originals aside. Everything cut or skipped is listed in
//! [`Db::recovery_report`]; [`check`] is the same analysis as a report.
//!
//! # Reads
//!
//! [`Db::query`] merges the head, any head being sealed, and the blocks
//! whose in-memory per-series time ranges overlap the query, into
//! [`Aggregate`]s per `(period, unit)`. Each instant's data lives at one
//! resolution only — the finest still retained — so reading every
//! overlapping block never counts a sample twice. Over raw data
//! [`Aggregate::percentile`] is exact; over rollups it is within the
//! sketch's 1 % relative error. Callers choose periods that are multiples
//! of the slot for old ranges (AWS's period rules). [`Db::list_series`] is answered
//! by the in-memory series index (module `index`) without touching samples;
//! series whose newest sample is older than
//! [`Options::hide_inactive_after`] (two weeks) are left out, from a
//! per-series newest-timestamp array rebuilt from block indexes at open.

pub mod aggregate;
mod batch_ids;
mod batch_keys;
mod block;
mod catalog;
pub mod check;
pub mod codec;
mod compact;
mod db;
mod error;
// Record framing lives in its own crate, shared with the log store.
use stratus_frame as frame;
mod fsutil;
mod head;
mod index;
mod key_table;
mod listing_order;
mod locks;
mod model;
mod record;
mod recovery;
mod resolution;
pub mod sketch;
mod wal;
pub mod wire;

pub use aggregate::Aggregate;
pub use batch_ids::BatchId;
pub use db::{Db, ORPHANED_NAMESPACE};
pub use error::{DecodeError, Error};
pub use model::{
    Clock, FailHook, FailPoint, ManualClock, Options, RangeQuery, ResolutionStats, Sample,
    SampleValue, SeriesFilter, SeriesKey, Stats, WriteBatch, Written,
};
pub use recovery::{RecoveryReport, Truncation};
pub use resolution::{Resolution, Retention};
pub use sketch::DdSketch;
