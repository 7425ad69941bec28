//! One pass over `/proc/[pid]/stat` shared by the collectors that look at
//! every process: `processes` (state and thread counts) and `procstat`'s
//! `exe` selector (the process name, which `stat` carries as `(comm)`).
//!
//! Walking every process is the agent's largest recurring cost on a busy
//! host (the kernel renders each `stat` file), so it is done once per
//! collection round: a snapshot younger than [`REUSE_WITHIN`] is handed out
//! again. The collectors of one interval start together, so the second one
//! waits on the lock for the first one's scan and reuses it.
//!
//! The scan keeps each process's `stat` file open between rounds (up to
//! [`MAX_OPEN`] of them) and re-reads it with `pread` at offset 0: opening
//! and closing a procfs file costs about as much as rendering it. An open
//! file belongs to its process, not to the number: once the process exits,
//! reads fail (ESRCH) and the file is closed; a new process reusing the
//! number is opened afresh. It reuses one path buffer and one read buffer: no
//! allocation per process besides its name.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::CollectError;

/// `include/linux/sched.h`: the task is a kernel thread.
const PF_KTHREAD: u64 = 0x0020_0000;

/// `stat` files kept open between rounds: well inside the usual soft limit
/// of 1024 descriptors; processes beyond it are opened and closed each round.
pub const MAX_OPEN: usize = 256;

/// How old a snapshot may be and still be handed out.
pub const REUSE_WITHIN: Duration = Duration::from_secs(1);

/// What `/proc/[pid]/stat` says about one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcEntry {
    pub pid: u32,
    /// The state letter (`R`, `S`, `D`, …).
    pub state: u8,
    /// `num_threads` (field 20).
    pub threads: u64,
    /// `PF_KTHREAD` in `flags` (field 9): a kernel thread, without a command line.
    pub kernel_thread: bool,
    /// `comm`: the kernel's name, cut at 15 bytes.
    pub comm: String,
}

/// Parses one `stat` line. `comm` may hold spaces and parentheses, so it
/// ends at the last `)`, as telegraf and gopsutil split it.
pub fn parse_stat(pid: u32, stat: &[u8]) -> Option<ProcEntry> {
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let comm = String::from_utf8_lossy(stat.get(open + 1..close)?).into_owned();
    let mut fields = stat
        .get(close + 1..)?
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty());
    // After `(comm)`: state is field 3, flags field 9, num_threads field 20.
    let number = |f: &[u8]| std::str::from_utf8(f).ok()?.parse::<u64>().ok();
    let state = *fields.next()?.first()?;
    let flags = number(fields.nth(5)?)?;
    let threads = number(fields.nth(10)?)?;
    Some(ProcEntry {
        pid,
        state,
        threads,
        kernel_thread: flags & PF_KTHREAD != 0,
        comm,
    })
}

/// The process table of one proc root, shared by its collectors.
pub struct ProcTable {
    proc: PathBuf,
    state: Mutex<ScanState>,
}

#[derive(Default)]
struct ScanState {
    last: Option<(Instant, Arc<Vec<ProcEntry>>)>,
    /// `stat` files kept open, by pid.
    open: HashMap<u32, File>,
}

impl ProcTable {
    pub fn new(proc_root: &Path) -> Arc<ProcTable> {
        Arc::new(ProcTable {
            proc: proc_root.to_owned(),
            state: Mutex::new(ScanState::default()),
        })
    }

    pub fn proc_root(&self) -> &Path {
        &self.proc
    }

    /// Every process now (or as of less than [`REUSE_WITHIN`] ago).
    pub fn snapshot(&self) -> Result<Arc<Vec<ProcEntry>>, CollectError> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, table)) = state.last.as_ref()
            && at.elapsed() < REUSE_WITHIN
        {
            return Ok(Arc::clone(table));
        }
        let table = Arc::new(scan(&self.proc, &mut state.open)?);
        state.last = Some((Instant::now(), Arc::clone(&table)));
        Ok(table)
    }
}

/// Reads every `[pid]/stat` under `proc_root`, re-reading the files in `open`
/// and keeping newly opened ones there while it has room; processes that
/// exit while we read are skipped, and their files closed.
pub fn scan(
    proc_root: &Path,
    open: &mut HashMap<u32, File>,
) -> Result<Vec<ProcEntry>, CollectError> {
    let dir = std::fs::read_dir(proc_root).map_err(|source| CollectError::Io {
        path: proc_root.display().to_string(),
        source,
    })?;
    let mut out = Vec::with_capacity(open.len().max(64) + 16);
    let mut path = proc_root.to_path_buf();
    let mut buf = vec![0u8; 1024];
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let mut read = open.get(&pid).and_then(|f| read_at_start(f, &mut buf));
        if read.is_none() {
            // Not open yet, or its process is gone and the number reused.
            open.remove(&pid);
            path.push(&name);
            path.push("stat");
            if let Ok(f) = File::open(&path) {
                read = read_at_start(&f, &mut buf);
                if read.is_some() && open.len() < MAX_OPEN {
                    open.insert(pid, f);
                }
            }
            path.pop();
            path.pop();
        }
        if let Some(e) = read.and_then(|n| parse_stat(pid, &buf[..n])) {
            out.push(e);
        }
    }
    // Close the files of processes that are gone.
    if open.len() > out.len() {
        let seen: std::collections::HashSet<u32> = out.iter().map(|e| e.pid).collect();
        open.retain(|pid, _| seen.contains(pid));
    }
    Ok(out)
}

