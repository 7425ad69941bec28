//! Period rules and start-time rounding shared by GetMetricStatistics and
//! GetMetricData (aws-api.md §2.4).
//!
//! How old the data is decides which resolutions exist: 1-second data for 3
//! hours, 60-second data for 15 days, 5-minute rollups for 63 days, then 1-hour
//! rollups. A period must be answerable from what exists at the start time.

use crate::error::ApiResult;
use crate::limits::{
    FIVE_MINUTE_RETENTION_MS, HIGH_RES_PERIODS_SECS, HIGH_RES_RETENTION_MS, HOUR_MS,
    MAX_PERIOD_SECS, MINUTE_MS, MINUTE_RETENTION_MS, SECOND_MS,
};
use crate::param::{Param, constraint, invalid, missing};
use crate::time::Timestamp;

/// Which retention tier a start time falls in, by age relative to `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataAge {
    /// Within 3 hours: any valid period.
    Recent,
    /// 3 hours to 15 days: multiples of 60 s.
    Minute,
    /// 15 to 63 days: multiples of 300 s.
    FiveMinute,
    /// Older than 63 days: multiples of 3600 s.
    Hour,
}

impl DataAge {
    pub fn of(start: Timestamp, now: Timestamp) -> DataAge {
        let age = now.millis().saturating_sub(start.millis());
        if age <= HIGH_RES_RETENTION_MS {
            DataAge::Recent
        } else if age <= MINUTE_RETENTION_MS {
            DataAge::Minute
        } else if age <= FIVE_MINUTE_RETENTION_MS {
            DataAge::FiveMinute
        } else {
            DataAge::Hour
        }
    }

    /// The period every valid period must be a multiple of at this age, seconds.
    fn granularity_secs(self) -> i64 {
        match self {
            DataAge::Recent | DataAge::Minute => 60,
            DataAge::FiveMinute => 300,
            DataAge::Hour => 3600,
        }
    }

    /// Start times are rounded down to this boundary (for periods ≥ 60 s), ms.
    fn rounding_ms(self) -> i64 {
        match self {
            DataAge::Recent | DataAge::Minute => MINUTE_MS,
            DataAge::FiveMinute => 5 * MINUTE_MS,
            DataAge::Hour => HOUR_MS,
        }
    }
}

/// Validates the `Period` found at `p` for a query starting at `start`, in seconds.
pub fn validate_period(
    period: Option<i64>,
    start: Timestamp,
    now: Timestamp,
    p: Param,
) -> ApiResult<i64> {
    let period = period.ok_or_else(|| missing(p))?;
    if period < 1 {
        return Err(constraint(
            &period.to_string(),
            p,
            "Member must have value greater than or equal to 1",
        ));
    }
    if period > MAX_PERIOD_SECS {
        return Err(invalid(format!(
            "The value {period} for parameter {p} is invalid: the longest supported period is {MAX_PERIOD_SECS} seconds."
        )));
    }
    let high_res = HIGH_RES_PERIODS_SECS.contains(&period);
    if period % 60 != 0 && !high_res {
        return Err(invalid(format!(
            "The value {period} for parameter {p} is invalid: the period must be 1, 5, 10, 20, 30 or a multiple of 60 seconds."
        )));
    }
    let age = DataAge::of(start, now);
    if high_res {
        if age == DataAge::Recent {
            return Ok(period);
        }
        return Err(invalid(format!(
            "The value {period} for parameter {p} is invalid: periods under 60 seconds are only available for start times within the last 3 hours."
        )));
    }
    let g = age.granularity_secs();
    if period % g != 0 {
        let when = match age {
            DataAge::FiveMinute => "between 15 and 63 days ago",
            _ => "more than 63 days ago",
        };
        return Err(invalid(format!(
            "The value {period} for parameter {p} is invalid: for a start time {when} the period must be a multiple of {g} seconds."
        )));
    }
    Ok(period)
}

/// Rounds a start time down as CloudWatch does: sub-minute periods to a
/// multiple of the period; otherwise to the minute, 5 minutes or hour by age.
pub fn round_start(start: Timestamp, period_secs: i64, now: Timestamp) -> Timestamp {
    let step = if period_secs < 60 {
        period_secs.max(1) * SECOND_MS
    } else {
        DataAge::of(start, now).rounding_ms()
    };
    // saturating: a start near i64::MIN must not overflow (fuzzed input).
    Timestamp(
        start
            .millis()
            .saturating_sub(start.millis().rem_euclid(step)),
    )
}

/// The query window `[start, end)` as AWS reads it: both times cut to whole
/// seconds first (CloudWatch's time resolution), so a StartTime equal to or
/// within the same second as EndTime is refused like one after it — with the
/// same message, as AWS answers both (recorded: test_invalid_amount_of_datapoints).
pub fn validate_time_range(start: Timestamp, end: Timestamp) -> ApiResult<(Timestamp, Timestamp)> {
    // saturating: a time near i64::MIN must not overflow (fuzzed input).
    let whole_second =
        |t: Timestamp| Timestamp(t.millis().saturating_sub(t.millis().rem_euclid(SECOND_MS)));
    let (start, end) = (whole_second(start), whole_second(end));
    if start >= end {
        return Err(invalid(
            "The parameter StartTime must be less than the parameter EndTime.".into(),
        ));
    }
    Ok((start, end))
}

