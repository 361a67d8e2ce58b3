"""NETLINK_XFRM messages declared in pyroute2's style, byte for byte against what iproute2's
``ip xfrm`` sends (captured with strace into tests/vectors/esp/xfrm_*.hex; each file names its
command), plus, as root in a namespace of the test's own, the kernel accepting our policies (this
kernel has XFRM but no ESP: an ESP SA is refused, and kernel_has_esp() says so)."""
# mypy: disable-error-code="union-attr"
# (an Optional result that is None fails the test at the attribute access, as it should)

from __future__ import annotations

import os
import re
import subprocess
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from pixgw.dataplane import xfrm
from pixgw.dataplane import xfrm_netlink as netlink
from pixgw.ike.events import EspSaParameters
from tests import runid

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "esp"
A1, A2 = IPv4Address("192.0.2.1"), IPv4Address("192.0.2.2")


def vector(name):
    text = (VECTORS / f"{name}.hex").read_text()
    header = re.search(r"nlmsg_len=(\d+) nlmsg_type=(0x[0-9a-f]+) nlmsg_flags=(\S+)", text)
    body = bytes.fromhex(" ".join(ln for ln in text.splitlines() if not ln.startswith("#")))
    assert header is not None
    flags = sum(int({"NLM_F_REQUEST": 1, "NLM_F_ACK": 4}[f]) for f in header.group(3).split("|"))
    return int(header.group(1)), int(header.group(2), 16), flags, body


def split(message):
    length = int.from_bytes(message[0:4], "little")
    return (length, int.from_bytes(message[4:6], "little"),
            int.from_bytes(message[6:8], "little"), message[16:length])


def same(ours, name):
    length, mtype, flags, body = split(ours)
    want = vector(name)
    assert (length, mtype, flags) == want[:3]
    assert body.hex(" ") == want[3].hex(" ")


def test_newsa_aes_sha1_espinudp_matches_ip_xfrm():
    sa = EspSaParameters(0x1000, "esp-aes", "esp-sha-hmac",
                         bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c"),
                         bytes.fromhex("0102030405060708090a0b0c0d0e0f1011121314"))
    sel = netlink._selector(A1, 32, A2, 32, protocol=17, source_port=1701, destination_port=1701)
    ours = netlink.encode_newsa(source=A1, destination=A2, sa=sa, reqid=7, replay_window=32,
                             selector=sel, encap=(4500, 4500))
    same(ours, "xfrm_newsa_aes_sha1_espinudp")


def test_newsa_des_md5_with_lifetimes_matches_ip_xfrm():
    sa = EspSaParameters(0xFBC9DB43, "esp-des", "esp-md5-hmac",
                         bytes.fromhex("0102030405060708"),
                         bytes.fromhex("0102030405060708090a0b0c0d0e0f10"))
    ours = netlink.encode_newsa(source=A2, destination=A1, sa=sa, reqid=9, replay_window=32,
                             lifetime_seconds=900, lifetime_kilobytes=100000)
    same(ours, "xfrm_newsa_des_md5_lifetimes")


def test_policy_add_and_delete_match_ip_xfrm():
    sel = netlink._selector(A1, 32, A2, 32, protocol=17, source_port=1701)
    ours = netlink.encode_newpolicy(selector=sel, direction=netlink.XFRM_POLICY_OUT,
                                 template_source=A1, template_destination=A2, reqid=7,
                                 priority=1000)
    same(ours, "xfrm_newpolicy_out")
    same(netlink.encode_delpolicy(selector=sel, direction=netlink.XFRM_POLICY_OUT),
         "xfrm_delpolicy_out")


def test_delsa_and_flush_match_ip_xfrm():
    same(netlink.encode_delsa(source=A1, destination=A2, spi=0x1000), "xfrm_delsa")
    same(netlink.encode_flushsa(), "xfrm_flushsa_esp")


