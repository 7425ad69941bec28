//! `timestamp_format`: the stock agent's strftime subset, compiled once into a
//! regex that finds the time in a line and a list of the fields each capture
//! group holds. The stock agent turns the format into a Go layout plus a
//! regex (`translator/.../ruleTimestampFormat.go`); the directives and their
//! widths follow it, with two deliberate widenings: `%B` matches any month
//! name (the stock regex wants exactly seven letters) and `%z` also accepts
//! `+hh:mm` and `Z`.
//!
//! A line without a match, or whose match is not a real time (Feb 30), keeps
//! "now" as its time — the stock agent's behaviour, so a bad line is never
//! lost for its timestamp.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{Offset, TimeZone};

/// One directive's meaning (a capture group in the regex).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Year4,
    Year2,
    Month,
    MonthName,
    Day,
    DayOfYear,
    Hour24,
    Hour12,
    AmPm,
    Minute,
    Second,
    Fraction,
    ZoneName,
    ZoneOffset,
    /// Matched but not used (`%a`, `%A`).
    Weekday,
}

/// A compiled `timestamp_format`.
#[derive(Debug, Clone)]
pub struct TimestampFormat {
    source: String,
    regex: regex_lite::Regex,
    fields: Vec<Field>,
}

/// Where the time was found in a line and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoundTime {
    /// Unix milliseconds.
    pub unix_ms: i64,
    /// Byte range of the match in the line (for `trim_timestamp`).
    pub start: usize,
    pub end: usize,
}

