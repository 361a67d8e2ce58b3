"""Short garbage-collector pauses with many sessions (issue 30).

CPython's cyclic collector walks every tracked object of a generation when it collects it: at
10,000 sessions the oldest generation holds ~1.7 million objects and a full collection stops
the process for about a second - every client's traffic with it. Nearly all of those objects
live as long as their session and are freed by reference counting when it ends (a session has
no reference cycle: :func:`pixgw.ppp.fsm.weak_hook`, checked by a test), so the collector has
nothing to find among them.

:class:`GcPolicy` therefore moves what survives the young collections out of the collector's
sight (``gc.freeze()``, an O(1) list splice) each time generation 1 has been collected: the
oldest generation stays small and a full collection costs what a young one does. Objects that
are frozen are still freed by reference counting; only a reference cycle that dies after it was
frozen stays until the gateway is idle (none is made per session; :meth:`GcPolicy.leak_check`
frees them, and twistd runs it every ten minutes when no session is up).
It also keeps the longest pause and the collections per generation for ``show memory``.
"""

from __future__ import annotations

import gc
import time
from typing import Any

__all__ = ["GcPolicy"]


class GcPolicy:
    """Installed once per process (:meth:`install`); :meth:`uninstall` puts things back."""

    def __init__(self, *, freeze: bool = True) -> None:
        self.freeze = freeze
        self.freezes = 0
        self.swept = 0  # objects of dead frozen cycles freed by leak_check
        self.collections = [0, 0, 0]
        self.longest_pause = 0.0  # seconds, wall clock (what clients wait)
        self.longest_pause_cpu = 0.0  # seconds of this thread's CPU (without the scheduler's share)
        self.longest_generation = 0
        self.total_pause = 0.0
        self._started = 0.0
        self._started_cpu = 0.0
        self._installed = False

    def install(self) -> None:
        if self._installed:
            return
        self._installed = True
        gc.callbacks.append(self._callback)
        if self.freeze:
            gc.collect()  # what is garbage now goes before the rest is set aside
            gc.freeze()
            self.freezes += 1

    def uninstall(self) -> None:
        if not self._installed:
            return
        self._installed = False
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)
        if self.freeze:
            gc.unfreeze()

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            self._started_cpu = time.thread_time()
            return
        pause = time.perf_counter() - self._started
        self.longest_pause_cpu = max(self.longest_pause_cpu, time.thread_time() - self._started_cpu)
        generation = int(info.get("generation", 0))
        self.collections[generation] += 1
        self.total_pause += pause
        if pause > self.longest_pause:
            self.longest_pause, self.longest_generation = pause, generation
        if self.freeze and generation >= 1:
            gc.freeze()  # the survivors of the young collections: out of the collector's sight
            self.freezes += 1

    def leak_check(self) -> int:
        """Objects in reference cycles that were frozen and have died since (a full collection
        of everything: a long pause; for tests and benchmarks, not for a running gateway)."""
        gc.unfreeze()
        found = gc.collect()
        if self.freeze and self._installed:
            gc.freeze()
        self.swept += found
        return found

    def status(self) -> dict[str, Any]:
        return {
            "longest_pause_ms": round(1000 * self.longest_pause, 2),
            "longest_pause_generation": self.longest_generation,
            "longest_pause_cpu_ms": round(1000 * self.longest_pause_cpu, 2),
            "collections": tuple(self.collections),
            "total_pause_ms": round(1000 * self.total_pause, 1),
            "frozen_objects": gc.get_freeze_count(),
            "freezes": self.freezes,
            "swept": self.swept,
        }