def test_struct_sizes_and_offsets():
    sa = EspSaParameters(0xA1B2C3D4, "esp-3des", "esp-sha-hmac", bytes(24), bytes(20))
    msg = netlink.encode_newsa(source=A1, destination=A2, sa=sa, reqid=netlink.REQID_BASE | 5,
                            lifetime_seconds=3600)
    body = msg[16:]
    assert len(body[:224]) == 224
    assert int.from_bytes(body[netlink._REQID_OFFSET:netlink._REQID_OFFSET + 4], "little") == \
        netlink.REQID_BASE | 5
    decoded = netlink.decode_usersa_info(split(msg)[3])
    assert decoded["id_spi"] == 0xA1B2C3D4
    assert decoded["reqid"] == netlink.REQID_BASE | 5
    assert decoded["lft_hard_add_expires_seconds"] == 3600
    assert decoded["lft_soft_add_expires_seconds"] == 3240
    crypt = decoded.get_attr("XFRMA_ALG_CRYPT")
    assert crypt["alg_name"].rstrip(b"\0") == b"cbc(des3_ede)"
    assert crypt["alg_key_len"] == 192


def test_sha256_android_truncation():
    sa = EspSaParameters(1, "esp-aes", "esp-sha256-hmac", bytes(16), bytes(32),
                         truncated_sha256=True)
    decoded = netlink.decode_usersa_info(split(netlink.encode_newsa(
        source=A1, destination=A2, sa=sa, reqid=1))[3])
    assert decoded.get_attr("XFRMA_ALG_AUTH_TRUNC")["alg_trunc_len"] == 96


# --- against this kernel, in a namespace of our own -------------------------------------------


@pytest.fixture
def private_netns():
    from pyroute2 import netns
    name = runid.name("pxesp-xf")
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=20)
    netns.pushns(name)
    try:
        yield name
    finally:
        netns.popns()
        subprocess.run(["ip", "netns", "del", name], check=False, timeout=20)


@pytest.mark.root
def test_kernel_takes_our_policies_and_refuses_esp_here(private_netns):
    xs = netlink.XfrmSocket()
    try:
        sel = netlink._selector(A1, 32, A2, 32, protocol=17, source_port=1701)
        xs.request(lambda seq: netlink.encode_newpolicy(
            selector=sel, direction=netlink.XFRM_POLICY_OUT, template_source=A1,
            template_destination=A2, reqid=netlink.REQID_BASE | 3, priority=1000, seq=seq))
        listing = subprocess.run(["ip", "-n", private_netns, "xfrm", "policy"],
                                 capture_output=True, text=True, timeout=20, check=True).stdout
        assert "src 192.0.2.1/32 dst 192.0.2.2/32 proto udp sport 1701" in listing
        assert "dir out priority 1000" in listing
        assert "proto esp reqid 1350041603 mode transport" in listing
        xs.request(lambda seq: netlink.encode_delpolicy(
            selector=sel, direction=netlink.XFRM_POLICY_OUT, seq=seq))
        listing = subprocess.run(["ip", "-n", private_netns, "xfrm", "policy"],
                                 capture_output=True, text=True, timeout=20, check=True).stdout
        assert listing.strip() == ""
        sa = EspSaParameters(0x1000, "esp-aes", "esp-sha-hmac", bytes(16), bytes(20))
        with pytest.raises(netlink.XfrmError):
            xs.request(lambda seq: netlink.encode_newsa(source=A1, destination=A2, sa=sa,
                                                     reqid=1, seq=seq))
    finally:
        xs.close()
    assert netlink.kernel_has_esp() is False


