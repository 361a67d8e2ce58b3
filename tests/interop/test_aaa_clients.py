"""A real client (QEMU guest, strongSwan + xl2tpd + pppd) authenticates with MS-CHAPv2 through
pixgw against a real FreeRADIUS on the inside host, gets the address, pings, and the RADIUS
detail file records its Start and Stop; and the same against a real slapd (sambaNTPassword, group
condition). Issue 6, checked by a real client.

FreeRADIUS runs in the inside host's namespace (203.0.113.2); the gateway reaches it over its
inside interface, with ``client authentication aaa RADIUS`` and ``client accounting RADIUS``.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pixgw.config.parser import parse
from tests import runid
from tests.interop.pixgw_gateway import RunningGateway, bring_up, gateway_config, wait_for
from tests.interop.qemu.netns import Namespace
from tests.interop.reference_support import (
    INSIDE_HOST,
    RADIUS_PASSWORD,
    RADIUS_USER,
    InsideFreeRadius,
)
from tests.interop.servers import (
    FREERADIUS,
    LDAP_ADMIN,
    LDAP_ADMIN_PASSWORD,
    LDAP_BASE,
    RADIUS_SECRET,
    SLAPD,
    SLAPD_PORT,
    Slapd,
    missing,
)

pytestmark = [pytest.mark.root, pytest.mark.interop, pytest.mark.slow]
# Time bound (300 s): a client through FreeRADIUS/slapd: ~25 s, plus the guest boot.
pytestmark.append(pytest.mark.timeout(300))

AUTH_PORT, ACCT_PORT = runid.port(28125), runid.port(28135)


@pytest.fixture
def radius(inside_netns: Namespace, tmp_path: Path) -> Iterator[InsideFreeRadius]:
    why = missing(FREERADIUS)
    if why:
        pytest.skip(why)
    server = InsideFreeRadius(
        tmp_path / "radius", auth_port=AUTH_PORT, acct_port=ACCT_PORT, netns=inside_netns
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def radius_config() -> str:
    config = gateway_config(ppp_auths=("mschapv2",), hostname="pixgw-radius")
    config = config.replace(
        "vpdn group l2tpipsec client authentication local\n",
        "vpdn group l2tpipsec client authentication aaa RADIUS\n"
        "vpdn group l2tpipsec client accounting RADIUS\n",
    )
    config += (
        "aaa-server RADIUS protocol radius\n"
        f"aaa-server RADIUS (inside) host {INSIDE_HOST} {RADIUS_SECRET} timeout 5\n"
        f"aaa-server radius-authport {AUTH_PORT}\n"
        f"aaa-server radius-acctport {ACCT_PORT}\n"
    )
    parse(config)  # a config the gateway accepts
    return config


def test_mschapv2_client_through_freeradius_with_accounting(
    radius: InsideFreeRadius,
    gateway_netns: Namespace,
    client_guest: Callable[..., Any],
    tmp_path: Path,
) -> None:
    gw = RunningGateway(gateway_netns, tmp_path / "gw", radius_config(), log_name="pixgw-aaa.log")
    try:
        client = client_guest(
            profile="win10", auth="psk", ppp_auth="mschap-v2",
            user=RADIUS_USER, password=RADIUS_PASSWORD,
        )
        status = bring_up(gw, client)
        assert str(status.ppp_address).startswith("198.51.100.1"), status
        route = client.guest.sh("ip route replace 203.0.113.0/24 dev ppp0", timeout=20)
        assert route.rc == 0, route.stderr
        ping = client.ping(INSIDE_HOST, count=3)
        assert ping.ok, ping.output
        uauth = gw.show("show uauth")
        assert f"vpdn user '{RADIUS_USER}'" in uauth, uauth
        log = gw.show("show logging")
        assert f"user: {RADIUS_USER} aaa authentication succeed" in log, log

        client.down()
        assert wait_for(lambda: gw.pool_in_use() == 0, 30), gw.diagnostics()

        def stopped() -> bool:
            return any("Acct-Status-Type = Stop" in b for b in radius.detail_records())

        assert wait_for(stopped, 30), radius.detail_records()
        mine = [b for b in radius.detail_records() if f'User-Name = "{RADIUS_USER}"' in b]
        kinds = [
            line.split("=", 1)[1].strip()
            for b in mine
            for line in b.splitlines()
            if "Acct-Status-Type" in line
        ]
        assert kinds == ["Start", "Stop"], mine
        stop = mine[-1]
        octets = [
            int(line.split("=", 1)[1])
            for line in stop.splitlines()
            if "Acct-Input-Octets" in line or "Acct-Output-Octets" in line
        ]
        assert len(octets) == 2 and all(o > 0 for o in octets), stop
    finally:
        gw.stop()


SHORT_USER = "vpnshort"  # RADIUS gives it Session-Timeout = SHORT_SESSION


SHORT_SESSION = 8


def test_session_timeout_from_freeradius_ends_a_real_client_session(
    radius: InsideFreeRadius,
    gateway_netns: Namespace,
    client_guest: Callable[..., Any],
    tmp_path: Path,
) -> None:
    """Issue 28: FreeRADIUS answers with Session-Timeout = 8 (RFC 2865 §5.27); pixgw ends the
    real client's link when it runs out, and the Stop record says Session-Timeout
    (RFC 2866 §5.10) with the session's time. About 40 s with the guest."""
    users = radius.raddb / "users"
    users.write_text(
        f'{SHORT_USER}\tCleartext-Password := "{RADIUS_PASSWORD}"\n'
        f"\tService-Type = Framed-User,\n\tFramed-Protocol = PPP,\n"
        f"\tSession-Timeout = {SHORT_SESSION}\n\n" + users.read_text()
    )
    radius.stop()
    radius.start()  # reads its users again
    gw = RunningGateway(gateway_netns, tmp_path / "gw", radius_config(), log_name="pixgw-st.log")
    try:
        client = client_guest(
            profile="win10", auth="psk", ppp_auth="mschap-v2",
            user=SHORT_USER, password=RADIUS_PASSWORD,
        )
        bring_up(gw, client)

        def stopped() -> list[str]:
            return [b for b in radius.detail_records()
                    if f'User-Name = "{SHORT_USER}"' in b and "Acct-Status-Type = Stop" in b]

        assert wait_for(lambda: bool(stopped()), 30), radius.detail_records()
        stop = stopped()[0]
        assert "Acct-Terminate-Cause = Session-Timeout" in stop, stop
        (seconds,) = [int(line.split("=", 1)[1]) for line in stop.splitlines()
                      if "Acct-Session-Time" in line]
        assert SHORT_SESSION - 1 <= seconds <= SHORT_SESSION + 2, stop
        assert wait_for(lambda: gw.pool_in_use() == 0, 30), gw.diagnostics()
    finally:
        gw.stop()


