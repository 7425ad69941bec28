#!/usr/bin/env bash
# Figure 4 of issue 14's Logs benchmark: the agent's CPU and RSS while it tails a
# file appended at 1,000 and 10,000 lines/s (30 s each), and the lines counted back
# with FilterLogEvents. A thin wrapper: the work is `stratus bench logs --only agent`
# (crates/stratus/src/bench/logs/agent.rs), which starts its own server on a temp
# data dir and `stratus agent` processes on 127.0.0.1 only.
#
# Usage: scripts/bench-logs-agent.sh [--agent-rates 1000,10000] [--agent-duration 30] [--endpoint URL]
# The binary: $STRATUS_BIN, else the release build under $CARGO_TARGET_DIR or target/.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${STRATUS_BIN:-${CARGO_TARGET_DIR:-target}/release/stratus}"
if [[ ! -x "$bin" ]]; then
    echo "no $bin: build it first (cargo build --release -p stratus) or set STRATUS_BIN" >&2
    exit 1
fi
exec "$bin" bench logs --only agent "$@"
