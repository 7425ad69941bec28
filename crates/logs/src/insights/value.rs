//! Values a query computes with, how AWS prints them, and the order `sort`
//! puts them in.

use std::borrow::Cow;
use std::cmp::Ordering;

/// A value of a field or expression. A missing field is `None` around it:
/// Insights leaves a field out of a row rather than printing an empty value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value<'a> {
    /// Text, including numbers discovered in JSON (kept as written, so they
    /// print back unchanged).
    Str(Cow<'a, str>),
    Num(f64),
    /// Epoch milliseconds; prints as `2026-12-07 06:41:00.000`.
    Time(i64),
    Bool(bool),
}

pub(crate) type Owned = Value<'static>;

impl Value<'_> {
    pub(crate) fn into_owned(self) -> Owned {
        match self {
            Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
            Value::Num(n) => Value::Num(n),
            Value::Time(t) => Value::Time(t),
            Value::Bool(b) => Value::Bool(b),
        }
    }

    /// The number this value stands for, if any: strings holding a number
    /// count, as Insights' fields are untyped text.
    pub(crate) fn as_num(&self) -> Option<f64> {
        match self {
            Value::Num(n) => Some(*n),
            Value::Time(t) => Some(*t as f64),
            Value::Str(s) => parse_number(s),
            Value::Bool(_) => None,
        }
    }

    /// The epoch-ms time this value stands for: a time, or a number of ms.
    pub(crate) fn as_time(&self) -> Option<i64> {
        match self {
            Value::Time(t) => Some(*t),
            other => other.as_num().and_then(f64_to_i64),
        }
    }

    pub(crate) fn render(&self) -> String {
        match self {
            Value::Str(s) => s.to_string(),
            Value::Num(n) => format_number(*n),
            Value::Time(t) => format_time(*t),
            Value::Bool(b) => b.to_string(),
        }
    }

    /// The text form used for string operations (`like`, `strlen`, ...).
    pub(crate) fn as_text(&self) -> Cow<'_, str> {
        match self {
            Value::Str(s) => Cow::Borrowed(s.as_ref()),
            other => Cow::Owned(other.render()),
        }
    }
}

pub(crate) fn f64_to_i64(n: f64) -> Option<i64> {
    // The bounds keep the cast exact-or-saturating-free: i64::MAX as f64
    // rounds up to 2^63, which is out of range.
    if (-9.2e18..=9.2e18).contains(&n) {
        Some(n as i64)
    } else {
        None
    }
}

/// A string that is a plain decimal number (what JSON and log lines write).
/// Rust's `f64::from_str` alone would also take `inf`, `NaN` and `1e5`-less
/// oddities such as `infinity`, which are words in a log, not numbers.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    let first = body.chars().next()?;
    if !(first.is_ascii_digit() || first == '.') {
        return None;
    }
    if !body
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
    {
        return None;
    }
    t.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// Numbers print as integers when they are whole (`count(*)` is `3`, not
