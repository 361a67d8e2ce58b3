"""RADIUS client against a scripted in-process RADIUS peer over real loopback UDP; timers on
task.Clock (retransmits, failover, spool retry). RFC 2865 §3/§5, RFC 3579 §3.2, RFC 2548, RFC 2866.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from twisted.cred.error import UnauthorizedLogin
from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.task import Clock, deferLater
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import TestCase

from pixgw.aaa.accounting import RadiusAccounting
from pixgw.aaa.chain import CheckerChain
from pixgw.aaa.credentials import ChapMd5Credentials, MsChapV2Credentials, PapCredentials
from pixgw.aaa.interfaces import (
    AccountingSession,
    AuthenticationServerUnreachable,
    Authorization,
    ClientInfo,
    SessionUsage,
)
from pixgw.aaa.radius import (
    RadiusChecker,
    RadiusClient,
    RadiusServer,
    decode_attributes,
    encode_attributes,
    load_dictionary,
)
from pixgw.aaa.realm import PortalAuthenticator
from pixgw.aaa.snapshot import aaa_status
from pixgw.cli.aaa import render_aaa_server
from pixgw.config.parser import parse
from pixgw.ppp import mschap

real_reactor: Any = _reactor
SECRET = b"testing123"
DICT = load_dictionary()
CLIENT = ClientInfo(
    outer_address=IPv4Address("203.0.113.5"),
    interface_id=3,
    local_address=IPv4Address("198.51.100.1"),
)


def salt_encrypt(key: bytes, request_authenticator: bytes, salt: bytes) -> bytes:
    plain = bytes([len(key)]) + key
    plain += bytes(-len(plain) % 16)
    out, previous = b"", request_authenticator + salt
    for i in range(0, len(plain), 16):
        pad = hashlib.md5(SECRET + previous).digest()
        block = bytes(a ^ b for a, b in zip(plain[i : i + 16], pad, strict=True))
        out, previous = out + block, block
    return salt + out


class ScriptedRadiusPeer(DatagramProtocol):
    """Answers with ``script(code, attributes, raw)`` -> (code, attributes) or None (silence)."""

    def __init__(
        self, script: Callable[[int, dict[str, list[Any]], bytes], Any], with_ma: bool = True
    ) -> None:
        self.script = script
        self.with_ma = with_ma
        self.requests: list[tuple[int, dict[str, list[Any]], bytes]] = []

    def datagramReceived(self, data: bytes, addr: tuple[str, int]) -> None:
        code, ident = data[0], data[1]
        # the request's Message-Authenticator must be right (RFC 3579 §3.2)
        assert data[20:22] == b"\x50\x12"
        seed = data[4:20] if code == 1 else bytes(16)
        zeroed = data[:4] + seed + data[20:22] + bytes(16) + data[38:]
        assert hmac.compare_digest(hmac.new(SECRET, zeroed, hashlib.md5).digest(), data[22:38])
        attrs = decode_attributes(DICT, code, data[20:])
        self.requests.append((code, attrs, data))
        answer = self.script(code, attrs, data)
        if answer is None:
            return
        reply_code, reply_attrs = answer
        body = encode_attributes(DICT, reply_attrs)
        if self.with_ma:
            body = b"\x50\x12" + bytes(16) + body
        header = struct.pack("!BBH", reply_code, ident, 20 + len(body))
        if self.with_ma:
            ma = hmac.new(SECRET, header + data[4:20] + body, hashlib.md5).digest()
            body = body[:2] + ma + body[18:]
        auth = hashlib.md5(header + data[4:20] + body + SECRET).digest()
        assert self.transport is not None
        self.transport.write(header + auth + body, addr)


class MixedReactor:
    """Real UDP, fake time."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def listenUDP(self, port: int, protocol: Any, interface: str = "") -> Any:
        return real_reactor.listenUDP(port, protocol, interface="127.0.0.1")

    def callLater(self, delay: float, f: Any, *a: Any, **kw: Any) -> Any:
        return self.clock.callLater(delay, f, *a, **kw)

    def seconds(self) -> float:
        return self.clock.seconds()