@pytest.mark.root
def test_xfrm_dataplane_start_install_stop_here(private_netns, request):
    import select
    import socket

    from twisted.internet.task import Clock

    from pixgw.ike.events import ChildSaEstablished, Endpoint, TrafficSelector

    def ip(*argv):
        subprocess.run(["ip", "-n", private_netns, *argv], check=True, timeout=20)

    from pyroute2 import netns

    # the sender lives in a second namespace: loopback traffic is exempt from policy checks
    peer_ns = private_netns + "p"
    subprocess.run(["ip", "netns", "add", peer_ns], check=True, timeout=20)
    request.addfinalizer(
        lambda: subprocess.run(["ip", "netns", "del", peer_ns], check=False, timeout=20))
    ip("link", "add", "pxa", "type", "veth", "peer", "name", "pxb")
    ip("link", "set", "pxb", "netns", peer_ns)
    ip("addr", "add", "192.0.2.1/24", "dev", "pxa")
    ip("link", "set", "pxa", "up")
    subprocess.run(["ip", "-n", peer_ns, "addr", "add", "192.0.2.2/24", "dev", "pxb"],
                   check=True, timeout=20)
    subprocess.run(["ip", "-n", peer_ns, "link", "set", "pxb", "up"], check=True, timeout=20)

    class Reactor(Clock):
        def addReader(self, reader):
            pass

        def removeReader(self, reader):
            pass

    dp = xfrm.XfrmDataplane(Reactor(), local_address=A1)
    got = []
    dp.start(lambda peer, data: got.append(data), lambda data, addr: None)
    try:
        def policies():
            return subprocess.run(["ip", "-n", private_netns, "xfrm", "policy"],
                                  capture_output=True, text=True, timeout=20, check=True).stdout
        listing = policies()
        assert "dst 192.0.2.1/32 proto udp dport 1701" in listing
        assert "dir in priority 65535" in listing
        # plain L2TP without IPsec: the kernel's catch-all policy drops it before our socket
        netns.pushns(peer_ns)
        try:
            plain = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        finally:
            netns.popns()
        plain.sendto(b"plain SCCRQ", ("192.0.2.1", 1701))
        l2tp, xs = dp._l2tp, dp._xs
        assert l2tp is not None
        assert xs is not None
        assert not select.select([l2tp], [], [], 0.5)[0]
        # ... while without our policy it would have arrived (the test can fail)
        subprocess.run(["ip", "-n", private_netns, "xfrm", "policy", "flush"], check=True,
                       timeout=20)
        plain.sendto(b"plain SCCRQ", ("192.0.2.1", 1701))
        assert select.select([l2tp], [], [], 2)[0]
        l2tp.recv(100)
        plain.close()
        xs.request(lambda seq: netlink.encode_newpolicy(
            selector=dp._catch_all(), direction=netlink.XFRM_POLICY_IN, template_source=None,
            template_destination=None, reqid=0, priority=0xFFFF, seq=seq))
        # no ESP in this kernel: the install fails cleanly, counted, nothing left behind
        ev = ChildSaEstablished(
            ike_sa_id=bytes(16), child_sa_id=7, local=Endpoint(A1, 500),
            remote=Endpoint(A2, 500),
            inbound=EspSaParameters(0x1001, "esp-aes", "esp-sha-hmac", bytes(16), bytes(20)),
            outbound=EspSaParameters(0x2001, "esp-aes", "esp-sha-hmac", bytes(16), bytes(20)),
            encapsulation="transport",
            local_selector=TrafficSelector(A1, A1, 17, 1701),
            remote_selector=TrafficSelector(A2, A2, 17, 1701),
            lifetime_seconds=3600, lifetime_kilobytes=0, crypto_map="dyn",
            crypto_map_sequence=10, remote_behind_nat=False)
        dp.install_child_sa(ev)
        assert dp.counters().sa_install_failed == 1
        assert dp.sa_counters(7) is None
        assert "dir out" not in policies()
    finally:
        dp.stop()
    assert policies().strip() == ""


def _usersa_info(*, packets, nbytes, added, replay=0, integrity_failed=0):
    """A struct xfrm_usersa_info as GETSA answers it: curlft and stats filled, the rest 0."""
    body = bytearray(224)
    body[netlink._CURLFT_OFFSET:netlink._CURLFT_OFFSET + 24] = (
        nbytes.to_bytes(8, "little") + packets.to_bytes(8, "little") + added.to_bytes(8, "little"))
    body[netlink._STATS_OFFSET:netlink._STATS_OFFSET + 12] = (
        (32).to_bytes(4, "little") + replay.to_bytes(4, "little")
        + integrity_failed.to_bytes(4, "little"))
    return bytes(body)


def test_counters_from_kernel_reads_curlft_stats_and_lifetimes():
    inbound = _usersa_info(packets=7, nbytes=5 * 1024 + 100, added=1000, replay=2,
                           integrity_failed=3)
    outbound = _usersa_info(packets=9, nbytes=2048, added=1010)
    c = netlink.counters_from_kernel(inbound, outbound, now=1100, lifetime_seconds=3600,
                                  lifetime_kilobytes=4608000)
    assert (c.decaps, c.decrypt, c.verify) == (7, 7, 7)
    assert (c.encaps, c.encrypt, c.digest) == (9, 9, 9)
    assert (c.replay_failures, c.recv_errors) == (2, 3)
    assert (c.bytes_in, c.bytes_out) == (5 * 1024 + 100, 2048)
    assert (c.inbound_seconds_left, c.outbound_seconds_left) == (3500, 3510)
    assert (c.inbound_kilobytes_left, c.outbound_kilobytes_left) == (4608000 - 5, 4608000 - 2)
    # past the lifetime: 0, never negative
    late = netlink.counters_from_kernel(inbound, outbound, now=99999, lifetime_seconds=3600,
                                     lifetime_kilobytes=4)
    assert (late.inbound_seconds_left, late.inbound_kilobytes_left) == (0, 0)


