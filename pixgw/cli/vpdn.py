"""``show vpdn tunnel``, ``show vpdn session``, ``show vpdn`` and ``clear vpdn tunnel``.

Pure renderers of the :mod:`pixgw.status` L2TP snapshots in the PIX 6.3 formats of
``reference/pix63-l2tp-ipsec-reference.txt`` (``show vpdn tunnel``, ``show vpdn session``;
the reference flattens the lines, the line breaks and indentation here are the PIX/IOS VPDN
layout), plus :func:`register`, which puts the commands in a
:class:`~pixgw.cli.commands.CommandTable` reading from a :class:`VpdnStatusSource` (the
gateway). ``show vpdn`` prints the tunnel then the session information. The ``debug vpdn
error|packet|event`` wording lives in :mod:`pixgw.l2tp.trace` (protocol cores may not import
the CLI) and is re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pixgw.cli.commands import CliError, CommandContext, CommandTable
from pixgw.cli.ppp import format_duration
from pixgw.l2tp.trace import error_line, event_line, packet_line
from pixgw.status import L2tpCounters, L2tpSessionStatus, L2tpTunnelStatus

__all__ = [
    "VpdnStatusSource",
    "error_line",
    "event_line",
    "packet_line",
    "register",
    "render_vpdn",
    "render_vpdn_session",
    "render_vpdn_tunnel",
]

NO_PPTP_TUNNELS = "% No active PPTP tunnels"


def _header(kind: str, tunnels: int, sessions: int) -> str:
    return f"L2TP {kind} Information (Total tunnels={tunnels} sessions={sessions})"


def render_vpdn_tunnel(
    tunnels: Sequence[L2tpTunnelStatus], total_sessions: int | None = None
) -> str:
    """``show vpdn tunnel``."""
    sessions = sum(t.active_sessions for t in tunnels) if total_sessions is None else total_sessions
    lines: list[str] = []
    if tunnels:
        lines += [_header("Tunnel", len(tunnels), sessions), ""]
        for t in tunnels:
            local = str(t.local_address) if t.local_address is not None else "0.0.0.0"
            updown = "up" if t.state == "established" else "down"
            distribution = " ".join(str(n) for n in t.retransmit_distribution)
            lines += [
                f"Tunnel id {t.local_tunnel_id} is {updown}, remote id is {t.remote_tunnel_id},"
                f" {t.active_sessions} active sessions",
                f"  Tunnel state is {t.state}, time since change {t.seconds_since_change} secs",
                f"  Remote Internet Address {t.remote_address}, port {t.remote_port}",
                f"  Local Internet Address {local}, port {t.local_port}",
                f"  {t.packets_sent} packets sent, {t.packets_received} received,"
                f" {t.bytes_sent} bytes sent, {t.bytes_received} received",
                f"  Control Ns {t.control_ns}, Nr {t.control_nr}",
                f"  Local RWS {t.local_rws}, Remote RWS {t.remote_rws}",
                f"  Retransmission time {t.retransmit_time}, max {t.retransmit_time_max} seconds",
                f"  Unsent queuesize {t.unsent_queue}, max {t.unsent_queue_max}",
                f"  Resend queuesize {t.resend_queue}, max {t.resend_queue_max}",
                f"  Total resends {t.total_resends}, ZLB ACKs {t.zlb_acks}",
                f"  Retransmit time distribution: {distribution}",
                "",
            ]
    else:
        lines += ["% No active L2TP tunnels"]
    lines.append(NO_PPTP_TUNNELS)
    return "\n".join(lines)


def _time_left(s: L2tpSessionStatus) -> list[str]:
    """The link's limits (extension): what is left of its session and idle timeouts."""
    limits = [f"{what} timeout {format_duration(left)} left"
              for what, left in (("session", s.session_time_left), ("idle", s.idle_time_left))
              if left is not None]
    return [f"    Link {', '.join(limits)}"] if limits else []


def render_vpdn_session(
    sessions: Sequence[L2tpSessionStatus], total_tunnels: int | None = None
) -> str:
    """``show vpdn session``."""
    if not sessions:
        return "% No active L2TP sessions"
    tunnels = len({s.tunnel_id for s in sessions}) if total_tunnels is None else total_tunnels
    lines = [_header("Session", tunnels, len(sessions)), ""]
    for s in sessions:
        updown = "up" if s.state == "established" else "down"
        ppp_id = str(s.ppp_interface_id) if s.ppp_interface_id is not None else "-"
        username = s.username or "unknown"
        lines += [
            f"Call id {s.call_id} is {updown} on tunnel id {s.tunnel_id}",
            f"Remote tunnel name is {s.remote_host_name}",
            f"  Internet Address is {s.remote_address}",
            f"  Session username is {username}, state is {s.state}",
            f"    Time since change {s.seconds_since_change} secs, interface {s.interface}",
            f"    Remote call id is {s.remote_call_id}",
            f"    PPP interface id is {ppp_id}",
            f"    {s.packets_sent} packets sent, {s.packets_received} received,"
            f" {s.bytes_sent} bytes sent, {s.bytes_received} received",
            f"    Sequencing is {'on' if s.sequencing else 'off'}",
            *_time_left(s),
            "",
        ]
    return "\n".join(lines).rstrip("\n")


