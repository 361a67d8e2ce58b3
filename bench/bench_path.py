"""Packets/s and Mbit/s of 1400-byte IP packets through the whole userspace path of one
gateway, per transform: ESP-in-UDP (RFC 3948) -> ESP decrypt (RFC 4303) -> UDP 1701 -> L2TP data
(RFC 2661 §5.1) -> PPP (RFC 1661) -> TUN write, and back: TUN read -> PPP -> L2TP -> ESP encrypt
-> UDP. The TUN is a write to /dev/null (a real write syscall, no kernel routing) so it runs
without privileges; the raw `cryptography` ceiling for the same transform is printed beside.
Prints, never asserts.

    .venv/bin/python bench/bench_path.py [--seconds 1.0] [--size 1400]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import asdict
from functools import partial
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from twisted.internet import task

from pixgw.config.parser import parse
from pixgw.dataplane.ipv4 import build_udp
from pixgw.dataplane.userspace import UserspaceDataplane
from pixgw.esp import EspSa
from pixgw.gateway import Gateway
from pixgw.ike.events import ChildSaEstablished, Endpoint, TrafficSelector
from pixgw.logrouter import PixLogRouter
from pixgw.testing.l2tp_lac import L2tpLac
from pixgw.testing.ppp_peer import PppPeer

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_esp import TRANSFORMS, ceiling, params
from gateway_harness import PASSWORD, check_locally, config_text

GW = IPv4Address("192.0.2.1")
CLIENT = IPv4Address("198.51.100.7")


def checksum(header: bytes) -> int:
    s = sum(int.from_bytes(header[i:i + 2], "big") for i in range(0, len(header), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip_packet(src: IPv4Address, dst: IPv4Address, size: int) -> bytes:
    head = bytearray(bytes.fromhex("45000000000040004011") + bytes(2) + src.packed + dst.packed)
    head[2:4] = size.to_bytes(2, "big")
    head[10:12] = checksum(bytes(head)).to_bytes(2, "big")
    return bytes(head) + bytes(size - 20)


class PathWorld:
    """One client session through UserspaceDataplane + Gateway, the client doing ESP itself."""

    def __init__(self, cipher: Any, integrity: Any) -> None:
        self.clock = task.Clock()
        self.dp = UserspaceDataplane(self.clock, raw_esp=False, guard_l2tp=False, tun=None,
                                     lifetime_poll_seconds=0)
        parsed = parse(config_text(2, 16)).config
        self.gateway = Gateway(parsed, reactor=self.clock,
                               log_router=PixLogRouter(parsed.logging, console=lambda s: None),
                               dataplane=self.dp, authenticate=check_locally,
                               random_bytes=os.urandom)
        self.out: list[bytes] = []
        self.sent = 0
        self.gateway.send_esp_udp = self._esp_out
        self.gateway.start()
        self.dp._replay_window = 0  # one packet is replayed many times inbound
        c2g = params(cipher, integrity, 0x1000)
        g2c = params(cipher, integrity, 0x2000)
        self.dp.install_child_sa(ChildSaEstablished(
            ike_sa_id=bytes(16), child_sa_id=1, local=Endpoint(GW, 4500),
            remote=Endpoint(CLIENT, 4500), inbound=c2g, outbound=g2c,
            encapsulation="udp-transport",
            local_selector=TrafficSelector(GW, GW, 17, 1701),
            remote_selector=TrafficSelector(CLIENT, CLIENT, 17, 1701),
            lifetime_seconds=0, lifetime_kilobytes=0, crypto_map="dyna",
            crypto_map_sequence=20, remote_behind_nat=True))
        self.c_out = EspSa(c2g, now=0, random_bytes=os.urandom, replay_window=0)
        self.c_in = EspSa(g2c, now=0, random_bytes=os.urandom, replay_window=0)
        self.lac = L2tpLac(random_bytes=os.urandom)
        self.ppp = PppPeer("bench", PASSWORD, random_bytes=os.urandom,
                           auth_protocols=("mschapv2",))
        self.source = (str(CLIENT), 4500)

    def _esp_out(self, data: bytes, address: tuple[str, int]) -> None:
        self.sent += 1
        if self.out is not None:
            self.out.append(data)

    def esp_of(self, l2tp: bytes) -> bytes:
        return self.c_out.encrypt(17, build_udp(1701, 1701, l2tp))

    def exchange(self) -> None:
        now = self.clock.seconds()
        for frame in self.ppp.frames_to_send(now):
            self.lac.send_ppp(frame, now)
        for data in self.lac.datagrams_to_send(now):
            self.dp.esp_in_udp_received(self.esp_of(data), self.source)
        batch, self.out = self.out, []
        for esp in batch:
            _, udp = self.c_in.decrypt(esp)
            self.lac.receive_datagram(udp[8:], now)
        for frame in self.lac.frames:
            self.ppp.receive_frame(frame, now)
        self.lac.frames.clear()

    def connect(self) -> bool:
        now = self.clock.seconds()
        self.lac.start_tunnel(now)
        started = False
        for _ in range(60):
            self.exchange()
            if self.lac.tunnel_state == "established" and self.lac.session_state == "idle":
                self.lac.place_call(now)
            if self.lac.session_state == "established" and not started:
                started = True
                self.ppp.start(now)
            if self.ppp.up:
                for _ in range(5):
                    self.exchange()
                return True
        return False


def rate(fn: Any, seconds: float) -> tuple[float, int, float]:
    """(packets per wall second, packets, packets per CPU second of this thread). On a shared
    machine the CPU-second figure is what one free core would do; the wall figure is what this
    run got."""
    n = 0
    start = time.perf_counter()
    cpu = time.thread_time()
    deadline = start + seconds
    while time.perf_counter() < deadline and n < 10_000_000:
        for _ in range(50):
            fn()
        n += 50
    used = time.thread_time() - cpu
    return n / (time.perf_counter() - start), n, n / used if used > 0 else 0.0


def run(seconds: float = 1.0, size: int = 1400) -> list[dict[str, Any]]:
    rows = []
    for label, cipher, integrity in TRANSFORMS:
        world = PathWorld(cipher, integrity)
        if not world.connect():
            raise RuntimeError(f"{label}: session did not come up")
        address = world.ppp.address
        assert address is not None
        null = os.open(os.devnull, os.O_WRONLY)
        world.dp._tun_fd = null
        # inbound: the client's IP packet, PPP-framed by the peer, L2TP data, ESP
        world.ppp.send_ip(ip_packet(address, IPv4Address("203.0.113.9"), size))
        now = world.clock.seconds()
        for frame in world.ppp.frames_to_send(now):
            world.lac.send_ppp(frame, now)
        (l2tp,) = world.lac.datagrams_to_send(now)
        esp = world.esp_of(l2tp)
        before = world.dp.counters()
        inbound = partial(world.dp.esp_in_udp_received, esp, world.source)
        pps_in, n_in, cpu_in = rate(inbound, seconds)
        after = world.dp.counters()
        # outbound: a packet from the inside to the client, as read from the TUN
        reply = ip_packet(IPv4Address("203.0.113.9"), address, size)
        world.out = None  # type: ignore[assignment]
        world.sent = 0
        pps_out, n_out, cpu_out = rate(partial(world.dp._tun_received, reply), seconds)
        sent_out = world.sent
        world.dp._tun_fd = None
        os.close(null)
        world.gateway.stop()
        rows.append({
            "transform": label,
            "in_pps": round(pps_in), "in_mbit": round(pps_in * size * 8 / 1e6),
            "out_pps": round(pps_out), "out_mbit": round(pps_out * size * 8 / 1e6),
            "in_pps_cpu": round(cpu_in), "out_pps_cpu": round(cpu_out),
            "ceiling_pps": round(ceiling(cipher, integrity, size, seconds)),
            "in_delivered": _delta(before, after, n_in), "out_sent": f"{sent_out}/{n_out}",
        })
    return rows


def _delta(before: Any, after: Any, n: int) -> str:
    """Packets that reached the TUN write: all but those the dataplane counted as drops."""
    drops = sum(asdict(after).values()) - sum(asdict(before).values())
    return f"{n - drops}/{n}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--size", type=int, default=1400)
    args = ap.parse_args()
    print(f"{'transform':10} {'in pkts/s':>10} {'Mbit/s':>7} {'out pkts/s':>10} {'Mbit/s':>7}"
          f" {'crypto ceiling pkts/s':>22}")
    for r in run(args.seconds, args.size):
        print(f"{r['transform']:10} {r['in_pps']:>10} {r['in_mbit']:>7} {r['out_pps']:>10}"
              f" {r['out_mbit']:>7} {r['ceiling_pps']:>22}"
              f"  per CPU-s in {r['in_pps_cpu']} out {r['out_pps_cpu']}"
              f"  in delivered {r['in_delivered']}, out sent {r['out_sent']}")


if __name__ == "__main__":
    main()
