//! The local mailbox used when no SMTP relay is configured:
//! `<data-dir>/mailbox/<enqueued-ms>-<id>.eml`, one RFC 5322 message per
//! file, written atomically (temp file, fsync, rename), so a reader never
//! sees half a message and a resend after a crash replaces the file instead
//! of adding a second one. [`Mailbox::list`] and [`Mailbox::get`] are the
//! reader API for `stratus mail` and the console.

use crate::fsutil::write_private_file;
use base64::Engine as _;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    #[error("mailbox {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("no message {0:?} in the mailbox")]
    NotFound(String),
}

/// One message's summary (newest first in [`Mailbox::list`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MailSummary {
    pub id: String,
    /// When the notification was enqueued (ms since the epoch).
    pub date_ms: i64,
    pub from: String,
    pub to: String,
    pub subject: String,
}

/// A whole message: its summary, decoded text and the raw RFC 5322 bytes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MailMessage {
    #[serde(flatten)]
    pub summary: MailSummary,
    pub message_id: String,
    pub headers: Vec<(String, String)>,
    pub text: String,
    pub raw: String,
}

#[derive(Debug, Clone)]
pub struct Mailbox {
    dir: PathBuf,
}

impl Mailbox {
    /// The mailbox of a data directory (`<data-dir>/mailbox`).
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Mailbox {
            dir: data_dir.join("mailbox"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn io(&self, source: std::io::Error) -> MailboxError {
        MailboxError::Io {
            path: self.dir.display().to_string(),
            source,
        }
    }

    /// Stores a formatted message under `id`. Writing the same delivery again
    /// replaces the file (same name), so the mailbox holds it once.
    pub fn write(
        &self,
        id: &str,
        enqueued_at_ms: i64,
        formatted: &[u8],
    ) -> Result<PathBuf, MailboxError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| self.io(e))?;
        let path = self.dir.join(format!("{enqueued_at_ms:013}-{id}.eml"));
        write_private_file(&path, formatted).map_err(|e| self.io(e))?;
        Ok(path)
    }

    /// `(date_ms, id, path)` of every message file.
    fn files(&self) -> Result<Vec<(i64, String, PathBuf)>, MailboxError> {
        let rd = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io(e)),
        };
        let mut out = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| self.io(e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".eml") else {
                continue;
            };
            let Some((ms, id)) = stem.split_once('-') else {
                continue;
            };
            let Ok(ms) = ms.parse::<i64>() else { continue };
            out.push((ms, id.to_string(), entry.path()));
        }
        Ok(out)
    }

    /// Every message, newest first.
    pub fn list(&self) -> Result<Vec<MailSummary>, MailboxError> {
        let mut files = self.files()?;
        files.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.cmp(&a.1)));
        let mut out = Vec::with_capacity(files.len());
        for (ms, id, path) in files {
            // A file removed between listing and reading is simply skipped.
            let Ok(raw) = std::fs::read(&path) else {
                continue;
            };
            out.push(parse(&id, ms, &raw).summary);
        }
        Ok(out)
    }

    /// The message `id` (or the only message whose id starts with `id`).
    pub fn get(&self, id: &str) -> Result<MailMessage, MailboxError> {
        let files = self.files()?;
        let exact = files.iter().find(|(_, fid, _)| fid == id);
        let found = match exact {
            Some(f) => Some(f),
            None => {
                let mut prefixed = files
                    .iter()
                    .filter(|(_, fid, _)| !id.is_empty() && fid.starts_with(id));
                match (prefixed.next(), prefixed.next()) {
                    (Some(f), None) => Some(f),
                    _ => None,
                }
            }
        };
        let (ms, fid, path) = found.ok_or_else(|| MailboxError::NotFound(id.to_string()))?;
        let raw = std::fs::read(path).map_err(|e| self.io(e))?;
        Ok(parse(fid, *ms, &raw))
    }
}

/// Parses the headers (unfolded, RFC 2047 decoded) and the text body
/// (decoded from its Content-Transfer-Encoding) of a message we wrote.
fn parse(id: &str, date_ms: i64, raw: &[u8]) -> MailMessage {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = match text.find("\r\n\r\n") {
        Some(i) => (&text[..i], &text[i + 4..]),
        None => match text.find("\n\n") {
            Some(i) => (&text[..i], &text[i + 2..]),
            None => (text.as_str(), ""),
        },
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = headers.last_mut() {
                v.push_str(line);
            }
        } else if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    for (_, v) in headers.iter_mut() {
        *v = decode_words(v);
    }
    let h = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let decoded = match h("Content-Transfer-Encoding").to_ascii_lowercase().as_str() {
        "base64" => {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_else(|_| body.to_string())
        }
        "quoted-printable" => decode_quoted_printable(body),
        _ => body.to_string(),
    };
    MailMessage {
        summary: MailSummary {
            id: id.to_string(),
            date_ms,
            from: h("From"),
            to: h("To"),
            subject: h("Subject"),
        },
        message_id: h("Message-ID"),
        text: decoded.replace("\r\n", "\n"),
        headers,
        raw: text.clone(),
    }
}

