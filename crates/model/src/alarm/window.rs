//! `EvaluationWindow`: where the evaluated range of a metric alarm falls.
//!
//! - `SlidingWindow` (the default, also for alarms stored before the setting
//!   existed): the range ends at the evaluation time and advances with every
//!   evaluation — each minute for periods of 60 s and more (a 1-hour alarm
//!   judges 13:07–14:07, then 13:08–14:08), each period for 10/20/30 s.
//! - `WallClockWindow{Timezone?}`: the range ends at the last period boundary
//!   of a clock in `Timezone` (top of the hour, midnight, Monday 00:00 — the
//!   ISO week), so only complete calendar periods are judged. AWS allows it
//!   for periods of 1 min, 5 min, 1 h, 1 day and 1 week only.
//!
//! `Timezone` is an IANA name, a fixed offset `±HH:MM` or `UTC±HH:MM` (a
//! multiple of 5 minutes); UTC when absent. Names are looked up by the server
//! (the time-zone database is outside this pure crate); everything here takes
//! a resolved [`jiff::tz::TimeZone`].

use crate::error::ApiResult;
use crate::param::{Param, check_len, invalid, mutually_exclusive};
use crate::time::Timestamp;
use jiff::tz::{Offset, TimeZone};
use serde::{Deserialize, Serialize};

/// Periods AWS accepts with a wall-clock window.
pub const WALL_CLOCK_PERIODS: [i64; 5] = [60, 300, 3_600, 86_400, 604_800];
/// `Timezone`: 1..=50 characters.
pub const MAX_TIMEZONE_LEN: usize = 50;
/// Fixed offsets beyond ±14:00 exist nowhere on Earth.
const MAX_OFFSET_SECS: i32 = 14 * 3600;

const DAY: i64 = 86_400;
const WEEK: i64 = 604_800;

/// The wire shape: a union, exactly one member set.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EvaluationWindowInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sliding_window: Option<SlidingWindowInput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wall_clock_window: Option<WallClockWindowInput>,
}

/// `SlidingWindow` has no members.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct SlidingWindowInput {}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct WallClockWindowInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// The stored setting. `Timezone` is kept as the client spelled it (it is
/// echoed by DescribeAlarms) and parsed again with [`parse_timezone`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EvaluationWindow {
    Sliding,
    WallClock { timezone: Option<String> },
}

impl EvaluationWindow {
    /// The Describe output shape.
    pub fn to_output(&self) -> EvaluationWindowInput {
        match self {
            EvaluationWindow::Sliding => EvaluationWindowInput {
                sliding_window: Some(SlidingWindowInput {}),
                wall_clock_window: None,
            },
            EvaluationWindow::WallClock { timezone } => EvaluationWindowInput {
                sliding_window: None,
                wall_clock_window: Some(WallClockWindowInput {
                    timezone: timezone.clone(),
                }),
            },
        }
    }

    /// The placement, named zones found with `lookup` (the server's
    /// time-zone database); an unknown name is refused.
    pub fn placement(&self, lookup: &dyn Fn(&str) -> Option<TimeZone>) -> ApiResult<Placement> {
        let EvaluationWindow::WallClock { timezone } = self else {
            return Ok(Placement::Sliding);
        };
        let zone = match timezone {
            None => Zone::Utc,
            Some(t) => parse_timezone(t, timezone_param())?,
        };
        let tz = match &zone {
            Zone::Named(name) => lookup(name).ok_or_else(|| unknown_zone(name))?,
            fixed => fixed
                .fixed()
                .ok_or_else(|| unknown_zone(timezone.as_deref().unwrap_or("")))?,
        };
        Ok(Placement::WallClock(tz))
    }
}

/// A parsed `Timezone`.
#[derive(Debug, Clone, PartialEq)]
pub enum Zone {
    Utc,
    /// Seconds east of UTC.
    Fixed(i32),
    /// An IANA name, for the server to look up.
    Named(String),
}

impl Zone {
    /// The time zone, when no database is needed.
    pub fn fixed(&self) -> Option<TimeZone> {
        match self {
            Zone::Utc => Some(TimeZone::UTC),
            Zone::Fixed(s) => Offset::from_seconds(*s).ok().map(TimeZone::fixed),
            Zone::Named(_) => None,
        }
    }
}

fn bad_zone(value: &str, p: Param) -> crate::error::ApiError {
    invalid(format!(
        "The value {} for parameter {p} is not a valid time zone. Specify an IANA time zone name (for example, America/New_York), a fixed UTC offset (for example, +05:30) or an offset-prefixed identifier (for example, UTC+05:30).",
        crate::param::echo(value)
    ))
}

