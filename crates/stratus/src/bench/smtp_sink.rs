//! A benchmark harness SMTP sink on 127.0.0.1: speaks just enough SMTP
//! (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) to accept messages, and
//! records when each one was accepted. Not a mail server: no TLS, no auth,
//! no size limits beyond memory.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// One accepted message.
#[derive(Clone)]
pub struct Received {
    /// When the final "." of DATA arrived (just before the 250 reply).
    pub at: SystemTime,
    pub rcpt: Vec<String>,
    /// Header and body, dot-unstuffed, with CRLF line ends.
    pub data: String,
}

impl Received {
    pub fn subject(&self) -> Option<&str> {
        self.data
            .split("\r\n")
            .take_while(|l| !l.is_empty())
            .find_map(|l| l.strip_prefix("Subject: "))
    }

    /// The body with quoted-printable soft breaks and escapes undone (when
    /// the message says it is quoted-printable).
    pub fn text(&self) -> String {
        let (head, body) = self.data.split_once("\r\n\r\n").unwrap_or(("", &self.data));
        if !head
            .to_ascii_lowercase()
            .contains("content-transfer-encoding: quoted-printable")
        {
            return body.to_string();
        }
        let joined = body.replace("=\r\n", "");
        let bytes = joined.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match (bytes[i], hex) {
                (b'=', Some(b)) => {
                    out.push(b);
                    i += 3;
                }
                (c, _) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[derive(Default)]
struct Inbox {
    mail: Mutex<Vec<Received>>,
    arrived: Condvar,
}

/// The running sink; its threads live until the process exits.
pub struct SmtpSink {
    pub port: u16,
    inbox: Arc<Inbox>,
}

impl SmtpSink {
    pub fn start() -> anyhow::Result<SmtpSink> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let inbox = Arc::new(Inbox::default());
        let shared = inbox.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().map_while(Result::ok) {
                let inbox = shared.clone();
                std::thread::spawn(move || {
                    // A broken connection only ends that session.
                    let _ = session(conn, &inbox);
                });
            }
        });
        Ok(SmtpSink { port, inbox })
    }

    /// Waits until a message to `rcpt` whose subject starts with `subject`
    /// arrives (or has arrived since `since`), up to `timeout`.
    pub fn wait_for(
        &self,
        rcpt: &str,
        subject: &str,
        since: SystemTime,
        timeout: Duration,
    ) -> Option<Received> {
        let deadline = Instant::now() + timeout;
        let mut mail = self.inbox.mail.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(m) = mail.iter().find(|m| {
                m.at >= since
                    && m.rcpt.iter().any(|r| r == rcpt)
                    && m.subject().is_some_and(|s| s.starts_with(subject))
            }) {
                return Some(m.clone());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            mail = self
                .inbox
                .arrived
                .wait_timeout(mail, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

fn session(conn: TcpStream, inbox: &Inbox) -> std::io::Result<()> {
    let mut out = conn.try_clone()?;
    let mut lines = BufReader::new(conn);
    out.write_all(b"220 stratus-bench-sink ESMTP\r\n")?;
    let mut rcpt = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_ascii_uppercase();
        let reply: &[u8] = if cmd.starts_with("EHLO") {
            b"250-stratus-bench-sink\r\n250 8BITMIME\r\n"
        } else if cmd.starts_with("HELO") || cmd.starts_with("NOOP") {
            b"250 OK\r\n"
        } else if cmd.starts_with("MAIL FROM:") || cmd.starts_with("RSET") {
            rcpt.clear();
            b"250 OK\r\n"
        } else if cmd.starts_with("RCPT TO:") {
            let addr = line.trim_end().get("RCPT TO:".len()..).unwrap_or("").trim();
            let addr = addr.trim_start_matches('<');
            rcpt.push(addr.split('>').next().unwrap_or(addr).to_string());
            b"250 OK\r\n"
        } else if cmd == "DATA" {
            out.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                let l = line.trim_end_matches(['\r', '\n']);
                if l == "." {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(l));
                data.push_str("\r\n");
            }
            let m = Received {
                at: SystemTime::now(),
                rcpt: std::mem::take(&mut rcpt),
                data,
            };
            inbox.mail.lock().unwrap_or_else(|e| e.into_inner()).push(m);
            inbox.arrived.notify_all();
            b"250 OK: queued\r\n"
        } else if cmd.starts_with("QUIT") {
            out.write_all(b"221 Bye\r\n")?;
            return Ok(());
        } else {
            b"502 Command not implemented\r\n"
        };
        out.write_all(reply)?;
    }
}