class RadiusClientTests(TestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.client = RadiusClient(MixedReactor(self.clock))
        self.client.start()
        self.addCleanup(self.client.stop)

    def peer(self, script: Any, with_ma: bool = True) -> tuple[ScriptedRadiusPeer, RadiusServer]:
        peer = ScriptedRadiusPeer(script, with_ma)
        port = real_reactor.listenUDP(0, peer, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        n = port.getHost().port
        return peer, RadiusServer(IPv4Address("127.0.0.1"), SECRET, n, n, timeout=5, retries=2)

    def dead_server(self) -> RadiusServer:
        return self.peer(lambda *a: None)[1]

    async def settle(self, d: Deferred[Any], rounds: int = 50) -> list[Any]:
        out: list[Any] = []
        d.addBoth(out.append)
        for _ in range(rounds):
            if out:
                break
            await deferLater(real_reactor, 0.01, lambda: None)
        return out

    async def test_pap_accept_applies_attributes(self) -> None:
        def script(code: int, attrs: dict[str, list[Any]], raw: bytes) -> Any:
            return 2, [
                ("Framed-IP-Address", "10.1.1.7"),
                ("Session-Timeout", 3600),
                ("Idle-Timeout", 600),
                ("Class", b"cls-1"),
                ("MS-Primary-DNS-Server", "10.0.0.53"),
                ("Acct-Interim-Interval", 300),
            ]

        peer, server = self.peer(script)
        auth = PortalAuthenticator(
            "RADIUS", RadiusChecker(self.client, server, nas_identifier="pix")
        )
        (result,) = await self.settle(
            auth.authenticate(PapCredentials("nemo", "arctangent"), CLIENT)
        )
        assert isinstance(result, Authorization), result
        assert result.address == IPv4Address("10.1.1.7")
        assert result.session_timeout == 3600 and result.idle_timeout == 600
        assert result.class_attribute == (b"cls-1",)
        assert result.dns == (IPv4Address("10.0.0.53"),)
        assert result.interim_interval == 300
        code, attrs, raw = peer.requests[0]
        assert code == 1
        assert attrs["User-Name"] == ["nemo"]
        assert attrs["User-Password"] != [b"arctangent"]  # hidden on the wire
        assert attrs["NAS-Port-Type"] == ["Virtual"]
        assert attrs["Service-Type"] == ["Framed-User"]
        assert attrs["Framed-Protocol"] == ["PPP"]
        assert attrs["Calling-Station-Id"] == ["203.0.113.5"]
        assert attrs["Called-Station-Id"] == ["198.51.100.1"]
        assert attrs["NAS-IP-Address"] == ["198.51.100.1"]
        assert attrs["Tunnel-Type"] == ["L2TP"]
        # the peer unhides the password with the secret
        hidden = attrs["User-Password"][0]
        pad = hashlib.md5(SECRET + raw[4:20]).digest()
        assert bytes(a ^ b for a, b in zip(hidden, pad, strict=True)).rstrip(b"\0") == b"arctangent"

    async def test_chap_attributes_and_reject_is_unauthorized(self) -> None:
        peer, server = self.peer(lambda *a: (3, [("Reply-Message", "go away")]))
        auth = PortalAuthenticator("RADIUS", RadiusChecker(self.client, server))
        creds = ChapMd5Credentials("bob", 9, b"c" * 16, b"r" * 16)
        (result,) = await self.settle(auth.authenticate(creds, CLIENT))
        assert result.check(UnauthorizedLogin)
        assert "go away" in str(result.value)
        attrs = peer.requests[0][1]
        assert attrs["CHAP-Password"] == [b"\x09" + b"r" * 16]
        assert attrs["CHAP-Challenge"] == [b"c" * 16]

    async def test_mschapv2_success_and_mppe_keys(self) -> None:
        nt_hash = mschap.nt_password_hash("clientPass")
        ac, pc = bytes(range(16)), bytes(range(16, 32))
        nt_response = mschap.generate_nt_response(ac, pc, "User", nt_hash)
        creds = MsChapV2Credentials("User", ac, pc, nt_response, identifier=5)
        s_string = creds.authenticator_response(nt_hash)
        send, recv = creds.mppe_keys(nt_hash)

        def script(code: int, attrs: dict[str, list[Any]], raw: bytes) -> Any:
            assert attrs["MS-CHAP2-Response"] == [b"\x05\x00" + pc + bytes(8) + nt_response]
            assert attrs["MS-CHAP-Challenge"] == [ac]
            return 2, [
                ("MS-CHAP2-Success", b"\x05" + s_string.encode()),
                ("MS-MPPE-Send-Key", salt_encrypt(send, raw[4:20], b"\x80\x07")),
                ("MS-MPPE-Recv-Key", salt_encrypt(recv, raw[4:20], b"\x80\x08")),
            ]

        _, server = self.peer(script)
        (result,) = await self.settle(
            PortalAuthenticator("RADIUS", RadiusChecker(self.client, server)).authenticate(
                creds, CLIENT
            )
        )
        assert isinstance(result, Authorization), result
        assert result.mschapv2_authenticator_response == s_string
        assert result.mppe_send_key == send and result.mppe_recv_key == recv
        assert "clientPass" not in repr(result) and send.hex() not in repr(result)

    async def test_reply_without_message_authenticator_is_dropped(self) -> None:
        peer, server = self.peer(lambda *a: (2, []), with_ma=False)
        d = PortalAuthenticator("RADIUS", RadiusChecker(self.client, server)).authenticate(
            PapCredentials("a", "b"), CLIENT
        )
        out = await self.settle(d, rounds=20)
        assert out == []  # the forged-looking Accept was not taken
        assert self.client.counters["127.0.0.1"].dropped == 1
        for _ in range(3):
            self.clock.advance(5)
            await self.settle(Deferred(), rounds=3)  # the retransmits are dropped too
        assert len(out) == 1
        assert out[0].check(AuthenticationServerUnreachable)
        assert len(peer.requests) == 3

    async def test_an_unsigning_server_is_named_once_loudly_and_may_be_let_off(self) -> None:
        """Issue 28: the drop is said once per server at the default level, naming the fix,
        and counted in show aaa-server; ``radius-message-authenticator optional`` lets a server
        that cannot sign through (its replies are still checked by the Response Authenticator)."""
        logged: list[dict[str, Any]] = []
        globalLogPublisher.addObserver(logged.append)
        self.addCleanup(globalLogPublisher.removeObserver, logged.append)
        peer, server = self.peer(lambda *a: (2, []), with_ma=False)
        for _ in range(2):  # two logins, three transmissions each
            d = PortalAuthenticator("RADIUS", RadiusChecker(self.client, server)).authenticate(
                PapCredentials("a", "b"), CLIENT
            )
            await self.settle(d, rounds=10)
            for _ in range(3):
                self.clock.advance(5)
                await self.settle(Deferred(), rounds=3)
        said = [e for e in logged if "Blast-RADIUS" in str(e.get("text", ""))]
        assert len(said) == 1 and "Message-Authenticator := 0x00" in said[0]["text"]
        counters = self.client.counters["127.0.0.1"]
        assert counters.unsigned == counters.dropped == len(peer.requests) == 6
        config = parse(
            "nameif ethernet0 outside security0\n"
            "aaa-server RAD protocol radius\n"
            "aaa-server RAD (outside) host 127.0.0.1 key timeout 5\n"
        ).config
        snapshot = aaa_status(
            config, [PortalAuthenticator("RAD", RadiusChecker(self.client, server, "RAD"))]
        )
        assert "Number of unsigned responses dropped    6" in render_aaa_server(snapshot)
        lenient = replace(server, require_message_authenticator=False)
        d = PortalAuthenticator("RADIUS", RadiusChecker(self.client, lenient)).authenticate(
            PapCredentials("a", "b"), CLIENT
        )
        (result,) = await self.settle(d, rounds=20)
        assert isinstance(result, Authorization)

    async def test_retransmits_keep_id_and_authenticator(self) -> None:
        answers: Iterator[Any] = iter([None, None, (2, [])])
        peer, server = self.peer(lambda *a: next(answers))
        d = PortalAuthenticator("RADIUS", RadiusChecker(self.client, server)).authenticate(
            PapCredentials("a", "b"), CLIENT
        )
        await self.settle(Deferred(), rounds=5)
        assert len(peer.requests) == 1
        self.clock.advance(5)
        await self.settle(Deferred(), rounds=5)
        self.clock.advance(5)
        (result,) = await self.settle(d)
        assert isinstance(result, Authorization)
        raws = [r[2] for r in peer.requests]
        assert len(raws) == 3 and raws[0] == raws[1] == raws[2]
        assert self.client.counters["127.0.0.1"].retransmits == 2

    async def test_chain_fails_over_to_second_server_but_not_after_a_reject(self) -> None:
        dead = self.dead_server()
        peer, live = self.peer(lambda *a: (2, []))
        chain = PortalAuthenticator(
            "RADIUS",
            CheckerChain(
                "RADIUS",
                [RadiusChecker(self.client, dead), RadiusChecker(self.client, live)],
            ),
        )
        d = chain.authenticate(PapCredentials("a", "b"), CLIENT)
        for _ in range(3):
            await self.settle(Deferred(), rounds=3)
            self.clock.advance(5)
        (result,) = await self.settle(d)
        assert isinstance(result, Authorization)
        assert len(peer.requests) == 1
        # a reject from the first server is final
        _, rejecting = self.peer(lambda *a: (3, []))
        peer2, accepting = self.peer(lambda *a: (2, []))
        chain = PortalAuthenticator(
            "RADIUS",
            CheckerChain(
                "RADIUS",
                [
                    RadiusChecker(self.client, rejecting),
                    RadiusChecker(self.client, accepting),
                ],
            ),
        )
        (result,) = await self.settle(chain.authenticate(PapCredentials("a", "b"), CLIENT))
        assert result.check(UnauthorizedLogin)
        assert peer2.requests == []

    async def test_accounting_spool_survives_outage_and_restart(self) -> None:
        up = {"on": False}
        peer, server = self.peer(lambda *a: (5, []) if up["on"] else None)
        spool = Path(tempfile.mkdtemp(prefix="pixgw-spool-"))
        self.addCleanup(shutil.rmtree, spool, True)
        accounting = RadiusAccounting(
            self.client, [server], self.client.reactor, spool_dir=spool, retry_interval=30
        )
        session = AccountingSession(
            "0001", "bob", CLIENT, IPv4Address("10.1.1.7"), (b"cls",), started_at=0.0
        )
        accounting.start(session)
        for _ in range(3):
            await self.settle(Deferred(), rounds=3)
            self.clock.advance(5)
        accounting.stop(session, SessionUsage(100.0, 5000, 7000, 50, 70), "user-request")
        assert accounting.pending() == 2
        lines = (spool / "radius-accounting.spool").read_text().splitlines()
        assert len(lines) == 2
        # "restart": a new accounting on the same spool picks both records up, in order
        accounting.shutdown()
        client2 = RadiusClient(MixedReactor(self.clock))
        self.addCleanup(client2.stop)
        up["on"] = True
        before = len(peer.requests)
        again = RadiusAccounting(client2, [server], client2.reactor, spool_dir=spool)
        self.clock.advance(0)
        for _ in range(20):
            await self.settle(Deferred(), rounds=2)
            if again.pending() == 0:
                break
        assert again.pending() == 0
        delivered = [r[1] for r in peer.requests[before:]]
        assert [d["Acct-Status-Type"] for d in delivered] == [["Start"], ["Stop"]]
        stop = delivered[1]
        assert stop["Acct-Input-Octets"] == [5000] and stop["Acct-Output-Octets"] == [7000]
        assert stop["Acct-Input-Packets"] == [50] and stop["Acct-Session-Time"] == [100]
        assert stop["Acct-Terminate-Cause"] == ["User-Request"]
        assert stop["Class"] == [b"cls"]
        assert stop["Acct-Delay-Time"][0] >= 0
        assert (spool / "radius-accounting.spool").read_text() == ""

    async def test_a_record_that_cannot_be_encoded_is_parked_and_the_rest_go_on(self) -> None:
        """Issue 28: a record no server can take (a User-Name over 253 bytes) used to raise
        inside the sender and wedge it for good; now it is parked, logged and counted, and the
        records behind it are delivered."""
        peer, server = self.peer(lambda *a: (5, []))
        spool = Path(tempfile.mkdtemp(prefix="pixgw-spool-"))
        self.addCleanup(shutil.rmtree, spool, True)
        accounting = RadiusAccounting(
            self.client, [server], self.client.reactor, spool_dir=spool, retry_interval=30
        )
        poison = AccountingSession("0001", "x" * 300, CLIENT, IPv4Address("10.1.1.6"), (), 0.0)
        good = AccountingSession("0002", "bob", CLIENT, IPv4Address("10.1.1.7"), (), 0.0)
        accounting.start(poison)  # at the head of the spool
        accounting.start(good)
        accounting.stop(good, SessionUsage(10.0, 1, 2, 3, 4), "user-request")
        for _ in range(20):
            await self.settle(Deferred(), rounds=2)
            if accounting.pending() == 0:
                break
        assert (accounting.pending(), accounting.parked()) == (0, 1)
        delivered = [r[1] for r in peer.requests]
        assert [(d["User-Name"], d["Acct-Status-Type"]) for d in delivered] == [
            (["bob"], ["Start"]), (["bob"], ["Stop"])]
        (line,) = (spool / "radius-accounting.dead").read_text().splitlines()
        dead = json.loads(line)
        assert "User-Name" in dead["why"] and dead["record"]["seq"] == 1
        assert (spool / "radius-accounting.spool").read_text() == ""
        assert self.client.unencodable == 1
        snapshot = aaa_status(parse("").config, [], accounting)
        assert "Accounting records parked (unsendable)  1" in render_aaa_server(snapshot)

    async def test_an_access_request_that_cannot_be_encoded_is_a_refusal(self) -> None:
        """Not an outage: the chain does not try the next server, nothing is sent."""
        peer, server = self.peer(lambda *a: (2, []))
        checkers = [RadiusChecker(self.client, server), RadiusChecker(self.client, server)]
        auth = PortalAuthenticator("RADIUS", CheckerChain("RADIUS", checkers))
        (result,) = await self.settle(auth.authenticate(PapCredentials("x" * 300, "pw"), CLIENT))
        assert result.check(UnauthorizedLogin)
        assert "cannot be encoded" in result.getErrorMessage()
        assert peer.requests == [] and self.client.unencodable == 1

    async def test_a_full_spool_parks_new_records_loudly(self) -> None:
        """Issue 28: the spool is bounded; past it a record is parked with the reason and
        counted, never dropped in silence."""
        _, dead = self.peer(lambda *a: None)
        spool = Path(tempfile.mkdtemp(prefix="pixgw-spool-"))
        self.addCleanup(shutil.rmtree, spool, True)
        accounting = RadiusAccounting(self.client, [dead], self.client.reactor, spool_dir=spool)
        self.addCleanup(accounting.shutdown)
        accounting.spool.MAX_RECORDS = 3
        for n in range(5):
            accounting.start(AccountingSession(f"{n:04}", "bob", CLIENT, None, (), 0.0))
        assert (accounting.pending(), accounting.parked(), accounting.spool_full) == (3, 2, 2)
        lines = (spool / "radius-accounting.dead").read_text().splitlines()
        assert [json.loads(line)["record"]["seq"] for line in lines] == [4, 5]
        assert all("spool full" in json.loads(line)["why"] for line in lines)
        snapshot = aaa_status(parse("").config, [], accounting)
        assert "Accounting records parked (unsendable)  2" in render_aaa_server(snapshot)

    async def test_accounting_honours_deadtime_and_says_failover_and_failback(self) -> None:
        """Issue 28: a primary in its deadtime is not waited on (every record used to wait its
        timeouts on it); the move to the second server and back is logged."""
        logged: list[dict[str, Any]] = []
        globalLogPublisher.addObserver(logged.append)
        self.addCleanup(globalLogPublisher.removeObserver, logged.append)
        up = {"on": False}
        primary_peer = ScriptedRadiusPeer(lambda *a: (5, []) if up["on"] else None, True)
        port = real_reactor.listenUDP(0, primary_peer, interface="127.0.0.2")
        self.addCleanup(port.stopListening)
        n = port.getHost().port
        primary = RadiusServer(IPv4Address("127.0.0.2"), SECRET, n, n, timeout=5, retries=0,
                               max_failed_attempts=1, deadtime=600)
        second_peer, second = self.peer(lambda *a: (5, []))
        accounting = RadiusAccounting(self.client, [primary, second], self.client.reactor)
        self.addCleanup(accounting.shutdown)

        async def record(session_id: str) -> None:
            accounting.start(AccountingSession(session_id, "bob", CLIENT, None, (), 0.0))
            for _ in range(10):
                await self.settle(Deferred(), rounds=2)
                if accounting.pending() == 0:
                    return
                self.clock.advance(5)

        await record("0001")  # the primary times out once: the second takes it
        assert (len(primary_peer.requests), len(second_peer.requests)) == (1, 1)
        await record("0002")  # the primary is in its deadtime: not tried, nothing waits
        assert (len(primary_peer.requests), len(second_peer.requests)) == (1, 2)
        up["on"] = True
        self.clock.advance(601)
        await record("0003")  # out of its deadtime, answering again: back on it
        assert (len(primary_peer.requests), len(second_peer.requests)) == (2, 2)
        texts = [str(e.get("text", "")) for e in logged]
        assert "RADIUS accounting failed over to 127.0.0.1 (was 127.0.0.2)" in texts
        assert "RADIUS accounting back on 127.0.0.2 (was 127.0.0.1)" in texts

    async def test_deadtime_after_max_failed_attempts(self) -> None:
        _, dead = self.peer(lambda *a: None)
        dead = RadiusServer(
            dead.address,
            SECRET,
            dead.auth_port,
            dead.acct_port,
            timeout=5,
            retries=0,
            max_failed_attempts=2,
            deadtime=600,
        )
        auth = PortalAuthenticator("RADIUS", RadiusChecker(self.client, dead))
        for _ in range(2):
            out: list[Any] = []
            auth.authenticate(PapCredentials("a", "b"), CLIENT).addBoth(out.append)
            await self.settle(Deferred(), rounds=2)
            self.clock.advance(5)
            assert out[0].check(AuthenticationServerUnreachable)
        sent = self.client.counters["127.0.0.1"].requests
        out = []
        auth.authenticate(PapCredentials("a", "b"), CLIENT).addBoth(out.append)
        assert "deadtime" in str(out[0].value)  # skipped at once, nothing sent
        assert self.client.counters["127.0.0.1"].requests == sent
        self.clock.advance(601)
        out = []
        auth.authenticate(PapCredentials("a", "b"), CLIENT).addBoth(out.append)
        assert out == [] and self.client.counters["127.0.0.1"].requests == sent + 1
        self.clock.advance(5)
