"""N concurrent established sessions (IKEv1 MM+QM, ESP SA, L2TP tunnel + session, PPP with
MS-CHAPv2 against local AAA, IPCP address from the pool) in one gateway process: setup rate,
RSS per session, CPU while idle (L2TP hellos and LCP echoes only), time to tear all down.
Exchanges move in memory under a task.Clock (RFC 2409, RFC 2661, RFC 1661). Prints, never asserts.

    .venv/bin/python bench/bench_sessions.py [--sessions 50] [--group 2] [--idle 120]
        [--budget 900] [--spread]

With --spread the simulated clock advances with the real setup time (a burst of clients at
the measured setup rate: their echo timers spread out); by default every session is set up at
simulated time 0 and all echoes fall in the same second (the worst case). Idle CPU is given
twice: the whole process (the gateway and its in-process clients, whose
timers are polled every simulated second) and the gateway's own share (its timers and the
datagrams handed to it). Setup stops early when --budget seconds of setup have passed.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway_harness import GatewayWorld


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def run(
    sessions: int = 50, group: int = 2, idle_seconds: float = 120.0, budget: float = 900.0,
    spread: bool = False,
) -> dict[str, Any]:
    gc.collect()
    world = GatewayWorld(group, pool_size=max(sessions + 8, 16))
    gc.collect()
    rss0 = rss_kib()
    start = time.perf_counter()
    up = 0
    for n in range(sessions):
        if world.connect(n, group) is not None:
            up += 1
        if spread:  # the simulated clock follows the setups: their echo timers spread out
            world.tick(max(0.0, time.perf_counter() - start - world.clock.seconds()))
        if time.perf_counter() - start > budget:
            break
    setup_s = time.perf_counter() - start
    gc.collect()
    rss1 = rss_kib()
    # idle: simulated seconds with hellos (60 s) and the gateway's echoes; CPU per simulated second
    cpu0 = time.process_time()
    world.gateway_cpu = 0.0
    world.advance(idle_seconds, step=1.0)
    idle_cpu = time.process_time() - cpu0
    idle_gateway_cpu = world.gateway_cpu
    alive = sum(1 for cl in world.clients if cl.ppp.up)
    start = time.perf_counter()
    now = world.clock.seconds()
    for cl in world.clients:
        cl.lac.stop(now)
    world.settle(world.clients, rounds=20)
    teardown_s = time.perf_counter() - start
    left = len(world.gateway.sessions)
    world.close()
    return {
        "sessions": sessions,
        "group": group,
        "setup_in_simulated_time": "spread" if spread else "at once",
        "established": up,
        "setup_seconds": round(setup_s, 3),
        "setups_per_second": round(up / setup_s, 1) if setup_s else 0.0,
        "rss_kib_per_session": round((rss1 - rss0) / max(up, 1), 1),
        "idle_simulated_seconds": idle_seconds,
        "idle_cpu_percent": round(100 * idle_cpu / idle_seconds, 3),
        "idle_gateway_cpu_percent": round(100 * idle_gateway_cpu / idle_seconds, 3),
        "alive_after_idle": alive,
        "teardown_seconds": round(teardown_s, 3),
        "sessions_left": left,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--group", type=int, default=2)
    ap.add_argument("--idle", type=float, default=120.0)
    ap.add_argument("--budget", type=float, default=900.0, help="seconds of setup at most")
    ap.add_argument("--spread", action="store_true",
                    help="advance the simulated clock with the setups (as a real burst of "
                         "clients would: echo timers spread out) instead of all at time 0")
    ap.add_argument("--json", action="store_true", help="print the result as one JSON line")
    args = ap.parse_args()
    r = run(min(args.sessions, 10000), args.group, args.idle, args.budget, args.spread)
    if args.json:
        print(json.dumps(r))
        return
    for k, v in r.items():
        print(f"{k:24} {v}")


if __name__ == "__main__":
    main()
