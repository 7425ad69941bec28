//! logs_insights_query: a Logs Insights query string (StartQuery) must parse
//! or fail, and a parsed one must run over events, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| stratus_logs::insights::fuzz_query(data));
