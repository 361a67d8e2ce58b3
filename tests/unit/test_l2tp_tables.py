"""The L2TP tunnel and session tables (RFC 2661 §7.4.1 and §7.4.2, LNS side): every (state,
control message type) pair has its action, written out here once more by hand so that a change
to the table is a change to this matrix too; the LNS does what the table says (driven through
it in the two states a tunnel can be met in: waiting for SCCCN and established). Under 1 s."""

from __future__ import annotations

import pytest

from pixgw.l2tp.avp import Avp, AvpType, encode_avps
from pixgw.l2tp.message import ControlMessage, MessageType, decode, encode_control
from pixgw.l2tp.session import SESSION_MESSAGES, SESSION_TABLE, SessionAction, SessionState
from pixgw.l2tp.tunnel import TUNNEL_TABLE, TunnelAction, TunnelState, control_message_types
from tests.protocol.l2tp_link import PEER, Link

H, X, N = TunnelAction.HANDLE, TunnelAction.OUT_OF_ORDER, TunnelAction.NOT_FOR_LNS
M = MessageType
# H handle, X out of order (StopCCN 7), N not for an LNS (counted)
#                 idle  wait-ctl-conn  established  shutting-down
EXPECTED_TUNNEL = {
    M.SCCRQ:   (H, X, X, X),
    M.SCCRP:   (N, N, N, N),
    M.SCCCN:   (X, H, X, X),
    M.STOPCCN: (H, H, H, H),
    M.HELLO:   (H, H, H, H),
    M.OCRQ:    (N, N, N, N),
    M.OCRP:    (N, N, N, N),
    M.OCCN:    (N, N, N, N),
    M.ICRQ:    (X, X, H, X),
    M.ICRP:    (N, N, N, N),
    M.ICCN:    (H, H, H, H),  # then the session table
    M.CDN:     (H, H, H, H),
    M.WEN:     (H, H, H, H),
    M.SLI:     (H, H, H, H),
}
S, C = SessionAction.HANDLE, SessionAction.NO_CALL
#                 idle  wait-connect  established  closed
EXPECTED_SESSION = {
    M.ICCN: (C, S, C, C),
    M.CDN:  (S, S, S, S),
    M.WEN:  (S, S, S, S),
    M.SLI:  (S, S, S, S),
}


def test_the_tunnel_table_is_whole_and_as_written() -> None:
    assert set(EXPECTED_TUNNEL) == set(control_message_types())
    assert len(TUNNEL_TABLE) == len(TunnelState) * len(EXPECTED_TUNNEL)
    for message, actions in EXPECTED_TUNNEL.items():
        for state, action in zip(TunnelState, actions, strict=True):
            assert TUNNEL_TABLE[(state, message)] is action, (state, message)


def test_the_session_table_is_whole_and_as_written() -> None:
    assert set(EXPECTED_SESSION) == set(SESSION_MESSAGES)
    assert len(SESSION_TABLE) == len(SessionState) * len(EXPECTED_SESSION)
    for message, actions in EXPECTED_SESSION.items():
        for state, action in zip(SessionState, actions, strict=True):
            assert SESSION_TABLE[(state, message)] is action, (state, message)


def _waiting_for_scccn() -> tuple[Link, int]:
    link = Link()
    link.lac.start_tunnel(0.0)
    for data in link.lac.datagrams_to_send(0.0):  # the SCCRQ only
        link.lns.receive_datagram(data, PEER, 0.0)
    return link, next(iter(link.lns.tunnels))


def _stop_result(link: Link, tunnel_id: int, message_type: int) -> bytes | None:
    """Send a bare *message_type* into the tunnel; the StopCCN's result AVP value if one came."""
    avps = encode_avps([Avp.of_u16(AvpType.MESSAGE_TYPE, message_type)])
    link.lns.receive_datagram(encode_control(ControlMessage(tunnel_id, 0, 1, 1, avps)), PEER, 0.1)
    for data, _ in link.lns.datagrams_to_send(0.1):
        message = decode(data)
        if isinstance(message, ControlMessage) and b"\x00\x00\x00\x00\x00\x04" in message.avp_bytes:
            at = message.avp_bytes.index(b"\x00\x00\x00\x01")  # Result Code AVP header tail
            return message.avp_bytes[at + 4 : at + 6]
    return None


@pytest.mark.parametrize("message", [m for m, a in EXPECTED_TUNNEL.items() if a[1] is not H])
def test_the_lns_does_what_the_table_says_while_waiting_for_scccn(message: int) -> None:
    link, tunnel_id = _waiting_for_scccn()
    unexpected = link.lns.counters().unexpected
    result = _stop_result(link, tunnel_id, message)
    if EXPECTED_TUNNEL[message][1] is X:
        assert result == b"\x00\x07"  # StopCCN, result 7: FSM error
    else:
        assert result is None and link.lns.counters().unexpected == unexpected + 1


@pytest.mark.parametrize("message", [m for m, a in EXPECTED_TUNNEL.items() if a[2] is not H])
def test_the_lns_does_what_the_table_says_when_established(message: int) -> None:
    link = Link()
    link.establish(call=False)
    unexpected = link.lns.counters().unexpected
    link.lac.send_raw_control([Avp.of_u16(AvpType.MESSAGE_TYPE, message)])
    link.advance(1)
    if EXPECTED_TUNNEL[message][2] is X:
        assert link.lac.stop_result is not None and link.lac.stop_result[:2] == b"\x00\x07"
    else:
        assert link.lac.stop_result is None
        assert link.lns.counters().unexpected == unexpected + 1
