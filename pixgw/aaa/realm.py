"""The twisted.cred side of every AAA backend: a checker (local users, RADIUS, LDAP, a chain of
them) proves the credentials and names a :class:`CheckedLogin`; the :class:`AuthorizationRealm`
turns it into the frozen :class:`~pixgw.aaa.interfaces.Authorization` the gateway applies; a
:class:`PortalAuthenticator` is the one :class:`~pixgw.aaa.interfaces.IAuthenticator` the gateway
sees, a Portal over a group's checker.

The client's facts (outer address, tunnel and session, NAS port) ride in the credentials'
``client`` field: a checker sees only credentials, and RADIUS must send them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from twisted.cred.portal import IRealm, Portal
from twisted.internet.defer import Deferred
from zope.interface import implementer

from pixgw.aaa.interfaces import Authorization, ClientInfo, IAuthenticator

__all__ = ["AuthorizationRealm", "CheckedLogin", "IAuthorization", "PortalAuthenticator"]


@dataclass(frozen=True)
class CheckedLogin:
    """A checker's avatar id: the user and what the check produced for authorization."""

    username: str
    server: str = "LOCAL"
    authorization: Authorization | None = None  # set by remote backends (RADIUS, LDAP)
    mschapv2_authenticator_response: str | None = None
    mppe_send_key: bytes | None = field(default=None, repr=False)
    mppe_recv_key: bytes | None = field(default=None, repr=False)


class IAuthorization(IAuthenticator):
    """The avatar interface asked of the portal (the realm answers an Authorization)."""


@implementer(IRealm)
class AuthorizationRealm:
    """Turns a checked login into the frozen :class:`Authorization` the gateway applies."""

    def requestAvatar(
        self, avatarId: Any, mind: Any, *interfaces: Any
    ) -> tuple[Any, Authorization, Any]:
        login: CheckedLogin = avatarId
        if login.authorization is not None:
            return IAuthorization, login.authorization, lambda: None
        authorization = Authorization(
            username=login.username,
            mschapv2_authenticator_response=login.mschapv2_authenticator_response,
            mppe_send_key=login.mppe_send_key,
            mppe_recv_key=login.mppe_recv_key,
            server=login.server,
        )
        return IAuthorization, authorization, lambda: None


@implementer(IAuthenticator)
class PortalAuthenticator:
    """One ``aaa-server`` group (or the local users) as the gateway sees it: a Portal over the
    group's checker and the :class:`AuthorizationRealm`."""

    def __init__(self, name: str, checker: Any) -> None:
        self.name = name
        self.checker = checker
        self.portal = Portal(AuthorizationRealm(), [checker])

    def authenticate(self, credentials: Any, client: ClientInfo) -> Deferred[Authorization]:
        d: Deferred[Any] = self.portal.login(
            replace(credentials, client=client), None, IAuthorization
        )
        result: Deferred[Authorization] = d.addCallback(_avatar)
        return result


def _avatar(answer: Any) -> Authorization:
    authorization: Authorization = answer[1]
    return authorization
