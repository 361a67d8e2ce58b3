"""The PPP link of every L2TP call, and what hangs on it: AAA, the pool lease, the client route,
uauth, accounting.

:class:`PppLinks` is the gateway's registry of connected users. The gateway routes L2TP events to
it (a call set up, a PPP frame, a call gone) and drives it from its pump; it answers with PPP
frames on the L2TP session, IP packets to the dataplane and, for a PPP authentication request, a
twisted.cred login through the :class:`Authenticate` seam whose answer comes back later. The PIX
syslog messages of a user's link are written here: 603106 (L2TP tunnel created, at link up),
109011/109012 (authentication session start/end).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from ipaddress import IPv4Address
from typing import NamedTuple, Protocol

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from pixgw.aaa.interfaces import AuthDecision, ClientInfo
from pixgw.config.model import PixConfig, VpdnGroup
from pixgw.dataplane.interfaces import IDataplane, L2tpPeer
from pixgw.deadlines import Deadlines
from pixgw.l2tp.core import L2tpLns
from pixgw.l2tp.events import SessionEstablished, SessionKey
from pixgw.pool import AddressPools
from pixgw.ppp.auth import AuthenticationRequested
from pixgw.ppp.session import IpPacketReceived, LinkDown, LinkUp, PppSession, PppSettings
from pixgw.status import UauthEntry, UauthStatus
from pixgw.syslog import pix_log

_log = Logger(namespace="pixgw.gateway")

# L2TP CDN result codes (RFC 2661 §4.4.2)
CDN_ADMINISTRATIVE = 3
CDN_GENERAL_ERROR = 2


class Authenticate(Protocol):
    """The AAA seam as the gateway sees it (see :mod:`pixgw.aaa` for the twisted.cred side)."""

    def __call__(
        self, request: AuthenticationRequested, client: ClientInfo
    ) -> Deferred[AuthDecision]: ...


class Accounting(Protocol):
    """Accounting records for a PPP session (RADIUS accounting, or nothing)."""

    def session_started(self, session: ActiveSession) -> None: ...

    def session_stopped(self, session: ActiveSession, cause: str) -> None: ...


class NoAccounting:
    def session_started(self, session: ActiveSession) -> None:
        pass

    def session_stopped(self, session: ActiveSession, cause: str) -> None:
        pass


@dataclass
class ActiveSession:
    """One L2TP call with its PPP link: the gateway's record of a connected user."""

    key: SessionKey
    peer: L2tpPeer
    ppp: PppSession
    interface_id: int
    remote_tunnel_id: int
    remote_host_name: str
    group: VpdnGroup
    started_at: float
    username: str = ""
    address: IPv4Address | None = None
    leased: bool = False  # the address came from a pool and goes back to it
    authenticating: bool = False
    authorized: AuthDecision | None = None
    up_at: float | None = None
    sid: int = 0
    timer_epoch: int = -1  # the PPP session's timer_epoch when the timer was last set
    closing: bool = False
    spoofed: int = 0  # IP packets whose source was not the address assigned to the link
    # AAA's limits on the link (RFC 2865 §5.27 Session-Timeout, §5.28 Idle-Timeout)
    ends_at: float | None = None
    idle_timeout: int | None = None
    last_active: float = 0.0  # an IP packet either way
    client: ClientInfo | None = None  # what AAA was told (accounting tells the same)


class TimeLeft(NamedTuple):
    """Seconds a link has until its Session-Timeout / Idle-Timeout; None: no such limit."""

    session: int | None
    idle: int | None


def _from_client(active: ActiveSession, packet: bytes) -> bool:
    """An IPv4 packet whose source is the address the link was given (a user may not speak for
    another user's pool address, nor for anyone else)."""
    address = active.address
    return (address is not None and len(packet) >= 20 and packet[0] >> 4 == 4
            and packet[12:16] == address.packed)


def l2tp_group(config: PixConfig) -> VpdnGroup | None:
    """The vpdn group that accepts L2TP dial-in (the first one, as the PIX takes it)."""
    for group in config.vpdn.groups:
        if "l2tp" in group.accept_dialin:
            return group
    return None


def local_link_address(config: PixConfig) -> IPv4Address | None:
    """Our end of the PPP links: the inside interface's address, else the outside's."""
    for name in ("inside", "outside"):
        interface = config.interface(name)
        if interface is not None and interface.address is not None:
            return interface.address
    return None


