"""The L2TP shell: an :class:`~pixgw.l2tp.core.L2tpLns` run on the reactor's clock.

RFC 2661 runs over UDP port 1701 (§8.1); here the datagrams come from and go to the
dataplane (``IDataplane.start(l2tp_received, ...)`` and ``IDataplane.send_l2tp``), which has
already removed or will add ESP. This shell only feeds the core, flushes what it sends, hands
its events to the gateway and keeps one ``callLater`` for :meth:`L2tpLns.get_timer`.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IDelayedCall, IReactorTime

from pixgw.dataplane.interfaces import L2tpPeer
from pixgw.l2tp.core import Event, L2tpLns, SessionKey, TunnelKey

__all__ = ["ReactorLns"]


class ReactorLns:
    """Glue between the sans-I/O LNS, the dataplane and the reactor's clock."""

    def __init__(
        self,
        lns: L2tpLns,
        *,
        clock: IReactorTime,
        send_l2tp: Callable[[L2tpPeer, bytes], None],
        deliver: Callable[[Event], None],
    ) -> None:
        self.lns = lns
        self._clock = clock
        self._send_l2tp = send_l2tp
        self._deliver = deliver
        self._timer: IDelayedCall | None = None
        self._stopped = False

    def l2tp_received(self, peer: L2tpPeer, data: bytes) -> None:
        """The dataplane's ``l2tp_received`` callable."""
        self.lns.receive_datagram(data, peer, self._clock.seconds())
        self._service()

    def send_ppp(self, key: SessionKey, frame: bytes) -> None:
        self.lns.send_ppp(key, frame, self._clock.seconds())
        self._service()

    def close_session(self, key: SessionKey, result_code: int, message: str = "") -> None:
        self.lns.close_session(key, result_code, self._clock.seconds(), message)
        self._service()

    def close_tunnel(self, key: TunnelKey, result_code: int, message: str = "") -> None:
        self.lns.close_tunnel(key, result_code, self._clock.seconds(), message)
        self._service()

    def stop(self) -> None:
        self._stopped = True
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _on_timer(self) -> None:
        self._timer = None
        self.lns.handle_timer(self._clock.seconds())
        self._service()

    def _service(self) -> None:
        if self._stopped:
            return
        now = self._clock.seconds()
        for data, peer in self.lns.datagrams_to_send(now):
            self._send_l2tp(peer, data)
        while (event := self.lns.next_event()) is not None:
            self._deliver(event)
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        deadline = self.lns.get_timer()
        if deadline is not None:
            self._timer = self._clock.callLater(max(0.0, deadline - now), self._on_timer)
