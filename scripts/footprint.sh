#!/usr/bin/env bash
# Footprint of the Stratus agent next to Debian's prometheus-node-exporter, on this machine,
# in the same run: the agent with every host collector at a 10 s interval shipping to a
# local `stratus server`, and node_exporter scraped every 10 s with curl. Prints resident
# memory (max and final) and CPU seconds of each, the ratios, and the binary's size.
#
#   scripts/footprint.sh                       5 minutes
#   FOOTPRINT_SECONDS=120 scripts/footprint.sh
#
# Installs prometheus-node-exporter with apt-get when it is missing (needs root).
# Builds `stratus` in release (CARGO_TARGET_DIR is honoured).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SECONDS_TOTAL="${FOOTPRINT_SECONDS:-300}"
INTERVAL=10
SAMPLE_EVERY=1

log() { echo "footprint: $*" >&2; }

# ---- build and tools ---------------------------------------------------------------------

# FOOTPRINT_SKIP_SERVER_BUILD=1 reuses the release server already built (it only receives).
if [[ -z "${FOOTPRINT_SKIP_SERVER_BUILD:-}" ]]; then
  log "building stratus (release)"
  cargo build --release -p stratus >&2
fi
log "building stratus-agent (profile agent, as packaged)"
cargo build --profile agent -p stratus-agent --bin stratus-agent >&2
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/release/stratus"
[[ -x "$BIN" ]] || { log "no binary at $BIN"; exit 1; }

NODE_EXPORTER="$(command -v prometheus-node-exporter || true)"
if [[ -z "$NODE_EXPORTER" ]]; then
  log "installing prometheus-node-exporter"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends prometheus-node-exporter >&2 \
    || { apt-get update >&2 && apt-get install -y --no-install-recommends prometheus-node-exporter >&2; }
  NODE_EXPORTER="$(command -v prometheus-node-exporter)"
