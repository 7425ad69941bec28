//! The EMF journal `<spool>/logs/emf.journal`: every EMF line the listener
//! receives is appended here (one `write` per poll round, no fsync — page
//! cache survives the process dying) before the listener reads more, so a
//! `kill -9` loses no line that was read from a socket.
//!
//! ```text
//! file   = "SE1\n" | generation (16 random bytes) | record*
//! record = len u32 le | crc32(generation ‖ payload) u32 le | payload
//! payload = received at, ms since the epoch, i64 le | the line
//! ```
//!
//! The tail treats the journal like a tailed file: an event carries its
//! record's offsets, spooled records carry where they end, the positions
//! file holds the journal's floor, keyed by the journal's inode and a
//! fingerprint of its header — so at start only records past the larger of
//! the two are replayed. Once every record is spooled the tail empties the
//! journal and writes a new generation (the old offsets then match nothing).
//! A record whose crc fails ends the journal (a torn last write); the file
//! is cut back there.

use super::positions::{FileKey, Fingerprint};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The journal's file name inside the logs spool directory.
pub const FILE_NAME: &str = "emf.journal";
const MAGIC: &[u8; 4] = b"SE1\n";
/// Magic plus generation.
pub const HEADER_LEN: u64 = 20;
/// Larger than any line the listener accepts: a longer length is damage.
const MAX_RECORD: usize = 4 << 20;

#[derive(Debug, thiserror::Error)]
#[error("emf journal {path}: {source}")]
pub struct EmfJournalError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// A record read back at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalRecord {
    pub received_ms: i64,
    pub line: Vec<u8>,
    pub start: u64,
    pub end: u64,
}

pub struct EmfJournal {
    path: PathBuf,
    file: File,
    key: FileKey,
    header: [u8; HEADER_LEN as usize],
    len: u64,
    buf: Vec<u8>,
}

