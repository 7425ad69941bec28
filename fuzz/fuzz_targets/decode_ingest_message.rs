//! decode_ingest_message: a cluster ingest-log message (a write batch, see
//! `stratus_tsdb::wire`) must decode or fail, never panic; what decodes must
//! re-encode to a message that decodes to the same batch.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(batch) = stratus_tsdb::wire::decode_write_batch(data) {
        let mut again = Vec::new();
        stratus_tsdb::wire::encode_write_batch(&batch, &mut again);
        let back = stratus_tsdb::wire::decode_write_batch(&again).expect("re-encoded message decodes");
        assert_eq!(back.entries.len(), batch.entries.len());
        assert_eq!(back.batch_id, batch.batch_id);
    }
});
