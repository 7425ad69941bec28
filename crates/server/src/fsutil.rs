//! Small filesystem helpers: private (0600) files written atomically.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Writes `bytes` to `path` with mode 0600 via a temp file, fsync and rename,
/// so a crash never leaves a half-written secret file.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    // Make the rename itself durable.
    if let Some(d) = path.parent().and_then(|dir| std::fs::File::open(dir).ok()) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The id of another process that has `path` open, found through
/// `/proc/<pid>/fd` (only processes this user may inspect). For naming the
/// server that holds a data directory's lock; `None` when none is visible.
pub fn process_holding(path: &Path) -> Option<u32> {
    let target = std::fs::canonicalize(path).ok()?;
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .find(|pid| {
            std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
                fds.filter_map(Result::ok)
                    .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|p| p == target))
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_process_holding_a_file_but_never_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("held");
        std::fs::write(&path, b"x").unwrap();
        // This process holding it does not count: the caller is asking about others.
        let _mine = std::fs::File::open(&path).unwrap();
        assert_eq!(process_holding(&path), None);
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .stdin(std::fs::File::open(&path).unwrap())
            .spawn()
            .unwrap();
        let found = process_holding(&path);
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(found, Some(child.id()));
    }
}
