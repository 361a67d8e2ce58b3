"""IKEv1 fragmentation as Windows, Cisco and strongSwan do it (the Cisco/Microsoft scheme: vendor
ID ``4048b7d56ebce88525e7de7f00d6c2d3``, payload 132 of draft-ietf-ipsec-ike-fragmentation
practice): a whole ISAKMP datagram, header included, cut into numbered slices, each sent in an
unencrypted ISAKMP message of its own with one FRAGMENT payload; the last slice is flagged.

Reassembly is bounded, for everybody and per peer address, since fragments may come before any
SA exists (a spoofed source can send them): at most :data:`MAX_FRAGMENTS` slices of one message
and :data:`MAX_MESSAGE` bytes (more is refused, counted); per peer address
:data:`MAX_PENDING_PER_PEER` messages in progress and :data:`MAX_BYTES_PER_PEER` bytes, in all
:data:`MAX_PENDING` messages and :data:`MAX_BYTES` bytes, the oldest message going for a new one
(counted), so that a flood, even one spoofing a real peer's address, cannot lock it out for
long; pieces are forgotten :data:`LIFETIME` seconds after the
first one came.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address

from pixgw.ike import constants as c
from pixgw.ike.events import Endpoint
from pixgw.ike.message import FragmentPayload, Header, encode_message
from pixgw.wire import MalformedMessage

MAX_FRAGMENTS = 32
MAX_PENDING = 256
MAX_BYTES = 4 * 1024 * 1024
MAX_PENDING_PER_PEER = 4
MAX_BYTES_PER_PEER = 96 * 1024  # a certificate chain of a few KiB, several times over
MAX_MESSAGE = 65535
LIFETIME = 10.0  # a peer sends every slice of a message at once, and all again on retransmission
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
    peer: IPv4Address
    pieces: dict[int, bytes] = field(default_factory=dict)
    last: int | None = None
    size: int = 0


class FragmentReassembly:
    def __init__(self) -> None:
        # oldest first: messages are added as their first slice comes, with a clock that only
        # moves forward, so expiry and eviction take from the front
        self._pending: dict[tuple[bytes, int, Endpoint], _Pending] = {}
        self._by_peer: dict[IPv4Address, tuple[int, int]] = {}  # messages, bytes
        self._bytes = 0
        self.refused = 0  # a message over MAX_MESSAGE
        self.evicted = 0  # the oldest message (of the peer, or of all), for room
        self.expired = 0

    def add(self, header: Header, payload: FragmentPayload, remote: Endpoint,
            now: float) -> bytes | None:
        """The whole datagram once every slice is in, else None; MalformedMessage for slices
        that cannot belong to a message or that a bound refuses."""
        if not 1 <= payload.number <= MAX_FRAGMENTS:
            raise MalformedMessage(f"fragment number {payload.number}")
        key = (header.initiator_cookie + header.responder_cookie, payload.fragment_id, remote)
        pending = self._pending.get(key)
        peer = remote.address
        messages, held = self._by_peer.get(peer, (0, 0))
        if pending is None:
            if messages >= MAX_PENDING_PER_PEER:  # the peer's oldest goes (a spoofed flood of
                self.evicted += 1                 # the peer's address must not lock it out)
                self._forget(self._oldest_of(peer))
            while self._pending and len(self._pending) >= MAX_PENDING:
                self.evicted += 1
                self._forget(next(iter(self._pending)))
            pending = self._pending[key] = _Pending(now, peer)
            messages, held = self._account(peer, 1, 0)
        if payload.number not in pending.pieces:
            size = len(payload.data)
            if pending.size + size > MAX_MESSAGE:
                self.refused += 1
                self._forget(key)
                raise MalformedMessage("fragmented message too long")
            while held + size > MAX_BYTES_PER_PEER and (older := self._oldest_of(peer)) != key:
                self.evicted += 1
                self._forget(older)
                held = self._by_peer.get(peer, (0, 0))[1]
            while self._bytes + size > MAX_BYTES and next(iter(self._pending)) != key:
                self.evicted += 1
                self._forget(next(iter(self._pending)))
            pending.size += size
            self._bytes += size
            self._account(peer, 0, size)
            pending.pieces[payload.number] = payload.data
        if payload.last:
            pending.last = payload.number
        if pending.last is None or len(pending.pieces) < pending.last:
            return None
        self._forget(key)
        if set(pending.pieces) != set(range(1, pending.last + 1)):
            raise MalformedMessage("fragments beyond the last one")
        return b"".join(pending.pieces[n] for n in range(1, pending.last + 1))

    def _oldest_of(self, peer: IPv4Address) -> tuple[bytes, int, Endpoint]:
        """The key of *peer*'s oldest message (a scan of at most MAX_PENDING)."""
        return next(k for k, p in self._pending.items() if p.peer == peer)

    def _account(self, peer: IPv4Address, messages: int, size: int) -> tuple[int, int]:
        old_messages, old_bytes = self._by_peer.get(peer, (0, 0))
        now_messages, now_bytes = old_messages + messages, old_bytes + size
        if now_messages <= 0:
            self._by_peer.pop(peer, None)
        else:
            self._by_peer[peer] = (now_messages, now_bytes)
        return now_messages, now_bytes

    def _forget(self, key: tuple[bytes, int, Endpoint]) -> None:
        pending = self._pending.pop(key, None)
        if pending is not None:
            self._bytes -= pending.size
            self._account(pending.peer, -1, -pending.size)

    def expire(self, now: float) -> None:
        while self._pending:
            key, oldest = next(iter(self._pending.items()))
            if oldest.started + LIFETIME > now:
                break
            self.expired += 1
            self._forget(key)

    def next_expiry(self) -> float | None:
        oldest = next(iter(self._pending.values()), None)
        return oldest.started + LIFETIME if oldest is not None else None

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def bytes_held(self) -> int:
        return self._bytes
