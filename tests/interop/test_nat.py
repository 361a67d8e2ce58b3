"""Clients behind the NAT router against pixgw (issue 8): NAT-T (RFC 3947 detection and the float
to port 4500, RFC 3948 UDP-encapsulated transport mode) for one client, then two clients behind
the same NAT at once, each with its own SAs and L2TP tunnel (RFC 3193 §5: the gateway tells them
apart by the NAT's source port).  A capture on the outside segment proves that no L2TP (UDP 1701)
crossed it in clear, neither as plain UDP nor inside UDP 500/4500 without ESP.

Topology: guests natN 198.51.100.(1+N) -- NAT router (MASQUERADE to 192.0.2.254) -- outside --
pixgw 192.0.2.1 / inside host 203.0.113.2.  The gateway's pool is 198.51.100.100-109 (the same
documentation range as the NAT's private side, on purpose: the client's ppp0 address is reached
through the tunnel only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.interop import pixgw_gateway
from tests.interop.pixgw_gateway import (
    INSIDE_HOST,
    RunningGateway,
    bring_up,
    gateway_config,
    hang_up_and_check,
    wait_for,
)
from tests.interop.qemu.netns import OUTSIDE_GW, OUTSIDE_NAT, Namespace, Topology

matrix_results = pixgw_gateway.matrix_results
matrix_cell = pixgw_gateway.matrix_cell

pytestmark = [pytest.mark.root, pytest.mark.interop, pytest.mark.slow]
# Time bound (300 s): two clients behind one NAT: ~30 s, plus guest boots.
pytestmark.append(pytest.mark.timeout(300))

# UDP 1701 seen on the outside not wrapped in ESP-in-UDP: plain L2TP, or L2TP in UDP 500/4500
# without the non-ESP marker being ESP (a 4500 payload that starts with four zero bytes is IKE).
CLEAR_L2TP_BPF = "udp port 1701"


@pytest.fixture
def nat_gateway(gateway_netns: Namespace, tmp_path: Path) -> Iterator[RunningGateway]:
    gw = RunningGateway(
        gateway_netns, tmp_path, gateway_config(ppp_auths=("mschapv2",)), log_name="pixgw-nat.log"
    )
    try:
        yield gw
    finally:
        gw.stop()


def _not_ike_or_esp(cap: Any) -> list[str]:
    """Packets on UDP 500/4500 that are neither IKE (plain or behind the non-ESP marker), NAT
    keepalives nor UDP-encapsulated ESP, as tcpdump decodes them: L2TP in clear would be one."""
    lines = cap.summary("udp port 500 or udp port 4500", limit=1_000_000).splitlines()
    known = ("isakmp", "UDP-encap: ESP(")
    return [line for line in lines if not any(k in line for k in known)]


def _path_view(topology: Topology, cap: Any) -> str:
    """The way between the NAT and the gateway when a client behind it did not come up: what
    crossed the outside segment on UDP 500/4500, the NAT router's connection tracking and both
    ends' neighbour entries (CI once lost both cells here with nothing else to go on)."""
    parts = [
        f"--- outside segment, UDP 500/4500 ---\n{cap.summary('udp port 500 or udp port 4500')}"
    ]
    for ns, argv in (
        (topology.nat, ["cat", "/proc/net/nf_conntrack"]),
        (topology.nat, ["ip", "neigh"]),
        (topology.gateway, ["ip", "neigh"]),
        (topology.nat, ["iptables", "-t", "nat", "-S"]),
    ):
        if ns is not None:
            r = ns.exec(argv, check=False)
            parts.append(
                f"--- {ns.name}: {' '.join(argv)} ---\n{r.stdout[-3000:]}{r.stderr[-500:]}"
            )
    return "\n".join(parts)


def _bring_up(gw: RunningGateway, client: Any, topology: Topology, cap: Any) -> Any:
    """``bring_up``, first checking the NAT forwards to the gateway at all (a ping through it);
    a failure carries the path's view after the gateway's."""
    ping = client.guest.sh(f"ping -n -c 2 -W 2 {OUTSIDE_GW}", timeout=30)
    try:
        assert ping.rc == 0, f"no way from {client.guest.name} to {OUTSIDE_GW}:\n{ping.stdout}"
        return bring_up(gw, client)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{_path_view(topology, cap)}") from e


def _route_and_ping(gw: RunningGateway, client: Any) -> None:
    route = client.guest.sh("ip route replace 203.0.113.0/24 dev ppp0", timeout=20)
    assert route.rc == 0, route.stderr
    ping = client.ping(INSIDE_HOST, count=3)
    assert ping.ok, ping.output + gw.diagnostics()


def _sa_blocks(ipsec: str) -> list[str]:
    """``show crypto ipsec sa`` split at each ``local ident`` block."""
    parts = ipsec.split("local  ident")
    if len(parts) == 1:
        parts = ipsec.split("local ident")
    return parts[1:]


