//! From raw lines to log events: decoding to UTF-8, multi-line assembly,
//! the event time (`timestamp_format`), `trim_timestamp`, `filters` and the
//! size cap. Pure: offsets and clocks come in as arguments, so the tail
//! decides what is durable and tests drive time.

use crate::config::{Encoding, FileCollect, LogFilter, LogTimezone, MultiLineStart};
use crate::logs::timestamp::TimestampFormat;
use jiff::tz::TimeZone;
use std::time::{Duration, Instant};

/// CloudWatch Logs' event size limit (message bytes + 26).
pub const MAX_EVENT_BYTES: usize = 262_144;
/// Per-event overhead CloudWatch counts towards batch and event sizes.
pub const EVENT_OVERHEAD: usize = 26;
/// Longest message sent; longer ones are cut and marked (stock agent).
pub const MAX_MESSAGE_BYTES: usize = MAX_EVENT_BYTES - EVENT_OVERHEAD;
/// What the stock agent appends to a truncated message.
pub const TRUNCATED_SUFFIX: &str = "[Truncated...]";

/// How one file's lines become events.
#[derive(Debug, Clone)]
pub struct LineRules {
    pub timestamp: Option<TimestampFormat>,
    pub zone: TimeZone,
    pub multi_line: Option<MultiLineStart>,
    pub encoding: Encoding,
    pub filters: Vec<LogFilter>,
    pub trim_timestamp: bool,
}

impl LineRules {
    pub fn from_config(c: &FileCollect) -> LineRules {
        LineRules {
            timestamp: c.timestamp_format.clone(),
            zone: match c.timezone {
                LogTimezone::Utc => TimeZone::UTC,
                LogTimezone::Local => TimeZone::system(),
            },
            multi_line: c.multi_line_start.clone(),
            encoding: c.encoding,
            filters: c.filters.clone(),
            trim_timestamp: c.trim_timestamp,
        }
    }

    fn starts_event(&self, line: &str) -> bool {
        match &self.multi_line {
            None => true,
            Some(MultiLineStart::Regex(r)) => r.is_match(line),
            Some(MultiLineStart::TimestampFormat) => {
                self.timestamp.as_ref().is_some_and(|t| t.is_match(line))
            }
        }
    }
}

/// A finished event and where it ends in its file. `message` is `None`
/// when a filter dropped it (the file's position still moves past it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    pub start_offset: u64,
    pub end_offset: u64,
    pub event: Option<(i64, String)>,
}

#[derive(Debug)]
struct Pending {
    text: String,
    start_offset: u64,
    end_offset: u64,
    last_line_at: Instant,
}

/// One file's event being assembled (multi-line: lines until the next
/// start line, or until the file has been quiet for the flush interval).
#[derive(Debug, Default)]
pub struct Assembler {
    pending: Option<Pending>,
}

impl Assembler {
    /// Where the event still being assembled starts (not yet settled).
    pub fn pending_start(&self) -> Option<u64> {
        self.pending.as_ref().map(|p| p.start_offset)
    }

    /// Feeds one complete line (without its `\n`) occupying file bytes
    /// `span`; finished events go to `out`.
    pub fn push_line(
        &mut self,
        rules: &LineRules,
        raw: &[u8],
        span: std::ops::Range<u64>,
        now: Instant,
        now_ms: i64,
        out: &mut Vec<Completed>,
    ) {
        let (start, end) = (span.start, span.end);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = decode(rules.encoding, raw);
        if rules.multi_line.is_none() {
            out.push(finish(rules, line, start, end, now_ms));
            return;
        }
        match &mut self.pending {
            Some(p) if !rules.starts_event(&line) => {
                // Bounded: beyond the event limit the rest is cut anyway.
                if p.text.len() <= MAX_MESSAGE_BYTES {
                    p.text.push('\n');
                    p.text.push_str(&line);
                }
                p.end_offset = end;
                p.last_line_at = now;
            }
            _ => {
                if let Some(p) = self.pending.take() {
                    out.push(finish(rules, p.text, p.start_offset, p.end_offset, now_ms));
                }
                self.pending = Some(Pending {
                    text: line,
                    start_offset: start,
                    end_offset: end,
                    last_line_at: now,
                });
            }
        }
    }

