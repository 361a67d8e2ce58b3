"""Hostile input into ESP and the userspace dataplane: EspSa.decrypt returns or raises EspDrop (a
MalformedMessage); the dataplane and the IPv4 helpers never raise; a mutated genuine packet is
never delivered."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock

from pixgw.dataplane.ipv4 import build_udp, clamp_tcp_mss, parse_ipv4, parse_udp
from pixgw.dataplane.userspace import UserspaceDataplane
from pixgw.esp import EspDrop, EspSa
from pixgw.ike.events import EspSaParameters
from tests.unit.test_dataplane_userspace import NAT, Peer, event

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TRANSFORMS = st.sampled_from([
    ("esp-aes", "esp-sha-hmac"), ("esp-3des", "esp-md5-hmac"), ("esp-des", None),
    ("esp-null", "esp-sha256-hmac"), ("esp-aes-256", None)])


def sa_for(cipher, integrity):
    keylen = {"esp-aes": 16, "esp-3des": 24, "esp-des": 8, "esp-null": 0, "esp-aes-256": 32}
    maclen = {"esp-sha-hmac": 20, "esp-md5-hmac": 16, "esp-sha256-hmac": 32, None: 0}
    p = EspSaParameters(0x1234, cipher, integrity, bytes(keylen[cipher]), bytes(maclen[integrity]))
    return EspSa(p, now=0, random_bytes=bytes)


@FAST
@given(TRANSFORMS, st.binary(max_size=200))
def test_decrypt_returns_or_raises_esp_drop(transform, data):
    sa = sa_for(*transform)
    with contextlib.suppress(EspDrop):
        sa.decrypt(data)
    with contextlib.suppress(EspDrop):  # the long-lived CBC context survives garbage
        sa.decrypt(b"\0\0\x12\x34" + data)


@FAST
@given(st.binary(max_size=300), st.integers(0, 65535))
def test_dataplane_never_raises(data, port):
    dp = UserspaceDataplane(Clock(), raw_esp=False, guard_l2tp=False, tun=None,
                            lifetime_poll_seconds=0)
    got = []
    dp.start(lambda p, d: got.append(d), lambda d, a: None)
    ev = event(1, 0x1000, 0x2000, 4500)
    dp.install_child_sa(ev)
    dp.esp_in_udp_received(data, (str(NAT), port))
    dp.esp_in_udp_received(b"\0\0\x10\x00" + data, (str(NAT), 4500))
    dp._raw_received(data)
    assert got == []


@FAST
@given(st.integers(0, 10_000), st.integers(0, 255))
def test_mutated_genuine_packet_is_never_delivered(position, flip):
    dp = UserspaceDataplane(Clock(), raw_esp=False, guard_l2tp=False, tun=None,
                            lifetime_poll_seconds=0)
    got = []
    dp.start(lambda p, d: got.append(d), lambda d, a: None)
    ev = event(1, 0x1000, 0x2000, 4500)
    dp.install_child_sa(ev)
    pkt = bytearray(Peer(ev).out.encrypt(17, build_udp(1701, 1701, b"payload")))
    pkt[position % len(pkt)] ^= flip or 1
    dp.esp_in_udp_received(bytes(pkt), (str(NAT), 4500))
    assert got == []


@FAST
@given(st.binary(max_size=120), st.integers(0, 65535))
def test_ipv4_helpers_never_raise(data, mss):
    parse_ipv4(data)
    parse_udp(data)
    clamp_tcp_mss(data, mss)
