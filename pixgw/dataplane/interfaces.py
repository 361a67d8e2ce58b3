"""The dataplane seam: where ESP SAs live and how L2TP and inside IP packets move.

Three implementations provide :class:`IDataplane`: ``userspace`` (ESP in Python, RFC 4303 and
RFC 3948), ``xfrm`` (kernel ESP over NETLINK_XFRM) and ``memory`` (an in-memory fake for tests).

Ownership: the IKE transport owns UDP 500 and 4500. Datagrams on 4500 that are not IKE (no
non-ESP marker, RFC 3948 §2.2) are handed to :meth:`IDataplane.esp_in_udp_received`; the dataplane
sends ESP-in-UDP through the ``send_udp`` callable it is given. Decapsulated L2TP (UDP 1701 to the
gateway) goes to the ``l2tp_received`` callable with an :class:`L2tpPeer` that names the SA it
came through, so that clients behind one NAT never collide.
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address

from zope.interface import Attribute, Interface

from pixgw.ike.events import ChildSaDeleted, ChildSaEstablished, RekeyRequested
from pixgw.l2tp.peer import L2tpPeer
from pixgw.status import DataplaneCounters, SaCounters

__all__ = [
    "DataplaneCounters",
    "IDataplane",
    "IpReceived",
    "L2tpPeer",
    "L2tpReceived",
    "LifetimeListener",
    "SaCounters",
    "SendUdp",
]


SendUdp = Callable[[bytes, tuple[str, int]], None]
L2tpReceived = Callable[[L2tpPeer, bytes], None]
IpReceived = Callable[[bytes], None]
# Soft expiry -> RekeyRequested (the IKE core decides); hard expiry -> the SA pair is already gone
# from the dataplane and ChildSaDeleted(reason="lifetime expired") tells IKE to send a Delete.
LifetimeListener = Callable[[RekeyRequested | ChildSaDeleted], None]


class IDataplane(Interface):
    """ESP SAs, L2TP delivery, and the TUN device for the inside network."""

    name = Attribute("'userspace', 'xfrm' or 'memory'")

    def start(l2tp_received: L2tpReceived, send_udp: SendUdp) -> None:
        """Open what the backend needs (raw ESP socket, TUN, netlink). *l2tp_received* is called
        with every L2TP datagram that arrived through an SA."""

    def stop() -> None:
        """Remove our SAs, routes and devices; close sockets."""

    def install_inbound_sa(event: ChildSaEstablished) -> None:
        """Quick mode message 2 went out: install the inbound half of *event* so that what the
        initiator sends on it at once is taken in. Outbound traffic stays on the pair it was on
        until :meth:`install_child_sa` with the same ``child_sa_id``."""

    def install_child_sa(event: ChildSaEstablished) -> None:
        """Quick mode finished: install the outbound SA (and the inbound one, unless
        :meth:`install_inbound_sa` put it in already) and send on the new pair from now on."""

    def remove_child_sa(event: ChildSaDeleted) -> None:
        """Remove both SAs of a child SA, or the inbound half of one that never finished;
        unknown ids are ignored."""

    def esp_in_udp_received(data: bytes, source: tuple[str, int]) -> None:
        """ESP from UDP 4500 (RFC 3948 §2.1): the IKE shell classified the datagram, once, and
        kept IKE (non-ESP marker, §2.2) and NAT keepalives (§2.3) for itself."""

    def send_l2tp(peer: L2tpPeer, payload: bytes) -> None:
        """Send an L2TP datagram (UDP payload, from local port 1701) to *peer* through its SA."""

    def add_client_route(address: IPv4Address, deliver: IpReceived, mtu: int) -> None:
        """Packets from the inside network to *address* (a pool address) are given to
        *deliver*; TCP MSS in both directions is clamped to fit *mtu*."""

    def remove_client_route(address: IPv4Address) -> None:
        """Stop delivering to *address*."""

    def send_ip(packet: bytes) -> None:
        """An IP packet from a client (out of PPP) towards the inside network."""

    def sa_counters(child_sa_id: int) -> SaCounters | None:
        """Counters of one child SA, or None when the dataplane has no such SA."""

    def counters() -> DataplaneCounters:
        """Dataplane-wide drop counters."""

    def set_lifetime_listener(listener: LifetimeListener) -> None:
        """Who hears of soft (RekeyRequested) and hard (ChildSaDeleted) lifetime expiries."""

    def note_l2tp_without_ipsec(source: tuple[str, int] | None) -> None:
        """Count a plain UDP 1701 datagram that arrived without IPsec (dropped)."""
