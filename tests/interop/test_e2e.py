"""pixgw end to end with a real client: strongSwan + xl2tpd + pppd on a stock Debian kernel in a
QEMU guest connect to ``twistd pixgw`` (userspace dataplane) in the gateway namespace, get an
address from the pool and the DNS server, and ping the inside host; the show commands report
what happened; hanging up returns everything.

Topology (tests/interop/qemu): client guest 192.0.2.2 -- outside bridge -- gateway namespace
eth0 192.0.2.1 / inside0 203.0.113.1 -- inside host 203.0.113.2.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.interop.pixgw_gateway import RunningGateway, wait_for
from tests.interop.qemu.netns import Namespace

REPO = Path(__file__).resolve().parents[2]
PSK = "interop-psk"
USER, PASSWORD = "interop", "interop-pass"

pytestmark = [pytest.mark.root, pytest.mark.interop, pytest.mark.slow]
# Time bound (300 s): a connection ~25 s, plus the first guest boot.
pytestmark.append(pytest.mark.timeout(300))

CONFIG = f"""\
hostname pixgw-e2e
nameif ethernet0 outside security0
nameif ethernet1 inside security100
ip address outside 192.0.2.1 255.255.255.0
ip address inside 203.0.113.1 255.255.255.0
access-list l2tp permit udp host 192.0.2.1 any eq 1701
ip local pool l2tp 198.51.100.100-198.51.100.109
logging on
logging buffered debugging
crypto ipsec transform-set l2tp esp-des esp-md5-hmac
crypto ipsec transform-set l2tp mode transport
crypto ipsec transform-set l2tp-3des esp-3des esp-sha-hmac
crypto ipsec transform-set l2tp-3des mode transport
crypto ipsec transform-set l2tp-aes esp-aes esp-sha-hmac
crypto ipsec transform-set l2tp-aes mode transport
crypto ipsec security-association lifetime seconds 3600
crypto dynamic-map dyna 20 match address l2tp
crypto dynamic-map dyna 20 set transform-set l2tp l2tp-3des l2tp-aes
crypto map mymap 10 ipsec-isakmp dynamic dyna
crypto map mymap interface outside
isakmp enable outside
isakmp key {PSK} address 0.0.0.0 netmask 0.0.0.0 no-xauth no-config-mode
isakmp nat-traversal 20
isakmp policy 10 authentication pre-share
isakmp policy 10 encryption des
isakmp policy 10 hash md5
isakmp policy 10 group 1
isakmp policy 20 authentication pre-share
isakmp policy 20 encryption aes
isakmp policy 20 hash sha
isakmp policy 20 group 14
isakmp policy 30 authentication pre-share
isakmp policy 30 encryption 3des
isakmp policy 30 hash sha
isakmp policy 30 group 2
vpdn group l2tpipsec accept dialin l2tp
vpdn group l2tpipsec ppp authentication mschapv2
vpdn group l2tpipsec ppp authentication chap
vpdn group l2tpipsec client configuration address local l2tp
vpdn group l2tpipsec client configuration dns 203.0.113.53
vpdn group l2tpipsec client authentication local
vpdn group l2tpipsec l2tp tunnel hello 60
vpdn username {USER} password {PASSWORD}
vpdn enable outside
"""


@pytest.fixture
def pixgw_gateway(gateway_netns: Namespace, tmp_path: Path) -> Iterator[RunningGateway]:
    gateway = RunningGateway(gateway_netns, tmp_path, CONFIG)
    try:
        yield gateway
    finally:
        gateway.stop()


@pytest.mark.parametrize(
    ("profile", "ppp_auth"),
    [("win2000", "mschap-v2"), ("win10", "chap")],
)
def test_client_reaches_the_inside_host(
    pixgw_gateway: RunningGateway,
    client_guest: Callable[..., Any],
    inside_netns: Namespace,
    profile: str,
    ppp_auth: str,
) -> None:
    client = client_guest(
        profile=profile, auth="psk", ppp_auth=ppp_auth, psk=PSK, user=USER, password=PASSWORD
    )
    try:
        status = client.up(timeout=120)
    except Exception as e:
        log = pixgw_gateway.show("show logging")
        raise AssertionError(f"{e}\n--- pixgw show logging ---\n{log}") from e
    assert str(status.ppp_address).startswith("198.51.100.10")
    assert "203.0.113.53" in [str(d) for d in status.dns]

    # L2TP on a PIX has no split tunnelling: the client routes the inside network into ppp0
    # (Windows does it with its default route; pppd here runs with nodefaultroute).
    route = client.guest.sh("ip route replace 203.0.113.0/24 dev ppp0", timeout=20)
    assert route.rc == 0, route.stderr
    ping = client.ping("203.0.113.2", count=3)
    assert ping.ok, ping.output
    back = inside_netns.exec(["ping", "-c", "2", "-W", "2", str(status.ppp_address)], check=False)
    assert back.returncode == 0, back.stdout + back.stderr

    isakmp = pixgw_gateway.show("show crypto isakmp sa")
    assert "192.0.2.1" in isakmp and "192.0.2.2" in isakmp and "QM_IDLE" in isakmp, isakmp
    ipsec = pixgw_gateway.show("show crypto ipsec sa")
    assert "current_peer: 192.0.2.2" in ipsec, ipsec
    assert "#pkts decaps:" in ipsec
    tunnel = pixgw_gateway.show("show vpdn tunnel")
    assert "is up" in tunnel and "Remote Internet Address 192.0.2.2" in tunnel, tunnel
    session = pixgw_gateway.show("show vpdn session")
    assert f"Session username is {USER}, state is established" in session, session
    uauth = pixgw_gateway.show("show uauth")
    assert f"vpdn user '{USER}' at {status.ppp_address}, authenticated" in uauth, uauth
    log = pixgw_gateway.show("show logging")
    assert "%PIX-6-603106: L2TP Tunnel created" in log, log

    client.down()
    gone = "% No active L2TP tunnels"
    assert wait_for(lambda: gone in pixgw_gateway.show("show vpdn tunnel"), 30)
    pools = pixgw_gateway.show("show ip local pool l2tp")
    row = next(line.split() for line in pools.splitlines() if line.startswith("l2tp "))
    assert row[3:] == ["10", "0"], pools  # free 10, in use 0: the lease came back
    assert "%PIX-6-603107: L2TP Tunnel deleted" in pixgw_gateway.show("show logging")


def test_a_removed_tun_device_is_opened_again(
    pixgw_gateway: RunningGateway, gateway_netns: Namespace
) -> None:
    """Issue 29: the inside TUN device deleted under the running gateway (``ip link delete``
    in its namespace): the loss is counted and the device is there again, configured. ~5 s."""
    links = gateway_netns.exec(["ip", "-o", "link", "show", "type", "tun"]).stdout
    (name,) = [line.split(":")[1].strip() for line in links.splitlines() if line.strip()]
    before = gateway_netns.exec(["ip", "-o", "-4", "addr", "show", "dev", name]).stdout
    gateway_netns.exec(["ip", "link", "delete", name])

    def back() -> bool:
        stats = pixgw_gateway.show("show crypto ipsec stats")
        return "TUN device opened again:            1" in stats

    assert wait_for(back, 15), pixgw_gateway.show("show crypto ipsec stats")
    stats = pixgw_gateway.show("show crypto ipsec stats")
    assert "TUN device lost:                    1" in stats, stats
    after = gateway_netns.exec(["ip", "-o", "-4", "addr", "show", "dev", name]).stdout
    assert after.split()[3] == before.split()[3], (before, after)  # its address again
