"""Many deadlines behind one timer: a heap with lazy deletion (no I/O, no clock).

The gateway keeps one deadline per PPP session here and one reactor timer at
:meth:`Deadlines.earliest`, instead of one DelayedCall per session; the sans-I/O cores keep
theirs here too (the IKE responder per phase-1 SA, quick mode and child SA, the L2TP LNS per
tunnel) and give the earliest as their ``get_timer()``. Setting, moving or
cancelling a deadline costs O(log n), finding the earliest is O(1) amortised, and a timer
that fires looks only at what is due. A moved or cancelled deadline leaves its old heap
entry behind; the entry is recognised as stale (its sequence number is no longer the
key's) and skipped, and the heap is rebuilt when stale entries outnumber live ones.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["Deadlines"]

K = TypeVar("K", bound=Hashable)


class Deadlines(Generic[K]):
    """One deadline (a time) per key; the earliest and the due ones, in time order."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, K]] = []
        self._live: dict[K, tuple[float, int]] = {}  # key -> (when, sequence number)
        self._seq = 0

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, key: K) -> bool:
        return key in self._live

    def get(self, key: K) -> float | None:
        entry = self._live.get(key)
        return None if entry is None else entry[0]

    def set(self, key: K, when: float | None) -> None:
        """*key* is due at *when* (None: no deadline), replacing any earlier setting."""
        if when is None:
            self.cancel(key)
            return
        current = self._live.get(key)
        if current is not None and current[0] == when:
            return
        self._seq += 1
        self._live[key] = (when, self._seq)
        heapq.heappush(self._heap, (when, self._seq, key))
        if len(self._heap) > 2 * len(self._live) + 64:
            self._rebuild()

    def cancel(self, key: K) -> None:
        self._live.pop(key, None)

    def earliest(self) -> float | None:
        """The earliest live deadline, or None when there is none."""
        heap = self._heap
        while heap and not self._is_live(heap[0]):
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def pop_due(self, now: float) -> list[K]:
        """The keys due at *now* (deadline <= now), earliest first; they are removed."""
        heap = self._heap
        due: list[K] = []
        while heap and heap[0][0] <= now:
            entry = heapq.heappop(heap)
            if self._is_live(entry):
                del self._live[entry[2]]
                due.append(entry[2])
        return due

    def _is_live(self, entry: tuple[float, int, K]) -> bool:
        current = self._live.get(entry[2])
        return current is not None and current[1] == entry[1]

    def _rebuild(self) -> None:
        self._heap = [(when, seq, key) for key, (when, seq) in self._live.items()]
        heapq.heapify(self._heap)
