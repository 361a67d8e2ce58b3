"""The L2TP shell on ``task.Clock``: setup, hello answered, the client vanishing."""

from __future__ import annotations

from typing import Any

from twisted.internet.task import Clock

from pixgw.dataplane.interfaces import L2tpPeer
from pixgw.l2tp.core import L2tpLns, L2tpSettings, SessionEstablished, TunnelClosed
from pixgw.l2tp.transport import ReactorLns
from pixgw.testing.l2tp_lac import L2tpLac
from tests.protocol.l2tp_link import PEER, counting_random


class Harness:
    def __init__(self, hello: float = 60.0) -> None:
        self.clock = Clock()
        self.events: list[Any] = []
        self.lac = L2tpLac(random_bytes=counting_random())
        self.lac_alive = True
        self.shell = ReactorLns(
            L2tpLns(L2tpSettings(hello_interval=hello), random_bytes=counting_random()),
            clock=self.clock,
            send_l2tp=self.to_lac,
            deliver=self.events.append,
        )

    def to_lac(self, peer: L2tpPeer, data: bytes) -> None:
        assert peer == PEER
        if self.lac_alive:
            self.lac.receive_datagram(data, self.clock.seconds())
            self.clock.callLater(0, self.from_lac)

    def from_lac(self) -> None:
        if not self.lac_alive:
            return
        self.lac.handle_timer(self.clock.seconds())
        for data in self.lac.datagrams_to_send(self.clock.seconds()):
            self.shell.l2tp_received(PEER, data)

    def run(self, seconds: float, step: float = 0.1) -> None:
        for _ in range(int(seconds / step)):
            self.from_lac()
            self.clock.advance(step)


def test_setup_and_hello_with_a_clock():
    h = Harness(hello=30)
    h.lac.start_tunnel(0.0)
    h.from_lac()
    h.run(1)
    h.lac.place_call(h.clock.seconds())
    h.run(2)
    assert any(isinstance(e, SessionEstablished) for e in h.events)
    h.run(100)  # three hellos answered
    assert not any(isinstance(e, TunnelClosed) for e in h.events)
    assert h.shell.lns.tunnel_status()[0].state == "established"


def test_client_vanishing_is_noticed_by_hello_and_retransmission():
    h = Harness(hello=30)
    h.lac.start_tunnel(0.0)
    h.from_lac()
    h.run(1)
    h.lac.place_call(h.clock.seconds())
    h.run(2)
    h.lac_alive = False
    gone_at = h.clock.seconds()
    for _ in range(1000):
        if any(isinstance(e, TunnelClosed) for e in h.events):
            break
        h.clock.advance(0.5)
    closed = [e for e in h.events if isinstance(e, TunnelClosed)]
    assert closed and closed[0].reason == "retransmission limit"
    assert 30 + 31 - 3 <= h.clock.seconds() - gone_at <= 30 + 31 + 1
    assert h.shell.lns.tunnel_status() == ()
    assert h.clock.getDelayedCalls() == []  # nothing left scheduled


def test_stop_cancels_the_timer():
    h = Harness()
    h.lac.start_tunnel(0.0)
    h.from_lac()
    timer = h.shell._timer
    assert timer is not None and timer in h.clock.getDelayedCalls()
    h.shell.stop()
    assert h.shell._timer is None and timer not in h.clock.getDelayedCalls()
