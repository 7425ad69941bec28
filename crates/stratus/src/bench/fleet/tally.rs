//! What the senders observed: requests and their outcomes by error code,
//! accepted datapoints, every request's latency (a `Vec` of 4-byte
//! microseconds: 100k requests are 400 kB; kept apart for each host's first
//! send, which creates its series, and the later ones), and how late sends
//! started against their schedule. Reports read a snapshot; a window is the
//! difference of two snapshots, latencies of a window the tail appended
//! since the previous one.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use stratus_agent::ship::transport::Outcome;

/// A send that starts this much after its due time counts as late.
pub const LATE: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub sent: u64,
    pub ok: u64,
    pub failed: u64,
    pub datapoints: u64,
    /// Failed requests by error code, with the first message seen.
    pub errors: BTreeMap<String, (u64, String)>,
    pub late: u64,
    pub max_late: Duration,
}

#[derive(Default)]
pub struct Tally {
    inner: Mutex<(Counts, Vec<u32>)>,
    /// Latencies of each host's first send (new series) and of the others.
    by_round: Mutex<[Vec<u32>; 2]>,
}

/// The error code of a failed attempt: the AWS code, else the HTTP status,
/// else "connection" (no HTTP answer at all).
pub fn error_code(outcome: &Outcome) -> Option<(String, String)> {
    match outcome {
        Outcome::Accepted => None,
        Outcome::Rejected {
            status,
            code,
            message,
        }
        | Outcome::AuthFailed {
            status,
            code,
            message,
            ..
        } => {
            let code = if code.is_empty() {
                format!("HTTP {status}")
            } else {
                code.clone()
            };
            Some((code, message.clone()))
        }
        Outcome::Retry(message) => {
            // The transport words these "HTTP 503 Code: message".
            let code = match message.strip_prefix("HTTP ") {
                Some(rest) => {
                    let head = rest.split(':').next().unwrap_or(rest);
                    head.split_whitespace()
                        .last()
                        .filter(|c| c.chars().any(char::is_alphabetic))
                        .map_or_else(|| format!("HTTP {}", head.trim()), str::to_owned)
                }
                None => "connection".to_owned(),
            };
            Some((code, message.clone()))
        }
    }
}

impl Tally {
    pub fn record(
        &self,
        outcome: &Outcome,
        datums: u32,
        latency: Duration,
        late_by: Duration,
        first_send: bool,
    ) {
        let micros = u32::try_from(latency.as_micros()).unwrap_or(u32::MAX);
        self.by_round.lock().unwrap_or_else(|p| p.into_inner())[usize::from(!first_send)]
            .push(micros);
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (c, latencies) = &mut *guard;
        c.sent += 1;
        match error_code(outcome) {
            None => {
                c.ok += 1;
                c.datapoints += u64::from(datums);
            }
            Some((code, message)) => {
                c.failed += 1;
                c.errors.entry(code).or_insert((0, message)).0 += 1;
            }
        }
        if late_by > LATE {
            c.late += 1;
        }
        c.max_late = c.max_late.max(late_by);
        latencies.push(micros);
    }

    /// Latencies of every host's first send, and of all later sends.
    pub fn by_round(&self) -> (Vec<u32>, Vec<u32>) {
        let guard = self.by_round.lock().unwrap_or_else(|p| p.into_inner());
        (guard[0].clone(), guard[1].clone())
    }

    /// The counts so far and the latencies recorded from index `from` on.
    pub fn snapshot(&self, from: usize) -> (Counts, Vec<u32>, usize) {
        let guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (c, latencies) = &*guard;
        let tail = latencies.get(from..).unwrap_or(&[]).to_vec();
        (c.clone(), tail, latencies.len())
    }
}

/// Latency percentiles of a set of requests.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Latency {
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Latency {
    pub fn of(mut micros: Vec<u32>) -> Latency {
        micros.sort_unstable();
        let durations: Vec<Duration> = micros
            .iter()
            .map(|&us| Duration::from_micros(u64::from(us)))
            .collect();
        Latency {
            p50: super::super::percentile(&durations, 50.0),
            p90: super::super::percentile(&durations, 90.0),
            p99: super::super::percentile(&durations, 99.0),
            max: durations.last().copied().unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        // 1..=1000 µs: p50 is the 500th value, p99 the 990th.
        let l = Latency::of((1..=1000).rev().collect());
        assert_eq!(l.p50, Duration::from_micros(500));
        assert_eq!(l.p90, Duration::from_micros(900));
        assert_eq!(l.p99, Duration::from_micros(990));
        assert_eq!(l.max, Duration::from_micros(1000));
        // One slow request in a hundred is p99, not hidden by it.
        let mut v = vec![1_000u32; 99];
        v.push(80_000);
        let l = Latency::of(v);
        assert_eq!(l.p99, Duration::from_micros(1000));
        assert_eq!(l.max, Duration::from_millis(80));
        let mut v = vec![1_000u32; 98];
        v.extend([80_000, 90_000]);
        assert_eq!(Latency::of(v).p99, Duration::from_millis(80));
        assert_eq!(Latency::of(Vec::new()), Latency::default());
    }

    #[test]
    fn outcomes_are_counted_by_code() {
        let t = Tally::default();
        let ms = Duration::from_millis;
        t.record(&Outcome::Accepted, 50, ms(2), ms(0), true);
        t.record(&Outcome::Accepted, 50, ms(3), ms(250), false);
        t.record(
            &Outcome::Rejected {
                status: 400,
                code: "InvalidParameterValue".into(),
                message: "bad".into(),
            },
            50,
            ms(1),
            ms(0),
            false,
        );
        t.record(
            &Outcome::Retry("HTTP 503 ServiceUnavailable: busy".into()),
            50,
            ms(1),
            ms(0),
            false,
        );
        t.record(
            &Outcome::Retry("HTTP 500: oops".into()),
            50,
            ms(1),
            ms(0),
            false,
        );
        t.record(
            &Outcome::Retry("io: Connection refused".into()),
            50,
            ms(1),
            ms(0),
            false,
        );
        let (c, lat, n) = t.snapshot(0);
        assert_eq!((c.sent, c.ok, c.failed, c.datapoints), (6, 2, 4, 100));
        assert_eq!((c.late, c.max_late), (1, ms(250)));
        let codes: Vec<(&str, u64)> = c.errors.iter().map(|(k, v)| (k.as_str(), v.0)).collect();
        assert_eq!(
            codes,
            [
                ("HTTP 500", 1),
                ("InvalidParameterValue", 1),
                ("ServiceUnavailable", 1),
                ("connection", 1)
            ]
        );
        assert_eq!(lat.len(), 6);
        assert_eq!(n, 6);
        let (_, tail, _) = t.snapshot(4);
        assert_eq!(tail, [1000, 1000]);
        let (first, later) = t.by_round();
        assert_eq!(first, [2000]);
        assert_eq!(later, [3000, 1000, 1000, 1000, 1000]);
    }
}
