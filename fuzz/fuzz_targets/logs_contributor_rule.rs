//! logs_contributor_rule: a Contributor Insights rule definition
//! (PutInsightRule's RuleDefinition — caller-supplied) must parse or fail,
//! and a parsed rule must evaluate any event and aggregate, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| stratus_logs::contributor::fuzz_rule(data));
