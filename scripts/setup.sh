#!/bin/bash
# Installs pixgw and everything it and its tests need on Debian 12, as root. Idempotent.
#   scripts/setup.sh install   Debian packages (scripts/apt-packages.txt) + .venv with pixgw[test]
#   scripts/setup.sh start     install, then run the gateway on etc/pixgw.conf in the foreground
#   scripts/setup.sh test      install, then ruff, mypy --strict and the whole pytest suite, the
#                              fast tiers first, and the fuzzers' short mode (scripts/fuzz.py);
#                              prints the wall time of each step at the end
#   scripts/setup.sh quick     the inner loop (no install, no root, no QEMU): ruff, mypy --strict,
#                              unit + protocol + fuzz tests not marked root (a few minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
HERE=$(pwd)
export DEBIAN_FRONTEND=noninteractive

install() {
  local missing=() p
  while read -r p; do
    case "$p" in ''|'#'*) continue ;; esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done < scripts/apt-packages.txt
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    apt-get -o DPkg::Lock::Timeout=600 update -q
    apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"
  fi
  # The services the tests start themselves (FreeRADIUS, slapd, scepserver, charon) must not be
  # left running by their packages' postinst scripts on a machine that has an init system.
  for svc in freeradius slapd strongswan-starter ipsec; do
    if [ -x "/etc/init.d/$svc" ] && pgrep -f "$svc" >/dev/null 2>&1; then
      "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
    fi
  done
  [ -x .venv/bin/python ] || python3 -m venv .venv
  # pip reaches the package registry only when what it would install changed (setup.cfg,
  # pyproject.toml) or is missing: once installed, `start` needs no network.
  local stamp=.venv/.pixgw-installed want
  want=$(cat setup.cfg pyproject.toml | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] \
      || ! .venv/bin/python -c 'import pixgw, pytest_timeout' >/dev/null 2>&1; then
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -e '.[test]'  # the default editable mode finds the twistd plugin
    echo "$want" >"$stamp"
  fi
  # Twisted's plugin cache (twisted/plugins/dropin.cache) made now; a stale one is harmless
  .venv/bin/python -c 'from twisted.plugin import IPlugin, getPlugins; list(getPlugins(IPlugin))' \
    >/dev/null 2>&1 || true
}

# Timed steps: each runs, its wall time is kept, and the table is printed at the end (also
# when a step fails: the first failing step ends the run).
STEPS=()
T_START=$(date +%s)
report() {
  local rc=$? line
  echo
  echo "== where the time went"
  for line in "${STEPS[@]}"; do echo "$line"; done
  printf '%-34s %6d s\n' "total" $(( $(date +%s) - T_START ))
  [ $rc -eq 0 ] || echo "== FAILED (exit $rc)"
}
step() {
  local name=$1 t0 rc=0
  shift
  echo "== $name"
  t0=$(date +%s)
  "$@" || rc=$?
  STEPS+=("$(printf '%-34s %6d s%s' "$name" $(( $(date +%s) - t0 )) "$([ $rc -eq 0 ] || echo "  FAILED")")")
  return $rc
}
PYTEST=(.venv/bin/pytest -q -p no:randomly)

case "${1:-}" in
  install)
    install ;;
  start)
    install
    mkdir -p /run/pixgw /var/lib/pixgw
    exec .venv/bin/twistd -n --pidfile= pixgw --config "$HERE/etc/pixgw.conf" \
      --control unix:/run/pixgw/control --state-dir /var/lib/pixgw ;;
  test)
    trap report EXIT
    step "install" install
    step "ruff" .venv/bin/ruff check pixgw tests bench twisted
    step "mypy --strict" .venv/bin/mypy pixgw
    step "tests/unit" "${PYTEST[@]}" tests/unit
    step "tests/protocol" "${PYTEST[@]}" tests/protocol
    step "tests/fuzz" "${PYTEST[@]}" tests/fuzz
    step "fuzz, coverage-guided (short)" .venv/bin/python scripts/fuzz.py --corpus "$(mktemp -d)"
    step "clock check (tests/unit, +2 h jump)" bash scripts/clockcheck.sh --jump-only tests/unit
    for v in client gateway libreswan; do
      step "guest image: $v" .venv/bin/python -m tests.interop.qemu.build "$v"
    done
    # one session for the interop suite (the guests boot once); it prints grid vs the rest
    step "tests/interop" "${PYTEST[@]}" --durations=30 tests/interop ;;
  quick)
    trap report EXIT
    step "ruff" .venv/bin/ruff check pixgw tests bench twisted
    step "mypy --strict" .venv/bin/mypy pixgw
    step "unit + protocol + fuzz (not root)" "${PYTEST[@]}" -m "not root" tests/unit \
      tests/protocol tests/fuzz ;;
  *)
    echo "usage: $0 install|start|test|quick" >&2; exit 2 ;;
esac
