"""IKEv1 setups per second: main mode + quick mode through :class:`IkeResponder`, driven back to
back by the testing initiator, for groups 2, 14 and 19 (AES-256/SHA1, pre-shared key, ESP
AES-256/SHA1 transport). Also prints the responder's share of the time (the initiator does the
same amount of DH work). Prints, never asserts.

    .venv/bin/python bench/bench_ike.py [--seconds 2.0] [--groups 2,14,19]
"""

from __future__ import annotations

import argparse
import os
import time
from ipaddress import IPv4Address

from pixgw.config.model import (
    AccessList,
    AccessListEntry,
    AddressMatch,
    Crypto,
    CryptoMap,
    CryptoMapEntry,
    DynamicMap,
    Interface,
    Isakmp,
    IsakmpKey,
    IsakmpPolicy,
    PixConfig,
    TransformSet,
)
from pixgw.ike import constants as c
from pixgw.ike.core import IkeResponder
from pixgw.ike.events import ChildSaEstablished, ChildSaPending, Endpoint
from pixgw.testing.ike_initiator import EspOffer, IkeInitiator, InitiatorProfile, Phase1Offer

GATEWAY = IPv4Address("192.0.2.1")
ANY = AddressMatch(IPv4Address("0.0.0.0"), IPv4Address("0.0.0.0"))


def config(group: int) -> PixConfig:
    return PixConfig(
        interfaces=(Interface("ethernet0", "outside", 0, address=GATEWAY),),
        access_lists=(AccessList("l2tp", (AccessListEntry("permit", 17, ANY, ANY),)),),
        isakmp=Isakmp(enabled_interfaces=("outside",),
                      policies=(IsakmpPolicy(10, "pre-share", "aes-256", "sha", group),),
                      keys=(IsakmpKey("bench", IPv4Address("0.0.0.0"), IPv4Address("0.0.0.0")),)),
        crypto=Crypto(
            transform_sets=(TransformSet("t", "esp-aes-256", "esp-sha-hmac", "transport"),),
            dynamic_maps=(DynamicMap("dyn", (CryptoMapEntry(10, match_address="l2tp",
                                                            transform_sets=("t",)),)),),
            maps=(CryptoMap("m", (CryptoMapEntry(10, dynamic_map="dyn"),),
                            interfaces=("outside",)),),
        ),
    )


def one_setup(responder: IkeResponder, group: int, n: int, timing: list[float]) -> None:
    client = Endpoint(IPv4Address(int(IPv4Address("198.51.100.0")) + n % 250 + 1), 500)
    profile = InitiatorProfile(psk=b"bench", phase1=(
        Phase1Offer(c.ENC_AES, 256, c.HASH_SHA, c.AUTH_PSK, group),),
        esp=(EspOffer(c.ESP_AES, 256, c.AUTH_HMAC_SHA),), vendor_ids=())
    initiator = IkeInitiator(profile, client, Endpoint(GATEWAY, 500), os.urandom)
    local = Endpoint(GATEWAY, 500)

    def send(data: bytes) -> list[bytes]:
        t0 = time.perf_counter()
        responder.receive_datagram(data, local, client, 0.0)
        out = [d for d, _, _ in responder.datagrams_to_send(0.0)]
        timing.append(time.perf_counter() - t0)
        return out

    msg: bytes | None = initiator.main_mode_1()
    while msg is not None and initiator.state != "established":
        (reply,) = send(msg)
        msg = initiator.receive(reply)
    (qm2,) = send(initiator.quick_mode_1())
    qm3 = initiator.receive(qm2)
    assert qm3 is not None
    send(qm3)
    event = responder.next_event()
    if isinstance(event, ChildSaPending):  # announced with message 2
        event = responder.next_event()
    if not isinstance(event, ChildSaEstablished):
        raise RuntimeError("setup failed")
    responder.delete_ike_sa(event.ike_sa_id, 0.0)
    responder.delete_child_sa(event.child_sa_id, 0.0)
    responder.datagrams_to_send(0.0)
    while responder.next_event() is not None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--groups", default="2,14,19")
    args = parser.parse_args()
    print(f"{'group':>5} {'setups':>7} {'setups/s':>9} {'responder ms/setup':>19}")
    for group in (int(g) for g in args.groups.split(",")):
        responder = IkeResponder(config(group), random_bytes=os.urandom)
        timing: list[float] = []
        n = 0
        start = time.perf_counter()
        while time.perf_counter() - start < args.seconds and n < 100000:
            one_setup(responder, group, n, timing)
            n += 1
        elapsed = time.perf_counter() - start
        print(f"{group:>5} {n:>7} {n / elapsed:>9.1f} {1000 * sum(timing) / n:>19.2f}")


if __name__ == "__main__":
    main()
