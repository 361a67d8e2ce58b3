"""The userspace dataplane's ESP demultiplexing, L2TP filter, replies, counters and lifetimes,
driven without sockets (ESP-in-UDP through esp_in_udp_received / send_udp), plus the IPv4/UDP
helpers and the memory fake. Real sockets: tests/interop/test_dataplane_netns.py.
"""
# mypy: disable-error-code="union-attr"
# (an Optional result that is None fails the test at the attribute access, as it should)

from __future__ import annotations

import struct
from dataclasses import replace
from ipaddress import IPv4Address
from typing import Any

import pytest
from twisted.internet.task import Clock
from zope.interface.verify import verifyObject

from pixgw.dataplane.interfaces import IDataplane, L2tpPeer
from pixgw.dataplane.ipv4 import (
    build_ipv4,
    build_udp,
    checksum,
    clamp_tcp_mss,
    parse_ipv4,
    parse_udp,
    udp_checksum,
)
from pixgw.dataplane.memory import MemoryDataplane
from pixgw.dataplane.userspace import UserspaceDataplane
from pixgw.esp import EspDrop, EspSa
from pixgw.ike.events import (
    QUICK_MODE_ABANDONED,
    ChildSaDeleted,
    ChildSaEstablished,
    Endpoint,
    EspSaParameters,
    RekeyRequested,
    TrafficSelector,
)

GW = IPv4Address("203.0.113.1")
NAT = IPv4Address("198.51.100.7")


def event(child_id, in_spi, out_spi, port, *, cipher="esp-aes", integrity="esp-sha-hmac",
          encapsulation="udp-transport", seconds=3600, kb=250000, nat_oa=None):
    ek = {"esp-aes": 16, "esp-3des": 24, "esp-des": 8}[cipher]
    ak = {"esp-sha-hmac": 20, "esp-md5-hmac": 16, "esp-sha256-hmac": 32}[integrity]
    inbound = EspSaParameters(in_spi, cipher, integrity, bytes([child_id]) * ek,
                              bytes([child_id + 1]) * ak)
    outbound = EspSaParameters(out_spi, cipher, integrity, bytes([child_id + 2]) * ek,
                               bytes([child_id + 3]) * ak)
    return ChildSaEstablished(
        ike_sa_id=bytes(16), child_sa_id=child_id, local=Endpoint(GW, 4500),
        remote=Endpoint(NAT, port), inbound=inbound, outbound=outbound,
        encapsulation=encapsulation,
        local_selector=TrafficSelector(GW, GW, 17, 1701),
        remote_selector=TrafficSelector(NAT, NAT, 17, 1701),
        lifetime_seconds=seconds, lifetime_kilobytes=kb, crypto_map="dyn", crypto_map_sequence=10,
        remote_behind_nat=True, nat_oa_initiator=nat_oa,
    )


class Peer:
    """The client's side of one child SA: our outbound is its inbound and the reverse."""

    def __init__(self, ev):
        self.out = EspSa(ev.inbound, now=0, random_bytes=lambda n: b"\x5a" * n)
        self.inb = EspSa(ev.outbound, now=0, random_bytes=lambda n: b"\x5a" * n)

    def l2tp(self, payload, sport=1701, dport=1701):
        return self.out.encrypt(17, build_udp(sport, dport, payload))


@pytest.fixture
def gw():
    clock = Clock()
    dp = UserspaceDataplane(clock, raw_esp=False, guard_l2tp=False, tun=None,
                            random_bytes=lambda n: b"\x11" * n)
    got: list[tuple[L2tpPeer, bytes]] = []
    sent: list[tuple[bytes, tuple[str, int]]] = []
    life: list[object] = []
    dp.start(lambda peer, data: got.append((peer, data)), lambda d, a: sent.append((d, a)))
    dp.set_lifetime_listener(life.append)
    yield dp, clock, got, sent, life
    dp.stop()


def test_provides_interface(gw):
    dp = gw[0]
    assert verifyObject(IDataplane, dp)
    assert verifyObject(IDataplane, MemoryDataplane())