impl EmfJournal {
    /// Opens (or creates) the journal at `path` and reads its records.
    pub fn open(path: &Path) -> Result<(EmfJournal, Vec<JournalRecord>), EmfJournalError> {
        let err = |source| EmfJournalError {
            path: path.to_owned(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(err)?;
        let meta = file.metadata().map_err(err)?;
        let key = FileKey {
            dev: meta.dev(),
            ino: meta.ino(),
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(err)?;
        let mut j = EmfJournal {
            path: path.to_owned(),
            file,
            key,
            header: [0; HEADER_LEN as usize],
            len: 0,
            buf: Vec::new(),
        };
        if bytes.len() < HEADER_LEN as usize || &bytes[..4] != MAGIC {
            j.reset().map_err(err)?;
            return Ok((j, Vec::new()));
        }
        j.header.copy_from_slice(&bytes[..HEADER_LEN as usize]);
        let (records, good_end) = parse(&j.header, &bytes);
        j.len = good_end;
        if good_end < bytes.len() as u64 {
            crate::warn!(
                "logs: {}: {} damaged byte(s) after offset {good_end} cut off",
                path.display(),
                bytes.len() as u64 - good_end
            );
            j.file.set_len(good_end).map_err(err)?;
        }
        j.file.seek(SeekFrom::Start(good_end)).map_err(err)?;
        Ok((j, records))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The journal file's device and inode.
    pub fn key(&self) -> FileKey {
        self.key
    }

    /// Names the current generation (its header's crc).
    pub fn generation(&self) -> Fingerprint {
        Fingerprint {
            len: HEADER_LEN as u32,
            crc: crc32fast::hash(&self.header),
        }
    }

    /// Bytes in the file (header included).
    pub fn size(&self) -> u64 {
        self.len
    }

    pub fn has_records(&self) -> bool {
        self.len > HEADER_LEN
    }

    /// Appends one record per line, all in one `write`; returns each
    /// record's (start, end) offsets. On failure nothing is kept.
    pub fn append(
        &mut self,
        received_ms: i64,
        lines: &[&[u8]],
    ) -> std::io::Result<Vec<(u64, u64)>> {
        self.buf.clear();
        let mut spans = Vec::with_capacity(lines.len());
        let mut at = self.len;
        for line in lines {
            let mut payload_crc = crc32fast::Hasher::new();
            payload_crc.update(&self.header[4..]);
            let ms = received_ms.to_le_bytes();
            payload_crc.update(&ms);
            payload_crc.update(line);
            let payload_len = u32::try_from(8 + line.len())
                .map_err(|_| std::io::Error::other("line too long"))?;
            self.buf.extend_from_slice(&payload_len.to_le_bytes());
            self.buf
                .extend_from_slice(&payload_crc.finalize().to_le_bytes());
            self.buf.extend_from_slice(&ms);
            self.buf.extend_from_slice(line);
            let end = self.len + self.buf.len() as u64;
            spans.push((at, end));
            at = end;
        }
        if let Err(e) = self.file.write_all(&self.buf) {
            // A partial record would hide every later one: cut it off.
            let _ = self.file.set_len(self.len);
            let _ = self.file.seek(SeekFrom::Start(self.len));
            return Err(e);
        }
        self.len += self.buf.len() as u64;
        Ok(spans)
    }

    /// Empties the journal and starts a new generation.
    pub fn reset(&mut self) -> std::io::Result<()> {
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.header[..4].copy_from_slice(MAGIC);
        self.header[4..].copy_from_slice(&crate::ship::batch::BatchId::random().0);
        self.len = 0;
        self.file.write_all(&self.header)?;
        self.len = HEADER_LEN;
        Ok(())
    }
}

/// The valid records of `bytes` and where they end.
fn parse(header: &[u8], bytes: &[u8]) -> (Vec<JournalRecord>, u64) {
    let mut out = Vec::new();
    let mut at = HEADER_LEN as usize;
    while let Some(head) = bytes.get(at..at + 8) {
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        if !(8..=MAX_RECORD).contains(&len) {
            break;
        }
        let Some(payload) = bytes.get(at + 8..at + 8 + len) else {
            break;
        };
        let mut h = crc32fast::Hasher::new();
        h.update(&header[4..]);
        h.update(payload);
        if h.finalize() != crc {
            break;
        }
        let mut ms = [0u8; 8];
        ms.copy_from_slice(&payload[..8]);
        let end = at + 8 + len;
        out.push(JournalRecord {
            received_ms: i64::from_le_bytes(ms),
            line: payload[8..].to_vec(),
            start: at as u64,
            end: end as u64,
        });
        at = end;
    }
    (out, at as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_a_reopen_and_a_torn_tail_is_cut() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join(FILE_NAME);
        let (mut j, replay) = EmfJournal::open(&path).unwrap();
        assert!(replay.is_empty());
        let spans = j.append(7, &[b"{\"a\":1}", b"{\"a\":2}"]).unwrap();
        // 8 bytes of framing + 8 of time + 7 of line each, after the header.
        assert_eq!(spans, [(20, 43), (43, 66)]);
        let generation = j.generation();
        drop(j);
        // A torn write: half a record at the end.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[30, 0, 0, 0, 1, 2]).unwrap();
        drop(f);
        let (mut j, replay) = EmfJournal::open(&path).unwrap();
        assert_eq!(j.generation(), generation);
        let lines: Vec<&[u8]> = replay.iter().map(|r| &r.line[..]).collect();
        assert_eq!(lines, [&b"{\"a\":1}"[..], &b"{\"a\":2}"[..]]);
        assert_eq!(
            (replay[1].start, replay[1].end, replay[1].received_ms),
            (43, 66, 7)
        );
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 66);
        // Appends continue after the cut.
        assert_eq!(j.append(8, &[b"x"]).unwrap(), [(66, 83)]);
        j.reset().unwrap();
        assert_ne!(j.generation(), generation);
        assert!(!j.has_records());
        drop(j);
        let (_, replay) = EmfJournal::open(&path).unwrap();
        assert!(replay.is_empty());
    }

    #[test]
    fn a_record_of_another_generation_is_not_read() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join(FILE_NAME);
        let (mut j, _) = EmfJournal::open(&path).unwrap();
        j.append(1, &[b"old"]).unwrap();
        let old = std::fs::read(&path).unwrap();
        j.reset().unwrap();
        drop(j);
        // The new header followed by the previous generation's record.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(&old[HEADER_LEN as usize..]);
        std::fs::write(&path, bytes).unwrap();
        let (_, replay) = EmfJournal::open(&path).unwrap();
        assert!(replay.is_empty());
    }
}
