//! The Embedded Metric Format listener (`logs.metrics_collected.emf`): TCP
//! and UDP on one address (default 127.0.0.1:25888), one JSON document per
//! line (TCP) or per line of a datagram (UDP). Every line becomes a log
//! event in the group its `_aws.LogGroupName` names (else
//! `emf/logs/default`), stream `_aws.LogStreamName` (else the configured
//! default), timed by `_aws.Timestamp` (else now); the shipper marks these
//! batches `x-amzn-logs-format: json/emf` so the server extracts metrics.
//!
//! One thread polls non-blocking sockets (no thread per connection). The
//! lines of one poll round are appended to the EMF journal (`emf_journal`)
//! in one `write` before they are handed to the tail and before the next
//! read, so a `kill -9` loses no line read from a socket (lines still in the
//! kernel's socket buffers are lost, as with any listener).

use super::emf_journal::EmfJournal;
use super::tail::EmfEvent;
use crate::config::DEFAULT_EMF_GROUP;
use std::io::Read;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A line longer than an event can be is cut by the batcher; a connection
/// sending this much without a newline is dropped.
const MAX_LINE: usize = 1 << 20;
const MAX_CONNECTIONS: usize = 256;
const POLL: Duration = Duration::from_millis(50);

/// Reads one EMF line into an event (`None`: not a JSON object).
pub fn parse_line(line: &str, now_ms: i64) -> Option<EmfEvent> {
    let line = line.trim_end_matches('\r');
    if line.trim().is_empty() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let aws = v.as_object()?.get("_aws");
    let text = |k: &str| {
        aws.and_then(|a| a.get(k))
            .and_then(|x| x.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let timestamp_ms = aws
        .and_then(|a| a.get("Timestamp"))
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(now_ms);
    Some(EmfEvent {
        group: text("LogGroupName").unwrap_or_else(|| DEFAULT_EMF_GROUP.to_owned()),
        stream: text("LogStreamName").unwrap_or_default(),
        timestamp_ms,
        message: super::lines::truncate(line.to_owned()),
        span: None,
    })
}

pub struct EmfListener {
    tcp: TcpListener,
    udp: UdpSocket,
}

impl EmfListener {
    pub fn bind(address: &str) -> std::io::Result<EmfListener> {
        let tcp = TcpListener::bind(address)?;
        let udp = UdpSocket::bind(address)?;
        tcp.set_nonblocking(true)?;
        udp.set_nonblocking(true)?;
        Ok(EmfListener { tcp, udp })
    }

    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.tcp.local_addr()
    }

    /// Polls until `stop`, journaling every line (when `journal` is set)
    /// and then sending its event to `out`.
    pub fn run(
        self,
        out: Sender<EmfEvent>,
        stop: Arc<AtomicBool>,
        journal: Option<Arc<Mutex<EmfJournal>>>,
    ) {
        let mut conns: Vec<(TcpStream, Vec<u8>)> = Vec::new();
        let mut buf = vec![0u8; 64 << 10];
        let mut round = Round::default();
        while !stop.load(Ordering::SeqCst) {
            let mut busy = false;
            while let Ok((s, _)) = self.tcp.accept() {
                busy = true;
                if conns.len() < MAX_CONNECTIONS && s.set_nonblocking(true).is_ok() {
                    conns.push((s, Vec::new()));
                }
            }
            let now_ms = crate::runtime::unix_ms();
            while let Ok(n) = self.udp.recv(&mut buf) {
                busy = true;
                for line in buf[..n].split(|&b| b == b'\n') {
                    round.take(line, now_ms);
                }
            }
            conns.retain_mut(|(s, pending)| {
                loop {
                    match s.read(&mut buf) {
                        Ok(0) => {
                            if !pending.is_empty() {
                                round.take(pending, now_ms);
                            }
                            return false;
                        }
                        Ok(n) => {
                            busy = true;
                            pending.extend_from_slice(&buf[..n]);
                            let mut used = 0;
                            while let Some(i) = pending[used..].iter().position(|&b| b == b'\n') {
                                round.take(&pending[used..used + i], now_ms);
                                used += i + 1;
                            }
                            pending.drain(..used);
                            if pending.len() > MAX_LINE {
                                return false;
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(_) => return false,
                    }
                }
            });
            round.hand_over(&out, journal.as_deref(), now_ms);
            if !busy {
                std::thread::sleep(POLL);
            }
        }
    }
}

/// The lines of one poll round, journaled and handed over together.
#[derive(Default)]
struct Round {
    events: Vec<EmfEvent>,
    bad: u64,
    journal_failures: u64,
}

impl Round {
    fn take(&mut self, line: &[u8], now_ms: i64) {
        match std::str::from_utf8(line)
            .ok()
            .and_then(|l| parse_line(l, now_ms))
        {
            Some(e) => self.events.push(e),
            None if line.iter().all(u8::is_ascii_whitespace) => {}
            None => {
                self.bad += 1;
                if self.bad.is_power_of_two() {
                    crate::warn!(
                        "emf: {} line(s) that are not JSON objects ignored",
                        self.bad
                    );
                }
            }
        }
    }

    /// Journals the round's events, then sends them — under the journal's
    /// lock, so the tail, holding it, knows every journaled event is in
    /// its channel.
    fn hand_over(
        &mut self,
        out: &Sender<EmfEvent>,
        journal: Option<&Mutex<EmfJournal>>,
        now_ms: i64,
    ) {
        if self.events.is_empty() {
            return;
        }
        let mut events = std::mem::take(&mut self.events);
        let Some(journal) = journal else {
            for e in events {
                let _ = out.send(e);
            }
            return;
        };
        let mut j = journal.lock().unwrap_or_else(|e| e.into_inner());
        let lines: Vec<&[u8]> = events.iter().map(|e| e.message.as_bytes()).collect();
        match j.append(now_ms, &lines) {
            Ok(spans) => {
                for (e, span) in events.iter_mut().zip(spans) {
                    e.span = Some(span);
                }
            }
            Err(err) => {
                // Still shipped; only a kill before they are spooled loses them.
                self.journal_failures += 1;
                if self.journal_failures.is_power_of_two() {
                    crate::error!(
                        "emf: cannot append to {} ({err}); {} round(s) of lines held only in memory",
                        j.path().display(),
                        self.journal_failures
                    );
                }
            }
        }
        for e in events {
            let _ = out.send(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_their_group_stream_and_time() {
        let e = parse_line(
            r#"{"_aws":{"Timestamp":1700000000123,"LogGroupName":"app","LogStreamName":"s1","CloudWatchMetrics":[]},"x":1}"#,
            5,
        )
        .unwrap();
        assert_eq!(
            (e.group.as_str(), e.stream.as_str(), e.timestamp_ms),
            ("app", "s1", 1_700_000_000_123)
        );
        let d = parse_line(r#"{"_aws":{"CloudWatchMetrics":[]},"x":1}"#, 5).unwrap();
        assert_eq!(
            (d.group.as_str(), d.stream.as_str(), d.timestamp_ms),
            ("emf/logs/default", "", 5)
        );
        assert!(parse_line("not json", 5).is_none());
        assert!(parse_line("[1,2]", 5).is_none());
    }

    #[test]
    fn tcp_and_udp_lines_arrive() {
        let l = EmfListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        // UDP shares the port number only by chance with :0; bind UDP's own.
        let udp_addr = l.udp.local_addr().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let t = std::thread::spawn(move || l.run(tx, s2, None));
        let mut c = TcpStream::connect(addr).unwrap();
        std::io::Write::write_all(&mut c, b"{\"a\":1}\n{\"a\":2}\n").unwrap();
        drop(c);
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        u.send_to(b"{\"a\":3}\n{\"a\":4}", udp_addr).unwrap();
        let mut got: Vec<String> = (0..4)
            .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap().message)
            .collect();
        got.sort();
        assert_eq!(
            got,
            [r#"{"a":1}"#, r#"{"a":2}"#, r#"{"a":3}"#, r#"{"a":4}"#]
        );
        stop.store(true, Ordering::SeqCst);
        t.join().unwrap();
    }
}
