"""The gateway: the registries of what is up, and the routing of events between the layers.

One :class:`Gateway` per process. It owns the sans-I/O cores — the IKE responder, the L2TP LNS,
one PPP session per L2TP call — and drives them with the reactor's clock; it connects them to the
dataplane (ESP SAs, L2TP delivery, the TUN device), to AAA (a PPP authentication request becomes a
twisted.cred login) and to the address pools, and it keeps the registries every ``show`` command
renders (uauth, PPP interfaces, tunnels, sessions, SAs). The PIX syslog messages that need more
than one layer's knowledge are written here: 603106/603107 (L2TP tunnel created/deleted) and
109011/109012 (authentication session start/end).

The event routing, in short::

    IKE  ChildSaPending     -> dataplane.install_inbound_sa (quick mode message 2 sent)
         ChildSaEstablished -> dataplane.install_child_sa (message 3: outbound switches over)
         ChildSaDeleted     -> dataplane.remove_child_sa; L2TP tunnels riding only on it close
         IkeSaDeleted       -> (its child SAs were deleted before)
    dataplane L2TP datagram -> L2TP core;   L2TP datagrams out -> dataplane.send_l2tp
    L2TP SessionEstablished -> a new PPP session;  PppFrameReceived -> that session
         SessionClosed      -> PPP closed;  TunnelClosed -> 603107, the child SA deleted
    PPP  AuthenticationRequested -> AAA -> pool lease -> authentication_result
         LinkUp             -> client route on the dataplane, 603106, 109011, uauth, accounting
         IpPacketReceived   -> dataplane.send_ip (towards the inside network)
         LinkDown           -> CDN, route and lease released, 109012, accounting stop
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from ipaddress import IPv4Address
from typing import Any, Protocol

import twisted
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.logger import Logger
from twisted.python.failure import Failure

import pixgw
from pixgw.aaa.interfaces import AuthDecision, ClientInfo
from pixgw.aaa.snapshot import aaa_status
from pixgw.config.model import PixConfig, VpdnGroup
from pixgw.config.render import render
from pixgw.dataplane.interfaces import IDataplane, L2tpPeer
from pixgw.deadlines import Deadlines
from pixgw.driver import CoreTimer
from pixgw.ike.core import IkeResponder
from pixgw.ike.events import (
    ChildSaDeleted,
    ChildSaEstablished,
    ChildSaPending,
    Endpoint,
    IkeSaDeleted,
    RekeyRequested,
)
from pixgw.ike.transport import IkeUdpPorts
from pixgw.l2tp.core import (
    L2tpLns,
    L2tpSettings,
    PppFrameReceived,
    SessionClosed,
    SessionEstablished,
    SessionKey,
    TunnelClosed,
    TunnelEstablished,
)
from pixgw.logrouter import PixLogRouter
from pixgw.pool import AddressPools
from pixgw.ppp.auth import AuthenticationRequested
from pixgw.ppp.session import IpPacketReceived, LinkDown, LinkUp, PppSession, PppSettings
from pixgw.status import (
    IpLocalPoolStatus,
    IpsecSaStatus,
    IsakmpSaStatus,
    IsakmpStats,
    L2tpSessionStatus,
    L2tpTunnelStatus,
    PppInterfaceStatus,
    UauthEntry,
    UauthStatus,
)
from pixgw.syslog import pix_log

_log = Logger(namespace="pixgw.gateway")

# L2TP CDN/StopCCN result codes (RFC 2661 §4.4.2)
CDN_ADMINISTRATIVE = 3
CDN_GENERAL_ERROR = 2
STOPCCN_SHUTDOWN = 6  # "Requester is being shut down"
STOPCCN_CLEAR = 1  # "General request to clear control connection"


@dataclass(frozen=True)
class VersionInfo:
    pixgw: str
    twisted: str
    python: str
    system: str


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


# PixConfig fields a reload cannot put in force: they are built into services at start.
RELOADED_AT_RESTART = (
    "hostname", "domain_name", "interfaces", "aaa_servers", "aaa_ports", "usernames", "ca", "vpdn",
)


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


class Gateway:
    def __init__(
        self,
        config: PixConfig,
        *,
        reactor: Any,
        log_router: PixLogRouter,
        dataplane: IDataplane | None = None,
        ike: IkeResponder | None = None,
        authenticate: Authenticate | None = None,
        accounting: Accounting | None = None,
        random_bytes: Callable[[int], bytes] = os.urandom,
        config_path: str | None = None,
        dataplane_name: str = "userspace",
        save_config: Callable[[str], None] | None = None,
        send_ike: Callable[[bytes, Endpoint, Endpoint], None] | None = None,
        send_esp_udp: Callable[[bytes, tuple[str, int]], None] | None = None,
        local_address: IPv4Address | None = None,
    ) -> None:
        self.config = config
        self.reactor = reactor
        self.log_router = log_router
        self.config_path = config_path
        self.dataplane_name = dataplane.name if dataplane is not None else dataplane_name
        self.started_at = reactor.seconds()
        self._save_config = save_config
        self._random_bytes = random_bytes
        self.dataplane = dataplane
        self.ike = ike
        self.authenticate = authenticate
        self.accounting: Accounting = accounting or NoAccounting()
        self.send_ike = send_ike
        self.ike_ports: IkeUdpPorts | None = None  # the shell, for its send error counters
        self.send_esp_udp = send_esp_udp
        self.pools = AddressPools(config.pools)
        group = l2tp_group(config)
        self.l2tp = L2tpLns(
            L2tpSettings.from_vpdn_group(
                group, hostname=config.hostname, local_address=local_address
            )
            if group is not None
            else L2tpSettings(host_name=config.hostname, local_address=local_address),
            random_bytes=random_bytes,
        )
        self.sessions: dict[SessionKey, ActiveSession] = {}
        self._next_interface_id = 1
        self._next_sid = 0
        self._uauth_most = 0
        self._in_progress_most = 0
        # sessions with AAA thinking / with the link up: counted for show uauth without a scan
        self._authenticating: set[SessionKey] = set()
        self._link_is_up: set[SessionKey] = set()
        self._pumping = False
        self._again = False
        self._dirty: set[SessionKey] = set()
        self._ike_children: dict[bytes, set[int]] = {}  # IKE SA -> its live child SAs
        self._ike_timer = CoreTimer(reactor, self._ike_timer_fired)
        # The IKE timer is asked again only after something reached the responder (a datagram,
        # its timer, a delete) or it gave something out: an L2TP or PPP frame does not move it.
        self._ike_touched = True
        # every PPP session's next deadline, behind one reactor timer (not a DelayedCall each)
        self._ppp_deadlines: Deadlines[SessionKey] = Deadlines()
        self._ppp_timer = CoreTimer(reactor, self._ppp_timer_fired)
        self._l2tp_timer = CoreTimer(reactor, self._l2tp_timer_fired)
        self.running = False
        self.pki: Any = None  # pixgw.pki.commands.CaExec, set by the service (``ca`` commands)

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        if self.dataplane is not None:
            self.dataplane.start(self.l2tp_received, self._send_udp)
            self.dataplane.set_lifetime_listener(self._lifetime_event)
        self.running = True

    def stop(self) -> None:
        """Close every link and tunnel (their goodbyes go out), return every lease."""
        now = self.now()
        for active in list(self.sessions.values()):
            active.ppp.close("gateway shutting down", now)
            self._dirty.add(active.key)
        for key in self.l2tp.tunnel_keys():
            self.l2tp.close_tunnel(key, STOPCCN_SHUTDOWN, now, "gateway shutting down")
        if self.ike is not None:
            self._ike_touched = True
            for sa in self.ike.isakmp_sa_status(now):
                self.ike.delete_ike_sa(sa.ike_sa_id, now)
        self.pump()
        self._ike_timer.cancel()
        self._l2tp_timer.cancel()
        self._ppp_timer.cancel()
        self._ppp_deadlines = Deadlines()
        if self.dataplane is not None:
            self.dataplane.stop()
        self.running = False

    def now(self) -> float:
        return float(self.reactor.seconds())

    def uptime(self) -> float:
        return self.now() - float(self.started_at)

    # --- inputs from the shells -----------------------------------------------------------------

    def ike_received(self, data: bytes, local: Endpoint, remote: Endpoint) -> None:
        if self.ike is None:
            return
        self._ike_touched = True
        self.ike.receive_datagram(data, local, remote, self.now())
        self.pump()

    def l2tp_received(self, peer: L2tpPeer, data: bytes) -> None:
        self.l2tp.receive_datagram(data, peer, self.now())
        self.pump()

    def _send_udp(self, data: bytes, address: tuple[str, int]) -> None:
        """The dataplane's ESP-in-UDP out of our port 4500 (the IKE shell owns the socket)."""
        if self.send_esp_udp is not None:
            self.send_esp_udp(data, address)

    def _lifetime_event(self, event: RekeyRequested | ChildSaDeleted) -> None:
        if isinstance(event, ChildSaDeleted):
            if self.ike is not None:
                self._ike_touched = True
                self.ike.delete_child_sa(event.child_sa_id, self.now())
            else:
                self._child_sa_gone(event)
        # RekeyRequested: the client rekeys; we never start a quick mode towards it (Windows
        # behind NAT refuses one). The hard lifetime deletes the SA if the client does not.
        self.pump()

    # --- the pump: drain every core until nothing moves ------------------------------------------

    def pump(self) -> None:
        if self._pumping:
            self._again = True
            return
        self._pumping = True
        try:
            for _ in range(10000):  # bounded: each round consumes queued output
                self._again = False
                if self._ike_touched:  # else the responder has nothing to give
                    self._drain_ike()
                self._drain_l2tp()
                self._drain_ppp()
                if not self._again and not self._dirty:
                    break
        finally:
            self._pumping = False
        if self.ike is not None and self._ike_touched:
            self._ike_touched = False
            self._ike_timer.set(self.ike.get_timer())
        self._l2tp_timer.set(self.l2tp.get_timer())
        self._ppp_timer.set(self._ppp_deadlines.earliest())

    def _ike_timer_fired(self) -> None:
        if self.ike is not None:
            self._ike_touched = True
            self.ike.handle_timer(self.now())
        self.pump()

    def _l2tp_timer_fired(self) -> None:
        self.l2tp.handle_timer(self.now())
        self.pump()

    def _ppp_timer_fired(self) -> None:
        now = self.now()
        for key in self._ppp_deadlines.pop_due(now):
            current = self.sessions.get(key)
            if current is None:
                continue
            current.ppp.handle_timer(now)
            self._dirty.add(current.key)
        self.pump()

    def _drain_ike(self) -> None:
        ike = self.ike
        if ike is None:
            return
        now = self.now()
        for data, local, remote in ike.datagrams_to_send(now):
            self._ike_touched = True  # a message sent: a retransmission timer
            if self.send_ike is not None:
                self.send_ike(data, local, remote)
        while (event := ike.next_event()) is not None:
            self._again = True
            self._ike_touched = True
            if isinstance(event, ChildSaPending):
                if self.dataplane is not None:
                    self.dataplane.install_inbound_sa(event.sa)
            elif isinstance(event, ChildSaEstablished):
                self._ike_children.setdefault(event.ike_sa_id, set()).add(event.child_sa_id)
                if self.dataplane is not None:
                    self.dataplane.install_child_sa(event)
            elif isinstance(event, ChildSaDeleted):
                children = self._ike_children.get(event.ike_sa_id)
                if children is not None:
                    children.discard(event.child_sa_id)
                self._child_sa_gone(event)
            elif isinstance(event, IkeSaDeleted):
                # IPsec SAs outlive their phase 1 (the client rekeys it); DPD and
                # INITIAL-CONTACT send ChildSaDeleted for them first.
                self._ike_children.pop(event.ike_sa_id, None)

    def _child_sa_gone(self, event: ChildSaDeleted) -> None:
        if self.dataplane is not None:
            self.dataplane.remove_child_sa(event)
        # L2TP tunnels that rode on this SA close unless the client has another SA to the same
        # outer endpoint (a rekey: the old SA goes after the new one is up).
        now = self.now()
        for key in self.l2tp.tunnel_keys_on_child(event.child_sa_id):
            peer = self.l2tp.peer_of(key)
            if peer is None or (
                self.ike is not None and self.ike.child_to(peer.address, peer.outer_port)
            ):
                continue
            self.l2tp.close_tunnel(key, STOPCCN_CLEAR, now, "IPsec SA deleted")

    def _drain_l2tp(self) -> None:
        now = self.now()
        for data, peer in self.l2tp.datagrams_to_send(now):
            if self.dataplane is not None:
                self.dataplane.send_l2tp(peer, data)
        while (event := self.l2tp.next_event()) is not None:
            if isinstance(event, PppFrameReceived):  # the PPP drain below takes it this round
                active = self.sessions.get(event.key)
                if active is not None:
                    active.ppp.receive_frame(event.frame, now)
                    self._dirty.add(event.key)
                continue
            self._again = True
            if isinstance(event, SessionEstablished):
                self._session_established(event, now)
            elif isinstance(event, SessionClosed):
                active = self.sessions.get(event.key)
                if active is not None and not active.closing:
                    active.closing = True
                    active.ppp.close(event.message or "L2TP session closed", now)
                    self._dirty.add(event.key)
            elif isinstance(event, TunnelClosed):
                if event.was_established:
                    pix_log(
                        603107,
                        f"L2TP Tunnel deleted, tunnel_id = {event.key.tunnel_id}, "
                        f"remote_peer_ip = {event.peer.address}",
                    )
                if (
                    self.ike is not None
                    and event.peer.child_sa_id is not None
                    and not self._other_tunnels_on(event.peer.child_sa_id, event.key.tunnel_id)
                ):
                    self._tunnel_gone_from_sa(event.peer.child_sa_id, now)
            elif isinstance(event, TunnelEstablished):
                pass

    def _tunnel_gone_from_sa(self, child_sa_id: int, now: float) -> None:
        """The last L2TP tunnel on a child SA ended: the SA goes (the PIX tears the SAs down
        with the tunnel), and so does its phase 1 when no other child SA is left on it — a
        client that vanished leaves nothing behind, DPD or not."""
        assert self.ike is not None
        child = self.ike.child_sa(child_sa_id)
        self._ike_touched = True
        self.ike.delete_child_sa(child_sa_id, now)
        if child is None:
            return
        remaining = self._ike_children.get(child.ike_sa_id, set()) - {child_sa_id}
        if not remaining:
            self.ike.delete_ike_sa(child.ike_sa_id, now)

    def _other_tunnels_on(self, child_sa_id: int, except_tunnel: int) -> bool:
        return any(
            key.tunnel_id != except_tunnel for key in self.l2tp.tunnel_keys_on_child(child_sa_id)
        )

    def _session_established(self, event: SessionEstablished, now: float) -> None:
        group = l2tp_group(self.config)
        if group is None:  # no vpdn group accepts L2TP: refuse the call
            self.l2tp.close_session(event.key, CDN_GENERAL_ERROR, now, "no vpdn group")
            return
        interface_id = self._next_interface_id
        self._next_interface_id += 1
        settings = PppSettings.from_vpdn_group(
            group, interface_id=interface_id, local_address=local_link_address(self.config)
        )
        ppp = PppSession(settings, random_bytes=self._random_bytes)
        active = ActiveSession(
            key=event.key,
            peer=event.peer,
            ppp=ppp,
            interface_id=interface_id,
            remote_tunnel_id=event.remote_tunnel_id,
            remote_host_name=event.remote_host_name,
            group=group,
            started_at=now,
        )
        self.sessions[event.key] = active
        ppp.start(now)
        self._dirty.add(event.key)

    def _drain_ppp(self) -> None:
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, set()
        now = self.now()
        for key in dirty:
            active = self.sessions.get(key)
            if active is None:
                continue
            for frame in active.ppp.frames_to_send(now):
                if not active.closing or self._l2tp_session_open(key):
                    self.l2tp.send_ppp(key, frame, now)
                    self._again = True  # the LNS has datagrams to flush
            while (event := active.ppp.next_event()) is not None:
                if isinstance(event, IpPacketReceived):  # to the TUN: no core has more to do
                    if self.dataplane is not None:
                        self.dataplane.send_ip(event.packet)
                    continue
                self._again = True
                if isinstance(event, AuthenticationRequested):
                    self._authenticate(active, event)
                elif isinstance(event, LinkUp):
                    self._link_up(active, event, now)
                elif isinstance(event, LinkDown):
                    self._link_down(active, event, now)
            if key in self.sessions:
                self._schedule_ppp(active)

    def _l2tp_session_open(self, key: SessionKey) -> bool:
        return self.l2tp.session_open(key)

    def _schedule_ppp(self, active: ActiveSession) -> None:
        if active.timer_epoch == active.ppp.timer_epoch:
            return  # only IP went through: no PPP timer moved
        active.timer_epoch = active.ppp.timer_epoch
        self._ppp_deadlines.set(active.key, active.ppp.get_timer())

    # --- authentication ---------------------------------------------------------------------------

    def _authenticate(self, active: ActiveSession, request: AuthenticationRequested) -> None:
        active.username = request.username
        active.authenticating = True
        self._authenticating.add(active.key)
        self._in_progress_most = max(self._in_progress_most, self._in_progress())
        client = ClientInfo(
            outer_address=active.peer.address,
            outer_port=active.peer.outer_port,
            interface_id=active.interface_id,
            tunnel_id=active.key.tunnel_id,
            session_id=active.key.session_id,
            remote_host_name=active.remote_host_name,
            local_address=local_link_address(self.config),
        )
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
            self.pump()

        def failed(failure: Failure) -> None:
            _log.failure("authentication of {user} failed", failure, user=request.username)
            answered(AuthDecision(False, "authentication server error"))

        decision.addCallbacks(answered, failed)

    def _answer(self, active: ActiveSession, decision: AuthDecision) -> None:
        now = self.now()
        if decision.accepted:
            address = decision.address
            if address is not None:
                # An address from AAA, in a pool or not, is claimed so no one else gets it.
                if not self.pools.claim(address, owner=active.key):
                    decision = replace(decision, accepted=False, message="address in use")
                else:
                    active.leased = True
            elif active.group.address_pool is not None:
                address = self.pools.lease(active.group.address_pool, owner=active.key)
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
            now,
            message=decision.message,
            mschapv2_authenticator_response=decision.mschapv2_authenticator_response,
            address=active.address if decision.accepted else None,
            failure_code=decision.failure_code,
        )
        if decision.accepted:
            active.sid = self._next_sid
            self._next_sid += 1
            pix_log(109011, f"Authen Session Start: user '{active.username}', sid {active.sid}")

    def _in_progress(self) -> int:
        return len(self._authenticating)

    # --- link up / down -------------------------------------------------------------------------

    def _link_up(self, active: ActiveSession, event: LinkUp, now: float) -> None:
        active.up_at = now
        self._link_is_up.add(active.key)
        active.address = event.peer_address
        key = active.key

        def deliver(packet: bytes) -> None:
            current = self.sessions.get(key)
            if current is None:
                return
            current.ppp.send_ip(packet, self.now())
            self._dirty.add(key)
            self.pump()

        if self.dataplane is not None:
            self.dataplane.add_client_route(
                event.peer_address, deliver, active.ppp.settings.mru_cap
            )
        self._uauth_most = max(self._uauth_most, self._authenticated())
        pix_log(
            603106,
            f"L2TP Tunnel created, tunnel_id is {key.tunnel_id}, remote_peer_ip is "
            f"{active.peer.address} ppp_virtual_interface_id is {active.interface_id}, "
            f"client_dynamic_ip is {event.peer_address} username is {event.username}",
        )
        self.accounting.session_started(active)

    def _link_down(self, active: ActiveSession, event: LinkDown, now: float) -> None:
        # The link's last words (an authentication Failure, Terminate-Request) go before the CDN.
        if self._l2tp_session_open(active.key):
            for frame in active.ppp.frames_to_send(now):
                self.l2tp.send_ppp(active.key, frame, now)
        if active.address is not None and self.dataplane is not None and active.up_at is not None:
            self.dataplane.remove_client_route(active.address)
        if active.leased and active.address is not None:
            self.pools.release(active.address)
        if active.authorized is not None:
            elapsed = int(now - (active.up_at if active.up_at is not None else active.started_at))
            pix_log(
                109012,
                f"Authen Session End: user '{active.username}', sid {active.sid}, "
                f"elapsed {elapsed} seconds",
            )
        if active.up_at is not None:
            self.accounting.session_stopped(active, event.reason)
        self._ppp_deadlines.cancel(active.key)
        if self._l2tp_session_open(active.key):
            self.l2tp.close_session(active.key, CDN_ADMINISTRATIVE, now, event.reason)
        del self.sessions[active.key]
        self._authenticating.discard(active.key)
        self._link_is_up.discard(active.key)

    def _authenticated(self) -> int:
        return len(self._link_is_up)

    # --- what the CLI reads and does --------------------------------------------------------------

    def running_config(self) -> PixConfig:
        """The configuration in force (``show crypto map``, ``show crypto isakmp policy``)."""
        return self.config

    def reload(self, config: PixConfig) -> tuple[str, ...]:
        """Put a re-read configuration in force (SIGHUP, systemd's ExecReload): IKE policies,
        maps and keys for new exchanges, the address pools for new leases, logging at once;
        established SAs, tunnels, sessions and leases stay. ``show running-config`` shows it.
        Returns the changed parts that are built into running services at start (AAA, local
        users, the L2TP group, interfaces, the CA) and so take effect at the next start."""
        later = tuple(
            name for name in RELOADED_AT_RESTART
            if getattr(self.config, name) != getattr(config, name)
        )
        self.config = config
        self.pools.reconfigure(config.pools)
        if self.ike is not None:
            self.ike.reconfigure(config)
        self.log_router.reconfigure(config.logging, config.hostname)
        return later

    def running_config_text(self, *, mask_secrets: bool = True) -> str:
        """``show running-config``: keys and passwords as ``********`` (they never appear in
        output); ``write memory`` writes them in clear to the file."""
        return render(self.config, mask_secrets=mask_secrets)

    def version(self) -> VersionInfo:
        return VersionInfo(
            pixgw=pixgw.__version__,
            twisted=twisted.__version__,
            python=platform.python_version(),
            system=f"{platform.system()} {platform.machine()}",
        )

    def write_memory(self) -> str:
        """``write memory``: the running-config to the config file, atomically."""
        if self._save_config is None or self.config_path is None:
            raise OSError("no configuration file to write to")
        self._save_config(self.running_config_text(mask_secrets=False))
        return self.config_path

    def l2tp_tunnel_status(self) -> Sequence[L2tpTunnelStatus]:
        return self.l2tp.tunnel_status(self.now())

    def l2tp_session_status(self) -> Sequence[L2tpSessionStatus]:
        by_key = {(a.key.tunnel_id, a.key.session_id): a for a in self.sessions.values()}
        out = []
        for status in self.l2tp.session_status(self.now()):
            active = by_key.get((status.tunnel_id, status.call_id))
            if active is not None:
                out.append(
                    replace(status, username=active.username, ppp_interface_id=active.interface_id)
                )
            else:
                out.append(status)
        return tuple(out)

    def clear_vpdn_tunnel(self, tunnel_id: int | None) -> int:
        now = self.now()
        cleared = 0
        for key in self.l2tp.tunnel_keys():
            if tunnel_id is None or key.tunnel_id == tunnel_id:
                self.l2tp.close_tunnel(key, STOPCCN_CLEAR, now, "cleared by administrator")
                cleared += 1
        self.pump()
        return cleared

    def ppp_interfaces(self) -> Sequence[PppInterfaceStatus]:
        ordered = sorted(self.sessions.values(), key=lambda a: a.interface_id)
        return tuple(a.ppp.status() for a in ordered)

    def uauth_status(self) -> UauthStatus:
        entries = tuple(
            UauthEntry(username=a.username, address=a.address, authenticated=a.up_at is not None)
            for a in sorted(self.sessions.values(), key=lambda a: a.interface_id)
            if a.username and (a.up_at is not None or a.authenticating)
        )
        return UauthStatus(
            authenticated_current=self._authenticated(),
            authenticated_most=self._uauth_most,
            in_progress_current=self._in_progress(),
            in_progress_most=self._in_progress_most,
            entries=entries,
        )

    def clear_uauth(self, username: str | None = None) -> int:
        now = self.now()
        cleared = 0
        for active in list(self.sessions.values()):
            if active.up_at is not None and (username is None or active.username == username):
                active.ppp.close("uauth cleared by administrator", now)
                self._dirty.add(active.key)
                cleared += 1
        self.pump()
        return cleared

    def aaa_status(self) -> Any:
        """``show aaa-server``: the AAA backends behind the authenticate/accounting seams."""
        authenticator = getattr(self.authenticate, "authenticator", None)
        accounting = getattr(self.accounting, "accounting", None)
        authorizations = [
            a.authorized.attributes
            for a in self.sessions.values()
            if a.authorized is not None and a.authorized.attributes is not None
        ]
        return aaa_status(
            self.config,
            [authenticator] if authenticator is not None else [],
            accounting,
            authorizations,
        )

    def pool_status(self, *, with_addresses: bool = False) -> Sequence[IpLocalPoolStatus]:
        return self.pools.status(with_addresses=with_addresses)

    def isakmp_sa_status(self) -> Sequence[IsakmpSaStatus]:
        return self.ike.isakmp_sa_status(self.now()) if self.ike is not None else ()

    def isakmp_stats(self) -> IsakmpStats | None:
        if self.ike is None:
            return None
        stats = self.ike.isakmp_stats()
        ports = self.ike_ports
        if ports is not None:
            stats = replace(stats, send_errors=tuple(sorted(ports.send_errors.items())))
        return stats

    def clear_isakmp_sa(self) -> None:
        """``clear crypto isakmp sa``: every IKE SA deleted (its child SAs and tunnels go too)."""
        if self.ike is not None:
            now = self.now()
            self._ike_touched = True
            for sa in self.ike.isakmp_sa_status(now):
                self.ike.delete_ike_sa(sa.ike_sa_id, now)
        self.pump()

    def clear_ipsec_sa(self) -> None:
        """``clear crypto ipsec sa``: every child SA deleted (the L2TP tunnels on them close)."""
        if self.ike is not None:
            now = self.now()
            self._ike_touched = True
            for child in self.ike.ipsec_sa_status(now):
                self.ike.delete_child_sa(child.inbound_conn_id, now)  # the child SA id
        self.pump()

    def ipsec_sa_status(self) -> Sequence[IpsecSaStatus]:
        if self.dataplane is not None and hasattr(self.dataplane, "snapshot"):
            snapshot: Sequence[IpsecSaStatus] = self.dataplane.snapshot()
            return snapshot
        return self.ike.ipsec_sa_status(self.now()) if self.ike is not None else ()
