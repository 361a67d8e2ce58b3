"""An L2TP session (RFC 2661 §7.4.2, the LNS side of an incoming call): its states and the table
that alone decides what a session message does in each of them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum

from pixgw.l2tp.message import MessageType

__all__ = ["SESSION_MESSAGES", "SESSION_TABLE", "L2tpSession", "SessionAction", "SessionState"]


class SessionState(StrEnum):
    """RFC 2661 §7.4.2 (incoming call, LNS side); the values are what ``show vpdn`` prints."""

    IDLE = "idle"
    WAIT_CONNECT = "wait-connect"  # ICRP sent, waiting for ICCN
    ESTABLISHED = "established"
    CLOSED = "closed"


class SessionAction(Enum):
    HANDLE = "handle"  # the message's handler runs
    NO_CALL = "no call"  # no call in a state that takes it: counted, logged, dropped


SESSION_MESSAGES = (MessageType.ICCN, MessageType.CDN, MessageType.WEN, MessageType.SLI)

# (state, message) -> action, every pair: ICCN only while waiting for it; CDN, WEN and SLI in
# any state of a call the peer names
SESSION_TABLE: dict[tuple[SessionState, int], SessionAction] = {
    (state, message): (
        SessionAction.HANDLE
        if message != MessageType.ICCN or state is SessionState.WAIT_CONNECT
        else SessionAction.NO_CALL
    )
    for state in SessionState
    for message in SESSION_MESSAGES
}


@dataclass
class L2tpSession:
    session_id: int
    remote_session_id: int
    state: SessionState
    changed_at: float
    call_serial_number: int = 0
    calling_number: str = ""
    called_number: str = ""
    sequencing: bool = False
    data_ns: int = 0
    data_nr: int = 0
    packets_sent: int = 0
    packets_received: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