class InsideSlapd(Slapd):
    """The test slapd on the inside host's address, in its namespace (plain LDAP there)."""

    def __init__(self, root: Path, netns: Namespace) -> None:
        super().__init__(root)
        self.netns = netns

    def start(self) -> None:
        if not (self.root / "slapd.conf").exists():
            self.write_config()
        url = f"ldap://{INSIDE_HOST}:{SLAPD_PORT}/"
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", self.netns.name, SLAPD, "-d", "0",
             "-f", str(self.root / "slapd.conf"), "-h", url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("slapd exited at start")
            done = self.netns.exec(["/usr/bin/ldapwhoami", "-x", "-H", url], check=False)
            if done.returncode == 0:
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("slapd did not answer in 20 s")


@pytest.fixture
def slapd(inside_netns: Namespace, tmp_path: Path) -> Iterator[InsideSlapd]:
    why = missing(SLAPD)
    if why:
        pytest.skip(why)
    server = InsideSlapd(tmp_path / "slapd", inside_netns)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_mschapv2_client_through_slapd(
    slapd: InsideSlapd,
    gateway_netns: Namespace,
    client_guest: Callable[..., Any],
    tmp_path: Path,
) -> None:
    """MS-CHAPv2 against the user's sambaNTPassword, read over a service bind; the user must be
    in the vpnusers group."""
    config = gateway_config(ppp_auths=("mschapv2",), hostname="pixgw-ldap").replace(
        "vpdn group l2tpipsec client authentication local\n",
        "vpdn group l2tpipsec client authentication aaa DIR\n",
    )
    config += (
        "aaa-server DIR protocol ldap\n"
        f"aaa-server DIR (inside) host {INSIDE_HOST} timeout 5\n"
        f"aaa-server DIR ldap-base-dn ou=people,{LDAP_BASE}\n"
        f"aaa-server DIR ldap-port {SLAPD_PORT}\n"
        f"aaa-server DIR ldap-login-dn {LDAP_ADMIN}\n"
        f"aaa-server DIR ldap-login-password {LDAP_ADMIN_PASSWORD}\n"
        f"aaa-server DIR ldap-group-dn cn=vpnusers,ou=groups,{LDAP_BASE}\n"
        "aaa-server DIR ldap-tls none\n"
    )
    parse(config)
    gw = RunningGateway(gateway_netns, tmp_path / "gw", config, log_name="pixgw-ldap.log")
    try:
        client = client_guest(
            profile="win10", auth="psk", ppp_auth="mschap-v2", user="alice", password="alice-pw"
        )
        status = bring_up(gw, client)
        assert str(status.ppp_address).startswith("198.51.100.1"), status
        route = client.guest.sh("ip route replace 203.0.113.0/24 dev ppp0", timeout=20)
        assert route.rc == 0, route.stderr
        ping = client.ping(INSIDE_HOST, count=3)
        assert ping.ok, ping.output
        assert "vpdn user 'alice'" in gw.show("show uauth")
        client.down()
        assert wait_for(lambda: gw.pool_in_use() == 0, 30), gw.diagnostics()
    finally:
        gw.stop()
