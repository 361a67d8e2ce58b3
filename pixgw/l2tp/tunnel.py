"""An L2TP tunnel (RFC 2661 §7.4.1, the LNS side of control connection establishment): its states
and the table that alone decides, for every state and every control message type, whether the
message's handler runs, the message is out of order (the tunnel is stopped, §7.4.1's
"StopCCN on an unexpected message") or is not one an LNS takes (counted, ignored)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, StrEnum

from pixgw.l2tp.avp import Avp
from pixgw.l2tp.channel import ControlChannel
from pixgw.l2tp.message import ControlMessage, MessageType
from pixgw.l2tp.peer import L2tpPeer
from pixgw.l2tp.session import L2tpSession

__all__ = [
    "TUNNEL_TABLE", "Incoming", "L2tpTunnel", "TunnelAction", "TunnelState",
    "control_message_types",
]


class TunnelState(StrEnum):
    """RFC 2661 §7.4.1 (LNS side); the values are what ``show vpdn tunnel`` prints."""

    IDLE = "idle"
    WAIT_CTL_CONN = "wait-ctl-conn"  # SCCRP sent, waiting for SCCCN
    ESTABLISHED = "established"
    SHUTTING_DOWN = "shutting-down"  # StopCCN sent or received, lingering for its ack


class TunnelAction(Enum):
    HANDLE = "handle"
    OUT_OF_ORDER = "out of order"  # logged, and the tunnel is stopped
    NOT_FOR_LNS = "not for an LNS"  # replies and outgoing calls: counted, logged, ignored


def control_message_types() -> tuple[int, ...]:
    return tuple(v for k, v in vars(MessageType).items() if k.isupper())


_ONLY_IN: dict[int, TunnelState] = {
    MessageType.SCCRQ: TunnelState.IDLE,
    MessageType.SCCCN: TunnelState.WAIT_CTL_CONN,
    MessageType.ICRQ: TunnelState.ESTABLISHED,
}
_NOT_FOR_LNS = (MessageType.SCCRP, MessageType.OCRQ, MessageType.OCRP, MessageType.OCCN,
                MessageType.ICRP)


def _action(state: TunnelState, message: int) -> TunnelAction:
    if message in _NOT_FOR_LNS:
        return TunnelAction.NOT_FOR_LNS
    only = _ONLY_IN.get(message)
    if only is not None and state is not only:
        return TunnelAction.OUT_OF_ORDER
    # StopCCN, HELLO in every state; ICCN, CDN, WEN, SLI go on to the session table
    return TunnelAction.HANDLE


TUNNEL_TABLE: dict[tuple[TunnelState, int], TunnelAction] = {
    (state, message): _action(state, message)
    for state in TunnelState
    for message in control_message_types()
}


@dataclass
class L2tpTunnel:
    tunnel_id: int
    remote_tunnel_id: int
    peer: L2tpPeer
    channel: ControlChannel
    state: TunnelState
    changed_at: float
    last_heard: float
    remote_host_name: str = ""
    challenge: bytes | None = None
    sessions: dict[int, L2tpSession] = field(default_factory=dict)
    linger_until: float | None = None
    stop_sent: bool = False
    last_hello: float = 0.0
    packets_sent: int = 0
    packets_received: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0


@dataclass(frozen=True)
class Incoming:
    """A control message read on a tunnel, as its handler takes it: the recognised AVPs by type,
    the unrecognised mandatory ones (the table's reject outcome), and when it came."""

    tunnel: L2tpTunnel
    message: ControlMessage
    avps: dict[int, Avp]
    unknown: list[Avp]
    now: float
