"""The userspace dataplane with real sockets in two network namespaces the test creates
(documentation addresses only): a test-side ESP peer (EspSa from the other side) sends raw ESP
(IP protocol 50) and ESP-in-UDP (RFC 3948) carrying UDP 1701 to the gateway address; the L2TP
payload must reach the callback and replies must come back encrypted; two peers behind one
"NAT" (same address, different ports) stay separate; plain UDP 1701 is counted, not delivered;
the TUN device delivers kernel packets for a pool address to the client callback and writes
client packets out. The reactor is replaced by a bounded select() pump over the dataplane's
readers, so nothing here outlives the test.
"""
# mypy: disable-error-code="union-attr"
# (an Optional result that is None fails the test at the attribute access, as it should)

from __future__ import annotations

import os
import select
import socket
import subprocess
import time
from contextlib import contextmanager
from ipaddress import IPv4Address, IPv4Network

import pytest
from pyroute2 import netns
from twisted.internet.task import Clock

from pixgw.dataplane.ipv4 import build_ipv4, build_udp, parse_ipv4, parse_udp
from pixgw.dataplane.userspace import TunSettings, UserspaceDataplane
from pixgw.esp import EspSa
from pixgw.ike.events import (
    ChildSaEstablished,
    Endpoint,
    EspSaParameters,
    TrafficSelector,
)
from tests import runid

pytestmark = [pytest.mark.root]
# Time bound (120 s): ESP through real sockets in namespaces: under a second.
pytestmark.append(pytest.mark.timeout(120))

GW = IPv4Address("192.0.2.1")
PEER = IPv4Address("192.0.2.2")
POOL = IPv4Network("198.51.100.0/28")
CLIENT = IPv4Address("198.51.100.5")


def sh(*argv):
    subprocess.run(argv, check=True, capture_output=True, timeout=20)


@pytest.fixture
def namespaces():
    tag = runid.RUN_ID
    gw, pe = f"pxesp-gw-{tag}", f"pxesp-pe-{tag}"
    va, vb = f"pxea{tag}", f"pxeb{tag}"
    sh("ip", "netns", "add", gw)
    sh("ip", "netns", "add", pe)
    try:
        sh("ip", "link", "add", va, "type", "veth", "peer", "name", vb)
        sh("ip", "link", "set", va, "netns", gw)
        sh("ip", "link", "set", vb, "netns", pe)
        for ns, dev, addr in ((gw, va, GW), (pe, vb, PEER)):
            sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        yield gw, pe
    finally:
        for ns in (gw, pe):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20,
                           check=False)


@contextmanager
def inside(name):
    netns.pushns(name)
    try:
        yield
    finally:
        netns.popns()


class PumpReactor(Clock):
    """Clock plus addReader/removeReader; pump() runs select() for a bounded time."""

    def __init__(self):
        super().__init__()
        self.readers = []

    def addReader(self, reader):
        self.readers.append(reader)

    def removeReader(self, reader):
        if reader in self.readers:
            self.readers.remove(reader)

    def pump(self, until, timeout=3.0):
        deadline = time.monotonic() + timeout
        for _ in range(1000):
            if until():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return until()
            ready, _, _ = select.select(self.readers, [], [], min(left, 0.1))
            for reader in ready:
                reader.doRead()
        return until()


def child_event(child_id, in_spi, out_spi, port, encapsulation):
    inbound = EspSaParameters(in_spi, "esp-aes", "esp-sha-hmac", bytes([child_id]) * 16,
                              bytes([child_id + 1]) * 20)
    outbound = EspSaParameters(out_spi, "esp-aes", "esp-sha-hmac", bytes([child_id + 2]) * 16,
                               bytes([child_id + 3]) * 20)
    return ChildSaEstablished(
        ike_sa_id=bytes(16), child_sa_id=child_id, local=Endpoint(GW, 4500),
        remote=Endpoint(PEER, port), inbound=inbound, outbound=outbound,
        encapsulation=encapsulation,
        local_selector=TrafficSelector(GW, GW, 17, 1701),
        remote_selector=TrafficSelector(PEER, PEER, 17, 1701),
        lifetime_seconds=3600, lifetime_kilobytes=100000, crypto_map="dyn",
        crypto_map_sequence=10, remote_behind_nat=encapsulation.startswith("udp"),
    )


