"""The Twisted shell of the IKE responder: UDP 500 and 4500 (RFC 3947 §4, RFC 3948 §2.2 non-ESP
marker). Datagrams on 4500 without the marker are ESP and go to ``esp_received``; one-byte NAT
keepalives (RFC 3948 §2.3) are dropped. Everything else is the sans-I/O core's business.

:class:`IkeUdpPorts` only demultiplexes and sends (for a gateway that pumps the core itself);
:class:`IkeTransport` also drives an :class:`~pixgw.ike.core.IkeResponder` (timer, events)."""

from __future__ import annotations

import contextlib
import errno
import socket
from collections.abc import Callable
from ipaddress import IPv4Address
from typing import Any

from twisted.internet.error import MessageLengthError
from twisted.internet.interfaces import IReactorTime, IReactorUDP
from twisted.internet.protocol import DatagramProtocol

from pixgw.driver import CoreDriver
from pixgw.ike.constants import IKE_PORT, NATT_PORT, NON_ESP_MARKER
from pixgw.ike.core import NAT_KEEPALIVE, IkeResponder
from pixgw.ike.events import Endpoint, IkeEvent
from pixgw.syslog import pix_log

EspReceived = Callable[[bytes, tuple[str, int]], None]
RECEIVE_BUFFER = 1 << 20  # bytes asked for (the kernel caps it at net.core.rmem_max)


class IkePortProtocol(DatagramProtocol):
    def __init__(self, ports: IkeUdpPorts, port: int) -> None:
        self.ports, self.port = ports, port

    def datagramReceived(self, datagram: bytes, addr: tuple[str, int]) -> None:
        self.ports.datagram_received(datagram, self.port, addr)


class IkeUdpPorts:
    def __init__(self, local_address: IPv4Address, *,
                 ike_received: Callable[[bytes, Endpoint, Endpoint], None],
                 esp_received: EspReceived) -> None:
        self.local_address = local_address
        self.ike_received, self.esp_received = ike_received, esp_received
        self.protocols = {p: IkePortProtocol(self, p) for p in (IKE_PORT, NATT_PORT)}
        self.keepalives = 0
        # sends the kernel refused (ENETUNREACH for a spoofed source the host has no route to,
        # EHOSTUNREACH, EPERM from a firewall, ENOBUFS, EMSGSIZE), by errno name
        self.send_errors: dict[str, int] = {}

    def listen(self, reactor: IReactorUDP, interface: str = "") -> None:
        for port, protocol in self.protocols.items():
            listening = reactor.listenUDP(port, protocol, interface, 65535)
            sock = getattr(listening, "socket", None)
            if sock is not None:  # bursts (a flood, a pause of the process) queue, not drop
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)

    def datagram_received(self, data: bytes, port: int, addr: tuple[str, int]) -> None:
        if port == NATT_PORT:
            if data == NAT_KEEPALIVE:
                self.keepalives += 1
                return
            if not data.startswith(NON_ESP_MARKER):
                self.esp_received(data, addr)
                return
            data = data[len(NON_ESP_MARKER) :]
        remote = Endpoint(IPv4Address(addr[0]), addr[1])
        self.ike_received(data, Endpoint(self.local_address, port), remote)

    def send_ike(self, data: bytes, local: Endpoint, remote: Endpoint) -> None:
        """An IKE datagram from the core: the non-ESP marker on 4500 (not on a keepalive)."""
        transport = self.protocols[local.port].transport
        if transport is not None:
            marker = NON_ESP_MARKER if local.port == NATT_PORT and data != NAT_KEEPALIVE else b""
            self._write(transport, marker + data, (str(remote.address), remote.port))

    def send_udp(self, data: bytes, addr: tuple[str, int]) -> None:
        """ESP-in-UDP from the dataplane: out of port 4500, no marker."""
        transport = self.protocols[NATT_PORT].transport
        if transport is not None:
            self._write(transport, data, addr)

    def _write(self, transport: Any, data: bytes, addr: tuple[str, int]) -> None:
        """A send the kernel refuses is counted and logged (the 1st, 2nd, 4th, ... time for
        each reason), never raised into the reactor: the pump and its timers go on."""
        try:
            transport.write(data, addr)
        except (OSError, MessageLengthError) as error:
            if isinstance(error, OSError) and error.errno is not None:
                reason = errno.errorcode.get(error.errno, str(error.errno))
            else:
                reason = "EMSGSIZE"
            count = self.send_errors[reason] = self.send_errors.get(reason, 0) + 1
            if count & (count - 1) == 0:
                pix_log(713900, f"IKE: cannot send {len(data)} bytes to {addr[0]}/{addr[1]}: "
                                f"{reason} [{count} so far]")

    @property
    def send_errors_total(self) -> int:
        return sum(self.send_errors.values())


class IkeTransport(IkeUdpPorts):
    """The IKE responder alone on UDP 500/4500 (tests, tools): the ports and a
    :class:`~pixgw.driver.CoreDriver`."""

    def __init__(self, responder: IkeResponder, clock: IReactorTime, local_address: IPv4Address,
                 *, esp_received: EspReceived, event_received: Callable[[IkeEvent], None]) -> None:
        super().__init__(local_address, ike_received=self._ike, esp_received=esp_received)
        self.responder, self.clock, self.event_received = responder, clock, event_received
        self.driver = CoreDriver(responder, clock, send=self.send_ike,
                                 event_received=event_received)

    def _ike(self, data: bytes, local: Endpoint, remote: Endpoint) -> None:
        self.responder.receive_datagram(data, local, remote, self.clock.seconds())
        self.flush()

    def flush(self) -> None:
        self.driver.flush()

    def stop(self) -> None:
        self.driver.stop()