    /// Completes the pending event once no line has joined it for `quiet`
    /// (or at once with `quiet` zero: shutdown, rotation, truncation).
    pub fn flush_if_quiet(
        &mut self,
        rules: &LineRules,
        now: Instant,
        quiet: Duration,
        now_ms: i64,
        out: &mut Vec<Completed>,
    ) {
        if self
            .pending
            .as_ref()
            .is_some_and(|p| now.saturating_duration_since(p.last_line_at) >= quiet)
            && let Some(p) = self.pending.take()
        {
            out.push(finish(rules, p.text, p.start_offset, p.end_offset, now_ms));
        }
    }
}

/// Time, trim, filters and size cap of one assembled event.
fn finish(rules: &LineRules, mut text: String, start: u64, end: u64, now_ms: i64) -> Completed {
    let mut timestamp = now_ms;
    if let Some(format) = &rules.timestamp {
        // The time is read from the first line only (as the stock agent).
        let first_line = text.split('\n').next().unwrap_or("");
        if let Some(found) = format.find(first_line, &rules.zone, now_ms) {
            timestamp = found.unix_ms;
            if rules.trim_timestamp {
                text.replace_range(found.start..found.end, "");
            }
        }
    }
    let keep = rules
        .filters
        .iter()
        .all(|f| f.expression.is_match(&text) == f.include);
    Completed {
        start_offset: start,
        end_offset: end,
        event: keep.then(|| (timestamp, truncate(text))),
    }
}

/// Cuts a message over [`MAX_MESSAGE_BYTES`] on a character boundary and
/// appends [`TRUNCATED_SUFFIX`], so the result is exactly within the limit.
pub fn truncate(mut text: String) -> String {
    if text.len() <= MAX_MESSAGE_BYTES {
        return text;
    }
    let mut cut = MAX_MESSAGE_BYTES - TRUNCATED_SUFFIX.len();
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push_str(TRUNCATED_SUFFIX);
    text
}

/// Windows-1252's printable characters at 0x80..=0x9F (0 where undefined).
const CP1252_HIGH: [char; 32] = [
    '\u{20AC}', '\u{FFFD}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{FFFD}', '\u{017D}', '\u{FFFD}',
    '\u{FFFD}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}', '\u{FFFD}', '\u{017E}', '\u{0178}',
];

