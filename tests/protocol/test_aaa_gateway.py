"""The AAA seam in the gateway, back to back: a testing LAC + MS-CHAPv2 PPP peer authenticate
through ``CredAuthenticate(build_authenticator(...))`` (twisted.cred, local users) and the
session is accounted through ``CredAccounting`` (Start, then Stop with the PPP octet counts)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from ipaddress import IPv4Address
from typing import Any

from twisted.internet.defer import Deferred

from pixgw.aaa.chain import build_authenticator
from pixgw.aaa.interfaces import AuthDecision, Authorization
from pixgw.aaa.memory import MemoryAccounting
from pixgw.aaa.radius import client_attributes
from pixgw.aaa_seam import CredAccounting, CredAuthenticate
from pixgw.config.parser import parse
from tests.protocol.test_gateway import CONFIG, Bench, check_locally


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
        # the NAS facts AAA was given at authentication (NAS-IP-Address, NAS-Port) come again
        assert start.session.client == active.client
        assert start.session.client.nas_address is not None
        attrs = dict(client_attributes(start.session.client))
        assert attrs["NAS-IP-Address"] == str(start.session.client.nas_address)
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


def _granting(**limits: int) -> Any:
    """check_locally, with AAA's Session-Timeout / Idle-Timeout on every accept."""

    def authenticate(request: Any, client: Any) -> Deferred[AuthDecision]:
        d = check_locally(request, client)
        return d.addCallback(lambda decision: replace(decision, **limits)
                             if decision.accepted else decision)

    return authenticate


@contextlib.contextmanager
def accounted(
    config: str = CONFIG, authenticate: Any = None
) -> Iterator[tuple[Bench, MemoryAccounting]]:
    """A gateway bench whose accounting records are kept in memory (and its AAA, if given)."""
    bench = Bench(config)
    try:
        memory = MemoryAccounting()
        bench.gateway.accounting = CredAccounting(memory, bench.clock)
        if authenticate is not None:
            bench.gateway.authenticate = authenticate
        yield bench, memory
    finally:
        bench.close()


def _stop_cause(memory: MemoryAccounting) -> str:
    (stop,) = [r for r in memory.records if r.status == "Stop"]
    return stop.cause


def test_session_timeout_ends_the_session_with_its_cause() -> None:
    """Issue 28: RFC 2865 §5.27 Session-Timeout is enforced, and accounted as such."""
    with accounted(CONFIG, _granting(session_timeout=30)) as (bench, memory):
        alice = bench.client(1)
        alice.connect()
        assert alice.ppp.up
        bench.clock.advance(29)
        bench.settle()
        assert bench.gateway.sessions
        bench.clock.advance(2)
        bench.settle()
        assert not bench.gateway.sessions
        assert _stop_cause(memory) == "session-timeout"  # RFC 2866 §5.10


def test_idle_timeout_ends_only_an_idle_session() -> None:
    """RFC 2865 §5.28 Idle-Timeout: traffic either way keeps the link; silence ends it."""
    with accounted(CONFIG, _granting(idle_timeout=60)) as (bench, memory):
        alice = bench.client(1)
        alice.connect()
        packet = bytes.fromhex("4500001c000000004001") + bytes(2) + bytes([198, 51, 100, 10])
        packet += bytes([203, 0, 113, 9]) + bytes(8)
        for _ in range(3):  # busy for 150 s: the link stays
            bench.clock.advance(50)
            alice.ppp.send_ip(packet)
            bench.settle()
        assert bench.gateway.sessions
        bench.clock.advance(61)  # then idle past the limit
        bench.settle()
        assert not bench.gateway.sessions
        assert _stop_cause(memory) == "idle-timeout"


GROUP_LIMITS = CONFIG + """\
vpdn group g vpn-idle-timeout 2
vpdn group g vpn-session-timeout 10
timeout uauth 0:00:05 absolute
"""
PING = (bytes.fromhex("4500001c000000004001") + bytes(2) + bytes([198, 51, 100, 10])
        + bytes([203, 0, 113, 9]) + bytes(8))


def test_group_idle_timeout_ends_an_idle_link_and_shows_what_is_left() -> None:
    """Issue 28: ``vpdn group G vpn-idle-timeout MIN`` (extension) when AAA gives no
    Idle-Timeout; show uauth and show vpdn session say what is left; ``timeout uauth`` (the
    PIX's cut-through cache) does not cut a VPDN link."""
    from pixgw.cli.ppp import render_uauth
    from pixgw.cli.vpdn import render_vpdn_session

    with accounted(GROUP_LIMITS) as (bench, memory):
        alice = bench.client(1)
        alice.connect()
        assert alice.ppp.up
        bench.clock.advance(90)  # past timeout uauth (5 s): the link stays
        alice.ppp.send_ip(PING)
        bench.settle()
        assert bench.gateway.sessions
        uauth = render_uauth(bench.view.uauth_status())
        assert "   absolute   timeout: 0:08:30" in uauth.splitlines()  # 600 - 90 s (session)
        assert "   inactivity timeout: 0:02:00" in uauth.splitlines()  # just active
        (call,) = bench.view.l2tp_session_status()
        assert (call.session_time_left, call.idle_time_left) == (510, 120)
        assert "    Link session timeout 0:08:30 left, idle timeout 0:02:00 left" in (
            render_vpdn_session([call]).splitlines())
        bench.clock.advance(119)
        bench.settle()
        assert bench.gateway.sessions
        bench.clock.advance(2)  # 121 s without a packet
        bench.settle()
        assert not bench.gateway.sessions
        assert _stop_cause(memory) == "idle-timeout"


def test_group_session_timeout_and_aaa_over_the_group() -> None:
    """AAA's Session-Timeout / Idle-Timeout for the user win over the group's."""
    granting = _granting(session_timeout=30, idle_timeout=3600)
    with accounted(GROUP_LIMITS, granting) as (bench, memory):
        alice = bench.client(1)
        alice.connect()
        (active,) = bench.gateway.sessions.values()
        assert bench.gateway.links.time_left(active) == (30, 3600)
        bench.clock.advance(31)
        bench.settle()
        assert not bench.gateway.sessions
        assert _stop_cause(memory) == "session-timeout"
    with accounted(GROUP_LIMITS) as (bench, memory):
        alice = bench.client(1)
        alice.connect()
        for _ in range(6):  # busy: the group's 10 minutes end it all the same
            bench.clock.advance(100)
            alice.ppp.send_ip(PING)
            bench.settle()
        bench.clock.advance(1)
        bench.settle()
        assert not bench.gateway.sessions
        assert _stop_cause(memory) == "session-timeout"
