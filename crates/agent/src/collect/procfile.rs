//! Reading and tokenising `/proc` text files. Every parser here takes the
//! file's text so tests feed captured fixtures; nothing panics on odd input
//! (a malformed line is skipped, a missing required key is a `Parse` error).

use std::io::Read as _;
use std::path::Path;

use super::CollectError;

/// First read size: most `/proc` files fit, so a read is one `read` plus
/// the one that sees the end.
const FIRST_READ: usize = 8 * 1024;

/// Reads a whole `/proc` (or `/sys`) file. `std::fs::read` asks for the
/// size first (a `statx`, useless: `/proc` files say 0) and then reads 32
/// bytes, 32, 64, 128, … — seven syscalls for a 1 KiB `/proc/PID/status`,
/// each a few µs on a VM; this is open, read, read, close.
pub fn read_bytes(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut file = std::fs::File::open(path)?;
    let mut buf = Vec::with_capacity(FIRST_READ);
    loop {
        if buf.len() == buf.capacity() {
            buf.reserve(buf.capacity());
        }
        let len = buf.len();
        let spare = buf.capacity() - len;
        buf.resize(len + spare, 0);
        match file.read(&mut buf[len..]) {
            Ok(0) => {
                buf.truncate(len);
                return Ok(buf);
            }
            Ok(n) => buf.truncate(len + n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => buf.truncate(len),
            Err(e) => return Err(e),
        }
    }
}

/// Reads a whole `/proc` (or `/sys`) file as text.
pub fn read(path: &Path) -> Result<String, CollectError> {
    read_bytes(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .map_err(|source| CollectError::Io {
            path: path.display().to_string(),
            source,
        })
}

/// Reads a file that may legitimately be absent (e.g. `net/tcp6` on a host
/// without IPv6): `Ok(None)` when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<String>, CollectError> {
    match read_bytes(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CollectError::Io {
            path: path.display().to_string(),
            source,
        }),
    }
}

pub fn parse_error(path: &str, message: impl Into<String>) -> CollectError {
    CollectError::Parse {
        path: path.to_string(),
        message: message.into(),
    }
}

/// `Key:   1234 kB` lines (`/proc/meminfo`, `/proc/[pid]/status`): the key
/// and the first number after the colon, scaled to bytes when the line says
/// `kB`. Lines whose value is not a number (`Name:`, `State:`) are skipped.
pub fn kv_numbers(text: &str) -> impl Iterator<Item = (&str, u64)> {
    text.lines().filter_map(|line| {
        let (key, rest) = line.split_once(':')?;
        let mut words = rest.split_whitespace();
        let value: u64 = words.next()?.parse().ok()?;
        let value = match words.next() {
            Some("kB") => value.checked_mul(1024)?,
            _ => value,
        };
        Some((key.trim(), value))
    })
}

/// The text value of a `Key:\tvalue` line (`Name:` in `/proc/[pid]/status`).
pub fn kv_text<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k == key).then(|| v.trim())
    })
}

/// Undoes the octal escapes (`\040` space, `\011` tab, `\012` newline,
/// `\134` backslash) the kernel writes into mount points in `/proc/*/mounts`.
pub fn unescape_octal(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let digits = &bytes[i + 1..(i + 4).min(bytes.len())];
            if digits.len() == 3 && digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let v = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(b) = u8::try_from(v) {
                    out.push(b);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_whole_files_of_any_size() {
        let dir = tempfile::tempdir().unwrap();
        for len in [
            0,
            1,
            FIRST_READ - 1,
            FIRST_READ,
            FIRST_READ + 1,
            5 * FIRST_READ + 3,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let path = dir.path().join(format!("f{len}"));
            std::fs::write(&path, &data).unwrap();
            assert_eq!(read_bytes(&path).unwrap(), data, "length {len}");
        }
        // A real /proc file (size 0 to stat) reads whole.
        let status = read(Path::new("/proc/self/status")).unwrap();
        assert!(
            status.starts_with("Name:") && status.contains("\nVmRSS:"),
            "{status}"
        );
        assert!(read_bytes(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn kv_scales_kb() {
        let t = "MemTotal:       24684092 kB\nHugePages_Total:       7\nName:\tbash\nbad line\n";
        let v: Vec<_> = kv_numbers(t).collect();
        assert_eq!(
            v,
            vec![("MemTotal", 24684092 * 1024), ("HugePages_Total", 7)]
        );
        assert_eq!(kv_text(t, "Name"), Some("bash"));
    }

    #[test]
    fn octal_escapes() {
        assert_eq!(unescape_octal(r"/mnt/my\040disk"), "/mnt/my disk");
        assert_eq!(unescape_octal(r"/a\134b"), r"/a\b");
        assert_eq!(unescape_octal(r"/trailing\04"), r"/trailing\04");
        assert_eq!(unescape_octal(r"\777x"), r"\777x");
        assert_eq!(unescape_octal("\\"), "\\");
    }
}
