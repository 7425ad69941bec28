//! A statsd listener for application metrics: a UDP socket on a thread of
//! its own, parsing the statsd line protocol with DogStatsD tags, and
//! aggregating until the runtime `drain`s it once per
//! `metrics_aggregation_interval` (the stock agent's telegraf statsd input
//! with `delete_*` on, feeding CloudWatch distributions).
//!
//! Line protocol (telegraf `plugins/inputs/statsd`):
//! `bucket[,tag=v…]:value|type[|@rate][|#tag:v,tag2]`, several
//! `value|type…` per bucket separated by `:`, several lines per packet
//! separated by `\n`. Types: `c` counter (summed, value / rate), `g` gauge
//! (last value; a leading `+`/`-` adds to the current value), `ms`/`h`/`d`
//! timer/histogram/distribution (a Values/Counts distribution, each value
//! counted 1 / rate times), `s` set (number of distinct members).
//! The bucket's `.` become `metric_separator` (`_` by default), telegraf's
//! default graphite template `measurement*`. A tag without value gets
//! `"true"`. Garbage is counted and skipped; nothing here panics on input.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// CloudWatch takes at most 150 Values/Counts pairs per datum.
pub const MAX_VALUES_PER_DATUM: usize = 150;
/// Distinct series kept per interval; more are dropped (and counted) so a
/// flood of unique names cannot grow memory without bound.
pub const MAX_SERIES: usize = 10_000;
/// Distinct values (timers) or members (sets) kept per series and interval.
pub const MAX_DISTINCT_PER_SERIES: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StatsdKind {
    Counter,
    Gauge,
    /// `ms`, `h` and `d`.
    Timer,
    Set,
}

/// One aggregated datum: `values[i]` was seen `counts[i]` times. Counters,
/// gauges and sets carry one value with count 1; timers up to
/// `MAX_VALUES_PER_DATUM` values (a series with more is split into several
/// `StatsdMetric`s with the same name and tags).
#[derive(Debug, Clone, PartialEq)]
pub struct StatsdMetric {
    pub name: String,
    /// Sorted by key.
    pub tags: Vec<(String, String)>,
    pub kind: StatsdKind,
    pub values: Vec<f64>,
    pub counts: Vec<f64>,
}

