//! Parsing an `Authorization` header value must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = std::str::from_utf8(data) {
        let _ = stratus_sigv4::parse_authorization(value);
    }
});
