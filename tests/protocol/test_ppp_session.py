"""PppSession (gateway) back to back with pixgw.testing.ppp_peer.PppPeer (client).

Every authentication protocol accepted and rejected, IPCP address/DNS/WINS, IP both ways,
CCP/IPv6CP Protocol-Reject, MS-CHAPv2 retry, echo timeout, every teardown path.
"""

import hashlib
import hmac
import itertools
from dataclasses import replace
from ipaddress import IPv4Address

import pytest

from pixgw.ppp import mschap
from pixgw.ppp.frame import PROTO_CCP, PROTO_IPV6CP, PROTO_LCP, encode_frame
from pixgw.ppp.fsm import State
from pixgw.ppp.session import (
    AuthenticationRequested,
    IpPacketReceived,
    LinkDown,
    LinkUp,
    PppSession,
    PppSettings,
)
from pixgw.testing.ppp_peer import PppPeer

USERS = {"vpnclient": "s3cret!", "CORP\\alice": "Pa55w0rd"}
POOL_ADDRESS = IPv4Address("198.51.100.10")
LOCAL = IPv4Address("198.51.100.1")
DNS = (IPv4Address("192.0.2.53"), IPv4Address("192.0.2.54"))
WINS = (IPv4Address("192.0.2.137"),)


def counter_random():
    counter = itertools.count(1)

    def random_bytes(n):
        return hashlib.sha256(str(next(counter)).encode()).digest()[:n] if n <= 32 else bytes(n)

    return random_bytes


def verify(request: AuthenticationRequested):
    """A stand-in for the AAA layer: (accepted, mschapv2 authenticator response)."""
    password = USERS.get(request.username)
    if password is None:
        return False, None
    if request.protocol == "pap":
        return request.password == password, None
    if request.protocol == "chap":
        expected = hashlib.md5(
            bytes([request.identifier]) + password.encode() + request.challenge
        ).digest()
        return hmac.compare_digest(expected, request.response), None
    password_hash = mschap.nt_password_hash(password)
    if request.protocol == "mschap":
        expected = mschap.mschapv1_nt_response(request.challenge, password_hash)
        return hmac.compare_digest(expected, request.nt_response), None
    expected = mschap.generate_nt_response(
        request.challenge, request.peer_challenge, request.username, password_hash
    )
    if not hmac.compare_digest(expected, request.nt_response):
        return False, None
    return True, mschap.generate_authenticator_response(
        password_hash,
        request.nt_response,
        request.peer_challenge,
        request.challenge,
        request.username,
    )


class Link:
    """Carries frames between the two cores, with an AAA stand-in on the gateway side."""

    def __init__(
        self,
        settings=None,
        *,
        peer_kwargs=None,
        username="vpnclient",
        password=None,
        auto_answer=True,
        force_reject=False,
    ):
        self.now = 0.0
        self.settings = settings or PppSettings(
            authentication=("chap",), local_address=LOCAL, dns=DNS, wins=WINS
        )
        self.gateway = PppSession(self.settings, random_bytes=counter_random())
        self.peer = PppPeer(
            username,
            USERS.get(username, "x") if password is None else password,
            random_bytes=counter_random(),
            **(peer_kwargs or {}),
        )
        self.events = []
        self.auto_answer = auto_answer
        self.force_reject = force_reject
        self.frames_to_gateway = 0
        self.frames_to_peer = 0
        self.drop_to_peer = False

    def start(self):
        self.gateway.start(self.now)
        self.peer.start(self.now)
        self.pump()

    def pump(self, rounds=50):
        for _ in range(rounds):
            moved = False
            for frame in self.gateway.frames_to_send(self.now):
                moved = True
                self.frames_to_peer += 1
                if not self.drop_to_peer:
                    self.peer.receive_frame(frame, self.now)
            for frame in self.peer.frames_to_send(self.now):
                moved = True
                self.frames_to_gateway += 1
                self.gateway.receive_frame(frame, self.now)
            while (event := self.gateway.next_event()) is not None:
                moved = True
                self.events.append(event)
                if isinstance(event, AuthenticationRequested) and self.auto_answer:
                    self.answer(event)
            if not moved:
                return

    def answer(self, event):
        accepted, authenticator = verify(event)
        if self.force_reject:
            accepted = False
        if accepted:
            self.gateway.set_peer_address(POOL_ADDRESS)
        self.gateway.authentication_result(
            accepted, self.now, mschapv2_authenticator_response=authenticator
        )

    def advance(self, seconds, step=0.5):
        end = self.now + seconds
        while self.now < end:
            self.now = min(end, self.now + step)
            for core in (self.gateway, self.peer):
                timer = core.get_timer()
                if timer is not None and timer <= self.now:
                    core.handle_timer(self.now)
            self.pump()

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]


