#!/bin/bash
# Installs pixgw and everything it and its tests need on Debian 12, as root. Idempotent.
#   scripts/setup.sh install   Debian packages (scripts/apt-packages.txt) + .venv with pixgw[test]
#   scripts/setup.sh start     install, then run the gateway on etc/pixgw.conf in the foreground
#   scripts/setup.sh test      install, then ruff, mypy --strict and the whole pytest suite
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
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[test]' --config-settings editable_mode=compat
}

case "${1:-}" in
  install)
    install ;;
  start)
    install
    mkdir -p /run/pixgw /var/lib/pixgw
    exec .venv/bin/twistd -n --pidfile= pixgw --config "$HERE/etc/pixgw.conf" \
      --control unix:/run/pixgw/control --state-dir /var/lib/pixgw ;;
  test)
    install
    echo "== ruff"; .venv/bin/ruff check pixgw tests bench twisted
    echo "== mypy --strict"; .venv/bin/mypy pixgw
    echo "== pytest"; exec .venv/bin/pytest -q -p no:randomly --durations=30 tests ;;
  *)
    echo "usage: $0 install|start|test" >&2; exit 2 ;;
esac
