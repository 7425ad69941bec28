#!/usr/bin/env bash
# Fuzz the wire decoders with cargo-fuzz (libFuzzer).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Runs each target (default: all) for SECONDS (default 60). Crashing inputs
# are copied to fuzz/regressions/<target>/, which `cargo test -p
# stratus-proto` replays, so commit them together with the fix.
#
# cargo-fuzz needs nightly-only rustc flags (-Zsanitizer, sancov); we stay on
# the stable toolchain and unlock them with RUSTC_BOOTSTRAP=1.
# Environment: FUZZ_SANITIZER (address | none; default address),
#              FUZZ_JOBS (parallel workers per target; default 1).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

seconds="${1:-60}"
shift || true
all_targets=(decode_query decode_json decode_cbor sigv4_authorization decode_ingest_message decode_peer_read logs_filter_pattern logs_emf logs_insights_query logs_store logs_contributor_rule decode_float_columns)
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi
sanitizer="${FUZZ_SANITIZER:-address}"
jobs="${FUZZ_JOBS:-1}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
failed=()
for target in "${targets[@]}"; do
    corpus="fuzz/corpus/$target"
    seeds="fuzz/seeds/$target"
    artifacts="fuzz/artifacts/$target"
    regressions="fuzz/regressions/$target"
    mkdir -p "$corpus" "$seeds" "$artifacts" "$regressions"
    echo "=== $target: ${seconds}s (sanitizer: $sanitizer)" >&2
    parallel=()
    # libFuzzer sends worker output to fuzz-N.log files when -jobs is given.
    if [ "$jobs" -gt 1 ]; then parallel=(-jobs="$jobs" -workers="$jobs"); fi
    status=0
    cargo fuzz run --fuzz-dir fuzz --sanitizer "$sanitizer" "$target" "$corpus" "$seeds" -- \
        -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 "${parallel[@]}" || status=$?
    found=0
    for input in "$artifacts"/crash-* "$artifacts"/oom-* "$artifacts"/timeout-* "$artifacts"/leak-*; do
        [ -f "$input" ] || continue
        mv "$input" "$regressions/"
        found=1
        echo "saved $regressions/$(basename "$input")" >&2
    done
    if [ "$status" -ne 0 ] || [ "$found" -ne 0 ]; then
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzzing found problems in: ${failed[*]} (inputs under fuzz/regressions/)" >&2
    exit 1
fi
echo "fuzzing clean: ${targets[*]}" >&2
