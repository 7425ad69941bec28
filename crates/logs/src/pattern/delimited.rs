//! Space-delimited patterns: `[ip, user, ..., status_code = 4*, bytes > 1000]`.
//!
//! A message splits on runs of whitespace; text between `"…"` or `[…]` is
//! one field, reported without its quotes or brackets (AWS's Apache-log
//! examples: `$timestamp` is `10/Oct/2000:13:25:15 -0700`).
//!
//! Alignment, as AWS's examples show it: without `...`, the pattern's fields
//! take the message's fields in order and the last one takes the rest of the
//! line (`[w1=ERROR, w2]` matches any line whose first word is ERROR); a
//! message with fewer fields than the pattern does not match. With `...`,
//! fields before the first ellipsis align to the start, fields after the last
//! align to the end, and an ellipsis covers any number of fields, which are
//! reported by position (`$1`, `$2`, …) as unnamed pattern fields are.
//! `[]` matches every message and reports every field by position.

use std::cell::RefCell;
use std::collections::BTreeMap;

use super::PatternError;
use super::json::MAX_REGEXES;
use super::lexer::Cursor;
use super::value::{CmpOp, Condition};

#[derive(Clone, Debug)]
struct Field {
    name: Option<String>,
    /// Alternatives of conjunctions: `a = 1 && a != 2 || a = 3`.
    condition: Vec<Vec<Condition>>,
}

impl Field {
    fn accepts(&self, value: &str) -> bool {
        self.condition.is_empty()
            || self
                .condition
                .iter()
                .any(|all| all.iter().all(|c| c.test_text(value)))
    }
}

#[derive(Clone, Debug)]
enum Item {
    Field(Field),
    Ellipsis,
}

#[derive(Clone, Debug)]
pub(crate) struct DelimitedPattern {
    /// Runs of consecutive fields; an ellipsis separates two runs (so a
    /// leading or trailing `...` leaves an empty first or last run). No
    /// runs at all is `[]`.
    segments: Vec<Vec<Field>>,
}

impl DelimitedPattern {
    fn from_items(items: Vec<Item>) -> DelimitedPattern {
        let mut segments = Vec::new();
        if items.is_empty() {
            return DelimitedPattern { segments };
        }
        segments.push(Vec::new());
        for item in items {
            match item {
                Item::Field(f) => {
                    if let Some(run) = segments.last_mut() {
                        run.push(f);
                    }
                }
                Item::Ellipsis => segments.push(Vec::new()),
            }
        }
        // Empty middle runs come from `..., ...`; they constrain nothing.
        let count = segments.len();
        let mut k = 0;
        segments.retain(|run| {
            let keep = k == 0 || k == count - 1 || !run.is_empty();
            k += 1;
            keep
        });
        DelimitedPattern { segments }
    }
}

/// One field of a message: the value (quotes/brackets removed) and the raw
/// extent, which the absorbing last field needs.
#[derive(Clone, Copy, Debug)]
struct Span {
    value: (usize, usize),
    raw_start: usize,
}

fn split_fields(message: &str, spans: &mut Vec<Span>) {
    spans.clear();
    let b = message.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let closer = match b[i] {
            b'"' => Some(b'"'),
            b'[' => Some(b']'),
            _ => None,
        };
        if let Some(close) = closer
            && let Some(len) = memchr::memchr(close, &b[i + 1..])
        {
            let end = i + 1 + len;
            spans.push(Span {
                value: (i + 1, end),
                raw_start: start,
            });
            i = end + 1;
            continue;
        }
        while i < b.len() && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        spans.push(Span {
            value: (start, i),
            raw_start: start,
        });
    }
}

/// The space-delimited fields of a message, quotes and brackets removed:
/// Contributor Insights' CLF fields are these, by 1-based position.
pub(crate) fn field_values(message: &str) -> Vec<&str> {
    let mut spans = Vec::new();
    split_fields(message, &mut spans);
    spans.iter().map(|s| value_of(message, s)).collect()
}

fn value_of<'m>(message: &'m str, span: &Span) -> &'m str {
    message.get(span.value.0..span.value.1).unwrap_or("")
}

impl DelimitedPattern {
    /// Parses `[ … ]`; `src` is trimmed and starts with `[`.
    pub(crate) fn parse(src: &str) -> Result<DelimitedPattern, PatternError> {
        let mut cur = Cursor::new(src);
        cur.eat("[");
        let mut items = Vec::new();
        let mut regexes = 0;
        cur.skip_ws();
        if cur.eat("]") {
            cur.skip_ws();
            if !cur.is_at_end() {
                return Err(cur.unexpected("nothing after the closing ']'"));
            }
            return Ok(DelimitedPattern::from_items(items));
        }
        loop {
            cur.skip_ws();
            if cur.eat("...") {
                // Consecutive ellipses mean the same as one.
                if !matches!(items.last(), Some(Item::Ellipsis)) {
                    items.push(Item::Ellipsis);
                }
            } else {
                items.push(Item::Field(read_field(&mut cur, &mut regexes)?));
            }
            cur.skip_ws();
            if cur.eat(",") {
                continue;
            }
            if cur.eat("]") {
                break;
            }
            return Err(cur.unexpected("',' or the closing ']'"));
        }
        cur.skip_ws();
        if !cur.is_at_end() {
            return Err(cur.unexpected("nothing after the closing ']'"));
        }
        if regexes > MAX_REGEXES {
            return Err(PatternError::TooManyRegexes { limit: MAX_REGEXES });
        }
        Ok(DelimitedPattern::from_items(items))
    }

    pub(crate) fn has_field_named(&self, name: &str) -> bool {
        self.segments
            .iter()
            .flatten()
            .any(|f| f.name.as_deref() == Some(name))
    }

