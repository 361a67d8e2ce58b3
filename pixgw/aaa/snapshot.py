"""Frozen AAA status for ``show aaa-server`` and ``show uauth`` details (RFC 2865/2866 counters
per server), built from live authenticators and accounting without exposing any secret."""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address
from typing import Any

from pixgw.aaa.accounting import RadiusAccounting
from pixgw.aaa.chain import CheckerChain
from pixgw.aaa.interfaces import Authorization
from pixgw.aaa.ldap import LdapChecker
from pixgw.aaa.local import local_users
from pixgw.aaa.radius import RadiusChecker, RadiusCounters
from pixgw.aaa.realm import PortalAuthenticator
from pixgw.config.model import PixConfig
from pixgw.status import AaaServerStatus, AaaStatusSnapshot, UauthDetail

__all__ = ["aaa_status", "uauth_detail"]


def _leaves(authenticator: Any) -> Iterable[Any]:
    """The server checkers behind an authenticator (its portal's checker, chains unfolded)."""
    if isinstance(authenticator, PortalAuthenticator):
        yield from _leaves(authenticator.checker)
    elif isinstance(authenticator, CheckerChain):
        for member in authenticator.members:
            yield from _leaves(member)
    else:
        yield authenticator


def _interface(config: PixConfig, group: str, address: Any) -> str:
    g = config.aaa_server(group)
    for h in g.hosts if g is not None else ():
        if h.address == address:
            return h.interface
    return ""


def _address(text: str) -> IPv4Address | None:
    try:
        return IPv4Address(text)
    except ValueError:
        return None


def aaa_status(
    config: PixConfig,
    authenticators: Iterable[Any],
    accounting: Any = None,
    authorizations: Iterable[Authorization] = (),
) -> AaaStatusSnapshot:
    servers: list[AaaServerStatus] = []
    for top in authenticators:
        for leaf in _leaves(top):
            if isinstance(leaf, RadiusChecker):
                s = leaf.server
                c = leaf.client.counters.get(s.label, RadiusCounters())
                dead = c.dead_until > leaf.client.reactor.seconds()
                acct = (
                    accounting.client.counters.get(s.label, RadiusCounters())
                    if isinstance(accounting, RadiusAccounting)
                    else RadiusCounters()
                )
                servers.append(
                    AaaServerStatus(
                        group=leaf.name,
                        protocol="radius",
                        address=s.address,
                        interface=_interface(config, leaf.name, s.address),
                        auth_port=s.auth_port,
                        acct_port=s.acct_port,
                        timeout=int(s.timeout),
                        state="FAILED" if dead else "ACTIVE",
                        requests=c.requests,
                        accounting_requests=acct.accounting_requests,
                        retransmits=c.retransmits + acct.retransmits,
                        accepts=c.accepts,
                        rejects=c.rejects,
                        challenges=c.challenges,
                        dropped=c.dropped + acct.dropped,
                        timeouts=c.timeouts + acct.timeouts,
                        round_trip_ms=int((c.last_round_trip or 0.0) * 1000),
                        unsigned=c.unsigned,
                    )
                )
            elif isinstance(leaf, LdapChecker):
                servers.append(
                    AaaServerStatus(
                        group=leaf.name,
                        protocol="ldap",
                        address=_address(leaf.settings.host),
                        interface=_interface(config, leaf.name, _address(leaf.settings.host)),
                        auth_port=leaf.settings.port,
                        timeout=int(leaf.settings.timeout),
                    )
                )
    spooled = accounting.pending() if isinstance(accounting, RadiusAccounting) else 0
    parked = accounting.parked() if isinstance(accounting, RadiusAccounting) else 0
    return AaaStatusSnapshot(
        servers=tuple(servers),
        local_users=len(local_users(config)),
        accounting_spooled=spooled,
        accounting_parked=parked,
        details=tuple(uauth_detail(a) for a in authorizations),
    )


def uauth_detail(a: Authorization) -> UauthDetail:
    return UauthDetail(
        username=a.username,
        server=a.server or "LOCAL",
        address=a.address,
        session_timeout=a.session_timeout,
        idle_timeout=a.idle_timeout,
        mppe_keys=a.mppe_send_key is not None,
        class_count=len(a.class_attribute),
    )