def test_esp_in_udp_to_l2tp_and_back(gw):
    dp, _, got, sent, _ = gw
    ev = event(1, 0x1000, 0x2000, 4500, nat_oa=IPv4Address("192.168.1.10"))
    dp.install_child_sa(ev)
    peer = Peer(ev)
    dp.esp_in_udp_received(peer.l2tp(b"SCCRQ"), (str(NAT), 4500))
    assert got == [(L2tpPeer(1, NAT, 4500, 1701), b"SCCRQ")]
    dp.send_l2tp(got[0][0], b"SCCRP")
    assert len(sent) == 1
    data, addr = sent[0]
    assert addr == (str(NAT), 4500)
    nh, seg = peer.inb.decrypt(data)
    assert nh == 17
    sport, dport, length, csum = struct.unpack("!HHHH", seg[:8])
    assert (sport, dport, length, seg[8:]) == (1701, 1701, 13, b"SCCRP")
    # checksum over the addresses the client knows: ours and its private (NAT-OA) address
    zeroed = seg[:6] + b"\0\0" + seg[8:]
    assert csum == udp_checksum(GW.packed, IPv4Address("192.168.1.10").packed, zeroed)
    c = dp.sa_counters(1)
    assert (c.encaps, c.encrypt, c.digest, c.decaps, c.decrypt, c.verify) == (1, 1, 1, 1, 1, 1)


def test_android_truncated_sha256_followed_both_ways(gw):
    """Android 6/7 send 96-bit HMAC-SHA-256 ICVs: the SA detects it on the first packet and
    our answers carry 96 bits too, which such a client verifies."""
    dp, _, got, sent, _ = gw
    ev = event(1, 0x1000, 0x2000, 4500, integrity="esp-sha256-hmac")
    dp.install_child_sa(ev)
    android = Peer(replace(ev, inbound=replace(ev.inbound, truncated_sha256=True),
                           outbound=replace(ev.outbound, truncated_sha256=True)))
    dp.esp_in_udp_received(android.l2tp(b"SCCRQ"), (str(NAT), 4500))
    assert got == [(L2tpPeer(1, NAT, 4500, 1701), b"SCCRQ")]
    dp.send_l2tp(got[0][0], b"SCCRP")
    nh, seg = android.inb.decrypt(sent[0][0])
    assert (nh, seg[8:]) == (17, b"SCCRP")
    assert dp.sa_counters(1).verify == 1 and dp.counters().esp_auth_failed == 0


def test_macos_ephemeral_l2tp_port_kept(gw):
    dp, _, got, sent, _ = gw
    ev = event(1, 0x1000, 0x2000, 4500)
    dp.install_child_sa(ev)
    peer = Peer(ev)
    dp.esp_in_udp_received(peer.l2tp(b"x", sport=50123), (str(NAT), 4500))
    assert got[0][0].l2tp_port == 50123
    dp.send_l2tp(got[0][0], b"y")
    _, seg = peer.inb.decrypt(sent[0][0])
    assert parse_udp(seg).destination_port == 50123


def test_two_clients_behind_one_nat_stay_separate(gw):
    dp, _, got, sent, _ = gw
    ev_a, ev_b = event(1, 0x1000, 0x2000, 4500), event(3, 0x1001, 0x2000, 61000)
    dp.install_child_sa(ev_a)
    dp.install_child_sa(ev_b)
    a, b = Peer(ev_a), Peer(ev_b)
    dp.esp_in_udp_received(a.l2tp(b"from-a"), (str(NAT), 4500))
    dp.esp_in_udp_received(b.l2tp(b"from-b"), (str(NAT), 61000))
    assert [(p.child_sa_id, p.outer_port, d) for p, d in got] == [
        (1, 4500, b"from-a"), (3, 61000, b"from-b")]
    # A's SPI from B's port does not reach A's SA
    dp.esp_in_udp_received(a.l2tp(b"spoof"), (str(NAT), 61000))
    assert len(got) == 2
    assert dp.counters().esp_unknown_spi == 1
    for peer, _ in got:
        dp.send_l2tp(peer, b"reply")
    assert [addr for _, addr in sent] == [(str(NAT), 4500), (str(NAT), 61000)]
    assert a.inb.decrypt(sent[0][0])[1][8:] == b"reply"
    assert b.inb.decrypt(sent[1][0])[1][8:] == b"reply"


