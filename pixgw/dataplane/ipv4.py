"""IPv4 and UDP headers for the userspace dataplane: RFC 791 §3.1 (header), RFC 768 (UDP and its
pseudo-header checksum), RFC 1071 (the Internet checksum), RFC 879 §7 / RFC 6691 (TCP MSS
option, clamped on SYNs) and RFC 1624 (incremental checksum update after the clamp).

Parsing never raises: a function that cannot make sense of a packet returns None and the caller
counts the drop.
"""

from __future__ import annotations

import struct
from typing import Final, NamedTuple

PROTO_TCP: Final = 6
PROTO_UDP: Final = 17
PROTO_ESP: Final = 50
IPV4_HEADER: Final = 20
UDP_HEADER: Final = 8

UDP_STRUCT: Final = struct.Struct("!HHHH")  # source port, destination port, length, checksum
_UDP: Final = UDP_STRUCT
_IP: Final = struct.Struct("!BBHHHBBH4s4s")


def checksum(data: bytes | bytearray | memoryview) -> int:
    """RFC 1071 Internet checksum of *data* (odd length padded with a zero byte).

    The one's-complement sum of 16-bit words is the number's value modulo 0xFFFF (with 0xFFFF
    for a non-zero multiple), which one big-integer remainder computes quickly.
    """
    if len(data) % 2:
        data = bytes(data) + b"\0"
    value = int.from_bytes(data, "big")
    total = value % 0xFFFF
    if total == 0 and value:
        total = 0xFFFF
    return ~total & 0xFFFF


def _sum16(*parts: bytes) -> int:
    """One's-complement 16-bit sum (not inverted) of the concatenation of *parts*."""
    data = b"".join(parts)
    if len(data) % 2:
        data += b"\0"
    value = int.from_bytes(data, "big")
    total = value % 0xFFFF
    return 0xFFFF if total == 0 and value else total


class Ipv4Packet(NamedTuple):
    header_length: int
    total_length: int
    protocol: int
    source: bytes  # 4 bytes
    destination: bytes
    fragment: bool  # MF set or fragment offset non-zero


def parse_ipv4(packet: bytes) -> Ipv4Packet | None:
    """The fields the dataplane needs, or None for anything that is not a sane IPv4 packet."""
    if len(packet) < IPV4_HEADER:
        return None
    first = packet[0]
    if first >> 4 != 4:
        return None
    ihl = (first & 0x0F) * 4
    total = int.from_bytes(packet[2:4], "big")
    if ihl < IPV4_HEADER or total < ihl or total > len(packet):
        return None
    flags_offset = int.from_bytes(packet[6:8], "big")
    return Ipv4Packet(
        ihl, total, packet[9], packet[12:16], packet[16:20], bool(flags_offset & 0x3FFF)
    )


def build_ipv4(
    source: bytes,
    destination: bytes,
    protocol: int,
    payload: bytes,
    *,
    ident: int = 0,
    ttl: int = 64,
) -> bytes:
    """An IPv4 packet (no options, DF clear) with a correct header checksum."""
    header = _IP.pack(
        0x45,
        0,
        IPV4_HEADER + len(payload),
        ident & 0xFFFF,
        0,
        ttl,
        protocol,
        0,
        source,
        destination,
    )
    csum = checksum(header)
    return header[:10] + csum.to_bytes(2, "big") + header[12:] + payload


def udp_checksum(source: bytes, destination: bytes, segment: bytes) -> int:
    """RFC 768 checksum of a UDP *segment* whose checksum field is zero (0 is sent as 0xFFFF)."""
    # The pseudo-header words and the segment summed separately (no copy of the segment);
    # mod 0xFFFF ambiguity (0 vs 0xFFFF) does not matter: UDP sends 0 as 0xFFFF anyway.
    value = int.from_bytes(segment, "big")
    if len(segment) % 2:
        value <<= 8
    return _fold(value, source, destination, len(segment))


