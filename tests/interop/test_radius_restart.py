"""RADIUS accounting (RFC 2866 §4-§5, RFC 2866 §5.2 Acct-Delay-Time) across a RADIUS outage AND a
gateway restart, against a real FreeRADIUS 3.2 on 127.0.0.1: records made while the server is
down stay in the disk spool when the gateway's accounting goes away, a new accounting on the same
spool directory replays them in order once the server answers, and every one lands in
FreeRADIUS's detail file (none lost, none reordered, records made after the restart last)."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater

from pixgw.aaa.accounting import RadiusAccounting
from pixgw.aaa.interfaces import AccountingSession, ClientInfo, SessionUsage
from pixgw.aaa.radius import RadiusClient, RadiusServer
from tests import runid
from tests.interop.servers import FREERADIUS, RADIUS_SECRET, FreeRadius, missing

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(missing(FREERADIUS) is not None, reason=str(missing(FREERADIUS))),
]
# Time bound (120 s): FreeRADIUS restarted while accounting is spooled: ~10 s.
pytestmark.append(pytest.mark.timeout(120))

# Ports of their own, so this module never meets test_radius_freeradius.py's server.
AUTH_PORT = runid.port(28124)
ACCT_PORT = runid.port(28134)

CLIENT = ClientInfo(
    outer_address=IPv4Address("203.0.113.9"),
    interface_id=7,
    local_address=IPv4Address("127.0.0.1"),
)


def server() -> RadiusServer:
    return RadiusServer(
        IPv4Address("127.0.0.1"), RADIUS_SECRET.encode(), AUTH_PORT, ACCT_PORT, 0.5, 1
    )


def spin(seconds: float) -> None:
    """Run the global reactor for ``seconds`` (bounded)."""
    out: list[Any] = []
    d: Deferred[None] = deferLater(reactor, seconds, lambda: None)
    d.addBoth(out.append)
    deadline = reactor.seconds() + seconds + 5
    while not out and reactor.seconds() < deadline:
        reactor.runUntilCurrent()  # type: ignore[attr-defined]
        reactor.doIteration(0.01)  # type: ignore[attr-defined]


@pytest.fixture
def freeradius(tmp_path: Path) -> Iterator[FreeRadius]:
    radius = FreeRadius(tmp_path / "freeradius", auth_port=AUTH_PORT, acct_port=ACCT_PORT)
    radius.write_config()  # configured, but not running: the outage comes first
    try:
        yield radius
    finally:
        radius.stop()


def session(name: str) -> AccountingSession:
    return AccountingSession(
        name,
        "bob",
        CLIENT,
        IPv4Address("192.0.2.88"),
        (b"bob-class",),
        started_at=reactor.seconds(),
    )


def test_spool_survives_outage_and_gateway_restart(freeradius: FreeRadius, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"

    # --- gateway run 1: FreeRADIUS is down the whole time ------------------------------------
    client1 = RadiusClient(reactor)
    client1.start(interface="127.0.0.1")
    accounting1 = RadiusAccounting(
        client1, [server()], reactor, spool_dir=spool_dir, retry_interval=0.5
    )
    a, b = session("restart-a"), session("restart-b")
    accounting1.accounting_on()
    accounting1.start(a)
    accounting1.start(b)
    accounting1.stop(a, SessionUsage(reactor.seconds(), 111, 222, 3, 4), "user-request")
    accounting1.stop(b, SessionUsage(reactor.seconds(), 555, 666, 7, 8), "idle-timeout")
    spin(2.0)
    assert accounting1.pending() == 5
    accounting1.shutdown()  # the gateway goes away with nothing delivered
    client1.stop()
    spin(0.1)

    spool = spool_dir / "radius-accounting.spool"
    lines = spool.read_text().splitlines()
    assert len(lines) == 5
    assert stat.S_IMODE(os.stat(spool).st_mode) == 0o600
    assert RADIUS_SECRET not in spool.read_text()  # the shared secret never reaches the disk

    # --- the server comes back, then gateway run 2 starts on the same spool --------------------
    freeradius.start()
    client2 = RadiusClient(reactor)
    client2.start(interface="127.0.0.1")
    accounting2 = RadiusAccounting(
        client2, [server()], reactor, spool_dir=spool_dir, retry_interval=0.5
    )
    try:
        assert accounting2.pending() == 5  # reloaded from disk
        accounting2.start(session("restart-c"))  # made after the restart: goes out last
        for _ in range(100):
            spin(0.1)
            if accounting2.pending() == 0:
                break
        assert accounting2.pending() == 0
    finally:
        accounting2.shutdown()
        client2.stop()
        spin(0.1)

    assert spool.read_text() == ""
    records = freeradius.detail_records()
    summary = [
        (
            re.search(r"Acct-Status-Type = (\S+)", r).group(1),  # type: ignore[union-attr]
            m.group(1) if (m := re.search(r'Acct-Session-Id = "([^"]+)"', r)) else None,
        )
        for r in records
    ]
    assert summary == [
        ("Accounting-On", None),
        ("Start", "restart-a"),
        ("Start", "restart-b"),
        ("Stop", "restart-a"),
        ("Stop", "restart-b"),
        ("Start", "restart-c"),
    ]
    stop_a, stop_b = records[3], records[4]
    assert "Acct-Input-Octets = 111" in stop_a and "Acct-Output-Octets = 222" in stop_a
    assert "Acct-Terminate-Cause = User-Request" in stop_a
    assert "Acct-Input-Octets = 555" in stop_b and "Acct-Output-Octets = 666" in stop_b
    assert "Acct-Terminate-Cause = Idle-Timeout" in stop_b
    assert "Class = 0x626f622d636c617373" in stop_b  # b"bob-class" echoed (RFC 2865 §5.25)
    # The replayed records say how long they waited (RFC 2866 §5.2); the fresh one did not wait.
    delays = [int(m.group(1)) for r in records if (m := re.search(r"Acct-Delay-Time = (\d+)", r))]
    assert len(delays) == 6
    assert all(d >= 2 for d in delays[:5]), delays
    assert delays[5] <= 1, delays


def test_drain_at_shutdown_delivers_stop_and_accounting_off(freeradius: FreeRadius) -> None:
    """What ``stopService`` gets from ``drain()``: the last Stop and Accounting-Off reach the
    server before the gateway goes, instead of waiting in the spool for the next run."""
    freeradius.start()
    client = RadiusClient(reactor)
    client.start(interface="127.0.0.1")
    accounting = RadiusAccounting(client, [server()], reactor, spool_dir=None)
    try:
        s = session("drain-a")
        accounting.start(s)
        accounting.stop(s, SessionUsage(reactor.seconds(), 10, 20, 1, 2), "admin-reboot")
        accounting.accounting_off()
        left: list[int] = []
        accounting.drain(5.0).addCallback(left.append)
        for _ in range(100):
            spin(0.05)
            if left:
                break
        assert left == [0]
    finally:
        client.stop()
        spin(0.1)
    kinds = [
        re.search(r"Acct-Status-Type = (\S+)", r).group(1)  # type: ignore[union-attr]
        for r in freeradius.detail_records()
    ]
    assert kinds == ["Start", "Stop", "Accounting-Off"]
    assert "Acct-Terminate-Cause = Admin-Reboot" in freeradius.detail_records()[1]
