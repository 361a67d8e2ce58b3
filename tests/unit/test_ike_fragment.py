"""IKEv1 fragmentation: slicing and bounded reassembly (order, duplicates, limits, expiry)."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from pixgw.ike import constants as c
from pixgw.ike.events import Endpoint
from pixgw.ike.fragment import (
    LIFETIME,
    MAX_BYTES_PER_PEER,
    MAX_FRAGMENTS,
    MAX_PENDING,
    MAX_PENDING_PER_PEER,
    FragmentReassembly,
    fragment,
)
from pixgw.ike.message import FragmentPayload, Header, decode_message
from pixgw.wire import MalformedMessage

PEER = Endpoint(IPv4Address("198.51.100.7"), 500)
HEADER = Header(b"I" * 8, b"R" * 8, 0, 0x10, c.EXCH_MAIN, 0, 0)


def _pieces(data: bytes, size: int) -> list[tuple[Header, FragmentPayload]]:
    out = []
    for datagram in fragment(data, HEADER, 9, size):
        m = decode_message(datagram)
        assert m.header.next_payload == c.PT_FRAGMENT and m.header.flags == 0
        (p,) = m.payloads
        assert isinstance(p, FragmentPayload)
        out.append((m.header, p))
    return out


def test_slices_numbered_from_one_last_flagged() -> None:
    pieces = _pieces(bytes(range(256)) * 10, 1000)
    assert [(p.number, p.last, len(p.data)) for _, p in pieces] == [
        (1, False, 1000), (2, False, 1000), (3, True, 560)]


def test_reassembly_out_of_order_with_duplicates() -> None:
    data = bytes(range(256)) * 10
    pieces = _pieces(data, 700)
    r = FragmentReassembly()
    order = [pieces[3], pieces[0], pieces[0], pieces[2]]
    assert all(r.add(h, p, PEER, 0.0) is None for h, p in order)
    assert r.add(*pieces[1], PEER, 0.0) == data
    assert r.next_expiry() is None


def test_limits_and_expiry() -> None:
    r = FragmentReassembly()
    with pytest.raises(MalformedMessage):
        r.add(HEADER, FragmentPayload(1, 0, False, b"x"), PEER, 0.0)
    with pytest.raises(MalformedMessage):
        r.add(HEADER, FragmentPayload(1, MAX_FRAGMENTS + 1, True, b"x"), PEER, 0.0)
    with pytest.raises(MalformedMessage):
        for n in range(1, MAX_FRAGMENTS + 1):
            r.add(HEADER, FragmentPayload(2, n, False, b"y" * 4000), PEER, 0.0)
    r.add(HEADER, FragmentPayload(3, 2, False, b"z"), PEER, 5.0)
    assert r.next_expiry() == 5.0 + LIFETIME
    r.expire(5.0 + LIFETIME)
    assert r.next_expiry() is None
    with pytest.raises(MalformedMessage):  # a piece after the announced last one
        r.add(HEADER, FragmentPayload(4, 3, False, b"a"), PEER, 0.0)
        r.add(HEADER, FragmentPayload(4, 1, False, b"a"), PEER, 0.0)
        r.add(HEADER, FragmentPayload(4, 2, True, b"a"), PEER, 0.0)


def _first_slice(fragment_id: int) -> FragmentPayload:
    return FragmentPayload(fragment_id, 1, False, b"s" * 1000)


def test_one_peer_holds_at_most_its_messages_and_bytes_the_oldest_going() -> None:
    r = FragmentReassembly()
    for i in range(MAX_PENDING_PER_PEER + 3):
        assert r.add(HEADER, _first_slice(i), PEER, float(i)) is None
    assert (r.pending, r.evicted, r.bytes_held) == (MAX_PENDING_PER_PEER, 3,
                                                    MAX_PENDING_PER_PEER * 1000)
    assert r.next_expiry() == 3.0 + LIFETIME  # messages 0-2 went, oldest first
    other = Endpoint(IPv4Address("198.51.100.8"), 500)  # another peer is not held back
    assert r.add(HEADER, _first_slice(1), other, 9.0) is None
    assert r.evicted == 3
    # bytes: 32 KB messages of a third peer, its bound crossed: its oldest goes
    third = Endpoint(IPv4Address("198.51.100.9"), 500)
    for message in range(MAX_PENDING_PER_PEER):
        for n in range(1, 9):  # 32 KB a message, under MAX_MESSAGE
            r.add(HEADER, FragmentPayload(20 + message, n, False, b"b" * 4000), third, 9.0)
    assert r.evicted == 4
    assert r.bytes_held - MAX_PENDING_PER_PEER * 1000 - 1000 <= MAX_BYTES_PER_PEER
    # one message over MAX_MESSAGE is refused whole
    with pytest.raises(MalformedMessage, match="too long"):
        for n in range(1, MAX_FRAGMENTS + 1):
            r.add(HEADER, FragmentPayload(50, n, False, b"l" * 4000), other, 9.0)
    assert r.refused == 1


def test_a_flood_from_many_sources_evicts_the_oldest_and_a_real_peer_reassembles() -> None:
    r = FragmentReassembly()
    for i in range(MAX_PENDING + 100):
        source = Endpoint(IPv4Address("198.51.100.0") + i % 250 + 1, 500)
        r.add(Header(i.to_bytes(8, "big"), b"R" * 8, 0, 0x10, c.EXCH_MAIN, 0, 0),
              _first_slice(i), source, 1.0)
    assert r.pending == MAX_PENDING and r.evicted == 100
    data = bytes(range(256)) * 10
    real = Endpoint(IPv4Address("203.0.113.5"), 4500)
    pieces = _pieces(data, 700)
    assert all(r.add(h, p, real, 2.0) is None for h, p in pieces[:-1])
    assert r.add(*pieces[-1], real, 2.0) == data
    r.expire(1.0 + LIFETIME)  # the flood's pieces go, oldest first, in one pass
    assert (r.pending, r.bytes_held, r.expired) == (0, 0, MAX_PENDING - 1)
