"""The one benchmark command (issue 9): IKEv1 setups/s in process and against strongSwan
(RFC 2409), packets/s through the userspace path per transform (RFC 4303/3948, RFC 2661,
RFC 1661), N concurrent sessions; prints a table and writes JSON. Prints, never asserts a time.

    .venv/bin/python bench/run.py [--json PATH] [--quick] [--sessions N,N,..] [--no-strongswan]
                                  [--profile]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_path
import bench_setup
import strongswan


def table(title: str, rows: list[dict[str, Any]]) -> str:
    if not rows:
        return f"== {title}: (none)\n"
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    widths = {k: max(len(k), *(len(str(r.get(k, ""))) for r in rows)) for k in keys}
    lines = [f"== {title}", "  ".join(k.rjust(widths[k]) for k in keys)]
    lines += ["  ".join(str(r.get(k, "")).rjust(widths[k]) for k in keys) for r in rows]
    return "\n".join(lines) + "\n"


SESSION_COUNTS = (1000, 5000, 10000)


def sessions_run(n: int, idle_seconds: float) -> dict[str, Any]:
    """bench_sessions for N sessions in a process of its own: RSS per session is then not
    flattered by memory an earlier run freed (the heap does not shrink)."""
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve().parent / "bench_sessions.py"),
         "--sessions", str(n), "--idle", str(idle_seconds), "--budget", "900", "--json"],
        capture_output=True, text=True, timeout=1800, check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run_all(*, quick: bool = False, sessions: tuple[int, ...] | None = None,
            with_strongswan: bool = True,
            profile: bool = False) -> dict[str, Any]:
    seconds = 0.05 if quick else 2.0
    result: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_before": os.getloadavg()},
    }
    result["ike_in_process"] = bench_setup.run(seconds=seconds, groups=(2, 14, 19),
                                               max_setups=2 if quick else 100000)
    result["path"] = bench_path.run(seconds=0.02 if quick else 1.0)
    counts = sessions if sessions is not None else ((3,) if quick else SESSION_COUNTS)
    result["sessions"] = [sessions_run(n, idle_seconds=5.0 if quick else 120.0) for n in counts]
    if with_strongswan:
        # 4 x 250 setups per target and group: a few seconds each, so that scheduling noise
        # on a shared machine does not decide the ratio (4 x 50 took well under a second)
        result["strongswan"] = strongswan.run(groups=(2, 14, 19), initiators=4,
                                              iterations=250, timeout=120.0)
    if profile:
        import profiles  # deferred: cProfile only when asked

        result["profiles"] = {name: profiles.summary(name, fn, 12)
                              for name, fn in profiles.PROFILED.items()}
    result["machine"]["load_after"] = os.getloadavg()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", default=str(Path(__file__).resolve().parent / "results.json"))
    ap.add_argument("--quick", action="store_true", help="tiny sizes (CI: it runs, no figures)")
    ap.add_argument("--sessions", default=None,
                    help="session counts, comma-separated (default 1000,5000,10000; each its "
                         "own process)")
    ap.add_argument("--no-strongswan", action="store_true")
    ap.add_argument("--profile", action="store_true", help="add cProfile summaries")
    args = ap.parse_args()
    counts = tuple(int(n) for n in args.sessions.split(",")) if args.sessions else None
    r = run_all(quick=args.quick, sessions=counts,
                with_strongswan=not args.no_strongswan, profile=args.profile)
    print(f"machine: {r['machine']}")
    print(table("IKEv1 MM+QM PSK in process (testing initiator, both sides in one process)",
                r["ike_in_process"]))
    print(table("userspace path, 1400-byte packets, pkts/s (ESP->L2TP->PPP->TUN and back)",
                r["path"]))
    print(table("concurrent sessions (IKE+ESP+L2TP+PPP+local AAA)", r["sessions"]))
    if "strongswan" in r:
        print(table("IKEv1 MM+QM PSK, strongSwan load-tester initiator: pixgw vs strongSwan",
                    r["strongswan"]))
    for name, text in r.get("profiles", {}).items():
        print(f"#### profile {name}\n{text}")
    Path(args.json).write_text(json.dumps(r, indent=2))
    print(f"JSON: {args.json}")


if __name__ == "__main__":
    main()