impl TimestampFormat {
    /// Compiles a format; the error names the offending directive.
    pub fn compile(format: &str) -> Result<TimestampFormat, String> {
        let mut pattern = String::from("(?:");
        let mut fields = Vec::new();
        let mut literal = String::new();
        let mut chars = format.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '%' {
                literal.push(c);
                continue;
            }
            let mut directive = String::from("%");
            if chars.peek() == Some(&'-') {
                directive.push('-');
                chars.next();
            }
            let Some(d) = chars.next() else {
                return Err(format!("{format:?} ends with a lone '%'"));
            };
            directive.push(d);
            if directive == "%%" {
                literal.push('%');
                continue;
            }
            pattern.push_str(&regex_lite::escape(&literal));
            let at_start = pattern == "(?:" && literal.is_empty();
            literal.clear();
            let (field, group) = match directive.as_str() {
                "%Y" => (Field::Year4, r"(\d{4})"),
                "%y" => (Field::Year2, r"(\d{2})"),
                "%m" => (Field::Month, r"(\d{2})"),
                "%-m" => (Field::Month, r"(\d{1,2})"),
                "%b" => (Field::MonthName, r"([A-Za-z]{3})"),
                "%B" => (Field::MonthName, r"([A-Za-z]{3,9})"),
                "%d" => (Field::Day, r"(\d{2})"),
                "%-d" => (Field::Day, r"(\d{1,2})"),
                "%j" => (Field::DayOfYear, r"(\d{3})"),
                "%H" => (Field::Hour24, r"(\d{2})"),
                "%-H" => (Field::Hour24, r"(\d{1,2})"),
                "%I" => (Field::Hour12, r"(\d{2})"),
                "%-I" => (Field::Hour12, r"(\d{1,2})"),
                "%p" => (Field::AmPm, r"([AaPp][Mm])"),
                "%M" => (Field::Minute, r"(\d{2})"),
                "%-M" => (Field::Minute, r"(\d{1,2})"),
                "%S" => (Field::Second, r"(\d{2})"),
                "%-S" => (Field::Second, r"(\d{1,2})"),
                "%f" => (Field::Fraction, r"(\d{1,9})"),
                "%Z" => (Field::ZoneName, r"([A-Za-z]{1,5})"),
                "%z" => (Field::ZoneOffset, r"([+-]\d{2}:?\d{2}|Z)"),
                "%a" => (Field::Weekday, r"([A-Za-z]{3})"),
                "%A" => (Field::Weekday, r"([A-Za-z]{6,9})"),
                other => {
                    return Err(format!(
                        "unsupported directive {other} in {format:?} (supported: %Y %y %m %-m %b %B \
                         %d %-d %j %H %-H %I %-I %p %M %-M %S %-S %f %Z %z %a %A %%)"
                    ));
                }
            };
            // `%-d` pads with a space ("Jan  2"); the stock regex allows one
            // before the number except at the very start.
            if directive.starts_with("%-")
                && matches!(field, Field::Day | Field::Month)
                && !at_start
            {
                pattern.push_str(r"\s?");
            }
            pattern.push_str(group);
            fields.push(field);
        }
        pattern.push_str(&regex_lite::escape(&literal));
        pattern.push(')');
        if fields.is_empty() {
            return Err(format!("{format:?} has no time directive"));
        }
        let regex = regex_lite::Regex::new(&pattern)
            .map_err(|e| format!("{format:?} does not compile: {e}"))?;
        Ok(TimestampFormat {
            source: format.to_owned(),
            regex,
            fields,
        })
    }

    /// The format as configured.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether `line` contains something shaped like the time (used by
    /// `multi_line_start_pattern: "{timestamp_format}"`).
    pub fn is_match(&self, line: &str) -> bool {
        self.regex.is_match(line)
    }

    /// The first time in `line`, read in `zone` unless the line names its
    /// own offset. A missing year is this year — or last year when that
    /// would put the line more than a day in the future (December's lines
    /// read in January). A missing date is today.
    pub fn find(&self, line: &str, zone: &TimeZone, now_ms: i64) -> Option<FoundTime> {
        let caps = self.regex.captures(line)?;
        let whole = caps.get(0)?;
        let mut year: Option<i16> = None;
        let mut month: Option<i8> = None;
        let mut day: Option<i8> = None;
        let mut day_of_year: Option<i16> = None;
        let (mut hour, mut minute, mut second, mut nanos) = (0i8, 0i8, 0i8, 0i32);
        let mut pm: Option<bool> = None;
        let mut twelve_hour = false;
        let mut offset: Option<Offset> = None;
        for (i, field) in self.fields.iter().enumerate() {
            let text = caps.get(i + 1)?.as_str();
            let num = || text.trim().parse::<i32>().ok();
            match field {
                Field::Year4 => year = Some(i16::try_from(num()?).ok()?),
                // Go's rule for two-digit years: 69..99 → 1900s.
                Field::Year2 => {
                    let y = num()?;
                    year = Some(i16::try_from(if y >= 69 { 1900 + y } else { 2000 + y }).ok()?);
                }
                Field::Month => month = Some(i8::try_from(num()?).ok()?),
                Field::MonthName => month = Some(month_number(text)?),
                Field::Day => day = Some(i8::try_from(num()?).ok()?),
                Field::DayOfYear => day_of_year = Some(i16::try_from(num()?).ok()?),
                Field::Hour24 => hour = i8::try_from(num()?).ok()?,
                Field::Hour12 => {
                    hour = i8::try_from(num()?).ok()?;
                    twelve_hour = true;
                }
                Field::AmPm => pm = Some(text.eq_ignore_ascii_case("pm")),
                Field::Minute => minute = i8::try_from(num()?).ok()?,
                Field::Second => second = i8::try_from(num()?).ok()?,
                Field::Fraction => nanos = fraction_nanos(text)?,
                Field::ZoneName => offset = zone_name_offset(text).or(offset),
                Field::ZoneOffset => offset = Some(parse_offset(text)?),
                Field::Weekday => {}
            }
        }
        if twelve_hour || pm.is_some() {
            if !(1..=12).contains(&hour) {
                return None;
            }
            hour %= 12;
            if pm == Some(true) {
                hour += 12;
            }
        }
        let time = Time::new(hour, minute, second, nanos).ok()?;
        let now = jiff::Timestamp::from_millisecond(now_ms).ok()?;
        let resolve = |date: Date| -> Option<i64> {
            let dt = DateTime::from_parts(date, time);
            let ts = match offset {
                Some(o) => o.to_timestamp(dt).ok()?,
                None => zone.to_timestamp(dt).ok()?,
            };
            Some(ts.as_millisecond())
        };
        let today = zone.to_datetime(now).date();
        let date_in = |y: i16| -> Option<Date> {
            match (month, day, day_of_year) {
                (Some(m), Some(d), _) => Date::new(y, m, d).ok(),
                (None, None, Some(n)) => {
                    Date::new(y, 1, 1).ok()?.with().day_of_year(n).build().ok()
                }
                (Some(m), None, _) => Date::new(y, m, 1).ok(),
                (None, Some(d), _) => Date::new(y, today.month(), d).ok(),
                (None, None, None) => Date::new(y, today.month(), today.day()).ok(),
            }
        };
        let unix_ms = match year {
            Some(y) => resolve(date_in(y)?)?,
            None => {
                let this_year = resolve(date_in(today.year())?)?;
                if this_year > now_ms + 86_400_000 {
                    resolve(date_in(today.year() - 1)?)?
                } else {
                    this_year
                }
            }
        };
        Some(FoundTime {
            unix_ms,
            start: whole.start(),
            end: whole.end(),
        })
    }
}

