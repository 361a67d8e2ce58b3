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

from pixgw.gcpolicy import GcPolicy


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def run(
    sessions: int = 50, group: int = 2, idle_seconds: float = 120.0, budget: float = 900.0,
    spread: bool = False, *, gc_policy: bool = True,
) -> dict[str, Any]:
    gc.collect()
    world = GatewayWorld(group, pool_size=max(sessions + 8, 16))
    gc.collect()
    # the collector's pauses, per phase, with the gateway's policy (twistd installs it) or not
    policy = GcPolicy(freeze=gc_policy)
    policy.install()
    phases: dict[str, Any] = {}

    def phase(name: str) -> None:
        st = policy.status()
        phases[name] = {"longest_pause_ms": st["longest_pause_ms"],
                        "longest_pause_cpu_ms": st["longest_pause_cpu_ms"],
                        "collections": st["collections"], "total_pause_ms": st["total_pause_ms"]}
        policy.longest_pause, policy.longest_pause_cpu = 0.0, 0.0
        policy.collections, policy.total_pause = [0, 0, 0], 0.0
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
    phase("setup")
    frozen_after_setup = gc.get_freeze_count()
    rss1 = rss_kib()
    # idle: simulated seconds with hellos (60 s) and the gateway's echoes; CPU per simulated second
    cpu0 = time.process_time()
    world.gateway_cpu = 0.0
    world.advance(idle_seconds, step=1.0)
    idle_cpu = time.process_time() - cpu0
    idle_gateway_cpu = world.gateway_cpu
    phase("idle")
    alive = sum(1 for cl in world.clients if cl.ppp.up)
    start = time.perf_counter()
    now = world.clock.seconds()
    for cl in world.clients:
        cl.lac.stop(now)
    world.settle(world.clients, rounds=20)
    teardown_s = time.perf_counter() - start
    phase("teardown")
    left = len(world.gateway.sessions)
    world.close()
    world.clients.clear()
    leaked = policy.leak_check()  # cycles frozen and dead since: what the policy would leak
    policy.uninstall()
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
        "gc_policy": "freeze after gen1" if gc_policy else "CPython default",
        "gc_setup": phases["setup"],
        "gc_idle": phases["idle"],
        "gc_teardown": phases["teardown"],
        "gc_frozen_objects_after_setup": frozen_after_setup,
        "gc_cyclic_garbage_left": leaked,
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
    ap.add_argument("--no-gc-policy", action="store_true",
                    help="CPython's collector as it is (no freezing), to compare pauses")
    ap.add_argument("--json", action="store_true", help="print the result as one JSON line")
    args = ap.parse_args()
    r = run(min(args.sessions, 10000), args.group, args.idle, args.budget, args.spread,
            gc_policy=not args.no_gc_policy)
    if args.json:
        print(json.dumps(r))
        return
    for k, v in r.items():
        print(f"{k:24} {v}")


if __name__ == "__main__":
    main()
