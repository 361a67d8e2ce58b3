"""Every L2TP decoder returns a value or raises MalformedMessage; the LNS never raises."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pixgw.l2tp.avp import Avp, decode_avps, encode_avps
from pixgw.l2tp.core import L2tpLns, L2tpSettings
from pixgw.l2tp.message import ControlMessage, decode, encode_control
from pixgw.wire import MalformedMessage
from tests.protocol.l2tp_link import PEER, Link, counting_random
from tests.unit.test_l2tp_codec import SCCRQ

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.binary(max_size=300))
def test_decode_returns_or_raises_malformed(data):
    with contextlib.suppress(MalformedMessage):
        decode(data)


@FAST
@given(st.binary(max_size=300), st.one_of(st.none(), st.binary(min_size=1, max_size=8)))
def test_decode_avps_returns_or_raises_malformed(data, secret):
    with contextlib.suppress(MalformedMessage):
        decode_avps(data, secret=secret)


def _established() -> Link:
    link = Link(settings=L2tpSettings(secret=None))
    link.establish()
    return link


@FAST
@given(st.lists(st.binary(max_size=200), max_size=5))
def test_lns_survives_random_datagrams(datagrams):
    lns = L2tpLns(L2tpSettings(secret=b"k"), random_bytes=counting_random())
    for i, data in enumerate(datagrams):
        lns.receive_datagram(data, PEER, float(i))
        lns.datagrams_to_send(float(i))
        lns.handle_timer(float(i))
    while lns.next_event() is not None:
        pass


@FAST
@given(st.lists(st.tuples(st.integers(0, len(SCCRQ) - 1), st.integers(0, 255)), max_size=6))
def test_lns_survives_mutated_sccrq(flips):
    data = bytearray(SCCRQ)
    for index, value in flips:
        data[index] = value
    lns = L2tpLns(L2tpSettings(), random_bytes=counting_random())
    lns.receive_datagram(bytes(data), PEER, 0.0)
    lns.datagrams_to_send(0.0)
    counters = lns.counters()
    assert counters.malformed + counters.unknown_tunnel + counters.unexpected <= 1
    # with no answer from the peer, every tunnel state goes away by itself (bounded)
    for _ in range(100):
        deadline = lns.get_timer()
        if deadline is None:
            break
        lns.handle_timer(deadline)
        lns.datagrams_to_send(deadline)
    assert lns.get_timer() is None
    assert lns.tunnel_status() == ()


avp_strategy = st.builds(
    Avp,
    attribute_type=st.integers(0, 45),
    value=st.binary(max_size=20),
    mandatory=st.booleans(),
    hidden=st.just(False),
    vendor_id=st.sampled_from([0, 0, 0, 9]),
    reserved=st.just(0),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(avp_strategy, max_size=8), st.integers(0, 3), st.integers(0, 0xFFFF))
def test_lns_survives_any_avps_in_sequence_on_an_established_tunnel(avps, session_id, nr):
    link = _established()
    tunnel = link.lns.tunnel_status()[0]
    ns = tunnel.control_nr
    message = ControlMessage(tunnel.local_tunnel_id, session_id, ns, nr, encode_avps(avps))
    link.lns.receive_datagram(encode_control(message), PEER, link.now)
    link.advance(2)
    # whatever happened, the core answered with well-formed datagrams or nothing
    for data in link.to_lac_log:
        decode(data)