/// One parsed `value|type` of a line.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsdSample {
    pub name: String,
    pub tags: Vec<(String, String)>,
    pub kind: StatsdKind,
    pub value: SampleValue,
    /// From `@rate`; 1 when absent. Always in (0, 1].
    pub rate: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SampleValue {
    /// Counter, timer, or absolute gauge value.
    Number(f64),
    /// `+n`/`-n` gauge change.
    GaugeDelta(f64),
    /// Set member.
    Member(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatsdParseError {
    #[error("no ':' between bucket and value")]
    NoValue,
    #[error("empty bucket name")]
    EmptyName,
    #[error("no '|type' after the value")]
    NoType,
    #[error("unknown metric type {0:?}")]
    UnknownType(String),
    #[error("bad value {0:?}")]
    BadValue(String),
}

/// Parses one line into its samples (several when the bucket has several
/// `:value|type` parts).
pub fn parse_line(line: &str, separator: &str) -> Result<Vec<StatsdSample>, StatsdParseError> {
    let line = line.trim_end_matches('\r');
    let (body, dog_tags) = split_dogstatsd_tags(line);
    let mut parts = body.split(':');
    let bucket = parts.next().unwrap_or_default();
    let mut bucket_parts = bucket.split(',');
    let raw_name = bucket_parts.next().unwrap_or_default().trim();
    if raw_name.is_empty() {
        return Err(StatsdParseError::EmptyName);
    }
    let mut tags: Vec<(String, String)> = Vec::new();
    for kv in bucket_parts {
        if let Some((k, v)) = kv.split_once('=')
            && !k.is_empty()
        {
            tags.push((k.to_string(), v.to_string()));
        }
    }
    if let Some(dog) = dog_tags {
        for tag in dog.split(',').filter(|t| !t.is_empty()) {
            match tag.split_once(':') {
                Some((k, v)) if !k.is_empty() => tags.push((k.to_string(), v.to_string())),
                Some(_) => {}
                None => tags.push((tag.to_string(), "true".to_string())),
            }
        }
    }
    tags.sort();
    tags.dedup_by(|a, b| a.0 == b.0);
    let name = raw_name.replace('.', separator);

    let mut samples = Vec::new();
    let mut any = false;
    for bit in parts {
        any = true;
        let mut fields = bit.split('|');
        let value = fields.next().unwrap_or_default();
        let kind = match fields.next() {
            None => return Err(StatsdParseError::NoType),
            Some("c") => StatsdKind::Counter,
            Some("g") => StatsdKind::Gauge,
            Some("ms" | "h" | "d") => StatsdKind::Timer,
            Some("s") => StatsdKind::Set,
            Some(other) => return Err(StatsdParseError::UnknownType(other.to_string())),
        };
        let mut rate = 1.0;
        for extra in fields {
            if let Some(r) = extra.strip_prefix('@')
                && let Ok(r) = r.parse::<f64>()
                && r > 0.0
                && r <= 1.0
            {
                rate = r;
            }
        }
        let bad = || StatsdParseError::BadValue(value.to_string());
        let value = match kind {
            StatsdKind::Set => SampleValue::Member(value.to_string()),
            _ => {
                let v: f64 = value.parse().map_err(|_| bad())?;
                if !v.is_finite() {
                    return Err(bad());
                }
                let signed = value.starts_with('+') || value.starts_with('-');
                match kind {
                    StatsdKind::Gauge if signed => SampleValue::GaugeDelta(v),
                    StatsdKind::Timer if value.starts_with('+') => return Err(bad()),
                    _ => SampleValue::Number(v),
                }
            }
        };
        samples.push(StatsdSample {
            name: name.clone(),
            tags: tags.clone(),
            kind,
            value,
            rate,
        });
    }
    if !any {
        return Err(StatsdParseError::NoValue);
    }
    Ok(samples)
}

/// Splits `…|#tags…` (DogStatsD) off a line: the tag section runs to the
/// next `|` or the end.
fn split_dogstatsd_tags(line: &str) -> (String, Option<&str>) {
    match line.find("|#") {
        None => (line.to_string(), None),
        Some(at) => {
            let rest = &line[at + 2..];
            let (tags, after) = match rest.find('|') {
                Some(end) => (&rest[..end], &rest[end..]),
                None => (rest, ""),
            };
            (format!("{}{}", &line[..at], after), Some(tags))
        }
    }
}

#[derive(Debug)]
enum Agg {
    Counter(f64),
    Gauge(f64),
    /// value bits → weight.
    Timer(HashMap<u64, f64>),
    Set(HashSet<String>),
}

type SeriesKey = (String, Vec<(String, String)>, StatsdKind);

/// The per-interval state, usable without a socket.
#[derive(Debug)]
pub struct Aggregator {
    separator: String,
    series: HashMap<SeriesKey, Agg>,
    /// Lines that did not parse, or samples dropped for the caps.
    pub rejected: u64,
}

impl Aggregator {
    pub fn new(separator: &str) -> Self {
        Aggregator {
            separator: separator.to_string(),
            series: HashMap::new(),
            rejected: 0,
        }
    }

    /// Adds every line of one datagram.
    pub fn ingest_packet(&mut self, packet: &[u8]) {
        let text = String::from_utf8_lossy(packet);
        for line in text.split('\n') {
            if line.trim().is_empty() {
                continue;
            }
            match parse_line(line, &self.separator) {
                Ok(samples) => samples.into_iter().for_each(|s| self.add(s)),
                Err(_) => self.rejected += 1,
            }
        }
    }

    pub fn add(&mut self, s: StatsdSample) {
        let key = (s.name, s.tags, s.kind);
        if !self.series.contains_key(&key) && self.series.len() >= MAX_SERIES {
            self.rejected += 1;
            return;
        }
        let agg = self.series.entry(key).or_insert_with(|| match s.kind {
            StatsdKind::Counter => Agg::Counter(0.0),
            StatsdKind::Gauge => Agg::Gauge(0.0),
            StatsdKind::Timer => Agg::Timer(HashMap::new()),
            StatsdKind::Set => Agg::Set(HashSet::new()),
        });
        // A huge value or a tiny rate must not turn the aggregate into ±inf,
        // which CloudWatch refuses.
        let weight = 1.0 / s.rate;
        let fits = |x: f64| x.is_finite();
        match (agg, s.value) {
            (Agg::Counter(sum), SampleValue::Number(v)) if fits(*sum + v * weight) => {
                *sum += v * weight;
            }
            (Agg::Gauge(g), SampleValue::Number(v)) => *g = v,
            (Agg::Gauge(g), SampleValue::GaugeDelta(v)) if fits(*g + v) => *g += v,
            (Agg::Timer(values), SampleValue::Number(v)) if fits(weight) => {
                // -0.0 and 0.0 are one value.
                let bits = if v == 0.0 { 0 } else { v.to_bits() };
                let known = values.get(&bits).copied();
                if known.is_some_and(|c| !fits(c + weight)) {
                    self.rejected += 1;
                } else if values.len() < MAX_DISTINCT_PER_SERIES || known.is_some() {
                    *values.entry(bits).or_insert(0.0) += weight;
                } else {
                    self.rejected += 1;
                }
            }
            (Agg::Set(members), SampleValue::Member(m)) => {
                if members.len() < MAX_DISTINCT_PER_SERIES || members.contains(&m) {
                    members.insert(m);
                } else {
                    self.rejected += 1;
                }
            }
            _ => self.rejected += 1,
        }
    }

    /// Everything aggregated since the last drain; the state starts over.
    pub fn drain(&mut self) -> Vec<StatsdMetric> {
        let mut series: Vec<(SeriesKey, Agg)> = self.series.drain().collect();
        series.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = Vec::new();
        for ((name, tags, kind), agg) in series {
            let single = |v: f64| StatsdMetric {
                name: name.clone(),
                tags: tags.clone(),
                kind,
                values: vec![v],
                counts: vec![1.0],
            };
            match agg {
                Agg::Counter(v) | Agg::Gauge(v) => out.push(single(v)),
                Agg::Set(m) => out.push(single(m.len() as f64)),
                Agg::Timer(values) => {
                    let mut pairs: Vec<(f64, f64)> = values
                        .into_iter()
                        .map(|(bits, count)| (f64::from_bits(bits), count))
                        .collect();
                    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
                    for chunk in pairs.chunks(MAX_VALUES_PER_DATUM) {
                        out.push(StatsdMetric {
                            name: name.clone(),
                            tags: tags.clone(),
                            kind,
                            values: chunk.iter().map(|p| p.0).collect(),
                            counts: chunk.iter().map(|p| p.1).collect(),
                        });
                    }
                }
            }
        }
        out
    }
}

/// Listener settings from the plugin's config section.
#[derive(Debug, Clone)]
pub struct StatsdOptions {
    /// `:8125` (all interfaces), `host:port`, optionally `udp://`-prefixed.
    pub service_address: String,
    pub metric_separator: String,
}

impl Default for StatsdOptions {
    fn default() -> Self {
        StatsdOptions {
            service_address: ":8125".to_string(),
            metric_separator: "_".to_string(),
        }
    }
}

/// Resolves a telegraf-style `service_address` (`:8125` = every interface).
pub fn resolve_address(address: &str) -> io::Result<SocketAddr> {
    let a = address.strip_prefix("udp://").unwrap_or(address);
    let a = if a.starts_with(':') {
        format!("0.0.0.0{a}")
    } else {
        a.to_string()
    };
    a.to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("no address for {address:?}"),
        )
    })
}

