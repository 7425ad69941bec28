//! The journal's text export for `stratus up` on journald-only hosts (no
//! `/var/log/syslog`, no `/var/log/messages`): `journalctl --follow
//! --output=json` runs beside the local agent, and each entry becomes one
//! syslog-shaped line in `<data-dir>/journal/system.log`, which the agent
//! tails into log group `system` like any other file.
//!
//! Line shape (rsyslog's `RSYSLOG_FileFormat`):
//! `2026-12-07T09:49:27.123456+01:00 host ident[pid]: message`. The time is
//! the entry's `__REALTIME_TIMESTAMP` in the local zone; host `_HOSTNAME`;
//! ident `SYSLOG_IDENTIFIER`, else `_COMM`; pid `SYSLOG_PID`, else `_PID`.
//! A message that is not UTF-8 (journalctl's JSON gives it as a byte array)
//! is decoded lossily. Control characters other than tab are written as
//! `#` and three octal digits, as rsyslog does — so a multi-line message
//! stays one line, one log event, with its newlines visible as `#012`,
//! exactly what the agent would see in `/var/log/syslog`.
//!
//! Resuming: after each chunk (what journalctl had written when the pipe
//! ran dry, at most [`MAX_CHUNK_ENTRIES`]) the lines are fsynced, then the
//! last entry's `__CURSOR` is saved (`journal/cursor`, temp + rename), and
//! journalctl is started again with `--after-cursor`, so a restart neither
//! skips nor repeats entries. A `kill -9` (or a crash) between a chunk's
//! write and its cursor save repeats that one chunk.
//!
//! First start (no cursor file): the export begins at the time the exporter
//! first started (`--since=@<unix seconds>`), not at the journal's start —
//! `up` must not flood the server with the whole history. journalctl
//! restarts before any entry arrived use the same time, so none is lost.
//!
//! Disk: when `system.log` grows past [`ROTATE_AT`] it is renamed to
//! `system.log.1` (replacing the older one) and a new file begins; the agent
//! reads the renamed file to its end and then the new one.
//!
//! journalctl runs in its own process group and is ended by `stop` before
//! the agent. A SIGKILLed `up` cannot end it: it exits at its next write
//! into the closed pipe (SIGPIPE), i.e. with the journal's next entry.

use serde_json::Value;
use std::fs::File;
use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Reads the journal files of this directory instead of the system's
/// (`journalctl --directory=`); for tests and for exporting a copied journal.
pub const JOURNAL_DIR_ENV: &str = "STRATUS_JOURNAL_DIR";
/// `system.log` is rotated once it is larger than this.
pub const ROTATE_AT: u64 = 64 << 20;
/// Most entries written (and fsynced) before the cursor is saved.
pub const MAX_CHUNK_ENTRIES: usize = 1000;
/// The agent reads the entry's own time from the line's head.
pub const TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%S.%f%z";
/// Restart backoff of an exited journalctl: doubles up to the maximum, and
/// starts over after a run that lasted longer than the maximum.
const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How long `stop` waits for the last chunk to be written.
/// How long a first run waits for the local agent's first scan.
const FIRST_SCAN_WAIT: Duration = Duration::from_secs(30);
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The exporter's files inside the server's data directory.
#[derive(Debug, Clone)]
pub struct JournalFiles {
    pub dir: PathBuf,
    /// What the agent tails.
    pub log: PathBuf,
    pub rotated: PathBuf,
    pub cursor: PathBuf,
    /// journalctl's stderr.
    pub journalctl_log: PathBuf,
}

impl JournalFiles {
    pub fn in_data_dir(data_dir: &Path) -> JournalFiles {
        let dir = data_dir.join("journal");
        JournalFiles {
            log: dir.join("system.log"),
            rotated: dir.join("system.log.1"),
            cursor: dir.join("cursor"),
            journalctl_log: dir.join("journalctl.log"),
            dir,
        }
    }
}

