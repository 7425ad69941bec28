//! The series catalog `catalog.log`: an append-only list of `id → key`
//! definitions in [`crate::frame`] records after an 8-byte header.
//!
//! The WAL defines series as they appear; the catalog receives them at seal
//! time, fsync'd *before* the WAL segments that defined them are deleted, so
//! every id referenced by a block resolves after a restart. A torn tail
//! (crash during an append) is cut: the definitions it held are still in the
//! WAL, which is only deleted after the append succeeded.
//!
//! Any other damage stops `Db::open` ([`Error::CorruptCatalog`]); the
//! catalog is never rewritten from a damaged read. With `Options::recover`
//! the original is copied aside and the catalog rebuilt from its intact
//! records, the WAL and the series keys blocks carry (block format v4).
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
use crate::frame::{Damage, FRAME_HEADER, put_frame, scan_with_header};
use crate::fsutil::{keep_aside, sync_dir};
use crate::model::SeriesKey;
use crate::record::{SeriesId, put_key, read_key};
use crate::recovery::{RecoveryReport, Truncation};

pub const CATALOG_FILE: &str = "catalog.log";
const HEADER: [u8; 8] = *b"SCAT\x01\0\0\0";
const MAGIC: u32 = u32::from_le_bytes(*b"SCD1");

/// What [`Catalog::open`] found.
pub struct Opened {
    pub catalog: Catalog,
    /// Every intact definition, in file order.
    pub defs: Vec<(SeriesId, SeriesKey)>,
    /// The file was damaged and recovery chosen: rewrite it before use.
    pub rebuild: bool,
}

/// A catalog file's intact definitions and its damage.
#[derive(Debug, Default)]
pub struct Checked {
    pub defs: Vec<(SeriesId, SeriesKey)>,
    /// Damage with intact records after it (or a damaged header).
    pub damaged: Vec<Damage>,
    /// Damage running to the end of the file: a torn append.
    pub tail: Option<Damage>,
}

/// Reads catalog bytes (empty: a new catalog). A record with a good
/// checksum that does not decode counts as damage too.
pub fn check(data: &[u8]) -> Checked {
    if data.is_empty() {
        return Checked::default();
    }
    let found = scan_with_header(data, &HEADER, MAGIC, "missing or damaged catalog header");
    let mut out = Checked {
        damaged: found.damaged,
        tail: found.tail,
        ..Checked::default()
    };
    for (offset, payload) in found.frames {
        match decode_def(payload) {
            Ok(def) => out.defs.push(def),
            Err(e) => out.damaged.push(Damage {
                offset,
                len: FRAME_HEADER + payload.len(),
                reason: e.0,
            }),
        }
    }
    out.damaged.sort_by_key(|d| d.offset);
    out
}

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
    ///
    /// A torn tail (a crash during an append: damage with no intact record
    /// after it) is cut; its definitions are still in the WAL. Any other
    /// damage is [`Error::CorruptCatalog`], unless `recover` is set: then the
    /// file is copied aside and the intact definitions are returned with
    /// `rebuild` set — the caller adds what blocks know and calls
    /// [`Catalog::rewrite`] before appending anything.
    pub fn open(
        dir: &Path,
        fsync: bool,
        recover: bool,
        now_secs: i64,
        report: &mut RecoveryReport,
    ) -> Result<Opened, Error> {
        let path = dir.join(CATALOG_FILE);
        let ctx = |what: &str| format!("{what} {}", path.display());
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(Error::io(ctx("reading"), e)),
        };
        let found = check(&data);
        if let Some(first) = found.damaged.first()
            && !recover
        {
            return Err(Error::CorruptCatalog {
                path,
                offset: first.offset as u64,
                reason: first.reason.to_owned(),
            });
        }
        let rebuild = !found.damaged.is_empty();
        // Recovery copies any file it is about to change, a torn one too.
        let kept_aside = if rebuild || (recover && found.tail.is_some()) {
            Some(keep_aside(&path, now_secs)?)
        } else {
            None
        };
        for d in found.damaged.iter().chain(&found.tail) {
            report.truncations.push(Truncation {
                path: path.clone(),
                offset: d.offset as u64,
                dropped_bytes: d.len as u64,
                reason: d.reason.to_owned(),
                kept_aside: kept_aside.clone(),
            });
        }
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(ctx("opening"), e))?;
        let good_len = match &found.tail {
            Some(t) if !rebuild => t.offset,
            _ => data.len(),
        };
        if good_len < HEADER.len() {
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
        Ok(Opened {
            catalog: Catalog {
                path,
                file,
                fsync,
                len,
                broken: false,
            },
            defs: found.defs,
            rebuild,
        })
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
