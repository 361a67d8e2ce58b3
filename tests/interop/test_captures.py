"""What real clients send, recorded and read back (issue 30): a QEMU client (strongSwan + xl2tpd +
pppd, stock Debian kernel) connects to ``twistd pixgw`` with ESP-NULL (``esp-null esp-sha-hmac``,
RFC 2410: integrity without confidentiality, which PIX 6.3 offers too), pings, hangs up; a capture
on the outside segment then holds the whole conversation readable: IKE, ESP and, inside the ESP,
L2TP and PPP.  Every message the client sent must decode with pixgw's own decoders (IKE header
and payload chain where it is in clear, L2TP messages and AVPs, PPP frames), and the capture must
hold every stage of a session (main and quick mode, the L2TP control exchange, LCP, the
authentication protocol, IPCP, IP, the goodbyes).

The captures are the fuzzers' seed corpus (tests/fuzz/captures.py reads them): with
``PIXGW_RECORD_CAPTURES=1`` this test copies its pcaps to tests/vectors/captures/.

Cells: Windows 10's proposals with MS-CHAP v2, macOS's (an ephemeral L2TP port) with PAP, and
Android's with CHAP behind the NAT router (NAT-T: NAT-D payloads, IKE on 4500 after the non-ESP
marker, UDP-encapsulated ESP, RFC 3947/3948).  Cost: ~30 s per cell on one running gateway,
plus the guest boots (the NAT router's guest: ~15 s, shared with test_nat).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from pixgw.ike.message import decode_header, decode_payloads
from pixgw.l2tp.avp import AvpType, decode_avps
from pixgw.l2tp.message import DataMessage, message_name
from pixgw.l2tp.message import decode as decode_l2tp
from pixgw.ppp.frame import decode_frame
from tests.fuzz.captures import CAPTURES, datagrams, ppp_frame
from tests.interop.pixgw_gateway import (
    RunningGateway,
    bring_up,
    check_connected,
    gateway_config,
    hang_up_and_check,
)
from tests.interop.qemu.capture import Capture
from tests.interop.qemu.netns import OUTSIDE_NAT, Namespace, Topology

pytestmark = [pytest.mark.root, pytest.mark.interop, pytest.mark.slow]
# Time bound (300 s per cell): a ~30 s connection plus the guest boots.
pytestmark.append(pytest.mark.timeout(300))

NULL_SETS = {"l2tp-null": ("esp-null", "esp-sha-hmac"), "l2tp-aes": ("esp-aes", "esp-sha-hmac")}
# PPP protocols (RFC 1661, 1334, 1994, 2433/2759 by way of CHAP, 1332, IP) a session must carry
LCP, PAP, CHAP, IPCP, IP = 0xC021, 0xC023, 0xC223, 0x8021, 0x0021


@pytest.fixture(scope="module")
def null_gateway(
    gateway_netns: Namespace, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    config = gateway_config(
        ppp_auths=("mschapv2", "chap", "pap"), transform_sets=NULL_SETS, hostname="pixgw-captures"
    )
    gw = RunningGateway(
        gateway_netns, tmp_path_factory.mktemp("captures"), config, log_name="pixgw-captures.log"
    )
    try:
        yield gw
    finally:
        gw.stop()


@pytest.mark.parametrize(
    ("profile", "ppp_auth", "auth_protocol", "behind_nat"),
    [
        ("win10", "mschap-v2", CHAP, False),
        ("macos", "pap", PAP, False),
        ("android", "chap", CHAP, True),
    ],
)
def test_a_real_client_recorded(
    *,
    null_gateway: RunningGateway,
    inside_netns: Namespace,
    interop_topology: Topology,
    request: pytest.FixtureRequest,
    profile: str,
    ppp_auth: str,
    auth_protocol: int,
    behind_nat: bool,
) -> None:
    name = f"{profile}-{ppp_auth}-esp-null" + ("-nat" if behind_nat else "")
    client_guest = request.getfixturevalue("nat_client_guest" if behind_nat else "client_guest")
    peer = OUTSIDE_NAT if behind_nat else "192.0.2.2"
    cap = Capture.start(
        interop_topology.outside,
        "br0",
        interop_topology.workdir / f"{name}.pcap",
        "udp port 500 or udp port 4500 or esp or udp port 1701",
        snaplen=0,
    )
    try:
        client = client_guest(
            profile=profile,
            auth="psk",
            ppp_auth=ppp_auth,
            esp=("null-sha1",),
            **({"index": 1} if behind_nat else {}),
        )
        status = bring_up(null_gateway, client)
        check_connected(
            null_gateway, client, status, inside_netns, peer=peer, transform="esp-null esp-sha-hmac"
        )
        hang_up_and_check(null_gateway, client)
    finally:
        cap.stop()
    seen = datagrams(cap.pcap.read_bytes())
    sent = [d for d in seen if d.src == IPv4Address(peer)]
    ike = [d.data for d in sent if d.kind == "ike"]
    assert len(ike) >= 5, seen  # MM 1, 3, 5 and QM 1, 3 at least
    for message in ike:
        header, body = decode_header(message)
        if not header.flags & 1:  # in clear: the payload chain too
            decode_payloads(header.next_payload, body)
    l2tp = [d.data for d in sent if d.kind == "l2tp"]
    esp = [d for d in sent if d.kind == "esp"]
    assert esp and len(l2tp) == len(esp), "ESP-NULL: every ESP packet carries L2TP"
    names: list[str] = []
    protocols: set[int] = set()
    for m in l2tp:
        message = decode_l2tp(m)
        if isinstance(message, DataMessage):
            assert ppp_frame(m) == message.payload  # the seed reader agrees with the decoder
            protocols.add(decode_frame(message.payload).protocol)
        elif not message.is_zlb:
            avps, _ = decode_avps(message.avp_bytes)
            assert avps[0].attribute_type == AvpType.MESSAGE_TYPE, avps
            names.append(message_name(avps[0].u16()))
    # in order of first sending (a retransmission on a slow guest repeats one)
    assert list(dict.fromkeys(names))[:3] == ["SCCRQ", "SCCCN", "ICRQ"], names
    assert "StopCCN" in names or "CDN" in names, names
    assert {LCP, auth_protocol, IPCP, IP} <= protocols, sorted(hex(p) for p in protocols)
    if os.environ.get("PIXGW_RECORD_CAPTURES") == "1":
        CAPTURES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cap.pcap, CAPTURES / Path(cap.pcap).name)
