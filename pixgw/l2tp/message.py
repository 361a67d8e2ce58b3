"""L2TP headers, control and data messages.

- RFC 2661 §3.1: the header (T, L, S, O, P bits, Ver = 2, optional Length, Tunnel ID,
  Session ID, optional Ns/Nr, optional Offset Size and padding). Control messages carry T, L
  and S; a control message without AVPs is a ZLB acknowledgement (§5.8). Packets of another
  version are malformed (§3.1: they MUST be discarded).
- RFC 2661 §3.2 / §4.4.1: control message types; §4.4.2 result and error codes.

:func:`decode` returns a frozen :class:`ControlMessage` or :class:`DataMessage`; AVPs are
decoded by :mod:`pixgw.l2tp.avp` (hidden ones need the tunnel secret, so the core decodes them
once it knows the tunnel). Only :class:`~pixgw.wire.MalformedMessage` is raised on input.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from pixgw.wire import MalformedMessage, Reader, Writer

__all__ = [
    "ControlMessage",
    "DataMessage",
    "MessageType",
    "decode",
    "encode_control",
    "encode_data",
]

BIT_T: Final = 0x8000
BIT_L: Final = 0x4000
BIT_S: Final = 0x0800
BIT_O: Final = 0x0200
BIT_P: Final = 0x0100
VERSION_MASK: Final = 0x000F
L2TP_VERSION: Final = 2
CONTROL_HEADER_LENGTH: Final = 12
MAX_DATAGRAM: Final = 0xFFFF


class MessageType:
    """RFC 2661 §3.2 control message types."""

    SCCRQ: Final = 1
    SCCRP: Final = 2
    SCCCN: Final = 3
    STOPCCN: Final = 4
    HELLO: Final = 6
    OCRQ: Final = 7
    OCRP: Final = 8
    OCCN: Final = 9
    ICRQ: Final = 10
    ICRP: Final = 11
    ICCN: Final = 12
    CDN: Final = 14
    WEN: Final = 15
    SLI: Final = 16


MESSAGE_NAMES: Final[dict[int, str]] = {
    value: "StopCCN" if name == "STOPCCN" else name
    for name, value in vars(MessageType).items()
    if name.isupper()
}


def message_name(message_type: int | None) -> str:
    if message_type is None:
        return "ZLB"
    return MESSAGE_NAMES.get(message_type, f"type {message_type}")


class StopCcnResult:
    """§4.4.2 result codes of StopCCN."""

    GENERAL_REQUEST: Final = 1
    GENERAL_ERROR: Final = 2
    ALREADY_EXISTS: Final = 3
    NOT_AUTHORIZED: Final = 4
    BAD_PROTOCOL_VERSION: Final = 5
    SHUTTING_DOWN: Final = 6
    FSM_ERROR: Final = 7


class CdnResult:
    """§4.4.2 result codes of CDN."""

    LOST_CARRIER: Final = 1
    GENERAL_ERROR: Final = 2
    ADMINISTRATIVE: Final = 3
    NO_FACILITIES_TEMPORARY: Final = 4
    NO_FACILITIES_PERMANENT: Final = 5
    NOT_ESTABLISHED_IN_TIME: Final = 10


class ErrorCode:
    """§4.4.2 general error codes."""

    NO_ERROR: Final = 0
    NO_CONTROL_CONNECTION: Final = 1
    BAD_LENGTH: Final = 2
    OUT_OF_RANGE: Final = 3
    INSUFFICIENT_RESOURCES: Final = 4
    INVALID_SESSION_ID: Final = 5
    VENDOR_SPECIFIC: Final = 6
    TRY_ANOTHER: Final = 7
    UNKNOWN_MANDATORY_AVP: Final = 8


@dataclass(frozen=True)
class ControlMessage:
    """A control message; ``avp_bytes`` is the encoded AVP area (empty for a ZLB)."""

    tunnel_id: int
    session_id: int
    ns: int
    nr: int
    avp_bytes: bytes = b""

    @property
    def is_zlb(self) -> bool:
        return not self.avp_bytes


@dataclass(frozen=True)
class DataMessage:
    """A data message (§3.1, T = 0) carrying one PPP frame."""

    tunnel_id: int
    session_id: int
    payload: bytes
    ns: int | None = None
    nr: int | None = None
    priority: bool = False
    offset_padding: bytes | None = None  # None: no O bit
    with_length: bool = False


def decode(data: bytes) -> ControlMessage | DataMessage:
    """Decode one L2TP datagram (the UDP payload)."""
    size = len(data)
    if size > MAX_DATAGRAM:
        raise MalformedMessage("datagram longer than an L2TP length can describe")
    # The data messages of every client (version 2, no S/O/P bits, L bit or not), without a
    # Reader: the same checks as below, in the per-packet path. Anything else takes the long way.
    if size >= 6 and data[1] == L2TP_VERSION:
        if data[0] == 0:
            return DataMessage(
                (data[2] << 8) | data[3], (data[4] << 8) | data[5], data[6:], None, None,
                False, None, False,
            )  # fmt: skip
        if data[0] == 0x40 and size >= 8:
            end = (data[2] << 8) | data[3]
            if 8 <= end <= size:
                return DataMessage(
                    (data[4] << 8) | data[5], (data[6] << 8) | data[7], data[8:end], None,
                    None, False, None, True,
                )  # fmt: skip
    reader = Reader(data)
    flags = reader.u16()
    if flags & VERSION_MASK != L2TP_VERSION:
        raise MalformedMessage(f"L2TP version {flags & VERSION_MASK}")
    is_control = bool(flags & BIT_T)
    length: int | None = None
    if flags & BIT_L:
        length = reader.u16()
        if length < 6 or length > len(data):
            raise MalformedMessage(f"length field {length} outside the datagram ({len(data)})")
        reader = Reader(data, reader.position, length)
    tunnel_id = reader.u16()
    session_id = reader.u16()
    ns = nr = None
    if flags & BIT_S:
        ns = reader.u16()
        nr = reader.u16()
    padding: bytes | None = None
    if flags & BIT_O:
        offset = reader.u16()
        padding = reader.read(offset)
    if is_control:
        if length is None or ns is None or nr is None:
            raise MalformedMessage("control message without the L or S bit")
        if flags & (BIT_O | BIT_P):
            raise MalformedMessage("control message with the O or P bit")
        return ControlMessage(tunnel_id, session_id, ns, nr, reader.rest())
    return DataMessage(
        tunnel_id,
        session_id,
        reader.rest(),
        ns,
        nr,
        bool(flags & BIT_P),
        padding,
        length is not None,
    )


def encode_control(message: ControlMessage) -> bytes:
    """Encode a control message; the Length field is computed."""
    length = CONTROL_HEADER_LENGTH + len(message.avp_bytes)
    if length > MAX_DATAGRAM:
        raise ValueError("control message too long")
    return (
        Writer()
        .u16(BIT_T | BIT_L | BIT_S | L2TP_VERSION)
        .u16(length)
        .u16(message.tunnel_id)
        .u16(message.session_id)
        .u16(message.ns)
        .u16(message.nr)
        .write(message.avp_bytes)
        .getvalue()
    )


_DATA_HEADER: Final = struct.Struct("!HHH")  # flags, tunnel id, session id
_DATA_HEADER_S: Final = struct.Struct("!HHHHH")  # flags, tunnel id, session id, Ns, Nr


def data_datagram(
    tunnel_id: int, session_id: int, payload: bytes, ns: int | None, nr: int | None
) -> bytes:
    """What :func:`encode_data` makes of a data message without the L, O and P bits (how the
    LNS sends every PPP frame), in one struct pack: the per-packet path."""
    if ns is None and nr is None:
        return _DATA_HEADER.pack(L2TP_VERSION, tunnel_id, session_id) + payload
    return (
        _DATA_HEADER_S.pack(L2TP_VERSION | BIT_S, tunnel_id, session_id, ns or 0, nr or 0) + payload
    )


def encode_data(message: DataMessage) -> bytes:
    """Encode a data message with the bits its fields call for (L, S, O, P)."""
    if message.offset_padding is None and not message.priority and not message.with_length:
        return data_datagram(
            message.tunnel_id, message.session_id, message.payload, message.ns, message.nr
        )
    flags = L2TP_VERSION
    body = Writer().u16(message.tunnel_id).u16(message.session_id)
    if message.ns is not None or message.nr is not None:
        flags |= BIT_S
        body.u16(message.ns or 0).u16(message.nr or 0)
    if message.offset_padding is not None:
        flags |= BIT_O
        body.u16(len(message.offset_padding)).write(message.offset_padding)
    if message.priority:
        flags |= BIT_P
    body.write(message.payload)
    out = Writer()
    if message.with_length:
        flags |= BIT_L
        out.u16(flags).u16(len(body) + 4)
    else:
        out.u16(flags)
    return out.write(body.getvalue()).getvalue()
