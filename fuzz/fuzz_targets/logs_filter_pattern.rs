//! logs_filter_pattern: a CloudWatch Logs filter pattern (FilterLogEvents,
//! PutMetricFilter, TestMetricFilter — caller-supplied) must parse or fail,
//! and a parsed one must match and extract over any message, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| stratus_logs::pattern::fuzz_pattern(data));