/// Reads a small file whole from its start into `buf` (growing it when one
/// read fills it). `None` when it cannot be read.
fn read_at_start(f: &File, buf: &mut Vec<u8>) -> Option<usize> {
    use std::os::unix::fs::FileExt as _;
    let mut len = 0;
    loop {
        let n = f.read_at(&mut buf[len..], len as u64).ok()?;
        len += n;
        if n == 0 || len < buf.len() {
            // procfs hands out a small seq_file whole in one read: a short
            // read is the end (saves the read that would return 0).
            return Some(len);
        }
        buf.resize(buf.len() * 2, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 1200 0 0 0 \
                        15 7 0 0 20 0 3 0 987 12345678 456 18446744073709551615 1 1 0 0 0 0 0 \
                        4096 0 0 0 17 1 0 0 5 0 0 0 0 0 0 0 0 0 0\n";

    #[test]
    fn stat_lines_parse_with_odd_names() {
        let e = parse_stat(1234, STAT.as_bytes()).unwrap();
        assert_eq!(e.state, b'S');
        assert_eq!(e.threads, 3);
        assert_eq!(e.comm, "my (odd) name");
        assert!(!e.kernel_thread);
        assert_eq!(parse_stat(1, b"1 (x) R 1"), None, "too short");
        assert_eq!(parse_stat(1, b""), None);
        assert_eq!(parse_stat(1, b"1 x) R"), None, "no (");
    }

    #[test]
    fn a_fixture_root_scans_and_snapshots_are_reused() {
        let dir = tempfile::tempdir().unwrap();
        for (pid, text) in [
            ("1", STAT),
            (
                "77",
                "77 (kworker/0:1) I 2 0 0 0 -1 69238880 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
            ),
        ] {
            std::fs::create_dir(dir.path().join(pid)).unwrap();
            std::fs::write(dir.path().join(pid).join("stat"), text).unwrap();
        }
        std::fs::create_dir(dir.path().join("self")).unwrap();
        std::fs::create_dir(dir.path().join("99")).unwrap(); // exited: no stat
        let table = ProcTable::new(dir.path());
        let mut got = (*table.snapshot().unwrap()).clone();
        got.sort_by_key(|e| e.pid);
        assert_eq!(got.len(), 2);
        assert_eq!((got[1].pid, got[1].state, got[1].threads), (77, b'I', 1));
        assert_eq!(got[1].comm, "kworker/0:1");
        assert!(got[1].kernel_thread, "flags 69238880 has PF_KTHREAD");
        // Within the reuse window the same snapshot comes back, even though
        // the root changed.
        std::fs::remove_dir_all(dir.path().join("77")).unwrap();
        let a = table.snapshot().unwrap();
        assert_eq!(a.len(), 2);
        assert!(Arc::ptr_eq(&a, &table.snapshot().unwrap()));
    }

    #[test]
    fn kept_files_are_reread_and_closed_when_their_process_ends() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        let mut open = HashMap::new();
        let first = scan(Path::new("/proc"), &mut open).unwrap();
        assert!(first.iter().any(|e| e.pid == pid && e.comm == "sleep"));
        assert!(open.contains_key(&pid), "its stat file is kept open");
        let kept = open.len();
        assert!(kept <= MAX_OPEN);
        // A re-read through the kept file sees the current state.
        child.kill().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let again = scan(Path::new("/proc"), &mut open).unwrap();
            let e = again.iter().find(|e| e.pid == pid);
            if e.is_some_and(|e| e.state == b'Z') {
                break; // killed, not yet reaped: a zombie, read through the kept file
            }
            assert!(Instant::now() < deadline, "never saw the zombie: {e:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
        child.wait().unwrap();
        let after = scan(Path::new("/proc"), &mut open).unwrap();
        assert!(!after.iter().any(|e| e.pid == pid));
        assert!(
            !open.contains_key(&pid),
            "the reaped process's file is closed"
        );
    }

    #[test]
    fn long_files_are_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let text = "x".repeat(5000);
        std::fs::write(&path, &text).unwrap();
        let mut buf = vec![0u8; 1024];
        let f = File::open(&path).unwrap();
        let n = read_at_start(&f, &mut buf).unwrap();
        assert_eq!(&buf[..n], text.as_bytes());
        // Again from the start, on the same file.
        assert_eq!(read_at_start(&f, &mut buf), Some(5000));
    }

    #[test]
    fn the_live_proc_lists_this_process() {
        let me = std::process::id();
        let all = scan(Path::new("/proc"), &mut HashMap::new()).unwrap();
        let mine = all.iter().find(|e| e.pid == me).expect("own pid listed");
        assert!(mine.threads >= 1);
        assert!(!mine.kernel_thread);
        if let Some(kthreadd) = all.iter().find(|e| e.pid == 2) {
            assert!(kthreadd.kernel_thread, "{kthreadd:?}");
        }
        assert_eq!(
            mine.comm,
            std::fs::read_to_string(format!("/proc/{me}/comm"))
                .unwrap()
                .trim_end()
        );
    }
}
