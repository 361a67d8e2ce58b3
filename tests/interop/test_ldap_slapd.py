"""pixgw's LDAP backend against a real OpenLDAP slapd on 127.0.0.1 (RFC 4511/4513/4515): PAP by
search-then-bind, MS-CHAPv2 from sambaNTPassword over a service bind, group condition, StartTLS
and ldaps with the test CA, a filter-hostile user name, an unreachable server."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Address
from typing import Any

import pytest
from twisted.cred.error import UnauthorizedLogin
from twisted.internet import reactor
from twisted.internet.defer import Deferred

from pixgw.aaa.credentials import MsChapV2Credentials, PapCredentials
from pixgw.aaa.interfaces import AuthenticationServerUnreachable, Authorization, ClientInfo
from pixgw.aaa.ldap import LdapChecker, LdapSettings, escape_filter_value
from pixgw.aaa.realm import PortalAuthenticator
from pixgw.ppp import mschap
from tests import runid
from tests.interop.servers import (
    LDAP_ADMIN,
    LDAP_ADMIN_PASSWORD,
    LDAP_BASE,
    SLAPD,
    SLAPD_PORT,
    SLAPDS_PORT,
    Slapd,
    missing,
)

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(missing(SLAPD) is not None, reason=str(missing(SLAPD))),
]
# Time bound (120 s): slapd start: a few seconds.
pytestmark.append(pytest.mark.timeout(120))


@pytest.fixture(scope="module")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    server = Slapd(tmp_path_factory.mktemp("slapd"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def run(d: Deferred[Any], seconds: float = 20.0) -> Any:
    out: list[Any] = []
    d.addBoth(out.append)
    deadline = reactor.seconds() + seconds
    while not out and reactor.seconds() < deadline:
        reactor.runUntilCurrent()  # type: ignore[attr-defined]
        reactor.doIteration(0.01)  # type: ignore[attr-defined]
    assert out, "no answer in time"
    return out[0]


def settings(**kw: Any) -> LdapSettings:
    base: dict[str, Any] = {
        "host": "127.0.0.1",
        "base_dn": f"ou=people,{LDAP_BASE}",
        "port": SLAPD_PORT,
    }
    base.update(kw)
    return LdapSettings(**base)


def login(s: LdapSettings, creds: Any) -> Any:
    return run(
        PortalAuthenticator("LDAP", LdapChecker(s, reactor)).authenticate(creds, ClientInfo())
    )


def test_pap_search_then_bind(slapd: Slapd) -> None:
    ok = login(settings(), PapCredentials("alice", "alice-pw"))
    assert isinstance(ok, Authorization), ok
    assert ok.username == "alice" and ok.server == "LDAP 127.0.0.1"
    for creds in (PapCredentials("alice", "wrong"), PapCredentials("mallory", "x")):
        refused = login(settings(), creds)
        assert not isinstance(refused, Authorization)
        assert refused.check(UnauthorizedLogin)


def test_user_name_is_never_filter_text(slapd: Slapd) -> None:
    # "*" would match every entry as filter text; here it is a literal value
    refused = login(settings(), PapCredentials("*", "alice-pw"))
    assert refused.check(UnauthorizedLogin) and "unknown user" in str(refused.value)
    refused = login(settings(), PapCredentials("al*", "alice-pw"))
    assert refused.check(UnauthorizedLogin)
    assert isinstance(login(settings(), PapCredentials("st*r", "star-pw")), Authorization)
    assert escape_filter_value("a*(b)\\") == "a\\2a\\28b\\29\\5c"


def mschapv2(user: str, password: str) -> tuple[MsChapV2Credentials, bytes]:
    nt_hash = mschap.nt_password_hash(password)
    ac, pc = bytes(range(16)), bytes(range(50, 66))
    nt = mschap.generate_nt_response(ac, pc, user, nt_hash)
    return MsChapV2Credentials(user, ac, pc, nt), nt_hash


def test_mschapv2_from_sambantpassword_over_service_bind(slapd: Slapd) -> None:
    service = settings(login_dn=LDAP_ADMIN, login_password=LDAP_ADMIN_PASSWORD)
    creds, nt_hash = mschapv2("bob", "bob-pw")
    ok = login(service, creds)
    assert isinstance(ok, Authorization), ok
    assert ok.mschapv2_authenticator_response == creds.authenticator_response(nt_hash)
    assert (ok.mppe_send_key, ok.mppe_recv_key) == creds.mppe_keys(nt_hash)
    wrong, _ = mschapv2("bob", "not-bob-pw")
    assert login(service, wrong).check(UnauthorizedLogin)
    # anonymously the hash is not readable: the refusal names the attribute
    refused = login(settings(), creds)
    assert refused.check(UnauthorizedLogin) and "sambaNTPassword" in str(refused.value)


def test_group_membership_condition(slapd: Slapd) -> None:
    grouped = settings(group_dn=f"cn=vpnusers,ou=groups,{LDAP_BASE}")
    assert isinstance(login(grouped, PapCredentials("alice", "alice-pw")), Authorization)
    refused = login(grouped, PapCredentials("bob", "bob-pw"))
    assert refused.check(UnauthorizedLogin) and "group" in str(refused.value)


def test_starttls_and_ldaps(slapd: Slapd) -> None:
    starttls = settings(tls="starttls", ca_file=str(slapd.ca_file))
    assert isinstance(login(starttls, PapCredentials("alice", "alice-pw")), Authorization)
    ldaps = settings(tls="ldaps", port=SLAPDS_PORT, ca_file=str(slapd.ca_file))
    assert isinstance(login(ldaps, PapCredentials("alice", "alice-pw")), Authorization)
    # without the test CA the server certificate is not trusted: treated as unreachable
    untrusted = settings(tls="ldaps", port=SLAPDS_PORT)
    assert not isinstance(login(untrusted, PapCredentials("alice", "alice-pw")), Authorization)


def test_unreachable_server() -> None:
    down = settings(port=runid.port(23899), timeout=2.0)
    refused = login(down, PapCredentials("alice", "alice-pw"))
    assert refused.check(AuthenticationServerUnreachable)


def test_ldap_group_from_the_config(slapd: Slapd) -> None:
    """``aaa-server DIR protocol ldap`` and its ``ldap-*`` lines, through the plugin."""
    from pixgw.aaa.chain import build_authenticator
    from pixgw.config.parser import parse

    config = parse(
        "nameif ethernet1 inside security100\n"
        "aaa-server DIR protocol ldap\n"
        "aaa-server DIR (inside) host 127.0.0.1 timeout 3\n"
        f"aaa-server DIR ldap-base-dn ou=people,{LDAP_BASE}\n"
        f"aaa-server DIR ldap-port {SLAPD_PORT}\n"
        f"aaa-server DIR ldap-login-dn {LDAP_ADMIN}\n"
        f"aaa-server DIR ldap-login-password {LDAP_ADMIN_PASSWORD}\n"
        f"aaa-server DIR ldap-group-dn cn=vpnusers,ou=groups,{LDAP_BASE}\n"
        "aaa-server DIR ldap-tls starttls\n"
        f"aaa-server DIR ldap-ca-file {slapd.ca_file}\n"
    ).config
    auth = build_authenticator(config, "DIR", reactor=reactor)
    creds, nt_hash = mschapv2("alice", "alice-pw")
    ok = run(auth.authenticate(creds, ClientInfo()))
    assert isinstance(ok, Authorization), ok
    assert ok.mschapv2_authenticator_response == creds.authenticator_response(nt_hash)
    bob, _ = mschapv2("bob", "bob-pw")
    assert run(auth.authenticate(bob, ClientInfo())).check(UnauthorizedLogin)  # not in group


class _RealTcpFakeTime:
    def __init__(self, clock: Any) -> None:
        self.clock = clock

    def connectTCP(self, *a: Any, **kw: Any) -> Any:
        return reactor.connectTCP(*a, **kw)

    def callLater(self, delay: float, f: Any, *a: Any, **kw: Any) -> Any:
        return self.clock.callLater(delay, f, *a, **kw)

    def seconds(self) -> float:
        return float(self.clock.seconds())


def test_ppp_mschapv2_peer_through_gateway_to_slapd(slapd: Slapd) -> None:
    """The testing PPP peer (MS-CHAPv2, verifies S=) through the gateway's AAA seam to slapd."""
    from twisted.internet.task import deferLater

    from pixgw.aaa_seam import CredAuthenticate
    from tests.protocol.test_gateway import Bench

    bench = Bench()
    try:
        service = settings(login_dn=LDAP_ADMIN, login_password=LDAP_ADMIN_PASSWORD)
        bench.gateway.authenticate = CredAuthenticate(
            PortalAuthenticator("DIR", LdapChecker(service, _RealTcpFakeTime(bench.clock), "DIR"))
        )
        bob = bench.client(1, "bob", "bob-pw")
        bob.connect()
        for _ in range(100):
            run(deferLater(reactor, 0.02, lambda: None))
            bench.settle()
            if bob.ppp.up:
                break
        assert bob.ppp.up
        assert bob.ppp.authenticator_verified is True
        assert bob.ppp.address == IPv4Address("198.51.100.10")  # from the vpdn group's pool
    finally:
        bench.close()
