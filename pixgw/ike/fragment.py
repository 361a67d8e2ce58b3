"""IKEv1 fragmentation as Windows, Cisco and strongSwan do it (the Cisco/Microsoft scheme: vendor
ID ``4048b7d56ebce88525e7de7f00d6c2d3``, payload 132 of draft-ietf-ipsec-ike-fragmentation
practice): a whole ISAKMP datagram, header included, cut into numbered slices, each sent in an
unencrypted ISAKMP message of its own with one FRAGMENT payload; the last slice is flagged.

Reassembly is bounded: at most :data:`MAX_FRAGMENTS` slices of one message, :data:`MAX_PENDING`
messages in progress, 64 KiB per message, and a lifetime after which pieces are forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pixgw.ike import constants as c
from pixgw.ike.events import Endpoint
from pixgw.ike.message import FragmentPayload, Header, encode_message
from pixgw.wire import MalformedMessage

MAX_FRAGMENTS = 32
MAX_PENDING = 256
MAX_MESSAGE = 65535
LIFETIME = 30.0
THRESHOLD = 1200  # datagrams larger than this are fragmented for a peer that supports it
SLICE = 1000


def fragment(datagram: bytes, header: Header, fragment_id: int, size: int = SLICE) -> list[bytes]:
    """The datagram as FRAGMENT messages (header: cookies, exchange and message id to use)."""
    slices = [datagram[i : i + size] for i in range(0, len(datagram), size)]
    out = []
    for n, piece in enumerate(slices, 1):
        payload = FragmentPayload(fragment_id, n, n == len(slices), piece)
        out.append(encode_message(Header(header.initiator_cookie, header.responder_cookie, 0,
                                         c.ISAKMP_VERSION, header.exchange_type, 0,
                                         header.message_id), (payload,)))
    return out


@dataclass
class _Pending:
    started: float
    pieces: dict[int, bytes] = field(default_factory=dict)
    last: int | None = None
    size: int = 0


class FragmentReassembly:
    def __init__(self) -> None:
        self._pending: dict[tuple[bytes, int, Endpoint], _Pending] = {}

    def add(self, header: Header, payload: FragmentPayload, remote: Endpoint,
            now: float) -> bytes | None:
        """The whole datagram once every slice is in, else None; MalformedMessage for slices
        that cannot belong to a message."""
        if not 1 <= payload.number <= MAX_FRAGMENTS:
            raise MalformedMessage(f"fragment number {payload.number}")
        key = (header.initiator_cookie + header.responder_cookie, payload.fragment_id, remote)
        pending = self._pending.get(key)
        if pending is None:
            if len(self._pending) >= MAX_PENDING:
                raise MalformedMessage("too many fragmented messages in progress")
            pending = self._pending[key] = _Pending(now)
        if payload.number not in pending.pieces:
            pending.size += len(payload.data)
            if pending.size > MAX_MESSAGE:
                del self._pending[key]
                raise MalformedMessage("fragmented message too long")
            pending.pieces[payload.number] = payload.data
        if payload.last:
            pending.last = payload.number
        if pending.last is None or len(pending.pieces) < pending.last:
            return None
        del self._pending[key]
        if set(pending.pieces) != set(range(1, pending.last + 1)):
            raise MalformedMessage("fragments beyond the last one")
        return b"".join(pending.pieces[n] for n in range(1, pending.last + 1))

    def expire(self, now: float) -> None:
        for key in [k for k, p in self._pending.items() if p.started + LIFETIME <= now]:
            del self._pending[key]

    def next_expiry(self) -> float | None:
        return min((p.started + LIFETIME for p in self._pending.values()), default=None)
