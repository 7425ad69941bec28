//! Small filesystem helpers for crash-safe file replacement.

use std::fs::File;
use std::path::Path;

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

/// Copies `path` to `<path>.damaged-<unix seconds>` (a free name), durably,
/// before recovery changes it. Returns the copy's path.
pub fn keep_aside(path: &Path, unix_secs: i64) -> Result<std::path::PathBuf, Error> {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut aside = dir.join(format!("{name}.damaged-{unix_secs}"));
    let mut n = 1;
    while aside.exists() {
        aside = dir.join(format!("{name}.damaged-{unix_secs}-{n}"));
        n += 1;
    }
    let ctx = || format!("copying {} aside to {}", path.display(), aside.display());
    std::fs::copy(path, &aside).map_err(|e| Error::io(ctx(), e))?;
    File::open(&aside)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(ctx(), e))?;
    sync_dir(dir)?;
    Ok(aside)
}

/// Replaces `path` with `bytes` atomically (temp file, fsync, rename,
/// directory fsync).
pub fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    use std::io::Write;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let ctx = |what: &str| format!("{what} {}", tmp.display());
    let mut f = File::create(&tmp).map_err(|e| Error::io(ctx("creating"), e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(ctx("writing"), e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(ctx("renaming"), e))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}
