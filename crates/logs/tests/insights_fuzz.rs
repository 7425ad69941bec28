//! `parse` and `fuzz_query` are total: no input makes them panic.

use proptest::prelude::*;
use stratus_logs::insights::{fuzz_query, parse};

/// Pieces of real queries, so generated text reaches deep into the parser
/// and the executor rather than failing at the first character.
const PIECES: &[&str] = &[
    "fields",
    "filter",
    "stats",
    "sort",
    "limit",
    "parse",
    "dedup",
    "display",
    "by",
    "as",
    "and",
    "or",
    "not",
    "like",
    "in",
    "asc",
    "desc",
    "|",
    ",",
    "(",
    ")",
    "[",
    "]",
    "*",
    "+",
    "-",
    "/",
    "%",
    "^",
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "=~",
    "@message",
    "@timestamp",
    "@logStream",
    "request.status",
    "latency",
    "level",
    "count(*)",
    "bin(5m)",
    "5m",
    "1mo",
    "0",
    "95",
    "-3",
    "1e308",
    "\"x\"",
    "\"* [*] *\"",
    "/t.*o/",
    "/(?<a>\\d+)/",
    "strlen",
    "concat",
    "substr",
    "datefloor",
    "dateceil",
    "fromMillis",
    "toMillis",
    "pct",
    "avg",
    "sum",
    "min",
    "max",
    "earliest",
    "latest",
    "count_distinct",
    "ispresent",
    "isempty",
    "#c\n",
    "`a b`",
    " ",
];

fn query_like() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..40).prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn parse_never_panics_on_any_text(s in "\\PC{0,200}") {
        let _ = parse(&s);
    }

    #[test]
    fn queries_from_real_pieces_never_panic(q in query_like()) {
        fuzz_query(q.as_bytes());
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..200)) {
        fuzz_query(&data);
    }
}

#[test]
fn hand_picked_edge_queries_run() {
    for q in [
        "fields fromMillis(9223372036854775807) as t, datefloor(@timestamp, 100000000000y) as d",
        "fields 1e308 * 1e308 as inf, 1 / 0 as z, 5 % 0 as m, -(1) ^ 0.5 as nan",
        "stats count(*) by bin(1ms) | sort bin(1ms) desc",
        "stats pct(latency, 0), pct(latency, 100) by bin(1y)",
        "fields substr(@message, -5, -2) as s, substr(@message, 99999999999999) as t",
        "fields dateceil(@timestamp, 3q) as q, datefloor(@timestamp, 2w) as w",
        "parse @message '*' as whole | dedup whole | sort whole",
    ] {
        fuzz_query(q.as_bytes());
    }
}