def _fold(value: int, source: bytes, destination: bytes, length: int) -> int:
    """The checksum of a segment read as one big-endian integer *value* (padded to whole 16-bit
    words) and its pseudo-header: mod 0xFFFF is the ones'-complement sum."""
    pseudo = (
        int.from_bytes(source[:2], "big")
        + int.from_bytes(source[2:], "big")
        + int.from_bytes(destination[:2], "big")
        + int.from_bytes(destination[2:], "big")
        + PROTO_UDP
        + length
    )
    total = (value % 0xFFFF + pseudo) % 0xFFFF
    return (~total & 0xFFFF) or 0xFFFF


def build_udp(
    source_port: int,
    destination_port: int,
    payload: bytes,
    *,
    source: bytes | None = None,
    destination: bytes | None = None,
) -> bytes:
    """A UDP segment; with both addresses the checksum is computed, otherwise it is 0 (none)."""
    length = UDP_HEADER + len(payload)
    if source is None or destination is None:
        return _UDP.pack(source_port, destination_port, length, 0) + payload
    # the checksum of header (checksum 0) + payload, summed without building the segment twice
    value = (source_port << 48 | destination_port << 32 | length << 16) << (
        8 * len(payload)
    ) | int.from_bytes(payload, "big")
    if length % 2:
        value <<= 8
    csum = _fold(value, source, destination, length)
    return _UDP.pack(source_port, destination_port, length, csum) + payload


class UdpSegment(NamedTuple):
    source_port: int
    destination_port: int
    payload: bytes


def parse_udp(segment: bytes) -> UdpSegment | None:
    """Ports and payload of a UDP segment (trailing bytes beyond its length ignored), or None.
    The checksum is not verified: after ESP it is covered by the ICV (RFC 3948 §3.1.2)."""
    if len(segment) < UDP_HEADER:
        return None
    sport, dport, length, _ = _UDP.unpack_from(segment)
    if length < UDP_HEADER or length > len(segment):
        return None
    return UdpSegment(sport, dport, segment[UDP_HEADER:length])


def clamp_tcp_mss(packet: bytes, mss: int) -> bytes:
    """*packet* with the MSS option of a TCP SYN lowered to *mss* (checksum fixed incrementally,
    RFC 1624); every other packet is returned unchanged."""
    if len(packet) < 40 or packet[9] != PROTO_TCP or packet[0] >> 4 != 4:
        return packet
    ihl = (packet[0] & 0x0F) * 4
    if len(packet) < ihl + 20 or int.from_bytes(packet[6:8], "big") & 0x1FFF:
        return packet
    tcp = ihl
    if not packet[tcp + 13] & 0x02:  # SYN
        return packet
    data_offset = (packet[tcp + 12] >> 4) * 4
    end = tcp + data_offset
    if data_offset < 20 or end > len(packet):
        return packet
    pos = tcp + 20
    while pos < end:
        kind = packet[pos]
        if kind == 0:
            break
        if kind == 1:
            pos += 1
            continue
        if pos + 1 >= end:
            break
        length = packet[pos + 1]
        if length < 2 or pos + length > end:
            break
        if kind == 2 and length == 4:
            old = int.from_bytes(packet[pos + 2 : pos + 4], "big")
            if old <= mss:
                return packet
            old_sum = int.from_bytes(packet[tcp + 16 : tcp + 18], "big")
            # RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')
            total = (~old_sum & 0xFFFF) + (~old & 0xFFFF) + mss
            total = (total & 0xFFFF) + (total >> 16)
            total = (total & 0xFFFF) + (total >> 16)
            new_sum = ~total & 0xFFFF
            out = bytearray(packet)
            out[pos + 2 : pos + 4] = mss.to_bytes(2, "big")
            out[tcp + 16 : tcp + 18] = new_sum.to_bytes(2, "big")
            return bytes(out)
        pos += length
    return packet