def test_replay_tamper_keepalive_and_non_l2tp_are_counted(gw):
    dp, _, got, _, _ = gw
    ev = event(1, 0x1000, 0x2000, 4500)
    dp.install_child_sa(ev)
    peer = Peer(ev)
    pkt = peer.l2tp(b"hello")
    src = (str(NAT), 4500)
    dp.esp_in_udp_received(pkt, src)
    dp.esp_in_udp_received(pkt, src)                      # replay
    bad = bytearray(peer.l2tp(b"hello"))
    bad[20] ^= 1
    dp.esp_in_udp_received(bytes(bad), src)               # tamper
    dp.esp_in_udp_received(peer.l2tp(b"dns", dport=53), src)  # not L2TP
    dp.esp_in_udp_received(b"abc", src)                   # short
    # (NAT keepalives and IKE's non-ESP marker: the shell's, test_ike_transport)
    assert len(got) == 1
    c = dp.counters()
    assert (c.esp_replayed, c.esp_auth_failed, c.esp_not_l2tp) == (1, 1, 1)
    assert c.esp_malformed == 1
    s = dp.sa_counters(1)
    assert s.replay_failures == 1
    assert s.recv_errors == 1
    assert s.decaps == 2


def test_raw_esp_peer_is_keyed_with_port_zero(gw):
    dp, _, got, _, _ = gw
    ev = event(1, 0x1000, 0x2000, 500, encapsulation="transport")
    dp.install_child_sa(ev)
    peer = Peer(ev)
    dp.esp_received(peer.l2tp(b"raw"), str(NAT), 0)
    assert got == [(L2tpPeer(1, NAT, 0, 1701), b"raw")]
    dp.esp_in_udp_received(peer.l2tp(b"udp"), (str(NAT), 500))
    assert len(got) == 1


def test_tunnel_mode_inner_ip(gw):
    dp, _, got, sent, _ = gw
    ev = event(1, 0x1000, 0x2000, 4500, encapsulation="udp-tunnel")
    dp.install_child_sa(ev)
    peer = Peer(ev)
    inner = build_ipv4(NAT.packed, GW.packed, 17, build_udp(1701, 1701, b"t"))
    dp.esp_in_udp_received(peer.out.encrypt(4, inner), (str(NAT), 4500))
    assert got[0][1] == b"t"
    dp.send_l2tp(got[0][0], b"u")
    nh, pkt = peer.inb.decrypt(sent[0][0])
    assert nh == 4
    assert parse_ipv4(pkt).destination == NAT.packed


def test_lifetimes_soft_then_hard(gw):
    dp, clock, _, sent, life = gw
    ev = event(1, 0x1000, 0x2000, 4500, seconds=100)
    dp.install_child_sa(ev)
    clock.advance(50)
    assert life == []
    clock.advance(41)
    assert life == [RekeyRequested(1)]
    assert dp.sa_counters(1).inbound_seconds_left == 9
    clock.advance(10)
    assert life[1] == ChildSaDeleted(bytes(16), 1, 0x1000, 0x2000, "lifetime expired")
    assert dp.sa_counters(1) is None
    dp.send_l2tp(L2tpPeer(1, NAT, 4500, 1701), b"late")
    assert sent == []
    assert dp.counters().send_no_sa == 1


