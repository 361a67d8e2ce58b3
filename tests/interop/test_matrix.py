"""The client matrix's special cell against pixgw (issue 8): a PPP authentication protocol the
vpdn group refuses.  The grid of profiles x IKE authentication x PPP authentication x direct/NAT
is ``test_grid.py``; NAT-T with a capture and two clients behind one NAT are ``test_nat.py``,
rekey and vanish ``test_lifecycle.py``.

Implements no RFC; it exercises RFC 1661 (LCP authentication option negotiation) with pppd.  The
summary table (cell x result x seconds) is printed at the end of the session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.interop import pixgw_gateway
from tests.interop.pixgw_gateway import RunningGateway, check_ppp_refused, gateway_config

# the summary table's fixtures (defined with the gateway helpers, shared by the interop modules)
matrix_results = pixgw_gateway.matrix_results
matrix_cell = pixgw_gateway.matrix_cell

pytestmark = [pytest.mark.root, pytest.mark.interop, pytest.mark.slow]
# Time bound (300 s): the refused-PPP cell waits for the client to give up: ~75 s.
pytestmark.append(pytest.mark.timeout(300))


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
        check_ppp_refused(gw, client)
