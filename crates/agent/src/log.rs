//! The agent's log: one line per event, `2026-11-25T16:25:46Z LEVEL message`,
//! to a file (the config's `agent.logfile`) or stderr. A process-wide sink so
//! every module can log without threading a handle through.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "D!",
            Level::Info => "I!",
            Level::Warn => "W!",
            Level::Error => "E!",
        }
    }
}

struct Sink {
    out: Box<dyn Write + Send>,
    min: Level,
}

static SINK: OnceLock<Mutex<Sink>> = OnceLock::new();

/// Sends the log to `path` (appending; created 0644) or stderr when `None`.
/// Only the first call takes effect.
pub fn init(path: Option<&std::path::Path>, debug: bool) -> std::io::Result<()> {
    let out: Box<dyn Write + Send> = match path {
        Some(p) => {
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            )
        }
        None => Box::new(std::io::stderr()),
    };
    let min = if debug { Level::Debug } else { Level::Info };
    let _ = SINK.set(Mutex::new(Sink { out, min }));
    Ok(())
}

pub fn log(level: Level, msg: &str) {
    let Some(sink) = SINK.get() else {
        if level >= Level::Info {
            eprintln!("{} {msg}", level.as_str());
        }
        return;
    };
    let mut s = sink.lock().unwrap_or_else(|e| e.into_inner());
    if level < s.min {
        return;
    }
    let now = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let _ = writeln!(s.out, "{now} {} {msg}", level.as_str());
    let _ = s.out.flush();
}

#[macro_export]
macro_rules! info { ($($a:tt)*) => { $crate::log::log($crate::log::Level::Info, &format!($($a)*)) } }
#[macro_export]
macro_rules! warn { ($($a:tt)*) => { $crate::log::log($crate::log::Level::Warn, &format!($($a)*)) } }
#[macro_export]
macro_rules! error { ($($a:tt)*) => { $crate::log::log($crate::log::Level::Error, &format!($($a)*)) } }
#[macro_export]
macro_rules! debug { ($($a:tt)*) => { $crate::log::log($crate::log::Level::Debug, &format!($($a)*)) } }
