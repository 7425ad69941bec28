//! logs_emf: an Embedded Metric Format log line (any PutLogEvents message
//! sent as `json/emf`) must yield datums or an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| stratus_logs::emf::fuzz_emf(data));
