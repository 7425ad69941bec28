//! The series catalog `catalog.log`: an append-only list of `id → key`
//! definitions in [`crate::frame`] records after an 8-byte header.
//!
//! The WAL defines series as they appear; the catalog receives them at seal
//! time, fsync'd *before* the WAL segments that defined them are deleted, so
//! every id referenced by a block resolves after a restart. A torn tail
//! (crash during an append) is cut: the definitions it held are still in the
//! WAL, which is only deleted after the append succeeded.
//!
//! When series are forgotten (all their data expired, see `Db`), the whole
//! catalog is rewritten without them ([`Catalog::rewrite`]): a temp file,
//! fsync'd and renamed over the old one, so a crash leaves the old catalog
//! or the new one. A key may then be defined twice in an old catalog (the
//! forgotten id, and the id it got when it came back before the rewrite
//! finished); `Db::open` keeps the definition that blocks or the WAL use.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::codec::bytes::{ByteReader, put_uvarint};
use crate::error::Error;
use crate::frame::{Frames, put_frame};
use crate::fsutil::sync_dir;
use crate::model::SeriesKey;
use crate::record::{SeriesId, put_key, read_key};
use crate::recovery::{RecoveryReport, Truncation};

pub const CATALOG_FILE: &str = "catalog.log";
const HEADER: [u8; 8] = *b"SCAT\x01\0\0\0";
const MAGIC: u32 = u32::from_le_bytes(*b"SCD1");

pub struct Catalog {
    path: PathBuf,
    file: File,
    fsync: bool,
    /// Length of the intact prefix; a failed append is rolled back to it.
    len: u64,
    /// Set when a failed append could not be rolled back.
    broken: bool,
}

impl Catalog {
    /// Opens (or creates) the catalog, returning every definition in it.
    pub fn open(
        dir: &Path,
        fsync: bool,
        report: &mut RecoveryReport,
    ) -> Result<(Catalog, Vec<(SeriesId, SeriesKey)>), Error> {
        let path = dir.join(CATALOG_FILE);
        let ctx = |what: &str| format!("{what} {}", path.display());
        let mut defs = Vec::new();
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(Error::io(ctx("reading"), e)),
        };
        let mut good_len = data.len();
        let mut reason = None;
        if data.len() < HEADER.len() || data[..HEADER.len()] != HEADER {
            good_len = 0;
            if !data.is_empty() {
                reason = Some("missing or damaged catalog header");
            }
        } else {
            for frame in Frames::new(&data, HEADER.len(), MAGIC) {
                match frame {
                    Ok((offset, payload)) => match decode_def(payload) {
                        Ok(def) => defs.push(def),
                        Err(_) => {
                            good_len = offset;
                            reason = Some("undecodable catalog record");
                            break;
                        }
                    },
                    Err(bad) => {
                        good_len = bad.offset;
                        reason = Some(bad.reason);
                        break;
                    }
                }
            }
        }
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(ctx("opening"), e))?;
        if let Some(reason) = reason {
            report.truncations.push(Truncation {
                path: path.clone(),
                offset: good_len as u64,
                dropped_bytes: (data.len() - good_len) as u64,
                reason: reason.to_owned(),
            });
        }
        if good_len == 0 {
            file.set_len(0)
                .map_err(|e| Error::io(ctx("truncating"), e))?;
            file.write_all(&HEADER)
                .map_err(|e| Error::io(ctx("writing"), e))?;
            file.sync_all().map_err(|e| Error::io(ctx("syncing"), e))?;
            sync_dir(dir)?;
        } else if good_len < data.len() {
            file.set_len(good_len as u64)
                .map_err(|e| Error::io(ctx("truncating"), e))?;
            file.sync_all().map_err(|e| Error::io(ctx("syncing"), e))?;
        }
        // Append mode semantics by hand: position at the end.
        use std::io::Seek;
        let len = file
            .seek(std::io::SeekFrom::End(0))
            .map_err(|e| Error::io(ctx("seeking"), e))?;
        Ok((
            Catalog {
                path,
                file,
                fsync,
                len,
                broken: false,
            },
            defs,
        ))
    }

    /// Replaces the catalog with exactly `defs`, atomically (temp file,
    /// fsync, rename, directory fsync). Later appends go to the new file.
    pub fn rewrite<'a>(
        &mut self,
        defs: impl Iterator<Item = (SeriesId, &'a SeriesKey)>,
    ) -> Result<(), Error> {
        let tmp = self.path.with_extension("log.tmp");
        let ctx = |what: &str, p: &Path| format!("{what} {}", p.display());
        let mut buf = HEADER.to_vec();
        put_definitions(&mut buf, defs);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&tmp)
            .map_err(|e| Error::io(ctx("creating", &tmp), e))?;
        file.write_all(&buf)
            .and_then(|()| if self.fsync { file.sync_all() } else { Ok(()) })
            .map_err(|e| Error::io(ctx("writing", &tmp), e))?;
        fs::rename(&tmp, &self.path).map_err(|e| Error::io(ctx("renaming", &tmp), e))?;
        if self.fsync
            && let Some(dir) = self.path.parent()
        {
            sync_dir(dir)?;
        }
        // The file handle now refers to the new catalog; it is positioned at its end.
        self.file = file;
        self.len = buf.len() as u64;
        self.broken = false;
        Ok(())
    }

    /// Appends definitions and makes them durable.
    pub fn append<'a>(
        &mut self,
        defs: impl Iterator<Item = (SeriesId, &'a SeriesKey)>,
    ) -> Result<(), Error> {
        let mut buf = Vec::new();
        put_definitions(&mut buf, defs);
        if buf.is_empty() {
            return Ok(());
        }
        let ctx = |what: &str| format!("{what} {}", self.path.display());
        if self.broken {
            return Err(Error::io(
                ctx("appending to"),
                std::io::Error::other("an earlier append failed"),
            ));
        }
        let written = self.file.write_all(&buf).and_then(|()| {
            if self.fsync {
                self.file.sync_data()
            } else {
                Ok(())
            }
        });
        match written {
            Ok(()) => {
                self.len += buf.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Cut the partial append so later appends do not land after garbage.
                use std::io::Seek;
                let rolled_back = self.file.set_len(self.len).is_ok()
                    && self.file.seek(std::io::SeekFrom::Start(self.len)).is_ok();
                self.broken = !rolled_back;
                Err(Error::io(ctx("appending to"), e))
            }
        }
    }
}

fn decode_def(payload: &[u8]) -> Result<(SeriesId, SeriesKey), crate::error::DecodeError> {
    let mut r = ByteReader::new(payload);
    let id = SeriesId::try_from(r.uvarint()?)
        .map_err(|_| crate::error::DecodeError("series id out of range"))?;
    let key = read_key(&mut r)?;
    Ok((id, key))
}
/// Appends one framed record per definition to `buf`.
fn put_definitions<'a>(buf: &mut Vec<u8>, defs: impl Iterator<Item = (SeriesId, &'a SeriesKey)>) {
    let mut payload = Vec::new();
    for (id, key) in defs {
        payload.clear();
        put_uvarint(&mut payload, u64::from(id));
        put_key(&mut payload, key);
        put_frame(buf, MAGIC, &payload);
    }
}
