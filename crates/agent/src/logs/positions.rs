//! Where each tailed file has been read up to, durably: a file is named by
//! device and inode plus a fingerprint of its first bytes (an inode reused
//! by a new file does not match). The file is rewritten whole (temp file,
//! fsync, rename) and ends with a crc, so a torn write is never read back.
//!
//! ```text
//! stratus-log-positions 1
//! <dev> <ino> <fingerprint len> <fingerprint crc> <offset> <path, JSON string>
//! crc <crc32 of every byte before this line>
//! ```
//!
//! The saved offset is a floor: everything before it is acknowledged, in
//! the spool, or dropped by a filter. The spool's records carry their own
//! end offsets; at start a file resumes at the larger of the two (see
//! `tail`), so a kill between a spool append and the next save here never
//! re-reads lines that are already spooled.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The positions file inside the logs spool directory.
pub const FILE_NAME: &str = "positions";

/// Where an agent with spool directory `spool_dir` keeps its positions (it
/// writes them first right after its first scan of the configured files).
pub fn path_in_spool(spool_dir: &Path) -> PathBuf {
    spool_dir.join(super::LOGS_DIR).join(FILE_NAME)
}

/// Bytes of a file's beginning its fingerprint covers (fewer while the file
/// is shorter).
pub const FINGERPRINT_BYTES: u64 = 1024;
const HEADER: &str = "stratus-log-positions 1";

/// Which file: device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileKey {
    pub dev: u64,
    pub ino: u64,
}

/// crc32 of a file's first `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    pub len: u32,
    pub crc: u32,
}

impl Fingerprint {
    /// The fingerprint of `file`'s first `min(size, FINGERPRINT_BYTES)` bytes.
    pub fn of(file: &mut std::fs::File, size: u64) -> std::io::Result<Fingerprint> {
        let len = size.min(FINGERPRINT_BYTES);
        Fingerprint::of_len(file, len)
    }

    fn of_len(file: &mut std::fs::File, len: u64) -> std::io::Result<Fingerprint> {
        let mut buf = vec![0u8; usize::try_from(len).unwrap_or(0)];
        file.seek(SeekFrom::Start(0))?;
        file.read_exact(&mut buf)?;
        Ok(Fingerprint {
            len: u32::try_from(len).unwrap_or(0),
            crc: crc32fast::hash(&buf),
        })
    }

    /// Whether `file` (of `size` bytes) starts with the bytes this
    /// fingerprint was taken over.
    pub fn matches(&self, file: &mut std::fs::File, size: u64) -> bool {
        u64::from(self.len) <= size
            && Fingerprint::of_len(file, u64::from(self.len)).is_ok_and(|f| f == *self)
    }
}

/// One file's saved position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub key: FileKey,
    pub fingerprint: Fingerprint,
    pub offset: u64,
    /// Where the file was last seen (to find it again after a rename).
    pub path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum PositionsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Reads the positions file; a missing file is empty, a damaged one is
/// reported (the caller starts from the spool's offsets alone).
pub fn load(path: &Path) -> Result<Option<Vec<Position>>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    parse(&text)
        .map(Some)
        .map_err(|why| format!("{}: {why}", path.display()))
}

fn parse(text: &str) -> Result<Vec<Position>, &'static str> {
    let Some(crc_at) = text.rfind("crc ") else {
        return Err("no checksum line");
    };
    let (body, crc_line) = text.split_at(crc_at);
    let want: u32 = crc_line
        .trim()
        .strip_prefix("crc ")
        .and_then(|c| c.parse().ok())
        .ok_or("bad checksum line")?;
    if crc32fast::hash(body.as_bytes()) != want {
        return Err("checksum mismatch");
    }
    let mut lines = body.lines();
    if lines.next() != Some(HEADER) {
        return Err("unknown header");
    }
    let mut out = Vec::new();
    for line in lines {
        let mut parts = line.splitn(6, ' ');
        let mut num = || parts.next().and_then(|p| p.parse::<u64>().ok());
        let (Some(dev), Some(ino), Some(len), Some(crc), Some(offset)) =
            (num(), num(), num(), num(), num())
        else {
            return Err("bad entry");
        };
        let path: String = parts
            .next()
            .and_then(|p| serde_json::from_str(p).ok())
            .ok_or("bad path")?;
        out.push(Position {
            key: FileKey { dev, ino },
            fingerprint: Fingerprint {
                len: u32::try_from(len).map_err(|_| "bad fingerprint")?,
                crc: u32::try_from(crc).map_err(|_| "bad fingerprint")?,
            },
            offset,
            path: PathBuf::from(path),
        });
    }
    Ok(out)
}

fn render(positions: &[Position]) -> String {
    let mut body = format!("{HEADER}\n");
    for p in positions {
        let path = serde_json::to_string(&p.path.to_string_lossy()).unwrap_or_default();
        body.push_str(&format!(
            "{} {} {} {} {} {path}\n",
            p.key.dev, p.key.ino, p.fingerprint.len, p.fingerprint.crc, p.offset
        ));
    }
    let crc = crc32fast::hash(body.as_bytes());
    body.push_str(&format!("crc {crc}\n"));
    body
}

/// Replaces the positions file durably (temp file + fsync + rename + fsync
/// of the directory).
pub fn save(path: &Path, positions: &[Position]) -> Result<(), PositionsError> {
    let err = |source| PositionsError::Io {
        path: path.to_owned(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(err)?;
    f.write_all(render(positions).as_bytes()).map_err(err)?;
    f.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("positions");
        assert_eq!(load(&path).unwrap(), None);
        let ps = vec![
            Position {
                key: FileKey { dev: 2049, ino: 77 },
                fingerprint: Fingerprint {
                    len: 1024,
                    crc: 0xdead_beef,
                },
                offset: 123_456,
                path: PathBuf::from("/var/log/with space \"q\".log"),
            },
            Position {
                key: FileKey { dev: 1, ino: 2 },
                fingerprint: Fingerprint { len: 0, crc: 0 },
                offset: 0,
                path: PathBuf::from("/tmp/x"),
            },
        ];
        save(&path, &ps).unwrap();
        assert_eq!(load(&path).unwrap(), Some(ps));
        let mut text = std::fs::read_to_string(&path).unwrap();
        text = text.replace("123456", "123457");
        std::fs::write(&path, text).unwrap();
        assert!(load(&path).unwrap_err().contains("checksum mismatch"));
    }

    #[test]
    fn fingerprints_tell_a_reused_inode() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, "first file's start\nmore\n").unwrap();
        let mut f = std::fs::File::open(&p).unwrap();
        let fp = Fingerprint::of(&mut f, 24).unwrap();
        assert_eq!(fp.len, 24);
        // The same file grown still matches its shorter fingerprint.
        std::fs::write(&p, "first file's start\nmore\nand more\n").unwrap();
        let mut f = std::fs::File::open(&p).unwrap();
        assert!(fp.matches(&mut f, 33));
        // Different content (or shorter) does not.
        std::fs::write(&p, "another file entirely..\n").unwrap();
        let mut f = std::fs::File::open(&p).unwrap();
        assert!(!fp.matches(&mut f, 24));
        assert!(!fp.matches(&mut f, 10));
    }
}
