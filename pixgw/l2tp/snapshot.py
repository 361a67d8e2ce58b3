"""``show vpdn tunnel`` / ``show vpdn session`` snapshots (:mod:`pixgw.status`) of the LNS's
tunnels and sessions."""

from __future__ import annotations

from ipaddress import IPv4Address

from pixgw.l2tp.session import L2tpSession, SessionState
from pixgw.l2tp.tunnel import L2tpTunnel
from pixgw.status import L2tpSessionStatus, L2tpTunnelStatus

__all__ = ["session_status", "tunnel_status"]


def tunnel_status(
    tunnel: L2tpTunnel, at: float, local_address: IPv4Address | None
) -> L2tpTunnelStatus:
    channel = tunnel.channel
    counters = channel.counters
    return L2tpTunnelStatus(
        local_tunnel_id=tunnel.tunnel_id,
        remote_tunnel_id=tunnel.remote_tunnel_id,
        state=tunnel.state.value,
        seconds_since_change=max(0, int(at - tunnel.changed_at)),
        remote_address=tunnel.peer.address,
        remote_port=tunnel.peer.l2tp_port,
        remote_host_name=tunnel.remote_host_name,
        local_address=local_address,
        active_sessions=sum(
            1 for s in tunnel.sessions.values() if s.state is SessionState.ESTABLISHED
        ),
        packets_sent=tunnel.packets_sent,
        packets_received=tunnel.packets_received,
        bytes_sent=tunnel.bytes_sent,
        bytes_received=tunnel.bytes_received,
        control_ns=channel.ns,
        control_nr=channel.nr,
        local_rws=channel.local_rws,
        remote_rws=channel.peer_rws,
        retransmit_time=int(channel.retransmit_time),
        retransmit_time_max=int(max(counters.retransmit_time_max, channel.retransmit_initial)),
        unsent_queue=len(channel.unsent),
        unsent_queue_max=counters.unsent_max,
        resend_queue=len(channel.resend),
        resend_queue_max=counters.resend_max,
        total_resends=counters.total_resends,
        zlb_acks=counters.zlb_acks_sent,
        retransmit_distribution=tuple(counters.retransmit_distribution),
        child_sa_id=tunnel.peer.child_sa_id,
        outer_port=tunnel.peer.outer_port,
    )


def session_status(
    tunnel: L2tpTunnel, session: L2tpSession, at: float, interface: str
) -> L2tpSessionStatus:
    return L2tpSessionStatus(
        call_id=session.session_id,
        tunnel_id=tunnel.tunnel_id,
        remote_call_id=session.remote_session_id,
        remote_tunnel_id=tunnel.remote_tunnel_id,
        remote_host_name=tunnel.remote_host_name,
        remote_address=tunnel.peer.address,
        state=session.state.value,
        seconds_since_change=max(0, int(at - session.changed_at)),
        interface=interface,
        packets_sent=session.packets_sent,
        packets_received=session.packets_received,
        bytes_sent=session.bytes_sent,
        bytes_received=session.bytes_received,
        sequencing=session.sequencing,
    )