    pub(crate) fn matches(&self, message: &str) -> bool {
        // The field spans go into a per-thread buffer: scanning a log group
        // calls this once per event, and the buffer's allocation is reused.
        thread_local! {
            static SPANS: RefCell<Vec<Span>> = const { RefCell::new(Vec::new()) };
        }
        SPANS.with(|buffer| match buffer.try_borrow_mut() {
            Ok(mut spans) => {
                split_fields(message, &mut spans);
                self.align(message, &spans, &mut |_, _, _| {}).is_some()
            }
            // Only re-entrancy could hold the buffer; fall back to a fresh one.
            Err(_) => {
                let mut spans = Vec::new();
                split_fields(message, &mut spans);
                self.align(message, &spans, &mut |_, _, _| {}).is_some()
            }
        })
    }

    /// The extracted values, keyed `$name` / `$position`.
    pub(crate) fn extract(&self, message: &str) -> Option<BTreeMap<String, String>> {
        let mut spans = Vec::new();
        split_fields(message, &mut spans);
        // Every covered message field starts unnamed (an ellipsis's, or the
        // whole line's for `[]`); pattern fields then claim theirs.
        let mut bound: Vec<(Option<&str>, &str)> =
            spans.iter().map(|s| (None, value_of(message, s))).collect();
        let covered = self.align(message, &spans, &mut |at, field, value| {
            if let Some(slot) = bound.get_mut(at) {
                *slot = (field.name.as_deref(), value);
            }
        })?;
        let mut out = BTreeMap::new();
        for (position, (name, value)) in bound.into_iter().take(covered).enumerate() {
            let key = match name {
                Some(name) => format!("${name}"),
                None => format!("${}", position + 1),
            };
            out.insert(key, value.to_string());
        }
        Some(out)
    }

    /// Matches the pattern against the message's fields, calling `bind`
    /// with (position, pattern field, value) for each pattern field placed.
    /// Returns how many message fields the match covers: all of them, or up
    /// to the last pattern field when it absorbed the rest of the line.
    fn align<'p, 'm>(
        &'p self,
        message: &'m str,
        spans: &[Span],
        bind: &mut dyn FnMut(usize, &'p Field, &'m str),
    ) -> Option<usize> {
        let n = spans.len();
        let Some((first, rest)) = self.segments.split_first() else {
            return Some(n); // `[]`
        };
        let value_at = |k: usize| spans.get(k).map_or("", |s| value_of(message, s));
        if rest.is_empty() {
            // No ellipsis: fields in order, the last takes the rest.
            if n < first.len() {
                return None;
            }
            let last = first.len() - 1;
            for (k, field) in first.iter().enumerate() {
                let value = if k == last && n > first.len() {
                    let from = spans.get(k).map_or(message.len(), |s| s.raw_start);
                    message.get(from..).unwrap_or("").trim_end()
                } else {
                    value_at(k)
                };
                if !field.accepts(value) {
                    return None;
                }
                bind(k, field, value);
            }
            return Some(first.len());
        }
        let (last, middle) = rest.split_last()?;
        if first.len() + last.len() > n {
            return None;
        }
        let place = |at: usize,
                     fields: &'p [Field],
                     bind: &mut dyn FnMut(usize, &'p Field, &'m str)|
         -> bool {
            if !fields
                .iter()
                .enumerate()
                .all(|(k, f)| f.accepts(value_at(at + k)))
            {
                return false;
            }
            for (k, field) in fields.iter().enumerate() {
                bind(at + k, field, value_at(at + k));
            }
            true
        };
        // Leading fields anchor at the start (none when the pattern opens
        // with `...`), trailing ones at the end.
        if !place(0, first, bind) {
            return None;
        }
        let tail_start = n - last.len();
        let mut next = first.len();
        for segment in middle {
            // Leftmost placement leaves the most room for what follows.
            let mut at = next;
            loop {
                if at + segment.len() > tail_start {
                    return None;
                }
                if place(at, segment, bind) {
                    next = at + segment.len();
                    break;
                }
                at += 1;
            }
        }
        if !place(tail_start, last, bind) {
            return None;
        }
        Some(n)
    }
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

fn read_field(cur: &mut Cursor<'_>, regexes: &mut usize) -> Result<Field, PatternError> {
    cur.skip_ws();
    let name = cur.take_while(is_name_char);
    cur.skip_ws();
    if matches!(cur.peek(), Some(b',' | b']') | None) {
        return Ok(Field {
            name: (!name.is_empty()).then(|| name.to_string()),
            condition: Vec::new(),
        });
    }
    if name.is_empty() {
        return Err(cur.unexpected("a field name"));
    }
    let mut alternatives = Vec::new();
    let mut all = Vec::new();
    let mut first = true;
    loop {
        cur.skip_ws();
        if !first {
            let at = cur.pos();
            let again = cur.take_while(is_name_char);
            // Each comparison names its own field; AWS's examples write the
            // name again (`w1=ERROR || w1=WARNING`, once as `W1`).
            if !again.eq_ignore_ascii_case(name) {
                return Err(PatternError::FieldMismatch {
                    field: name.to_string(),
                    found: again.to_string(),
                    at,
                });
            }
            cur.skip_ws();
        }
        first = false;
        let Some(op) = CmpOp::read(cur) else {
            return Err(cur.unexpected("an operator (=, !=, <, <=, >, >=)"));
        };
        all.push(Condition::read(op, cur, regexes)?);
        cur.skip_ws();
        if cur.eat("&&") {
            continue;
        }
        if cur.eat("||") {
            alternatives.push(std::mem::take(&mut all));
            continue;
        }
        break;
    }
    alternatives.push(all);
    Ok(Field {
        name: Some(name.to_string()),
        condition: alternatives,
    })
}
