//! A sealed PutLogEvents batch as the spool keeps it: the destination, what
//! to create if it is missing, how far each source file is covered by this
//! and earlier batches, and the gzip'd JSON request body. It rides in the
//! metrics spool's record (`ship::spool`) as the body of a `SealedBatch`
//! whose id is the batch id and whose datum count is the event count.
//!
//! ```text
//! version 1 u8 | flags u8 (1 = EMF) | retention days u32 le
//! | group, stream, class: len u16 le + UTF-8 each
//! | ends u16 le × (dev u64, ino u64, fingerprint len u32, crc u32, end offset u64)
//! | gzip'd body (the rest)
//! ```

use super::positions::{FileKey, Fingerprint};

const VERSION: u8 = 1;
const FLAG_EMF: u8 = 1;

/// Where a batch goes and what it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub group: String,
    pub stream: String,
    /// Sent with `x-amzn-logs-format: json/emf`.
    pub emf: bool,
    /// PutRetentionPolicy after CreateLogGroup (`None`: never expire).
    pub retention_days: Option<u32>,
    /// CreateLogGroup's `logGroupClass`.
    pub group_class: Option<String>,
    /// Per source file: the offset just past its last event in this batch.
    pub ends: Vec<(FileKey, Fingerprint, u64)>,
    /// The gzip'd PutLogEvents JSON body.
    pub body: Vec<u8>,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let bytes = &s.as_bytes()[..s.len().min(usize::from(u16::MAX))];
    out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
    out.extend_from_slice(bytes);
}

impl LogRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.body.len());
        out.push(VERSION);
        out.push(if self.emf { FLAG_EMF } else { 0 });
        out.extend_from_slice(&self.retention_days.unwrap_or(0).to_le_bytes());
        put_str(&mut out, &self.group);
        put_str(&mut out, &self.stream);
        put_str(&mut out, self.group_class.as_deref().unwrap_or(""));
        let ends = &self.ends[..self.ends.len().min(usize::from(u16::MAX))];
        out.extend_from_slice(&(ends.len() as u16).to_le_bytes());
        for (key, fp, end) in ends {
            out.extend_from_slice(&key.dev.to_le_bytes());
            out.extend_from_slice(&key.ino.to_le_bytes());
            out.extend_from_slice(&fp.len.to_le_bytes());
            out.extend_from_slice(&fp.crc.to_le_bytes());
            out.extend_from_slice(&end.to_le_bytes());
        }
        out.extend_from_slice(&self.body);
        out
    }

    /// Total: any input gives a record or a reason.
    pub fn decode(b: &[u8]) -> Result<LogRecord, &'static str> {
        let mut r = Reader { b, at: 0 };
        if r.take(1)?[0] != VERSION {
            return Err("unknown log record version");
        }
        let flags = r.take(1)?[0];
        let retention = r.u32()?;
        let group = r.string()?;
        let stream = r.string()?;
        let class = r.string()?;
        let n = r.u16()?;
        let mut ends = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            let dev = r.u64()?;
            let ino = r.u64()?;
            let len = r.u32()?;
            let crc = r.u32()?;
            let end = r.u64()?;
            ends.push((FileKey { dev, ino }, Fingerprint { len, crc }, end));
        }
        Ok(LogRecord {
            group,
            stream,
            emf: flags & FLAG_EMF != 0,
            retention_days: (retention != 0).then_some(retention),
            group_class: (!class.is_empty()).then_some(class),
            ends,
            body: b[r.at..].to_vec(),
        })
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        let end = self.at.checked_add(n).ok_or("log record too short")?;
        let s = self.b.get(self.at..end).ok_or("log record too short")?;
        self.at = end;
        Ok(s)
    }
    fn u16(&mut self) -> Result<u16, &'static str> {
        let s = self.take(2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> Result<u32, &'static str> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }
    fn u64(&mut self) -> Result<u64, &'static str> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn string(&mut self) -> Result<String, &'static str> {
        let n = self.u16()?;
        let s = self.take(usize::from(n))?;
        String::from_utf8(s.to_vec()).map_err(|_| "log record name is not UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip() {
        let r = LogRecord {
            group: "system".into(),
            stream: "host-1".into(),
            emf: true,
            retention_days: Some(30),
            group_class: Some("STANDARD".into()),
            ends: vec![(
                FileKey { dev: 1, ino: 2 },
                Fingerprint { len: 3, crc: 4 },
                5,
            )],
            body: b"\x1f\x8b body".to_vec(),
        };
        assert_eq!(LogRecord::decode(&r.encode()), Ok(r));
    }

    proptest! {
        #[test]
        fn decoding_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = LogRecord::decode(&bytes);
        }
    }
}
