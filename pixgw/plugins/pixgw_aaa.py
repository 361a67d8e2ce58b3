"""The shipped AAA backends as plugins: ``local`` (username lines), ``radius`` (RFC 2865 client),
``ldap`` (ldaptor search-then-bind / NT hash)."""

from __future__ import annotations

from typing import Any

from twisted.logger import Logger
from twisted.plugin import IPlugin
from zope.interface import implementer

from pixgw.aaa.chain import CheckerChain
from pixgw.aaa.interfaces import BackendSettingsError, IAuthenticatorFactory
from pixgw.aaa.ldap import build_ldap_authenticator
from pixgw.aaa.local import LocalAuthenticator
from pixgw.aaa.radius import RadiusChecker, RadiusClient, servers_of
from pixgw.aaa.realm import PortalAuthenticator
from pixgw.config.model import AaaServerGroup, PixConfig

_log = Logger(namespace="pixgw.aaa")


@implementer(IPlugin, IAuthenticatorFactory)
class LocalBackend:
    protocol = "local"

    def build(self, config: PixConfig, group: AaaServerGroup | None, reactor: Any) -> Any:
        return LocalAuthenticator(config)


@implementer(IPlugin, IAuthenticatorFactory)
class RadiusBackend:
    protocol = "radius"

    def build(self, config: PixConfig, group: AaaServerGroup | None, reactor: Any) -> Any:
        if group is None or not group.hosts:
            raise BackendSettingsError(
                f"aaa-server {group.name if group else '?'}: radius needs a host line"
            )
        options = dict(group.options)
        signing = options.get("radius-message-authenticator", "required").lower()
        if signing not in ("required", "optional"):
            raise BackendSettingsError(
                f"aaa-server {group.name} radius-message-authenticator: 'required' or "
                f"'optional', not '{signing}'"
            )
        if signing == "optional":
            _log.warn(
                "aaa-server {group}: Access replies without a Message-Authenticator are taken "
                "(radius-message-authenticator optional): open to Blast-RADIUS (CVE-2024-3596)",
                group=group.name,
            )
        client = RadiusClient(reactor)
        servers = servers_of(
            group.hosts,
            int(options.get("radius-authport", config.aaa_ports.radius_authport)),
            int(options.get("radius-acctport", config.aaa_ports.radius_acctport)),
            int(options.get("radius-retries", "3")),
            max_failed_attempts=group.max_failed_attempts,
            deadtime_minutes=group.deadtime,
            require_message_authenticator=signing == "required",
        )
        nas_identifier = str(getattr(config, "hostname", "") or "")
        checkers = [RadiusChecker(client, s, group.name, nas_identifier) for s in servers]
        return PortalAuthenticator(group.name, CheckerChain(group.name, checkers))


@implementer(IPlugin, IAuthenticatorFactory)
class LdapBackend:
    protocol = "ldap"

    def build(self, config: PixConfig, group: AaaServerGroup | None, reactor: Any) -> Any:
        return build_ldap_authenticator(config, group, reactor)


local = LocalBackend()
radius = RadiusBackend()
ldap = LdapBackend()
