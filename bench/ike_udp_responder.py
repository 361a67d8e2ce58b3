"""A minimal UDP shell around :class:`IkeResponder` for the strongSwan comparison (RFC 2409 over
UDP 500, RFC 3947 port 4500 answered too): reads datagrams, feeds the sans-I/O core, sends what it
queues, drives its timer, and prints one line per established child SA
("ESTABLISHED <monotonic time>"). Bounded: exits after --seconds, after --expect child SAs, or
after --idle seconds without a datagram. Run it inside a network namespace the benchmark made.

    python bench/ike_udp_responder.py --address 192.0.2.1 --group 14 --seconds 120 --expect 100
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import sys
import time
from dataclasses import replace
from ipaddress import IPv4Address
from pathlib import Path

from twisted.logger import ILogObserver
from zope.interface import provider

from pixgw import syslog
from pixgw.config.model import AccessList, AccessListEntry, PixConfig
from pixgw.ike.core import IkeResponder
from pixgw.ike.events import ChildSaEstablished, Endpoint

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ike import ANY, config

PSK_NOTE = "the PSK is 'bench' for 0.0.0.0/0 (bench_ike.config)"


def bench_config(group: int) -> PixConfig:
    """bench_ike's config with the crypto ACL widened to any protocol (load-tester proposes
    host-to-host selectors for all protocols)."""
    cfg = config(group)
    return replace(cfg, access_lists=(AccessList("l2tp", (AccessListEntry("permit", None, ANY,
                                                                          ANY),)),))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--address", default="192.0.2.1")
    ap.add_argument("--group", type=int, default=14)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--expect", type=int, default=0)
    ap.add_argument("--idle", type=float, default=20.0)
    ap.add_argument("--debug", action="store_true", help="print PIX messages and debug lines")
    args = ap.parse_args()
    if args.debug:
        @provider(ILogObserver)
        def show(event: dict[str, object]) -> None:
            print(event.get("pix_line") or event.get("pix_debug_text"), flush=True)

        syslog.add_observer(show)
    responder = IkeResponder(bench_config(args.group), random_bytes=os.urandom)
    socks = {}
    for port in (500, 4500):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((args.address, port))
        s.setblocking(False)
        socks[s.fileno()] = (s, Endpoint(IPv4Address(args.address), port))
    by_port = {ep.port: s for s, ep in socks.values()}
    start = last_input = time.monotonic()
    established = 0
    print("READY", flush=True)
    while time.monotonic() - start < args.seconds and time.monotonic() - last_input < args.idle:
        now = time.monotonic()
        timer = responder.get_timer()
        wait = 0.5 if timer is None else max(0.0, min(0.5, timer - now))
        ready, _, _ = select.select(list(socks), [], [], wait)
        now = time.monotonic()
        for fd in ready:
            sock, local = socks[fd]
            for _ in range(64):  # batched reads, bounded
                try:
                    data, (host, port) = sock.recvfrom(65535)
                except BlockingIOError:
                    break
                last_input = now
                if local.port == 4500:
                    if data[:4] != bytes(4):
                        continue  # ESP or keepalive: no dataplane here
                    data = data[4:]
                responder.receive_datagram(data, local, Endpoint(IPv4Address(host), port), now)
        timer = responder.get_timer()
        if timer is not None and timer <= now:
            responder.handle_timer(now)
        for out, local, remote in responder.datagrams_to_send(now):
            marker = bytes(4) if local.port == 4500 and out != b"\xff" else b""
            by_port[local.port].sendto(marker + out, (str(remote.address), remote.port))
        while (event := responder.next_event()) is not None:
            if isinstance(event, ChildSaEstablished):
                established += 1
                print(f"ESTABLISHED {time.monotonic():.6f}", flush=True)
        if args.expect and established >= args.expect:
            break
    print(f"DONE {established}", flush=True)


if __name__ == "__main__":
    if os.environ.get("PIXGW_BENCH_PROFILE"):  # cProfile summary of the responder, on stdout
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(main)
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.strip_dirs().sort_stats("tottime").print_stats(20)
        stats.sort_stats("cumulative").print_stats(25)
    else:
        main()
