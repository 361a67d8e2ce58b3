"""The kernel dataplane: ESP SAs and policies installed over NETLINK_XFRM (the messages:
:mod:`pixgw.dataplane.xfrm_netlink`), L2TP on a kernel UDP 1701 socket (RFC 4301 §4.4, RFC 4303,
RFC 3948 through the UDP_ENCAP_ESPINUDP socket option).

Ours are recognised by their reqid (:data:`REQID_BASE` + child SA id): at start and stop every
ESP SA with such a reqid is deleted, never anybody else's. Plain UDP 1701: a catch-all inbound
policy (any source to our address, UDP port 1701, ESP transport template) makes the kernel drop
unprotected L2TP (it counts them in ``/proc/net/xfrm_stat``); several clients behind one NAT
share one outbound selector here, a kernel limitation the userspace dataplane does not have.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import struct
from functools import partial
from ipaddress import IPv4Address
from typing import Any

from zope.interface import implementer

from pixgw.dataplane.base import DataplaneBase
from pixgw.dataplane.interfaces import (
    DataplaneCounters,
    IDataplane,
    IpReceived,
    L2tpPeer,
    SaCounters,
)
from pixgw.dataplane.snapshot import ipsec_sa_status
from pixgw.dataplane.tun import Readers
from pixgw.dataplane.userspace import TunSettings, UserspaceDataplane
from pixgw.dataplane.xfrm_netlink import (
    _REQID_OFFSET,
    IPPROTO_ESP,
    IPPROTO_UDP,
    NETLINK_XFRM,
    REQID_BASE,
    REQID_MASK,
    XFRM_MODE_TRANSPORT,
    XFRM_MODE_TUNNEL,
    XFRM_MSG_EXPIRE,
    XFRM_MSG_NEWSA,
    XFRM_MSG_UPDPOLICY,
    XFRM_POLICY_IN,
    XFRM_POLICY_OUT,
    XFRMNLGRP_EXPIRE,
    XfrmError,
    XfrmSocket,
    _selector,
    counters_from_kernel,
    encode_delpolicy,
    encode_delsa,
    encode_dump_sa,
    encode_newpolicy,
    encode_newsa,
    esp_overhead,
)
from pixgw.ike.events import ChildSaDeleted, ChildSaEstablished, RekeyRequested
from pixgw.status import IpsecSaStatus
from pixgw.syslog import debug

L2TP_PORT = 1701

# --- the dataplane --------------------------------------------------------------------------


@implementer(IDataplane)
class XfrmDataplane(DataplaneBase):
    """IDataplane over kernel ESP. The IKE transport must call :func:`enable_espinudp` on its
    4500 socket. The TUN device and client routes are the same as the userspace dataplane's."""

    name = "xfrm"

    def __init__(
        self,
        reactor: Any,
        *,
        local_address: IPv4Address,
        tun: TunSettings | None = None,
        replay_window: int = 32,
    ) -> None:
        super().__init__()
        self._reactor = reactor
        self._local = local_address
        self._replay_window = replay_window
        self._tun_part = UserspaceDataplane(
            reactor, raw_esp=False, guard_l2tp=False, tun=tun, lifetime_poll_seconds=0
        )
        self._tun_part.on_fatal = self._fatal
        self._xs: XfrmSocket | None = None
        self._expire_sock: socket.socket | None = None
        self._l2tp: socket.socket | None = None
        self._readers = Readers(reactor)
        self._children: dict[int, ChildSaEstablished] = {}
        # outer address -> its child SAs, oldest first: the L2TP socket names a datagram's SA
        # by lookup, not by a scan of every SA per datagram
        self._by_address: dict[IPv4Address, dict[int, None]] = {}
        self._pending: dict[int, ChildSaEstablished] = {}  # inbound SA only (quick mode 2 sent)

    def _fatal(self, why: str) -> None:
        if self.on_fatal is not None:
            self.on_fatal(why)

    def _catch_all(self) -> dict[str, Any]:
        return _selector(None, 0, self._local, 32, protocol=IPPROTO_UDP, destination_port=L2TP_PORT)

    def _open(self) -> None:
        # (failing part-way, stop() takes away what was done: the catch-all policy, sockets, TUN)
        xs = self._xs = XfrmSocket()
        self.flush_ours()
        xs.request(
            lambda seq: encode_newpolicy(
                selector=self._catch_all(),
                direction=XFRM_POLICY_IN,
                template_source=None,
                template_destination=None,
                reqid=0,
                priority=0xFFFF,
                seq=seq,
                msg_type=XFRM_MSG_UPDPOLICY,
            )
        )

        def l2tp_datagram(_: bytes) -> None:
            return None

        # each socket is the readers' (closed at stop) before anything on it can fail
        l2tp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._l2tp = l2tp
        self._readers.add_socket(l2tp, l2tp_datagram, self._read_l2tp)
        l2tp.setblocking(False)
        l2tp.bind((str(self._local), L2TP_PORT))
        expire = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_XFRM)
        self._expire_sock = expire
        self._readers.add_socket(expire, self._expire_received)
        expire.bind((0, 1 << (XFRMNLGRP_EXPIRE - 1)))
        expire.setblocking(False)
        # the kernel does ESP: the TUN part holds no SA, so it neither takes L2TP nor sends UDP
        self._tun_part.start(lambda p, d: None, lambda data, to: None)

    def _read_l2tp(self, size: int) -> bytes:
        if self._l2tp is None:
            return b""
        data, (host, port) = self._l2tp.recvfrom(size)
        address = IPv4Address(host)
        outer = 0
        child_id: int | None = None
        on_address = self._by_address.get(address)
        if on_address:  # the newest SA of that address (a rekey's new pair takes over)
            child_id = next(reversed(on_address))
            event = self._children[child_id]
            outer = event.remote.port if event.encapsulation.startswith("udp") else 0
        if self._l2tp_received is not None:
            # The kernel already removed ESP; child_sa_id is informational here.
            self._l2tp_received(L2tpPeer(child_id, address, outer, port), data)
        return data

    def _expire_received(self, data: bytes) -> None:
        if len(data) < 16 + 224:
            return
        length, msg_type = struct.unpack_from("=IH", data)
        if msg_type != XFRM_MSG_EXPIRE:
            return
        body = data[16:length]
        reqid = struct.unpack_from("=I", body, _REQID_OFFSET)[0]
        hard = body[224] if len(body) > 224 else 0
        if reqid & REQID_MASK != REQID_BASE:
            return
        child_id = reqid & 0xFFFF
        event = self._children.get(child_id)
        if event is None:
            return
        if hard:  # the kernel deleted the SA: forget it, listener or not
            gone = event.deleted("lifetime expired")
            self.remove_child_sa(gone)
            self._notify(gone)
        else:
            self._notify(RekeyRequested(child_id))

    def flush_ours(self) -> int:
        """Delete every ESP SA whose reqid marks it as ours; returns how many."""
        if self._xs is None:
            return 0
        xs = self._xs
        answers = xs.request(encode_dump_sa)
        doomed = []
        for msg_type, body in answers:
            if msg_type != XFRM_MSG_NEWSA or len(body) < 224:
                continue
            reqid = struct.unpack_from("=I", body, _REQID_OFFSET)[0]
            if reqid & REQID_MASK == REQID_BASE and body[76] == IPPROTO_ESP:
                spi = struct.unpack_from(">I", body, 72)[0]
                doomed.append((IPv4Address(body[80:84]), IPv4Address(body[56:60]), spi))
        for source, destination, spi in doomed:
            try:
                xs.request(partial(encode_delsa, source=source, destination=destination, spi=spi))
            except XfrmError as error:
                if error.errno != errno.ESRCH:
                    raise
        return len(doomed)

    def stop(self) -> None:
        for event in [*self._pending.values(), *self._children.values()]:
            self.remove_child_sa(event.deleted("stop"))
        if self._xs is not None:
            self.flush_ours()
            with contextlib.suppress(XfrmError):
                self._xs.request(
                    lambda seq: encode_delpolicy(
                        selector=self._catch_all(), direction=XFRM_POLICY_IN, seq=seq
                    )
                )
            self._xs.close()
            self._xs = None
        self._readers.stop()  # closes the L2TP and expire sockets
        self._l2tp = self._expire_sock = None
        self._tun_part.stop()

    def _out_selector(self, event: ChildSaEstablished) -> dict[str, Any]:
        return _selector(
            self._local,
            32,
            event.remote.address,
            32,
            protocol=IPPROTO_UDP,
            source_port=L2TP_PORT,
        )

    def install_inbound_sa(self, event: ChildSaEstablished) -> None:
        if self._xs is None:
            return
        try:
            self._install(self._xs, event=event, inbound=True, outbound=False)
        except OSError as error:
            # install_child_sa tries the whole pair again at message 3
            self._c["sa_install_failed"] += 1
            debug("crypto ipsec", f"IPSEC(initialize_sas): kernel refused the inbound SA: {error}")
            return
        self._pending[event.child_sa_id] = event

    def install_child_sa(self, event: ChildSaEstablished) -> None:
        if self._xs is None:
            return
        xs = self._xs
        pending = self._pending.pop(event.child_sa_id, None)
        inbound = pending is None or pending.inbound.spi != event.inbound.spi
        self._children[event.child_sa_id] = event
        self._by_address.setdefault(event.remote.address, {})[event.child_sa_id] = None
        try:
            self._install(xs, event=event, inbound=inbound, outbound=True)
        except OSError as error:
            # Whatever got in comes out again; the IKE side sees no SA counters for it.
            self._c["sa_install_failed"] += 1
            debug("crypto ipsec", f"IPSEC(initialize_sas): kernel refused the SA: {error}")
            self.remove_child_sa(
                event.deleted("kernel refused")
            )

    def _install(
        self, xs: XfrmSocket, *, event: ChildSaEstablished, inbound: bool, outbound: bool
    ) -> None:
        reqid = REQID_BASE | (event.child_sa_id & 0xFFFF)
        udp = event.encapsulation.startswith("udp")
        mode = XFRM_MODE_TUNNEL if event.encapsulation.endswith("tunnel") else XFRM_MODE_TRANSPORT
        remote, local = event.remote.address, event.local.address
        halves = []
        if inbound:
            halves.append((remote, local, event.inbound, (event.remote.port, event.local.port)))
        if outbound:
            halves.append((local, remote, event.outbound, (event.local.port, event.remote.port)))
        for source, destination, params, encap in halves:
            xs.request(
                partial(
                    encode_newsa,
                    source=source,
                    destination=destination,
                    sa=params,
                    reqid=reqid,
                    mode=mode,
                    replay_window=self._replay_window,
                    encap=encap if udp else None,
                    lifetime_seconds=event.lifetime_seconds,
                    lifetime_kilobytes=event.lifetime_kilobytes,
                )
            )
        if not outbound:
            return
        xs.request(
            lambda seq: encode_newpolicy(
                selector=self._out_selector(event),
                direction=XFRM_POLICY_OUT,
                template_source=local,
                template_destination=remote,
                reqid=reqid,
                mode=mode,
                seq=seq,
                msg_type=XFRM_MSG_UPDPOLICY,
            )
        )

    def remove_child_sa(self, event: ChildSaDeleted) -> None:
        pending = self._pending.pop(event.child_sa_id, None)
        if pending is not None and self._xs is not None:
            with contextlib.suppress(XfrmError):
                self._xs.request(
                    partial(
                        encode_delsa,
                        source=pending.remote.address,
                        destination=pending.local.address,
                        spi=pending.inbound.spi,
                    )
                )
        child = self._children.pop(event.child_sa_id, None)
        if child is not None:
            on_address = self._by_address.get(child.remote.address, {})
            on_address.pop(event.child_sa_id, None)
            if not on_address:
                self._by_address.pop(child.remote.address, None)
        if child is None or self._xs is None:
            return
        xs = self._xs
        pairs = (
            (child.remote.address, child.local.address, child.inbound.spi),
            (child.local.address, child.remote.address, child.outbound.spi),
        )
        for source, destination, spi in pairs:
            with contextlib.suppress(XfrmError):
                xs.request(partial(encode_delsa, source=source, destination=destination, spi=spi))
        if child.remote.address not in self._by_address:
            with contextlib.suppress(XfrmError):
                xs.request(
                    lambda seq: encode_delpolicy(
                        selector=self._out_selector(child), direction=XFRM_POLICY_OUT, seq=seq
                    )
                )

    def esp_in_udp_received(self, data: bytes, source: tuple[str, int]) -> None:
        # With UDP_ENCAP_ESPINUDP on the socket the kernel takes ESP; what is left is keepalives.
        key = "nat_keepalives" if data == b"\xff" else "esp_malformed"
        self._c[key] += 1

    def send_l2tp(self, peer: L2tpPeer, payload: bytes) -> None:
        if self._l2tp is None:
            return
        try:
            self._l2tp.sendto(payload, (str(peer.address), peer.l2tp_port))
        except OSError:
            self._c["send_no_sa"] += 1

    def add_client_route(self, address: IPv4Address, deliver: IpReceived, mtu: int) -> None:
        self._tun_part.add_client_route(address, deliver, mtu)

    def remove_client_route(self, address: IPv4Address) -> None:
        self._tun_part.remove_client_route(address)

    def send_ip(self, packet: bytes) -> None:
        self._tun_part.send_ip(packet)

    def _get_sa(self, source: IPv4Address, destination: IPv4Address, spi: int) -> bytes | None:
        if self._xs is None:
            return None
        try:
            answers = self._xs.request(
                lambda seq: encode_delsa(
                    source=source, destination=destination, spi=spi, seq=seq, get=True
                )
            )
        except XfrmError:
            return None
        for msg_type, body in answers:
            if msg_type == XFRM_MSG_NEWSA and len(body) >= 224:
                return body
        return None

    def sa_counters(self, child_sa_id: int) -> SaCounters | None:
        event = self._children.get(child_sa_id)
        if event is None:
            return None
        inbound = self._get_sa(event.remote.address, event.local.address, event.inbound.spi)
        outbound = self._get_sa(event.local.address, event.remote.address, event.outbound.spi)
        if inbound is None or outbound is None:
            return None
        return counters_from_kernel(
            inbound,
            outbound,
            now=int(self._reactor.seconds()),
            lifetime_seconds=event.lifetime_seconds,
            lifetime_kilobytes=event.lifetime_kilobytes,
        )

    def snapshot(self) -> tuple[IpsecSaStatus, ...]:
        """Every SA pair for ``show crypto ipsec sa``, the counters read from the kernel (the
        gateway prefers a dataplane's snapshot to the IKE view, which has no counters)."""
        out: list[IpsecSaStatus] = []
        for child_id, event in sorted(self._children.items()):
            counters = self.sa_counters(child_id)
            if counters is not None:
                out.append(ipsec_sa_status(event, counters, esp_overhead(event.outbound)))
        return tuple(out)

    def counters(self) -> DataplaneCounters:
        merged = dict(self._c)
        tun = self._tun_part.counters()
        for name in ("tun_no_session", "tun_lost", "tun_reopened", "tun_write_failed",
                     "ip_source_not_client"):
            merged[name] = getattr(tun, name)
        return DataplaneCounters(**merged)
