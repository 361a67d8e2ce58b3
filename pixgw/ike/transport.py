"""The Twisted shell of the IKE responder: UDP 500 and 4500 (RFC 3947 §4, RFC 3948 §2.2 non-ESP
marker). Datagrams on 4500 without the marker are ESP and go to ``esp_received``; one-byte NAT
keepalives (RFC 3948 §2.3) are dropped. Everything else is the sans-I/O core's business."""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address

from twisted.internet.interfaces import IDelayedCall, IReactorTime, IReactorUDP
from twisted.internet.protocol import DatagramProtocol

from pixgw.ike.constants import IKE_PORT, NATT_PORT, NON_ESP_MARKER
from pixgw.ike.core import NAT_KEEPALIVE, IkeResponder
from pixgw.ike.events import ChildSaDeleted, ChildSaEstablished, Endpoint, IkeSaDeleted

IkeEvent = ChildSaEstablished | ChildSaDeleted | IkeSaDeleted


class IkePortProtocol(DatagramProtocol):
    def __init__(self, shell: IkeTransport, port: int) -> None:
        self.shell, self.port = shell, port

    def datagramReceived(self, datagram: bytes, addr: tuple[str, int]) -> None:
        self.shell.datagram_received(datagram, self.port, addr)


class IkeTransport:
    def __init__(self, responder: IkeResponder, clock: IReactorTime, local_address: IPv4Address,
                 *, esp_received: Callable[[bytes, tuple[str, int]], None],
                 event_received: Callable[[IkeEvent], None]) -> None:
        self.responder, self.clock, self.local_address = responder, clock, local_address
        self.esp_received, self.event_received = esp_received, event_received
        self.protocols = {p: IkePortProtocol(self, p) for p in (IKE_PORT, NATT_PORT)}
        self.keepalives = 0
        self._timer: IDelayedCall | None = None

    def listen(self, reactor: IReactorUDP, interface: str = "") -> None:
        for port, protocol in self.protocols.items():
            reactor.listenUDP(port, protocol, interface, 65535)

    def datagram_received(self, data: bytes, port: int, addr: tuple[str, int]) -> None:
        if port == NATT_PORT:
            if data == b"\xff":
                self.keepalives += 1
                return
            if not data.startswith(NON_ESP_MARKER):
                self.esp_received(data, addr)
                return
            data = data[len(NON_ESP_MARKER) :]
        remote = Endpoint(IPv4Address(addr[0]), addr[1])
        now = self.clock.seconds()
        self.responder.receive_datagram(data, Endpoint(self.local_address, port), remote, now)
        self.flush()

    def send_udp(self, data: bytes, addr: tuple[str, int]) -> None:
        """ESP-in-UDP from the dataplane: out of port 4500, no marker."""
        transport = self.protocols[NATT_PORT].transport
        if transport is not None:
            transport.write(data, addr)

    def flush(self) -> None:
        now = self.clock.seconds()
        for data, local, remote in self.responder.datagrams_to_send(now):
            transport = self.protocols[local.port].transport
            if transport is not None:
                keepalive = data == NAT_KEEPALIVE
                marker = NON_ESP_MARKER if local.port == NATT_PORT and not keepalive else b""
                transport.write(marker + data, (str(remote.address), remote.port))
        while (event := self.responder.next_event()) is not None:
            self.event_received(event)
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        when = self.responder.get_timer()
        if when is not None:
            self._timer = self.clock.callLater(max(0.0, when - now), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.responder.handle_timer(self.clock.seconds())
        self.flush()

    def stop(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