def test_remove_and_snapshot(gw):
    dp = gw[0]
    # the reference's SA: esp-des esp-md5-hmac, transport, "ipsec overhead 36"
    ev = event(1, 0xFBC9DB43, 0xA8C54EC8, 500, cipher="esp-des", integrity="esp-md5-hmac",
               encapsulation="transport")
    dp.install_child_sa(ev)
    (snap,) = dp.snapshot()
    assert snap.transform == "esp-des esp-md5-hmac "
    assert snap.mode == "Transport"
    assert snap.iv_size == 8
    assert snap.local_ident == (GW, IPv4Address("255.255.255.255"), 17, 1701)
    assert snap.ipsec_overhead == 36  # header 8, IV 8, max pad 6, trailer 2, ICV 12
    assert (snap.inbound_spi, snap.inbound_conn_id, snap.outbound_conn_id) == (0xFBC9DB43, 1, 2)
    dp.install_child_sa(event(3, 0x1003, 0x2003, 4500))
    assert dp.snapshot()[1].mode == "Transport, UDP-Encaps"
    assert dp.snapshot()[1].ipsec_overhead == 8 + 16 + 14 + 2 + 12 + 8
    dp.remove_child_sa(ChildSaDeleted(bytes(16), 1, 0xFBC9DB43, 0xA8C54EC8, "delete"))
    dp.remove_child_sa(ChildSaDeleted(bytes(16), 3, 0x1003, 0x2003, "delete"))
    assert dp.snapshot() == ()
    dp.remove_child_sa(ChildSaDeleted(bytes(16), 99, 1, 2, "unknown ids are ignored"))


def test_plain_l2tp_counted(gw):
    dp = gw[0]
    dp.note_l2tp_without_ipsec(("198.51.100.9", 1701))
    assert dp.counters().l2tp_without_ipsec == 1


# --- IPv4 helpers ---------------------------------------------------------------------------------


def test_checksum_rfc1071_example():
    # RFC 1071 §3: words 0001 f203 f4f5 f6f7 sum to ddf2 (before the complement)
    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == (~0xDDF2 & 0xFFFF)
    assert checksum(b"") == 0xFFFF
    assert checksum(b"\xff\xff") == 0


def test_ipv4_header_checksum_verifies():
    pkt = build_ipv4(GW.packed, NAT.packed, 17, b"abc", ident=7)
    assert checksum(pkt[:20]) == 0
    p = parse_ipv4(pkt)
    assert (p.protocol, p.total_length, p.source, p.fragment) == (17, 23, GW.packed, False)
    assert parse_ipv4(pkt[:19]) is None
    assert parse_ipv4(b"\x65" + pkt[1:]) is None


def test_udp_checksum_verifies_with_pseudo_header():
    seg = build_udp(1701, 1701, b"odd", source=GW.packed, destination=NAT.packed)
    pseudo = GW.packed + NAT.packed + b"\x00\x11" + len(seg).to_bytes(2, "big")
    assert checksum(pseudo + seg) == 0
    assert parse_udp(seg).payload == b"odd"
    assert parse_udp(seg[:7]) is None


@pytest.mark.parametrize("size", [0, 1, 2, 1399, 1400, 1404, 1405])
def test_udp_checksum_of_build_udp_is_the_reference_checksum(size):
    payload = bytes((i * 7 + size) & 0xFF for i in range(size))
    seg = build_udp(1701, 4242, payload, source=GW.packed, destination=NAT.packed)
    zeroed = seg[:6] + b"\0\0" + seg[8:]
    assert seg[6:8] == udp_checksum(GW.packed, NAT.packed, zeroed).to_bytes(2, "big")
    assert zeroed == build_udp(1701, 4242, payload)  # without addresses: checksum 0
    assert seg[8:] == payload and int.from_bytes(seg[4:6], "big") == size + 8


def test_malformed_udp_inside_esp_is_counted_not_delivered(gw):
    dp, _, got, _, _ = gw
    ev = event(1, 0x1000, 0x2000, 4500)
    dp.install_child_sa(ev)
    peer = Peer(ev)
    src = (str(NAT), 4500)
    good = build_udp(1701, 1701, b"l2tp")
    for segment in (
        good[:7],  # shorter than a UDP header
        good[:4] + (7).to_bytes(2, "big") + good[6:],  # length below the header
        good[:4] + (13).to_bytes(2, "big") + good[6:],  # length beyond the segment
        build_udp(1701, 1702, b"l2tp"),  # not to the L2TP port
    ):
        dp.esp_in_udp_received(peer.out.encrypt(17, segment), src)
    assert got == []
    assert dp.counters().esp_not_l2tp == 4
    # a length shorter than the segment: the bytes beyond it are not L2TP
    short = good[:4] + (10).to_bytes(2, "big") + good[6:]
    dp.esp_in_udp_received(peer.out.encrypt(17, short), src)
    assert [data for _, data in got] == [b"l2"]