@pytest.mark.parametrize("protocol", ["pap", "chap", "mschap", "mschapv2"])
def test_each_protocol_accepted_reaches_up(protocol):
    link = Link(PppSettings(authentication=(protocol,), local_address=LOCAL, dns=DNS, wins=WINS))
    link.start()
    (request,) = link.of(AuthenticationRequested)
    assert request.protocol == protocol
    assert request.username == "vpnclient"
    (up,) = link.of(LinkUp)
    assert up.peer_address == POOL_ADDRESS
    assert up.dns == DNS
    assert up.wins == WINS
    assert up.username == "vpnclient"
    assert link.peer.up and link.peer.address == POOL_ADDRESS
    assert link.peer.dns == DNS
    assert link.peer.wins == WINS
    assert link.peer.ipcp.server_address == LOCAL
    assert link.peer.auth_result == "success"
    assert (
        link.gateway.status().authentication
        == {"pap": "PAP", "chap": "CHAP", "mschap": "MSCHAP", "mschapv2": "MSCHAPV2"}[protocol]
    )
    assert link.gateway.phase == "up"
    assert not link.of(LinkDown)


def test_mschapv2_success_carries_verified_authenticator_response():
    link = Link(PppSettings(authentication=("mschapv2",), local_address=LOCAL))
    link.start()
    assert link.peer.authenticator_verified is True
    assert link.peer.auth_messages[-1].startswith("S=")
    assert " M=" in link.peer.auth_messages[-1]


def test_mschapv2_domain_user():
    link = Link(
        PppSettings(authentication=("mschapv2",), local_address=LOCAL), username="CORP\\alice"
    )
    link.start()
    assert link.of(LinkUp)


@pytest.mark.parametrize("protocol", ["pap", "chap", "mschap", "mschapv2"])
def test_each_protocol_wrong_password_rejected_and_torn_down(protocol):
    link = Link(PppSettings(authentication=(protocol,), local_address=LOCAL), password="wrong")
    link.start()
    link.advance(10)
    assert link.peer.auth_result == "failure"
    assert not link.of(LinkUp)
    (down,) = link.of(LinkDown)
    assert down.reason == "authentication failed"
    assert not down.was_up
    if protocol == "mschapv2":
        assert link.peer.auth_messages[-1].startswith("E=691 R=0 C=")
        assert " V=3 M=" in link.peer.auth_messages[-1]
    if protocol == "mschap":
        assert link.peer.auth_messages[-1].startswith("E=691 R=0")
    assert link.gateway.lcp.state in (State.CLOSED, State.STOPPED, State.CLOSING)


def test_mschapv2_retry_then_success():
    link = Link(
        PppSettings(authentication=("mschapv2",), local_address=LOCAL, auth_retries=1),
        auto_answer=False,
    )
    link.start()
    (first,) = link.of(AuthenticationRequested)
    link.gateway.authentication_result(False, link.now, message="try again")
    link.pump()
    assert link.peer.auth_messages[-1].startswith("E=691 R=1 C=")
    second = link.of(AuthenticationRequested)[-1]
    assert second.attempt == 2
    assert second.challenge != first.challenge
    accepted, auth = verify(second)
    assert accepted
    link.gateway.set_peer_address(POOL_ADDRESS)
    link.gateway.authentication_result(True, link.now, mschapv2_authenticator_response=auth)
    link.pump()
    assert link.of(LinkUp)
    assert link.peer.authenticator_verified


def test_mschapv2_password_expired_648():
    link = Link(PppSettings(authentication=("mschapv2",), local_address=LOCAL), auto_answer=False)
    link.start()
    link.gateway.authentication_result(False, link.now, failure_code=648)
    link.pump()
    assert link.peer.auth_messages[-1].startswith("E=648 R=0")
    assert link.of(LinkDown)


def test_auth_nak_moves_to_next_allowed_in_order():
    # Gateway allows chap then mschapv2; the client only does MS-CHAPv2 and Naks CHAP.
    link = Link(
        PppSettings(authentication=("chap", "mschap", "mschapv2"), local_address=LOCAL),
        peer_kwargs={"auth_protocols": ("mschapv2",)},
    )
    link.start()
    (request,) = link.of(AuthenticationRequested)
    assert request.protocol == "mschapv2"
    assert link.of(LinkUp)