def peer_sas(ev):
    return (EspSa(ev.inbound, now=0, random_bytes=os.urandom),
            EspSa(ev.outbound, now=0, random_bytes=os.urandom))


def recv_within(sock, timeout=3.0):
    ready, _, _ = select.select([sock], [], [], timeout)
    assert ready, "nothing arrived"
    return sock.recv(65535)


def test_esp_raw_and_in_udp_through_real_sockets(namespaces):
    gw_ns, pe_ns = namespaces
    reactor = PumpReactor()
    got = []
    with inside(gw_ns):
        ike4500 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        ike4500.bind((str(GW), 4500))
        ike4500.setblocking(False)
        dp = UserspaceDataplane(reactor, local_address=GW, raw_esp=True, tun=None,
                                guard_l2tp=True, lifetime_poll_seconds=0)

        def send_udp(data: bytes, addr: tuple[str, int]) -> None:
            ike4500.sendto(data, addr)

        dp.start(lambda peer, data: got.append((peer, data)), send_udp)

    # The IKE shell's part, its own classification: IKE (marker) and keepalives stay with it,
    # ESP goes to esp_in_udp_received.
    from pixgw.ike.transport import IkeUdpPorts

    ports = IkeUdpPorts(GW, ike_received=lambda *a: None, esp_received=dp.esp_in_udp_received)

    class Ike4500:
        def fileno(self):
            return ike4500.fileno()

        def doRead(self):
            for _ in range(64):
                try:
                    data, addr = ike4500.recvfrom(65535)
                except BlockingIOError:
                    return
                ports.datagram_received(data, 4500, addr)
    reactor.addReader(Ike4500())

    with inside(pe_ns):
        raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, 50)
        nat_a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        nat_a.bind((str(PEER), 4500))
        nat_b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        nat_b.bind((str(PEER), 4501))
        plain = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        ev_raw = child_event(1, 0x101, 0x201, 500, "transport")
        ev_a = child_event(3, 0x103, 0x203, 4500, "udp-transport")
        ev_b = child_event(5, 0x105, 0x205, 4501, "udp-transport")
        for ev in (ev_raw, ev_a, ev_b):
            dp.install_child_sa(ev)
        raw_out, raw_in = peer_sas(ev_raw)
        a_out, a_in = peer_sas(ev_a)
        b_out, b_in = peer_sas(ev_b)

        # raw ESP: the peer's kernel adds the IP header (protocol 50)
        raw.sendto(raw_out.encrypt(17, build_udp(1701, 1701, b"raw-l2tp")), (str(GW), 0))
        assert reactor.pump(lambda: len(got) == 1)
        peer, data = got[0]
        assert (peer.child_sa_id, peer.address, peer.outer_port, data) == (1, PEER, 0,
                                                                          b"raw-l2tp")
        dp.send_l2tp(peer, b"raw-reply")
        for _ in range(10):  # our own raw socket may also see unrelated ESP; bounded
            packet = recv_within(raw)
            ip = parse_ipv4(packet)
            if ip.source == GW.packed:
                break
        nh, seg = raw_in.decrypt(packet[ip.header_length:ip.total_length])
        assert nh == 17
        assert parse_udp(seg).payload == b"raw-reply"

        # ESP-in-UDP from two ports of one address ("behind one NAT")
        nat_a.sendto(a_out.encrypt(17, build_udp(1701, 1701, b"from-a")), (str(GW), 4500))
        nat_b.sendto(b_out.encrypt(17, build_udp(1701, 1701, b"from-b")), (str(GW), 4500))
        nat_a.sendto(b"\xff", (str(GW), 4500))  # keepalive
        assert reactor.pump(lambda: len(got) == 3 and ports.keepalives == 1)
        by_child = {p.child_sa_id: (p, d) for p, d in got[1:]}
        assert by_child[3][1] == b"from-a"
        assert by_child[3][0].outer_port == 4500
        assert by_child[5][1] == b"from-b"
        assert by_child[5][0].outer_port == 4501
        dp.send_l2tp(by_child[3][0], b"to-a")
        dp.send_l2tp(by_child[5][0], b"to-b")
        assert parse_udp(a_in.decrypt(recv_within(nat_a))[1]).payload == b"to-a"
        assert parse_udp(b_in.decrypt(recv_within(nat_b))[1]).payload == b"to-b"

        # replayed and tampered packets are counted, not delivered
        pkt = a_out.encrypt(17, build_udp(1701, 1701, b"again"))
        nat_a.sendto(pkt, (str(GW), 4500))
        nat_a.sendto(pkt, (str(GW), 4500))
        bad = bytearray(a_out.encrypt(17, build_udp(1701, 1701, b"bad")))
        bad[-1] ^= 1
        nat_a.sendto(bytes(bad), (str(GW), 4500))
        assert reactor.pump(lambda: dp.counters().esp_auth_failed == 1)
        assert [d for _, d in got[3:]] == [b"again"]
        assert dp.counters().esp_replayed == 1

        # plain UDP 1701 without IPsec: counted by the guard socket, never delivered
        plain.sendto(b"\xc8\x02 plain SCCRQ", (str(GW), 1701))
        assert reactor.pump(lambda: dp.counters().l2tp_without_ipsec == 1)
        assert len(got) == 4

        c = dp.sa_counters(3)
        assert (c.encaps, c.decaps, c.replay_failures, c.recv_errors) == (1, 2, 1, 1)
    finally:
        with inside(gw_ns):
            dp.stop()
        for s in (ike4500, raw, nat_a, nat_b, plain):
            s.close()