def syn(mss):
    tcp = struct.pack("!HHIIBBHHH", 1234, 80, 1, 0, 0x60, 0x02, 65535, 0, 0)
    tcp += struct.pack("!BBH", 2, 4, mss)
    src, dst = IPv4Address("10.1.1.5").packed, IPv4Address("192.0.2.80").packed
    pseudo = src + dst + b"\x00\x06" + len(tcp).to_bytes(2, "big")
    csum = checksum(pseudo + tcp)
    tcp = tcp[:16] + csum.to_bytes(2, "big") + tcp[18:]
    return build_ipv4(src, dst, 6, tcp), pseudo


def test_mss_clamped_and_checksum_still_valid():
    pkt, pseudo = syn(1460)
    out = clamp_tcp_mss(pkt, 1360)
    assert out[20 + 22:20 + 24] == (1360).to_bytes(2, "big")
    assert checksum(pseudo + out[20:]) == 0
    assert clamp_tcp_mss(pkt, 1500) == pkt   # never raised
    small, _ = syn(1200)
    assert clamp_tcp_mss(small, 1360) == small


def test_memory_dataplane_plays_the_network():
    mem = MemoryDataplane()
    got: list[tuple[L2tpPeer, bytes]] = []
    life: list[Any] = []
    mem.start(lambda p, d: got.append((p, d)), lambda d, a: None)
    mem.set_lifetime_listener(life.append)
    ev = event(5, 1, 2, 4500)
    mem.install_child_sa(ev)
    peer = mem.receive_l2tp(5, b"hi")
    assert got == [(peer, b"hi")]
    mem.send_l2tp(peer, b"back")
    assert mem.sent_l2tp[0].payload == b"back"
    assert mem.sa_counters(5).encaps == 1
    delivered: list[bytes] = []
    mem.add_client_route(IPv4Address("10.1.1.5"), delivered.append, 1400)
    pkt, _ = syn(1460)
    assert not mem.receive_ip(pkt)
    mem.expire(5, hard=False)
    mem.expire(5, hard=True)
    assert life[0] == RekeyRequested(5)
    assert life[1].reason == "lifetime expired"
    assert mem.child_sas == {}


def test_esp_drop_is_malformed_message():
    from pixgw.wire import MalformedMessage
    assert issubclass(EspDrop, MalformedMessage)


def test_resolve_and_make_dataplane():
    from ipaddress import IPv4Network

    from pixgw.dataplane import make_dataplane, pool_routes, resolve_dataplane
    from pixgw.dataplane.xfrm import XfrmDataplane

    assert resolve_dataplane("auto", lambda: True) == "xfrm"
    assert resolve_dataplane("auto", lambda: False) == "userspace"
    assert resolve_dataplane("memory") == "memory"
    assert pool_routes([(IPv4Address("10.1.1.1"), IPv4Address("10.1.1.6"))]) == (
        IPv4Network("10.1.1.1/32"), IPv4Network("10.1.1.2/31"), IPv4Network("10.1.1.4/31"),
        IPv4Network("10.1.1.6/32"))
    clock = Clock()
    assert isinstance(make_dataplane("userspace", clock, local_address=GW), UserspaceDataplane)
    assert isinstance(make_dataplane("xfrm", clock, local_address=GW), XfrmDataplane)
    assert verifyObject(IDataplane, make_dataplane("xfrm", clock, local_address=GW))
    with pytest.raises(ValueError):
        make_dataplane("kernel", clock, local_address=GW)


