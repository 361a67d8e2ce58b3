"""The gateway: the registries of what is up, and the routing of events between the layers.

One :class:`Gateway` per process. It owns the sans-I/O cores — the IKE responder, the L2TP LNS,
one PPP session per L2TP call — and drives them with the reactor's clock; it connects them to the
dataplane (ESP SAs, L2TP delivery, the TUN device), to AAA (a PPP authentication request becomes a
twisted.cred login, :mod:`pixgw.links`) and to the address pools, and it keeps the registries
every ``show`` command renders (uauth, PPP interfaces, tunnels, sessions, SAs) through
:class:`pixgw.view.GatewayView`. 603107 (L2TP tunnel deleted) is written here; the user's link
writes 603106 and 109011/109012 (:mod:`pixgw.links`).

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
from collections.abc import Callable
from ipaddress import IPv4Address
from typing import Any

from pixgw.config.model import PixConfig
from pixgw.dataplane.interfaces import IDataplane, L2tpPeer
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
from pixgw.l2tp.core import L2tpLns, L2tpSettings
from pixgw.l2tp.events import (
    PppFrameReceived,
    SessionClosed,
    SessionEstablished,
    SessionKey,
    TunnelClosed,
)
from pixgw.links import (
    Accounting,
    ActiveSession,
    Authenticate,
    NoAccounting,
    PppLinks,
    l2tp_group,
    local_link_address,
)
from pixgw.logrouter import PixLogRouter
from pixgw.pool import AddressPools
from pixgw.syslog import pix_log

__all__ = [
    "Accounting", "ActiveSession", "Authenticate", "Gateway", "NoAccounting", "l2tp_group",
    "local_link_address",
]

# L2TP StopCCN result codes (RFC 2661 §4.4.2)
STOPCCN_SHUTDOWN = 6  # "Requester is being shut down"
STOPCCN_CLEAR = 1  # "General request to clear control connection"

# PixConfig fields a reload cannot put in force: they are built into services at start.
RELOADED_AT_RESTART = (
    "hostname", "domain_name", "interfaces", "aaa_servers", "aaa_ports", "usernames", "ca", "vpdn",
)


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
        self.save_config = save_config
        self.dataplane = dataplane
        self.ike = ike
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
        self.links = PppLinks(
            config=lambda: self.config, l2tp=self.l2tp, pools=self.pools, dataplane=dataplane,
            now=self.now, pump=self.pump, random_bytes=random_bytes,
            authenticate=authenticate, accounting=accounting,
        )
        self.sessions: dict[SessionKey, ActiveSession] = self.links.sessions
        self._pumping = False
        self._again = False
        self._ike_children: dict[bytes, set[int]] = {}  # IKE SA -> its live child SAs
        self._ike_timer = CoreTimer(reactor, self._ike_timer_fired)
        # The IKE timer is asked again only after something reached the responder (a datagram,
        # its timer, a delete) or it gave something out: an L2TP or PPP frame does not move it.
        self._ike_touched = True
        self._ppp_timer = CoreTimer(reactor, self._ppp_timer_fired)
        self._l2tp_timer = CoreTimer(reactor, self._l2tp_timer_fired)
        self.running = False
        self.pki: Any = None  # pixgw.pki.commands.CaExec, set by the service (``ca`` commands)
        self.gc_policy: Any = None  # pixgw.gcpolicy.GcPolicy, set by the service (show memory)

    # the AAA seams live with the links; tests and the service may put them in after the start
    @property
    def authenticate(self) -> Authenticate | None:
        return self.links.authenticate

    @authenticate.setter
    def authenticate(self, value: Authenticate | None) -> None:
        self.links.authenticate = value

    @property
    def accounting(self) -> Accounting:
        return self.links.accounting

    @accounting.setter
    def accounting(self, value: Accounting | None) -> None:
        self.links.accounting = value or NoAccounting()

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        if self.dataplane is not None:
            self.dataplane.start(self.l2tp_received, self._send_udp)
            self.dataplane.set_lifetime_listener(self._lifetime_event)
        self.running = True

    def stop(self) -> None:
        """Close every link and tunnel (their goodbyes go out), return every lease."""
        now = self.now()
        self.links.close("gateway shutting down", now)
        for key in self.l2tp.tunnel_keys():
            self.l2tp.close_tunnel(key, STOPCCN_SHUTDOWN, now, "gateway shutting down")
        self.clear_ike_sas()
        self._ike_timer.cancel()
        self._l2tp_timer.cancel()
        self._ppp_timer.cancel()
        self.links.stop_timers()
        if self.dataplane is not None:
            self.dataplane.stop()
        self.running = False

    def now(self) -> float:
        return float(self.reactor.seconds())

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

    # --- inputs from the shells and the administrator -------------------------------------------

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

    def clear_tunnels(self, tunnel_id: int | None) -> int:
        """``clear vpdn tunnel``: the L2TP tunnels (one or all) closed with a StopCCN."""
        now = self.now()
        cleared = 0
        for key in self.l2tp.tunnel_keys():
            if tunnel_id is None or key.tunnel_id == tunnel_id:
                self.l2tp.close_tunnel(key, STOPCCN_CLEAR, now, "cleared by administrator")
                cleared += 1
        self.pump()
        return cleared

    def clear_links(self, username: str | None = None) -> int:
        """``clear uauth``: the PPP links that are up (of one user, or all) closed."""
        cleared = self.links.close("uauth cleared by administrator", self.now(), username,
                                   established_only=True)
        self.pump()
        return cleared

    def clear_ike_sas(self) -> None:
        """Every IKE SA deleted (its child SAs and tunnels go too)."""
        if self.ike is not None:
            now = self.now()
            self._ike_touched = True
            for sa in self.ike.isakmp_sa_status(now):
                self.ike.delete_ike_sa(sa.ike_sa_id, now)
        self.pump()

    def clear_child_sas(self) -> None:
        """Every child SA deleted (the L2TP tunnels on them close)."""
        if self.ike is not None:
            now = self.now()
            self._ike_touched = True
            for child in self.ike.ipsec_sa_status(now):
                self.ike.delete_child_sa(child.inbound_conn_id, now)  # the child SA id
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
                if self.links.drain(self.now()):
                    self._again = True
                if not self._again and not self.links.dirty:
                    break
        finally:
            self._pumping = False
            # whatever raised above, every core's timer is set again (a core whose timer is
            # never re-armed stalls for good: no retransmission, no hello, no lifetime)
            if self.ike is not None and self._ike_touched:
                self._ike_touched = False
                self._ike_timer.set(self.ike.get_timer())
            self._l2tp_timer.set(self.l2tp.get_timer())
            self._ppp_timer.set(self.links.earliest())

    def _ike_timer_fired(self) -> None:
        try:
            if self.ike is not None:
                self._ike_touched = True
                self.ike.handle_timer(self.now())
        finally:
            self.pump()

    def _l2tp_timer_fired(self) -> None:
        try:
            self.l2tp.handle_timer(self.now())
        finally:
            self.pump()

    def _ppp_timer_fired(self) -> None:
        try:
            self.links.handle_timer(self.now())
        finally:
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
                self.links.frame_received(event.key, event.frame, now)
                continue
            self._again = True
            if isinstance(event, SessionEstablished):
                self.links.open(event, now)
            elif isinstance(event, SessionClosed):
                self.links.call_closed(event.key, event.message, now)
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
