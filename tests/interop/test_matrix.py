"""The client matrix against pixgw (issue 8): every client profile with a pre-shared key, every
PPP authentication protocol (and one the group refuses), certificates (rsa-sig).

Each cell connects a real client (strongSwan + xl2tpd + pppd in the session's QEMU guest) to
``twistd pixgw`` and checks the pool address, the DNS server, ping to the inside host,
``show crypto isakmp sa`` (QM_IDLE), the negotiated transform in ``show crypto ipsec sa``, the
vpdn session and uauth, then a clean hang-up (tunnel gone, lease back).  Implements no RFC; it
exercises RFC 2409 (IKEv1), RFC 3193 (L2TP over IPsec), RFC 2661 (L2TP), RFC 1994/2433/2759/1334
(CHAP, MS-CHAP v1/v2, PAP) end to end.  A summary table (cell x result x seconds) is printed at
the end of the session.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.interop import pixgw_gateway
from tests.interop.pixgw_gateway import (
    EXPECTED_TRANSFORM,
    RunningGateway,
    bring_up,
    check_connected,
    gateway_config,
    hang_up_and_check,
    wait_for,
)
from tests.interop.qemu.build import GuestImage
from tests.interop.qemu.client import PPP_AUTH_OPTION
from tests.interop.qemu.netns import Namespace

# the summary table's fixtures (defined with the gateway helpers, shared by the interop modules)
matrix_results = pixgw_gateway.matrix_results
matrix_cell = pixgw_gateway.matrix_cell

pytestmark = [pytest.mark.root, pytest.mark.interop, pytest.mark.slow]

ALL_PPP = ("mschapv2", "mschap", "chap", "pap")


@pytest.fixture
def start_gateway(
    gateway_netns: Namespace, tmp_path: Path
) -> Iterator[Callable[..., RunningGateway]]:
    started: list[RunningGateway] = []

    def start(config: str, pki: Path | None = None) -> RunningGateway:
        gw = RunningGateway(gateway_netns, tmp_path, config, pki=pki, log_name="pixgw-matrix.log")
        started.append(gw)
        return gw

    try:
        yield start
    finally:
        for gw in started:
            gw.stop()


PROFILE_CELLS = ("win2000", "winxp", "win10", "win10g14", "macos", "android")


@pytest.mark.parametrize("profile", PROFILE_CELLS)
def test_profile_psk_mschapv2(
    *,
    start_gateway: Callable[..., RunningGateway],
    client_guest: Callable[..., Any],
    inside_netns: Namespace,
    matrix_cell: Callable[[str], Any],
    profile: str,
) -> None:
    with matrix_cell(f"{profile} psk mschap-v2"):
        gw = start_gateway(gateway_config(ppp_auths=("mschapv2",)))
        client = client_guest(profile=profile, auth="psk", ppp_auth="mschap-v2")
        status = bring_up(gw, client)
        check_connected(gw, client, status, inside_netns, transform=EXPECTED_TRANSFORM[profile])
        if profile == "macos":  # the ephemeral L2TP source port is what the gateway talks to
            tunnel = gw.show("show vpdn tunnel")
            assert f"Remote Internet Address 192.0.2.2, port {client.client_port}" in tunnel or (
                str(client.client_port) in tunnel
            ), tunnel
        hang_up_and_check(gw, client)


@pytest.mark.parametrize("client_auth", ("chap", "mschap", "mschap-v2", "pap"))
def test_ppp_authentication(
    *,
    start_gateway: Callable[..., RunningGateway],
    client_guest: Callable[..., Any],
    inside_netns: Namespace,
    matrix_cell: Callable[[str], Any],
    client_auth: str,
) -> None:
    """The group allows all four; the client only does one of them (pppd refuse-*)."""
    with matrix_cell(f"win2000 psk {client_auth}"):
        gw = start_gateway(gateway_config(ppp_auths=ALL_PPP))
        client = client_guest(profile="win2000", auth="psk", ppp_auth=client_auth)
        status = bring_up(gw, client)
        check_connected(gw, client, status, inside_netns, transform="esp-des esp-md5-hmac")
        pppd = client.log_file("pppd")
        acked = re.findall(r"sent \[LCP ConfAck id=\S+ .*?<auth ([^>]+)>", pppd)
        assert acked and acked[-1] == PPP_AUTH_OPTION[client_auth], pppd[-3000:]
        hang_up_and_check(gw, client)


def test_ppp_authentication_refused(
    *,
    start_gateway: Callable[..., RunningGateway],
    client_guest: Callable[..., Any],
    matrix_cell: Callable[[str], Any],
) -> None:
    """The client wants PAP only, the group allows MS-CHAPv2 only: no session, nothing leaked."""
    with matrix_cell("win2000 psk pap-only vs mschapv2 (refused)"):
        gw = start_gateway(gateway_config(ppp_auths=("mschapv2",)))
        client = client_guest(profile="win2000", auth="psk", ppp_auth="pap")
        with pytest.raises(Exception):  # noqa: B017 - ClientError or no ppp0 address
            client.up(timeout=36)  # PPP waits half of it: LCP fails well within
        assert not client.status().ppp_address
        assert "state is established" not in gw.show("show vpdn session")
        assert "authenticated" not in gw.show("show uauth")
        assert wait_for(lambda: gw.pool_in_use() == 0, 10), gw.show("show ip local pool l2tp")
        client.down()
        assert wait_for(lambda: "% No active L2TP tunnels" in gw.show("show vpdn tunnel"), 30), (
            gw.show("show vpdn tunnel") + gw.diagnostics()
        )
        assert gw.pool_in_use() == 0


@pytest.mark.parametrize("profile", ("win2000", "win10"))
def test_profile_certificate(
    *,
    start_gateway: Callable[..., RunningGateway],
    client_guest: Callable[..., Any],
    inside_netns: Namespace,
    interop_image: GuestImage,
    matrix_cell: Callable[[str], Any],
    profile: str,
) -> None:
    with matrix_cell(f"{profile} rsa-sig mschap-v2"):
        gw = start_gateway(
            gateway_config(ppp_auths=("mschapv2",), ca=True), pki=Path(interop_image.pki)
        )
        client = client_guest(profile=profile, auth="cert", ppp_auth="mschap-v2")
        status = bring_up(gw, client)
        check_connected(gw, client, status, inside_netns, transform=EXPECTED_TRANSFORM[profile])
        hang_up_and_check(gw, client)
