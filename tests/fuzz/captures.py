"""Real clients' packets, read from the pcaps in tests/vectors/captures (issue 30's seed corpus).

The captures are made by tests/interop/test_captures.py: a QEMU client (strongSwan + xl2tpd +
pppd on the stock Debian kernel) connects to ``twistd pixgw`` with ESP-NULL (RFC 2410: integrity,
no confidentiality), so the L2TP and PPP it carries can be read off the outside segment.
``datagrams(pcap)`` dissects a capture (Ethernet or Linux cooked, IPv4, UDP 500/4500/1701 and
ESP, in ESP or UDP-encapsulated ESP, RFC 3948) into IKE messages, ESP packets and - opened as
ESP-NULL with HMAC-SHA1-96 - the L2TP messages inside; ``ppp_frame(l2tp)`` is the PPP frame of an
L2TP data message (RFC 2661 §3.1).  Test infrastructure: a reader of the pcap format
(https://www.tcpdump.org/linktypes.html, the classic libpcap file), no protocol is decoded here
beyond the headers that say where the next one starts.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

CAPTURES = Path(__file__).resolve().parents[1] / "vectors" / "captures"
ICV_SHA1_96 = 12
LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2 = 1, 113, 276
ETHERTYPE_IPV4 = 0x0800
IPPROTO_UDP, IPPROTO_ESP = 17, 50
IKE_PORT, NATT_PORT, L2TP_PORT = 500, 4500, 1701


@dataclass(frozen=True)
class Datagram:
    """One message seen on the wire: ``kind`` ike | esp | l2tp; ``data`` the IKE message (after
    the non-ESP marker on 4500), the ESP packet (from its SPI), or the L2TP message (from ESP);
    ``port`` the UDP destination port it came to (0: ESP, IP protocol 50)."""

    src: IPv4Address
    dst: IPv4Address
    kind: str
    data: bytes
    port: int = 0


def frames(pcap: bytes) -> Iterator[tuple[int, bytes]]:
    """(link type, frame) for every record of a classic pcap file, either byte order."""
    if len(pcap) < 24:
        raise ValueError("not a pcap file: shorter than its header")
    magic = pcap[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        order = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        order = ">"
    else:
        raise ValueError(f"not a pcap file: magic {magic.hex()}")
    linktype = struct.unpack(order + "I", pcap[20:24])[0] & 0x0FFFFFFF
    i = 24
    while i + 16 <= len(pcap):
        caplen = struct.unpack(order + "I", pcap[i + 8 : i + 12])[0]
        yield linktype, pcap[i + 16 : i + 16 + caplen]
        i += 16 + caplen


def ipv4_packet(linktype: int, frame: bytes) -> bytes | None:
    if linktype == LINKTYPE_ETHERNET and len(frame) >= 14:
        ethertype, start = int.from_bytes(frame[12:14], "big"), 14
    elif linktype == LINKTYPE_LINUX_SLL and len(frame) >= 16:
        ethertype, start = int.from_bytes(frame[14:16], "big"), 16
    elif linktype == LINKTYPE_LINUX_SLL2 and len(frame) >= 20:
        ethertype, start = int.from_bytes(frame[0:2], "big"), 20
    else:
        return None
    return frame[start:] if ethertype == ETHERTYPE_IPV4 else None


def open_esp_null(esp: bytes, icv: int = ICV_SHA1_96) -> bytes | None:
    """The L2TP message in a transport-mode ESP-NULL packet (RFC 4303 §2.4-2.6: payload, the
    default padding 1, 2, 3 ..., pad length, next header UDP, ICV), or None when it is not one
    (an encrypted packet fails the padding check all but by chance, then the port check)."""
    body = esp[8 : len(esp) - icv]
    if len(body) < 2 + 8 or body[-1] != IPPROTO_UDP:
        return None
    pad = body[-2]
    if len(body) < 2 + pad + 8 or body[len(body) - 2 - pad : -2] != bytes(range(1, pad + 1)):
        return None
    udp = body[: len(body) - 2 - pad]
    sport, dport, length = struct.unpack("!HHH", udp[:6])
    if L2TP_PORT not in (sport, dport) or length != len(udp):
        return None
    return udp[8:]


def datagrams(pcap: bytes) -> list[Datagram]:
    """The IKE, ESP and (ESP-NULL) L2TP messages of a capture, in order, each once (a capture on
    a bridge's every port sees a frame more than once)."""
    out: list[Datagram] = []
    seen: set[bytes] = set()
    for linktype, frame in frames(pcap):
        ip = ipv4_packet(linktype, frame)
        if ip is None or len(ip) < 20 or ip[0] >> 4 != 4:
            continue
        if ip in seen:
            continue
        seen.add(ip)
        header = (ip[0] & 0x0F) * 4
        flags_fragment = int.from_bytes(ip[6:8], "big")
        if flags_fragment & 0x3FFF:  # a fragment (MF or an offset): not a whole datagram
            continue
        src, dst, proto = IPv4Address(ip[12:16]), IPv4Address(ip[16:20]), ip[9]
        payload = ip[header : int.from_bytes(ip[2:4], "big")]
        if proto == IPPROTO_ESP:
            out.extend(_esp(src, dst, payload, 0))
        elif proto == IPPROTO_UDP and len(payload) >= 8:
            sport, dport = struct.unpack("!HH", payload[:4])
            udp = payload[8:]
            if IKE_PORT in (sport, dport):
                out.append(Datagram(src, dst, "ike", udp, dport))
            elif NATT_PORT in (sport, dport) and udp[:4] == bytes(4):
                out.append(Datagram(src, dst, "ike", udp[4:], dport))
            elif NATT_PORT in (sport, dport) and len(udp) > 8:
                out.extend(_esp(src, dst, udp, dport))
    return out


def _esp(src: IPv4Address, dst: IPv4Address, esp: bytes, port: int) -> list[Datagram]:
    found = [Datagram(src, dst, "esp", esp, port)]
    l2tp = open_esp_null(esp)
    if l2tp is not None:
        found.append(Datagram(src, dst, "l2tp", l2tp, L2TP_PORT))
    return found


def ppp_frame(l2tp: bytes) -> bytes | None:
    """The PPP frame of an L2TP data message (RFC 2661 §3.1: T=0, version 2, the optional
    length, Ns/Nr and offset fields), or None for a control message or a short one."""
    if len(l2tp) < 6:
        return None
    flags = int.from_bytes(l2tp[:2], "big")
    if flags & 0x8000 or flags & 0x000F != 2:
        return None
    i = 2 + (2 if flags & 0x4000 else 0) + 4 + (4 if flags & 0x0800 else 0)
    if flags & 0x0200:
        if i + 2 > len(l2tp):
            return None
        i += 2 + int.from_bytes(l2tp[i : i + 2], "big")
    return l2tp[i:] if i < len(l2tp) else None


def pcaps() -> list[Path]:
    return sorted(CAPTURES.glob("*.pcap"))


def conversations() -> list[list[Datagram]]:
    """Every capture's messages, a list per capture file."""
    return [datagrams(p.read_bytes()) for p in pcaps()]


def client_of(conversation: list[Datagram]) -> IPv4Address:
    """The client: who sent the first IKE message (the initiator)."""
    return next(d.src for d in conversation if d.kind == "ike")
