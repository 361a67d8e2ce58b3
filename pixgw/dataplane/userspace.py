"""The userspace dataplane: ESP in Python (RFC 4303 transport mode, tunnel mode accepted), raw on
IP protocol 50 or UDP-encapsulated on port 4500 (RFC 3948 §2.1 ESP-in-UDP, §2.2 the non-ESP
marker belongs to IKE, §2.3 0xFF NAT keepalives dropped), the TUN device of the inside network.

Demultiplexing: inbound SAs are keyed by (our SPI, outer source address, outer source port; 0 for
raw ESP), so each client behind one NAT keeps its own SA and its own L2TP tunnel. After
decapsulation only UDP to port 1701 reaches L2TP; the inner UDP checksum is ignored, as RFC 3948
§3.1.2 allows for transport mode (the ICV covers the segment; with NAT the checksum was computed on
the client's private address). Outbound L2TP is a UDP segment from port 1701 to the client's L2TP
port, its checksum computed over the addresses the client knows (the NAT-OA payloads of RFC 3947
§5.2 when present; 0, i.e. none, for a NATed client that sent no NAT-OA), encrypted with the
peer's outbound SA and sent the way its SA came.

Plain UDP 1701 from outside: a guard socket on UDP 1701 (owned here, userspace mode only) reads and
counts such datagrams ("PIX does not accept L2TP requests without IPsec protection"); the xfrm
backend's L2TP transport reports its own through :meth:`note_l2tp_without_ipsec`.

Lifetimes: polled once a second; a soft expiry gives a :class:`RekeyRequested` (the IKE core
decides whether to rekey), a hard expiry removes the SA pair and gives a :class:`ChildSaDeleted`
to the lifetime listener, whose owner sends the IKE Delete.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Any, Final

from twisted.internet.interfaces import IDelayedCall
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from zope.interface import implementer

from pixgw.dataplane.base import DataplaneBase
from pixgw.dataplane.interfaces import (
    IDataplane,
    IpReceived,
    L2tpPeer,
    SaCounters,
)
from pixgw.dataplane.ipv4 import (
    PROTO_ESP,
    PROTO_UDP,
    UDP_HEADER,
    UDP_STRUCT,
    build_ipv4,
    build_udp,
    clamp_tcp_mss,
    parse_ipv4,
)
from pixgw.dataplane.snapshot import ipsec_sa_status
from pixgw.dataplane.tun import FdPacketReader, Readers, configure_tun, open_tun, remove_tun
from pixgw.esp.sa import EspDrop, EspSa
from pixgw.ike.events import ChildSaDeleted, ChildSaEstablished, RekeyRequested
from pixgw.status import IpsecSaStatus
from pixgw.syslog import debug, pix_log

__all__ = ["TunDevice", "TunSettings", "UserspaceDataplane"]

_log = Logger(namespace="pixgw")

TUN_REOPEN_TRIES: Final = 5  # at once, then after 1, 2, 4 and 8 s

L2TP_PORT: Final = 1701
PROTO_IPIP: Final = 4


@dataclass(frozen=True)
class TunSettings:
    """The inside network's TUN device: name, MTU, the gateway's inside address (optional) and
    the ``ip local pool`` ranges routed into it."""

    name: str = "pixgw0"
    mtu: int = 1500
    address: IPv4Address | None = None
    routes: tuple[IPv4Network, ...] = ()


class TunDevice:
    """How the inside network's TUN device is made, set up and taken away (Linux TUN; a test
    hands in another)."""

    def open(self, settings: TunSettings) -> tuple[int, str]:
        fd, name = open_tun(settings.name)
        try:
            configure_tun(name, mtu=settings.mtu, address=settings.address,
                          routes=settings.routes)
        except BaseException:
            os.close(fd)
            raise
        return fd, name

    def remove(self, name: str) -> None:
        remove_tun(name)


class _ChildSa:
    """An installed SA pair and what ``show crypto ipsec sa`` counts beyond the SAs themselves."""

    __slots__ = (
        "checksum_known",
        "event",
        "inbound",
        "inner_local",
        "inner_remote",
        "key",
        "outbound",
        "peers",
        "ready",
        "recv_errors",
        "remote_host",
        "remote_port",
        "send_errors",
        "soft_reported",
        "tunnel",
        "udp",
    )

    def __init__(self, event: ChildSaEstablished, inbound: EspSa, outbound: EspSa) -> None:
        self.event = event
        self.inbound = inbound
        self.outbound = outbound
        self.udp = event.encapsulation.startswith("udp")
        self.tunnel = event.encapsulation.endswith("tunnel")
        self.remote_host = str(event.remote.address)
        self.remote_port = event.remote.port if self.udp else 0
        self.key = (event.inbound.spi, self.remote_host, self.remote_port)
        self.inner_local = (event.nat_oa_responder or event.local.address).packed
        self.inner_remote = (event.nat_oa_initiator or event.remote.address).packed
        # The client checks a UDP checksum against its own (private) address: without NAT-OA
        # for a NATed client that address is unknown, so the checksum is sent as 0 (none,
        # RFC 768), which every receiver accepts.
        self.checksum_known = event.nat_oa_initiator is not None or not event.remote_behind_nat
        self.send_errors = 0
        self.recv_errors = 0
        self.soft_reported = False
        self.peers: dict[int, L2tpPeer] = {}
        # False from quick mode message 2 until message 3: the inbound SA takes packets in,
        # outbound traffic stays on the pair it was on
        self.ready = True


def transform_name(event: ChildSaEstablished) -> str:
    """The PIX's ``sa_trans=`` text, e.g. ``esp-des esp-md5-hmac ``."""
    integrity = event.inbound.integrity
    return f"{event.inbound.cipher} {integrity or ''} "


