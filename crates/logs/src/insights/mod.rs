//! CloudWatch Logs Insights queries: parse a query once, then feed it events
//! one at a time and collect the result rows as `GetQueryResults` returns them.
//!
//! Supported: `fields`, `display`, `filter`, `stats` (one per query; commands
//! after it work on its rows), `sort`, `limit`, `parse` (glob and regex),
//! `dedup`; `#` comments; the fields `@timestamp`, `@message`, `@logStream`,
//! `@log`, `@ingestionTime` and those discovered in JSON messages.
//!
//! Every row of a query without `stats` ends with `@ptr`, a
//! [`crate::record_pointer`] to the event it came from (`stats` rows come
//! from many events and have none). `@log` is the event's `group` as given:
//! AWS shows `<account id>:<group>`, so a caller that wants that passes the
//! label in `group` and the real name to
//! [`Executor::push_with_pointer_group`] for the pointer.
//!
//! Where AWS documents no behaviour, these are the choices made:
//! - a comparison, `like` or `in` on a missing field is unknown (Kleene
//!   logic), and `filter` keeps only true;
//! - `stats` rows come ordered by their group values, ascending, unless
//!   sorted; events missing a `by` field form one group without it;
//! - `sort` without `asc`/`desc` is ascending; missing values sort last;
//! - `pct` is exact nearest-rank (AWS approximates); `count_distinct` exact;
//! - weeks (`1w`) start on Monday; `substr` counts from 0;
//! - without `stats`, `sort`, `dedup` and `limit` apply to the final rows
//!   wherever they are written; before a `stats`, `sort`, `dedup` and
//!   `display` are ignored and `limit` caps the stats rows.

mod eval;
mod exec;
mod lexer;
mod parser;
mod stats;
mod value;

use std::sync::Arc;

pub use exec::{Executor, QueryOutput};

/// Why a query was rejected; `Display` reads as the message of AWS's
/// `MalformedQueryException`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("{message} at line {line} and position {column}")]
    Syntax {
        message: String,
        /// 1-based.
        line: usize,
        /// 1-based, in characters.
        column: usize,
    },
    #[error("the query is longer than {max} characters")]
    TooLong { max: usize },
    #[error("{0}")]
    Unsupported(String),
}

impl QueryError {
    /// A syntax error at byte offset `at` of `src`.
    pub(crate) fn at(src: &str, at: usize, message: impl Into<String>) -> QueryError {
        let before = src.get(..at).unwrap_or(src);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        QueryError::Syntax {
            message: message.into(),
            line,
            column,
        }
    }
}

/// A parsed query, ready to run any number of times.
#[derive(Clone, Debug)]
pub struct Query {
    plan: Arc<exec::Plan>,
}

/// Parses a query. Total: any input yields a query or an error, never a
/// panic; queries over 10,000 characters (AWS's limit) are refused.
pub fn parse(q: &str) -> Result<Query, QueryError> {
    let parsed = parser::parse(q)?;
    Ok(Query {
        plan: Arc::new(exec::Plan::build(parsed)?),
    })
}

impl Query {
    pub fn executor(&self) -> Executor {
        Executor::new(Arc::clone(&self.plan))
    }

    /// The most rows the query returns: its `limit`, or AWS's 10,000.
    pub fn row_limit(&self) -> usize {
        self.plan.row_limit
    }
}

/// The fields Insights discovers in a JSON message (in no promised order),
/// as (name, value text): nested keys joined with dots (`request.status`),
/// array items by index (`tags.0`); null values left out. Empty for a
/// message that is not a JSON object. `GetLogRecord` returns these.
pub fn json_fields(message: &str) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    eval::for_each_json_field(message, &mut |name, value| {
        fields.push((name.to_owned(), value));
    });
    fields
}

/// Fuzz entry point: parses arbitrary bytes as a query and, when it parses,
/// runs it over a few events of different shapes. Must never panic.
pub fn fuzz_query(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(query) = parse(text) else {
        return;
    };
    let events = [
        (
            1_796_625_660_000,
            r#"10.0.0.1 - - [07/Dec/2026:06:41:00 +0000] "GET /index.html HTTP/1.1" 200 512"#,
        ),
        (
            1_796_625_661_500,
            r#"{"level":"error","latency":12.5,"request":{"status":500,"path":"/a"},"tags":["x","y"],"n":null}"#,
        ),
        (-5, "plain text line with timeout 42"),
        (i64::MAX, ""),
    ];
    let mut ex = query.executor();
    for (id, (ts, message)) in (0u64..).zip(events) {
        ex.push(&crate::EventRef {
            group: "g",
            stream: "s",
            timestamp_ms: ts,
            ingestion_ms: ts,
            message,
            id,
        });
    }
    let _ = ex.finish();
}
