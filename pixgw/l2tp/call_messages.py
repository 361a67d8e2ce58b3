"""Incoming calls at the LNS (RFC 2661 §5.4.2, §6.6-§6.8, §6.12-§6.14): ICRQ (one session per
tunnel, as the PIX), ICCN (the call is up: PPP may start), CDN, and WEN/SLI (accepted). Each takes
the LNS as its context; the session table has decided the message may run in the call's state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pixgw.l2tp import teardown
from pixgw.l2tp.avp import Avp, AvpType
from pixgw.l2tp.events import SessionEstablished, SessionKey
from pixgw.l2tp.message import CdnResult, ErrorCode, MessageType
from pixgw.l2tp.session import SESSION_TABLE, L2tpSession, SessionAction, SessionState
from pixgw.l2tp.teardown import Hangup
from pixgw.l2tp.trace import error_line, event_line
from pixgw.l2tp.tunnel import Incoming
from pixgw.l2tp.values import avp_text, result_of

if TYPE_CHECKING:  # the LNS hands itself in; it imports this module, not the reverse
    from pixgw.l2tp.core import L2tpLns


def on_icrq(lns: L2tpLns, m: Incoming) -> None:
    tunnel, avps, unknown, now = m.tunnel, m.avps, m.unknown, m.now
    assigned = avps.get(AvpType.ASSIGNED_SESSION_ID)
    remote_session_id = assigned.u16() if assigned is not None else 0
    serial = avps.get(AvpType.CALL_SERIAL_NUMBER)
    if remote_session_id == 0:
        lns.vpdn_error(error_line(tunnel.tunnel_id, None, "ICRQ without an Assigned Session ID"))
        lns.count("malformed")
        return
    local_id = lns.new_id(set(tunnel.sessions))
    if local_id is None:
        return
    session = L2tpSession(
        local_id,
        remote_session_id,
        SessionState.IDLE,
        now,
        call_serial_number=serial.u32() if serial is not None and len(serial.value) == 4 else 0,
        calling_number=avp_text(avps.get(AvpType.CALLING_NUMBER))[:64],
        called_number=avp_text(avps.get(AvpType.CALLED_NUMBER))[:64],
    )
    tunnel.sessions[local_id] = session
    if unknown:
        teardown.reject_unknown(lns, tunnel, session, unknown, now)
        return
    active = sum(
        1
        for s in tunnel.sessions.values()
        if s.state in (SessionState.WAIT_CONNECT, SessionState.ESTABLISHED)
    )
    if active >= lns.settings.sessions_per_tunnel:
        lns.count("sessions_refused")
        lns.pix(
            603110,
            f"Failed to establish L2TP session, tunnel_id = {tunnel.tunnel_id}, "
            f"remote_peer_ip = {tunnel.peer.address}, user = {tunnel.remote_host_name}. "
            "Multiple sessions per tunnel are not supported",
        )
        teardown.disconnect(
            lns,
            tunnel,
            session,
            Hangup(
                CdnResult.NO_FACILITIES_TEMPORARY,
                ErrorCode.INSUFFICIENT_RESOURCES,
                "one session per tunnel",
            ),
            now,
        )
        return
    lns.send_control(
        tunnel,
        remote_session_id,
        [
            Avp.of_u16(AvpType.MESSAGE_TYPE, MessageType.ICRP),
            Avp.of_u16(AvpType.ASSIGNED_SESSION_ID, local_id),
        ],
    )
    lns.set_session_state(tunnel, session, SessionState.WAIT_CONNECT, now)


def on_iccn(lns: L2tpLns, m: Incoming) -> None:
    tunnel, message, avps, unknown, now = m.tunnel, m.message, m.avps, m.unknown, m.now
    session = tunnel.sessions.get(message.session_id)
    if session is None or SESSION_TABLE[(session.state, MessageType.ICCN)] is SessionAction.NO_CALL:
        lns.count("unexpected")
        lns.vpdn_error(error_line(tunnel.tunnel_id, message.session_id, "ICCN for no call"))
        return
    if unknown:
        teardown.reject_unknown(lns, tunnel, session, unknown, now)
        return
    speed = avps.get(AvpType.TX_CONNECT_SPEED)
    framing = avps.get(AvpType.FRAMING_TYPE)
    session.sequencing = AvpType.SEQUENCING_REQUIRED in avps
    lns.set_session_state(tunnel, session, SessionState.ESTABLISHED, now)
    lns.events.append(
        SessionEstablished(
            key=SessionKey(tunnel.tunnel_id, session.session_id),
            peer=tunnel.peer,
            tunnel_id=tunnel.tunnel_id,
            remote_tunnel_id=tunnel.remote_tunnel_id,
            session_id=session.session_id,
            remote_session_id=session.remote_session_id,
            remote_host_name=tunnel.remote_host_name,
            calling_number=session.calling_number,
            called_number=session.called_number,
            call_serial_number=session.call_serial_number,
            tx_connect_speed=speed.u32() if speed is not None and len(speed.value) == 4 else 0,
            framing_type=framing.u32() if framing is not None and len(framing.value) == 4 else 0,
            sequencing_required=session.sequencing,
            interface=lns.settings.interface,
        )
    )


def on_cdn(lns: L2tpLns, m: Incoming) -> None:
    tunnel, message, avps, now = m.tunnel, m.message, m.avps, m.now
    session = tunnel.sessions.get(message.session_id)
    if session is None:
        assigned = avps.get(AvpType.ASSIGNED_SESSION_ID)
        if assigned is not None and len(assigned.value) == 2:
            remote = assigned.u16()
            session = next(
                (s for s in tunnel.sessions.values() if s.remote_session_id == remote), None
            )
    if session is None:
        lns.count("unknown_session")
        return
    result, error, text = result_of(avps.get(AvpType.RESULT_CODE))
    lns.vpdn_event(
        event_line(
            tunnel.tunnel_id,
            session.session_id,
            f"Received CDN, result {result}" + (f", error {error}" if error is not None else ""),
        )
    )
    teardown.end_session(lns, tunnel, session, Hangup(result, error, text), now, by_peer=True)


def on_session_info(lns: L2tpLns, m: Incoming) -> None:
    tunnel, message, unknown, now = m.tunnel, m.message, m.unknown, m.now
    """WEN and SLI: accepted (acknowledged); an LNS without HDLC framing has no use for
    the ACCM or the error counters."""
    session = tunnel.sessions.get(message.session_id)
    if session is not None and unknown:
        teardown.disconnect(
            lns,
            tunnel,
            session,
            Hangup(
                CdnResult.GENERAL_ERROR, ErrorCode.UNKNOWN_MANDATORY_AVP, "unknown mandatory AVP"
            ),
            now,
        )
