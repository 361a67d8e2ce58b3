"""Backends by twisted.plugin: the shipped ones, one dropped in OUTSIDE the package, and the
``build_authenticator`` / gateway adapter seam (DESIGN rule 6/7)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from twisted.cred.checkers import ICredentialsChecker
from twisted.internet.task import Clock
from zope.interface.verify import verifyObject

from pixgw.aaa.chain import CheckerChain, authenticator_factories, build_authenticator
from pixgw.aaa.interfaces import (
    AuthDecision,
    BackendSettingsError,
    ClientInfo,
    IAuthenticator,
    IAuthenticatorFactory,
)
from pixgw.aaa.local import LocalAuthenticator
from pixgw.aaa.realm import PortalAuthenticator
from pixgw.aaa_seam import CredAuthenticate, terminate_cause
from pixgw.config.parser import parse
from pixgw.ppp import mschap
from pixgw.ppp.auth import AuthenticationRequested

CONFIG = """nameif ethernet1 inside security100
aaa-server RAD protocol radius
aaa-server RAD (inside) host 127.0.0.1 secret timeout 2
aaa-server RAD (inside) host 127.0.0.2 secret timeout 2
aaa-server DIR protocol ldap
aaa-server DIR (inside) host 127.0.0.1 timeout 2
aaa-server DIR ldap-base-dn ou=people,dc=example,dc=org
username bob password cisco
"""


def test_shipped_backends_are_plugins() -> None:
    factories = authenticator_factories()
    assert {"local", "radius", "ldap"} <= set(factories)
    for factory in factories.values():
        assert verifyObject(IAuthenticatorFactory, factory)


def test_build_authenticator_by_group() -> None:
    config = parse(CONFIG).config
    local = build_authenticator(config, None, reactor=Clock())
    assert isinstance(local, LocalAuthenticator) and verifyObject(IAuthenticator, local)
    radius = build_authenticator(config, "RAD", reactor=Clock())
    assert isinstance(radius, PortalAuthenticator) and isinstance(radius.checker, CheckerChain)
    assert len(radius.checker.members) == 2 and verifyObject(IAuthenticator, radius)
    assert verifyObject(ICredentialsChecker, radius.checker.members[0])
    assert radius.checker.members[0].server.auth_port == 1645  # the PIX default
    ldap = build_authenticator(config, "DIR", reactor=Clock())
    assert verifyObject(IAuthenticator, ldap)
    with pytest.raises(BackendSettingsError, match="no aaa-server group NOPE"):
        build_authenticator(config, "NOPE", reactor=Clock())


def test_unknown_protocol_names_the_known_ones() -> None:
    config = parse("aaa-server X protocol kerberos\n").config
    with pytest.raises(BackendSettingsError, match="no backend for protocol kerberos"):
        build_authenticator(config, "X", reactor=Clock())


PLUGIN = """
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import fail, succeed
from twisted.plugin import IPlugin
from zope.interface import implementer

from pixgw.aaa.interfaces import Authorization, IAuthenticator, IAuthenticatorFactory


@implementer(IAuthenticator)
class Greeter:
    def __init__(self, name, greeting):
        self.name = name
        self.greeting = greeting

    def authenticate(self, credentials, client):
        if credentials.check_password(self.greeting):
            return succeed(Authorization(credentials.username, reply_message=self.greeting))
        return fail(UnauthorizedLogin("not greeted"))


@implementer(IPlugin, IAuthenticatorFactory)
class GreeterBackend:
    protocol = "greeter"

    def build(self, config, group, reactor):
        return Greeter(group.name, dict(group.options)["greeter-word"])


greeter = GreeterBackend()
"""

SCRIPT = """
from twisted.internet.task import Clock
from pixgw.aaa.chain import build_authenticator
from pixgw.aaa.credentials import PapCredentials
from pixgw.aaa.interfaces import ClientInfo
from pixgw.config.parser import parse

text = "aaa-server HELLO protocol greeter\\naaa-server HELLO greeter-word open sesame\\n"
config = parse(text).config
auth = build_authenticator(config, "HELLO", reactor=Clock())
out = []
auth.authenticate(PapCredentials("ali", "open sesame"), ClientInfo()).addBoth(out.append)
auth.authenticate(PapCredentials("ali", "wrong"), ClientInfo()).addBoth(out.append)
print(type(auth).__module__, out[0].reply_message, type(out[1].value).__name__)
"""


def test_plugin_outside_the_package_adds_a_backend(tmp_path: Path) -> None:
    plugins = tmp_path / "pixgw" / "plugins"
    plugins.mkdir(parents=True)
    (plugins / "greeter_backend.py").write_text(textwrap.dedent(PLUGIN))
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=f"{root}{os.pathsep}{tmp_path}")
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "pixgw.plugins.greeter_backend",
        "open",
        "sesame",
        "UnauthorizedLogin",
    ]


def test_gateway_adapter_local_mschapv2() -> None:
    config = parse(CONFIG).config
    seam = CredAuthenticate(build_authenticator(config, None, reactor=Clock()))
    ac, pc = bytes(range(16)), bytes(range(16, 32))
    nt = mschap.generate_nt_response(ac, pc, "bob", mschap.nt_password_hash("cisco"))
    request = AuthenticationRequested(
        "mschapv2",
        "bob",
        3,
        challenge=ac,
        peer_challenge=pc,
        nt_response=nt,
        response=pc + bytes(8) + nt + b"\0",
    )
    client = ClientInfo(
        outer_address=__import__("ipaddress").IPv4Address("203.0.113.9"),
        outer_port=4500,
        interface_id=1,
        tunnel_id=5,
        session_id=6,
        remote_host_name="client",
        local_address=None,
    )
    out: list[AuthDecision] = []
    seam(request, client).addCallback(out.append)
    assert out[0].accepted and out[0].mschapv2_authenticator_response is not None
    assert out[0].mschapv2_authenticator_response.startswith("S=")
    bad = AuthenticationRequested("pap", "bob", 1, password="nope")
    seam(bad, client).addCallback(out.append)
    assert not out[1].accepted


def test_terminate_causes() -> None:
    assert terminate_cause("idle timeout") == "idle-timeout"
    assert terminate_cause("Terminate-Request from peer") == "user-request"
    assert terminate_cause("clear vpdn") == "admin-reset"
    assert terminate_cause("LCP echo timeout") == "lost-carrier"
