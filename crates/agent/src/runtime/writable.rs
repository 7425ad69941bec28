//! Whether the paths the agent writes (its log file, its spool) can be
//! created and written, checked by `--check-config` so that a config that
//! cannot run under the systemd unit's sandbox fails there, naming the path
//! and the unit setting, instead of saying "config OK".
//!
//! A full disk is not a config error: the agent starts anyway and ships from
//! memory until space returns (see `ship::queue`), so it is only a warning.

use std::fs::{self, OpenOptions};
use std::io::ErrorKind;
use std::path::Path;

/// Why a path cannot be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathProblem {
    /// No space (or no inode) left: the agent copes, so a warning.
    DiskFull(String),
    /// Read-only, permission denied, not a directory...: the agent cannot
    /// do what the config asks.
    Refused(String),
}

/// Set by systemd in every service's environment.
const SYSTEMD_INVOCATION_ENV: &str = "INVOCATION_ID";

/// Creates `path`'s directory and opens `path` for appending (creating it
/// if missing, and removing it again if it was created here).
pub fn probe_file(path: &Path) -> Result<(), PathProblem> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| explain(dir, &e))?;
    }
    let existed = path.exists();
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| explain(path.parent().unwrap_or(path), &e))?;
    if !existed {
        let _ = fs::remove_file(path);
    }
    Ok(())
}

/// Creates `dir` and a file in it (removed again).
pub fn probe_dir(dir: &Path) -> Result<(), PathProblem> {
    fs::create_dir_all(dir).map_err(|e| explain(dir, &e))?;
    let probe = dir.join(format!(".stratus-check-{}", std::process::id()));
    OpenOptions::new()
        .create_new(true)
        .write(true)
        .open(&probe)
        .map_err(|e| explain(dir, &e))?;
    let _ = fs::remove_file(&probe);
    Ok(())
}

/// The error, and for a read-only file system under systemd the unit
/// setting that would allow `dir`.
fn explain(dir: &Path, e: &std::io::Error) -> PathProblem {
    match e.kind() {
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => PathProblem::DiskFull(format!(
            "{e}: the agent starts anyway and keeps its batches in memory until there is space"
        )),
        _ => PathProblem::Refused(sandbox_advice(dir, e).unwrap_or_else(|| e.to_string())),
    }
}

/// For a read-only file system under systemd: the error and the unit
/// setting that would let the agent write `dir`.
pub fn sandbox_advice(dir: &Path, e: &std::io::Error) -> Option<String> {
    if e.kind() != ErrorKind::ReadOnlyFilesystem
        || std::env::var_os(SYSTEMD_INVOCATION_ENV).is_none()
    {
        return None;
    }
    Some(format!(
        "{e}: systemd's sandbox (ProtectSystem=strict) lets the agent write only the \
         unit's ReadWritePaths=; add `ReadWritePaths={}` to the unit \
         (`systemctl edit stratus-agent`, then [Service] ReadWritePaths=...), or use a \
         path under /var/lib/stratus-agent or /var/log/stratus",
        dir.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_what_is_missing_and_leaves_no_trace() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("logs/a/agent.log");
        assert_eq!(probe_file(&log), Ok(()));
        assert!(log.parent().unwrap().is_dir());
        assert!(!log.exists(), "a log file created by the probe is removed");
        std::fs::write(&log, "kept\n").unwrap();
        assert_eq!(probe_file(&log), Ok(()));
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "kept\n");
        let spool = dir.path().join("spool/x");
        assert_eq!(probe_dir(&spool), Ok(()));
        assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 0);
    }

    #[test]
    fn a_file_in_the_way_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(matches!(
            probe_dir(&file.join("spool")),
            Err(PathProblem::Refused(_))
        ));
        assert!(matches!(
            probe_file(&file.join("agent.log")),
            Err(PathProblem::Refused(_))
        ));
    }
}
