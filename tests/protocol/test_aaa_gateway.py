"""The AAA seam in the gateway, back to back: a testing LAC + MS-CHAPv2 PPP peer authenticate
through ``CredAuthenticate(build_authenticator(...))`` (twisted.cred, local users) and the
session is accounted through ``CredAccounting`` (Start, then Stop with the PPP octet counts)."""

from __future__ import annotations

from ipaddress import IPv4Address

from pixgw.aaa.chain import build_authenticator
from pixgw.aaa.interfaces import Authorization
from pixgw.aaa.memory import MemoryAccounting
from pixgw.aaa_seam import CredAccounting, CredAuthenticate
from pixgw.config.parser import parse
from tests.protocol.test_gateway import CONFIG, Bench


def wire(bench: Bench) -> MemoryAccounting:
    config = parse(CONFIG).config
    bench.gateway.authenticate = CredAuthenticate(
        build_authenticator(config, None, reactor=bench.clock)
    )
    memory = MemoryAccounting()
    bench.gateway.accounting = CredAccounting(memory, bench.clock)
    return memory


def test_mschapv2_through_twisted_cred_and_accounting() -> None:
    bench = Bench()
    try:
        memory = wire(bench)
        alice = bench.client(1)
        alice.connect()
        assert alice.ppp.up
        assert alice.ppp.authenticator_verified is True  # the S= from the cred checker
        (active,) = bench.gateway.sessions.values()
        assert active.authorized is not None
        authorization = active.authorized.attributes
        assert isinstance(authorization, Authorization)
        assert authorization.server == "LOCAL"
        assert authorization.mppe_send_key is not None  # MPPE keys for the PPP layer
        packet = bytes.fromhex("4500001c000000004001") + bytes(2) + bytes([198, 51, 100, 10])
        packet += bytes([203, 0, 113, 9]) + bytes(8)
        alice.ppp.send_ip(packet)
        bench.settle()
        alice.lac.stop(bench.clock.seconds())
        bench.settle()
        kinds = [r.status for r in memory.records]
        assert kinds == ["Start", "Stop"]
        start, stop = memory.records
        assert start.session is not None and start.session.username == "alice"
        assert start.session.address == IPv4Address("198.51.100.10")
        assert stop.usage is not None and stop.usage.input_octets > len(packet)
    finally:
        bench.close()


def test_wrong_password_refused_through_the_seam() -> None:
    bench = Bench()
    try:
        memory = wire(bench)
        mallory = bench.client(1, "alice", "wrong")
        mallory.connect()
        assert not mallory.ppp.up
        assert mallory.ppp.auth_result == "failure"
        assert memory.records == []
        assert any("113005" in line for line in bench.lines)
    finally:
        bench.close()
