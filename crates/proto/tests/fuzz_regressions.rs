//! Replays inputs that once crashed a fuzz target (saved by scripts/fuzz.sh
//! under fuzz/regressions/<target>/), so a plain `cargo test` guards them.

use std::path::PathBuf;
use stratus_proto::fuzzing;

fn replay(target: &str, harness: fn(&[u8])) -> usize {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    let mut replayed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_file()
            || path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        harness(&data);
        replayed += 1;
    }
    replayed
}

#[test]
fn decode_query_regressions() {
    let n = replay("decode_query", fuzzing::decode_query);
    eprintln!("replayed {n} decode_query inputs");
}

#[test]
fn decode_json_regressions() {
    let n = replay("decode_json", fuzzing::decode_json);
    eprintln!("replayed {n} decode_json inputs");
}

#[test]
fn decode_cbor_regressions() {
    let n = replay("decode_cbor", fuzzing::decode_cbor);
    eprintln!("replayed {n} decode_cbor inputs");
}