class PppLinks:
    """The PPP sessions of the L2TP calls, keyed by the call (see the module docstring)."""

    def __init__(
        self,
        *,
        config: Callable[[], PixConfig],
        l2tp: L2tpLns,
        pools: AddressPools,
        dataplane: IDataplane | None,
        now: Callable[[], float],
        pump: Callable[[], None],
        random_bytes: Callable[[int], bytes],
        authenticate: Authenticate | None = None,
        accounting: Accounting | None = None,
    ) -> None:
        self._config = config
        self._l2tp = l2tp
        self._pools = pools
        self._dataplane = dataplane
        self._now = now
        self._pump = pump
        self._random_bytes = random_bytes
        self.authenticate = authenticate
        self.accounting: Accounting = accounting or NoAccounting()
        self.sessions: dict[SessionKey, ActiveSession] = {}
        self._next_interface_id = 1
        self._next_sid = 0
        self._uauth_most = 0
        self._in_progress_most = 0
        # sessions with AAA thinking / with the link up: counted for show uauth without a scan
        self._authenticating: set[SessionKey] = set()
        self._link_is_up: set[SessionKey] = set()
        self._dirty: set[SessionKey] = set()
        # every PPP session's next deadline, behind one reactor timer (not a DelayedCall each)
        self._deadlines: Deadlines[SessionKey] = Deadlines()
        # each link's Session-Timeout or Idle-Timeout deadline, whichever comes first
        self._limits: Deadlines[SessionKey] = Deadlines()

    # --- from the L2TP core -----------------------------------------------------------------------

    def open(self, event: SessionEstablished, now: float) -> None:
        """An L2TP call is up: its PPP session starts (the call is refused without a vpdn group
        that accepts L2TP)."""
        config = self._config()
        group = l2tp_group(config)
        if group is None:
            self._l2tp.close_session(event.key, CDN_GENERAL_ERROR, now, "no vpdn group")
            return
        interface_id = self._next_interface_id
        self._next_interface_id += 1
        settings = PppSettings.from_vpdn_group(
            group, interface_id=interface_id, local_address=local_link_address(config)
        )
        ppp = PppSession(settings, random_bytes=self._random_bytes)
        self.sessions[event.key] = ActiveSession(
            key=event.key,
            peer=event.peer,
            ppp=ppp,
            interface_id=interface_id,
            remote_tunnel_id=event.remote_tunnel_id,
            remote_host_name=event.remote_host_name,
            group=group,
            started_at=now,
        )
        ppp.start(now)
        self._dirty.add(event.key)

    def frame_received(self, key: SessionKey, frame: bytes, now: float) -> None:
        active = self.sessions.get(key)
        if active is not None:
            active.ppp.receive_frame(frame, now)
            self._dirty.add(key)

    def call_closed(self, key: SessionKey, message: str, now: float) -> None:
        """The L2TP session went (CDN, its tunnel closed): the PPP link closes."""
        active = self.sessions.get(key)
        if active is not None and not active.closing:
            active.closing = True
            active.ppp.close(message or "L2TP session closed", now)
            self._dirty.add(key)

    # --- administration ---------------------------------------------------------------------------

    def close(self, reason: str, now: float, username: str | None = None, *,
              established_only: bool = False) -> int:
        """Close the links (of *username*, or all); returns how many."""
        closed = 0
        for active in list(self.sessions.values()):
            if established_only and active.up_at is None:
                continue
            if username is None or active.username == username:
                active.ppp.close(reason, now)
                self._dirty.add(active.key)
                closed += 1
        return closed

    def uauth_status(self) -> UauthStatus:
        entries = []
        for a in sorted(self.sessions.values(), key=lambda a: a.interface_id):
            if a.username and (a.up_at is not None or a.authenticating):
                left = self.time_left(a)
                entries.append(UauthEntry(
                    username=a.username,
                    address=a.address,
                    authenticated=a.up_at is not None,
                    absolute_remaining=left.session,
                    inactivity_remaining=left.idle,
                ))
        return UauthStatus(
            authenticated_current=len(self._link_is_up),
            authenticated_most=self._uauth_most,
            in_progress_current=len(self._authenticating),
            in_progress_most=self._in_progress_most,
            entries=tuple(entries),
        )

    def time_left(self, active: ActiveSession) -> TimeLeft:
        """Seconds until the link's Session-Timeout and until its Idle-Timeout (None: no
        limit), as ``show uauth`` and ``show vpdn session`` print them."""
        now = self._now()
        session = None if active.ends_at is None else max(0, int(active.ends_at - now))
        idle = None
        if active.idle_timeout:
            idle = max(0, int(active.last_active + active.idle_timeout - now))
        return TimeLeft(session, idle)

    def ordered(self) -> Iterable[ActiveSession]:
        return sorted(self.sessions.values(), key=lambda a: a.interface_id)

    # --- driven by the gateway's pump and timer ---------------------------------------------------

    @property
    def dirty(self) -> bool:
        return bool(self._dirty)

    def earliest(self) -> float | None:
        times = [t for t in (self._deadlines.earliest(), self._limits.earliest()) if t is not None]
        return min(times) if times else None

    def handle_timer(self, now: float) -> None:
        for key in self._deadlines.pop_due(now):
            current = self.sessions.get(key)
            if current is not None:
                current.ppp.handle_timer(now)
                self._dirty.add(current.key)
        for key in self._limits.pop_due(now):
            current = self.sessions.get(key)
            if current is not None:
                self._check_limit(current, now)

    def stop_timers(self) -> None:
        self._deadlines = Deadlines()
        self._limits = Deadlines()

    def _arm_limit(self, active: ActiveSession) -> None:
        times = [t for t in (active.ends_at, active.last_active + active.idle_timeout
                             if active.idle_timeout else None) if t is not None]
        self._limits.set(active.key, min(times) if times else None)

    def _check_limit(self, active: ActiveSession, now: float) -> None:
        """Session-Timeout reached, or idle for Idle-Timeout: the link closes (accounting
        gives the matching Acct-Terminate-Cause); else the deadline moves on."""
        if active.closing or active.up_at is None:
            return
        if active.ends_at is not None and now >= active.ends_at:
            active.ppp.close("session timeout", now)
        elif active.idle_timeout and now - active.last_active >= active.idle_timeout:
            active.ppp.close("idle timeout", now)
        else:
            self._arm_limit(active)
            return
        self._dirty.add(active.key)

    def drain(self, now: float) -> bool:
        """Every touched session's frames to L2TP and its events handled; True when that gave
        another core something to do."""
        if not self._dirty:
            return False
        again = False
        dirty, self._dirty = self._dirty, set()
        for key in dirty:
            active = self.sessions.get(key)
            if active is None:
                continue
            for frame in active.ppp.frames_to_send(now):
                if not active.closing or self._l2tp.session_open(key):
                    self._l2tp.send_ppp(key, frame, now)
                    again = True  # the LNS has datagrams to flush
            while (event := active.ppp.next_event()) is not None:
                if isinstance(event, IpPacketReceived):  # to the TUN: no core has more to do
                    if not _from_client(active, event.packet):
                        active.spoofed += 1  # another user's address, or none of ours
                        continue
                    active.last_active = now
                    if self._dataplane is not None:
                        self._dataplane.send_ip(event.packet)
                    continue
                again = True
                if isinstance(event, AuthenticationRequested):
                    self._authenticate(active, event)
                elif isinstance(event, LinkUp):
                    self._link_up(active, event, now)
                elif isinstance(event, LinkDown):
                    self._link_down(active, event, now)
            if key in self.sessions and active.timer_epoch != active.ppp.timer_epoch:
                active.timer_epoch = active.ppp.timer_epoch  # else only IP went through
                self._deadlines.set(active.key, active.ppp.get_timer())
        return again

    # --- authentication ---------------------------------------------------------------------------

    def _authenticate(self, active: ActiveSession, request: AuthenticationRequested) -> None:
        active.username = request.username
        active.authenticating = True
        self._authenticating.add(active.key)
        self._in_progress_most = max(self._in_progress_most, len(self._authenticating))
        client = ClientInfo(
            outer_address=active.peer.address,
            outer_port=active.peer.outer_port,
            interface_id=active.interface_id,
            tunnel_id=active.key.tunnel_id,
            session_id=active.key.session_id,
            remote_host_name=active.remote_host_name,
            local_address=local_link_address(self._config()),
        )
        active.client = client
        if self.authenticate is None:
            decision: Deferred[AuthDecision] = Deferred()
            decision.callback(AuthDecision(False, "no authentication configured"))
        else:
            decision = maybeDeferred(self.authenticate, request, client)
        key = active.key

        def answered(result: AuthDecision) -> None:
            current = self.sessions.get(key)
            if current is None or current is not active:
                return  # the session went away while AAA was thinking
            current.authenticating = False
            self._authenticating.discard(key)
            self._answer(current, result)
            self._dirty.add(key)
            self._pump()

        def failed(failure: Failure) -> None:
            _log.failure("authentication of {user} failed", failure, user=request.username)
            answered(AuthDecision(False, "authentication server error"))

        decision.addCallbacks(answered, failed)

    def _answer(self, active: ActiveSession, decision: AuthDecision) -> None:
        if decision.accepted:
            address = decision.address
            if address is not None:
                # An address from AAA, in a pool or not, is claimed so no one else gets it.
                if not self._pools.claim(address, owner=active.key):
                    decision = replace(decision, accepted=False, message="address in use")
                else:
                    active.leased = True
            elif active.group.address_pool is not None:
                address = self._pools.lease(active.group.address_pool, owner=active.key)
                if address is None:
                    _log.warn("ip local pool {pool} exhausted", pool=active.group.address_pool)
                    decision = replace(decision, accepted=False, message="no address available")
                else:
                    active.leased = True
            if decision.accepted and address is None:
                decision = replace(decision, accepted=False, message="no address to assign")
            if decision.accepted and address is not None:
                active.address = address
                active.ppp.set_peer_address(address)
        active.authorized = decision if decision.accepted else None
        active.ppp.authentication_result(
            decision.accepted,
            self._now(),
            message=decision.message,
            mschapv2_authenticator_response=decision.mschapv2_authenticator_response,
            address=active.address if decision.accepted else None,
            failure_code=decision.failure_code,
        )
        if decision.accepted:
            active.sid = self._next_sid
            self._next_sid += 1
            pix_log(109011, f"Authen Session Start: user '{active.username}', sid {active.sid}")

    # --- link up / down -------------------------------------------------------------------------

    def _link_up(self, active: ActiveSession, event: LinkUp, now: float) -> None:
        active.up_at = now
        active.last_active = now
        # AAA's word for this user (RFC 2865 §5.27, §5.28) over the group's vpn-*-timeout
        granted, group = active.authorized, active.group
        session_timeout = (granted and granted.session_timeout) or (
            group.vpn_session_timeout and group.vpn_session_timeout * 60)
        if session_timeout:
            active.ends_at = now + session_timeout
        active.idle_timeout = (granted and granted.idle_timeout) or (
            group.vpn_idle_timeout and group.vpn_idle_timeout * 60) or None
        self._arm_limit(active)
        self._link_is_up.add(active.key)
        active.address = event.peer_address
        key = active.key

        def deliver(packet: bytes) -> None:
            current = self.sessions.get(key)
            if current is None:
                return
            current.last_active = self._now()
            current.ppp.send_ip(packet, current.last_active)
            self._dirty.add(key)
            self._pump()

        if self._dataplane is not None:
            self._dataplane.add_client_route(
                event.peer_address, deliver, active.ppp.settings.mru_cap
            )
        self._uauth_most = max(self._uauth_most, len(self._link_is_up))
        pix_log(
            603106,
            f"L2TP Tunnel created, tunnel_id is {key.tunnel_id}, remote_peer_ip is "
            f"{active.peer.address} ppp_virtual_interface_id is {active.interface_id}, "
            f"client_dynamic_ip is {event.peer_address} username is {event.username}",
        )
        self.accounting.session_started(active)

    def _link_down(self, active: ActiveSession, event: LinkDown, now: float) -> None:
        # The link's last words (an authentication Failure, Terminate-Request) go before the CDN.
        if self._l2tp.session_open(active.key):
            for frame in active.ppp.frames_to_send(now):
                self._l2tp.send_ppp(active.key, frame, now)
        if active.address is not None and self._dataplane is not None and active.up_at is not None:
            self._dataplane.remove_client_route(active.address)
        if active.leased and active.address is not None:
            self._pools.release(active.address)
        if active.authorized is not None:
            elapsed = int(now - (active.up_at if active.up_at is not None else active.started_at))
            pix_log(
                109012,
                f"Authen Session End: user '{active.username}', sid {active.sid}, "
                f"elapsed {elapsed} seconds",
            )
        if active.up_at is not None:
            self.accounting.session_stopped(active, event.reason)
        self._deadlines.cancel(active.key)
        self._limits.cancel(active.key)
        if self._l2tp.session_open(active.key):
            self._l2tp.close_session(active.key, CDN_ADMINISTRATIVE, now, event.reason)
        del self.sessions[active.key]
        self._authenticating.discard(active.key)
        self._link_is_up.discard(active.key)
