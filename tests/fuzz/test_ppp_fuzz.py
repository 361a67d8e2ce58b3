"""Hostile frames into PppSession in every phase: nothing raises, the session stays usable."""

import hashlib
import itertools
from ipaddress import IPv4Address

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pixgw.ppp.frame import PROTO_CHAP, PROTO_IPCP, PROTO_LCP, PROTO_PAP, encode_frame
from pixgw.ppp.session import AuthenticationRequested, PppSession, PppSettings
from pixgw.testing.ppp_peer import PppPeer


def random_source():
    counter = itertools.count()
    return lambda n: hashlib.sha256(str(next(counter)).encode()).digest()[:n]


def session_in(phase):
    """A session driven by a real client core to *phase* (establish, authenticate or up)."""
    session = PppSession(
        PppSettings(authentication=("mschapv2", "pap"), local_address=IPv4Address("192.0.2.1")),
        random_bytes=random_source(),
    )
    peer = PppPeer("u", "p", random_bytes=random_source(), auth_protocols=("pap",))
    session.start(0.0)
    if phase == "establish":
        return session
    peer.start(0.0)
    for _ in range(30):
        for frame in session.frames_to_send(0.0):
            peer.receive_frame(frame, 0.0)
        for frame in peer.frames_to_send(0.0):
            session.receive_frame(frame, 0.0)
        event = session.next_event()
        if isinstance(event, AuthenticationRequested):
            if phase == "authenticate":
                return session
            session.authentication_result(True, 0.0, address=IPv4Address("192.0.2.9"))
        if session.phase == phase:
            return session
    raise AssertionError(f"could not reach {phase}")


protocols = st.sampled_from([PROTO_LCP, PROTO_PAP, PROTO_CHAP, PROTO_IPCP, 0x0021, 0x80FD, 0x8057])
control = st.tuples(st.integers(0, 12), st.integers(0, 255), st.binary(max_size=40)).map(
    lambda t: bytes([t[0], t[1]]) + (4 + len(t[2])).to_bytes(2, "big") + t[2]
)
frames = st.one_of(
    st.binary(max_size=80),
    st.tuples(protocols, control).map(lambda t: encode_frame(t[0], t[1])),
    st.tuples(protocols, st.binary(max_size=40)).map(lambda t: encode_frame(t[0], t[1])),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["establish", "authenticate", "up"]), st.lists(frames, max_size=25),
       st.booleans())
def test_session_survives_anything(phase, inputs, answer):
    session = session_in(phase)
    now = 0.0
    for frame in inputs:
        now += 0.7
        session.receive_frame(frame, now)
        session.handle_timer(now)
        session.frames_to_send(now)
        while (event := session.next_event()) is not None:
            if isinstance(event, AuthenticationRequested):
                session.authentication_result(answer, now, address=IPv4Address("192.0.2.9"),
                                              mschapv2_authenticator_response="S=" + "0" * 40)
    session.status()
    session.close("fuzz over", now)
    session.frames_to_send(now)
