//! Totality: parsing and matching never panic, on arbitrary strings and on
//! strings built from the syntax's own pieces (which reach deeper into the
//! parsers than random text does).

use proptest::prelude::*;
use stratus_logs::emf::fuzz_emf;
use stratus_logs::pattern::{FilterPattern, fuzz_pattern};

const PIECES: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "$",
    ".",
    "$.a",
    "$.b[0]",
    "[*]",
    ".*",
    "['k.x']",
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "&&",
    "||",
    "IS",
    "NULL",
    "TRUE",
    "NOT",
    "EXISTS",
    "\"",
    "\"q\"",
    "%",
    "%a.b%",
    "*",
    "4*",
    "...",
    ",",
    "-",
    "?",
    "ERROR",
    "1e3",
    "-2.5",
    " ",
    "\\",
    "é",
    "w1",
    "_aws",
    "Timestamp",
    ":",
];

fn pieces() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..40).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn parse_never_panics(s in any::<String>()) {
        let _ = FilterPattern::parse(&s);
        fuzz_pattern(s.as_bytes());
    }

    #[test]
    fn syntax_shaped_input_never_panics(s in pieces(), msg in pieces()) {
        fuzz_pattern(s.as_bytes());
        if let Ok(p) = FilterPattern::parse(&s) {
            prop_assert_eq!(p.matches(&msg), p.extract(&msg).is_some());
        }
        fuzz_emf(s.as_bytes());
    }

    #[test]
    fn emf_never_panics(s in any::<String>()) {
        fuzz_emf(s.as_bytes());
    }
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let deep = format!("{{ {}$.a = 1{} }}", "(".repeat(500), ")".repeat(500));
    assert!(FilterPattern::parse(&deep).is_err());
    let fine = format!("{{ {}$.a = 1{} }}", "(".repeat(10), ")".repeat(10));
    assert!(FilterPattern::parse(&fine).unwrap().matches(r#"{"a": 1}"#));
    // A deeply nested message is not JSON as far as matching goes.
    let p = FilterPattern::parse("{ $.a NOT EXISTS }").unwrap();
    let nested = format!("{}{}", "{\"x\":".repeat(10_000), "}".repeat(10_000));
    assert!(!p.matches(&nested));
    fuzz_emf(nested.as_bytes());
}
