"""pixgw's RADIUS client against a real FreeRADIUS 3.2 on 127.0.0.1 (RFC 2865/2866/2548/3579):
PAP, CHAP, MS-CHAPv1, MS-CHAPv2 with MPPE keys, wrong password, unknown user, failover from a
silent first host, accounting spooled while the server is down and replayed when it is back."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from twisted.cred.error import UnauthorizedLogin
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater

from pixgw.aaa.accounting import RadiusAccounting
from pixgw.aaa.chain import CheckerChain
from pixgw.aaa.credentials import (
    ChapMd5Credentials,
    MsChapV1Credentials,
    MsChapV2Credentials,
    PapCredentials,
)
from pixgw.aaa.interfaces import AccountingSession, Authorization, ClientInfo, SessionUsage
from pixgw.aaa.radius import RadiusChecker, RadiusClient, RadiusServer
from pixgw.aaa.realm import PortalAuthenticator
from pixgw.ppp import mschap
from tests import runid
from tests.interop.servers import (
    FREERADIUS,
    RADIUS_ACCT_PORT,
    RADIUS_AUTH_PORT,
    RADIUS_SECRET,
    FreeRadius,
    missing,
)

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(missing(FREERADIUS) is not None, reason=str(missing(FREERADIUS))),
]
# Time bound (120 s): FreeRADIUS start and failover timeouts: a few seconds.
pytestmark.append(pytest.mark.timeout(120))

CLIENT = ClientInfo(
    outer_address=IPv4Address("203.0.113.5"),
    interface_id=1,
    local_address=IPv4Address("127.0.0.1"),
)


def server(address: str = "127.0.0.1") -> RadiusServer:
    return RadiusServer(
        IPv4Address(address),
        RADIUS_SECRET.encode(),
        RADIUS_AUTH_PORT,
        RADIUS_ACCT_PORT,
        timeout=1.0,
        retries=1,
    )


@pytest.fixture(scope="module")
def freeradius(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FreeRadius]:
    radius = FreeRadius(tmp_path_factory.mktemp("freeradius"))
    radius.start()
    try:
        yield radius
    finally:
        radius.stop()


def run(d: Deferred[Any], seconds: float = 20.0) -> Any:
    """Spin the global reactor until ``d`` fires (bounded)."""
    out: list[Any] = []
    d.addBoth(out.append)
    deadline = reactor.seconds() + seconds
    while not out and reactor.seconds() < deadline:
        reactor.runUntilCurrent()  # type: ignore[attr-defined]
        reactor.doIteration(0.01)  # type: ignore[attr-defined]
    assert out, "no answer in time"
    result = out[0]
    if hasattr(result, "raiseException") and not isinstance(result, Authorization):
        return result
    return result


@pytest.fixture
def client() -> Iterator[RadiusClient]:
    c = RadiusClient(reactor)
    c.start(interface="127.0.0.1")
    yield c
    c.stop()
    run(deferLater(reactor, 0, lambda: None))


def authenticate(client: RadiusClient, creds: Any, srv: RadiusServer | None = None) -> Any:
    return run(
        PortalAuthenticator("RADIUS", RadiusChecker(client, srv or server())).authenticate(
            creds, CLIENT
        )
    )


def test_pap_accept_with_attributes(freeradius: FreeRadius, client: RadiusClient) -> None:
    result = authenticate(client, PapCredentials("alice", "alice-pw"))
    assert isinstance(result, Authorization), result
    assert result.address == IPv4Address("192.0.2.77")
    assert result.session_timeout == 3600 and result.idle_timeout == 600
    assert result.class_attribute == (b"alice-class",)
    assert result.dns == (IPv4Address("192.0.2.53"),)


def test_pap_wrong_password_and_unknown_user(freeradius: FreeRadius, client: RadiusClient) -> None:
    for creds in (PapCredentials("alice", "nope"), PapCredentials("mallory", "x")):
        result = authenticate(client, creds)
        assert not isinstance(result, Authorization)
        assert result.check(UnauthorizedLogin)


def test_chap(freeradius: FreeRadius, client: RadiusClient) -> None:
    challenge = bytes(range(16))
    good = ChapMd5Credentials("alice", 7, challenge, b"")
    good = ChapMd5Credentials("alice", 7, challenge, good.expected_response("alice-pw"))
    assert isinstance(authenticate(client, good), Authorization)
    bad = ChapMd5Credentials("alice", 7, challenge, good.expected_response("other"))
    assert authenticate(client, bad).check(UnauthorizedLogin)


def test_mschapv1(freeradius: FreeRadius, client: RadiusClient) -> None:
    challenge = bytes.fromhex("102DB5DF085D3041")
    nt_hash = mschap.nt_password_hash("bob-pw")
    nt = mschap.mschapv1_nt_response(challenge, nt_hash)
    creds = MsChapV1Credentials("bob", challenge, bytes(24) + nt + b"\x01", 1)
    result = authenticate(client, creds)
    assert isinstance(result, Authorization), result
    # MS-CHAP-MPPE-Keys (RFC 2548 §2.4.1) turned into the RFC 3079 §2.4 start key
    assert (result.mppe_send_key, result.mppe_recv_key) == creds.mppe_keys(nt_hash)


@pytest.mark.parametrize(("user", "password"), [("alice", "alice-pw"), ("bob", "bob-pw")])
def test_mschapv2_success_and_mppe_keys(
    freeradius: FreeRadius, client: RadiusClient, user: str, password: str
) -> None:
    nt_hash = mschap.nt_password_hash(password)
    ac, pc = bytes(range(16)), bytes(range(100, 116))
    creds = MsChapV2Credentials(
        user, ac, pc, mschap.generate_nt_response(ac, pc, user, nt_hash), identifier=9
    )
    result = authenticate(client, creds)
    assert isinstance(result, Authorization), result
    assert result.mschapv2_authenticator_response == creds.authenticator_response(nt_hash)
    send, recv = creds.mppe_keys(nt_hash)
    assert (result.mppe_send_key, result.mppe_recv_key) == (send, recv)


def test_mschapv2_wrong_password(freeradius: FreeRadius, client: RadiusClient) -> None:
    ac, pc = bytes(16), bytes(16)
    nt = mschap.generate_nt_response(ac, pc, "bob", mschap.nt_password_hash("wrong"))
    assert authenticate(client, MsChapV2Credentials("bob", ac, pc, nt)).check(UnauthorizedLogin)


def test_failover_from_a_silent_first_host(freeradius: FreeRadius, client: RadiusClient) -> None:
    chain = PortalAuthenticator(
        "RADIUS",
        CheckerChain(
            "RADIUS",
            [
                RadiusChecker(client, server("127.0.0.2")),  # nothing listens there
                RadiusChecker(client, server()),
            ],
        ),
    )
    result = run(chain.authenticate(PapCredentials("alice", "alice-pw"), CLIENT))
    assert isinstance(result, Authorization), result
    assert client.counters["127.0.0.2"].timeouts == 1


def test_accounting_spooled_while_down_replayed_when_back(
    freeradius: FreeRadius, client: RadiusClient, tmp_path: Path
) -> None:
    before = len(freeradius.detail_records())
    freeradius.stop()
    accounting = RadiusAccounting(
        client, [server()], reactor, spool_dir=tmp_path, retry_interval=0.5
    )
    try:
        sessions = [
            AccountingSession(
                f"pixgw-{i}",
                "alice",
                CLIENT,
                IPv4Address("192.0.2.77"),
                (b"alice-class",),
                started_at=reactor.seconds(),
            )
            for i in range(3)
        ]
        for s in sessions:
            accounting.start(s)
        for i, s in enumerate(sessions):
            accounting.stop(
                s, SessionUsage(reactor.seconds(), 1000 + i, 2000 + i, 10, 20), "user-request"
            )
        run(deferLater(reactor, 2.5, lambda: None))
        assert accounting.pending() == 6  # nothing answered: all spooled, in order
        freeradius.start()
        for _ in range(200):
            run(deferLater(reactor, 0.1, lambda: None))
            if accounting.pending() == 0:
                break
        assert accounting.pending() == 0
    finally:
        accounting.shutdown()
    records = freeradius.detail_records()[before:]
    kinds = [("Start" if "Acct-Status-Type = Start" in r else "Stop") for r in records]
    assert kinds == ["Start"] * 3 + ["Stop"] * 3
    for i, r in enumerate(records[3:]):
        assert f'Acct-Session-Id = "pixgw-{i}"' in r
        assert f"Acct-Input-Octets = {1000 + i}" in r
        assert f"Acct-Output-Octets = {2000 + i}" in r
        assert "Acct-Terminate-Cause = User-Request" in r
        assert "Class = 0x616c6963652d636c617373" in r


def test_reply_without_message_authenticator_is_refused(
    client: RadiusClient, tmp_path: Path
) -> None:
    """A FreeRADIUS 3.2.1 that does not sign its Access-Accept: pixgw drops the reply
    (Blast-RADIUS), so the login does not succeed, although the password is right."""
    auth, acct = runid.port(28122), runid.port(28132)
    unsigned = FreeRadius(tmp_path, auth_port=auth, acct_port=acct, sign_replies=False)
    unsigned.start()
    try:
        srv = RadiusServer(IPv4Address("127.0.0.1"), RADIUS_SECRET.encode(), auth, acct, 1.0, 1)
        result = authenticate(client, PapCredentials("alice", "alice-pw"), srv)
        assert not isinstance(result, Authorization)
        assert client.counters["127.0.0.1"].dropped == 2  # the answer and the retransmit's
        assert client.counters["127.0.0.1"].unsigned == 2  # counted for show aaa-server
        assert b"Login OK: [alice]" in unsigned.log.read_bytes()  # the server did accept
        # issue 28: the explicit opt-out for a server that cannot sign
        lenient = RadiusServer(IPv4Address("127.0.0.1"), RADIUS_SECRET.encode(), auth, acct, 1.0,
                               1, require_message_authenticator=False)
        assert isinstance(authenticate(client, PapCredentials("alice", "alice-pw"), lenient),
                          Authorization)
    finally:
        unsigned.stop()


def test_a_poison_record_is_parked_and_the_good_ones_arrive(
    freeradius: FreeRadius, client: RadiusClient, tmp_path: Path
) -> None:
    """Issue 28: a record that cannot be encoded (a User-Name over 253 bytes) used to wedge
    the sender for good; against the real server, it is parked and the rest arrive."""
    before = len(freeradius.detail_records())
    accounting = RadiusAccounting(client, [server()], reactor, spool_dir=tmp_path)
    try:
        poison = AccountingSession("pixgw-poison", "x" * 300, CLIENT, None, (), reactor.seconds())
        accounting.start(poison)
        for i in range(3):
            accounting.start(AccountingSession(f"pixgw-good-{i}", "alice", CLIENT, None, (),
                                               reactor.seconds()))
        for _ in range(100):
            run(deferLater(reactor, 0.05, lambda: None))
            if accounting.pending() == 0:
                break
        assert (accounting.pending(), accounting.parked()) == (0, 1)
    finally:
        accounting.shutdown()
    records = freeradius.detail_records()[before:]
    assert [f'Acct-Session-Id = "pixgw-good-{i}"' in r for i, r in enumerate(records)] == [
        True, True, True]
    (line,) = (tmp_path / "radius-accounting.dead").read_text().splitlines()
    assert "User-Name" in line and "pixgw-poison" in line


def test_primary_down_then_back_deadtime_failover_and_failback(
    freeradius: FreeRadius, client: RadiusClient, tmp_path: Path
) -> None:
    """Issue 28, two real FreeRADIUS: the primary (127.0.0.2) stops; the record in flight fails
    over to the secondary (113902), the next one goes there at once (the primary is in its
    deadtime: no timeout spent on it); the primary back and its deadtime over, accounting
    fails back (113902). Each server's detail file holds exactly its records. About 15 s."""
    from pixgw import syslog

    primary_radius = FreeRadius(tmp_path / "primary", address="127.0.0.2")
    primary_radius.start()
    lines: list[str] = []

    def observe(event: dict[str, object]) -> None:
        if "pix_line" in event:
            lines.append(str(event["pix_line"]))

    syslog.add_observer(observe)
    primary = RadiusServer(IPv4Address("127.0.0.2"), RADIUS_SECRET.encode(), RADIUS_AUTH_PORT,
                           RADIUS_ACCT_PORT, timeout=0.5, retries=0, max_failed_attempts=1,
                           deadtime=4.0)
    accounting = RadiusAccounting(client, [primary, server()], reactor,
                                  spool_dir=tmp_path / "spool", retry_interval=0.5)
    secondary_before = len(freeradius.detail_records())

    def send(i: int) -> None:
        accounting.start(AccountingSession(f"pixgw-fo-{i}", "alice", CLIENT, None, (),
                                           reactor.seconds()))
        for _ in range(100):
            run(deferLater(reactor, 0.05, lambda: None))
            if accounting.pending() == 0:
                return
        raise AssertionError(f"record {i} not delivered")

    try:
        send(0)  # the primary answers
        primary_radius.stop()
        send(1)  # times out on the primary (0.5 s), then the secondary
        assert any("113902" in line and "failed over to 127.0.0.1 (was 127.0.0.2)" in line
                   for line in lines), lines
        timeouts = client.counters["127.0.0.2"].timeouts
        send(2)  # the primary is in its deadtime: straight to the secondary
        assert client.counters["127.0.0.2"].timeouts == timeouts
        primary_radius.start()
        run(deferLater(reactor, 4.5, lambda: None), seconds=10)  # the deadtime runs out
        send(3)
        assert any("113902" in line and "back on 127.0.0.2 (was 127.0.0.1)" in line
                   for line in lines), lines
    finally:
        syslog.remove_observer(observe)
        accounting.shutdown()
        primary_radius.stop()
    on_primary = [r for r in primary_radius.detail_records() if "pixgw-fo-" in r]
    on_secondary = [r for r in freeradius.detail_records()[secondary_before:] if "pixgw-fo-" in r]
    assert ['"pixgw-fo-0"' in on_primary[0], '"pixgw-fo-3"' in on_primary[1]] == [True, True]
    assert len(on_primary) == 2
    assert ['"pixgw-fo-1"' in on_secondary[0], '"pixgw-fo-2"' in on_secondary[1]] == [True, True]
    assert len(on_secondary) == 2


