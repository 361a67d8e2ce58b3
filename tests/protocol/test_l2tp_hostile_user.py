"""What one VPN user who holds the group key may do to the others through L2TP (issue 27, its L2TP
part): the tunnels one IPsec SA carries are capped, the peer's Receive Window Size is held to 16,
and a peer that keeps asking without acknowledging fills a bounded control queue and loses its
tunnel instead of the gateway's memory and time. Each bound is driven to its limit and read back
from the counters and ``show vpdn statistics``. Well under a second."""

from __future__ import annotations

from dataclasses import replace

from pixgw.cli.vpdn import render_vpdn_statistics
from pixgw.dataplane.interfaces import L2tpPeer
from pixgw.l2tp.avp import Avp, AvpType, encode_avps
from pixgw.l2tp.core import L2tpLns, L2tpSettings
from pixgw.l2tp.events import TunnelClosed
from pixgw.l2tp.message import ControlMessage, MessageType, encode_control
from pixgw.testing.l2tp_lac import L2tpLac
from tests.protocol.l2tp_link import PEER, Link, counting_random


def statistics_line(lns: L2tpLns, name: str) -> str:
    text = render_vpdn_statistics(lns.counters())
    return next(line for line in text.splitlines() if line.strip().startswith(name))


def open_tunnel(lns: L2tpLns, tunnel_id: int, peer: L2tpPeer = PEER) -> None:
    lac = L2tpLac(random_bytes=counting_random(), tunnel_id=tunnel_id)
    lac.start_tunnel(0.0)
    for data in lac.datagrams_to_send(0.0):
        lns.receive_datagram(data, peer, 0.0)


def test_one_ipsec_sa_carries_at_most_tunnels_per_sa() -> None:
    lns = L2tpLns(L2tpSettings(tunnels_per_sa=4), random_bytes=counting_random())
    for tunnel_id in range(1, 101):  # a burst of SCCRQs through one SA
        open_tunnel(lns, tunnel_id)
    assert len(lns.tunnel_status()) == 4
    assert lns.counters().tunnels_per_sa_refused == 96
    assert statistics_line(lns, "Tunnels refused (per IPsec SA)").endswith(" 96")
    # another client's SA is not held back by it
    open_tunnel(lns, 1, replace(PEER, child_sa_id=3, outer_port=4501))
    assert len(lns.tunnel_status()) == 5


def test_the_peer_receive_window_is_held_to_sixteen() -> None:
    link = Link(lac=L2tpLac(random_bytes=counting_random(), receive_window=65535))
    link.establish(call=False)
    (tunnel,) = link.lns.tunnel_status()
    assert tunnel.remote_rws == 16
    assert link.lns.counters().peer_window_clamped == 1
    assert statistics_line(link.lns, "Peer receive windows clamped").endswith(" 1")


def test_a_peer_that_asks_without_acknowledging_loses_its_tunnel() -> None:
    link = Link(settings=L2tpSettings(max_unsent=8, sessions_per_tunnel=1))
    link.establish(call=False)
    link.events.clear()
    lac, lns = link.lac, link.lns
    ns, nr = lac.channel.ns, lac.channel.nr  # nr stays: nothing of ours is acknowledged again
    for i in range(40):
        avps = [
            Avp.of_u16(AvpType.MESSAGE_TYPE, MessageType.ICRQ),
            Avp.of_u16(AvpType.ASSIGNED_SESSION_ID, 100 + i),
            Avp.of_u32(AvpType.CALL_SERIAL_NUMBER, i),
        ]
        message = ControlMessage(lac.remote_tunnel_id, 0, (ns + i) & 0xFFFF, nr, encode_avps(avps))
        lns.receive_datagram(encode_control(message), PEER, 1.0)
        lns.datagrams_to_send(1.0)  # lost on the way: the peer never sees, never acknowledges
    assert lns.tunnel_status() == ()
    assert lns.counters().queue_overflow == 1
    closed = [e for e in iter(lns.next_event, None) if isinstance(e, TunnelClosed)]
    assert [e.reason for e in closed] == ["control queue overflow"]
    assert statistics_line(lns, "Tunnels ended (control queue full)").endswith(" 1")


def test_a_retransmission_round_does_not_grow_with_the_square_of_the_window() -> None:
    """The resend queue is at most the (held) window: one round is that many messages."""
    link = Link(settings=L2tpSettings(max_unsent=64, sessions_per_tunnel=1),
                lac=L2tpLac(random_bytes=counting_random(), receive_window=65535))
    link.establish(call=False)
    lac, lns = link.lac, link.lns
    ns, nr = lac.channel.ns, lac.channel.nr
    for i in range(30):
        avps = [Avp.of_u16(AvpType.MESSAGE_TYPE, MessageType.ICRQ),
                Avp.of_u16(AvpType.ASSIGNED_SESSION_ID, 100 + i),
                Avp.of_u32(AvpType.CALL_SERIAL_NUMBER, i)]
        message = ControlMessage(lac.remote_tunnel_id, 0, (ns + i) & 0xFFFF, nr, encode_avps(avps))
        lns.receive_datagram(encode_control(message), PEER, 1.0)
    sent = lns.datagrams_to_send(1.0)
    assert len(sent) <= 16 + 1  # the window, and at most one ack
    timer = lns.get_timer()
    assert timer is not None
    lns.handle_timer(timer)
    again = lns.datagrams_to_send(timer)
    assert 1 <= len(again) <= 16


def test_the_limits_come_from_the_vpdn_group() -> None:
    from pixgw.config.parser import parse

    config = parse(
        "ip local pool vpn 198.51.100.10-198.51.100.20\n"
        "vpdn group g accept dialin l2tp\n"
        "vpdn group g client configuration address local vpn\n"
        "vpdn group g l2tp tunnel limit 2\n"
        "vpdn group g l2tp session limit 3\n"
    ).config
    (group,) = config.vpdn.groups
    settings = L2tpSettings.from_vpdn_group(group)
    assert (settings.tunnels_per_sa, settings.sessions_per_tunnel) == (2, 3)
    defaults = L2tpSettings.from_vpdn_group(replace(group, l2tp_tunnel_limit=4,
                                                    l2tp_session_limit=1))
    assert (defaults.tunnels_per_sa, defaults.sessions_per_tunnel) == (4, 1)
    lns = L2tpLns(settings, random_bytes=counting_random())
    for tunnel_id in range(1, 6):
        open_tunnel(lns, tunnel_id)
    assert len(lns.tunnel_status()) == 2


def test_a_tunnel_that_is_over_does_not_count_against_its_sa() -> None:
    """A client that hangs up (StopCCN) and dials again on the same IPsec SA gets its tunnel
    while the old one lingers to acknowledge the StopCCN."""
    lns = L2tpLns(L2tpSettings(tunnels_per_sa=1), random_bytes=counting_random())
    first = Link(lns, L2tpLac(random_bytes=counting_random(), tunnel_id=1))
    first.establish(call=False)
    open_tunnel(lns, 2)
    assert len(lns.tunnel_status()) == 1 and lns.counters().tunnels_per_sa_refused == 1
    first.lac.stop(first.now)
    first.pump()
    assert [t.state for t in lns.tunnel_status()] in ([], ["shutting-down"])
    open_tunnel(lns, 3)
    assert lns.counters().tunnels_per_sa_refused == 1
    assert any(t.remote_tunnel_id == 3 for t in lns.tunnel_status())
