"""(Named profiles.py, not profile.py: that name would shadow the stdlib module cProfile
imports.) cProfile summaries for each benchmark: where the time goes in IKE setups (RFC 2409), the
userspace packet path (RFC 4303/3948 -> RFC 2661 -> RFC 1661) and concurrent sessions.
Prints the top functions by own time and by cumulative time. Prints, never asserts.

    .venv/bin/python bench/profiles.py [--which setup,path,sessions] [--top 15]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_path
import bench_sessions
import bench_setup

PROFILED: dict[str, Callable[[], Any]] = {
    "setup": lambda: bench_setup.run(seconds=1.0, groups=(14,)),
    "path": lambda: bench_path.run(seconds=0.5),
    "sessions": lambda: bench_sessions.run(sessions=50, group=2, idle_seconds=60.0),
}


def summary(name: str, fn: Callable[[], Any], top: int = 15) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs()
    out.write(f"==== {name}: top {top} by own time\n")
    stats.sort_stats("tottime").print_stats(top)
    out.write(f"==== {name}: top {top} by cumulative time\n")
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--which", default="setup,path,sessions")
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args()
    for name in args.which.split(","):
        print(summary(name, PROFILED[name], args.top))


if __name__ == "__main__":
    main()