@pytest.mark.parametrize(("cipher", "integrity", "truncated"), [
    ("esp-des", "esp-md5-hmac", False), ("esp-3des", "esp-sha-hmac", False),
    ("esp-aes-256", "esp-sha-hmac", False), ("esp-aes", "esp-sha256-hmac", False),
    ("esp-aes", "esp-sha256-hmac", True), ("esp-null", "esp-sha-hmac", False),
    ("esp-aes", None, False)])
def test_esp_overhead_is_the_userspace_sas(cipher, integrity, truncated):
    from pixgw.esp.sa import CIPHERS, INTEGRITIES, EspSa

    params = EspSaParameters(
        0x100, cipher, integrity, bytes(CIPHERS[cipher].key_length),
        bytes(INTEGRITIES[integrity].key_length if integrity else 0), truncated)
    userspace = EspSa(params, now=0.0, random_bytes=os.urandom)
    assert netlink.esp_overhead(params) == userspace.overhead(0)


def test_snapshot_shows_kernel_counters_for_each_child():
    """``show crypto ipsec sa`` with the xfrm backend: the gateway takes the dataplane's
    snapshot, so the kernel's counters must be in it (they were 0 from IKE's view before)."""
    from twisted.internet.task import Clock

    from pixgw.ike.events import ChildSaEstablished, Endpoint, TrafficSelector

    clock = Clock()
    clock.advance(2000)
    sas = {0x1111: _usersa_info(packets=4, nbytes=400, added=1900),
           0x2222: _usersa_info(packets=6, nbytes=600, added=1900)}

    class KernelAnswers(xfrm.XfrmDataplane):
        def _get_sa(self, source, destination, spi):  # the GETSA answers, as the kernel gives
            return sas.get(spi)

    dp = KernelAnswers(clock, local_address=A1)
    des = EspSaParameters(0x1111, "esp-des", "esp-md5-hmac", bytes(8), bytes(16))
    event = ChildSaEstablished(
        ike_sa_id=bytes(16), child_sa_id=5, local=Endpoint(A1, 500), remote=Endpoint(A2, 500),
        inbound=des, outbound=EspSaParameters(0x2222, "esp-des", "esp-md5-hmac", bytes(8),
                                              bytes(16)),
        encapsulation="transport", local_selector=TrafficSelector(A1, A1, 17, 1701),
        remote_selector=TrafficSelector(A2, A2, 17, 1701), lifetime_seconds=3600,
        lifetime_kilobytes=4608000, crypto_map="mymap", crypto_map_sequence=10,
        remote_behind_nat=False)
    dp._children[5] = event
    (status,) = dp.snapshot()
    assert (status.counters.decaps, status.counters.encaps) == (4, 6)
    assert (status.inbound_spi, status.outbound_spi) == (0x1111, 0x2222)
    assert status.counters.inbound_seconds_left == 3500
    assert status.ipsec_overhead == netlink.esp_overhead(des)
    del sas[0x2222]  # an SA the kernel no longer has is not shown
    assert dp.snapshot() == ()


@pytest.mark.root
def test_xfrm_dataplane_failed_start_leaves_no_policy(private_netns):
    """A start that fails half-way (here the reactor refuses the L2TP socket's reader, after
    the catch-all policy went in) takes that policy out again and raises."""
    from twisted.internet.task import Clock

    class RefusingReactor(Clock):
        removed = 0

        def addReader(self, reader):
            raise OSError("no readers here")

        def removeReader(self, reader):
            self.removed += 1

    reactor = RefusingReactor()
    dp = xfrm.XfrmDataplane(reactor, local_address=A1, tun=None)
    with pytest.raises(OSError, match="no readers here"):
        dp.start(lambda peer, data: None, lambda data, addr: None)
    listing = subprocess.run(["ip", "-n", private_netns, "xfrm", "policy"],
                             capture_output=True, text=True, timeout=20, check=True).stdout
    assert listing.strip() == ""
    assert reactor.removed == 1  # the reader it tried to register is let go
    dp.stop()  # and a stop after that is harmless


