//! Finding a running server's process from its endpoint (the pid listening
//! on the port, via `/proc/net/tcp{,6}` socket inodes and `/proc/*/fd`) and
//! its data directory (its `--data-dir` argument or `STRATUS_DATA_DIR`,
//! relative to its working directory), so RSS, CPU and bytes on disk can be
//! measured without being told.

use anyhow::{Context as _, bail};
use std::path::{Path, PathBuf};

/// Socket inodes in LISTEN state on `port` in a `/proc/net/tcp` table.
pub fn listening_inodes(table: &str, port: u16) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local_port = f.get(1)?.rsplit_once(':')?.1;
            let listening = *f.get(3)? == "0A";
            (listening && u16::from_str_radix(local_port, 16).ok()? == port)
                .then(|| f.get(9)?.parse().ok())
                .flatten()
        })
        .collect()
}

/// The pid of the local process listening on `port`, if it can be seen.
pub fn listening_pid(port: u16) -> Option<u32> {
    let inodes: Vec<u64> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|t| listening_inodes(&t, port))
        .filter(|&i| i != 0)
        .collect();
    if inodes.is_empty() {
        return None;
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path())
                && wanted.iter().any(|w| target.as_os_str() == w.as_str())
            {
                return Some(pid);
            }
        }
    }
    None
}

/// The `--data-dir` in a NUL-separated command line, or `None`.
pub fn data_dir_arg(cmdline: &[u8]) -> Option<PathBuf> {
    let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
    args.iter().enumerate().find_map(|(i, a)| {
        let text = std::str::from_utf8(a).ok()?;
        if text == "--data-dir" {
            let next = std::str::from_utf8(args.get(i + 1)?).ok()?;
            Some(PathBuf::from(next))
        } else {
            text.strip_prefix("--data-dir=").map(PathBuf::from)
        }
    })
}

/// The data directory of server process `pid`: its `--data-dir`, else its
/// `STRATUS_DATA_DIR`, else the default `./stratus-data`, resolved against
/// its working directory; only if it looks like one (has `tsdb/`).
pub fn server_data_dir(pid: u32) -> Option<PathBuf> {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let from_env = || {
        let environ = std::fs::read(proc.join("environ")).ok()?;
        environ.split(|&b| b == 0).find_map(|kv| {
            let kv = std::str::from_utf8(kv).ok()?;
            kv.strip_prefix("STRATUS_DATA_DIR=").map(PathBuf::from)
        })
    };
    let dir = std::fs::read(proc.join("cmdline"))
        .ok()
        .and_then(|c| data_dir_arg(&c))
        .or_else(from_env)
        .unwrap_or_else(|| PathBuf::from("./stratus-data"));
    let dir = if dir.is_absolute() {
        dir
    } else {
        std::fs::read_link(proc.join("cwd")).ok()?.join(dir)
    };
    is_data_dir(&dir).then_some(dir)
}

pub fn is_data_dir(dir: &Path) -> bool {
    dir.join("tsdb").is_dir()
}

/// A server the bench was pointed at: its pid (given, or found listening on
/// a loopback endpoint's port) and its data directory (given, or read from
/// that process).
pub struct RunningServer {
    pub pid: Option<u32>,
    pub data_dir: Option<PathBuf>,
}

pub fn find_server(
    endpoint: &str,
    server_pid: Option<u32>,
    data_dir: Option<PathBuf>,
) -> anyhow::Result<RunningServer> {
    let uri: ureq::http::Uri = endpoint.parse().context("parsing --endpoint")?;
    let local = matches!(
        uri.host(),
        Some("127.0.0.1" | "localhost" | "[::1]" | "::1" | "0.0.0.0")
    );
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    let pid = server_pid.or_else(|| local.then(|| listening_pid(port)).flatten());
    if let Some(pid) = pid
        && !PathBuf::from(format!("/proc/{pid}/stat")).exists()
    {
        bail!("--server-pid {pid}: no such process");
    }
    let data_dir = data_dir.or_else(|| pid.and_then(server_data_dir));
    Ok(RunningServer { pid, data_dir })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_are_found_by_port() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:11D6 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 123456 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:11D6 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 223344 1 0000000000000000 20 4 30 10 -1\n\
   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 999 1 0000000000000000 100 0 0 10 0\n";
        assert_eq!(listening_inodes(table, 4566), [123456]);
        assert_eq!(listening_inodes(table, 22), [999]);
        assert!(listening_inodes(table, 40000).is_empty(), "not listening");
    }

    #[test]
    fn data_dir_comes_from_the_command_line() {
        assert_eq!(
            data_dir_arg(b"stratus\0server\0--data-dir\0/var/lib/stratus\0--listen\0x\0"),
            Some(PathBuf::from("/var/lib/stratus"))
        );
        assert_eq!(
            data_dir_arg(b"stratus\0server\0--data-dir=d\0"),
            Some(PathBuf::from("d"))
        );
        assert_eq!(data_dir_arg(b"stratus\0server\0"), None);
    }

    #[test]
    fn this_process_is_found_listening() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert_eq!(listening_pid(port), Some(std::process::id()));
        drop(l);
        assert_eq!(listening_pid(port), None);
    }
}
