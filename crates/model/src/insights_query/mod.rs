//! CloudWatch Metrics Insights: the SQL-like query language GetMetricData
//! accepts in a query's `Expression` (told from metric math by starting with
//! `SELECT`):
//!
//! ```text
//! SELECT AVG|COUNT|MAX|MIN|SUM(metric) FROM namespace | SCHEMA(namespace, key, ...)
//!   [WHERE key = 'v' AND key != 'w' OR (...)] [GROUP BY key, ...]
//!   [ORDER BY FUNC() [ASC|DESC]] [LIMIT n]
//! ```
//!
//! [`parse`] turns text into a [`Query`]; [`evaluate`] runs one over the
//! per-period statistics of the metrics it matched. Nothing here touches
//! storage: the caller lists candidate metrics and fetches their statistics.

mod ast;
mod eval;
mod lexer;
mod parser;

#[cfg(test)]
mod tests;

pub use ast::{Condition, Direction, Func, OrderBy, Query, Source};
pub use eval::{GroupSeries, OTHER, PeriodStats, evaluate};

/// AWS: "A single query can return no more than 500 time series"; `LIMIT`
/// above it is refused.
pub const MAX_LIMIT: usize = 500;
/// AWS: "A single query can process no more than 10,000 metrics"; the first
/// 10,000 matches are used.
pub const MAX_METRICS: usize = 10_000;
/// Metrics Insights has no high-resolution data: shorter periods are
/// aggregated at one minute (AWS documents the same).
pub const MIN_PERIOD_SECS: i64 = 60;
/// How far back a query reaches (AWS: "Query up to two weeks of data").
pub const MAX_LOOKBACK_MS: i64 = 14 * 24 * 3600 * 1000;
/// Parenthesis nesting in `WHERE`, bounded so parsing cannot overflow the stack.
pub const MAX_CONDITION_DEPTH: usize = 32;

/// Why a query text was refused. Positions are 1-based characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("Unexpected {found} at position {pos}; expected {expected}.")]
    Unexpected {
        found: String,
        expected: String,
        pos: usize,
    },
    #[error(
        "Unknown function {name} at position {pos}; the valid functions are AVG, COUNT, MAX, MIN and SUM."
    )]
    UnknownFunction { name: String, pos: usize },
    #[error(
        "{text} at position {pos} must be in double quotes: identifiers with characters other than letters, digits and underscores, or starting with a digit, are written as \"{text}\"."
    )]
    NeedsQuotes { text: String, pos: usize },
    #[error("Unexpected character '{ch}' at position {pos}.")]
    UnexpectedChar { ch: char, pos: usize },
    #[error("The quote {quote} at position {pos} is never closed.")]
    UnterminatedQuote { quote: char, pos: usize },
    #[error("Empty identifier \"\" at position {pos}.")]
    EmptyIdentifier { pos: usize },
    #[error("Label value {found} at position {pos} must be in single quotes, such as 'value'.")]
    ValueNotQuoted { found: String, pos: usize },
    #[error("LIMIT {value} at position {pos} is invalid: it must be between 1 and 500.")]
    BadLimit { value: String, pos: usize },
    #[error("The WHERE clause at position {pos} nests parentheses too deeply.")]
    TooDeep { pos: usize },
}

/// True if `expression` is meant as a Metrics Insights query rather than
/// metric math: its first word is `SELECT` (any case).
pub fn is_query(expression: &str) -> bool {
    let t = expression.trim_start();
    t.get(..6).is_some_and(|w| w.eq_ignore_ascii_case("SELECT"))
        && t[6..].chars().next().is_none_or(|c| c.is_whitespace())
}

pub fn parse(src: &str) -> Result<Query, QueryError> {
    parser::parse(src)
}
