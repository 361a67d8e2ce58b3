"""The AAA seam (RFC 2865 §5 names the authorization attributes, RFC 2866 §5 the accounting
ones): what the gateway hands in (credentials, :class:`ClientInfo`), what it gets back (a frozen
:class:`Authorization`), the backend interfaces found by plugin, and the two failure kinds.

A reject is :class:`twisted.cred.error.UnauthorizedLogin` and is final; a server that cannot be
reached is :class:`AuthenticationServerUnreachable`, the only failure a chain falls through on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import TYPE_CHECKING, Any

from zope.interface import Attribute, Interface

if TYPE_CHECKING:
    from pixgw.config.model import AaaServerGroup, PixConfig

__all__ = [
    "AccountingSession",
    "AuthDecision",
    "AuthenticationServerUnreachable",
    "Authorization",
    "BackendSettingsError",
    "ClientInfo",
    "IAccounting",
    "IAuthenticator",
    "IAuthenticatorFactory",
    "SessionUsage",
]


class AuthenticationServerUnreachable(Exception):
    """No server of a backend answered (timeouts on every host, or no usable host)."""


class BackendSettingsError(ValueError):
    """A backend cannot be built from its ``aaa-server`` lines (the message says which)."""


@dataclass(frozen=True)
class ClientInfo:
    """Who is authenticating, as the gateway knows it: the client's outer address and port, the
    PPP virtual interface, the L2TP tunnel and session, the LAC's host name and our address
    facing the client. The RADIUS names (RFC 2865 §5.4/§5.5/§5.30/§5.31, RFC 2868 §3.3/§3.4,
    RFC 2867 §4.1) are read from it."""

    outer_address: IPv4Address | None = None  # the client's public address
    outer_port: int = 0
    interface_id: int = 0  # the PPP virtual interface id
    tunnel_id: int = 0  # ours
    session_id: int = 0
    remote_host_name: str = ""  # L2TP Host Name of the LAC
    local_address: IPv4Address | None = None  # our address facing the client
    tunnel_type: str = "L2TP"
    tunnel_medium: str = "IPv4"

    @property
    def nas_port(self) -> int:
        return self.interface_id

    @property
    def nas_address(self) -> IPv4Address | None:
        return self.local_address

    @property
    def called_station(self) -> str:
        return str(self.local_address) if self.local_address is not None else ""

    @property
    def tunnel_client_endpoint(self) -> str:
        return str(self.outer_address) if self.outer_address is not None else ""

    @property
    def tunnel_server_endpoint(self) -> str:
        return self.called_station

    @property
    def tunnel_assignment_id(self) -> str:
        return str(self.tunnel_id) if self.tunnel_id else ""


@dataclass(frozen=True)
class AuthDecision:
    """What AAA answered for one PPP authentication, as the gateway acts on it."""

    accepted: bool
    message: str = ""
    mschapv2_authenticator_response: str | None = None
    address: IPv4Address | None = None
    dns: tuple[IPv4Address, ...] = ()
    wins: tuple[IPv4Address, ...] = ()
    session_timeout: int | None = None
    idle_timeout: int | None = None
    failure_code: int = 691
    attributes: Any = None  # the backend's own authorization (accounting echoes Class)


@dataclass(frozen=True)
class Authorization:
    """What AAA granted one user (RFC 2865 §5.8/§5.27/§5.28/§5.25, RFC 2548 §2.4)."""

    username: str
    address: IPv4Address | None = None
    dns: tuple[IPv4Address, ...] = ()
    wins: tuple[IPv4Address, ...] = ()
    session_timeout: int | None = None
    idle_timeout: int | None = None
    class_attribute: tuple[bytes, ...] = ()
    mschapv2_authenticator_response: str | None = None  # "S=..." for the MS-CHAP2 Success
    mppe_send_key: bytes | None = field(default=None, repr=False)
    mppe_recv_key: bytes | None = field(default=None, repr=False)
    reply_message: str = ""
    interim_interval: int | None = None  # Acct-Interim-Interval
    server: str = ""  # "LOCAL", "RADIUS 127.0.0.1", ... for show/debug


@dataclass(frozen=True)
class AccountingSession:
    """One PPP session as accounting sees it (RFC 2866 §5)."""

    session_id: str
    username: str
    client: ClientInfo = ClientInfo()
    address: IPv4Address | None = None
    class_attribute: tuple[bytes, ...] = ()
    started_at: float = 0.0


@dataclass(frozen=True)
class SessionUsage:
    """Counters at one moment (RFC 2866 §5.3-§5.7); octets may exceed 32 bits (gigawords)."""

    now: float
    input_octets: int = 0
    output_octets: int = 0
    input_packets: int = 0
    output_packets: int = 0


class IAuthenticator(Interface):
    """One ``aaa-server`` group (or the local user list) answering PPP authentications: what the
    gateway calls. The shipped backends are twisted.cred checkers behind one
    :class:`pixgw.aaa.realm.PortalAuthenticator` (local users, RADIUS, LDAP, failover chains)."""

    name = Attribute("the group name, 'LOCAL' for local users")

    def authenticate(credentials: Any, client: ClientInfo) -> Any:
        """Deferred firing with :class:`Authorization`; fails with UnauthorizedLogin or
        AuthenticationServerUnreachable."""


class IAccounting(Interface):
    """Accounting records for PPP sessions (RFC 2866)."""

    def start(session: AccountingSession) -> None:
        """Acct-Status-Type Start."""

    def interim(session: AccountingSession, usage: SessionUsage) -> None:
        """Acct-Status-Type Interim-Update."""

    def stop(session: AccountingSession, usage: SessionUsage, cause: str) -> None:
        """Acct-Status-Type Stop with Acct-Terminate-Cause (RFC 2866 §5.10 name)."""

    def accounting_on() -> None:
        """Accounting-On (the gateway started)."""

    def accounting_off() -> None:
        """Accounting-Off (the gateway stops)."""


class IAuthenticatorFactory(Interface):
    """A backend, found with ``twisted.plugin.getPlugins(IAuthenticatorFactory, pixgw.plugins)``
    and named by ``aaa-server GROUP protocol NAME``."""

    protocol = Attribute("the NAME keyword of ``aaa-server GROUP protocol NAME``")

    def build(
        config: PixConfig, group: AaaServerGroup | None, reactor: Any
    ) -> IAuthenticator:
        """An authenticator for ``group`` (None: local users), usually a
        ``PortalAuthenticator(group.name, checker)`` over the backend's ICredentialsChecker.
        Raises BackendSettingsError."""


def group_options(group: AaaServerGroup | None) -> dict[str, str]:
    return dict(group.options) if group is not None else {}