/// The line as UTF-8; bytes invalid in the encoding become U+FFFD.
pub fn decode(encoding: Encoding, raw: &[u8]) -> String {
    match encoding {
        Encoding::Utf8 => String::from_utf8_lossy(raw).into_owned(),
        Encoding::Ascii => raw
            .iter()
            .map(|&b| {
                if b.is_ascii() {
                    char::from(b)
                } else {
                    '\u{FFFD}'
                }
            })
            .collect(),
        Encoding::Latin1 => raw.iter().map(|&b| char::from(b)).collect(),
        Encoding::Windows1252 => raw
            .iter()
            .map(|&b| match b {
                0x80..=0x9F => CP1252_HIGH[usize::from(b - 0x80)],
                _ => char::from(b),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> LineRules {
        LineRules {
            timestamp: None,
            zone: TimeZone::UTC,
            multi_line: None,
            encoding: Encoding::Utf8,
            filters: Vec::new(),
            trim_timestamp: false,
        }
    }

    fn feed(r: &LineRules, a: &mut Assembler, lines: &[&str], t0: Instant) -> Vec<Completed> {
        let mut out = Vec::new();
        let mut offset = 0u64;
        for l in lines {
            let end = offset + l.len() as u64 + 1;
            a.push_line(r, l.as_bytes(), offset..end, t0, 1000, &mut out);
            offset = end;
        }
        out
    }

    #[test]
    fn single_lines_are_events_with_offsets() {
        let r = rules();
        let mut a = Assembler::default();
        let out = feed(&r, &mut a, &["one", "two\r"], Instant::now());
        assert_eq!(
            out,
            vec![
                Completed {
                    start_offset: 0,
                    end_offset: 4,
                    event: Some((1000, "one".into()))
                },
                Completed {
                    start_offset: 4,
                    end_offset: 9,
                    event: Some((1000, "two".into()))
                },
            ]
        );
        assert_eq!(a.pending_start(), None);
    }

    #[test]
    fn multi_line_events_end_at_the_next_start_or_after_quiet() {
        let mut r = rules();
        r.multi_line = Some(MultiLineStart::Regex(
            regex_lite::Regex::new(r"^\d{4}-").unwrap(),
        ));
        let mut a = Assembler::default();
        let t0 = Instant::now();
        let out = feed(
            &r,
            &mut a,
            &[
                "2024-01-01 boom",
                "  at frame 1",
                "  at frame 2",
                "2024-01-01 next",
            ],
            t0,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].event.as_ref().map(|e| e.1.as_str()),
            Some("2024-01-01 boom\n  at frame 1\n  at frame 2")
        );
        assert_eq!((out[0].start_offset, out[0].end_offset), (0, 42));
        // "2024-01-01 next" is held until quiet for the flush interval.
        assert_eq!(a.pending_start(), Some(42));
        let mut more = Vec::new();
        a.flush_if_quiet(
            &r,
            t0 + Duration::from_secs(4),
            Duration::from_secs(5),
            0,
            &mut more,
        );
        assert!(more.is_empty());
        a.flush_if_quiet(
            &r,
            t0 + Duration::from_secs(5),
            Duration::from_secs(5),
            0,
            &mut more,
        );
        assert_eq!(more.len(), 1);
        assert_eq!(more[0].end_offset, 58);
        assert_eq!(a.pending_start(), None);
    }

    #[test]
    fn timestamp_trim_and_filters() {
        let mut r = rules();
        r.timestamp = Some(TimestampFormat::compile("%Y-%m-%d %H:%M:%S").unwrap());
        r.trim_timestamp = true;
        r.filters = vec![
            LogFilter {
                include: true,
                expression: regex_lite::Regex::new("ERROR|WARN").unwrap(),
            },
            LogFilter {
                include: false,
                expression: regex_lite::Regex::new("noisy").unwrap(),
            },
        ];
        let mut a = Assembler::default();
        let out = feed(
            &r,
            &mut a,
            &[
                "2024-02-29 13:45:07 ERROR disk",
                "2024-02-29 13:45:08 INFO fine",
                "2024-02-29 13:45:09 WARN noisy thing",
                "no time WARN here",
            ],
            Instant::now(),
        );
        let events: Vec<_> = out.iter().map(|c| c.event.clone()).collect();
        assert_eq!(
            events,
            vec![
                Some((1_709_214_307_000, " ERROR disk".to_owned())),
                None,
                None,
                // No time in the line: "now".
                Some((1000, "no time WARN here".to_owned())),
            ]
        );
        // Dropped events still move the offset forward: lines of 30, 29
        // and 36 characters, each with its newline.
        assert_eq!(out[2].end_offset, 31 + 30 + 37);
    }

    #[test]
    fn truncation_keeps_the_limit_and_char_boundaries() {
        let long = "é".repeat(200_000); // 400,000 bytes
        let t = truncate(long);
        assert!(t.len() <= MAX_MESSAGE_BYTES);
        assert!(t.len() > MAX_MESSAGE_BYTES - 4);
        assert!(t.ends_with("[Truncated...]"));
        assert_eq!(truncate("short".into()), "short");
        let exact = "a".repeat(MAX_MESSAGE_BYTES);
        assert_eq!(truncate(exact.clone()), exact);
    }

    #[test]
    fn encodings_convert_and_replace() {
        assert_eq!(decode(Encoding::Utf8, b"caf\xc3\xa9 \xff"), "café \u{FFFD}");
        assert_eq!(decode(Encoding::Latin1, b"caf\xe9"), "café");
        assert_eq!(decode(Encoding::Windows1252, b"\x80 \x93q\x94"), "€ “q”");
        assert_eq!(decode(Encoding::Ascii, b"a\xe9b"), "a\u{FFFD}b");
    }
}
