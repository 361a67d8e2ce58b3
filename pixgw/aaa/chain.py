"""``aaa-server`` groups as authenticators (DESIGN rule 7): backends found by ``twisted.plugin``
under :mod:`pixgw.plugins`, keyed by ``aaa-server GROUP protocol NAME``; a chain that falls
through to the next server or backend only when one is unreachable (a reject is final).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from twisted.cred.checkers import ICredentialsChecker
from twisted.internet.defer import Deferred, fail
from twisted.plugin import getPlugins
from twisted.python.failure import Failure
from zope.interface import implementer

import pixgw.plugins
from pixgw.aaa.accounting import RadiusAccounting
from pixgw.aaa.interfaces import (
    AuthenticationServerUnreachable,
    BackendSettingsError,
    IAccounting,
    IAuthenticator,
    IAuthenticatorFactory,
)
from pixgw.aaa.radius import RadiusClient, servers_of
from pixgw.config.model import PixConfig

__all__ = [
    "CheckerChain",
    "authenticator_factories",
    "build_accounting",
    "build_authenticator",
    "group_for_vpdn",
]


@implementer(ICredentialsChecker)
class CheckerChain:
    """A group's servers as one twisted.cred checker: tries its members in order, moving on only
    when one is unreachable (AuthenticationServerUnreachable); a refusal is final."""

    def __init__(self, name: str, members: Sequence[Any]) -> None:
        self.name = name
        self.members = list(members)
        self.credentialInterfaces = tuple(
            dict.fromkeys(i for m in self.members for i in m.credentialInterfaces)
        )

    def requestAvatarId(self, credentials: Any) -> Deferred[Any]:
        return self._try(0, credentials)

    def _try(self, index: int, credentials: Any) -> Deferred[Any]:
        if index >= len(self.members):
            return fail(AuthenticationServerUnreachable(f"{self.name}: no server answered"))
        d: Deferred[Any] = self.members[index].requestAvatarId(credentials)

        def unreachable(failure: Failure) -> Deferred[Any]:
            if not isinstance(failure.value, AuthenticationServerUnreachable):
                return fail(failure)
            return self._try(index + 1, credentials)

        d.addErrback(unreachable)
        return d


def authenticator_factories() -> dict[str, Any]:
    """protocol keyword -> factory, from every plugin module under :mod:`pixgw.plugins` (on
    every ``pixgw/plugins`` directory of sys.path)."""
    found: dict[str, Any] = {}
    for factory in getPlugins(IAuthenticatorFactory, pixgw.plugins):
        found.setdefault(str(factory.protocol).lower(), factory)
    return found


def build_authenticator(config: PixConfig, group: str | None, *, reactor: Any) -> Any:
    """The IAuthenticator for ``client authentication aaa GROUP`` (``None`` or ``LOCAL``: the
    ``username`` / ``vpdn username`` lines). Raises BackendSettingsError with a clear message."""
    factories = authenticator_factories()
    if group is None or group.upper() == "LOCAL":
        return factories["local"].build(config, None, reactor)
    server_group = config.aaa_server(group)
    if server_group is None:
        raise BackendSettingsError(f"no aaa-server group {group}")
    factory = factories.get(server_group.protocol.lower())
    if factory is None:
        raise BackendSettingsError(
            f"aaa-server {group}: no backend for protocol {server_group.protocol}"
            f" (have: {', '.join(sorted(factories))})"
        )
    authenticator = factory.build(config, server_group, reactor)
    if not IAuthenticator.providedBy(authenticator):
        raise BackendSettingsError(f"backend {server_group.protocol} built no IAuthenticator")
    return authenticator


def build_accounting(
    config: PixConfig, group: str, *, reactor: Any, spool_dir: str | Path | None = None
) -> Any:
    """The IAccounting for ``client accounting GROUP`` (RADIUS groups only)."""
    server_group = config.aaa_server(group)
    if server_group is None or server_group.protocol.lower() != "radius":
        raise BackendSettingsError(f"client accounting {group}: not a radius aaa-server group")
    options = dict(server_group.options)
    client = RadiusClient(reactor)
    servers = servers_of(
        server_group.hosts,
        config.aaa_ports.radius_authport,
        config.aaa_ports.radius_acctport,
        int(options.get("radius-retries", "3")),
        max_failed_attempts=server_group.max_failed_attempts,
        deadtime_minutes=server_group.deadtime,
    )
    accounting = RadiusAccounting(
        client,
        servers,
        reactor,
        spool_dir=spool_dir or options.get("radius-accounting-spool"),
        nas_identifier=config.hostname,
        retry_interval=float(options.get("radius-accounting-retry", "30")),
    )
    assert IAccounting.providedBy(accounting)
    return accounting


def group_for_vpdn(config: PixConfig, vpdn_group: str) -> str | None:
    """``client authentication aaa GROUP`` of a vpdn group, None for local."""
    g = config.vpdn.group(vpdn_group)
    return g.authentication_aaa if g is not None else None
