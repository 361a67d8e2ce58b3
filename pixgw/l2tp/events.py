"""What the L2TP network server tells the gateway (tunnels and sessions up and down, PPP frames),
and the keys it names tunnels and sessions by."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from pixgw.l2tp.peer import L2tpPeer

__all__ = [
    "Event",
    "PppFrameReceived",
    "SessionClosed",
    "SessionEstablished",
    "SessionKey",
    "TunnelClosed",
    "TunnelEstablished",
    "TunnelKey",
]


@dataclass(frozen=True)
class TunnelKey:
    """A tunnel, by our tunnel id (unique in the LNS)."""

    tunnel_id: int


class SessionKey(NamedTuple):
    """A session, by our tunnel id and our session (call) id. A NamedTuple, not a frozen
    dataclass: it is hashed several times per PPP frame (the gateway's registries), and a
    tuple's hash is computed in C."""

    tunnel_id: int
    session_id: int

    @property
    def tunnel(self) -> TunnelKey:
        return TunnelKey(self.tunnel_id)


@dataclass(frozen=True)
class TunnelEstablished:
    key: TunnelKey
    peer: L2tpPeer
    remote_tunnel_id: int
    remote_host_name: str


@dataclass(frozen=True)
class SessionEstablished:
    """An ICCN completed a call: PPP may start. Everything the gateway logs (603106) is here or
    in the PPP layer."""

    key: SessionKey
    peer: L2tpPeer
    tunnel_id: int
    remote_tunnel_id: int
    session_id: int
    remote_session_id: int
    remote_host_name: str
    calling_number: str = ""
    called_number: str = ""
    call_serial_number: int = 0
    tx_connect_speed: int = 0
    framing_type: int = 0
    sequencing_required: bool = False
    interface: str = "outside"


@dataclass(frozen=True)
class PppFrameReceived:
    key: SessionKey
    frame: bytes


@dataclass(frozen=True)
class SessionClosed:
    """A session ended (CDN either way, its tunnel ended, or it was refused before ICCN:
    ``was_established`` says whether a :class:`SessionEstablished` came before)."""

    key: SessionKey
    peer: L2tpPeer
    result_code: int
    error_code: int | None = None
    message: str = ""
    by_peer: bool = False
    was_established: bool = False


@dataclass(frozen=True)
class TunnelClosed:
    """A tunnel ended: StopCCN either way, or the peer stopped acknowledging (``reason``)."""

    key: TunnelKey
    peer: L2tpPeer
    remote_tunnel_id: int
    result_code: int
    error_code: int | None = None
    message: str = ""
    by_peer: bool = False
    reason: str = ""
    was_established: bool = False


Event = TunnelEstablished | SessionEstablished | PppFrameReceived | SessionClosed | TunnelClosed