def render_vpdn(tunnels: Sequence[L2tpTunnelStatus], sessions: Sequence[L2tpSessionStatus]) -> str:
    """``show vpdn``: the tunnel information, then the session information."""
    return (
        render_vpdn_tunnel(tunnels, len(sessions))
        + "\n\n"
        + render_vpdn_session(sessions, len(tunnels))
    )


class VpdnStatusSource(Protocol):
    """What the commands read and do (the gateway provides it)."""

    def l2tp_tunnel_status(self) -> Sequence[L2tpTunnelStatus]: ...

    def l2tp_session_status(self) -> Sequence[L2tpSessionStatus]: ...

    def clear_vpdn_tunnel(self, tunnel_id: int | None) -> int:
        """StopCCN to one tunnel (by our id) or all (None); returns how many were cleared."""
        ...

    def l2tp_counters(self) -> L2tpCounters: ...


def _source(context: CommandContext) -> VpdnStatusSource:
    gateway = context.gateway
    names = ("l2tp_tunnel_status", "l2tp_session_status", "clear_vpdn_tunnel", "l2tp_counters")
    if not all(hasattr(gateway, n) for n in names):
        raise CliError("ERROR: no gateway")
    return gateway  # type: ignore[return-value]


def _tunnel_filter(args: Sequence[str], usage: str) -> int | None:
    words = [a.lower() for a in args]
    if words and words[0] == "l2tp":
        words = words[1:]
    if not words:
        return None
    if len(words) == 2 and words[0] == "id" and words[1].isdigit():
        return int(words[1])
    raise CliError(f"Usage: {usage}")


def render_vpdn_statistics(k: L2tpCounters) -> str:
    """``show vpdn statistics`` (an extension): what the LNS dropped or refused, by reason."""
    rows: list[tuple[str, int]] = [
        ("Malformed datagrams", k.malformed),
        ("For no tunnel", k.unknown_tunnel),
        ("For no session", k.unknown_session),
        ("Unexpected control messages", k.unexpected),
        ("Data out of order", k.data_out_of_order),
        ("Calls refused (sessions per tunnel)", k.sessions_refused),
        ("Tunnels refused (per IPsec SA)", k.tunnels_per_sa_refused),
        ("Peer receive windows clamped", k.peer_window_clamped),
        ("Tunnels ended (control queue full)", k.queue_overflow),
    ]
    return "\n".join(["L2TP statistics", *(f"  {name + ':':<38}{value}" for name, value in rows)])


def register(table: CommandTable) -> None:
    def show_tunnel(ctx: CommandContext, args: Sequence[str]) -> str:
        wanted = _tunnel_filter(args, "show vpdn tunnel [l2tp] [id <tnl_id>]")
        source = _source(ctx)
        tunnels = list(source.l2tp_tunnel_status())
        total_sessions = len(source.l2tp_session_status())
        if wanted is not None:
            tunnels = [t for t in tunnels if t.local_tunnel_id == wanted]
            total_sessions = sum(t.active_sessions for t in tunnels)
        return render_vpdn_tunnel(tunnels, total_sessions)

    def show_session(ctx: CommandContext, args: Sequence[str]) -> str:
        wanted = _tunnel_filter(args, "show vpdn session [l2tp] [id <sess_id>]")
        source = _source(ctx)
        sessions = list(source.l2tp_session_status())
        total_tunnels = len(source.l2tp_tunnel_status())
        if wanted is not None:
            sessions = [s for s in sessions if s.call_id == wanted]
        return render_vpdn_session(sessions, total_tunnels)

    def show_vpdn(ctx: CommandContext, args: Sequence[str]) -> str:
        source = _source(ctx)
        return render_vpdn(source.l2tp_tunnel_status(), source.l2tp_session_status())

    def show_statistics(ctx: CommandContext, args: Sequence[str]) -> str:
        return render_vpdn_statistics(_source(ctx).l2tp_counters())

    def clear_tunnel(ctx: CommandContext, args: Sequence[str]) -> str:
        words = [a.lower() for a in args]
        if words == ["all"] or not words:
            _source(ctx).clear_vpdn_tunnel(None)
            return ""
        if len(words) == 2 and words[0] == "id" and words[1].isdigit():
            if not _source(ctx).clear_vpdn_tunnel(int(words[1])):
                raise CliError(f"ERROR: tunnel id {words[1]} does not exist")
            return ""
        raise CliError("Usage: clear vpdn tunnel [all | id <tnl_id>]")

    table.register(
        "show vpdn tunnel",
        show_tunnel,
        "Show the L2TP tunnels",
        max_args=3,
        usage="[l2tp] [id <tnl_id>]",
    )
    table.register(
        "show vpdn session",
        show_session,
        "Show the L2TP sessions",
        max_args=3,
        usage="[l2tp] [id <sess_id>]",
    )
    table.register("show vpdn", show_vpdn, "Show the VPDN tunnels and sessions")
    table.register("show vpdn statistics", show_statistics, "Show what L2TP dropped or refused")
    table.register(
        "clear vpdn tunnel",
        clear_tunnel,
        "Tear down L2TP tunnels (StopCCN)",
        max_args=2,
        usage="[all | id <tnl_id>]",
    )
