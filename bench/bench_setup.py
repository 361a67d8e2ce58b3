"""IKEv1 main mode + quick mode setups per second in-process (RFC 2409 §5.4 PSK main mode,
§5.5 quick mode), PSK, per DH group, driven by the testing initiator back to back through
:class:`IkeResponder` (the IKE engineer's ``bench_ike.one_setup``). Reports the whole rate (both
sides' DH in one process) and the responder's own capacity (1 / responder time per setup), which
is the figure comparable with an external load generator. Prints, never asserts.

    .venv/bin/python bench/bench_setup.py [--seconds 2.0] [--groups 2,14,19]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from pixgw.ike.core import IkeResponder

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ike import config, one_setup


def run(seconds: float = 2.0, groups: tuple[int, ...] = (2, 14, 19),
        max_setups: int = 100000) -> list[dict[str, Any]]:
    rows = []
    for group in groups:
        responder = IkeResponder(config(group), random_bytes=os.urandom)
        timing: list[float] = []
        n = 0
        start = time.perf_counter()
        while (n == 0 or time.perf_counter() - start < seconds) and n < max_setups:
            one_setup(responder, group, n, timing)
            n += 1
        elapsed = time.perf_counter() - start
        per = sum(timing) / n
        rows.append({"group": group, "setups": n, "setups_per_second": round(n / elapsed, 1),
                     "responder_ms_per_setup": round(1000 * per, 3),
                     "responder_capacity_per_second": round(1 / per, 1)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--groups", default="2,14,19")
    args = ap.parse_args()
    print(f"{'group':>5} {'setups':>7} {'setups/s':>9} {'resp ms/setup':>14} {'resp setups/s':>14}")
    for r in run(args.seconds, tuple(int(g) for g in args.groups.split(","))):
        print(f"{r['group']:>5} {r['setups']:>7} {r['setups_per_second']:>9} "
              f"{r['responder_ms_per_setup']:>14} {r['responder_capacity_per_second']:>14}")


if __name__ == "__main__":
    main()
