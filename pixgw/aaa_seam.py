"""Adapters from the gateway's seams (``pixgw.links.Authenticate`` and ``Accounting``) to
twisted.cred authenticators and :class:`IAccounting` (RFC 2866 §5.10 terminate causes).

The PPP layer's :class:`AuthenticationRequested` becomes PAP / CHAP-MD5 / MS-CHAPv1 / MS-CHAPv2
credentials; the :class:`Authorization` becomes the gateway's :class:`AuthDecision` (the
authorization itself rides in ``AuthDecision.attributes`` for MPPE keys and Class).
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from pixgw.aaa.credentials import (
    ChapMd5Credentials,
    MsChapV1Credentials,
    MsChapV2Credentials,
    PapCredentials,
)
from pixgw.aaa.interfaces import (
    AccountingSession,
    AuthDecision,
    AuthenticationServerUnreachable,
    Authorization,
    ClientInfo,
    SessionUsage,
)
from pixgw.links import ActiveSession
from pixgw.ppp.auth import AuthenticationRequested
from pixgw.syslog import pix_log

__all__ = ["CredAccounting", "CredAuthenticate", "credentials_from_request", "terminate_cause"]


def credentials_from_request(request: AuthenticationRequested) -> Any:
    if request.protocol == "pap":
        return PapCredentials(request.username, request.password or "")
    if request.protocol == "chap":
        return ChapMd5Credentials(
            request.username, request.identifier, request.challenge, request.response
        )
    if request.protocol == "mschap":
        return MsChapV1Credentials(
            request.username, request.challenge, request.response, request.identifier
        )
    return MsChapV2Credentials(
        request.username,
        request.challenge,
        request.peer_challenge,
        request.nt_response,
        request.identifier,
    )


class CredAuthenticate:
    """``Gateway(authenticate=CredAuthenticate(build_authenticator(config, group, reactor=r)))``."""

    def __init__(self, authenticator: Any) -> None:
        self.authenticator = authenticator

    def __call__(
        self, request: AuthenticationRequested, client: ClientInfo
    ) -> Deferred[AuthDecision]:
        d: Deferred[Authorization] = self.authenticator.authenticate(
            credentials_from_request(request), client
        )
        server = str(getattr(self.authenticator, "name", "LOCAL"))

        def accepted(a: Authorization) -> AuthDecision:
            pix_log(
                113004,
                f"AAA user authentication Successful : server = {a.server or server} : "
                f"user = {request.username}",
            )
            return AuthDecision(
                True,
                a.reply_message,
                mschapv2_authenticator_response=a.mschapv2_authenticator_response,
                address=a.address,
                dns=a.dns,
                wins=a.wins,
                session_timeout=a.session_timeout,
                idle_timeout=a.idle_timeout,
                attributes=a,
            )

        def refused(f: Failure) -> AuthDecision:
            if isinstance(f.value, UnauthorizedLogin):
                why = str(f.value) or "rejected"
            elif isinstance(f.value, AuthenticationServerUnreachable):
                why = "AAA server unreachable"
                pix_log(
                    113014,
                    f"AAA authentication server not accessible : server = {server} : "
                    f"user = {request.username}",
                )
            else:
                why = f"AAA error: {f.getErrorMessage()}"
            pix_log(
                113005,
                f"AAA user authentication Rejected : reason = {why} : server = {server} : "
                f"user = {request.username}",
            )
            return AuthDecision(False, "Authentication failure")

        result: Deferred[AuthDecision] = d.addCallbacks(accepted, refused)
        return result


def terminate_cause(reason: str) -> str:
    """The gateway's free-text close reason as an RFC 2866 §5.10 cause keyword."""
    r = reason.lower()
    if "idle" in r:
        return "idle-timeout"
    if "session timeout" in r or "absolute" in r or "session-timeout" in r:
        return "session-timeout"
    if "clear" in r or "admin" in r:
        return "admin-reset"
    if "echo" in r or "lost" in r or "carrier" in r:
        return "lost-carrier"
    if "peer" in r or "terminate" in r or "user" in r:
        return "user-request"
    if "shutdown" in r or "reboot" in r:
        return "admin-reboot"
    return "nas-request"


class CredAccounting:
    """``Gateway(accounting=CredAccounting(build_accounting(...), reactor))``.

    Interim-Update every Acct-Interim-Interval seconds the Access-Accept gave (or
    ``default_interim`` when set); :meth:`accounting_on` / :meth:`accounting_off` belong in the
    service's start and stop."""

    def __init__(self, accounting: Any, reactor: Any, default_interim: int | None = None) -> None:
        self.accounting = accounting
        self.reactor = reactor
        self.default_interim = default_interim
        self._interim: dict[int, Any] = {}
        # Acct-Session-Id must not repeat across restarts (RFC 2866 §5.5): the start time leads.
        self.boot = int(reactor.seconds()) & 0xFFFFFFFF

    def accounting_on(self) -> None:
        self.accounting.accounting_on()

    def accounting_off(self) -> None:
        for call in self._interim.values():
            if call.active():
                call.cancel()
        self._interim.clear()
        self.accounting.accounting_off()

    def _usage(self, session: ActiveSession) -> SessionUsage:
        ppp = session.ppp
        return SessionUsage(
            self.reactor.seconds(),
            ppp.received_bytes,
            ppp.transmitted_bytes,
            ppp.received_packets,
            ppp.transmitted_packets,
        )

    def _schedule_interim(self, session: ActiveSession, interval: int) -> None:
        def fire() -> None:
            self.accounting.interim(self._session(session), self._usage(session))
            self._schedule_interim(session, interval)

        self._interim[id(session)] = self.reactor.callLater(interval, fire)

    def _session(self, s: ActiveSession) -> AccountingSession:
        authorization = s.authorized.attributes if s.authorized is not None else None
        classes = (
            authorization.class_attribute if isinstance(authorization, Authorization) else ()
        )
        address: IPv4Address | None = s.address
        return AccountingSession(
            session_id=f"{self.boot:08X}{s.key.tunnel_id:04X}{s.key.session_id:04X}{s.sid:08X}",
            username=s.username,
            client=s.client if s.client is not None else ClientInfo(
                outer_address=s.peer.address,
                interface_id=s.interface_id,
                tunnel_id=s.key.tunnel_id,
                remote_host_name=s.remote_host_name,
            ),  # as AAA was told at authentication: NAS-IP-Address, NAS-Port, the tunnel
            address=address,
            class_attribute=classes,
            started_at=s.up_at if s.up_at is not None else s.started_at,
        )

    def session_started(self, session: ActiveSession) -> None:
        self.accounting.start(self._session(session))
        authorization = session.authorized.attributes if session.authorized else None
        interval = (
            authorization.interim_interval
            if isinstance(authorization, Authorization) and authorization.interim_interval
            else self.default_interim
        )
        if interval:
            self._schedule_interim(session, max(60, interval))  # RFC 2869 §5.16: >= 60 s

    def session_stopped(self, session: ActiveSession, cause: str) -> None:
        call = self._interim.pop(id(session), None)
        if call is not None and call.active():
            call.cancel()
        self.accounting.stop(
            self._session(session), self._usage(session), terminate_cause(cause)
        )
