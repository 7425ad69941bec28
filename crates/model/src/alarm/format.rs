//! How CloudWatch spells numbers and dates in alarm texts: thresholds and
//! values like Java's `Double.toString` (`50.0`, `55.2`), reason dates
//! `dd/MM/yy HH:mm:ss`, JSON dates `2026-11-25T15:00:10.123+0000`, and the
//! long email date `Tuesday 25 November, 2026 15:00:10 UTC`.

use crate::time::Timestamp;

/// `50` → `50.0`, `55.2` → `55.2`, `1e-7` → `1.0E-7` (Java's shortest form).
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e7).contains(&a) {
        // Java switches to computerized scientific notation outside [1e-3, 1e7).
        let s = format!("{v:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.to_string()
        } else {
            format!("{mantissa}.0")
        };
        return format!("{mantissa}E{exp}");
    }
    let s = format!("{v}");
    if s.contains('.') { s } else { format!("{s}.0") }
}

fn zoned(t: Timestamp) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(t.millis()).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// `25/11/26 14:00:00` (UTC, day first).
pub fn reason_date(t: Timestamp) -> String {
    zoned(t).strftime("%d/%m/%y %H:%M:%S").to_string()
}

/// `2026-11-25T15:00:10.123+0000`.
pub fn json_date(t: Timestamp) -> String {
    zoned(t).strftime("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// `Tuesday 25 November, 2026 15:00:10 UTC`.
pub fn long_date(t: Timestamp) -> String {
    zoned(t).strftime("%A %-d %B, %Y %H:%M:%S UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_like_java() {
        for (v, s) in [
            (50.0, "50.0"),
            (55.2, "55.2"),
            (-3.0, "-3.0"),
            (0.0, "0.0"),
            (0.25, "0.25"),
            (1e7, "1.0E7"),
            (1.5e-4, "1.5E-4"),
        ] {
            assert_eq!(number(v), s, "{v}");
        }
    }

    #[test]
    fn dates() {
        // 2026-11-25T14:00:00.123Z
        let t = Timestamp(1_795_615_200_123);
        assert_eq!(reason_date(t), "25/11/26 14:00:00");
        assert_eq!(json_date(t), "2026-11-25T14:00:00.123+0000");
        assert_eq!(long_date(t), "Wednesday 25 November, 2026 14:00:00 UTC");
        assert_eq!(
            long_date(Timestamp(1_796_174_410_000)),
            "Wednesday 2 December, 2026 01:20:10 UTC"
        );
    }
}