def test_auth_nak_with_nothing_allowed_left_closes():
    link = Link(
        PppSettings(authentication=("chap",), local_address=LOCAL),
        peer_kwargs={"auth_protocols": ("pap",)},
    )
    link.start()
    (down,) = link.of(LinkDown)
    assert "refused" in down.reason
    assert not link.of(AuthenticationRequested)


def test_no_authentication_configured_goes_straight_to_ipcp():
    link = Link(PppSettings(authentication=(), local_address=LOCAL))
    link.gateway.set_peer_address(POOL_ADDRESS)
    link.start()
    assert not link.of(AuthenticationRequested)
    assert link.of(LinkUp)


def test_address_from_aaa_is_used():
    link = Link(PppSettings(authentication=("pap",), local_address=LOCAL), auto_answer=False)
    link.start()
    aaa_address = IPv4Address("203.0.113.77")
    link.gateway.authentication_result(True, link.now, address=aaa_address)
    link.pump()
    (up,) = link.of(LinkUp)
    assert up.peer_address == aaa_address
    assert link.peer.address == aaa_address


def test_no_address_available_closes():
    link = Link(PppSettings(authentication=("pap",), local_address=LOCAL), auto_answer=False)
    link.start()
    link.gateway.authentication_result(True, link.now)
    link.pump()
    (down,) = link.of(LinkDown)
    assert "no address" in down.reason


def test_no_dns_wins_configured_rejected():
    link = Link(PppSettings(authentication=("pap",), local_address=LOCAL))
    link.start()
    assert link.of(LinkUp)[0].dns == ()
    assert link.peer.dns == () and link.peer.wins == ()
    assert {129, 130, 131, 132} <= link.peer.ipcp.rejected


def test_ip_packets_both_ways():
    link = Link()
    link.start()
    packet = bytes.fromhex("4500001c000000004001f7e0c6336401c00002010800f7ff00000000")
    link.peer.send_ip(packet)
    link.pump()
    assert link.of(IpPacketReceived) == [IpPacketReceived(packet)]
    link.gateway.send_ip(b"reply", link.now)
    link.pump()
    assert link.peer.received_ip == [b"reply"]
    status = link.gateway.status()
    assert status.received_packets >= 1 and status.transmitted_packets >= 1
    assert status.client_address == POOL_ADDRESS


@pytest.mark.parametrize(
    ("frame", "delivered"),
    [
        ("ff030021" + "4500aa", "4500aa"),  # FF 03 + 0x0021: the per-packet shortcut
        ("0021" + "4500bb", "4500bb"),  # address/control compressed (ACFC)
        ("21" + "4500cc", "4500cc"),  # and the protocol too (PFC)
        ("ff030021", ""),  # an empty IP frame is still an IP frame
    ],
)
def test_ip_frames_in_every_header_form_and_timers_untouched(frame, delivered):
    link = Link()
    link.start()
    epoch, timer = link.gateway.timer_epoch, link.gateway.get_timer()
    link.gateway.receive_frame(bytes.fromhex(frame), link.now + 5)
    assert link.gateway.next_event() == IpPacketReceived(bytes.fromhex(delivered))
    assert link.gateway.next_event() is None
    assert link.gateway.frames_to_send(link.now) == []
    # IP moves no timer (the gateway skips get_timer then), nor does an echo (RXR, RFC 1661
    # §4.1: no state change anywhere); another control frame bumps the epoch
    assert (link.gateway.timer_epoch, link.gateway.get_timer()) == (epoch, timer)
    link.gateway.receive_frame(bytes.fromhex("ff03c021" + "0901000800000000"), link.now)
    assert link.gateway.frames_to_send(link.now)  # the Echo-Reply
    assert (link.gateway.timer_epoch, link.gateway.get_timer()) == (epoch, timer)
    link.gateway.receive_frame(bytes.fromhex("ff03c021" + "2001000400"), link.now)
    assert link.gateway.timer_epoch == epoch + 1  # an unknown code: Code-Reject


def test_ip_before_up_is_dropped():
    link = Link(auto_answer=False)
    link.start()
    link.gateway.receive_frame(encode_frame(0x0021, b"early"), link.now)
    assert not link.of(IpPacketReceived)
    assert link.gateway.next_event() is None
    link.gateway.send_ip(b"early", link.now)
    assert link.gateway.frames_to_send(link.now) == []


@pytest.mark.parametrize("protocol", [PROTO_CCP, PROTO_IPV6CP, 0x8281, 0x002B])
def test_unwanted_protocols_get_protocol_reject(protocol):
    link = Link()
    link.start()
    link.peer.send_raw(protocol, bytes.fromhex("0101000a1206010000"))
    link.pump()
    assert link.peer.lcp.protocol_rejects == [protocol]
    assert link.gateway.phase == "up"


