//! Batches: datums packed into PutMetricData requests of at most
//! `max_datums` datums and under 1 MB of form body, each with a 128-bit id,
//! fixed when the batch opens (so the open-batch journal can name it) and
//! kept through every retry, the spool and a drain. The id's first 48 bits
//! are the opening time (Unix ms, big-endian, as in a UUIDv7) and the other
//! 80 are random: the shipper reads a spooled batch's age from its id.

use std::time::{SystemTime, UNIX_EPOCH};

use super::Datum;
use super::encode::{self, MAX_BODY_BYTES};

/// A batch's idempotency token, sent as `x-stratus-batch-id` (32 hex digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BatchId(pub [u8; 16]);

impl BatchId {
    /// 128 random bits (`/dev/urandom`; failing that, std's randomly keyed
    /// hasher over the time, pid and a counter).
    pub fn random() -> BatchId {
        let mut b = [0u8; 16];
        if read_urandom(&mut b).is_err() {
            let hi = fallback_random();
            let lo = fallback_random();
            b[..8].copy_from_slice(&hi.to_le_bytes());
            b[8..].copy_from_slice(&lo.to_le_bytes());
        }
        BatchId(b)
    }

    /// The id of a batch opening now: [`BatchId::opened_at`] then 80 random bits.
    pub fn opening_now() -> BatchId {
        BatchId::opening_at(unix_ms_now())
    }

    fn opening_at(unix_ms: u64) -> BatchId {
        let mut id = BatchId::random();
        id.0[..6].copy_from_slice(&unix_ms.to_be_bytes()[2..]);
        id
    }

    /// When the batch opened (Unix ms), read back from the id. Meaningless
    /// for ids made by [`BatchId::random`] (the first release's): callers
    /// treat an implausible time as unknown.
    pub fn opened_at(&self) -> u64 {
        let mut b = [0u8; 8];
        b[2..].copy_from_slice(&self.0[..6]);
        u64::from_be_bytes(b)
    }
}

impl std::fmt::Display for BatchId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Milliseconds since the Unix epoch (0 before it).
pub(crate) fn unix_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The kernel's random bytes: one `getrandom` (opening `/dev/urandom` per
/// batch was three syscalls and a file descriptor).
fn read_urandom(buf: &mut [u8]) -> std::io::Result<()> {
    let n = rustix::rand::getrandom(&mut *buf, rustix::rand::GetRandomFlags::empty())?;
    if n == buf.len() {
        Ok(())
    } else {
        Err(std::io::Error::other("short getrandom"))
    }
}

fn fallback_random() -> u64 {
    use std::hash::{BuildHasher as _, Hasher as _};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// A PutMetricData request body ready to sign and send: immutable once sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedBatch {
    pub id: BatchId,
    /// Datums in the body (for counters and log lines).
    pub datums: u32,
    /// The gzip'd form body.
    pub body: Vec<u8>,
}

impl SealedBatch {
    /// Encodes and compresses `datums` under a fresh id.
    pub fn seal(namespace: &str, datums: &[Datum]) -> SealedBatch {
        SealedBatch::seal_as(BatchId::opening_now(), namespace, datums)
    }

    /// Encodes and compresses `datums` under `id`.
    pub fn seal_as(id: BatchId, namespace: &str, datums: &[Datum]) -> SealedBatch {
        let body = encode::request_body(namespace, datums);
        SealedBatch {
            id,
            datums: u32::try_from(datums.len()).unwrap_or(u32::MAX),
            body: encode::gzip(body.as_bytes()),
        }
    }
}

/// Accumulates datums into the batch being built: each datum is encoded into
/// the open batch's form body as it arrives (once), so sealing only gzips.
pub struct Batcher {
    namespace: String,
    max_datums: usize,
    body: encode::BodyWriter,
    gzip: encode::Gzip,
    /// The open batch's id (drawn when its first datum arrives).
    id: Option<BatchId>,
}

/// Where [`Batcher::add`] put a datum, and what it sealed.
pub struct Added {
    /// The batch the datum went into.
    pub into: BatchId,
    /// The previous batch when the datum did not fit in it, and/or the batch
    /// the datum filled to its datum limit.
    pub sealed: Vec<SealedBatch>,
}

impl Batcher {
    pub fn new(namespace: &str, max_datums: usize) -> Batcher {
        Batcher {
            namespace: namespace.to_owned(),
            max_datums: max_datums.clamp(1, 1000),
            body: encode::BodyWriter::new(namespace),
            gzip: encode::Gzip::default(),
            id: None,
        }
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn is_empty(&self) -> bool {
        self.body.datums() == 0
    }

    /// Adds a (prepared) datum.
    pub fn add(&mut self, d: Datum) -> Added {
        let mut sealed = Vec::new();
        let mark = self.body.mark();
        self.body.push(&d);
        if self.body.datums() > 1 && self.body.finished_len() >= MAX_BODY_BYTES {
            // It does not fit: the batch is sealed without it, and it opens the next.
            self.body.undo(mark);
            sealed.extend(self.seal());
            self.body.push(&d);
        }
        let into = *self.id.get_or_insert_with(BatchId::opening_now);
        if self.body.datums() >= self.max_datums {
            sealed.extend(self.seal());
        }
        Added { into, sealed }
    }

    /// Seals the batch being built, if it holds anything.
    pub fn seal(&mut self) -> Option<SealedBatch> {
        if self.is_empty() {
            return None;
        }
        let id = self.id.take().unwrap_or_else(BatchId::opening_now);
        let datums = u32::try_from(self.body.datums()).unwrap_or(u32::MAX);
        let gzip = &mut self.gzip;
        let body = self
            .body
            .finish_with(&self.namespace, |plain| gzip.compress(plain));
        Some(SealedBatch { id, datums, body })
    }
}

#[cfg(test)]
mod tests {
    use super::super::DatumValue;
    use super::*;
    use std::io::Read as _;