/// Whether an executable `journalctl` is on PATH.
pub fn journalctl_on_path() -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|d| {
            std::fs::metadata(d.join("journalctl"))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// One journal entry: its text line (without newline; `None` for an entry
/// without MESSAGE, which is skipped but still moves the cursor) and cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub line: Option<String>,
    pub cursor: String,
}

/// Parses one line of `journalctl --output=json`; `None` when it is not an
/// entry (not a JSON object, or without `__CURSOR`).
pub fn parse_entry(json: &[u8], zone: &jiff::tz::TimeZone, local_host: &str) -> Option<Entry> {
    let v: Value = serde_json::from_slice(json).ok()?;
    let cursor = field(&v, "__CURSOR")?;
    let line = field(&v, "MESSAGE").map(|message| {
        let time = field(&v, "__REALTIME_TIMESTAMP")
            .and_then(|t| t.parse::<i64>().ok())
            .map_or_else(|| "-".to_string(), |us| format_time(us, zone));
        let host = field(&v, "_HOSTNAME").unwrap_or_else(|| local_host.to_string());
        let ident = field(&v, "SYSLOG_IDENTIFIER")
            .or_else(|| field(&v, "_COMM"))
            .unwrap_or_else(|| "unknown".to_string());
        let pid = field(&v, "SYSLOG_PID").or_else(|| field(&v, "_PID"));
        let mut line = format!("{time} {} {}", escape(&host), escape(&ident));
        if let Some(pid) = pid {
            line.push('[');
            line.push_str(&escape(&pid));
            line.push(']');
        }
        line.push_str(": ");
        line.push_str(&escape(&message));
        line
    });
    Some(Entry { line, cursor })
}

/// A field's text: journalctl writes a string, a byte array (not UTF-8 or
/// not printable), an array of those (a field repeated in one entry: the
/// first is taken), or null (too large without `--all`).
fn field(entry: &Value, name: &str) -> Option<String> {
    value_text(entry.get(name)?)
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) if items.iter().all(Value::is_u64) => {
            let bytes: Vec<u8> = items
                .iter()
                .filter_map(Value::as_u64)
                .map(|b| u8::try_from(b).unwrap_or(b'?'))
                .collect();
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        Value::Array(items) => items.first().and_then(value_text),
        _ => None,
    }
}

