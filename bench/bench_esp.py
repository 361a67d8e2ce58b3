"""Userspace ESP throughput: packets/s and Mbit/s of 1400-byte payloads per transform, for
EspSa.encrypt / EspSa.decrypt alone, for the userspace dataplane path (ESP-in-UDP in ->
demultiplex -> decrypt -> UDP 1701 filter -> L2TP callback; send_l2tp -> UDP -> encrypt ->
send_udp), and the raw `cryptography` + hashlib ceiling (one long-lived CBC context and one
HMAC over the same bytes, nothing else). Prints, never asserts.

    .venv/bin/python bench/bench_esp.py [--seconds 1.0] [--size 1400]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import time
from collections.abc import Callable
from functools import partial
from ipaddress import IPv4Address

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from twisted.internet.task import Clock

from pixgw.dataplane.interfaces import L2tpPeer
from pixgw.dataplane.ipv4 import build_udp
from pixgw.dataplane.userspace import UserspaceDataplane
from pixgw.esp import CIPHERS, INTEGRITIES, EspSa
from pixgw.ike.events import (
    ChildSaEstablished,
    Endpoint,
    EspCipher,
    EspIntegrity,
    EspSaParameters,
    TrafficSelector,
)

TRANSFORMS: list[tuple[str, EspCipher, EspIntegrity]] = [
    ("aes-sha1", "esp-aes", "esp-sha-hmac"),
    ("3des-sha1", "esp-3des", "esp-sha-hmac"),
    ("des-md5", "esp-des", "esp-md5-hmac"),
]


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls of fn() per second, in batches of 100, for about *seconds* (bounded)."""
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline and n < 10_000_000:
        for _ in range(100):
            fn()
        n += 100
    return n / (time.perf_counter() - start)


def params(cipher: EspCipher, integrity: EspIntegrity, spi: int) -> EspSaParameters:
    return EspSaParameters(
        spi,
        cipher,
        integrity,
        os.urandom(CIPHERS[cipher].key_length),
        os.urandom(INTEGRITIES[integrity].key_length),
    )


def ceiling(cipher: EspCipher, integrity: EspIntegrity, size: int, seconds: float) -> float:
    key = os.urandom(CIPHERS[cipher].key_length)
    alg = {"esp-aes": algorithms.AES, "esp-3des": TripleDES}.get(cipher)
    algorithm = alg(key) if alg else TripleDES(key * 3)
    enc = Cipher(algorithm, modes.CBC(bytes(CIPHERS[cipher].block_size))).encryptor()
    mkey = os.urandom(INTEGRITIES[integrity].key_length)
    name = INTEGRITIES[integrity].hash_name
    data = os.urandom(size + 32 - size % 16)
    mac = hmac.new(mkey, digestmod=name)

    def one() -> None:
        enc.update(data)
        h = mac.copy()
        h.update(data)
        h.digest()

    _ = hashlib  # hashlib-backed hmac copies are what EspSa uses too
    return rate(one, seconds)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--size", type=int, default=1400)
    args = ap.parse_args()
    size, secs = args.size, args.seconds
    payload = os.urandom(size)
    mbit = size * 8 / 1e6
    print(f"payload {size} bytes, {secs:.1f} s per figure, one core (single thread)")
    print(f"{'transform':10} {'what':22} {'pkts/s':>10} {'Mbit/s':>8}")
    for label, cipher, integrity in TRANSFORMS:
        p = params(cipher, integrity, 0x1000)
        out = EspSa(p, now=0, random_bytes=os.urandom, replay_window=64)
        inb = EspSa(p, now=0, random_bytes=os.urandom, replay_window=0)
        packet = out.encrypt(17, payload)
        figures = [
            ("esp encrypt", rate(partial(out.encrypt, 17, payload), secs)),
            # the inbound SA without a replay window so one packet can be decrypted repeatedly
            ("esp decrypt", rate(partial(inb.decrypt, packet), secs)),
        ]
        # the whole userspace dataplane path, both ways
        dp = UserspaceDataplane(
            Clock(), raw_esp=False, guard_l2tp=False, tun=None, lifetime_poll_seconds=0
        )
        dp.start(lambda peer, data: None, lambda data, addr: None)
        gw, client = IPv4Address("203.0.113.1"), IPv4Address("198.51.100.7")
        ev = ChildSaEstablished(
            ike_sa_id=bytes(16),
            child_sa_id=1,
            local=Endpoint(gw, 4500),
            remote=Endpoint(client, 4500),
            inbound=p,
            outbound=params(cipher, integrity, 0x2000),
            encapsulation="udp-transport",
            local_selector=TrafficSelector(gw, gw, 17, 1701),
            remote_selector=TrafficSelector(client, client, 17, 1701),
            lifetime_seconds=0,
            lifetime_kilobytes=0,
            crypto_map="dyn",
            crypto_map_sequence=10,
            remote_behind_nat=False,  # so the inner UDP checksum is computed (worst case)
        )
        dp._replay_window = 0
        dp.install_child_sa(ev)
        l2tp = out.encrypt(17, build_udp(1701, 1701, payload[:-8]))
        source = (str(client), 4500)
        figures.append(
            (
                "path in (udp->l2tp)",
                rate(partial(dp.esp_in_udp_received, l2tp, source), secs),
            )
        )
        peer = L2tpPeer(1, client, 4500, 1701)
        figures.append(
            (
                "path out (l2tp->udp)",
                rate(partial(dp.send_l2tp, peer, payload[:-8]), secs),
            )
        )
        figures.append(("cryptography ceiling", ceiling(cipher, integrity, size, secs)))
        dp.stop()
        for what, pps in figures:
            print(f"{label:10} {what:22} {pps:10.0f} {pps * mbit:8.0f}")


if __name__ == "__main__":
    main()
