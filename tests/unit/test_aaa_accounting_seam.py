"""The gateway's accounting seam: Start, Interim-Update every Acct-Interim-Interval, Stop with
the PPP counters and an RFC 2866 §5.10 cause, Accounting-On/Off; the in-memory fakes."""

from __future__ import annotations

from ipaddress import IPv4Address
from types import SimpleNamespace
from typing import Any

from twisted.internet.task import Clock
from zope.interface.verify import verifyObject

from pixgw.aaa.credentials import PapCredentials
from pixgw.aaa.interfaces import Authorization, ClientInfo, IAccounting, IAuthenticator
from pixgw.aaa.memory import MemoryAccounting, MemoryAuthenticator
from pixgw.aaa_seam import CredAccounting


def fake_session(interim: int | None) -> Any:
    authorization = Authorization("alice", class_attribute=(b"c1",), interim_interval=interim)
    return SimpleNamespace(
        key=SimpleNamespace(tunnel_id=3, session_id=4),
        sid=9,
        username="alice",
        peer=SimpleNamespace(address=IPv4Address("203.0.113.5")),
        interface_id=2,
        remote_host_name="lac",
        address=IPv4Address("192.0.2.77"),
        client=None,  # no ClientInfo kept from authentication: the seam builds one
        authorized=SimpleNamespace(attributes=authorization),
        up_at=10.0,
        started_at=5.0,
        ppp=SimpleNamespace(
            received_bytes=0, transmitted_bytes=0, received_packets=0, transmitted_packets=0
        ),
    )


def test_start_interim_stop() -> None:
    clock = Clock()
    clock.advance(10)
    memory = MemoryAccounting()
    assert verifyObject(IAccounting, memory)
    seam = CredAccounting(memory, clock)
    seam.accounting_on()
    session = fake_session(interim=120)
    seam.session_started(session)
    session.ppp.received_bytes, session.ppp.received_packets = 1000, 10
    clock.advance(120)
    session.ppp.transmitted_bytes = 5 * 2**32 + 7  # past 4 GiB: gigawords on the wire
    clock.advance(120)
    seam.session_stopped(session, "Terminate-Request from peer")
    clock.advance(1000)  # no interim after the stop
    seam.accounting_off()
    kinds = [r.status for r in memory.records]
    assert kinds == [
        "Accounting-On",
        "Start",
        "Interim-Update",
        "Interim-Update",
        "Stop",
        "Accounting-Off",
    ]
    start = memory.records[1].session
    assert start is not None
    assert start.class_attribute == (b"c1",) and start.started_at == 10.0
    assert start.session_id == "0000000A" "0003000400000009"  # start time (10 s), ids, sid
    first = memory.records[2].usage
    assert first is not None and first.input_octets == 1000 and first.now == 130
    stop = memory.records[4]
    assert stop.cause == "user-request"
    assert stop.usage is not None and stop.usage.output_octets == 5 * 2**32 + 7


def test_interim_interval_floor_and_none() -> None:
    clock = Clock()
    memory = MemoryAccounting()
    seam = CredAccounting(memory, clock)
    seam.session_started(fake_session(interim=5))  # below the RFC 2869 minimum of 60 s
    clock.advance(59)
    assert [r.status for r in memory.records] == ["Start"]
    clock.advance(1)
    assert [r.status for r in memory.records] == ["Start", "Interim-Update"]
    memory2 = MemoryAccounting()
    CredAccounting(memory2, clock).session_started(fake_session(interim=None))
    clock.advance(10_000)
    assert [r.status for r in memory2.records] == ["Start"]


def test_memory_authenticator() -> None:
    auth = MemoryAuthenticator({"alice": "pw"})
    assert verifyObject(IAuthenticator, auth)
    out: list[Any] = []
    auth.authenticate(PapCredentials("alice", "pw"), ClientInfo()).addBoth(out.append)
    auth.authenticate(PapCredentials("alice", "no"), ClientInfo()).addBoth(out.append)
    assert isinstance(out[0], Authorization) and not isinstance(out[1], Authorization)
