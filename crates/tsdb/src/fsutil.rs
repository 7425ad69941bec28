//! Small filesystem helpers for crash-safe file replacement.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// fsyncs a directory so that creations, renames and deletions in it are durable.
pub fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(format!("syncing directory {}", dir.display()), e))
}

/// Size of every regular file in `dir` whose name ends with `suffix`.
pub fn dir_bytes(dir: &Path, suffix: &str) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.ends_with(suffix)))
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// A free name `<path>.damaged-<unix seconds>[-n]` for a damaged file.
fn aside_name(path: &Path, unix_secs: i64) -> PathBuf {
    let named = |suffix: String| {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        PathBuf::from(p)
    };
    let mut aside = named(format!(".damaged-{unix_secs}"));
    let mut n = 1;
    while aside.exists() {
        aside = named(format!(".damaged-{unix_secs}-{n}"));
        n += 1;
    }
    aside
}

/// Copies `path` aside (see [`aside_name`]), durably, before recovery
/// changes it. Returns the copy's path.
pub fn keep_aside(path: &Path, unix_secs: i64) -> Result<PathBuf, Error> {
    let aside = aside_name(path, unix_secs);
    let ctx = || format!("copying {} aside to {}", path.display(), aside.display());
    std::fs::copy(path, &aside).map_err(|e| Error::io(ctx(), e))?;
    File::open(&aside)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(ctx(), e))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))?;
    Ok(aside)
}

/// Renames a damaged file aside (see [`aside_name`]); the caller syncs
/// the directory. Returns the new path.
pub fn set_aside(path: &Path, unix_secs: i64) -> Result<PathBuf, Error> {
    let aside = aside_name(path, unix_secs);
    std::fs::rename(path, &aside)
        .map_err(|e| Error::io(format!("setting aside {}", path.display()), e))?;
    Ok(aside)
}

/// Replaces `path` with `bytes` atomically (temp file, fsync, rename,
/// directory fsync).
pub fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    use std::io::Write;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let ctx = |what: &str| format!("{what} {}", tmp.display());
    let mut f = File::create(&tmp).map_err(|e| Error::io(ctx("creating"), e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(ctx("writing"), e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(ctx("renaming"), e))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}
