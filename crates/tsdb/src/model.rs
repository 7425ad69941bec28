//! The data model the engine stores: series keys, samples, batches, filters
//! and queries. These are the only names the engine shares with its callers.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::batch_ids::BatchId;
use crate::resolution::{Resolution, Retention};

/// Identifies a series: namespace, metric name and dimension set.
///
/// `dimensions` must be sorted by `(name, value)` and free of duplicate
/// names; callers guarantee it (the engine treats the key as opaque bytes
/// apart from filtering).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SeriesKey {
    pub namespace: String,
    pub name: String,
    pub dimensions: Vec<(String, String)>,
}

impl SeriesKey {
    /// Builds a key, sorting the dimensions so the invariant holds.
    pub fn new(
        namespace: impl Into<String>,
        name: impl Into<String>,
        dimensions: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        let mut dimensions: Vec<(String, String)> = dimensions.into_iter().collect();
        dimensions.sort();
        SeriesKey {
            namespace: namespace.into(),
            name: name.into(),
            dimensions,
        }
    }

    /// Value of the dimension called `name`, if present.
    pub fn dimension(&self, name: &str) -> Option<&str> {
        self.dimensions
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The payload of one datum.
#[derive(Clone, Debug, PartialEq)]
pub enum SampleValue {
    /// A single observation (count 1).
    Single(f64),
    /// `(value, count)` pairs; counts are positive.
    Distribution(Vec<(f64, f64)>),
    /// Pre-aggregated statistics.
    StatSet {
        count: f64,
        sum: f64,
        min: f64,
        max: f64,
    },
}

/// One datum of a series.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub timestamp_ms: i64,
    /// Opaque unit code; samples with different units aggregate separately.
    pub unit: u8,
    /// Stored 1-second resolution flag (the engine keeps it, callers interpret it).
    pub high_resolution: bool,
    pub value: SampleValue,
}

impl Sample {
    /// A single value with the default resolution.
    pub fn single(timestamp_ms: i64, unit: u8, value: f64) -> Self {
        Sample {
            timestamp_ms,
            unit,
            high_resolution: false,
            value: SampleValue::Single(value),
        }
    }
}

/// A set of samples written atomically (one WAL record).
///
/// Consecutive entries for the same series are cheap: the engine compares a
/// key with the previous entry's key before hashing it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WriteBatch {
    pub entries: Vec<(SeriesKey, Sample)>,
    /// The client's idempotency token: a batch whose id was already stored
    /// (within [`Options::batch_id_retention`]) is not stored again.
    pub batch_id: Option<BatchId>,
}

impl WriteBatch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(n: usize) -> Self {
        WriteBatch {
            entries: Vec::with_capacity(n),
            batch_id: None,
        }
    }

    /// Sets the idempotency token; builder style.
    pub fn with_batch_id(mut self, id: BatchId) -> Self {
        self.batch_id = Some(id);
        self
    }

    /// Adds one sample; builder style.
    pub fn push(&mut self, key: SeriesKey, sample: Sample) -> &mut Self {
        self.entries.push((key, sample));
        self
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// What [`crate::Db::write`] did with a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// The samples are stored (durably, when `Options::fsync`).
    Stored,
    /// A batch with the same id was stored before; nothing was written.
    Duplicate,
}

/// Selects series for `Db::list_series`; every present constraint must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeriesFilter {
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// `(dimension name, Some(value))` requires that value; `(name, None)`
    /// only requires the dimension to exist. Series may carry extra dimensions.
    pub dimensions: Vec<(String, Option<String>)>,
}

impl SeriesFilter {
    /// True if `key` satisfies every constraint.
    pub fn matches(&self, key: &SeriesKey) -> bool {
        if self
            .namespace
            .as_ref()
            .is_some_and(|ns| *ns != key.namespace)
        {
            return false;
        }
        if self.name.as_ref().is_some_and(|n| *n != key.name) {
            return false;
        }
        self.dimensions
            .iter()
            .all(|(name, value)| match (key.dimension(name), value) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(have), Some(want)) => have == want,
            })
    }
}

/// Aggregate one series over `[start_ms, end_ms)` in buckets of `period_ms`.
#[derive(Clone, Debug)]
pub struct RangeQuery<'a> {
    pub series: &'a SeriesKey,
    pub start_ms: i64,
    /// Exclusive.
    pub end_ms: i64,
    pub period_ms: i64,
    /// Only samples with this unit, if set.
    pub unit: Option<u8>,
}

