//! decode_json: routing, decoding, typed and generic deserialization and
//! re-encoding of a request body must never panic (see `stratus_proto::fuzzing`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    stratus_proto::fuzzing::decode_json(data);
});
