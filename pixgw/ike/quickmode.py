"""Quick mode (RFC 2409 §5.5): the responder's per-exchange state, keyed by (cookies, message id),
the selectors of RFC 2407 §4.6.2 ID payloads, and the split of KEYMAT (RFC 2409 §5.5, RFC 2407
§4.5) into ESP encryption and integrity keys."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from ipaddress import IPv4Address

from pixgw.ike import constants as c
from pixgw.ike.crypto import DhPrivate
from pixgw.ike.events import ChildSaEstablished, EspCipher, EspIntegrity, TrafficSelector
from pixgw.ike.message import IdPayload
from pixgw.ike.phase1 import Retransmission
from pixgw.ike.policy import Phase2Choice
from pixgw.wire import MalformedMessage

ESP_KEY_BYTES: dict[str, int] = {"esp-des": 8, "esp-3des": 24, "esp-aes": 16, "esp-aes-192": 24,
                                 "esp-aes-256": 32, "esp-null": 0}
INTEGRITY_KEY_BYTES: dict[str, int] = {"esp-md5-hmac": 16, "esp-sha-hmac": 20,
                                       "esp-sha256-hmac": 32}


class QuickModeState(Enum):
    QM_AUTH_AWAIT = "OAK_QM_AUTH_AWAIT"  # message 2 sent, waiting for the initiator's HASH(3)
    QM_DONE = "OAK_QM_IDLE"  # SAs made; kept to recognise retransmissions


@dataclass
class QuickModeExchange:
    message_id: int
    iv: bytes
    ni: bytes
    nr: bytes
    choice: Phase2Choice
    local_selector: TrafficSelector
    remote_selector: TrafficSelector
    inbound_spi: bytes
    outbound_spi: bytes
    gxy: bytes
    commit: bool
    last_received: bytes
    last_sent: Retransmission | None
    expires_at: float
    nat_oa_initiator: IPv4Address | None = None
    nat_oa_responder: IPv4Address | None = None
    state: QuickModeState = QuickModeState.QM_AUTH_AWAIT
    dh: DhPrivate | None = None
    child: ChildSaEstablished | None = None  # the SA pair announced as pending with message 2


def selector_from_id(p: IdPayload) -> TrafficSelector:
    """RFC 2407 §4.6.2: ID_IPV4_ADDR, ID_IPV4_ADDR_SUBNET, ID_IPV4_ADDR_RANGE."""
    if p.id_type == c.ID_IPV4_ADDR and len(p.data) == 4:
        a = IPv4Address(p.data)
        return TrafficSelector(a, a, p.protocol, p.port)
    if p.id_type == c.ID_IPV4_ADDR_SUBNET and len(p.data) == 8:
        net = int.from_bytes(p.data[:4], "big")
        mask = int.from_bytes(p.data[4:], "big")
        first = net & mask
        last = first | (~mask & 0xFFFFFFFF)
        return TrafficSelector(IPv4Address(first), IPv4Address(last), p.protocol, p.port)
    if p.id_type == c.ID_IPV4_ADDR_RANGE and len(p.data) == 8:
        return TrafficSelector(IPv4Address(p.data[:4]), IPv4Address(p.data[4:]), p.protocol, p.port)
    raise MalformedMessage(f"quick-mode ID type {p.id_type} of {len(p.data)} bytes")


def split_keymat(keymat: bytes, cipher: EspCipher, integrity: EspIntegrity | None
                 ) -> tuple[bytes, bytes]:
    n = ESP_KEY_BYTES[cipher]
    return keymat[:n], keymat[n:]


def keymat_length(cipher: EspCipher, integrity: EspIntegrity | None) -> int:
    return ESP_KEY_BYTES[cipher] + (INTEGRITY_KEY_BYTES[integrity] if integrity else 0)
