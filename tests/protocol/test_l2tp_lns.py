"""The LNS core back to back with the testing LAC (RFC 2661 §5, §6), with injected time."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address
from typing import Any

import pytest
from twisted.logger import ILogObserver
from zope.interface import implementer

from pixgw import syslog
from pixgw.config.model import VpdnGroup
from pixgw.dataplane.interfaces import L2tpPeer
from pixgw.l2tp.avp import Avp, AvpType, encode_avps
from pixgw.l2tp.core import L2tpLns, L2tpSettings
from pixgw.l2tp.events import (
    PppFrameReceived,
    SessionClosed,
    SessionEstablished,
    TunnelClosed,
    TunnelEstablished,
)
from pixgw.l2tp.message import (
    ControlMessage,
    DataMessage,
    MessageType,
    decode,
    encode_control,
    encode_data,
)
from pixgw.testing.l2tp_lac import L2tpLac
from tests.protocol.l2tp_link import PEER, Link, counting_random

LCP = bytes.fromhex("ff03c021010100040000")


def kinds(events):
    return [type(e).__name__ for e in events]


def types_received(lac: L2tpLac) -> list[int]:
    return [r.message_type for r in lac.received]


@implementer(ILogObserver)
class Captured(list[dict[str, Any]]):
    def __call__(self, event: dict[str, Any]) -> None:
        self.append(event)


@pytest.fixture
def logged():
    lines = Captured()
    syslog.add_observer(lines)
    yield lines
    syslog.remove_observer(lines)


def pix_ids(lines) -> list[int]:
    return [e["pix_id"] for e in lines if "pix_id" in e]


def debug_texts(lines, category: str) -> list[str]:
    return [e["pix_debug_text"] for e in lines if e.get("pix_debug") == category]


def test_tunnel_and_session_setup():
    link = Link()
    link.establish()
    assert kinds(link.events) == ["TunnelEstablished", "SessionEstablished"]
    tunnel_up, session_up = link.events
    assert isinstance(tunnel_up, TunnelEstablished) and isinstance(session_up, SessionEstablished)
    assert session_up.peer == PEER
    assert session_up.remote_tunnel_id == 19 and session_up.remote_session_id == 1
    assert session_up.remote_host_name == "lac"
    assert session_up.call_serial_number == 7 and session_up.tx_connect_speed == 100_000_000
    assert types_received(link.lac) == [MessageType.SCCRP, MessageType.ICRP]
    sccrp = link.lac.received[0]
    assert sccrp.require(AvpType.HOST_NAME).value == b"pixgw"
    assert sccrp.require(AvpType.FRAMING_CAPABILITIES).u32() == 3
    assert sccrp.get(AvpType.BEARER_CAPABILITIES) is not None
    assert sccrp.get(AvpType.FIRMWARE_REVISION) is not None
    assert sccrp.require(AvpType.VENDOR_NAME).value == b"pixgw"
    assert sccrp.require(AvpType.RECEIVE_WINDOW_SIZE).u16() == 8
    assert sccrp.require(AvpType.ASSIGNED_TUNNEL_ID).u16() == session_up.tunnel_id
    assert sccrp.get(AvpType.CHALLENGE) is None  # no secret configured
    (tunnel,) = link.lns.tunnel_status()
    assert tunnel.state == "established" and tunnel.remote_tunnel_id == 19
    assert tunnel.active_sessions == 1 and tunnel.remote_rws == 4 and tunnel.local_rws == 8
    assert tunnel.control_ns == 2 and tunnel.control_nr == 4  # SCCRP, ICRP / SCCRQ..ICCN
    assert tunnel.remote_address == PEER.address and tunnel.remote_port == 1701
    (session,) = link.lns.session_status()
    assert session.state == "established" and session.remote_call_id == 1
    assert session.call_id == session_up.session_id


def test_host_name_from_the_config_and_hello_from_the_vpdn_group():
    group = VpdnGroup("l2tpipsec", l2tp_tunnel_hello=30)
    settings = L2tpSettings.from_vpdn_group(group, hostname="PIX-506-2")
    assert settings.hello_interval == 30.0 and settings.host_name == "PIX-506-2"
    link = Link(settings=settings)
    link.establish()
    assert link.lac.received[0].require(AvpType.HOST_NAME).value == b"PIX-506-2"


def test_ppp_frames_both_ways_and_counters():
    link = Link()
    link.establish()
    key = link.events[-1].key
    link.lac.send_ppp(LCP, link.now)
    link.pump()
    assert link.events[-1] == PppFrameReceived(key, LCP)
    link.lns.send_ppp(key, LCP[2:], link.now)  # protocol field first: passed as given
    link.pump()
    assert link.lac.frames == [LCP[2:]]
    (session,) = link.lns.session_status()
    assert (session.packets_sent, session.packets_received) == (1, 1)
    assert (session.bytes_sent, session.bytes_received) == (len(LCP) - 2, len(LCP))
    assert not session.sequencing


def test_sequencing_when_the_lac_requires_it():
    link = Link(lac=L2tpLac(random_bytes=counting_random(), sequencing=True))
    link.establish()
    key = link.events[-1].key
    assert link.events[-1].sequencing_required
    link.lns.send_ppp(key, LCP, link.now)
    datagrams = link.lns.datagrams_to_send(link.now)
    message = decode(datagrams[0][0])
    assert message.ns == 0  # S bit set, Ns counts data messages
    (session,) = link.lns.session_status()
    assert session.sequencing


def test_hello_is_sent_when_idle_and_answered():
    link = Link(settings=L2tpSettings(hello_interval=60))
    link.establish()
    link.advance(200)
    hellos = [d for d in link.to_lac_log if b"\x00\x00\x00\x00\x00\x06" in d]
    assert len(hellos) == 3  # at about 60, 120 and 180 seconds
    assert link.lns.tunnel_status()[0].state == "established"
    assert not any(isinstance(e, TunnelClosed) for e in link.events)


@pytest.mark.parametrize("hello", [60, 20])
def test_hello_timeout_tears_the_tunnel_down(hello):
    link = Link(settings=L2tpSettings(hello_interval=hello, max_retries=5))
    link.establish()
    start = link.now
    link.lac_dead = True  # the client vanished
    link.advance(hello + 29)
    assert link.lns.tunnel_status()  # HELLO at +0, retransmitted at +1, +3, +7, +15, +23
    link.advance(5)  # the fifth retransmission goes unanswered for 8 s: +31 s
    closed = [e for e in link.events if isinstance(e, TunnelClosed)]
    assert len(closed) == 1 and closed[0].reason == "retransmission limit"
    assert next(e for e in link.events if isinstance(e, SessionClosed)).was_established
    assert link.lns.tunnel_status() == () and link.lns.session_status() == ()
    assert link.now - start < hello + 35
    assert link.lns.get_timer() is None


def test_second_icrq_is_refused_with_cdn_and_603110(logged):
    link = Link()
    link.establish()
    link.lac.session_id = 2
    link.lac.place_call(link.now)
    link.pump()
    link.advance(1)
    cdn = link.lac.received[-1]
    assert cdn.message_type == MessageType.CDN
    assert cdn.require(AvpType.RESULT_CODE).value[:2] == b"\x00\x04"
    assert 603110 in pix_ids(logged)
    assert len(link.lns.session_status()) == 1  # the first call stays
    assert link.lns.counters().sessions_refused == 1
    assert kinds(link.events) == ["TunnelEstablished", "SessionEstablished"]


def test_more_sessions_when_configured():
    link = Link(settings=L2tpSettings(sessions_per_tunnel=2))
    link.establish()
    link.lac.session_id = 2
    link.lac.place_call(link.now)
    link.advance(1)
    assert kinds(link.events).count("SessionEstablished") == 2
    assert len(link.lns.session_status()) == 2
    assert link.lns.tunnel_status()[0].active_sessions == 2


def test_stopccn_from_the_lac():
    link = Link()
    link.establish()
    link.lac.stop(link.now, result=1)
    link.advance(1)
    assert kinds(link.events)[-2:] == ["SessionClosed", "TunnelClosed"]
    closed = link.events[-1]
    assert closed.by_peer and closed.result_code == 1
    assert link.lac.channel.idle  # the StopCCN was acknowledged
    assert link.lns.tunnel_status() == ()
    # the stopped tunnel lingers to acknowledge a retransmitted StopCCN, then goes
    link.advance(40)
    assert link.lns.tunnels == {}


def test_clear_vpdn_tunnel_sends_stopccn():
    link = Link()
    link.establish()
    key = link.events[-1].key.tunnel
    link.lns.close_tunnel(key, 6, link.now, "cleared")
    link.advance(1)
    assert link.lac.received[-1].message_type == MessageType.STOPCCN
    assert link.lac.stop_result == b"\x00\x06\x00\x00cleared"
    assert kinds(link.events)[-2:] == ["SessionClosed", "TunnelClosed"]
    assert not link.events[-1].by_peer
    assert link.lns.tunnels == {}  # acknowledged: forgotten at once


def test_close_session_sends_cdn_and_cdn_from_the_lac_closes():
    link = Link()
    link.establish()
    key = link.events[-1].key
    link.lns.close_session(key, 3, link.now)
    link.advance(1)
    assert link.lac.received[-1].message_type == MessageType.CDN
    assert (link.lac.cdn_result or b"")[:2] == b"\x00\x03"
    assert isinstance(link.events[-1], SessionClosed) and not link.events[-1].by_peer
    # a new call, then the LAC hangs up
    link.lac.session_id = 5
    link.lac.place_call(link.now)
    link.advance(1)
    link.lac.disconnect(link.now)
    link.advance(1)
    assert isinstance(link.events[-1], SessionClosed) and link.events[-1].by_peer
    assert link.lns.session_status() == ()
    assert link.lns.tunnel_status()[0].state == "established"


def test_wen_and_sli_are_accepted():
    link = Link()
    link.establish()
    for message_type in (MessageType.WEN, MessageType.SLI):
        link.lac.send_raw_control(
            [Avp.of_u16(AvpType.MESSAGE_TYPE, message_type), Avp(AvpType.ACCM, b"\x00" * 10)],
            session_id=link.lac.remote_session_id,
        )
    link.advance(1)
    assert link.lac.channel.idle
    assert link.lns.session_status()[0].state == "established"


def test_tunnel_authentication_both_ways():
    settings = L2tpSettings(secret=b"tunnel-secret")
    lac = L2tpLac(random_bytes=counting_random(), secret=b"tunnel-secret")
    link = Link(lac=lac, settings=settings)
    link.establish()
    assert lac.lns_authenticated is True
    assert lac.received[0].get(AvpType.CHALLENGE) is not None
    assert kinds(link.events) == ["TunnelEstablished", "SessionEstablished"]


def test_tunnel_authentication_with_the_wrong_secret(logged):
    settings = L2tpSettings(secret=b"tunnel-secret")
    lac = L2tpLac(random_bytes=counting_random(), secret=b"guess")
    link = Link(lac=lac, settings=settings)
    link.establish(call=False)
    assert lac.lns_authenticated is False  # the LAC sees our response does not match its secret
    assert lac.stop_result is not None and lac.stop_result[:2] == b"\x00\x04"
    assert kinds(link.events) == ["TunnelClosed"]
    assert link.lns.tunnel_status() == ()
    assert any("authentication failed" in t for t in debug_texts(logged, "vpdn error"))
    assert not any("tunnel-secret" in str(e) for e in logged)


def test_tunnel_authentication_required_when_a_secret_is_set():
    settings = L2tpSettings(secret=b"tunnel-secret")
    lac = L2tpLac(random_bytes=counting_random(), answer_challenge=False)
    link = Link(lac=lac, settings=settings)
    link.establish(call=False)
    assert lac.stop_result is not None and lac.stop_result[:2] == b"\x00\x04"


def test_challenge_without_a_secret_is_refused():
    lac = L2tpLac(random_bytes=counting_random(), secret=b"x")
    link = Link(lac=lac)
    link.establish(call=False)
    assert lac.stop_result is not None and lac.stop_result[:2] == b"\x00\x04"


def test_hidden_avps_are_revealed_with_the_secret():
    settings = L2tpSettings(secret=b"k")
    lac = L2tpLac(random_bytes=counting_random(), secret=b"k", hide=True, host_name="hidden-lac")
    link = Link(lac=lac, settings=settings)
    link.lac.start_tunnel(0.0)
    link.pump()
    link.lac.place_call(link.now, calling_number="555-0100")
    link.advance(1)
    established = [e for e in link.events if isinstance(e, SessionEstablished)]
    assert established[0].remote_host_name == "hidden-lac"
    assert established[0].calling_number == "555-0100"


def test_unknown_mandatory_avp_in_sccrq_gets_stopccn_2_8():
    lac = L2tpLac(random_bytes=counting_random(), sccrq_extra=[Avp(250, b"?")])
    link = Link(lac=lac)
    link.establish(call=False)
    assert lac.stop_result is not None and lac.stop_result[:4] == b"\x00\x02\x00\x08"
    assert kinds(link.events) == ["TunnelClosed"]


def test_unknown_optional_and_vendor_avps_are_ignored():
    extra = [Avp(250, b"?", mandatory=False), Avp(1, b"v", mandatory=False, vendor_id=9)]
    lac = L2tpLac(random_bytes=counting_random(), sccrq_extra=extra, icrq_extra=extra)
    link = Link(lac=lac)
    link.establish()
    assert kinds(link.events) == ["TunnelEstablished", "SessionEstablished"]


def test_unknown_mandatory_avp_in_icrq_gets_cdn_2_8_tunnel_stays():
    lac = L2tpLac(random_bytes=counting_random(), icrq_extra=[Avp(1, b"v", vendor_id=9)])
    link = Link(lac=lac)
    link.establish()
    assert lac.cdn_result is not None and lac.cdn_result[:4] == b"\x00\x02\x00\x08"
    assert link.lns.tunnel_status()[0].state == "established"
    assert link.lns.session_status() == ()


def test_unknown_mandatory_message_type_ends_the_tunnel():
    link = Link()
    link.establish(call=False)
    link.lac.send_raw_control([Avp.of_u16(AvpType.MESSAGE_TYPE, 99)])
    link.advance(1)
    assert link.lac.stop_result is not None and link.lac.stop_result[:2] == b"\x00\x02"


def test_icrq_before_scccn_is_an_fsm_error():
    link = Link()
    link.lac.start_tunnel(0.0)
    # deliver only the SCCRQ; then an ICRQ as if the tunnel were up
    for data in link.lac.datagrams_to_send(0.0):
        link.lns.receive_datagram(data, PEER, 0.0)
    tunnel_id = next(iter(link.lns.tunnels))
    icrq = encode_avps(
        [
            Avp.of_u16(AvpType.MESSAGE_TYPE, MessageType.ICRQ),
            Avp.of_u16(AvpType.ASSIGNED_SESSION_ID, 1),
            Avp.of_u32(AvpType.CALL_SERIAL_NUMBER, 1),
        ]
    )
    link.lns.receive_datagram(encode_control(ControlMessage(tunnel_id, 0, 1, 0, icrq)), PEER, 0.1)
    out = link.lns.datagrams_to_send(0.1)
    stop = [decode(d) for d, _ in out][-1]
    assert isinstance(stop, ControlMessage)
    assert b"\x00\x00\x00\x00\x00\x04" in stop.avp_bytes  # a StopCCN
    assert b"\x00\x07" in stop.avp_bytes  # result 7: FSM error


def test_setup_timeout_without_scccn():
    link = Link(settings=L2tpSettings(setup_timeout=10))
    link.lac.start_tunnel(0.0)
    link.drop_to_lns = lambda i, d: i >= 1  # the SCCCN (and everything after) is lost
    link.advance(15)
    assert kinds(link.events) == ["TunnelClosed"]
    assert link.lns.tunnel_status() == ()


def test_setup_survives_loss_and_reordering():
    link = Link()
    link.drop_to_lac = lambda i, d: i == 0  # the first SCCRP is lost
    link.drop_to_lns = lambda i, d: i == 2  # the first ICRQ is lost
    link.lac.start_tunnel(0.0)
    link.advance(3)
    link.lac.place_call(link.now)
    link.advance(5)
    assert kinds(link.events) == ["TunnelEstablished", "SessionEstablished"]
    assert len(link.lns.tunnel_status()) == 1  # the retransmitted SCCRQ made no second tunnel
    assert link.lns.tunnel_status()[0].total_resends >= 1
    # reordering: two control messages swapped on the way to the LNS
    link.reorder = True
    for message_type in (MessageType.WEN, MessageType.SLI):
        link.lac.send_raw_control(
            [Avp.of_u16(AvpType.MESSAGE_TYPE, message_type)],
            session_id=link.lac.remote_session_id,
        )
    link.advance(3)
    assert link.lac.channel.idle
    assert link.lns.tunnel_status()[0].control_nr == link.lac.channel.ns


def test_two_clients_behind_one_nat_never_collide():
    lns = L2tpLns(L2tpSettings(), random_bytes=counting_random())
    peer_a = PEER
    peer_b = replace(PEER, child_sa_id=2, outer_port=4501)
    # both LACs pick tunnel id 1 and session id 1
    a = Link(lns, L2tpLac(random_bytes=counting_random(), tunnel_id=1), peer=peer_a)
    b = Link(lns, L2tpLac(random_bytes=counting_random(), tunnel_id=1), peer=peer_b)
    a.establish()
    a.events.clear()
    b.establish()
    b_events = [*a.events, *b.events]
    session_b = next(e for e in b_events if isinstance(e, SessionEstablished))
    assert session_b.peer == peer_b
    assert len(lns.tunnel_status()) == 2 and len(lns.session_status()) == 2
    # b's LAC sends data to its tunnel; a's LAC to its own
    b.lac.send_ppp(b"from-b", b.now)
    b.pump()
    assert b.events[-1] == PppFrameReceived(session_b.key, b"from-b")
    # a datagram for b's tunnel arriving from a's address/port is not b's
    b_tunnel = session_b.tunnel_id
    stray = L2tpLac(random_bytes=counting_random())
    stray.remote_tunnel_id = b_tunnel
    stray.remote_session_id = session_b.remote_session_id
    stray.send_ppp(b"spoof", 0.0)
    lns.receive_datagram(stray.datagrams_to_send(0.0)[0], peer_a, b.now)
    assert lns.next_event() is None
    assert lns.counters().unknown_tunnel == 1


def test_a_rekeyed_sa_is_followed():
    link = Link()
    link.establish()
    link.peer = replace(PEER, child_sa_id=7)  # the client rekeyed quick mode
    link.lac.send_ppp(LCP, link.now)
    link.pump()
    assert isinstance(link.events[-1], PppFrameReceived)
    key = link.events[-1].key
    link.lns.send_ppp(key, LCP, link.now)
    (datagram,) = link.lns.datagrams_to_send(link.now)
    assert datagram[1].child_sa_id == 7
    assert link.lns.tunnel_status()[0].child_sa_id == 7


def test_malformed_datagrams_are_dropped_and_counted(logged):
    link = Link()
    link.establish()
    for data in (b"", b"\x00", b"\xc8\x02\x00\x0c", bytes.fromhex("c803000c0000000000000000")):
        link.lns.receive_datagram(data, PEER, link.now)
    assert link.lns.counters().malformed == 4
    assert len(debug_texts(logged, "vpdn error")) >= 4
    assert link.lns.tunnel_status()[0].state == "established"


def test_debug_packet_and_event_lines(logged):
    link = Link()
    link.establish()
    packets = debug_texts(logged, "vpdn packet")
    events = debug_texts(logged, "vpdn event")
    assert any(" I SCCRQ from lac tnl 19" in t for t in packets)
    assert any(" O SCCRP" in t for t in packets)
    assert any("Tunnel state change from wait-ctl-conn to established" in t for t in events)
    assert any("Session state change from wait-connect to established" in t for t in events)


def test_reconnect_with_the_same_tunnel_id_after_stop():
    link = Link()
    link.establish()
    link.lac.stop(link.now)
    link.advance(1)
    lac2 = L2tpLac(random_bytes=counting_random(), tunnel_id=19)
    link.lac = lac2
    link.establish()
    assert kinds(link.events)[-2:] == ["TunnelEstablished", "SessionEstablished"]
    assert len(link.lns.tunnel_status()) == 1


def test_peer_address_in_status_and_settings_local_address():
    link = Link(settings=L2tpSettings(local_address=IPv4Address("203.0.113.1")))
    link.establish()
    assert link.lns.tunnel_status()[0].local_address == IPv4Address("203.0.113.1")


def test_stopccn_to_tunnel_zero_finds_the_tunnel_by_its_assigned_id():
    link = Link()
    link.drop_to_lac = lambda i, d: True  # the LAC never hears the SCCRP
    link.lac.start_tunnel(0.0)
    link.pump()
    link.lac.stop(link.now, result=6)  # goes to tunnel 0 with Assigned Tunnel ID 19
    link.pump()
    assert kinds(link.events) == ["TunnelClosed"] and link.events[0].by_peer
    assert link.lns.tunnel_status() == ()


def test_tunnel_limit():
    link = Link(settings=L2tpSettings(max_tunnels=1))
    link.establish(call=False)
    other = L2tpLac(random_bytes=counting_random(), tunnel_id=77)
    other.start_tunnel(link.now)
    for data in other.datagrams_to_send(link.now):
        link.lns.receive_datagram(data, PEER, link.now)
    assert len(link.lns.tunnel_status()) == 1
    assert link.lns.counters().unexpected == 1


def test_data_with_length_and_offset_gives_the_ppp_frame_only():
    link = Link()
    link.establish()
    key = link.events[-1].key

    datagram = encode_data(
        DataMessage(key.tunnel_id, key.session_id, LCP, None, None, False, b"\x00" * 3, True)
    )
    link.lns.receive_datagram(datagram, PEER, link.now)
    assert link.lns.next_event() == PppFrameReceived(key, LCP)


def test_sequenced_data_behind_the_expected_ns_is_dropped():
    link = Link()
    link.establish()
    key = link.events[-1].key

    def data(ns: int) -> bytes:
        return encode_data(DataMessage(key.tunnel_id, key.session_id, LCP, ns, 0))

    for ns in (0, 1, 5, 3):  # 5 skips ahead (a loss: accepted), 3 comes late
        link.lns.receive_datagram(data(ns), PEER, link.now)
    frames = [e for e in iter(link.lns.next_event, None) if isinstance(e, PppFrameReceived)]
    assert len(frames) == 3
    assert link.lns.counters().data_out_of_order == 1


def test_data_for_an_unknown_session_is_counted():
    link = Link()
    link.establish()
    key = link.events[-1].key

    link.lns.receive_datagram(encode_data(DataMessage(key.tunnel_id, 999, LCP)), PEER, link.now)
    link.lns.receive_datagram(encode_data(DataMessage(4242, 1, LCP)), PEER, link.now)
    assert link.lns.next_event() is None
    assert link.lns.counters().unknown_session == 1
    assert link.lns.counters().unknown_tunnel == 1


def test_call_not_completed_in_time_gets_cdn_10():
    link = Link(settings=L2tpSettings(setup_timeout=5))
    link.establish(call=False)
    iccn = bytes.fromhex("8008 0000 0000 000c")  # Message Type AVP: ICCN
    link.drop_to_lns = lambda i, d: iccn in d  # the ICCN never arrives
    link.lac.place_call(link.now)
    link.advance(8)
    assert link.lac.cdn_result is not None and link.lac.cdn_result[:2] == b"\x00\x0a"
    assert link.lns.session_status() == ()


def test_sccrq_with_a_nonzero_ns_opens_nothing():
    lac = L2tpLac(random_bytes=counting_random())
    lac.channel.ns = 5
    lac.start_tunnel(0.0)
    lns = L2tpLns(L2tpSettings(), random_bytes=counting_random())
    for data in lac.datagrams_to_send(0.0):
        lns.receive_datagram(data, PEER, 0.0)
    assert lns.tunnels == {} and lns.counters().unexpected == 1
    assert lns.get_timer() is None


def test_a_restarted_client_with_the_same_tunnel_id_replaces_its_old_tunnel():
    link = Link()
    link.establish()
    old_key = link.events[-1].key
    link.advance(5)
    # a late retransmission of the SCCRQ, shortly after setup: acknowledged, nothing else
    late = L2tpLac(random_bytes=counting_random(), tunnel_id=19)
    late.start_tunnel(link.now)
    for data in late.datagrams_to_send(link.now):
        link.lns.receive_datagram(data, PEER, link.now)
    assert len(link.lns.tunnel_status()) == 1
    assert link.lns.tunnel_status()[0].local_tunnel_id == old_key.tunnel_id
    # much later the client comes back from sleep and starts again with tunnel id 19
    link.advance(20)
    link.lac = L2tpLac(random_bytes=counting_random(), tunnel_id=19)
    link.establish()
    closed = [e for e in link.events if isinstance(e, TunnelClosed)]
    assert len(closed) == 1 and closed[0].key == old_key.tunnel
    assert closed[0].reason == "peer restarted"
    assert kinds(link.events)[-2:] == ["TunnelEstablished", "SessionEstablished"]
    (tunnel,) = link.lns.tunnel_status()
    assert tunnel.local_tunnel_id != old_key.tunnel_id
    assert not any(
        b"\x00\x00\x00\x00\x00\x04" in d for d in link.to_lac_log
    )  # no StopCCN reached the client


class _Lacs:
    """Several LACs (own peers) on one LNS; datagrams routed by peer, counted per LAC."""

    def __init__(self, lns: L2tpLns, count: int) -> None:
        self.lns = lns
        self.lacs = {
            L2tpPeer(i + 1, IPv4Address(f"198.51.100.{i + 10}"), 4500, 1701): L2tpLac(
                random_bytes=counting_random()
            )
            for i in range(count)
        }
        self.peers = list(self.lacs)
        self.hellos = dict.fromkeys(self.peers, 0)

    def pump(self, now: float) -> None:
        for _ in range(20):
            moved = False
            for peer, lac in self.lacs.items():
                for data in lac.datagrams_to_send(now):
                    self.lns.receive_datagram(data, peer, now)
                    moved = True
            for data, peer in self.lns.datagrams_to_send(now):
                if b"\x00\x00\x00\x00\x00\x06" in data:
                    self.hellos[peer] += 1
                self.lacs[peer].receive_datagram(data, now)
                moved = True
            while self.lns.next_event() is not None:
                pass
            if not moved:
                return

    def settle(self, until: float) -> None:
        """Fire the LNS's and the LACs' timers at each deadline up to ``until`` (bounded)."""
        for _ in range(1000):
            timers = [self.lns.get_timer(), *(lac.get_timer() for lac in self.lacs.values())]
            due = min((t for t in timers if t is not None), default=None)
            if due is None or due > until:
                return
            self.lns.handle_timer(due)
            for lac in self.lacs.values():
                lac.handle_timer(due)
            self.pump(due)
        raise AssertionError("timer loop did not settle")

    def hello_counts(self) -> list[int]:
        return [self.hellos[p] for p in self.peers]


def _many_tunnels(count: int, hello: int) -> _Lacs:
    """``count`` LACs on one LNS, tunnel i established at second i."""
    lns = L2tpLns(L2tpSettings(hello_interval=hello), random_bytes=counting_random())
    lacs = _Lacs(lns, count)
    for i, lac in enumerate(lacs.lacs.values()):
        lacs.settle(float(i))
        lac.start_tunnel(float(i))
        lacs.pump(float(i))
        lac.place_call(float(i))
        lacs.pump(float(i))
    assert [t.state for t in lns.tunnel_status()] == ["established"] * count
    assert [s.state for s in lns.session_status()] == ["established"] * count
    return lacs


def test_timer_is_the_earliest_tunnel_deadline_and_only_due_tunnels_are_handled():
    lacs = _many_tunnels(30, hello=60)
    lns = lacs.lns
    lacs.settle(59.9)  # delayed acks of the setup, nothing else
    assert lacs.hello_counts() == [0] * 30
    assert lns.get_timer() == 60.0  # tunnel 0's hello; not the other 29
    # tunnel 0 hears data at 50 s: its hello moves to 110 (the old wake-up hint stays, harmless)
    first = lacs.lacs[lacs.peers[0]]
    first.send_ppp(LCP, 50.0)
    lacs.pump(50.0)
    lacs.settle(62.5)
    assert lacs.hello_counts() == [0, 1, 1] + [0] * 27
    assert lns.get_timer() == 63.0  # tunnel 3; the answered hellos leave no earlier deadline
    lacs.settle(110.5)
    assert lacs.hello_counts() == [1] * 30  # tunnel 0's at 110, after its data


def test_a_closed_tunnel_leaves_no_timer_and_a_retransmission_is_timed():
    lacs = _many_tunnels(3, hello=0)
    lns = lacs.lns
    lacs.settle(5.0)
    assert lns.get_timer() is None  # no hello, nothing pending: nothing to wake for
    key = lns.tunnel_keys()[1]
    lns.close_tunnel(key, 1, 10.0, "clear")
    out = lns.datagrams_to_send(10.0)  # the StopCCN, unacknowledged (the LAC does not hear it)
    assert [p for _, p in out] == [lacs.peers[1]]
    assert lns.get_timer() == 11.0  # its first retransmission, 1 s later
    lns.handle_timer(11.0)
    assert [p for _, p in lns.datagrams_to_send(11.0)] == [lacs.peers[1]]
    assert lns.get_timer() == 13.0  # then 2 s later; the other two tunnels stay asleep


def test_a_tunnel_hearing_data_wakes_once_per_moved_hello_not_once_per_stale_hint():
    # The idle link of a real client: data (an LCP echo) every 20 s, hello interval 60 s. Data
    # pushes the hello later without touching the timer, so the tunnel's deadline comes due
    # early and is set again (one deadline per tunnel): a wake every 40 s, no HELLO sent. A
    # stale wake-up hint kept beside the new one (from before a control exchange) would wake
    # it every 20 s.
    lacs = _many_tunnels(3, hello=60)
    lns = lacs.lns
    lacs.settle(10.0)
    for lac in lacs.lacs.values():  # a control exchange after the setup re-arms each tunnel
        lac.send_raw_control([Avp.of_u16(AvpType.MESSAGE_TYPE, MessageType.HELLO)])
    lacs.pump(10.0)
    wakes: list[float] = []
    now = 10.0
    for tick in range(1, 31):  # 600 s
        data_at = 10.0 + 20.0 * tick
        for _ in range(100):
            due = lns.get_timer()
            if due is None or due > data_at:
                break
            wakes.append(due)
            lns.handle_timer(due)
            lacs.pump(due)
        now = data_at
        for lac in lacs.lacs.values():
            lac.send_ppp(LCP, now)
        lacs.pump(now)
    assert lacs.hello_counts() == [0, 0, 0]
    # the deadlines set before the exchange at 10 s (hellos at 60, 61, 62 s) were replaced
    assert wakes[0] == 10.25  # the delayed ack of that exchange
    assert min(wakes[1:]) == 70.0
    assert len(wakes) <= 1 + 3 * (600 // 40 + 1)
    assert len(lns._deadlines) == 3  # one deadline per tunnel


def test_the_lns_writes_to_the_sink_it_was_given_and_nowhere_else() -> None:
    """DESIGN: cores take their log sink in the constructor; a malformed datagram's debug vpdn
    error line goes to the given sink, none to the process's publisher."""
    import os
    from ipaddress import IPv4Address

    from pixgw.l2tp.core import L2tpLns
    from pixgw.l2tp.peer import L2tpPeer
    from pixgw.syslog import ListSink
    from tests.protocol.ike_harness import captured_logs

    sink = ListSink()
    lns = L2tpLns(L2tpSettings(), random_bytes=os.urandom, log=sink)
    peer = L2tpPeer(1, IPv4Address("198.51.100.7"), 4500, 1701)
    with captured_logs() as published:
        lns.receive_datagram(b"\xc8\x02\x00", peer, 1.0)
    assert published == []
    assert any("Malformed packet from 198.51.100.7" in line for line in sink.lines)