def test_mru_above_cap_is_nakked_to_cap():
    link = Link(peer_kwargs={"mru": 1500})
    link.start()
    assert link.peer.lcp.mru == 1400
    assert link.gateway.status().mru == 1400


def test_mru_cap_configurable():
    link = Link(
        PppSettings(authentication=("pap",), local_address=LOCAL, mru_cap=1200),
        peer_kwargs={"mru": 1400},
    )
    link.start()
    assert link.peer.lcp.mru == 1200


def test_echo_answered_and_liveness():
    link = Link(PppSettings(authentication=("pap",), local_address=LOCAL, echo_interval=5))
    link.start()
    link.advance(30)
    assert link.peer.lcp.echo_replies == 0  # gateway sends requests, peer answers them
    assert not link.of(LinkDown)
    link.peer.send_echo_request()
    link.pump()
    assert link.peer.lcp.echo_replies == 1


def test_echo_timeout_brings_link_down():
    link = Link(
        PppSettings(authentication=("pap",), local_address=LOCAL, echo_interval=5, echo_failures=3)
    )
    link.start()
    link.peer.answer_echo = False
    link.advance(30)
    (down,) = link.of(LinkDown)
    assert down.reason == "echo timeout"
    assert down.was_up
    assert down.peer_address == POOL_ADDRESS


def test_peer_terminate():
    link = Link()
    link.start()
    link.peer.close(link.now)
    link.pump()
    (down,) = link.of(LinkDown)
    assert down.reason == "peer terminated"
    assert down.was_up and down.username == "vpnclient"
    link.advance(10)
    assert len(link.of(LinkDown)) == 1
    assert link.gateway.lcp.state == State.STOPPED


def test_gateway_close_sends_terminate():
    link = Link()
    link.start()
    link.gateway.close("clear vpdn", link.now)
    link.pump()
    downs = link.of(LinkDown)
    assert len(downs) == 1 and downs[0].reason == "clear vpdn"
    assert link.peer.terminated
    assert link.gateway.lcp.state == State.CLOSED
    link.gateway.close("again", link.now)
    link.pump()
    assert len(link.of(LinkDown)) == 1


def test_close_with_dead_peer_times_out_to_closed():
    link = Link()
    link.start()
    link.drop_to_peer = True
    link.gateway.close("CDN", link.now)
    link.advance(20)
    assert link.gateway.lcp.state == State.CLOSED
    assert link.gateway.get_timer() is None


def test_lcp_negotiation_timeout_when_peer_silent():
    settings = PppSettings(authentication=("chap",), local_address=LOCAL)
    session = PppSession(settings, random_bytes=counter_random())
    session.start(0.0)
    sent = len(session.frames_to_send(0.0))
    now = 0.0
    for _ in range(100):
        timer = session.get_timer()
        if timer is None:
            break
        now = timer
        session.handle_timer(now)
        sent += len(session.frames_to_send(now))
    assert sent == settings.max_configure  # RFC 1661 Max-Configure Configure-Requests
    event = session.next_event()
    assert isinstance(event, LinkDown)
    assert event.reason == "LCP negotiation failed"
    assert session.lcp.state == State.STOPPED


def test_chap_challenge_retransmitted_then_timeout():
    link = Link(peer_kwargs={"auth_protocols": ("chap",)})
    link.gateway.start(0.0)
    link.peer.start(0.0)
    # Deliver LCP only: swallow the peer's CHAP responses.
    for _ in range(10):
        for frame in link.gateway.frames_to_send(link.now):
            link.peer.receive_frame(frame, link.now)
        for frame in link.peer.frames_to_send(link.now):
            if frame[2:4] != b"\xc2\x23":
                link.gateway.receive_frame(frame, link.now)
    assert link.gateway.phase == "authenticate"
    challenges = 0
    for _ in range(40):
        link.now += 3
        link.gateway.handle_timer(link.now)
        for frame in link.gateway.frames_to_send(link.now):
            challenges += frame[2:4] == b"\xc2\x23"
    events = []
    while (e := link.gateway.next_event()) is not None:
        events.append(e)
    assert [e.reason for e in events if isinstance(e, LinkDown)] == ["authentication timeout"]
    assert challenges >= 9


def test_repeated_response_after_success_gets_success_again():
    link = Link()
    link.start()
    # Replay the peer's last CHAP Response: the gateway answers Success again, no new request.
    link.peer._respond(link.gateway.auth._final.identifier, link.gateway.auth._challenge)
    link.pump()
    assert len(link.of(AuthenticationRequested)) == 1
    assert link.peer.auth_messages.count("Welcome") == 2