/// Tuning knobs for [`crate::Db`].
#[derive(Clone, Debug)]
pub struct Options {
    /// fsync the WAL before `write` returns (and blocks/catalog on seal).
    /// With `false`, acknowledged writes survive a process crash (the bytes
    /// reached the OS) but not a power loss.
    pub fsync: bool,
    /// Seal the head into a block once it holds this many samples.
    pub max_head_samples: usize,
    /// Seal the head when this much time passed since the last seal (checked on write).
    pub seal_interval: Duration,
    /// On open, repair damage instead of refusing to open: skip damaged
    /// WAL records (keeping every intact record after them) and rebuild a
    /// damaged catalog from its intact records and the keys blocks carry,
    /// rewrite blocks without their damaged sections (every block is read
    /// in full), set aside blocks that cannot be opened.
    /// Each damaged file is copied aside (`<name>.damaged-<unix seconds>`)
    /// before it is changed; what was skipped is in [`crate::RecoveryReport`].
    /// A torn tail is cut either way.
    pub recover: bool,
    /// How long a stored batch id is remembered (duplicates older than this
    /// are stored again).
    pub batch_id_retention: Duration,
    /// Most batch ids remembered; the oldest are forgotten first.
    pub max_batch_ids: usize,
    /// How long each resolution is kept (default: CloudWatch's).
    pub retention: Retention,
    /// Run [`crate::Db::compact`] after every seal. With `false` the caller
    /// schedules compaction itself.
    pub compact_on_seal: bool,
    /// Seal inside the `write` that finds the head due. With `false` the
    /// caller seals when [`crate::Db::seal_due`] says so (from a background
    /// thread, so no write waits for a block to be written), and a write
    /// seals only when the head has reached twice `max_head_samples` (the
    /// caller is not keeping up; memory stays bounded).
    pub seal_on_write: bool,
    /// `Db::list_series` hides series whose newest sample is older than
    /// this (AWS: two weeks); `None` lists every series.
    pub hide_inactive_after: Option<Duration>,
    /// Where "now" comes from (retention, batch-id ages, inactivity).
    pub clock: Clock,
    /// Crash-test hook called at the points listed in [`FailPoint`].
    #[doc(hidden)]
    pub fail_hook: Option<FailHook>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            fsync: true,
            max_head_samples: 2_000_000,
            seal_interval: Duration::from_secs(2 * 3600),
            recover: false,
            batch_id_retention: Duration::from_secs(24 * 3600),
            max_batch_ids: 1_000_000,
            retention: Retention::default(),
            compact_on_seal: true,
            seal_on_write: true,
            hide_inactive_after: Some(Duration::from_secs(14 * 86_400)),
            clock: Clock::system(),
            fail_hook: None,
        }
    }
}

/// The engine's source of wall-clock time, in epoch milliseconds.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock(Arc::new(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        }))
    }

    /// A clock that reads `source`.
    pub fn from_fn(source: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        Clock(Arc::new(source))
    }

    pub fn now_ms(&self) -> i64 {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now_ms())
    }
}

/// A clock moved by hand (tests and time-accelerated benchmarks).
#[derive(Clone, Debug, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(now_ms: i64) -> Self {
        ManualClock(Arc::new(AtomicI64::new(now_ms)))
    }

    pub fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }

    pub fn set(&self, now_ms: i64) {
        self.0.store(now_ms, Ordering::SeqCst);
    }

    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// A [`Clock`] reading this one.
    pub fn clock(&self) -> Clock {
        let cell = self.0.clone();
        Clock::from_fn(move || cell.load(Ordering::SeqCst))
    }
}

/// Points inside multi-file updates where a crash test may kill the process.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailPoint {
    /// A seal wrote one of its window blocks, not all of them.
    SealBlockWritten,
    /// A seal wrote every block; the WAL segments they cover still exist.
    SealBeforeWalRemoval,
    /// A rollup or merge wrote its new block; its sources still exist.
    CompactionBlockWritten,
    /// A rollup or merge deleted one of its sources, not all of them.
    CompactionSourceRemoved,
    /// Series with no data left were dropped from the index; the catalog
    /// still names them.
    ForgetBeforeCatalogRewrite,
    /// The catalog was rewritten without forgotten series; their ids are
    /// not yet reusable.
    ForgetCatalogRewritten,
}

/// Called at every [`FailPoint`]; a crash test aborts the process there.
#[doc(hidden)]
#[derive(Clone)]
pub struct FailHook(pub Arc<dyn Fn(FailPoint) + Send + Sync>);

impl std::fmt::Debug for FailHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FailHook")
    }
}

/// Blocks and bytes at one resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolutionStats {
    pub resolution: Resolution,
    pub blocks: usize,
    pub bytes: u64,
    /// Samples (raw) or aggregate rows (rollups).
    pub rows: u64,
    /// Oldest and newest row timestamp (`None` when there are no blocks).
    pub span_ms: Option<(i64, i64)>,
}

/// A snapshot of engine counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Series in the index (forgotten ones excluded).
    pub series: usize,
    /// Approximate heap bytes of the series index and per-series tables.
    pub series_index_bytes: usize,
    /// Series forgotten since open because all their data expired.
    pub forgotten_series: u64,
    pub head_samples: usize,
    pub sealed_samples: u64,
    pub blocks: usize,
    pub block_bytes: u64,
    pub wal_bytes: u64,
    pub catalog_bytes: u64,
    /// WAL records (batches) appended since open.
    pub wal_records: u64,
    /// WAL flushes (each one fsync when enabled) since open; records per
    /// flush measures how well group commit works.
    pub wal_flushes: u64,
    /// Batch ids remembered for idempotent writes.
    pub batch_ids: usize,
    /// Batches dropped as duplicates since open.
    pub duplicate_batches: u64,
    /// Per resolution, finest first.
    pub resolutions: Vec<ResolutionStats>,
    /// Rollups, merges and expiries done since open.
    pub compactions: u64,
}