struct Shared {
    agg: Mutex<Aggregator>,
    stop: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Aggregator> {
        // A poisoned lock only means a panic elsewhere mid-update; the
        // aggregate is still usable.
        self.agg.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The UDP listener; its thread stops when this is dropped.
pub struct StatsdListener {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// How often the receive loop wakes to notice `Drop`.
const POLL: Duration = Duration::from_millis(200);

impl StatsdListener {
    pub fn bind(opts: &StatsdOptions) -> io::Result<Self> {
        let socket = UdpSocket::bind(resolve_address(&opts.service_address)?)?;
        socket.set_read_timeout(Some(POLL))?;
        let addr = socket.local_addr()?;
        let shared = Arc::new(Shared {
            agg: Mutex::new(Aggregator::new(&opts.metric_separator)),
            stop: AtomicBool::new(false),
        });
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("statsd".into())
            .spawn(move || receive_loop(&socket, &worker))?;
        Ok(StatsdListener {
            addr,
            shared,
            thread: Some(thread),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Everything received since the last drain.
    pub fn drain(&self) -> Vec<StatsdMetric> {
        self.shared.lock().drain()
    }

    /// Lines rejected so far (unparsable or over the caps).
    pub fn rejected(&self) -> u64 {
        self.shared.lock().rejected
    }
}

fn receive_loop(socket: &UdpSocket, shared: &Shared) {
    let mut buf = vec![0u8; 65_536];
    while !shared.stop.load(Ordering::Relaxed) {
        match socket.recv_from(&mut buf) {
            Ok((n, _)) => shared.lock().ingest_packet(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            // ICMP errors and the like: keep listening, but don't spin.
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

impl Drop for StatsdListener {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dogstatsd_line() {
        let s = parse_line("api.latency:12.5|ms|@0.5|#env:prod,canary", "_").unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].name, "api_latency");
        assert_eq!(
            s[0].tags,
            vec![
                ("canary".to_string(), "true".to_string()),
                ("env".to_string(), "prod".to_string())
            ]
        );
        assert_eq!(s[0].kind, StatsdKind::Timer);
        assert_eq!(s[0].value, SampleValue::Number(12.5));
        assert_eq!(s[0].rate, 0.5);
    }

    #[test]
    fn several_values_per_bucket_and_influx_tags() {
        let s = parse_line("hits,host=a:1|c:2|c|@0.1", ".").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].rate, 0.1);
        assert_eq!(s[0].tags, vec![("host".to_string(), "a".to_string())]);
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse_line("novalue", "_"), Err(StatsdParseError::NoValue));
        assert_eq!(parse_line(":1|c", "_"), Err(StatsdParseError::EmptyName));
        assert_eq!(parse_line("a:1", "_"), Err(StatsdParseError::NoType));
        assert!(matches!(
            parse_line("a:1|q", "_"),
            Err(StatsdParseError::UnknownType(_))
        ));
        assert!(matches!(
            parse_line("a:x|c", "_"),
            Err(StatsdParseError::BadValue(_))
        ));
        assert!(matches!(
            parse_line("a:NaN|g", "_"),
            Err(StatsdParseError::BadValue(_))
        ));
    }

    #[test]
    fn resolves_telegraf_addresses() {
        assert_eq!(
            resolve_address(":8125").unwrap().to_string(),
            "0.0.0.0:8125"
        );
        assert_eq!(
            resolve_address("udp://127.0.0.1:9").unwrap().to_string(),
            "127.0.0.1:9"
        );
    }
}
