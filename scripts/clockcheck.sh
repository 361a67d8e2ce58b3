#!/bin/bash
# The clock check: runs the given pytest arguments (default: tests/unit) under libfaketime twice -
#   1. the wall clock moved 400 days ahead for the whole run (no test may depend on today's date);
#   2. the clock jumping 2 hours forward between collection and the run (tests/conftest.py writes
#      PIXGW_CLOCK_JUMP into FAKETIME_TIMESTAMP_FILE when collection is over): no test may keep a
#      time read at import and compare it with the time it runs (a long CI run is such a gap).
# --jump-only: the second run only (what CI runs, on tests/unit).
# Needs the faketime package (scripts/apt-packages.txt). Exits non-zero if either run fails.
set -euo pipefail
cd "$(dirname "$0")/.."
LIB=$(dpkg -L libfaketime 2>/dev/null | grep '/libfaketime.so.1$' | head -1)
[ -n "$LIB" ] || { echo "clockcheck: libfaketime is not installed" >&2; exit 2; }
JUMP_ONLY=0
if [ "${1:-}" = --jump-only ]; then JUMP_ONLY=1; shift; fi
[ $# -gt 0 ] || set -- tests/unit
stamp=$(mktemp)
trap 'rm -f "$stamp"' EXIT
if [ $JUMP_ONLY = 0 ]; then
  echo "== clockcheck: the date moved +400 days"
  FAKETIME="+400d" LD_PRELOAD="$LIB" .venv/bin/pytest -q -p no:randomly "$@"
fi
echo "== clockcheck: the clock jumps +2 hours between collection and the run"
echo "+0" >"$stamp"
FAKETIME_TIMESTAMP_FILE="$stamp" FAKETIME_NO_CACHE=1 PIXGW_CLOCK_JUMP="+2h" LD_PRELOAD="$LIB" \
  .venv/bin/pytest -q -p no:randomly "$@"
