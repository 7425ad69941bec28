#!/usr/bin/env bash
# CI check of the .deb (scripts/test step `deb`; needs root on Debian): builds it
# (packaging/build-deb.sh), installs it with dpkg -i, checks what the maintainer
# scripts made, verifies both systemd units with systemd-analyze verify, runs the
# installed binaries (--version, --check-config on the shipped example config),
# then purges it again. Ends with "deb checks: N passed, M failed".
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [[ $(id -u) -ne 0 ]]; then
  echo "check-deb: dpkg -i needs root (CI runs as root); run it as root" >&2
  exit 1
fi

passed=0
failed=0
check() { # check DESCRIPTION CMD...: run, count, show the output of a failure
  local what="$1" out rc
  shift
  out="$("$@" 2>&1)"
  rc=$?
  if [[ $rc -eq 0 ]]; then
    passed=$((passed + 1))
    echo "ok   $what"
  else
    failed=$((failed + 1))
    echo "FAIL $what (exit $rc)"
    sed 's/^/     /' <<<"$out"
  fi
}
finish() {
  echo "deb checks: $passed passed, $failed failed"
  [[ $failed -eq 0 ]]
  exit $?
}

packaging/build-deb.sh --fast || { failed=$((failed + 1)); echo "FAIL building the .deb"; finish; }
deb="$(ls -t target/debian/stratus_*.deb | head -n 1)"
echo "package: $deb ($(du -h "$deb" | cut -f1))"

if dpkg -s stratus >/dev/null 2>&1; then
  echo "check-deb: a stratus package is installed already; purging it first"
  dpkg --purge stratus >/dev/null
fi
check "dpkg -i installs it" dpkg -i "$deb"

check "/usr/bin/stratus-agent and /usr/bin/stratus are executable" \
  test -x /usr/bin/stratus-agent -a -x /usr/bin/stratus
check "postinst created the stratus system user" getent passwd stratus
check "postinst: /var/lib/stratus is stratus's, 0750" \
  bash -c '[[ "$(stat -c "%U %a" /var/lib/stratus)" == "stratus 750" ]]'
check "postinst: /etc/stratus/credentials is root's, 0600" \
  bash -c '[[ "$(stat -c "%U %a" /etc/stratus/credentials)" == "root 600" ]]'

# systemd-analyze verify works without systemd running (as in a container): it
# parses the unit and checks its directives and that ExecStart's binary exists.
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "check-deb: installing systemd for systemd-analyze"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q systemd >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q systemd >/dev/null; }
fi
units="$(dpkg -L stratus | grep -E '/systemd/system/[^/]+\.service$' || true)"
check "the package ships the server and agent units" \
  bash -c "grep -q stratus-server.service <<<'$units' && grep -q stratus-agent.service <<<'$units'"
for unit in $units; do
  # verify prints problems but may exit 0 on some of them: any output is a failure.
  check "systemd-analyze verify $unit" \
    bash -c "out=\$(systemd-analyze verify '$unit' 2>&1); rc=\$?; [[ -n \"\$out\" ]] && echo \"\$out\"; [[ \$rc -eq 0 && -z \"\$out\" ]]"
done

check "stratus-agent --version" /usr/bin/stratus-agent --version
check "stratus --version" /usr/bin/stratus --version
# IMDS pointed at a closed loopback port: the check must not reach for 169.254.169.254.
check "stratus-agent --check-config on the shipped example config" \
  env STRATUS_IMDS_ENDPOINT=http://127.0.0.1:9 \
  /usr/bin/stratus-agent --check-config /etc/stratus/amazon-cloudwatch-agent.json

check "dpkg --purge removes it" dpkg --purge stratus
check "purge removed the binaries and the agent's spool" \
  bash -c '! test -e /usr/bin/stratus-agent && ! test -e /var/lib/stratus-agent'
finish