fn month_number(name: &str) -> Option<i8> {
    const NAMES: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let lower = name.to_ascii_lowercase();
    let index = NAMES.iter().position(|full| {
        if lower.len() == 3 {
            full.starts_with(lower.as_str())
        } else {
            *full == lower
        }
    })?;
    i8::try_from(index + 1).ok()
}

/// `%f`: up to nine digits of a second (`5` is 500 ms, `123456` is 123.456 ms).
fn fraction_nanos(text: &str) -> Option<i32> {
    let digits: String = text.chars().take(9).collect();
    let value: i32 = digits.parse().ok()?;
    let scale = 10i32.checked_pow(u32::try_from(9 - digits.len()).ok()?)?;
    value.checked_mul(scale)
}

/// `%z`: `+hhmm`, `+hh:mm` or `Z`.
fn parse_offset(text: &str) -> Option<Offset> {
    if text == "Z" {
        return Some(Offset::UTC);
    }
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = text[1..].chars().filter(char::is_ascii_digit).collect();
    if digits.len() != 4 {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = digits[2..].parse().ok()?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    Offset::from_seconds(sign * (hours * 3600 + minutes * 60)).ok()
}

/// `%Z`: only the names that are unambiguous everywhere; any other name
/// leaves the configured `timezone` in charge (abbreviations such as CST
/// mean different offsets on different continents).
fn zone_name_offset(text: &str) -> Option<Offset> {
    match text.to_ascii_uppercase().as_str() {
        "UTC" | "GMT" | "Z" | "UT" => Some(Offset::UTC),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-03-15T12:00:00Z.
    const NOW: i64 = 1_773_576_000_000;

    fn utc(format: &str, line: &str) -> Option<i64> {
        TimestampFormat::compile(format)
            .unwrap()
            .find(line, &TimeZone::UTC, NOW)
            .map(|f| f.unix_ms)
    }

    #[test]
    fn full_dates_in_utc() {
        // 2024-02-29T13:45:07Z = 1709214307 s (a leap day).
        assert_eq!(
            utc("%Y-%m-%d %H:%M:%S", "x 2024-02-29 13:45:07 boot"),
            Some(1_709_214_307_000)
        );
        // %f: ".25" is 250 ms; %z moves the instant.
        assert_eq!(
            utc("%Y-%m-%dT%H:%M:%S.%f%z", "2024-02-29T13:45:07.25+0100 x"),
            Some(1_709_214_307_000 - 3_600_000 + 250)
        );
        assert_eq!(
            utc(
                "%d/%b/%Y:%H:%M:%S %z",
                r#"1.2.3.4 - - [29/Feb/2024:13:45:07 -0000] "GET /""#
            ),
            Some(1_709_214_307_000)
        );
        // 12-hour clock: 01:45:07 PM is 13:45:07; 12 AM is midnight.
        assert_eq!(
            utc("%m/%d/%y %I:%M:%S %p", "02/29/24 01:45:07 PM"),
            Some(1_709_214_307_000)
        );
        assert_eq!(
            utc("%Y-%m-%d %I:%M %p", "2024-02-29 12:00 AM"),
            Some(1_709_164_800_000)
        );
        // Day of year 060 of 2024 is Feb 29.
        assert_eq!(
            utc("%Y %j %H:%M:%S", "2024 060 13:45:07"),
            Some(1_709_214_307_000)
        );
        assert_eq!(
            utc("%B %-d, %Y %H:%M:%S", "February 29, 2024 13:45:07"),
            Some(1_709_214_307_000)
        );
    }

    #[test]
    fn syslog_lines_without_a_year() {
        // "Mar  5" (space-padded day) → this year, 2026-03-05T08:01:02Z.
        assert_eq!(
            utc("%b %-d %H:%M:%S", "Mar  5 08:01:02 host sshd[1]: hi"),
            Some(1_772_697_662_000)
        );
        // December seen in March is last December, not nine months ahead.
        assert_eq!(
            utc("%b %d %H:%M:%S", "Dec 31 23:59:59 host x"),
            Some(1_767_225_599_000)
        );
    }

    #[test]
    fn local_zone_applies_without_an_offset() {
        let paris = TimeZone::get("Europe/Paris").unwrap();
        let f = TimestampFormat::compile("%Y-%m-%d %H:%M:%S").unwrap();
        // 13:45:07 in Paris in winter (UTC+1) is 12:45:07Z.
        assert_eq!(
            f.find("2024-02-29 13:45:07", &paris, NOW)
                .map(|t| t.unix_ms),
            Some(1_709_210_707_000)
        );
        // An explicit UTC name wins over the zone.
        let g = TimestampFormat::compile("%Y-%m-%d %H:%M:%S %Z").unwrap();
        assert_eq!(
            g.find("2024-02-29 13:45:07 UTC", &paris, NOW)
                .map(|t| t.unix_ms),
            Some(1_709_214_307_000)
        );
    }

    #[test]
    fn non_times_and_bad_formats() {
        assert_eq!(utc("%Y-%m-%d %H:%M:%S", "no time here"), None);
        assert_eq!(utc("%Y-%m-%d %H:%M:%S", "2024-02-30 10:00:00"), None);
        assert_eq!(utc("%Y-%m-%d %H:%M:%S", "2024-02-10 25:00:00"), None);
        assert_eq!(utc("%b %d %H:%M:%S", "Foo 10 10:00:00"), None);
        assert!(
            TimestampFormat::compile("%Y %Q")
                .unwrap_err()
                .contains("%Q")
        );
        assert!(TimestampFormat::compile("%Y %").is_err());
        assert!(TimestampFormat::compile("just text").is_err());
        // Regex metacharacters in the format are literals.
        assert_eq!(
            utc("[%Y-%m-%d %H:%M:%S]", "[2024-02-29 13:45:07] x"),
            Some(1_709_214_307_000)
        );
        assert_eq!(utc("[%Y-%m-%d %H:%M:%S]", "2024-02-29 13:45:07 x"), None);
    }

    #[test]
    fn match_range_is_reported_for_trimming() {
        let f = TimestampFormat::compile("%H:%M:%S").unwrap();
        let found = f.find("at 10:11:12 done", &TimeZone::UTC, NOW).unwrap();
        assert_eq!((found.start, found.end), (3, 11));
    }
}
