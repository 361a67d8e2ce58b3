"""Back-to-back wiring of the LNS core and the testing LAC, with a settable clock, loss and
reordering (tests only)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from ipaddress import IPv4Address
from typing import Any

from pixgw.dataplane.interfaces import L2tpPeer
from pixgw.l2tp.core import L2tpLns, L2tpSettings
from pixgw.testing.l2tp_lac import L2tpLac

PEER = L2tpPeer(1, IPv4Address("198.51.100.7"), 4500, 1701)


def counting_random() -> Callable[[int], bytes]:
    counter = itertools.count(0x1234)

    def random_bytes(n: int) -> bytes:
        value: int = next(counter) * 0x9E3779B1 & (2 ** (8 * n) - 1)
        return value.to_bytes(n, "big")

    return random_bytes


class Link:
    """Moves datagrams between one LAC and the LNS. ``drop_to_lns``/``drop_to_lac`` decide
    per datagram (by index) whether it is lost; ``reorder`` swaps pairs going to the LNS."""

    def __init__(
        self,
        lns: L2tpLns | None = None,
        lac: L2tpLac | None = None,
        *,
        settings: L2tpSettings | None = None,
        peer: L2tpPeer = PEER,
    ) -> None:
        self.lns = lns or L2tpLns(settings or L2tpSettings(), random_bytes=counting_random())
        self.lac = lac or L2tpLac(random_bytes=counting_random())
        self.peer = peer
        self.now = 0.0
        self.drop_to_lns: Callable[[int, bytes], bool] = lambda i, d: False
        self.drop_to_lac: Callable[[int, bytes], bool] = lambda i, d: False
        self.reorder = False
        self.sent_to_lns = 0
        self.sent_to_lac = 0
        self.to_lac_log: list[bytes] = []
        self.events: list[Any] = []
        self.lac_dead = False

    def pump(self, rounds: int = 20) -> None:
        """Exchange datagrams at the current time until both sides are quiet (bounded)."""
        for _ in range(rounds):
            to_lns = self.lac.datagrams_to_send(self.now) if not self.lac_dead else []
            if self.reorder and len(to_lns) >= 2:
                to_lns[0], to_lns[1] = to_lns[1], to_lns[0]
            to_lac = self.lns.datagrams_to_send(self.now)
            for data in to_lns:
                index = self.sent_to_lns
                self.sent_to_lns += 1
                if not self.drop_to_lns(index, data):
                    self.lns.receive_datagram(data, self.peer, self.now)
            for data, peer in to_lac:
                assert peer == self.peer
                index = self.sent_to_lac
                self.sent_to_lac += 1
                self.to_lac_log.append(data)
                if not self.drop_to_lac(index, data) and not self.lac_dead:
                    self.lac.receive_datagram(data, self.now)
            while (event := self.lns.next_event()) is not None:
                self.events.append(event)
            if not to_lns and not to_lac:
                return

    def advance(self, seconds: float, step: float = 0.05) -> None:
        """Let time pass, firing both sides' timers (bounded in steps)."""
        end = self.now + seconds
        for _ in range(int(seconds / step) + 2):
            self.pump()
            deadlines = [t for t in (self.lns.get_timer(), self.lac.get_timer()) if t is not None]
            nxt = min([end, *deadlines])
            self.now = max(self.now, min(nxt, end))
            self.lns.handle_timer(self.now)
            if not self.lac_dead:
                self.lac.handle_timer(self.now)
            self.pump()
            due = self.lns.get_timer()
            assert due is None or due > self.now, f"LNS timer stuck at {due} (now {self.now})"
            if self.now >= end:
                return
            if nxt <= self.now:
                self.now = min(end, self.now + step)

    def establish(self, *, call: bool = True) -> None:
        self.lac.start_tunnel(self.now)
        self.pump()
        if call:
            self.lac.place_call(self.now)
            self.pump()
        self.advance(0.5)
