"""An in-memory :class:`IDataplane` for the other layers' tests (no sockets, no ESP bytes).

It records what the gateway asks of a dataplane (installed and removed child SAs, L2TP sent to
peers, IP packets sent inside) and lets a test play the network: :meth:`MemoryDataplane.
receive_l2tp` as if an L2TP datagram had arrived through an SA (RFC 4303 processing assumed
done), :meth:`MemoryDataplane.receive_ip` as if the inside network sent a packet to a pool
address, :meth:`MemoryDataplane.expire` as if a lifetime ran out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address

from zope.interface import implementer

from pixgw.dataplane.base import DataplaneBase
from pixgw.dataplane.interfaces import (
    IDataplane,
    IpReceived,
    L2tpPeer,
    SaCounters,
)
from pixgw.dataplane.snapshot import ipsec_sa_status
from pixgw.esp.sa import CIPHERS, INTEGRITIES
from pixgw.ike.events import ChildSaDeleted, ChildSaEstablished, RekeyRequested
from pixgw.status import IpsecSaStatus

__all__ = ["MemoryDataplane", "SentL2tp"]


@dataclass(frozen=True)
class SentL2tp:
    peer: L2tpPeer
    payload: bytes


@dataclass
class _Route:
    deliver: IpReceived
    mtu: int


@dataclass
class _Tally:
    """One SA pair's counters, counted in place (a frozen SaCounters is built when read)."""

    encaps: int = 0
    decaps: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    seconds: int = 0
    kilobytes: int = 0

    def counters(self) -> SaCounters:
        return SaCounters(
            encaps=self.encaps,
            encrypt=self.encaps,
            digest=self.encaps,
            decaps=self.decaps,
            decrypt=self.decaps,
            verify=self.decaps,
            bytes_in=self.bytes_in,
            bytes_out=self.bytes_out,
            inbound_seconds_left=self.seconds,
            outbound_seconds_left=self.seconds,
            inbound_kilobytes_left=self.kilobytes,
            outbound_kilobytes_left=self.kilobytes,
        )


@implementer(IDataplane)
@dataclass
class MemoryDataplane(DataplaneBase):
    """Everything kept in lists and dicts for inspection."""

    name: str = "memory"
    started: bool = False
    child_sas: dict[int, ChildSaEstablished] = field(default_factory=dict)
    pending_inbound: dict[int, ChildSaEstablished] = field(default_factory=dict)
    removed: list[ChildSaDeleted] = field(default_factory=list)
    sent_l2tp: list[SentL2tp] = field(default_factory=list)
    sent_ip: list[bytes] = field(default_factory=list)
    esp_in_udp: list[tuple[bytes, tuple[str, int]]] = field(default_factory=list)
    routes: dict[IPv4Address, _Route] = field(default_factory=dict)
    _sa_counters: dict[int, _Tally] = field(default_factory=dict)
    # one L2tpPeer per SA and L2TP port, as the real dataplanes keep them (the LNS recognises
    # its tunnel's peer by identity on the per-packet path)
    _peers: dict[int, dict[int, L2tpPeer]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        DataplaneBase.__init__(self)

    # --- IDataplane -----------------------------------------------------------------------------

    def _open(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.started = False
        self.child_sas.clear()
        self.pending_inbound.clear()
        self.routes.clear()
        self._peers.clear()

    def install_inbound_sa(self, event: ChildSaEstablished) -> None:
        self.pending_inbound[event.child_sa_id] = event

    def install_child_sa(self, event: ChildSaEstablished) -> None:
        self.pending_inbound.pop(event.child_sa_id, None)
        self.child_sas[event.child_sa_id] = event
        self._sa_counters[event.child_sa_id] = _Tally(
            seconds=event.lifetime_seconds, kilobytes=event.lifetime_kilobytes
        )

    def remove_child_sa(self, event: ChildSaDeleted) -> None:
        if self.pending_inbound.pop(event.child_sa_id, None) is not None:
            self.removed.append(event)
        if self.child_sas.pop(event.child_sa_id, None) is not None:
            self._forget(event.child_sa_id)
            self.removed.append(event)

    def esp_in_udp_received(self, data: bytes, source: tuple[str, int]) -> None:
        if data == b"\xff":
            self._c["nat_keepalives"] += 1
            return
        self.esp_in_udp.append((data, source))

    def send_l2tp(self, peer: L2tpPeer, payload: bytes) -> None:
        self.sent_l2tp.append(SentL2tp(peer, payload))
        tally = self._sa_counters.get(peer.child_sa_id) if peer.child_sa_id is not None else None
        if tally is not None:
            tally.encaps += 1
            tally.bytes_out += len(payload) + 8

    def add_client_route(self, address: IPv4Address, deliver: IpReceived, mtu: int) -> None:
        self.routes[address] = _Route(deliver, mtu)

    def remove_client_route(self, address: IPv4Address) -> None:
        self.routes.pop(address, None)

    def send_ip(self, packet: bytes) -> None:
        self.sent_ip.append(packet)

    def sa_counters(self, child_sa_id: int) -> SaCounters | None:
        tally = self._sa_counters.get(child_sa_id)
        return None if tally is None else tally.counters()

    # --- the test's side ------------------------------------------------------------------------

    def receive_l2tp(self, child_sa_id: int, payload: bytes, l2tp_port: int = 1701) -> L2tpPeer:
        """An L2TP datagram arrives through child SA *child_sa_id*; returns the peer given."""
        by_port = self._peers.get(child_sa_id)
        peer = by_port.get(l2tp_port) if by_port is not None else None
        if peer is None:
            event = self.child_sas[child_sa_id]
            udp = event.encapsulation.startswith("udp")
            peer = L2tpPeer(
                child_sa_id, event.remote.address, event.remote.port if udp else 0, l2tp_port
            )
            self._peers.setdefault(child_sa_id, {})[l2tp_port] = peer
        tally = self._sa_counters[child_sa_id]
        tally.decaps += 1
        tally.bytes_in += len(payload) + 8
        if self._l2tp_received is not None:
            self._l2tp_received(peer, payload)
        return peer

    def receive_ip(self, packet: bytes) -> bool:
        """The inside network sends *packet*; True when a client route took it."""
        route = self.routes.get(IPv4Address(packet[16:20])) if len(packet) >= 20 else None
        if route is None:
            self._c["tun_no_session"] += 1
            return False
        route.deliver(packet)
        return True

    def expire(self, child_sa_id: int, *, hard: bool) -> None:
        """A lifetime runs out: soft -> RekeyRequested; hard -> the SA goes, ChildSaDeleted."""
        if self._lifetime_listener is None:
            return
        if not hard:
            self._notify(RekeyRequested(child_sa_id))
            return
        event = self.child_sas.pop(child_sa_id, None)
        if event is None:
            return
        self._forget(child_sa_id)
        self._notify(event.deleted("lifetime expired"))

    def snapshot(self) -> tuple[IpsecSaStatus, ...]:
        out = []
        for child_id, event in sorted(self.child_sas.items()):
            spec = CIPHERS[event.inbound.cipher]
            icv = INTEGRITIES[event.inbound.integrity].icv_length if event.inbound.integrity else 0
            overhead = 8 + (spec.block_size if spec.block_size > 1 else 0) + 2 + icv
            out.append(ipsec_sa_status(event, self._sa_counters[child_id].counters(), overhead))
        return tuple(out)

    def _forget(self, child_sa_id: int) -> None:
        self._sa_counters.pop(child_sa_id, None)
        self._peers.pop(child_sa_id, None)
