"""IKEv1 fragmentation: slicing and bounded reassembly (order, duplicates, limits, expiry)."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from pixgw.ike import constants as c
from pixgw.ike.events import Endpoint
from pixgw.ike.fragment import MAX_FRAGMENTS, FragmentReassembly, fragment
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
    assert r.next_expiry() == 35.0
    r.expire(35.0)
    assert r.next_expiry() is None
    with pytest.raises(MalformedMessage):  # a piece after the announced last one
        r.add(HEADER, FragmentPayload(4, 3, False, b"a"), PEER, 0.0)
        r.add(HEADER, FragmentPayload(4, 1, False, b"a"), PEER, 0.0)
        r.add(HEADER, FragmentPayload(4, 2, True, b"a"), PEER, 0.0)