def test_rekey_moves_outbound_to_the_new_sa_and_old_peers_still_work(gw):
    dp, _, got, sent, _ = gw
    old, new = event(1, 0x1000, 0x2000, 4500), event(3, 0x1001, 0x2001, 4500)
    dp.install_child_sa(old)
    old_peer_side = Peer(old)
    dp.esp_in_udp_received(old_peer_side.l2tp(b"before"), (str(NAT), 4500))
    l2tp_peer = got[0][0]
    dp.install_child_sa(new)                 # quick mode rekey: new SPIs, same outer endpoint
    new_peer_side = Peer(new)
    dp.send_l2tp(l2tp_peer, b"after-rekey")  # the L2TP layer still names child 1
    assert new_peer_side.inb.decrypt(sent[0][0])[1][8:] == b"after-rekey"
    dp.esp_in_udp_received(old_peer_side.l2tp(b"late-old"), (str(NAT), 4500))
    assert got[1][1] == b"late-old"          # the old inbound SA works until deleted
    dp.remove_child_sa(ChildSaDeleted(bytes(16), 1, 0x1000, 0x2000, "delete"))
    dp.send_l2tp(l2tp_peer, b"old-gone")
    assert new_peer_side.inb.decrypt(sent[1][0])[1][8:] == b"old-gone"
    dp.remove_child_sa(ChildSaDeleted(bytes(16), 3, 0x1001, 0x2001, "delete"))
    dp.send_l2tp(l2tp_peer, b"nothing-left")
    assert len(sent) == 2
    assert dp.counters().send_no_sa == 1


def test_natted_client_without_nat_oa_gets_checksum_zero(gw):
    dp, _, got, sent, _ = gw
    ev = event(1, 0x1000, 0x2000, 4500)  # remote_behind_nat, no NAT-OA
    dp.install_child_sa(ev)
    peer = Peer(ev)
    dp.esp_in_udp_received(peer.l2tp(b"x"), (str(NAT), 4500))
    dp.send_l2tp(got[0][0], b"reply")
    seg = peer.inb.decrypt(sent[0][0])[1]
    assert seg[6:8] == b"\0\0"


def test_pending_inbound_sa_takes_packets_before_quick_mode_3(gw):
    """Rekey: the initiator sends on the new SA as soon as it reads message 2. The inbound half,
    installed then, takes it in; replies stay on the old pair until message 3 switches them."""
    dp, _, got, sent, _ = gw
    old, new = event(1, 0x1000, 0x2000, 4500), event(3, 0x1001, 0x2001, 4500)
    dp.install_child_sa(old)
    old_side, new_side = Peer(old), Peer(new)
    dp.esp_in_udp_received(old_side.l2tp(b"before"), (str(NAT), 4500))
    l2tp_peer = got[0][0]
    dp.install_inbound_sa(new)                          # message 2 sent
    dp.esp_in_udp_received(new_side.l2tp(b"early"), (str(NAT), 4500))
    assert got[1][1] == b"early" and got[1][0].child_sa_id == 3
    assert dp.counters().esp_unknown_spi == 0
    assert dp.counters().esp_before_quick_mode_3 == 1
    dp.send_l2tp(got[1][0], b"reply-before-qm3")        # names the pending pair
    assert old_side.inb.decrypt(sent[0][0])[1][8:] == b"reply-before-qm3"
    assert [s.inbound_spi for s in dp.snapshot()] == [0x1000]  # show: no pair yet
    dp.install_child_sa(new)                            # message 3
    dp.send_l2tp(l2tp_peer, b"after-qm3")
    assert new_side.inb.decrypt(sent[1][0])[1][8:] == b"after-qm3"
    assert dp.sa_counters(3).decaps == 1                # the inbound SA kept what it counted
    dp.esp_in_udp_received(new_side.l2tp(b"next"), (str(NAT), 4500))
    assert got[2][1] == b"next" and dp.counters().esp_replayed == 0
    assert dp.counters().esp_before_quick_mode_3 == 1
    assert [s.inbound_spi for s in dp.snapshot()] == [0x1000, 0x1001]


