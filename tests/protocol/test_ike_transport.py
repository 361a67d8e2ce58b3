"""The UDP shell with fake datagram transports and task.Clock: the non-ESP marker on 4500, ESP and
keepalives on 4500, events out, the retransmission timer driven by the clock."""

from __future__ import annotations

import os
from ipaddress import IPv4Address
from typing import Any

from twisted.internet.task import Clock

from pixgw.ike.core import IkeResponder
from pixgw.ike.events import ChildSaEstablished, ChildSaPending, Endpoint, IkeEvent
from pixgw.ike.transport import IkeTransport, IkeUdpPorts
from pixgw.testing.ike_initiator import IkeInitiator, InitiatorProfile
from tests.protocol.ike_harness import GATEWAY, pix_config


class FakeDatagramTransport:
    def __init__(self) -> None:
        self.written: list[tuple[bytes, tuple[str, int]]] = []

    def write(self, data: bytes, addr: tuple[str, int]) -> None:
        self.written.append((data, addr))


def _shell() -> tuple[
    IkeTransport, Clock, dict[int, FakeDatagramTransport], list[Any], list[IkeEvent]
]:
    clock = Clock()
    clock.advance(1000)
    esp: list[Any] = []
    events: list[IkeEvent] = []
    shell = IkeTransport(
        IkeResponder(pix_config(), random_bytes=os.urandom),
        clock,
        GATEWAY,
        esp_received=lambda d, a: esp.append((d, a)),
        event_received=events.append,
    )
    fakes = {}
    for port, proto in shell.protocols.items():
        fakes[port] = FakeDatagramTransport()
        proto.transport = fakes[port]  # type: ignore[assignment]
    return shell, clock, fakes, esp, events


def test_full_exchange_with_float_to_4500() -> None:
    shell, _clock, fakes, esp, events = _shell()
    client = IkeInitiator(
        InitiatorProfile(psk=b"s3cret"),
        Endpoint(IPv4Address("10.0.0.2"), 500),
        Endpoint(GATEWAY, 500),
        os.urandom,
    )
    nat_port = {500: 40000, 4500: 40001}

    def deliver(data: bytes) -> bytes:
        port = client.remote.port
        marker = b"\x00" * 4 if port == 4500 else b""
        shell.protocols[port].datagramReceived(
            marker + data, ("203.0.113.5", nat_port[client.local.port])
        )
        (out, addr) = fakes[port].written.pop()
        assert addr == ("203.0.113.5", nat_port[client.local.port])
        if port == 4500:
            assert out.startswith(b"\x00" * 4)
            out = out[4:]
        return out

    msg = client.main_mode_1()
    for _ in range(3):
        reply = client.receive(deliver(msg))
        if reply is None:
            break
        msg = reply
    assert client.state == "established" and client.remote.port == 4500
    qm2 = deliver(client.quick_mode_1())
    qm3 = client.receive(qm2)
    assert qm3 is not None
    shell.protocols[4500].datagramReceived(b"\x00" * 4 + qm3, ("203.0.113.5", 40001))
    # the inbound half with message 2, then the same pair whole with message 3
    assert [type(e) for e in events] == [ChildSaPending, ChildSaEstablished]
    assert isinstance(events[0], ChildSaPending) and events[0].sa == events[1]
    # ESP (no marker) and keepalives on 4500
    shell.protocols[4500].datagramReceived(b"\x01\x02\x03\x04esp", ("203.0.113.5", 40001))
    shell.protocols[4500].datagramReceived(b"\xff", ("203.0.113.5", 40001))
    assert esp == [(b"\x01\x02\x03\x04esp", ("203.0.113.5", 40001))]
    assert shell.keepalives == 1
    shell.send_udp(b"esp-out", ("203.0.113.5", 40001))
    assert fakes[4500].written[-1] == (b"esp-out", ("203.0.113.5", 40001))
    shell.stop()


def test_retransmission_timer_on_the_clock() -> None:
    shell, clock, fakes, _, _ = _shell()
    client = IkeInitiator(
        InitiatorProfile(psk=b"s3cret"),
        Endpoint(IPv4Address("198.51.100.7"), 500),
        Endpoint(GATEWAY, 500),
        os.urandom,
    )
    shell.protocols[500].datagramReceived(client.main_mode_1(), ("198.51.100.7", 500))
    assert len(fakes[500].written) == 1
    for _ in range(10):
        clock.advance(5)
    assert len(fakes[500].written) == 6
    assert len({d for d, _ in fakes[500].written}) == 1
    assert shell.responder.isakmp_sa_status() == ()
    assert not clock.getDelayedCalls()


def test_garbage_is_dropped_and_counted() -> None:
    shell, _, fakes, _, _ = _shell()
    shell.protocols[500].datagramReceived(b"\x00" * 7, ("198.51.100.7", 500))
    shell.protocols[4500].datagramReceived(b"\x00" * 4 + b"junk", ("198.51.100.7", 4500))
    assert shell.responder.counters.malformed == 2
    assert fakes[500].written == [] and fakes[4500].written == []


