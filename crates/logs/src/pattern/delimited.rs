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
    items: Vec<Item>,
}

/// One field of a message: the value (quotes/brackets removed) and the raw
/// extent, which the absorbing last field needs.
#[derive(Clone, Copy, Debug)]
struct Span {
    value: (usize, usize),
    raw_start: usize,
}

fn split_fields(message: &str) -> Vec<Span> {
    let b = message.as_bytes();
    let mut spans = Vec::new();
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
    spans
}

/// What one message field bound to: the pattern field's name (`None` =
/// unnamed or under an ellipsis) and the value. `None` for a field the
/// absorbing last pattern field swallowed.
type Binding<'p, 'm> = Option<(Option<&'p str>, &'m str)>;

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
            return Ok(DelimitedPattern { items });
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
        Ok(DelimitedPattern { items })
    }

    pub(crate) fn has_field_named(&self, name: &str) -> bool {
        self.items
            .iter()
            .any(|i| matches!(i, Item::Field(f) if f.name.as_deref() == Some(name)))
    }

    pub(crate) fn matches(&self, message: &str) -> bool {
        let spans = split_fields(message);
        self.align(message, &spans).is_some()
    }

    /// The extracted values, keyed `$name` / `$position`.
    pub(crate) fn extract(&self, message: &str) -> Option<BTreeMap<String, String>> {
        let spans = split_fields(message);
        let bound = self.align(message, &spans)?;
        let mut out = BTreeMap::new();
        for (position, binding) in bound.into_iter().enumerate() {
            let Some((name, value)) = binding else {
                continue;
            };
            let key = match name {
                Some(name) => format!("${name}"),
                None => format!("${}", position + 1),
            };
            out.insert(key, value.to_string());
        }
        Some(out)
    }

    /// Matches the pattern against the message's fields. On success returns,
    /// per message field (by position), the pattern field's name it bound to
    /// (`None` = unnamed or under an ellipsis) and its value; positions the
    /// absorbing last field swallowed are `None`.
    fn align<'p, 'm>(&'p self, message: &'m str, spans: &[Span]) -> Option<Vec<Binding<'p, 'm>>> {
        let n = spans.len();
        let mut bound: Vec<Binding<'p, 'm>> = spans
            .iter()
            .map(|s| Some((None, value_of(message, s))))
            .collect();
        if self.items.is_empty() {
            return Some(bound);
        }
        // Segments of consecutive fields between ellipses.
        let mut segments: Vec<Vec<&Field>> = vec![Vec::new()];
        for item in &self.items {
            match item {
                Item::Field(f) => segments.last_mut()?.push(f),
                Item::Ellipsis => segments.push(Vec::new()),
            }
        }
        if segments.len() == 1 {
            let fields = &segments[0];
            if n < fields.len() {
                return None;
            }
            let last = fields.len() - 1;
            for (k, field) in fields.iter().enumerate() {
                let value = if k == last && n > fields.len() {
                    // The last field takes the rest of the line, raw.
                    let from = spans[k].raw_start;
                    for slot in bound.iter_mut().skip(k + 1) {
                        *slot = None;
                    }
                    message.get(from..).unwrap_or("").trim_end()
                } else {
                    value_of(message, &spans[k])
                };
                if !field.accepts(value) {
                    return None;
                }
                bound[k] = Some((field.name.as_deref(), value));
            }
            return Some(bound);
        }
        let (first, rest) = segments.split_first()?;
        let (last, middle) = rest.split_last()?;
        // Leading fields anchor at the start; an empty first segment means
        // the pattern opens with `...`.
        if first.len() + last.len() > n {
            return None;
        }
        let bind_at = |at: usize, fields: &[&'p Field], bound: &mut Vec<Binding<'p, 'm>>| -> bool {
            for (k, field) in fields.iter().enumerate() {
                let value = value_of(message, &spans[at + k]);
                if !field.accepts(value) {
                    return false;
                }
                bound[at + k] = Some((field.name.as_deref(), value));
            }
            true
        };
        if !bind_at(0, first, &mut bound) {
            return None;
        }
        let tail_start = n - last.len();
        let mut next = first.len();
        for segment in middle {
            if segment.is_empty() {
                continue;
            }
            // Leftmost placement leaves the most room for what follows.
            let mut placed = false;
            let mut at = next;
            while at + segment.len() <= tail_start {
                let accepted = segment
                    .iter()
                    .enumerate()
                    .all(|(k, f)| f.accepts(value_of(message, &spans[at + k])));
                if accepted {
                    bind_at(at, segment, &mut bound);
                    next = at + segment.len();
                    placed = true;
                    break;
                }
                at += 1;
            }
            if !placed {
                return None;
            }
        }
        if !bind_at(tail_start, last, &mut bound) {
            return None;
        }
        Some(bound)
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