fi
command -v curl >/dev/null || { log "curl is needed to scrape node_exporter"; exit 1; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

WORK="$(mktemp -d /tmp/stratus-footprint.XXXXXX)"
PIDS=()
cleanup() {
  # Newest first: the agent stops (and flushes) while its server still runs.
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill "${PIDS[$i]}" 2>/dev/null || true
    wait "${PIDS[$i]}" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- server and agent key ----------------------------------------------------------------

SERVER_PORT="$(free_port)"
ENDPOINT="http://127.0.0.1:$SERVER_PORT"
"$BIN" server --data-dir "$WORK/data" --listen "127.0.0.1:$SERVER_PORT" >"$WORK/server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 200); do
  [[ -f "$WORK/data/credentials" ]] && port_busy "$SERVER_PORT" && break
  sleep 0.1
done
[[ -f "$WORK/data/credentials" ]] || { log "server did not start:"; cat "$WORK/server.log" >&2; exit 1; }

"$BIN" keys create --name footprint --policy agent --output json \
  --endpoint "$ENDPOINT" --credentials-file "$WORK/data/credentials" >"$WORK/key.json"
python3 - "$WORK/key.json" "$WORK/agent-credentials" <<'EOF'
import json, os, sys
k = json.load(open(sys.argv[1]))
with open(sys.argv[2], "w") as f:
    f.write("[AmazonCloudWatchAgent]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
            % (k["AccessKeyId"], k["SecretAccessKey"]))
os.chmod(sys.argv[2], 0o600)
EOF

# Every host collector with every measurement the stock agent documents, every 10 s.
cat >"$WORK/agent.json" <<EOF
{
  "agent": {
    "metrics_collection_interval": $INTERVAL,
    "logfile": "$WORK/agent.log",
    "spool_dir": "$WORK/spool",
    "instance_id": "footprint"
  },
  "metrics": {
    "endpoint_override": "$ENDPOINT",
    "force_flush_interval": $INTERVAL,
    "append_dimensions": {"InstanceId": "\${aws:InstanceId}"},
    "metrics_collected": {
      "cpu": {
        "resources": ["*"], "totalcpu": true,
        "measurement": ["usage_active", "usage_idle", "usage_nice", "usage_guest", "usage_guest_nice",
          "usage_iowait", "usage_irq", "usage_softirq", "usage_steal", "usage_system", "usage_user",
          "time_active", "time_idle", "time_nice", "time_guest", "time_guest_nice", "time_iowait",
          "time_irq", "time_softirq", "time_steal", "time_system", "time_user"]
      },
      "mem": {
        "measurement": ["active", "available", "available_percent", "buffered", "cached", "free",
          "inactive", "shared", "total", "used", "used_percent"]
      },
      "swap": {"measurement": ["free", "used", "used_percent"]},
      "disk": {
        "resources": ["*"],
        "measurement": ["free", "total", "used", "used_percent", "inodes_free", "inodes_total", "inodes_used"]
      },
      "diskio": {
        "resources": ["*"],
        "measurement": ["reads", "writes", "read_bytes", "write_bytes", "read_time", "write_time",
          "io_time", "iops_in_progress"]
      },
      "net": {
        "resources": ["*"],
        "measurement": ["bytes_sent", "bytes_recv", "packets_sent", "packets_recv", "drop_in",
          "drop_out", "err_in", "err_out"]
      },
      "netstat": {
        "measurement": ["tcp_close", "tcp_close_wait", "tcp_closing", "tcp_established", "tcp_fin_wait1",
          "tcp_fin_wait2", "tcp_last_ack", "tcp_listen", "tcp_none", "tcp_syn_sent", "tcp_syn_recv",
          "tcp_time_wait", "udp_socket"]
      },
      "processes": {
        "measurement": ["blocked", "dead", "idle", "paging", "running", "sleeping", "stopped", "total",
          "total_threads", "wait", "zombies"]
      },
      "procstat": [
        {"exe": "prometheus-node", "measurement": ["cpu_usage", "memory_rss", "memory_vms", "num_threads", "pid_count"]}
      ]
    }
  }
}
EOF
"$BIN" agent --check-config "$WORK/agent.json" >"$WORK/check-config.txt" \
  || { log "agent config refused:"; cat "$WORK/check-config.txt" >&2; exit 1; }

# ---- run both ----------------------------------------------------------------------------

NE_PORT=9100
if port_busy "$NE_PORT"; then
  NE_PORT="$(free_port)"
  log "127.0.0.1:9100 is taken (a packaged node_exporter service?); using $NE_PORT"
fi
"$NODE_EXPORTER" --web.listen-address="127.0.0.1:$NE_PORT" >"$WORK/node_exporter.log" 2>&1 &
NE_PID=$!
PIDS+=("$NE_PID")
# The slim agent-only binary is what hosts run; FOOTPRINT_AGENT_BIN measures
# another build instead: a stratus-agent binary as is (e.g. one built with symbols
# for `perf record`), any other (the full stratus binary) as `<bin> agent ...`.
if [[ -n "${FOOTPRINT_AGENT_BIN:-}" && "$(basename "$FOOTPRINT_AGENT_BIN")" == stratus-agent ]]; then
  AGENT_CMD=("$FOOTPRINT_AGENT_BIN")
elif [[ -n "${FOOTPRINT_AGENT_BIN:-}" ]]; then
  AGENT_CMD=("$FOOTPRINT_AGENT_BIN" agent)
else
  AGENT_CMD=("$TARGET_DIR/agent/stratus-agent")
fi
AGENT_BIN="${AGENT_CMD[0]}"
# The environment packaging/stratus-agent.service gives the agent (and `stratus up` its child).
MALLOC_ARENA_MAX=1 \
  "${AGENT_CMD[@]}" --config "$WORK/agent.json" --credentials-file "$WORK/agent-credentials" >"$WORK/agent.stderr" 2>&1 &
AGENT_PID=$!
PIDS+=("$AGENT_PID")
# FOOTPRINT_PERF=FILE also samples the agent with `perf record` (software clock, call
# graphs from DWARF) for the whole run — build the agent with symbols for it to be useful.
if [[ -n "${FOOTPRINT_PERF:-}" ]]; then
  perf record -q -e cpu-clock -F 4000 --call-graph dwarf,16384 -p "$AGENT_PID" -o "$FOOTPRINT_PERF" \
    >"$WORK/perf.log" 2>&1 &
  PIDS+=($!)
fi

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# CPU seconds, user + system, of every thread the process ever had: utime and stime, fields
# 14 and 15 of /proc/PID/stat (counted after the ")" that ends the command name), in clock
# ticks. (/proc/PID/schedstat is more precise but covers the main thread only.)
CLK_TCK="$(getconf CLK_TCK)"
cpu_s() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk -v h="$CLK_TCK" '{print ($12 + $13) / h}'; }
alive() { kill -0 "$1" 2>/dev/null; }

log "measuring for ${SECONDS_TOTAL}s (collect/scrape every ${INTERVAL}s)"
agent_rss_max=0 ne_rss_max=0 scrapes=0 scrape_bytes=0
start=$(date +%s)
next_scrape=$start
while (( $(date +%s) - start < SECONDS_TOTAL )); do
  alive "$AGENT_PID" || { log "agent exited:"; tail -n 20 "$WORK/agent.log" "$WORK/agent.stderr" >&2; exit 1; }
  alive "$NE_PID" || { log "node_exporter exited:"; tail -n 20 "$WORK/node_exporter.log" >&2; exit 1; }
  now=$(date +%s)
  if (( now >= next_scrape )); then
    b=$(curl -s --max-time 5 "http://127.0.0.1:$NE_PORT/metrics" | wc -c)
    scrapes=$((scrapes + 1)); scrape_bytes=$b
    next_scrape=$((next_scrape + INTERVAL))
  fi
  a=$(rss_kib "$AGENT_PID"); n=$(rss_kib "$NE_PID")
  (( a > agent_rss_max )) && agent_rss_max=$a
  (( n > ne_rss_max )) && ne_rss_max=$n
  sleep "$SAMPLE_EVERY"
done
agent_rss_final=$(rss_kib "$AGENT_PID"); ne_rss_final=$(rss_kib "$NE_PID")
agent_rss_detail=$(awk '/^(RssAnon|RssFile):/ {printf "%s %.2f MiB  ", $1, $2/1024}' "/proc/$AGENT_PID/status")
# Where the agent's CPU went, per live thread (schedstat: nanoseconds on CPU).
agent_threads=$(for t in /proc/"$AGENT_PID"/task/*; do
  printf '%s=%.3fs ' "$(cat "$t/comm")" "$(awk '{print $1 / 1e9}' "$t/schedstat")"
done)
agent_cpu=$(cpu_s "$AGENT_PID"); ne_cpu=$(cpu_s "$NE_PID")

# What the agent achieved: series on the server, errors in its log.
series="?"
if [[ -x "$ROOT/.venv/current/bin/python" ]]; then
  series=$("$ROOT/.venv/current/bin/python" - "$ENDPOINT" "$WORK/data/credentials" <<'EOF' || echo "?"
import sys, boto3
s = boto3.session.Session(profile_name=None)
import configparser
cp = configparser.ConfigParser(); cp.read(sys.argv[2])
c = s.client("cloudwatch", endpoint_url=sys.argv[1], region_name="us-east-1",
             aws_access_key_id=cp["stratus"]["aws_access_key_id"],
             aws_secret_access_key=cp["stratus"]["aws_secret_access_key"])
n = 0
for page in c.get_paginator("list_metrics").paginate(Namespace="CWAgent"):
    n += len(page["Metrics"])
print(n)
EOF
)
fi
agent_errors=$(grep -c ' E! ' "$WORK/agent.log" 2>/dev/null || true)
agent_errors=${agent_errors:-0}

strip_copy="$WORK/agent.stripped"
cp "$AGENT_BIN" "$strip_copy"
strip "$strip_copy" 2>/dev/null || true

python3 - <<EOF
mib = lambda kib: kib / 1024
secs = $SECONDS_TOTAL
a_max, a_fin, a_cpu = $agent_rss_max, $agent_rss_final, $agent_cpu
n_max, n_fin, n_cpu = $ne_rss_max, $ne_rss_final, $ne_cpu
print(f"footprint over {secs} s: every host collector at a {$INTERVAL} s interval vs node_exporter scraped every {$INTERVAL} s")
print(f"{'':22}{'RSS max':>10}{'RSS final':>11}{'CPU s':>9}{'CPU %':>8}")
print(f"{'stratus agent':22}{mib(a_max):>7.2f} MiB{mib(a_fin):>7.2f} MiB{a_cpu:>9.3f}{100*a_cpu/secs:>7.3f}%")
print(f"{'prometheus-node-exp.':22}{mib(n_max):>7.2f} MiB{mib(n_fin):>7.2f} MiB{n_cpu:>9.3f}{100*n_cpu/secs:>7.3f}%")
ratio = lambda x, y: f"{x / y:.3f}" if y else "n/a"
print(f"agent RSS final: $agent_rss_detail")
print(f"agent CPU by thread: $agent_threads")
print(f"agent / node_exporter: RSS max {ratio(a_max, n_max)}, RSS final {ratio(a_fin, n_fin)}, CPU {ratio(a_cpu, n_cpu)}")
print(f"targets: RSS <= 6 MiB: {'met' if mib(a_max) <= 6 else 'NOT met'}; "
      f"CPU <= 1/3 of node_exporter's: {'met' if n_cpu and a_cpu <= n_cpu / 3 else 'NOT met'}")
print(f"agent binary: $(basename "$AGENT_BIN") {$(stat -c %s "$AGENT_BIN") / 2**20:.1f} MiB as built, {$(stat -c %s "$strip_copy") / 2**20:.1f} MiB stripped")
print(f"agent: {'$series'} CWAgent series on the server, {$agent_errors} error lines in its log; "
      f"node_exporter: {$scrapes} scrapes of {$scrape_bytes} bytes")
EOF
