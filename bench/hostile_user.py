"""What one hostile VPN user (holding the group key) costs the gateway's reactor (issue 27):
a burst of 20,000 SCCRQs through one IPsec SA, a burst of 20,000 ICRQs on one tunnel that never
acknowledges, and one Delete naming 16,000 SPIs. Prints the whole time of each burst and the
longest single datagram (what the reactor was blocked for at once). Nothing asserts a time.

    .venv/bin/python bench/hostile_user.py
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pixgw.ike import constants as c
from pixgw.ike.message import DeletePayload
from pixgw.l2tp.avp import Avp, AvpType, encode_avps
from pixgw.l2tp.core import L2tpLns, L2tpSettings
from pixgw.l2tp.message import ControlMessage, MessageType, encode_control
from pixgw.testing.ike_initiator import InitiatorProfile
from pixgw.testing.l2tp_lac import L2tpLac
from tests.protocol.ike_harness import main_mode, make_pair, pix_config, quick_mode
from tests.protocol.l2tp_link import PEER, Link, counting_random


def timed(items: list[Callable[[], object]]) -> tuple[float, float]:
    """(total ms, longest single ms)."""
    longest = 0.0
    start = time.perf_counter()
    for item in items:
        t0 = time.perf_counter()
        item()
        longest = max(longest, time.perf_counter() - t0)
    return (time.perf_counter() - start) * 1000, longest * 1000


def sccrq_burst(count: int) -> None:
    lns = L2tpLns(L2tpSettings(), random_bytes=counting_random())
    datagrams = []
    for tunnel_id in range(1, count + 1):
        lac = L2tpLac(random_bytes=counting_random(), tunnel_id=tunnel_id & 0xFFFF or 1)
        lac.start_tunnel(0.0)
        datagrams += lac.datagrams_to_send(0.0)
    total, longest = timed([lambda d=d: lns.receive_datagram(d, PEER, 0.0) for d in datagrams])
    print(f"{count} SCCRQ through one SA: {total:.0f} ms in all, longest datagram "
          f"{longest:.2f} ms; tunnels {len(lns.tunnel_status())}, refused "
          f"{lns.counters().tunnels_per_sa_refused}")


def icrq_burst(count: int) -> None:
    link = Link()
    link.establish(call=False)
    lac, lns = link.lac, link.lns
    ns, nr = lac.channel.ns, lac.channel.nr

    def one(i: int) -> None:
        avps = [Avp.of_u16(AvpType.MESSAGE_TYPE, MessageType.ICRQ),
                Avp.of_u16(AvpType.ASSIGNED_SESSION_ID, 1 + i % 60000),
                Avp.of_u32(AvpType.CALL_SERIAL_NUMBER, i)]
        message = ControlMessage(lac.remote_tunnel_id, 0, (ns + i) & 0xFFFF, nr, encode_avps(avps))
        lns.receive_datagram(encode_control(message), PEER, 1.0)
        lns.datagrams_to_send(1.0)

    total, longest = timed([lambda i=i: one(i) for i in range(count)])
    print(f"{count} ICRQ never acknowledged: {total:.0f} ms in all, longest datagram "
          f"{longest:.2f} ms; tunnels left {len(lns.tunnel_status())}, ended for a full queue "
          f"{lns.counters().queue_overflow}")


def delete_burst(spis: int) -> None:
    path = make_pair(pix_config(), InitiatorProfile(psk=b"s3cret", vendor_ids=()))
    main_mode(path)
    quick_mode(path)
    names = tuple(os.urandom(4) for _ in range(spis))
    data = path.initiator.informational([DeletePayload(c.DOI_IPSEC, c.PROTO_ESP, 4, names)])
    total, _ = timed([lambda: path.send(data, 1001.0)])
    k = path.responder.counters
    print(f"one Delete of {spis} SPIs: {total:.2f} ms; SPIs ignored {k.delete_spis_ignored}, "
          f"not the sender's {k.delete_spis_not_own}")


if __name__ == "__main__":
    sccrq_burst(20_000)
    icrq_burst(20_000)
    delete_burst(16_000)