/// `3.0`), otherwise in the shortest form that reads back exactly.
pub(crate) fn format_number(n: f64) -> String {
    if n.is_finite() && n.fract() == 0.0 && n.abs() < 1e15 {
        // `as` is exact here: |n| < 1e15 fits an i64 with no rounding.
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

const MS_PER_DAY: i64 = 86_400_000;

/// `2026-12-07 06:41:00.000`, UTC — the form Insights prints times in.
pub(crate) fn format_time(ms: i64) -> String {
    let days = ms.div_euclid(MS_PER_DAY);
    let in_day = ms.rem_euclid(MS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let h = in_day / 3_600_000;
    let min = in_day / 60_000 % 60;
    let s = in_day / 1000 % 60;
    let milli = in_day % 1000;
    format!("{y:04}-{m:02}-{d:02} {h:02}:{min:02}:{s:02}.{milli:03}")
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31), proleptic
/// Gregorian (Howard Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The inverse of [`civil_from_days`].
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A time period as `bin`, `datefloor` and `dateceil` take it (`5m`, `1h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Period {
    pub count: i64,
    pub unit: Unit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unit {
    Ms,
    S,
    M,
    H,
    D,
    W,
    Mo,
    Q,
    Y,
}

impl Unit {
    pub(crate) fn parse(s: &str) -> Option<Unit> {
        Some(match s {
            "ms" => Unit::Ms,
            "s" | "sec" => Unit::S,
            "m" | "min" => Unit::M,
            "h" | "hr" => Unit::H,
            "d" => Unit::D,
            "w" => Unit::W,
            "mo" | "mon" => Unit::Mo,
            "q" | "qtr" => Unit::Q,
            "y" | "yr" => Unit::Y,
            _ => return None,
        })
    }

    fn fixed_ms(self) -> Option<i64> {
        Some(match self {
            Unit::Ms => 1,
            Unit::S => 1000,
            Unit::M => 60_000,
            Unit::H => 3_600_000,
            Unit::D => MS_PER_DAY,
            Unit::W => 7 * MS_PER_DAY,
            Unit::Mo | Unit::Q | Unit::Y => return None,
        })
    }

    fn months(self) -> i64 {
        match self {
            Unit::Q => 3,
            Unit::Y => 12,
            _ => 1,
        }
    }
}

/// 1970-01-05 was a Monday: weeks start on Mondays (ISO 8601).
const MONDAY_EPOCH_MS: i64 = 4 * MS_PER_DAY;

impl Period {
    /// The start of the period `ms` falls in. Fixed periods are aligned to
    /// the epoch (weeks to Mondays); months, quarters and years to the
    /// calendar, counted from January 1970.
    pub(crate) fn floor(self, ms: i64) -> Option<i64> {
        let count = self.count.max(1);
        if let Some(unit_ms) = self.unit.fixed_ms() {
            let p = unit_ms.checked_mul(count)?;
            let offset = if self.unit == Unit::W {
                MONDAY_EPOCH_MS
            } else {
                0
            };
            let shifted = ms.checked_sub(offset)?;
            return shifted.div_euclid(p).checked_mul(p)?.checked_add(offset);
        }
        let days = ms.div_euclid(MS_PER_DAY);
        let (y, m, _) = civil_from_days(days);
        let step = self.unit.months().checked_mul(count)?;
        let month_index = y.checked_sub(1970)?.checked_mul(12)?.checked_add(m - 1)?;
        let start = month_index.div_euclid(step).checked_mul(step)?;
        let (sy, sm) = (1970 + start.div_euclid(12), start.rem_euclid(12) + 1);
        days_from_civil(sy, sm, 1).checked_mul(MS_PER_DAY)
    }

    /// The end of the period `ms` falls in, or `ms` itself on a boundary.
    pub(crate) fn ceil(self, ms: i64) -> Option<i64> {
        let floor = self.floor(ms)?;
        if floor == ms {
            return Some(ms);
        }
        // The next boundary: floor of a moment just past this period.
        let count = self.count.max(1);
        match self.unit.fixed_ms() {
            Some(unit_ms) => floor.checked_add(unit_ms.checked_mul(count)?),
            None => {
                let days = floor.div_euclid(MS_PER_DAY);
                let (y, m, _) = civil_from_days(days);
                let months = self.unit.months().checked_mul(count)?;
                let idx = y.checked_mul(12)?.checked_add(m - 1)?.checked_add(months)?;
                days_from_civil(idx.div_euclid(12), idx.rem_euclid(12) + 1, 1)
                    .checked_mul(MS_PER_DAY)
            }
        }
    }
}

/// The order of `sort ... asc`, as AWS documents it: every non-number before
/// every number; numbers by value; other text by "natural" order, comparing
/// runs of digits by length then value and everything else by code point.
pub(crate) fn natural_cmp(a: &Value<'_>, b: &Value<'_>) -> Ordering {
    let na = sort_number(a);
    let nb = sort_number(b);
    match (na, nb) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => natural_text_cmp(&a.as_text(), &b.as_text()),
    }
}

fn sort_number(v: &Value<'_>) -> Option<f64> {
    match v {
        Value::Num(n) => Some(*n),
        Value::Time(t) => Some(*t as f64),
        Value::Str(s) => parse_number(s),
        Value::Bool(_) => None,
    }
}

fn natural_text_cmp(a: &str, b: &str) -> Ordering {
    let mut ca = Chunks(a);
    let mut cb = Chunks(b);
    loop {
        match (ca.next(), cb.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let digits = |s: &str| s.starts_with(|c: char| c.is_ascii_digit());
                let ord = if digits(x) && digits(y) {
                    x.len().cmp(&y.len()).then_with(|| x.cmp(y))
                } else {
                    x.cmp(y)
                };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
        }
    }
}

/// Splits text into maximal runs of ASCII digits and of everything else.
struct Chunks<'s>(&'s str);

impl<'s> Iterator for Chunks<'s> {
    type Item = &'s str;
    fn next(&mut self) -> Option<&'s str> {
        let first = self.0.chars().next()?;
        let digit = first.is_ascii_digit();
        let end = self
            .0
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() != digit)
            .map_or(self.0.len(), |(i, _)| i);
        let (chunk, rest) = self.0.split_at(end);
        self.0 = rest;
        Some(chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_like_insights() {
        // 2026-12-07T06:41:00Z = 1796625660 s since the epoch.
        assert_eq!(format_time(1_796_625_660_000), "2026-12-07 06:41:00.000");
        assert_eq!(format_time(0), "1970-01-01 00:00:00.000");
        assert_eq!(format_time(-1), "1969-12-31 23:59:59.999");
    }

    #[test]
    fn calendar_round_trips() {
        for days in [-800_000, -1, 0, 59, 365, 11_016, 20_794, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(20_794), (2026, 12, 7));
    }

    #[test]
    fn periods_floor_and_ceil() {
        let t = 1_796_625_660_000; // 2026-12-07 06:41:00, a Monday
        let p = |count, unit| Period { count, unit };
        assert_eq!(
            format_time(p(5, Unit::M).floor(t).unwrap()),
            "2026-12-07 06:40:00.000"
        );
        assert_eq!(
            format_time(p(5, Unit::M).ceil(t).unwrap()),
            "2026-12-07 06:45:00.000"
        );
        assert_eq!(
            format_time(p(1, Unit::H).floor(t).unwrap()),
            "2026-12-07 06:00:00.000"
        );
        assert_eq!(
            format_time(p(1, Unit::W).floor(t).unwrap()),
            "2026-12-07 00:00:00.000"
        );
        assert_eq!(
            format_time(p(1, Unit::Mo).floor(t).unwrap()),
            "2026-12-01 00:00:00.000"
        );
        assert_eq!(
            format_time(p(1, Unit::Mo).ceil(t).unwrap()),
            "2027-01-01 00:00:00.000"
        );
        assert_eq!(
            format_time(p(1, Unit::Q).floor(t).unwrap()),
            "2026-10-01 00:00:00.000"
        );
        assert_eq!(
            format_time(p(1, Unit::Y).floor(t).unwrap()),
            "2026-01-01 00:00:00.000"
        );
        let on_boundary = 1_796_625_600_000; // 06:40:00
        assert_eq!(p(5, Unit::M).ceil(on_boundary), Some(on_boundary));
    }

    #[test]
    fn natural_order_matches_the_aws_example() {
        // The ascending order printed in AWS's `sort` documentation.
        let expected = [
            "!:",
            "#",
            "*%04",
            "0#",
            "5A",
            "111A",
            "2345_",
            "@",
            "@_",
            "A",
            "A9876fghj",
            "a12345hfh",
            "0",
            "1",
            "2",
            "10",
            "111",
        ];
        let mut shuffled: Vec<Value<'_>> = expected
            .iter()
            .rev()
            .map(|s| Value::Str(Cow::Borrowed(*s)))
            .collect();
        shuffled.sort_by(natural_cmp);
        let got: Vec<String> = shuffled.iter().map(Value::render).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn numbers_print_without_a_trailing_zero() {
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(-2.0), "-2");
        assert_eq!(format_number(2.5), "2.5");
        assert_eq!(format_number(0.1 + 0.2), "0.30000000000000004");
    }

    #[test]
    fn only_decimal_text_is_a_number() {
        assert_eq!(parse_number("200"), Some(200.0));
        assert_eq!(parse_number(" -1.5 "), Some(-1.5));
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_number("NaN"), None);
        assert_eq!(parse_number("5A"), None);
        assert_eq!(parse_number(""), None);
    }
}
