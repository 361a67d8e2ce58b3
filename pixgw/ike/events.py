"""Events the IKEv1 responder core emits for the rest of the gateway (RFC 2409 §5.5 quick mode
results, RFC 2408 §3.15 deletes).

These are the contract between :mod:`pixgw.ike` and the dataplane: the dataplane installs the
inbound ESP SA of a quick mode on :class:`ChildSaPending` (message 2 sent), adds the outbound one
on :class:`ChildSaEstablished` (message 3 verified) and removes both on :class:`ChildSaDeleted`
(also for a quick mode that never saw message 3); the gateway tears down what rode on an IKE SA
on :class:`IkeSaDeleted`.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Literal

# ESP's own (pixgw.esp, below IKE in the layers); named here too, for the users of the events
from pixgw.esp.parameters import EspCipher, EspIntegrity, EspSaParameters

# RFC 3947 §5.2 / RFC 2407: how ESP travels.
Encapsulation = Literal["transport", "tunnel", "udp-transport", "udp-tunnel"]


@dataclass(frozen=True)
class Endpoint:
    address: IPv4Address
    port: int


@dataclass(frozen=True)
class TrafficSelector:
    """A quick-mode ID (RFC 2407 §4.6.2): an address range, an IP protocol (0 = any) and a port
    (0 = any)."""

    first: IPv4Address
    last: IPv4Address
    protocol: int = 0
    port: int = 0




@dataclass(frozen=True)
class ChildSaEstablished:
    """A quick mode finished: install these SAs.

    ``local``/``remote`` are the outer (IKE) endpoints as the packets travel: with UDP
    encapsulation ``remote.port`` is the client's NAT-mapped source port of 4500.
    """

    ike_sa_id: bytes  # initiator cookie + responder cookie (16 bytes)
    child_sa_id: int  # gateway-wide id, the PIX's ``conn id``
    local: Endpoint
    remote: Endpoint
    inbound: EspSaParameters  # client -> gateway; SPI chosen by us
    outbound: EspSaParameters  # gateway -> client; SPI chosen by the client
    encapsulation: Encapsulation
    local_selector: TrafficSelector
    remote_selector: TrafficSelector
    lifetime_seconds: int
    lifetime_kilobytes: int
    crypto_map: str  # map tag for ``show crypto ipsec sa``
    crypto_map_sequence: int
    remote_behind_nat: bool
    peer_vendor: str | None = None  # e.g. "MSWIN2K", "Windows 8+", for rekey policy
    nat_oa_initiator: IPv4Address | None = None  # NAT-OA of the client (its private address)
    nat_oa_responder: IPv4Address | None = None

    def deleted(self, reason: str) -> ChildSaDeleted:
        """The event that this SA pair is gone, for *reason*."""
        return ChildSaDeleted(
            self.ike_sa_id, self.child_sa_id, self.inbound.spi, self.outbound.spi, reason
        )


@dataclass(frozen=True)
class ChildSaPending:
    """Quick mode message 2 went out: the initiator has every key and sends on the new SA as soon
    as it reads it (RFC 2409 §5.5 leaves it free to), so the inbound SA goes in now. *sa* is the
    whole pair as it will be established; its outbound half waits for the
    :class:`ChildSaEstablished` with the same ``child_sa_id`` (HASH(3) verified: the initiator
    has the SA). A quick mode that expires without message 3 ends in
    ``ChildSaDeleted(reason=QUICK_MODE_ABANDONED)``."""

    sa: ChildSaEstablished


QUICK_MODE_ABANDONED = "quick mode not completed"


@dataclass(frozen=True)
class ChildSaDeleted:
    ike_sa_id: bytes
    child_sa_id: int
    inbound_spi: int
    outbound_spi: int
    reason: str


@dataclass(frozen=True)
class IkeSaDeleted:
    ike_sa_id: bytes
    remote: Endpoint
    reason: str


@dataclass(frozen=True)
class RekeyRequested:
    """The dataplane's soft lifetime expired for an SA: the core decides whether to rekey (never
    towards a NATed Windows peer)."""

    child_sa_id: int


__all__ = [
    "QUICK_MODE_ABANDONED",
    "ChildSaDeleted",
    "ChildSaEstablished",
    "ChildSaPending",
    "Encapsulation",
    "Endpoint",
    "EspCipher",
    "EspIntegrity",
    "EspSaParameters",
    "IkeEvent",
    "IkeSaDeleted",
    "RekeyRequested",
    "TrafficSelector",
]

IkeEvent = ChildSaPending | ChildSaEstablished | ChildSaDeleted | IkeSaDeleted
