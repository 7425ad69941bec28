//! The resolutions data is kept at, their time windows, and how long each
//! is retained.
//!
//! Every block belongs to one resolution and one *window*: an epoch-aligned
//! stretch of time whose length depends on the resolution and divides the
//! next coarser window (1 h | 1 day | 1 day | 7 days), so a finer window
//! always lies inside one coarser window. Expiry and rollup work on whole
//! windows, which is what lets them drop whole files. Windows are short
//! against their retention (at most 1/15 of it) so whole-window expiry
//! keeps little more than the retention asks for.

use std::time::Duration;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// How finely a block's data is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resolution {
    /// Samples as written (1-second data included).
    Raw,
    /// One aggregate row per series, unit and minute.
    OneMinute,
    /// One aggregate row per series, unit and 5 minutes.
    FiveMinutes,
    /// One aggregate row per series, unit and hour.
    OneHour,
}

impl Resolution {
    /// Finest first.
    pub const ALL: [Resolution; 4] = [
        Resolution::Raw,
        Resolution::OneMinute,
        Resolution::FiveMinutes,
        Resolution::OneHour,
    ];

    /// Length of one aggregate slot (`None` for raw samples).
    pub fn slot_ms(self) -> Option<i64> {
        match self {
            Resolution::Raw => None,
            Resolution::OneMinute => Some(MINUTE_MS),
            Resolution::FiveMinutes => Some(5 * MINUTE_MS),
            Resolution::OneHour => Some(HOUR_MS),
        }
    }

    /// Length of one block window.
    pub fn window_ms(self) -> i64 {
        match self {
            Resolution::Raw => HOUR_MS,
            Resolution::OneMinute => DAY_MS,
            Resolution::FiveMinutes => DAY_MS,
            Resolution::OneHour => 7 * DAY_MS,
        }
    }

    /// Start of the window holding `ts`.
    pub fn window_start(self, ts: i64) -> i64 {
        let w = self.window_ms();
        ts.div_euclid(w).saturating_mul(w)
    }

    /// The resolution this one is rolled up into when it expires.
    pub fn coarser(self) -> Option<Resolution> {
        match self {
            Resolution::Raw => Some(Resolution::OneMinute),
            Resolution::OneMinute => Some(Resolution::FiveMinutes),
            Resolution::FiveMinutes => Some(Resolution::OneHour),
            Resolution::OneHour => None,
        }
    }

    pub(crate) fn code(self) -> u8 {
        match self {
            Resolution::Raw => 0,
            Resolution::OneMinute => 1,
            Resolution::FiveMinutes => 2,
            Resolution::OneHour => 3,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<Resolution> {
        Resolution::ALL.get(usize::from(code)).copied()
    }
}

/// How long data stays at each resolution; `None` keeps it forever (and
/// then nothing is rolled up past that resolution).
///
/// When a window of a resolution has been older than its retention, it is
/// rolled up into the next coarser resolution and its files are deleted;
/// the coarsest resolution's windows are just deleted. Retention is
/// measured from the window's end, so data is kept at least as long as
/// configured and at most one window longer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Samples as written: CloudWatch keeps 1-second data 3 hours.
    pub raw: Option<Duration>,
    /// 1-minute aggregates: 15 days.
    pub one_minute: Option<Duration>,
    /// 5-minute aggregates: 63 days.
    pub five_minutes: Option<Duration>,
    /// 1-hour aggregates: 455 days.
    pub one_hour: Option<Duration>,
}

impl Default for Retention {
    /// CloudWatch's retention.
    fn default() -> Self {
        let days = |d: u64| Some(Duration::from_secs(d * 86_400));
        Retention {
            raw: Some(Duration::from_secs(3 * 3600)),
            one_minute: days(15),
            five_minutes: days(63),
            one_hour: days(455),
        }
    }
}

impl Retention {
    /// Keeps every sample as written, forever (no rollups, no expiry).
    pub fn forever() -> Self {
        Retention {
            raw: None,
            one_minute: None,
            five_minutes: None,
            one_hour: None,
        }
    }

    /// Retention of `r` in milliseconds (`None`: forever).
    pub fn of_ms(&self, r: Resolution) -> Option<i64> {
        let d = match r {
            Resolution::Raw => self.raw,
            Resolution::OneMinute => self.one_minute,
            Resolution::FiveMinutes => self.five_minutes,
            Resolution::OneHour => self.one_hour,
        };
        d.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }

    /// True when the window of `r` starting at `window_start` has passed
    /// its retention at `now_ms`.
    pub fn expired(&self, r: Resolution, window_start: i64, now_ms: i64) -> bool {
        self.of_ms(r).is_some_and(|keep| {
            window_start
                .saturating_add(r.window_ms())
                .saturating_add(keep)
                <= now_ms
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_nest() {
        for pair in Resolution::ALL.windows(2) {
            assert_eq!(pair[1].window_ms() % pair[0].window_ms(), 0);
            assert_eq!(pair[0].coarser(), Some(pair[1]));
        }
        for r in Resolution::ALL {
            assert_eq!(Resolution::from_code(r.code()), Some(r));
            if let Some(slot) = r.slot_ms() {
                assert_eq!(r.window_ms() % slot, 0);
            }
        }
        assert_eq!(Resolution::Raw.window_start(-1), -3_600_000);
        assert_eq!(Resolution::OneMinute.window_start(86_400_000), 86_400_000);
    }

    #[test]
    fn expiry_counts_from_the_window_end() {
        let r = Retention::default();
        let hour = 3_600_000;
        assert!(!r.expired(Resolution::Raw, 0, 4 * hour - 1));
        assert!(r.expired(Resolution::Raw, 0, 4 * hour));
        assert!(!Retention::forever().expired(Resolution::OneHour, 0, i64::MAX));
    }
}
