//! decode_peer_read: what one cluster node sends another (`stratus_tsdb::wire`:
//! a read request, and its answers — aggregates or series keys) must decode
//! or fail, never panic; what decodes re-encodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stratus_tsdb::wire;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = wire::ReadRequest::decode(data) {
        assert_eq!(wire::ReadRequest::decode(&req.encode()).expect("re-encoded request"), req);
    }
    if let Ok(aggs) = wire::decode_aggregates(data) {
        let mut again = Vec::new();
        wire::encode_aggregates(&aggs, &mut again);
        let back = wire::decode_aggregates(&again).expect("re-encoded aggregates");
        assert_eq!(back.len(), aggs.len());
    }
    if let Ok(keys) = wire::decode_series_keys(data) {
        assert_eq!(wire::decode_series_keys(&wire::encode_series_keys(&keys)).expect("re-encoded keys"), keys);
    }
});