def test_tun_delivers_to_pool_address_and_writes_client_packets(namespaces):
    gw_ns, _ = namespaces
    reactor = PumpReactor()
    delivered: list[bytes] = []
    with inside(gw_ns):
        dp = UserspaceDataplane(
            reactor, raw_esp=False, guard_l2tp=False, lifetime_poll_seconds=0,
            tun=TunSettings(name="pxtun0", mtu=1400, address=IPv4Address("198.51.100.1"),
                            routes=(POOL,)),
        )
        dp.start(lambda p, d: None, lambda d, a: None)
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        listener.bind((str(GW), 9999))
    try:
        dp.add_client_route(CLIENT, delivered.append, 1400)
        # the kernel routes a packet for the pool address into the TUN
        sender.sendto(b"to-client", (str(CLIENT), 7777))
        assert reactor.pump(lambda: len(delivered) == 1)
        ip = parse_ipv4(delivered[0])
        assert ip.destination == CLIENT.packed
        assert parse_udp(delivered[0][ip.header_length:]).payload == b"to-client"
        # nothing for an address without a session
        sender.sendto(b"nobody", ("198.51.100.9", 7777))
        assert reactor.pump(lambda: dp.counters().tun_no_session == 1)
        # a client packet leaves through the TUN into the gateway's stack
        seg = build_udp(5555, 9999, b"from-client", source=CLIENT.packed, destination=GW.packed)
        dp.send_ip(build_ipv4(CLIENT.packed, GW.packed, 17, seg))
        data, addr = listener.recvfrom(100) if select.select([listener], [], [], 3)[0] else (
            None, None)
        assert data == b"from-client"
        assert addr == (str(CLIENT), 5555)
        # a client sending from an address it was not given is dropped and counted
        spoofed = IPv4Address("198.51.100.6").packed
        seg = build_udp(5555, 9999, b"spoofed", source=spoofed, destination=GW.packed)
        dp.send_ip(build_ipv4(spoofed, GW.packed, 17, seg))
        assert dp.counters().ip_source_not_client == 1
        assert not select.select([listener], [], [], 0.5)[0]
    finally:
        with inside(gw_ns):
            dp.stop()
        sender.close()
        listener.close()


