"""The client matrix's special cell against pixgw (issue 8): a PPP authentication protocol the
vpdn group refuses.  The grid of profiles x IKE authentication x PPP authentication x direct/NAT
is ``test_grid.py``; NAT-T with a capture and two clients behind one NAT are ``test_nat.py``,
rekey and vanish ``test_lifecycle.py``.

Implements no RFC; it exercises RFC 1661 (LCP authentication option negotiation) with pppd.  The
summary table (cell x result x seconds) is printed at the end of the session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.interop import pixgw_gateway
from tests.interop.pixgw_gateway import RunningGateway, gateway_config, wait_for
from tests.interop.qemu.netns import Namespace

# the summary table's fixtures (defined with the gateway helpers, shared by the interop modules)
matrix_results = pixgw_gateway.matrix_results
matrix_cell = pixgw_gateway.matrix_cell

pytestmark = [pytest.mark.root, pytest.mark.interop, pytest.mark.slow]


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
