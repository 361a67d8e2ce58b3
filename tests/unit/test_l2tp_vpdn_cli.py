"""``show vpdn tunnel`` / ``show vpdn session`` / ``show vpdn`` against the PIX reference text."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from pixgw.cli.commands import CliError, CommandContext, CommandTable
from pixgw.cli.vpdn import (
    register,
    render_vpdn,
    render_vpdn_session,
    render_vpdn_tunnel,
)
from pixgw.status import L2tpCounters, L2tpSessionStatus, L2tpTunnelStatus

REFERENCE = Path("/work/shared/reference/pix63-l2tp-ipsec-reference.txt")

# The reference's own text (flattened to one line there), kept here so the test runs anywhere.
REFERENCE_TUNNEL = (
    "L2TP Tunnel Information (Total tunnels=1 sessions=1) Tunnel id 4 is up, remote id is 19, "
    "1 active sessions Tunnel state is established, time since change 96 secs Remote Internet "
    "Address 171.68.9.149, port 1701 Local Internet Address 171.68.9.57, port 1701 15 packets "
    "sent, 38 received, 420 bytes sent, 3758 received Control Ns 3, Nr 5 Local RWS 16, Remote "
    "RWS 8 Retransmission time 1, max 1 seconds Unsent queuesize 0, max 0 Resend queuesize 0, "
    "max 1 Total resends 0, ZLB ACKs 3 Retransmit time distribution: 0 0 0 0 0 0 0 0 0 % No "
    "active PPTP tunnels"
)
REFERENCE_SESSION = (
    "L2TP Session Information (Total tunnels=1 sessions=1) Call id 4 is up on tunnel id 4 "
    "Remote tunnel name is zaahmed-pc Internet Address is 171.68.9.149 Session username is "
    "vpnclient, state is established Time since change 201 secs, interface outside Remote call "
    "id is 1 PPP interface id is 1 15 packets sent, 56 received, 420 bytes sent, 5702 received "
    "Sequencing is off"
)

TUNNEL = L2tpTunnelStatus(
    local_tunnel_id=4,
    remote_tunnel_id=19,
    state="established",
    seconds_since_change=96,
    remote_address=IPv4Address("171.68.9.149"),
    remote_port=1701,
    remote_host_name="zaahmed-pc",
    local_address=IPv4Address("171.68.9.57"),
    active_sessions=1,
    packets_sent=15,
    packets_received=38,
    bytes_sent=420,
    bytes_received=3758,
    control_ns=3,
    control_nr=5,
    local_rws=16,
    remote_rws=8,
    retransmit_time=1,
    retransmit_time_max=1,
    resend_queue_max=1,
    zlb_acks=3,
)
SESSION = L2tpSessionStatus(
    call_id=4,
    tunnel_id=4,
    remote_call_id=1,
    remote_tunnel_id=19,
    remote_host_name="zaahmed-pc",
    remote_address=IPv4Address("171.68.9.149"),
    state="established",
    seconds_since_change=201,
    username="vpnclient",
    ppp_interface_id=1,
    packets_sent=15,
    packets_received=56,
    bytes_sent=420,
    bytes_received=5702,
)


def flat(text: str) -> str:
    return " ".join(text.split())


def test_reference_copy_matches_the_reference_file():
    if not REFERENCE.exists():
        pytest.skip("reference not on this machine")
    text = flat(REFERENCE.read_text())
    assert REFERENCE_TUNNEL in text
    assert REFERENCE_SESSION in text


def test_show_vpdn_tunnel_matches_the_reference():
    out = render_vpdn_tunnel([TUNNEL], 1)
    assert flat(out) == REFERENCE_TUNNEL
    lines = out.splitlines()
    assert lines[0] == "L2TP Tunnel Information (Total tunnels=1 sessions=1)"
    assert lines[2] == "Tunnel id 4 is up, remote id is 19, 1 active sessions"
    assert lines[3] == "  Tunnel state is established, time since change 96 secs"
    assert lines[-1] == "% No active PPTP tunnels"


def test_show_vpdn_session_matches_the_reference():
    out = render_vpdn_session([SESSION], 1)
    assert flat(out) == REFERENCE_SESSION
    assert out.splitlines()[2] == "Call id 4 is up on tunnel id 4"


def test_empty_outputs():
    assert render_vpdn_tunnel([]) == "% No active L2TP tunnels\n% No active PPTP tunnels"
    assert render_vpdn_session([]) == "% No active L2TP sessions"


def test_show_vpdn_is_tunnel_then_session():
    out = render_vpdn([TUNNEL], [SESSION])
    assert flat(out) == REFERENCE_TUNNEL + " " + REFERENCE_SESSION


def test_renderers_from_a_live_core():
    from tests.protocol.l2tp_link import Link

    link = Link()
    link.establish()
    out = render_vpdn_tunnel(link.lns.tunnel_status(), len(link.lns.session_status()))
    assert "1 active sessions" in out and "Remote Internet Address 198.51.100.7, port 1701" in out
    out = render_vpdn_session(link.lns.session_status())
    assert "Remote tunnel name is lac" in out and "Session username is unknown" in out


@dataclass
class FakeGateway:
    tunnels: list[L2tpTunnelStatus] = field(default_factory=lambda: [TUNNEL])
    sessions: list[L2tpSessionStatus] = field(default_factory=lambda: [SESSION])
    cleared: list[int | None] = field(default_factory=list)

    def l2tp_tunnel_status(self) -> list[L2tpTunnelStatus]:
        return self.tunnels

    def l2tp_session_status(self) -> list[L2tpSessionStatus]:
        return self.sessions

    def clear_vpdn_tunnel(self, tunnel_id: int | None) -> int:
        self.cleared.append(tunnel_id)
        return 1 if tunnel_id in (None, 4) else 0

    def l2tp_counters(self) -> L2tpCounters:
        return L2tpCounters(malformed=2, tunnels_per_sa_refused=7)


def test_commands():
    table = CommandTable()
    register(table)
    gateway = FakeGateway()
    ctx = CommandContext(gateway)
    assert flat(str(table.run(ctx, "show vpdn tunnel"))) == REFERENCE_TUNNEL
    assert flat(str(table.run(ctx, "sh vpdn tun l2tp id 4"))) == REFERENCE_TUNNEL
    assert "No active L2TP tunnels" in str(table.run(ctx, "show vpdn tunnel id 5"))
    assert flat(str(table.run(ctx, "show vpdn session"))) == REFERENCE_SESSION
    assert "Call id 4" in str(table.run(ctx, "show vpdn"))
    stats = str(table.run(ctx, "show vpdn statistics"))
    assert "  Malformed datagrams:                  2" in stats
    assert "  Tunnels refused (per IPsec SA):       7" in stats
    table.run(ctx, "clear vpdn tunnel all")
    table.run(ctx, "clear vpdn tunnel id 4")
    assert gateway.cleared == [None, 4]
    with pytest.raises(CliError):
        table.run(ctx, "clear vpdn tunnel id 9")
    with pytest.raises(CliError):
        table.run(ctx, "show vpdn tunnel bogus")


def test_debug_vpdn_wording():
    from pixgw.cli.vpdn import error_line, event_line, packet_line

    assert (
        packet_line("I", "SCCRQ", 4, None, "zaahmed-pc", 19, 0, 0, 94)
        == "Tnl 4 L2TP: I SCCRQ from zaahmed-pc tnl 19 Ns 0 Nr 0 len 94"
    )
    assert (
        packet_line("O", "ICRP", 4, 4, "zaahmed-pc", 19, 1, 3, 28)
        == "Tnl/Cl 4/4 L2TP: O ICRP to zaahmed-pc tnl 19 Ns 1 Nr 3 len 28"
    )
    assert (
        event_line(4, None, "Tunnel state change from wait-ctl-conn to established")
        == "Tnl 4 L2TP: Tunnel state change from wait-ctl-conn to established"
    )
    assert error_line(None, None, "Malformed packet") == "L2TP: Malformed packet"
