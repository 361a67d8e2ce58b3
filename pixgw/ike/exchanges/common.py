"""What the IKE responder's core and its exchanges share: the timing and the bounds of
negotiations, and small helpers for log lines and indexes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Any

from pixgw.ike import constants as c
from pixgw.ike.events import ChildSaEstablished, Encapsulation, Endpoint, TrafficSelector
from pixgw.ike.message import (
    Attribute,
    Header,
    NatOaPayload,
    Proposal,
    SaPayload,
    Transform,
    encode_payload_body,
)
from pixgw.ike.policy import ENC_NAMES, esp_cipher_name, esp_integrity_name

RETRANSMIT_INTERVAL = 5.0  # the PIX: first packet, then 5 retransmissions 5 s apart
RETRANSMIT_COUNT = 5
HALF_OPEN_LIFETIME = RETRANSMIT_INTERVAL * (RETRANSMIT_COUNT + 1)
QUICK_MODE_LIFETIME = HALF_OPEN_LIFETIME
MAX_PENDING_QUICK_MODES = 16
# Half-open negotiations (main mode 2 sent, 3 not yet in: all a spoofed source can make) are
# bounded apart from authenticated SAs (``isakmp limit half-open``, ``half-open-per-peer``, ``sa``)
# and in the bytes they hold. At the bound the oldest half-open one goes, so that a new first
# message, a real client's among a flood, always gets its answer and a slot that lives
# limit/flood-rate seconds; from half the bound on ("busy") main mode 2 goes once, unrepeated
# (a real client repeats its message 1, which is answered again), and the half-open SA lives
# HALF_OPEN_BUSY_LIFETIME instead of HALF_OPEN_LIFETIME: long enough for a client that repeats
# message 1 three times, short enough that a flood's state goes soon after it stops.
HALF_OPEN_BUSY_LIFETIME = 10.0
HALF_OPEN_MAX_BYTES = 16 * 1024 * 1024
# Retransmissions towards half-open peers (spoofed sources are victims of them): at most this many
# bytes a second in all, over the RETRANSMIT_COUNT each.
HALF_OPEN_RETRANSMIT_BYTES_PER_SECOND = 64 * 1024
# NO-PROPOSAL-CHOSEN answers to first messages (to whatever source they name) in a second; the
# rest are counted, unanswered
REFUSALS_ANSWERED_PER_SECOND = 100
# The largest phase-1 SA payload body kept as SAi_b (RFC 2409 §5: HASH_I/HASH_R cover it) and the
# largest first message: macOS offers 14 transforms (~600 bytes), Windows 5; 8 KB holds ~200.
MAX_SA_PAYLOAD = 8192
MAX_FIRST_MESSAGE = MAX_SA_PAYLOAD + 2048
FIRST_MESSAGE_CACHE = 64
# a refusal log line names at most this many offers or reasons (macOS offers 14: every real
# client's refusal is logged whole, error 789 needs it), then how many more
LOG_ITEMS = 16
DPD_RETRIES = 5
# SPIs one Delete may name (a client deletes one or two pairs; the rest are counted, ignored)
MAX_DELETE_SPIS = 16
NONCE_BYTES = 32
ZERO_COOKIE = bytes(8)
N_CONNECTED = 16384
NAT_KEEPALIVE = b"\xff"  # RFC 3948 §2.3; the shell sends it without the non-ESP marker
ENCAPS_NAMES: dict[int, Encapsulation] = {
    c.ENCAPS_TRANSPORT: "transport", c.ENCAPS_TUNNEL: "tunnel",
    c.ENCAPS_UDP_TRANSPORT: "udp-transport", c.ENCAPS_UDP_TRANSPORT_DRAFT: "udp-transport",
    c.ENCAPS_UDP_TUNNEL: "udp-tunnel", c.ENCAPS_UDP_TUNNEL_DRAFT: "udp-tunnel",
}
MS_VERSIONS = {2: "MSWIN2K", 3: "MSWINXP", 4: "MSWINXP-SP2", 5: "MSVISTA", 6: "MSWIN7",
               7: "MSWIN7", 8: "MSWIN7", 9: "MSWIN8+"}


@dataclass(frozen=True)
class Inbound:
    """One message as the core hands it to an exchange: decoded header, body (reassembled from
    fragments), the whole datagram (kept to recognise a retransmission), the endpoints it came
    between and when."""

    header: Header
    body: bytes
    data: bytes
    local: Endpoint
    remote: Endpoint
    now: float


@dataclass
class ChildSaRecord:
    event: ChildSaEstablished
    created: float
    expires_at: float
    peer_id: tuple[int, bytes] | None = None  # the ID its phase 1 proved (Deletes match it)


def discard(index: dict[Any, set[Any]], key: Any, value: Any) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(value)
        if not members:
            del index[key]


def encryption_name(cipher: int, key_length: int | None) -> str:
    name = ENC_NAMES.get(cipher, str(cipher))
    if cipher == c.ENC_AES:
        return f"AES-{key_length or 128}-CBC"
    return name


def bounded(items: Sequence[str], limit: int = LOG_ITEMS) -> str:
    """At most *limit* items of a log line, then how many more there were."""
    shown = "; ".join(item[:200] for item in items[:limit])
    more = len(items) - limit
    return f"{shown}; and {more} more" if more > 0 else shown


def describe_offers(proposals: Sequence[Proposal]) -> str:
    offers = []
    for p in proposals:
        for t in p.transforms:
            if p.protocol != c.PROTO_ESP:
                offers.append(f"protocol {p.protocol}")
                continue
            cipher = esp_cipher_name(t.transform_id, t.attribute(c.P2_KEY_LENGTH))
            integrity = esp_integrity_name(t.attribute(c.P2_AUTH))
            mode = ENCAPS_NAMES.get(t.attribute(c.P2_ENCAPSULATION) or c.ENCAPS_TUNNEL, "?")
            group = t.attribute(c.P2_GROUP)
            offers.append(f"{cipher or t.transform_id} {integrity or 'no-auth'} {mode}"
                          + (f" pfs group{group}" if group else ""))
            if len(offers) > LOG_ITEMS:
                break
    total = sum(len(p.transforms) for p in proposals)
    shown = ", ".join(offers[:LOG_ITEMS]) or "nothing"
    return f"{shown}, and {total - LOG_ITEMS} more" if total > LOG_ITEMS else shown


def encode_attributes(attrs: Sequence[Attribute]) -> bytes:
    t = Transform(0, 0, tuple(attrs))
    body = encode_payload_body(SaPayload(0, c.SIT_IDENTITY_ONLY, (Proposal(0, 0, b"", (t,)),)))
    return body[8 + 8 + 8 :]  # DOI+situation, proposal header, transform header


def nat_oa_address(p: NatOaPayload) -> IPv4Address | None:
    if p.id_type == c.ID_IPV4_ADDR and len(p.address) == 4:
        return IPv4Address(p.address)
    return None


def proxy(sel: TrafficSelector) -> str:
    mask = IPv4Address(0xFFFFFFFF ^ (int(sel.last) - int(sel.first))) if (
        (int(sel.last) - int(sel.first)) & (int(sel.last) - int(sel.first) + 1)) == 0 else (
        IPv4Address(0))
    return f"{sel.first}/{mask}/{sel.protocol}/{sel.port} (type=1)"
