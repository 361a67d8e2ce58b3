"""PPP frames as carried by L2TP, and the control-packet and option codecs.

- RFC 1661 §2: PPP encapsulation (Protocol field, Protocol-Field-Compression: a one-byte
  protocol when its low bit is set); RFC 1662 §3.1/§3.2 Address and Control fields (FF 03),
  optional under Address-and-Control-Field-Compression (RFC 1661 §6.6) and in L2TP
  (RFC 2661 §4.3: the LAC may or may not strip them; we accept both).
- RFC 1661 §5: the LCP/NCP packet format (Code, Identifier, Length, Data) and §6 the
  Configuration Option format (Type, Length, Data), shared by LCP and IPCP.
- RFC 1334 §2.2 / RFC 1994 §4 packet header (same Code/Identifier/Length layout).

Decoders raise only :class:`pixgw.wire.MalformedMessage`; unknown codes and options survive
decoding so the cores can answer them with Code-Reject and Configure-Reject.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cache

from pixgw.wire import MalformedMessage, Reader, Writer

__all__ = [
    "PROTO_CCP",
    "PROTO_CHAP",
    "PROTO_IP",
    "PROTO_IPCP",
    "PROTO_IPV6CP",
    "PROTO_LCP",
    "PROTO_PAP",
    "ControlPacket",
    "Option",
    "PppFrame",
    "decode_frame",
    "decode_options",
    "decode_packet",
    "encode_frame",
    "encode_options",
    "encode_packet",
]

PROTO_IP = 0x0021
PROTO_IPV6 = 0x0057
PROTO_IPCP = 0x8021
PROTO_IPV6CP = 0x8057
PROTO_CCP = 0x80FD
PROTO_LCP = 0xC021
PROTO_PAP = 0xC023
PROTO_CHAP = 0xC223

MAX_FRAME = 65535
_HEADER = struct.Struct(">BBH")  # a control packet's Code, Identifier, Length (§5)


@dataclass(frozen=True)
class PppFrame:
    """One PPP frame: the Protocol field and the information field (padding included)."""

    protocol: int
    information: bytes


def decode_frame(data: bytes) -> PppFrame:
    """Decode a frame with or without FF 03 and with a one- or two-byte Protocol field."""
    if isinstance(data, memoryview):
        data = bytes(data)
    size = len(data)
    if size > MAX_FRAME:
        raise MalformedMessage("PPP frame too long")
    pos = 2 if size >= 2 and data[0] == 0xFF and data[1] == 0x03 else 0
    if pos >= size:
        raise MalformedMessage("PPP frame without a protocol field")
    first = data[pos]
    if first & 0x01:  # PFC: a compressed, one-byte protocol (always odd)
        return PppFrame(first, data[pos + 1 :])
    if pos + 1 >= size:
        raise MalformedMessage("PPP frame with a truncated protocol field")
    second = data[pos + 1]
    protocol = (first << 8) | second
    if not second & 0x01:  # RFC 1661 §2: the least significant octet is odd
        raise MalformedMessage(f"invalid PPP protocol 0x{protocol:04x}")
    return PppFrame(protocol, data[pos + 2 :])


def encode_frame(
    protocol: int, information: bytes, *, acfc: bool = False, pfc: bool = False
) -> bytes:
    """Encode a frame; FF 03 unless *acfc*; a one-byte protocol if *pfc* and it fits.

    RFC 1661 §6.5/§6.6: LCP packets are always sent with the full header.
    """
    return frame_header(protocol, acfc, pfc) + information


@cache
def frame_header(protocol: int, acfc: bool, pfc: bool) -> bytes:
    """The bytes :func:`encode_frame` puts before the information field (built once per
    protocol and compression choice: the per-packet path only concatenates)."""
    w = Writer()
    if not acfc or protocol == PROTO_LCP:
        w.u8(0xFF).u8(0x03)
    if pfc and protocol < 0x100 and protocol != PROTO_LCP:
        w.u8(protocol)
    else:
        w.u16(protocol)
    return w.getvalue()


@dataclass(frozen=True)
class ControlPacket:
    """RFC 1661 §5: Code, Identifier and Data (Length computed on encode)."""

    code: int
    identifier: int
    data: bytes = b""


def decode_packet(information: bytes) -> ControlPacket:
    """Decode a control packet; octets past Length are padding and are dropped (§5)."""
    if isinstance(information, memoryview):
        information = bytes(information)
    if len(information) < 4:
        raise MalformedMessage("control packet shorter than its 4-byte header")
    code, identifier, length = _HEADER.unpack_from(information)
    if length < 4 or length > len(information):
        raise MalformedMessage(f"control packet length {length} invalid")
    return ControlPacket(code, identifier, information[4:length])


def encode_packet(packet: ControlPacket) -> bytes:
    length = 4 + len(packet.data)
    if not (0 <= packet.code <= 0xFF and 0 <= packet.identifier <= 0xFF and length <= 0xFFFF):
        raise ValueError(f"control packet fields out of range: {packet}")
    return _HEADER.pack(packet.code, packet.identifier, length) + bytes(packet.data)


@dataclass(frozen=True)
class Option:
    """RFC 1661 §6: one Configuration Option (Type, Data; Length computed on encode)."""

    type: int
    data: bytes = b""


def decode_options(data: bytes) -> tuple[Option, ...]:
    r = Reader(data)
    options: list[Option] = []
    while r.remaining:
        kind = r.u8()
        length = r.u8()
        if length < 2:
            raise MalformedMessage(f"option {kind} length {length} < 2")
        options.append(Option(kind, r.read(length - 2)))
    return tuple(options)


def encode_options(options: tuple[Option, ...] | list[Option]) -> bytes:
    w = Writer()
    for option in options:
        w.u8(option.type).u8(2 + len(option.data)).write(option.data)
    return w.getvalue()
