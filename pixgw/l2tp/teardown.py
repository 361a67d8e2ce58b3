"""How calls and tunnels end (RFC 2661 §5.7, §4.1): a CDN or StopCCN sent, or what the peer
sent, taken to its end: the session or tunnel closed, its event for the gateway, the tunnel kept
lingering to acknowledge the peer (``stop_linger``). Functions of the LNS, like the message
handlers in :mod:`pixgw.l2tp.tunnel_messages` and :mod:`pixgw.l2tp.call_messages`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pixgw.l2tp.avp import Avp, AvpType, result_code_value
from pixgw.l2tp.events import SessionClosed, SessionKey, TunnelClosed, TunnelKey
from pixgw.l2tp.message import CdnResult, ErrorCode, MessageType, StopCcnResult
from pixgw.l2tp.session import L2tpSession, SessionState
from pixgw.l2tp.trace import error_line, event_line
from pixgw.l2tp.tunnel import L2tpTunnel, TunnelState

if TYPE_CHECKING:  # the LNS hands itself in; it imports this module, not the reverse
    from pixgw.l2tp.core import L2tpLns

__all__ = [
    "Hangup",
    "disconnect",
    "end_session",
    "end_tunnel",
    "fsm_error",
    "reject_unknown",
    "stop_tunnel",
]


@dataclass(frozen=True)
class Hangup:
    """Why a call or tunnel ends (RFC 2661 §4.4.2 Result Code AVP): the result code, the
    general error code when there is one, and an optional text."""

    result: int
    error: int | None = None
    text: str = ""

    def value(self) -> bytes:
        """The Result Code AVP's value."""
        return result_code_value(self.result, self.error, self.text)


def reject_unknown(
    lns: L2tpLns, tunnel: L2tpTunnel, session: L2tpSession | None, unknown: list[Avp], now: float
) -> None:
    """RFC 2661 §4.1: a mandatory AVP we do not know ends what it came in: the call (CDN)
    for a session message, else the tunnel (StopCCN); general error, code 8."""
    text = f"unknown mandatory AVP {unknown[0].vendor_id}:{unknown[0].attribute_type}"
    if session is None:
        stop_tunnel(
            lns,
            tunnel,
            Hangup(StopCcnResult.GENERAL_ERROR, ErrorCode.UNKNOWN_MANDATORY_AVP, text),
            now,
        )
    else:
        disconnect(
            lns,
            tunnel,
            session,
            Hangup(CdnResult.GENERAL_ERROR, ErrorCode.UNKNOWN_MANDATORY_AVP, text),
            now,
        )


def fsm_error(lns: L2tpLns, tunnel: L2tpTunnel, what: str, now: float) -> None:
    lns.vpdn_error(error_line(tunnel.tunnel_id, None, f"{what} in state {tunnel.state}"))
    stop_tunnel(lns, tunnel, Hangup(StopCcnResult.FSM_ERROR, None, f"{what} unexpected"), now)


def disconnect(
    lns: L2tpLns, tunnel: L2tpTunnel, session: L2tpSession, hangup: Hangup, now: float
) -> None:
    """Send a CDN for *session* and end it."""
    lns.send_control(
        tunnel,
        session.remote_session_id,
        [
            Avp.of_u16(AvpType.MESSAGE_TYPE, MessageType.CDN),
            Avp(AvpType.RESULT_CODE, hangup.value()),
            Avp.of_u16(AvpType.ASSIGNED_SESSION_ID, session.session_id),
        ],
    )
    lns.vpdn_event(
        event_line(tunnel.tunnel_id, session.session_id, f"O CDN, result {hangup.result}")
    )
    end_session(lns, tunnel, session, hangup, now, by_peer=False)


def end_session(
    lns: L2tpLns,
    tunnel: L2tpTunnel,
    session: L2tpSession,
    hangup: Hangup,
    now: float,
    *,
    by_peer: bool,
) -> None:
    """*session* is over (a CDN either way, or its tunnel ended): closed, and the gateway told
    when it had been announced."""
    tunnel.sessions.pop(session.session_id, None)
    was = session.state is SessionState.ESTABLISHED
    announced = session.state is not SessionState.IDLE
    lns.set_session_state(tunnel, session, SessionState.CLOSED, now)
    if announced:
        lns.events.append(
            SessionClosed(
                SessionKey(tunnel.tunnel_id, session.session_id),
                tunnel.peer,
                hangup.result,
                hangup.error,
                hangup.text,
                by_peer,
                was,
            )
        )


def stop_tunnel(lns: L2tpLns, tunnel: L2tpTunnel, hangup: Hangup, now: float) -> None:
    """Send a StopCCN and end the tunnel."""
    result, error = hangup.result, hangup.error
    lns.vpdn_event(
        event_line(
            tunnel.tunnel_id,
            None,
            f"O StopCCN to {tunnel.remote_host_name or tunnel.peer.address}, result {result}"
            + (f", error {error}" if error is not None else ""),
        )
    )
    lns.send_control(
        tunnel,
        0,
        [
            Avp.of_u16(AvpType.MESSAGE_TYPE, MessageType.STOPCCN),
            Avp.of_u16(AvpType.ASSIGNED_TUNNEL_ID, tunnel.tunnel_id),
            Avp(AvpType.RESULT_CODE, hangup.value()),
        ],
    )
    end_tunnel(lns, tunnel, hangup, now, by_peer=False)


def end_tunnel(
    lns: L2tpLns,
    tunnel: L2tpTunnel,
    hangup: Hangup,
    now: float,
    *,
    by_peer: bool,
    reason: str = "",
) -> None:
    """The tunnel is over (a StopCCN either way, or the peer stopped acknowledging): its
    sessions end, it lingers to acknowledge the peer, and the gateway is told."""
    for session in list(tunnel.sessions.values()):
        end_session(lns, tunnel, session, hangup, now, by_peer=by_peer)
    was_established = tunnel.state is TunnelState.ESTABLISHED
    lns.set_tunnel_state(tunnel, TunnelState.SHUTTING_DOWN, now)
    tunnel.linger_until = now + lns.settings.stop_linger
    tunnel.stop_sent = not by_peer
    lns.events.append(
        TunnelClosed(
            TunnelKey(tunnel.tunnel_id),
            tunnel.peer,
            tunnel.remote_tunnel_id,
            hangup.result,
            hangup.error,
            hangup.text,
            by_peer,
            reason or ("StopCCN received" if by_peer else "StopCCN sent"),
            was_established,
        )
    )