def test_garbage_frames_are_counted_not_raised():
    link = Link()
    link.start()
    for junk in (
        b"",
        b"\xff",
        b"\xff\x03",
        b"\xc0\x21\x01",
        b"\xff\x03\xc0\x21\x01\x01\x00\xff",
        b"\xff\x03\x80\x20",
        b"\xff\x03\xc0\x21\x01\x09\x00\x08\x01\x01\x00\x00",
    ):
        link.gateway.receive_frame(junk, link.now)
    link.pump()
    assert link.gateway.phase == "up"
    assert link.gateway.status().error_packets >= 5


def test_unknown_lcp_code_gets_code_reject():
    link = Link()
    link.start()
    link.peer.send_raw(PROTO_LCP, bytes.fromhex("20070004"))
    frames = link.peer.frames_to_send(link.now)
    for frame in frames:
        link.gateway.receive_frame(frame, link.now)
    out = link.gateway.frames_to_send(link.now)
    assert any(f[4] == 7 for f in out if f[2:4] == b"\xc0\x21")


def test_from_vpdn_group():
    from pixgw.config.model import VpdnGroup

    group = VpdnGroup("l2tpipsec", ppp_authentication=("chap", "mschap"), dns=DNS, wins=WINS)
    settings = PppSettings.from_vpdn_group(group, interface_id=7, local_address=LOCAL)
    assert settings.authentication == ("chap", "mschap")
    assert settings.dns == DNS and settings.interface_id == 7
    assert replace(settings, mru_cap=1300).mru_cap == 1300
    bare = PppSettings.from_vpdn_group(VpdnGroup("g"), interface_id=1)
    assert bare.authentication == ("chap", "mschapv2")  # never an unauthenticated link


def test_password_not_in_repr():
    link = Link(PppSettings(authentication=("pap",), local_address=LOCAL), auto_answer=False)
    link.start()
    (request,) = link.of(AuthenticationRequested)
    assert request.password == USERS["vpnclient"]
    assert USERS["vpnclient"] not in repr(request)


def test_looped_back_link_is_closed():
    # A link that echoes our own frames back: our Configure-Request comes back as the
    # peer's, with our magic number, until the session gives up. (With authentication
    # configured the looped Reject of our Authentication-Protocol ends it even sooner.)
    settings = PppSettings(authentication=(), local_address=LOCAL)
    session = PppSession(settings, random_bytes=counter_random())
    session.start(0.0)
    now = 0.0
    for _ in range(40):
        frames = session.frames_to_send(now)
        for frame in frames:
            session.receive_frame(frame, now)
        if not frames:
            now += 3
            session.handle_timer(now)
    downs = []
    while (event := session.next_event()) is not None:
        downs.append(event)
    assert [d.reason for d in downs if isinstance(d, LinkDown)] == ["looped-back link detected"]
    assert session.lcp.loops_detected > settings.max_failure


def test_windows_like_client_options_rejected_then_up():
    # Windows asks for Callback (CBCP) and multilink MRRU in LCP and VJ compression in IPCP;
    # all are Rejected, the client drops them and the link comes up with DNS and WINS.
    from pixgw.ppp.frame import Option

    link = Link(
        PppSettings(authentication=("mschapv2",), local_address=LOCAL, dns=DNS, wins=WINS),
        peer_kwargs={"mru": 1400},
    )
    link.peer.extra_lcp_options = [Option(13, b"\x06"), Option(17, b"\x06\x4e")]
    link.peer.extra_ipcp_options = [Option(2, bytes.fromhex("002d0f01"))]
    link.start()
    (up,) = link.of(LinkUp)
    assert up.dns == DNS and up.wins == WINS
    assert link.peer.extra_lcp_options == [] and link.peer.extra_ipcp_options == []
    assert link.peer.ipcp.rejected == {2, 132}  # VJ, and the secondary WINS nobody configured


def test_the_session_writes_to_the_sink_it_was_given_and_nowhere_else() -> None:
    """DESIGN: cores take their log sink in the constructor; the debug ppp io lines of the
    first LCP Configure-Request go to the given sink, none to the process's publisher."""
    import os

    from pixgw.ppp.session import PppSession, PppSettings
    from pixgw.syslog import ListSink
    from tests.protocol.ike_harness import captured_logs

    sink = ListSink()
    session = PppSession(PppSettings(echo_interval=5.0), random_bytes=os.urandom, log=sink)
    with captured_logs() as published:
        session.start(0.0)
        assert session.frames_to_send(0.0)
    assert published == []
    assert any("CONFREQ" in line for line in sink.lines), sink.lines