/// Parses `Timezone`: `UTC`, `±HH:MM`, `UTC±HH:MM`, or something shaped
/// like an IANA name (`Area/Location`, letters, digits, `_+-/`).
pub fn parse_timezone(value: &str, p: Param) -> ApiResult<Zone> {
    check_len(value, 1, MAX_TIMEZONE_LEN, p)?;
    if value == "UTC" {
        return Ok(Zone::Utc);
    }
    let offset_text = value.strip_prefix("UTC").unwrap_or(value);
    if let Some(rest) = offset_text
        .strip_prefix('+')
        .map(|r| (1, r))
        .or_else(|| offset_text.strip_prefix('-').map(|r| (-1, r)))
    {
        let (sign, hhmm) = rest;
        let parsed = hhmm
            .split_once(':')
            .filter(|(h, m)| h.len() == 2 && m.len() == 2)
            .and_then(|(h, m)| Some((h.parse::<i32>().ok()?, m.parse::<i32>().ok()?)))
            .filter(|&(h, m)| h >= 0 && (0..60).contains(&m));
        let Some((h, m)) = parsed else {
            return Err(bad_zone(value, p));
        };
        let secs = sign * (h * 3600 + m * 60);
        if secs.abs() > MAX_OFFSET_SECS {
            return Err(invalid(format!(
                "The offset {} for parameter {p} is out of range: offsets run from -14:00 to +14:00.",
                crate::param::echo(value)
            )));
        }
        if m % 5 != 0 {
            return Err(invalid(format!(
                "The offset {} for parameter {p} must be a multiple of 5 minutes.",
                crate::param::echo(value)
            )));
        }
        return Ok(if secs == 0 {
            Zone::Utc
        } else {
            Zone::Fixed(secs)
        });
    }
    let shaped = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '/'))
        && value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic());
    if !shaped {
        return Err(bad_zone(value, p));
    }
    Ok(Zone::Named(value.to_string()))
}

/// The refusal for a name the time-zone database does not know.
pub fn unknown_zone(value: &str) -> crate::error::ApiError {
    bad_zone(value, timezone_param())
}

fn timezone_param() -> Param {
    Param::root("EvaluationWindow")
        .field("WallClockWindow")
        .field("Timezone")
}

/// Validates the union against the alarm's period. `None` when absent.
pub fn validate(
    input: Option<EvaluationWindowInput>,
    period_secs: i64,
) -> ApiResult<Option<EvaluationWindow>> {
    let Some(input) = input else {
        return Ok(None);
    };
    let root = Param::root("EvaluationWindow");
    match (input.sliding_window, input.wall_clock_window) {
        (Some(_), Some(_)) => Err(mutually_exclusive(
            root.field("SlidingWindow"),
            root.field("WallClockWindow"),
        )),
        (None, None) => Err(invalid(format!(
            "The parameter {root} must set exactly one of SlidingWindow and WallClockWindow."
        ))),
        (Some(_), None) => Ok(Some(EvaluationWindow::Sliding)),
        (None, Some(w)) => {
            if !WALL_CLOCK_PERIODS.contains(&period_secs) {
                return Err(invalid(format!(
                    "The parameter Period must be 60, 300, 3600, 86400 or 604800 seconds for an alarm with a WallClockWindow; {period_secs} is not supported."
                )));
            }
            let timezone = w.timezone.filter(|t| !t.is_empty());
            if let Some(t) = &timezone {
                parse_timezone(t, timezone_param())?;
            }
            Ok(Some(EvaluationWindow::WallClock { timezone }))
        }
    }
}

/// How the evaluated range is placed, with the time zone resolved.
#[derive(Debug, Clone)]
pub enum Placement {
    Sliding,
    WallClock(TimeZone),
}

/// Seconds between two evaluations of an alarm: each period up to a minute,
/// each minute for longer periods (as AWS).
pub fn cadence_secs(period_secs: i64) -> i64 {
    period_secs.clamp(1, 60)
}

/// How long after an evaluation point the evaluation runs, so datapoints
/// stamped just before it have arrived.
pub fn delay_ms(period_secs: i64) -> i64 {
    if period_secs < 60 { 2_000 } else { 10_000 }
}

/// The boundaries of the `count` periods evaluated at `now`, oldest first:
/// `count + 1` instants, period `i` being `[b[i], b[i+1])`. Wall-clock days
/// and weeks in a zone with daylight saving may be 23 or 25 hours long.
pub fn bounds(
    placement: &Placement,
    period_secs: i64,
    count: u32,
    now: Timestamp,
) -> Vec<Timestamp> {
    let p = period_secs.max(1);
    let at = now.millis() - delay_ms(p);
    let count = count as usize;
    match placement {
        Placement::Sliding => {
            let c = cadence_secs(p) * 1000;
            let end = at.div_euclid(c) * c;
            (0..=count as i64)
                .rev()
                .map(|k| Timestamp(end - k * p * 1000))
                .collect()
        }
        Placement::WallClock(tz) => {
            let mut out = Vec::with_capacity(count + 1);
            let mut b = floor(at, p, tz);
            out.push(Timestamp(b));
            for _ in 0..count {
                b = previous(b, p, tz);
                out.push(Timestamp(b));
            }
            out.reverse();
            out
        }
    }
}