def test_one_client_behind_nat(
    *,
    nat_gateway: RunningGateway,
    nat_client_guest: Callable[..., Any],
    inside_netns: Namespace,
    outside_capture: Callable[..., Any],
    matrix_cell: Callable[[str], Any],
    interop_topology: Topology,
) -> None:
    with matrix_cell("win10g14 psk mschap-v2 behind NAT"):
        cap = outside_capture("nat-one")
        client = nat_client_guest(index=1, profile="win10g14", auth="psk", ppp_auth="mschap-v2")
        status = _bring_up(nat_gateway, client, interop_topology, cap)
        assert str(status.ppp_address).startswith("198.51.100.1"), status.raw
        _route_and_ping(nat_gateway, client)
        back = inside_netns.exec(
            ["ping", "-c", "2", "-W", "2", str(status.ppp_address)], check=False
        )
        assert back.returncode == 0, back.stdout + back.stderr
        isakmp = nat_gateway.show("show crypto isakmp sa")
        assert any(OUTSIDE_NAT in ln and "QM_IDLE" in ln for ln in isakmp.splitlines()), isakmp
        ipsec = nat_gateway.show("show crypto ipsec sa")
        assert f"current_peer: {OUTSIDE_NAT}" in ipsec, ipsec
        assert "Transport, UDP-Encaps" in ipsec, ipsec
        tunnel = nat_gateway.show("show vpdn tunnel")
        assert f"Remote Internet Address {OUTSIDE_NAT}" in tunnel, tunnel
        hang_up_and_check(nat_gateway, client)
        cap.stop()
        # the float: IKE moved to 4500 and the ESP went UDP-encapsulated there; nothing in clear
        assert cap.count(f"src host {OUTSIDE_NAT} and udp dst port 4500") > 0, cap.summary()
        assert cap.count("esp") == 0, cap.summary("esp")
        assert cap.count(CLEAR_L2TP_BPF) == 0, cap.summary(CLEAR_L2TP_BPF)
        assert not _not_ike_or_esp(cap), _not_ike_or_esp(cap)[:20]
        assert cap.count("udp port 4500") > 0


def test_two_clients_behind_one_nat(
    *,
    nat_gateway: RunningGateway,
    nat_client_guest: Callable[..., Any],
    inside_netns: Namespace,
    outside_capture: Callable[..., Any],
    matrix_cell: Callable[[str], Any],
    interop_topology: Topology,
) -> None:
    with matrix_cell("2 clients (win2000, winxp) behind one NAT"):
        cap = outside_capture("nat-two")
        first = nat_client_guest(index=1, profile="win2000", auth="psk", ppp_auth="mschap-v2")
        second = nat_client_guest(index=2, profile="winxp", auth="psk", ppp_auth="mschap-v2")
        one = _bring_up(nat_gateway, first, interop_topology, cap)
        two = _bring_up(nat_gateway, second, interop_topology, cap)
        assert one.ppp_address != two.ppp_address, (one.raw, two.raw)
        _route_and_ping(nat_gateway, first)
        _route_and_ping(nat_gateway, second)
        _route_and_ping(nat_gateway, first)  # the first still works after the second came
        for addr in (one.ppp_address, two.ppp_address):
            back = inside_netns.exec(["ping", "-c", "2", "-W", "2", str(addr)], check=False)
            assert back.returncode == 0, back.stdout + back.stderr

        isakmp = nat_gateway.show("show crypto isakmp sa")
        assert sum(OUTSIDE_NAT in ln and "QM_IDLE" in ln for ln in isakmp.splitlines()) == 2, isakmp
        ipsec = nat_gateway.show("show crypto ipsec sa")
        blocks = [b for b in _sa_blocks(ipsec) if f"current_peer: {OUTSIDE_NAT}" in b]
        assert len(blocks) == 2, ipsec
        assert "esp-des esp-md5-hmac" in ipsec and "esp-3des esp-sha-hmac" in ipsec, ipsec
        tunnel = nat_gateway.show("show vpdn tunnel")
        assert tunnel.count(f"Remote Internet Address {OUTSIDE_NAT}") == 2, tunnel
        session = nat_gateway.show("show vpdn session")
        assert session.count("state is established") == 2, session
        assert nat_gateway.pool_in_use() == 2

        first.down()
        assert wait_for(lambda: nat_gateway.pool_in_use() == 1, 30), nat_gateway.diagnostics()
        tunnel = nat_gateway.show("show vpdn tunnel")
        assert tunnel.count(f"Remote Internet Address {OUTSIDE_NAT}") == 1, tunnel
        _route_and_ping(nat_gateway, second)  # the other one is untouched by the first's goodbye
        hang_up_and_check(nat_gateway, second)
        cap.stop()
        assert cap.count(CLEAR_L2TP_BPF) == 0, cap.summary(CLEAR_L2TP_BPF)
        assert not _not_ike_or_esp(cap), _not_ike_or_esp(cap)[:20]
        assert cap.count("udp port 4500") > 0
        assert cap.count("esp") == 0, cap.summary("esp")