def test_abandoned_pending_sa_goes_and_a_first_one_is_used_once_the_peer_sent_on_it(gw):
    dp, clock, got, sent, life = gw
    ev = event(1, 0x1000, 0x2000, 4500, seconds=60)
    side = Peer(ev)
    dp.install_inbound_sa(ev)
    dp.send_l2tp(L2tpPeer(1, NAT, 4500, 1701), b"unconfirmed")
    assert sent == [] and dp.counters().send_no_sa == 1
    dp.esp_in_udp_received(side.l2tp(b"SCCRQ"), (str(NAT), 4500))
    # authenticated ESP under the new keys: the peer read message 2, its message 3 is late
    dp.send_l2tp(got[0][0], b"SCCRP")
    assert side.inb.decrypt(sent[0][0])[1][8:] == b"SCCRP"
    clock.advance(59)
    dp.poll_lifetimes()
    assert life == []                      # IKE, not the lifetime poller, ends a pending SA
    dp.remove_child_sa(ChildSaDeleted(bytes(16), 1, 0x1000, 0x2000, QUICK_MODE_ABANDONED))
    dp.esp_in_udp_received(side.l2tp(b"late"), (str(NAT), 4500))
    assert len(got) == 1 and dp.counters().esp_unknown_spi == 1
    dp.send_l2tp(got[0][0], b"gone")
    assert len(sent) == 1 and dp.counters().send_no_sa == 2


def test_memory_dataplane_keeps_pending_inbound_apart():
    dp = MemoryDataplane()
    ev = event(1, 0x1000, 0x2000, 4500)
    dp.install_inbound_sa(ev)
    assert dp.pending_inbound == {1: ev} and dp.child_sas == {}
    dp.install_child_sa(ev)
    assert dp.pending_inbound == {} and dp.child_sas == {1: ev}
    dp.install_inbound_sa(event(3, 0x1001, 0x2001, 4500))
    gone = ChildSaDeleted(bytes(16), 3, 0x1001, 0x2001, QUICK_MODE_ABANDONED)
    dp.remove_child_sa(gone)
    assert dp.pending_inbound == {} and dp.removed == [gone] and 1 in dp.child_sas


def test_a_start_that_fails_part_way_leaves_no_reader_and_no_socket() -> None:
    # UDP 1701 on 127.0.0.1 taken by someone without SO_REUSEADDR: the guard's bind fails
    import errno
    import socket

    from twisted.internet.testing import MemoryReactorClock

    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        blocker.bind(("127.0.0.1", 1701))
    except OSError as e:
        blocker.close()
        pytest.skip(f"UDP 127.0.0.1:1701 not free here: {e}")
    try:
        reactor = MemoryReactorClock()
        dp = UserspaceDataplane(reactor, local_address=IPv4Address("127.0.0.1"), raw_esp=False,
                                guard_l2tp=True, lifetime_poll_seconds=1.0)
        with pytest.raises(OSError) as raised:
            dp.start(lambda peer, data: None, lambda data, to: None)
        assert raised.value.errno == errno.EADDRINUSE
        assert reactor.readers == set()  # the guard's reader came off again
        assert dp._readers._sockets == [] and dp._guard is None  # and its socket was closed
        assert not reactor.getDelayedCalls()  # no lifetime poller left running
    finally:
        blocker.close()


def test_a_lifetime_check_that_raises_spares_the_others_and_the_poller(gw):
    """Issue 29: the listener raising for one SA pair used to stop the LoopingCall for good
    (no SA would expire again); now it is counted, logged, and the rest go on."""
    dp, clock, _, _, life = gw
    dp.install_child_sa(event(1, 0x1000, 0x2000, 4500, seconds=100))
    dp.install_child_sa(event(2, 0x1001, 0x2001, 4501, seconds=100))
    calls: list[object] = []

    def listener(ev):
        calls.append(ev)
        if len(calls) == 1:
            raise RuntimeError("IKE could not take it")
        life.append(ev)

    dp.set_lifetime_listener(listener)
    clock.advance(91)  # both soft
    assert len(calls) == 2 and life == [RekeyRequested(2)]
    assert dp.counters().lifetime_poll_failed == 1
    clock.advance(10)  # both hard: the poller still runs
    assert [e.child_sa_id for e in life[1:]] == [1, 2]
    assert dp._poller.running