    fn datum(i: usize, dim_len: usize) -> Datum {
        Datum {
            metric_name: format!("m{i}"),
            dimensions: vec![("host".into(), "h".repeat(dim_len))],
            timestamp_ms: 1_767_323_045_000,
            value: DatumValue::Single(i as f64),
            unit: "Count",
            high_resolution: false,
        }
    }

    fn plain_len(b: &SealedBatch) -> usize {
        let mut s = String::new();
        flate2::read::GzDecoder::new(&b.body[..])
            .read_to_string(&mut s)
            .unwrap();
        s.len()
    }

    #[test]
    fn ids_are_unique_hex() {
        let a = BatchId::random();
        let b = BatchId::random();
        assert_ne!(a, b);
        assert_eq!(a.to_string().len(), 32);
        assert!(a.to_string().chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(fallback_random(), fallback_random());
    }

    #[test]
    fn a_batch_id_carries_its_opening_time() {
        let id = BatchId::opening_at(1_767_323_045_123);
        assert_eq!(id.opened_at(), 1_767_323_045_123);
        assert_ne!(id, BatchId::opening_at(1_767_323_045_123), "80 random bits");
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let now = BatchId::opening_now().opened_at();
        assert!((before..before + 5_000).contains(&now), "{now} vs {before}");
        let mut b = Batcher::new("NS", 10);
        let added = b.add(datum(0, 1));
        assert!(added.into.opened_at() >= before);
    }

    #[test]
    fn batches_fill_by_count() {
        let mut b = Batcher::new("NS", 1000);
        let mut sealed = Vec::new();
        for i in 0..2500 {
            sealed.extend(b.add(datum(i, 3)).sealed);
        }
        sealed.extend(b.seal());
        let counts: Vec<u32> = sealed.iter().map(|s| s.datums).collect();
        assert_eq!(counts, vec![1000, 1000, 500]);
        let ids: std::collections::HashSet<_> = sealed.iter().map(|s| s.id).collect();
        assert_eq!(ids.len(), 3, "one id per batch");
        assert!(b.seal().is_none());
    }

    #[test]
    fn a_batch_keeps_the_id_it_opened_with() {
        let mut b = Batcher::new("NS", 2);
        let first = b.add(datum(0, 1));
        assert!(first.sealed.is_empty());
        let second = b.add(datum(1, 1));
        assert_eq!(second.into, first.into);
        assert_eq!(second.sealed.len(), 1);
        assert_eq!(second.sealed[0].id, first.into);
        let third = b.add(datum(2, 1));
        assert_ne!(third.into, first.into, "a new batch, a new id");
        assert_eq!(b.seal().unwrap().id, third.into);
    }

    fn plain(b: &SealedBatch) -> String {
        let mut s = String::new();
        flate2::read::GzDecoder::new(&b.body[..])
            .read_to_string(&mut s)
            .unwrap();
        s
    }

    #[test]
    fn each_batch_body_is_whole_after_the_buffer_is_reused() {
        let mut b = Batcher::new("My NS", 3);
        let all: Vec<Datum> = (0..8).map(|i| datum(i, 2 + i)).collect();
        let mut sealed = Vec::new();
        for d in &all {
            sealed.extend(b.add(d.clone()).sealed);
        }
        sealed.extend(b.seal());
        assert_eq!(sealed.len(), 3);
        for (batch, datums) in sealed.iter().zip(all.chunks(3)) {
            assert_eq!(plain(batch), encode::request_body("My NS", datums));
        }
    }

    #[test]
    fn batches_stay_under_one_megabyte() {
        let mut b = Batcher::new("NS", 1000);
        let mut sealed = Vec::new();
        for i in 0..1000 {
            sealed.extend(b.add(datum(i, 1000)).sealed);
        }
        sealed.extend(b.seal());
        assert!(sealed.len() >= 2, "1000 × ~1.1 kB must not fit one request");
        assert_eq!(sealed.iter().map(|s| s.datums).sum::<u32>(), 1000);
        for s in &sealed {
            let len = plain_len(s);
            assert!(len < MAX_BODY_BYTES, "{len}");
        }
        assert!(
            plain_len(&sealed[0]) > MAX_BODY_BYTES * 9 / 10,
            "packed tightly"
        );
    }
}
