//! CloudWatch Logs filter patterns, as metric filters, subscription
//! filters, FilterLogEvents and Live Tail use them (AWS: "Filter pattern
//! syntax for metric filters, subscription filters, filter log events, and
//! Live Tail"), and the metric values metric filters derive from a match.
//!
//! Four kinds, told apart by the trimmed pattern's first character:
//! `{` JSON (module `json`), `[` space-delimited (`delimited`), `%…%` a
//! regular expression (`aws_regex`), anything else terms and phrases
//! (`text`). Unquoted terms are taken literally, whatever they contain (AWS
//! asks for quotes around non-alphanumeric terms and documents no
//! splitting); `%…%` is a regex only as the whole pattern.
//! Parsing is total: any string yields a pattern or a [`PatternError`], never
//! a panic, and work is bounded by AWS's 1,024-character pattern limit and a
//! nesting limit.

mod aws_regex;
mod delimited;
mod json;
mod json_doc;
mod lexer;
mod metric;
mod text;
mod value;

use std::collections::BTreeMap;

use regex::Regex;

pub use metric::{Emission, MetricTransformation, apply, validate_transformation};

use delimited::DelimitedPattern;
pub(crate) use delimited::field_values;
use json::JsonPattern;
use text::TextPattern;

/// AWS's filterPattern length constraint (characters).
pub const MAX_PATTERN_CHARS: usize = 1024;

/// Why a pattern (or a metric transformation) is refused. Each message is a
/// complete sentence for an InvalidParameterException.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error(
        "Invalid filter pattern: it is {chars} characters long; the limit is {MAX_PATTERN_CHARS}"
    )]
    TooLong { chars: usize },
    #[error("Invalid filter pattern: parentheses nest deeper than {limit} levels")]
    TooDeep { limit: usize },
    #[error("Invalid filter pattern: unterminated {what} starting at position {at}")]
    Unterminated { what: &'static str, at: usize },
    #[error("Invalid filter pattern: found {found} at position {at}, expected {expected}")]
    Unexpected {
        found: String,
        at: usize,
        expected: &'static str,
    },
    #[error("Invalid filter pattern: regular expression %{regex}% is not supported: {reason}")]
    InvalidRegex { regex: String, reason: String },
    #[error(
        "Invalid filter pattern: at most {limit} regular expressions are allowed in a JSON or space-delimited filter pattern"
    )]
    TooManyRegexes { limit: usize },
    #[error("Invalid filter pattern: only {limit} is allowed")]
    TooManyWildcards { limit: &'static str },
    #[error(
        "Invalid filter pattern: the operator before position {at} compares numbers; its value must be a number"
    )]
    NotANumber { at: usize },
    #[error("Invalid filter pattern: {what} is not supported")]
    Unsupported { what: &'static str },
    #[error(
        "Invalid filter pattern: a condition in field '{field}' names '{found}' (position {at}); each condition must name its own field"
    )]
    FieldMismatch {
        field: String,
        found: String,
        at: usize,
    },
    #[error("Invalid metric transformation: {reason}")]
    InvalidTransformation { reason: String },
}

#[derive(Clone, Debug)]
enum Kind {
    Text(TextPattern),
    Regex(Box<Regex>),
    Json(JsonPattern),
    Delimited(DelimitedPattern),
}

/// A parsed filter pattern. Cheap to share across threads; matching never
/// allocates for term patterns.
#[derive(Clone, Debug)]
pub struct FilterPattern {
    kind: Kind,
}

impl FilterPattern {
    pub fn parse(s: &str) -> Result<FilterPattern, PatternError> {
        let chars = s.chars().count();
        if chars > MAX_PATTERN_CHARS {
            return Err(PatternError::TooLong { chars });
        }
        let trimmed = s.trim();
        let kind = if trimmed.starts_with('{') {
            Kind::Json(JsonPattern::parse(trimmed)?)
        } else if trimmed.starts_with('[') {
            Kind::Delimited(DelimitedPattern::parse(trimmed)?)
        } else if trimmed.len() >= 2 && trimmed.starts_with('%') && trimmed.ends_with('%') {
            Kind::Regex(Box::new(aws_regex::compile(
                &trimmed[1..trimmed.len() - 1],
            )?))
        } else {
            Kind::Text(TextPattern::parse(trimmed)?)
        };
        Ok(FilterPattern { kind })
    }

    pub fn matches(&self, message: &str) -> bool {
        match &self.kind {
            Kind::Text(t) => t.matches(message),
            Kind::Regex(re) => re.is_match(message),
            Kind::Json(j) => JsonPattern::document(message).is_some_and(|doc| j.eval(&doc)),
            Kind::Delimited(d) => d.matches(message),
        }
    }

    /// The values a match extracts, keyed as TestMetricFilter's
    /// `extractedValues` names them: `$.sel` for each selector a JSON
    /// pattern names (as written), `$name` for named space-delimited fields,
    /// `$1`, `$2`, … (1-based positions) for unnamed ones and those an
    /// ellipsis covers. Term and regex patterns extract nothing (an empty
    /// map). `None` = no match.
    pub fn extract(&self, message: &str) -> Option<BTreeMap<String, String>> {
        match &self.kind {
            Kind::Text(_) | Kind::Regex(_) => self.matches(message).then(BTreeMap::new),
            Kind::Json(j) => {
                let doc = JsonPattern::document(message)?;
                if !j.eval(&doc) {
                    return None;
                }
                let mut out = BTreeMap::new();
                for sel in &j.selectors {
                    if let Some(v) = sel.first_scalar(&doc) {
                        out.insert(sel.text.clone(), v.render());
                    }
                }
                Some(out)
            }
            Kind::Delimited(d) => d.extract(message),
        }
    }

    pub fn is_json(&self) -> bool {
        matches!(self.kind, Kind::Json(_))
    }

    pub fn is_space_delimited(&self) -> bool {
        matches!(self.kind, Kind::Delimited(_))
    }
}

/// Fuzz harness: parse arbitrary bytes as a pattern and, if it parses, run
/// it over a few messages and over the input itself. Must never panic.
pub fn fuzz_pattern(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(pattern) = FilterPattern::parse(text) else {
        return;
    };
    const MESSAGES: &[&str] = &[
        "",
        "[ERROR 401] UNAUTHORIZED REQUEST",
        r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534"#,
        r#"{"eventType":"UpdateTrail","latency":50,"a":[1,{"b":null}],"flag":true,"cluster.name":"c"}"#,
        "\"unterminated [bracket",
        "  leading and trailing  ",
    ];
    for message in MESSAGES.iter().copied().chain([text]) {
        let matched = pattern.matches(message);
        let extracted = pattern.extract(message);
        assert_eq!(
            matched,
            extracted.is_some(),
            "matches and extract disagree on {message:?}"
        );
    }
}