def reassembled(ns):
    """The namespace's IP ReasmOKs counter (/proc/net/snmp, RFC 2011 ipReasmOKs)."""
    out = subprocess.run(["ip", "netns", "exec", ns, "cat", "/proc/net/snmp"], check=True,
                         capture_output=True, text=True, timeout=20).stdout.splitlines()
    names, values = (line.split()[1:] for line in out if line.startswith("Ip:"))
    return int(values[names.index("ReasmOKs")])


IP_MTU_DISCOVER = 10  # linux/in.h
IP_PMTUDISC_DONT = 0  # fragment locally, DF clear


def test_fragmented_esp_raw_and_in_udp_reassembled(namespaces):
    """ESP packets larger than the link MTU (576 on both veth ends) leave the peer as IP fragments;
    the gateway's kernel reassembles them before the raw ESP socket and the UDP 4500 socket, and
    the userspace dataplane decrypts the whole packet and delivers the 1400-byte L2TP payload."""
    gw_ns, pe_ns = namespaces
    for ns in (gw_ns, pe_ns):
        dev = "pxea" if ns == gw_ns else "pxeb"
        sh("ip", "-n", ns, "link", "set", f"{dev}{gw_ns.rsplit('-', 1)[1]}", "mtu", "576")
    reactor = PumpReactor()
    got = []
    with inside(gw_ns):
        ike4500 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        ike4500.bind((str(GW), 4500))
        ike4500.setblocking(False)
        dp = UserspaceDataplane(reactor, local_address=GW, raw_esp=True, tun=None,
                                guard_l2tp=False, lifetime_poll_seconds=0)
        dp.start(lambda peer, data: got.append((peer, data)), lambda d, a: None)

    class Ike4500:
        def fileno(self):
            return ike4500.fileno()

        def doRead(self):
            for _ in range(64):
                try:
                    data, addr = ike4500.recvfrom(65535)
                except BlockingIOError:
                    return
                dp.esp_in_udp_received(data, addr)
    reactor.addReader(Ike4500())

    with inside(pe_ns):
        raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, 50)
        nat = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        nat.bind((str(PEER), 4500))
        for s in (raw, nat):
            s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT)
    try:
        ev_raw = child_event(1, 0x101, 0x201, 500, "transport")
        ev_udp = child_event(3, 0x103, 0x203, 4500, "udp-transport")
        for ev in (ev_raw, ev_udp):
            dp.install_child_sa(ev)
        raw_out, _ = peer_sas(ev_raw)
        udp_out, _ = peer_sas(ev_udp)
        big_raw = bytes(range(256)) * 5 + b"raw-tail" * 15  # 1400 bytes
        big_udp = bytes(reversed(range(256))) * 5 + b"udp-tail" * 15
        before = reassembled(gw_ns)

        esp = raw_out.encrypt(17, build_udp(1701, 1701, big_raw))
        assert len(esp) + 20 > 2 * 576  # at least three fragments on the wire
        raw.sendto(esp, (str(GW), 0))
        assert reactor.pump(lambda: len(got) == 1)
        peer, data = got[0]
        assert (peer.child_sa_id, peer.outer_port, data) == (1, 0, big_raw)

        nat.sendto(udp_out.encrypt(17, build_udp(1701, 1701, big_udp)), (str(GW), 4500))
        assert reactor.pump(lambda: len(got) == 2)
        peer, data = got[1]
        assert (peer.child_sa_id, peer.outer_port, data) == (3, 4500, big_udp)

        # they really arrived in fragments: the gateway's kernel reassembled both
        assert reassembled(gw_ns) - before >= 2
        c = dp.counters()
        assert (c.esp_malformed, c.esp_auth_failed, c.esp_not_l2tp) == (0, 0, 0)
        assert dp.sa_counters(1).decaps == 1
        assert dp.sa_counters(3).decaps == 1
    finally:
        with inside(gw_ns):
            dp.stop()
        for s in (ike4500, raw, nat):
            s.close()