def test_radius_group_from_the_config(freeradius: FreeRadius) -> None:
    """``aaa-server RAD protocol radius``, its hosts and ``aaa-server radius-authport``, through
    the plugin: a silent first host, then FreeRADIUS."""
    from pixgw.aaa.chain import build_authenticator
    from pixgw.config.parser import parse

    config = parse(
        "nameif ethernet1 inside security100\n"
        "aaa-server RAD protocol radius\n"
        f"aaa-server RAD (inside) host 127.0.0.2 {RADIUS_SECRET} timeout 1\n"
        f"aaa-server RAD (inside) host 127.0.0.1 {RADIUS_SECRET} timeout 2\n"
        "aaa-server RAD radius-retries 1\n"
        f"aaa-server radius-authport {RADIUS_AUTH_PORT}\n"
        f"aaa-server radius-acctport {RADIUS_ACCT_PORT}\n"
    ).config
    auth = build_authenticator(config, "RAD", reactor=reactor)
    try:
        result = run(auth.authenticate(PapCredentials("alice", "alice-pw"), CLIENT))
        assert isinstance(result, Authorization), result
        assert result.server == "RADIUS 127.0.0.1"
    finally:
        auth.checker.members[0].client.stop()


class _RealUdpFakeTime:
    """Real UDP for the RADIUS socket, the bench's Clock for its timers."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock

    def listenUDP(self, port: int, protocol: Any, interface: str = "") -> Any:
        return reactor.listenUDP(port, protocol, interface="127.0.0.1")  # type: ignore[attr-defined]

    def callLater(self, delay: float, f: Any, *a: Any, **kw: Any) -> Any:
        return self.clock.callLater(delay, f, *a, **kw)

    def seconds(self) -> float:
        return float(self.clock.seconds())


def test_ppp_mschapv2_peer_through_gateway_to_freeradius(
    freeradius: FreeRadius, tmp_path: Path
) -> None:
    """The testing PPP peer (MS-CHAPv2, verifies S=) through the gateway's AAA seam to
    FreeRADIUS; the session's Start and Stop land in FreeRADIUS's detail file with the octets."""
    from pixgw.aaa_seam import CredAccounting, CredAuthenticate
    from tests.protocol.test_gateway import Bench

    bench = Bench()
    mixed = _RealUdpFakeTime(bench.clock)
    radius_client = RadiusClient(mixed)
    radius_client.start()
    acct_client = RadiusClient(mixed)
    try:
        bench.gateway.authenticate = CredAuthenticate(
            PortalAuthenticator("RAD", RadiusChecker(radius_client, server(), "RAD"))
        )
        accounting = RadiusAccounting(acct_client, [server()], mixed, spool_dir=tmp_path)
        bench.gateway.accounting = CredAccounting(accounting, mixed)
        before = len(freeradius.detail_records())
        alice = bench.client(1, "alice", "alice-pw")
        alice.connect()
        for _ in range(100):
            run(deferLater(reactor, 0.02, lambda: None))
            bench.settle()
            if alice.ppp.up:
                break
        assert alice.ppp.up
        assert alice.ppp.authenticator_verified is True  # S= from FreeRADIUS's MS-CHAP2-Success
        # Framed-IP-Address from the Access-Accept
        assert alice.ppp.address == IPv4Address("192.0.2.77")
        packet = bytes.fromhex("4500001c000000004001") + bytes(2) + bytes([192, 0, 2, 77])
        packet += bytes([203, 0, 113, 9]) + bytes(8)
        alice.ppp.send_ip(packet)
        bench.settle()
        (active,) = bench.gateway.sessions.values()
        received = active.ppp.received_bytes
        alice.lac.stop(bench.clock.seconds())
        bench.settle()
        for _ in range(100):
            run(deferLater(reactor, 0.02, lambda: None))
            if accounting.pending() == 0:
                break
        assert accounting.pending() == 0
        records = freeradius.detail_records()[before:]
        assert len(records) == 2
        assert "Acct-Status-Type = Start" in records[0]
        assert "Acct-Status-Type = Stop" in records[1]
        assert f"Acct-Input-Octets = {received}" in records[1]
        assert "Class = 0x616c6963652d636c617373" in records[1]  # echoed from the Accept
    finally:
        radius_client.stop()
        acct_client.stop()
        bench.close()


def test_accounting_on_and_off(
    freeradius: FreeRadius, client: RadiusClient, tmp_path: Path
) -> None:
    before = len(freeradius.detail_records())
    accounting = RadiusAccounting(client, [server()], reactor, spool_dir=tmp_path)
    accounting.accounting_on()
    accounting.accounting_off()
    for _ in range(100):
        run(deferLater(reactor, 0.02, lambda: None))
        if accounting.pending() == 0:
            break
    records = freeradius.detail_records()[before:]
    assert ["Accounting-On" in records[0], "Accounting-Off" in records[1]] == [True, True]
