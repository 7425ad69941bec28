//! The `yyyymmddTHHMMSSZ` timestamp SigV4 puts in `X-Amz-Date` and the string to sign.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::fmt::rfc2822::DateTimeParser;
use jiff::tz::Offset;

/// Formats `time` as `yyyymmddTHHMMSSZ` (UTC, whole seconds).
pub fn format_amz_date(time: Timestamp) -> String {
    time.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// Parses a strict `yyyymmddTHHMMSSZ` value (exactly 16 ASCII characters).
pub fn parse_amz_date(value: &str) -> Option<Timestamp> {
    let bytes = value.as_bytes();
    if bytes.len() != 16 || bytes[8] != b'T' || bytes[15] != b'Z' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i32> {
        let digits = bytes.get(range)?;
        digits.iter().try_fold(0i32, |acc, &b| {
            b.is_ascii_digit().then(|| acc * 10 + i32::from(b - b'0'))
        })
    };
    let year = i16::try_from(number(0..4)?).ok()?;
    let month = i8::try_from(number(4..6)?).ok()?;
    let day = i8::try_from(number(6..8)?).ok()?;
    let hour = i8::try_from(number(9..11)?).ok()?;
    let minute = i8::try_from(number(11..13)?).ok()?;
    let second = i8::try_from(number(13..15)?).ok()?;
    let civil = DateTime::new(year, month, day, hour, minute, second, 0).ok()?;
    Offset::UTC.to_timestamp(civil).ok()
}

/// Parses an HTTP `Date` header (RFC 1123 / RFC 2822, e.g. `Wed, 25 Nov 2026 12:00:00 GMT`),
/// which SigV4 accepts when `X-Amz-Date` is absent.
pub fn parse_http_date(value: &str) -> Option<Timestamp> {
    static PARSER: DateTimeParser = DateTimeParser::new();
    PARSER.parse_timestamp(value.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let ts: Timestamp = "2026-11-25T12:30:05Z"
            .parse()
            .expect("valid timestamp literal");
        let s = format_amz_date(ts);
        assert_eq!(s, "20261125T123005Z");
        assert_eq!(parse_amz_date(&s), Some(ts));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "20261125T123005",
            "20261125 123005Z",
            "2026112aT123005Z",
            "20261325T123005Z",
            "20261125T253005Z",
            "20260230T000000Z",
            "+0261125T123005Z",
            "20261125T12300５Z",
            "20261125t123005z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn parses_http_date() {
        let ts = parse_http_date("Wed, 25 Nov 2026 12:00:00 GMT").expect("RFC 1123 date parses");
        assert_eq!(format_amz_date(ts), "20261125T120000Z");
        assert_eq!(parse_http_date("yesterday"), None);
    }
}