@implementer(IDataplane)
class UserspaceDataplane(DataplaneBase):
    """ESP and ESP-in-UDP in Python, the TUN device, and the guard on plain UDP 1701.

    *reactor* must provide ``addReader``/``removeReader``/``callLater``/``seconds``. Sockets that
    are not wanted (tests) are switched off with ``raw_esp=False``, ``tun=None``,
    ``guard_l2tp=False``. ``udp_checksums=False`` sends outbound L2TP with UDP checksum 0
    (faster; the ICV protects the segment anyway).
    """

    name = "userspace"

    def __init__(
        self,
        reactor: Any,
        *,
        local_address: IPv4Address | None = None,
        raw_esp: bool = True,
        tun: TunSettings | None = None,
        guard_l2tp: bool = True,
        random_bytes: Callable[[int], bytes] = os.urandom,
        replay_window: int = 64,
        lifetime_poll_seconds: float = 1.0,
        udp_checksums: bool = True,
        tun_device: TunDevice | None = None,
    ) -> None:
        super().__init__()
        self._reactor = reactor
        self._local_address = local_address
        self._want_raw = raw_esp
        self._tun_settings = tun
        self._want_guard = guard_l2tp
        self._random_bytes = random_bytes
        self._replay_window = replay_window
        self._poll_seconds = lifetime_poll_seconds
        self._udp_checksums = udp_checksums
        self._by_key: dict[tuple[int, str, int], _ChildSa] = {}
        self._by_id: dict[int, _ChildSa] = {}
        self._newest: dict[tuple[str, int], _ChildSa] = {}
        self._routes: dict[bytes, tuple[IpReceived, int]] = {}
        self._raw: socket.socket | None = None
        self._guard: socket.socket | None = None
        self._tun_fd: int | None = None
        self._tun_name: str | None = None
        self._tun_reader: FdPacketReader | None = None
        self._tun_retry: IDelayedCall | None = None
        self._stopped = False
        # how the TUN device is opened and set up (the real ones; a test hands in fakes)
        self._tun_device = tun_device or TunDevice()
        self._readers = Readers(reactor)
        self._poller: LoopingCall | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    def _open(self) -> None:
        self._stopped = False
        bind_host = str(self._local_address) if self._local_address else ""
        if self._want_raw:
            raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, PROTO_ESP)
            self._raw = raw
            self._readers.add_socket(raw, self._raw_received)  # closed at stop from here on
            raw.setblocking(False)
            if bind_host:
                raw.bind((bind_host, 0))
        if self._want_guard:

            def guarded(data: bytes) -> None:
                self.note_l2tp_without_ipsec(None)

            guard = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._guard = guard
            self._readers.add_socket(guard, guarded)
            guard.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            guard.setblocking(False)
            guard.bind((bind_host, L2TP_PORT))
        if self._tun_settings is not None:
            self._open_tun(self._tun_settings)
        if self._poll_seconds > 0:
            self._poller = LoopingCall(self.poll_lifetimes)
            self._poller.clock = self._reactor
            self._poller.start(self._poll_seconds, now=False)

    def _open_tun(self, settings: TunSettings) -> None:
        fd, name = self._tun_device.open(settings)
        self._tun_fd, self._tun_name = fd, name
        self._tun_reader = self._readers.add(
            FdPacketReader(fd, self._tun_received, lost=self._tun_lost))

    def _tun_lost(self, error: OSError) -> None:
        """The TUN device failed under us (removed, or its fd broken): said, and opened again
        at once, then after 1, 2, 4, 8 s; when that fails too the gateway is told it cannot go
        on (``on_fatal``: twistd stops with a non-zero status for the service manager)."""
        self._c["tun_lost"] += 1
        name = self._tun_name
        _log.error("TUN device {name} lost: {error}; opening it again", name=name,
                   error=f"{type(error).__name__}: {error}")
        if self._tun_reader is not None:
            self._readers.remove(self._tun_reader)
            self._tun_reader = None
        if self._tun_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._tun_fd)
            self._tun_fd = None
        self._reopen_tun(0)

    def _reopen_tun(self, attempt: int) -> None:
        self._tun_retry = None
        settings = self._tun_settings
        if settings is None or self._stopped:
            return
        try:
            self._open_tun(settings)
        except Exception as e:
            if self._tun_fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._tun_fd)
                self._tun_fd = None
            if attempt < TUN_REOPEN_TRIES - 1:
                self._tun_retry = self._reactor.callLater(2.0 ** attempt, self._reopen_tun,
                                                          attempt + 1)
                return
            why = (f"TUN device {settings.name} cannot be opened again after "
                   f"{TUN_REOPEN_TRIES} tries: {type(e).__name__}: {e}")
            _log.critical("{why}", why=why)
            if self.on_fatal is not None:
                self.on_fatal(why)
            return
        self._c["tun_reopened"] += 1
        _log.info("TUN device {name} open again", name=self._tun_name)

    def stop(self) -> None:
        self._stopped = True
        if self._tun_retry is not None and self._tun_retry.active():
            self._tun_retry.cancel()
        self._tun_retry = None
        if self._poller is not None and self._poller.running:
            self._poller.stop()
        self._poller = None
        self._readers.stop()  # closes the raw ESP and guard sockets
        self._raw = self._guard = None
        if self._tun_fd is not None:
            os.close(self._tun_fd)
            self._tun_fd = None
            if self._tun_name is not None:
                try:
                    self._tun_device.remove(self._tun_name)
                except Exception:
                    debug("crypto ipsec", f"TUN {self._tun_name} already gone")
        for child in list(self._by_id.values()):
            self._forget(child)

    # --- SAs ------------------------------------------------------------------------------------

    def _new_child(self, event: ChildSaEstablished) -> _ChildSa:
        common: dict[str, Any] = {
            "now": self._reactor.seconds(),
            "random_bytes": self._random_bytes,
            "lifetime_seconds": event.lifetime_seconds,
            "lifetime_kilobytes": event.lifetime_kilobytes,
            "replay_window": self._replay_window,
        }
        return _ChildSa(event, EspSa(event.inbound, **common), EspSa(event.outbound, **common))

    def _put(self, child: _ChildSa) -> None:
        old = self._by_id.get(child.event.child_sa_id)
        if old is not None:
            self._forget(old)
        self._by_id[child.event.child_sa_id] = child
        self._by_key[child.key] = child

    def install_inbound_sa(self, event: ChildSaEstablished) -> None:
        child = self._new_child(event)
        child.ready = False
        self._put(child)

    def install_child_sa(self, event: ChildSaEstablished) -> None:
        child = self._by_id.get(event.child_sa_id)
        if child is not None and not child.ready and child.key[0] == event.inbound.spi:
            # message 3: the pending pair keeps its inbound SA (sequence numbers, replay window,
            # what it counted) and starts carrying outbound traffic
            child.ready = True
        else:
            child = self._new_child(event)
            self._put(child)
        # The newest SA pair towards a peer (outer address and port) carries the outbound
        # traffic, also for L2TP peers still naming the SA it replaced (rekey, RFC 2409 §5.5).
        self._newest[(child.remote_host, child.remote_port)] = child
        # 602301/602302 are the IKE responder's: it names both conn ids, as the PIX does.

    def remove_child_sa(self, event: ChildSaDeleted) -> None:
        child = self._by_id.get(event.child_sa_id)
        if child is not None:
            self._forget(child)

    def _forget(self, child: _ChildSa) -> None:
        event = child.event
        self._by_id.pop(event.child_sa_id, None)
        if self._by_key.get(child.key) is child:
            del self._by_key[child.key]
        remote = (child.remote_host, child.remote_port)
        if self._newest.get(remote) is child:
            del self._newest[remote]
            for other in self._by_id.values():  # an older pair still up takes over
                if other.ready and (other.remote_host, other.remote_port) == remote:
                    self._newest[remote] = other

    def poll_lifetimes(self) -> None:
        """Report soft expiries (once) and remove hard-expired SA pairs. One pair whose check
        raises is logged and counted; the others are checked all the same, and the poller
        runs on (a LoopingCall whose call raises stops for good)."""
        now = self._reactor.seconds()
        for child in list(self._by_id.values()):
            try:
                self._poll_child(child, now)
            except Exception:
                self._c["lifetime_poll_failed"] += 1
                _log.failure("lifetime check of IPsec SA pair {child} failed",
                             child=child.event.child_sa_id)

    def _poll_child(self, child: _ChildSa, now: float) -> None:
        if not child.ready:  # IKE abandons it when its quick mode expires
            return
        events = (child.inbound.poll_lifetime(now), child.outbound.poll_lifetime(now))
        event = child.event
        if "hard" in events or child.inbound.expired or child.outbound.expired:
            self._forget(child)
            self._notify(event.deleted("lifetime expired"))
        elif "soft" in events and not child.soft_reported:
            child.soft_reported = True
            self._notify(RekeyRequested(event.child_sa_id))

    def esp_in_udp_received(self, data: bytes, source: tuple[str, int]) -> None:
        # the IKE shell took IKE (non-ESP marker) and NAT keepalives out: this is ESP
        self.esp_received(data, source[0], source[1])

    def _raw_received(self, packet: bytes) -> None:
        ip = parse_ipv4(packet)
        if ip is None or ip.protocol != PROTO_ESP:
            self._c["esp_malformed"] += 1
            return
        self.esp_received(
            packet[ip.header_length : ip.total_length], socket.inet_ntoa(ip.source), 0
        )

    def esp_received(self, esp: bytes, host: str, port: int) -> None:
        """One ESP packet (SPI onwards) from *host*:*port* (port 0: raw ESP)."""
        if len(esp) < 8:
            self._c["esp_malformed"] += 1
            return
        spi = int.from_bytes(esp[:4], "big")
        child = self._by_key.get((spi, host, port))
        if child is None:
            count = self._c["esp_unknown_spi"] = self._c["esp_unknown_spi"] + 1
            if count & (count - 1) == 0:  # 1, 2, 4, 8, ...: bounded logging under a flood
                pix_log(
                    402101,
                    f"decaps: rec'd IPSEC packet has invalid spi for destaddr=local, "
                    f"prot=esp, spi=0x{spi:x}, src {host}",
                )
            return
        try:
            next_header, payload = child.inbound.decrypt(esp)
        except EspDrop as drop:
            if drop.reason == "replay":
                self._c["esp_replayed"] += 1
            elif drop.reason == "authentication":
                self._c["esp_auth_failed"] += 1
                child.recv_errors += 1
            else:
                self._c["esp_malformed"] += 1
                child.recv_errors += 1
            return
        if not child.ready:
            self._c["esp_before_quick_mode_3"] += 1
        if child.inbound.truncated_sha256_detected and child.outbound.icv_length == 16:
            child.outbound.truncate_sha256()
            debug(
                "crypto ipsec",
                f"IPSEC: SA with {host} (spi 0x{spi:x}): the peer uses HMAC-SHA-256 truncated to "
                f"96 bits (Android 6/7), not RFC 4868's 128; both directions follow it",
            )
        if next_header == PROTO_UDP:
            segment = payload
        elif next_header == PROTO_IPIP:
            inner = parse_ipv4(payload)
            if inner is None or inner.protocol != PROTO_UDP or inner.fragment:
                self._c["esp_not_l2tp"] += 1
                return
            segment = payload[inner.header_length : inner.total_length]
        else:
            self._c["esp_not_l2tp"] += 1
            return
        # RFC 768 header, as parse_udp reads it (the checksum is covered by the ICV, RFC 3948
        # §3.1.2), unpacked here: this is the per-packet path.
        if len(segment) < UDP_HEADER:
            self._c["esp_not_l2tp"] += 1
            return
        source_port, destination_port, length, _ = UDP_STRUCT.unpack_from(segment)
        if destination_port != L2TP_PORT or length < UDP_HEADER or length > len(segment):
            self._c["esp_not_l2tp"] += 1
            return
        peer = child.peers.get(source_port)
        if peer is None:
            peer = L2tpPeer(child.event.child_sa_id, child.event.remote.address, port, source_port)
            child.peers[source_port] = peer
        if self._l2tp_received is not None:
            self._l2tp_received(peer, segment[UDP_HEADER:length])

    # --- outbound -------------------------------------------------------------------------------

    def send_l2tp(self, peer: L2tpPeer, payload: bytes) -> None:
        child = self._by_id.get(peer.child_sa_id) if peer.child_sa_id is not None else None
        if child is not None:
            child = self._newest.get((child.remote_host, child.remote_port), child)
        else:
            child = self._newest.get((str(peer.address), peer.outer_port))
        if child is None or not (child.ready or child.inbound.packets):
            # A pending pair with no other towards the peer is used only once the peer has sent
            # on it: authenticated ESP under its keys says the peer read message 2 (its message
            # 3 may simply not have been read yet, the two arrive on different sockets).
            self._c["send_no_sa"] += 1
            return
        segment = build_udp(
            L2TP_PORT,
            peer.l2tp_port,
            payload,
            source=child.inner_local if self._udp_checksums and child.checksum_known else None,
            destination=child.inner_remote,
        )
        try:
            if child.tunnel:
                inner = build_ipv4(child.inner_local, child.inner_remote, PROTO_UDP, segment)
                esp = child.outbound.encrypt(PROTO_IPIP, inner)
            else:
                esp = child.outbound.encrypt(PROTO_UDP, segment)
        except EspDrop:
            child.send_errors += 1
            return
        if child.udp:
            if self._send_udp is None:
                child.send_errors += 1
                return
            self._send_udp(esp, (child.remote_host, child.remote_port))
        elif self._raw is not None:
            try:
                self._raw.sendto(esp, (child.remote_host, 0))
            except OSError:
                child.send_errors += 1
        else:
            child.send_errors += 1

    # --- TUN ------------------------------------------------------------------------------------

    def add_client_route(self, address: IPv4Address, deliver: IpReceived, mtu: int) -> None:
        self._routes[address.packed] = (deliver, max(mtu - 40, 536))

    def remove_client_route(self, address: IPv4Address) -> None:
        self._routes.pop(address.packed, None)

    def send_ip(self, packet: bytes) -> None:
        if self._tun_fd is None or len(packet) < 20:
            self._c["tun_write_failed"] += 1
            return
        route = self._routes.get(packet[12:16])
        if route is None:  # a client may only send from the address it was given
            self._c["ip_source_not_client"] += 1
            return
        packet = clamp_tcp_mss(packet, route[1])
        try:
            os.write(self._tun_fd, packet)
        except OSError:
            self._c["tun_write_failed"] += 1

    def _tun_received(self, packet: bytes) -> None:
        if len(packet) < 20 or packet[0] >> 4 != 4:
            return  # IPv6 and junk: the pools are IPv4
        route = self._routes.get(packet[16:20])
        if route is None:
            self._c["tun_no_session"] += 1
            return
        route[0](clamp_tcp_mss(packet, route[1]))

    # --- status ---------------------------------------------------------------------------------

    def sa_counters(self, child_sa_id: int) -> SaCounters | None:
        child = self._by_id.get(child_sa_id)
        if child is None:
            return None
        now = self._reactor.seconds()
        out, inb = child.outbound, child.inbound
        digest_out = out.packets if out.integrity else 0
        verify_in = inb.packets if inb.integrity else 0
        return SaCounters(
            encaps=out.packets,
            encrypt=out.packets if out.cipher != "esp-null" else 0,
            digest=digest_out,
            decaps=inb.packets,
            decrypt=inb.packets if inb.cipher != "esp-null" else 0,
            verify=verify_in,
            send_errors=child.send_errors,
            recv_errors=child.recv_errors,
            replay_failures=inb.replay_failures,
            bytes_in=inb.bytes,
            bytes_out=out.bytes,
            inbound_seconds_left=inb.seconds_left(now),
            outbound_seconds_left=out.seconds_left(now),
            inbound_kilobytes_left=inb.kilobytes_left(),
            outbound_kilobytes_left=out.kilobytes_left(),
        )

    def snapshot(self) -> tuple[IpsecSaStatus, ...]:
        """Every SA pair for ``show crypto ipsec sa``."""
        out: list[IpsecSaStatus] = []
        for child_id, child in sorted(self._by_id.items()):
            counters = self.sa_counters(child_id)
            if counters is not None and child.ready:
                out.append(ipsec_sa_status(child.event, counters, child.outbound.overhead(0)))
        return tuple(out)