# --- the order of requests for a quick mode (a recording socket: this kernel has no ESP) -------


class RecordingXfrm:
    """Takes every request the dataplane makes, as (type, address, spi); *refuse* raises the
    kernel's error for the next requests of that type."""

    def __init__(self):
        self.requests = []
        self.refuse = set()

    def request(self, encode):
        data = encode(seq=1)
        msg_type = int.from_bytes(data[4:6], "little")
        body = data[16:]
        if msg_type == netlink.XFRM_MSG_NEWSA:  # xfrm_usersa_info: daddr at 56, spi at 72
            entry = ("newsa", IPv4Address(body[56:60]), int.from_bytes(body[72:76], "big"))
        elif msg_type == netlink.XFRM_MSG_DELSA:  # xfrm_usersa_id: daddr at 0, spi at 16
            entry = ("delsa", IPv4Address(body[0:4]), int.from_bytes(body[16:20], "big"))
        else:
            entry = ({netlink.XFRM_MSG_UPDPOLICY: "policy", netlink.XFRM_MSG_DELPOLICY: "delpolicy"}
                     .get(msg_type, str(msg_type)), None, None)
        if entry[0] in self.refuse:
            raise netlink.XfrmError(1, "refused")
        self.requests.append(entry)
        return []

    def close(self):
        pass


def _quick_mode_pair(child_id, in_spi, out_spi):
    from pixgw.ike.events import ChildSaEstablished, Endpoint, TrafficSelector

    return ChildSaEstablished(
        ike_sa_id=bytes(16), child_sa_id=child_id, local=Endpoint(A1, 500),
        remote=Endpoint(A2, 500),
        inbound=EspSaParameters(in_spi, "esp-aes", "esp-sha-hmac", bytes(16), bytes(20)),
        outbound=EspSaParameters(out_spi, "esp-aes", "esp-sha-hmac", bytes(16), bytes(20)),
        encapsulation="transport", local_selector=TrafficSelector(A1, A1, 17, 1701),
        remote_selector=TrafficSelector(A2, A2, 17, 1701), lifetime_seconds=3600,
        lifetime_kilobytes=0, crypto_map="dyn", crypto_map_sequence=10, remote_behind_nat=False)


def test_xfrm_inbound_sa_with_message_2_outbound_and_policy_with_message_3():
    from twisted.internet.task import Clock

    from pixgw.ike.events import QUICK_MODE_ABANDONED, ChildSaDeleted

    dp = xfrm.XfrmDataplane(Clock(), local_address=A1)
    xs = dp._xs = RecordingXfrm()
    first = _quick_mode_pair(1, 0x1001, 0x2001)
    dp.install_inbound_sa(first)
    assert xs.requests == [("newsa", A1, 0x1001)]
    dp.install_child_sa(first)
    assert xs.requests[1:] == [("newsa", A2, 0x2001), ("policy", None, None)]
    # a rekey that never sees message 3: only its inbound SA goes; the first pair's policy stays
    second = _quick_mode_pair(3, 0x1003, 0x2003)
    dp.install_inbound_sa(second)
    dp.remove_child_sa(ChildSaDeleted(bytes(16), 3, 0x1003, 0x2003, QUICK_MODE_ABANDONED))
    assert xs.requests[3:] == [("newsa", A1, 0x1003), ("delsa", A1, 0x1003)]
    # the kernel refuses the inbound SA at message 2: message 3 installs the whole pair
    third = _quick_mode_pair(5, 0x1005, 0x2005)
    xs.refuse = {"newsa"}
    dp.install_inbound_sa(third)
    assert dp.counters().sa_install_failed == 1
    xs.refuse = set()
    del xs.requests[:]
    dp.install_child_sa(third)
    assert xs.requests == [("newsa", A1, 0x1005), ("newsa", A2, 0x2005), ("policy", None, None)]
    dp._xs = None