fn jiff_ts(ms: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// The start of the calendar period of length `p` containing `ms`.
fn floor(ms: i64, p: i64, tz: &TimeZone) -> i64 {
    let t = jiff_ts(ms);
    if p < DAY {
        // Shift into local time, align, shift back with the same offset.
        let off = i64::from(tz.to_offset(t).seconds()) * 1000;
        let pm = p * 1000;
        return (ms + off).div_euclid(pm) * pm - off;
    }
    let date = tz.to_datetime(t).date();
    let date = if p >= WEEK {
        let back = i64::from(date.weekday().to_monday_zero_offset());
        date.checked_sub(jiff::Span::new().days(back))
            .unwrap_or(date)
    } else {
        date
    };
    start_of(date, tz).unwrap_or(ms.div_euclid(p * 1000) * p * 1000)
}

/// The boundary one period before boundary `b`.
fn previous(b: i64, p: i64, tz: &TimeZone) -> i64 {
    if p < DAY {
        return b - p * 1000;
    }
    let days = if p >= WEEK { 7 } else { 1 };
    let date = tz.to_datetime(jiff_ts(b)).date();
    date.checked_sub(jiff::Span::new().days(days))
        .ok()
        .and_then(|d| start_of(d, tz))
        .unwrap_or(b - p * 1000)
}

fn start_of(date: jiff::civil::Date, tz: &TimeZone) -> Option<i64> {
    date.to_zoned_datetime(tz.clone())
        .ok()
        .map(|z| z.timestamp().as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    // 2026-11-25T20:05:00Z, a Wednesday.
    const T: i64 = 1_795_637_100_000;
    const MIN: i64 = 60_000;
    const HOUR: i64 = 3_600_000;

    fn ts(s: &str) -> Timestamp {
        Timestamp(s.parse::<jiff::Timestamp>().unwrap().as_millisecond())
    }

    fn show(b: &[Timestamp]) -> Vec<String> {
        b.iter().map(|t| jiff_ts(t.millis()).to_string()).collect()
    }

    #[test]
    fn sliding_ends_at_the_evaluation_minute() {
        // Evaluated 20:05:10 (10 s after the minute): 1-hour periods end at 20:05.
        let b = bounds(&Placement::Sliding, 3600, 3, Timestamp(T + 10_000));
        assert_eq!(
            show(&b),
            [
                "2026-11-25T17:05:00Z",
                "2026-11-25T18:05:00Z",
                "2026-11-25T19:05:00Z",
                "2026-11-25T20:05:00Z"
            ]
        );
        // Before the delay has passed, the previous minute.
        let b = bounds(&Placement::Sliding, 3600, 1, Timestamp(T + 9_999));
        assert_eq!(b.last(), Some(&Timestamp(T - MIN)));
        // A minute later the window has moved a minute.
        let b = bounds(&Placement::Sliding, 3600, 1, Timestamp(T + MIN + 10_000));
        assert_eq!(b, [Timestamp(T + MIN - HOUR), Timestamp(T + MIN)]);
        // 10-second periods: each period, 2 s after its boundary.
        let b = bounds(&Placement::Sliding, 10, 2, Timestamp(T + 12_000));
        assert_eq!(
            b,
            [Timestamp(T - 10_000), Timestamp(T), Timestamp(T + 10_000)]
        );
    }

    /// (timezone, period, now, expected newest period start, expected end).
    #[test]
    fn wall_clock_alignment_table() {
        let named = |n: &str| TimeZone::get(n).ok();
        let rows: [(Option<TimeZone>, i64, &str, &str, &str); 10] = [
            // UTC hour: the incomplete hour 20:xx is not judged.
            (
                Some(TimeZone::UTC),
                3600,
                "2026-11-25T20:05:10Z",
                "2026-11-25T19:00:00Z",
                "2026-11-25T20:00:00Z",
            ),
            // Within the delay after the boundary: the hour before.
            (
                Some(TimeZone::UTC),
                3600,
                "2026-11-25T20:00:05Z",
                "2026-11-25T18:00:00Z",
                "2026-11-25T19:00:00Z",
            ),
            (
                Some(TimeZone::UTC),
                300,
                "2026-11-25T20:07:10Z",
                "2026-11-25T20:00:00Z",
                "2026-11-25T20:05:00Z",
            ),
            (
                Some(TimeZone::UTC),
                60,
                "2026-11-25T20:07:10Z",
                "2026-11-25T20:06:00Z",
                "2026-11-25T20:07:00Z",
            ),
            // +05:30: hours start at :30 UTC, days at 18:30 UTC.
            (
                Zone::Fixed(19_800).fixed(),
                3600,
                "2026-11-25T20:05:10Z",
                "2026-11-25T18:30:00Z",
                "2026-11-25T19:30:00Z",
            ),
            (
                Zone::Fixed(19_800).fixed(),
                86_400,
                "2026-11-25T20:05:10Z",
                "2026-11-24T18:30:00Z",
                "2026-11-25T18:30:00Z",
            ),
            // UTC days and ISO weeks (Monday 00:00, not the epoch's Thursday).
            (
                Some(TimeZone::UTC),
                86_400,
                "2026-11-25T20:05:10Z",
                "2026-11-24T00:00:00Z",
                "2026-11-25T00:00:00Z",
            ),
            (
                Some(TimeZone::UTC),
                604_800,
                "2026-11-25T20:05:10Z",
                "2026-11-16T00:00:00Z",
                "2026-11-23T00:00:00Z",
            ),
            // New York (EST, -05:00 in November): midnight is 05:00 UTC.
            (
                named("America/New_York"),
                86_400,
                "2026-11-25T20:05:10Z",
                "2026-11-24T05:00:00Z",
                "2026-11-25T05:00:00Z",
            ),
            // The day daylight saving ends (2026-11-01) lasts 25 hours.
            (
                named("America/New_York"),
                86_400,
                "2026-11-02T12:00:00Z",
                "2026-11-01T04:00:00Z",
                "2026-11-02T05:00:00Z",
            ),
        ];
        for (tz, period, now, start, end) in rows {
            let Some(tz) = tz else {
                // No time-zone database on this host: the named rows cannot run.
                continue;
            };
            let b = bounds(&Placement::WallClock(tz), period, 1, ts(now));
            assert_eq!(show(&b), [start, end], "{period} at {now}");
        }
    }

    #[test]
    fn timezone_spellings() {
        let p = Param::root("Timezone");
        assert_eq!(parse_timezone("UTC", p).unwrap(), Zone::Utc);
        assert_eq!(parse_timezone("+05:30", p).unwrap(), Zone::Fixed(19_800));
        assert_eq!(parse_timezone("UTC+05:30", p).unwrap(), Zone::Fixed(19_800));
        assert_eq!(
            parse_timezone("UTC-03:45", p).unwrap(),
            Zone::Fixed(-13_500)
        );
        assert_eq!(parse_timezone("+00:00", p).unwrap(), Zone::Utc);
        assert_eq!(
            parse_timezone("America/New_York", p).unwrap(),
            Zone::Named("America/New_York".into())
        );
        for bad in [
            "+05:31",
            "+5:30",
            "+15:00",
            "05:30",
            "UTC+",
            "New York",
            "",
            "/etc/passwd",
        ] {
            let e = parse_timezone(bad, p).unwrap_err();
            assert!(
                matches!(
                    e.code,
                    ErrorCode::InvalidParameterValue | ErrorCode::ValidationError
                ),
                "{bad}: {e:?}"
            );
        }
        assert!(
            parse_timezone("+05:31", p)
                .unwrap_err()
                .message
                .contains("multiple of 5 minutes")
        );
    }

    #[test]
    fn union_validation() {
        let sliding = Some(SlidingWindowInput {});
        let wall = |tz: Option<&str>| {
            Some(WallClockWindowInput {
                timezone: tz.map(String::from),
            })
        };
        let v = |s, w, period| {
            validate(
                Some(EvaluationWindowInput {
                    sliding_window: s,
                    wall_clock_window: w,
                }),
                period,
            )
        };
        assert_eq!(validate(None, 3600).unwrap(), None);
        assert_eq!(
            v(sliding.clone(), None, 10).unwrap(),
            Some(EvaluationWindow::Sliding)
        );
        assert_eq!(
            v(None, wall(Some("+05:30")), 3600).unwrap(),
            Some(EvaluationWindow::WallClock {
                timezone: Some("+05:30".into())
            })
        );
        let both = v(sliding, wall(None), 3600).unwrap_err();
        assert_eq!(both.code, ErrorCode::InvalidParameterCombination);
        assert!(both.message.contains("EvaluationWindow.SlidingWindow"));
        assert_eq!(
            v(None, None, 3600).unwrap_err().code,
            ErrorCode::InvalidParameterValue
        );
        let period = v(None, wall(None), 120).unwrap_err();
        assert!(period.message.contains("Period"), "{}", period.message);
        assert!(v(None, wall(None), 30).is_err());
        let tz = v(None, wall(Some("+05:31")), 3600).unwrap_err();
        assert!(
            tz.message
                .contains("EvaluationWindow.WallClockWindow.Timezone"),
            "{}",
            tz.message
        );
    }
}
