"""Client lifecycle against pixgw (issue 8): a client that vanishes without a word (the gateway's
L2TP hello, RFC 2661 §6.5 / §5.8 retransmission, finds it dead and frees the tunnel, the session,
the IPsec SAs and the pool address; DPD, RFC 3706, takes the phase 1 SA), and a client that
rekeys quick mode (RFC 2409 §5.5, short ESP lifetime) while it keeps pinging the inside host
through the change of SAs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.interop import pixgw_gateway
from tests.interop.pixgw_gateway import (
    RunningGateway,
    bring_up,
    check_connected,
    gateway_config,
    hang_up_and_check,
    ping_across_rekey,
    wait_cleaned_up,
)
from tests.interop.qemu.netns import Namespace

matrix_results = pixgw_gateway.matrix_results
matrix_cell = pixgw_gateway.matrix_cell

pytestmark = [pytest.mark.root, pytest.mark.interop, pytest.mark.slow]
# Time bound (300 s): the rekey test waits out a short ESP lifetime: ~80 s.
pytestmark.append(pytest.mark.timeout(300))

HELLO = 10  # seconds; the test's ``l2tp tunnel hello``
# ``isakmp keepalive 10 2``: the IPsec SAs go with the L2TP tunnel, but the phase 1 SA of a
# vanished peer lingers (as on a PIX) until DPD finds it dead: 10 s + 5 unanswered R-U-THERE 2 s
# apart
DPD = (10, 2)
# hello interval + the control channel's retransmissions (1+2+4+8+8 s, RFC 2661 §5.8) + slack;
# DPD (about 20 s) runs meanwhile
VANISH_BOUND = HELLO + 45
ESP_LIFETIME = 60  # the client's; it rekeys at 90 % (54 s)


@pytest.fixture
def lifecycle_gateway(gateway_netns: Namespace, tmp_path: Path) -> Iterator[RunningGateway]:
    gw = RunningGateway(
        gateway_netns,
        tmp_path,
        gateway_config(ppp_auths=("mschapv2",), hello=HELLO, keepalive=DPD),
        log_name="pixgw-lifecycle.log",
    )
    try:
        yield gw
    finally:
        gw.stop()


def test_vanished_client_is_cleaned_up(
    *,
    lifecycle_gateway: RunningGateway,
    client_guest: Callable[..., Any],
    inside_netns: Namespace,
    matrix_cell: Callable[[str], Any],
) -> None:
    gw = lifecycle_gateway
    with matrix_cell(f"win2000 vanishes (hello {HELLO} s)"):
        client = client_guest(profile="win2000", auth="psk", ppp_auth="mschap-v2")
        status = bring_up(gw, client)
        check_connected(gw, client, status, inside_netns, transform="esp-des esp-md5-hmac")
        assert gw.pool_in_use() == 1
        client.vanish()
        wait_cleaned_up(gw, "192.0.2.2", VANISH_BOUND)


def test_client_rekeys_without_a_drop(
    *,
    lifecycle_gateway: RunningGateway,
    client_guest: Callable[..., Any],
    inside_netns: Namespace,
    matrix_cell: Callable[[str], Any],
) -> None:
    gw = lifecycle_gateway
    with matrix_cell(f"win2000 rekeys (ESP {ESP_LIFETIME} s)"):
        client = client_guest(
            profile="win2000", auth="psk", ppp_auth="mschap-v2", esp_lifetime=f"{ESP_LIFETIME}s"
        )
        status = bring_up(gw, client)
        check_connected(gw, client, status, inside_netns, transform="esp-des esp-md5-hmac")
        ping_across_rekey(gw, client, ESP_LIFETIME)
        hang_up_and_check(gw, client)
