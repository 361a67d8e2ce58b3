"""RadiusAccounting's lifecycle (RFC 2866 §4 delivery with a disk spool), driven by
task.Clock and a scripted RADIUS client: after shutdown() nothing is sent, retried or rewritten,
whatever happens to the request that was in flight; the next instance on the same spool
directory sends what is left, in order."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from pixgw.aaa.accounting import RadiusAccounting
from pixgw.aaa.interfaces import (
    AccountingSession,
    AuthenticationServerUnreachable,
    SessionUsage,
)
from pixgw.aaa.radius import RadiusCounters, RadiusServer


class ScriptedClient:
    """Stands in for RadiusClient: records each request and leaves its Deferred to the test."""

    def __init__(self) -> None:
        self.sent: list[tuple[list[tuple[str, Any]], Deferred[Any]]] = []

    def request(self, server: RadiusServer, code: int, attributes: Any) -> Deferred[Any]:
        d: Deferred[Any] = Deferred()
        self.sent.append((list(attributes), d))
        return d

    def counter(self, server: RadiusServer) -> RadiusCounters:
        return RadiusCounters()  # never in its deadtime


SERVER = RadiusServer(IPv4Address("127.0.0.1"), b"s", 1812, 1813, 1.0, 0)


def status(attrs: list[tuple[str, Any]]) -> tuple[Any, Any]:
    d = dict(attrs)
    return d["Acct-Status-Type"], d.get("Acct-Session-Id")


def test_in_flight_failure_after_shutdown_does_not_revive(tmp_path: Path) -> None:
    clock, client = Clock(), ScriptedClient()
    acct = RadiusAccounting(client, [SERVER], clock, spool_dir=tmp_path, retry_interval=5)  # type: ignore[arg-type]
    acct.start(AccountingSession("s1", "u"))
    acct.start(AccountingSession("s2", "u"))
    assert [status(a) for a, _ in client.sent] == [("Start", "s1")]  # one at a time
    acct.shutdown()
    client.sent[0][1].errback(AuthenticationServerUnreachable("client stopped"))
    clock.advance(60)
    assert len(client.sent) == 1  # no retry, no next record
    assert clock.getDelayedCalls() == []
    assert acct.pending() == 2


def test_late_ack_after_shutdown_leaves_the_spool_to_the_successor(tmp_path: Path) -> None:
    clock, client = Clock(), ScriptedClient()
    first = RadiusAccounting(client, [SERVER], clock, spool_dir=tmp_path)  # type: ignore[arg-type]
    first.start(AccountingSession("s1", "u"))
    first.shutdown()
    spool = tmp_path / "radius-accounting.spool"

    client2 = ScriptedClient()
    second = RadiusAccounting(client2, [SERVER], clock, spool_dir=tmp_path)  # type: ignore[arg-type]
    second.start(AccountingSession("s2", "u"))  # appended after the reloaded s1
    before = spool.read_text()
    client.sent[0][1].callback(object())  # the old instance's answer arrives late
    assert spool.read_text() == before  # the old instance did not rewrite the successor's file
    assert len(client.sent) == 1

    # The successor delivers s1 (again: at least once) then s2, in order.
    clock.advance(0)
    for _ in range(2):
        client2.sent[-1][1].callback(object())
    assert [status(a) for a, _ in client2.sent] == [("Start", "s1"), ("Start", "s2")]
    assert second.pending() == 0
    assert spool.read_text() == ""


def results(d: Deferred[int]) -> list[int]:
    out: list[int] = []
    d.addCallback(out.append)
    return out


def test_drain_waits_for_the_spool_to_empty(tmp_path: Path) -> None:
    clock, client = Clock(), ScriptedClient()
    acct = RadiusAccounting(client, [SERVER], clock, spool_dir=tmp_path)  # type: ignore[arg-type]
    acct.stop(AccountingSession("s1", "u"), SessionUsage(5.0), "user-request")
    acct.accounting_off()
    left = results(acct.drain(5.0))
    assert left == []
    client.sent[0][1].callback(object())  # Stop acknowledged, Accounting-Off goes out
    assert left == [] and status(client.sent[1][0]) == ("Accounting-Off", None)
    client.sent[1][1].callback(object())
    assert left == [0]
    assert clock.getDelayedCalls() == []  # the drain timer is gone too


def test_drain_gives_up_after_its_timeout_and_keeps_the_rest(tmp_path: Path) -> None:
    clock, client = Clock(), ScriptedClient()
    acct = RadiusAccounting(client, [SERVER], clock, spool_dir=tmp_path)  # type: ignore[arg-type]
    acct.accounting_on()
    acct.accounting_off()
    left = results(acct.drain(2.0))
    clock.advance(2.0)
    assert left == [2]
    client.sent[0][1].callback(object())  # too late: this instance is shut down
    assert len(client.sent) == 1
    assert [r.sequence for r in RadiusAccounting(
        ScriptedClient(), [SERVER], Clock(), spool_dir=tmp_path  # type: ignore[arg-type]
    ).spool.records] == [1, 2]


def test_drain_stops_waiting_when_no_server_answers(tmp_path: Path) -> None:
    clock, client = Clock(), ScriptedClient()
    acct = RadiusAccounting(client, [SERVER], clock, spool_dir=tmp_path, retry_interval=30)  # type: ignore[arg-type]
    acct.accounting_off()
    left = results(acct.drain(60.0))
    client.sent[0][1].errback(AuthenticationServerUnreachable("no answer"))
    assert left == [1]
    clock.advance(100)
    assert len(client.sent) == 1  # no retry after the drain
    # ... and a drain while already waiting to retry returns at once.
    acct2 = RadiusAccounting(client, [SERVER], clock, spool_dir=tmp_path / "b", retry_interval=30)  # type: ignore[arg-type]
    acct2.accounting_on()
    client.sent[-1][1].errback(AuthenticationServerUnreachable("no answer"))
    assert results(acct2.drain(60.0)) == [1]
