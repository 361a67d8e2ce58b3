"""LDAP backend on ldaptor (RFC 4511 §4.2 Bind, §4.5 Search, §4.14 StartTLS; RFC 4515 filters):
PAP by search-then-bind, MS-CHAP v1/v2 by reading an NT-hash attribute (``sambaNTPassword``)
over a service bind, ldaps or StartTLS, and group membership as an authorization condition.

Settings are ``aaa-server GROUP ldap-... VALUE`` lines (the group's ``options``):
``ldap-base-dn`` (required), ``ldap-naming-attribute`` (uid), ``ldap-scope`` (sub|one),
``ldap-login-dn`` / ``ldap-login-password`` (service bind), ``ldap-nt-hash-attribute``
(sambaNTPassword), ``ldap-group-dn``, ``ldap-tls`` (none|starttls|ldaps), ``ldap-port``,
``ldap-ca-file``. The user name never becomes filter text: filters are built as
objects (RFC 4511 §4.5.1.7 AttributeValueAssertion), so ``*()\\`` in a name match literally.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ldaptor.protocols import pureldap
from ldaptor.protocols.ldap import ldaperrors, ldapsyntax
from ldaptor.protocols.ldap.ldapclient import LDAPClient
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.error import UnauthorizedLogin
from twisted.internet import defer, ssl
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, wrapClientTLS
from twisted.internet.error import ConnectError, ConnectionLost, TimeoutError
from twisted.python.failure import Failure
from zope.interface import implementer

from pixgw.aaa.chain import CheckerChain
from pixgw.aaa.credentials import (
    IMsChapV1Credentials,
    IMsChapV2Credentials,
    IPapCredentials,
    MsChapV1Credentials,
    MsChapV2Credentials,
    PapCredentials,
)
from pixgw.aaa.interfaces import (
    AuthenticationServerUnreachable,
    Authorization,
    BackendSettingsError,
)
from pixgw.aaa.realm import CheckedLogin, PortalAuthenticator
from pixgw.config.model import AaaServerGroup, PixConfig
from pixgw.syslog import debug

__all__ = ["LdapChecker", "LdapSettings", "build_ldap_authenticator", "escape_filter_value"]


def escape_filter_value(value: str) -> str:
    """RFC 4515 §3 escaping of a value for filter text (``*``, ``(``, ``)``, ``\\``, NUL)."""
    out = []
    for ch in value:
        if ch in "*()\\\x00":
            out.append(f"\\{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


@dataclass(frozen=True)
class LdapSettings:
    host: str
    base_dn: str
    port: int = 389
    naming_attribute: str = "uid"
    scope: str = "sub"
    login_dn: str = ""
    login_password: str = field(default="", repr=False)
    nt_hash_attribute: str = "sambaNTPassword"
    group_dn: str = ""
    tls: str = "none"  # none | starttls | ldaps
    ca_file: str = ""
    timeout: float = 5.0

    @classmethod
    def from_options(cls, host: str, options: Mapping[str, str], timeout: float) -> LdapSettings:
        base = options.get("ldap-base-dn", "")
        if not base:
            raise BackendSettingsError("ldap needs 'aaa-server GROUP ldap-base-dn DN'")
        tls = options.get("ldap-tls", "none").lower()
        if tls not in ("none", "starttls", "ldaps"):
            raise BackendSettingsError("ldap-tls is none, starttls or ldaps")
        scope = options.get("ldap-scope", "sub").lower()
        if scope not in ("sub", "one"):
            raise BackendSettingsError("ldap-scope is sub or one")
        return cls(
            host=host,
            base_dn=base,
            port=int(options.get("ldap-port", "636" if tls == "ldaps" else "389")),
            naming_attribute=options.get("ldap-naming-attribute", "uid"),
            scope=scope,
            login_dn=options.get("ldap-login-dn", ""),
            login_password=options.get("ldap-login-password", ""),
            nt_hash_attribute=options.get("ldap-nt-hash-attribute", "sambaNTPassword"),
            group_dn=options.get("ldap-group-dn", ""),
            tls=tls,
            ca_file=options.get("ldap-ca-file", ""),
            timeout=timeout,
        )


def _equality(attribute: str, value: str) -> Any:
    return pureldap.LDAPFilter_equalityMatch(
        attributeDesc=pureldap.LDAPAttributeDescription(attribute),
        assertionValue=pureldap.LDAPAssertionValue(value),
    )


@implementer(ICredentialsChecker)
class LdapChecker:
    """One LDAP server of a group as a twisted.cred checker (a :class:`CheckerChain` over the
    group's hosts gives failover): the user found and proven is a :class:`CheckedLogin`
    carrying its authorization."""

    credentialInterfaces = (IPapCredentials, IMsChapV1Credentials, IMsChapV2Credentials)

    def __init__(self, settings: LdapSettings, reactor: Any, name: str = "LDAP") -> None:
        self.settings = settings
        self.reactor = reactor
        self.name = name

    def requestAvatarId(self, credentials: Any) -> Deferred[Any]:
        d = Deferred.fromCoroutine(self._authenticate(credentials))
        d.addTimeout(self.settings.timeout * 3, self.reactor)

        def timed_out(failure: Failure) -> Failure:
            if isinstance(failure.value, defer.TimeoutError | defer.CancelledError):
                raise AuthenticationServerUnreachable(f"LDAP {self.settings.host}: no answer")
            return failure

        def checked(authorization: Authorization) -> CheckedLogin:
            return CheckedLogin(authorization.username, authorization.server, authorization)

        return d.addCallbacks(checked, timed_out)

    def _tls_options(self) -> Any:
        if self.settings.ca_file:
            authority = ssl.Certificate.loadPEM(Path(self.settings.ca_file).read_bytes())
            return ssl.optionsForClientTLS(self.settings.host, trustRoot=authority)
        return ssl.optionsForClientTLS(self.settings.host)

    async def _connect(self) -> Any:
        s = self.settings
        endpoint: Any = TCP4ClientEndpoint(self.reactor, s.host, s.port, timeout=s.timeout)
        if s.tls == "ldaps":
            endpoint = wrapClientTLS(self._tls_options(), endpoint)
        try:
            client = await endpoint.connect(_LdapClientFactory())
        except (ConnectError, TimeoutError, OSError) as e:
            raise AuthenticationServerUnreachable(f"LDAP {s.host}:{s.port}: {e}") from e
        if s.tls == "starttls":
            try:
                await client.startTLS(self._tls_options())
            except Exception as e:
                client.transport.loseConnection()
                raise AuthenticationServerUnreachable(f"LDAP {s.host}: StartTLS failed") from e
        return client

    async def _authenticate(self, credentials: Any) -> Authorization:
        s = self.settings
        if not isinstance(credentials, PapCredentials | MsChapV1Credentials | MsChapV2Credentials):
            raise UnauthorizedLogin("LDAP supports PAP, MS-CHAP and MS-CHAPv2")
        client = await self._connect()
        try:
            try:
                if s.login_dn:
                    await client.bind(s.login_dn, s.login_password)
                entry = await self._find_user(client, credentials.username)
                if s.group_dn and not await self._is_member(client, entry, credentials.username):
                    raise UnauthorizedLogin("not in the required group")
                if isinstance(credentials, PapCredentials):
                    if not credentials.password:
                        raise UnauthorizedLogin("empty password")
                    try:
                        await client.bind(entry.dn.getText(), credentials.password)
                    except ldaperrors.LDAPInvalidCredentials as e:
                        raise UnauthorizedLogin("bad password") from e
                    return Authorization(credentials.username, server=f"LDAP {s.host}")
                return self._check_nt_hash(credentials, entry)
            except ldaperrors.LDAPException as e:
                if isinstance(e, ldaperrors.LDAPInvalidCredentials):
                    raise AuthenticationServerUnreachable(
                        f"LDAP {s.host}: service bind refused"
                    ) from e
                raise UnauthorizedLogin(f"LDAP: {e}") from e
            except (ConnectionLost, TimeoutError) as e:
                raise AuthenticationServerUnreachable(f"LDAP {s.host}: {e}") from e
        finally:
            if client.connected:
                client.transport.loseConnection()

    async def _find_user(self, client: Any, username: str) -> Any:
        s = self.settings
        base = ldapsyntax.LDAPEntry(client, s.base_dn)
        scope = (
            pureldap.LDAP_SCOPE_wholeSubtree if s.scope == "sub"
            else pureldap.LDAP_SCOPE_singleLevel
        )
        results = await base.search(
            filterObject=_equality(s.naming_attribute, username),
            attributes=[s.naming_attribute, s.nt_hash_attribute, "memberOf"],
            scope=scope,
            sizeLimit=2,
        )
        if len(results) != 1:
            debug("ldap", f"LDAP: {len(results)} entries for user {username}")
            raise UnauthorizedLogin("unknown user")
        return results[0]

    async def _is_member(self, client: Any, entry: Any, username: str) -> bool:
        s = self.settings
        member_of = {str(v).lower() for v in entry.get("memberOf", ())}
        if s.group_dn.lower() in member_of:
            return True
        group = ldapsyntax.LDAPEntry(client, s.group_dn)
        filter_object = pureldap.LDAPFilter_or(
            [
                _equality("member", entry.dn.getText()),
                _equality("uniqueMember", entry.dn.getText()),
                _equality("memberUid", username),
            ]
        )
        try:
            found = await group.search(
                filterObject=filter_object, scope=pureldap.LDAP_SCOPE_baseObject, attributes=["1.1"]
            )
        except ldaperrors.LDAPNoSuchObject:
            return False
        return len(found) > 0

    def _check_nt_hash(self, credentials: Any, entry: Any) -> Authorization:
        s = self.settings
        values = [str(v) if not isinstance(v, bytes) else v.decode("ascii", "replace")
                  for v in entry.get(s.nt_hash_attribute, ())]
        if not values:
            raise UnauthorizedLogin(
                f"MS-CHAP needs the {s.nt_hash_attribute} attribute of {credentials.username}"
            )
        try:
            nt_hash = bytes.fromhex(values[0])
        except ValueError as e:
            raise UnauthorizedLogin(f"{s.nt_hash_attribute} is not an NT hash") from e
        if not credentials.check_nt_hash(nt_hash):
            raise UnauthorizedLogin("bad password")
        send, recv = credentials.mppe_keys(nt_hash)
        response = (
            credentials.authenticator_response(nt_hash)
            if isinstance(credentials, MsChapV2Credentials)
            else None
        )
        return Authorization(
            credentials.username,
            mschapv2_authenticator_response=response,
            mppe_send_key=send,
            mppe_recv_key=recv,
            server=f"LDAP {s.host}",
        )


class _LdapClientFactory:
    """The minimal IProtocolFactory an endpoint needs, building an LDAPClient."""

    def buildProtocol(self, addr: Any) -> Any:
        return LDAPClient()

    def doStart(self) -> None:
        pass

    def doStop(self) -> None:
        pass


def build_ldap_authenticator(
    config: PixConfig, group: AaaServerGroup | None, reactor: Any
) -> PortalAuthenticator:
    if group is None or not group.hosts:
        raise BackendSettingsError("ldap needs 'aaa-server GROUP (IF) host ADDRESS'")
    options = dict(group.options)
    checkers = [
        LdapChecker(LdapSettings.from_options(str(h.address), options, float(h.timeout)),
                    reactor, group.name)
        for h in group.hosts
    ]
    return PortalAuthenticator(group.name, CheckerChain(group.name, checkers))
