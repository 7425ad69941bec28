//! Replays inputs that once crashed a fuzz target (saved by scripts/fuzz.sh
//! under fuzz/regressions/<target>/), so a plain `cargo test` guards them.

use std::path::PathBuf;
use stratus_proto::fuzzing;

fn replay(target: &str, harness: fn(&[u8])) -> usize {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions")
        .join(target);
    replay_dir(&dir, harness)
}

fn replay_dir(dir: &std::path::Path, harness: fn(&[u8])) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
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

#[test]
fn sigv4_authorization_regressions() {
    fn harness(data: &[u8]) {
        if let Ok(value) = std::str::from_utf8(data) {
            let _ = stratus_sigv4::parse_authorization(value);
        }
    }
    let n = replay("sigv4_authorization", harness);
    eprintln!("replayed {n} sigv4_authorization inputs");
}

#[test]
fn seeds_run_clean() {
    // The fuzz seeds are the captured requests: they must go through the
    // harnesses, and the regression directories must exist for the script.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    for target in [
        "decode_query",
        "decode_json",
        "decode_cbor",
        "sigv4_authorization",
    ] {
        assert!(root.join("regressions").join(target).is_dir(), "{target}");
    }
    let n = replay_dir(&root.join("seeds/decode_query"), fuzzing::decode_query)
        + replay_dir(&root.join("seeds/decode_json"), fuzzing::decode_json)
        + replay_dir(&root.join("seeds/decode_cbor"), fuzzing::decode_cbor);
    assert!(n >= 3, "expected the captured-request seeds, found {n}");
}