/// `2026-12-07T09:49:27.123456+01:00` (µs, the zone's offset at that time).
fn format_time(unix_us: i64, zone: &jiff::tz::TimeZone) -> String {
    match jiff::Timestamp::from_microsecond(unix_us) {
        Ok(t) => t
            .to_zoned_datetime(zone.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%.6f%:z")
            .to_string(),
        Err(_) => "-".to_string(),
    }
}

/// rsyslog's control character escape: `\n` → `#012`; tab is kept.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if (c.is_ascii_control() && c != '\t') || c == '\u{7f}' {
            out.push_str(&format!("#{:03o}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Appends chunks to `system.log`, saves the cursor after each, rotates.
pub struct SystemLogWriter {
    files: JournalFiles,
    file: File,
    len: u64,
    rotate_at: u64,
    cursor: Option<String>,
}

impl SystemLogWriter {
    /// Opens (creates) `system.log` for appending and loads the saved cursor.
    pub fn open(files: &JournalFiles, rotate_at: u64) -> std::io::Result<SystemLogWriter> {
        std::fs::create_dir_all(&files.dir)?;
        let file = open_append(&files.log)?;
        let len = file.metadata()?.len();
        let cursor = std::fs::read_to_string(&files.cursor)
            .ok()
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty());
        Ok(SystemLogWriter {
            files: files.clone(),
            file,
            len,
            rotate_at,
            cursor,
        })
    }

    /// The cursor of the last entry written (saved).
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    /// Writes `text` (whole lines), makes it durable, then saves `cursor`:
    /// the cursor never names an entry whose line could still be lost.
    pub fn write_chunk(&mut self, text: &[u8], cursor: Option<&str>) -> std::io::Result<()> {
        if !text.is_empty() {
            self.file.write_all(text)?;
            self.file.sync_data()?;
            self.len += text.len() as u64;
        }
        if let Some(cursor) = cursor {
            super::write_file(&self.files.cursor, cursor.as_bytes(), 0o644)?;
            self.cursor = Some(cursor.to_string());
        }
        if self.len > self.rotate_at {
            std::fs::rename(&self.files.log, &self.files.rotated)?;
            self.file = open_append(&self.files.log)?;
            self.len = 0;
        }
        Ok(())
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// Copies journalctl's JSON lines into `writer` until its output ends. A
/// chunk ends where the pipe has no further complete line buffered (or at
/// [`MAX_CHUNK_ENTRIES`]); a last line cut off by journalctl's death is
/// dropped (its cursor was not saved, so it is read again).
pub fn pump(
    input: impl Read,
    writer: &mut SystemLogWriter,
    zone: &jiff::tz::TimeZone,
    local_host: &str,
) -> std::io::Result<()> {
    let mut reader = BufReader::with_capacity(64 * 1024, input);
    let mut chunk = Vec::new();
    let mut cursor: Option<String> = None;
    let mut entries = 0usize;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        let complete = line.last() == Some(&b'\n');
        if complete {
            match parse_entry(&line, zone, local_host) {
                Some(entry) => {
                    if let Some(text) = entry.line {
                        chunk.extend_from_slice(text.as_bytes());
                        chunk.push(b'\n');
                    }
                    cursor = Some(entry.cursor);
                    entries += 1;
                }
                None => tracing::warn!(
                    "journal export: skipping a line journalctl wrote that is no entry: {}",
                    String::from_utf8_lossy(&line[..line.len().min(200)])
                ),
            }
        }
        let end = n == 0 || !complete;
        if end || entries >= MAX_CHUNK_ENTRIES || !reader.buffer().contains(&b'\n') {
            if entries > 0 {
                writer.write_chunk(&chunk, cursor.as_deref())?;
            }
            chunk.clear();
            cursor = None;
            entries = 0;
        }
        if end {
            return Ok(());
        }
    }
}

/// journalctl's arguments: resume after `cursor`, else begin at `since`.
pub fn journalctl_args(
    cursor: Option<&str>,
    since_unix_s: i64,
    directory: Option<&Path>,
) -> Vec<String> {
    let mut args: Vec<String> = [
        "--follow",
        "--output=json",
        "--all",
        "--no-pager",
        "--quiet",
    ]
    .map(String::from)
    .into();
    if let Some(dir) = directory {
        args.push(format!("--directory={}", dir.display()));
    }
    match cursor {
        Some(c) => args.push(format!("--after-cursor={c}")),
        None => args.push(format!("--since=@{since_unix_s}")),
    }
    args
}

/// The journalctl process, restarted with backoff when it exits, stopped once.
#[derive(Default)]
pub struct JournalExporter {
    child: Mutex<Option<Child>>,
    stopping: AtomicBool,
    running: AtomicBool,
}

impl JournalExporter {
    /// Exports until `stop`. Returns at once if the files cannot be opened.
    /// `agent_positions`: the local agent's positions file (see
    /// [`JournalExporter::wait_for_first_scan`]).
    pub fn supervise(&self, files: &JournalFiles, local_host: &str, agent_positions: &Path) {
        self.running.store(true, Ordering::SeqCst);
        self.supervise_inner(files, local_host, agent_positions);
        self.running.store(false, Ordering::SeqCst);
    }

    /// An agent without saved positions starts the files its first scan
    /// finds at their end (the stock agent's default), so lines exported
    /// before that scan would never be shipped. On a first run, wait —
    /// bounded — for the positions file the agent writes after its first
    /// scan; entries logged meanwhile are still exported (`--since` was
    /// taken before the wait).
    fn wait_for_first_scan(&self, agent_positions: &Path) {
        let deadline = Instant::now() + FIRST_SCAN_WAIT;
        while !agent_positions.exists()
            && Instant::now() < deadline
            && !self.stopping.load(Ordering::SeqCst)
        {
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn supervise_inner(&self, files: &JournalFiles, local_host: &str, agent_positions: &Path) {
        let mut writer = match SystemLogWriter::open(files, ROTATE_AT) {
            Ok(w) => w,
            Err(e) => {
                tracing::error!("journal export not started ({}): {e}", files.dir.display());
                return;
            }
        };
        let zone = jiff::tz::TimeZone::system();
        let since = jiff::Timestamp::now().as_second();
        if writer.cursor().is_none() {
            self.wait_for_first_scan(agent_positions);
        }
        let directory = std::env::var_os(JOURNAL_DIR_ENV).map(PathBuf::from);
        let mut backoff = MIN_BACKOFF;
        while !self.stopping.load(Ordering::SeqCst) {
            let started = Instant::now();
            let args = journalctl_args(writer.cursor(), since, directory.as_deref());
            let outcome = match self.spawn(&args, files) {
                Ok(Some(stdout)) => {
                    tracing::info!(
                        "journal export: journalctl {} -> {}",
                        args.join(" "),
                        files.log.display()
                    );
                    let pumped = pump(stdout, &mut writer, &zone, local_host);
                    // A write error leaves journalctl running: end it before restarting.
                    self.kill_child();
                    pumped.map_err(|e| format!("writing {}: {e}", files.log.display()))
                }
                Ok(None) => return,
                Err(e) => Err(format!("running journalctl: {e}")),
            };
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
            if started.elapsed() > MAX_BACKOFF {
                backoff = MIN_BACKOFF;
            }
            tracing::warn!(
                "journal export: journalctl ended ({}); restarting in {} s, see {}",
                outcome.err().unwrap_or_else(|| "its output closed".into()),
                backoff.as_secs(),
                files.journalctl_log.display()
            );
            let until = Instant::now() + backoff;
            while Instant::now() < until && !self.stopping.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(100));
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Starts journalctl; `None` when stopping.
    fn spawn(
        &self,
        args: &[String],
        files: &JournalFiles,
    ) -> std::io::Result<Option<std::process::ChildStdout>> {
        let mut guard = self.child.lock().unwrap_or_else(|e| e.into_inner());
        // Checked under the lock `stop` takes: nothing starts after a stop.
        if self.stopping.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&files.journalctl_log)?;
        let mut child = Command::new("journalctl")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            // Like the agent: a terminal's Ctrl-C reaches only `up`, which stops it.
            .process_group(0)
            .spawn()?;
        let stdout = child.stdout.take();
        *guard = Some(child);
        Ok(stdout)
    }

    fn kill_child(&self) {
        let taken = self.child.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut child) = taken {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Ends journalctl and waits (briefly) for the last chunk to be written.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.kill_child();
        let deadline = Instant::now() + STOP_GRACE;
        while self.running.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::{Offset, TimeZone};

    fn plus_one() -> TimeZone {
        TimeZone::fixed(Offset::from_hours(1).unwrap())
    }

    #[test]
    fn entries_become_syslog_lines() {
        // (journalctl JSON, expected line); times in a +01:00 zone.
        let table: &[(&str, Option<&str>)] = &[
            (
                r#"{"__CURSOR":"c1","__REALTIME_TIMESTAMP":"1796636967123456","_HOSTNAME":"web1","SYSLOG_IDENTIFIER":"sshd","_PID":"811","MESSAGE":"Accepted publickey for ops"}"#,
                Some("2026-12-07T10:49:27.123456+01:00 web1 sshd[811]: Accepted publickey for ops"),
            ),
            // SYSLOG_PID wins over _PID; no pid at all: no brackets.
            (
                r#"{"__CURSOR":"c2","__REALTIME_TIMESTAMP":"1796636967000001","_HOSTNAME":"web1","SYSLOG_IDENTIFIER":"cron","SYSLOG_PID":"7","_PID":"8","MESSAGE":"job"}"#,
                Some("2026-12-07T10:49:27.000001+01:00 web1 cron[7]: job"),
            ),
            (
                r#"{"__CURSOR":"c3","__REALTIME_TIMESTAMP":"1796636967000000","_HOSTNAME":"web1","SYSLOG_IDENTIFIER":"kernel","MESSAGE":"eth0: link up"}"#,
                Some("2026-12-07T10:49:27.000000+01:00 web1 kernel: eth0: link up"),
            ),
            // No identifier: _COMM; no _HOSTNAME: this machine's name.
            (
                r#"{"__CURSOR":"c4","__REALTIME_TIMESTAMP":"1796636967123456","_COMM":"bash","_PID":"1","MESSAGE":"hi"}"#,
                Some("2026-12-07T10:49:27.123456+01:00 here bash[1]: hi"),
            ),
            // Multi-line, not UTF-8 (a byte array): lossy, newline as #012, tab kept.
            (
                r#"{"__CURSOR":"c5","__REALTIME_TIMESTAMP":"1796636967123456","_HOSTNAME":"h","SYSLOG_IDENTIFIER":"app","MESSAGE":[97,10,98,9,255,99]}"#,
                Some("2026-12-07T10:49:27.123456+01:00 h app: a#012b\t\u{fffd}c"),
            ),
            // UTF-8 message given as bytes (it holds a newline), and a carriage return.
            (
                r#"{"__CURSOR":"c6","__REALTIME_TIMESTAMP":"1796636967123456","_HOSTNAME":"h","SYSLOG_IDENTIFIER":"app","MESSAGE":[195,169,13,10]}"#,
                Some("2026-12-07T10:49:27.123456+01:00 h app: é#015#012"),
            ),
            // A field repeated in one entry: the first value.
            (
                r#"{"__CURSOR":"c7","__REALTIME_TIMESTAMP":"1796636967123456","_HOSTNAME":"h","SYSLOG_IDENTIFIER":["one","two"],"MESSAGE":"m"}"#,
                Some("2026-12-07T10:49:27.123456+01:00 h one: m"),
            ),
            // No MESSAGE: no line (the cursor still moves).
            (
                r#"{"__CURSOR":"c8","__REALTIME_TIMESTAMP":"1796636967123456","SYSLOG_IDENTIFIER":"x"}"#,
                None,
            ),
        ];
        for (json, want) in table {
            let e = parse_entry(json.as_bytes(), &plus_one(), "here").expect(json);
            assert_eq!(e.line.as_deref(), *want, "{json}");
        }
        let e = parse_entry(table[0].0.as_bytes(), &plus_one(), "here").unwrap();
        assert_eq!(e.cursor, "c1");
    }

    #[test]
    fn what_is_not_an_entry_is_refused() {
        for bad in [
            &b"not json"[..],
            b"[1,2]",
            br#"{"MESSAGE":"no cursor"}"#,
            b"",
        ] {
            assert_eq!(parse_entry(bad, &plus_one(), "h"), None);
        }
    }

    #[test]
    fn the_line_time_is_what_the_agent_timestamp_format_reads() {
        let line = parse_entry(
            br#"{"__CURSOR":"c","__REALTIME_TIMESTAMP":"1796636967123456","MESSAGE":"m"}"#,
            &plus_one(),
            "h",
        )
        .unwrap()
        .line
        .unwrap();
        let format =
            stratus_agent::logs::timestamp::TimestampFormat::compile(TIMESTAMP_FORMAT).unwrap();
        // Read in UTC: the line's own offset must win.
        let found = format.find(&line, &TimeZone::UTC, 0).expect(&line);
        // 2026-12-07T09:49:27.123Z
        assert_eq!(found.unix_ms, 1_796_636_967_123);
        assert_eq!(found.start, 0);
    }

    #[test]
    fn journalctl_resumes_after_the_cursor_or_begins_now() {
        let with = journalctl_args(Some("s=1;i=2"), 5, Some(Path::new("/j")));
        assert!(
            with.contains(&"--after-cursor=s=1;i=2".to_string()),
            "{with:?}"
        );
        assert!(with.contains(&"--directory=/j".to_string()), "{with:?}");
        assert!(!with.iter().any(|a| a.starts_with("--since")), "{with:?}");
        let without = journalctl_args(None, 1_796_636_967, None);
        assert!(without.contains(&"--since=@1796636967".to_string()));
        assert!(!without.iter().any(|a| a.starts_with("--directory")));
        for a in ["--follow", "--output=json", "--all"] {
            assert!(without.contains(&a.to_string()), "{a}");
        }
    }

    fn temp_files(name: &str) -> JournalFiles {
        let dir =
            std::env::temp_dir().join(format!("stratus-journal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        JournalFiles::in_data_dir(&dir)
    }

    fn json_entry(cursor: &str, msg: &str) -> String {
        format!(
            r#"{{"__CURSOR":"{cursor}","__REALTIME_TIMESTAMP":"1796636967000000","_HOSTNAME":"h","SYSLOG_IDENTIFIER":"t","MESSAGE":"{msg}"}}"#
        )
    }

    #[test]
    fn pump_writes_lines_and_saves_the_last_cursor() {
        let files = temp_files("pump");
        let mut w = SystemLogWriter::open(&files, ROTATE_AT).unwrap();
        assert_eq!(w.cursor(), None);
        // Two entries, then one cut off by journalctl's death: dropped.
        let input = format!(
            "{}\n{}\n{}",
            json_entry("c1", "one"),
            json_entry("c2", "two"),
            json_entry("c3", "three")
        );
        pump(input.as_bytes(), &mut w, &TimeZone::UTC, "h").unwrap();
        let text = std::fs::read_to_string(&files.log).unwrap();
        assert_eq!(
            text,
            "2026-12-07T09:49:27.000000+00:00 h t: one\n2026-12-07T09:49:27.000000+00:00 h t: two\n"
        );
        assert_eq!(std::fs::read_to_string(&files.cursor).unwrap(), "c2");
        // Reopened (a restarted `up`): the cursor is back, lines are appended.
        let mut w = SystemLogWriter::open(&files, ROTATE_AT).unwrap();
        assert_eq!(w.cursor(), Some("c2"));
        pump(
            format!("{}\n", json_entry("c3", "three")).as_bytes(),
            &mut w,
            &TimeZone::UTC,
            "h",
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(&files.log).unwrap().lines().count(),
            3
        );
        assert_eq!(std::fs::read_to_string(&files.cursor).unwrap(), "c3");
        std::fs::remove_dir_all(&files.dir).unwrap();
    }

    #[test]
    fn a_large_log_is_renamed_to_dot_1() {
        let files = temp_files("rotate");
        let mut w = SystemLogWriter::open(&files, 100).unwrap();
        w.write_chunk(&[b'a'; 60], Some("c1")).unwrap();
        assert!(!files.rotated.exists());
        w.write_chunk(&[b'b'; 60], Some("c2")).unwrap();
        // 120 > 100: the full file became .1, a new empty one is written next.
        assert_eq!(std::fs::metadata(&files.rotated).unwrap().len(), 120);
        assert_eq!(std::fs::metadata(&files.log).unwrap().len(), 0);
        w.write_chunk(&[b'c'; 101], Some("c3")).unwrap();
        w.write_chunk(b"d\n", Some("c4")).unwrap();
        // The older .1 is replaced.
        assert_eq!(std::fs::read(&files.rotated).unwrap(), vec![b'c'; 101]);
        assert_eq!(std::fs::read(&files.log).unwrap(), b"d\n");
        assert_eq!(std::fs::read_to_string(&files.cursor).unwrap(), "c4");
        std::fs::remove_dir_all(&files.dir).unwrap();
    }
}
