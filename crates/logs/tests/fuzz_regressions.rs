//! Replays the logs fuzz targets' seeds and saved crashes (fuzz/seeds and
//! fuzz/regressions, per target), so a plain `cargo test` guards them.

use std::path::{Path, PathBuf};

fn replay(target: &str, harness: fn(&[u8])) -> usize {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    ["seeds", "regressions"]
        .iter()
        .map(|kind| replay_dir(&fuzz.join(kind).join(target), harness))
        .sum()
}

fn replay_dir(dir: &Path, harness: fn(&[u8])) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut replayed = 0;
    for path in entries.flatten().map(|e| e.path()) {
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if path.is_file() && !hidden {
            let data =
                std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            harness(&data);
            replayed += 1;
        }
    }
    replayed
}

#[test]
fn filter_pattern_inputs() {
    assert!(replay("logs_filter_pattern", stratus_logs::pattern::fuzz_pattern) >= 3);
}

#[test]
fn emf_inputs() {
    assert!(replay("logs_emf", stratus_logs::emf::fuzz_emf) >= 1);
}

#[test]
fn insights_query_inputs() {
    assert!(replay("logs_insights_query", stratus_logs::insights::fuzz_query) >= 2);
}

#[test]
fn store_decoder_inputs() {
    assert!(replay("logs_store", stratus_logs::store::fuzz_decoders) >= 1);
}

#[test]
fn contributor_rule_inputs() {
    assert!(
        replay(
            "logs_contributor_rule",
            stratus_logs::contributor::fuzz_rule
        ) >= 2
    );
}