def test_an_l2tp_datagram_is_attributed_to_the_newest_sa_of_its_address_by_lookup():
    """Issue 27: the L2TP socket's datagram names its child SA through an address index (not a
    scan of every SA per datagram); a rekey's new pair takes over, and its removal falls back."""
    from twisted.internet.task import Clock

    from pixgw.dataplane.interfaces import L2tpPeer
    from pixgw.ike.events import ChildSaDeleted, ChildSaEstablished, Endpoint, TrafficSelector

    class Requests:
        def __init__(self):
            self.sent = 0

        def request(self, build):
            self.sent += 1

    class Socket:
        def __init__(self):
            self.queue: list[tuple[bytes, tuple[str, int]]] = []

        def recvfrom(self, size):
            return self.queue.pop(0)

    def child(child_id: int, remote: IPv4Address, spi: int) -> ChildSaEstablished:
        sa = EspSaParameters(spi, "esp-aes", "esp-sha-hmac", bytes(16), bytes(20))
        return ChildSaEstablished(
            ike_sa_id=bytes(16), child_sa_id=child_id, local=Endpoint(A1, 4500),
            remote=Endpoint(remote, 4500), inbound=sa, outbound=sa, encapsulation="udp-transport",
            local_selector=TrafficSelector(A1, A1, 17, 1701),
            remote_selector=TrafficSelector(remote, remote, 17, 1701), lifetime_seconds=3600,
            lifetime_kilobytes=4608000, crypto_map="m", crypto_map_sequence=10,
            remote_behind_nat=True)

    a3 = IPv4Address("192.0.2.3")
    dp = xfrm.XfrmDataplane(Clock(), local_address=A1)
    dp._xs = Requests()
    dp._l2tp = Socket()
    got: list[L2tpPeer] = []
    dp._l2tp_received = lambda peer, data: got.append(peer)
    for c in (child(1, A2, 0x101), child(3, a3, 0x103), child(5, A2, 0x105)):
        dp.install_child_sa(c)

    def peer_of(address: IPv4Address) -> int | None:
        dp._l2tp.queue.append((b"l2tp", (str(address), 1701)))
        dp._read_l2tp(2048)
        return got[-1].child_sa_id

    assert (peer_of(A2), peer_of(a3)) == (5, 3)
    assert got[-1].outer_port == 4500
    dp.remove_child_sa(ChildSaDeleted(bytes(16), 5, 0x105, 0x105, "rekeyed"))
    assert peer_of(A2) == 1
    dp.remove_child_sa(ChildSaDeleted(bytes(16), 1, 0x101, 0x101, "gone"))
    assert peer_of(A2) is None and peer_of(a3) == 3
    assert dp._by_address == {a3: {3: None}}


def test_a_hard_expire_forgets_the_sa_listener_or_not_and_a_soft_one_asks_for_a_rekey():
    """XFRM_MSG_EXPIRE (the kernel's lifetime notice, xfrm_user_expire: the SA's xfrm_usersa_info
    then ``hard``): a hard one means the kernel deleted the SA - the dataplane forgets it even
    with nobody listening, and tells IKE when somebody is; a soft one asks IKE for a rekey."""
    from twisted.internet.task import Clock

    from pixgw.ike.events import ChildSaDeleted, RekeyRequested
    from tests.protocol.test_gateway import child_sa

    class Requests:
        def request(self, build):
            return []

    def expire(child_id: int, hard: int, ours: bool = True) -> bytes:
        body = bytearray(224 + 8)
        reqid = (netlink.REQID_BASE if ours else 0x10000) | child_id
        body[netlink._REQID_OFFSET : netlink._REQID_OFFSET + 4] = reqid.to_bytes(4, "little")
        body[224] = hard
        header = (16 + len(body)).to_bytes(4, "little") + netlink.XFRM_MSG_EXPIRE.to_bytes(
            2, "little") + bytes(10)
        return header + bytes(body)

    dp = xfrm.XfrmDataplane(Clock(), local_address=A1)
    dp._xs = Requests()
    for child in (1, 2, 3):
        dp.install_child_sa(child_sa(child))
    dp._expire_received(expire(1, hard=1))  # nobody listening: still forgotten
    assert sorted(dp._children) == [2, 3]
    heard: list[object] = []
    dp.set_lifetime_listener(heard.append)
    dp._expire_received(expire(2, hard=0))
    dp._expire_received(expire(3, hard=0, ours=False))  # not ours: ignored
    dp._expire_received(expire(3, hard=1))
    dp._expire_received(expire(3, hard=1)[:100])  # short: ignored
    assert [type(e) for e in heard] == [RekeyRequested, ChildSaDeleted]
    assert heard[0].child_sa_id == 2 and heard[1].child_sa_id == 3
    assert sorted(dp._children) == [2]