/// Decodes quoted-printable (RFC 2045 §6.7) text as UTF-8.
fn decode_quoted_printable(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' {
            if b[i + 1..].starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            if b[i + 1..].starts_with(b"\n") {
                i += 2;
                continue;
            }
            let hexval = b.get(i + 1..i + 3).and_then(|h| {
                std::str::from_utf8(h)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            });
            if let Some(v) = hexval {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?...?=`, `=?utf-8?q?...?=`);
/// whitespace between two encoded words is dropped, as the RFC says.
fn decode_words(v: &str) -> String {
    let mut out = String::new();
    let mut rest = v;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let (before, after) = rest.split_at(start);
        let decoded = after[2..]
            .split_once('?')
            .and_then(|(_charset, r)| r.split_once('?'))
            .and_then(|(enc, r)| r.split_once("?=").map(|(data, tail)| (enc, data, tail)))
            .and_then(|(enc, data, tail)| {
                let bytes = match enc {
                    "b" | "B" => base64::engine::general_purpose::STANDARD
                        .decode(data)
                        .ok()?,
                    "q" | "Q" => decode_quoted_printable(&data.replace('_', " ")).into_bytes(),
                    _ => return None,
                };
                Some((String::from_utf8_lossy(&bytes).into_owned(), tail))
            });
        match decoded {
            Some((text, tail)) => {
                if !(last_was_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                out.push_str(&text);
                rest = tail;
                last_was_word = true;
            }
            None => {
                out.push_str(before);
                out.push_str("=?");
                rest = &after[2..];
                last_was_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::email;

    fn message(subject: &str, text: &str, id: &str, ms: i64) -> Vec<u8> {
        let from = email::parse_mailbox(email::DEFAULT_FROM).unwrap();
        email::build(&email::EmailParts {
            from: &from,
            to: "ops@example.com",
            subject,
            text,
            id,
            enqueued_at_ms: ms,
        })
        .unwrap()
        .formatted()
    }

    #[test]
    fn write_list_get_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mb = Mailbox::in_data_dir(dir.path());
        assert!(mb.list().unwrap().is_empty());
        let long_line = "é".repeat(200);
        let text = format!("Bonjour, température élevée.\n{long_line}\nbye = ok\n");
        mb.write(
            "aaa1",
            1_000,
            &message("Alerte: température", &text, "aaa1", 1_000),
        )
        .unwrap();
        mb.write(
            "bbb2",
            2_000,
            &message("plain", "ascii only\n", "bbb2", 2_000),
        )
        .unwrap();
        // The same delivery written twice is one message.
        mb.write(
            "bbb2",
            2_000,
            &message("plain", "ascii only\n", "bbb2", 2_000),
        )
        .unwrap();
        let all = mb.list().unwrap();
        assert_eq!(
            all.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
            ["bbb2", "aaa1"]
        );
        assert_eq!(all[1].subject, "Alerte: température");
        assert_eq!(all[1].to, "ops@example.com");
        assert_eq!(all[1].date_ms, 1_000);

        let m = mb.get("aaa1").unwrap();
        assert_eq!(m.text, text);
        assert_eq!(m.message_id, "<aaa1@localhost>");
        assert_eq!(mb.get("aa").unwrap().summary.id, "aaa1", "unique prefix");
        assert!(matches!(mb.get("zzz"), Err(MailboxError::NotFound(_))));
        // No temp files left behind.
        let names: Vec<String> = std::fs::read_dir(mb.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| n.ends_with(".eml")), "{names:?}");
    }

    #[test]
    fn decoders() {
        assert_eq!(
            decode_words("=?utf-8?b?w6k=?= =?utf-8?q?t=C3=A9_x?="),
            "été x"
        );
        assert_eq!(decode_words("plain =?bogus"), "plain =?bogus");
        assert_eq!(decode_quoted_printable("a=3Db=\r\nc=C3=A9"), "a=bcé");
    }
}