def test_nat_keepalive_goes_out_without_marker() -> None:
    shell, _, fakes, _, _ = _shell()
    out = [(b"\xff", Endpoint(GATEWAY, 4500), Endpoint(IPv4Address("203.0.113.5"), 40001)),
           (b"ike", Endpoint(GATEWAY, 4500), Endpoint(IPv4Address("203.0.113.5"), 40001))]
    shell.responder.datagrams_to_send = lambda now: out  # type: ignore[method-assign]
    shell.flush()
    assert fakes[4500].written == [(b"\xff", ("203.0.113.5", 40001)),
                                   (b"\x00\x00\x00\x00ike", ("203.0.113.5", 40001))]


def test_udp_ports_without_a_core() -> None:
    received: list[tuple[bytes, Endpoint, Endpoint]] = []
    esp: list[Any] = []
    ports = IkeUdpPorts(GATEWAY, ike_received=lambda d, lo, r: received.append((d, lo, r)),
                        esp_received=lambda d, a: esp.append((d, a)))
    fakes = {}
    for port, proto in ports.protocols.items():
        fakes[port] = FakeDatagramTransport()
        proto.transport = fakes[port]  # type: ignore[assignment]
    ports.protocols[4500].datagramReceived(b"\x00\x00\x00\x00ike", ("203.0.113.5", 40001))
    ports.protocols[500].datagramReceived(b"ike500", ("203.0.113.5", 500))
    ports.protocols[4500].datagramReceived(b"espdata", ("203.0.113.5", 40001))
    peer = Endpoint(IPv4Address("203.0.113.5"), 40001)
    assert received == [(b"ike", Endpoint(GATEWAY, 4500), peer),
                        (b"ike500", Endpoint(GATEWAY, 500), Endpoint(peer.address, 500))]
    assert esp == [(b"espdata", ("203.0.113.5", 40001))]
    ports.send_ike(b"reply", Endpoint(GATEWAY, 4500), peer)
    ports.send_ike(b"reply", Endpoint(GATEWAY, 500), peer)
    ports.send_udp(b"esp", ("203.0.113.5", 40001))
    assert fakes[4500].written == [(b"\x00\x00\x00\x00reply", ("203.0.113.5", 40001)),
                                   (b"esp", ("203.0.113.5", 40001))]
    assert fakes[500].written == [(b"reply", ("203.0.113.5", 40001))]


class RefusingTransport:
    """The kernel's answers to sends towards spoofed sources, in turn."""

    def __init__(self, errors: list[int]) -> None:
        self.errors = errors
        self.calls = 0

    def write(self, data: bytes, addr: tuple[str, int]) -> None:
        import errno as e

        self.calls += 1
        code = self.errors[(self.calls - 1) % len(self.errors)]
        if code == e.EMSGSIZE:
            from twisted.internet.error import MessageLengthError

            raise MessageLengthError("message too long")
        raise OSError(code, os.strerror(code))


def test_refused_sends_are_counted_logged_sparingly_and_never_raised() -> None:
    import errno

    from tests.protocol.ike_harness import captured_logs

    ports = IkeUdpPorts(GATEWAY, ike_received=lambda *a: None, esp_received=lambda *a: None)
    refusing = RefusingTransport([errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EPERM,
                                  errno.ENOBUFS, errno.EMSGSIZE])
    for proto in ports.protocols.values():
        proto.transport = refusing  # type: ignore[assignment]
    spoofed = Endpoint(IPv4Address("198.51.100.9"), 500)
    with captured_logs() as logs:
        for _ in range(100):
            ports.send_ike(b"x" * 100, Endpoint(GATEWAY, 500), spoofed)
            ports.send_udp(b"esp", ("198.51.100.9", 4500))
    assert refusing.calls == 200
    assert ports.send_errors == {"ENETUNREACH": 40, "EHOSTUNREACH": 40, "EPERM": 40,
                                 "ENOBUFS": 40, "EMSGSIZE": 40}
    assert ports.send_errors_total == 200
    lines = [line for line in logs if "cannot send" in line]
    assert len(lines) == 5 * 6  # 1, 2, 4, 8, 16, 32 of each of the five reasons
    assert any("ENETUNREACH [32 so far]" in line for line in lines)


def test_a_real_socket_refusing_a_send_does_not_raise() -> None:
    """A datagram larger than UDP allows, on a real socket bound to loopback: the kernel (and
    Twisted) refuse it; the shell counts it and the port still works."""
    from twisted.internet import reactor
    from twisted.internet.protocol import DatagramProtocol

    class Sink(DatagramProtocol):
        got: list[bytes] = []

        def datagramReceived(self, datagram: bytes, addr: tuple[str, int]) -> None:
            self.got.append(datagram)

    ports = IkeUdpPorts(IPv4Address("127.0.0.1"), ike_received=lambda *a: None,
                        esp_received=lambda *a: None)
    port = reactor.listenUDP(0, ports.protocols[500], "127.0.0.1")  # type: ignore[attr-defined]
    sink_port = reactor.listenUDP(0, Sink(), "127.0.0.1")  # type: ignore[attr-defined]
    try:
        to = Endpoint(IPv4Address("127.0.0.1"), sink_port.getHost().port)
        ports.send_ike(b"x" * 70000, Endpoint(IPv4Address("127.0.0.1"), 500), to)
        assert ports.send_errors == {"EMSGSIZE": 1}
        ports.send_ike(b"fine", Endpoint(IPv4Address("127.0.0.1"), 500), to)
        assert ports.send_errors_total == 1
    finally:
        port.stopListening()
        sink_port.stopListening()
