"""L2TP attribute-value pairs: the AVP codec and hidden AVPs.

- RFC 2661 §4.1: the AVP header (M bit, H bit, four reserved bits, 10-bit length, Vendor ID,
  Attribute Type). An AVP with a reserved bit set is treated as unrecognized (§4.1). Vendor AVPs
  (Vendor ID != 0) and unknown IETF AVPs survive decoding unchanged so the core can apply the
  M-bit rule (§4.1: unknown mandatory AVP -> the session or tunnel is torn down with result
  code 2, error code 8).
- RFC 2661 §4.3: hiding AVP values with the tunnel secret and the Random Vector AVP (MD5 chain
  over 16-octet blocks; hidden subformat = original length, value, padding).
- RFC 2661 §4.4: the IETF attribute types and the value formats the LNS reads and writes.

Decoding raises only :class:`pixgw.wire.MalformedMessage`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from pixgw.wire import MalformedMessage, Reader, Writer

__all__ = [
    "Avp",
    "AvpType",
    "decode_avps",
    "encode_avp",
    "encode_avps",
    "hide_value",
    "result_code_value",
    "unhide_value",
]

FLAG_M: Final = 0x8000
FLAG_H: Final = 0x4000
RESERVED_BITS: Final = 0x3C00
LENGTH_MASK: Final = 0x03FF
AVP_HEADER_LENGTH: Final = 6
MAX_AVP_VALUE: Final = LENGTH_MASK - AVP_HEADER_LENGTH


class AvpType:
    """RFC 2661 §4.4 attribute types (Vendor ID 0)."""

    MESSAGE_TYPE: Final = 0
    RESULT_CODE: Final = 1
    PROTOCOL_VERSION: Final = 2
    FRAMING_CAPABILITIES: Final = 3
    BEARER_CAPABILITIES: Final = 4
    TIE_BREAKER: Final = 5
    FIRMWARE_REVISION: Final = 6
    HOST_NAME: Final = 7
    VENDOR_NAME: Final = 8
    ASSIGNED_TUNNEL_ID: Final = 9
    RECEIVE_WINDOW_SIZE: Final = 10
    CHALLENGE: Final = 11
    Q931_CAUSE_CODE: Final = 12
    CHALLENGE_RESPONSE: Final = 13
    ASSIGNED_SESSION_ID: Final = 14
    CALL_SERIAL_NUMBER: Final = 15
    MINIMUM_BPS: Final = 16
    MAXIMUM_BPS: Final = 17
    BEARER_TYPE: Final = 18
    FRAMING_TYPE: Final = 19
    CALLED_NUMBER: Final = 21
    CALLING_NUMBER: Final = 22
    SUB_ADDRESS: Final = 23
    TX_CONNECT_SPEED: Final = 24
    PHYSICAL_CHANNEL_ID: Final = 25
    INITIAL_RECEIVED_LCP_CONFREQ: Final = 26
    LAST_SENT_LCP_CONFREQ: Final = 27
    LAST_RECEIVED_LCP_CONFREQ: Final = 28
    PROXY_AUTHEN_TYPE: Final = 29
    PROXY_AUTHEN_NAME: Final = 30
    PROXY_AUTHEN_CHALLENGE: Final = 31
    PROXY_AUTHEN_ID: Final = 32
    PROXY_AUTHEN_RESPONSE: Final = 33
    CALL_ERRORS: Final = 34
    ACCM: Final = 35
    RANDOM_VECTOR: Final = 36
    PRIVATE_GROUP_ID: Final = 37
    RX_CONNECT_SPEED: Final = 38
    SEQUENCING_REQUIRED: Final = 39


#: IETF attribute types this implementation recognizes (§4.4). Others with M set are fatal.
KNOWN_TYPES: Final = frozenset(range(0, 40)) - {20}


@dataclass(frozen=True)
class Avp:
    """One AVP. ``value`` is the plain value; ``hidden`` says whether it was (or is to be)
    carried hidden (§4.3). ``reserved`` keeps the reserved header bits as received."""

    attribute_type: int
    value: bytes = b""
    mandatory: bool = True
    hidden: bool = False
    vendor_id: int = 0
    reserved: int = 0

    @property
    def recognized(self) -> bool:
        return self.vendor_id == 0 and self.reserved == 0 and self.attribute_type in KNOWN_TYPES

    def u16(self) -> int:
        if len(self.value) != 2:
            raise MalformedMessage(
                f"AVP {self.attribute_type}: want 2 octets, got {len(self.value)}"
            )
        return int.from_bytes(self.value, "big")

    def u32(self) -> int:
        if len(self.value) != 4:
            raise MalformedMessage(
                f"AVP {self.attribute_type}: want 4 octets, got {len(self.value)}"
            )
        return int.from_bytes(self.value, "big")

    @classmethod
    def of_u16(cls, attribute_type: int, value: int, *, mandatory: bool = True) -> Avp:
        return cls(attribute_type, value.to_bytes(2, "big"), mandatory)

    @classmethod
    def of_u32(cls, attribute_type: int, value: int, *, mandatory: bool = True) -> Avp:
        return cls(attribute_type, value.to_bytes(4, "big"), mandatory)


def result_code_value(result: int, error: int | None = None, message: str = "") -> bytes:
    """§4.4.2 Result Code value: result (2 octets), [error (2 octets), [message]]."""
    out = Writer().u16(result)
    if error is not None or message:
        out.u16(error or 0)
        out.write(message.encode("utf-8", "replace")[: MAX_AVP_VALUE - 4])
    return out.getvalue()


def _md5(*parts: bytes) -> bytes:
    h = hashlib.md5(usedforsecurity=False)
    for part in parts:
        h.update(part)
    return h.digest()


def _md5_chain(
    attribute_type: int, data: bytes, secret: bytes, random_vector: bytes, *, hiding: bool
) -> bytes:
    """§4.3: *data* xored with b1 = MD5(type || secret || RV), bi = MD5(secret || c(i-1)),
    where c(i-1) is the previous hidden block (what we make when hiding, what we read when
    unhiding)."""
    out = bytearray()
    key = _md5(attribute_type.to_bytes(2, "big"), secret, random_vector)
    for start in range(0, len(data), 16):
        block = data[start : start + 16]
        xored = bytes(a ^ b for a, b in zip(block, key, strict=False))
        out += xored
        key = _md5(secret, xored if hiding else block)
    return bytes(out)


def hide_value(
    attribute_type: int, value: bytes, secret: bytes, random_vector: bytes, padding: bytes = b""
) -> bytes:
    """§4.3: the hidden subformat (original length, value, padding) xored with the MD5 chain."""
    plain = len(value).to_bytes(2, "big") + value + padding
    return _md5_chain(attribute_type, plain, secret, random_vector, hiding=True)


def unhide_value(attribute_type: int, hidden: bytes, secret: bytes, random_vector: bytes) -> bytes:
    """Inverse of :func:`hide_value`; checks the original length against what was carried."""
    if len(hidden) < 2:
        raise MalformedMessage("hidden AVP shorter than its length field")
    out = _md5_chain(attribute_type, hidden, secret, random_vector, hiding=False)
    length = int.from_bytes(out[:2], "big")
    if length > len(out) - 2:
        raise MalformedMessage("hidden AVP original length exceeds its value")
    return bytes(out[2 : 2 + length])


def decode_avps(
    data: bytes, *, secret: bytes | None = None
) -> tuple[tuple[Avp, ...], tuple[int, ...]]:
    """Decode the AVPs of a control message.

    Hidden AVPs are revealed with *secret* and the most recent Random Vector AVP. Returns the
    AVPs and the attribute types of hidden AVPs that could not be revealed (no secret or no
    Random Vector before them); those are kept with ``hidden=True`` and their raw value."""
    reader = Reader(data)
    avps: list[Avp] = []
    unrevealed: list[int] = []
    random_vector: bytes | None = None
    while not reader.at_end():
        flags_length = reader.u16()
        length = flags_length & LENGTH_MASK
        if length < AVP_HEADER_LENGTH:
            raise MalformedMessage(f"AVP length {length} below the header size")
        vendor_id = reader.u16()
        attribute_type = reader.u16()
        value = reader.read(length - AVP_HEADER_LENGTH)
        hidden = bool(flags_length & FLAG_H)
        if hidden and vendor_id == 0 and secret is not None and random_vector is not None:
            value = unhide_value(attribute_type, value, secret, random_vector)
        elif hidden:
            unrevealed.append(attribute_type)
        if vendor_id == 0 and attribute_type == AvpType.RANDOM_VECTOR and not hidden:
            random_vector = value
        avps.append(
            Avp(
                attribute_type,
                value,
                mandatory=bool(flags_length & FLAG_M),
                hidden=hidden,
                vendor_id=vendor_id,
                reserved=flags_length & RESERVED_BITS,
            )
        )
    return tuple(avps), tuple(unrevealed)


def encode_avp(
    avp: Avp, *, secret: bytes | None = None, random_vector: bytes | None = None
) -> bytes:
    """Encode one AVP. A hidden AVP needs *secret* and *random_vector* (the value of the Random
    Vector AVP that precedes it in the message)."""
    value = avp.value
    if avp.hidden:
        if secret is None or random_vector is None:
            raise ValueError("a hidden AVP needs the tunnel secret and a Random Vector")
        value = hide_value(avp.attribute_type, value, secret, random_vector)
    if len(value) > MAX_AVP_VALUE:
        raise ValueError(f"AVP {avp.attribute_type} value too long: {len(value)}")
    flags = (FLAG_M if avp.mandatory else 0) | (FLAG_H if avp.hidden else 0) | avp.reserved
    return (
        Writer()
        .u16(flags | (len(value) + AVP_HEADER_LENGTH))
        .u16(avp.vendor_id)
        .u16(avp.attribute_type)
        .write(value)
        .getvalue()
    )


def encode_avps(avps: tuple[Avp, ...] | list[Avp], *, secret: bytes | None = None) -> bytes:
    """Encode AVPs in order; hidden ones use the latest Random Vector AVP before them."""
    out = Writer()
    random_vector: bytes | None = None
    for avp in avps:
        out.write(encode_avp(avp, secret=secret, random_vector=random_vector))
        if avp.vendor_id == 0 and avp.attribute_type == AvpType.RANDOM_VECTOR:
            random_vector = avp.value
    return out.getvalue()
