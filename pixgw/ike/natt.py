"""NAT traversal for IKEv1: RFC 3947 §3 (vendor ID, NAT-D hashes, detection), §4 (floating to
port 4500), §5 (UDP-encapsulated modes, NAT-OA) and the draft-ietf-ipsec-nat-t-ike-02/03 variants
(vendor IDs, payload numbers 130/131, encapsulation modes 61443/61444)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pixgw.ike import constants as c
from pixgw.ike.crypto import digest
from pixgw.ike.events import Endpoint


@dataclass(frozen=True)
class NattVariant:
    name: str  # "RFC 3947", "draft-03", "draft-02"
    vendor_id: bytes
    nat_d_type: int
    nat_oa_type: int
    udp_transport: int
    udp_tunnel: int


RFC3947 = NattVariant("RFC 3947", c.VID_NATT_RFC3947, c.PT_NAT_D, c.PT_NAT_OA,
                      c.ENCAPS_UDP_TRANSPORT, c.ENCAPS_UDP_TUNNEL)
DRAFT_03 = NattVariant("draft-03", c.VID_NATT_DRAFT_03, c.PT_NAT_D_DRAFT, c.PT_NAT_OA_DRAFT,
                       c.ENCAPS_UDP_TRANSPORT_DRAFT, c.ENCAPS_UDP_TUNNEL_DRAFT)
DRAFT_02 = NattVariant("draft-02", c.VID_NATT_DRAFT_02, c.PT_NAT_D_DRAFT, c.PT_NAT_OA_DRAFT,
                       c.ENCAPS_UDP_TRANSPORT_DRAFT, c.ENCAPS_UDP_TUNNEL_DRAFT)
DRAFT_02N = NattVariant("draft-02", c.VID_NATT_DRAFT_02N, c.PT_NAT_D_DRAFT, c.PT_NAT_OA_DRAFT,
                        c.ENCAPS_UDP_TRANSPORT_DRAFT, c.ENCAPS_UDP_TUNNEL_DRAFT)
_PREFERENCE = (RFC3947, DRAFT_03, DRAFT_02, DRAFT_02N)


def choose_variant(vendor_ids: Iterable[bytes]) -> NattVariant | None:
    """The best NAT-T variant the peer announced (RFC 3947 first)."""
    offered = set(vendor_ids)
    return next((v for v in _PREFERENCE if v.vendor_id in offered), None)


def nat_d_hash(hash_id: int, cky_i: bytes, cky_r: bytes, endpoint: Endpoint) -> bytes:
    """RFC 3947 §3.2: HASH = HASH(CKY-I | CKY-R | IP | Port)."""
    return digest(hash_id, cky_i + cky_r + endpoint.address.packed
                  + endpoint.port.to_bytes(2, "big"))


@dataclass(frozen=True)
class NatDetection:
    peer_behind_nat: bool
    local_behind_nat: bool

    @property
    def detected(self) -> bool:
        return self.peer_behind_nat or self.local_behind_nat


def detect(hash_id: int, cky_i: bytes, cky_r: bytes, received: list[bytes], *, local: Endpoint,
           remote: Endpoint) -> NatDetection:
    """*received*: the peer's NAT-D hashes, the first for its destination (us), the rest for its
    source addresses (RFC 3947 §3.2)."""
    if not received:
        return NatDetection(False, False)
    ours = nat_d_hash(hash_id, cky_i, cky_r, local)
    theirs = nat_d_hash(hash_id, cky_i, cky_r, remote)
    return NatDetection(peer_behind_nat=theirs not in received[1:],
                        local_behind_nat=received[0] != ours)
