//! When each simulated host sends: host `h` of `N` has the fixed phase
//! `h × interval / N`, and sends once per interval from then on, so the fleet's
//! requests are spread evenly over every interval (as a real fleet's agents,
//! started at different times, are). Send number `n` (in time order) is host
//! `n mod N`, round `n div N`, due at `n × interval / N` after the start.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub hosts: u64,
    pub interval: Duration,
    /// Sends due strictly before this offset are made.
    pub duration: Duration,
}

/// One scheduled send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub host: u64,
    pub round: u64,
    /// Due this long after the start.
    pub due: Duration,
}

impl Schedule {
    /// Sends in the run: every `n` with `n × interval / hosts < duration`.
    pub fn sends(&self) -> u64 {
        let hosts = self.hosts.max(1) as u128;
        let interval = self.interval.as_nanos().max(1);
        (self.duration.as_nanos() * hosts).div_ceil(interval) as u64
    }

    pub fn slot(&self, n: u64) -> Slot {
        let hosts = self.hosts.max(1);
        let nanos = self.interval.as_nanos() * n as u128 / hosts as u128;
        Slot {
            host: n % hosts,
            round: n / hosts,
            due: Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX)),
        }
    }
}

/// Parses a duration in seconds: `600`, `600s`, `10m`, `1h`, `2.5s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, scale) = if let Some(n) = t.strip_suffix('h') {
        (n, 3600.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else {
        (t, 1.0)
    };
    let secs: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?}: expected seconds, e.g. 60, 90s, 10m or 1h"))?;
    if !secs.is_finite() || secs <= 0.0 {
        return Err(format!("{text:?}: must be more than zero"));
    }
    Ok(Duration::from_secs_f64(secs * scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn hosts_are_spread_evenly_and_keep_their_phase() {
        let s = Schedule {
            hosts: 4,
            interval: secs(60),
            duration: secs(600),
        };
        assert_eq!(s.sends(), 40);
        let dues: Vec<u64> = (0..8).map(|n| s.slot(n).due.as_secs()).collect();
        assert_eq!(dues, [0, 15, 30, 45, 60, 75, 90, 105]);
        // Host 2 sends every 60 s at phase 30 s.
        for round in 0..10 {
            let slot = s.slot(round * 4 + 2);
            assert_eq!(
                slot,
                Slot {
                    host: 2,
                    round,
                    due: secs(30 + 60 * round)
                }
            );
        }
        assert!(s.slot(s.sends() - 1).due < s.duration);
        assert!(s.slot(s.sends()).due >= s.duration);
    }

    #[test]
    fn a_run_shorter_than_the_interval_sends_a_part_of_the_fleet() {
        let s = Schedule {
            hosts: 10_000,
            interval: secs(60),
            duration: secs(6),
        };
        assert_eq!(s.sends(), 1000);
        let s = Schedule {
            hosts: 20,
            interval: secs(2),
            duration: secs(6),
        };
        assert_eq!(s.sends(), 60);
        assert_eq!(s.slot(59).host, 19);
        assert_eq!(s.slot(59).round, 2);
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("600"), Ok(secs(600)));
        assert_eq!(parse_duration("90s"), Ok(secs(90)));
        assert_eq!(parse_duration("10m"), Ok(secs(600)));
        assert_eq!(parse_duration("1h"), Ok(secs(3600)));
        assert_eq!(parse_duration("2.5"), Ok(Duration::from_millis(2500)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("ten").is_err());
    }
}