/// How many periods `[start, end)` spans (rounded up). 0 if empty.
pub fn period_count(start: Timestamp, end: Timestamp, period_secs: i64) -> i64 {
    let span = end.millis().saturating_sub(start.millis());
    if span <= 0 {
        return 0;
    }
    let step = period_secs.max(1) * SECOND_MS;
    span / step + i64::from(span % step != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;
    use crate::limits::DAY_MS;

    const NOW: i64 = 1_800_000_000_000; // a whole hour (500 000 h)
    fn ago(ms: i64) -> Timestamp {
        Timestamp(NOW - ms)
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let (lo, hi) = (Timestamp(i64::MIN), Timestamp(i64::MAX));
        assert_eq!(validate_time_range(lo, hi).unwrap().0, lo);
        assert!(validate_time_range(hi, lo).is_err());
        assert_eq!(round_start(lo, 1, Timestamp(NOW)), lo);
        assert_eq!(round_start(lo, 3600, Timestamp(NOW)), lo);
    }

    #[test]
    fn period_rules() {
        let p = Param::root("Period");
        let now = Timestamp(NOW);
        let ok: &[(i64, i64)] = &[
            (1, HOUR_MS),
            (5, HOUR_MS),
            (30, 3 * HOUR_MS),
            (60, HOUR_MS),
            (60, 10 * DAY_MS),
            (120, 15 * DAY_MS),
            (300, 20 * DAY_MS),
            (600, 63 * DAY_MS),
            (3600, 100 * DAY_MS),
            (86400, 400 * DAY_MS),
        ];
        for &(period, age) in ok {
            assert_eq!(
                validate_period(Some(period), ago(age), now, p),
                Ok(period),
                "{period} at {age}"
            );
        }
        let bad: &[(Option<i64>, i64, ErrorCode, &str)] = &[
            (
                None,
                0,
                ErrorCode::MissingParameter,
                "The parameter Period is required.",
            ),
            (
                Some(0),
                0,
                ErrorCode::ValidationError,
                "greater than or equal to 1",
            ),
            (Some(-60), 0, ErrorCode::ValidationError, "'period'"),
            (
                Some(7),
                0,
                ErrorCode::InvalidParameterValue,
                "multiple of 60",
            ),
            (
                Some(90),
                0,
                ErrorCode::InvalidParameterValue,
                "multiple of 60",
            ),
            (
                Some(10),
                3 * HOUR_MS + 1,
                ErrorCode::InvalidParameterValue,
                "within the last 3 hours",
            ),
            (
                Some(60),
                15 * DAY_MS + 1,
                ErrorCode::InvalidParameterValue,
                "multiple of 300",
            ),
            (
                Some(600),
                63 * DAY_MS + 1,
                ErrorCode::InvalidParameterValue,
                "multiple of 3600",
            ),
            (
                Some(MAX_PERIOD_SECS + 60),
                0,
                ErrorCode::InvalidParameterValue,
                "longest supported",
            ),
        ];
        for &(period, age, code, fragment) in bad {
            let e = validate_period(period, ago(age), now, p).unwrap_err();
            assert_eq!(e.code, code, "{period:?} at {age}: {}", e.message);
            assert!(e.message.contains(fragment), "{}", e.message);
        }
    }

    #[test]
    fn rounding() {
        let now = Timestamp(NOW);
        // 12:32:34.5 relative to a whole hour.
        let base = NOW - 2 * HOUR_MS; // recent
        let t = Timestamp(base + 32 * MINUTE_MS + 34_500);
        assert_eq!(
            round_start(t, 5, now),
            Timestamp(base + 32 * MINUTE_MS + 30_000)
        );
        assert_eq!(
            round_start(t, 10, now),
            Timestamp(base + 32 * MINUTE_MS + 30_000)
        );
        assert_eq!(
            round_start(t, 20, now),
            Timestamp(base + 32 * MINUTE_MS + 20_000)
        );
        assert_eq!(
            round_start(t, 1, now),
            Timestamp(base + 32 * MINUTE_MS + 34_000)
        );
        assert_eq!(round_start(t, 60, now), Timestamp(base + 32 * MINUTE_MS));
        assert_eq!(
            round_start(t, 3600, now),
            Timestamp(base + 32 * MINUTE_MS),
            "minute even for long periods"
        );

        let old = Timestamp(NOW - 20 * DAY_MS + 7 * MINUTE_MS + 1);
        assert_eq!(
            round_start(old, 300, now),
            Timestamp(NOW - 20 * DAY_MS + 5 * MINUTE_MS)
        );
        let older = Timestamp(NOW - 70 * DAY_MS + 59 * MINUTE_MS);
        assert_eq!(round_start(older, 3600, now), Timestamp(NOW - 70 * DAY_MS));
        // Negative epoch times (very old: hour rounding) round down, not toward zero.
        assert_eq!(round_start(Timestamp(-1), 60, now).millis(), -HOUR_MS);
    }

    #[test]
    fn counts() {
        assert_eq!(period_count(Timestamp(0), Timestamp(DAY_MS), 1), 86_400);
        assert_eq!(period_count(Timestamp(0), Timestamp(61_000), 60), 2);
        assert_eq!(period_count(Timestamp(0), Timestamp(60_000), 60), 1);
        assert_eq!(period_count(Timestamp(5), Timestamp(5), 60), 0);
        assert!(period_count(Timestamp(i64::MIN), Timestamp(i64::MAX), 1) > 0);
    }
}
