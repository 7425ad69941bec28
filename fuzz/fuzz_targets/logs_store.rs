//! logs_store: the log store's decoders — GetLogEvents/FilterLogEvents
//! paging tokens (client-supplied), WAL records, blocks and segment indexes
//! (crc-checked, but a bug or a foreign file must still not panic them).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| stratus_logs::store::fuzz_decoders(data));
